// Long work as jobs: an ingest returns a job id at once, reports progress,
// can be cancelled (what it acknowledged stays), stays readable after it
// ends to its starter and admins only, keeps its keys past a logout, and
// is forgotten after its retention (a test clock, no sleeping).
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>

#include "base/error.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

// A fault hook that holds the ingest at one step until released.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int arrived = 0;
  void Wait() {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void AwaitArrival() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return arrived > 0; });
  }
  void Open() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

repo::OpenOptions GatedAt(Gate& gate, const std::string& point, int after = 0) {
  repo::OpenOptions o;
  o.commit_group = 2;
  auto seen = std::make_shared<std::atomic<int>>(0);
  o.fault = [&gate, point, after, seen](std::string_view p) {
    if (p == point && ++*seen > after) gate.Wait();
  };
  return o;
}

void WriteNotes(Fixture& f, int n) {
  for (int i = 0; i < n; ++i) {
    WriteFile(f.tmp / ("in/note" + std::to_string(100 + i) + ".txt"),
              "Job note " + std::to_string(i) + " about the lighthouse keeper.");
  }
}

// Starts an ingest of in/ (the notes) into the investigators' case.
std::string StartNotes(Fixture& f, const repo::Session& s) {
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  return f.repo->StartIngest(s, req);
}

repo::JobInfo WaitEnd(repo::Repository& r, const repo::Session& s, const std::string& id) {
  for (;;) {
    auto info = r.WaitJob(s, id, SIZE_MAX, std::chrono::milliseconds(500), nullptr);
    if (info.state != repo::JobState::kQueued && info.state != repo::JobState::kRunning) return info;
  }
}

}  // namespace

TEST_CASE("an ingest job starts at once, reports progress and ends with its summary") {
  Gate gate;
  Fixture f;
  WriteNotes(f, 6);
  f.Reopen(GatedAt(gate, "after_index_commit"));
  auto ivan = f.Ivan();
  const std::string id = StartNotes(f, ivan);
  gate.AwaitArrival();  // the job is inside its first group commit
  auto running = f.repo->GetJob(ivan, id);
  CHECK(running.state == repo::JobState::kRunning);
  CHECK(running.kind == repo::JobKind::kIngest);
  CHECK(running.started_by == "ivan");
  CHECK(running.case_id == f.inv_case);
  CHECK(running.progress.files_total == 6);
  CHECK(running.finished_at.empty());
  gate.Open();
  const auto done = WaitEnd(*f.repo, ivan, id);
  CHECK(done.state == repo::JobState::kDone);
  CHECK(done.phase == repo::JobPhase::kFinished);
  CHECK(done.progress.files_done == 6);
  CHECK(done.progress.items == 6);
  CHECK(done.documents == 6);
  CHECK_FALSE(done.finished_at.empty());
  const auto summary = f.repo->JobSummary(ivan, id);
  CHECK(summary.documents.size() == 6);
  CHECK(f.repo->JobFailures(ivan, id).empty());
  CHECK(f.Search(ivan, "lighthouse").total == 6);
}

TEST_CASE("a cancelled ingest keeps what it acknowledged and rolls back the rest") {
  Gate gate;
  Fixture f;
  WriteNotes(f, 12);
  // Held after the first group (two documents) committed, with more staged.
  f.Reopen(GatedAt(gate, "after_blob_written", 5));
  auto ivan = f.Ivan();
  const std::string id = StartNotes(f, ivan);
  gate.AwaitArrival();
  f.repo->CancelJob(ivan, id);
  gate.Open();
  const auto end = WaitEnd(*f.repo, ivan, id);
  CHECK(end.state == repo::JobState::kCancelled);
  const auto acknowledged = f.repo->JobSummary(ivan, id).documents;
  CHECK(acknowledged.size() < 12);
  // Exactly the acknowledged documents are there, whole; nothing half-done.
  const auto present = f.repo->ListDocuments(ivan, f.inv_case);
  CHECK(present.size() == acknowledged.size());
  for (const auto& d : acknowledged) {
    CHECK(Content(*f.repo, ivan, d.id).find("lighthouse") != std::string::npos);
  }
  CHECK(f.Search(ivan, "lighthouse").total == acknowledged.size());
  // Running it again completes it.
  f.Reopen();
  auto again = f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  CHECK(f.repo->ListDocuments(f.Ivan(), f.inv_case).size() == 12);
  CHECK(f.Search(f.Ivan(), "lighthouse").total == 12);
}

TEST_CASE("a job is visible to its starter and to admins, to nobody else") {
  Fixture f;
  WriteNotes(f, 2);
  auto ivan = f.Ivan();
  const std::string id = StartNotes(f, ivan);
  WaitEnd(*f.repo, ivan, id);
  CHECK(f.repo->GetJob(f.Alice(), id).state == repo::JobState::kDone);  // admin
  auto lena = f.Lena();
  CHECK(CodeOf([&] { f.repo->GetJob(lena, id); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->JobSummary(lena, id); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->CancelJob(lena, id); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->GetJob(ivan, "jnosuchjobxxxxxx"); }) == ErrorCode::kNotFound);
}

TEST_CASE("a job keeps its keys after its starter logs out") {
  Gate gate;
  Fixture f;
  WriteNotes(f, 4);
  f.Reopen(GatedAt(gate, "after_blob_written"));
  auto ivan = f.Ivan();
  const std::string id = StartNotes(f, ivan);
  gate.AwaitArrival();
  f.repo->Logout(ivan);
  CHECK(CodeOf([&] { f.Search(ivan, "lighthouse"); }) == ErrorCode::kUnauthenticated);
  gate.Open();
  auto again = f.Ivan();
  const auto end = WaitEnd(*f.repo, again, id);
  CHECK(end.state == repo::JobState::kDone);
  CHECK(f.Search(again, "lighthouse").total == 4);
}

TEST_CASE("a failed job says why, and finished jobs are forgotten after their retention") {
  auto clock = std::make_shared<ManualClock>(1'800'000'000);
  repo::OpenOptions o;
  o.clock = clock;
  o.job_retention_seconds = 3600;
  o.fault = [](std::string_view p) {
    if (p == "after_index_commit") throw Error(ErrorCode::kIo, "the disk went away (test)");
  };
  Fixture f(o);
  WriteNotes(f, 2);
  auto ivan = f.Ivan();
  const std::string id = StartNotes(f, ivan);
  const auto end = WaitEnd(*f.repo, ivan, id);
  CHECK(end.state == repo::JobState::kFailed);
  CHECK(end.error == "the disk went away (test)");
  CHECK(end.error_code == ErrorCode::kIo);
  CHECK(end.created_at == "2027-01-15T08:00:00Z");
  // What the failed group wrote was settled when the job failed: its index
  // commit had happened, so its documents stay, whole.
  CHECK(f.Search(ivan, "lighthouse").total == 2);
  // The blocking call throws the job's error.
  WriteFile(f.tmp / "in/late.txt", "A late note about the lighthouse.");
  CHECK(CodeOf([&] { f.Ingest(ivan, f.inv_case, f.tmp / "in"); }) == ErrorCode::kIo);
  clock->Advance(3599);
  CHECK(f.repo->GetJob(ivan, id).state == repo::JobState::kFailed);
  clock->Advance(2);
  CHECK(CodeOf([&] { f.repo->GetJob(ivan, id); }) == ErrorCode::kNotFound);
}

TEST_CASE("beyond the retention count the jobs that finished first go, never the one just finished") {
  // Every job finishes in the same second of a stopped clock: by id, the
  // newest one could be forgotten before its blocking caller read it.
  auto clock = std::make_shared<ManualClock>(1'800'000'000);
  repo::OpenOptions o;
  o.clock = clock;
  o.job_retention_count = 2;
  Fixture f(o);
  auto ivan = f.Ivan();
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    WriteFile(f.tmp / ("one/" + std::to_string(i) + ".txt"), "Note " + std::to_string(i) + " about the lighthouse.");
    CHECK(f.Ingest(ivan, f.inv_case, f.tmp / "one").size() == static_cast<std::size_t>(i + 1));
  }
  CHECK(f.Search(ivan, "lighthouse").total == 12);
}

TEST_CASE("a grant runs as a job, and a second grant of the case waits for its moves") {
  Gate gate;
  Fixture f;
  WriteNotes(f, 5);
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  f.Reopen(GatedAt(gate, "move_added_to_new"));
  auto alice = f.Alice();
  const std::string id = f.repo->StartGrant(alice, f.inv_case, "legal");
  gate.AwaitArrival();
  auto info = f.repo->GetJob(alice, id);
  CHECK(info.kind == repo::JobKind::kGrant);
  CHECK(info.phase == repo::JobPhase::kMoving);
  // Mid-move, the case takes no second grant or revoke...
  CHECK(CodeOf([&] { f.repo->RevokeRole(alice, f.inv_case, "legal"); }) == ErrorCode::kConflict);
  // ...but other writes land at once.
  CHECK(f.repo->CreateCase(alice, {"Meanwhile", "", repo::Risk::kLow, {"legal"}}).title == "Meanwhile");
  gate.Open();
  CHECK(WaitEnd(*f.repo, alice, id).state == repo::JobState::kDone);
  CHECK(f.Search(f.Lena(), "lighthouse").total == 5);
}

TEST_CASE("a case being ingested into takes no grant or revoke until the ingest ends") {
  Gate gate;
  Fixture f;
  WriteNotes(f, 3);
  f.Reopen(GatedAt(gate, "after_blob_written"));
  auto ivan = f.Ivan();
  const std::string id = StartNotes(f, ivan);
  gate.AwaitArrival();
  // Its documents' keys are being wrapped for the roles it started with.
  CHECK(CodeOf([&] { f.repo->GrantRole(f.Alice(), f.inv_case, "legal"); }) == ErrorCode::kConflict);
  // Other cases are not held up.
  f.repo->GrantRole(f.Alice(), f.legal_case, "investigator");
  gate.Open();
  CHECK(WaitEnd(*f.repo, ivan, id).state == repo::JobState::kDone);
  f.repo->GrantRole(f.Alice(), f.inv_case, "legal");
  CHECK(f.Search(f.Lena(), "lighthouse").total == 3);
}

TEST_CASE("while a grant moves documents, the case takes no ingest and the repository no reindex") {
  Gate gate;
  Fixture f;
  WriteNotes(f, 3);
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  f.Reopen(GatedAt(gate, "move_added_to_new"));
  auto alice = f.Alice();
  const std::string id = f.repo->StartGrant(alice, f.inv_case, "legal");
  gate.AwaitArrival();
  WriteFile(f.tmp / "more/extra.txt", "An extra note about the lighthouse lamp.");
  CHECK(CodeOf([&] { f.Ingest(f.Ivan(), f.inv_case, f.tmp / "more"); }) == ErrorCode::kConflict);
  CHECK(CodeOf([&] { f.repo->Reindex(f.repo->LoginWithRecoveryKey(f.recovery)); }) ==
        ErrorCode::kConflict);
  gate.Open();
  CHECK(WaitEnd(*f.repo, alice, id).state == repo::JobState::kDone);
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "more");
  CHECK(f.repo->Reindex(f.repo->LoginWithRecoveryKey(f.recovery)).documents == 4);
  CHECK(f.Search(f.Lena(), "lighthouse").total == 4);
}

TEST_CASE("a role gaining access to a large case sees all of it at once") {
  // More documents than one move step takes (500), so the copies go in
  // several steps; the rows still flip together.
  Fixture f;
  for (int i = 0; i < 620; ++i) {
    WriteFile(f.tmp / ("big/n" + std::to_string(i) + ".txt"), "Note " + std::to_string(i) + " of the quay");
  }
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "big");
  std::vector<std::uint64_t> seen;
  repo::OpenOptions o;
  o.fault = [&](std::string_view p) {
    if (p == "move_added_to_new" || p == "move_recorded") {
      // On the job's thread, between steps: what lena's search finds.
      seen.push_back(f.Search(f.Lena(), "quay", 1).total);
    }
  };
  f.Reopen(o);
  f.repo->GrantRole(f.Alice(), f.inv_case, "legal");
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == 0);    // every copy made, nothing flipped: none yet
  CHECK(seen[1] == 620);  // one flip: all of it
}
