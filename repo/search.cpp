#include "repo/search.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "crypto/envelope.h"
#include "repo/cases.h"
#include "indexer/query_syntax.h"
#include "indexer/text.h"
#include "repo/documents.h"
#include "repo/ingest_stage.h"
#include "repo/tags.h"
#include "repo/key_ring.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {

// Searches again at most this often when writers keep moving the index on
// under it (each writer step moves the epoch once, so a second attempt
// almost always settles).
constexpr int kAttempts = 8;
constexpr int kFreeAttempts = 2;  // before the gate

ShardPlan PlanShards(sql::Db& db, const Actor& actor) {
  ShardPlan plan;
  sql::Stmt st(db,
               "SELECT s.id, s.access_set, EXISTS (SELECT 1 FROM documents d WHERE "
               "d.shard_id = s.id AND d.status != 'pending' AND d.duplicate_of IS NULL), "
               "s.format FROM shards s ORDER BY s.id");
  while (st.Step()) {
    const std::string id = col::Id(st, 0, col::IdKind::kShard, "a shard id");
    const AccessSet set = col::Set(st, 1, "a shard's access set");
    if (st.Int(2) != 0 && actor.HoldsAny(set)) {
      plan.shards.push_back(id);
      if (st.Int(3) < indexer::kPrefixFormat) ++plan.old_format;
    }
    plan.sets.emplace(id, set);
  }
  std::set<std::string> langs;
  sql::Stmt l(db, "SELECT language FROM shard_languages WHERE shard_id=?");
  for (const auto& shard : plan.shards) {
    l.Reset();
    l.Bind(1, shard);
    while (l.Step()) langs.insert(col::Language(l, 0, "a shard's language"));
  }
  plan.languages.assign(langs.begin(), langs.end());
  return plan;
}

// Where each unsettled document's copy counts for this actor: pending
// ones nowhere; a moving one only in its recorded shard, and only if the
// actor opens it where it is going (a revoke takes effect at once).
std::map<std::string, std::string> CountedCopies(sql::Db& db, const Actor& actor,
                                                 const ShardPlan& plan) {
  const std::set<std::string> visible(plan.shards.begin(), plan.shards.end());
  auto set_of = [&](const std::string& shard) -> const AccessSet& {
    auto it = plan.sets.find(shard);
    if (it == plan.sets.end()) throw Error(ErrorCode::kCorrupt, "a shard record is missing");
    return it->second;
  };
  std::map<std::string, std::string> out;
  sql::Stmt st(db,
               "SELECT id, shard_id, move_to, move_from, status FROM documents WHERE "
               "status = 'pending' OR move_to IS NOT NULL OR move_from IS NOT NULL");
  using K = col::IdKind;
  while (st.Step()) {
    const std::string id = col::Id(st, 0, K::kDocument, "a document id");
    const std::string shard = col::Id(st, 1, K::kShard, "a document's shard");
    const auto to = col::OptionalId(st, 2, K::kShard, "a document's move");
    const auto from = col::OptionalId(st, 3, K::kShard, "a document's move");
    const bool relevant = visible.count(shard) || (to && visible.count(*to)) ||
                          (from && visible.count(*from));
    if (!relevant) continue;
    const bool pending = col::Status(st, 4, "a document's status") == DocStatus::kPending;
    const bool opens = actor.HoldsAny(set_of(to ? *to : shard));
    out.emplace(id, pending || !opens ? std::string() : shard);
  }
  return out;
}

// "shard_id IN (?, ?, …)" for the visible shards (never empty: callers
// return early when nothing is visible).
std::string InShards(const std::vector<std::string>& shards) {
  std::string sql = "shard_id IN (";
  for (std::size_t i = 0; i < shards.size(); ++i) sql += i ? ", ?" : "?";
  return sql + ")";
}

// Documents in scope that are not fully searchable (the partial index
// documents_exceptions holds exactly these, so counting them reads only
// them, never the whole case).
constexpr const char* kExceptionWhere =
    " AND duplicate_of IS NULL AND (status IN ('error', 'unsupported', 'partial') OR "
    "(status = 'indexed' AND text IS NULL))";

std::uint64_t CountExceptions(sql::Db& db, const ShardPlan& plan, const std::string& case_id) {
  if (plan.shards.empty()) return 0;
  sql::Stmt st(db, "SELECT COUNT(*) FROM documents WHERE " + InShards(plan.shards) +
                       (case_id.empty() ? "" : " AND case_id = ?") + kExceptionWhere);
  int i = 1;
  for (const auto& s : plan.shards) st.Bind(i++, s);
  if (!case_id.empty()) st.Bind(i, case_id);
  st.Step();
  return static_cast<std::uint64_t>(st.Int(0));
}

// The top of a document's family: its parent's parent's … (at most a few
// levels: archives in emails in mailboxes).
std::string FamilyRoot(sql::Db& db, const std::string& id, const std::string& parent) {
  std::string top = id, up = parent;
  sql::Stmt st(db, "SELECT parent_id FROM documents WHERE id=?");
  for (int depth = 0; !up.empty() && depth < 32; ++depth) {
    top = up;
    st.Reset();
    st.Bind(1, up);
    if (!st.Step()) break;
    up = col::OptionalId(st, 0, col::IdKind::kDocument, "a document's parent").value_or("");
  }
  return top;
}

// The members of the family under `root` the actor opens (settled, in a
// shard the actor reaches, and opened with the actor's own keys: a member
// restricted to other roles never appears), at most `cap`.
std::vector<FamilyMember> FamilyOf(sql::Db& db, const Actor& actor, const ShardPlan& plan,
                                   const std::string& root, std::size_t cap) {
  sql::Stmt st(db,
               "WITH RECURSIVE fam(id, depth) AS (SELECT ?, 0 UNION ALL SELECT d.id, fam.depth + 1 "
               "FROM documents d JOIN fam ON d.parent_id = fam.id WHERE fam.depth < 32) "
               "SELECT d.id, d.shard_id FROM documents d JOIN fam ON d.id = fam.id "
               "WHERE d.status != 'pending' ORDER BY fam.depth, d.id LIMIT 10000");
  st.Bind(1, root);
  std::vector<std::string> ids;
  while (st.Step()) {
    const std::string shard = col::Id(st, 1, col::IdKind::kShard, "a document's shard");
    auto set = plan.sets.find(shard);
    if (set == plan.sets.end() || !actor.HoldsAny(set->second)) continue;
    ids.push_back(col::Id(st, 0, col::IdKind::kDocument, "a document id"));
  }
  std::vector<FamilyMember> out;
  for (const auto& id : ids) {
    if (out.size() >= cap) break;
    try {
      const OpenedDocument d = OpenDocument(db, actor, id);
      out.push_back({id, d.row.parent_id, JsonString(d.meta, "filename")});
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kForbidden) throw;
    }
  }
  return out;
}

std::vector<FacetValue> Sorted(std::map<std::string, std::uint64_t> counts, std::size_t cap) {
  std::vector<FacetValue> out;
  for (auto& [v, n] : counts) out.push_back({v, n});
  std::stable_sort(out.begin(), out.end(),
                   [](const FacetValue& a, const FacetValue& b) { return a.count > b.count; });
  if (out.size() > cap) out.resize(cap);
  return out;
}

constexpr std::size_t kFacetValues = 20;   // per facet
constexpr std::size_t kFamilyCap = 200;    // members shown per hit
constexpr std::size_t kMaxExport = 100000; // rows of one export
constexpr std::size_t kMaxTerms = 5000;    // terms of one report

}  // namespace

std::string SearchService::Label(sql::Db& db, const Actor& actor, indexer::Field field,
                                 const std::string& hash) {
  const std::string prefix(indexer::FieldPrefix(field));
  {
    std::lock_guard lock(labels_mu_);
    auto it = labels_.find(prefix + hash);
    if (it != labels_.end()) return it->second;
  }
  // A value's name comes from a document holding it that the actor opens:
  // the count that asks for it is over the actor's own documents, so one
  // exists (unless it is being deleted this instant).
  std::string name;
  const std::string term = prefix + hash;
  const crypto::Bytes term_bytes(term.begin(), term.end());
  if (field == indexer::Field::kTag || field == indexer::Field::kCustodian) {
    sql::Stmt st(db, field == indexer::Field::kTag
                         ? "SELECT doc_id FROM document_tags WHERE term=? LIMIT 16"
                         : "SELECT doc_id FROM custodian_terms WHERE term=? LIMIT 16");
    st.Bind(1, term_bytes);
    std::vector<std::string> ids;
    while (st.Step()) ids.push_back(col::Id(st, 0, col::IdKind::kDocument, "a document id"));
    for (const auto& id : ids) {
      try {
        const OpenedDocument d = OpenDocument(db, actor, id);
        const std::vector<std::string> values =
            field == indexer::Field::kTag ? TagsOf(db, id, d.key)
                                          : std::vector<std::string>{JsonString(d.meta, "custodian")};
        for (const auto& v : values) {
          if (ctx_.blind->FieldTerm(field, v) == term) name = v;
        }
        if (!name.empty()) break;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kForbidden) throw;
      }
    }
  } else if (field == indexer::Field::kCase) {
    // Case ids are not secret; a case's hash is named only where the
    // actor's own documents counted it.
    std::lock_guard lock(labels_mu_);
    sql::Stmt st(db, "SELECT id FROM cases");
    while (st.Step()) {
      const std::string id = col::Id(st, 0, col::IdKind::kCase, "a case id");
      labels_.emplace(ctx_.blind->FieldTerm(field, id), id);
    }
    auto it = labels_.find(term);
    return it == labels_.end() ? std::string() : it->second;
  }
  if (name.empty()) return name;  // not cached: it may be named later
  std::lock_guard lock(labels_mu_);
  if (labels_.size() > 100000) labels_.clear();  // bounded
  labels_.emplace(term, name);
  return name;
}

template <typename Fn>
auto SearchService::Consistent(Fn&& fn)
    -> typename decltype(fn(std::declval<sql::Db&>(), std::int64_t{}))::value_type {
  auto db = ctx_.db->Read();
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // After two lost races, hold writers of this process off (the gate)
    // for the one window that matters; another process's writes can only
    // be retried.
    struct Shared {
      IndexGate* gate = nullptr;
      ~Shared() {
        if (gate) gate->UnlockShared();
      }
    } shared;
    if (attempt >= kFreeAttempts) {
      ctx_.index_gate.LockShared();
      shared.gate = &ctx_.index_gate;
    }
    const std::int64_t epoch = ReadEpoch(*db, kIndexEpoch);
    auto out = fn(*db, epoch);
    if (out) {
      if (shared.gate) {
        shared.gate->UnlockShared();  // before anything else runs
        shared.gate = nullptr;
      }
      return std::move(*out);
    }
  }
  throw Error(ErrorCode::kConflict, "the index kept changing during the search; try again");
}

bool SearchService::EpochMoved(std::int64_t epoch) {
  auto probe = ctx_.db->Read();
  return ReadEpoch(*probe, kIndexEpoch) != epoch;
}

SearchResults SearchService::Search(const Actor& actor, const SearchRequest& req) {
  if (req.limit > 1000) throw Error(ErrorCode::kInvalidArgument, "limit is at most 1000");
  if (req.offset > 1000000) throw Error(ErrorCode::kInvalidArgument, "offset is at most 1,000,000");
  SearchResults out = SearchAmong(actor, req, std::nullopt);
  ctx_.events.Read(EventKind::kSearched, actor.name(), req.case_id, req.query);
  return out;
}

SearchResults SearchService::SearchAmong(const Actor& actor, const SearchRequest& req,
                                         std::optional<std::vector<std::string>> only_ids) {
  return Consistent([&](sql::Db& db, std::int64_t epoch) {
    return SearchOnce(db, actor, req, epoch, only_ids);
  });
}

void SearchService::RequirePrefixes(const ShardPlan& plan, const std::string& query) {
  if (plan.old_format == 0) return;
  if (!indexer::CheckQuery(indexer::RepairUtf8(query)).has_prefix) return;
  throw Error(ErrorCode::kUnprocessable,
              std::to_string(plan.old_format) +
                  (plan.old_format == 1 ? " index shard you search was" : " index shards you search were") +
                  " built before prefix search (word*) existed; `dossier reindex` rebuilds them");
}

indexer::SearchQuery SearchService::QueryFor(sql::Db& db, const Actor& actor, const ShardPlan& plan,
                                             const std::string& text, const std::string& case_id) {
  indexer::SearchQuery q;
  q.text = text;
  q.shard_ids = plan.shards;
  q.languages = plan.languages;
  q.case_id = case_id;
  q.counted_copy = CountedCopies(db, actor, plan);
  return q;
}

std::optional<SearchResults> SearchService::SearchOnce(
    sql::Db& db, const Actor& actor, const SearchRequest& req, std::int64_t epoch,
    std::optional<std::vector<std::string>> only_ids) {
  sql::ReadTransaction snapshot(db);
  if (!req.case_id.empty()) RequireCaseVisible(db, actor, req.case_id);
  const ShardPlan plan = PlanShards(db, actor);
  RequirePrefixes(plan, req.query);
  indexer::SearchQuery q = QueryFor(db, actor, plan, req.query, req.case_id);
  q.offset = req.offset;
  q.limit = req.limit;
  q.sort = req.sort_by_date ? indexer::SortOrder::kDateDescending : indexer::SortOrder::kRelevance;
  q.facets = req.facets;
  q.only_ids = std::move(only_ids);
  const indexer::SearchOutcome found = searcher_.Search(q, *ctx_.shards);
  // The index read must match the snapshot: if a writer moved the index
  // on since it began, search again (the page is built from the snapshot,
  // so later writes no longer matter).
  if (EpochMoved(epoch)) return std::nullopt;

  SearchResults out;
  out.total = found.total;
  out.query_notes = found.notes;
  out.exceptions = CountExceptions(db, plan, req.case_id);
  for (const auto& hit : found.hits) {
    try {
      OpenedDocument d = OpenDocument(db, actor, hit.doc_id);
      SearchHit h;
      h.document_id = hit.doc_id;
      h.score = hit.weight;
      h.case_id = d.row.case_id;
      h.parent_id = d.row.parent_id;
      h.family_id = FamilyRoot(db, d.row.id, d.row.parent_id);
      const DocumentInfo info = InfoOf(d);
      h.filename = info.filename;
      h.date = info.date;
      h.custodian = info.custodian;
      h.tags = TagsOf(db, d.row.id, d.key);
      if (req.snippets && !d.row.text.empty()) {
        // The chunk holding the first match: headers only, then that one
        // chunk; a hit never reads a whole text.
        const crypto::SecretBytes text_key =
            crypto::DeriveDataSubkey(d.key, crypto::DataKeyUse::kText);
        std::uint32_t chunk_pos = 0;
        std::string chunk = ctx_.texts->OpenChunkAt(d.row.text, d.row.id, text_key,
                                                    hit.first_match_pos, &chunk_pos);
        std::optional<std::size_t> near;
        if (hit.first_match_pos && *hit.first_match_pos >= chunk_pos) {
          near = *hit.first_match_pos - chunk_pos;
        }
        h.snippet = found.matcher->Snippet(chunk, JsonString(d.meta, "language", "en"), 240, near);
        crypto::Wipe(chunk);
      }
      if (req.family) {
        for (auto& m : FamilyOf(db, actor, plan, h.family_id, kFamilyCap)) {
          if (m.document_id != h.document_id) h.family.push_back(std::move(m));
        }
      }
      out.hits.push_back(std::move(h));
    } catch (const Error& e) {
      // Every hit of a visible, settled shard is the actor's to open: one
      // that is not, or whose record fails to open, is damaged. It is left
      // out and the answer says so; the rest of the page stands.
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt &&
          e.code() != ErrorCode::kForbidden) {
        throw;
      }
      ++out.damaged;
    }
  }
  if (req.facets) {
    using F = indexer::Field;
    auto named = [&](F field, const std::map<std::string, std::uint64_t>& counts) {
      std::map<std::string, std::uint64_t> by_name;
      for (const auto& fv : Sorted(counts, kFacetValues)) {
        const std::string name = Label(db, actor, field, fv.value);
        if (!name.empty()) by_name[name] += fv.count;
      }
      return Sorted(by_name, kFacetValues);
    };
    // Types and languages are few and known: hashed here to name them.
    auto known = [&](F field, const std::map<std::string, std::uint64_t>& counts,
                     const std::vector<std::string>& values) {
      std::map<std::string, std::uint64_t> by_name;
      const std::size_t p = indexer::FieldPrefix(field).size();
      for (const auto& v : values) {
        auto it = counts.find(ctx_.blind->FieldTerm(field, v).substr(p));
        if (it != counts.end()) by_name[v] = it->second;
      }
      return Sorted(by_name, kFacetValues);
    };
    out.facets["type"] = known(F::kType, found.facets.type, DocumentTypes());
    out.facets["language"] = known(F::kLanguage, found.facets.language, plan.languages);
    out.facets["custodian"] = named(F::kCustodian, found.facets.custodian);
    out.facets["case"] = named(F::kCase, found.facets.case_id);
    out.facets["tag"] = named(F::kTag, found.facets.tag);
    std::map<std::string, std::uint64_t> years;
    for (const auto& [y, n] : found.facets.year) years[std::to_string(y)] = n;
    std::vector<FacetValue> by_year;
    for (auto it = years.rbegin(); it != years.rend(); ++it) by_year.push_back({it->first, it->second});
    out.facets["year"] = by_year;
    if (plan.old_format > 0) {
      out.query_notes.push_back(std::to_string(plan.old_format) +
                                " index shard(s) predate facet values: their documents are not "
                                "counted in facets until `dossier reindex`");
    }
  }
  if (out.damaged > 0) {
    out.note = std::to_string(out.damaged) +
               (out.damaged == 1 ? " document among these hits is" : " documents among these hits are") +
               " damaged and left out of the page; `dossier reindex` rebuilds the index, and the "
               "repository should be checked against a backup";
  }
  return out;
}

ExceptionList SearchService::Exceptions(const Actor& actor, const std::string& case_id,
                                        std::uint32_t offset, std::uint32_t limit) {
  if (limit > 1000) throw Error(ErrorCode::kInvalidArgument, "limit is at most 1000");
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  if (!case_id.empty()) RequireCaseVisible(*db, actor, case_id);
  const ShardPlan plan = PlanShards(*db, actor);
  ExceptionList out;
  out.total = CountExceptions(*db, plan, case_id);
  if (plan.shards.empty()) return out;
  sql::Stmt st(*db, "SELECT id, status, text IS NULL FROM documents WHERE " + InShards(plan.shards) +
                        (case_id.empty() ? "" : " AND case_id = ?") + kExceptionWhere +
                        " ORDER BY id LIMIT ? OFFSET ?");
  int i = 1;
  for (const auto& s : plan.shards) st.Bind(i++, s);
  if (!case_id.empty()) st.Bind(i++, case_id);
  st.Bind(i, static_cast<std::int64_t>(limit));
  st.Bind(i + 1, static_cast<std::int64_t>(offset));
  std::vector<std::pair<std::string, DocStatus>> rows;
  while (st.Step()) {
    rows.emplace_back(col::Id(st, 0, col::IdKind::kDocument, "a document id"),
                      col::Status(st, 1, "a document's status"));
  }
  for (const auto& [id, status] : rows) {
    try {
      const OpenedDocument d = OpenDocument(*db, actor, id);
      ExceptionDocument e;
      e.document_id = id;
      e.case_id = d.row.case_id;
      e.filename = JsonString(d.meta, "filename");
      e.status = status == DocStatus::kIndexed ? "no_text" : std::string(StatusName(status));
      e.reason = status == DocStatus::kError       ? JsonString(d.meta, "error")
                 : status == DocStatus::kUnsupported ? "no text extractor for " + JsonString(d.meta, "mime")
                 : status == DocStatus::kPartial     ? "text past the indexing cap is not searchable"
                                                     : "the file holds no text";
      out.documents.push_back(std::move(e));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kForbidden) throw;
    }
  }
  return out;
}

std::vector<std::string> SearchService::MatchingIds(const Actor& actor, const std::string& query,
                                                    const std::string& case_id, std::size_t cap) {
  return Consistent([&](sql::Db& db, std::int64_t epoch) -> std::optional<std::vector<std::string>> {
    sql::ReadTransaction snapshot(db);
    if (!case_id.empty()) RequireCaseVisible(db, actor, case_id);
    const ShardPlan plan = PlanShards(db, actor);
    RequirePrefixes(plan, query);
    const indexer::SearchQuery q = QueryFor(db, actor, plan, query, case_id);
    const indexer::MatchSets sets = searcher_.Match(q, {query}, *ctx_.shards);
    if (EpochMoved(epoch)) return std::nullopt;
    std::vector<std::string> ids;
    for (auto i : sets.matches[0]) ids.push_back(sets.doc_ids[i]);
    std::sort(ids.begin(), ids.end());
    if (ids.size() > cap) {
      throw Error(ErrorCode::kTooLarge, "the query matches more than " + std::to_string(cap) +
                                            " documents; narrow it");
    }
    return ids;
  });
}

std::vector<ExportRow> SearchService::Export(const Actor& actor, const SearchRequest& req) {
  const std::vector<std::string> ids = MatchingIds(actor, req.query, req.case_id, kMaxExport);
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  std::vector<ExportRow> rows;
  for (const auto& id : ids) {
    try {
      const OpenedDocument d = OpenDocument(*db, actor, id);
      const DocumentInfo info = InfoOf(d);
      ExportRow r;
      r.document_id = id;
      r.case_id = info.case_id;
      r.parent_id = info.parent_id;
      r.family_id = FamilyRoot(*db, id, info.parent_id);
      r.filename = info.filename;
      r.date = info.date;
      r.custodian = info.custodian;
      r.sha256 = info.sha256;
      r.md5 = info.md5;
      r.tags = TagsOf(*db, id, d.key);
      rows.push_back(std::move(r));
    } catch (const Error& e) {
      // Deleted or moved out of reach since the match: not exported.
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kForbidden) throw;
    }
  }
  ctx_.events.Read(EventKind::kHitsExported, actor.name(), req.case_id, req.query);
  // Each exported document's chain of custody shows the export. (A large
  // export appends its events as it queues them: the trail's queue
  // flushes on the caller's thread when it fills, so memory stays bounded.)
  for (const auto& r : rows) ctx_.events.Read(EventKind::kDocumentExported, actor.name(), r.document_id);
  return rows;
}

TextMatches SearchService::MatchText(const std::string& query, std::string_view text,
                                     const std::string& language) const {
  TextMatches out;
  const auto matcher = searcher_.MatcherFor(query, language.empty() ? "en" : language, &out.query_notes);
  const auto bytes = matcher->Matches(text, language.empty() ? "en" : language, kMaxTextMatches,
                                      &out.truncated);
  // Byte offsets to characters, counting lead bytes once along the text
  // (the ranges come in order).
  std::size_t at = 0;
  std::uint64_t chars = 0;
  auto to = [&](std::size_t byte) {
    for (; at < byte && at < text.size(); ++at) {
      if ((static_cast<unsigned char>(text[at]) & 0xC0) != 0x80) ++chars;
    }
    return chars;
  };
  for (const auto& [b, e] : bytes) {
    const std::uint64_t from = to(b);
    out.ranges.emplace_back(from, to(e));
  }
  return out;
}

TermReport SearchService::Terms(const Actor& actor, const std::vector<std::string>& terms,
                                const std::string& case_id) {
  if (terms.empty()) throw Error(ErrorCode::kInvalidArgument, "a report needs at least one term");
  if (terms.size() > kMaxTerms) {
    throw Error(ErrorCode::kInvalidArgument, "a report takes at most 5000 terms");
  }
  TermReport out = Consistent([&](sql::Db& db, std::int64_t epoch) -> std::optional<TermReport> {
    sql::ReadTransaction snapshot(db);
    if (!case_id.empty()) RequireCaseVisible(db, actor, case_id);
    const ShardPlan plan = PlanShards(db, actor);
    for (const auto& t : terms) RequirePrefixes(plan, t);
    const indexer::SearchQuery q = QueryFor(db, actor, plan, "", case_id);
    const indexer::MatchSets sets = searcher_.Match(q, terms, *ctx_.shards);
    if (EpochMoved(epoch)) return std::nullopt;

    // Families. Only documents with a parent or a child belong to a
    // family of more than one: those of the visible shards are read (one
    // query over the parent index), each given its top (its parent's
    // parent's …, while visible) and each top the number of its visible
    // documents in scope. Every other document is a family of its own.
    // Then each matched document gets a family number, and the counting
    // per term is over numbers (a report of a thousand terms over a
    // hundred thousand documents visits millions of matches).
    std::unordered_map<std::string, std::string> parent;
    std::vector<std::string> related_in_scope;
    if (!plan.shards.empty()) {
      sql::Stmt st(db, "SELECT id, parent_id, case_id FROM documents WHERE " + InShards(plan.shards) +
                           " AND status != 'pending' AND (parent_id IS NOT NULL OR id IN "
                           "(SELECT parent_id FROM documents WHERE parent_id IS NOT NULL))");
      int i = 1;
      for (const auto& s : plan.shards) st.Bind(i++, s);
      while (st.Step()) {
        const std::string id = col::Id(st, 0, col::IdKind::kDocument, "a document id");
        parent.emplace(id, col::OptionalId(st, 1, col::IdKind::kDocument, "a parent").value_or(""));
        if (case_id.empty() || col::Id(st, 2, col::IdKind::kCase, "a case id") == case_id) {
          related_in_scope.push_back(id);
        }
      }
    }
    auto top = [&](const std::string& id) {
      std::string t = id;
      for (int depth = 0; depth < 32; ++depth) {
        auto it = parent.find(t);
        if (it == parent.end() || it->second.empty() || !parent.count(it->second)) break;
        t = it->second;
      }
      return t;
    };
    // Family numbers: the related documents' tops first, then one for
    // each other matched document.
    std::unordered_map<std::string, std::uint32_t> family_number;
    std::vector<std::uint64_t> family_size;  // visible documents in scope
    auto number_of = [&](const std::string& t) {
      auto [it, fresh] = family_number.emplace(t, static_cast<std::uint32_t>(family_size.size()));
      if (fresh) family_size.push_back(0);
      return it->second;
    };
    for (const auto& id : related_in_scope) ++family_size[number_of(top(id))];
    std::vector<std::uint32_t> family_of(sets.doc_ids.size());
    for (std::size_t i = 0; i < sets.doc_ids.size(); ++i) {
      const std::string& id = sets.doc_ids[i];
      if (parent.count(id)) {
        family_of[i] = number_of(top(id));
      } else {
        family_of[i] = static_cast<std::uint32_t>(family_size.size());
        family_size.push_back(1);
      }
    }
    for (auto& n : family_size) n = std::max<std::uint64_t>(n, 1);  // a matched top out of scope
    std::vector<std::uint16_t> hit_by(sets.doc_ids.size(), 0);
    for (const auto& m : sets.matches) {
      for (auto i : m) if (hit_by[i] < 65535) ++hit_by[i];
    }
    TermReport r;
    // stamp[f] == t + 1 once family f has been counted for term t.
    std::vector<std::uint32_t> stamp(family_size.size(), 0);
    std::vector<bool> any_family(family_size.size(), false);
    std::uint64_t any = 0;
    for (auto n : hit_by) any += n > 0;
    for (std::size_t t = 0; t < terms.size(); ++t) {
      TermReportRow row;
      row.term = terms[t];
      row.notes = sets.notes[t];
      const auto& m = sets.matches[t];
      row.hits = m.size();
      for (auto i : m) {
        if (hit_by[i] == 1) ++row.unique_hits;
        const std::uint32_t f = family_of[i];
        if (stamp[f] == t + 1) continue;
        stamp[f] = static_cast<std::uint32_t>(t + 1);
        ++row.families;
        row.family_documents += family_size[f];
        any_family[f] = true;
      }
      r.rows.push_back(std::move(row));
    }
    r.total_documents = any;
    for (std::size_t f = 0; f < family_size.size(); ++f) {
      if (any_family[f]) r.total_family_documents += family_size[f];
    }
    r.exceptions = CountExceptions(db, plan, case_id);
    return r;
  });
  ctx_.events.Read(EventKind::kTermReport, actor.name(), case_id);
  return out;
}

}  // namespace dossier::repo
