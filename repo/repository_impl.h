// Private to repo/: the state behind Repository and helpers shared by its
// .cpp files (repository.cpp, ingest.cpp, search.cpp, moves.cpp).
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "crypto/envelope.h"
#include "crypto/keyed_hash.h"
#include "crypto/keys.h"
#include "indexer/blind_terms.h"
#include "indexer/extract_pool.h"
#include "indexer/searcher.h"
#include "indexer/shard_store.h"
#include "repo/file_store.h"
#include "repo/repository.h"
#include "repo/sqlite.h"

namespace dossier::repo {

using RoleId = std::int64_t;
using AccessSet = std::set<RoleId>;
// The recovery role's place where a role id is expected (role ids start at 1).
constexpr RoleId kRecoveryRecipient = 0;

struct Session::Impl {
  std::int64_t user_id = 0;  // 0 for the recovery key
  std::string user;
  bool admin = false;
  bool recovery = false;
  std::string repo_id;                 // sessions never cross repositories
  std::map<RoleId, crypto::KeyPair> role_keys;  // unsealed role keys
  std::vector<std::string> role_names;
  std::unique_ptr<crypto::KeyPair> recovery_key;
  // Batch keys opened so far, by (batch, role or kRecoveryRecipient): one
  // X25519 opening per batch instead of one per document.
  mutable std::mutex batch_keys_mu;
  mutable std::map<std::pair<std::int64_t, RoleId>, crypto::SecretBytes> batch_keys;
};

// A document's data key wrapped for the recovery role and for each role.
struct WrappedKeys {
  crypto::Bytes recovery;
  std::vector<std::pair<RoleId, crypto::Bytes>> roles;
};

// The wrapping keys of one ingest or one grant (see crypto::WrapKey): a
// fresh random key for each recipient role and for the recovery role, each
// sealed to its owner's public key. A batch key only ever wraps keys of the
// ingest or grant that made it, so a role key rotated later reaches nothing
// new through an old batch key. Documents and key rows name their batch.
class KeyBatch {
 public:
  KeyBatch(std::vector<std::pair<RoleId, crypto::PublicKey>> recipients,
           const crypto::PublicKey& recovery);
  std::int64_t id() const { return id_; }
  WrappedKeys Wrap(const std::string& doc_id, const crypto::SecretBytes& data_key) const;
  // Writes the batch's rows unless they are there; call inside the
  // transaction that writes the first rows naming the batch.
  void Store(sql::Db& db, const std::string& now) const;

 private:
  struct Recipient {
    RoleId role;
    crypto::SecretBytes key;
    crypto::Bytes sealed;
  };
  std::int64_t id_ = 0;
  crypto::SecretBytes recovery_key_;
  crypto::Bytes recovery_sealed_;
  std::vector<Recipient> recipients_;
};

struct Repository::Impl {
  std::string dir;
  OpenOptions options;
  std::string repo_id;
  Fd lock;
  std::unique_ptr<sql::Db> db;
  crypto::SecretBytes index_key;
  crypto::PublicKey recovery_public{};
  std::unique_ptr<indexer::BlindKeys> blind;
  std::unique_ptr<crypto::KeyedHasher> dedup;
  std::unique_ptr<FileStore> blobs;
  std::unique_ptr<FileStore> text;
  std::unique_ptr<indexer::ShardStore> shards;   // null when read-only
  std::unique_ptr<indexer::Searcher> searcher;
  std::unique_ptr<indexer::ExtractPool> pool;  // started by the first ingest

  void Fault(std::string_view point) const {
    if (options.fault) options.fault(point);
  }
  std::int64_t Now() const;
  std::string NowText() const;
  void RequireWritable() const;

  // Roles.
  RoleId RoleIdOf(const std::string& name);
  std::string RoleNameOf(RoleId id);
  crypto::PublicKey RolePublicKey(RoleId id);
  // The role's key pair from the session, or unsealed with the recovery key.
  // Throws Error(kForbidden) if the actor holds neither.
  const crypto::KeyPair& RoleKey(const Session& s, RoleId id,
                                 std::map<RoleId, crypto::KeyPair>& scratch);
  bool HoldsRole(const Session& s, RoleId id) const;

  // Cases.
  AccessSet CaseRoles(const std::string& case_id);
  // Throws Error(kNotFound) unless the actor holds a role granted on the case
  // (or is the recovery key).
  void RequireCaseVisible(const Session& s, const std::string& case_id);
  crypto::SecretBytes OpenCaseKey(const Session& s, const std::string& case_id);

  // Shards.
  std::string ShardFor(const AccessSet& set);  // creates it if needed
  AccessSet ShardSet(const std::string& shard_id);
  std::vector<std::string> VisibleShards(const Session& s);

  // Documents.
  crypto::SecretBytes OpenDocumentKey(const Session& s, const std::string& doc_id);
  // A batch's key for a role the session holds (or kRecoveryRecipient),
  // opened once per session.
  const crypto::SecretBytes& BatchKey(const Session& s, std::int64_t batch, RoleId recipient);

  // Crash recovery and moves (moves.cpp).
  void Recover();
  void ResumeMoves();
};

std::string EncodeSet(const AccessSet& set);
AccessSet DecodeSet(const std::string& text);
std::string Rfc3339(std::int64_t seconds);

// Seals a JSON object under a key with associated data `ad`.
crypto::Bytes SealJson(const crypto::SecretBytes& key, std::string_view ad,
                       const nlohmann::json& j);
nlohmann::json OpenJson(const crypto::SecretBytes& key, std::string_view ad,
                        const crypto::Bytes& sealed);

// Text store records: "DST1" then per chunk: u32 first_pos | u32 end_pos |
// u32 length | sealed message. Positions are the index word positions the
// chunk covers, so a snippet opens the one chunk holding a match.
struct TextChunkRecord {
  std::uint32_t first_pos = 0, end_pos = 0;
  std::uint64_t offset = 0;  // of the sealed message in the file
  std::uint32_t length = 0;
  crypto::Bytes sealed;      // empty when read without payloads
};
constexpr std::size_t kTextChunkBytes = 16 * 1024;
// Reads the records of a text file (sealed; decrypt separately). Without
// `payloads` only the 12-byte headers are read, so a snippet can pick its
// chunk without reading the whole text.
std::vector<TextChunkRecord> ReadTextRecords(const FileStore& store, const std::string& name,
                                             bool payloads = true);
// Reads one record's sealed message, located by ReadTextRecords.
crypto::Bytes ReadTextChunk(const FileStore& store, const std::string& name,
                            const TextChunkRecord& record);

}  // namespace dossier::repo
