// Owned file descriptors and the few I/O loops every folder needs.
//
// Fd is the one owner of a descriptor in Dossier: move-only, closed when
// it goes out of scope, made the line the descriptor is born. The helpers
// retry interrupted and short reads and writes and throw dossier::Error
// (kIo) with a sentence that names no path.
// Thread-safety: distinct objects may be used from distinct threads.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace dossier {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_;
};

// Writes all of `data`, retrying short writes. Throws Error(kIo).
void WriteAll(int fd, const void* data, std::size_t n);
// Reads up to n bytes (fewer only at end of file). Throws Error(kIo).
std::size_t ReadSome(int fd, void* data, std::size_t n);
// Reads exactly n bytes at `offset`; false if the file ends first.
// Throws Error(kIo) on a read error.
bool PreadFull(int fd, void* data, std::size_t n, std::uint64_t offset);
// Writes all of `data` at `offset`. Throws Error(kIo).
void PwriteAll(int fd, const void* data, std::size_t n, std::uint64_t offset);
// fsyncs a directory so a rename or unlink in it is durable.
void SyncDir(const std::string& dir);

}  // namespace dossier
