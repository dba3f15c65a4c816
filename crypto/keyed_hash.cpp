#include "crypto/keyed_hash.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>

#include "base/error.h"

namespace dossier::crypto {

KeyedHasher::KeyedHasher(const SecretBytes& index_key, HashPurpose purpose)
    : key_(crypto_generichash_KEYBYTES) {
  EnsureSodium();
  if (index_key.size() != crypto_kdf_KEYBYTES) {
    throw Error(ErrorCode::kCorrupt, "index key has the wrong length");
  }
  // Subkey id = purpose * 256 + format version.
  const std::uint64_t id =
      static_cast<std::uint64_t>(purpose) * 256 + kHashFormatVersion;
  crypto_kdf_derive_from_key(key_.data(), key_.size(), id, "dossidx_",
                             index_key.data());
}

std::string KeyedHasher::Hash(std::string_view data, std::size_t out_len) const {
  if (out_len < 8 || out_len > crypto_generichash_BYTES_MAX) {
    throw Error(ErrorCode::kInternal, "unsupported hash length");
  }
  // BLAKE2b's shortest output is 16 bytes; shorter hashes are its prefix.
  const std::size_t full = std::max<std::size_t>(out_len, crypto_generichash_BYTES_MIN);
  std::string out(full, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), full,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), key_.data(), key_.size());
  out.resize(out_len);
  return out;
}

KeyedHasher::Stream KeyedHasher::Start() const {
  Stream s;
  s.state_ = SecretBytes(sizeof(crypto_generichash_state));
  crypto_generichash_init(
      reinterpret_cast<crypto_generichash_state*>(s.state_.data()), key_.data(),
      key_.size(), 32);
  return s;
}

void KeyedHasher::Stream::Update(const unsigned char* data, std::size_t n) {
  crypto_generichash_update(
      reinterpret_cast<crypto_generichash_state*>(state_.data()), data, n);
}

std::string KeyedHasher::Stream::Final() {
  std::string out(32, '\0');
  crypto_generichash_final(
      reinterpret_cast<crypto_generichash_state*>(state_.data()),
      reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

Md5::Md5() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_md5(), nullptr) != 1) {
    throw Error(ErrorCode::kInternal, "MD5 is unavailable");
  }
}
Md5::~Md5() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Md5::Update(const unsigned char* data, std::size_t n) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
}
std::string Md5::FinalHex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len);
  return ToHex(out, len);
}

static_assert(sizeof(crypto_hash_sha256_state) <= 256);

Sha256::Sha256() {
  EnsureSodium();
  crypto_hash_sha256_init(reinterpret_cast<crypto_hash_sha256_state*>(state_));
}

Sha256::~Sha256() { Wipe(state_, sizeof state_); }

void Sha256::Update(const unsigned char* data, std::size_t n) {
  crypto_hash_sha256_update(reinterpret_cast<crypto_hash_sha256_state*>(state_), data, n);
}

std::string Sha256::FinalHex() {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(reinterpret_cast<crypto_hash_sha256_state*>(state_), out);
  return ToHex(out, sizeof out);
}

}  // namespace dossier::crypto
