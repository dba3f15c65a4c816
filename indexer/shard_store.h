// The writable side of the index: one Xapian (glass) database per access
// set, under <repo>/index/<shard id>/, plus a staging database used while
// documents move between shards.
//
// REQUIRES: the caller holds the repository's write lock; one ShardStore per
// process. Not thread-safe: serialise calls (during an ingest only its
// commit thread touches the shard).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "indexer/document_builder.h"

namespace dossier::indexer {

// The staging shard's id: holds documents mid-move, never searched.
inline constexpr const char* kStagingShard = "_moving";

class ShardStore {
 public:
  explicit ShardStore(std::string index_dir);
  ~ShardStore();
  ShardStore(const ShardStore&) = delete;
  ShardStore& operator=(const ShardStore&) = delete;

  // Adds (or replaces, keyed by the Q id term) a document. Not durable
  // until Commit(shard).
  void Add(const std::string& shard, PreparedDocument doc);
  // Removes a document if present; returns whether it was there.
  bool Delete(const std::string& shard, const std::string& doc_id);
  bool Contains(const std::string& shard, const std::string& doc_id);
  // Copies a document's terms, positions, values and data from one shard to
  // another without decrypting anything. Returns false if `from` lacks it.
  bool Copy(const std::string& from, const std::string& to,
            const std::string& doc_id);
  std::uint64_t DocumentCount(const std::string& shard);
  // The ids of every document in a shard.
  std::vector<std::string> DocumentIds(const std::string& shard);
  // Starts a transaction on `shard`: what is added from now on becomes
  // durable only with Commit, and Cancel (or Close) discards it, so
  // documents can be added before their rows exist.
  void Begin(const std::string& shard);
  // Makes every change to `shard` durable (Xapian commit: fsync'd), ending
  // its transaction if one is open.
  void Commit(const std::string& shard);
  // Discards the changes of `shard`'s open transaction, if any.
  void Cancel(const std::string& shard);
  void CommitAll();
  // Closes and deletes a shard's files (reindex replaces shards this way).
  void Drop(const std::string& shard);
  // Closes every open shard.
  void Close();
  std::string PathOf(const std::string& shard) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dossier::indexer
