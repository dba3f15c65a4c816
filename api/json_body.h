// A request's JSON body, checked as it is read: an object, only known
// fields, each of the expected type and size. Every problem is an
// Error(kInvalidArgument) naming the field (a field name is the API's own,
// never user content), so bad input gets a 400, never a 500.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dossier::api {

class JsonBody {
 public:
  // Parses `text` (UTF-8 is checked by the parser); `allowed` lists every
  // field the route knows: any other is refused.
  JsonBody(const std::string& text, std::initializer_list<const char*> allowed);

  // A string field: required (throws if missing) or optional.
  std::string Str(const char* name, std::size_t max_bytes = 1024) const;
  std::optional<std::string> OptStr(const char* name, std::size_t max_bytes = 1024) const;
  std::vector<std::string> StrList(const char* name, std::size_t max_items = 100) const;
  bool Bool(const char* name, bool fallback) const;
  // A whole number within [min, max], or nothing when absent.
  std::optional<std::int64_t> OptInt(const char* name, std::int64_t min, std::int64_t max) const;
  bool Has(const char* name) const { return j_.contains(name); }

 private:
  nlohmann::json j_;
};

}  // namespace dossier::api
