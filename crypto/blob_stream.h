// Streaming encryption of a document's original bytes
// (crypto_secretstream_xchacha20poly1305) in bounded memory.
//
// File layout: "DSB1" | secretstream header[24] | records, each
//   u32 little-endian ciphertext length | ciphertext of up to kBlobChunk
// plaintext bytes. The last record carries TAG_FINAL; a stream that ends
// without it, has bytes after it, or has any altered byte is rejected,
// so truncation at a chunk boundary is detected, not returned as good.
// Not thread-safe; one writer or reader per stream.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "crypto/secret.h"

namespace dossier::crypto {

constexpr std::size_t kBlobChunk = 64 * 1024;

// Writes ciphertext through `sink` (called with each piece of output).
class BlobEncryptor {
 public:
  using Sink = std::function<void(const unsigned char*, std::size_t)>;
  // `key` is the document's blob subkey (32 bytes). Emits the header.
  BlobEncryptor(const SecretBytes& key, Sink sink);
  ~BlobEncryptor();
  BlobEncryptor(const BlobEncryptor&) = delete;
  BlobEncryptor& operator=(const BlobEncryptor&) = delete;

  void Write(const unsigned char* data, std::size_t n);
  // Emits the final record. Must be called exactly once, after all writes.
  void Finish();
  std::uint64_t plaintext_bytes() const { return total_; }

 private:
  void Push(bool final);
  Sink sink_;
  SecretBytes state_;  // holds the key: guarded memory
  // Plaintext waiting for a full chunk: ordinary memory, wiped after every
  // push and on destruction. (A guarded sodium_malloc mapping per document
  // cost ingest 18% of its time in TLB shootdowns on munmap, measured.)
  std::vector<unsigned char> buffer_;
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
  bool finished_ = false;
};

// Reads ciphertext through `source` (fills up to n bytes, returns how many;
// 0 at end of input) and yields plaintext chunk by chunk.
class BlobDecryptor {
 public:
  using Source = std::function<std::size_t(unsigned char*, std::size_t)>;
  // Throws Error(kCorrupt) if the header is missing or malformed.
  BlobDecryptor(const SecretBytes& key, Source source);
  // Replaces `out` with the next chunk of plaintext; returns false after the
  // final chunk has been returned. Throws Error(kCorrupt) on any altered
  // byte, on truncation and on trailing data.
  bool Next(std::string& out);

 private:
  bool ReadExact(unsigned char* p, std::size_t n);
  Source source_;
  SecretBytes state_;
  bool done_ = false;
};

}  // namespace dossier::crypto
