// Routes: case links, their decisions, stop-entities, the graph and the
// linking settings.
#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/service_impl.h"
#include "repo/views.h"

namespace dossier::api {

namespace {

Response Links(Call& c) {
  return Json(200, repo::views::LinksJson(
                       c.svc.repo.Links(c.session(), c.param("id"), QueryNumber(c.req, "limit", 50, 500)), -1));
}

Response Decide(Call& c) {
  const JsonBody b(c.req.body, {"case", "decision", "why"});
  c.svc.repo.DecideLink(c.session(), c.param("id"), b.Str("case", 64), b.Str("decision", 16),
                        b.OptStr("why", 2000).value_or(""));
  return Json(200, repo::views::LinksJson(c.svc.repo.Links(c.session(), c.param("id")), -1));
}

Response Graph(Call& c) {
  const std::string case_id = c.req.Query("case");
  if (case_id.empty()) throw Error(ErrorCode::kInvalidArgument, "'case' is required");
  const int depth = static_cast<int>(QueryNumber(c.req, "depth", 2, 3));
  return Json(200, repo::views::GraphJson(c.svc.repo.Graph(c.session(), case_id, depth), -1));
}

Response StopEntity(Call& c) {
  const JsonBody b(c.req.body, {"type", "value", "stop"});
  c.svc.repo.SetStopEntity(c.session(), b.Str("type", 16), b.Str("value", 512), b.Bool("stop", true));
  Response r;
  r.status = 204;
  return r;
}

Response GetSettings(Call& c) {
  return Json(200, repo::views::LinkSettingsJson(c.svc.repo.GetLinkSettings(c.session()), -1));
}

Response SetSettings(Call& c) {
  const JsonBody b(c.req.body, {"stop_threshold", "deconfliction", "notices_per_hour", "phone_region"});
  if (!b.Has("stop_threshold") && !b.Has("deconfliction") && !b.Has("notices_per_hour") &&
      !b.Has("phone_region")) {
    throw Error(ErrorCode::kInvalidArgument, "give stop_threshold, deconfliction, notices_per_hour or phone_region");
  }
  repo::LinkSettings s = c.svc.repo.GetLinkSettings(c.session());
  if (auto v = b.OptStr("phone_region", 8)) s.phone_region = *v;
  if (auto v = b.OptInt("stop_threshold", 2, 100000)) s.stop_threshold = static_cast<std::uint32_t>(*v);
  if (auto v = b.OptInt("notices_per_hour", 0, 100000)) s.notices_per_hour = static_cast<std::uint32_t>(*v);
  if (auto v = b.OptStr("deconfliction", 16)) s.deconfliction = *v;
  c.svc.repo.SetLinkSettings(c.session(), s);
  return Json(200, repo::views::LinkSettingsJson(c.svc.repo.GetLinkSettings(c.session()), -1));
}

}  // namespace

void AddLinkRoutes(std::vector<Route>& r) {
  using B = BodyKind;
  using L = Lane;
  r.push_back({"GET", "/api/v1/cases/{id}/links", B::kNone, L::kQuery, true,
               "The case's links (decided first, then by score) with the shared entities and where "
               "they occur, deconfliction notices and stop-entities: ?limit=",
               Links});
  r.push_back({"POST", "/api/v1/cases/{id}/links", B::kJson, L::kQuery, true,
               "Decide a link {case, decision: confirm|reject|add|clear, why} -> the case's links",
               Decide});
  r.push_back({"GET", "/api/v1/graph", B::kNone, L::kQuery, true,
               "A case's neighbourhood: cases and entities as nodes: ?case=&depth=1-3", Graph});
  r.push_back({"POST", "/api/v1/stop-entities", B::kJson, L::kQuery, true,
               "Stop an entity from linking cases, or let it link again {type, value, stop}",
               StopEntity});
  r.push_back({"GET", "/api/v1/links/settings", B::kNone, L::kQuery, true,
               "The stop threshold, deconfliction policy, notice rate and default phone region", GetSettings});
  r.push_back({"PUT", "/api/v1/links/settings", B::kJson, L::kQuery, true,
               "Admin: {stop_threshold?, deconfliction?: notice|none, notices_per_hour?, phone_region?}", SetSettings});
}

}  // namespace dossier::api
