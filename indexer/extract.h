// Text and family extraction from untrusted bytes.
//
// ExtractAll walks one file and everything inside it (archive entries,
// email attachments, messages of an mbox), depth first, calling the sink
// once per item, parent before children. Every format goes through a
// well-kept Debian library: libmagic (type from content), uchardet + iconv
// (text encodings), libxml2 (HTML, Office XML), poppler-cpp (PDF), GMime
// (email, mbox), libarchive (archives, and the zip inside Office files),
// libexttextcat (language).
//
// Malformed input never throws: the item records status "error" and a
// reason that never quotes content or names. Limits (depth, per-entry and
// total expansion, expansion ratio, entry count) are checked while
// streaming, so a bomb is rejected as soon as it crosses one.
// Run it in a worker process (see extract_pool.h): parsers are big C
// libraries fed hostile input.
// Thread-safety: one ExtractAll at a time per process (GMime, libmagic
// handles are per process).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/entities.h"
#include "indexer/extract_limits.h"

namespace dossier::indexer {

struct ExtractedItem {
  int index = 0;       // position in the family; 0 is the file itself
  int parent = -1;     // index of the container, -1 for the file itself
  std::string path;    // path inside the top-level container ("" for it)
  std::string name;    // file name, attachment name or entry base name
  std::string mime;    // from content (libmagic)
  // ok | unsupported (stored, no text) | error (with `error`) |
  // link (a symlink or hardlink entry: recorded, never followed)
  std::string status = "ok";
  std::string error;
  std::string text;      // UTF-8, at most text_cap bytes
  bool text_truncated = false;
  std::string language;  // en, pt, es, ... or "" when unknown
  // title, author, created, from, to, cc, bcc, subject, date, message_id,
  // in_reply_to, references, link_target: whatever the format holds.
  std::map<std::string, std::string> fields;
  // Found by the worker in `text` and the address headers (see
  // entities.h), validated again by the parent as it reads them.
  std::vector<Entity> entities;
};

// Receives each item; `bytes` holds a child's original bytes (empty for the
// file itself, which the caller already has). Valid only during the call.
using ItemSink = std::function<void(const ExtractedItem& item, std::string_view bytes)>;

// Extracts `data`, the bytes of a file called `name`.
void ExtractAll(std::string_view data, const std::string& name,
                const ExtractLimits& limits, const ItemSink& sink);

// The MIME type of some bytes, from their content.
std::string DetectMime(std::string_view data);
// ISO 639-1 code of the text's language among those Dossier stems, or "".
std::string DetectLanguage(std::string_view utf8);
// Converts text in any common encoding to valid UTF-8 (uchardet + iconv).
std::string DecodeText(std::string_view bytes, std::size_t cap, bool* truncated);

}  // namespace dossier::indexer
