// Keyed hashes (crypto_generichash, BLAKE2b) under per-purpose subkeys.
//
// The repository's index key is the master key; crypto_kdf derives one
// subkey per purpose so that a hash computed for one purpose (say a blind
// term) says nothing about another (say a deduplication key). The subkey
// ids carry the hash-format version: changing the format means new ids and
// re-indexing, never silently mixing two formats.
// Thread-safety: a KeyedHasher is immutable after construction and may be
// shared between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/secret.h"

namespace dossier::crypto {

// The hash format version recorded in every shard and in the database.
constexpr int kHashFormatVersion = 1;
constexpr std::size_t kIndexKeySize = 32;

enum class HashPurpose : std::uint64_t {
  kTerms = 1,      // blind index terms (stems and field values)
  kDedup = 2,      // content identity within an access set
  kEntities = 3,   // entity values
  kBlobNames = 4,  // reserved: blob names are random ids today
  kKeyCheck = 5,   // the check value that ties keys/server.key to its repository
  kAudit = 6,      // what an audit event keeps of its sealed detail (a query)
};

class KeyedHasher {
 public:
  KeyedHasher(const SecretBytes& index_key, HashPurpose purpose);
  // A keyed hash of `data`, `out_len` bytes (8..64; under 16, a prefix of
  // the 16-byte hash).
  std::string Hash(std::string_view data, std::size_t out_len) const;

  // Incremental hashing of a long input (a document's bytes).
  class Stream {
   public:
    void Update(const unsigned char* data, std::size_t n);
    std::string Final();  // 32 bytes
   private:
    friend class KeyedHasher;
    SecretBytes state_;
  };
  Stream Start() const;

 private:
  SecretBytes key_;
};

// MD5 for load files that expect it (OpenSSL; stored only encrypted).
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void Update(const unsigned char* data, std::size_t n);
  std::string FinalHex();

 private:
  void* ctx_;  // EVP_MD_CTX
};

// Plain SHA-256 for chain of custody (stored only encrypted). Its state
// holds no key, so it lives in ordinary memory (wiped when done).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(const unsigned char* data, std::size_t n);
  std::string FinalHex();

 private:
  alignas(64) unsigned char state_[256];  // >= sizeof(crypto_hash_sha256_state)
};

}  // namespace dossier::crypto
