// Private to repo/: a directory of immutable files named by random ids,
// fanned out as <root>/ab/<name>. Files are written to <root>/tmp and
// renamed into place with Rename; one SyncFilesystem (syncfs) then makes a
// whole group durable before anything refers to them as indexed.
// REQUIRES: the repository write lock for every mutating call.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/fd.h"

namespace dossier::repo {

class FileStore {
 public:
  explicit FileStore(std::string root);

  // A file being written; not visible under any name until Publish.
  class Pending {
   public:
    ~Pending();  // removes the temporary file unless published
    Pending(Pending&&) noexcept;
    void Append(const void* data, std::size_t n);
    // Closes the descriptor (the file stays until published or destroyed),
    // so a group of pending files does not hold hundreds of descriptors.
    void Close() { fd_ = Fd(); }
    std::uint64_t size() const { return size_; }

   private:
    friend class FileStore;
    Pending(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    Fd fd_;
    std::string path_;
    std::uint64_t size_ = 0;
  };

  Pending Create();
  // Moves the pending file under `name`; durable only after SyncFilesystem.
  void Rename(Pending& file, const std::string& name);
  // syncfs(2) on the store's file system: every file written and renamed
  // so far, data and directory entries, is durable when it returns.
  void SyncFilesystem();
  // Opens a published file; throws Error(kNotFound) if missing.
  Fd Open(const std::string& name) const;
  bool Exists(const std::string& name) const;
  // Removes a file if present (durably).
  void Remove(const std::string& name);
  // Deletes temporary files left by a crash.
  void CleanTemp();
  std::string PathOf(const std::string& name) const;

 private:
  std::string root_;
};

}  // namespace dossier::repo
