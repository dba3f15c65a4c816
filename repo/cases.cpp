#include "repo/cases.h"

#include <algorithm>
#include <map>

#include "crypto/envelope.h"
#include "indexer/entities.h"
#include "repo/key_ring.h"
#include "repo/sealed_json.h"
#include "repo/workflow.h"

namespace dossier::repo {

namespace {
std::string CaseAd(const std::string& id) { return "dossier.case.v1|" + id; }
}  // namespace

void RequireCaseVisible(sql::Db& db, const Actor& actor, const std::string& case_id) {
  sql::Stmt st(db, "SELECT 1 FROM cases WHERE id=?");
  st.Bind(1, case_id);
  const bool exists = st.Step();
  if (!exists || !actor.HoldsAny(CaseRoles(db, case_id))) {
    throw Error(ErrorCode::kNotFound, "no such case");
  }
}

namespace {

// A case's row with its sealed record opened (kNotFound unless the actor
// may see the case).
struct CaseRecord {
  nlohmann::json meta;
  std::string created_at, updated_at;
  std::int64_t created = 0;
  std::string stage, status;
  std::optional<std::string> risk;      // NULL: in the sealed record (before version 9)
  std::optional<std::int64_t> owner_id;  // NULL: the sealed record's owner
  std::optional<std::int64_t> stage_since;
};

CaseRecord ReadCaseRecord(sql::Db& db, const Actor& actor, const std::string& case_id) {
  RequireCaseVisible(db, actor, case_id);
  const crypto::SecretBytes key = OpenCaseKey(db, actor, case_id);
  sql::Stmt st(db,
               "SELECT sealed_meta, created_at, updated_at, stage, status, risk, owner_id, "
               "stage_since FROM cases WHERE id=?");
  st.Bind(1, case_id);
  if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such case");
  CaseRecord r;
  r.meta = OpenJson(crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kMeta), CaseAd(case_id),
                    col::Bounded(st, 0, 40, kMaxSealedJson, "a case's sealed record"));
  r.created_at = col::Time(st, 1, "a case's creation time");
  r.updated_at = col::Time(st, 2, "a case's update time");
  ParseRfc3339(r.created_at, &r.created);
  r.stage = st.Text(3);
  r.status = st.Text(4);
  if (!st.IsNull(5)) r.risk = st.Text(5);
  if (!st.IsNull(6)) r.owner_id = col::Integer(st, 6, 1, INT64_MAX, "a case's owner");
  if (!st.IsNull(7)) r.stage_since = col::Integer(st, 7, 0, INT64_MAX, "a case's stage time");
  return r;
}

}  // namespace

std::string CaseRegion(sql::Db& db, const Actor& actor, const std::string& case_id) {
  return JsonString(ReadCaseRecord(db, actor, case_id).meta, "phone_region");
}

nlohmann::json OpenCaseRecord(sql::Db& db, const Actor& actor, const std::string& case_id,
                              crypto::SecretBytes* case_key) {
  CaseRecord r = ReadCaseRecord(db, actor, case_id);
  *case_key = OpenCaseKey(db, actor, case_id);
  return std::move(r.meta);
}

void SealCaseRecord(sql::Db& w, const std::string& case_id, const crypto::SecretBytes& case_key,
                    const nlohmann::json& record) {
  sql::Stmt st(w, "UPDATE cases SET sealed_meta=? WHERE id=?");
  st.Bind(1, SealJson(crypto::DeriveDataSubkey(case_key, crypto::DataKeyUse::kMeta), CaseAd(case_id), record))
      .Bind(2, case_id)
      .Run();
}

CaseInfo CaseService::Create(const Actor& actor, const NewCase& c) {
  return CreateMany(actor, {c}).at(0);
}

std::vector<CaseInfo> CaseService::CreateMany(const Actor& actor, const std::vector<NewCase>& list) {
  ctx_.RequireWritable();
  if (list.size() > 100000) throw Error(ErrorCode::kInvalidArgument, "at most 100,000 cases at once");
  for (const auto& c : list) {
    if (c.title.empty() || c.title.size() > 500) {
      throw Error(ErrorCode::kInvalidArgument, "a case title needs 1-500 characters");
    }
    if (c.description.size() > 100000) {
      throw Error(ErrorCode::kInvalidArgument, "a case description is at most 100,000 characters");
    }
    if (c.roles.empty()) throw Error(ErrorCode::kInvalidArgument, "a case needs at least one role");
    if (!c.phone_region.empty() && !indexer::IsPhoneRegion(c.phone_region)) {
      throw Error(ErrorCode::kInvalidArgument, "'" + c.phone_region + "' is not a region code (ES, PT, IT, …)");
    }
  }
  std::vector<std::string> ids;
  {
    auto w = ctx_.db->Write();
    sql::Transaction t(*w);
    const std::string now = ctx_.NowText();
    sql::Stmt ins(*w,
                  "INSERT INTO cases(id, sealed_meta, recovery_sealed_key, created_at, "
                  "updated_at, stage, stage_since, status, risk, owner_id) "
                  "VALUES(?, ?, ?, ?, ?, 'screening', ?, 'open', ?, ?)");
    sql::Stmt g(*w, "INSERT INTO case_grants(case_id, role_id, sealed_key) VALUES(?, ?, ?)");
    std::map<RoleId, crypto::PublicKey> keys;
    for (const auto& c : list) {
      AccessSet roles;
      for (const auto& r : c.roles) roles.insert(RoleIdOf(*w, r));
      if (!actor.HoldsAny(roles)) {
        throw Error(ErrorCode::kForbidden, "you must hold one of the case's roles to create it");
      }
      const std::string id = "c" + crypto::RandomId(11);
      crypto::SecretBytes case_key = crypto::NewDataKey();
      // Stage, status, risk, owner and assignees are columns (workflow.h
      // says why); the sealed record keeps what only the case's roles read.
      nlohmann::json meta = {{"title", c.title},
                             {"description", c.description},
                             {"phone_region", c.phone_region}};
      ins.Reset();
      ins.Bind(1, id)
          .Bind(2, SealJson(crypto::DeriveDataSubkey(case_key, crypto::DataKeyUse::kMeta),
                            CaseAd(id), meta))
          .Bind(3, crypto::SealTo(ctx_.recovery_public, case_key))
          .Bind(4, now)
          .Bind(5, now)
          .Bind(6, ctx_.Now())
          .Bind(7, RiskName(c.risk));
      if (actor.user_id() > 0) ins.Bind(8, actor.user_id());
      else ins.BindNull(8);
      ins.Run();
      for (RoleId r : roles) {
        auto k = keys.find(r);
        if (k == keys.end()) k = keys.emplace(r, RolePublicKey(*w, r)).first;
        g.Reset();
        g.Bind(1, id).Bind(2, r).Bind(3, crypto::SealTo(k->second, case_key)).Run();
      }
      ctx_.events.Changed(*w, EventKind::kCaseCreated, actor.name(), id);
      ids.push_back(id);
    }
    t.Commit();
  }
  std::vector<CaseInfo> out;
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  const WorkflowSettings settings = LoadWorkflowSettings(*db);
  for (const auto& id : ids) out.push_back(Read(*db, actor, id, settings));
  return out;
}

CaseInfo CaseService::Get(const Actor& actor, const std::string& case_id) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  CaseInfo info = Read(*db, actor, case_id, LoadWorkflowSettings(*db));
  ctx_.events.Read(EventKind::kCaseRead, actor.name(), case_id);
  return info;
}

namespace {
bool Matches(const CaseInfo& c, const CaseFilter& f) {
  if (f.stage && c.stage != *f.stage) return false;
  if (f.risk && c.risk != *f.risk) return false;
  if (f.status && c.status != *f.status) return false;
  if (f.q.empty()) return true;
  const auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  const std::string q = lower(f.q);
  return lower(c.title).find(q) != std::string::npos || lower(c.description).find(q) != std::string::npos ||
         lower(c.id).find(q) != std::string::npos;
}
}  // namespace

std::vector<CaseInfo> CaseService::List(const Actor& actor, const CaseFilter& filter) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  std::vector<std::string> ids;
  {
    // The clear columns filter before any case is opened (a case's key and
    // record are opened only for the cases the filter keeps).
    sql::Stmt st(*db, "SELECT id, stage, status, risk FROM cases ORDER BY created_at, id");
    while (st.Step()) {
      if (filter.stage && st.Text(1) != StageName(*filter.stage)) continue;
      if (filter.status && st.Text(2) != CaseStatusName(*filter.status)) continue;
      if (filter.risk && !st.IsNull(3) && st.Text(3) != RiskName(*filter.risk)) continue;
      ids.push_back(col::Id(st, 0, col::IdKind::kCase, "a case id"));
    }
  }
  const WorkflowSettings settings = LoadWorkflowSettings(*db);
  std::vector<CaseInfo> out;
  for (const auto& id : ids) {
    try {
      CaseInfo c = Read(*db, actor, id, settings);
      if (Matches(c, filter)) out.push_back(std::move(c));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
  }
  ctx_.events.Read(EventKind::kCaseRead, actor.name(), "");
  return out;
}

CaseInfo CaseService::Read(sql::Db& db, const Actor& actor, const std::string& case_id,
                           const WorkflowSettings& settings) {
  const CaseRecord record = ReadCaseRecord(db, actor, case_id);
  const nlohmann::json& meta = record.meta;
  CaseInfo info;
  info.id = case_id;
  info.title = JsonString(meta, "title");
  info.description = JsonString(meta, "description");
  info.phone_region = JsonString(meta, "phone_region");
  const auto risk = ParseRisk(record.risk ? *record.risk : JsonString(meta, "risk"));
  const auto stage = ParseStage(record.stage);
  const auto status = ParseCaseStatus(record.status);
  if (!risk || !stage || !status) throw Error(ErrorCode::kCorrupt, "a case's record is malformed");
  info.risk = *risk;
  info.stage = *stage;
  info.status = *status;
  info.owner = record.owner_id ? UserNameOf(db, *record.owner_id) : JsonString(meta, "owner");
  {
    sql::Stmt a(db,
                "SELECT u.name FROM case_assignees a JOIN users u ON u.id = a.user_id "
                "WHERE a.case_id=? ORDER BY u.name");
    a.Bind(1, case_id);
    while (a.Step()) info.assignees.push_back(col::Name(a, 0, "an assignee's name"));
  }
  info.created_at = record.created_at;
  info.updated_at = record.updated_at;
  const std::int64_t since = record.stage_since.value_or(record.created);
  info.stage_since = Rfc3339(since);
  if (auto t = settings.stage_targets.find(info.stage); t != settings.stage_targets.end()) {
    info.stage_due = Rfc3339(since + t->second);
    info.stage_state = info.status == CaseStatus::kClosed
                           ? DeadlineState::kNone
                           : DeadlineAt(since + t->second, ctx_.Now(), settings.due_soon_seconds);
  }
  for (RoleId r : CaseRoles(db, case_id)) info.roles.push_back(RoleNameOf(db, r));
  std::sort(info.roles.begin(), info.roles.end());
  // Count only the documents this actor can see: restricted ones in sets
  // they do not reach are not theirs to count.
  sql::Stmt count(db,
                  "SELECT shard_id, COUNT(*) FROM documents WHERE case_id=? AND status IN "
                  "('indexed','partial','duplicate') GROUP BY shard_id");
  count.Bind(1, case_id);
  while (count.Step()) {
    const std::string shard = col::Id(count, 0, col::IdKind::kShard, "a document's shard");
    if (actor.HoldsAny(ShardSet(db, shard))) info.document_count += count.Int(1);
  }
  return info;
}

}  // namespace dossier::repo
