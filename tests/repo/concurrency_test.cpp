// One Repository, many threads: eight threads search and read while
// another ingests and grants and revokes a role back and forth. Every
// answer must be one of the committed states: a document the searcher
// could find before is never lost mid-move (nor counted twice), a case
// being moved is seen whole or not at all, and nothing the searcher may
// not open appears. Run under ThreadSanitizer in CI (DOSSIER_SANITIZE=thread).
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "base/error.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

// What the threads saw that they must not have; reported by the main
// thread (Catch2's assertions are not thread-safe).
struct Violations {
  std::mutex mu;
  std::vector<std::string> seen;
  void Add(std::string what) {
    std::lock_guard lock(mu);
    if (seen.size() < 20) seen.push_back(std::move(what));
  }
};

repo::SearchRequest Query(const std::string& q) {
  repo::SearchRequest r;
  r.query = q;
  r.limit = 1000;
  return r;
}

}  // namespace

TEST_CASE("searches and reads on eight threads see only committed states while writes go on",
          "[concurrency]") {
  repo::OpenOptions o;
  o.commit_group = 4;
  Fixture f(o);
  // Investigators' case: 30 documents before the run, 40 more during it.
  for (int i = 0; i < 30; ++i) {
    WriteFile(f.tmp / ("first/memo" + std::to_string(i) + ".txt"),
              "Common ledger memo " + std::to_string(i) + " about the pier, word" + std::to_string(i));
  }
  for (int i = 0; i < 40; ++i) {
    WriteFile(f.tmp / ("later/memo" + std::to_string(i) + ".txt"),
              "Common ledger memo about the pier, later" + std::to_string(i));
  }
  // Counsel's case: 10 documents the investigators never see.
  for (int i = 0; i < 10; ++i) {
    WriteFile(f.tmp / ("counsel/advice" + std::to_string(i) + ".txt"),
              "Common ledger advice " + std::to_string(i) + " about the pier");
  }
  std::set<std::string> first, counsel;
  for (const auto& d : f.Ingest(f.Ivan(), f.inv_case, f.tmp / "first")) first.insert(d.id);
  for (const auto& d : f.Ingest(f.Lena(), f.legal_case, f.tmp / "counsel")) counsel.insert(d.id);
  REQUIRE(first.size() == 30);
  REQUIRE(counsel.size() == 10);
  const std::string inv_case = f.inv_case, legal_case = f.legal_case;
  // A second investigators' case takes the ingest that runs meanwhile (a
  // case being ingested into takes no grant until the ingest ends).
  const std::string inv2 =
      f.repo->CreateCase(f.Alice(), {"Second", "", repo::Risk::kNone, {"investigator"}}).id;

  Violations bad;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> searches{0}, gets{0}, lena_saw_case{0}, lena_missed_case{0};
  auto ivan = f.Ivan();
  auto lena = f.Lena();

  auto reader = [&](int n) {
    std::mt19937 rng(n);
    const bool as_ivan = n % 2 == 0;  // both sessions shared across threads
    const repo::Session& s = as_ivan ? ivan : lena;
    while (!done.load()) {
      try {
        const repo::SearchResults r = f.repo->Search(s, Query("common pier"));
        ++searches;
        std::set<std::string> ids;
        std::size_t from_first = 0, from_counsel = 0;
        for (const auto& h : r.hits) {
          if (!ids.insert(h.document_id).second) {
            bad.Add(std::string(as_ivan ? "ivan" : "lena") + ": a document counted twice" +
                    (first.count(h.document_id) ? " (first)" : counsel.count(h.document_id) ? " (counsel)" : " (later)"));
          }
          from_first += first.count(h.document_id);
          from_counsel += counsel.count(h.document_id);
          if (h.case_id != inv_case && h.case_id != legal_case && h.case_id != inv2) {
            bad.Add("a hit of no case");
          }
          if (as_ivan && h.case_id == legal_case) bad.Add("ivan saw counsel's document");
          if (!as_ivan && h.case_id == inv2) bad.Add("lena saw the second case");
          if (h.snippet.find("<mark>") == std::string::npos) bad.Add("a hit without its snippet");
        }
        if (r.total != r.hits.size()) bad.Add("total and hits disagree");
        if (r.damaged != 0) bad.Add(std::string(as_ivan ? "ivan" : "lena") + ": damaged " + std::to_string(r.damaged) + " total " + std::to_string(r.total) + " hits " + std::to_string(r.hits.size()));
        if (as_ivan) {
          // Ivan holds investigator throughout: nothing of his is ever lost.
          if (from_first != first.size()) {
            bad.Add("ivan missed " + std::to_string(first.size() - from_first) + " documents");
          }
        } else {
          // Lena's own documents always; the investigators' case whole or not at all.
          if (from_counsel != counsel.size()) bad.Add("lena missed her own documents: " + std::to_string(from_counsel) + " first " + std::to_string(from_first) + " total " + std::to_string(r.total));
          if (from_first != 0 && from_first != first.size()) {
            bad.Add("lena saw a half-moved case: " + std::to_string(from_first) + " of 30");
          }
          (from_first ? lena_saw_case : lena_missed_case)++;
        }
        // A read of one of the hits, or of a document she may not open.
        if (!r.hits.empty()) {
          const auto& pick = r.hits[rng() % r.hits.size()];
          try {
            const repo::DocumentInfo d = f.repo->GetDocument(s, pick.document_id);
            if (d.id != pick.document_id || d.case_id != pick.case_id) bad.Add("get disagrees with search");
            ++gets;
          } catch (const Error& e) {
            // Revoked between the search and the read: the one allowed failure.
            if (as_ivan || e.code() != ErrorCode::kNotFound) bad.Add(std::string("get: ") + e.what());
          }
        }
        if (!as_ivan && rng() % 4 == 0) {
          const auto cases = f.repo->ListCases(s);
          if (cases.empty()) bad.Add("lena lost her case");
        }
      } catch (const std::exception& e) {
        bad.Add(std::string("reader: ") + e.what());
      }
    }
  };

  std::vector<std::thread> readers;
  for (int i = 0; i < 8; ++i) readers.emplace_back(reader, i);
  std::string writer_error;
  std::thread writer([&] {
    try {
      auto alice = f.Alice();
      repo::IngestRequest req;
      req.case_id = inv2;
      req.paths = {f.tmp / "later"};
      const std::string job = f.repo->StartIngest(f.Ivan(), req);
      for (int round = 0; round < 3; ++round) {
        f.repo->GrantRole(alice, inv_case, "legal");
        f.repo->RevokeRole(alice, inv_case, "legal");
      }
      // A write lands while the ingest job still runs.
      f.repo->CreateCase(alice, {"Side case", "", repo::Risk::kLow, {"legal"}});
      for (;;) {
        auto info = f.repo->WaitJob(alice, job, SIZE_MAX, std::chrono::seconds(1), nullptr);
        if (info.state != repo::JobState::kRunning && info.state != repo::JobState::kQueued) {
          if (info.state != repo::JobState::kDone) writer_error = "the ingest job ended " + info.error;
          break;
        }
      }
      f.repo->GrantRole(alice, inv_case, "legal");
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
    done = true;
  });
  writer.join();
  for (auto& t : readers) t.join();

  INFO("searches " << searches.load() << ", gets " << gets.load() << ", lena saw the case "
                   << lena_saw_case.load() << " times and not " << lena_missed_case.load());
  CHECK(writer_error.empty());
  for (const auto& v : bad.seen) FAIL_CHECK(v);
  CHECK(bad.seen.empty());
  CHECK(searches.load() > 16);
  // The end state: everything there, granted to legal, counted once.
  CHECK(f.Search(f.Ivan(), "common pier").total == 70);
  CHECK(f.Search(f.Lena(), "common pier").total == 40);
}
