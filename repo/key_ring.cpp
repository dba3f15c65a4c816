#include "repo/key_ring.h"

#include "crypto/envelope.h"
#include "indexer/blind_terms.h"

namespace dossier::repo {

KeyBatch::KeyBatch(std::vector<std::pair<RoleId, crypto::PublicKey>> recipients,
                   const crypto::PublicKey& recovery)
    : recovery_key_(crypto::RandomSecret(crypto::kDataKeySize)), sealed_to_(recipients) {
  // A random id, not SQLite's next rowid, so the rows can be written (with
  // INSERT OR IGNORE) by whichever commit first needs them, even after a
  // rolled-back one.
  crypto::Bytes r = crypto::RandomBytes(8);
  for (unsigned char b : r) id_ = (id_ << 8) | b;
  id_ &= INT64_MAX;
  recovery_sealed_ = crypto::SealTo(recovery, recovery_key_);
  for (const auto& [role, pk] : recipients) {
    Recipient rc{role, crypto::RandomSecret(crypto::kDataKeySize), {}};
    rc.sealed = crypto::SealTo(pk, rc.key);
    recipients_.push_back(std::move(rc));
  }
}

WrappedKeys KeyBatch::Wrap(const std::string& doc_id, const crypto::SecretBytes& data_key) const {
  WrappedKeys out;
  out.recovery = crypto::WrapKey(recovery_key_, crypto::DataKeyAd(doc_id, "recovery"), data_key);
  for (const auto& rc : recipients_) {
    out.roles.emplace_back(
        rc.role,
        crypto::WrapKey(rc.key, crypto::DataKeyAd(doc_id, std::to_string(rc.role)), data_key));
  }
  return out;
}

void KeyBatch::Store(sql::Db& db, const std::string& now) const {
  sql::Stmt b(db, "INSERT OR IGNORE INTO key_batches(id, recovery_sealed, created_at) VALUES(?, ?, ?)");
  b.Bind(1, id_).Bind(2, recovery_sealed_).Bind(3, now).Run();
  sql::Stmt k(db, "INSERT OR IGNORE INTO batch_keys(batch_id, role_id, sealed_key) VALUES(?, ?, ?)");
  for (const auto& rc : recipients_) {
    k.Reset();
    k.Bind(1, id_).Bind(2, rc.role).Bind(3, rc.sealed).Run();
  }
}

RoleId RoleIdOf(sql::Db& db, const std::string& name) {
  sql::Stmt s(db, "SELECT id FROM roles WHERE name=?");
  s.Bind(1, name);
  if (!s.Step()) throw Error(ErrorCode::kNotFound, "no such role");
  return col::Integer(s, 0, 1, INT64_MAX, "a role id");
}

std::string RoleNameOf(sql::Db& db, RoleId id) {
  sql::Stmt s(db, "SELECT name FROM roles WHERE id=?");
  s.Bind(1, id);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "a role is missing");
  return col::Name(s, 0, "a role's name");
}

crypto::PublicKey RolePublicKey(sql::Db& db, RoleId id) {
  sql::Stmt s(db, "SELECT public_key FROM roles WHERE id=?");
  s.Bind(1, id);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "a role is missing");
  return col::PublicKey(s, 0, "a role's public key");
}

AccessSet CaseRoles(sql::Db& db, const std::string& case_id) {
  sql::Stmt s(db, "SELECT role_id FROM case_grants WHERE case_id=?");
  s.Bind(1, case_id);
  AccessSet set;
  while (s.Step()) set.insert(col::Integer(s, 0, 1, INT64_MAX, "a case grant's role"));
  return set;
}

AccessSet ShardSet(sql::Db& db, const std::string& shard_id) {
  sql::Stmt s(db, "SELECT access_set FROM shards WHERE id=?");
  s.Bind(1, shard_id);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "a shard record is missing");
  return col::Set(s, 0, "a shard's access set");
}

std::string ShardFor(sql::Db& w, const AccessSet& set) {
  if (set.empty()) throw Error(ErrorCode::kInternal, "empty access set");
  const std::string key = EncodeSet(set);
  sql::Stmt s(w, "SELECT id FROM shards WHERE access_set=?");
  s.Bind(1, key);
  if (s.Step()) return col::Id(s, 0, col::IdKind::kShard, "a shard id");
  const std::string id = "s" + crypto::RandomId(15);
  sql::Stmt ins(w, "INSERT INTO shards(id, access_set, format) VALUES(?, ?, ?)");
  ins.Bind(1, id).Bind(2, key).Bind(3, static_cast<std::int64_t>(indexer::kShardFormat)).Run();
  return id;
}

const crypto::KeyPair& RoleKey(sql::Db& db, const Actor& actor, RoleId id,
                               std::map<RoleId, crypto::KeyPair>& scratch) {
  if (const crypto::KeyPair* k = actor.MemberKey(id)) return *k;
  auto sc = scratch.find(id);
  if (sc != scratch.end()) return sc->second;
  if (!actor.recovery()) throw Error(ErrorCode::kForbidden, "you do not hold this role's key");
  sql::Stmt st(db, "SELECT recovery_sealed FROM roles WHERE id=?");
  st.Bind(1, id);
  if (!st.Step()) throw Error(ErrorCode::kCorrupt, "a role is missing");
  crypto::KeyPair kp{RolePublicKey(db, id),
                     crypto::OpenSealedKey(*actor.session().recovery_key,
                                           col::SealedKey(st, 0, "a role's recovery key"), 32,
                                           "a role's recovery key")};
  return scratch.emplace(id, std::move(kp)).first->second;
}

crypto::SecretBytes OpenCaseKey(sql::Db& db, const Actor& actor, const std::string& case_id) {
  if (actor.recovery()) {
    sql::Stmt st(db, "SELECT recovery_sealed_key FROM cases WHERE id=?");
    st.Bind(1, case_id);
    if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such case");
    return crypto::OpenSealedKey(*actor.session().recovery_key,
                                 col::SealedKey(st, 0, "a case's recovery key"), 32,
                                 "a case's recovery key");
  }
  sql::Stmt st(db, "SELECT role_id, sealed_key FROM case_grants WHERE case_id=?");
  st.Bind(1, case_id);
  while (st.Step()) {
    if (const crypto::KeyPair* k = actor.MemberKey(st.Int(0))) {
      return crypto::OpenSealedKey(*k, col::SealedKey(st, 1, "a case key"), 32, "a case key");
    }
  }
  throw Error(ErrorCode::kNotFound, "no such case");
}

crypto::SecretBytes OpenDocumentKey(sql::Db& db, const Actor& actor, const std::string& doc_id) {
  if (actor.recovery()) {
    sql::Stmt st(db, "SELECT recovery_sealed_key, key_batch FROM documents WHERE id=?");
    st.Bind(1, doc_id);
    if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such document");
    const bool wrapped = !st.IsNull(1);
    const crypto::Bytes sealed = col::DataKey(st, 0, wrapped, "a document's recovery key");
    if (!wrapped) {
      return crypto::OpenSealedKey(*actor.session().recovery_key, sealed, 32,
                                   "a document's recovery key");
    }
    const std::int64_t batch = col::Integer(st, 1, 0, INT64_MAX, "a document's key batch");
    return crypto::UnwrapKey(BatchKey(db, actor, batch, kRecoveryRecipient),
                             crypto::DataKeyAd(doc_id, "recovery"), sealed);
  }
  sql::Stmt st(db, "SELECT role_id, sealed_key, key_batch FROM document_keys WHERE doc_id=?");
  st.Bind(1, doc_id);
  while (st.Step()) {
    const RoleId role = st.Int(0);
    const crypto::KeyPair* k = actor.MemberKey(role);
    if (!k) continue;
    const bool wrapped = !st.IsNull(2);
    const crypto::Bytes sealed = col::DataKey(st, 1, wrapped, "a document's key");
    if (!wrapped) return crypto::OpenSealedKey(*k, sealed, 32, "a document's key");
    const std::int64_t batch = col::Integer(st, 2, 0, INT64_MAX, "a document's key batch");
    return crypto::UnwrapKey(BatchKey(db, actor, batch, role),
                             crypto::DataKeyAd(doc_id, std::to_string(role)), sealed);
  }
  throw Error(ErrorCode::kNotFound, "no such document");
}

crypto::SecretBytes BatchKey(sql::Db& db, const Actor& actor, std::int64_t batch,
                             RoleId recipient) {
  const Session::Impl& si = actor.session();
  {
    std::lock_guard lock(si.batch_mu);
    auto it = si.batch_keys.find({batch, recipient});
    if (it != si.batch_keys.end()) return it->second.Clone();
  }
  crypto::SecretBytes key;
  if (recipient == kRecoveryRecipient) {
    sql::Stmt st(db, "SELECT recovery_sealed FROM key_batches WHERE id=?");
    st.Bind(1, batch);
    if (!st.Step()) throw Error(ErrorCode::kCorrupt, "a key batch is missing");
    key = crypto::OpenSealedKey(*si.recovery_key, col::SealedKey(st, 0, "a key batch"), 32,
                                "a key batch");
  } else {
    const crypto::KeyPair* role_key = actor.MemberKey(recipient);
    if (!role_key) throw Error(ErrorCode::kForbidden, "you do not hold this role's key");
    sql::Stmt st(db, "SELECT sealed_key FROM batch_keys WHERE batch_id=? AND role_id=?");
    st.Bind(1, batch).Bind(2, recipient);
    if (!st.Step()) throw Error(ErrorCode::kCorrupt, "a key batch is missing");
    key = crypto::OpenSealedKey(*role_key, col::SealedKey(st, 0, "a key batch"), 32,
                                "a key batch");
  }
  std::lock_guard lock(si.batch_mu);
  auto [it, added] = si.batch_keys.emplace(std::make_pair(batch, recipient), std::move(key));
  return it->second.Clone();
}

}  // namespace dossier::repo
