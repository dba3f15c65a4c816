#include "api/http.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace dossier::api {

const std::string& Request::Header(const std::string& lower_name) const {
  static const std::string kEmpty;
  auto it = headers.find(lower_name);
  return it == headers.end() ? kEmpty : it->second;
}

std::string Request::Query(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

const std::string* Response::Find(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return &v;
    }
  }
  return nullptr;
}

int StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kSecondFactor: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kUnprocessable: return 422;
    case ErrorCode::kUnsupported: return 422;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kCorrupt: return 500;
    case ErrorCode::kIo: return 500;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

Response ErrorResponse(int status, std::string_view code, const std::string& message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return Json(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Response ErrorResponse(ErrorCode code, const std::string& message) {
  if (code == ErrorCode::kNotFound) return NotFound();
  // Internal failures say nothing about what failed inside.
  const int status = StatusFor(code);
  Response r = ErrorResponse(status, ErrorCodeName(code),
                             status == 500 && code == ErrorCode::kInternal ? "internal error" : message);
  if (code == ErrorCode::kRateLimited && !r.Find("Retry-After")) r.Set("Retry-After", "60");
  return r;
}

Response ErrorResponse(const Error& e) {
  if (const auto* q = dynamic_cast<const QueryError*>(&e)) {
    nlohmann::json body = {{"error", {{"code", ErrorCodeName(e.code())},
                                      {"message", std::string(e.what())},
                                      {"position", q->position()}}}};
    return Json(400, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return ErrorResponse(e.code(), e.what());
}

Response NotFound() {
  return ErrorResponse(404, "not_found", "not found, or not visible to you");
}

Response Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.Set("Content-Type", "application/json; charset=utf-8");
  return r;
}

Response Download(std::string body, std::string type, const std::string& filename) {
  Response r;
  r.body = std::move(body);
  r.Set("Content-Type", std::move(type));
  r.Set("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  return r;
}

Response NoContent() {
  Response r;
  r.status = 204;
  return r;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

void ParseTarget(std::string_view target, Request& req) {
  const std::size_t q = target.find('?');
  const std::string_view raw_path = target.substr(0, q);
  auto path = PercentDecode(raw_path, false);
  if (!path || path->find('\0') != std::string::npos || !ValidUtf8(*path) || path->empty() ||
      path->front() != '/') {
    throw Error(ErrorCode::kInvalidArgument, "the request's path is malformed");
  }
  req.path = std::move(*path);
  req.query.clear();
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value || key->find('\0') != std::string::npos ||
        value->find('\0') != std::string::npos || !ValidUtf8(*key) || !ValidUtf8(*value)) {
      throw Error(ErrorCode::kInvalidArgument, "the request's query string is malformed");
    }
    if (!req.query.emplace(std::move(*key), std::move(*value)).second) {
      throw Error(ErrorCode::kInvalidArgument, "a query parameter is repeated");
    }
  }
}

}  // namespace dossier::api
