#include "repo/server_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "base/fd.h"
#include "crypto/keyed_hash.h"

namespace dossier::repo {

namespace {
constexpr char kMagic[4] = {'D', 'S', 'K', '1'};
constexpr std::size_t kSigningKeyBytes = 64;
constexpr std::size_t kPayload = crypto::kIndexKeySize + kSigningKeyBytes;
constexpr std::string_view kRecoveryHeader = "DOSSIER-RECOVERY-KEY-V1";
}  // namespace

void WriteRecoveryKey(const std::string& path, const std::string& repo_id,
                      const crypto::SecretBytes& secret_key) {
  std::string text = "# Dossier recovery key for repository " + repo_id +
                     ".\n# It opens every document in the repository. Move this file offline\n"
                     "# (a safe, a hardware token) and delete it from this machine.\n";
  text.append(kRecoveryHeader).append(" ").append(repo_id).append(" ");
  text += crypto::ToBase64(secret_key.data(), secret_key.size());
  text += "\n";
  WriteFileAtomically(path, text.data(), text.size(), 0600);
  crypto::Wipe(text);
}

RecoveryKey ReadRecoveryKey(const std::string& path) {
  const crypto::SecretBytes file = crypto::ReadSecretFile(path, 4096, ErrorCode::kNotFound);
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  const auto at = text.find(kRecoveryHeader);
  if (at == std::string_view::npos) {
    throw Error(ErrorCode::kUnauthenticated, "that file is not a Dossier recovery key");
  }
  // Tokens parsed in place, so the key's text never leaves the guarded buffer.
  std::string_view rest = text.substr(at + kRecoveryHeader.size());
  auto token = [&rest]() {
    const auto b = rest.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return std::string_view();
    rest.remove_prefix(b);
    const auto e = std::min(rest.find_first_of(" \t\r\n"), rest.size());
    const std::string_view t = rest.substr(0, e);
    rest.remove_prefix(e);
    return t;
  };
  RecoveryKey key;
  key.repo_id = std::string(token());
  key.secret_key = crypto::SecretFromBase64(token());
  return key;
}

void WriteFileAtomically(const std::string& path, const void* data, std::size_t n,
                         unsigned mode) {
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) throw Error(ErrorCode::kIo, "cannot write a key file");
  WriteAll(fd.get(), data, n);
  if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0 ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error(ErrorCode::kIo, "cannot write a key file");
  }
  SyncDir(std::filesystem::path(path).parent_path().string());
}

ServerKey NewServerKey() {
  return {crypto::RandomSecret(crypto::kIndexKeySize), crypto::GenerateSigningSecret()};
}

void WriteServerKey(const std::string& path, const ServerKey& key, bool protect,
                    std::string_view passphrase, crypto::PasswordCost cost) {
  crypto::SecretBytes both(kPayload);
  std::memcpy(both.data(), key.index_key.data(), crypto::kIndexKeySize);
  std::memcpy(both.data() + crypto::kIndexKeySize, key.signing_key.data(), kSigningKeyBytes);
  if (protect) {
    crypto::Bytes wrapped = crypto::WrapWithPassword(both, passphrase, cost);
    crypto::Bytes file(kMagic, kMagic + 4);
    file.push_back('\1');
    file.insert(file.end(), wrapped.begin(), wrapped.end());
    WriteFileAtomically(path, file.data(), file.size(), 0600);
    return;
  }
  crypto::SecretBytes file(5 + kPayload);
  std::memcpy(file.data(), kMagic, 4);
  file.data()[4] = 0;
  std::memcpy(file.data() + 5, both.data(), kPayload);
  WriteFileAtomically(path, file.data(), file.size(), 0600);
}

bool ServerKeyFileProtected(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char head[5] = {0};
  if (!fd || ReadSome(fd.get(), head, 5) != 5) {
    throw Error(ErrorCode::kNotFound, "no Dossier repository at that path");
  }
  return head[4] == '\1';
}

ServerKey ReadServerKey(const std::string& path, std::string_view passphrase) {
  // Read straight into guarded memory, and wiped when dropped.
  const crypto::SecretBytes file = crypto::ReadSecretFile(path, 4096, ErrorCode::kCorrupt);
  if (file.size() < 5 || std::memcmp(file.data(), kMagic, 4) != 0 || file.data()[4] > 1) {
    throw Error(ErrorCode::kCorrupt, "keys/server.key is malformed");
  }
  crypto::SecretBytes both;
  if (file.data()[4] == 1) {
    if (passphrase.empty()) {
      throw Error(ErrorCode::kUnauthenticated, "the server key is protected: a passphrase is needed");
    }
    const crypto::Bytes wrapped(file.data() + 5, file.data() + file.size());
    if (wrapped.size() != crypto::PasswordWrappedSize(kPayload)) {
      throw Error(ErrorCode::kCorrupt, "keys/server.key is malformed");
    }
    try {
      both = crypto::UnwrapWithPassword(wrapped, passphrase);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kUnauthenticated) {
        throw Error(ErrorCode::kUnauthenticated,
                    "wrong server-key passphrase (or keys/server.key is damaged)");
      }
      throw;
    }
  } else {
    both = crypto::SecretBytes(file.data() + 5, file.size() - 5);
  }
  if (both.size() != kPayload) throw Error(ErrorCode::kCorrupt, "keys/server.key is malformed");
  return {crypto::SecretBytes(both.data(), crypto::kIndexKeySize),
          crypto::SecretBytes(both.data() + crypto::kIndexKeySize, kSigningKeyBytes)};
}

std::string ServerKeyCheck(const ServerKey& key) {
  const crypto::KeyedHasher h(key.index_key, crypto::HashPurpose::kKeyCheck);
  return h.Hash(std::string_view(reinterpret_cast<const char*>(key.signing_key.data()),
                                 key.signing_key.size()),
                32);
}

}  // namespace dossier::repo
