// Data keys and the small AEAD messages sealed under them.
//
// Every document (and every case) has a random 32-byte data key. From it,
// crypto_kdf derives one subkey per use, so the same key never serves two
// primitives: the original bytes (secretstream, see blob_stream.h), the
// extracted text chunks and the metadata (XChaCha20-Poly1305 messages
// here). A message is nonce[24] || ciphertext; its associated data binds it
// to its owner and place, so a message moved to another document, chunk or
// field fails to open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/secret.h"

namespace dossier::crypto {

constexpr std::size_t kDataKeySize = 32;

enum class DataKeyUse : std::uint64_t { kBlob = 1, kText = 2, kMeta = 3 };

SecretBytes NewDataKey();
SecretBytes DeriveDataSubkey(const SecretBytes& data_key, DataKeyUse use);

// Encrypts `plaintext` with associated data `ad`.
Bytes SealMessage(const SecretBytes& key, std::string_view ad,
                  std::string_view plaintext);
// Throws Error(kCorrupt) if the message was altered, truncated, or sealed
// with another key or associated data. The caller wipes the result.
std::string OpenMessage(const SecretBytes& key, std::string_view ad,
                        const Bytes& message);

// Data keys are wrapped, per recipient, under a batch key: a random key
// made once per ingest (or grant) for each role and for the recovery role,
// and sealed to it with crypto_box_seal. Sealing every document's key
// directly costs two X25519 operations per role per document (about 65 us
// each), which on small documents was 4-7% of ingest time; a wrap is one
// XChaCha20-Poly1305 message (about 1 us). `ad` names the document and the
// recipient, so a wrapped key moved to another row fails to open.
Bytes WrapKey(const SecretBytes& batch_key, std::string_view ad, const SecretBytes& key);
// Throws Error(kCorrupt) if the wrapped key was altered or belongs elsewhere.
SecretBytes UnwrapKey(const SecretBytes& batch_key, std::string_view ad, const Bytes& wrapped);
// The associated data of document `doc_id`'s key wrapped for `recipient`
// (a role id, or "recovery").
std::string DataKeyAd(std::string_view doc_id, std::string_view recipient);

// Associated data for chunk `index` of document `doc_id`'s extracted text;
// `last` marks the final chunk so truncation of the chunk list is detected.
// Version 1 (text files "DST1").
std::string TextChunkAd(std::string_view doc_id, std::uint32_t index, bool last);
// Version 2 (text files "DST2") also binds the word positions the chunk
// covers, which its record header holds in clear for choosing a snippet's
// chunk: a header edited to point a match elsewhere fails to open.
std::string TextChunkAdV2(std::string_view doc_id, std::uint32_t index, bool last,
                          std::uint32_t first_pos, std::uint32_t end_pos);

}  // namespace dossier::crypto
