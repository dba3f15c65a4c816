#include "crypto/keys.h"

#include <sodium.h>

#include <cstring>

#include "base/error.h"

namespace dossier::crypto {
namespace {

// Wrapped-key layout (all integers little-endian):
//   u8 version (1) | u8 algorithm | u64 opslimit | u64 memlimit |
//   salt[16] | nonce[24] | XChaCha20-Poly1305 ciphertext of the secret.
// The header bytes are the AEAD's associated data, so they cannot be
// altered to weaken the derivation without the unwrap failing.
constexpr unsigned char kWrapVersion = 1;
constexpr std::size_t kHeaderSize = 1 + 1 + 8 + 8 + crypto_pwhash_SALTBYTES +
                                    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;

void PutU64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t GetU64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

SecretBytes DeriveKey(std::string_view password, const unsigned char* salt,
                      std::uint64_t ops, std::uint64_t mem, int alg) {
  SecretBytes key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  if (crypto_pwhash(key.data(), key.size(), password.data(), password.size(),
                    salt, ops, static_cast<std::size_t>(mem), alg) != 0) {
    throw Error(ErrorCode::kInternal,
                "not enough memory to derive the password key");
  }
  return key;
}

}  // namespace

KeyPair GenerateKeyPair() {
  EnsureSodium();
  KeyPair kp{{}, SecretBytes(crypto_box_SECRETKEYBYTES)};
  crypto_box_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

PublicKey PublicKeyOf(const SecretBytes& secret_key) {
  EnsureSodium();
  if (secret_key.size() != crypto_box_SECRETKEYBYTES) {
    throw Error(ErrorCode::kCorrupt, "secret key has the wrong length");
  }
  PublicKey pk{};
  crypto_scalarmult_base(pk.data(), secret_key.data());
  return pk;
}

SecretBytes GenerateSigningSecret() {
  EnsureSodium();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(pk, sk.data());
  return sk;
}

PublicKey SigningPublicKeyOf(const SecretBytes& signing_secret) {
  EnsureSodium();
  if (signing_secret.size() != crypto_sign_SECRETKEYBYTES) {
    throw Error(ErrorCode::kCorrupt, "a signing key has the wrong length");
  }
  PublicKey pk{};
  crypto_sign_ed25519_sk_to_pk(pk.data(), signing_secret.data());
  return pk;
}

Bytes SignDetached(const SecretBytes& signing_secret, std::string_view message) {
  EnsureSodium();
  if (signing_secret.size() != crypto_sign_SECRETKEYBYTES) {
    throw Error(ErrorCode::kCorrupt, "a signing key has the wrong length");
  }
  Bytes sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), signing_secret.data());
  return sig;
}

bool VerifyDetached(const PublicKey& signer, std::string_view message, const Bytes& signature) {
  EnsureSodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), signer.data()) == 0;
}

Bytes SealTo(const PublicKey& recipient, const SecretBytes& secret) {
  EnsureSodium();
  Bytes out(secret.size() + crypto_box_SEALBYTES);
  crypto_box_seal(out.data(), secret.data(), secret.size(), recipient.data());
  return out;
}

SecretBytes OpenSealed(const KeyPair& recipient, const Bytes& sealed) {
  EnsureSodium();
  if (sealed.size() < crypto_box_SEALBYTES) {
    throw Error(ErrorCode::kForbidden, "sealed key does not open with this key");
  }
  if (recipient.secret_key.size() != crypto_box_SECRETKEYBYTES) {
    throw Error(ErrorCode::kCorrupt, "a secret key has the wrong length");
  }
  SecretBytes out(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(out.data(), sealed.data(), sealed.size(),
                           recipient.public_key.data(),
                           recipient.secret_key.data()) != 0) {
    throw Error(ErrorCode::kForbidden, "sealed key does not open with this key");
  }
  return out;
}

std::size_t SealedSize(std::size_t n) { return n + crypto_box_SEALBYTES; }

SecretBytes OpenSealedKey(const KeyPair& recipient, const Bytes& sealed, std::size_t key_size,
                          const char* what) {
  EnsureSodium();
  if (sealed.size() != SealedSize(key_size) ||
      recipient.secret_key.size() != crypto_box_SECRETKEYBYTES) {
    throw Error(ErrorCode::kCorrupt, std::string(what) + " is malformed");
  }
  SecretBytes out(key_size);
  if (crypto_box_seal_open(out.data(), sealed.data(), sealed.size(),
                           recipient.public_key.data(), recipient.secret_key.data()) != 0) {
    throw Error(ErrorCode::kCorrupt, std::string(what) + " does not open (damaged or misplaced)");
  }
  return out;
}

std::size_t PasswordWrappedSize(std::size_t n) {
  return kHeaderSize + n + crypto_aead_xchacha20poly1305_ietf_ABYTES;
}

Bytes WrapWithPassword(const SecretBytes& secret, std::string_view password,
                       PasswordCost cost) {
  EnsureSodium();
  const std::uint64_t ops = cost == PasswordCost::kModerate
                                ? crypto_pwhash_OPSLIMIT_MODERATE
                                : crypto_pwhash_OPSLIMIT_INTERACTIVE;
  const std::uint64_t mem = cost == PasswordCost::kModerate
                                ? crypto_pwhash_MEMLIMIT_MODERATE
                                : crypto_pwhash_MEMLIMIT_INTERACTIVE;
  const int alg = crypto_pwhash_ALG_ARGON2ID13;
  Bytes out(kHeaderSize + secret.size() +
            crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned char* p = out.data();
  p[0] = kWrapVersion;
  p[1] = static_cast<unsigned char>(alg);
  PutU64(p + 2, ops);
  PutU64(p + 10, mem);
  unsigned char* salt = p + 18;
  unsigned char* nonce = salt + crypto_pwhash_SALTBYTES;
  randombytes_buf(salt, crypto_pwhash_SALTBYTES);
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  SecretBytes key = DeriveKey(password, salt, ops, mem, alg);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      p + kHeaderSize, &clen, secret.data(), secret.size(), p, kHeaderSize,
      nullptr, nonce, key.data());
  return out;
}

SecretBytes UnwrapWithPassword(const Bytes& wrapped, std::string_view password) {
  EnsureSodium();
  if (wrapped.size() < kHeaderSize + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
      wrapped[0] != kWrapVersion) {
    throw Error(ErrorCode::kCorrupt, "wrapped key is malformed");
  }
  const unsigned char* p = wrapped.data();
  const int alg = p[1];
  const std::uint64_t ops = GetU64(p + 2);
  const std::uint64_t mem = GetU64(p + 10);
  if (alg != crypto_pwhash_ALG_ARGON2ID13 ||
      ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
      mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE) {
    throw Error(ErrorCode::kCorrupt, "wrapped key has unsupported parameters");
  }
  const unsigned char* salt = p + 18;
  const unsigned char* nonce = salt + crypto_pwhash_SALTBYTES;
  SecretBytes key = DeriveKey(password, salt, ops, mem, alg);
  const std::size_t clen = wrapped.size() - kHeaderSize;
  SecretBytes out(clen - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.data(), &mlen, nullptr, p + kHeaderSize, clen, p, kHeaderSize,
          nonce, key.data()) != 0) {
    throw Error(ErrorCode::kUnauthenticated, "wrong password");
  }
  return out;
}

}  // namespace dossier::crypto
