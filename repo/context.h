// Private to repo/: what every service shares (LevelDB's DBImpl, DuckDB's
// ClientContext): the database connections, the stores, the keys derived
// from the server key, the clock, the event sink and the fault hook. One
// context per open Repository; services hold a reference to it.
// Thread-safety: every member is safe to use from any thread, under the
// rules of its own type (writes through db.Write(), the shard store's
// writing side under the same lock).
#pragma once

#include <functional>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "crypto/keyed_hash.h"
#include "crypto/keys.h"
#include "indexer/blind_terms.h"
#include "indexer/shard_store.h"
#include "repo/audit_trail.h"
#include "repo/blob_store.h"
#include "repo/db.h"
#include "repo/events.h"
#include "repo/repository.h"
#include "repo/text_store.h"

namespace dossier::repo {

// Where every change and read is reported (see events.h). Changes are
// reported inside the transaction that makes them, so the audit trail can
// append its row there; reads after they are done.
class EventSink {
 public:
  EventSink(std::function<void(const Event&)> observer, std::shared_ptr<const Clock> clock)
      : observer_(std::move(observer)), clock_(std::move(clock)) {}
  // Where events go from now on: once, at open, before anyone acts.
  void Attach(AuditTrail* trail) { trail_ = trail; }
  void Changed(sql::Db& txn, EventKind kind, std::string actor, std::string target,
               std::string detail = "") const;
  void Read(EventKind kind, std::string actor, std::string target, std::string detail = "") const;

 private:
  std::function<void(const Event&)> observer_;
  std::shared_ptr<const Clock> clock_;
  AuditTrail* trail_ = nullptr;
};

// The cases an ingest is writing into right now. A grant or revoke of such
// a case waits for it (Error(kConflict)): the ingest wrapped its documents'
// keys for, and places them in the shard of, the access set it started
// with. REQUIRES: register and check under the write lock.
class IngestingCases {
 public:
  class Token {
   public:
    Token(IngestingCases* owner, std::string case_id) : owner_(owner), case_id_(std::move(case_id)) {}
    Token(Token&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), case_id_(std::move(o.case_id_)) {}
    Token& operator=(Token&&) = delete;
    ~Token() {
      if (owner_) owner_->Leave(case_id_);
    }

   private:
    IngestingCases* owner_;
    std::string case_id_;
  };
  Token Enter(const std::string& case_id) {
    std::lock_guard lock(mu_);
    cases_.insert(case_id);
    return Token(this, case_id);
  }
  bool Busy(const std::string& case_id) const {
    std::lock_guard lock(mu_);
    return cases_.count(case_id) > 0;
  }

 private:
  void Leave(const std::string& case_id) {
    std::lock_guard lock(mu_);
    cases_.erase(cases_.find(case_id));
  }
  mutable std::mutex mu_;
  std::multiset<std::string> cases_;
};

// What a search falls back on when writers keep moving the index on under
// it (repo/search.h): writers hold it for each transaction that moves the
// index epoch, a search that has lost twice holds it shared from its
// snapshot to its index read. It prefers writers, so readers never hold a
// writer off for long, and readers take it only after losing a race, so
// searches do not queue on one lock.
class IndexGate {
 public:
  void Lock() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return !writer_ && readers_ == 0; });
    --waiting_;
    writer_ = true;
  }
  void Unlock() {
    {
      std::lock_guard lock(mu_);
      writer_ = false;
    }
    cv_.notify_all();
  }
  void LockShared() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !writer_ && waiting_ == 0; });
    ++readers_;
  }
  void UnlockShared() {
    {
      std::lock_guard lock(mu_);
      --readers_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int readers_ = 0, waiting_ = 0;
  bool writer_ = false;
};

// Plaintext held in memory for the extraction workers (uploads and stored
// originals decrypted into sealed memfds), counted in bytes across the
// process. A grant always succeeds when nothing is held, so one file
// larger than the budget still runs, alone.
// Thread-safety: any thread.
class PlaintextBudget {
 public:
  class Grant {
   public:
    Grant() = default;
    Grant(PlaintextBudget* owner, std::uint64_t n) : owner_(owner), n_(n) {}
    Grant(Grant&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), n_(o.n_) {}
    Grant& operator=(Grant&& o) noexcept {
      if (this != &o) {
        Release();
        owner_ = std::exchange(o.owner_, nullptr);
        n_ = o.n_;
      }
      return *this;
    }
    ~Grant() { Release(); }

   private:
    void Release() {
      if (owner_) owner_->Give(n_);
      owner_ = nullptr;
    }
    PlaintextBudget* owner_ = nullptr;
    std::uint64_t n_ = 0;
  };
  explicit PlaintextBudget(std::uint64_t cap) : cap_(cap) {}
  // A grant of `n` bytes if they fit now (or nothing is held).
  std::optional<Grant> TryTake(std::uint64_t n) {
    std::lock_guard lock(mu_);
    if (used_ != 0 && used_ + n > cap_) return std::nullopt;
    used_ += n;
    return Grant(this, n);
  }
  std::uint64_t used() const {
    std::lock_guard lock(mu_);
    return used_;
  }

 private:
  void Give(std::uint64_t n) {
    std::lock_guard lock(mu_);
    used_ -= n;
  }
  mutable std::mutex mu_;
  const std::uint64_t cap_;
  std::uint64_t used_ = 0;
};

struct RepoContext {
  RepoContext(std::string dir, const OpenOptions& options);

  std::string dir;
  OpenOptions options;
  bool writable;
  std::string repo_id;
  std::shared_ptr<const Clock> clock;
  std::unique_ptr<Database> db;
  // The audit trail (repo/audit_trail.h): after db, so it is gone (its last
  // reads appended) before the connections close.
  std::unique_ptr<AuditTrail> audit;

  // Derived from the server key's index key.
  std::unique_ptr<indexer::BlindKeys> blind;
  std::unique_ptr<crypto::KeyedHasher> dedup;
  std::unique_ptr<crypto::KeyedHasher> entities;  // entity hashes for case links
  crypto::PublicKey recovery_public{};

  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<BlobStore> text_files;
  std::unique_ptr<TextStore> texts;
  std::unique_ptr<indexer::ShardStore> shards;

  EventSink events;
  IngestingCases ingesting;
  IndexGate index_gate;
  PlaintextBudget plaintext;

  void Fault(std::string_view point) const {
    if (options.fault) options.fault(point);
  }
  std::int64_t Now() const { return clock->Now(); }
  std::string NowText() const { return Rfc3339(Now()); }
  void RequireWritable() const;
};

// Meta rows (table meta): the repository's id, format versions, epochs.
std::string MetaText(sql::Db& db, const std::string& key);
void SetMeta(sql::Db& db, const std::string& key, std::string_view value);
// Counters readers compare before and after a search: index_epoch moves
// when a group of documents is written or documents move between shards,
// membership_epoch when a role's members or keys change.
std::int64_t ReadEpoch(sql::Db& db, const char* name);
void BumpEpoch(sql::Db& db, const char* name);
// Holds the index gate while a transaction moves the index epoch on:
// construct it before the transaction, let it go after the commit.
class IndexEpochChange {
 public:
  explicit IndexEpochChange(RepoContext& ctx) : gate_(ctx.index_gate) { gate_.Lock(); }
  ~IndexEpochChange() { gate_.Unlock(); }
  IndexEpochChange(const IndexEpochChange&) = delete;
  IndexEpochChange& operator=(const IndexEpochChange&) = delete;

 private:
  IndexGate& gate_;
};
constexpr const char* kIndexEpoch = "index_epoch";
constexpr const char* kMembershipEpoch = "membership_epoch";

}  // namespace dossier::repo
