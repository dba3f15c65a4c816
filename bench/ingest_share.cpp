// What finding entities costs an ingest: the same folder ingested into
// fresh repositories with the workers finding entities and not, in turn,
// RUNS times each (one run, so the noisy machine's drift hits both; every
// other pair starts with the run without entities).
// Usage: ingest_share DIR WORK_DIR [RUNS] [with|without]
// Prints each pair's seconds and the median share of ingest time that
// entities took, (with - without) / with, both in wall time and in CPU
// time (this process and its extraction workers, which a shared machine's
// other load disturbs far less than the wall clock). With a last argument
// it runs that one ingest once, for an instruction count that no other
// load disturbs:
//   valgrind --tool=callgrind --trace-children=yes build/bench/ingest_share DIR W 1 with
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_repo.h"
#include "repo/repository.h"

using namespace dossier;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

double CpuSeconds() {
  double total = 0;
  for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    total += static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }
  return total;
}

struct Cost {
  double wall, cpu;
};

// The ingest's wall time, and the CPU time of the ingest and of closing
// the repository (which stops and reaps the workers, so their time counts).
Cost IngestCost(const std::string& in, const std::string& dir, bool entities) {
  repo::OpenOptions oo;
  oo.extract_limits.find_entities = entities;
  bench::BenchRepo b = bench::FreshBenchRepo(dir, "fraud", oo);
  auto& r = b.repo;
  const repo::Session& s = b.session();
  const std::string case_id = r->CreateCase(s, {"share", "", repo::Risk::kNone, {"fraud"}}).id;
  repo::IngestRequest req;
  req.case_id = case_id;
  req.paths = {in};
  const double cpu0 = CpuSeconds();
  const auto t0 = Steady::now();
  r->Ingest(s, req);
  const double secs = std::chrono::duration<double>(Steady::now() - t0).count();
  r.reset();
  const double cpu = CpuSeconds() - cpu0;
  fs::remove_all(dir);
  fs::remove(dir + ".recovery-key");
  return {secs, cpu};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ingest_share DIR WORK_DIR [RUNS] [with|without]\n");
    return 2;
  }
  try {
    const int runs = argc > 3 ? std::stoi(argv[3]) : 5;
    if (argc > 4) {
      const std::string only = argv[4];
      if (only != "with" && only != "without") throw Error(ErrorCode::kInvalidArgument, "say with or without");
      const Cost c = IngestCost(argv[1], std::string(argv[2]) + "/" + only, only == "with");
      std::printf("%s entities: %.2f s (CPU %.2f s)\n", only.c_str(), c.wall, c.cpu);
      return 0;
    }
    std::vector<double> shares, cpu_shares;
    for (int i = 0; i < runs; ++i) {
      Cost with{}, without{};
      if (i % 2 == 0) {
        with = IngestCost(argv[1], std::string(argv[2]) + "/with", true);
        without = IngestCost(argv[1], std::string(argv[2]) + "/without", false);
      } else {
        without = IngestCost(argv[1], std::string(argv[2]) + "/without", false);
        with = IngestCost(argv[1], std::string(argv[2]) + "/with", true);
      }
      shares.push_back((with.wall - without.wall) / with.wall);
      cpu_shares.push_back((with.cpu - without.cpu) / with.cpu);
      std::printf("run %d: with entities %.2f s (CPU %.2f s), without %.2f s (CPU %.2f s), share %.1f%% (CPU %.1f%%)\n",
                  i + 1, with.wall, with.cpu, without.wall, without.cpu, 100 * shares.back(),
                  100 * cpu_shares.back());
    }
    std::sort(shares.begin(), shares.end());
    std::sort(cpu_shares.begin(), cpu_shares.end());
    std::printf("median share of ingest time: %.1f%% (wall), %.1f%% (CPU)\n", 100 * shares[shares.size() / 2],
                100 * cpu_shares[cpu_shares.size() / 2]);
  } catch (const Error& e) {
    std::fprintf(stderr, "ingest_share: %s\n", e.what());
    return 1;
  }
  return 0;
}
