// Private to indexer/: the Xapian pieces of blind indexing. Not installed,
// not included outside this folder (public headers stay free of xapian.h).
#pragma once

#include <xapian.h>

#include <string>
#include <unordered_map>

#include "base/error.h"
#include "indexer/document_builder.h"
#include "indexer/blind_terms.h"
#include "indexer/text.h"

namespace dossier::indexer {
struct PreparedDocument::Impl {
  std::string doc_id;
  Xapian::Document doc;
};
}  // namespace dossier::indexer

namespace dossier::indexer::internal {

// A Xapian stemmer whose output is a keyed hash: FoldWord, then the
// language's real stemmer, then BlindKeys::StemHash. TermGenerator and
// QueryParser both run it under STEM_ALL_Z, so every word term in the index
// is "Z" + hash, positions included, and phrase, NEAR and boolean queries
// keep working on the hashes.
// Not thread-safe: its word cache is unsynchronised, so make one per thread
// (a Xapian::Stem shares its implementation between copies).
class BlindStemmer : public Xapian::StemImplementation {
 public:
  BlindStemmer(const BlindKeys& keys, const std::string& language)
      : keys_(keys),
        stem_(IsSupportedLanguage(language) ? Xapian::Stem(language)
                                            : Xapian::Stem()),
        language_(language) {}

  std::string operator()(const std::string& word) override {
    auto it = cache_.find(word);
    if (it != cache_.end()) return it->second;
    // Bounded: a long document of unique tokens must not grow it forever.
    if (cache_.size() >= kMaxCache) cache_.clear();
    std::string folded = FoldWord(word);
    std::string hashed = keys_.StemHash(stem_(folded));
    return cache_.emplace(word, std::move(hashed)).first->second;
  }
  std::string get_description() const override {
    return "dossier blind stemmer (" + language_ + ")";
  }

 private:
  static constexpr std::size_t kMaxCache = 200000;
  const BlindKeys& keys_;
  Xapian::Stem stem_;
  std::string language_;
  std::unordered_map<std::string, std::string> cache_;
};

inline Xapian::Stem MakeBlindStem(const BlindKeys& keys,
                                  const std::string& language) {
  return Xapian::Stem(new BlindStemmer(keys, language));
}

// Hashes the value of a boolean field ("case:abc") into its blind term, so
// boolean prefixes (which bypass the stemmer) never put plaintext in a query
// or in the index.
class HashedFieldProcessor : public Xapian::FieldProcessor {
 public:
  HashedFieldProcessor(const BlindKeys& keys, Field field)
      : keys_(keys), field_(field) {}
  Xapian::Query operator()(const std::string& value) override {
    return Xapian::Query(keys_.FieldTerm(field_, value));
  }

 private:
  const BlindKeys& keys_;
  Field field_;
};

// Runs `fn`, turning any Xapian exception into dossier::Error. The message
// names the operation, never the query or content.
template <typename Fn>
auto XapianCall(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Xapian::DatabaseLockError&) {
    throw Error(ErrorCode::kConflict,
                std::string(what) + ": the index is locked by another writer");
  } catch (const Xapian::DatabaseCorruptError&) {
    throw Error(ErrorCode::kCorrupt, std::string(what) + ": the index is corrupt");
  } catch (const Xapian::QueryParserError& e) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("malformed query: ") + e.get_msg());
  } catch (const Xapian::DatabaseOpeningError&) {
    throw Error(ErrorCode::kIo, std::string(what) + ": cannot open an index shard");
  } catch (const Xapian::Error& e) {
    throw Error(ErrorCode::kIo, std::string(what) + ": " + e.get_type());
  }
}

std::string IdTerm(std::string_view doc_id);

}  // namespace dossier::indexer::internal
