#include "repo/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/error.h"
#include "crypto/secret.h"

namespace dossier::repo {

namespace fs = std::filesystem;

FileStore::FileStore(std::string root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_ + "/tmp", ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create a repository directory");
}

FileStore::Pending::~Pending() {
  if (!path_.empty()) ::unlink(path_.c_str());
}
FileStore::Pending::Pending(Pending&& o) noexcept
    : fd_(std::move(o.fd_)), path_(std::move(o.path_)), size_(o.size_) {
  o.path_.clear();
}

void FileStore::Pending::Append(const void* data, std::size_t n) {
  WriteAll(fd_.get(), data, n);
  size_ += n;
}

FileStore::Pending FileStore::Create() {
  const std::string path = root_ + "/tmp/" + crypto::RandomId(20);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw Error(ErrorCode::kIo, "cannot create a repository file");
  return Pending(std::move(fd), path);
}

std::string FileStore::PathOf(const std::string& name) const {
  if (name.size() < 8 || name.find('/') != std::string::npos) {
    throw Error(ErrorCode::kCorrupt, "malformed stored file name");
  }
  // One level of 1,024 directories (two base-32 characters). Two levels
  // (65,536 directories) cost a mkdir for most of a repository's first tens
  // of thousands of files: 4% of ingest time in ext4_mkdir, measured.
  return root_ + "/" + name.substr(0, 2) + "/" + name;
}

void FileStore::Rename(Pending& file, const std::string& name) {
  const std::string dest = PathOf(name);
  // The fan-out directory exists for all but a store's first files: rename
  // first, and make the directory only when the rename says it is missing
  // (two stat calls per file otherwise).
  if (::rename(file.path_.c_str(), dest.c_str()) != 0) {
    std::error_code ec;
    if (errno == ENOENT) fs::create_directories(fs::path(dest).parent_path(), ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot create a repository directory");
    if (::rename(file.path_.c_str(), dest.c_str()) != 0) {
      throw Error(ErrorCode::kIo, "cannot move a repository file into place");
    }
  }
  file.path_.clear();
}

void FileStore::SyncFilesystem() {
  Fd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::syncfs(fd.get()) != 0) {
    throw Error(ErrorCode::kIo, "cannot sync the repository's file system");
  }
}

Fd FileStore::Open(const std::string& name) const {
  Fd fd(::open(PathOf(name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw Error(errno == ENOENT ? ErrorCode::kCorrupt : ErrorCode::kIo,
                errno == ENOENT ? "a stored file is missing" : "cannot open a stored file");
  }
  return fd;
}

bool FileStore::Exists(const std::string& name) const {
  struct stat st;
  return ::stat(PathOf(name).c_str(), &st) == 0;
}

void FileStore::Remove(const std::string& name) {
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) == 0) SyncDir(fs::path(path).parent_path());
}

void FileStore::CleanTemp() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ + "/tmp", ec)) {
    fs::remove(e.path(), ec);
  }
}

}  // namespace dossier::repo
