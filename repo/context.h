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
#include <string>
#include <string_view>

#include "base/clock.h"
#include "crypto/keyed_hash.h"
#include "crypto/keys.h"
#include "indexer/blind_terms.h"
#include "indexer/shard_store.h"
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
  void Changed(sql::Db& txn, EventKind kind, std::string actor, std::string target) const;
  void Read(EventKind kind, std::string actor, std::string target) const;

 private:
  std::function<void(const Event&)> observer_;
  std::shared_ptr<const Clock> clock_;
};

struct RepoContext {
  RepoContext(std::string dir, const OpenOptions& options);

  std::string dir;
  OpenOptions options;
  bool writable;
  std::string repo_id;
  std::shared_ptr<const Clock> clock;
  std::unique_ptr<Database> db;

  // Derived from the server key's index key.
  std::unique_ptr<indexer::BlindKeys> blind;
  std::unique_ptr<crypto::KeyedHasher> dedup;
  crypto::PublicKey recovery_public{};

  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<BlobStore> text_files;
  std::unique_ptr<TextStore> texts;
  std::unique_ptr<indexer::ShardStore> shards;

  EventSink events;

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
constexpr const char* kIndexEpoch = "index_epoch";
constexpr const char* kMembershipEpoch = "membership_epoch";

}  // namespace dossier::repo
