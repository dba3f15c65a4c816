// Readers against one Repository: queries per second and latency of a
// mixed load (a search with snippets, then a get of one of its hits) from
// 1, 2 and 4 threads, idle and while an ingest job runs beside them.
// Usage: load_bench CORPUS_DIR INGEST_DIR WORK_DIR [SECONDS_PER_RUN]
//   CORPUS_DIR  documents ingested first and searched
//   INGEST_DIR  documents ingested, again and again, during the busy runs
// Prints one row per run and the two ratios the core issue sets targets
// for: qps at 2 threads over 1, and p99 during an ingest over idle; and the
// slowest of the case creations made every quarter second meanwhile (a
// write waiting for the lock that an ingest takes group by group).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "bench_repo.h"
#include "repo/repository.h"

using namespace dossier;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

std::vector<std::string> QueryWords(const std::string& dir, std::size_t want) {
  std::vector<std::string> words;
  std::mt19937 rng(7);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  while (words.size() < want && !files.empty()) {
    std::ifstream in(files[rng() % files.size()]);
    std::string w;
    std::vector<std::string> candidates;
    while (in >> w && candidates.size() < 2000) {
      if (w.size() >= 5 && std::all_of(w.begin(), w.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); })) {
        candidates.push_back(w);
      }
    }
    if (!candidates.empty()) words.push_back(candidates[rng() % candidates.size()]);
  }
  return words;
}

struct Run {
  double qps = 0, p50_ms = 0, p99_ms = 0;
  std::uint64_t queries = 0;
};

Run Measure(repo::Repository& r, const repo::Session& s, const std::vector<std::string>& words,
            int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> latencies;
  std::vector<std::thread> pool;
  const auto start = Steady::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      std::vector<double> mine;
      while (!stop.load()) {
        const auto q0 = Steady::now();
        repo::SearchRequest req;
        req.query = words[rng() % words.size()];
        req.limit = 10;
        const repo::SearchResults res = r.Search(s, req);
        if (!res.hits.empty()) r.GetDocument(s, res.hits[rng() % res.hits.size()].document_id);
        mine.push_back(std::chrono::duration<double, std::milli>(Steady::now() - q0).count());
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  Run out;
  out.queries = latencies.size();
  out.qps = latencies.size() / elapsed;
  if (!latencies.empty()) {
    out.p50_ms = latencies[latencies.size() / 2];
    out.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: load_bench CORPUS_DIR INGEST_DIR WORK_DIR [SECONDS_PER_RUN]\n");
    return 2;
  }
  const std::string corpus = argv[1], busy_dir = argv[2], work = argv[3];
  const double seconds = argc > 4 ? std::atof(argv[4]) : 10;
  try {
    bench::BenchRepo b = bench::FreshBenchRepo(work, "team");
    auto& r = b.repo;
    const repo::Session& s = b.session();
    const std::string case_id = r->CreateCase(s, {"searched", "", repo::Risk::kNone, {"team"}}).id;
    repo::IngestRequest req;
    req.case_id = case_id;
    req.paths = {corpus};
    const auto t0 = Steady::now();
    const auto summary = r->Ingest(s, req);
    std::printf("corpus\t%zu documents in %.1f s\n", summary.documents.size(),
                std::chrono::duration<double>(Steady::now() - t0).count());
    const auto words = QueryWords(corpus, 300);

    std::printf("threads\tload\tqueries\tqps\tp50 ms\tp99 ms\tslowest write ms\n");
    std::map<std::pair<int, bool>, Run> runs;
    for (bool busy : {false, true}) {
      for (int threads : {1, 2, 4}) {
        std::atomic<bool> stop{false};
        std::atomic<int> ingests{0};
        std::thread background;
        if (busy) {
          // Ingests of the busy corpus into fresh cases, one after another,
          // for as long as the readers run.
          background = std::thread([&] {
            while (!stop.load()) {
              repo::IngestRequest b;
              b.case_id = r->CreateCase(s, {"busy", "", repo::Risk::kNone, {"team"}}).id;
              b.paths = {busy_dir};
              const std::string job = r->StartIngest(s, b);
              for (;;) {
                auto info = r->WaitJob(s, job, SIZE_MAX, std::chrono::milliseconds(200), nullptr);
                if (info.state != repo::JobState::kRunning && info.state != repo::JobState::kQueued) break;
                if (stop.load()) r->CancelJob(s, job);
              }
              ++ingests;
            }
          });
          std::this_thread::sleep_for(std::chrono::seconds(2));  // workers up and busy
        }
        // A write beside it all: a case created every quarter second; how
        // long one waits for the write lock is what a tag or a note would.
        std::atomic<bool> writes_done{false};
        double worst_write_ms = 0;
        std::thread writer([&] {
          while (!writes_done.load()) {
            const auto w0 = Steady::now();
            r->CreateCase(s, {"write", "", repo::Risk::kNone, {"team"}});
            worst_write_ms = std::max(
                worst_write_ms, std::chrono::duration<double, std::milli>(Steady::now() - w0).count());
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
          }
        });
        const Run run = Measure(*r, s, words, threads, seconds);
        writes_done = true;
        writer.join();
        stop = true;
        if (background.joinable()) background.join();
        runs[{threads, busy}] = run;
        std::printf("%d\t%s\t%llu\t%.1f\t%.2f\t%.2f\t%.1f\n", threads, busy ? "ingest" : "idle",
                    static_cast<unsigned long long>(run.queries), run.qps, run.p50_ms, run.p99_ms,
                    worst_write_ms);
        std::fflush(stdout);
      }
    }
    std::printf("ratio\tqps 2 threads / 1 thread (idle): %.2fx\n",
                runs[{2, false}].qps / runs[{1, false}].qps);
    for (int threads : {1, 2, 4}) {
      std::printf("ratio\tp99 during ingest / idle, %d thread(s): %.2fx\n", threads,
                  runs[{threads, true}].p99_ms / runs[{threads, false}].p99_ms);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
