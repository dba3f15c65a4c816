// Routes: case management (repo/workflow.h): a case's changes and history,
// tasks, notes, the notification inbox, reports and the stage targets.
#include "api/json_body.h"
#include "api/service_impl.h"
#include "repo/views.h"

namespace dossier::api {

namespace {

Response Csv(std::string body, const std::string& name) {
  return Download(std::move(body), "text/csv; charset=utf-8", name + ".csv");
}

bool QueryFlag(const Request& req, const char* name) {
  const std::string v = req.Query(name);
  if (v.empty() || v == "false" || v == "0") return false;
  if (v == "true" || v == "1") return true;
  throw Error(ErrorCode::kInvalidArgument, std::string("'") + name + "' is true or false");
}

Response PatchCase(Call& c) {
  const JsonBody b(c.req.body,
                   {"title", "description", "stage", "risk", "status", "owner", "assignees", "reason"});
  repo::CasePatch p;
  p.title = b.OptStr("title", 512);
  p.description = b.OptStr("description", 100000);
  if (auto s = b.OptStr("stage", 32)) {
    p.stage = repo::ParseStage(*s);
    if (!p.stage) throw Error(ErrorCode::kInvalidArgument, "field 'stage' is not a stage");
  }
  if (auto s = b.OptStr("risk", 16)) {
    p.risk = repo::ParseRisk(*s);
    if (!p.risk) throw Error(ErrorCode::kInvalidArgument, "field 'risk' must be none, low, moderate or high");
  }
  if (auto s = b.OptStr("status", 16)) {
    p.status = repo::ParseCaseStatus(*s);
    if (!p.status) throw Error(ErrorCode::kInvalidArgument, "field 'status' must be open or closed");
  }
  p.owner = b.OptStr("owner", 128);
  if (b.Has("assignees")) p.assignees = b.StrList("assignees", 50);
  p.reason = b.OptStr("reason", 2000).value_or("");
  return Json(200, repo::views::Case(c.svc.repo.UpdateCase(c.session(), c.param("id"), p), -1));
}

Response History(Call& c) {
  return Json(200, repo::views::CaseHistoryJson(c.svc.repo.CaseHistory(c.session(), c.param("id")), -1));
}

Response AddTask(Call& c) {
  const JsonBody b(c.req.body, {"title", "due", "assignee"});
  repo::NewTask t{b.Str("title", 500), b.OptStr("due", 64).value_or(""), b.OptStr("assignee", 128).value_or("")};
  return Json(201, repo::views::TaskJson(c.svc.repo.AddTask(c.session(), c.param("id"), t), -1));
}

Response CaseTasks(Call& c) {
  return Json(200, repo::views::TasksJson(c.svc.repo.CaseTasks(c.session(), c.param("id")), -1));
}

Response PatchTask(Call& c) {
  const JsonBody b(c.req.body, {"title", "done", "due", "assignee"});
  repo::TaskPatch p;
  p.title = b.OptStr("title", 500);
  if (b.Has("done")) p.done = b.Bool("done", false);
  p.due = b.OptStr("due", 64);
  p.assignee = b.OptStr("assignee", 128);
  return Json(200, repo::views::TaskJson(c.svc.repo.UpdateTask(c.session(), c.param("id"), p), -1));
}

Response Tasks(Call& c) {
  repo::TaskFilter f;
  f.overdue_only = QueryFlag(c.req, "overdue");
  f.open_only = !QueryFlag(c.req, "all");
  f.assignee = c.req.Query("assignee");
  f.limit = QueryNumber(c.req, "limit", 500, 5000);
  const auto tasks = c.svc.repo.Tasks(c.session(), f);
  const std::string format = c.req.Query("format", "json");
  if (format == "csv") return Csv(repo::views::TasksCsv(tasks), "tasks");
  if (format != "json") throw Error(ErrorCode::kInvalidArgument, "'format' is json or csv");
  return Json(200, repo::views::TasksJson(tasks, -1));
}

Response AddNote(Call& c) {
  const JsonBody b(c.req.body, {"text"});
  return Json(201, repo::views::NoteJson(c.svc.repo.AddNote(c.session(), c.param("id"), b.Str("text", 20000)), -1));
}

Response Notes(Call& c) {
  return Json(200, repo::views::NotesJson(c.svc.repo.CaseNotes(c.session(), c.param("id")), -1));
}

Response Notifications(Call& c) {
  const auto list = c.svc.repo.Notifications(c.session(), QueryFlag(c.req, "unread"),
                                             QueryNumber(c.req, "limit", 100, 1000));
  return Json(200, repo::views::NotificationsJson(list, -1));
}

Response MarkRead(Call& c) {
  const JsonBody check(c.req.body, {"ids", "all"});
  std::vector<std::int64_t> ids;
  const bool all = check.Bool("all", false);
  if (all == check.Has("ids")) {
    throw Error(ErrorCode::kInvalidArgument, "give either 'ids' or 'all': true");
  }
  if (!all) {
    const auto j = nlohmann::json::parse(c.req.body);
    const auto& list = j["ids"];
    if (!list.is_array() || list.size() > 1000) {
      throw Error(ErrorCode::kInvalidArgument, "field 'ids' is a list of at most 1,000 notification ids");
    }
    for (const auto& v : list) {
      if (!v.is_number_integer()) throw Error(ErrorCode::kInvalidArgument, "field 'ids' holds notification ids");
      ids.push_back(v.get<std::int64_t>());
    }
    if (ids.empty()) return NoContent();  // nothing named: nothing to mark
  }
  c.svc.repo.MarkNotificationsRead(c.session(), ids);
  return NoContent();
}

Response Report(Call& c) {
  const std::string name = c.param("name");
  if (!repo::views::IsReportName(name)) {
    throw Error(ErrorCode::kNotFound, "no such report (cases-by-stage, time-in-stage, overdue, documents-per-case)");
  }
  const std::string format = c.req.Query("format", "json");
  if (format != "json" && format != "csv") throw Error(ErrorCode::kInvalidArgument, "'format' is json or csv");
  const auto r = c.svc.repo.CaseReport(c.session());
  if (format == "csv") return Csv(repo::views::ReportCsv(r, name), name);
  return Json(200, repo::views::ReportJson(r, name, -1));
}

Response Reports(Call& c) {
  return Json(200, repo::views::ReportJson(c.svc.repo.CaseReport(c.session()), "", -1));
}

Response GetSettings(Call& c) {
  return Json(200, repo::views::WorkflowSettingsJson(c.svc.repo.GetWorkflowSettings(), -1));
}

Response PutSettings(Call& c) {
  const JsonBody check(c.req.body, {"stage_targets", "due_soon_seconds"});
  c.svc.repo.SetWorkflowSettings(c.session(), repo::views::ParseWorkflowSettings(c.req.body));
  return Json(200, repo::views::WorkflowSettingsJson(c.svc.repo.GetWorkflowSettings(), -1));
}

}  // namespace

void AddWorkflowRoutes(std::vector<Route>& r) {
  using B = BodyKind;
  using L = Lane;
  r.push_back({"PATCH", "/api/v1/cases/{id}", B::kJson, L::kQuery, true,
               "Change any of {title, description, stage, risk, status, owner, assignees} with an optional "
               "reason -> the case", PatchCase});
  r.push_back({"GET", "/api/v1/cases/{id}/history", B::kNone, L::kQuery, true,
               "A case's changes {events:[{at, user, field, from, to, reason}]}", History});
  r.push_back({"POST", "/api/v1/cases/{id}/tasks", B::kJson, L::kQuery, true,
               "A new task {title, due?, assignee?} -> 201 task", AddTask});
  r.push_back({"GET", "/api/v1/cases/{id}/tasks", B::kNone, L::kQuery, true, "A case's tasks", CaseTasks});
  r.push_back({"PATCH", "/api/v1/tasks/{id}", B::kJson, L::kQuery, true,
               "Change a task {title?, done?, due?, assignee?} ('' clears due or assignee)", PatchTask});
  r.push_back({"GET", "/api/v1/tasks", B::kNone, L::kQuery, true,
               "Tasks across the cases you open: ?overdue=true&assignee=&all=true&format=csv", Tasks});
  r.push_back({"POST", "/api/v1/cases/{id}/notes", B::kJson, L::kQuery, true, "A new note {text} -> 201 note",
               AddNote});
  r.push_back({"GET", "/api/v1/cases/{id}/notes", B::kNone, L::kQuery, true, "A case's notes, oldest first", Notes});
  r.push_back({"GET", "/api/v1/notifications", B::kNone, L::kQuery, true,
               "Your reminders (tasks and stages due soon or overdue), newest first: ?unread=true", Notifications});
  r.push_back({"POST", "/api/v1/notifications/read", B::kJson, L::kQuery, true,
               "Mark notifications read {ids} or {all: true} -> 204", MarkRead});
  r.push_back({"GET", "/api/v1/reports", B::kNone, L::kQuery, true, "Every report, keyed by name", Reports});
  r.push_back({"GET", "/api/v1/reports/{name}", B::kNone, L::kQuery, true,
               "cases-by-stage, time-in-stage, overdue or documents-per-case: ?format=csv", Report});
  r.push_back({"GET", "/api/v1/settings/workflow", B::kNone, L::kQuery, true,
               "Stage targets and the due-soon window", GetSettings});
  r.push_back({"PUT", "/api/v1/settings/workflow", B::kJson, L::kQuery, true,
               "Admin: set {stage_targets:{stage: seconds}, due_soon_seconds}", PutSettings});
}

}  // namespace dossier::api
