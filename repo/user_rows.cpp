#include "repo/user_rows.h"

#include "repo/key_ring.h"

namespace dossier::repo {

void RequirePassword(std::string_view password) {
  if (password.size() < 8) {
    throw Error(ErrorCode::kInvalidArgument, "passwords need at least 8 characters");
  }
}

std::shared_ptr<const RoleKeys> LoadRoleKeys(sql::Db& db, std::int64_t user_id,
                                             const crypto::KeyPair& user_key) {
  auto keys = std::make_shared<RoleKeys>();
  keys->epoch = ReadEpoch(db, kMembershipEpoch);
  sql::Stmt roles(db,
                  "SELECT r.id, r.name, r.public_key, m.sealed_secret FROM role_members m "
                  "JOIN roles r ON r.id = m.role_id WHERE m.user_id=? ORDER BY r.name");
  roles.Bind(1, user_id);
  while (roles.Step()) {
    crypto::KeyPair kp;
    kp.public_key = col::PublicKey(roles, 2, "a role's public key");
    kp.secret_key = crypto::OpenSealedKey(user_key, col::SealedKey(roles, 3, "a member's role key"),
                                          32, "a member's role key");
    if (crypto::PublicKeyOf(kp.secret_key) != kp.public_key) {
      throw Error(ErrorCode::kCorrupt, "a member's role key does not match its role");
    }
    keys->keys.emplace(col::Integer(roles, 0, 1, INT64_MAX, "a role id"), std::move(kp));
    keys->names.push_back(col::Name(roles, 1, "a role's name"));
  }
  return keys;
}

std::optional<UserRow> FindUser(sql::Db& db, std::string_view name, crypto::Bytes* wrapped) {
  sql::Stmt st(db,
               "SELECT id, is_admin, public_key, wrapped_secret, disabled, "
               "totp_sealed IS NOT NULL FROM users WHERE name=?");
  st.Bind(1, name);
  if (!st.Step()) return std::nullopt;
  UserRow u;
  u.id = col::Integer(st, 0, 1, INT64_MAX, "a user id");
  u.admin = col::Integer(st, 1, 0, 1, "a user's admin flag") != 0;
  u.public_key = col::PublicKey(st, 2, "a user's public key");
  if (wrapped) {
    *wrapped = col::Exact(st, 3, crypto::PasswordWrappedSize(32), "a user's wrapped key");
  }
  u.disabled = col::Integer(st, 4, 0, 1, "a user's disabled flag") != 0;
  u.totp = st.Int(5) != 0;
  return u;
}

}  // namespace dossier::repo
