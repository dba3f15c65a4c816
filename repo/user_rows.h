// Private to repo/: the users table as the user and account services read
// it. REQUIRES for every function: the caller's connection, inside its
// snapshot or the writer's transaction where consistency matters.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// Throws Error(kInvalidArgument) for a password too short to keep.
void RequirePassword(std::string_view password);

struct UserRow {
  std::int64_t id = 0;
  bool admin = false, disabled = false;
  crypto::PublicKey public_key{};
  bool totp = false;  // a second factor is enrolled
};

// The user named `name`, and their wrapped secret key if `wrapped` is
// given; nullopt for an unknown user.
std::optional<UserRow> FindUser(sql::Db& db, std::string_view name, crypto::Bytes* wrapped);

// The role keys of a user, opened with their key pair, at the current
// membership epoch. REQUIRES: inside the caller's snapshot, with the
// user's row read in the same one.
std::shared_ptr<const RoleKeys> LoadRoleKeys(sql::Db& db, std::int64_t user_id,
                                             const crypto::KeyPair& user_key);

}  // namespace dossier::repo
