#include "repo/views.h"

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/error.h"
#include "repo/entity_record.h"

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
          {"phone_region", NullIfEmpty(c.phone_region)},
          {"created_at", c.created_at},
          {"updated_at", c.updated_at},
          {"document_count", c.document_count},
          {"stage_since", c.stage_since},
          {"stage_due", NullIfEmpty(c.stage_due)},
          {"stage_state", NullIfEmpty(std::string(DeadlineStateName(c.stage_state)))}};
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
               {"dates", {{"ingested", d.created_at}, {"document", NullIfEmpty(d.date)}}},
               {"tags", d.tags},
               {"entities", repo::EntitiesJson(d.entities)},
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

std::string CsvCell(std::string v) {
  if (!v.empty() && std::string_view("=+-@\t\r").find(v.front()) != std::string_view::npos) {
    v.insert(v.begin(), '\'');
  }
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {
std::string Joined(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}
}  // namespace

std::string FailuresCsv(const std::vector<IngestedDocument>& failures) {
  auto cell = [](std::string v) { return CsvCell(std::move(v)); };
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
    json family = json::array();
    for (const auto& m : h.family) {
      family.push_back({{"document_id", m.document_id},
                        {"parent_id", NullIfEmpty(m.parent_id)},
                        {"filename", m.filename}});
    }
    json hit = {{"document_id", h.document_id},
                {"case_id", h.case_id},
                {"parent_id", NullIfEmpty(h.parent_id)},
                {"family_id", h.family_id},
                {"filename", h.filename},
                {"date", NullIfEmpty(h.date)},
                {"custodian", h.custodian},
                {"tags", h.tags},
                {"score", h.score},
                {"snippet", h.snippet}};
    if (!h.family.empty()) hit["family"] = family;
    hits.push_back(std::move(hit));
  }
  json facets = json::object();
  for (const auto& [name, values] : r.facets) {
    json arr = json::array();
    for (const auto& v : values) arr.push_back({{"value", v.value}, {"count", v.count}});
    facets[name] = arr;
  }
  json body = {{"total", r.total}, {"exceptions", r.exceptions}, {"hits", hits}, {"facets", facets}};
  if (!r.query_notes.empty()) body["query_note"] = Joined(r.query_notes, "; ");
  if (!r.note.empty()) body["note"] = r.note;
  return Dump(body, indent);
}

std::string Exceptions(const ExceptionList& e, int indent) {
  json docs = json::array();
  for (const auto& d : e.documents) {
    docs.push_back({{"document_id", d.document_id},
                    {"case_id", d.case_id},
                    {"filename", d.filename},
                    {"status", d.status},
                    {"reason", d.reason}});
  }
  return Dump(json{{"total", e.total}, {"documents", docs}}, indent);
}

std::string ExportCsv(const std::vector<ExportRow>& rows) {
  std::string csv = "document_id,case_id,family_id,parent_id,filename,date,custodian,sha256,md5,tags\r\n";
  for (const auto& r : rows) {
    csv += CsvCell(r.document_id) + "," + CsvCell(r.case_id) + "," + CsvCell(r.family_id) + "," +
           CsvCell(r.parent_id) + "," + CsvCell(r.filename) + "," + CsvCell(r.date) + "," +
           CsvCell(r.custodian) + "," + CsvCell(r.sha256) + "," + CsvCell(r.md5) + "," +
           CsvCell(Joined(r.tags, ";")) + "\r\n";
  }
  return csv;
}

std::string TermReportJson(const TermReport& t, int indent) {
  json rows = json::array();
  for (const auto& r : t.rows) {
    json row = {{"term", r.term},
                {"hits", r.hits},
                {"unique_hits", r.unique_hits},
                {"families", r.families},
                {"family_documents", r.family_documents}};
    if (!r.notes.empty()) row["query_note"] = Joined(r.notes, "; ");
    rows.push_back(std::move(row));
  }
  return Dump(json{{"rows", rows},
                   {"total_documents", t.total_documents},
                   {"total_family_documents", t.total_family_documents},
                   {"exceptions", t.exceptions}},
              indent);
}

std::string TermReportCsv(const TermReport& t) {
  std::string csv = "term,hits,unique_hits,families,family_documents\r\n";
  for (const auto& r : t.rows) {
    csv += CsvCell(r.term) + "," + std::to_string(r.hits) + "," + std::to_string(r.unique_hits) +
           "," + std::to_string(r.families) + "," + std::to_string(r.family_documents) + "\r\n";
  }
  csv += CsvCell("(any term)") + "," + std::to_string(t.total_documents) + ",,," +
         std::to_string(t.total_family_documents) + "\r\n";
  csv += CsvCell("(exceptions: not fully searchable)") + "," + std::to_string(t.exceptions) + ",,,\r\n";
  return csv;
}

namespace {
json SavedJson(const SavedSearch& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"query", s.query},
          {"case_id", NullIfEmpty(s.case_id)},
          {"created_at", s.created_at},
          {"last_run_at", NullIfEmpty(s.last_run_at)},
          {"last_total", s.last_total}};
}
}  // namespace

std::string SavedSearchBody(const SavedSearch& s, int indent) { return Dump(SavedJson(s), indent); }

std::string SavedSearches(const std::vector<SavedSearch>& list, int indent) {
  json arr = json::array();
  for (const auto& s : list) arr.push_back(SavedJson(s));
  return Dump(json{{"searches", arr}}, indent);
}

std::string SavedSearchRunBody(const SavedSearchRun& run, int indent) {
  json body = json::parse(Search(run.results, -1));
  body["search"] = SavedJson(run.search);
  body["new_since_last_run"] = run.new_since_last_run;
  return Dump(body, indent);
}

std::string EntityJson(const EntityOccurrences& e, int indent) {
  json cases = json::array(), docs = json::array();
  for (const auto& c : e.cases) cases.push_back({{"case_id", c.value}, {"documents", c.count}});
  for (const auto& h : e.documents) {
    docs.push_back({{"document_id", h.document_id}, {"case_id", h.case_id}, {"filename", h.filename},
                    {"date", NullIfEmpty(h.date)}});
  }
  return Dump(json{{"type", e.type}, {"value", e.value}, {"total", e.total}, {"cases", cases}, {"documents", docs}},
              indent);
}

namespace {
json SettingsObject(const LinkSettings& s) {
  return {{"stop_threshold", s.stop_threshold},
          {"deconfliction", s.deconfliction},
          {"notices_per_hour", s.notices_per_hour},
          {"phone_region", s.phone_region}};
}
json EvidenceJson(const std::vector<LinkEvidence>& list) {
  json arr = json::array();
  for (const auto& e : list) {
    json offsets = json::array();
    for (const auto& [b, en] : e.offsets) offsets.push_back({b, en});
    arr.push_back({{"document_id", e.doc_id}, {"filename", e.filename}, {"offsets", offsets}});
  }
  return arr;
}
}  // namespace

std::string LinksJson(const CaseLinks& l, int indent) {
  json links = json::array(), notices = json::array(), stops = json::array();
  for (const auto& k : l.links) {
    json shared = json::array();
    for (const auto& e : k.shared) {
      shared.push_back({{"type", e.type}, {"value", e.value}, {"weight", e.weight}, {"cases", e.cases},
                        {"here", EvidenceJson(e.here)}, {"there", EvidenceJson(e.there)}});
    }
    links.push_back({{"case_id", k.case_id}, {"title", k.title}, {"score", k.score}, {"state", k.state},
                     {"reopened", k.reopened}, {"decided_by", NullIfEmpty(k.decided_by)},
                     {"decided_at", NullIfEmpty(k.decided_at)}, {"why", NullIfEmpty(k.why)},
                     {"shared", shared}});
  }
  for (const auto& n : l.notices) {
    json o = {{"direction", n.incoming ? "incoming" : "outgoing"}, {"shared", n.shared},
              {"types", n.types}, {"contact", n.contact}};
    if (n.incoming) {
      o["user"] = n.user;
      o["at"] = n.at;
    }
    notices.push_back(std::move(o));
  }
  for (const auto& s : l.stop_entities) {
    stops.push_back({{"type", s.type}, {"value", s.value}, {"cases", s.cases}, {"manual", s.manual},
                     {"set_by", NullIfEmpty(s.set_by)}, {"set_at", NullIfEmpty(s.set_at)}});
  }
  return Dump(json{{"case_id", l.case_id}, {"links", links}, {"notices", notices},
                   {"notices_withheld", l.notices_withheld}, {"stop_entities", stops},
                   {"settings", SettingsObject(l.settings)}},
              indent);
}

std::string GraphJson(const LinkGraph& g, int indent) {
  json nodes = json::array(), edges = json::array();
  for (const auto& n : g.nodes) {
    nodes.push_back({{"id", n.id}, {"kind", n.kind}, {"label", n.label}, {"type", n.type},
                     {"case_id", NullIfEmpty(n.case_id)}});
  }
  for (const auto& e : g.edges) {
    edges.push_back({{"from", e.from}, {"to", e.to}, {"weight", e.weight}, {"kind", e.kind}});
  }
  return Dump(json{{"nodes", nodes}, {"edges", edges}, {"truncated", g.truncated}}, indent);
}

std::string LinkSettingsJson(const LinkSettings& s, int indent) { return Dump(SettingsObject(s), indent); }

std::string TextMatchesJson(const TextMatches& m, int indent) {
  json ranges = json::array();
  for (const auto& [b, e] : m.ranges) ranges.push_back({b, e});
  json body = {{"matches", ranges}, {"truncated", m.truncated}};
  if (!m.query_notes.empty()) body["query_note"] = Joined(m.query_notes, "; ");
  return Dump(body, indent);
}

std::string Tags(const std::vector<std::string>& tags, int indent) {
  return Dump(json{{"tags", tags}}, indent);
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

namespace {

json AuditEventObject(const AuditEventInfo& e) {
  json o = {{"seq", e.seq}, {"at", e.at}, {"time", Rfc3339(e.at)}, {"user", e.actor},
            {"action", e.action}, {"target", e.target}, {"hash", e.hash}, {"detail_hash", e.detail_hash}};
  if (e.detail) o["detail"] = *e.detail;
  else if (!e.sealed.empty()) o["detail_sealed"] = true;
  return o;
}

json AuditHeadObject(const AuditHead& h) {
  return {{"format", "dossier-audit-head-v1"}, {"repo_id", h.repo_id}, {"size", h.size}, {"root", h.root},
          {"at", h.at}, {"signature", h.signature}, {"public_key", h.public_key}};
}

}  // namespace

std::string AuditEventsJson(const std::vector<AuditEventInfo>& events, int indent) {
  json list = json::array();
  for (const auto& e : events) list.push_back(AuditEventObject(e));
  return Dump(json{{"events", list}}, indent);
}

std::string AuditEventsCsv(const std::vector<AuditEventInfo>& events) {
  std::string csv = "seq,time,user,action,target,detail,detail_hash,hash\r\n";
  for (const auto& e : events) {
    csv += std::to_string(e.seq) + "," + Rfc3339(e.at) + "," + CsvCell(e.actor) + "," + CsvCell(e.action) + "," +
           CsvCell(e.target) + "," + CsvCell(e.detail.value_or(e.sealed.empty() ? "" : "(sealed)")) + "," +
           e.detail_hash + "," + e.hash + "\r\n";
  }
  return csv;
}

std::string AuditEventsJsonLines(const std::vector<AuditEventInfo>& events) {
  std::string out;
  for (const auto& e : events) out += Dump(AuditEventObject(e), -1) + "\n";
  return out;
}

std::string AuditHeadJson(const AuditHead& h, int indent) { return Dump(AuditHeadObject(h), indent); }

AuditHead ParseAuditHead(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  const auto str = [&](const char* k) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) throw Error(ErrorCode::kInvalidArgument, std::string("the head has no ") + k);
    return it->get<std::string>();
  };
  const auto num = [&](const char* k) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_number_integer()) {
      throw Error(ErrorCode::kInvalidArgument, std::string("the head has no ") + k);
    }
    return it->get<std::int64_t>();
  };
  if (!j.is_object() || j.value("format", "") != "dossier-audit-head-v1") {
    throw Error(ErrorCode::kInvalidArgument, "not an audit head (from dossier audit head)");
  }
  AuditHead h;
  h.repo_id = str("repo_id");
  const std::int64_t size = num("size");
  if (size < 0) throw Error(ErrorCode::kInvalidArgument, "the head's size is negative");
  h.size = static_cast<std::uint64_t>(size);
  h.root = str("root");
  h.at = num("at");
  h.signature = str("signature");
  h.public_key = str("public_key");
  return h;
}

std::string AuditVerdictJson(const AuditVerdict& v, int indent) {
  json body = {{"ok", v.ok}, {"events", v.events}, {"unsigned_events", v.unsigned_events},
               {"head", v.head.size || !v.head.root.empty() ? AuditHeadObject(v.head) : json(nullptr)}};
  if (v.first_bad) body["first_bad"] = v.first_bad;
  if (!v.problem.empty()) body["problem"] = v.problem;
  return Dump(body, indent);
}

std::string AuditProofJson(const AuditProof& p, int indent) {
  json event = AuditEventObject(p.event);
  event["sealed"] = p.event.sealed;  // what the leaf holds, for the checker
  event.erase("detail");
  return Dump(json{{"format", "dossier-audit-inclusion-v1"}, {"event", event}, {"prev", p.prev},
                   {"path", p.path}, {"head", AuditHeadObject(p.head)}},
              indent);
}

std::string CustodyJson(const CustodyReport& r, int indent) {
  const DocumentInfo& d = r.document;
  json events = json::array();
  for (const auto& e : r.events) events.push_back(AuditEventObject(e));
  return Dump(json{{"document", {{"id", d.id}, {"case_id", d.case_id}, {"filename", d.filename}, {"path", d.path},
                                 {"custodian", d.custodian}, {"mime", d.mime}, {"size", d.size}, {"sha256", d.sha256},
                                 {"md5", d.md5}, {"ingested_at", d.created_at}}},
                   {"events", events},
                   {"truncated", r.truncated}},
              indent);
}

std::string CustodyCsv(const CustodyReport& r) {
  const DocumentInfo& d = r.document;
  std::string csv = "field,value\r\n";
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"document_id", d.id}, {"case_id", d.case_id}, {"filename", d.filename}, {"path", d.path},
           {"custodian", d.custodian}, {"mime", d.mime}, {"size", std::to_string(d.size)}, {"sha256", d.sha256},
           {"md5", d.md5}, {"ingested_at", d.created_at}}) {
    csv += k + "," + CsvCell(v) + "\r\n";
  }
  csv += "\r\n" + AuditEventsCsv(r.events);
  if (r.truncated) csv += "\r\n\"(truncated: more events than the report holds)\"\r\n";
  return csv;
}

std::string AuditConsistencyJson(const AuditConsistency& c, int indent) {
  return Dump(json{{"format", "dossier-audit-consistency-v1"}, {"first_size", c.first_size},
                   {"first_root", c.first_root}, {"path", c.path}, {"head", AuditHeadObject(c.head)}},
              indent);
}

}  // namespace dossier::repo::views
