// Private to repo/: the extracted text of documents, in independently
// sealed chunks, so a snippet opens the one chunk holding a match and a
// whole text is verified chunk by chunk. This class owns the format:
//   "DST2" | records: u32 first_pos | u32 end_pos | u32 length | sealed
// (little-endian). A chunk is an XChaCha20-Poly1305 message under the
// document's text subkey whose associated data binds the document id, the
// chunk's number, whether it is the last, and its word positions
// (crypto::TextChunkAdV2): reordering, truncation, a chunk moved between
// documents and a header edited to point elsewhere all fail to open.
// Files written before the positions were bound ("DST1") still read.
// Thread-safety: reads may run on any thread; a Writer belongs to one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/secret.h"
#include "indexer/document_builder.h"
#include "repo/blob_store.h"

namespace dossier::repo {

class TextStore {
 public:
  // Text is cut into chunks of about this many bytes (at word boundaries).
  static constexpr std::size_t kChunkBytes = 16 * 1024;

  explicit TextStore(BlobStore& files) : files_(files) {}

  // Seals a document's chunks, in order, into a pending file. Each chunk is
  // sealed once the next arrives, so the last can carry the last flag.
  class Writer {
   public:
    Writer(BlobStore& files, crypto::SecretBytes text_key, std::string doc_id);
    Writer(Writer&&) noexcept;
    ~Writer();
    // Takes the chunk (wiped once sealed) and the positions it covers.
    void Add(std::string chunk, const indexer::ChunkRange& range);
    // Seals the last chunk (an empty one if none came) and closes the file.
    std::unique_ptr<PendingBlob> Finish();

   private:
    void SealHeld(bool last);
    std::unique_ptr<PendingBlob> file_;
    crypto::SecretBytes key_;
    std::string doc_id_;
    std::optional<std::pair<std::string, indexer::ChunkRange>> held_;
    std::uint32_t next_ = 0;
  };
  Writer Write(const crypto::SecretBytes& text_key, const std::string& doc_id);

  // The chunk covering word position `pos` (the first chunk without one),
  // opened and verified, reading only the record headers before it; the
  // caller wipes the result. Throws Error(kCorrupt) for a malformed,
  // truncated or altered text. `first_pos`, if given, receives the word
  // position the chunk starts at.
  std::string OpenChunkAt(const std::string& name, const std::string& doc_id,
                          const crypto::SecretBytes& text_key,
                          std::optional<std::uint32_t> pos,
                          std::uint32_t* first_pos = nullptr) const;
  // Every chunk in order, verified; each is wiped after `sink` sees it.
  void ReadAll(const std::string& name, const std::string& doc_id,
               const crypto::SecretBytes& text_key,
               const std::function<void(std::string_view)>& sink) const;

 private:
  BlobStore& files_;
};

}  // namespace dossier::repo
