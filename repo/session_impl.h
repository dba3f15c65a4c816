// Private to repo/: what a Session holds, and the Actor a call sees.
//
// A session keeps the user's own secret key (to reopen role keys when
// membership changes), the role keys it unsealed at login, and the batch
// keys it has opened since (one X25519 opening per batch, not per
// document). All of it lives in sodium_malloc memory. The role keys are an
// immutable snapshot swapped whole when membership changes, so a call on
// one thread never sees a half-updated set; the batch-key cache has its
// own lock. Logout wipes the user's key and drops the role and batch keys
// (wiped when the last call still using them ends).
// Thread-safety: all members are guarded; any thread may use a session.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "crypto/keys.h"
#include "repo/columns.h"
#include "repo/repository.h"

namespace dossier::repo {

// The recovery role's place where a role id is expected (role ids start at 1).
constexpr RoleId kRecoveryRecipient = 0;

// The role keys a session holds at one moment.
struct RoleKeys {
  std::map<RoleId, crypto::KeyPair> keys;
  std::vector<std::string> names;  // sorted
  std::int64_t epoch = 0;          // the membership epoch they were read at
};

struct Session::Impl {
  std::int64_t user_id = 0;  // 0 for the recovery key
  std::string user;
  bool recovery = false;
  std::string repo_id;  // sessions never cross repositories
  // The user's own key pair (empty for the recovery key), to reopen role
  // keys when membership changes. Its secret is guarded by mu (Logout
  // wipes it).
  crypto::KeyPair user_key;
  std::unique_ptr<crypto::KeyPair> recovery_key;

  mutable std::mutex mu;
  bool ended = false;                     // guarded by mu
  bool key_replaced = false;              // guarded by mu: ended by a password reset
  bool admin = false;                     // guarded by mu
  std::shared_ptr<const RoleKeys> roles;  // guarded by mu
  crypto::SecretBytes pending_totp;       // guarded by mu: BeginTotp's secret

  // Batch keys opened so far, by (batch, role or kRecoveryRecipient).
  mutable std::mutex batch_mu;
  mutable std::map<std::pair<std::int64_t, RoleId>, crypto::SecretBytes> batch_keys;

  std::shared_ptr<const RoleKeys> Roles() const {
    std::lock_guard lock(mu);
    return roles;
  }
};

// One call's view of its session: the role keys current when it started.
class Actor {
 public:
  Actor(const Session::Impl& session, std::shared_ptr<const RoleKeys> roles, bool admin)
      : session_(session), roles_(std::move(roles)), admin_(admin) {}
  const Session::Impl& session() const { return session_; }
  const std::string& name() const { return session_.user; }
  std::int64_t user_id() const { return session_.user_id; }
  bool recovery() const { return session_.recovery; }
  bool admin() const { return admin_; }
  // Throws Error(kForbidden) unless the actor has the admin permission.
  void RequireAdmin() const {
    if (!admin_) throw Error(ErrorCode::kForbidden, "this needs the admin permission");
  }
  // Whether the actor holds role `id` (the recovery key holds every role).
  bool Holds(RoleId id) const { return recovery() || roles_->keys.count(id) > 0; }
  bool HoldsAny(const AccessSet& set) const {
    if (recovery()) return true;
    for (RoleId r : set) {
      if (roles_->keys.count(r)) return true;
    }
    return false;
  }
  // The role's key pair if the session holds it as a member.
  const crypto::KeyPair* MemberKey(RoleId id) const {
    auto it = roles_->keys.find(id);
    return it == roles_->keys.end() ? nullptr : &it->second;
  }
  const RoleKeys& roles() const { return *roles_; }

 private:
  const Session::Impl& session_;
  std::shared_ptr<const RoleKeys> roles_;
  bool admin_;
};

}  // namespace dossier::repo
