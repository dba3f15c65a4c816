// The index: one Xapian (glass) database per access set, each a "shard"
// named by an opaque id. Services see only this interface; the local
// implementation keeps <repo>/index/<shard id>/ (the embedded default),
// and remote shards (xapian-tcpsrv) can take its place later.
//
// Writing and reading are separate sides:
// - The writing side keeps one WritableDatabase per shard.
//   REQUIRES: the caller holds the repository's write lock; calls are
//   serialised (Xapian allows one writer per shard).
// - The reading side is thread-safe: Lease hands one thread readers of
//   the shards it asks for, taken from a pool and given back when the
//   lease ends, so searches run in parallel without sharing a Xapian
//   object. A reader is reopened only when its shard may have changed:
//   after a commit by this store (a counter per shard), or on every lease
//   when other processes may write (a read-only open).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "indexer/document_builder.h"

namespace dossier::indexer {

// Readers of some shards, for one thread. Move-only; returns its readers
// to the store's pool when destroyed. Its innards are private to indexer/.
class ShardLease {
 public:
  struct Impl;
  explicit ShardLease(std::unique_ptr<Impl> impl);
  ShardLease(ShardLease&&) noexcept;
  ShardLease& operator=(ShardLease&&) noexcept;
  ~ShardLease();
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class ShardStore {
 public:
  virtual ~ShardStore() = default;

  // ---- writing (REQUIRES: the write lock) ----
  // Adds (or replaces, keyed by the Q id term) a document. Not durable
  // until Commit(shard).
  virtual void Add(const std::string& shard, PreparedDocument doc) = 0;
  // Removes a document if present; returns whether it was there.
  virtual bool Delete(const std::string& shard, const std::string& doc_id) = 0;
  virtual bool Contains(const std::string& shard, const std::string& doc_id) = 0;
  // Copies a document's terms, positions, values and data from one shard to
  // another without decrypting anything (marking each copy with its shard,
  // the source too if it lacks the mark: commit both). Returns false if
  // `from` lacks it.
  virtual bool Copy(const std::string& from, const std::string& to,
                    const std::string& doc_id) = 0;
  // Gives the document's copy in `shard` its shard mark if it lacks one
  // (copies written before marks existed); returns whether it changed
  // anything (then commit the shard).
  virtual bool Mark(const std::string& shard, const std::string& doc_id) = 0;
  // Replaces the tag terms (and the tag facet value) of the document's copy
  // in `shard` with `tag_terms` (BlindKeys::FieldTerm of kTag); returns
  // false if the shard lacks it. Commit the shard.
  virtual bool SetTags(const std::string& shard, const std::string& doc_id,
                       const std::vector<std::string>& tag_terms) = 0;
  // The ids of every document in a shard.
  virtual std::vector<std::string> DocumentIds(const std::string& shard) = 0;
  // Starts a transaction on `shard`: what is added from now on becomes
  // durable only with Commit, and Cancel discards it, so documents can be
  // added before their rows exist.
  virtual void Begin(const std::string& shard) = 0;
  // Makes every change to `shard` durable (Xapian commit: fsync'd), ending
  // its transaction if one is open.
  virtual void Commit(const std::string& shard) = 0;
  // Discards the changes of `shard`'s open transaction, if any.
  virtual void Cancel(const std::string& shard) = 0;
  // Makes the shard exist (empty if new), durably.
  virtual void Create(const std::string& shard) = 0;
  // Closes and deletes a shard.
  virtual void Drop(const std::string& shard) = 0;
  // Rebuilding: documents go into a fresh shard beside `shard`, which
  // replaces it whole when FinishRebuild returns (a crash in between
  // leaves either the old shard or none, never a mix).
  virtual void StartRebuild(const std::string& shard) = 0;
  virtual void AddToRebuild(const std::string& shard, PreparedDocument doc) = 0;
  virtual void FinishRebuild(const std::string& shard) = 0;
  // Closes every writable database (uncommitted changes are discarded).
  virtual void Close() = 0;

  // ---- reading (thread-safe) ----
  // Whether the shard exists and can be opened.
  virtual bool Exists(const std::string& shard) const = 0;
  // Readers of `shards`, reopened if they may have changed. Throws
  // Error(kCorrupt) naming the remedy if a shard is missing or unreadable.
  virtual ShardLease Lease(const std::vector<std::string>& shards) = 0;
};

// `writable`: this process holds the repository's write lock and writes
// through this store. `other_writers`: another process may write the index
// meanwhile (a read-only open), so readers reopen on every lease.
std::unique_ptr<ShardStore> OpenLocalShardStore(const std::string& index_dir, bool writable,
                                                bool other_writers);

}  // namespace dossier::indexer
