// init, user add|disable|passwd|reset-password|list, role add|remove-member|list.
#include <iostream>

#include "repo/views.h"
#include "tools/cli.h"
#include "tools/secrets.h"

namespace dossier::tools {

int RunInit(const Options& o) {
  crypto::SecretBytes pw =
      ObtainSecret(o.password_file, "DOSSIER_PASSWORD", "New password for " + o.admin, true);
  crypto::SecretBytes pp;
  repo::InitOptions io;
  io.admin_user = o.admin;
  io.admin_password = View(pw);
  io.recovery_key_out = o.recovery_key_out;
  io.protect = !o.no_protect;
  io.cost = CostFromEnv();
  if (io.protect) {
    pp = ObtainSecret(o.passphrase_file, "DOSSIER_PASSPHRASE", "New server-key passphrase", true);
    io.passphrase = View(pp);
  }
  repo::InitResult r = repo::Repository::Init(o.dir, io);
  std::cout << "Created repository " << o.dir << " with admin user " << o.admin << ".\n"
            << "Recovery key written to " << r.recovery_key_path << "\n"
            << "  It opens every document in the repository: move it offline now\n"
            << "  and delete it from this machine.\n";
  if (!io.protect) {
    std::cout << "Warning: the server key is stored without a passphrase (--no-protect).\n";
  }
  return 0;
}

int RunUserAdd(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  crypto::SecretBytes pw = ObtainSecret(o.new_password_file, nullptr, "New password for " + o.name, true);
  r->AddUser(s, o.name, View(pw), SplitList(o.roles), o.make_admin);
  std::cout << "Added user " << o.name << ".\n";
  return 0;
}

int RunUserDisable(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  r->DisableUser(s, o.name);
  std::cout << "Disabled user " << o.name
            << "; the keys of every role they held were rotated.\n";
  return 0;
}

int RunUserPasswd(const Options& o) {
  auto r = OpenRepo(o, false);
  const std::string user = ActingUser(o);
  crypto::SecretBytes old_pw =
      ObtainSecret(o.password_file, "DOSSIER_PASSWORD", "Current password for " + user);
  repo::Session s = r->Login(user, View(old_pw), TotpCode(o));
  crypto::SecretBytes pw = ObtainSecret(o.new_password_file, nullptr, "New password for " + user, true);
  r->ChangePassword(s, View(old_pw), View(pw));
  std::cout << "Changed the password of " << user << ".\n";
  return 0;
}

int RunUserResetPassword(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  crypto::SecretBytes pw = ObtainSecret(o.new_password_file, nullptr, "New password for " + o.name, true);
  r->ResetPassword(s, o.name, View(pw));
  std::cout << "Reset the password of " << o.name
            << ": their roles were re-sealed to a new key pair, their second factor removed, "
               "and their sessions end.\n";
  return 0;
}

int RunUserList(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const auto users = r->ListUsers(s);
  if (o.json) {
    std::cout << repo::views::Users(users) << "\n";
    return 0;
  }
  for (const auto& u : users) {
    std::cout << u.name << (u.admin ? "  admin" : "") << (u.disabled ? "  disabled" : "")
              << (u.totp ? "  2fa" : "") << "  roles:";
    for (const auto& role : u.roles) std::cout << " " << role;
    std::cout << "\n";
  }
  return 0;
}

int RunRoleList(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const auto roles = r->ListRoles(s);
  if (o.json) {
    std::cout << repo::views::Roles(roles) << "\n";
    return 0;
  }
  for (const auto& role : roles) {
    std::cout << role.name << ":";
    for (const auto& m : role.members) std::cout << " " << m;
    std::cout << "\n";
  }
  return 0;
}

int RunRoleAdd(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  r->AddRole(s, o.name, !o.no_join);
  std::cout << "Added role " << o.name << ".\n";
  return 0;
}

int RunRoleRemoveMember(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  r->RemoveMember(s, o.name, o.member);
  std::cout << "Removed " << o.member << " from " << o.name
            << "; the role's keys were rotated.\n";
  return 0;
}

}  // namespace dossier::tools
