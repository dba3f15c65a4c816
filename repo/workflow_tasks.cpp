// Tasks and notes of a case (see workflow.h).
#include <algorithm>
#include <climits>

#include "crypto/envelope.h"
#include "crypto/secret.h"
#include "repo/cases.h"
#include "repo/key_ring.h"
#include "repo/workflow.h"

namespace dossier::repo {

namespace {

constexpr std::size_t kMaxTaskTitle = 500;
constexpr std::size_t kMaxNote = 20000;
constexpr std::size_t kMaxTasksPerCase = 10000;

std::string TaskAd(const std::string& case_id, const std::string& id) {
  return "dossier.task.v1|" + case_id + "|" + id;
}
std::string NoteAd(const std::string& case_id, const std::string& id) {
  return "dossier.note.v1|" + case_id + "|" + id;
}
crypto::SecretBytes MetaKey(sql::Db& db, const Actor& actor, const std::string& case_id) {
  return crypto::DeriveDataSubkey(OpenCaseKey(db, actor, case_id), crypto::DataKeyUse::kMeta);
}

void CheckTitle(const std::string& title) {
  if (title.empty() || title.size() > kMaxTaskTitle) {
    throw Error(ErrorCode::kInvalidArgument, "a task title needs 1-500 characters");
  }
}

constexpr const char* kTaskColumns =
    "SELECT t.id, t.case_id, t.sealed_title, t.assignee_id, t.due, t.done_at, t.created_at, "
    "t.created_by FROM tasks t ";

}  // namespace

std::vector<TaskInfo> WorkflowService::ReadTasks(sql::Db& db, const Actor& actor, sql::Stmt& st,
                                                 const WorkflowSettings& settings, std::uint32_t limit) {
  std::vector<TaskInfo> out;
  std::map<std::string, crypto::SecretBytes> keys;
  std::map<std::string, bool> visible;
  std::map<std::int64_t, std::string> names;
  const std::int64_t now = ctx_.Now();
  while (out.size() < limit && st.Step()) {
    TaskInfo t;
    t.id = col::Id(st, 0, col::IdKind::kTask, "a task id");
    t.case_id = col::Id(st, 1, col::IdKind::kCase, "a task's case");
    auto v = visible.find(t.case_id);
    if (v == visible.end()) v = visible.emplace(t.case_id, actor.HoldsAny(CaseRoles(db, t.case_id))).first;
    if (!v->second) continue;
    auto k = keys.find(t.case_id);
    if (k == keys.end()) k = keys.emplace(t.case_id, MetaKey(db, actor, t.case_id)).first;
    t.title = crypto::OpenMessage(k->second, TaskAd(t.case_id, t.id),
                                  col::Bounded(st, 2, 1, 4 * kMaxTaskTitle, "a task's title"));
    if (!st.IsNull(3)) {
      auto n = names.find(st.Int(3));
      if (n == names.end()) n = names.emplace(st.Int(3), UserNameOf(db, st.Int(3))).first;
      t.assignee = n->second;
    }
    const bool done = !st.IsNull(5);
    if (!st.IsNull(4)) t.due = Rfc3339(col::Integer(st, 4, 0, INT64_MAX, "a task's due date"));
    if (done) t.done_at = Rfc3339(col::Integer(st, 5, 0, INT64_MAX, "a task's done time"));
    t.created_at = Rfc3339(col::Integer(st, 6, 0, INT64_MAX, "a task's creation time"));
    t.created_by = st.Text(7);
    if (done) t.state = DeadlineState::kDone;
    else if (!st.IsNull(4)) t.state = DeadlineAt(st.Int(4), now, settings.due_soon_seconds);
    out.push_back(std::move(t));
  }
  return out;
}

TaskInfo WorkflowService::ReadTask(sql::Db& db, const Actor& actor, const std::string& task_id,
                                   const WorkflowSettings& settings) {
  sql::Stmt st(db, std::string(kTaskColumns) + "WHERE t.id=?");
  st.Bind(1, task_id);
  auto tasks = ReadTasks(db, actor, st, settings, 1);
  if (tasks.empty()) throw Error(ErrorCode::kNotFound, "no such task");
  return std::move(tasks[0]);
}

TaskInfo WorkflowService::AddTask(const Actor& actor, const std::string& case_id, const NewTask& task) {
  ctx_.RequireWritable();
  CheckTitle(task.title);
  const bool has_due = !task.due.empty();
  const std::int64_t due = has_due ? ParseDue(task.due) : 0;
  const std::string id = "t" + crypto::RandomId(15);
  {
    auto w = ctx_.db->Write();
    sql::Transaction t(*w);
    RequireCaseVisible(*w, actor, case_id);
    sql::Stmt count(*w, "SELECT COUNT(*) FROM tasks WHERE case_id=?");
    count.Bind(1, case_id);
    count.Step();
    if (static_cast<std::size_t>(count.Int(0)) >= kMaxTasksPerCase) {
      throw Error(ErrorCode::kInvalidArgument, "a case has at most 10,000 tasks");
    }
    const std::int64_t now = ctx_.Now();
    sql::Stmt ins(*w,
                  "INSERT INTO tasks(id, case_id, sealed_title, assignee_id, due, created_at, "
                  "created_by, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    ins.Bind(1, id).Bind(2, case_id).Bind(3, crypto::SealMessage(MetaKey(*w, actor, case_id),
                                                                   TaskAd(case_id, id), task.title));
    if (task.assignee.empty()) ins.BindNull(4);
    else ins.Bind(4, CaseMember(*w, case_id, task.assignee));
    if (has_due) ins.Bind(5, due);
    else ins.BindNull(5);
    ins.Bind(6, now).Bind(7, actor.name()).Bind(8, now).Run();
    ctx_.events.Changed(*w, EventKind::kTaskAdded, actor.name(), case_id, id);
    t.Commit();
  }
  auto db = ctx_.db->Read();
  return ReadTask(*db, actor, id, LoadWorkflowSettings(*db));
}

TaskInfo WorkflowService::UpdateTask(const Actor& actor, const std::string& task_id, const TaskPatch& p) {
  ctx_.RequireWritable();
  if (!col::IsId(task_id, col::IdKind::kTask)) throw Error(ErrorCode::kNotFound, "no such task");
  if (p.title) CheckTitle(*p.title);
  std::string case_id;
  {
    auto w = ctx_.db->Write();
    sql::Transaction t(*w);
    {
      sql::Stmt st(*w, "SELECT case_id FROM tasks WHERE id=?");
      st.Bind(1, task_id);
      if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such task");
      case_id = st.Text(0);
    }
    try {
      RequireCaseVisible(*w, actor, case_id);
    } catch (const Error&) {
      throw Error(ErrorCode::kNotFound, "no such task");
    }
    const std::int64_t now = ctx_.Now();
    std::string detail = task_id;
    if (p.title) {
      sql::Stmt st(*w, "UPDATE tasks SET sealed_title=? WHERE id=?");
      st.Bind(1, crypto::SealMessage(MetaKey(*w, actor, case_id), TaskAd(case_id, task_id), *p.title))
          .Bind(2, task_id)
          .Run();
      detail += " title";
    }
    if (p.done) {
      sql::Stmt st(*w, "UPDATE tasks SET done_at=? WHERE id=?");
      if (*p.done) st.Bind(1, now);
      else st.BindNull(1);
      st.Bind(2, task_id).Run();
      detail += *p.done ? " done" : " reopened";
    }
    if (p.due) {
      sql::Stmt st(*w, "UPDATE tasks SET due=? WHERE id=?");
      if (p.due->empty()) st.BindNull(1);
      else st.Bind(1, ParseDue(*p.due));
      st.Bind(2, task_id).Run();
      detail += " due:" + *p.due;
    }
    if (p.assignee) {
      sql::Stmt st(*w, "UPDATE tasks SET assignee_id=? WHERE id=?");
      if (p.assignee->empty()) st.BindNull(1);
      else st.Bind(1, CaseMember(*w, case_id, *p.assignee));
      st.Bind(2, task_id).Run();
      detail += " assignee:" + *p.assignee;
    }
    sql::Stmt up(*w, "UPDATE tasks SET updated_at=? WHERE id=?");
    up.Bind(1, now).Bind(2, task_id).Run();
    ctx_.events.Changed(*w, EventKind::kTaskChanged, actor.name(), case_id, detail);
    t.Commit();
  }
  auto db = ctx_.db->Read();
  return ReadTask(*db, actor, task_id, LoadWorkflowSettings(*db));
}

std::vector<TaskInfo> WorkflowService::CaseTasks(const Actor& actor, const std::string& case_id) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  RequireCaseVisible(*db, actor, case_id);
  sql::Stmt st(*db, std::string(kTaskColumns) +
                        "WHERE t.case_id=? ORDER BY t.done_at IS NOT NULL, t.due IS NULL, t.due, t.created_at, t.rowid");
  st.Bind(1, case_id);
  auto out = ReadTasks(*db, actor, st, LoadWorkflowSettings(*db), kMaxTasksPerCase);
  ctx_.events.Read(EventKind::kWorkflowRead, actor.name(), case_id, "tasks");
  return out;
}

std::vector<TaskInfo> WorkflowService::Tasks(const Actor& actor, const TaskFilter& f) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  std::string where = "WHERE 1";
  if (f.open_only || f.overdue_only) where += " AND t.done_at IS NULL";
  // Overdue: of open cases only (a closed case's tasks no longer press).
  if (f.overdue_only) {
    where += " AND t.due IS NOT NULL AND t.due <= ?1 AND t.case_id IN (SELECT id FROM cases WHERE status = 'open')";
  }
  if (!f.assignee.empty()) where += " AND t.assignee_id = (SELECT id FROM users WHERE name = ?2)";
  // Overdue ones come in due order straight from the partial index on open
  // tasks' due dates (no sort of every task).
  const char* order = f.overdue_only ? " ORDER BY t.due, t.rowid" : " ORDER BY t.due IS NULL, t.due, t.created_at, t.rowid";
  sql::Stmt st(*db, std::string(kTaskColumns) + where + order);
  if (f.overdue_only) st.Bind(1, ctx_.Now());
  if (!f.assignee.empty()) st.Bind(2, f.assignee);
  auto out = ReadTasks(*db, actor, st, LoadWorkflowSettings(*db), std::min<std::uint32_t>(f.limit, 5000));
  ctx_.events.Read(EventKind::kWorkflowRead, actor.name(), "", "tasks");
  return out;
}

NoteInfo WorkflowService::AddNote(const Actor& actor, const std::string& case_id, const std::string& text) {
  ctx_.RequireWritable();
  if (text.empty() || text.size() > kMaxNote) {
    throw Error(ErrorCode::kInvalidArgument, "a note needs 1-20,000 characters");
  }
  NoteInfo n{"n" + crypto::RandomId(15), case_id, actor.name(), ctx_.NowText(), text};
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  RequireCaseVisible(*w, actor, case_id);
  sql::Stmt ins(*w, "INSERT INTO case_notes(id, case_id, author, at, sealed_text) VALUES(?, ?, ?, ?, ?)");
  ins.Bind(1, n.id).Bind(2, case_id).Bind(3, n.author).Bind(4, ctx_.Now())
      .Bind(5, crypto::SealMessage(MetaKey(*w, actor, case_id), NoteAd(case_id, n.id), text))
      .Run();
  ctx_.events.Changed(*w, EventKind::kNoteAdded, actor.name(), case_id, n.id);
  t.Commit();
  return n;
}

std::vector<NoteInfo> WorkflowService::Notes(const Actor& actor, const std::string& case_id) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  RequireCaseVisible(*db, actor, case_id);
  const crypto::SecretBytes key = MetaKey(*db, actor, case_id);
  sql::Stmt st(*db, "SELECT id, author, at, sealed_text FROM case_notes WHERE case_id=? ORDER BY at, rowid");
  st.Bind(1, case_id);
  std::vector<NoteInfo> out;
  while (st.Step()) {
    NoteInfo n;
    n.id = col::Id(st, 0, col::IdKind::kNote, "a note id");
    n.case_id = case_id;
    n.author = st.Text(1);
    n.at = Rfc3339(col::Integer(st, 2, 0, INT64_MAX, "a note's time"));
    n.text = crypto::OpenMessage(key, NoteAd(case_id, n.id), col::Bounded(st, 3, 1, 4 * kMaxNote, "a note"));
    out.push_back(std::move(n));
  }
  ctx_.events.Read(EventKind::kWorkflowRead, actor.name(), case_id, "notes");
  return out;
}

}  // namespace dossier::repo
