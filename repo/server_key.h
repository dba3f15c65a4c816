// Private to repo/: keys/server.key, which holds the index key (every
// blind term and deduplication key is hashed under it) and the audit
// signing key: raw ("--no-protect", demos) or wrapped under a passphrase
// with Argon2id. Layout: "DSK1" | u8 protected | payload, the payload being
// index key (32) || signing key (64), or that wrapped.
//
// The file is checked against its repository: dossier.db keeps a check
// value (a keyed hash, under its own subkey of the index key, of the
// signing key), so a flipped byte in an unprotected key, or another
// repository's key, is reported as damage instead of silently hashing
// every query into terms no document has.
#pragma once

#include <string>
#include <string_view>

#include "crypto/keys.h"
#include "crypto/secret.h"

namespace dossier::repo {

struct ServerKey {
  crypto::SecretBytes index_key;    // 32 bytes
  crypto::SecretBytes signing_key;  // 64 bytes (Ed25519)
};

ServerKey NewServerKey();
void WriteServerKey(const std::string& path, const ServerKey& key, bool protect,
                    std::string_view passphrase, crypto::PasswordCost cost);
// Throws Error(kUnauthenticated) for a missing or wrong passphrase,
// Error(kCorrupt) for a malformed file.
ServerKey ReadServerKey(const std::string& path, std::string_view passphrase);
bool ServerKeyFileProtected(const std::string& path);
// The value dossier.db keeps to check the key against (meta server_key_check).
std::string ServerKeyCheck(const ServerKey& key);

// The recovery key file, written beside (never inside) the repository:
//   comment lines, then "DOSSIER-RECOVERY-KEY-V1 <repo id> <base64 key>".
void WriteRecoveryKey(const std::string& path, const std::string& repo_id,
                      const crypto::SecretBytes& secret_key);
struct RecoveryKey {
  std::string repo_id;
  crypto::SecretBytes secret_key;
};
// Throws Error(kNotFound) for a missing file, Error(kUnauthenticated) for
// one that is not a recovery key. The key's text stays in guarded memory.
RecoveryKey ReadRecoveryKey(const std::string& path);

// Writes a small file (a key) to a temporary name, fsyncs and renames it.
void WriteFileAtomically(const std::string& path, const void* data, std::size_t n,
                         unsigned mode);

}  // namespace dossier::repo
