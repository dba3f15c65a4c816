// Where cases stand (WorkflowService::Report): counted over the cases and
// documents the actor may open only, so a hidden case moves no figure.
#include <algorithm>
#include <climits>
#include <map>

#include "repo/cases.h"
#include "repo/key_ring.h"
#include "repo/sealed_json.h"
#include "repo/workflow.h"

namespace dossier::repo {

namespace {

struct CaseRow {
  std::string title;
  Stage stage = Stage::kScreening;
  Risk risk = Risk::kNone;
  bool open = true;
  std::int64_t created = 0, since = 0;
};

// Nearest-rank percentile of sorted values.
std::int64_t Percentile(const std::vector<std::int64_t>& sorted, int pct) {
  if (sorted.empty()) return 0;
  std::size_t rank = (sorted.size() * static_cast<std::size_t>(pct) + 99) / 100;
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

std::map<std::string, CaseRow> ReadCases(sql::Db& db, const Actor& actor, const std::set<std::string>& visible) {
  std::map<std::string, CaseRow> out;
  sql::Stmt st(db, "SELECT id, stage, status, risk, stage_since, created_at FROM cases");
  while (st.Step()) {
    const std::string id = col::Id(st, 0, col::IdKind::kCase, "a case id");
    if (!visible.count(id)) continue;
    crypto::SecretBytes key;
    const nlohmann::json record = OpenCaseRecord(db, actor, id, &key);
    CaseRow c;
    c.title = JsonString(record, "title");
    const auto stage = ParseStage(st.Text(1));
    const auto status = ParseCaseStatus(st.Text(2));
    const auto risk = ParseRisk(st.IsNull(3) ? JsonString(record, "risk") : st.Text(3));
    if (!stage || !status || !risk || !ParseRfc3339(st.Text(5), &c.created)) {
      throw Error(ErrorCode::kCorrupt, "a case's record is malformed");
    }
    c.stage = *stage;
    c.risk = *risk;
    c.open = *status == CaseStatus::kOpen;
    c.since = st.IsNull(4) ? c.created : st.Int(4);
    out.emplace(id, std::move(c));
  }
  return out;
}

// Every stretch of time each case spent in a stage while open, the
// current one up to now.
std::map<Stage, std::vector<std::int64_t>> StageTimes(sql::Db& db, const std::map<std::string, CaseRow>& cases,
                                                      std::int64_t now) {
  std::map<std::string, std::vector<std::tuple<std::int64_t, std::string, std::string, std::string>>> changes;
  sql::Stmt st(db,
               "SELECT case_id, at, field, from_value, to_value FROM case_history "
               "WHERE field IN ('stage', 'status') ORDER BY case_id, id");
  while (st.Step()) {
    std::string id = st.Text(0);
    if (!cases.count(id)) continue;
    changes[id].emplace_back(st.Int(1), st.Text(2), st.Text(3), st.Text(4));
  }
  std::map<Stage, std::vector<std::int64_t>> out;
  for (const auto& [id, c] : cases) {
    const auto& list = changes[id];
    Stage cur = c.stage;
    for (const auto& ch : list) {
      if (std::get<1>(ch) == "stage") {
        if (auto s = ParseStage(std::get<2>(ch))) cur = *s;
        break;
      }
    }
    std::int64_t start = c.created;
    bool running = true;
    for (const auto& [at, field, from, to] : list) {
      if (field == "stage") {
        if (running) out[cur].push_back(std::max<std::int64_t>(0, at - start));
        if (auto s = ParseStage(to)) cur = *s;
        start = at;
      } else if (to == "closed" && running) {
        out[cur].push_back(std::max<std::int64_t>(0, at - start));
        running = false;
      } else if (to == "open" && !running) {
        start = at;
        running = true;
      }
    }
    if (running && c.open) out[cur].push_back(std::max<std::int64_t>(0, now - start));
  }
  return out;
}

}  // namespace

WorkflowReport WorkflowService::Report(const Actor& actor) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  const std::int64_t now = ctx_.Now();
  const WorkflowSettings settings = LoadWorkflowSettings(*db);
  const std::set<std::string> visible = VisibleCases(*db, actor);
  const std::map<std::string, CaseRow> cases = ReadCases(*db, actor, visible);
  WorkflowReport r;
  r.at = Rfc3339(now);
  std::map<std::pair<Stage, Risk>, std::int64_t> by;
  for (const auto& [id, c] : cases) {
    if (!c.open) {
      ++r.closed;
      continue;
    }
    ++by[{c.stage, c.risk}];
    const auto t = settings.stage_targets.find(c.stage);
    if (t != settings.stage_targets.end() && now - c.since > t->second) {
      r.past_target.push_back({id, c.title, c.stage, Rfc3339(c.since), t->second, now - c.since - t->second});
    }
  }
  for (const auto& [k, n] : by) r.open_by_stage.push_back({k.first, k.second, n});
  std::sort(r.past_target.begin(), r.past_target.end(),
            [](const auto& a, const auto& b) { return a.over_seconds > b.over_seconds; });
  auto times = StageTimes(*db, cases, now);
  for (Stage s : AllStages()) {
    auto& v = times[s];
    std::sort(v.begin(), v.end());
    r.time_in_stage.push_back({s, static_cast<std::int64_t>(v.size()), Percentile(v, 50), Percentile(v, 90)});
  }
  {
    sql::Stmt st(*db,
                 "SELECT t.case_id, t.assignee_id FROM tasks t JOIN cases c ON c.id = t.case_id "
                 "WHERE t.done_at IS NULL AND t.due IS NOT NULL AND t.due <= ? AND c.status = 'open'");
    st.Bind(1, now);
    std::map<std::int64_t, std::string> names;
    while (st.Step()) {
      if (!cases.count(st.Text(0))) continue;
      std::string who;
      if (!st.IsNull(1)) {
        auto n = names.find(st.Int(1));
        if (n == names.end()) n = names.emplace(st.Int(1), UserNameOf(*db, st.Int(1))).first;
        who = n->second;
      }
      ++r.overdue_tasks[who];
    }
  }
  {
    std::map<std::string, bool> shard_visible;
    std::map<std::string, std::int64_t> docs;
    sql::Stmt st(*db,
                 "SELECT case_id, shard_id, COUNT(*) FROM documents WHERE status IN "
                 "('indexed','partial','duplicate') GROUP BY case_id, shard_id");
    while (st.Step()) {
      const std::string id = st.Text(0);
      if (!cases.count(id)) continue;
      const std::string shard = col::Id(st, 1, col::IdKind::kShard, "a document's shard");
      auto v = shard_visible.find(shard);
      if (v == shard_visible.end()) v = shard_visible.emplace(shard, actor.HoldsAny(ShardSet(*db, shard))).first;
      if (v->second) docs[id] += st.Int(2);
    }
    for (const auto& [id, c] : cases) r.documents_per_case.push_back({id, c.title, docs[id]});
    std::sort(r.documents_per_case.begin(), r.documents_per_case.end(),
              [](const auto& a, const auto& b) { return a.documents != b.documents ? a.documents > b.documents : a.case_id < b.case_id; });
  }
  ctx_.events.Read(EventKind::kWorkflowRead, actor.name(), "", "report");
  return r;
}

}  // namespace dossier::repo
