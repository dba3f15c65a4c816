#include "repo/workflow.h"

#include <algorithm>
#include <climits>

#include <nlohmann/json.hpp>

#include "crypto/envelope.h"
#include "repo/cases.h"
#include "repo/key_ring.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {

constexpr const char* kSettingsKey = "workflow";
constexpr std::size_t kMaxReason = 2000;
constexpr std::size_t kMaxAssignees = 50;
constexpr std::int64_t kDay = 24 * 3600;

std::string ReasonAd(const std::string& case_id, std::int64_t row) {
  return "dossier.case-history.v1|" + case_id + "|" + std::to_string(row);
}

crypto::SecretBytes MetaKey(const crypto::SecretBytes& case_key) {
  return crypto::DeriveDataSubkey(case_key, crypto::DataKeyUse::kMeta);
}

// One field's change, recorded in `case_history` (reason sealed).
void Record(sql::Db& w, const std::string& case_id, std::int64_t at, const std::string& actor,
            const std::string& field, const std::string& from, const std::string& to,
            const std::string& reason, const crypto::SecretBytes& meta_key) {
  sql::Stmt st(w,
               "INSERT INTO case_history(case_id, at, actor, field, from_value, to_value) "
               "VALUES(?, ?, ?, ?, ?, ?)");
  st.Bind(1, case_id).Bind(2, at).Bind(3, actor).Bind(4, field).Bind(5, from).Bind(6, to).Run();
  if (reason.empty()) return;
  const std::int64_t row = w.LastInsertRowid();
  sql::Stmt r(w, "UPDATE case_history SET sealed_reason=? WHERE id=?");
  r.Bind(1, crypto::SealMessage(meta_key, ReasonAd(case_id, row), reason)).Bind(2, row).Run();
}

std::string Joined(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

// The case's clear workflow columns, as they are now.
struct Columns {
  std::string stage, status, risk;
  std::optional<std::int64_t> owner_id;
};

Columns ReadColumns(sql::Db& w, const std::string& case_id) {
  sql::Stmt st(w, "SELECT stage, status, risk, owner_id FROM cases WHERE id=?");
  st.Bind(1, case_id);
  if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such case");
  Columns c{st.Text(0), st.Text(1), st.IsNull(2) ? std::string() : st.Text(2), std::nullopt};
  if (!st.IsNull(3)) c.owner_id = st.Int(3);
  return c;
}

void CheckPatch(const CasePatch& p) {
  if (p.title && (p.title->empty() || p.title->size() > 500)) {
    throw Error(ErrorCode::kInvalidArgument, "a case title needs 1-500 characters");
  }
  if (p.description && p.description->size() > 100000) {
    throw Error(ErrorCode::kInvalidArgument, "a case description is at most 100,000 characters");
  }
  if (p.reason.size() > kMaxReason) {
    throw Error(ErrorCode::kInvalidArgument, "a reason is at most 2,000 characters");
  }
  if (p.assignees && p.assignees->size() > kMaxAssignees) {
    throw Error(ErrorCode::kInvalidArgument, "a case has at most 50 assignees");
  }
}

}  // namespace

WorkflowSettings LoadWorkflowSettings(sql::Db& db) {
  WorkflowSettings s;
  // The defaults: what the seeds' case-management practice allows each
  // stage before it counts as stalled.
  s.stage_targets = {{Stage::kScreening, 7 * kDay},       {Stage::kAssessment, 14 * kDay},
                     {Stage::kRiskAssessment, 14 * kDay}, {Stage::kPlanning, 14 * kDay},
                     {Stage::kImplementation, 60 * kDay}, {Stage::kFollowUp, 30 * kDay},
                     {Stage::kEvaluation, 14 * kDay}};
  sql::Stmt st(db, "SELECT value FROM meta WHERE key=?");
  st.Bind(1, std::string_view(kSettingsKey));
  if (!st.Step()) return s;
  const auto b = st.Blob(0);
  const auto j = nlohmann::json::parse(b.begin(), b.end(), nullptr, false);
  if (!j.is_object() || !j.contains("stage_targets") || !j["stage_targets"].is_object() ||
      !j.contains("due_soon_seconds") || !j["due_soon_seconds"].is_number_integer()) {
    throw Error(ErrorCode::kCorrupt, "the repository's workflow settings are malformed");
  }
  s.stage_targets.clear();
  for (const auto& [name, v] : j["stage_targets"].items()) {
    const auto stage = ParseStage(name);
    if (!stage || !v.is_number_integer() || v.get<std::int64_t>() <= 0) {
      throw Error(ErrorCode::kCorrupt, "the repository's workflow settings are malformed");
    }
    s.stage_targets[*stage] = v.get<std::int64_t>();
  }
  s.due_soon_seconds = j["due_soon_seconds"].get<std::int64_t>();
  return s;
}

DeadlineState DeadlineAt(std::int64_t due, std::int64_t now, std::int64_t due_soon_seconds) {
  if (due <= now) return DeadlineState::kOverdue;
  if (due - now <= due_soon_seconds) return DeadlineState::kDueSoon;
  return DeadlineState::kOnTrack;
}

std::set<std::string> VisibleCases(sql::Db& db, const Actor& actor) {
  std::set<std::string> out;
  sql::Stmt st(db, "SELECT case_id, role_id FROM case_grants");
  while (st.Step()) {
    if (actor.Holds(st.Int(1))) out.insert(st.Text(0));
  }
  return out;
}

bool OpensCase(sql::Db& db, std::int64_t user_id, const std::string& case_id) {
  sql::Stmt m(db,
              "SELECT 1 FROM role_members m JOIN case_grants g ON g.role_id = m.role_id "
              "JOIN users u ON u.id = m.user_id WHERE m.user_id=? AND g.case_id=? AND u.disabled = 0");
  m.Bind(1, user_id).Bind(2, case_id);
  return m.Step();
}

std::int64_t CaseMember(sql::Db& db, const std::string& case_id, const std::string& user) {
  sql::Stmt u(db, "SELECT id FROM users WHERE name=?");
  u.Bind(1, user);
  // One message whether the user is missing, disabled or outside the
  // case's roles: editing a case does not tell who exists.
  if (!u.Step() || !OpensCase(db, u.Int(0), case_id)) {
    throw Error(ErrorCode::kInvalidArgument, "'" + user + "' is not an enabled user who can open this case");
  }
  return u.Int(0);
}

std::string UserNameOf(sql::Db& db, std::int64_t user_id) {
  sql::Stmt u(db, "SELECT name FROM users WHERE id=?");
  u.Bind(1, user_id);
  if (!u.Step()) throw Error(ErrorCode::kCorrupt, "a case names a user that does not exist");
  return col::Name(u, 0, "a user's name");
}

std::int64_t ParseDue(const std::string& text) {
  std::int64_t t = 0;
  if (ParseRfc3339(text, &t)) return t;
  if (text.size() == 10 && ParseRfc3339(text + "T23:59:59Z", &t)) return t;
  throw Error(ErrorCode::kInvalidArgument,
              "a due date is YYYY-MM-DD or an RFC 3339 time (2026-12-01T10:00:00Z)");
}

void WorkflowService::Update(const Actor& actor, const std::string& case_id, const CasePatch& p) {
  ctx_.RequireWritable();
  CheckPatch(p);
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  crypto::SecretBytes case_key;  // (OpenCaseRecord: kNotFound unless the actor opens the case)
  nlohmann::json record = OpenCaseRecord(*w, actor, case_id, &case_key);
  const crypto::SecretBytes meta_key = MetaKey(case_key);
  const Columns now_cols = ReadColumns(*w, case_id);
  const std::int64_t now = ctx_.Now();
  std::vector<std::string> changed;
  const auto change = [&](const std::string& field, const std::string& from, const std::string& to) {
    Record(*w, case_id, now, actor.name(), field, from, to, p.reason, meta_key);
    changed.push_back(field + ":" + from + ">" + to);
  };
  if (p.stage && StageName(*p.stage) != now_cols.stage) {
    sql::Stmt st(*w, "UPDATE cases SET stage=?, stage_since=? WHERE id=?");
    st.Bind(1, StageName(*p.stage)).Bind(2, now).Bind(3, case_id).Run();
    change("stage", now_cols.stage, std::string(StageName(*p.stage)));
  }
  if (p.status && CaseStatusName(*p.status) != now_cols.status) {
    sql::Stmt st(*w, "UPDATE cases SET status=? WHERE id=?");
    st.Bind(1, CaseStatusName(*p.status)).Bind(2, case_id).Run();
    change("status", now_cols.status, std::string(CaseStatusName(*p.status)));
  }
  const std::string old_risk = now_cols.risk.empty() ? JsonString(record, "risk") : now_cols.risk;
  if (p.risk && RiskName(*p.risk) != old_risk) {
    sql::Stmt st(*w, "UPDATE cases SET risk=? WHERE id=?");
    st.Bind(1, RiskName(*p.risk)).Bind(2, case_id).Run();
    change("risk", old_risk, std::string(RiskName(*p.risk)));
  }
  if (p.owner) {
    const std::string old_owner =
        now_cols.owner_id ? UserNameOf(*w, *now_cols.owner_id) : JsonString(record, "owner");
    if (*p.owner != old_owner) {
      const std::int64_t id = CaseMember(*w, case_id, *p.owner);
      sql::Stmt st(*w, "UPDATE cases SET owner_id=? WHERE id=?");
      st.Bind(1, id).Bind(2, case_id).Run();
      change("owner", old_owner, *p.owner);
    }
  }
  if (p.assignees) {
    std::vector<std::string> before;
    {
      sql::Stmt a(*w,
                  "SELECT u.name FROM case_assignees a JOIN users u ON u.id = a.user_id WHERE a.case_id=?");
      a.Bind(1, case_id);
      while (a.Step()) before.push_back(a.Text(0));
    }
    std::vector<std::string> after = *p.assignees;
    std::sort(after.begin(), after.end());
    after.erase(std::unique(after.begin(), after.end()), after.end());
    if (Joined(before) != Joined(after)) {
      std::vector<std::int64_t> ids;
      for (const auto& name : after) ids.push_back(CaseMember(*w, case_id, name));
      sql::Stmt del(*w, "DELETE FROM case_assignees WHERE case_id=?");
      del.Bind(1, case_id).Run();
      sql::Stmt ins(*w, "INSERT INTO case_assignees(case_id, user_id) VALUES(?, ?)");
      for (std::int64_t id : ids) {
        ins.Reset();
        ins.Bind(1, case_id).Bind(2, id).Run();
      }
      change("assignees", Joined(before), Joined(after));
    }
  }
  bool resealed = false;
  for (const auto& [field, value] : {std::pair{"title", &p.title}, std::pair{"description", &p.description}}) {
    if (!*value || JsonString(record, field) == **value) continue;
    record[field] = **value;
    resealed = true;
    // The history says that the text changed, not what it was or became.
    change(field, "", "");
  }
  if (resealed) SealCaseRecord(*w, case_id, case_key, record);
  if (changed.empty()) return;  // nothing to record: the transaction rolls back empty
  sql::Stmt up(*w, "UPDATE cases SET updated_at=? WHERE id=?");
  up.Bind(1, Rfc3339(now)).Bind(2, case_id).Run();
  std::string detail;
  for (const auto& c : changed) detail += (detail.empty() ? "" : "; ") + c;
  ctx_.events.Changed(*w, EventKind::kCaseChanged, actor.name(), case_id, detail);
  t.Commit();
}

std::vector<CaseChange> WorkflowService::History(const Actor& actor, const std::string& case_id) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  RequireCaseVisible(*db, actor, case_id);
  const crypto::SecretBytes meta_key = MetaKey(OpenCaseKey(*db, actor, case_id));
  sql::Stmt st(*db,
               "SELECT id, at, actor, field, from_value, to_value, sealed_reason FROM case_history "
               "WHERE case_id=? ORDER BY id");
  st.Bind(1, case_id);
  std::vector<CaseChange> out;
  while (st.Step()) {
    CaseChange c;
    c.at = Rfc3339(col::Integer(st, 1, 0, INT64_MAX, "a case change's time"));
    c.user = st.Text(2);
    c.field = st.Text(3);
    c.from = st.Text(4);
    c.to = st.Text(5);
    if (!st.IsNull(6)) {
      c.reason = crypto::OpenMessage(meta_key, ReasonAd(case_id, st.Int(0)),
                                     col::Bounded(st, 6, 1, 3 * kMaxReason + 64, "a change's reason"));
    }
    out.push_back(std::move(c));
  }
  ctx_.events.Read(EventKind::kWorkflowRead, actor.name(), case_id, "history");
  return out;
}

WorkflowSettings WorkflowService::Settings() {
  auto db = ctx_.db->Read();
  return LoadWorkflowSettings(*db);
}

void WorkflowService::SetSettings(const Actor& actor, const WorkflowSettings& s) {
  actor.RequireAdmin();
  ctx_.RequireWritable();
  if (s.due_soon_seconds < 0 || s.due_soon_seconds > 365 * kDay) {
    throw Error(ErrorCode::kInvalidArgument, "the due-soon window is 0 to 365 days");
  }
  nlohmann::json targets = nlohmann::json::object();
  for (const auto& [stage, secs] : s.stage_targets) {
    if (secs <= 0 || secs > 10 * 365 * kDay) {
      throw Error(ErrorCode::kInvalidArgument, "a stage target is 1 second to 10 years");
    }
    targets[std::string(StageName(stage))] = secs;
  }
  const std::string text = nlohmann::json{{"stage_targets", targets}, {"due_soon_seconds", s.due_soon_seconds}}.dump();
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  sql::Stmt st(*w, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  st.Bind(1, std::string_view(kSettingsKey)).BindBlob(2, text).Run();
  ctx_.events.Changed(*w, EventKind::kWorkflowSettings, actor.name(), "", text);
  t.Commit();
}

}  // namespace dossier::repo
