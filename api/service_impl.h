// Private to api/: the route table and what a route function sees.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/service.h"

namespace dossier::api {

struct Call;
using Handler = std::function<Response(Call&)>;
using Begin = std::function<std::unique_ptr<BodyReceiver>(Call&)>;

struct Route {
  Route(std::string m, std::string p, BodyKind b, Lane l, bool a, std::string s, Handler h,
        Begin start = {})
      : method(std::move(m)),
        path(std::move(p)),
        body(b),
        lane(l),
        auth(a),
        summary(std::move(s)),
        handle(std::move(h)),
        begin(std::move(start)) {}
  std::string method;
  std::string path;  // template: "/api/v1/cases/{id}"
  BodyKind body = BodyKind::kNone;
  Lane lane = Lane::kQuery;
  bool auth = true;
  std::string summary;  // one line, for the OpenAPI document
  Handler handle;
  Begin begin;  // kStream: makes the receiver once the header is checked
  std::vector<std::string> segments;  // `path` split at '/'
};

struct RouteMatch {
  const Route* route = nullptr;
  std::optional<repo::Session> session;
  std::string token;  // the bearer or cookie token that found it
  std::shared_ptr<LoginGate::Ticket> ticket;  // Lane::kLogin: admission, until the end
  std::shared_ptr<void> upload_slot;          // kStream: counted until the end
};

// One request as a route function sees it.
struct Call {
  Request& req;
  Service::Impl& svc;
  RouteMatch& match;
  BodyReceiver* receiver = nullptr;  // kStream routes: the finished upload

  const repo::Session& session() const { return *match.session; }
  const std::string& param(const char* name) const { return req.params.at(name); }
};

struct Service::Impl {
  Impl(repo::Repository& r, ServiceOptions o);

  repo::Repository& repo;
  ServiceOptions options;
  std::shared_ptr<const Clock> clock;
  SessionStore sessions;
  LoginGate logins;
  LoginThrottle throttle;
  Metrics metrics;
  std::vector<Route> routes;
  std::map<std::string, std::pair<std::string, std::string>> files;  // url -> (type, bytes)
  std::string openapi;  // built once from `routes`
  std::mutex uploads_mu;
  int uploads_running = 0;                     // guarded by uploads_mu
  std::map<std::string, int> uploads_by_user;  // guarded by uploads_mu

  // Logs the sessions out of the repository (their keys are wiped).
  void LogOut(const std::vector<repo::Session>& ended);
  void Log(const std::string& line);
};

// The routes, by group (routes_*.cpp).
void AddAccountRoutes(std::vector<Route>& routes);
void AddCaseRoutes(std::vector<Route>& routes);
void AddSearchRoutes(std::vector<Route>& routes);
void AddLinkRoutes(std::vector<Route>& routes);
void AddAuditRoutes(std::vector<Route>& routes);
void AddWorkflowRoutes(std::vector<Route>& routes);

// Helpers the route functions share.
// The session token of a request: its bearer token, else its session
// cookie (then *via_cookie is set).
std::string TokenOf(const Request& req, bool* via_cookie);
std::uint32_t QueryNumber(const Request& req, const char* name, std::uint32_t fallback,
                          std::uint32_t max);
std::string OpenApiDocument(const std::vector<Route>& routes);

}  // namespace dossier::api
