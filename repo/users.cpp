#include "repo/users.h"

#include <algorithm>
#include <cstring>

#include "repo/key_ring.h"
#include "repo/server_key.h"
#include "repo/user_rows.h"

namespace dossier::repo {


Session UserService::Login(std::string_view user, std::string_view password,
                           std::string_view totp) {
  auto db = ctx_.db->Read();
  crypto::Bytes wrapped;
  const std::optional<UserRow> row = FindUser(*db, user, &wrapped);
  if (!row) {
    // Spend the same effort as a real unwrap so timing does not tell
    // unknown users from wrong passwords.
    crypto::SecretBytes dummy = crypto::RandomSecret(32);
    (void)crypto::WrapWithPassword(dummy, password, ctx_.options.cost);
    ctx_.events.Read(EventKind::kLoginFailed, "", std::string(ValidName(user) ? user : ""));
    throw Error(ErrorCode::kUnauthenticated, "unknown user or wrong password");
  }
  auto impl = std::make_shared<Session::Impl>();
  impl->user_id = row->id;
  impl->user = std::string(user);
  impl->repo_id = ctx_.repo_id;
  impl->user_key.public_key = row->public_key;
  try {
    impl->user_key.secret_key = crypto::UnwrapWithPassword(wrapped, password);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnauthenticated) throw;
    ctx_.events.Read(EventKind::kLoginFailed, "", impl->user);
    throw Error(ErrorCode::kUnauthenticated, "unknown user or wrong password");
  }
  if (impl->user_key.secret_key.size() != 32 ||
      crypto::PublicKeyOf(impl->user_key.secret_key) != impl->user_key.public_key) {
    throw Error(ErrorCode::kCorrupt, "a user's key does not match its public key");
  }
  {
    // The user's flags and roles from one snapshot (the row may have
    // changed during the password's key derivation).
    sql::ReadTransaction snapshot(*db);
    const std::optional<UserRow> now = FindUser(*db, user, nullptr);
    if (!now || now->id != row->id || now->disabled) {
      ctx_.events.Read(EventKind::kLoginFailed, "", impl->user);
      throw Error(ErrorCode::kForbidden, "this user is disabled");
    }
    if (now->totp) CheckTotp(*db, impl->user_id, impl->user_key, totp);
    impl->admin = now->admin;
    impl->roles = LoadRoleKeys(*db, impl->user_id, impl->user_key);
  }
  ctx_.events.Read(EventKind::kLogin, impl->user, impl->user);
  return Session(impl);
}

Session UserService::LoginWithRecoveryKey(const std::string& key_file) {
  RecoveryKey key = ReadRecoveryKey(key_file);
  if (key.repo_id != ctx_.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that recovery key belongs to another repository");
  }
  auto impl = std::make_shared<Session::Impl>();
  impl->recovery = true;
  impl->admin = true;
  impl->user = "recovery";
  impl->repo_id = ctx_.repo_id;
  impl->roles = std::make_shared<RoleKeys>();
  impl->recovery_key = std::make_unique<crypto::KeyPair>();
  impl->recovery_key->secret_key = std::move(key.secret_key);
  if (impl->recovery_key->secret_key.size() != 32 ||
      crypto::PublicKeyOf(impl->recovery_key->secret_key) != ctx_.recovery_public) {
    throw Error(ErrorCode::kUnauthenticated, "that recovery key does not match this repository");
  }
  impl->recovery_key->public_key = ctx_.recovery_public;
  ctx_.events.Read(EventKind::kLogin, impl->user, impl->user);
  return Session(impl);
}

void UserService::Logout(const Session& session) {
  Session::Impl& si = session.impl();
  if (si.repo_id != ctx_.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
  {
    std::lock_guard lock(si.mu);
    if (si.ended) return;
    si.ended = true;
    si.roles = std::make_shared<RoleKeys>();  // the old set is wiped when its last user lets go
    si.user_key.secret_key = crypto::SecretBytes();
  }
  {
    std::lock_guard lock(si.batch_mu);
    si.batch_keys.clear();
  }
  ctx_.events.Read(EventKind::kLogout, si.user, si.user);
}

Actor UserService::Resolve(const Session& session) {
  Session::Impl& si = session.impl();
  if (si.repo_id != ctx_.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
  std::shared_ptr<const RoleKeys> roles;
  bool admin = false;
  {
    std::lock_guard lock(si.mu);
    if (si.ended) throw Error(ErrorCode::kUnauthenticated, "this session has ended; log in again");
    roles = si.roles;
    admin = si.admin;
  }
  if (si.recovery) return Actor(si, roles, true);
  auto db = ctx_.db->Read();
  if (ReadEpoch(*db, kMembershipEpoch) != roles->epoch) {
    Refresh(si, *db);
    std::lock_guard lock(si.mu);
    if (si.ended && si.key_replaced) {
      throw Error(ErrorCode::kUnauthenticated, "this user's password was reset; log in again");
    }
    if (si.ended) throw Error(ErrorCode::kForbidden, "this user is disabled");
    roles = si.roles;
    admin = si.admin;
  }
  return Actor(si, roles, admin);
}

void UserService::Refresh(Session::Impl& si, sql::Db& db) {
  crypto::KeyPair key;
  {
    std::lock_guard lock(si.mu);
    if (si.ended) return;
    key.public_key = si.user_key.public_key;
    key.secret_key = si.user_key.secret_key.Clone();
  }
  // The user's row and their roles from one snapshot: a user disabled in
  // between is never left with an admin session.
  std::optional<UserRow> row;
  std::shared_ptr<const RoleKeys> fresh;
  {
    sql::ReadTransaction snapshot(db);
    row = FindUser(db, si.user, nullptr);
    // A password reset gave the user a new key pair: this session's key
    // opens nothing any more, and the session ends.
    if (row && row->id == si.user_id && !row->disabled && row->public_key == key.public_key) {
      fresh = LoadRoleKeys(db, si.user_id, key);
    }
  }
  std::lock_guard lock(si.mu);
  if (si.ended) return;  // logged out meanwhile: nothing goes back in
  if (!fresh) {
    si.ended = true;
    si.key_replaced = row && row->id == si.user_id && !row->disabled;
    si.roles = std::make_shared<RoleKeys>();
    si.user_key.secret_key = crypto::SecretBytes();
    return;
  }
  si.roles = fresh;
  si.admin = row->admin;
  // Batch keys of roles no longer held go with them.
  std::lock_guard batches(si.batch_mu);
  for (auto it = si.batch_keys.begin(); it != si.batch_keys.end();) {
    const bool keep = it->first.second == kRecoveryRecipient || fresh->keys.count(it->first.second);
    it = keep ? std::next(it) : si.batch_keys.erase(it);
  }
}

Session UserService::Detach(const Session& session) {
  const Actor actor = Resolve(session);
  const Session::Impl& si = actor.session();
  auto copy = std::make_shared<Session::Impl>();
  copy->user_id = si.user_id;
  copy->user = si.user;
  copy->recovery = si.recovery;
  copy->repo_id = si.repo_id;
  copy->admin = actor.admin();
  {
    std::lock_guard lock(si.mu);
    copy->user_key.public_key = si.user_key.public_key;
    if (!si.user_key.secret_key.empty()) copy->user_key.secret_key = si.user_key.secret_key.Clone();
  }
  if (si.recovery_key) {
    copy->recovery_key = std::make_unique<crypto::KeyPair>();
    copy->recovery_key->public_key = si.recovery_key->public_key;
    copy->recovery_key->secret_key = si.recovery_key->secret_key.Clone();
  }
  auto roles = std::make_shared<RoleKeys>();
  roles->epoch = actor.roles().epoch;
  roles->names = actor.roles().names;
  for (const auto& [id, kp] : actor.roles().keys) {
    roles->keys.emplace(id, crypto::KeyPair{kp.public_key, kp.secret_key.Clone()});
  }
  copy->roles = roles;
  return Session(copy);
}

void UserService::AddUser(const Actor& actor, const std::string& name, std::string_view password,
                          const std::vector<std::string>& roles, bool admin) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  RequireValidName(name, "user");
  RequirePassword(password);
  // Argon2id before taking the writer: it takes a second, and holds no lock.
  crypto::KeyPair kp = crypto::GenerateKeyPair();
  const crypto::Bytes wrapped = crypto::WrapWithPassword(kp.secret_key, password, ctx_.options.cost);
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  std::map<RoleId, crypto::KeyPair> scratch;
  std::vector<RoleId> ids;
  for (const auto& r : roles) {
    const RoleId id = RoleIdOf(*w, r);
    RoleKey(*w, actor, id, scratch);  // throws unless the actor holds it
    ids.push_back(id);
  }
  if (FindUser(*w, name, nullptr)) throw Error(ErrorCode::kConflict, "a user with that name exists");
  sql::Stmt u(*w,
              "INSERT INTO users(name, is_admin, public_key, wrapped_secret, created_at) "
              "VALUES(?, ?, ?, ?, ?)");
  u.Bind(1, name)
      .Bind(2, admin ? 1 : 0)
      .Bind(3, crypto::Bytes(kp.public_key.begin(), kp.public_key.end()))
      .Bind(4, wrapped)
      .Bind(5, ctx_.NowText())
      .Run();
  const std::int64_t uid = w->LastInsertRowid();
  sql::Stmt m(*w, "INSERT INTO role_members(role_id, user_id, sealed_secret) VALUES(?, ?, ?)");
  for (RoleId id : ids) {
    const crypto::KeyPair& rk = RoleKey(*w, actor, id, scratch);
    m.Reset();
    m.Bind(1, id).Bind(2, uid).Bind(3, crypto::SealTo(kp.public_key, rk.secret_key)).Run();
  }
  ctx_.events.Changed(*w, EventKind::kUserAdded, actor.name(), name);
  t.Commit();
}

void UserService::AddRole(const Actor& actor, const std::string& name, bool join) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  RequireValidName(name, "role");
  crypto::KeyPair kp = crypto::GenerateKeyPair();
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  {
    sql::Stmt dup(*w, "SELECT 1 FROM roles WHERE name=?");
    dup.Bind(1, name);
    if (dup.Step()) throw Error(ErrorCode::kConflict, "a role with that name exists");
  }
  sql::Stmt r(*w,
              "INSERT INTO roles(name, public_key, recovery_sealed, created_at) VALUES(?, ?, ?, ?)");
  r.Bind(1, name)
      .Bind(2, crypto::Bytes(kp.public_key.begin(), kp.public_key.end()))
      .Bind(3, crypto::SealTo(ctx_.recovery_public, kp.secret_key))
      .Bind(4, ctx_.NowText())
      .Run();
  const RoleId id = w->LastInsertRowid();
  if (join && !actor.recovery()) {
    sql::Stmt m(*w, "INSERT INTO role_members(role_id, user_id, sealed_secret) VALUES(?, ?, ?)");
    m.Bind(1, id)
        .Bind(2, actor.user_id())
        .Bind(3, crypto::SealTo(actor.session().user_key.public_key, kp.secret_key))
        .Run();
    BumpEpoch(*w, kMembershipEpoch);  // the actor's session picks the role up
  }
  ctx_.events.Changed(*w, EventKind::kRoleAdded, actor.name(), name);
  t.Commit();
}

void UserService::AddMember(const Actor& actor, const std::string& role, const std::string& user) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  std::map<RoleId, crypto::KeyPair> scratch;
  const RoleId id = RoleIdOf(*w, role);
  const crypto::KeyPair& rk = RoleKey(*w, actor, id, scratch);
  const std::optional<UserRow> u = FindUser(*w, user, nullptr);
  if (!u) throw Error(ErrorCode::kNotFound, "no such user");
  if (u->disabled) throw Error(ErrorCode::kConflict, "that user is disabled");
  sql::Stmt m(*w,
              "INSERT OR IGNORE INTO role_members(role_id, user_id, sealed_secret) VALUES(?, ?, ?)");
  m.Bind(1, id).Bind(2, u->id).Bind(3, crypto::SealTo(u->public_key, rk.secret_key)).Run();
  BumpEpoch(*w, kMembershipEpoch);
  ctx_.events.Changed(*w, EventKind::kMemberAdded, actor.name(), role + ":" + user);
  t.Commit();
}

void UserService::Rotate(sql::Db& w, const Actor& actor, RoleId id, std::int64_t removed) {
  std::map<RoleId, crypto::KeyPair> scratch;
  const crypto::KeyPair& old = RoleKey(w, actor, id, scratch);
  const crypto::KeyPair fresh = crypto::GenerateKeyPair();
  const crypto::Bytes fresh_pk(fresh.public_key.begin(), fresh.public_key.end());
  // Re-seal every sealed row of the role: collected first, then updated.
  auto reseal = [&](const char* select, const char* update, const char* what) {
    struct Row {
      std::string key;
      std::int64_t num = 0;
      crypto::Bytes sealed;
    };
    std::vector<Row> rows;
    {
      sql::Stmt s(w, select);
      s.Bind(1, id);
      while (s.Step()) {
        Row r;
        if (s.TypeOf(0) == sql::Stmt::Type::kInteger) r.num = s.Int(0);
        else r.key = s.Text(0);
        r.sealed = col::SealedKey(s, 1, what);
        rows.push_back(std::move(r));
      }
    }
    sql::Stmt u(w, update);
    for (const Row& r : rows) {
      const crypto::SecretBytes secret = crypto::OpenSealedKey(old, r.sealed, 32, what);
      u.Reset();
      u.Bind(1, crypto::SealTo(fresh.public_key, secret)).Bind(2, id);
      r.key.empty() ? u.Bind(3, r.num) : u.Bind(3, r.key);
      u.Run();
    }
  };
  reseal("SELECT batch_id, sealed_key FROM batch_keys WHERE role_id=?",
         "UPDATE batch_keys SET sealed_key=? WHERE role_id=? AND batch_id=?", "a key batch");
  reseal("SELECT case_id, sealed_key FROM case_grants WHERE role_id=?",
         "UPDATE case_grants SET sealed_key=? WHERE role_id=? AND case_id=?", "a case key");
  reseal("SELECT doc_id, sealed_key FROM document_keys WHERE role_id=? AND key_batch IS NULL",
         "UPDATE document_keys SET sealed_key=? WHERE role_id=? AND doc_id=?", "a document's key");
  // The new secret key goes to the remaining members and the recovery role.
  {
    sql::Stmt del(w, "DELETE FROM role_members WHERE role_id=? AND user_id=?");
    del.Bind(1, id).Bind(2, removed).Run();
    std::vector<std::pair<std::int64_t, crypto::PublicKey>> members;
    sql::Stmt s(w,
                "SELECT u.id, u.public_key FROM role_members m JOIN users u ON u.id = m.user_id "
                "WHERE m.role_id=?");
    s.Bind(1, id);
    while (s.Step()) members.emplace_back(s.Int(0), col::PublicKey(s, 1, "a user's public key"));
    sql::Stmt u(w, "UPDATE role_members SET sealed_secret=? WHERE role_id=? AND user_id=?");
    for (const auto& [uid, pk] : members) {
      u.Reset();
      u.Bind(1, crypto::SealTo(pk, fresh.secret_key)).Bind(2, id).Bind(3, uid).Run();
    }
  }
  sql::Stmt r(w, "UPDATE roles SET public_key=?, recovery_sealed=? WHERE id=?");
  r.Bind(1, fresh_pk).Bind(2, crypto::SealTo(ctx_.recovery_public, fresh.secret_key)).Bind(3, id).Run();
}

void UserService::RemoveMember(const Actor& actor, const std::string& role,
                               const std::string& user) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  const RoleId id = RoleIdOf(*w, role);
  const std::optional<UserRow> u = FindUser(*w, user, nullptr);
  if (!u) throw Error(ErrorCode::kNotFound, "no such user");
  sql::Stmt m(*w, "SELECT 1 FROM role_members WHERE role_id=? AND user_id=?");
  m.Bind(1, id).Bind(2, u->id);
  if (!m.Step()) throw Error(ErrorCode::kNotFound, "that user is not a member of the role");
  Rotate(*w, actor, id, u->id);
  BumpEpoch(*w, kMembershipEpoch);
  ctx_.events.Changed(*w, EventKind::kMemberRemoved, actor.name(), role + ":" + user);
  t.Commit();
}

std::int64_t UserService::DisableUser(const Actor& actor, const std::string& user) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  if (!actor.recovery() && user == actor.name()) {
    throw Error(ErrorCode::kInvalidArgument, "you cannot disable yourself");
  }
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  const std::optional<UserRow> u = FindUser(*w, user, nullptr);
  if (!u) throw Error(ErrorCode::kNotFound, "no such user");
  std::vector<RoleId> roles;
  {
    sql::Stmt s(*w, "SELECT role_id FROM role_members WHERE user_id=?");
    s.Bind(1, u->id);
    while (s.Step()) roles.push_back(s.Int(0));
  }
  for (RoleId id : roles) Rotate(*w, actor, id, u->id);
  sql::Stmt d(*w, "UPDATE users SET disabled=1 WHERE id=?");
  d.Bind(1, u->id).Run();
  BumpEpoch(*w, kMembershipEpoch);
  ctx_.events.Changed(*w, EventKind::kUserDisabled, actor.name(), user);
  t.Commit();
  return u->id;
}

}  // namespace dossier::repo
