// Routes: search (facets, families, exceptions, export), tags, saved
// searches and search-term reports.
#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/service_impl.h"
#include "repo/views.h"

namespace dossier::api {

namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

constexpr std::size_t kMaxQuery = 4096;

std::string QueryText(const Request& req, const char* name = "q") {
  std::string q = req.Query(name);  // empty: every document the user can open
  if (q.size() > kMaxQuery) throw Error(ErrorCode::kInvalidArgument, "the query is too long");
  return q;
}

bool Flag(const Request& req, const char* name, bool fallback) {
  const std::string v = req.Query(name, fallback ? "true" : "false");
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw Error(ErrorCode::kInvalidArgument, std::string("'") + name + "' must be true or false");
}

repo::SearchRequest RequestOf(const Request& req) {
  repo::SearchRequest s;
  s.query = QueryText(req);
  s.case_id = req.Query("case");
  s.limit = QueryNumber(req, "limit", 20, 100);
  s.offset = QueryNumber(req, "offset", 0, 10000);
  const std::string sort = req.Query("sort", "relevance");
  if (sort != "relevance" && sort != "date") {
    throw Error(ErrorCode::kInvalidArgument, "'sort' must be relevance or date");
  }
  s.sort_by_date = sort == "date";
  s.family = Flag(req, "family", false);
  // facets=: none; any list (or the parameter left out): all of them.
  s.facets = req.query.count("facets") == 0 || !req.Query("facets").empty();
  return s;
}

Response Search(Call& c) {
  return Json(200, repo::views::Search(c.svc.repo.Search(c.session(), RequestOf(c.req)), -1));
}

Response Export(Call& c) {
  repo::SearchRequest s = RequestOf(c.req);
  return Download(repo::views::ExportCsv(c.svc.repo.ExportHits(c.session(), s)), "text/csv; charset=utf-8", "hits.csv");
}

Response Exceptions(Call& c) {
  const auto e = c.svc.repo.SearchExceptions(c.session(), c.req.Query("case"),
                                             QueryNumber(c.req, "offset", 0, 10'000'000),
                                             QueryNumber(c.req, "limit", 100, 1000));
  return Json(200, repo::views::Exceptions(e, -1));
}

Response Terms(Call& c) {
  const JsonBody b(c.req.body, {"terms", "case"});
  const std::vector<std::string> terms = b.StrList("terms", 5000);
  const auto report = c.svc.repo.SearchTerms(c.session(), terms, b.OptStr("case").value_or(""));
  if (c.req.Query("format", "json") == "csv") {
    return Download(repo::views::TermReportCsv(report), "text/csv; charset=utf-8", "search-terms.csv");
  }
  return Json(200, repo::views::TermReportJson(report, -1));
}

Response TagDocument(Call& c) {
  const JsonBody b(c.req.body, {"add", "remove"});
  const auto tags = c.svc.repo.TagDocument(c.session(), c.param("id"), b.StrList("add", 64),
                                           b.StrList("remove", 64));
  return Json(200, repo::views::Tags(tags, -1));
}

Response TagMatching(Call& c) {
  const JsonBody b(c.req.body, {"q", "case", "add", "remove"});
  if (!b.Has("q")) throw Error(ErrorCode::kInvalidArgument, "field 'q' is required (\"\" for every document)");
  const std::string q = b.OptStr("q", kMaxQuery).value_or("");
  const std::uint64_t changed =
      c.svc.repo.TagMatching(c.session(), q, b.OptStr("case").value_or(""), b.StrList("add", 64),
                             b.StrList("remove", 64));
  return Json(200, Dump({{"changed", changed}}));
}

Response GetTagPolicy(Call& c) {
  (void)c.session();
  return Json(200, Dump({{"privileged_roles", c.svc.repo.PrivilegedTagRoles()}}));
}

Response SetTagPolicy(Call& c) {
  const JsonBody b(c.req.body, {"privileged_roles"});
  if (!b.Has("privileged_roles")) {
    throw Error(ErrorCode::kInvalidArgument, "field 'privileged_roles' is required ([] for anyone)");
  }
  c.svc.repo.SetPrivilegedTagRoles(c.session(), b.StrList("privileged_roles", 100));
  return Json(200, Dump({{"privileged_roles", c.svc.repo.PrivilegedTagRoles()}}));
}

Response SaveSearch(Call& c) {
  const JsonBody b(c.req.body, {"name", "query", "case"});
  const auto s = c.svc.repo.SaveSearch(c.session(), b.Str("name", 200), b.OptStr("query", kMaxQuery).value_or(""),
                                       b.OptStr("case").value_or(""));
  return Json(201, repo::views::SavedSearchBody(s, -1));
}

Response ListSearches(Call& c) {
  return Json(200, repo::views::SavedSearches(c.svc.repo.ListSavedSearches(c.session()), -1));
}

Response RunSearch(Call& c) {
  const auto run = c.svc.repo.RunSavedSearch(c.session(), c.param("id"),
                                             QueryNumber(c.req, "offset", 0, 10000),
                                             QueryNumber(c.req, "limit", 20, 100));
  return Json(200, repo::views::SavedSearchRunBody(run, -1));
}

Response DeleteSearch(Call& c) {
  c.svc.repo.DeleteSavedSearch(c.session(), c.param("id"));
  Response r;
  r.status = 204;
  return r;
}

}  // namespace

Response MatchText(Call& c) {
  return Json(200, repo::views::TextMatchesJson(
                       c.svc.repo.MatchText(c.session(), c.param("id"), QueryText(c.req)), -1));
}

Response FindEntity(Call& c) {
  const std::string type = c.req.Query("type"), value = c.req.Query("value");
  if (type.empty() || value.empty()) throw Error(ErrorCode::kInvalidArgument, "'type' and 'value' are required");
  if (value.size() > 512) throw Error(ErrorCode::kInvalidArgument, "the value is too long");
  return Json(200, repo::views::EntityJson(
                       c.svc.repo.FindEntity(c.session(), type, value, QueryNumber(c.req, "limit", 50, 1000)), -1));
}

void AddSearchRoutes(std::vector<Route>& r) {
  using B = BodyKind;
  using L = Lane;
  r.push_back({"GET", "/api/v1/search", B::kNone, L::kQuery, true,
               "Search: ?q=&case=&limit=&offset=&sort=relevance|date&family=true|false&facets=",
               Search});
  r.push_back({"GET", "/api/v1/search/export", B::kNone, L::kTransfer, true,
               "Every hit of ?q=&case= as CSV (at most 100,000)", Export});
  r.push_back({"GET", "/api/v1/search/exceptions", B::kNone, L::kQuery, true,
               "Documents in scope not fully searchable: ?case=&limit=&offset=", Exceptions});
  r.push_back({"POST", "/api/v1/search/terms", B::kJson, L::kTransfer, true,
               "Search-term report {terms, case?}; ?format=csv", Terms});
  r.push_back({"POST", "/api/v1/search/tags", B::kJson, L::kTransfer, true,
               "Tag every hit {q, case?, add, remove} -> {changed}", TagMatching});
  r.push_back({"GET", "/api/v1/entities", B::kNone, L::kQuery, true,
               "An entity's documents and cases you may open: ?type=&value=&limit=", FindEntity});
  r.push_back({"GET", "/api/v1/documents/{id}/matches", B::kNone, L::kQuery, true,
               "Where ?q= matches in the document's text: {matches: [[begin, end]], truncated} "
               "in characters",
               MatchText});
  r.push_back({"POST", "/api/v1/documents/{id}/tags", B::kJson, L::kQuery, true,
               "Add and remove a document's tags {add, remove} -> {tags}", TagDocument});
  r.push_back({"GET", "/api/v1/tags/policy", B::kNone, L::kQuery, true,
               "The roles that may set 'privileged'", GetTagPolicy});
  r.push_back({"PUT", "/api/v1/tags/policy", B::kJson, L::kQuery, true,
               "Admin: the roles that may set 'privileged' {privileged_roles}", SetTagPolicy});
  r.push_back({"POST", "/api/v1/searches", B::kJson, L::kQuery, true,
               "Save a search {name, query, case?}", SaveSearch});
  r.push_back({"GET", "/api/v1/searches", B::kNone, L::kQuery, true, "Your saved searches",
               ListSearches});
  r.push_back({"GET", "/api/v1/searches/{id}/run", B::kNone, L::kQuery, true,
               "Run a saved search: results plus new_since_last_run; ?limit=&offset=", RunSearch});
  r.push_back({"DELETE", "/api/v1/searches/{id}", B::kNone, L::kQuery, true,
               "Delete a saved search", DeleteSearch});
}

}  // namespace dossier::api
