#include "repo/uploads.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/secret.h"

namespace dossier::repo {

namespace {

// "a/b/c.txt": relative, no empty, "." or ".." part, no NUL, bounded.
std::string CheckedPath(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path.find('\0') != std::string_view::npos) {
    throw Error(ErrorCode::kInvalidArgument, "an upload needs a file name of at most 4096 bytes");
  }
  if (path.front() == '/') {
    throw Error(ErrorCode::kInvalidArgument, "an upload's path must be relative");
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      throw Error(ErrorCode::kInvalidArgument,
                  "an upload's path may not have empty, '.' or '..' parts");
    }
    start = end + 1;
  }
  return std::string(path);
}

// An unnamed file in `dir`: O_TMPFILE where the file system has it, else a
// named one unlinked at once (the name exists for microseconds and holds
// no plaintext).
Fd UnnamedFile(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(ErrorCode::kIo, "cannot make the uploads folder: " + std::string(strerror(errno)));
  }
  Fd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return fd;
  std::string name = dir + "/upload-" + crypto::RandomId() + ".tmp";
  fd = Fd(::open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  if (!fd) throw Error(ErrorCode::kIo, "cannot stage an upload: " + std::string(strerror(errno)));
  ::unlink(name.c_str());
  return fd;
}

}  // namespace

void Upload::Impl::Finish() {
  encryptor->Finish();
  finished = true;
}

std::unique_ptr<Upload::Impl> OpenUpload(const RepoContext& ctx, const UploadRequest& req) {
  auto up = std::make_unique<Upload::Impl>();
  up->request = req;
  const std::string path = req.path.empty() ? req.filename : req.path;
  up->rel = CheckedPath(path);
  if (!req.filename.empty() && !req.path.empty() &&
      std::filesystem::path(up->rel).filename().string() != req.filename) {
    throw Error(ErrorCode::kInvalidArgument, "an upload's file name must end its path");
  }
  up->file = UnnamedFile(ctx.dir + "/uploads");
  up->key = crypto::RandomSecret(32);
  Upload::Impl* raw = up.get();
  up->encryptor = std::make_unique<crypto::BlobEncryptor>(
      up->key, [raw](const unsigned char* p, std::size_t n) {
        PwriteAll(raw->file.get(), p, n, raw->written);
        raw->written += n;
      });
  return up;
}

Fd DecryptToSealedMemory(crypto::BlobDecryptor& dec, const char* what) {
  Fd fd(::memfd_create("dossier-plaintext", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) throw Error(ErrorCode::kIo, std::string("cannot hold ") + what + " in memory");
  std::string chunk;
  std::uint64_t at = 0;
  while (dec.Next(chunk)) {
    PwriteAll(fd.get(), chunk.data(), chunk.size(), at);
    at += chunk.size();
    crypto::Wipe(chunk);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    throw Error(ErrorCode::kIo, std::string("cannot seal ") + what + " in memory");
  }
  return fd;
}

Fd DecryptUpload(const Upload::Impl& up) {
  std::uint64_t in_at = 0;
  crypto::BlobDecryptor dec(up.key, [&](unsigned char* p, std::size_t n) -> std::size_t {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(n, up.written - in_at));
    if (want == 0) return 0;
    if (!PreadFull(up.file.get(), p, want, in_at)) {
      throw Error(ErrorCode::kCorrupt, "an upload's staged bytes are truncated");
    }
    in_at += want;
    return want;
  });
  return DecryptToSealedMemory(dec, "an upload");
}

}  // namespace dossier::repo
