// Case management: case stage|update|history|targets, task add|list|update,
// note add|list, remind, notifications, report.
#include <cstdio>
#include <iostream>
#include <iterator>

#include "base/clock.h"
#include "repo/views.h"
#include "tools/cli.h"
#include "tools/hook.h"

namespace dossier::tools {

namespace {

constexpr std::int64_t kDay = 24 * 3600;

std::string Days(std::int64_t seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f d", static_cast<double>(seconds) / kDay);
  return buf;
}

void PrintTask(const repo::TaskInfo& t) {
  const std::string state(repo::DeadlineStateName(t.state));
  std::printf("%-17s %-13s %-9s %-20s %-10s %s\n", t.id.c_str(), t.case_id.c_str(),
              state.empty() ? "open" : state.c_str(), t.due.empty() ? "-" : t.due.c_str(),
              t.assignee.empty() ? "-" : t.assignee.c_str(), t.title.c_str());
}

repo::Risk RiskArg(const std::string& text) {
  const auto risk = repo::ParseRisk(text);
  if (!risk) throw Error(ErrorCode::kInvalidArgument, "risk is one of none, low, moderate, high");
  return *risk;
}

}  // namespace

int RunCaseUpdate(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  repo::CasePatch p;
  if (!o.stage.empty()) {
    const auto stage = repo::ParseStage(o.stage);
    if (!stage) {
      throw Error(ErrorCode::kInvalidArgument,
                  "a stage is one of screening, assessment, risk_assessment, planning, implementation, "
                  "follow_up, evaluation");
    }
    p.stage = *stage;
  }
  if (!o.status.empty()) {
    const auto status = repo::ParseCaseStatus(o.status);
    if (!status) throw Error(ErrorCode::kInvalidArgument, "status is open or closed");
    p.status = *status;
  }
  if (o.risk_set) p.risk = RiskArg(o.risk);
  if (o.title_set) p.title = o.title;
  if (o.description_set) p.description = o.description;
  if (o.owner_set) p.owner = o.owner;
  if (o.assignees_set) p.assignees = SplitList(o.assignees);
  p.reason = o.reason;
  const repo::CaseInfo c = r->UpdateCase(s, o.case_id, p);
  if (o.json) {
    std::cout << repo::views::Case(c) << "\n";
    return 0;
  }
  std::cout << "Case " << c.id << ": " << repo::StageName(c.stage) << ", " << repo::CaseStatusName(c.status)
            << ", risk " << (c.risk == repo::Risk::kNone ? "-" : repo::RiskName(c.risk)) << ", owner "
            << (c.owner.empty() ? "-" : c.owner) << ".\n";
  return 0;
}

int RunCaseHistory(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const auto h = r->CaseHistory(s, o.case_id);
  if (o.json) {
    std::cout << repo::views::CaseHistoryJson(h) << "\n";
    return 0;
  }
  if (h.empty()) std::cout << "No changes recorded for " << o.case_id << ".\n";
  for (const auto& c : h) {
    std::cout << c.at << "  " << c.user << "  " << c.field;
    if (!c.from.empty() || !c.to.empty()) std::cout << ": " << (c.from.empty() ? "-" : c.from) << " -> " << (c.to.empty() ? "-" : c.to);
    else std::cout << " changed";
    if (!c.reason.empty()) std::cout << "  (" << c.reason << ")";
    std::cout << "\n";
  }
  return 0;
}

int RunCaseTargets(const Options& o) {
  const bool change = !o.stage_targets.empty() || o.due_soon_days >= 0;
  auto r = OpenRepo(o, !change);
  repo::WorkflowSettings settings = r->GetWorkflowSettings();
  if (change) {
    repo::Session s = Act(*r, o);
    for (const auto& spec : o.stage_targets) {
      const auto eq = spec.find('=');
      const auto stage = repo::ParseStage(spec.substr(0, eq));
      if (eq == std::string::npos || !stage) {
        throw Error(ErrorCode::kInvalidArgument, "--set takes STAGE=DAYS (planning=14), or STAGE=none");
      }
      const std::string days = spec.substr(eq + 1);
      if (days == "none") {
        settings.stage_targets.erase(*stage);
        continue;
      }
      char* end = nullptr;
      const double d = std::strtod(days.c_str(), &end);
      if (days.empty() || *end != '\0' || !(d > 0) || d > 3650) {
        throw Error(ErrorCode::kInvalidArgument, "a stage target is a number of days above 0 (at most 3650)");
      }
      settings.stage_targets[*stage] = static_cast<std::int64_t>(d * kDay);
    }
    if (o.due_soon_days >= 0) settings.due_soon_seconds = static_cast<std::int64_t>(o.due_soon_days * kDay);
    r->SetWorkflowSettings(s, settings);
  }
  if (o.json) {
    std::cout << repo::views::WorkflowSettingsJson(settings) << "\n";
    return 0;
  }
  for (repo::Stage st : repo::AllStages()) {
    auto t = settings.stage_targets.find(st);
    std::printf("%-16s %s\n", std::string(repo::StageName(st)).c_str(),
                t == settings.stage_targets.end() ? "no target" : Days(t->second).c_str());
  }
  std::cout << "due soon within " << Days(settings.due_soon_seconds) << "\n";
  return 0;
}

int RunTaskAdd(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  const repo::TaskInfo t = r->AddTask(s, o.case_id, {o.title, o.due, o.assignee});
  if (o.json) std::cout << repo::views::TaskJson(t) << "\n";
  else std::cout << "Added task " << t.id << " to " << t.case_id << ".\n";
  return 0;
}

int RunTaskList(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  std::vector<repo::TaskInfo> tasks;
  if (!o.case_id.empty()) {
    tasks = r->CaseTasks(s, o.case_id);
    if (!o.all_tasks || o.overdue || !o.assignee.empty()) {
      std::vector<repo::TaskInfo> kept;
      for (auto& t : tasks) {
        if (!o.all_tasks && t.state == repo::DeadlineState::kDone) continue;
        if (o.overdue && t.state != repo::DeadlineState::kOverdue) continue;
        if (!o.assignee.empty() && t.assignee != o.assignee) continue;
        kept.push_back(std::move(t));
      }
      tasks = std::move(kept);
    }
  } else {
    repo::TaskFilter f;
    f.overdue_only = o.overdue;
    f.open_only = !o.all_tasks;
    f.assignee = o.assignee;
    f.limit = o.limit;
    tasks = r->Tasks(s, f);
  }
  if (o.csv) std::cout << repo::views::TasksCsv(tasks);
  else if (o.json) std::cout << repo::views::TasksJson(tasks) << "\n";
  else if (tasks.empty()) std::cout << "No tasks.\n";
  else for (const auto& t : tasks) PrintTask(t);
  return 0;
}

int RunTaskUpdate(const Options& o) {
  if (o.done && o.reopen) throw Error(ErrorCode::kInvalidArgument, "--done and --reopen contradict each other");
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  repo::TaskPatch p;
  if (o.title_set) p.title = o.title;
  if (o.due_set) p.due = o.due;
  if (o.assignee_set) p.assignee = o.assignee;
  if (o.done) p.done = true;
  if (o.reopen) p.done = false;
  const repo::TaskInfo t = r->UpdateTask(s, o.task_id, p);
  if (o.json) std::cout << repo::views::TaskJson(t) << "\n";
  else PrintTask(t);
  return 0;
}

int RunNoteAdd(const Options& o) {
  std::string text = o.note_text;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  const repo::NoteInfo n = r->AddNote(s, o.case_id, text);
  if (o.json) std::cout << repo::views::NoteJson(n) << "\n";
  else std::cout << "Added note " << n.id << " to " << n.case_id << ".\n";
  return 0;
}

int RunNoteList(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const auto notes = r->CaseNotes(s, o.case_id);
  if (o.json) {
    std::cout << repo::views::NotesJson(notes) << "\n";
    return 0;
  }
  if (notes.empty()) std::cout << "No notes on " << o.case_id << ".\n";
  for (const auto& n : notes) std::cout << n.at << "  " << n.author << "\n  " << n.text << "\n";
  return 0;
}

int RunRemind(const Options& o) {
  auto r = OpenRepo(o, false);
  const auto fired = r->RunReminders();
  int failed = 0;
  if (!o.notify_command.empty()) {
    for (const auto& f : fired) {
      if (RunHook(o.notify_command, repo::views::FiredReminderJson(f) + "\n") != 0) ++failed;
    }
  }
  if (o.json) std::cout << repo::views::FiredRemindersJson(fired) << "\n";
  else {
    std::cout << fired.size() << " reminder" << (fired.size() == 1 ? "" : "s") << " fired.\n";
    for (const auto& f : fired) {
      std::cout << "  " << f.kind << " " << (f.task_id.empty() ? f.stage : f.task_id) << " of " << f.case_id << ": "
                << repo::DeadlineStateName(f.state) << " (due " << f.due << ")\n";
    }
  }
  if (failed > 0) {
    std::cerr << "dossier: the hook failed for " << failed << " reminder(s); they will not fire again\n";
    return 1;
  }
  return 0;
}

int RunNotifications(const Options& o) {
  auto r = OpenRepo(o, !o.read_all);
  repo::Session s = Act(*r, o);
  const auto list = r->Notifications(s, o.unread, o.limit);
  if (o.read_all) r->MarkNotificationsRead(s, {});
  if (o.json) {
    std::cout << repo::views::NotificationsJson(list) << "\n";
    return 0;
  }
  if (list.empty()) std::cout << "No notifications for " << s.user() << ".\n";
  for (const auto& n : list) {
    std::cout << (n.read ? "  " : "* ") << n.at << "  " << n.kind << " "
              << (n.task_id.empty() ? n.stage : n.task_id) << " of " << n.case_id << ": "
              << repo::DeadlineStateName(n.state) << " (due " << n.due << ")\n";
  }
  return 0;
}

int RunReport(const Options& o) {
  if (!o.report_name.empty() && !repo::views::IsReportName(o.report_name)) {
    throw Error(ErrorCode::kInvalidArgument,
                "a report is one of cases-by-stage, time-in-stage, overdue, documents-per-case");
  }
  if (o.csv && o.report_name.empty()) throw Error(ErrorCode::kInvalidArgument, "--csv needs a report name");
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const repo::WorkflowReport rep = r->CaseReport(s);
  if (o.csv) {
    std::cout << repo::views::ReportCsv(rep, o.report_name);
    return 0;
  }
  if (o.json) {
    std::cout << repo::views::ReportJson(rep, o.report_name) << "\n";
    return 0;
  }
  const auto wants = [&](const char* n) { return o.report_name.empty() || o.report_name == n; };
  if (wants("cases-by-stage")) {
    std::cout << "Open cases by stage and risk (" << rep.closed << " closed):\n";
    for (const auto& x : rep.open_by_stage) {
      std::printf("  %-16s %-9s %lld\n", std::string(repo::StageName(x.stage)).c_str(),
                  x.risk == repo::Risk::kNone ? "-" : std::string(repo::RiskName(x.risk)).c_str(),
                  static_cast<long long>(x.cases));
    }
  }
  if (wants("time-in-stage")) {
    std::cout << "Time in stage (median, 90th percentile, stays):\n";
    for (const auto& x : rep.time_in_stage) {
      std::printf("  %-16s %10s %10s %lld\n", std::string(repo::StageName(x.stage)).c_str(),
                  Days(x.median_seconds).c_str(), Days(x.p90_seconds).c_str(), static_cast<long long>(x.intervals));
    }
  }
  if (wants("overdue")) {
    std::cout << "Cases past their stage target:\n";
    for (const auto& x : rep.past_target) {
      std::printf("  %-13s %-16s %s over  %s\n", x.case_id.c_str(), std::string(repo::StageName(x.stage)).c_str(),
                  Days(x.over_seconds).c_str(), x.title.c_str());
    }
    std::cout << "Overdue tasks per assignee:\n";
    for (const auto& [who, n] : rep.overdue_tasks) {
      std::printf("  %-20s %lld\n", who.empty() ? "(nobody)" : who.c_str(), static_cast<long long>(n));
    }
  }
  if (wants("documents-per-case")) {
    std::cout << "Documents per case:\n";
    for (const auto& x : rep.documents_per_case) {
      std::printf("  %-13s %6lld  %s\n", x.case_id.c_str(), static_cast<long long>(x.documents), x.title.c_str());
    }
  }
  return 0;
}

}  // namespace dossier::tools
