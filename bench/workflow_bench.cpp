// Case management at scale: CASES cases (in bulk, through Repository) with
// TASKS tasks each, due dates spread over two months around now; then the
// time of one reminder check when nothing new is due (what the server pays
// every minute), of the check that fires the due ones, of the reports, of
// the overdue list across cases, and of one stage move (p50/p99).
// Usage: workflow_bench WORK_DIR [CASES] [TASKS_PER_CASE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "base/clock.h"
#include "bench_repo.h"

using namespace dossier;
using Steady = std::chrono::steady_clock;

namespace {
double Ms(Steady::time_point t0) { return std::chrono::duration<double, std::milli>(Steady::now() - t0).count(); }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: workflow_bench WORK_DIR [CASES] [TASKS_PER_CASE]\n");
    return 2;
  }
  try {
    const std::string dir = std::string(argv[1]) + "/workflow";
    const int cases = argc > 2 ? std::stoi(argv[2]) : 10000;
    const int per_case = argc > 3 ? std::stoi(argv[3]) : 5;
    auto clock = std::make_shared<ManualClock>(1'800'000'000);
    repo::OpenOptions o;
    o.clock = clock;
    bench::BenchRepo b = bench::FreshBenchRepo(dir, "team", o);
    auto& r = *b.repo;
    const repo::Session& s = b.session();

    auto t0 = Steady::now();
    std::vector<repo::NewCase> list;
    for (int i = 0; i < cases; ++i) {
      list.push_back({"case " + std::to_string(i), "", static_cast<repo::Risk>(i % 4), {"team"}});
    }
    std::vector<std::string> ids;
    for (const auto& c : r.CreateCases(s, list)) ids.push_back(c.id);
    std::printf("%d cases created in bulk: %.0f ms\n", cases, Ms(t0));

    std::mt19937 rng(7);
    std::uniform_int_distribution<int> day(-30, 30);
    t0 = Steady::now();
    for (const auto& id : ids) {
      for (int k = 0; k < per_case; ++k) {
        r.AddTask(s, id, {"task", Rfc3339(clock->Now() + day(rng) * 86400), "bench"});
      }
    }
    std::printf("%d tasks added one by one: %.0f ms (%.2f ms each)\n", cases * per_case, Ms(t0),
                Ms(t0) / std::max(1, cases * per_case));

    std::vector<double> moves;
    const std::vector<repo::Stage> stages = repo::AllStages();
    for (std::size_t i = 0; i < ids.size(); i += std::max<std::size_t>(1, ids.size() / 1000)) {
      repo::CasePatch p;
      p.stage = stages[1 + i % (stages.size() - 1)];
      p.reason = "bench";
      const auto m0 = Steady::now();
      r.UpdateCase(s, ids[i], p);
      moves.push_back(Ms(m0));
    }
    std::sort(moves.begin(), moves.end());
    std::printf("stage moves: %zu, p50 %.2f ms, p99 %.2f ms\n", moves.size(), moves[moves.size() / 2],
                moves[std::min(moves.size() - 1, moves.size() * 99 / 100)]);

    t0 = Steady::now();
    const auto fired = r.RunReminders();
    std::printf("reminder check that fires: %zu fired in %.0f ms\n", fired.size(), Ms(t0));
    double quiet = 0;
    for (int i = 0; i < 5; ++i) {
      t0 = Steady::now();
      const auto none = r.RunReminders();
      quiet = i == 0 ? Ms(t0) : std::min(quiet, Ms(t0));
      if (!none.empty()) std::printf("  (a quiet check fired %zu)\n", none.size());
    }
    std::printf("reminder check with nothing new (best of 5): %.0f ms\n", quiet);

    t0 = Steady::now();
    const auto report = r.CaseReport(s);
    std::printf("reports over %d cases: %.0f ms (%zu past target)\n", cases, Ms(t0), report.past_target.size());
    repo::TaskFilter overdue;
    overdue.overdue_only = true;
    overdue.limit = 500;
    t0 = Steady::now();
    const auto late = r.Tasks(s, overdue);
    std::printf("overdue list (first %zu): %.0f ms\n", late.size(), Ms(t0));
    t0 = Steady::now();
    const auto inbox = r.Notifications(s, true, 100);
    std::printf("inbox (first %zu unread): %.1f ms\n", inbox.size(), Ms(t0));
    t0 = Steady::now();
    const auto board = r.ListCases(s, repo::CaseFilter{});
    std::printf("case list for the board (%zu cases): %.0f ms\n", board.size(), Ms(t0));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "workflow_bench: %s\n", e.what());
    return 1;
  }
}
