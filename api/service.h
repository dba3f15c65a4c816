// api::Service: the HTTP API and the web page as plain functions from a
// Request to a Response, over one open repo::Repository. The listener
// (server.cpp, the one file with Beast) calls Prepare when a request's
// header has arrived and Handle once its body has; everything between
// HTTP and the repository happens here: routing, authentication (bearer
// token or cookie plus CSRF header), login throttling and admission, body
// caps, JSON validation, the error bodies of API.md, security headers,
// the access log and metrics.
// Thread-safety: Prepare and Handle may run on any threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/http.h"
#include "api/metrics.h"
#include "base/clock.h"
#include "repo/repository.h"

namespace dossier::api {

struct ServiceOptions {
  std::string web_root;  // index.html and the page's files; empty: no page
  std::uint64_t upload_cap = std::uint64_t{2} << 30;
  std::size_t json_cap = 1 << 20;
  int login_slots = 2;   // Argon2id derivations at once
  int login_queue = 8;   // more waiting for them; past that, 503
  int max_uploads = 16;          // bodies being received at once, in all
  int max_uploads_per_user = 4;  // and from one user
  int throttle_per_client = 100;   // failed logins per account and address, per hour
  int throttle_per_account = 1000; // failed logins per account, per hour
  // Peers whose X-Forwarded-For names the client (a reverse proxy).
  std::vector<std::string> trusted_proxies;
  // /metrics answers loopback clients only, unless this is set.
  bool metrics_public = false;
  SessionLimits sessions;
  std::shared_ptr<const Clock> clock;  // null: the system clock
  // Where the access log goes (one JSON line per request); null: stderr.
  std::function<void(const std::string&)> log;
};

// How the listener reads a request's body.
enum class BodyKind { kNone, kJson, kStream };
// Which pool runs the handler: people's queries, key derivations for
// logins, or transfers of document bytes; a slow one never holds up the
// others.
// kInline: answered on the network thread itself (liveness, the page's
// files: nothing that touches the repository or blocks).
enum class Lane { kQuery, kLogin, kTransfer, kInline };

// Receives a streamed body (an upload) piece by piece.
class BodyReceiver {
 public:
  virtual ~BodyReceiver() = default;
  // Throws dossier::Error to refuse the rest (then the listener answers
  // ErrorResponse and closes the connection).
  virtual void Write(std::string_view piece) = 0;
};

struct RouteMatch;

// What the listener does with a request whose header arrived.
struct Prepared {
  // Answer this now, without reading the body (then close the connection
  // if a body was announced).
  std::optional<Response> early;
  BodyKind body = BodyKind::kNone;
  std::uint64_t body_limit = 0;
  Lane lane = Lane::kQuery;
  std::unique_ptr<BodyReceiver> receiver;  // kStream
  std::shared_ptr<RouteMatch> match;       // for Handle
};

class Service {
 public:
  Service(repo::Repository& repo, ServiceOptions options);
  ~Service();

  // Routing, authentication and admission. Cheap: runs on a network thread.
  Prepared Prepare(Request& req);
  // For Lane::kLogin, once the body is in: a place among the logins
  // deriving keys, or the 503 to answer instead (taken only now, so a
  // client sending its body slowly holds no slot).
  std::optional<Response> Admit(Prepared& prepared);
  // The route's work, on the lane's pool. Never throws.
  Response Handle(Request& req, Prepared& prepared);
  // Adds the security headers (before the response is written).
  void Decorate(const Request& req, Response& resp);
  // Logs the request (one JSON line) and counts it, once it was answered.
  void Record(const Request& req, const Prepared* prepared, const Response& resp,
              std::uint64_t bytes_sent);

  Metrics& metrics();
  int login_slots() const;
  // Ends expired sessions (call now and then).
  void Sweep();

  // Every route: method and template, for the OpenAPI document and tests.
  struct RouteInfo {
    std::string method, path, summary;
    bool auth;
  };
  std::vector<RouteInfo> Routes() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dossier::api
