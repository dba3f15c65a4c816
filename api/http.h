// api::Request and api::Response: HTTP as the route functions see it,
// free of Beast, so everything but the listener compiles without it
// (STYLE.md, "Beast stays small").
// Thread-safety: plain values; a request belongs to one handler at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace dossier::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoded path, without the query
  std::map<std::string, std::string> query;    // decoded; a repeated key is refused
  std::map<std::string, std::string> headers;  // names lower-cased; repeats joined by ", "
  std::map<std::string, std::string> params;   // the route template's {names}
  std::string body;                            // JSON routes only (capped)
  std::string client;                          // the client's address (see trusted proxy)
  bool tls = false;
  std::int64_t started_us = 0;  // monotonic, for the access log

  // A header's value or "".
  const std::string& Header(const std::string& lower_name) const;
  // A query parameter, or `fallback`.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
};

// Writes one piece of a streamed body; throws if the client went away or
// stopped reading (the producer then stops).
using BodySink = std::function<void(std::string_view)>;

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Instead of `body`: a producer that writes the body in pieces (a
  // document's original bytes), run off the network threads, with at most
  // one piece in flight. It throws to abort the response.
  std::function<void(const BodySink&)> stream;
  std::uint64_t stream_size = 0;  // the streamed body's exact length
  std::string user;  // who made the request, for the access log ("" if nobody)

  void Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  const std::string* Find(std::string_view name) const;
};

// The one place that maps error codes to HTTP statuses (API.md).
int StatusFor(ErrorCode code);

// {"error": {"code": ..., "message": ...}} with the code's status.
Response ErrorResponse(ErrorCode code, const std::string& message);
// As above; a malformed query (QueryError) also gives its "position".
Response ErrorResponse(const Error& e);
Response ErrorResponse(int status, std::string_view code, const std::string& message);
// The answer to anything the user may not see: byte for byte the same
// whether the thing never existed or exists out of their reach.
Response NotFound();

// A JSON body (already serialised) with its status.
Response Json(int status, std::string body);
Response NoContent();
// A file to save (CSV, a PDF, …): `type` as Content-Type, saved as `filename`
// (an ASCII name the server makes, never one a document holds).
Response Download(std::string body, std::string type, const std::string& filename);

// Decodes %XX and, if `plus_is_space`, '+'; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);
// Splits a target into path and decoded query; Error(kInvalidArgument) for
// malformed escapes, repeated keys, NUL bytes or invalid UTF-8.
void ParseTarget(std::string_view target, Request& req);
bool ValidUtf8(std::string_view s);

}  // namespace dossier::api
