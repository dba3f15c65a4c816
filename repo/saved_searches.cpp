// Saved searches: a user's name, query and case, sealed (a random key
// sealed to the user's own public key, the record under it), so only that
// user's password opens them; not even an admin reads another's. A
// password reset gives the user a new key pair, so their saved searches
// go with it (ResetPassword deletes them).
#include <nlohmann/json.hpp>

#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "indexer/query_syntax.h"
#include "indexer/text.h"
#include "repo/cases.h"
#include "repo/search.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {

constexpr std::size_t kMaxSaved = 500;  // per user

std::string SavedAd(const std::string& id, std::int64_t user_id) {
  return "dossier-saved-search-v1|" + id + "|" + std::to_string(user_id);
}

void RequireUserActor(const Actor& actor) {
  if (actor.recovery()) {
    throw Error(ErrorCode::kInvalidArgument, "the recovery key has no saved searches");
  }
}

// `last_rowid`: the highest document rowid when it last ran (documents
// are rows appended in order; newer ones have higher rowids).
SavedSearch OpenSaved(const Actor& actor, const sql::Stmt& st, std::int64_t* last_rowid) {
  SavedSearch s;
  s.id = col::Id(st, 0, col::IdKind::kSavedSearch, "a saved search id");
  const crypto::Bytes sealed_key = col::SealedKey(st, 1, "a saved search's key");
  const crypto::Bytes sealed = col::Bounded(st, 2, 1, 64 * 1024, "a saved search");
  std::lock_guard lock(actor.session().mu);
  const crypto::SecretBytes key = crypto::OpenSealedKey(actor.session().user_key, sealed_key,
                                                        crypto::kDataKeySize, "a saved search");
  const nlohmann::json j = OpenJson(key, SavedAd(s.id, actor.user_id()), sealed);
  s.name = JsonString(j, "name");
  s.query = JsonString(j, "query");
  s.case_id = JsonString(j, "case");
  s.created_at = col::Time(st, 3, "a saved search's time");
  if (!st.IsNull(4)) s.last_run_at = col::Time(st, 4, "a saved search's run");
  s.last_total = static_cast<std::uint64_t>(col::Integer(st, 5, 0, INT64_MAX, "a saved search's total"));
  if (!st.IsNull(6)) *last_rowid = col::Integer(st, 6, 0, INT64_MAX, "a saved search's mark");
  return s;
}

constexpr const char* kSelect =
    "SELECT id, sealed_key, sealed, created_at, last_run_at, COALESCE(last_total, 0), "
    "last_rowid "
    "FROM saved_searches WHERE user_id=?";

}  // namespace

SavedSearch SearchService::Save(const Actor& actor, const std::string& name,
                                const std::string& query, const std::string& case_id) {
  ctx_.RequireWritable();
  RequireUserActor(actor);
  if (name.empty() || name.size() > 200) {
    throw Error(ErrorCode::kInvalidArgument, "a saved search's name is 1 to 200 bytes");
  }
  if (query.size() > 8192) throw Error(ErrorCode::kInvalidArgument, "a query is at most 8 KiB");
  indexer::CheckQuery(indexer::RepairUtf8(query));  // a malformed query is not saved
  auto w = ctx_.db->Write();
  if (!case_id.empty()) RequireCaseVisible(*w, actor, case_id);
  {
    sql::Stmt n(*w, "SELECT COUNT(*) FROM saved_searches WHERE user_id=?");
    n.Bind(1, actor.user_id());
    n.Step();
    if (static_cast<std::size_t>(n.Int(0)) >= kMaxSaved) {
      throw Error(ErrorCode::kConflict, "at most 500 saved searches per user");
    }
  }
  SavedSearch s;
  s.id = "q" + crypto::RandomId(15);
  s.name = name;
  s.query = query;
  s.case_id = case_id;
  s.created_at = ctx_.NowText();
  const crypto::SecretBytes key = crypto::NewDataKey();
  crypto::Bytes sealed_key;
  {
    std::lock_guard lock(actor.session().mu);
    sealed_key = crypto::SealTo(actor.session().user_key.public_key, key);
  }
  const nlohmann::json j = {{"name", name}, {"query", query}, {"case", case_id}};
  sql::Transaction t(*w);
  sql::Stmt ins(*w,
                "INSERT INTO saved_searches(id, user_id, sealed_key, sealed, created_at) "
                "VALUES(?, ?, ?, ?, ?)");
  ins.Bind(1, s.id).Bind(2, actor.user_id()).Bind(3, sealed_key);
  ins.Bind(4, SealJson(key, SavedAd(s.id, actor.user_id()), j)).Bind(5, s.created_at).Run();
  ctx_.events.Changed(*w, EventKind::kSearchSaved, actor.name(), s.id);
  t.Commit();
  return s;
}

std::vector<SavedSearch> SearchService::ListSaved(const Actor& actor) {
  RequireUserActor(actor);
  auto db = ctx_.db->Read();
  sql::Stmt st(*db, std::string(kSelect) + " ORDER BY created_at, id");
  st.Bind(1, actor.user_id());
  std::vector<SavedSearch> out;
  std::int64_t mark = 0;
  while (st.Step()) out.push_back(OpenSaved(actor, st, &mark));
  return out;
}

SavedSearchRun SearchService::RunSaved(const Actor& actor, const std::string& id,
                                       std::uint32_t offset, std::uint32_t limit) {
  RequireUserActor(actor);
  SavedSearchRun run;
  std::int64_t last_rowid = -1;
  {
    auto db = ctx_.db->Read();
    sql::Stmt st(*db, std::string(kSelect) + " AND id=?");
    st.Bind(1, actor.user_id()).Bind(2, id);
    if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such saved search");
    run.search = OpenSaved(actor, st, &last_rowid);
  }
  SearchRequest req;
  req.query = run.search.query;
  req.case_id = run.search.case_id;
  req.offset = offset;
  req.limit = limit;
  req.facets = true;
  const std::string now = ctx_.NowText();
  std::int64_t mark = 0;
  {
    auto db = ctx_.db->Read();
    sql::Stmt m(*db, "SELECT COALESCE(MAX(rowid), 0) FROM documents");
    m.Step();
    mark = m.Int(0);
  }
  run.results = Search(actor, req);
  if (last_rowid >= 0) {
    // New hits: documents added since the last run that match now.
    std::vector<std::string> fresh;
    {
      auto db = ctx_.db->Read();
      sql::Stmt st(*db, "SELECT id FROM documents WHERE rowid > ? AND status != 'pending' "
                        "AND duplicate_of IS NULL LIMIT 200001");
      st.Bind(1, last_rowid);
      while (st.Step()) fresh.push_back(col::Id(st, 0, col::IdKind::kDocument, "a document id"));
    }
    if (fresh.size() > 200000) {
      throw Error(ErrorCode::kTooLarge, "over 200,000 documents arrived since the last run");
    }
    if (!fresh.empty()) {
      SearchRequest count = req;
      count.offset = 0;
      count.limit = 0;
      count.facets = false;
      count.snippets = false;
      run.new_since_last_run = SearchAmong(actor, count, std::move(fresh)).total;
    }
  }
  if (ctx_.writable) {
    auto w = ctx_.db->Write();
    sql::Stmt u(*w,
                "UPDATE saved_searches SET last_run_at=?, last_total=?, last_rowid=? "
                "WHERE id=? AND user_id=?");
    u.Bind(1, now).Bind(2, static_cast<std::int64_t>(run.results.total)).Bind(3, mark);
    u.Bind(4, id).Bind(5, actor.user_id()).Run();
  }
  return run;
}

void SearchService::DeleteSaved(const Actor& actor, const std::string& id) {
  ctx_.RequireWritable();
  RequireUserActor(actor);
  auto w = ctx_.db->Write();
  sql::Stmt d(*w, "DELETE FROM saved_searches WHERE id=? AND user_id=?");
  d.Bind(1, id).Bind(2, actor.user_id()).Run();
  if (w->Changes() != 1) throw Error(ErrorCode::kNotFound, "no such saved search");
}

}  // namespace dossier::repo
