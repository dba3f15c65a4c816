// Private to repo/: the audit trail's writing side. Every event the event
// sink sees (repo/events.h) becomes a row of audit_events: a change in the
// transaction that makes it, a read queued and appended with others within
// a bounded delay (OpenOptions::audit_delay, about a second), so a reader
// never waits on the writer. Each row carries the hash of the one before
// and its own leaf hash in an RFC 9162 Merkle tree (crypto/merkle.h); the
// tree's head is signed with the repository's Ed25519 key
// (keys/server.key) each time queued events are appended, so what a crash
// can lose is the queue of reads not yet appended (at most the delay), and
// changes made since the last head stay unsigned until the next one.
//
// A process that opened the repository read-only (the CLI beside a running
// server) appends its reads in one short transaction of its own when it
// closes.
//
// An event's detail (a search's query) is kept as its keyed hash (16
// bytes, the audit subkey of the index key: equal queries match without
// opening them) and sealed: for the `auditor` role if there is one, and for
// the recovery key, each entry "i64 role id (0: recovery) | u32 length |
// crypto_box_seal of the detail". Both are empty for an event without one.
//
// The leaf of event `seq` (its hash is SHA-256(0x00 || leaf)):
//   "dossier-audit-v1\n" | u64 seq | i64 at | str actor | str action |
//   str target | str detail_hash | str sealed | prev (32 bytes)
// with integers big-endian and each str a u32 length then its bytes; prev
// is the leaf hash of event seq-1 (32 zero bytes for the first). The signed
// head is "dossier-audit-head-v1\n" | str repo id | u64 size | i64 at |
// root (32). scripts/audit_check.py rebuilds both from this description.
// Thread-safety: all of it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "crypto/keyed_hash.h"
#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "repo/events.h"
#include "repo/sqlite.h"

namespace dossier::repo {

class Database;

std::string EventActionName(EventKind kind);

struct AuditLeaf {
  std::uint64_t seq = 0;
  std::int64_t at = 0;
  std::string actor, action, target;
  std::string detail_hash, sealed;  // bytes
  crypto::Hash32 prev{};
};
// The detail sealed for role `role` (0: the recovery key), opened with its
// key pair; nullopt when the event holds nothing for that role. Throws
// Error(kCorrupt) for a sealed field that cannot be one.
std::optional<std::string> OpenAuditDetail(const std::string& sealed, std::int64_t role,
                                           const crypto::KeyPair& key);
std::string EncodeAuditLeaf(const AuditLeaf& leaf);
std::string EncodeAuditHead(const std::string& repo_id, std::uint64_t size, std::int64_t at,
                            const crypto::Hash32& root);

// The signed head as stored.
struct StoredHead {
  std::uint64_t size = 0;
  crypto::Hash32 root{};
  std::int64_t at = 0;
  crypto::Bytes signature;
  crypto::MerkleFrontier edge;
};
// The stored head, or none before the first; Error(kCorrupt) for a row
// that cannot be one.
std::optional<StoredHead> ReadStoredHead(sql::Db& db);

class AuditTrail {
 public:
  // `db` is null for a read-only open (reads are then appended through a
  // connection of their own, at Flush or destruction).
  AuditTrail(std::string db_path, Database* db, std::string repo_id, crypto::SecretBytes signing_key,
             std::unique_ptr<crypto::KeyedHasher> detail_hasher, crypto::PublicKey recovery_public,
             std::shared_ptr<const Clock> clock, std::chrono::milliseconds delay);
  ~AuditTrail();  // appends what is queued and signs a head
  AuditTrail(const AuditTrail&) = delete;
  AuditTrail& operator=(const AuditTrail&) = delete;

  // A change's event, in the caller's write transaction.
  void Append(sql::Db& txn, const Event& e);
  // A read's event, appended within the delay.
  void Queue(Event e);
  // Appends what is queued and signs a head over every event, now.
  void Flush();

  const crypto::PublicKey& public_key() const { return public_key_; }
  // The keyed hash a detail is kept under (to find events of one query).
  std::string DetailHash(std::string_view detail) const { return detail_hasher_->Hash(detail, 16); }
  const std::string& repo_id() const { return repo_id_; }
  // Reads not recorded since this process opened the trail (its queue was
  // full because appending kept failing); and reads waiting to be appended.
  std::uint64_t Dropped() {
    std::lock_guard lock(mu_);
    return dropped_;
  }
  std::uint64_t Queued() {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  void AppendRow(sql::Db& txn, const Event& e);
  void AppendAll(sql::Db& db, std::deque<Event>& batch);
  void SignInOwnTransaction(sql::Db& db);
  void SignHead(sql::Db& txn);
  void Run();

  const std::string db_path_;
  Database* const db_;
  const std::string repo_id_;
  const crypto::SecretBytes signing_key_;
  const crypto::PublicKey public_key_;
  const std::unique_ptr<crypto::KeyedHasher> detail_hasher_;
  const crypto::PublicKey recovery_public_;
  const std::shared_ptr<const Clock> clock_;
  const std::chrono::milliseconds delay_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;     // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::uint64_t dropped_ = 0;   // guarded by mu_: reads not recorded (queue full)
  std::uint64_t first_own_seq_ = 0;      // guarded by mu_: the first event this process appended
  std::uint64_t last_signed_size_ = 0;   // guarded by mu_: the last head signed or seen
  crypto::Hash32 last_signed_root_{};    // guarded by mu_
  std::atomic<bool> unsigned_{false};  // changes appended since the last head
  std::mutex flush_mu_;         // one flush at a time
  std::thread thread_;          // writable opens only
};

}  // namespace dossier::repo
