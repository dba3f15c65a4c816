// Search latency by query kind and match-frequency band, through
// repo::Repository, against plain Xapian on an omindex database of the same
// documents doing the same work in the same run.
//
// Usage: search_bench REPO USER PASSWORD_FILE PEER_DB [QUERIES_PER_KIND] [TERMS]
// Kinds: word, two-word AND, phrase, prefix (word*), field filter
// (word type:text), date range (word date:Y1..Y2). Queries are drawn from
// the peer's vocabulary across document frequencies; each is reported in
// the band of the fraction of documents it matched (<=0.1%, <=1%, <=10%,
// <=50%, >50%). Timed per query:
//   dossier_full   exact total, facets (type, custodian, language, case,
//                  tag, year) and snippets of the top 10 hits
//   dossier_match  exact total only (limit 0, no facets, no snippets)
//   xapian_match   Enquire with check_at_least = all documents, top 10
//   xapian_spy     the same with a ValueCountMatchSpy (the facet work)
// Then one search-term report of TERMS (default 1000) words (a fifth of
// them prefixes), and the peer matching the same terms.
// A first line gives the fixed cost of a search that matches nothing.
#include <xapian.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "repo/repository.h"

using namespace dossier;
using Steady = std::chrono::steady_clock;

namespace {

double Ms(Steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
}

struct Query {
  std::string kind, dossier, peer;
  bool peer_ok = true;
};

const char* Band(double fraction) {
  if (fraction <= 0.001) return "<=0.1%";
  if (fraction <= 0.01) return "<=1%";
  if (fraction <= 0.10) return "<=10%";
  if (fraction <= 0.50) return "<=50%";
  return ">50%";
}

double At(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))];
}

bool Plain(const std::string& t) {
  if (t.size() < 4 || t.size() > 12) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: search_bench REPO USER PASSWORD_FILE PEER_DB [QUERIES_PER_KIND] [TERMS]\n");
    return 2;
  }
  const int per_kind = argc > 5 ? std::stoi(argv[5]) : 1000;
  const int report_terms = argc > 6 ? std::stoi(argv[6]) : 1000;
  try {
    std::ifstream pw_in(argv[3]);
    std::string password;
    std::getline(pw_in, password);
    auto repo = repo::Repository::Open(argv[1]);
    const repo::Session s = repo->Login(argv[2], password);
    Xapian::Database peer(argv[4]);
    const double docs = peer.get_doccount();

    // Vocabulary by document frequency: omindex keeps unstemmed words
    // without a prefix.
    std::vector<std::pair<std::string, double>> words;
    for (auto t = peer.allterms_begin(); t != peer.allterms_end(); ++t) {
      if (Plain(*t) && t.get_termfreq() >= 2) words.emplace_back(*t, t.get_termfreq() / docs);
    }
    std::sort(words.begin(), words.end(), [](auto& a, auto& b) { return a.second < b.second; });
    std::mt19937 rng(20261201);
    // Draw across frequencies: a uniform position on a log scale of df.
    auto word = [&]() -> const std::string& {
      std::uniform_real_distribution<double> u(std::log(2.0 / docs), std::log(0.6));
      const double target = std::exp(u(rng));
      auto it = std::lower_bound(words.begin(), words.end(), target,
                                 [](auto& w, double v) { return w.second < v; });
      if (it == words.end()) --it;
      return it->first;
    };
    // Phrases: two adjacent words of a random document.
    auto phrase = [&]() {
      for (int tries = 0; tries < 50; ++tries) {
        const Xapian::docid id = 1 + rng() % peer.get_lastdocid();
        try {
          Xapian::Document d = peer.get_document(id);
          std::map<Xapian::termpos, std::string> at;
          for (auto t = d.termlist_begin(); t != d.termlist_end(); ++t) {
            if (!Plain(*t)) continue;
            for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) at[*p] = *t;
          }
          std::vector<std::pair<std::string, std::string>> pairs;
          for (auto it = at.begin(); it != at.end(); ++it) {
            auto next = std::next(it);
            if (next != at.end() && next->first == it->first + 1) pairs.emplace_back(it->second, next->second);
          }
          if (!pairs.empty()) {
            auto& p = pairs[rng() % pairs.size()];
            return "\"" + p.first + " " + p.second + "\"";
          }
        } catch (const Xapian::DocNotFoundError&) {
        }
      }
      return std::string("\"the system\"");
    };
    std::vector<Query> queries;
    for (int i = 0; i < per_kind; ++i) {
      const std::string a = word(), b = word(), c = word(), d = word();
      queries.push_back({"word", a, a});
      queries.push_back({"and", a + " " + b, a + " AND " + b});
      const std::string ph = phrase();
      queries.push_back({"phrase", ph, ph});
      const std::string pre = c.substr(0, 3 + rng() % 3);
      queries.push_back({"prefix", pre + "*", pre + "*"});
      queries.push_back({"field", d + " type:text", d});  // peer: the word (omindex has no type term)
      const int y = 2000 + static_cast<int>(rng() % 25);
      queries.push_back({"date", b + " date:" + std::to_string(y) + ".." + std::to_string(y + 3), b, false});
    }

    Xapian::QueryParser qp;
    qp.set_database(peer);
    qp.set_stemmer(Xapian::Stem("en"));
    qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    qp.set_default_op(Xapian::Query::OP_AND);
    const unsigned flags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_BOOLEAN |
                           Xapian::QueryParser::FLAG_WILDCARD | Xapian::QueryParser::FLAG_LOVEHATE;

    // (kind, band) -> series.
    std::map<std::pair<std::string, std::string>, std::vector<double>> full, match, xmatch, xspy;
    // The fixed cost of one search: a word no document holds, so nothing
    // is matched, counted or shown (the snapshot, the shard plan, the
    // parse in every language of the shards, the epoch check).
    {
      std::vector<double> fixed, xfixed;
      for (int i = 0; i < 300; ++i) {
        repo::SearchRequest r;
        r.query = "qqzxvnotaword";
        r.facets = true;
        auto t0 = Steady::now();
        (void)repo->Search(s, r);
        fixed.push_back(Ms(t0));
        Xapian::Enquire e(peer);
        e.set_query(qp.parse_query(r.query, flags));
        t0 = Steady::now();
        (void)e.get_mset(0, 10, peer.get_doccount());
        xfixed.push_back(Ms(t0));
      }
      std::printf("fixed cost (a word no document holds, 300 searches): dossier %.3f/%.3f ms, "
                  "xapian %.3f/%.3f ms (p50/p99)\n",
                  At(fixed, 0.5), At(fixed, 0.99), At(xfixed, 0.5), At(xfixed, 0.99));
    }
    for (int warm = 0; warm < 50 && !queries.empty(); ++warm) {
      repo::SearchRequest r;
      r.query = queries[warm % queries.size()].dossier;
      r.facets = true;
      (void)repo->Search(s, r);
    }
    for (const auto& q : queries) {
      repo::SearchRequest r;
      r.query = q.dossier;
      r.limit = 10;
      r.facets = true;
      auto t0 = Steady::now();
      const auto res = repo->Search(s, r);
      const double full_ms = Ms(t0);
      r.limit = 0;
      r.facets = false;
      r.snippets = false;
      t0 = Steady::now();
      (void)repo->Search(s, r);
      const double match_ms = Ms(t0);
      const auto key = std::make_pair(q.kind, std::string(Band(res.total / docs)));
      full[key].push_back(full_ms);
      match[key].push_back(match_ms);
      if (q.peer_ok) {
        Xapian::Enquire e(peer);
        e.set_query(qp.parse_query(q.peer, flags));
        t0 = Steady::now();
        (void)e.get_mset(0, 10, peer.get_doccount());
        xmatch[key].push_back(Ms(t0));
        Xapian::ValueCountMatchSpy spy(0);
        e.add_matchspy(&spy);
        t0 = Steady::now();
        (void)e.get_mset(0, 10, peer.get_doccount());
        xspy[key].push_back(Ms(t0));
      }
    }
    std::printf("documents=%.0f queries=%zu (ms; p50/p95/p99)\n", docs, queries.size());
    std::printf("%-7s %-7s %5s | %-22s | %-22s | %-22s | %-22s | %s\n", "kind", "band", "n",
                "dossier_full", "dossier_match", "xapian_match", "xapian_spy", "p99 match/xapian");
    for (const auto& [key, series] : full) {
      auto fmt = [](const std::vector<double>& v) {
        char buf[64];
        if (v.empty()) return std::string("-");
        std::snprintf(buf, sizeof buf, "%.2f/%.2f/%.2f", At(v, 0.5), At(v, 0.95), At(v, 0.99));
        return std::string(buf);
      };
      const auto& xm = xmatch[key];
      const double ratio = xm.empty() ? 0 : At(match[key], 0.99) / std::max(1e-3, At(xm, 0.99));
      std::printf("%-7s %-7s %5zu | %-22s | %-22s | %-22s | %-22s | %.2f\n", key.first.c_str(),
                  key.second.c_str(), series.size(), fmt(series).c_str(), fmt(match[key]).c_str(),
                  fmt(xm).c_str(), fmt(xspy[key]).c_str(), ratio);
    }
    std::vector<std::string> terms;
    for (int i = 0; i < report_terms; ++i) terms.push_back(i % 5 == 4 ? word().substr(0, 4) + "*" : word());
    auto t0 = Steady::now();
    const auto report = repo->SearchTerms(s, terms);
    const double report_s = Ms(t0) / 1000;
    // The peer does the matching part of the same report: every match of
    // every term, counted exactly, with the documents hit by any term.
    class Collect : public Xapian::MatchSpy {
     public:
      explicit Collect(std::vector<bool>& hit) : hit_(hit) {}
      void operator()(const Xapian::Document& doc, double) override { hit_[doc.get_docid()] = true; }

     private:
      std::vector<bool>& hit_;
    };
    std::vector<bool> hit(peer.get_lastdocid() + 1, false);
    t0 = Steady::now();
    for (const auto& t : terms) {
      Xapian::Enquire e(peer);
      e.set_query(qp.parse_query(t, flags));
      e.set_weighting_scheme(Xapian::BoolWeight());
      Collect collect(hit);
      e.add_matchspy(&collect);
      (void)e.get_mset(0, 0, peer.get_doccount());
    }
    const double peer_s = Ms(t0) / 1000;
    std::printf("search-term report: %zu terms, %llu documents hit, %.2f s (xapian, matching only: "
                "%llu documents hit, %.2f s)\n",
                terms.size(), static_cast<unsigned long long>(report.total_documents), report_s,
                static_cast<unsigned long long>(std::count(hit.begin(), hit.end(), true)), peer_s);
  } catch (const Error& e) {
    std::fprintf(stderr, "search_bench: %s\n", e.what());
    return 1;
  } catch (const Xapian::Error& e) {
    std::fprintf(stderr, "search_bench: %s\n", e.get_description().c_str());
    return 1;
  }
  return 0;
}
