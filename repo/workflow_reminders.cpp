// Reminders and the notification inbox (see workflow.h).
#include <climits>

#include "repo/key_ring.h"
#include "repo/workflow.h"

namespace dossier::repo {

namespace {

constexpr std::size_t kMaxFiredPerRun = 10000;

std::vector<std::int64_t> Assignees(sql::Db& db, const std::string& case_id) {
  sql::Stmt a(db, "SELECT user_id FROM case_assignees WHERE case_id=?");
  a.Bind(1, case_id);
  std::vector<std::int64_t> out;
  while (a.Step()) out.push_back(a.Int(0));
  return out;
}

// Records that the reminder fired (false: it had fired already) and puts it
// in each recipient's inbox.
bool Fire(sql::Db& w, FiredReminder& r, const std::string& target, std::int64_t due, std::int64_t now,
          std::vector<std::int64_t> people) {
  const std::string state(DeadlineStateName(r.state));
  sql::Stmt once(w, "INSERT OR IGNORE INTO reminders(kind, target, state, due, fired_at) VALUES(?, ?, ?, ?, ?)");
  once.Bind(1, r.kind).Bind(2, target).Bind(3, state).Bind(4, due).Bind(5, now).Run();
  if (w.Changes() == 0) return false;
  std::sort(people.begin(), people.end());
  people.erase(std::unique(people.begin(), people.end()), people.end());
  sql::Stmt ins(w,
                "INSERT INTO notifications(user_id, kind, state, case_id, task_id, stage, due, at) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  for (std::int64_t user : people) {
    if (!OpensCase(w, user, r.case_id)) continue;
    ins.Reset();
    ins.Bind(1, user).Bind(2, r.kind).Bind(3, state).Bind(4, r.case_id);
    if (r.task_id.empty()) ins.BindNull(5);
    else ins.Bind(5, r.task_id);
    if (r.stage.empty()) ins.BindNull(6);
    else ins.Bind(6, r.stage);
    ins.Bind(7, due).Bind(8, now).Run();
    r.recipients.push_back(UserNameOf(w, user));
  }
  std::sort(r.recipients.begin(), r.recipients.end());
  r.due = Rfc3339(due);
  r.fired_at = Rfc3339(now);
  return true;
}

}  // namespace

std::vector<FiredReminder> ReminderService::Run() {
  ctx_.RequireWritable();
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  const WorkflowSettings settings = LoadWorkflowSettings(*w);
  const std::int64_t now = ctx_.Now();
  std::vector<FiredReminder> fired;
  {
    sql::Stmt st(*w,
                 "SELECT t.id, t.case_id, t.assignee_id, t.due, c.owner_id FROM tasks t "
                 "JOIN cases c ON c.id = t.case_id WHERE t.done_at IS NULL AND t.due IS NOT NULL "
                 "AND t.due <= ? AND c.status = 'open' ORDER BY t.due");
    st.Bind(1, now > INT64_MAX - settings.due_soon_seconds ? INT64_MAX : now + settings.due_soon_seconds);
    while (st.Step() && fired.size() < kMaxFiredPerRun) {
      FiredReminder r;
      r.kind = "task";
      r.task_id = col::Id(st, 0, col::IdKind::kTask, "a task id");
      r.case_id = col::Id(st, 1, col::IdKind::kCase, "a task's case");
      const std::int64_t due = st.Int(3);
      r.state = DeadlineAt(due, now, settings.due_soon_seconds);
      // A task's person is its assignee, and the case's owner beside them.
      std::vector<std::int64_t> people;
      if (!st.IsNull(2)) people.push_back(st.Int(2));
      if (!st.IsNull(4)) people.push_back(st.Int(4));
      if (Fire(*w, r, r.task_id, due, now, people)) fired.push_back(std::move(r));
    }
  }
  {
    sql::Stmt st(*w, "SELECT id, stage, stage_since, created_at, owner_id FROM cases WHERE status = 'open'");
    while (st.Step() && fired.size() < kMaxFiredPerRun) {
      const auto stage = ParseStage(st.Text(1));
      if (!stage) throw Error(ErrorCode::kCorrupt, "a case's stage is malformed");
      const auto target = settings.stage_targets.find(*stage);
      if (target == settings.stage_targets.end()) continue;
      std::int64_t since = 0;
      if (!st.IsNull(2)) since = st.Int(2);
      else if (!ParseRfc3339(st.Text(3), &since)) throw Error(ErrorCode::kCorrupt, "a case's time is malformed");
      const std::int64_t due = since + target->second;
      const DeadlineState state = DeadlineAt(due, now, settings.due_soon_seconds);
      if (state == DeadlineState::kOnTrack) continue;
      FiredReminder r;
      r.kind = "stage";
      r.case_id = col::Id(st, 0, col::IdKind::kCase, "a case id");
      r.stage = std::string(StageName(*stage));
      r.state = state;
      std::vector<std::int64_t> people = Assignees(*w, r.case_id);
      if (!st.IsNull(4)) people.push_back(st.Int(4));
      if (Fire(*w, r, r.case_id + ":" + r.stage, due, now, people)) fired.push_back(std::move(r));
    }
  }
  for (const auto& r : fired) {
    ctx_.events.Changed(*w, EventKind::kReminded, "", r.case_id,
                        r.kind + " " + (r.task_id.empty() ? r.stage : r.task_id) + " " +
                            std::string(DeadlineStateName(r.state)));
  }
  t.Commit();
  return fired;
}

std::vector<NotificationInfo> ReminderService::Inbox(const Actor& actor, bool unread_only, std::uint32_t limit) {
  std::vector<NotificationInfo> out;
  if (actor.user_id() <= 0) return out;
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  const std::set<std::string> visible = VisibleCases(*db, actor);
  sql::Stmt st(*db, std::string("SELECT id, kind, state, case_id, task_id, stage, due, at, read_at FROM "
                                "notifications WHERE user_id=? ") +
                        (unread_only ? "AND read_at IS NULL " : "") + "ORDER BY id DESC");
  st.Bind(1, actor.user_id());
  limit = std::min<std::uint32_t>(limit, 1000);
  while (out.size() < limit && st.Step()) {
    NotificationInfo n;
    n.case_id = col::Id(st, 3, col::IdKind::kCase, "a notification's case");
    if (!visible.count(n.case_id)) continue;
    n.id = st.Int(0);
    n.kind = st.Text(1);
    const std::string state = st.Text(2);
    n.state = state == "overdue" ? DeadlineState::kOverdue : DeadlineState::kDueSoon;
    if (!st.IsNull(4)) n.task_id = col::Id(st, 4, col::IdKind::kTask, "a notification's task");
    if (!st.IsNull(5)) n.stage = st.Text(5);
    n.due = Rfc3339(col::Integer(st, 6, 0, INT64_MAX, "a notification's due time"));
    n.at = Rfc3339(col::Integer(st, 7, 0, INT64_MAX, "a notification's time"));
    n.read = !st.IsNull(8);
    out.push_back(std::move(n));
  }
  ctx_.events.Read(EventKind::kWorkflowRead, actor.name(), "", "notifications");
  return out;
}

void ReminderService::MarkRead(const Actor& actor, const std::vector<std::int64_t>& ids) {
  ctx_.RequireWritable();
  if (actor.user_id() <= 0) return;
  if (ids.size() > 1000) throw Error(ErrorCode::kInvalidArgument, "at most 1,000 notifications at once");
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  if (ids.empty()) {
    sql::Stmt st(*w, "UPDATE notifications SET read_at=? WHERE user_id=? AND read_at IS NULL");
    st.Bind(1, ctx_.Now()).Bind(2, actor.user_id()).Run();
  } else {
    sql::Stmt st(*w, "UPDATE notifications SET read_at=? WHERE user_id=? AND id=? AND read_at IS NULL");
    for (std::int64_t id : ids) {
      st.Reset();
      st.Bind(1, ctx_.Now()).Bind(2, actor.user_id()).Bind(3, id).Run();
    }
  }
  t.Commit();
}

}  // namespace dossier::repo
