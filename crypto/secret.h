// Secret key material and byte helpers.
//
// SecretBytes is the only type that holds keys and other secrets: its bytes
// live in sodium_malloc memory (guard pages, mlock'd, wiped on release;
// secrets of up to 512 bytes share pooled sodium_malloc arenas),
// it is move-only so a secret is never silently copied, and it has no
// operator<< so it cannot be printed or logged by accident.
// Thread-safety: distinct objects may be used from distinct threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace dossier::crypto {

using Bytes = std::vector<unsigned char>;

// Initialises libsodium once; every entry point of this library calls it.
// Throws Error(kInternal) if libsodium cannot start.
void EnsureSodium();

class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates `size` zeroed bytes. Throws Error(kInternal) on failure.
  explicit SecretBytes(std::size_t size);
  // Copies `size` bytes from `data`; the caller wipes its own copy.
  SecretBytes(const unsigned char* data, std::size_t size);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  unsigned char* data() { return data_; }
  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // An independent copy, for the rare places that must keep two.
  SecretBytes Clone() const { return SecretBytes(data_, size_); }
  // Constant-time comparison.
  bool Equals(const SecretBytes& other) const;

 private:
  void Release();
  unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
  bool pooled_ = false;  // a slot of a shared arena, not its own mapping
};

// Fresh random bytes from the system CSPRNG.
Bytes RandomBytes(std::size_t n);
SecretBytes RandomSecret(std::size_t n);

// A random identifier of `n` lowercase base-32 characters (a-z, 2-7): used
// for case, document, shard and blob ids. 16 characters carry 80 bits.
std::string RandomId(std::size_t n = 16);

std::string ToHex(const unsigned char* data, std::size_t n);
inline std::string ToHex(const Bytes& b) { return ToHex(b.data(), b.size()); }
// Throws Error(kInvalidArgument) on a malformed string.
Bytes FromHex(std::string_view hex);
std::string ToBase64(const unsigned char* data, std::size_t n);
SecretBytes SecretFromBase64(std::string_view b64);

// A bearer token: `n` random bytes as unpadded URL-safe base64.
std::string RandomToken(std::size_t n = 32);
// The digest a token is kept under (BLAKE2b-256, unkeyed: the token itself
// has 256 bits of entropy, so no key or slow hash is needed), 32 bytes.
std::string TokenDigest(std::string_view token);
// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// Reads a whole small file (a key file, a password file) straight into
// guarded memory: no stream buffer or string ever holds a copy. Throws
// Error(`missing`) if it cannot be opened, Error(kTooLarge) past
// `max_bytes`, Error(kIo) on a read error.
SecretBytes ReadSecretFile(const std::string& path, std::size_t max_bytes,
                           ErrorCode missing);

// Wipes a buffer that held plaintext (sodium_memzero).
void Wipe(void* data, std::size_t n);
inline void Wipe(std::string& s) {
  if (!s.empty()) Wipe(s.data(), s.size());
}

}  // namespace dossier::crypto
