// UserService, continued: passwords, the admin's listings, and the second
// factor (TOTP, RFC 6238, through liboath).
#include <liboath/oath.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "crypto/secret.h"
#include "repo/key_ring.h"
#include "repo/user_rows.h"
#include "repo/users.h"

namespace dossier::repo {

namespace {

constexpr unsigned kTotpStep = 30;   // seconds per code
constexpr std::size_t kTotpWindow = 1;  // steps of clock drift accepted either way
constexpr std::size_t kTotpSecretBytes = 20;  // 160 bits, as RFC 4226 recommends

void RequireUser(const Actor& actor) {
  if (actor.recovery()) {
    throw Error(ErrorCode::kInvalidArgument, "the recovery key has no password or second factor");
  }
}

// oath_init once per process; liboath keeps no other global state.
void InitOath() {
  static const int rc = oath_init();
  if (rc != OATH_OK) throw Error(ErrorCode::kInternal, "the one-time code library failed to start");
}

std::string Base32(const crypto::SecretBytes& secret) {
  InitOath();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_encode(reinterpret_cast<const char*>(secret.data()), secret.size(), &out, &len) !=
      OATH_OK) {
    throw Error(ErrorCode::kInternal, "cannot encode a one-time code secret");
  }
  std::string text(out, len);
  crypto::Wipe(out, len);  // the secret, in liboath's buffer
  std::free(out);
  text.erase(std::remove(text.begin(), text.end(), '='), text.end());
  return text;
}

// Six ASCII digits, or nothing valid.
bool WellFormedCode(std::string_view code) {
  return code.size() == 6 && std::all_of(code.begin(), code.end(), [](char c) {
           return c >= '0' && c <= '9';
         });
}

// Percent-encoding for the otpauth URI's label and issuer.
std::string UriEscape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

bool UserService::SpendTotp(std::int64_t user_id, const crypto::SecretBytes& secret,
                            std::string_view code) {
  if (!WellFormedCode(code)) return false;
  InitOath();
  const std::string otp(code);
  const std::int64_t now = ctx_.Now();
  int offset = 0;
  const int rc = oath_totp_validate2(reinterpret_cast<const char*>(secret.data()), secret.size(),
                                     static_cast<time_t>(now), kTotpStep, 0, kTotpWindow, &offset,
                                     otp.c_str());
  if (rc < 0) return false;
  const std::int64_t step = now / kTotpStep + offset;
  {
    // This process's record, for a read-only one that cannot write it down.
    std::lock_guard lock(totp_mu_);
    auto [it, fresh] = last_totp_step_.emplace(user_id, step);
    if (!fresh) {
      if (step <= it->second) return false;  // that code (or a later one) was spent
      it->second = step;
    }
  }
  if (!ctx_.writable) {
    auto db = ctx_.db->Read();
    sql::Stmt st(*db, "SELECT totp_step FROM users WHERE id=?");
    st.Bind(1, user_id);
    return st.Step() && (st.TypeOf(0) == sql::Stmt::Type::kNull || st.Int(0) < step);
  }
  // The repository's record: a code spent once stays spent across
  // restarts and processes.
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  sql::Stmt u(*w, "UPDATE users SET totp_step=? WHERE id=? AND (totp_step IS NULL OR totp_step < ?)");
  u.Bind(1, step).Bind(2, user_id).Bind(3, step).Run();
  if (w->Changes() != 1) return false;
  t.Commit();
  return true;
}

void UserService::CheckTotp(sql::Db& db, std::int64_t user_id, const crypto::KeyPair& user_key,
                            std::string_view code) {
  if (code.empty()) {
    throw Error(ErrorCode::kSecondFactor, "this account needs the code from its authenticator");
  }
  sql::Stmt st(db, "SELECT totp_sealed FROM users WHERE id=?");
  st.Bind(1, user_id);
  if (!st.Step()) throw Error(ErrorCode::kUnauthenticated, "unknown user or wrong password");
  const crypto::SecretBytes secret = crypto::OpenSealedKey(
      user_key, col::Exact(st, 0, crypto::SealedSize(kTotpSecretBytes), "a user's second factor"), kTotpSecretBytes,
      "a user's second factor");
  if (!SpendTotp(user_id, secret, code)) {
    ctx_.events.Read(EventKind::kLoginFailed, "", "");
    throw Error(ErrorCode::kUnauthenticated, "wrong or expired one-time code");
  }
}

void UserService::ChangePassword(const Actor& actor, std::string_view old_password,
                                 std::string_view new_password) {
  ctx_.RequireWritable();
  RequireUser(actor);
  RequirePassword(new_password);
  const Session::Impl& si = actor.session();
  crypto::Bytes wrapped;
  {
    auto db = ctx_.db->Read();
    if (!FindUser(*db, si.user, &wrapped)) throw Error(ErrorCode::kNotFound, "no such user");
  }
  // Both derivations run before the writer is taken: each takes a second.
  crypto::SecretBytes secret;
  try {
    secret = crypto::UnwrapWithPassword(wrapped, old_password);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnauthenticated) throw;
    throw Error(ErrorCode::kUnauthenticated, "the current password is wrong");
  }
  if (crypto::PublicKeyOf(secret) != si.user_key.public_key) {
    throw Error(ErrorCode::kConflict, "this user's key changed meanwhile; log in again");
  }
  const crypto::Bytes rewrapped = crypto::WrapWithPassword(secret, new_password, ctx_.options.cost);
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  sql::Stmt u(*w, "UPDATE users SET wrapped_secret=? WHERE id=? AND public_key=?");
  u.Bind(1, rewrapped)
      .Bind(2, si.user_id)
      .Bind(3, crypto::Bytes(si.user_key.public_key.begin(), si.user_key.public_key.end()))
      .Run();
  if (w->Changes() != 1) throw Error(ErrorCode::kConflict, "this user's key changed meanwhile");
  ctx_.events.Changed(*w, EventKind::kPasswordChanged, actor.name(), actor.name());
  t.Commit();
}

void UserService::ResetPassword(const Actor& actor, const std::string& user,
                                std::string_view new_password) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  RequirePassword(new_password);
  crypto::KeyPair kp = crypto::GenerateKeyPair();
  const crypto::Bytes wrapped =
      crypto::WrapWithPassword(kp.secret_key, new_password, ctx_.options.cost);
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  const std::optional<UserRow> u = FindUser(*w, user, nullptr);
  if (!u) throw Error(ErrorCode::kNotFound, "no such user");
  if (u->disabled) throw Error(ErrorCode::kConflict, "that user is disabled");
  std::vector<RoleId> roles;
  {
    sql::Stmt s(*w, "SELECT role_id FROM role_members WHERE user_id=?");
    s.Bind(1, u->id);
    while (s.Step()) roles.push_back(s.Int(0));
  }
  // The actor must be able to open every role the user holds: a reset
  // never drops a role silently, and never hands over one the actor lacks.
  std::map<RoleId, crypto::KeyPair> scratch;
  sql::Stmt m(*w, "UPDATE role_members SET sealed_secret=? WHERE role_id=? AND user_id=?");
  for (RoleId id : roles) {
    const crypto::KeyPair& rk = RoleKey(*w, actor, id, scratch);
    m.Reset();
    m.Bind(1, crypto::SealTo(kp.public_key, rk.secret_key)).Bind(2, id).Bind(3, u->id).Run();
  }
  sql::Stmt up(*w,
               "UPDATE users SET public_key=?, wrapped_secret=?, totp_sealed=NULL, totp_step=NULL "
               "WHERE id=?");
  up.Bind(1, crypto::Bytes(kp.public_key.begin(), kp.public_key.end()))
      .Bind(2, wrapped)
      .Bind(3, u->id)
      .Run();
  // Sealed to the old key pair, which is gone: nobody can open them now.
  sql::Stmt ss(*w, "DELETE FROM saved_searches WHERE user_id=?");
  ss.Bind(1, u->id).Run();
  BumpEpoch(*w, kMembershipEpoch);  // the user's open sessions end at their next call
  ctx_.events.Changed(*w, EventKind::kPasswordReset, actor.name(), user);
  t.Commit();
  std::lock_guard lock(totp_mu_);
  last_totp_step_.erase(u->id);
}

UserInfo UserService::CurrentUser(const Actor& actor) {
  UserInfo u;
  u.name = actor.name();
  u.admin = actor.admin();
  u.roles = actor.roles().names;
  if (actor.recovery()) return u;
  auto db = ctx_.db->Read();
  const std::optional<UserRow> row = FindUser(*db, actor.name(), nullptr);
  if (!row) throw Error(ErrorCode::kUnauthenticated, "this session has ended; log in again");
  u.totp = row->totp;
  return u;
}

std::vector<UserInfo> UserService::ListUsers(const Actor& actor) {
  actor.RequireAdmin();
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  std::vector<UserInfo> users;
  std::map<std::int64_t, std::size_t> at;
  {
    sql::Stmt s(*db,
                "SELECT id, name, is_admin, disabled, totp_sealed IS NOT NULL, created_at FROM users "
                "ORDER BY name");
    while (s.Step()) {
      UserInfo u;
      u.name = col::Name(s, 1, "a user's name");
      u.admin = s.Int(2) != 0;
      u.disabled = s.Int(3) != 0;
      u.totp = s.Int(4) != 0;
      u.created_at = s.Text(5);
      at[s.Int(0)] = users.size();
      users.push_back(std::move(u));
    }
  }
  sql::Stmt m(*db,
              "SELECT m.user_id, r.name FROM role_members m JOIN roles r ON r.id = m.role_id "
              "ORDER BY r.name");
  while (m.Step()) {
    auto it = at.find(m.Int(0));
    if (it != at.end()) users[it->second].roles.push_back(col::Name(m, 1, "a role's name"));
  }
  return users;
}

std::vector<RoleInfo> UserService::ListRoles(const Actor& actor) {
  actor.RequireAdmin();
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  std::vector<RoleInfo> roles;
  std::map<std::int64_t, std::size_t> at;
  {
    sql::Stmt s(*db, "SELECT id, name FROM roles ORDER BY name");
    while (s.Step()) {
      at[s.Int(0)] = roles.size();
      roles.push_back(RoleInfo{col::Name(s, 1, "a role's name"), {}});
    }
  }
  sql::Stmt m(*db,
              "SELECT m.role_id, u.name FROM role_members m JOIN users u ON u.id = m.user_id "
              "ORDER BY u.name");
  while (m.Step()) {
    auto it = at.find(m.Int(0));
    if (it != at.end()) roles[it->second].members.push_back(col::Name(m, 1, "a user's name"));
  }
  return roles;
}

TotpEnrollment UserService::BeginTotp(const Actor& actor) {
  ctx_.RequireWritable();
  RequireUser(actor);
  {
    // Replacing a second factor takes removing it first, with a code: a
    // stolen session alone cannot swap it for the thief's.
    auto db = ctx_.db->Read();
    const std::optional<UserRow> row = FindUser(*db, actor.name(), nullptr);
    if (row && row->totp) {
      throw Error(ErrorCode::kConflict, "a second factor is enrolled; remove it first (with a code)");
    }
  }
  crypto::SecretBytes secret = crypto::RandomSecret(kTotpSecretBytes);
  TotpEnrollment e;
  e.secret_base32 = Base32(secret);
  e.uri = "otpauth://totp/Dossier:" + UriEscape(actor.name()) + "?secret=" + e.secret_base32 +
          "&issuer=Dossier&algorithm=SHA1&digits=6&period=30";
  Session::Impl& si = const_cast<Session::Impl&>(actor.session());
  std::lock_guard lock(si.mu);
  si.pending_totp = std::move(secret);
  return e;
}

void UserService::ConfirmTotp(const Actor& actor, std::string_view code) {
  ctx_.RequireWritable();
  RequireUser(actor);
  Session::Impl& si = const_cast<Session::Impl&>(actor.session());
  crypto::SecretBytes secret;
  {
    std::lock_guard lock(si.mu);
    if (si.pending_totp.empty()) {
      throw Error(ErrorCode::kUnprocessable, "start enrolling a second factor first");
    }
    secret = si.pending_totp.Clone();
  }
  if (!SpendTotp(si.user_id, secret, code)) {
    throw Error(ErrorCode::kUnauthenticated, "wrong or expired one-time code");
  }
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  sql::Stmt u(*w, "UPDATE users SET totp_sealed=? WHERE id=? AND public_key=?");
  u.Bind(1, crypto::SealTo(si.user_key.public_key, secret))
      .Bind(2, si.user_id)
      .Bind(3, crypto::Bytes(si.user_key.public_key.begin(), si.user_key.public_key.end()))
      .Run();
  if (w->Changes() != 1) throw Error(ErrorCode::kConflict, "this user's key changed meanwhile");
  ctx_.events.Changed(*w, EventKind::kSecondFactorChanged, actor.name(), actor.name());
  t.Commit();
  std::lock_guard lock(si.mu);
  si.pending_totp = crypto::SecretBytes();
}

void UserService::RemoveTotp(const Actor& actor, std::string_view code) {
  ctx_.RequireWritable();
  RequireUser(actor);
  const Session::Impl& si = actor.session();
  crypto::KeyPair key;
  {
    std::lock_guard lock(si.mu);
    key.public_key = si.user_key.public_key;
    key.secret_key = si.user_key.secret_key.Clone();
  }
  {
    auto db = ctx_.db->Read();
    sql::Stmt st(*db, "SELECT totp_sealed FROM users WHERE id=? AND totp_sealed IS NOT NULL");
    st.Bind(1, si.user_id);
    if (!st.Step()) throw Error(ErrorCode::kUnprocessable, "no second factor is enrolled");
    const crypto::SecretBytes secret = crypto::OpenSealedKey(
        key, col::Exact(st, 0, crypto::SealedSize(kTotpSecretBytes), "a user's second factor"), kTotpSecretBytes,
        "a user's second factor");
    if (!SpendTotp(si.user_id, secret, code)) {
      throw Error(ErrorCode::kUnauthenticated, "wrong or expired one-time code");
    }
  }
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  sql::Stmt u(*w, "UPDATE users SET totp_sealed=NULL WHERE id=?");
  u.Bind(1, si.user_id).Run();
  ctx_.events.Changed(*w, EventKind::kSecondFactorChanged, actor.name(), actor.name());
  t.Commit();
}

}  // namespace dossier::repo
