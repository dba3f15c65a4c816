// Private to repo/: opening the keys of roles, cases and documents for an
// actor, and sealing new ones (docs/keys.md describes the model).
// Every sealed or wrapped value read back is checked for size first
// (repo/columns.h). Functions take the connection to read through: a
// writer passes its own, so it sees its transaction's rows.
// Thread-safety: free functions; KeyBatch is immutable once made.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crypto/keys.h"
#include "repo/columns.h"
#include "repo/session_impl.h"
#include "repo/sqlite.h"

namespace dossier::repo {

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
  // The recipients and the public keys the batch was sealed to.
  const std::vector<std::pair<RoleId, crypto::PublicKey>>& recipients() const { return sealed_to_; }
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
  std::vector<std::pair<RoleId, crypto::PublicKey>> sealed_to_;
};

RoleId RoleIdOf(sql::Db& db, const std::string& name);  // Error(kNotFound)
std::string RoleNameOf(sql::Db& db, RoleId id);
crypto::PublicKey RolePublicKey(sql::Db& db, RoleId id);
// The roles granted on a case.
AccessSet CaseRoles(sql::Db& db, const std::string& case_id);
// The access set of a shard.
AccessSet ShardSet(sql::Db& db, const std::string& shard_id);
// The shard of an access set, recorded now if it has none yet (REQUIRES
// the writer's connection, in a transaction).
std::string ShardFor(sql::Db& w, const AccessSet& set);

// The role's key pair: the actor's own, or opened with the recovery key
// and kept in `scratch`. Throws Error(kForbidden) if the actor holds
// neither.
const crypto::KeyPair& RoleKey(sql::Db& db, const Actor& actor, RoleId id,
                               std::map<RoleId, crypto::KeyPair>& scratch);
// A case's key. Throws Error(kNotFound) unless the actor opens it.
crypto::SecretBytes OpenCaseKey(sql::Db& db, const Actor& actor, const std::string& case_id);
// A document's data key. Throws Error(kNotFound) unless the actor opens it.
crypto::SecretBytes OpenDocumentKey(sql::Db& db, const Actor& actor, const std::string& doc_id);
// A batch's key for a role the actor holds (or kRecoveryRecipient),
// opened once per session and cached there.
crypto::SecretBytes BatchKey(sql::Db& db, const Actor& actor, std::int64_t batch,
                             RoleId recipient);

}  // namespace dossier::repo
