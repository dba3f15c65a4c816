// Blind index against plain Xapian on the same texts, and search latency
// with 1, 8 and 32 shards. Usage: index_bench CORPUS_DIR WORK_DIR
//
// Blind: Dossier's DocumentBuilder (NFKC, blind stemmer, keyed hashes,
// STEM_ALL_Z) into ShardStore. Plain: Xapian's defaults (STEM_SOME, English
// stemmer, no hashing), what omindex-style indexing would store.
// Latency: 200 one-word and 200 phrase queries drawn from the corpus, run
// through Searcher (which leases readers of the shards, combines them, finds each hit's
// first match position) with the shards kept open, as a server would.
#include <xapian.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "indexer/document_builder.h"
#include "indexer/searcher.h"
#include "indexer/shard_store.h"
#include "indexer/text.h"

namespace fs = std::filesystem;
using namespace dossier;
using Clock = std::chrono::steady_clock;

namespace {
double Secs(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
std::uint64_t DirBytes(const std::string& d) {
  std::uint64_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(d)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  std::string w;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!w.empty()) {
      if (w.size() > 3 && w.size() < 15) out.push_back(w);
      w.clear();
    }
  }
  return out;
}
void Report(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  std::printf("%s\tp50 %.1f us\tp99 %.1f us\n", what, us[us.size() / 2], us[us.size() * 99 / 100]);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const std::string work = argv[2];
  fs::remove_all(work);
  fs::create_directories(work);
  std::vector<std::string> texts;
  std::uint64_t bytes = 0;
  std::vector<fs::path> paths;
  for (auto& e : fs::directory_iterator(argv[1])) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(indexer::RepairUtf8(ss.str()));
    bytes += texts.back().size();
  }
  std::printf("corpus\t%zu docs\t%.1f MB\n", texts.size(), bytes / 1e6);

  crypto::SecretBytes key = crypto::RandomSecret(32);
  indexer::BlindKeys keys(key);

  auto build_blind = [&](const std::string& dir, int shards) {
    auto store = indexer::OpenLocalShardStore(dir, true, false);
    indexer::DocumentBuilder builder(keys);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      indexer::DocumentFields f;
      f.doc_id = "d" + std::to_string(i);
      f.case_id = "c1";
      builder.Begin(f);
      // 16 KiB chunks, as ingest feeds them.
      std::string_view t = texts[i];
      while (!t.empty()) {
        const std::size_t cut = indexer::ChunkBoundary(t, 16 * 1024);
        builder.AddText(t.substr(0, cut));
        t.remove_prefix(cut);
      }
      store->Add("s" + std::to_string(i % shards), builder.Finish());
    }
    for (int s = 0; s < shards; ++s) store->Commit("s" + std::to_string(s));
  };

  auto t0 = Clock::now();
  build_blind(work + "/blind1", 1);
  const double blind_s = Secs(t0);
  const std::uint64_t blind_size = DirBytes(work + "/blind1");

  t0 = Clock::now();
  {
    Xapian::WritableDatabase db(work + "/plain", Xapian::DB_CREATE);
    Xapian::TermGenerator tg;
    tg.set_stemmer(Xapian::Stem("en"));
    for (std::size_t i = 0; i < texts.size(); ++i) {
      Xapian::Document d;
      d.set_data("d" + std::to_string(i));
      d.add_boolean_term("Qd" + std::to_string(i));
      tg.set_document(d);
      tg.index_text(texts[i]);
      db.add_document(d);
    }
    db.commit();
  }
  const double plain_s = Secs(t0);
  const std::uint64_t plain_size = DirBytes(work + "/plain");
  std::printf("index\tblind %.2f s (%.1f MB/s)\tplain %.2f s (%.1f MB/s)\tratio %.2fx\n", blind_s,
              bytes / 1e6 / blind_s, plain_s, bytes / 1e6 / plain_s, blind_s / plain_s);
  std::printf("size\tblind %.1f MB\tplain %.1f MB\tratio %.2fx\n", blind_size / 1e6,
              plain_size / 1e6, double(blind_size) / plain_size);

  build_blind(work + "/blind8", 8);
  build_blind(work + "/blind32", 32);

  // Queries from the corpus itself.
  std::mt19937 rng(11);
  std::vector<std::string> words, phrases;
  while (words.size() < 200 || phrases.size() < 200) {
    const auto w = Words(texts[rng() % texts.size()]);
    if (w.size() < 10) continue;
    const std::size_t at = rng() % (w.size() - 3);
    if (words.size() < 200) words.push_back(w[at]);
    if (phrases.size() < 200) phrases.push_back("\"" + w[at] + " " + w[at + 1] + "\"");
  }
  for (int shards : {1, 8, 32}) {
    const std::string dir = work + "/blind" + std::to_string(shards);
    indexer::Searcher searcher(keys);
    // As the server reads: readers kept open, reopened only after a commit.
    auto store = indexer::OpenLocalShardStore(dir, false, false);
    indexer::SearchQuery q;
    for (int s = 0; s < shards; ++s) q.shard_ids.push_back("s" + std::to_string(s));
    q.languages = {"en"};
    for (const auto* set : {&words, &phrases}) {
      std::vector<double> us;
      std::uint64_t hits = 0;
      for (int rep = 0; rep < 2; ++rep) {  // first pass warms the caches
        us.clear();
        for (const auto& text : *set) {
          q.text = text;
          const auto t = Clock::now();
          hits += searcher.Search(q, *store).total;
          us.push_back(Secs(t) * 1e6);
        }
      }
      char label[64];
      std::snprintf(label, sizeof label, "search blind %2d shards %s", shards,
                    set == &words ? "words  " : "phrases");
      Report(label, us);
    }
  }
  {
    Xapian::Database db(work + "/plain");
    Xapian::QueryParser qp;
    qp.set_stemmer(Xapian::Stem("en"));
    qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    qp.set_default_op(Xapian::Query::OP_AND);
    for (const auto* set : {&words, &phrases}) {
      std::vector<double> us;
      for (int rep = 0; rep < 2; ++rep) {
        us.clear();
        for (const auto& text : *set) {
          const auto t = Clock::now();
          Xapian::Enquire e(db);
          e.set_query(qp.parse_query(text));
          auto m = e.get_mset(0, 20, db.get_doccount());
          for (auto it = m.begin(); it != m.end(); ++it) (void)it.get_document().get_data();
          us.push_back(Secs(t) * 1e6);
        }
      }
      Report(set == &words ? "search plain  1 shard  words  " : "search plain  1 shard  phrases", us);
    }
  }
  // The cost of leasing readers: reopening every shard on every lease (a
  // read-only process, another process may write) against reopening only
  // shards whose commit count moved on (the writing process: the server).
  for (bool always : {true, false}) {
    auto store = indexer::OpenLocalShardStore(work + "/blind32", false, always);
    std::vector<std::string> ids;
    for (int s = 0; s < 32; ++s) ids.push_back("s" + std::to_string(s));
    std::vector<double> us;
    for (int rep = 0; rep < 2000; ++rep) {
      const auto t = Clock::now();
      auto lease = store->Lease(ids);
      us.push_back(Secs(t) * 1e6);
    }
    us.erase(us.begin(), us.begin() + 100);  // the first leases open the shards
    Report(always ? "lease 32 shards, reopen each" : "lease 32 shards, reopen if moved", us);
  }
  fs::remove_all(work);
}
