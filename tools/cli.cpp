#include "tools/cli.h"

#include <cstdlib>
#include <sstream>

#include "tools/secrets.h"

namespace dossier::tools {

int ExitCodeFor(ErrorCode code) { return code == ErrorCode::kInvalidArgument ? 2 : 1; }

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

crypto::PasswordCost CostFromEnv() {
  const char* v = std::getenv("DOSSIER_PASSWORD_COST");
  return v != nullptr && std::string(v) == "interactive" ? crypto::PasswordCost::kInteractive
                                                         : crypto::PasswordCost::kModerate;
}

std::unique_ptr<repo::Repository> OpenRepo(const Options& o, bool read_only) {
  repo::OpenOptions opts;
  opts.read_only = read_only;
  opts.cost = CostFromEnv();
  opts.holder = "dossier CLI";
  crypto::SecretBytes passphrase;
  if (repo::Repository::ServerKeyProtected(o.dir)) {
    passphrase = ObtainSecret(o.passphrase_file, "DOSSIER_PASSPHRASE", "Server-key passphrase");
    opts.passphrase = View(passphrase);
  }
  return repo::Repository::Open(o.dir, opts);
}

std::string ActingUser(const Options& o) {
  std::string user = o.user;
  if (user.empty()) {
    if (const char* u = std::getenv("DOSSIER_USER")) user = u;
  }
  if (user.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "say who acts: --user USER or DOSSIER_USER");
  }
  return user;
}

std::string TotpCode(const Options& o) {
  if (!o.totp.empty()) return o.totp;
  const char* t = std::getenv("DOSSIER_TOTP");
  return t ? t : "";
}

repo::Session Act(repo::Repository& r, const Options& o) {
  if (!o.recovery_key.empty()) return r.LoginWithRecoveryKey(o.recovery_key);
  const std::string user = ActingUser(o);
  crypto::SecretBytes pw = ObtainSecret(o.password_file, "DOSSIER_PASSWORD", "Password for " + user);
  return r.Login(user, View(pw), TotpCode(o));
}

}  // namespace dossier::tools
