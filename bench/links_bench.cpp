// Case links at scale, through repo::Repository.
//
//   links_bench quality DIR CASES [TEXT_DIR]
//     CASES cases (at least 5,000 for the report) in planted groups of 2-4
//     that share a rare identifier (an IBAN, a mobile number, an email
//     address or a wallet), among realistic noise: a few firm domains and
//     switchboard numbers held by hundreds of cases, regional domains held
//     by tens, money amounts and names that recur by chance. Each case's
//     document is a real text (from TEXT_DIR, if given) with its values
//     planted in it. Prints precision@10 of every case's link list against
//     the planted groups, and recall within the top 10.
//
//   links_bench add DIR CASES [SAMPLES]
//     Seeds CASES cases (one small document each, sharing entities as above)
//     and then times adding one more document to an existing case, SAMPLES
//     times (p50 and mean): run with 1,000 and 100,000 to compare.
//
// Seeding goes through Repository (CreateCases in one transaction, then one
// ingest per case) in this one process.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench_repo.h"
#include "repo/repository.h"

using namespace dossier;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

double Ms(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A valid German IBAN for account number n (mod-97 check digits).
std::string Iban(std::uint64_t n) {
  char bban[32];
  std::snprintf(bban, sizeof bban, "37040044%010llu", static_cast<unsigned long long>(n % 10000000000ULL));
  // BBAN + "DE00" as digits (D=13, E=14), mod 97.
  const std::string digits = std::string(bban) + "131400";
  unsigned rem = 0;
  for (char c : digits) rem = (rem * 10 + static_cast<unsigned>(c - '0')) % 97;
  char out[40];
  std::snprintf(out, sizeof out, "DE%02u%s", 98 - rem, bban);
  return out;
}

// A Portuguese mobile number (libphonenumber accepts 91x xxx xxx).
std::string Mobile(std::uint64_t n) {
  char out[32];
  std::snprintf(out, sizeof out, "+351 91%01llu %03llu %03llu", static_cast<unsigned long long>(n / 1000000 % 10),
                static_cast<unsigned long long>(n / 1000 % 1000), static_cast<unsigned long long>(n % 1000));
  return out;
}

std::string Landline(std::uint64_t n) {
  char out[32];
  std::snprintf(out, sizeof out, "+351 21%01llu %03llu %03llu", static_cast<unsigned long long>(n / 1000000 % 10),
                static_cast<unsigned long long>(n / 1000 % 1000), static_cast<unsigned long long>(n % 1000));
  return out;
}

std::vector<std::string> LoadTexts(const std::string& dir, std::size_t want) {
  std::vector<std::string> out;
  if (dir.empty()) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.file_size() < 400) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string t(2000, '\0');
    in.read(t.data(), static_cast<std::streamsize>(t.size()));
    t.resize(static_cast<std::size_t>(in.gcount()));
    // Plain text only: values planted inside markup would not be text.
    if (t.find('\0') != std::string::npos || t.find('<') != std::string::npos) continue;
    out.push_back(t);
    if (out.size() >= want) break;
  }
  return out;
}

struct World {
  std::vector<std::string> text;           // per case: what its document says
  std::vector<std::set<std::size_t>> truth;  // per case: the cases it shares a rare identifier with
};

// Groups of 2-4 cases share a rare identifier; noise as described above.
World Plant(std::size_t cases, const std::vector<std::string>& texts, std::mt19937_64& rng) {
  World w;
  w.text.resize(cases);
  w.truth.resize(cases);
  std::vector<std::size_t> order(cases);
  for (std::size_t i = 0; i < cases; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  // About 60% of the cases are in a group.
  std::size_t at = 0, group = 0;
  std::uniform_int_distribution<int> size_of(2, 4), kind_of(0, 3);
  while (at + 4 < cases * 6 / 10) {
    const int n = size_of(rng);
    const int kind = kind_of(rng);
    std::string value;
    ++group;
    switch (kind) {
      case 0: value = Iban(1000000 + group * 7919); break;
      case 1: value = Mobile(2000000 + group * 37); break;
      case 2: value = "contact" + std::to_string(group) + "@shell-" + std::to_string(group % 997) + ".example"; break;
      default: value = "0x" + [&] {
        // A lower-case Ethereum address (no checksum to meet).
        std::string hex;
        std::mt19937_64 g(group);
        for (int i = 0; i < 40; ++i) hex += "0123456789abcdef"[g() % 16];
        return hex;
      }();
    }
    for (int i = 0; i < n; ++i) {
      const std::size_t c = order[at + i];
      w.text[c] += " Payment details: " + value + " . ";
      for (int j = 0; j < n; ++j) {
        if (i != j) w.truth[c].insert(order[at + j]);
      }
    }
    at += static_cast<std::size_t>(n);
  }
  // Noise everywhere.
  const std::vector<std::string> firms = {"bigbank.example", "postal-service.example", "cloudmail.example",
                                          "lawfirm.example", "telco.example"};
  std::uniform_real_distribution<double> u(0, 1);
  for (std::size_t c = 0; c < cases; ++c) {
    std::string noise;
    for (std::size_t f = 0; f < firms.size(); ++f) {
      if (u(rng) < 0.05 + 0.03 * static_cast<double>(f)) noise += " See https://www." + firms[f] + "/help . ";
    }
    if (u(rng) < 0.08) noise += " Switchboard " + Landline(1234000 + rng() % 4) + " . ";
    if (u(rng) < 0.5) noise += " Regional office www.region" + std::to_string(rng() % 150) + ".example . ";
    if (u(rng) < 0.3) noise += " Amount EUR " + std::to_string(100 * (1 + rng() % 40)) + ".00 due. ";
    if (u(rng) < 0.2) noise += " Contact desk " + Mobile(9000000 + rng() % 40000) + " . ";
    const std::string body = texts.empty() ? std::string("Case file notes.") : texts[c % texts.size()];
    w.text[c] = body.substr(0, 600) + "\n" + w.text[c] + noise + "\n" + body.substr(std::min<std::size_t>(600, body.size()));
  }
  return w;
}

struct Seeded : bench::BenchRepo {
  std::vector<std::string> ids;
};

Seeded Seed(const std::string& dir, const World& w) {
  Seeded s;
  static_cast<bench::BenchRepo&>(s) = bench::FreshBenchRepo(dir, "fraud");
  std::vector<repo::NewCase> list;
  for (std::size_t i = 0; i < w.text.size(); ++i) {
    list.push_back({"case " + std::to_string(i), "", repo::Risk::kNone, {"fraud"}});
  }
  auto t0 = Steady::now();
  for (const auto& c : s.repo->CreateCases(s.session(), list)) s.ids.push_back(c.id);
  auto t1 = Steady::now();
  std::fprintf(stderr, "created %zu cases in %.1f s\n", s.ids.size(), Ms(t0, t1) / 1000);
  const fs::path in = fs::path(dir).parent_path() / (fs::path(dir).filename().string() + "-in");
  // LINKS_BENCH_DOCS: seed documents into only the first N cases (to look
  // at the cost of the cases alone).
  const char* only = std::getenv("LINKS_BENCH_DOCS");
  const std::size_t docs = only ? std::min<std::size_t>(std::stoul(only), w.text.size()) : w.text.size();
  for (std::size_t i = 0; i < docs; ++i) {
    fs::remove_all(in);
    fs::create_directories(in);
    std::ofstream(in / ("doc" + std::to_string(i) + ".txt")) << w.text[i];
    repo::IngestRequest req;
    req.case_id = s.ids[i];
    req.paths = {in.string()};
    s.repo->Ingest(s.session(), req);
    if ((i + 1) % 1000 == 0) {
      std::fprintf(stderr, "  %zu documents, %.1f s\n", i + 1, Ms(t1, Steady::now()) / 1000);
    }
  }
  fs::remove_all(in);
  std::fprintf(stderr, "ingested %zu documents in %.1f s\n", docs, Ms(t1, Steady::now()) / 1000);
  return s;
}

int Quality(const std::string& dir, std::size_t cases, const std::string& text_dir) {
  std::mt19937_64 rng(20261201);
  const World w = Plant(cases, LoadTexts(text_dir, cases), rng);
  Seeded s = Seed(dir, w);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < s.ids.size(); ++i) index[s.ids[i]] = i;
  double precision = 0, precision_any = 0, recall = 0;
  std::size_t judged = 0, with_truth = 0, empty_lists = 0, noise_only = 0;
  std::vector<double> ms;
  for (std::size_t c = 0; c < cases; ++c) {
    const auto t0 = Steady::now();
    const repo::CaseLinks l = s.repo->Links(s.session(), s.ids[c], 10);
    ms.push_back(Ms(t0, Steady::now()));
    const auto& truth = w.truth[c];
    if (truth.empty()) {
      // A case in no group: its links can only be noise; count how often a
      // noise link is strong enough to look like a rare identifier.
      if (!l.links.empty() && l.links[0].score >= 0.9) ++noise_only;
      continue;
    }
    ++with_truth;
    if (l.links.empty()) {
      if (++empty_lists <= 2 && std::getenv("LINKS_BENCH_DEBUG")) {
        std::fprintf(stderr, "no links for case %zu (%zu planted):\n%s\n", c, truth.size(), w.text[c].c_str());
      }
      continue;
    }
    const std::size_t k = std::min<std::size_t>(10, l.links.size());
    const std::size_t expect = std::min<std::size_t>(k, truth.size());
    std::size_t hits = 0;
    for (std::size_t i = 0; i < k; ++i) hits += truth.count(index[l.links[i].case_id]);
    // precision@10 over what is relevant at most: a list with 2 true cases
    // and 8 weak noise links is perfect when the 2 come first.
    std::size_t top = 0, genuine = 0;
    for (std::size_t i = 0; i < expect; ++i) {
      if (truth.count(index[l.links[i].case_id])) {
        ++top;
        continue;
      }
      // Not planted, but made by an identifier the two source texts
      // really share (the same author's email in two manuals): a true link.
      static const std::set<std::string> identifiers = {"email", "phone", "iban", "card", "btc", "eth", "url"};
      for (const auto& e : l.links[i].shared) {
        if (identifiers.count(e.type)) {
          ++genuine;
          break;
        }
      }
    }
    precision_any += static_cast<double>(top + genuine) / static_cast<double>(expect);
    if (top < expect && std::getenv("LINKS_BENCH_DEBUG")) {
      for (std::size_t i = 0; i < expect; ++i) {
        if (truth.count(index[l.links[i].case_id])) continue;
        std::fprintf(stderr, "case %zu: unplanted link %.3f:", c, l.links[i].score);
        for (const auto& e : l.links[i].shared) std::fprintf(stderr, " %s=%s(%llu)", e.type.c_str(), e.value.c_str(), static_cast<unsigned long long>(e.cases));
        std::fprintf(stderr, "\n");
      }
    }
    precision += static_cast<double>(top) / static_cast<double>(expect);
    recall += static_cast<double>(hits) / static_cast<double>(truth.size());
    ++judged;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("cases=%zu in_groups=%zu judged=%zu\n", cases, with_truth, judged);
  std::printf("precision_at_10=%.4f recall_at_10=%.4f empty_lists=%zu\n", precision / static_cast<double>(judged),
              recall / static_cast<double>(judged), empty_lists);
  std::printf("precision_at_10_counting_identifiers_the_texts_share=%.4f\n",
              precision_any / static_cast<double>(judged));
  std::printf("cases_in_no_group_with_a_strong_top_link=%zu of %zu\n", noise_only, cases - with_truth);
  std::printf("links_ms p50=%.2f p99=%.2f\n", ms[ms.size() / 2], ms[ms.size() * 99 / 100]);
  return 0;
}

int Add(const std::string& dir, std::size_t cases, std::size_t samples) {
  std::mt19937_64 rng(7);
  const World w = Plant(cases, {}, rng);
  Seeded s = Seed(dir, w);
  std::vector<double> ms;
  const fs::path in = fs::path(dir).parent_path() / (fs::path(dir).filename().string() + "-add");
  // Warm: one ingest first (starts the workers' first run).
  for (std::size_t i = 0; i <= samples; ++i) {
    fs::remove_all(in);
    fs::create_directories(in);
    // A document with the mix of a seeded one: a shared rare value, a
    // firm's domain and a regional one.
    std::ofstream(in / ("extra" + std::to_string(i) + ".txt"))
        << "Follow-up. Payment details: " << Iban(1000000 + (i + 1) * 7919) << " . See https://www.bigbank.example/help"
        << " and www.region" << (i % 150) << ".example . Contact " << Mobile(2000000 + (i + 1) * 37) << " .\n";
    repo::IngestRequest req;
    req.case_id = s.ids[(i * 7919) % s.ids.size()];
    req.paths = {in.string()};
    const auto t0 = Steady::now();
    s.repo->Ingest(s.session(), req);
    if (i > 0) ms.push_back(Ms(t0, Steady::now()));
  }
  fs::remove_all(in);
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double m : ms) sum += m;
  std::printf("cases=%zu add_document_ms p50=%.2f mean=%.2f p90=%.2f samples=%zu\n", cases, ms[ms.size() / 2],
              sum / static_cast<double>(ms.size()), ms[ms.size() * 9 / 10], ms.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: links_bench quality DIR CASES [TEXT_DIR] | add DIR CASES [SAMPLES]\n");
    return 2;
  }
  try {
    const std::string mode = argv[1];
    const std::size_t cases = std::stoul(argv[3]);
    if (mode == "quality") return Quality(argv[2], cases, argc > 4 ? argv[4] : "");
    if (mode == "add") return Add(argv[2], cases, argc > 4 ? std::stoul(argv[4]) : 50);
  } catch (const Error& e) {
    std::fprintf(stderr, "links_bench: %s\n", e.what());
    return 1;
  }
  return 2;
}
