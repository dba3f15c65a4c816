// Routes: cases and their grants, uploads and the jobs that ingest them,
// documents (metadata, original bytes, text). Search: routes_search.cpp.
#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/service_impl.h"
#include "repo/views.h"

namespace dossier::api {

namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response Accepted(const std::string& job_id) {
  Response r = Json(202, Dump({{"job_id", job_id}}));
  r.Set("Location", "/api/v1/jobs/" + job_id);
  return r;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= s.size() && !s.empty()) {
    std::size_t end = s.find(',', at);
    if (end == std::string::npos) end = s.size();
    if (end > at) out.push_back(s.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// ---- Cases ----

Response ListCases(Call& c) {
  const std::string stage = c.req.Query("stage"), risk = c.req.Query("risk"), status = c.req.Query("status");
  repo::CaseFilter f;
  if (!stage.empty() && !(f.stage = repo::ParseStage(stage))) {
    throw Error(ErrorCode::kInvalidArgument, "unknown stage");
  }
  if (!risk.empty() && !(f.risk = repo::ParseRisk(risk))) {
    throw Error(ErrorCode::kInvalidArgument, "risk must be none, low, moderate or high");
  }
  if (!status.empty() && !(f.status = repo::ParseCaseStatus(status))) {
    throw Error(ErrorCode::kInvalidArgument, "status must be open or closed");
  }
  f.q = c.req.Query("q");
  return Json(200, repo::views::Cases(c.svc.repo.ListCases(c.session(), f), -1));
}

Response CreateCase(Call& c) {
  const JsonBody b(c.req.body, {"title", "description", "risk", "roles", "phone_region"});
  repo::NewCase n;
  n.phone_region = b.OptStr("phone_region", 8).value_or("");
  n.title = b.Str("title", 512);
  n.description = b.OptStr("description", 16384).value_or("");
  const auto risk = repo::ParseRisk(b.OptStr("risk", 16).value_or(""));
  if (!risk) throw Error(ErrorCode::kInvalidArgument, "field 'risk' must be low, moderate or high");
  n.risk = *risk;
  n.roles = b.StrList("roles");
  return Json(201, repo::views::Case(c.svc.repo.CreateCase(c.session(), n), -1));
}

Response GetCase(Call& c) {
  return Json(200, repo::views::Case(c.svc.repo.GetCase(c.session(), c.param("id")), -1));
}

Response CaseDocuments(Call& c) {
  const std::uint32_t limit = QueryNumber(c.req, "limit", 500, 5000);
  const std::uint32_t offset = QueryNumber(c.req, "offset", 0, 10'000'000);
  std::vector<repo::DocumentInfo> docs = c.svc.repo.ListDocuments(c.session(), c.param("id"));
  const std::size_t total = docs.size();
  const std::size_t from = std::min<std::size_t>(offset, docs.size());
  const std::size_t to = std::min<std::size_t>(from + limit, docs.size());
  std::vector<repo::DocumentInfo> page(std::make_move_iterator(docs.begin() + from),
                                       std::make_move_iterator(docs.begin() + to));
  json body = json::parse(repo::views::Documents(page, -1));
  body["total"] = total;
  return Json(200, Dump(body));
}

Response Grant(Call& c) {
  const JsonBody b(c.req.body, {"role"});
  return Accepted(c.svc.repo.StartGrant(c.session(), c.param("id"), b.Str("role", 128)));
}

Response Revoke(Call& c) {
  return Accepted(c.svc.repo.StartRevoke(c.session(), c.param("id"), c.param("role")));
}

// ---- Uploads ----

class UploadReceiver : public BodyReceiver {
 public:
  explicit UploadReceiver(std::unique_ptr<repo::Upload> upload) : upload_(std::move(upload)) {}
  void Write(std::string_view piece) override { upload_->Write(piece); }
  std::unique_ptr<repo::Upload> Take() { return std::move(upload_); }

 private:
  std::unique_ptr<repo::Upload> upload_;
};

std::unique_ptr<BodyReceiver> BeginUpload(Call& c) {
  repo::UploadRequest u;
  u.case_id = c.param("id");
  u.filename = c.req.Query("filename");
  u.path = c.req.Query("path");
  u.custodian = c.req.Query("custodian");
  if (u.custodian.size() > 256) throw Error(ErrorCode::kInvalidArgument, "'custodian' is too long");
  u.restrict_to = SplitList(c.req.Query("restrict"));
  u.language = c.req.Query("language", "en");
  u.max_bytes = c.svc.options.upload_cap;
  return std::make_unique<UploadReceiver>(c.svc.repo.BeginUpload(c.session(), u));
}

Response FinishUpload(Call& c) {
  auto* receiver = dynamic_cast<UploadReceiver*>(c.receiver);
  if (!receiver) throw Error(ErrorCode::kInternal, "an upload without its receiver");
  return Accepted(c.svc.repo.FinishUpload(c.session(), receiver->Take()));
}

// ---- Jobs ----

Response GetJob(Call& c) {
  const std::string id = c.param("id");
  const repo::JobInfo job = c.svc.repo.GetJob(c.session(), id);
  const std::string failures = c.req.Query("failures");
  if (failures == "csv") {
    return Download(repo::views::FailuresCsv(c.svc.repo.JobFailures(c.session(), id)), "text/csv; charset=utf-8",
                    "failures-" + id + ".csv");
  }
  if (failures == "json") {
    repo::IngestSummary s;
    s.documents = c.svc.repo.JobFailures(c.session(), id);
    return Json(200, repo::views::IngestSummaryBody(s, -1));
  }
  if (!failures.empty()) throw Error(ErrorCode::kInvalidArgument, "'failures' must be csv or json");
  const bool ended = job.state != repo::JobState::kQueued && job.state != repo::JobState::kRunning;
  if (ended && job.kind == repo::JobKind::kIngest) {
    const repo::IngestSummary summary = c.svc.repo.JobSummary(c.session(), id);
    return Json(200, repo::views::Job(job, -1, &summary));
  }
  return Json(200, repo::views::Job(job, -1));
}

Response CancelJob(Call& c) {
  c.svc.repo.CancelJob(c.session(), c.param("id"));
  return NoContent();
}

// ---- Documents ----

Response GetDocument(Call& c) {
  const std::string id = c.param("id");
  const repo::DocumentInfo d = c.svc.repo.GetDocument(c.session(), id);
  return Json(200, repo::views::DocumentWithFamily(d, c.svc.repo.GetFamily(c.session(), id), -1));
}

// RFC 6266/5987: an ASCII fallback and the UTF-8 name percent-encoded.
std::string Attachment(const std::string& filename) {
  std::string ascii, encoded;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char ch : filename) {
    ascii += (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != ';') ? static_cast<char>(ch) : '_';
    if (std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_') {
      encoded += static_cast<char>(ch);
    } else {
      encoded += '%';
      encoded += hex[ch >> 4];
      encoded += hex[ch & 15];
    }
  }
  if (ascii.empty()) ascii = "document";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

// A stored MIME type is the extractor's guess: only a well-formed
// "type/subtype" goes out, and the sandbox CSP and nosniff make even
// text/html inert.
std::string SafeType(const std::string& mime) {
  const bool ok = !mime.empty() && mime.size() < 128 &&
                  std::all_of(mime.begin(), mime.end(), [](unsigned char ch) {
                    return std::isalnum(ch) || ch == '/' || ch == '.' || ch == '-' || ch == '+' ||
                           ch == '_';
                  }) &&
                  std::count(mime.begin(), mime.end(), '/') == 1;
  return ok ? mime : "application/octet-stream";
}

Response Content(Call& c) {
  const std::string id = c.param("id");
  const repo::DocumentInfo d = c.svc.repo.ContentInfo(c.session(), id);
  Response r;
  r.Set("Content-Type", SafeType(d.mime));
  r.Set("Content-Disposition", Attachment(d.filename));
  r.Set("Content-Security-Policy", "sandbox");
  repo::Repository* repo = &c.svc.repo;
  const repo::Session session = c.session();
  r.stream = [repo, session, id](const BodySink& sink) { repo->ReadContent(session, id, sink); };
  r.stream_size = d.size;
  return r;
}

Response Text(Call& c) {
  Response r;
  r.body = c.svc.repo.ReadText(c.session(), c.param("id"));
  r.Set("Content-Type", "text/plain; charset=utf-8");
  r.Set("Content-Security-Policy", "sandbox");
  return r;
}

}  // namespace

void AddCaseRoutes(std::vector<Route>& r) {
  using B = BodyKind;
  using L = Lane;
  r.push_back({"GET", "/api/v1/cases", B::kNone, L::kQuery, true,
               "Cases you can see: ?stage=&risk=&status=&q=", ListCases});
  r.push_back({"POST", "/api/v1/cases", B::kJson, L::kQuery, true,
               "A new case {title, description?, risk?, roles}", CreateCase});
  r.push_back({"GET", "/api/v1/cases/{id}", B::kNone, L::kQuery, true, "One case", GetCase});
  r.push_back({"GET", "/api/v1/cases/{id}/documents", B::kNone, L::kQuery, true,
               "A case's documents, oldest first: ?limit=&offset=", CaseDocuments});
  r.push_back({"POST", "/api/v1/cases/{id}/documents", B::kStream, L::kTransfer, true,
               "Upload one file (raw bytes) ?filename=&path=&custodian=&restrict= -> 202 {job_id}",
               FinishUpload, BeginUpload});
  r.push_back({"POST", "/api/v1/cases/{id}/grants", B::kJson, L::kQuery, true,
               "Admin: grant a role {role} -> 202 {job_id} (re-seals keys, moves documents)", Grant});
  r.push_back({"DELETE", "/api/v1/cases/{id}/grants/{role}", B::kNone, L::kQuery, true,
               "Admin: revoke a role -> 202 {job_id}", Revoke});
  r.push_back({"GET", "/api/v1/jobs/{id}", B::kNone, L::kQuery, true,
               "A job: phase, progress, summary once ended; ?failures=csv|json", GetJob});
  r.push_back({"DELETE", "/api/v1/jobs/{id}", B::kNone, L::kQuery, true,
               "Cancel a job (what it acknowledged stays)", CancelJob});
  r.push_back({"GET", "/api/v1/documents/{id}", B::kNone, L::kQuery, true,
               "A document's metadata and family", GetDocument});
  r.push_back({"GET", "/api/v1/documents/{id}/content", B::kNone, L::kTransfer, true,
               "A document's original bytes (as an attachment)", Content});
  r.push_back({"GET", "/api/v1/documents/{id}/text", B::kNone, L::kQuery, true,
               "A document's extracted text", Text});
}

}  // namespace dossier::api
