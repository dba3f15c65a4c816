// The OpenAPI 3 document, built from the route table itself, so it lists
// exactly the routes the server has (a test checks it against the server
// and against docs/api.md).
#include <nlohmann/json.hpp>

#include "api/service_impl.h"

namespace dossier::api {

std::string OpenApiDocument(const std::vector<Route>& routes) {
  using nlohmann::json;
  json paths = json::object();
  for (const auto& r : routes) {
    json op = {{"summary", r.summary},
               {"operationId", r.method + " " + r.path},
               {"responses",
                {{"default",
                  {{"description", "An answer, or {error: {code, message}} with its status"}}}}}};
    json params = json::array();
    for (const auto& seg : r.segments) {
      if (seg.size() > 2 && seg.front() == '{') {
        params.push_back({{"name", seg.substr(1, seg.size() - 2)},
                          {"in", "path"},
                          {"required", true},
                          {"schema", {{"type", "string"}}}});
      }
    }
    if (!params.empty()) op["parameters"] = params;
    if (r.auth) op["security"] = json::array({{{"bearer", json::array()}}, {{"cookie", json::array()}}});
    if (r.body == BodyKind::kJson) {
      op["requestBody"] = {{"required", true},
                           {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    } else if (r.body == BodyKind::kStream) {
      op["requestBody"] = {
          {"required", true},
          {"content",
           {{"application/octet-stream", {{"schema", {{"type", "string"}, {"format", "binary"}}}}}}}};
    }
    std::string method = r.method;
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    paths[r.path][method] = op;
  }
  json doc = {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "Dossier"},
        {"version", "1"},
        {"description",
         "The Dossier HTTP API (docs/api.md). Errors are {error: {code, message}}."}}},
      {"paths", paths},
      {"components",
       {{"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
          {"cookie", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "dossier_session"}}}}}}}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dossier::api
