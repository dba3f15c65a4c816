// Private to repo/: an upload's bytes between the network and the
// extraction workers. They are encrypted as they arrive, under a key that
// exists only in this process's memory, into an unnamed file of the
// repository's file system (O_TMPFILE), so no name ever points at them: a
// client that goes away, an upload refused as too large, or a crash leaves
// nothing behind, not even ciphertext. When the upload's turn comes in its
// ingest job, the bytes are decrypted into a sealed memfd, as a stored
// original is for a retry.
#pragma once

#include <cstdint>
#include <memory>

#include "base/fd.h"
#include "crypto/blob_stream.h"
#include "repo/context.h"
#include "repo/repository.h"

namespace dossier::repo {

struct Upload::Impl {
  UploadRequest request;
  std::string rel;  // the checked path the document is ingested under
  Fd file;          // unnamed: gone with the last descriptor
  crypto::SecretBytes key;
  std::unique_ptr<crypto::BlobEncryptor> encryptor;
  std::uint64_t size = 0;      // plaintext bytes so far
  std::uint64_t written = 0;   // ciphertext bytes in `file`
  bool finished = false;
  bool failed = false;         // a write failed: the upload is unusable

  // Ends the stream (the final record); REQUIRES: not finished.
  void Finish();
};

// Checks the request's names (the path must be relative, without "." or
// ".." parts) and opens an upload in `<dir>/uploads`.
std::unique_ptr<Upload::Impl> OpenUpload(const RepoContext& ctx, const UploadRequest& request);

// Everything `dec` yields, in a memfd sealed against any change before a
// worker sees it (so a compromised parser cannot alter the bytes the
// custody hashes and the new blob are made from); `what` names it in
// errors. Each chunk is wiped once copied.
Fd DecryptToSealedMemory(crypto::BlobDecryptor& dec, const char* what);

// The upload's plaintext in a sealed memfd. REQUIRES: finished.
// Throws Error(kCorrupt) if the ciphertext does not authenticate.
Fd DecryptUpload(const Upload::Impl& upload);

}  // namespace dossier::repo
