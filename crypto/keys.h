// X25519 key pairs for users and roles, sealed boxes, and secrets wrapped
// under a password.
//
// A role's secret key is sealed (crypto_box_seal) to each member's public
// key and to the recovery role; a user's secret key is wrapped under an
// Argon2id key derived from their password. The Argon2id parameters travel
// inside each wrapped key, so they can change without breaking old ones.
#pragma once

#include <array>
#include <string_view>

#include "crypto/secret.h"

namespace dossier::crypto {

using PublicKey = std::array<unsigned char, 32>;

struct KeyPair {
  PublicKey public_key{};
  SecretBytes secret_key;  // 32 bytes
};

KeyPair GenerateKeyPair();
// Recomputes the public half of a secret key (to check a loaded key).
PublicKey PublicKeyOf(const SecretBytes& secret_key);

// Anonymous sealed box: anyone with `recipient` can seal, only the holder
// of its secret key opens.
Bytes SealTo(const PublicKey& recipient, const SecretBytes& secret);
// Throws Error(kForbidden) when `sealed` was not sealed to this key pair or
// was altered.
SecretBytes OpenSealed(const KeyPair& recipient, const Bytes& sealed);

// OpenSealed for a sealed key of exactly `key_size` bytes (role, batch and
// case keys are 32): a sealed value of any other length, one that does not
// open, or one that opens to another length throws Error(kCorrupt) naming
// `what` ("a role key"), so a damaged row never yields a short key that a
// later primitive would read past.
SecretBytes OpenSealedKey(const KeyPair& recipient, const Bytes& sealed,
                          std::size_t key_size, const char* what);
// The size of a sealed box holding `n` bytes.
std::size_t SealedSize(std::size_t n);

// A fresh Ed25519 signing secret key (64 bytes), for the audit chain.
SecretBytes GenerateSigningSecret();
// Its public half (32 bytes), a detached signature (64 bytes) and its check
// (false for any signature that does not hold, never a throw).
PublicKey SigningPublicKeyOf(const SecretBytes& signing_secret);
Bytes SignDetached(const SecretBytes& signing_secret, std::string_view message);
bool VerifyDetached(const PublicKey& signer, std::string_view message, const Bytes& signature);

// Argon2id cost. kModerate is the default for real users; kInteractive is
// for tests only (it is much faster and much weaker).
enum class PasswordCost { kInteractive, kModerate };

// Wraps `secret` under a key derived from `password`. The result holds a
// format version, the Argon2id limits, the salt and the ciphertext.
Bytes WrapWithPassword(const SecretBytes& secret, std::string_view password,
                       PasswordCost cost);
// Throws Error(kUnauthenticated) for a wrong password,
// Error(kCorrupt) for a malformed wrapped key.
SecretBytes UnwrapWithPassword(const Bytes& wrapped, std::string_view password);
// The size of a password-wrapped secret of `n` bytes.
std::size_t PasswordWrappedSize(std::size_t n);

}  // namespace dossier::crypto
