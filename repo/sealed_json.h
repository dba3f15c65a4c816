// Private to repo/: JSON records sealed under a key (a case's or a
// document's metadata), and reading their fields without trusting their
// types: a record that authenticates was written by Dossier, but an older
// version may have written fewer fields, and nothing here may throw
// anything but dossier::Error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secret.h"

namespace dossier::repo {

// Sealed records are at most this large (a mail's headers and fields).
constexpr std::size_t kMaxSealedJson = 8u << 20;

// Seals a JSON object under a key with associated data `ad`.
crypto::Bytes SealJson(const crypto::SecretBytes& key, std::string_view ad,
                       const nlohmann::json& j);
// Throws Error(kCorrupt) unless `sealed` opens to a JSON object.
nlohmann::json OpenJson(const crypto::SecretBytes& key, std::string_view ad,
                        const crypto::Bytes& sealed);

// A string field ("" or `fallback` if absent); Error(kCorrupt) if present
// with another type.
std::string JsonString(const nlohmann::json& j, const char* key, const char* fallback = "");
std::vector<std::string> JsonStrings(const nlohmann::json& j, const char* key);
std::uint64_t JsonUnsigned(const nlohmann::json& j, const char* key);
bool JsonBool(const nlohmann::json& j, const char* key);

}  // namespace dossier::repo
