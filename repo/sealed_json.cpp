#include "repo/sealed_json.h"

#include "base/error.h"
#include "crypto/envelope.h"

namespace dossier::repo {

using nlohmann::json;

crypto::Bytes SealJson(const crypto::SecretBytes& key, std::string_view ad, const json& j) {
  // Names are made valid UTF-8 before they get here; the handler keeps a
  // stray byte from failing a whole commit.
  std::string plain = j.dump(-1, ' ', false, json::error_handler_t::replace);
  crypto::Bytes sealed = crypto::SealMessage(key, ad, plain);
  crypto::Wipe(plain);
  return sealed;
}

json OpenJson(const crypto::SecretBytes& key, std::string_view ad, const crypto::Bytes& sealed) {
  std::string plain = crypto::OpenMessage(key, ad, sealed);
  json j = json::parse(plain, nullptr, false);
  crypto::Wipe(plain);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(ErrorCode::kCorrupt, "encrypted metadata is malformed");
  }
  return j;
}

namespace {
[[noreturn]] void Malformed() { throw Error(ErrorCode::kCorrupt, "encrypted metadata is malformed"); }
}  // namespace

std::string JsonString(const json& j, const char* key, const char* fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_string()) Malformed();
  return it->get<std::string>();
}

std::vector<std::string> JsonStrings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) Malformed();
  for (const auto& v : *it) {
    if (!v.is_string()) Malformed();
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::uint64_t JsonUnsigned(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    Malformed();
  }
  return it->get<std::uint64_t>();
}

bool JsonBool(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) Malformed();
  return it->get<bool>();
}

}  // namespace dossier::repo
