// Text helpers shared by indexing, querying and highlighting.
#pragma once

#include <string>
#include <string_view>

namespace dossier::indexer {

// Replaces every invalid UTF-8 sequence with U+FFFD, so later stages can
// assume valid UTF-8 whatever bytes a file held.
std::string RepairUtf8(std::string_view bytes);

// A file or entry name as UTF-8: valid UTF-8 is kept, and each byte of an
// invalid sequence becomes the Latin-1 character of that byte, so a name
// written in Latin-1 or Windows-1252 (old archives, Windows exports) reads
// right and two different names never become one. NUL becomes a space.
std::string NameToUtf8(std::string_view bytes);

// Unicode NFKC normalisation (libunistring) of valid UTF-8. Folds
// compatibility forms (ligatures, full-width letters) before tokenising.
std::string NormalizeNfkc(std::string_view utf8);

// NFKC plus full Unicode case folding of one word: what a blind term is
// computed from, on the indexing side and the query side alike.
std::string FoldWord(std::string_view utf8);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace dossier::indexer
