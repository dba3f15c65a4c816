#include "api/json_body.h"

#include <cstring>

#include "base/error.h"

namespace dossier::api {

namespace {
[[noreturn]] void Bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

// nlohmann's parser recurses once per nesting level, so a body of a
// million '[' would exhaust the stack: the depth is checked first.
bool NestsTooDeep(const std::string& text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}
}  // namespace

JsonBody::JsonBody(const std::string& text, std::initializer_list<const char*> allowed) {
  if (text.empty()) Bad("the request needs a JSON body");
  if (NestsTooDeep(text, 32)) Bad("the body nests too deeply");
  try {
    j_ = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    Bad("the body is not valid JSON (or not UTF-8)");
  }
  if (!j_.is_object()) Bad("the body must be a JSON object");
  for (const auto& [key, value] : j_.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) Bad("unknown field in the body (this route takes other fields)");
  }
}

std::optional<std::string> JsonBody::OptStr(const char* name, std::size_t max_bytes) const {
  auto it = j_.find(name);
  if (it == j_.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) Bad(std::string("field '") + name + "' must be a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    Bad(std::string("field '") + name + "' is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (s.find('\0') != std::string::npos) Bad(std::string("field '") + name + "' holds a NUL");
  return s;
}

std::string JsonBody::Str(const char* name, std::size_t max_bytes) const {
  auto v = OptStr(name, max_bytes);
  if (!v) Bad(std::string("field '") + name + "' is required");
  return *v;
}

std::vector<std::string> JsonBody::StrList(const char* name, std::size_t max_items) const {
  auto it = j_.find(name);
  if (it == j_.end() || it->is_null()) return {};
  if (!it->is_array()) Bad(std::string("field '") + name + "' must be a list of strings");
  if (it->size() > max_items) Bad(std::string("field '") + name + "' has too many items");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string() || v.get_ref<const std::string&>().size() > 256) {
      Bad(std::string("field '") + name + "' must be a list of short strings");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool JsonBody::Bool(const char* name, bool fallback) const {
  auto it = j_.find(name);
  if (it == j_.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) Bad(std::string("field '") + name + "' must be true or false");
  return it->get<bool>();
}

std::optional<std::int64_t> JsonBody::OptInt(const char* name, std::int64_t min, std::int64_t max) const {
  auto it = j_.find(name);
  if (it == j_.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) Bad(std::string("field '") + name + "' must be a whole number");
  const auto v = it->get<std::int64_t>();
  if (v < min || v > max) {
    Bad(std::string("field '") + name + "' must be " + std::to_string(min) + "-" + std::to_string(max));
  }
  return v;
}

}  // namespace dossier::api
