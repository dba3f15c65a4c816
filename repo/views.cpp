#include "repo/views.h"

namespace dossier::repo {

using nlohmann::json;

namespace {
json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
}  // namespace

json ToJson(const CaseInfo& c) {
  return {{"id", c.id},
          {"title", c.title},
          {"description", c.description},
          {"stage", c.stage},
          {"risk", NullIfEmpty(c.risk)},
          {"status", c.status},
          {"owner", c.owner},
          {"assignees", c.assignees},
          {"roles", c.roles},
          {"created_at", c.created_at},
          {"updated_at", c.updated_at},
          {"document_count", c.document_count}};
}

json ToJson(const DocumentInfo& d) {
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
          {"status", d.status},
          {"duplicate_of", NullIfEmpty(d.duplicate_of)},
          {"indexed_bytes", d.indexed_bytes},
          {"fields", d.fields},
          {"error", NullIfEmpty(d.error)}};
}

json ToJson(const IngestedDocument& d) {
  return {{"id", d.id},
          {"parent_id", NullIfEmpty(d.parent_id)},
          {"path", d.path},
          {"sha256", d.sha256},
          {"mime", d.mime},
          {"status", d.status},
          {"error", NullIfEmpty(d.error)},
          {"duplicate_of", NullIfEmpty(d.duplicate_of)}};
}

json ToJson(const SearchResults& r) {
  json hits = json::array();
  for (const auto& h : r.hits) {
    hits.push_back({{"document_id", h.document_id},
                    {"case_id", h.case_id},
                    {"filename", h.filename},
                    {"score", h.score},
                    {"snippet", h.snippet}});
  }
  return {{"total", r.total}, {"hits", hits}, {"facets", json::object()}};
}

}  // namespace dossier::repo
