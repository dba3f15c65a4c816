// What finding entities costs an ingest: the same folder ingested into
// fresh repositories with the workers finding entities and not, in turn,
// RUNS times each (one run, so the noisy machine's drift hits both).
// Usage: ingest_share DIR WORK_DIR [RUNS]
// Prints each pair's seconds and the median share of ingest time that
// entities took: (with - without) / with.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "repo/repository.h"

using namespace dossier;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

double IngestSeconds(const std::string& in, const std::string& dir, bool entities) {
  fs::remove_all(dir);
  fs::remove(dir + ".recovery-key");
  repo::InitOptions io;
  io.admin_user = "bench";
  io.admin_password = "bench-password-1";
  io.protect = false;
  io.cost = crypto::PasswordCost::kInteractive;
  repo::Repository::Init(dir, io);
  repo::OpenOptions oo;
  oo.cost = crypto::PasswordCost::kInteractive;
  oo.extract_limits.find_entities = entities;
  auto r = repo::Repository::Open(dir, oo);
  auto s = r->Login("bench", "bench-password-1");
  r->AddRole(s, "fraud");
  s = r->Login("bench", "bench-password-1");
  const std::string case_id = r->CreateCase(s, {"share", "", repo::Risk::kNone, {"fraud"}}).id;
  repo::IngestRequest req;
  req.case_id = case_id;
  req.paths = {in};
  const auto t0 = Steady::now();
  r->Ingest(s, req);
  const double secs = std::chrono::duration<double>(Steady::now() - t0).count();
  r.reset();
  fs::remove_all(dir);
  fs::remove(dir + ".recovery-key");
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ingest_share DIR WORK_DIR [RUNS]\n");
    return 2;
  }
  try {
    const int runs = argc > 3 ? std::stoi(argv[3]) : 3;
    std::vector<double> shares;
    for (int i = 0; i < runs; ++i) {
      const double with = IngestSeconds(argv[1], std::string(argv[2]) + "/with", true);
      const double without = IngestSeconds(argv[1], std::string(argv[2]) + "/without", false);
      shares.push_back((with - without) / with);
      std::printf("run %d: with entities %.2f s, without %.2f s, share %.1f%%\n", i + 1, with, without,
                  100 * shares.back());
    }
    std::sort(shares.begin(), shares.end());
    std::printf("median share of ingest time: %.1f%%\n", 100 * shares[shares.size() / 2]);
  } catch (const Error& e) {
    std::fprintf(stderr, "ingest_share: %s\n", e.what());
    return 1;
  }
  return 0;
}
