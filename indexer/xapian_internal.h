// Private to indexer/: the Xapian pieces of blind indexing, the one adapter
// for the Xapian library. Included only by indexer/'s .cpp files that call
// Xapian (searcher, shard store, document builder): public headers stay
// free of xapian.h, and nothing outside this folder includes this one.
#pragma once

#include <xapian.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "indexer/blind_terms.h"
#include "indexer/document_builder.h"
#include "indexer/shard_store.h"

namespace dossier::indexer {
struct PreparedDocument::Impl {
  std::string doc_id;
  Xapian::Document doc;
};

// What a lease gives its search: the shards combined into one database,
// and a way to bring them to their latest commit. The readers behind it
// belong to the store (shard_store.cpp) and go back to its pool with
// `release`.
struct ShardLease::Impl {
  Xapian::Database combined;  // the leased shards, in the order asked for
  std::vector<Xapian::Database> parts;  // the same shards one by one
  // Reopens every reader and rebuilds `combined` (after Xapian reports the
  // database was modified under a search).
  std::function<void(Impl&)> reopen;
  std::function<void()> release;
  ~Impl() {
    if (release) release();
  }
};
}  // namespace dossier::indexer

namespace dossier::indexer::internal {

// A Xapian stemmer whose output is a keyed hash: FoldWord, then the
// language's real stemmer, then BlindKeys::StemHash. TermGenerator and
// QueryParser both run it under STEM_ALL_Z, so every word term in the index
// is "Z" + hash, positions included, and phrase, NEAR and boolean queries
// keep working on the hashes. Its word cache is unsynchronised: make one
// per thread (a Xapian::Stem shares its implementation between copies).
Xapian::Stem MakeBlindStem(const BlindKeys& keys, const std::string& language);

// Hashes the value of a boolean field ("case:abc") into its blind term, so
// boolean prefixes (which bypass the stemmer) never put plaintext in a query
// or in the index.
std::unique_ptr<Xapian::FieldProcessor> MakeHashedFieldProcessor(const BlindKeys& keys,
                                                                 Field field);

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
    throw Error(ErrorCode::kCorrupt, std::string(what) +
                                         ": an index shard cannot be opened; run dossier reindex");
  } catch (const Xapian::Error& e) {
    throw Error(ErrorCode::kIo, std::string(what) + ": " + e.get_type());
  }
}

std::string IdTerm(std::string_view doc_id);


}  // namespace dossier::indexer::internal
