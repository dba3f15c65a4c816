// The two ways to answer `word*` over a blind index, measured on the same
// real texts (DESIGN.md "Prefixes"):
//   terms:      hashed prefix terms (3 to 8 characters of each folded word)
//               in the index; a query is one term lookup;
//   vocabulary: the index without them, plus each shard's vocabulary
//               (its distinct folded words) encrypted beside it; a query
//               decrypts it (or finds it cached), expands the prefix to the
//               words it covers, hashes each word's stem and ORs the terms.
// Reports index time and size for the index without and with prefix
// terms, the vocabulary's build time and encrypted size, its decryption
// time, and query p50/p99 of both for 3- to 6-letter prefixes drawn from
// the corpus, with how often the two agree on the number of matches.
// Usage: prefix_bench CORPUS_DIR WORK_DIR [MAX_FILES]
#include <xapian.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "crypto/envelope.h"
#include "crypto/secret.h"
#include "indexer/document_builder.h"
#include "indexer/shard_store.h"
#include "indexer/text.h"

namespace fs = std::filesystem;
using namespace dossier;
using Clock = std::chrono::steady_clock;

namespace {
double Secs(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double Us(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }
std::uint64_t DirBytes(const std::string& d) {
  std::uint64_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(d)) if (e.is_regular_file()) n += e.file_size();
  return n;
}
// Words as runs of letters and digits (the same edges as the index's for
// ASCII text; enough to size and time a vocabulary).
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  std::string w;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      w.push_back(c);
    } else if (!w.empty()) {
      if (w.size() <= 64) out.push_back(w);
      w.clear();
    }
  }
  if (!w.empty() && w.size() <= 64) out.push_back(w);
  return out;
}
std::pair<double, double> P50P99(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: prefix_bench CORPUS_DIR WORK_DIR [MAX_FILES]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::size_t max_files = argc > 3 ? std::stoul(argv[3]) : 20000;
  const std::string work = argv[2];
  fs::remove_all(work);
  fs::create_directories(work);
  std::vector<std::string> texts;
  for (auto& e : fs::recursive_directory_iterator(argv[1])) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(indexer::RepairUtf8(ss.str()));
    if (texts.size() >= max_files) break;
  }
  std::uint64_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  std::printf("corpus: %zu files, %.1f MB\n", texts.size(), bytes / 1e6);
  const crypto::SecretBytes key = crypto::RandomSecret(32);
  indexer::BlindKeys keys(key);

  double secs[2] = {0, 0};
  for (int with = 0; with < 2; ++with) {
    const std::string dir = work + (with ? "/terms" : "/plain");
    auto store = indexer::OpenLocalShardStore(dir, true, false);
    store->Create("s1");
    indexer::DocumentBuilder builder(keys, indexer::kDefaultIndexedTextCap,
                                     indexer::kDefaultMaxDistinctTerms, with == 1);
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      indexer::DocumentFields f;
      f.doc_id = "d" + std::to_string(i);
      f.case_id = "c1";
      f.language = "en";
      f.type = "text";
      builder.Begin(f);
      builder.AddText(texts[i]);
      store->Add("s1", builder.Finish());
    }
    store->Commit("s1");
    store->Close();
    secs[with] = Secs(t0);
  }
  const double plain_mb = DirBytes(work + "/plain/s1") / 1e6, terms_mb = DirBytes(work + "/terms/s1") / 1e6;
  std::printf("index without prefix terms: %.2f s, %.1f MB\n", secs[0], plain_mb);
  std::printf("index with prefix terms:    %.2f s, %.1f MB  (%.2fx time, %.2fx size)\n", secs[1],
              terms_mb, secs[1] / secs[0], terms_mb / plain_mb);

  // The vocabulary: distinct folded words, sorted, sealed.
  auto t0 = Clock::now();
  std::set<std::string> vocab_set;
  for (const auto& t : texts) {
    for (const auto& w : Words(indexer::NormalizeNfkc(t))) vocab_set.insert(indexer::FoldWord(w));
  }
  std::string blob;
  for (const auto& w : vocab_set) blob += w + '\n';
  const crypto::SecretBytes vkey = crypto::RandomSecret(32);
  const crypto::Bytes sealed = crypto::SealMessage(vkey, "vocabulary", blob);
  const double build_s = Secs(t0);
  t0 = Clock::now();
  const std::string opened = crypto::OpenMessage(vkey, "vocabulary", sealed);
  std::vector<std::string> vocab;
  vocab.reserve(vocab_set.size());
  std::size_t at = 0;
  while (at < opened.size()) {
    const std::size_t nl = opened.find('\n', at);
    vocab.push_back(opened.substr(at, nl - at));
    at = nl + 1;
  }
  const double open_ms = Secs(t0) * 1000;
  std::printf("vocabulary: %zu words, built in %.2f s (on top of the index without prefix terms), "
              "%.1f MB sealed (%.1f%% of that index), %.1f ms to decrypt and load\n",
              vocab.size(), build_s, sealed.size() / 1e6, 100.0 * sealed.size() / 1e6 / plain_mb, open_ms);

  // Queries: prefixes of 3 to 6 letters of words drawn from the vocabulary.
  std::mt19937 rng(20261201);
  std::vector<std::string> prefixes;
  while (prefixes.size() < 1000) {
    const std::string& w = vocab[rng() % vocab.size()];
    const std::size_t n = 3 + rng() % 4;
    if (w.size() >= n && std::all_of(w.begin(), w.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); })) {
      prefixes.push_back(w.substr(0, n));
    }
  }
  Xapian::Database with_terms(work + "/terms/s1"), without(work + "/plain/s1");
  Xapian::Stem stem("en");
  std::vector<double> a_us, b_us;
  std::size_t agree = 0, expanded_total = 0, expanded_max = 0;
  for (const auto& p : prefixes) {
    auto q0 = Clock::now();
    Xapian::Enquire ea(with_terms);
    ea.set_query(Xapian::Query(keys.PrefixTerm(p)));
    const Xapian::MSet ma = ea.get_mset(0, 10, with_terms.get_doccount());
    a_us.push_back(Us(q0));
    q0 = Clock::now();
    std::vector<Xapian::Query> parts;
    std::set<std::string> stems;
    for (auto it = std::lower_bound(vocab.begin(), vocab.end(), p);
         it != vocab.end() && it->compare(0, p.size(), p) == 0; ++it) {
      stems.insert(stem(*it));
    }
    for (const auto& s : stems) parts.emplace_back("Z" + keys.StemHash(s));
    Xapian::Enquire eb(without);
    eb.set_query(Xapian::Query(Xapian::Query::OP_SYNONYM, parts.begin(), parts.end()));
    const Xapian::MSet mb = eb.get_mset(0, 10, without.get_doccount());
    b_us.push_back(Us(q0));
    expanded_total += stems.size();
    expanded_max = std::max(expanded_max, stems.size());
    agree += ma.get_matches_estimated() == mb.get_matches_estimated();
  }
  const auto [a50, a99] = P50P99(a_us);
  const auto [b50, b99] = P50P99(b_us);
  std::printf("query, prefix terms:  p50 %.1f us, p99 %.1f us\n", a50, a99);
  std::printf("query, vocabulary:    p50 %.1f us, p99 %.1f us (vocabulary cached; %.1f stems per prefix, at most %zu)\n",
              b50, b99, static_cast<double>(expanded_total) / prefixes.size(), expanded_max);
  std::printf("the two agree on the match count for %zu of %zu prefixes\n", agree, prefixes.size());
  return 0;
}
