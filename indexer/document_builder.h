// Turns one document's decrypted text into blind index terms.
//
// Text arrives chunk by chunk (the same chunks that are sealed into the
// text store); each chunk gets the word positions [first, end) it used, so
// a snippet later opens just the chunk holding a match. The builder stops
// taking text at its cap (a Xapian document keeps every position in memory
// while it is built) and reports the document as partially indexed.
// Not thread-safe; use one builder per thread. Building runs on any thread;
// only ShardStore::Add and commits are serialised.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "indexer/blind_terms.h"

namespace dossier::indexer {

// The indexed text of one document is capped at this many bytes by default.
// 32 MiB of text is about 5 million words: a Xapian document that size
// holds some 100 MiB of positions in memory while it is built.
constexpr std::size_t kDefaultIndexedTextCap = 32u << 20;
// ...and at this many distinct terms. Memory follows distinct terms, not
// bytes (measured: 32 MiB of prose peaks at 24 MiB RSS, 32 MiB of a ledger
// export with 1.2 million distinct numbers at 584 MiB, about 450 bytes a
// term), so a document past either limit is partially indexed.
constexpr std::size_t kDefaultMaxDistinctTerms = 400000;

struct DocumentFields {
  std::string doc_id;
  std::string case_id;
  std::string custodian;
  std::string filename;
  std::string language = "en";
  std::string type;           // e.g. "text"
  std::optional<std::int64_t> day;  // days since 1970-01-01
  std::vector<std::pair<Field, std::string>> extra;  // more boolean terms
  std::string subject;  // email subject, searchable as subject:word
};

struct ChunkRange {
  std::uint32_t first_pos = 0;  // position of the chunk's first word
  std::uint32_t end_pos = 0;    // one past its last word
  std::size_t consumed = 0;     // input bytes taken (less than given at the cap)
};

class PreparedDocument;

class DocumentBuilder {
 public:
  // `prefix_terms`: false only to measure the index without them
  // (bench/prefix_bench.cpp); a shard built so does not match `word*`.
  DocumentBuilder(const BlindKeys& keys, std::size_t text_cap = kDefaultIndexedTextCap,
                  std::size_t max_terms = kDefaultMaxDistinctTerms, bool prefix_terms = true);
  ~DocumentBuilder();
  DocumentBuilder(const DocumentBuilder&) = delete;
  DocumentBuilder& operator=(const DocumentBuilder&) = delete;

  // Starts a new document; the previous one must have been finished.
  void Begin(const DocumentFields& fields);
  // Indexes one chunk of valid UTF-8 text (normalised to NFKC here). Returns
  // the positions it used and how many bytes it took: at the cap it takes a
  // prefix ending at a word boundary (possibly nothing) and marks the
  // document partial.
  ChunkRange AddText(std::string_view utf8);
  bool partial() const;
  PreparedDocument Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A built document, ready for ShardStore::Add. Move-only.
class PreparedDocument {
 public:
  PreparedDocument();
  ~PreparedDocument();
  PreparedDocument(PreparedDocument&&) noexcept;
  PreparedDocument& operator=(PreparedDocument&&) noexcept;
  const std::string& doc_id() const;

  struct Impl;
  explicit PreparedDocument(std::unique_ptr<Impl> impl);
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Splits text into chunks of about `target` bytes at whitespace, never
// inside a word or a UTF-8 sequence.
std::size_t ChunkBoundary(std::string_view text, std::size_t target);

}  // namespace dossier::indexer
