// The JSON and CSV bodies of case management (views.h).
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/error.h"
#include "repo/views.h"

namespace dossier::repo::views {

using nlohmann::json;

namespace {
json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
std::string Dump(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }
std::string StateText(DeadlineState s) { return std::string(DeadlineStateName(s)); }

json TaskObject(const TaskInfo& t) {
  return {{"id", t.id},
          {"case_id", t.case_id},
          {"title", t.title},
          {"assignee", NullIfEmpty(t.assignee)},
          {"due", NullIfEmpty(t.due)},
          {"done", !t.done_at.empty()},
          {"done_at", NullIfEmpty(t.done_at)},
          {"state", NullIfEmpty(StateText(t.state))},
          {"created_at", t.created_at},
          {"created_by", t.created_by}};
}

json NoteObject(const NoteInfo& n) {
  return {{"id", n.id}, {"case_id", n.case_id}, {"author", n.author}, {"at", n.at}, {"text", n.text}};
}

json ReminderObject(const FiredReminder& r) {
  return {{"kind", r.kind},
          {"state", StateText(r.state)},
          {"case_id", r.case_id},
          {"task_id", NullIfEmpty(r.task_id)},
          {"stage", NullIfEmpty(r.stage)},
          {"due", r.due},
          {"fired_at", r.fired_at},
          {"recipients", r.recipients}};
}

const char* const kReports[] = {"cases-by-stage", "time-in-stage", "overdue", "documents-per-case"};

json ReportRows(const WorkflowReport& r, const std::string& name) {
  json rows = json::array();
  if (name == "cases-by-stage") {
    for (const auto& x : r.open_by_stage) {
      rows.push_back({{"stage", StageName(x.stage)}, {"risk", NullIfEmpty(std::string(RiskName(x.risk)))},
                      {"cases", x.cases}});
    }
  } else if (name == "time-in-stage") {
    for (const auto& x : r.time_in_stage) {
      rows.push_back({{"stage", StageName(x.stage)}, {"intervals", x.intervals},
                      {"median_seconds", x.median_seconds}, {"p90_seconds", x.p90_seconds}});
    }
  } else if (name == "overdue") {
    for (const auto& x : r.past_target) {
      rows.push_back({{"case_id", x.case_id}, {"title", x.title}, {"stage", StageName(x.stage)},
                      {"since", x.since}, {"target_seconds", x.target_seconds}, {"over_seconds", x.over_seconds}});
    }
  } else if (name == "documents-per-case") {
    for (const auto& x : r.documents_per_case) {
      rows.push_back({{"case_id", x.case_id}, {"title", x.title}, {"documents", x.documents}});
    }
  }
  return rows;
}

json ReportObject(const WorkflowReport& r, const std::string& name) {
  json j = {{"report", name}, {"at", r.at}, {"rows", ReportRows(r, name)}};
  if (name == "cases-by-stage") j["closed"] = r.closed;
  if (name == "overdue") {
    json per = json::array();
    for (const auto& [who, n] : r.overdue_tasks) per.push_back({{"assignee", NullIfEmpty(who)}, {"tasks", n}});
    j["tasks_per_assignee"] = per;
  }
  return j;
}

std::string Cell(const json& v) {
  if (v.is_null()) return "\"\"";
  if (v.is_string()) return CsvCell(v.get<std::string>());
  return v.dump();
}

// Rows of objects as CSV, the columns in the first row's key order.
std::string RowsCsv(const json& rows, const std::vector<std::string>& columns) {
  std::string csv;
  for (const auto& c : columns) csv += (csv.empty() ? "" : ",") + c;
  csv += "\r\n";
  for (const auto& row : rows) {
    std::string line;
    for (const auto& c : columns) line += (line.empty() ? "" : ",") + Cell(row.value(c, json(nullptr)));
    csv += line + "\r\n";
  }
  return csv;
}
}  // namespace

std::string CaseHistoryJson(const std::vector<CaseChange>& h, int indent) {
  json arr = json::array();
  for (const auto& c : h) {
    arr.push_back({{"at", c.at}, {"user", c.user}, {"field", c.field}, {"from", c.from}, {"to", c.to},
                   {"reason", NullIfEmpty(c.reason)}});
  }
  return Dump(json{{"events", arr}}, indent);
}

std::string TaskJson(const TaskInfo& t, int indent) { return Dump(TaskObject(t), indent); }

std::string TasksJson(const std::vector<TaskInfo>& tasks, int indent) {
  json arr = json::array();
  for (const auto& t : tasks) arr.push_back(TaskObject(t));
  return Dump(json{{"tasks", arr}}, indent);
}

std::string TasksCsv(const std::vector<TaskInfo>& tasks) {
  json rows = json::array();
  for (const auto& t : tasks) rows.push_back(TaskObject(t));
  return RowsCsv(rows, {"id", "case_id", "title", "assignee", "due", "state", "done_at", "created_at", "created_by"});
}

std::string NoteJson(const NoteInfo& n, int indent) { return Dump(NoteObject(n), indent); }

std::string NotesJson(const std::vector<NoteInfo>& notes, int indent) {
  json arr = json::array();
  for (const auto& n : notes) arr.push_back(NoteObject(n));
  return Dump(json{{"notes", arr}}, indent);
}

std::string NotificationsJson(const std::vector<NotificationInfo>& list, int indent) {
  json arr = json::array();
  std::int64_t unread = 0;
  for (const auto& n : list) {
    if (!n.read) ++unread;
    arr.push_back({{"id", n.id},
                   {"kind", n.kind},
                   {"state", StateText(n.state)},
                   {"case_id", n.case_id},
                   {"task_id", NullIfEmpty(n.task_id)},
                   {"stage", NullIfEmpty(n.stage)},
                   {"due", n.due},
                   {"at", n.at},
                   {"read", n.read}});
  }
  return Dump(json{{"notifications", arr}, {"unread", unread}}, indent);
}

std::string FiredReminderJson(const FiredReminder& r, int indent) { return Dump(ReminderObject(r), indent); }

std::string FiredRemindersJson(const std::vector<FiredReminder>& list, int indent) {
  json arr = json::array();
  for (const auto& r : list) arr.push_back(ReminderObject(r));
  return Dump(json{{"fired", arr}}, indent);
}

std::string WorkflowSettingsJson(const WorkflowSettings& s, int indent) {
  json targets = json::object();
  for (const auto& [stage, secs] : s.stage_targets) targets[std::string(StageName(stage))] = secs;
  return Dump(json{{"stage_targets", targets}, {"due_soon_seconds", s.due_soon_seconds}}, indent);
}

WorkflowSettings ParseWorkflowSettings(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw Error(ErrorCode::kInvalidArgument, "the settings are a JSON object");
  WorkflowSettings s;
  if (!j.contains("stage_targets") || !j.contains("due_soon_seconds")) {
    throw Error(ErrorCode::kInvalidArgument, "the settings need both stage_targets and due_soon_seconds");
  }
  if (auto t = j.find("stage_targets"); t != j.end()) {
    if (!t->is_object()) throw Error(ErrorCode::kInvalidArgument, "stage_targets is an object of stage: seconds");
    for (const auto& [name, v] : t->items()) {
      const auto stage = ParseStage(name);
      if (!stage) throw Error(ErrorCode::kInvalidArgument, "no such stage: " + name);
      if (!v.is_number_integer()) throw Error(ErrorCode::kInvalidArgument, "a stage target is whole seconds");
      s.stage_targets[*stage] = v.get<std::int64_t>();
    }
  }
  if (auto d = j.find("due_soon_seconds"); d != j.end()) {
    if (!d->is_number_integer()) throw Error(ErrorCode::kInvalidArgument, "due_soon_seconds is whole seconds");
    s.due_soon_seconds = d->get<std::int64_t>();
  }
  return s;
}

bool IsReportName(const std::string& name) {
  for (const char* r : kReports) {
    if (name == r) return true;
  }
  return false;
}

std::string ReportJson(const WorkflowReport& r, const std::string& name, int indent) {
  if (!name.empty()) return Dump(ReportObject(r, name), indent);
  json all = json::object();
  for (const char* n : kReports) all[n] = ReportObject(r, n);
  return Dump(all, indent);
}

std::string ReportCsv(const WorkflowReport& r, const std::string& name) {
  const json rows = ReportRows(r, name);
  if (name == "cases-by-stage") return RowsCsv(rows, {"stage", "risk", "cases"});
  if (name == "time-in-stage") return RowsCsv(rows, {"stage", "intervals", "median_seconds", "p90_seconds"});
  if (name == "documents-per-case") return RowsCsv(rows, {"case_id", "title", "documents"});
  std::string csv = RowsCsv(rows, {"case_id", "title", "stage", "since", "target_seconds", "over_seconds"});
  json per = json::array();
  for (const auto& [who, n] : r.overdue_tasks) per.push_back({{"assignee", who}, {"overdue_tasks", n}});
  return csv + "\r\n" + RowsCsv(per, {"assignee", "overdue_tasks"});
}

}  // namespace dossier::repo::views
