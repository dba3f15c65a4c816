#include "base/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"

namespace dossier {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    Reset(o.fd_);
    o.fd_ = -1;
  }
  return *this;
}

void Fd::Reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) ::close(fd_);
  fd_ = fd;
}

void WriteAll(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kIo, errno == ENOSPC ? "disk full while writing"
                                                  : "cannot write a repository file");
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

std::size_t ReadSome(int fd, void* data, std::size_t n) {
  std::size_t got = 0;
  auto* p = static_cast<char*>(data);
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kIo, "cannot read a file");
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

bool PreadFull(int fd, void* data, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(data);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kIo, "cannot read a file");
    }
    if (r == 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

void PwriteAll(int fd, const void* data, std::size_t n, std::uint64_t offset) {
  const auto* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = ::pwrite(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      throw Error(ErrorCode::kIo, errno == ENOSPC ? "disk full while writing"
                                                  : "cannot write a file");
    }
    done += static_cast<std::size_t>(w);
  }
}

void SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) {
    throw Error(ErrorCode::kIo, "cannot sync a repository directory");
  }
}

}  // namespace dossier
