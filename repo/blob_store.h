// Private to repo/: where encrypted bytes live. A BlobStore holds
// immutable objects named by random ids; a new object is written aside,
// published under its name, and made durable for a whole group at once by
// Sync, before anything refers to it as acknowledged. Services see only
// this interface: the local directory store below today, an S3-compatible
// object store when the repository outgrows one machine.
// Thread-safety: Open and reads may run on any thread; Create, Publish,
// Remove and Sync REQUIRE the repository's write lock (Create and Append
// of distinct pending objects may run on the build threads).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace dossier::repo {

// An object being written; not visible under any name until published.
// Destroying it unpublished discards it.
class PendingBlob {
 public:
  virtual ~PendingBlob() = default;
  virtual void Append(const void* data, std::size_t n) = 0;
  // Stops writing (frees what writing holds; the object waits to be
  // published), so a group of pending objects holds no descriptors.
  virtual void Close() = 0;
  virtual std::uint64_t size() const = 0;
};

// A published object, read sequentially or at offsets.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Up to n bytes from the current position (fewer only at the end).
  virtual std::size_t Read(void* data, std::size_t n) = 0;
  // Exactly n bytes at `offset`; false if the object ends first.
  virtual bool ReadAt(std::uint64_t offset, void* data, std::size_t n) = 0;
  virtual std::uint64_t Size() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual std::unique_ptr<PendingBlob> Create() = 0;
  // Gives the object its name; durable only after Sync.
  virtual void Publish(PendingBlob& blob, const std::string& name) = 0;
  // Makes everything published so far durable.
  virtual void Sync() = 0;
  // Throws Error(kCorrupt) if the object is missing.
  virtual std::unique_ptr<BlobReader> Open(const std::string& name) const = 0;
  // Removes an object if present (durably).
  virtual void Remove(const std::string& name) = 0;
  // Discards objects a crash left unpublished.
  virtual void CleanTemp() = 0;
};

// The embedded default: a directory of files fanned out as <root>/ab/<name>,
// written under <root>/tmp and renamed into place; Sync is one syncfs.
std::unique_ptr<BlobStore> OpenLocalBlobStore(const std::string& root);

}  // namespace dossier::repo
