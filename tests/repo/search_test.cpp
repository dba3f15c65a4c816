// Search as a reviewer uses it: the query language (prefixes, dates, lone
// negations, errors with positions, notes), facets, families, tags,
// exceptions, exports, saved searches and search-term reports; and the
// attacks on them: nothing of a document the searcher may not open shows in
// hits, totals, weights, order, facets, family expansion, tags, saved
// searches or reports.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "base/error.h"
#include "indexer/query_syntax.h"
#include "repo/sqlite.h"
#include "repo/views.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

std::size_t PositionOf(const std::string& q) {
  try {
    indexer::CheckQuery(q);
  } catch (const QueryError& e) {
    return e.position();
  }
  FAIL("expected a QueryError for a query of " << q.size() << " bytes");
  return 0;
}

std::map<std::string, std::uint64_t> Facet(const repo::SearchResults& r, const std::string& name) {
  std::map<std::string, std::uint64_t> out;
  auto it = r.facets.find(name);
  if (it != r.facets.end()) {
    for (const auto& v : it->second) out[v.value] = v.count;
  }
  return out;
}

repo::SearchResults Find(Fixture& f, const repo::Session& s, const std::string& q,
                         bool facets = true, bool family = false, const std::string& case_id = "") {
  repo::SearchRequest r;
  r.query = q;
  r.limit = 100;
  r.facets = facets;
  r.family = family;
  r.case_id = case_id;
  return f.repo->Search(s, r);
}

const char* kEmail =
    "From: Ann Example <ann@example.org>\r\n"
    "To: bob@example.org\r\n"
    "Subject: shipment figures\r\n"
    "Date: Tue, 14 Mar 2023 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Please find the harbour figures attached.\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Disposition: attachment; filename=\"figures.txt\"\r\n"
    "\r\n"
    "Tonnage ledger for the vessel, quarter one.\r\n"
    "--b1--\r\n";

}  // namespace

TEST_CASE("the query checker refuses malformed queries with their position") {
  CHECK(PositionOf("invoice AND") == 9);
  CHECK(PositionOf("OR invoice") == 1);
  CHECK(PositionOf("a NEAR \"b c\"") == 8);
  CHECK(PositionOf("in*") == 1);
  CHECK(PositionOf("ab in*oice") == 6);
  CHECK(PositionOf("x date:2021-13") == 8);
  CHECK(PositionOf("\"paid inv*\"") == 10);
  CHECK(PositionOf("tag:ho*") == 1);
  CHECK(PositionOf("ünïcödé NOT") == 9);  // characters, not bytes
  CHECK(PositionOf("()") == 2);
}

TEST_CASE("the query checker says how it repaired a query, and reads lone negations as 'all but'") {
  auto q = indexer::CheckQuery("\"unclosed phrase");
  REQUIRE(q.notes.size() == 1);
  CHECK(q.notes[0].find("position 1") != std::string::npos);
  q = indexer::CheckQuery("(a OR b");
  REQUIRE(q.notes.size() == 1);
  CHECK(q.notes[0].find("not closed") != std::string::npos);
  q = indexer::CheckQuery("a b)");
  REQUIRE(q.notes.size() == 1);
  CHECK(q.notes[0].find("closes nothing") != std::string::npos);
  CHECK(indexer::CheckQuery("-draft").text == "NOT draft");
  CHECK(indexer::CheckQuery("-draft -tag:x").text == "NOT draft NOT tag:x");
  CHECK(indexer::CheckQuery("memo -draft").text == "memo -draft");  // not lone
  CHECK(indexer::CheckQuery("case:c1 -draft").text == "case:c1 -draft");
  q = indexer::CheckQuery("investigat*");
  CHECK(q.has_prefix);
  REQUIRE(q.notes.size() == 1);
  CHECK(q.notes[0].find("first 8") != std::string::npos);
  CHECK(indexer::CheckQuery("").match_all);
}

TEST_CASE("date values parse to inclusive day ranges") {
  using indexer::DaysFromCivil;
  auto r = indexer::ParseDateRange("2020-01..2020-06");
  REQUIRE(r);
  CHECK(*r->from == DaysFromCivil(2020, 1, 1));
  CHECK(*r->to == DaysFromCivil(2020, 6, 30));
  r = indexer::ParseDateRange("..2019-12-31");
  REQUIRE(r);
  CHECK(!r->from);
  CHECK(*r->to == DaysFromCivil(2019, 12, 31));
  r = indexer::ParseDateRange("2024-02");
  CHECK(*r->to == DaysFromCivil(2024, 2, 29));
  CHECK(!indexer::ParseDateRange("2023-02-29"));
  CHECK(!indexer::ParseDateRange("2021-06..2021-01"));
  CHECK(!indexer::ParseDateRange(".."));
  CHECK(indexer::YearOfDay(DaysFromCivil(1969, 12, 31)) == 1969);
  CHECK(indexer::YearOfDay(DaysFromCivil(2021, 1, 1)) == 2021);
}

TEST_CASE("prefixes, dates, fields and negations find what they say") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "The invoice for the harbour repairs was paid late.");
  WriteFile(f.tmp / "in/b.txt", "Invoicing rules of the customs office.");
  WriteFile(f.tmp / "in/c.txt", "A draft memo on nothing in particular.");
  fs::last_write_time(f.tmp / "in/a.txt", fs::file_time_type::clock::now() - std::chrono::hours(24 * 365 * 4));
  auto ivan = f.Ivan();
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  req.custodian = "Jane Doe";
  f.repo->Ingest(ivan, req);

  CHECK(f.Search(ivan, "invoic*").total == 2);
  CHECK(f.Search(ivan, "INVOIC*").total == 2);
  CHECK(f.Search(ivan, "invoice*").total == 1);  // "invoicing" has no "invoice" prefix
  CHECK(f.Search(ivan, "harbou* AND paid").total == 1);
  CHECK(f.Search(ivan, "invoic* -customs").total == 1);
  // A prefix query marks the matching words in the snippet.
  const auto p = f.Search(ivan, "invoic*");
  for (const auto& h : p.hits) {
    CHECK((h.snippet.find("<mark>Invoic") != std::string::npos ||
           h.snippet.find("<mark>invoic") != std::string::npos));
  }
  // A lone negation: everything but, never its opposite.
  CHECK(f.Search(ivan, "-draft").total == 2);
  CHECK(f.Search(ivan, "NOT draft").total == 2);
  CHECK(f.Search(ivan, "-draft -customs").total == 1);
  // Dates: a.txt is four years old, the others are from today.
  const int this_year = indexer::YearOfDay(std::time(nullptr) / 86400);
  const std::string old = std::to_string(this_year - 4);
  CHECK(f.Search(ivan, "date:" + old).total == 1);
  CHECK(f.Search(ivan, "date:.." + old + "-12-31").total == 1);
  CHECK(f.Search(ivan, "date:" + std::to_string(this_year - 1) + "..").total == 2);
  CHECK(f.Search(ivan, "invoic* date:" + old).total == 1);
  repo::SearchRequest by_date;
  by_date.query = "";
  by_date.sort_by_date = true;
  const auto sorted = f.repo->Search(ivan, by_date);
  REQUIRE(sorted.hits.size() == 3);
  CHECK(sorted.hits.back().filename == "a.txt");  // newest first
  CHECK(f.Search(ivan, "custodian:\"jane doe\" type:text lang:en").total == 3);
  // Malformed: a clear error, never a different query.
  CHECK(CodeOf([&] { f.Search(ivan, "invoice AND"); }) == ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { f.Search(ivan, "in*"); }) == ErrorCode::kInvalidArgument);
  const auto repaired = f.Search(ivan, "(invoice");
  CHECK(repaired.total == 2);  // invoice and invoicing share a stem
  CHECK(!repaired.query_notes.empty());
}

TEST_CASE("a prefix query over a shard built before prefix terms names the remedy") {
  Fixture f;
  WriteFile(f.tmp / "a.txt", "The invoice was paid.");
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "a.txt");
  f.repo.reset();
  {
    repo::sql::Db db(f.dir + "/dossier.db", false);
    db.Exec("UPDATE shards SET format=1");
  }
  f.Reopen();
  auto ivan = f.Ivan();
  try {
    f.Search(ivan, "invoi*");
    FAIL("a prefix query over an old shard must be refused");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kUnprocessable);
    CHECK(std::string(e.what()).find("dossier reindex") != std::string::npos);
  }
  CHECK(f.Search(ivan, "invoice").total == 1);  // words still work
  f.repo->Reindex(f.Alice());
  CHECK(f.Search(ivan, "invoi*").total == 1);
}

TEST_CASE("tags: set, removed, searched, faceted, kept by reindex, and privileged by policy") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "ledger one");
  WriteFile(f.tmp / "in/b.txt", "ledger two");
  auto ivan = f.Ivan();
  f.Ingest(ivan, f.inv_case, f.tmp / "in");
  const auto hits = f.Search(ivan, "ledger").hits;
  REQUIRE(hits.size() == 2);
  const std::string a = hits[0].document_id;
  CHECK(f.repo->TagDocument(ivan, a, {"Hot", "responsive"}, {}) ==
        std::vector<std::string>{"hot", "responsive"});
  CHECK(f.Search(ivan, "tag:hot").total == 1);
  CHECK(f.Search(ivan, "ledger -tag:hot").total == 1);
  CHECK(f.Search(ivan, "-tag:hot").total == 1);
  CHECK(Facet(Find(f, ivan, "ledger"), "tag") == std::map<std::string, std::uint64_t>{{"hot", 1}, {"responsive", 1}});
  CHECK(f.repo->GetDocument(ivan, a).tags == std::vector<std::string>{"hot", "responsive"});
  // In bulk, on a query's hits.
  CHECK(f.repo->TagMatching(ivan, "ledger", "", {"reviewed"}, {}) == 2);
  CHECK(f.Search(ivan, "tag:reviewed").total == 2);
  CHECK(f.repo->TagMatching(ivan, "ledger", "", {}, {"hot"}) == 1);
  CHECK(f.Search(ivan, "tag:hot").total == 0);
  // Bad names are refused.
  CHECK(CodeOf([&] { f.repo->TagDocument(ivan, a, {"two words"}, {}); }) == ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { f.repo->TagDocument(ivan, a, {""}, {}); }) == ErrorCode::kInvalidArgument);
  // Reindex rebuilds the tag terms from the rows.
  f.repo->Reindex(f.Alice());
  CHECK(f.Search(ivan, "tag:reviewed").total == 2);
  CHECK(f.Search(ivan, "tag:responsive").total == 1);
  // The privileged tag, once the policy names legal, needs legal.
  f.repo->SetPrivilegedTagRoles(f.Alice(), {"legal"});
  CHECK(CodeOf([&] { f.repo->TagDocument(ivan, a, {"privileged"}, {}); }) == ErrorCode::kForbidden);
  CHECK(CodeOf([&] { f.repo->SetPrivilegedTagRoles(ivan, {}); }) == ErrorCode::kForbidden);
  f.repo->SetPrivilegedTagRoles(f.Alice(), {"investigator"});
  CHECK(f.repo->TagDocument(ivan, a, {"privileged"}, {}).size() == 3);
}

TEST_CASE("facets count every match by type, custodian, language, case, tag and year") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "vessel tonnage");
  WriteFile(f.tmp / "in/b.html", "<html><body><p>vessel papers</p></body></html>");
  WriteFile(f.tmp / "in/mail.eml", kEmail);
  auto alice = f.Alice();
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  req.custodian = "Ann Example";
  f.repo->Ingest(alice, req);
  WriteFile(f.tmp / "more/c.txt", "vessel logbook");
  req.case_id = f.legal_case;
  req.paths = {f.tmp / "more"};
  req.custodian = "Bob";
  f.repo->Ingest(alice, req);
  const auto r = Find(f, alice, "vessel");
  CHECK(r.total == 4);  // a, b, the attachment, c
  CHECK(Facet(r, "type")["text"] == 3);
  CHECK(Facet(r, "type")["html"] == 1);
  CHECK(Facet(r, "custodian") == std::map<std::string, std::uint64_t>{{"Ann Example", 3}, {"Bob", 1}});
  CHECK(Facet(r, "case") == std::map<std::string, std::uint64_t>{{f.inv_case, 3}, {f.legal_case, 1}});
  // The email's date is its Date header.
  CHECK(Facet(Find(f, alice, "harbour"), "year") == std::map<std::string, std::uint64_t>{{"2023", 1}});
  CHECK(f.Search(alice, "harbour date:2023-03").total == 1);
  CHECK(f.Search(alice, "harbour date:2023-04..").total == 0);

  // Ivan sees only the investigator case: counts over his documents only.
  const auto ri = Find(f, f.Ivan(), "vessel");
  CHECK(ri.total == 3);
  CHECK(Facet(ri, "custodian") == std::map<std::string, std::uint64_t>{{"Ann Example", 3}});
  CHECK(Facet(ri, "case") == std::map<std::string, std::uint64_t>{{f.inv_case, 3}});
}

TEST_CASE("families: a hit brings its whole family, and a restricted document never appears") {
  Fixture f;
  auto alice = f.Alice();
  f.repo->GrantRole(alice, f.inv_case, "legal");
  WriteFile(f.tmp / "mail.eml", kEmail);
  f.Ingest(alice, f.inv_case, f.tmp / "mail.eml");
  WriteFile(f.tmp / "secret.txt", "Tonnage advice from counsel, privileged.");
  const auto secret = f.Ingest(alice, f.inv_case, f.tmp / "secret.txt", {"legal"}).at(0).id;
  f.repo->TagDocument(f.Lena(), secret, {"hot"}, {});

  auto ivan = f.Ivan();
  const auto r = Find(f, ivan, "tonnage", true, true);
  REQUIRE(r.total == 1);  // the attachment; the restricted note is not his
  const auto& hit = r.hits.at(0);
  CHECK(hit.filename == "figures.txt");
  CHECK(!hit.parent_id.empty());
  CHECK(hit.family_id != hit.document_id);
  std::set<std::string> members;
  for (const auto& m : hit.family) members.insert(m.document_id);
  CHECK(members.count(hit.family_id) == 1);  // the email itself
  CHECK(members.count(secret) == 0);
  CHECK(Facet(r, "tag").empty());
  // Lena (legal) finds both, and her tag.
  const auto rl = Find(f, f.Lena(), "tonnage", true, true);
  {
    const auto info = f.repo->GetDocument(f.Lena(), secret);
    INFO("secret: status " << repo::StatusName(info.status) << " language " << info.language
         << " error " << info.error << "; lena sees " << Find(f, f.Lena(), "").total
         << " documents, " << f.repo->SearchExceptions(f.Lena(), "").total << " exceptions");
    CHECK(rl.total == 2);
  }
  CHECK(Facet(rl, "tag") == std::map<std::string, std::uint64_t>{{"hot", 1}});
  // Ivan cannot tag it, by id or in bulk, and learns nothing from trying.
  std::string exists, missing;
  try { f.repo->TagDocument(ivan, secret, {"x"}, {}); } catch (const Error& e) { exists = e.what(); }
  try { f.repo->TagDocument(ivan, "dzzzzzzzzzzzzzzz", {"x"}, {}); } catch (const Error& e) { missing = e.what(); }
  CHECK(!exists.empty());
  CHECK(exists == missing);
  CHECK(f.repo->TagMatching(ivan, "", "", {"bulk"}, {}) == 2);  // the email and its attachment
  CHECK(f.repo->GetDocument(f.Lena(), secret).tags == std::vector<std::string>{"hot"});
  CHECK(f.Search(f.Lena(), "tag:bulk").total == 2);
}

TEST_CASE("a user without case B's role gets what a repository without B would give") {
  // Two repositories with the same investigator documents; the second
  // also holds legal documents sharing words, tags and a custodian.
  Fixture with, without;
  std::mt19937 rng(7);
  std::vector<std::pair<std::string, std::string>> inv_docs, legal_docs;
  for (int i = 0; i < 12; ++i) inv_docs.emplace_back("i" + std::to_string(i) + ".txt", Prose(rng, 40 + i * 7));
  for (int i = 0; i < 30; ++i) legal_docs.emplace_back("l" + std::to_string(i) + ".txt", Prose(rng, 60) + " invoice invoice");
  for (auto* f : {&with, &without}) {
    for (const auto& [name, text] : inv_docs) WriteFile(f->tmp / ("inv/" + name), text);
    repo::IngestRequest req;
    req.case_id = f->inv_case;
    req.paths = {f->tmp / "inv"};
    req.custodian = "Shared Custodian";
    f->repo->Ingest(f->Alice(), req);
  }
  for (const auto& [name, text] : legal_docs) WriteFile(with.tmp / ("legal/" + name), text);
  repo::IngestRequest req;
  req.case_id = with.legal_case;
  req.paths = {with.tmp / "legal"};
  req.custodian = "Shared Custodian";
  with.repo->Ingest(with.Alice(), req);
  with.repo->TagMatching(with.Lena(), "", "", {"hot", "legalonly"}, {});
  with.repo->SaveSearch(with.Lena(), "mine", "invoice");

  auto iw = with.Ivan(), io = without.Ivan();
  for (const std::string q : {"invoice", "invoice payment", "\"the invoice\"", "invoic*", "ledger OR audit",
                              "-invoice", "", "tag:hot", "custodian:\"shared custodian\""}) {
    INFO("query " << q);
    const auto a = Find(with, iw, q), b = Find(without, io, q);
    CHECK(a.total == b.total);
    REQUIRE(a.hits.size() == b.hits.size());
    // Ids differ between the two repositories; names and weights must not.
    std::map<std::string, double> wa, wb;
    std::vector<double> oa, ob;
    for (const auto& h : a.hits) { wa[h.filename] = h.score; oa.push_back(h.score); }
    for (const auto& h : b.hits) { wb[h.filename] = h.score; ob.push_back(h.score); }
    CHECK(wa == wb);  // bit-identical weights
    CHECK(oa == ob);  // and order of weights
    for (const char* facet : {"type", "custodian", "language", "tag", "year"}) {
      CHECK(Facet(a, facet) == Facet(b, facet));
    }
    CHECK(Facet(a, "case").size() <= 1);
    for (const auto& h : a.hits) CHECK(h.case_id == with.inv_case);
    CHECK(a.exceptions == b.exceptions);
  }
  // No snippet byte of a legal document: every hit is an investigator file.
  for (const auto& h : Find(with, iw, "invoice").hits) CHECK(h.filename.rfind("i", 0) == 0);
  // Reports and saved searches show nothing of B.
  const std::vector<std::string> terms = {"invoice", "payment", "tag:legalonly", "ledger"};
  const auto ta = with.repo->SearchTerms(iw, terms), tb = without.repo->SearchTerms(io, terms);
  CHECK(repo::views::TermReportJson(ta) == repo::views::TermReportJson(tb));
  CHECK(with.repo->ListSavedSearches(iw).empty());
  CHECK(CodeOf([&] { with.repo->SearchTerms(iw, {"x"}, with.legal_case); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { with.repo->SearchExceptions(iw, with.legal_case); }) == ErrorCode::kNotFound);
}

TEST_CASE("search-term report: hits, unique hits, families and the total of any term") {
  Fixture f;
  auto alice = f.Alice();
  WriteFile(f.tmp / "in/mail.eml", kEmail);       // email + attachment (vessel, tonnage)
  WriteFile(f.tmp / "in/a.txt", "vessel harbour");
  WriteFile(f.tmp / "in/b.txt", "harbour customs");
  WriteFile(f.tmp / "in/c.txt", "nothing here");
  WriteFile(f.tmp / "in/bad.pdf", "%PDF-1.4 this is not really a pdf");
  f.Ingest(alice, f.inv_case, f.tmp / "in");
  const auto r = f.repo->SearchTerms(alice, {"tonnage", "harbour", "customs", "vess*"});
  REQUIRE(r.rows.size() == 4);
  CHECK(r.rows[0].hits == 1);        // the attachment
  CHECK(r.rows[0].unique_hits == 0); // vess* hits it too
  CHECK(r.rows[0].families == 1);
  CHECK(r.rows[0].family_documents >= 2);  // the email with its attachment
  CHECK(r.rows[1].hits == 3);        // email body, a, b
  CHECK(r.rows[2].hits == 1);
  CHECK(r.rows[2].unique_hits == 0); // b also has harbour
  CHECK(r.rows[3].hits == 2);        // attachment, a
  CHECK(r.total_documents == 4);
  CHECK(r.exceptions >= 1);          // the broken PDF
  const auto ex = f.repo->SearchExceptions(alice, f.inv_case);
  CHECK(ex.total == r.exceptions);
  CHECK(Find(f, alice, "harbour").exceptions == r.exceptions);
  // One malformed term refuses the report, naming it.
  try {
    f.repo->SearchTerms(alice, {"fine", "broken AND"});
    FAIL("a malformed term must be refused");
  } catch (const QueryError& e) {
    CHECK(std::string(e.what()).find("term 2") != std::string::npos);
  }
  CHECK(repo::views::TermReportCsv(r).find("\"harbour\",3,") != std::string::npos);
}

TEST_CASE("export lists every hit, and saved searches count what is new since their last run") {
  Fixture f;
  auto ivan = f.Ivan();
  WriteFile(f.tmp / "one/a.txt", "ledger entry");
  f.Ingest(ivan, f.inv_case, f.tmp / "one");
  repo::SearchRequest req;
  req.query = "ledger";
  const auto rows = f.repo->ExportHits(ivan, req);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].filename == "a.txt");
  CHECK(rows[0].sha256.size() == 64);
  CHECK(repo::views::ExportCsv(rows).find("\"a.txt\"") != std::string::npos);

  const auto saved = f.repo->SaveSearch(ivan, "ledgers", "ledg*", f.inv_case);
  CHECK(f.repo->ListSavedSearches(ivan).size() == 1);
  CHECK(f.repo->ListSavedSearches(f.Lena()).empty());
  auto run = f.repo->RunSavedSearch(ivan, saved.id);
  CHECK(run.results.total == 1);
  CHECK(run.new_since_last_run == 0);
  WriteFile(f.tmp / "two/b.txt", "another ledger");
  WriteFile(f.tmp / "two/c.txt", "unrelated");
  f.Ingest(ivan, f.inv_case, f.tmp / "two");
  run = f.repo->RunSavedSearch(ivan, saved.id);
  CHECK(run.results.total == 2);
  CHECK(run.new_since_last_run == 1);
  CHECK(f.repo->RunSavedSearch(ivan, saved.id).new_since_last_run == 0);
  CHECK(CodeOf([&] { f.repo->RunSavedSearch(f.Lena(), saved.id); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->SaveSearch(ivan, "bad", "x AND"); }) == ErrorCode::kInvalidArgument);
  f.repo->DeleteSavedSearch(ivan, saved.id);
  CHECK(f.repo->ListSavedSearches(ivan).empty());
}
