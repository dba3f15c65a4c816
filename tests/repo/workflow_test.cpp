// Case management: stages and their history, risk, owner and assignees,
// tasks with deadlines, notes, reminders that fire once, and reports over
// what the reader may open. Time comes from a clock the test sets.
#include <catch2/catch.hpp>
#include <algorithm>

#include "repo/sqlite.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {
constexpr std::int64_t kStart = 1'800'000'000;  // 2027-01-15T08:00:00Z
constexpr std::int64_t kDay = 24 * 3600;

struct Managed : Fixture {
  std::shared_ptr<ManualClock> clock;
  explicit Managed(std::shared_ptr<ManualClock> c = std::make_shared<ManualClock>(kStart))
      : Fixture(WithClock(c)), clock(std::move(c)) {}
  static repo::OpenOptions WithClock(std::shared_ptr<ManualClock> c) {
    repo::OpenOptions o;
    o.clock = c;
    return o;
  }
};

repo::CasePatch StagePatch(repo::Stage s, std::string reason = "") {
  repo::CasePatch p;
  p.stage = s;
  p.reason = std::move(reason);
  return p;
}
}  // namespace

TEST_CASE("every change of a case is in its history with who, when, from, to and why") {
  Managed f;
  auto ivan = f.Ivan();
  auto alice = f.Alice();
  f.repo->AddUser(alice, "igor", "igor-password", {"investigator"});
  auto before = f.repo->GetCase(ivan, f.inv_case);
  CHECK(before.stage == repo::Stage::kScreening);
  CHECK(before.owner == "alice");
  CHECK(before.risk == repo::Risk::kHigh);
  CHECK(before.stage_since == Rfc3339(kStart));
  CHECK(before.stage_due == Rfc3339(kStart + 7 * kDay));  // the default screening target
  CHECK(before.stage_state == repo::DeadlineState::kOnTrack);

  f.clock->Advance(3600);
  auto c = f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kPlanning, "evidence in"));
  CHECK(c.stage == repo::Stage::kPlanning);
  CHECK(c.stage_since == Rfc3339(kStart + 3600));
  f.clock->Advance(3600);
  // Follow-up may send a case back to an earlier stage: any move is allowed.
  f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kFollowUp));
  f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kAssessment));
  repo::CasePatch p;
  p.risk = repo::Risk::kLow;
  p.owner = "ivan";
  p.assignees = std::vector<std::string>{"igor", "ivan", "igor"};
  p.status = repo::CaseStatus::kClosed;
  p.title = "Renamed";
  p.reason = "handed over";
  c = f.repo->UpdateCase(ivan, f.inv_case, p);
  CHECK(c.risk == repo::Risk::kLow);
  CHECK(c.owner == "ivan");
  CHECK(c.assignees == std::vector<std::string>{"igor", "ivan"});
  CHECK(c.status == repo::CaseStatus::kClosed);
  CHECK(c.title == "Renamed");
  CHECK(c.stage_state == repo::DeadlineState::kNone);  // a closed case has no deadline

  const auto h = f.repo->CaseHistory(ivan, f.inv_case);
  REQUIRE(h.size() == 8);
  CHECK(h[0].field == "stage");
  CHECK(h[0].from == "screening");
  CHECK(h[0].to == "planning");
  CHECK(h[0].user == "ivan");
  CHECK(h[0].at == Rfc3339(kStart + 3600));
  CHECK(h[0].reason == "evidence in");
  CHECK(h[1].from == "planning");
  CHECK(h[1].to == "follow_up");
  CHECK(h[1].reason.empty());
  CHECK(h[2].to == "assessment");
  std::map<std::string, repo::CaseChange> by_field;
  for (std::size_t i = 3; i < h.size(); ++i) by_field[h[i].field] = h[i];
  CHECK(by_field.at("status").to == "closed");
  CHECK(by_field.at("risk").from == "high");
  CHECK(by_field.at("risk").to == "low");
  CHECK(by_field.at("owner").from == "alice");
  CHECK(by_field.at("owner").to == "ivan");
  CHECK(by_field.at("assignees").to == "igor,ivan");
  CHECK(by_field.at("title").from.empty());  // the history says it changed, not what it said
  CHECK(by_field.at("title").reason == "handed over");
  // Reopened: recorded the same way.
  repo::CasePatch reopen;
  reopen.status = repo::CaseStatus::kOpen;
  f.repo->UpdateCase(ivan, f.inv_case, reopen);
  CHECK(f.repo->CaseHistory(ivan, f.inv_case).back().to == "open");
  // A patch that changes nothing records nothing.
  f.repo->UpdateCase(ivan, f.inv_case, reopen);
  CHECK(f.repo->CaseHistory(ivan, f.inv_case).size() == 9);
}

TEST_CASE("owners and assignees must open the case, and outsiders cannot see or change it") {
  Managed f;
  auto ivan = f.Ivan();
  auto lena = f.Lena();
  repo::CasePatch p;
  p.assignees = std::vector<std::string>{"lena"};  // legal only: cannot open the investigation
  CHECK(CodeOf([&] { f.repo->UpdateCase(ivan, f.inv_case, p); }) == ErrorCode::kInvalidArgument);
  p.assignees = std::vector<std::string>{"nobody"};
  CHECK(CodeOf([&] { f.repo->UpdateCase(ivan, f.inv_case, p); }) == ErrorCode::kInvalidArgument);
  repo::CasePatch both = StagePatch(repo::Stage::kPlanning);
  both.owner = "lena";
  // All or nothing: the stage did not move either.
  CHECK(CodeOf([&] { f.repo->UpdateCase(ivan, f.inv_case, both); }) == ErrorCode::kInvalidArgument);
  CHECK(f.repo->GetCase(ivan, f.inv_case).stage == repo::Stage::kScreening);
  CHECK(f.repo->CaseHistory(ivan, f.inv_case).empty());
  // Someone without the case's role gets the error a missing case gets.
  CHECK(CodeOf([&] { f.repo->UpdateCase(lena, f.inv_case, StagePatch(repo::Stage::kPlanning)); }) ==
        ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->CaseHistory(lena, f.inv_case); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->CaseTasks(lena, f.inv_case); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->AddNote(lena, f.inv_case, "x"); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->CaseNotes(lena, "cAAAAAAAAAAA"); }) == ErrorCode::kNotFound);
  repo::CasePatch long_reason;
  long_reason.risk = repo::Risk::kLow;
  long_reason.reason = std::string(2001, 'x');
  CHECK(CodeOf([&] { f.repo->UpdateCase(ivan, f.inv_case, long_reason); }) == ErrorCode::kInvalidArgument);
  // The case list filters on the clear fields and the title.
  f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kPlanning));
  auto alice = f.Alice();
  repo::CaseFilter by_stage;
  by_stage.stage = repo::Stage::kPlanning;
  CHECK(f.repo->ListCases(alice, by_stage).size() == 1);
  repo::CaseFilter by_title;
  by_title.q = "coun";
  auto found = f.repo->ListCases(alice, by_title);
  REQUIRE(found.size() == 1);
  CHECK(found[0].id == f.legal_case);
  CHECK(f.repo->ListCases(lena, by_stage).empty());
}

TEST_CASE("tasks have due dates whose state follows the clock, and an overdue list across cases") {
  Managed f;
  auto ivan = f.Ivan();
  auto alice = f.Alice();
  auto t1 = f.repo->AddTask(ivan, f.inv_case, {"Call the bank", Rfc3339(kStart + 5 * kDay), "ivan"});
  auto t2 = f.repo->AddTask(ivan, f.inv_case, {"Write up", "", ""});
  auto t3 = f.repo->AddTask(alice, f.legal_case, {"Review privilege", Rfc3339(kStart + kDay), "lena"});
  CHECK(t1.state == repo::DeadlineState::kOnTrack);
  CHECK(t2.state == repo::DeadlineState::kNone);
  CHECK(t3.state == repo::DeadlineState::kDueSoon);  // within the default two days
  CHECK(t1.assignee == "ivan");
  CHECK(t1.created_by == "ivan");
  CHECK(CodeOf([&] { f.repo->AddTask(ivan, f.inv_case, {"x", "next week", ""}); }) ==
        ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { f.repo->AddTask(ivan, f.inv_case, {"", "", ""}); }) == ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { f.repo->AddTask(ivan, f.inv_case, {"x", "", "lena"}); }) ==
        ErrorCode::kInvalidArgument);
  // A date alone is the end of that day, UTC.
  CHECK(f.repo->AddTask(ivan, f.inv_case, {"Dated", "2027-02-01", ""}).due == "2027-02-01T23:59:59Z");

  f.clock->Advance(2 * kDay);
  repo::TaskFilter overdue;
  overdue.overdue_only = true;
  auto late = f.repo->Tasks(alice, overdue);
  REQUIRE(late.size() == 1);
  CHECK(late[0].id == t3.id);
  CHECK(late[0].state == repo::DeadlineState::kOverdue);
  CHECK(late[0].title == "Review privilege");
  CHECK(f.repo->Tasks(ivan, overdue).empty());  // lena's case is not ivan's to list
  {
    repo::CasePatch close;
    close.status = repo::CaseStatus::kClosed;
    f.repo->UpdateCase(alice, f.legal_case, close);
    CHECK(f.repo->Tasks(alice, overdue).empty());  // a closed case's tasks press no more
    close.status = repo::CaseStatus::kOpen;
    f.repo->UpdateCase(alice, f.legal_case, close);
  }
  repo::TaskFilter mine;
  mine.assignee = "ivan";
  auto ivans = f.repo->Tasks(ivan, mine);
  REQUIRE(ivans.size() == 1);
  CHECK(ivans[0].id == t1.id);

  // Done, then reopened; a new due date and assignee; "" clears them.
  repo::TaskPatch done;
  done.done = true;
  auto t = f.repo->UpdateTask(ivan, t1.id, done);
  CHECK(t.state == repo::DeadlineState::kDone);
  CHECK(t.done_at == Rfc3339(kStart + 2 * kDay));
  CHECK(f.repo->Tasks(ivan, mine).empty());
  repo::TaskPatch change;
  change.done = false;
  change.due = "";
  change.assignee = "";
  change.title = "Call the bank again";
  t = f.repo->UpdateTask(ivan, t1.id, change);
  CHECK(t.done_at.empty());
  CHECK(t.due.empty());
  CHECK(t.assignee.empty());
  CHECK(t.title == "Call the bank again");
  // A task of a case one may not open does not exist.
  CHECK(CodeOf([&] { f.repo->UpdateTask(ivan, t3.id, done); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->UpdateTask(ivan, "tAAAAAAAAAAAAAAA", done); }) == ErrorCode::kNotFound);
  auto list = f.repo->CaseTasks(ivan, f.inv_case);
  REQUIRE(list.size() == 3);
  CHECK(list.front().title == "Dated");  // open tasks with a due date first
}

TEST_CASE("notes keep their author and time, sealed, for the case's roles") {
  Managed f;
  auto ivan = f.Ivan();
  f.clock->Advance(60);
  auto n = f.repo->AddNote(ivan, f.inv_case, "Spoke to the <b>bank</b>");
  CHECK(n.author == "ivan");
  CHECK(n.at == Rfc3339(kStart + 60));
  f.repo->AddNote(f.Alice(), f.inv_case, "Second");
  auto notes = f.repo->CaseNotes(ivan, f.inv_case);
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].text == "Spoke to the <b>bank</b>");
  CHECK(notes[1].author == "alice");
  CHECK(CodeOf([&] { f.repo->AddNote(ivan, f.inv_case, ""); }) == ErrorCode::kInvalidArgument);
  // The sealed text is bound to its row: swapping two notes' ciphertexts is caught.
  f.repo.reset();
  {
    repo::sql::Db db(f.dir + "/dossier.db", false);
    db.Exec("UPDATE case_notes SET sealed_text = (SELECT sealed_text FROM case_notes ORDER BY at DESC LIMIT 1)");
  }
  f.Reopen(Managed::WithClock(f.clock));
  CHECK(CodeOf([&] { f.repo->CaseNotes(f.Ivan(), f.inv_case); }) == ErrorCode::kCorrupt);
}

TEST_CASE("reminders fire once per state into the inboxes of the people concerned") {
  Managed f;
  auto ivan = f.Ivan();
  auto alice = f.Alice();
  auto task = f.repo->AddTask(ivan, f.inv_case, {"Call the bank", Rfc3339(kStart + 3 * kDay), "ivan"});
  repo::CasePatch p;
  p.assignees = std::vector<std::string>{"ivan"};
  f.repo->UpdateCase(ivan, f.inv_case, p);
  CHECK(f.repo->RunReminders().empty());  // nothing due within two days yet

  f.clock->Advance(kDay + 1);  // the task is due within two days
  auto fired = f.repo->RunReminders();
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].kind == "task");
  CHECK(fired[0].task_id == task.id);
  CHECK(fired[0].state == repo::DeadlineState::kDueSoon);
  CHECK(fired[0].recipients == std::vector<std::string>{"alice", "ivan"});  // assignee and owner
  CHECK(f.repo->RunReminders().empty());  // once

  auto inbox = f.repo->Notifications(ivan);
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].task_id == task.id);
  CHECK(!inbox[0].read);
  CHECK(f.repo->Notifications(f.Lena()).empty());

  f.clock->Advance(5 * kDay);  // task overdue; screening's 7 days: due soon
  fired = f.repo->RunReminders();
  REQUIRE(fired.size() == 3);
  CHECK(fired[0].state == repo::DeadlineState::kOverdue);
  CHECK(fired[1].kind == "stage");
  CHECK(fired[1].stage == "screening");
  CHECK(fired[1].state == repo::DeadlineState::kDueSoon);
  CHECK(fired[1].recipients == std::vector<std::string>{"alice", "ivan"});  // owner and assignee
  // Legal's case (owner alice) is due soon too.
  CHECK(fired[2].case_id == f.legal_case);
  CHECK(fired[2].recipients == std::vector<std::string>{"alice"});
  CHECK(f.repo->Notifications(ivan).size() == 3);
  f.repo->MarkNotificationsRead(ivan, {f.repo->Notifications(ivan)[0].id});
  CHECK(f.repo->Notifications(ivan, true).size() == 2);
  f.repo->MarkNotificationsRead(ivan, {});
  CHECK(f.repo->Notifications(ivan, true).empty());
  CHECK(f.repo->Notifications(alice, true).size() == 4);  // alice owns both cases

  // A move to another stage starts its own target; a closed case is quiet.
  f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kPlanning));
  repo::CasePatch close;
  close.status = repo::CaseStatus::kClosed;
  f.repo->UpdateCase(alice, f.legal_case, close);
  f.clock->Advance(30 * kDay);
  fired = f.repo->RunReminders();
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].stage == "planning");
  CHECK(fired[0].state == repo::DeadlineState::kOverdue);

  // Stage targets are the admin's to set.
  repo::WorkflowSettings s = f.repo->GetWorkflowSettings();
  s.stage_targets[repo::Stage::kPlanning] = 90 * kDay;
  CHECK(CodeOf([&] { f.repo->SetWorkflowSettings(ivan, s); }) == ErrorCode::kForbidden);
  f.repo->SetWorkflowSettings(alice, s);
  CHECK(f.repo->GetCase(ivan, f.inv_case).stage_state == repo::DeadlineState::kOnTrack);
  s.due_soon_seconds = -1;
  CHECK(CodeOf([&] { f.repo->SetWorkflowSettings(alice, s); }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("reports count stages, time in stage, lateness and documents over what the reader opens") {
  Managed f;
  auto ivan = f.Ivan();
  auto alice = f.Alice();
  WriteFile(f.tmp / "in/a.txt", "harbour ledger");
  WriteFile(f.tmp / "in/b.txt", "harbour invoice");
  f.Ingest(ivan, f.inv_case, f.tmp / "in");
  f.clock->Advance(2 * kDay);
  f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kAssessment));
  f.clock->Advance(4 * kDay);
  f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kScreening));
  f.clock->Advance(kDay);
  f.repo->AddTask(alice, f.legal_case, {"Late", Rfc3339(kStart), "lena"});
  f.repo->AddTask(ivan, f.inv_case, {"Late too", Rfc3339(kStart + kDay), ""});
  f.clock->Advance(2 * kDay);  // now kStart + 9 days

  const auto r = f.repo->CaseReport(alice);
  CHECK(r.closed == 0);
  REQUIRE(r.open_by_stage.size() == 2);
  CHECK(r.open_by_stage[0].stage == repo::Stage::kScreening);
  // Screening: the investigation's 2 days then 3 days, legal's 9 days.
  const auto& screening = r.time_in_stage[0];
  CHECK(screening.intervals == 3);
  CHECK(screening.median_seconds == 3 * kDay);
  CHECK(screening.p90_seconds == 9 * kDay);
  CHECK(r.time_in_stage[1].intervals == 1);
  CHECK(r.time_in_stage[1].median_seconds == 4 * kDay);
  // Legal's case has been in screening past its 7 days; the investigation re-entered it 3 days ago.
  REQUIRE(r.past_target.size() == 1);
  CHECK(r.past_target[0].case_id == f.legal_case);
  CHECK(r.past_target[0].over_seconds == 2 * kDay);
  CHECK(r.past_target[0].title == "Counsel");
  CHECK(r.overdue_tasks.at("lena") == 1);
  CHECK(r.overdue_tasks.at("") == 1);
  REQUIRE(r.documents_per_case.size() == 2);
  CHECK(r.documents_per_case[0].case_id == f.inv_case);
  CHECK(r.documents_per_case[0].documents == 2);

  // Lena sees her case only: no figure moves for the investigation.
  const auto l = f.repo->CaseReport(f.Lena());
  REQUIRE(l.open_by_stage.size() == 1);
  CHECK(l.open_by_stage[0].cases == 1);
  CHECK(l.time_in_stage[0].intervals == 1);
  CHECK(l.time_in_stage[1].intervals == 0);
  CHECK(l.overdue_tasks.count("") == 0);
  REQUIRE(l.documents_per_case.size() == 1);
  CHECK(l.documents_per_case[0].case_id == f.legal_case);
}

TEST_CASE("case changes, tasks, notes and reminders are in the audit trail") {
  Managed f;
  auto ivan = f.Ivan();
  f.repo->UpdateCase(ivan, f.inv_case, StagePatch(repo::Stage::kPlanning, "why"));
  auto task = f.repo->AddTask(ivan, f.inv_case, {"Call", Rfc3339(kStart + kDay), "ivan"});
  f.repo->AddNote(ivan, f.inv_case, "a note");
  f.repo->RunReminders();
  f.repo->CaseTasks(ivan, f.inv_case);
  f.repo->SignedAuditHead();  // flushes queued reads
  repo::AuditFilter filter;
  filter.target = f.inv_case;
  std::vector<std::string> actions;
  for (const auto& e : f.repo->AuditEvents(f.Alice(), filter)) actions.push_back(e.action);
  const auto has = [&](const std::string& a) { return std::find(actions.begin(), actions.end(), a) != actions.end(); };
  CHECK(has("case_changed"));
  CHECK(has("task_added"));
  CHECK(has("note_added"));
  CHECK(has("reminded"));
  CHECK(has("workflow_read"));
  CHECK(f.repo->VerifyAudit().ok);

  // The case's owner lists its events, and its documents', without being an auditor.
  WriteFile(f.tmp / "in/a.txt", "harbour ledger");
  const auto docs = f.Ingest(ivan, f.inv_case, f.tmp / "in");
  repo::CasePatch own;
  own.owner = "ivan";
  f.repo->UpdateCase(f.Alice(), f.inv_case, own);
  f.repo->GetDocument(ivan, docs.at(0).id);
  f.repo->SignedAuditHead();
  repo::AuditFilter of_case;
  of_case.case_id = f.inv_case;
  of_case.limit = 1000;
  const auto events = f.repo->AuditEvents(ivan, of_case);
  const auto on = [&](const std::string& target, const std::string& action) {
    return std::any_of(events.begin(), events.end(), [&](const auto& e) { return e.target == target && e.action == action; });
  };
  CHECK(on(f.inv_case, "case_changed"));
  CHECK(on(docs.at(0).id, "document_read"));
  CHECK(std::all_of(events.begin(), events.end(), [&](const auto& e) {
    return e.target == f.inv_case || e.target == docs.at(0).id;
  }));
  CHECK(std::none_of(events.begin(), events.end(), [](const auto& e) { return e.detail.has_value(); }));
  // Not the whole trail, not another's case.
  CHECK(CodeOf([&] { f.repo->AuditEvents(ivan, repo::AuditFilter{}); }) == ErrorCode::kForbidden);
  CHECK(CodeOf([&] { f.repo->AuditEvents(f.Lena(), of_case); }) == ErrorCode::kNotFound);
  f.repo->AddUser(f.Alice(), "igor", "igor-password", {"investigator"});
  CHECK(CodeOf([&] { f.repo->AuditEvents(f.repo->Login("igor", "igor-password"), of_case); }) == ErrorCode::kForbidden);
}
