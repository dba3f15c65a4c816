#include "repo/views.h"

#include <nlohmann/json.hpp>

namespace dossier::repo::views {

using nlohmann::json;

namespace {
json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
std::string Dump(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

json CaseJson(const CaseInfo& c) {
  return {{"id", c.id},
          {"title", c.title},
          {"description", c.description},
          {"stage", StageName(c.stage)},
          {"risk", NullIfEmpty(std::string(RiskName(c.risk)))},
          {"status", CaseStatusName(c.status)},
          {"owner", c.owner},
          {"assignees", c.assignees},
          {"roles", c.roles},
          {"created_at", c.created_at},
          {"updated_at", c.updated_at},
          {"document_count", c.document_count}};
}

json IngestedJson(const IngestedDocument& d) {
  return {{"id", NullIfEmpty(d.id)},
          {"parent_id", NullIfEmpty(d.parent_id)},
          {"path", d.path},
          {"sha256", d.sha256},
          {"mime", d.mime},
          {"status", StatusName(d.status)},
          {"error", NullIfEmpty(d.error)},
          {"duplicate_of", NullIfEmpty(d.duplicate_of)}};
}
}  // namespace

std::string Case(const CaseInfo& c, int indent) { return Dump(CaseJson(c), indent); }

std::string Cases(const std::vector<CaseInfo>& cases, int indent) {
  json arr = json::array();
  for (const auto& c : cases) arr.push_back(CaseJson(c));
  return Dump(json{{"cases", arr}}, indent);
}

json DocumentJson(const DocumentInfo& d) {
  return {{"id", d.id},
               {"case_id", d.case_id},
               {"parent_id", NullIfEmpty(d.parent_id)},
               {"filename", d.filename},
               {"path", d.path},
               {"mime", d.mime},
               {"size", d.size},
               {"sha256", d.sha256},
               {"md5", d.md5},
               {"language", d.language},
               {"custodian", d.custodian},
               {"dates", {{"ingested", d.created_at}}},
               {"entities", json::array()},
               {"status", StatusName(d.status)},
               {"duplicate_of", NullIfEmpty(d.duplicate_of)},
               {"indexed_bytes", d.indexed_bytes},
               {"fields", d.fields},
               {"error", NullIfEmpty(d.error)}};
}

json BriefJson(const DocumentInfo& d) {
  return {{"id", d.id},         {"case_id", d.case_id}, {"filename", d.filename},
          {"path", d.path},     {"mime", d.mime},       {"status", StatusName(d.status)},
          {"size", d.size}};
}

std::string Document(const DocumentInfo& d, int indent) { return Dump(DocumentJson(d), indent); }

std::string DocumentWithFamily(const DocumentInfo& d, const DocumentFamily& f, int indent) {
  json body = DocumentJson(d);
  json children = json::array(), duplicates = json::array();
  for (const auto& c : f.children) children.push_back(BriefJson(c));
  for (const auto& c : f.duplicates) duplicates.push_back(BriefJson(c));
  body["family"] = {{"parent", f.parent ? BriefJson(*f.parent) : json(nullptr)},
                    {"children", children},
                    {"duplicates", duplicates}};
  return Dump(body, indent);
}

std::string Documents(const std::vector<DocumentInfo>& docs, int indent) {
  json arr = json::array();
  for (const auto& d : docs) arr.push_back(DocumentJson(d));
  return Dump(json{{"documents", arr}}, indent);
}

std::string Users(const std::vector<UserInfo>& users, int indent) {
  json arr = json::array();
  for (const auto& u : users) {
    arr.push_back({{"user", u.name},
                   {"admin", u.admin},
                   {"disabled", u.disabled},
                   {"totp", u.totp},
                   {"roles", u.roles},
                   {"created_at", u.created_at}});
  }
  return Dump(json{{"users", arr}}, indent);
}

std::string Roles(const std::vector<RoleInfo>& roles, int indent) {
  json arr = json::array();
  for (const auto& r : roles) arr.push_back({{"name", r.name}, {"members", r.members}});
  return Dump(json{{"roles", arr}}, indent);
}

std::string FailuresCsv(const std::vector<IngestedDocument>& failures) {
  auto cell = [](std::string v) {
    // A cell starting like a formula is defused (CSV injection).
    if (!v.empty() && std::string_view("=+-@\t\r").find(v.front()) != std::string_view::npos) {
      v.insert(v.begin(), '\'');
    }
    std::string out = "\"";
    for (char c : v) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  };
  std::string csv = "path,status,error,mime,sha256,document_id,parent_id\r\n";
  for (const auto& d : failures) {
    csv += cell(d.path) + "," + cell(std::string(StatusName(d.status))) + "," + cell(d.error) +
           "," + cell(d.mime) + "," + cell(d.sha256) + "," + cell(d.id) + "," +
           cell(d.parent_id) + "\r\n";
  }
  return csv;
}

std::string IngestSummaryBody(const IngestSummary& s, int indent) {
  json docs = json::array();
  for (const auto& d : s.documents) docs.push_back(IngestedJson(d));
  return Dump(json{{"documents", docs}}, indent);
}

std::string Failures(const std::vector<DocumentInfo>& list, int indent) {
  json arr = json::array();
  for (const auto& d : list) {
    arr.push_back({{"document_id", d.id},
                   {"case_id", d.case_id},
                   {"parent_id", NullIfEmpty(d.parent_id)},
                   {"path", d.path},
                   {"filename", d.filename},
                   {"mime", d.mime},
                   {"status", StatusName(d.status)},
                   {"error", d.error}});
  }
  return Dump(json{{"failures", arr}}, indent);
}

std::string Search(const SearchResults& r, int indent) {
  json hits = json::array();
  for (const auto& h : r.hits) {
    hits.push_back({{"document_id", h.document_id},
                    {"case_id", h.case_id},
                    {"filename", h.filename},
                    {"score", h.score},
                    {"snippet", h.snippet}});
  }
  json body = {{"total", r.total}, {"hits", hits}, {"facets", json::object()}};
  if (!r.note.empty()) body["note"] = r.note;
  return Dump(body, indent);
}

std::string Job(const JobInfo& j, int indent, const IngestSummary* summary) {
  const auto& p = j.progress;
  json body = {{"id", j.id},
               {"kind", JobKindName(j.kind)},
               {"state", JobStateName(j.state)},
               {"phase", JobPhaseName(j.phase)},
               {"case_id", j.case_id},
               {"started_by", j.started_by},
               {"created_at", j.created_at},
               {"finished_at", NullIfEmpty(j.finished_at)},
               {"progress",
                {{"files_done", p.files_done},
                 {"files_total", p.files_total},
                 {"bytes_done", p.bytes_done},
                 {"bytes_total", p.bytes_total},
                 {"items", p.items},
                 {"errors", p.errors}}}};
  if (!j.error.empty()) body["error"] = j.error;
  if (summary) {
    json docs = json::array();
    for (const auto& d : summary->documents) docs.push_back(IngestedJson(d));
    body["summary"] = {{"documents", docs}};
  }
  return Dump(body, indent);
}

}  // namespace dossier::repo::views
