#include "api/service.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <unistd.h>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api/service_impl.h"
#include "crypto/secret.h"

namespace dossier::api {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCookie = "dossier_session";
constexpr const char* kPageCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
constexpr const char* kApiCsp = "default-src 'none'; frame-ancestors 'none'; sandbox";

std::int64_t MonotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Matches `segments` against a route template; fills `params`.
bool Matches(const Route& r, const std::vector<std::string>& segments,
             std::map<std::string, std::string>* params) {
  if (r.segments.size() != segments.size()) return false;
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& t = r.segments[i];
    if (t.size() > 2 && t.front() == '{' && t.back() == '}') {
      if (segments[i].empty() || segments[i].size() > 256) return false;
      found[t.substr(1, t.size() - 2)] = segments[i];
    } else if (t != segments[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

bool StateChanging(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

const char* TypeOf(const std::string& name) {
  const std::string ext = fs::path(name).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  return nullptr;
}

// The page's files: a flat folder read once at start; only regular files
// with a known type are served, by their exact name.
std::map<std::string, std::pair<std::string, std::string>> LoadFiles(const std::string& root) {
  std::map<std::string, std::pair<std::string, std::string>> files;
  if (root.empty()) return files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    const char* type = TypeOf(name);
    if (!type) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    files["/static/" + name] = {type, bytes.str()};
    if (name == "index.html") files["/"] = {type, bytes.str()};
  }
  // The libraries the page uses, as npm installs them beside the page
  // (web/package.json): the graph and the report charts draw with them
  // when they are there.
  for (const auto& [url, file] : {std::pair{"/static/cytoscape.js", "node_modules/cytoscape/dist/cytoscape.esm.min.mjs"},
                                  std::pair{"/static/chart.js", "node_modules/chart.js/dist/chart.umd.min.js"}}) {
    const fs::path lib = fs::path(root) / file;
    if (!fs::is_regular_file(lib, ec)) continue;
    std::ifstream in(lib, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    files[url] = {"text/javascript; charset=utf-8", bytes.str()};
  }
  return files;
}

void AddOpsRoutes(std::vector<Route>& routes) {
  routes.push_back({"GET", "/healthz", BodyKind::kNone, Lane::kInline, false,
                    "Liveness: {ok: true}", [](Call&) { return Json(200, R"({"ok":true})"); }});
  routes.push_back({"GET", "/metrics", BodyKind::kNone, Lane::kQuery, false,
                    "Prometheus metrics (loopback clients only unless --metrics-public)",
                    [](Call& c) {
                      const std::string& ip = c.req.client;
                      const bool local = ip == "127.0.0.1" || ip == "::1" || ip.rfind("127.", 0) == 0;
                      if (!local && !c.svc.options.metrics_public) return NotFound();
                      Response r;
                      r.body = c.svc.metrics.Render();
                      r.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                      return r;
                    }});
  routes.push_back({"GET", "/api/v1/openapi.json", BodyKind::kNone, Lane::kQuery, false,
                    "This API's OpenAPI 3 document",
                    [](Call& c) { return Json(200, c.svc.openapi); }});
  auto file = [](Call& c) {
    auto it = c.svc.files.find(c.req.path);
    if (it == c.svc.files.end()) return NotFound();
    Response r;
    r.body = it->second.second;
    r.Set("Content-Type", it->second.first);
    r.Set("Cache-Control", "no-cache");
    r.Set("Content-Security-Policy", kPageCsp);
    return r;
  };
  routes.push_back({"GET", "/", BodyKind::kNone, Lane::kInline, false, "The web page", file});
  routes.push_back({"GET", "/static/{file}", BodyKind::kNone, Lane::kInline, false,
                    "The web page's scripts and styles", file});
}

}  // namespace

static std::string CookieToken(const std::string& cookie_header) {
  std::size_t at = 0;
  while (at < cookie_header.size()) {
    std::size_t end = cookie_header.find(';', at);
    if (end == std::string::npos) end = cookie_header.size();
    std::string pair = cookie_header.substr(at, end - at);
    const std::size_t first = pair.find_first_not_of(' ');
    pair = first == std::string::npos ? "" : pair.substr(first);
    const std::string prefix = std::string(kCookie) + "=";
    if (pair.rfind(prefix, 0) == 0) return pair.substr(prefix.size());
    at = end + 1;
  }
  return "";
}

std::string TokenOf(const Request& req, bool* via_cookie) {
  const std::string& authz = req.Header("authorization");
  if (via_cookie) *via_cookie = false;
  if (authz.rfind("Bearer ", 0) == 0) return authz.substr(7);
  std::string token = CookieToken(req.Header("cookie"));
  if (via_cookie) *via_cookie = !token.empty();
  return token;
}

// ---- Impl ------------------------------------------------------------------------

Service::Impl::Impl(repo::Repository& r, ServiceOptions o)
    : repo(r),
      options(std::move(o)),
      clock(options.clock ? options.clock : SystemClock()),
      sessions(clock, options.sessions),
      logins(options.login_slots, options.login_queue),
      throttle(clock, options.throttle_per_client, options.throttle_per_account),
      metrics([this] {
        Gauges g;
        g.sessions = static_cast<double>(sessions.size());
        g.logins_running = logins.admitted();
        try {
          const repo::RepositoryStats s = repo.Stats();
          g.documents = static_cast<double>(s.documents);
          g.running_jobs = static_cast<double>(s.active_jobs);
          g.extraction_errors = static_cast<double>(s.extraction_errors);
          g.audit_queued = static_cast<double>(s.audit_queued);
          g.audit_dropped = static_cast<double>(s.audit_dropped);
        } catch (const Error&) {
          // A scrape never fails for the repository's sake: gauges stay 0.
        }
        return g;
      }) {
  AddAccountRoutes(routes);
  AddCaseRoutes(routes);
  AddSearchRoutes(routes);
  AddLinkRoutes(routes);
  AddAuditRoutes(routes);
  AddWorkflowRoutes(routes);
  AddOpsRoutes(routes);
  for (auto& r : routes) r.segments = Split(r.path);
  files = LoadFiles(options.web_root);
  openapi = OpenApiDocument(routes);
}

void Service::Impl::LogOut(const std::vector<repo::Session>& ended) {
  for (const auto& s : ended) {
    try {
      repo.Logout(s);
    } catch (const Error&) {
      // Already ended in the repository: nothing more to wipe.
    }
  }
}

void Service::Impl::Log(const std::string& line) {
  if (options.log) {
    options.log(line);
    return;
  }
  // One write(2) per line: lines from many threads never interleave.
  std::string out = line;
  out += '\n';
  (void)!::write(2, out.data(), out.size());
}

// ---- Service ---------------------------------------------------------------------

Service::Service(repo::Repository& repo, ServiceOptions options)
    : impl_(std::make_unique<Impl>(repo, std::move(options))) {}
Service::~Service() = default;

Metrics& Service::metrics() { return impl_->metrics; }
int Service::login_slots() const { return impl_->logins.slots(); }
void Service::Sweep() { impl_->LogOut(impl_->sessions.Sweep()); }

std::vector<Service::RouteInfo> Service::Routes() const {
  std::vector<RouteInfo> out;
  for (const auto& r : impl_->routes) out.push_back({r.method, r.path, r.summary, r.auth});
  return out;
}

Prepared Service::Prepare(Request& req) {
  Prepared p;
  req.started_us = MonotonicMicros();
  auto match = std::make_shared<RouteMatch>();
  p.match = match;
  try {
    // The client behind a trusted reverse proxy: the address it appended.
    for (const auto& proxy : impl_->options.trusted_proxies) {
      if (req.client != proxy) continue;
      const std::string& xff = req.Header("x-forwarded-for");
      if (xff.empty()) break;
      std::string last = xff.substr(xff.rfind(',') == std::string::npos ? 0 : xff.rfind(',') + 1);
      last.erase(0, last.find_first_not_of(' '));
      if (!last.empty() && last.size() <= 64) req.client = last;
      break;
    }
    ParseTarget(req.target, req);
    const std::vector<std::string> segments = Split(req.path);
    std::vector<std::string> allowed;
    // HEAD is GET without the body (the listener drops it).
    const std::string method = req.method == "HEAD" ? std::string("GET") : req.method;
    for (const auto& r : impl_->routes) {
      std::map<std::string, std::string> params;
      if (!Matches(r, segments, &params)) continue;
      if (r.method != method) {
        allowed.push_back(r.method);
        if (r.method == "GET") allowed.push_back("HEAD");
        continue;
      }
      match->route = &r;
      req.params = std::move(params);
      break;
    }
    if (!match->route) {
      if (allowed.empty()) {
        p.early = ErrorResponse(404, "no_route", "no such route");
      } else {
        Response r = ErrorResponse(405, "method_not_allowed", "this route does not take that method");
        std::string list;
        for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
        r.Set("Allow", list);
        p.early = std::move(r);
      }
      return p;
    }
    const Route& route = *match->route;
    p.body = route.body;
    p.lane = route.lane;

    if (route.auth) {
      bool via_cookie = false;
      const std::string token = TokenOf(req, &via_cookie);
      std::vector<repo::Session> expired;
      auto found = impl_->sessions.Find(token, &expired);
      impl_->LogOut(expired);
      if (!found) {
        p.early = ErrorResponse(ErrorCode::kUnauthenticated, "log in first (no valid session)");
        return p;
      }
      if (via_cookie && StateChanging(req.method) &&
          !crypto::ConstantTimeEqual(req.Header("x-csrf-token"), found->csrf_token)) {
        p.early = ErrorResponse(ErrorCode::kForbidden,
                                "this request needs the X-CSRF-Token header that login returned");
        return p;
      }
      match->session = found->session;
      match->token = token;
    }

    // The body: refused by its announced size before any of it is read.
    const std::string& length = req.Header("content-length");
    const bool has_body = (!length.empty() && length != "0") || !req.Header("transfer-encoding").empty();
    std::uint64_t announced = 0;
    if (!length.empty()) {
      try {
        std::size_t used = 0;
        announced = std::stoull(length, &used);
        if (used != length.size()) throw std::invalid_argument("length");
      } catch (const std::exception&) {
        p.early = ErrorResponse(ErrorCode::kInvalidArgument, "malformed Content-Length");
        return p;
      }
    }
    if (route.body == BodyKind::kNone && has_body) {
      p.early = ErrorResponse(ErrorCode::kInvalidArgument, "this route takes no body");
      return p;
    }
    if (route.body == BodyKind::kJson) {
      p.body_limit = impl_->options.json_cap;
      const std::string& type = req.Header("content-type");
      if (has_body && type.rfind("application/json", 0) != 0) {
        p.early = ErrorResponse(ErrorCode::kInvalidArgument,
                                "send the body as JSON (Content-Type: application/json)");
        return p;
      }
    }
    if (route.body == BodyKind::kStream) p.body_limit = impl_->options.upload_cap;
    if (announced > p.body_limit && route.body != BodyKind::kNone) {
      p.early = ErrorResponse(ErrorCode::kTooLarge, "the body is larger than this route accepts");
      return p;
    }
    if (route.body == BodyKind::kStream) {
      // Uploads hold a staging file and a network thread's attention: a
      // few at once, fewer from one user.
      const std::string& user = match->session->user();
      std::lock_guard lock(impl_->uploads_mu);
      if (impl_->uploads_running >= impl_->options.max_uploads ||
          impl_->uploads_by_user[user] >= impl_->options.max_uploads_per_user) {
        Response r = ErrorResponse(503, "busy", "too many uploads at once; try again in a moment");
        r.Set("Retry-After", "2");
        p.early = std::move(r);
        return p;
      }
      Call call{req, *impl_, *match, nullptr};
      p.receiver = route.begin(call);
      ++impl_->uploads_running;
      ++impl_->uploads_by_user[user];
      Impl* impl = impl_.get();
      match->upload_slot = std::shared_ptr<void>(nullptr, [impl, user](void*) {
        std::lock_guard l(impl->uploads_mu);
        --impl->uploads_running;
        if (--impl->uploads_by_user[user] == 0) impl->uploads_by_user.erase(user);
      });
    }
  } catch (const Error& e) {
    p.early = ErrorResponse(e.code(), e.what());
  } catch (const std::exception&) {
    p.early = ErrorResponse(ErrorCode::kInternal, "internal error");
  }
  return p;
}

std::optional<Response> Service::Admit(Prepared& p) {
  if (p.early || !p.match || !p.match->route || p.match->route->lane != Lane::kLogin) {
    return std::nullopt;
  }
  auto ticket = impl_->logins.Admit();
  if (!ticket) {
    Response r = ErrorResponse(503, "busy", "too many logins at once; try again in a moment");
    r.Set("Retry-After", "2");
    return r;
  }
  // Held until the request ends.
  p.match->ticket = std::make_shared<LoginGate::Ticket>(std::move(*ticket));
  return std::nullopt;
}

Response Service::Handle(Request& req, Prepared& p) {
  if (p.early) return *p.early;
  RouteMatch& match = *p.match;
  Call call{req, *impl_, match, p.receiver.get()};
  Response resp;
  try {
    resp = match.route->handle(call);
  } catch (const Error& e) {
    resp = ErrorResponse(e);
    // The repository ended the session (a password reset, the user
    // disabled): its token goes too.
    if (match.session && match.session->ended() && !match.token.empty()) {
      (void)impl_->sessions.End(match.token);
    }
  } catch (const std::exception&) {
    resp = ErrorResponse(ErrorCode::kInternal, "internal error");
  }
  if (resp.user.empty() && match.session) resp.user = match.session->user();
  return resp;
}

void Service::Decorate(const Request& req, Response& resp) {
  auto set_default = [&](const char* name, const char* value) {
    if (!resp.Find(name)) resp.Set(name, value);
  };
  set_default("X-Content-Type-Options", "nosniff");
  set_default("Referrer-Policy", "no-referrer");
  set_default("X-Frame-Options", "DENY");
  set_default("Cross-Origin-Opener-Policy", "same-origin");
  set_default("Cross-Origin-Resource-Policy", "same-origin");
  set_default("Cache-Control", "no-store");
  set_default("Content-Security-Policy", kApiCsp);
  if (req.tls) set_default("Strict-Transport-Security", "max-age=31536000");
}

void Service::Record(const Request& req, const Prepared* p, const Response& resp,
                     std::uint64_t bytes_sent) {
  const Route* route = p && p->match ? p->match->route : nullptr;
  const std::string templ = route ? route->path : "unmatched";
  const double seconds = (MonotonicMicros() - req.started_us) / 1e6;
  // Labels come from closed sets only, so nobody can grow the metrics.
  static const char* const kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  std::string method = "other";
  for (const char* m : kMethods) {
    if (req.method == m) method = m;
  }
  impl_->metrics.Request(method, templ, resp.status, seconds);
  // Written by hand, not through a JSON document: it is built for every
  // request. Every value but the user is the server's own (a method of a
  // closed set, a route template, numbers); the user name is escaped.
  char numbers[96];
  std::snprintf(numbers, sizeof numbers, "\"status\":%d,\"bytes\":%llu,\"ms\":%.2f,", resp.status,
                static_cast<unsigned long long>(bytes_sent), seconds * 1e3);
  std::string line;
  line.reserve(160);
  line += "{\"time\":\"" + Rfc3339(impl_->clock->Now()) + "\",\"method\":\"" + method +
          "\",\"route\":\"" + templ + "\"," + numbers + "\"user\":";
  if (resp.user.empty()) {
    line += "null}";
  } else {
    line += json(resp.user).dump(-1, ' ', false, json::error_handler_t::replace) + "}";
  }
  impl_->Log(line);
}

std::uint32_t QueryNumber(const Request& req, const char* name, std::uint32_t fallback,
                          std::uint32_t max) {
  auto it = req.query.find(name);
  if (it == req.query.end() || it->second.empty()) return fallback;
  const std::string& v = it->second;
  if (v.size() > 10 || v.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, std::string("'") + name + "' must be a whole number");
  }
  const unsigned long long n = std::stoull(v);
  if (n > max) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("'") + name + "' may be at most " + std::to_string(max));
  }
  return static_cast<std::uint32_t>(n);
}

}  // namespace dossier::api
