// Case links: shared entities make scored links that explain themselves;
// cases the viewer may not open shift nothing and show only as
// deconfliction notices, which are two-way and rate-limited; decisions
// and stop-entities.
#include <catch2/catch.hpp>

#include <set>
#include <sstream>

#include "base/error.h"
#include "repo/schema.h"
#include "repo/sqlite.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

const std::string kIban = "DE89 3704 0044 0532 0130 00";
const std::string kPhone = "+351 912 345 678";
const std::string kUrl = "https://www.example-firm.com/contact";

// Everything a link list says, as text (to look for what must not be there).
std::string Dump(const repo::CaseLinks& l) {
  std::ostringstream o;
  for (const auto& k : l.links) {
    o << k.case_id << "|" << k.title << "|" << k.score << "|" << k.state << "|" << k.why << "\n";
    for (const auto& e : k.shared) {
      o << "  " << e.type << "=" << e.value << " " << e.weight << " " << e.cases << "\n";
      for (const auto* side : {&e.here, &e.there}) {
        for (const auto& ev : *side) o << "    " << ev.doc_id << " " << ev.filename << "\n";
      }
    }
  }
  for (const auto& n : l.notices) {
    o << "notice " << n.incoming << " " << n.shared << " " << n.user << " " << n.at;
    for (const auto& t : n.types) o << " " << t;
    for (const auto& c : n.contact) o << " " << c;
    o << "\n";
  }
  for (const auto& s : l.stop_entities) o << "stop " << s.type << "=" << s.value << " " << s.cases << "\n";
  return o.str();
}

const repo::CaseLink* Find(const repo::CaseLinks& l, const std::string& title) {
  for (const auto& k : l.links) {
    if (k.title == title) return &k;
  }
  return nullptr;
}

// Three investigator cases sharing an IBAN (Alpha, Bravo), a phone
// (Alpha, Charlie) and a firm's URL (all three); the legal case, which
// ivan may not open, holds the IBAN too when `legal_holds_iban`.
struct Linked : Fixture {
  std::string alpha, bravo, charlie;
  explicit Linked(bool legal_holds_iban = true) {
    auto alice = Alice();
    alpha = repo->CreateCase(alice, {"Alpha", "", repo::Risk::kHigh, {"investigator"}}).id;
    bravo = repo->CreateCase(alice, {"Bravo", "", repo::Risk::kHigh, {"investigator"}}).id;
    charlie = repo->CreateCase(alice, {"Charlie", "", repo::Risk::kHigh, {"investigator"}}).id;
    Put(alpha, "alpha.txt",
        "Wire the deposit to " + kIban + " and call " + kPhone + " or see " + kUrl + " today.");
    Put(bravo, "bravo.txt", "Beneficiary account " + kIban + " as agreed. Details at " + kUrl + " .");
    Put(charlie, "charlie.txt", "The courier answers on " + kPhone + " ; orders through " + kUrl + " .");
    if (legal_holds_iban) {
      WriteFile(tmp / "legal/memo.txt", "Counsel notes the account " + kIban + " in the settlement.");
      Ingest(Lena(), legal_case, tmp / "legal");
    }
  }
  void Put(const std::string& case_id, const std::string& name, const std::string& text) {
    const std::string folder = tmp / ("in-" + name);
    WriteFile(folder + "/" + name, text);
    REQUIRE(Ingest(Ivan(), case_id, folder).size() == 1);
  }
};

}  // namespace

TEST_CASE("shared entities link cases, weighted by type and rarity, with their evidence") {
  Linked f;
  const auto links = f.repo->Links(f.Ivan(), f.alpha);
  INFO(Dump(links));
  REQUIRE(links.links.size() == 2);
  const auto* bravo = Find(links, "Bravo");
  const auto* charlie = Find(links, "Charlie");
  REQUIRE(bravo);
  REQUIRE(charlie);
  CHECK(links.links[0].title == "Bravo");  // an IBAN outweighs a phone number
  CHECK(bravo->state == "suggested");
  CHECK(bravo->score > charlie->score);
  REQUIRE(!bravo->shared.empty());
  const auto& iban = bravo->shared[0];
  CHECK(iban.type == "iban");
  CHECK(iban.value == "DE89370400440532013000");
  CHECK(iban.cases == 2);
  CHECK(iban.weight == Approx(1.0));  // two cases: full rarity
  REQUIRE(iban.here.size() == 1);
  CHECK(iban.here[0].filename == "alpha.txt");
  REQUIRE(!iban.here[0].offsets.empty());
  REQUIRE(iban.there.size() == 1);
  CHECK(iban.there[0].filename == "bravo.txt");
  // The firm's URL and domain are held by three cases: each weighs less.
  bool url = false;
  for (const auto& e : bravo->shared) {
    if (e.type == "url") {
      url = true;
      CHECK(e.cases == 3);
      CHECK(e.weight < 0.4);
    }
  }
  CHECK(url);
  CHECK(charlie->shared[0].type == "phone");
  CHECK(charlie->shared[0].value == "+351912345678");
  // From Bravo's side the same link, with the same score.
  const auto back = f.repo->Links(f.Ivan(), f.bravo);
  REQUIRE(Find(back, "Alpha"));
  CHECK(Find(back, "Alpha")->score == bravo->score);
}

TEST_CASE("a case the viewer may not open shifts no score and shows only as a notice") {
  Linked with(true), without(false);
  const auto a = with.repo->Links(with.Ivan(), with.alpha);
  const auto b = without.repo->Links(without.Ivan(), without.alpha);
  INFO(Dump(a));
  REQUIRE(a.links.size() == b.links.size());
  for (std::size_t i = 0; i < a.links.size(); ++i) {
    CHECK(a.links[i].title == b.links[i].title);
    CHECK(a.links[i].score == b.links[i].score);  // bit-identical
    REQUIRE(a.links[i].shared.size() == b.links[i].shared.size());
    for (std::size_t j = 0; j < a.links[i].shared.size(); ++j) {
      CHECK(a.links[i].shared[j].value == b.links[i].shared[j].value);
      CHECK(a.links[i].shared[j].weight == b.links[i].shared[j].weight);
      CHECK(a.links[i].shared[j].cases == b.links[i].shared[j].cases);
    }
  }
  // The notice: how many entities, their types, whom to contact; nothing else.
  REQUIRE(a.notices.size() == 1);
  CHECK_FALSE(a.notices[0].incoming);
  CHECK(a.notices[0].shared == 1);
  CHECK(a.notices[0].types == std::vector<std::string>{"iban"});
  CHECK(a.notices[0].contact == std::vector<std::string>{"legal"});
  CHECK(b.notices.empty());
  const std::string dump = Dump(a);
  CHECK(dump.find(with.legal_case) == std::string::npos);
  CHECK(dump.find("Counsel") == std::string::npos);
  CHECK(dump.find("memo") == std::string::npos);
  // Nor does the entity's own listing name it, or count its document.
  const auto occ = with.repo->FindEntity(with.Ivan(), "iban", kIban);
  CHECK(occ.total == 2);
  REQUIRE(occ.cases.size() == 2);
  for (const auto& c : occ.cases) CHECK((c.value == with.alpha || c.value == with.bravo));
  // The legal case cannot be opened, linked or graphed by ivan.
  CHECK(CodeOf([&] { with.repo->Links(with.Ivan(), with.legal_case); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { with.repo->DecideLink(with.Ivan(), with.alpha, with.legal_case, "add", "x"); }) ==
        ErrorCode::kNotFound);
  const auto g = with.repo->Graph(with.Ivan(), with.alpha, 3);
  for (const auto& n : g.nodes) {
    CHECK(n.case_id != with.legal_case);
    CHECK(n.label != "Counsel");
  }

  // Two-way: the legal case's roles hear who was told, of which types.
  const auto legal = with.repo->Links(with.Lena(), with.legal_case);
  INFO(Dump(legal));
  CHECK(legal.links.empty());  // lena opens no investigator case
  const repo::LinkNotice* in = nullptr;
  int outgoing = 0;
  for (const auto& n : legal.notices) {
    if (n.incoming) in = &n;
    outgoing += !n.incoming;
  }
  CHECK(outgoing == 2);  // Alpha and Bravo, which lena may not open
  REQUIRE(in);
  CHECK(in->user == "ivan");
  CHECK(in->types == std::vector<std::string>{"iban"});
  CHECK(in->contact == std::vector<std::string>{"investigator"});
  // Listing again records nothing new.
  with.repo->Links(with.Ivan(), with.alpha);
  with.repo->Links(with.Ivan(), with.bravo);  // another case of ivan's: a notice of its own
  int incoming = 0;
  for (const auto& n : with.repo->Links(with.Lena(), with.legal_case).notices) incoming += n.incoming;
  CHECK(incoming == 2);
}

TEST_CASE("notices are rate-limited per user and can be turned off") {
  Linked f;
  auto settings = f.repo->GetLinkSettings(f.Alice());
  settings.notices_per_hour = 0;
  f.repo->SetLinkSettings(f.Alice(), settings);
  CHECK(CodeOf([&] { f.repo->SetLinkSettings(f.Ivan(), settings); }) == ErrorCode::kForbidden);
  auto a = f.repo->Links(f.Ivan(), f.alpha);
  CHECK(a.notices.empty());
  CHECK(a.notices_withheld == 1);
  int incoming = 0;
  for (const auto& n : f.repo->Links(f.Lena(), f.legal_case).notices) incoming += n.incoming;
  CHECK(incoming == 0);  // a notice nobody got is not recorded either

  settings.notices_per_hour = 1;
  f.repo->SetLinkSettings(f.Alice(), settings);
  CHECK(f.repo->Links(f.Ivan(), f.alpha).notices.size() == 1);
  CHECK(f.repo->Links(f.Ivan(), f.alpha).notices.size() == 1);  // already given: no new cost
  const auto bravo = f.repo->Links(f.Ivan(), f.bravo);           // a new one: over the limit
  CHECK(bravo.notices.empty());
  CHECK(bravo.notices_withheld == 1);

  settings.deconfliction = "none";
  f.repo->SetLinkSettings(f.Alice(), settings);
  a = f.repo->Links(f.Ivan(), f.alpha);
  CHECK(a.notices.empty());
  CHECK(a.notices_withheld == 0);
  settings.stop_threshold = 1;
  CHECK(CodeOf([&] { f.repo->SetLinkSettings(f.Alice(), settings); }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("entities held by too many cases, or stopped by hand, link no more") {
  Linked f;
  auto settings = f.repo->GetLinkSettings(f.Alice());
  const double before = Find(f.repo->Links(f.Ivan(), f.alpha), "Bravo")->score;
  settings.stop_threshold = 2;
  f.repo->SetLinkSettings(f.Alice(), settings);
  auto links = f.repo->Links(f.Ivan(), f.alpha);
  INFO(Dump(links));
  const auto* bravo = Find(links, "Bravo");
  REQUIRE(bravo);
  CHECK(bravo->score < before);
  for (const auto& e : bravo->shared) CHECK((e.type != "url" && e.type != "domain"));
  bool listed = false;
  for (const auto& s : links.stop_entities) {
    if (s.type == "url") {
      listed = true;
      CHECK(s.value == "https://www.example-firm.com/contact");
      CHECK(s.cases == 3);
      CHECK_FALSE(s.manual);
    }
  }
  CHECK(listed);

  f.repo->SetStopEntity(f.Ivan(), "iban", kIban, true);
  links = f.repo->Links(f.Ivan(), f.alpha);
  CHECK_FALSE(Find(links, "Bravo"));
  CHECK(Find(links, "Charlie"));
  bool manual = false;
  for (const auto& s : links.stop_entities) manual |= s.manual && s.type == "iban" && s.set_by == "ivan";
  CHECK(manual);
  // Someone who sees no document holding an entity cannot stop it.
  CHECK(CodeOf([&] { f.repo->SetStopEntity(f.Lena(), "phone", kPhone, true); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { f.repo->SetStopEntity(f.Ivan(), "iban", "DE00 1234", true); }) ==
        ErrorCode::kInvalidArgument);
  f.repo->SetStopEntity(f.Ivan(), "iban", kIban, false);
  CHECK(Find(f.repo->Links(f.Ivan(), f.alpha), "Bravo"));
}

TEST_CASE("links are confirmed, rejected and added with who and why; new evidence reopens a rejection") {
  Linked f;
  CHECK(CodeOf([&] { f.repo->DecideLink(f.Ivan(), f.alpha, f.bravo, "confirm", ""); }) ==
        ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { f.repo->DecideLink(f.Ivan(), f.alpha, f.bravo, "maybe", "x"); }) ==
        ErrorCode::kInvalidArgument);
  f.repo->DecideLink(f.Ivan(), f.alpha, f.bravo, "confirm", "same beneficiary account");
  f.repo->DecideLink(f.Ivan(), f.alpha, f.charlie, "reject", "the courier number is a shared switchboard");
  auto alice = f.Alice();
  const std::string delta = f.repo->CreateCase(alice, {"Delta", "", repo::Risk::kLow, {"investigator"}}).id;
  f.repo->DecideLink(f.Ivan(), f.alpha, delta, "add", "the same shell company, per the registry");

  auto links = f.repo->Links(f.Ivan(), f.alpha);
  INFO(Dump(links));
  REQUIRE(links.links.size() == 3);
  CHECK(links.links[0].title == "Bravo");
  CHECK(links.links[0].state == "confirmed");
  CHECK(links.links[0].decided_by == "ivan");
  CHECK(links.links[0].why == "same beneficiary account");
  CHECK(links.links[1].title == "Delta");
  CHECK(links.links[1].state == "added");
  CHECK(links.links[1].shared.empty());
  CHECK(links.links[2].title == "Charlie");
  CHECK(links.links[2].state == "rejected");
  // The decision is the same from the other side.
  CHECK(Find(f.repo->Links(f.Ivan(), f.bravo), "Alpha")->state == "confirmed");

  // More of the same type keeps the rejection; a new type reopens it.
  f.Put(f.charlie, "more.txt", "Again the courier: " + kPhone + ".");
  CHECK(Find(f.repo->Links(f.Ivan(), f.alpha), "Charlie")->state == "rejected");
  f.Put(f.alpha, "mail.txt", "Write to dispatch@courier-example.pt about it.");
  f.Put(f.charlie, "mail2.txt", "Orders go to dispatch@courier-example.pt now.");
  const auto reopened = f.repo->Links(f.Ivan(), f.alpha);
  const auto* charlie = Find(reopened, "Charlie");
  REQUIRE(charlie);
  CHECK(charlie->state == "suggested");
  CHECK(charlie->reopened);
  CHECK(charlie->why == "the courier number is a shared switchboard");

  f.repo->DecideLink(f.Ivan(), f.alpha, delta, "clear", "");
  CHECK_FALSE(Find(f.repo->Links(f.Ivan(), f.alpha), "Delta"));
}

TEST_CASE("the graph holds the case's neighbourhood and the entities between") {
  Linked f;
  f.repo->DecideLink(f.Ivan(), f.alpha, f.bravo, "confirm", "same account");
  const auto g = f.repo->Graph(f.Ivan(), f.bravo, 2);
  std::set<std::string> cases, entities;
  for (const auto& n : g.nodes) (n.kind == "case" ? cases : entities).insert(n.label);
  CHECK(cases == std::set<std::string>{"Alpha", "Bravo", "Charlie"});  // Charlie through Alpha's phone
  CHECK(entities.count("+351912345678"));
  CHECK(entities.count("DE89370400440532013000"));
  bool link = false;
  for (const auto& e : g.edges) link |= e.kind == "link";
  CHECK(link);
  CHECK(f.repo->Graph(f.Ivan(), f.bravo, 1).nodes.size() < g.nodes.size());
  CHECK(CodeOf([&] { f.repo->Graph(f.Ivan(), f.bravo, 4); }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("reindex rebuilds what linking stores") {
  Linked f;
  const auto before = f.repo->Links(f.Ivan(), f.alpha, 50);
  f.repo->Reindex(f.Alice());
  const auto after = f.repo->Links(f.Ivan(), f.alpha, 50);
  REQUIRE(before.links.size() == after.links.size());
  for (std::size_t i = 0; i < before.links.size(); ++i) {
    CHECK(before.links[i].case_id == after.links[i].case_id);
    CHECK(before.links[i].score == after.links[i].score);
  }
}

TEST_CASE("reindex finds the entities of documents ingested before entities were") {
  Fixture f;
  // Ingest as a Dossier older than entities did: none looked for.
  repo::OpenOptions old;
  old.extract_limits.find_entities = false;
  f.Reopen(old);
  auto alice = f.Alice();
  const std::string a = f.repo->CreateCase(alice, {"Alpha", "", repo::Risk::kHigh, {"investigator"}}).id;
  const std::string b = f.repo->CreateCase(alice, {"Bravo", "", repo::Risk::kHigh, {"investigator"}}).id;
  WriteFile(f.tmp / "a/a.txt", "Wire the deposit to " + kIban + " today.");
  WriteFile(f.tmp / "b/b.txt", "Beneficiary account " + kIban + " as agreed.");
  WriteFile(f.tmp / "b/copy.txt", "Wire the deposit to " + kIban + " today.");  // a duplicate of a.txt
  REQUIRE(f.Ingest(f.Ivan(), a, f.tmp / "a").size() == 1);
  REQUIRE(f.Ingest(f.Ivan(), b, f.tmp / "b").size() == 2);
  f.Reopen();
  CHECK(f.repo->Links(f.Ivan(), a).links.empty());
  const std::string iban = "DE89370400440532013000";  // kIban, normalised
  repo::SearchRequest q;
  q.query = "entity:iban:" + iban;
  CHECK(f.repo->Search(f.Ivan(), q).total == 0);

  const auto summary = f.repo->Reindex(f.Alice());
  CHECK(summary.entities_found == 3);
  const auto links = f.repo->Links(f.Ivan(), a);
  REQUIRE(links.links.size() == 1);
  CHECK(links.links[0].case_id == b);
  REQUIRE(!links.links[0].shared.empty());
  CHECK(links.links[0].shared[0].value == iban);
  // The duplicate is evidence in its own case, with its original's entities.
  CHECK(links.links[0].shared[0].there.size() == 2);
  CHECK(f.repo->Search(f.Ivan(), q).total == 2);  // a duplicate is not a hit of its own
  // The records now hold their entities: a second reindex finds none.
  f.Reopen();
  CHECK(f.repo->Reindex(f.Alice()).entities_found == 0);
  CHECK(f.repo->Links(f.Ivan(), a).links.size() == 1);
}

TEST_CASE("a repository of schema version 6 keeps its links through the upgrade") {
  Linked f;
  const auto before = f.repo->Links(f.Ivan(), f.alpha, 50);
  f.repo.reset();
  {
    // Back to version 6's entity tables (rowids, the case index), with the rows.
    repo::sql::Db db(f.dir + "/dossier.db", false);
    db.Exec(R"sql(
DROP TABLE notifications; DROP TABLE reminders; DROP TABLE case_notes; DROP TABLE tasks; DROP TABLE case_history; DROP TABLE case_assignees; DROP INDEX cases_open; ALTER TABLE cases DROP COLUMN owner_id; ALTER TABLE cases DROP COLUMN risk; ALTER TABLE cases DROP COLUMN status; ALTER TABLE cases DROP COLUMN stage_since; ALTER TABLE cases DROP COLUMN stage; 
DROP TABLE audit_head; DROP TABLE audit_events;
DROP TRIGGER documents_entity_shard;
CREATE TABLE p7(hash BLOB NOT NULL, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  case_id TEXT NOT NULL, shard_id TEXT NOT NULL, type TEXT NOT NULL, PRIMARY KEY(hash, doc_id));
INSERT INTO p7 SELECT hash, doc_id, case_id, shard_id, type FROM entity_postings;
CREATE TABLE c7(hash BLOB NOT NULL, shard_id TEXT NOT NULL, case_id TEXT NOT NULL, type TEXT NOT NULL,
  docs INTEGER NOT NULL, PRIMARY KEY(hash, shard_id, case_id));
INSERT INTO c7 SELECT hash, shard_id, case_id, type, docs FROM entity_cases;
DROP TABLE entity_postings; DROP TABLE entity_cases;
ALTER TABLE p7 RENAME TO entity_postings; ALTER TABLE c7 RENAME TO entity_cases;
CREATE INDEX entity_postings_doc ON entity_postings(doc_id);
CREATE INDEX entity_postings_case ON entity_postings(case_id, hash);
CREATE INDEX entity_cases_case ON entity_cases(case_id, shard_id, hash);
CREATE TRIGGER documents_entity_shard AFTER UPDATE OF shard_id, move_to ON documents BEGIN SELECT 1; END;
PRAGMA user_version=6;
)sql");
  }
  f.Reopen();
  {
    repo::sql::Db db(f.dir + "/dossier.db", false);
    repo::sql::Stmt v(db, "PRAGMA user_version");
    REQUIRE(v.Step());
    CHECK(v.Int(0) == repo::LatestSchemaVersion());
    repo::sql::Stmt wr(db, "SELECT count(*) FROM pragma_table_list WHERE name LIKE 'entity_%' AND wr = 1");
    REQUIRE(wr.Step());
    CHECK(wr.Int(0) == 2);
  }
  const auto after = f.repo->Links(f.Ivan(), f.alpha, 50);
  REQUIRE(before.links.size() == after.links.size());
  for (std::size_t i = 0; i < before.links.size(); ++i) {
    CHECK(before.links[i].case_id == after.links[i].case_id);
    CHECK(before.links[i].score == after.links[i].score);
    CHECK(before.links[i].shared.size() == after.links[i].shared.size());
  }
  // And the new triggers keep counting: a new document links too.
  auto alice = f.Alice();
  const std::string delta = f.repo->CreateCase(alice, {"Delta", "", repo::Risk::kHigh, {"investigator"}}).id;
  f.Put(delta, "delta.txt", "Pay " + kIban + " now.");
  CHECK(Find(f.repo->Links(f.Ivan(), f.alpha, 50), "Delta"));
}

TEST_CASE("phone numbers without a country code are read in their case's region, else the repository's") {
  Fixture f;
  auto alice = f.Alice();
  const std::string madrid =
      f.repo->CreateCase(alice, {"Madrid", "", repo::Risk::kLow, {"investigator"}, "ES"}).id;
  CHECK(f.repo->GetCase(f.Ivan(), madrid).phone_region == "ES");
  auto phones_of = [&](const std::string& case_id, const std::string& name, const std::string& text) {
    WriteFile(f.tmp / ("p-" + name + "/" + name), text);
    const auto docs = f.Ingest(f.Ivan(), case_id, f.tmp / ("p-" + name));
    REQUIRE(docs.size() == 1);
    std::vector<std::string> out;
    for (const auto& e : f.repo->GetDocument(f.Ivan(), docs[0].id).entities) {
      if (e.type == "phone") out.push_back(e.value);
    }
    return out;
  };
  CHECK(phones_of(madrid, "es.txt", "Llame al 912 345 678 hoy.") == std::vector<std::string>{"+34912345678"});
  CHECK(phones_of(f.inv_case, "pt.txt", "Ligue para 912 345 678 hoje.") ==
        std::vector<std::string>{"+351912345678"});
  auto settings = f.repo->GetLinkSettings(alice);
  CHECK(settings.phone_region == "PT");
  settings.phone_region = "IT";
  f.repo->SetLinkSettings(alice, settings);
  CHECK(phones_of(f.inv_case, "it.txt", "Chiamare lo 06 1234 5678 domani.") ==
        std::vector<std::string>{"+390612345678"});
  CHECK(phones_of(madrid, "es2.txt", "Otra vez el 912 345 679.") == std::vector<std::string>{"+34912345679"});
  settings.phone_region = "XX";
  CHECK(CodeOf([&] { f.repo->SetLinkSettings(alice, settings); }) == ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { f.repo->CreateCase(alice, {"Nowhere", "", repo::Risk::kLow, {"investigator"}, "es"}); }) ==
        ErrorCode::kInvalidArgument);
}

namespace {

// Rows where the per-case count disagrees with the postings it counts
// (either side missing counts as a disagreement).
std::int64_t CountMismatches(const std::string& dir) {
  repo::sql::Db db(dir + "/dossier.db", false);
  repo::sql::Stmt s(db, R"sql(
SELECT count(*) FROM
  (SELECT hash, shard_id, case_id, count(*) AS n FROM entity_postings GROUP BY 1, 2, 3) p
  FULL OUTER JOIN entity_cases c USING(hash, shard_id, case_id)
  WHERE p.n IS NOT c.docs)sql");
  REQUIRE(s.Step());
  return s.Int(0);
}

std::int64_t CountOf(const std::string& dir, const std::string& sql) {
  repo::sql::Db db(dir + "/dossier.db", false);
  repo::sql::Stmt s(db, sql);
  REQUIRE(s.Step());
  return s.Int(0);
}

}  // namespace

TEST_CASE("the count of documents per entity and case follows ingest, moves, deletes and reindex") {
  Linked f;
  // One batch of several documents repeating the same entities, and one
  // that repeats them twice in itself.
  for (int i = 0; i < 5; ++i) {
    WriteFile(f.tmp / ("many/m" + std::to_string(i) + ".txt"),
              "Note " + std::to_string(i) + ": pay " + kIban + ", call " + kPhone + ", again " + kIban + ".");
  }
  REQUIRE(f.Ingest(f.Ivan(), f.alpha, f.tmp / "many").size() == 5);
  CHECK(CountMismatches(f.dir) == 0);
  CHECK(CountOf(f.dir, "SELECT max(docs) FROM entity_cases") >= 6);  // alpha.txt and the five notes
  CHECK(CountOf(f.dir, "SELECT count(*) FROM entity_cases WHERE docs <= 0") == 0);

  // Restricting a case moves its documents to another shard.
  f.repo->GrantRole(f.Alice(), f.alpha, "legal");
  CHECK(CountMismatches(f.dir) == 0);
  f.repo->RevokeRole(f.Alice(), f.alpha, "legal");
  CHECK(CountMismatches(f.dir) == 0);

  f.repo->Reindex(f.Alice());
  CHECK(CountMismatches(f.dir) == 0);
  CHECK(CountOf(f.dir, "SELECT count(*) FROM entity_cases WHERE docs <= 0") == 0);
  CHECK(Find(f.repo->Links(f.Ivan(), f.alpha, 50), "Bravo"));
}

TEST_CASE("a repository of schema version 9 loses the per-posting trigger and still counts") {
  Linked f;
  f.repo.reset();
  {
    repo::sql::Db db(f.dir + "/dossier.db", false);
    db.Exec(R"sql(
CREATE TRIGGER entity_postings_added AFTER INSERT ON entity_postings BEGIN
  INSERT INTO entity_cases(hash, shard_id, case_id, type, docs)
    VALUES(NEW.hash, NEW.shard_id, NEW.case_id, NEW.type, 1)
    ON CONFLICT(hash, shard_id, case_id) DO UPDATE SET docs = docs + 1;
END;
PRAGMA user_version=9;
)sql");
  }
  f.Reopen();
  CHECK(CountOf(f.dir, "SELECT count(*) FROM sqlite_master WHERE name = 'entity_postings_added'") == 0);
  CHECK(CountOf(f.dir, "PRAGMA user_version") == repo::LatestSchemaVersion());
  f.Put(f.bravo, "more.txt", "Again the account " + kIban + ".");
  CHECK(CountMismatches(f.dir) == 0);  // counted once, not twice
}
