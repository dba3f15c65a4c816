#include "crypto/secret.h"

#include <sodium.h>

#include <cstring>
#include <mutex>

#include "base/error.h"

namespace dossier::crypto {

void EnsureSodium() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = sodium_init() >= 0; });
  if (!ok) throw Error(ErrorCode::kInternal, "libsodium failed to initialise");
}

SecretBytes::SecretBytes(std::size_t size) : size_(size) {
  EnsureSodium();
  // sodium_malloc(0) is allowed but keep one byte so data_ is never null.
  data_ = static_cast<unsigned char*>(sodium_malloc(size == 0 ? 1 : size));
  if (data_ == nullptr) {
    throw Error(ErrorCode::kInternal, "cannot allocate secure memory");
  }
  sodium_memzero(data_, size == 0 ? 1 : size);
}

SecretBytes::SecretBytes(const unsigned char* data, std::size_t size)
    : SecretBytes(size) {
  if (size > 0) std::memcpy(data_, data, size);
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) sodium_free(data_);
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  return size_ == other.size_ &&
         (size_ == 0 || sodium_memcmp(data_, other.data_, size_) == 0);
}

Bytes RandomBytes(std::size_t n) {
  EnsureSodium();
  Bytes out(n);
  if (n > 0) randombytes_buf(out.data(), n);
  return out;
}

SecretBytes RandomSecret(std::size_t n) {
  SecretBytes s(n);
  if (n > 0) randombytes_buf(s.data(), n);
  return s;
}

std::string RandomId(std::size_t n) {
  EnsureSodium();
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string id(n, 'a');
  for (auto& c : id) c = kAlphabet[randombytes_uniform(32)];
  return id;
}

std::string ToHex(const unsigned char* data, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.resize(n * 2);
  return out;
}

Bytes FromHex(std::string_view hex) {
  Bytes out(hex.size() / 2);
  std::size_t len = 0;
  const char* end = nullptr;
  if (hex.size() % 2 != 0 ||
      sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr,
                     &len, &end) != 0 ||
      len != out.size()) {
    throw Error(ErrorCode::kInvalidArgument, "malformed hexadecimal string");
  }
  return out;
}

std::string ToBase64(const unsigned char* data, std::size_t n) {
  EnsureSodium();
  const auto variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(n, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, n, variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

SecretBytes SecretFromBase64(std::string_view b64) {
  EnsureSodium();
  SecretBytes buf(b64.size());
  std::size_t len = 0;
  if (sodium_base642bin(buf.data(), buf.size(), b64.data(), b64.size(),
                        " \n\r\t", &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    throw Error(ErrorCode::kInvalidArgument, "malformed base64 key text");
  }
  return SecretBytes(buf.data(), len);
}

void Wipe(void* data, std::size_t n) {
  if (n > 0) sodium_memzero(data, n);
}

}  // namespace dossier::crypto
