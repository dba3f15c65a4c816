#include <unicase.h>
#include <uninorm.h>
#include <xapian.h>

#include <cstdlib>

#include <catch2/catch.hpp>
#include <set>
#include <map>
#include <random>

#include "base/error.h"
#include "indexer/document_builder.h"
#include "indexer/searcher.h"
#include "indexer/shard_store.h"
#include "indexer/text.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::indexer;
using dossier::testing::TempDir;

namespace {

std::vector<std::string> Corpus() {
  std::mt19937 rng(7);
  std::vector<std::string> docs;
  for (int i = 0; i < 60; ++i) docs.push_back(testing::Prose(rng, 40 + (i * 13) % 200));
  docs.push_back("The quick brown fox jumps over the lazy dog near the harbour.");
  docs.push_back("Quick brown foxes were seen; the dog slept. Invoices piled up.");
  docs.push_back("A container repair invoice was paid twice by the clerk.");
  docs.push_back("Repairs to containers: the clerk approved every invoice.");
  return docs;
}

// Builds a blind shard and a plain Xapian database (STEM_ALL_Z with the
// real English stemmer, no hashing) from the same texts.
struct TwoIndexes {
  TempDir tmp;
  crypto::SecretBytes key = crypto::RandomSecret(32);
  BlindKeys keys{key};
  std::string blind_dir = tmp / "index";
  std::string plain_dir = tmp / "plain";

  TwoIndexes() {
    const auto docs = Corpus();
    auto store = OpenLocalShardStore(blind_dir, /*writable=*/true, /*other_writers=*/false);
    DocumentBuilder builder(keys);
    Xapian::WritableDatabase plain(plain_dir, Xapian::DB_CREATE);
    Xapian::TermGenerator tg;
    tg.set_stemmer(Xapian::Stem("en"));
    tg.set_stemming_strategy(Xapian::TermGenerator::STEM_ALL_Z);
    tg.set_max_word_length(64);
    for (std::size_t i = 0; i < docs.size(); ++i) {
      const std::string id = "doc" + std::to_string(i);
      DocumentFields f;
      f.doc_id = id;
      f.case_id = i % 2 ? "odd" : "even";
      f.language = "en";
      builder.Begin(f);
      builder.AddText(docs[i]);
      store->Add("s1", builder.Finish());
      Xapian::Document d;
      d.set_data(id);
      tg.set_document(d);
      tg.index_text(docs[i]);
      plain.add_document(d);
    }
    store->Commit("s1");
    plain.commit();
  }

  std::vector<std::pair<std::string, double>> Plain(const std::string& q) {
    Xapian::Database db(plain_dir);
    Xapian::QueryParser qp;
    qp.set_stemmer(Xapian::Stem("en"));
    qp.set_stemming_strategy(Xapian::QueryParser::STEM_ALL_Z);
    qp.set_default_op(Xapian::Query::OP_AND);
    Xapian::Enquire e(db);
    e.set_query(qp.parse_query(q, Xapian::QueryParser::FLAG_PHRASE |
                                      Xapian::QueryParser::FLAG_BOOLEAN |
                                      Xapian::QueryParser::FLAG_LOVEHATE |
                                      Xapian::QueryParser::FLAG_BOOLEAN_ANY_CASE |
                                      Xapian::QueryParser::FLAG_PURE_NOT));
    std::vector<std::pair<std::string, double>> out;
    auto m = e.get_mset(0, 1000);
    for (auto it = m.begin(); it != m.end(); ++it) out.emplace_back(it.get_document().get_data(), it.get_weight());
    return out;
  }

  std::vector<std::pair<std::string, double>> Blind(const std::string& q) {
    Searcher searcher(keys);
    auto store = OpenLocalShardStore(blind_dir, /*writable=*/false, /*other_writers=*/true);
    SearchQuery sq;
    sq.text = q;
    sq.shard_ids = {"s1"};
    sq.languages = {"en"};
    sq.limit = 1000;
    std::vector<std::pair<std::string, double>> out;
    for (const auto& h : searcher.Search(sq, *store).hits) out.emplace_back(h.doc_id, h.weight);
    return out;
  }
};

}  // namespace

TEST_CASE("blind queries give plain Xapian's documents, order and weights") {
  TwoIndexes ix;
  const std::vector<std::string> queries = {
      "invoice", "invoices", "INVOICE", "container repair", "\"container repair\"",
      "\"repairs to containers\"", "invoice AND NOT bank", "invoice OR vessel",
      "clerk NEAR approval", "\"quick brown fox\"", "\"quick browns foxes\"",
      "fox -dog", "+invoice +clerk", "(audit OR ledger) AND witness",
      "\"the invoice\"", "harbour NOT customs", "NOT invoice", "supplier payment transfer",
      "clerk NEAR/3 invoice", "\"brown fox jumps\"", "approved"};
  for (const auto& q : queries) {
    INFO("query: " << q);
    const auto plain = ix.Plain(q);
    const auto blind = ix.Blind(q);
    REQUIRE(plain.size() == blind.size());
    for (std::size_t i = 0; i < plain.size(); ++i) {
      CHECK(plain[i].first == blind[i].first);
      CHECK(plain[i].second == blind[i].second);  // bit-identical
    }
  }
  // Stems, not words: a phrase of other forms of the same stems matches.
  CHECK_FALSE(ix.Blind("\"quick browns foxes\"").empty());
}

TEST_CASE("every term in a blind shard is a hash or an opaque id") {
  TwoIndexes ix;
  Xapian::Database db(ix.blind_dir + "/s1");
  std::size_t words = 0;
  for (auto t = db.allterms_begin(); t != db.allterms_end(); ++t) {
    const std::string term = *t;
    const bool id = term.rfind("Qdoc", 0) == 0;
    const bool word = term.size() == 1 + kTermHashBytes && term[0] == 'Z';
    const bool field = term.size() == 2 + kTermHashBytes && term.rfind("XC", 0) == 0;
    const bool lang = term.size() == 2 + kTermHashBytes && term.rfind("XL", 0) == 0;
    const bool type = term.size() == 2 + kTermHashBytes && term.rfind("XT", 0) == 0;
    const bool prefix = term.size() == 1 + kTermHashBytes && term[0] == 'P';
    INFO("term " << term);
    CHECK((id || word || field || lang || type || prefix));
    for (const char* plain : {"invoic", "contain", "clerk", "harbour", "fox", "even", "odd"}) {
      CHECK(term.find(plain) == std::string::npos);
    }
    words += word;
  }
  CHECK(words > 20);
  // No spelling table, no plaintext in document data or values.
  CHECK(db.get_spelling_suggestion("invoce").empty());
  for (auto d = db.postlist_begin(""); d != db.postlist_end(""); ++d) {
    Xapian::Document doc = db.get_document(*d);
    CHECK(doc.get_data().rfind("doc", 0) == 0);
    // The values are the document id again (for a stable tie order), the
    // opaque id of the shard holding this copy (to tell copies apart while
    // a document moves), and the facets: four term hashes (type, language,
    // custodian, case), never the values themselves.
    CHECK(doc.values_count() == 3);
    CHECK(doc.get_value(kIdSlot) == doc.get_data());
    CHECK(doc.get_value(kShardSlot) == "s1");
    const std::string facets = doc.get_value(kFacetSlot);
    CHECK(facets.size() == 4 * kTermHashBytes);
    for (const char* plain : {"text", "en", "c1", "case"}) CHECK(facets.find(plain) == std::string::npos);
  }
}

TEST_CASE("boolean field filters are hashed and still filter") {
  TwoIndexes ix;
  const auto all = ix.Blind("invoice");
  const auto odd = ix.Blind("invoice case:odd");
  REQUIRE_FALSE(odd.empty());
  CHECK(odd.size() < all.size());
  for (const auto& [id, w] : odd) CHECK(std::stoi(id.substr(3)) % 2 == 1);
  CHECK(ix.Blind("case:nosuchcase").empty());
}

TEST_CASE("snippets mark phrase matches, not lone words of the phrase") {
  crypto::SecretBytes key = crypto::RandomSecret(32);
  BlindKeys keys(key);
  TempDir tmp;
  Searcher s(keys);
  auto store = OpenLocalShardStore(tmp / "index", false, true);
  SearchQuery q;
  q.text = "\"container repairs\"";
  q.languages = {"en"};
  auto out = s.Search(q, *store);
  const std::string snippet = out.matcher->Snippet(
      "The container was fine. Then <b>container repair</b> costs & fees rose.", "en");
  CHECK(snippet.find("<mark>container repair</mark>") != std::string::npos);
  CHECK(snippet.find("The container was") != std::string::npos);  // not marked
  CHECK(snippet.find("&lt;b&gt;") != std::string::npos);          // escaped
  CHECK(snippet.find("&amp;") != std::string::npos);
  CHECK(snippet.find("<b>") == std::string::npos);

  q.text = "invoices";
  out = s.Search(q, *store);
  const std::string s2 = out.matcher->Snippet("One INVOICE, two invoiced, no voice.", "en");
  CHECK(s2.find("<mark>INVOICE</mark>") != std::string::npos);
  CHECK(s2.find("<mark>invoiced</mark>") != std::string::npos);
  CHECK(s2.find("<mark>voice") == std::string::npos);
}

TEST_CASE("a prefix snippet finds its first match deep in a text, not a word that only contains it") {
  crypto::SecretBytes key = crypto::RandomSecret(32);
  BlindKeys keys(key);
  const auto matcher = Searcher(keys).MatcherFor("invoic*", "en");
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "filler words reinvoiced_x misinvoicing ";
  text += "then the INVOICING run_invoice ended. And invoices later.";
  const std::string snippet = matcher->Snippet(text, "en");
  CHECK(snippet.find("<mark>INVOICING</mark>") != std::string::npos);
  CHECK(snippet.find("<mark>invoices</mark>") != std::string::npos);
  CHECK(snippet.find("<mark>") == snippet.find("<mark>INVOICING"));  // the first match
  CHECK(snippet.rfind("…", 0) == 0);                                   // cut before it
  CHECK(snippet.size() < 400);
  CHECK(snippet.find("<mark>run_invoice") == std::string::npos);
  // At the very start, nothing is cut.
  const std::string first = matcher->Snippet("Invoice one, then more.", "en");
  CHECK(first.rfind("<mark>Invoice</mark>", 0) == 0);
  // A text without the prefix gets a plain excerpt.
  const std::string none = matcher->Snippet(std::string(5000, 'a') + " voice", "en");
  CHECK(none.find("<mark>") == std::string::npos);
}

TEST_CASE("a document's matches are every word, phrase and prefix match, across windows, capped") {
  crypto::SecretBytes key = crypto::RandomSecret(32);
  BlindKeys keys(key);
  Searcher s(keys);
  using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;
  auto words = [](const std::string& text, const Ranges& r) {
    std::vector<std::string> out;
    for (const auto& [b, e] : r) out.push_back(text.substr(b, e - b));
    return out;
  };
  const std::string t1 = "One INVOICE, two invoiced, no voice.";
  CHECK(words(t1, s.MatcherFor("invoices", "en")->Matches(t1, "en", 100)) ==
        std::vector<std::string>{"INVOICE", "invoiced"});

  // A phrase is one range, and it is found where it straddles two windows.
  std::string t2;
  while (t2.size() + 3 < 65536 - 5) t2 += "ab ";
  t2.resize(65536 - 5, ' ');  // "container" starts 5 bytes before 64 KiB
  t2 += "container repair, and a lone container; container repairs end.";
  const auto phrase = s.MatcherFor("\"container repairs\"", "en")->Matches(t2, "en", 100);
  CHECK(words(t2, phrase) == std::vector<std::string>{"container repair", "container repairs"});
  REQUIRE(phrase.size() == 2);
  CHECK(phrase[0].first < 65536);
  CHECK(phrase[0].second > 65536);

  // Prefixes, and the cap.
  std::string t3;
  for (int i = 0; i < 10; ++i) t3 += "Shipment shipped to the shipyard. ";
  bool truncated = true;
  const auto all = s.MatcherFor("ship*", "en")->Matches(t3, "en", 100, &truncated);
  CHECK(all.size() == 30);
  CHECK_FALSE(truncated);
  const auto few = s.MatcherFor("ship*", "en")->Matches(t3, "en", 3, &truncated);
  CHECK(few.size() == 3);
  CHECK(truncated);
  CHECK(s.MatcherFor("nothing", "en")->Matches(t3, "en", 100).empty());
  CHECK_THROWS_AS(s.MatcherFor("a AND", "en"), QueryError);
}

TEST_CASE("the builder stops at its cap and says the document is partial") {
  crypto::SecretBytes key = crypto::RandomSecret(32);
  BlindKeys keys(key);
  DocumentBuilder b(keys, 1000);
  DocumentFields f;
  f.doc_id = "d";
  b.Begin(f);
  std::string text;
  while (text.size() < 3000) text += "alpha beta gamma ";
  ChunkRange r = b.AddText(text);
  CHECK(b.partial());
  CHECK(r.consumed <= 1000);
  CHECK(r.consumed > 900);
  CHECK(b.AddText("more words").consumed == 0);
  b.Finish();
}

TEST_CASE("the builder stops at its distinct-term limit") {
  crypto::SecretBytes key = crypto::RandomSecret(32);
  BlindKeys keys(key);
  DocumentBuilder b(keys, 1u << 20, 100);
  DocumentFields f;
  f.doc_id = "d";
  b.Begin(f);
  std::string chunk;
  // 80 distinct two-character words: too short for prefix terms, so 80
  // terms, under the limit of 100 (prefix terms count toward it).
  for (int i = 0; i < 80; ++i) chunk += std::string(1, static_cast<char>('a' + i / 10)) + std::to_string(i % 10) + " ";
  CHECK(b.AddText(chunk).consumed == chunk.size());
  CHECK_FALSE(b.partial());
  CHECK(b.AddText(chunk + "x1 x2 x3 x4 x5 x6 x7 x8 x9 x10 x11 x12 x13 x14 x15 x16 x17 x18 x19 x20 x21").consumed > 0);
  CHECK(b.partial());
  CHECK(b.AddText("later words").consumed == 0);
  b.Finish();
}

TEST_CASE("NFKC normalisation splits around ASCII without changing the result") {
  using dossier::indexer::NormalizeNfkc;
  CHECK(NormalizeNfkc("plain ascii text, 42.") == "plain ascii text, 42.");
  CHECK(NormalizeNfkc("cafe\xCC\x81 au lait") == "caf\xC3\xA9 au lait");        // e + combining acute
  CHECK(NormalizeNfkc("\xCC\x81x") == "\xCC\x81x");                           // a lone mark stays
  CHECK(NormalizeNfkc("the \xEF\xAC\x81le") == "the file");                     // the fi ligature
  CHECK(NormalizeNfkc("\xEF\xBC\xA1\xEF\xBC\xA2" "C") == "ABC");                  // full-width letters
  CHECK(NormalizeNfkc("x\xE2\x91\xA0y") == "x1y");                             // circled one
  CHECK(NormalizeNfkc("A\xCC\x8A\xCC\x81") == "\xC7\xBA");                      // A + ring + acute
  CHECK(NormalizeNfkc("\xE1\x84\x80\xE1\x85\xA1!") == "\xEA\xB0\x80!");         // Hangul jamo compose
  CHECK(NormalizeNfkc("o\xCC\x88 e\xCC\x81") == "\xC3\xB6 \xC3\xA9");            // two runs, one space apart
  CHECK(NormalizeNfkc("") == "");
}

TEST_CASE("word folding takes ASCII's fast path to libunistring's own result") {
  using dossier::indexer::FoldWord;
  const auto unistring = [](const std::string& s) {
    std::size_t len = 0;
    uint8_t* r = u8_casefold(reinterpret_cast<const uint8_t*>(s.data()), s.size(), nullptr, UNINORM_NFKC,
                             nullptr, &len);
    REQUIRE(r != nullptr);
    std::string out(reinterpret_cast<const char*>(r), len);
    std::free(r);
    return out;
  };
  std::string every_ascii;
  for (int c = 0; c < 0x80; ++c) every_ascii.push_back(static_cast<char>(c));
  CHECK(FoldWord(every_ascii) == unistring(every_ascii));
  for (const std::string w : {"Invoice", "IBAN", "DE89370400440532013000", "a@B.example", "", "@[]^_`{}"}) {
    CHECK(FoldWord(w) == unistring(w));
  }
  // Anything beyond ASCII still goes through libunistring.
  CHECK(FoldWord("STRA\xC3\x9F" "E") == "strasse");
  CHECK(FoldWord("\xEF\xAC\x81" "LE") == "file");
  CHECK(FoldWord("Ca\xCC\x81") == "c\xC3\xA1");
}

TEST_CASE("a document held by two shards is counted once, in the shard that counts") {
  crypto::SecretBytes key = crypto::RandomSecret(32);
  BlindKeys keys(key);
  TempDir tmp;
  auto store = OpenLocalShardStore(tmp / "index", true, false);
  DocumentBuilder builder(keys);
  auto add = [&](const std::string& shard, const std::string& id, const std::string& text) {
    DocumentFields f;
    f.doc_id = id;
    builder.Begin(f);
    builder.AddText(text);
    store->Add(shard, builder.Finish());
  };
  // Shard docids collide on purpose: in sA "stay" is 1 and "moving" 2; in
  // sB "other" is 1 and the copy of "moving" 2.
  add("sA", "stay", "harbour crane");
  add("sA", "moving", "harbour crane");
  add("sB", "other", "harbour crane");
  store->Commit("sA");
  store->Commit("sB");
  REQUIRE(store->Copy("sA", "sB", "moving"));
  store->Commit("sA");
  store->Commit("sB");
  Searcher searcher(keys);
  SearchQuery q;
  q.text = "harbour";
  q.shard_ids = {"sA", "sB"};
  q.languages = {"en"};
  q.limit = 100;
  auto ids = [&] {
    std::multiset<std::string> out;
    const auto found = searcher.Search(q, *store);
    for (const auto& h : found.hits) out.insert(h.doc_id);
    CHECK(found.total == out.size());
    return out;
  };
  CHECK(ids().count("moving") == 2);  // with nothing said, both copies match
  q.counted_copy = {{"moving", "sA"}};
  CHECK(ids() == std::multiset<std::string>{"moving", "other", "stay"});
  q.counted_copy = {{"moving", "sB"}};
  CHECK(ids() == std::multiset<std::string>{"moving", "other", "stay"});
  q.counted_copy = {{"moving", ""}};  // being written: nowhere yet
  CHECK(ids() == std::multiset<std::string>{"other", "stay"});
  q.counted_copy = {{"stay", ""}};   // shares its shard docid with "other"
  CHECK(ids() == std::multiset<std::string>{"moving", "moving", "other"});
}
