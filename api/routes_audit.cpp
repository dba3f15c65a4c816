// Routes: the audit trail (repo/audit.h): events, their export, the chain's
// check, the signed head and the proofs scripts/audit_check.py checks.
#include <charconv>

#include "api/service_impl.h"
#include "base/clock.h"
#include "repo/views.h"

namespace dossier::api {

namespace {

std::uint64_t PathNumber(const std::string& text, const char* what) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0) {
    throw Error(ErrorCode::kInvalidArgument, std::string(what) + " must be a positive number");
  }
  return v;
}

std::int64_t QueryTime(const Request& req, const char* name) {
  const std::string v = req.Query(name);
  if (v.empty()) return 0;
  std::int64_t t = 0;
  if (!ParseRfc3339(v, &t)) {
    throw Error(ErrorCode::kInvalidArgument, std::string("'") + name + "' wants a time like 2026-12-01T00:00:00Z");
  }
  return t;
}

Response Events(Call& c) {
  repo::AuditFilter f;
  f.actor = c.req.Query("user");
  f.action = c.req.Query("action");
  f.target = c.req.Query("target");
  f.case_id = c.req.Query("case");
  f.detail = c.req.Query("detail");
  f.since = QueryTime(c.req, "since");
  f.until = QueryTime(c.req, "until");
  f.after = QueryNumber(c.req, "after", 0, 4'000'000'000u);
  f.limit = QueryNumber(c.req, "limit", 100, 1000);
  const auto events = c.svc.repo.AuditEvents(c.session(), f);
  const std::string format = c.req.Query("format", "json");
  if (format == "csv") return Download(repo::views::AuditEventsCsv(events), "text/csv; charset=utf-8", "audit.csv");
  if (format == "jsonl") {
    return Download(repo::views::AuditEventsJsonLines(events), "application/x-ndjson", "audit.jsonl");
  }
  if (format != "json") throw Error(ErrorCode::kInvalidArgument, "'format' is json, csv or jsonl");
  return Json(200, repo::views::AuditEventsJson(events, -1));
}

Response Verify(Call& c) {
  const auto v = c.svc.repo.VerifyAudit(c.session());
  return Json(200, repo::views::AuditVerdictJson(v, -1));
}

Response Head(Call& c) {
  return Json(200, repo::views::AuditHeadJson(c.svc.repo.SignedAuditHead(c.session()), -1));
}

Response Proof(Call& c) {
  return Json(200, repo::views::AuditProofJson(
                       c.svc.repo.ProveAuditEvent(c.session(), PathNumber(c.param("seq"), "the event's number")), -1));
}

Response Consistency(Call& c) {
  const std::string first = c.req.Query("first");
  if (first.empty()) throw Error(ErrorCode::kInvalidArgument, "'first' (the older head's size) is required");
  return Json(200, repo::views::AuditConsistencyJson(
                       c.svc.repo.ProveAuditConsistency(c.session(), PathNumber(first, "'first'")), -1));
}

Response Custody(Call& c) {
  const auto report = c.svc.repo.DocumentCustody(c.session(), c.param("id"));
  const std::string format = c.req.Query("format", "json");
  const std::string name = "custody-" + report.document.id;
  if (format == "csv") return Download(repo::views::CustodyCsv(report), "text/csv; charset=utf-8", name + ".csv");
  if (format == "pdf") {
    return Download(repo::views::CustodyPdf(report, c.svc.clock->Now()), "application/pdf", name + ".pdf");
  }
  if (format != "json") throw Error(ErrorCode::kInvalidArgument, "'format' is json, csv or pdf");
  return Json(200, repo::views::CustodyJson(report, -1));
}

}  // namespace

void AddAuditRoutes(std::vector<Route>& r) {
  using B = BodyKind;
  using L = Lane;
  r.push_back({"GET", "/api/v1/audit", B::kNone, L::kQuery, true,
               "Admins and the auditor role: events in order {events:[{seq, at, time, user, action, target, "
               "detail?, detail_sealed?, detail_hash, hash}]}: "
               "?user=&action=&target=|case=&detail=&since=&until=&after=&limit=&format=json|csv|jsonl",
               Events});
  r.push_back({"GET", "/api/v1/audit/verify", B::kNone, L::kQuery, true,
               "Checks every event against the chain and the signed head -> {ok, events, unsigned_events, head, "
               "first_bad?, problem?}",
               Verify});
  r.push_back({"GET", "/api/v1/audit/head", B::kNone, L::kQuery, true,
               "Signs and returns the head of the trail, to keep elsewhere", Head});
  r.push_back({"GET", "/api/v1/audit/proof/{seq}", B::kNone, L::kQuery, true,
               "One event's RFC 9162 inclusion proof against the signed head", Proof});
  r.push_back({"GET", "/api/v1/audit/consistency", B::kNone, L::kQuery, true,
               "That an older head of ?first= events is a prefix of today's (RFC 9162 consistency proof)",
               Consistency});
  r.push_back({"GET", "/api/v1/documents/{id}/custody", B::kNone, L::kQuery, true,
               "Admins and auditors who may open the document: its chain of custody, intake hashes and every "
               "event on it: ?format=json|csv",
               Custody});
}

}  // namespace dossier::api
