// Private to repo/: users, roles and sessions — logins, membership, and
// the rotation of a role's keys when a member leaves.
// Thread-safety: any thread; writes take the database's writer.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

class UserService {
 public:
  explicit UserService(RepoContext& ctx) : ctx_(ctx) {}

  Session Login(std::string_view user, std::string_view password, std::string_view totp);
  Session LoginWithRecoveryKey(const std::string& key_file);
  void Logout(const Session& session);
  // The actor for one call: refuses a session of another repository or one
  // that ended, and brings its role keys up to date when membership moved
  // on since (a removed member's session loses the role at its next call;
  // a disabled user's session ends).
  Actor Resolve(const Session& session);
  // A copy of the session with keys of its own, for a job that must keep
  // working after the session logs out.
  Session Detach(const Session& session);

  void AddUser(const Actor& actor, const std::string& name, std::string_view password,
               const std::vector<std::string>& roles, bool admin);
  void AddRole(const Actor& actor, const std::string& name, bool join);
  void AddMember(const Actor& actor, const std::string& role, const std::string& user);
  void RemoveMember(const Actor& actor, const std::string& role, const std::string& user);
  // Returns the disabled user's id (their running jobs are cancelled by
  // the façade).
  std::int64_t DisableUser(const Actor& actor, const std::string& user);

  // accounts.cpp: passwords, listings and the second factor.
  void ChangePassword(const Actor& actor, std::string_view old_password,
                      std::string_view new_password);
  void ResetPassword(const Actor& actor, const std::string& user, std::string_view new_password);
  UserInfo CurrentUser(const Actor& actor);
  std::vector<UserInfo> ListUsers(const Actor& actor);
  std::vector<RoleInfo> ListRoles(const Actor& actor);
  TotpEnrollment BeginTotp(const Actor& actor);
  void ConfirmTotp(const Actor& actor, std::string_view code);
  void RemoveTotp(const Actor& actor, std::string_view code);

 private:
  // Re-reads the session's roles and admin flag.
  void Refresh(Session::Impl& session, sql::Db& db);
  // Gives role `id` a new key pair and re-seals what its old key opened,
  // leaving `removed` out. Inside the writer's transaction.
  void Rotate(sql::Db& w, const Actor& actor, RoleId id, std::int64_t removed);
  // Login's second step for a user with a second factor. REQUIRES: inside
  // the snapshot that read the user's row.
  void CheckTotp(sql::Db& db, std::int64_t user_id, const crypto::KeyPair& user_key,
                 std::string_view code);
  // Whether `code` is valid now for `secret` and newer than the last code
  // this user spent (each code works once).
  bool SpendTotp(std::int64_t user_id, const crypto::SecretBytes& secret, std::string_view code);

  RepoContext& ctx_;
  std::mutex totp_mu_;
  std::map<std::int64_t, std::int64_t> last_totp_step_;  // guarded by totp_mu_
};

}  // namespace dossier::repo
