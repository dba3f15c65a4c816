#include "repo/search.h"

#include <set>

#include "crypto/envelope.h"
#include "repo/cases.h"
#include "repo/documents.h"
#include "repo/key_ring.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {

// Searches again at most this often when writers keep moving the index on
// under it (each writer step moves the epoch once, so a second attempt
// almost always settles).
constexpr int kAttempts = 8;
constexpr int kFreeAttempts = 2;  // before the gate

// The shards a search reads: those the actor's roles reach that hold
// settled documents (every such shard must exist), and the languages
// indexed in them.
struct ShardPlan {
  std::vector<std::string> shards;
  std::vector<std::string> languages;
  std::map<std::string, AccessSet> sets;  // of every shard, visible or not
};

ShardPlan PlanShards(sql::Db& db, const Actor& actor) {
  ShardPlan plan;
  sql::Stmt st(db,
               "SELECT s.id, s.access_set, EXISTS (SELECT 1 FROM documents d WHERE "
               "d.shard_id = s.id AND d.status != 'pending' AND d.duplicate_of IS NULL) "
               "FROM shards s ORDER BY s.id");
  while (st.Step()) {
    const std::string id = col::Id(st, 0, col::IdKind::kShard, "a shard id");
    const AccessSet set = col::Set(st, 1, "a shard's access set");
    if (st.Int(2) != 0 && actor.HoldsAny(set)) plan.shards.push_back(id);
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

}  // namespace

SearchResults SearchService::Search(const Actor& actor, const SearchRequest& req) {
  if (req.limit > 1000) throw Error(ErrorCode::kInvalidArgument, "limit is at most 1000");
  if (req.offset > 1000000) throw Error(ErrorCode::kInvalidArgument, "offset is at most 1,000,000");
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
    std::optional<SearchResults> out = SearchOnce(*db, actor, req, ReadEpoch(*db, kIndexEpoch));
    if (out) {
      if (shared.gate) {
        shared.gate->UnlockShared();  // before anything else runs
        shared.gate = nullptr;
      }
      ctx_.events.Read(EventKind::kSearched, actor.name(), req.case_id);
      return std::move(*out);
    }
  }
  throw Error(ErrorCode::kConflict, "the index kept changing during the search; try again");
}

std::optional<SearchResults> SearchService::SearchOnce(sql::Db& db, const Actor& actor,
                                                      const SearchRequest& req,
                                                      std::int64_t epoch) {
  sql::ReadTransaction snapshot(db);
  if (!req.case_id.empty()) RequireCaseVisible(db, actor, req.case_id);
  const ShardPlan plan = PlanShards(db, actor);
  indexer::SearchQuery q;
  q.text = req.query;
  q.shard_ids = plan.shards;
  q.languages = plan.languages;
  q.case_id = req.case_id;
  q.offset = req.offset;
  q.limit = req.limit;
  q.sort = req.sort_by_date ? indexer::SortOrder::kDateDescending : indexer::SortOrder::kRelevance;
  q.counted_copy = CountedCopies(db, actor, plan);
  const indexer::SearchOutcome found = searcher_.Search(q, *ctx_.shards);
  {
    // The index read must match the snapshot: if a writer moved the index
    // on since it began, search again (the page is built from the
    // snapshot, so later writes no longer matter).
    auto probe = ctx_.db->Read();
    if (ReadEpoch(*probe, kIndexEpoch) != epoch) return std::nullopt;
  }

  SearchResults out;
  out.total = found.total;
  for (const auto& hit : found.hits) {
    try {
      OpenedDocument d = OpenDocument(db, actor, hit.doc_id);
      SearchHit h;
      h.document_id = hit.doc_id;
      h.score = hit.weight;
      h.case_id = d.row.case_id;
      h.filename = JsonString(d.meta, "filename");
      if (!d.row.text.empty()) {
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
  if (out.damaged > 0) {
    out.note = std::to_string(out.damaged) +
               (out.damaged == 1 ? " document among these hits is" : " documents among these hits are") +
               " damaged and left out of the page; `dossier reindex` rebuilds the index, and the "
               "repository should be checked against a backup";
  }
  return out;
}

}  // namespace dossier::repo
