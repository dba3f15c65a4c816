// Private to repo/: case management, the way the seed articles run a case.
// A case moves through stages (any move allowed), opens and closes,
// carries a risk, an owner and assignees; each change is a row of
// `case_history` with who, when, from, to and a reason sealed under the
// case's key. Tasks have a due date and an assignee; notes an author.
//
// What is in clear, and why: the server reminds people of deadlines with
// nobody logged in, so it must read a case's stage and when it entered it,
// its status, risk, owner and assignee ids, and its tasks' due dates,
// assignees and done times. Titles, descriptions, reasons, task titles
// and notes are sealed (kMeta subkey of the case key, bound to their row).
// Everyone who opens a case may change it; stage targets are the admin's.
// Thread-safety: any number of threads; changes take the write lock.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// The repository's stage targets and due-soon window (meta.workflow;
// defaults when unset).
WorkflowSettings LoadWorkflowSettings(sql::Db& db);
// Where a deadline at `due` stands at `now`.
DeadlineState DeadlineAt(std::int64_t due, std::int64_t now, std::int64_t due_soon_seconds);
// The cases the actor may open, by id.
std::set<std::string> VisibleCases(sql::Db& db, const Actor& actor);
// Whether the user is enabled and holds a role granted on the case.
bool OpensCase(sql::Db& db, std::int64_t user_id, const std::string& case_id);
// A user's id by name, if the user exists, is enabled and holds a role
// granted on the case; else Error(kInvalidArgument), the same for each.
std::int64_t CaseMember(sql::Db& db, const std::string& case_id, const std::string& user);
std::string UserNameOf(sql::Db& db, std::int64_t user_id);
// A due date as a user writes it: RFC 3339, or YYYY-MM-DD (the end of that
// day, UTC). Error(kInvalidArgument) otherwise.
std::int64_t ParseDue(const std::string& text);

class WorkflowService {
 public:
  explicit WorkflowService(RepoContext& ctx) : ctx_(ctx) {}
  // Applies the patch in one transaction, one history row per field that
  // changed. Error(kNotFound) for a case the actor may not open.
  void Update(const Actor& actor, const std::string& case_id, const CasePatch& patch);
  std::vector<CaseChange> History(const Actor& actor, const std::string& case_id);

  TaskInfo AddTask(const Actor& actor, const std::string& case_id, const NewTask& task);
  // Error(kNotFound) for a task of a case the actor may not open.
  TaskInfo UpdateTask(const Actor& actor, const std::string& task_id, const TaskPatch& patch);
  std::vector<TaskInfo> CaseTasks(const Actor& actor, const std::string& case_id);
  std::vector<TaskInfo> Tasks(const Actor& actor, const TaskFilter& filter);

  NoteInfo AddNote(const Actor& actor, const std::string& case_id, const std::string& text);
  std::vector<NoteInfo> Notes(const Actor& actor, const std::string& case_id);

  WorkflowSettings Settings();
  void SetSettings(const Actor& actor, const WorkflowSettings& settings);  // admin

  // Where cases stand (see WorkflowReport), over what the actor may open.
  WorkflowReport Report(const Actor& actor);

 private:
  TaskInfo ReadTask(sql::Db& db, const Actor& actor, const std::string& task_id,
                    const WorkflowSettings& settings);
  std::vector<TaskInfo> ReadTasks(sql::Db& db, const Actor& actor, sql::Stmt& rows,
                                  const WorkflowSettings& settings, std::uint32_t limit);
  RepoContext& ctx_;
};

// Reminders: each task or stage that is due soon or overdue fires once per
// state and due time, to its people (a task's assignee, else the case's
// owner; a stage's owner and assignees), as a notification in their inbox.
class ReminderService {
 public:
  explicit ReminderService(RepoContext& ctx) : ctx_(ctx) {}
  // Fires what is due now, in one transaction; returns what fired (for the
  // serve hook). Needs no session: the server runs it on a timer.
  std::vector<FiredReminder> Run();
  // The actor's notifications, newest first, for cases they still open.
  std::vector<NotificationInfo> Inbox(const Actor& actor, bool unread_only, std::uint32_t limit);
  // Marks the actor's notifications read (`ids` empty: all of them).
  void MarkRead(const Actor& actor, const std::vector<std::int64_t>& ids);

 private:
  RepoContext& ctx_;
};

}  // namespace dossier::repo
