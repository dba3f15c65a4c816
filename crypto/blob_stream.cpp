#include "crypto/blob_stream.h"

#include <sodium.h>

#include <cstring>

#include "base/error.h"

namespace dossier::crypto {
namespace {
constexpr char kMagic[4] = {'D', 'S', 'B', '1'};
constexpr std::size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;

crypto_secretstream_xchacha20poly1305_state* State(SecretBytes& s) {
  return reinterpret_cast<crypto_secretstream_xchacha20poly1305_state*>(s.data());
}
}  // namespace

BlobEncryptor::BlobEncryptor(const SecretBytes& key, Sink sink)
    : sink_(std::move(sink)),
      state_(sizeof(crypto_secretstream_xchacha20poly1305_state)),
      buffer_(kBlobChunk + kABytes + 4) {
  EnsureSodium();
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    throw Error(ErrorCode::kCorrupt, "blob key has the wrong length");
  }
  unsigned char header[4 + crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  std::memcpy(header, kMagic, 4);
  crypto_secretstream_xchacha20poly1305_init_push(State(state_), header + 4,
                                                  key.data());
  sink_(header, sizeof header);
}

BlobEncryptor::~BlobEncryptor() { Wipe(buffer_.data(), buffer_.size()); }

void BlobEncryptor::Write(const unsigned char* data, std::size_t n) {
  if (finished_) throw Error(ErrorCode::kInternal, "write after Finish");
  total_ += n;
  while (n > 0) {
    const std::size_t take = std::min(n, kBlobChunk - used_);
    std::memcpy(buffer_.data() + used_, data, take);
    used_ += take;
    data += take;
    n -= take;
    if (used_ == kBlobChunk) Push(false);
  }
}

void BlobEncryptor::Push(bool final) {
  std::string out(4 + used_ + kABytes, '\0');
  auto* cipher = reinterpret_cast<unsigned char*>(out.data()) + 4;
  unsigned long long clen = 0;
  crypto_secretstream_xchacha20poly1305_push(
      State(state_), cipher, &clen, buffer_.data(), used_, nullptr, 0,
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(clen >> (8 * i));
  Wipe(buffer_.data(), used_);
  used_ = 0;
  sink_(reinterpret_cast<const unsigned char*>(out.data()), out.size());
}

void BlobEncryptor::Finish() {
  if (finished_) throw Error(ErrorCode::kInternal, "Finish called twice");
  Push(true);
  finished_ = true;
}

BlobDecryptor::BlobDecryptor(const SecretBytes& key, Source source)
    : source_(std::move(source)),
      state_(sizeof(crypto_secretstream_xchacha20poly1305_state)) {
  EnsureSodium();
  unsigned char header[4 + crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  if (!ReadExact(header, sizeof header) || std::memcmp(header, kMagic, 4) != 0 ||
      crypto_secretstream_xchacha20poly1305_init_pull(State(state_), header + 4,
                                                      key.data()) != 0) {
    throw Error(ErrorCode::kCorrupt, "encrypted blob has a malformed header");
  }
}

bool BlobDecryptor::ReadExact(unsigned char* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const std::size_t r = source_(p + got, n - got);
    if (r == 0) return got == 0 ? false : throw Error(ErrorCode::kCorrupt,
                                                     "encrypted blob is truncated");
    got += r;
  }
  return true;
}

bool BlobDecryptor::Next(std::string& out) {
  out.clear();
  if (done_) return false;
  unsigned char len_bytes[4];
  if (!ReadExact(len_bytes, 4)) {
    throw Error(ErrorCode::kCorrupt,
                "encrypted blob is truncated (no final chunk)");
  }
  std::uint32_t clen = 0;
  for (int i = 0; i < 4; ++i) clen |= std::uint32_t{len_bytes[i]} << (8 * i);
  if (clen < kABytes || clen > kBlobChunk + kABytes) {
    throw Error(ErrorCode::kCorrupt, "encrypted blob has a malformed record");
  }
  std::string cipher(clen, '\0');
  ReadExact(reinterpret_cast<unsigned char*>(cipher.data()), clen) ||
      (throw Error(ErrorCode::kCorrupt, "encrypted blob is truncated"), false);
  out.resize(clen - kABytes);
  unsigned long long mlen = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(
          State(state_), reinterpret_cast<unsigned char*>(out.data()), &mlen,
          &tag, reinterpret_cast<const unsigned char*>(cipher.data()), clen,
          nullptr, 0) != 0) {
    out.clear();
    throw Error(ErrorCode::kCorrupt,
                "encrypted blob failed authentication (altered or wrong key)");
  }
  out.resize(mlen);
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    done_ = true;
    unsigned char extra;
    if (source_(&extra, 1) != 0) {
      Wipe(out);
      out.clear();
      throw Error(ErrorCode::kCorrupt, "encrypted blob has trailing data");
    }
  }
  return true;
}

}  // namespace dossier::crypto
