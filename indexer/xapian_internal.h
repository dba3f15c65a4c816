// Private to indexer/: the Xapian pieces of blind indexing. Not installed,
// not included outside this folder (public headers stay free of xapian.h).
#pragma once

#include <xapian.h>

#include <functional>
#include <map>
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

// Open readers of some shards, owned by one lease at a time.
struct ReaderSet {
  struct Reader {
    Xapian::Database db;
    std::uint64_t generation = 0;   // of the shard when last (re)opened
    std::uint64_t incarnation = 0;  // changes when the shard is replaced whole
  };
  std::map<std::string, Reader> shards;
};

struct ShardLease::Impl {
  std::vector<std::string> shards;  // in the order they were combined
  Xapian::Database combined;        // the shards as one database
  std::unique_ptr<ReaderSet> readers;
  // Reopens every reader and rebuilds `combined` (after Xapian reports the
  // database was modified under a search).
  std::function<void(Impl&)> reopen;
  // Gives the readers back to the store's pool.
  std::function<void(std::unique_ptr<ReaderSet>)> release;
  ~Impl() {
    if (release && readers) release(std::move(readers));
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
