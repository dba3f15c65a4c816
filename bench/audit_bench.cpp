// The audit trail at scale: how many events a second it appends from
// readers (alone, and while an ingest runs), how long checking a trail of
// EVENTS events takes, and how large one event's inclusion proof and a
// consistency proof are at that size.
// Usage: audit_bench WORK_DIR [EVENTS] [INGEST_DIR]
// The events are real reads (a case opened, over and over, from two
// threads) appended by the trail in its groups, as a server's would be.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_repo.h"
#include "repo/views.h"

using namespace dossier;
using Steady = std::chrono::steady_clock;

namespace {

double Since(Steady::time_point t0) { return std::chrono::duration<double>(Steady::now() - t0).count(); }

// Opens the case from `threads` threads until `stop` or `total` reads.
std::uint64_t ReadCases(repo::Repository& r, const repo::Session& s, const std::string& case_id, int threads,
                        std::uint64_t total, const std::atomic<bool>& stop) {
  std::atomic<std::uint64_t> done{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (!stop && done.fetch_add(1) < total) r.GetCase(s, case_id);
    });
  }
  for (auto& t : pool) t.join();
  return std::min<std::uint64_t>(done.load(), total);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: audit_bench WORK_DIR [EVENTS] [INGEST_DIR]\n");
    return 2;
  }
  try {
    const std::string dir = std::string(argv[1]) + "/audit";
    const std::uint64_t events = argc > 2 ? std::stoull(argv[2]) : 1'000'000;
    bench::BenchRepo b = bench::FreshBenchRepo(dir, "team");
    auto& r = *b.repo;
    const repo::Session& s = b.session();
    const std::string case_id = r.CreateCase(s, {"audit bench", "", repo::Risk::kNone, {"team"}}).id;

    std::atomic<bool> never{false};
    auto t0 = Steady::now();
    const std::uint64_t reads = ReadCases(r, s, case_id, 2, events, never);
    const repo::AuditHead head = r.SignedAuditHead();
    const double secs = Since(t0);
    std::printf("appended: %llu read events from 2 threads in %.1f s = %.0f events/s (head of %llu signed)\n",
                static_cast<unsigned long long>(reads), secs, static_cast<double>(reads) / secs,
                static_cast<unsigned long long>(head.size));

    if (argc > 3) {
      repo::IngestRequest req;
      req.case_id = case_id;
      req.paths = {argv[3]};
      std::atomic<bool> stop{false};
      const repo::AuditHead before = r.SignedAuditHead();
      std::uint64_t during = 0;
      std::thread readers([&] { during = ReadCases(r, s, case_id, 1, ~0ull, stop); });
      t0 = Steady::now();
      const auto summary = r.Ingest(s, req);
      const double ingest_secs = Since(t0);
      stop = true;
      readers.join();
      const repo::AuditHead after = r.SignedAuditHead();
      std::printf("while ingesting %zu documents (%.1f s): %llu events appended = %.0f events/s\n",
                  summary.documents.size(), ingest_secs,
                  static_cast<unsigned long long>(after.size - before.size),
                  static_cast<double>(after.size - before.size) / ingest_secs);
      (void)during;
    }

    t0 = Steady::now();
    const repo::AuditVerdict v = r.VerifyAudit();
    std::printf("verify: %s, %llu events in %.2f s\n", v.ok ? "ok" : v.problem.c_str(),
                static_cast<unsigned long long>(v.events), Since(t0));

    const repo::AuditHead now = r.SignedAuditHead();
    t0 = Steady::now();
    const repo::AuditProof p = r.ProveAuditEvent(s, now.size / 2 + 1);
    const double prove_secs = Since(t0);
    const std::string proof = repo::views::AuditProofJson(p, -1);
    std::printf("inclusion proof of event %llu of %llu: %zu hashes = %zu bytes of hashes, %zu bytes as JSON (%.2f s)\n",
                static_cast<unsigned long long>(p.event.seq), static_cast<unsigned long long>(now.size),
                p.path.size(), p.path.size() * 32, proof.size(), prove_secs);
    const repo::AuditConsistency c = r.ProveAuditConsistency(now.size / 3);
    std::printf("consistency proof %llu -> %llu: %zu hashes = %zu bytes of hashes, %zu bytes as JSON\n",
                static_cast<unsigned long long>(c.first_size), static_cast<unsigned long long>(now.size),
                c.path.size(), c.path.size() * 32, repo::views::AuditConsistencyJson(c, -1).size());
    r.SignedAuditHead();
    b.login.reset();
    b.repo.reset();  // checkpoints the write-ahead log into the file
    std::printf("database: %.1f MB\n",
                static_cast<double>(std::filesystem::file_size(dir + "/dossier.db")) / 1e6);
  } catch (const Error& e) {
    std::fprintf(stderr, "audit_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
