#include "crypto/envelope.h"

#include <sodium.h>

#include "base/error.h"

namespace dossier::crypto {

SecretBytes NewDataKey() { return RandomSecret(kDataKeySize); }

SecretBytes DeriveDataSubkey(const SecretBytes& data_key, DataKeyUse use) {
  EnsureSodium();
  if (data_key.size() != crypto_kdf_KEYBYTES) {
    throw Error(ErrorCode::kCorrupt, "data key has the wrong length");
  }
  SecretBytes sub(32);
  crypto_kdf_derive_from_key(sub.data(), sub.size(),
                             static_cast<std::uint64_t>(use), "dossdata",
                             data_key.data());
  return sub;
}

Bytes SealMessage(const SecretBytes& key, std::string_view ad,
                  std::string_view plaintext) {
  EnsureSodium();
  constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  Bytes out(kNonce + plaintext.size() +
            crypto_aead_xchacha20poly1305_ietf_ABYTES);
  randombytes_buf(out.data(), kNonce);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + kNonce, &clen,
      reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
      out.data(), key.data());
  return out;
}

std::string OpenMessage(const SecretBytes& key, std::string_view ad,
                        const Bytes& message) {
  EnsureSodium();
  constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (message.size() < kNonce + kTag) {
    throw Error(ErrorCode::kCorrupt, "encrypted record is truncated");
  }
  std::string out(message.size() - kNonce - kTag, '\0');
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &mlen, nullptr,
          message.data() + kNonce, message.size() - kNonce,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          message.data(), key.data()) != 0) {
    throw Error(ErrorCode::kCorrupt,
                "encrypted record failed authentication (altered or misplaced)");
  }
  return out;
}

Bytes WrapKey(const SecretBytes& batch_key, std::string_view ad, const SecretBytes& key) {
  return SealMessage(batch_key, ad,
                     std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

SecretBytes UnwrapKey(const SecretBytes& batch_key, std::string_view ad, const Bytes& wrapped) {
  EnsureSodium();
  constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (wrapped.size() != kNonce + kDataKeySize + kTag) {
    throw Error(ErrorCode::kCorrupt, "a wrapped key has the wrong length");
  }
  // Decrypted straight into guarded memory: the key never sits in a string.
  SecretBytes key(kDataKeySize);
  unsigned long long klen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          key.data(), &klen, nullptr, wrapped.data() + kNonce, wrapped.size() - kNonce,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), wrapped.data(),
          batch_key.data()) != 0) {
    throw Error(ErrorCode::kCorrupt, "a wrapped key failed authentication (altered or misplaced)");
  }
  return key;
}

std::string DataKeyAd(std::string_view doc_id, std::string_view recipient) {
  std::string ad = "dossier.dk.v1|";
  ad.append(doc_id).append("|").append(recipient);
  return ad;
}

std::string TextChunkAd(std::string_view doc_id, std::uint32_t index,
                        bool last) {
  std::string ad = "dossier.text.v1|";
  ad.append(doc_id);
  ad.push_back('|');
  for (int i = 0; i < 4; ++i) ad.push_back(static_cast<char>(index >> (8 * i)));
  ad.push_back(last ? '\1' : '\0');
  return ad;
}

}  // namespace dossier::crypto

namespace dossier::crypto {

std::string TextChunkAdV2(std::string_view doc_id, std::uint32_t index, bool last,
                          std::uint32_t first_pos, std::uint32_t end_pos) {
  std::string ad = "dossier.text.v2|";
  ad.append(doc_id);
  ad.push_back('|');
  for (std::uint32_t v : {index, first_pos, end_pos}) {
    for (int i = 0; i < 4; ++i) ad.push_back(static_cast<char>(v >> (8 * i)));
  }
  ad.push_back(last ? '\1' : '\0');
  return ad;
}

}  // namespace dossier::crypto
