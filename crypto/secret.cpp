#include "crypto/secret.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <sodium.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace dossier::crypto {

namespace {

// Kernel randomness taken a kilobyte at a time, per thread, for every
// random value libsodium and Dossier draw (ids, keys, nonces, stream
// headers, sealed-box ephemerals). A document needs about eleven, and each
// was its own getrandom call, which costs a hypervisor round trip on these
// virtual machines (measured: 29,192 calls for 2,518 mails, the largest
// syscall after futex). libsodium's own userspace generator
// (randombytes_internal) is not used because it calls getpid on every draw
// and aborts in a forked child. The bytes come straight from getrandom;
// each is handed out once and wiped as it goes, the buffer is mlock'd, and a
// forked child drops the buffer it inherited (pthread_atfork), so parent
// and child never hand out the same bytes.
constexpr std::size_t kRandomPool = 1024;

void KernelRandom(void* out, std::size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    const ssize_t got = ::getrandom(p, std::min<std::size_t>(n, 256), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) std::abort();  // no randomness: nothing safe to do
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

struct RandomPool {
  alignas(64) unsigned char bytes[kRandomPool];
  std::size_t left = 0;
  bool tried_lock = false, locked = false;
  bool dead = false;  // destroyed (thread exit): draws go to the kernel
  ~RandomPool() {
    sodium_memzero(bytes, sizeof bytes);
    if (locked) sodium_munlock(bytes, sizeof bytes);
    left = 0;
    dead = true;
  }
};
thread_local RandomPool tls_random;

void PooledRandom(void* const out, const std::size_t n) {
  RandomPool& pool = tls_random;
  if (n > kRandomPool / 4 || pool.dead) return KernelRandom(out, n);
  if (!pool.tried_lock) {
    pool.tried_lock = true;
    pool.locked = sodium_mlock(pool.bytes, sizeof pool.bytes) == 0;
  }
  if (pool.left < n) {
    KernelRandom(pool.bytes, sizeof pool.bytes);
    pool.left = sizeof pool.bytes;
  }
  unsigned char* from = pool.bytes + (sizeof pool.bytes - pool.left);
  std::memcpy(out, from, n);
  sodium_memzero(from, n);
  pool.left -= n;
}

std::uint32_t PooledRandom32() {
  std::uint32_t v;
  PooledRandom(&v, sizeof v);
  return v;
}

void DropRandomPool() {
  sodium_memzero(tls_random.bytes, sizeof tls_random.bytes);
  tls_random.left = 0;
}

const char* PooledRandomName() { return "dossier-pooled-getrandom"; }

randombytes_implementation pooled_random = {
    PooledRandomName, PooledRandom32, DropRandomPool, nullptr, PooledRandom, nullptr};

}  // namespace

void EnsureSodium() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    ok = randombytes_set_implementation(&pooled_random) == 0 &&
         ::pthread_atfork(nullptr, nullptr, DropRandomPool) == 0 && sodium_init() >= 0;
  });
  if (!ok) throw Error(ErrorCode::kInternal, "libsodium failed to initialise");
}

namespace {

// Small secrets (keys, stream and hash states: at most kSlotSize bytes)
// come from slots of a few large sodium_malloc arenas, not from a
// sodium_malloc each. Each sodium_malloc is an mmap and two mprotects, and
// its sodium_free an munmap, which in a multi-threaded process is a TLB
// shootdown on every core: measured, that was 15% of all ingest CPU (about
// six small secrets per document). The arenas keep sodium_malloc's
// properties for the block as a whole (mlock'd, guard pages around it,
// never swapped); slots are wiped when released. What is given up: no
// guard page between two slots of one arena. libsodium has no pool of its
// own, so this one is written here.
constexpr std::size_t kSlotSize = 512;  // a crypto_generichash_state is 384
constexpr std::size_t kSlotsPerArena = 256;

class SlotPool {
 public:
  unsigned char* Take() {
    std::lock_guard lock(mu_);
    if (free_.empty()) {
      auto* arena = static_cast<unsigned char*>(sodium_malloc(kSlotSize * kSlotsPerArena));
      if (arena == nullptr) return nullptr;
      // Arenas live as long as the process; only their slots come and go.
      for (std::size_t i = kSlotsPerArena; i-- > 0;) free_.push_back(arena + i * kSlotSize);
    }
    unsigned char* slot = free_.back();
    free_.pop_back();
    return slot;
  }
  void Give(unsigned char* slot) {
    sodium_memzero(slot, kSlotSize);
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }

 private:
  std::mutex mu_;
  std::vector<unsigned char*> free_;
};

SlotPool& Slots() {
  static SlotPool* pool = new SlotPool;  // never destroyed: secrets may outlive statics
  return *pool;
}

}  // namespace

SecretBytes::SecretBytes(std::size_t size) : size_(size) {
  EnsureSodium();
  if (size <= kSlotSize) {
    data_ = Slots().Take();
    pooled_ = data_ != nullptr;
  } else {
    data_ = static_cast<unsigned char*>(sodium_malloc(size));
  }
  if (data_ == nullptr) {
    throw Error(ErrorCode::kInternal, "cannot allocate secure memory");
  }
  sodium_memzero(data_, pooled_ ? kSlotSize : size);
}

SecretBytes::SecretBytes(const unsigned char* data, std::size_t size)
    : SecretBytes(size) {
  if (size > 0) std::memcpy(data_, data, size);
}

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  if (pooled_) {
    Slots().Give(data_);
  } else {
    sodium_free(data_);
  }
  data_ = nullptr;
  size_ = 0;
  pooled_ = false;
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(other.data_), size_(other.size_), pooled_(other.pooled_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.pooled_ = false;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = other.data_;
    size_ = other.size_;
    pooled_ = other.pooled_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.pooled_ = false;
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
  // One randombytes_buf call (one getrandom syscall), not one per
  // character; 32 divides 256, so the low five bits of a byte are uniform.
  std::string id(n, 'a');
  randombytes_buf(id.data(), n);
  for (auto& c : id) c = kAlphabet[static_cast<unsigned char>(c) & 31];
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

std::string RandomToken(std::size_t n) {
  EnsureSodium();
  std::vector<unsigned char> raw(n);
  randombytes_buf(raw.data(), raw.size());
  const auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(n, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(), variant);
  out.resize(std::strlen(out.c_str()));
  sodium_memzero(raw.data(), raw.size());
  return out;
}

std::string TokenDigest(std::string_view token) {
  EnsureSodium();
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  EnsureSodium();
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
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

SecretBytes ReadSecretFile(const std::string& path, std::size_t max_bytes, ErrorCode missing) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw Error(missing, "cannot read a key file");
  // One byte more than allowed tells an oversized file from a full one.
  SecretBytes buf(max_bytes + 1);
  const std::size_t n = ReadSome(fd.get(), buf.data(), buf.size());
  if (n > max_bytes) throw Error(ErrorCode::kTooLarge, "a key file is too large");
  return SecretBytes(buf.data(), n);
}

void Wipe(void* data, std::size_t n) {
  if (n > 0) sodium_memzero(data, n);
}

}  // namespace dossier::crypto
