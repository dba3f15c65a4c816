// One search through repo::Repository directly, again and again on one
// thread: the yardstick for the HTTP search route's latency (bench/http.sh
// runs the same query through the server with one connection).
// Usage: search_latency REPO USER PASSWORD_FILE QUERY [SECONDS]
// Prints: requests=N p50_ms=… p99_ms=… (limit 20, snippets on, as the
// route's default).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "repo/repository.h"

using namespace dossier;
using Steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: search_latency REPO USER PASSWORD_FILE QUERY [SECONDS]\n");
    return 2;
  }
  try {
    std::ifstream pw_in(argv[3]);
    std::string password;
    std::getline(pw_in, password);
    const double seconds = argc > 5 ? std::stod(argv[5]) : 10;
    auto repo = repo::Repository::Open(argv[1]);
    const repo::Session s = repo->Login(argv[2], password);
    repo::SearchRequest req;
    req.query = argv[4];
    req.limit = 20;
    for (int i = 0; i < 20; ++i) (void)repo->Search(s, req);  // warm, as wrk's first seconds are
    std::vector<double> ms;
    const auto end = Steady::now() + std::chrono::duration<double>(seconds);
    while (Steady::now() < end) {
      const auto t0 = Steady::now();
      const auto r = repo->Search(s, req);
      ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
      if (r.hits.empty()) {
        std::fprintf(stderr, "the query found nothing\n");
        return 1;
      }
    }
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
    std::printf("requests=%zu p50_ms=%.3f p99_ms=%.3f\n", ms.size(), at(0.50), at(0.99));
  } catch (const Error& e) {
    std::fprintf(stderr, "search_latency: %s\n", e.what());
    return 1;
  }
  return 0;
}
