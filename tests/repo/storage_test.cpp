// What is on disk: no plaintext anywhere (the canary), tamper detection,
// deduplication, the writer lock, the server-key passphrase, reindex.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <xapian.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "base/error.h"
#include "indexer/blind_terms.h"
#include "repo/schema.h"
#include "repo/sqlite.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {
std::vector<fs::path> BlobFiles(const std::string& repo) {
  std::vector<fs::path> out;
  for (const auto& p : AllFiles(repo + "/blobs")) {
    if (p.parent_path().filename() != "tmp") out.push_back(p);
  }
  return out;
}

// Every term of every shard, through the Xapian API (the termlist table is
// compressed, so grep over the files alone would miss plaintext there).
std::vector<std::string> AllTerms(const std::string& repo) {
  std::vector<std::string> terms;
  for (const auto& e : fs::directory_iterator(repo + "/index")) {
    if (!fs::exists(e.path() / "iamglass")) continue;
    Xapian::Database db(e.path().string());
    for (auto t = db.allterms_begin(); t != db.allterms_end(); ++t) terms.push_back(*t);
    for (auto d = db.postlist_begin(""); d != db.postlist_end(""); ++d) {
      auto doc = db.get_document(*d);
      for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t) terms.push_back(*t);
      terms.push_back(doc.get_data());
      for (auto v = doc.values_begin(); v != doc.values_end(); ++v) terms.push_back(*v);
    }
    for (auto k = db.metadata_keys_begin(); k != db.metadata_keys_end(); ++k) {
      terms.push_back(*k + "=" + db.get_metadata(*k));
    }
  }
  return terms;
}
}  // namespace

TEST_CASE("no file under the repository holds a marker word, yet search finds it") {
  Fixture f;
  // Markers in content, in a filename, in a custodian name and in a title.
  const std::vector<std::string> markers = {"quixotrelliswombat", "zephyrmarmalade",
                                            "filenamemarkerkumquat", "custodianmarkerokapi",
                                            "titlemarkerbrontosaur", "tagmarkerpangolin",
                                            "savedmarkeraxolotl", "savedquerymarkerquokka",
                                            "entitymarkerbadger", "wombatmarkermail", "gb82west1234",
                                            "retitlemarkerlemur", "describemarkertapir", "reasonmarkernarwhal",
                                            "taskmarkermongoose", "notemarkercapybara"};
  WriteFile(f.tmp / "in/report.txt",
            "Quarterly report. The quixotrelliswombat account moved funds. Zephyrmarmalade! "
            "Write to entitymarkerbadger@wombatmarkermail.com or pay GB82 WEST 1234 5698 7654 32.");
  WriteFile(f.tmp / "in/filenamemarkerkumquat.txt", "Plain memo about the quixotrelliswombat.");
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "line " + std::to_string(i) + " zephyrmarmalade ledger\n";
  WriteFile(f.tmp / "in/big.txt", big);  // several text chunks and blob chunks
  auto ivan = f.Ivan();
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  req.custodian = "custodianmarkerokapi";
  f.repo->Ingest(ivan, req);
  f.repo->CreateCase(f.Alice(), {"titlemarkerbrontosaur case", "about quixotrelliswombat", repo::Risk::kNone,
                                 {"investigator"}});
  // A tag, a saved search and a prefix query carrying markers too.
  const std::string tagged = f.Search(ivan, "quixotrelliswombat").hits.at(0).document_id;
  f.repo->TagDocument(ivan, tagged, {"tagmarkerpangolin"}, {});
  f.repo->SaveSearch(ivan, "savedmarkeraxolotl", "quixotrel* OR savedquerymarkerquokka");
  CHECK(f.Search(ivan, "quixotrel*").total == 2);
  CHECK(f.Search(ivan, "tag:tagmarkerpangolin").total == 1);
  // Case management: a new title and description, a reason, a task, a note.
  repo::CasePatch patch;
  patch.title = "retitlemarkerlemur";
  patch.description = "describemarkertapir";
  patch.stage = repo::Stage::kPlanning;
  patch.reason = "reasonmarkernarwhal";
  f.repo->UpdateCase(ivan, f.inv_case, patch);
  f.repo->AddTask(ivan, f.inv_case, {"taskmarkermongoose", "2030-01-01", "ivan"});
  f.repo->AddNote(ivan, f.inv_case, "notemarkercapybara");
  CHECK(f.repo->CaseHistory(ivan, f.inv_case).at(0).reason == "reasonmarkernarwhal");
  // Also move documents between shards, so both have held them.
  f.repo->GrantRole(f.Alice(), f.inv_case, "legal");

  CHECK(f.Search(ivan, "quixotrelliswombat").total == 2);
  CHECK(f.Search(ivan, "zephyrmarmalade").total == 2);
  CHECK(f.Search(ivan, "filename:filenamemarkerkumquat.txt").total == 1);
  CHECK(f.Search(ivan, "custodian:custodianmarkerokapi").total == 3);
  // Entities: searchable by value, kept only as hashes and sealed metadata.
  CHECK(f.Search(ivan, "entity:iban:GB82WEST12345698765432").total == 1);
  CHECK(f.Search(ivan, "entity:email:EntityMarkerBadger@wombatmarkermail.com").total == 1);
  CHECK(f.Search(ivan, "entity:domain:wombatmarkermail.com").total == 1);

  f.repo.reset();  // close everything, as a stolen copy would be
  for (const auto& file : AllFiles(f.dir)) {
    const std::string bytes = ReadFile(file.string());
    std::string lower = bytes;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& m : markers) {
      INFO("file " << file << " marker " << m);
      CHECK(lower.find(m) == std::string::npos);
      CHECK(lower.find(m.substr(0, 10)) == std::string::npos);  // stems, prefixes
    }
  }
  std::size_t n = 0;
  for (const auto& term : AllTerms(f.dir)) {
    std::string lower = term;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& m : markers) CHECK(lower.find(m.substr(0, 8)) == std::string::npos);
    ++n;
  }
  CHECK(n > 50);
  // Values too (facet hashes, tag hashes, days, ids): no marker in any.
  for (const auto& e : fs::directory_iterator(f.dir + "/index")) {
    if (!fs::exists(e.path() / "iamglass")) continue;
    Xapian::Database db(e.path().string());
    for (auto p = db.postlist_begin(""); p != db.postlist_end(""); ++p) {
      const Xapian::Document doc = db.get_document(*p);
      for (auto v = doc.values_begin(); v != doc.values_end(); ++v) {
        std::string lower = *v;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const auto& m : markers) CHECK(lower.find(m.substr(0, 8)) == std::string::npos);
      }
    }
  }
}

TEST_CASE("every index term has the shape of a hash or an opaque id") {
  Fixture f;
  WriteFile(f.tmp / "a.txt", "Ünïcödé ﬁle naïve café 2025-01-02 1,234.56 O'Brien's C++ e-mail x@y.example");
  const auto docs = f.Ingest(f.Ivan(), f.inv_case, f.tmp / "a.txt");
  f.repo->TagDocument(f.Ivan(), docs.at(0).id, {"hot", "Zürich-review"}, {});
  CHECK(f.Search(f.Ivan(), "naï*").total == 1);
  CHECK(f.Search(f.Ivan(), "tag:zürich-review").total == 1);
  for (const auto& e : fs::directory_iterator(f.dir + "/index")) {
    if (!fs::exists(e.path() / "iamglass")) continue;
    Xapian::Database db(e.path().string());
    for (auto t = db.allterms_begin(); t != db.allterms_end(); ++t) {
      const std::string term = *t;
      INFO("term of " << term.size() << " bytes starting " << term.substr(0, 2));
      const bool id = term.size() == 17 && term[0] == 'Q' && term[1] == 'd';
      const bool word = term.size() == 1 + indexer::kTermHashBytes && term[0] == 'Z';
      const bool field = term.size() == 2 + indexer::kTermHashBytes && term[0] == 'X';
      const bool prefix = term.size() == 1 + indexer::kTermHashBytes && term[0] == 'P';
      const bool tag = term.size() == 1 + indexer::kTermHashBytes && term[0] == 'K';
      CHECK((id || word || field || prefix || tag));
    }
  }
}

TEST_CASE("a tampered or truncated blob fails with a clear error") {
  Fixture f;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "row " + std::to_string(i) + "\n";  // > 2 chunks
  WriteFile(f.tmp / "t.txt", text);
  auto doc = f.Ingest(f.Ivan(), f.inv_case, f.tmp / "t.txt").at(0);
  auto ivan = f.Ivan();
  REQUIRE(Content(*f.repo, ivan, doc.id) == text);
  auto blobs = BlobFiles(f.dir);
  REQUIRE(blobs.size() == 1);
  const std::string good = ReadFile(blobs[0].string());

  SECTION("one flipped byte") {
    for (std::size_t pos : {std::size_t{3}, std::size_t{30}, good.size() / 2, good.size() - 2}) {
      std::string bad = good;
      bad[pos] ^= 0x20;
      WriteFile(blobs[0].string(), bad);
      CHECK(CodeOf([&] { Content(*f.repo, ivan, doc.id); }) == ErrorCode::kCorrupt);
    }
  }
  SECTION("truncated at a chunk boundary") {
    const std::size_t record = 4 + 64 * 1024 + 17;
    for (std::size_t cut : {std::size_t{28}, 28 + record}) {
      WriteFile(blobs[0].string(), good.substr(0, cut));
      CHECK(CodeOf([&] { Content(*f.repo, ivan, doc.id); }) == ErrorCode::kCorrupt);
    }
  }
  SECTION("a text chunk list cut short") {
    auto texts = AllFiles(f.dir + "/text");
    fs::path tf;
    for (auto& p : texts) if (p.parent_path().filename() != "tmp") tf = p;
    const std::string t = ReadFile(tf.string());
    // Drop the last record: the new last chunk was not sealed as last.
    std::size_t pos = 4, last = 4;
    while (pos < t.size()) {
      last = pos;
      std::uint32_t len = 0;
      for (int i = 0; i < 4; ++i) len |= std::uint32_t(static_cast<unsigned char>(t[pos + 8 + i])) << (8 * i);
      pos += 12 + len;
    }
    REQUIRE(last > 4);
    WriteFile(tf.string(), t.substr(0, last));
    CHECK(CodeOf([&] { f.repo->ReadText(ivan, doc.id); }) == ErrorCode::kCorrupt);
  }
}

TEST_CASE("identical content is stored once per access set") {
  Fixture f;
  WriteFile(f.tmp / "a/memo.txt", "the same memo text");
  WriteFile(f.tmp / "b/copy-of-memo.txt", "the same memo text");
  auto ivan = f.Ivan();
  auto first = f.Ingest(ivan, f.inv_case, f.tmp / "a");
  REQUIRE(first.at(0).status == repo::DocStatus::kIndexed);

  SECTION("the same file from the same place adds nothing") {
    auto again = f.Ingest(ivan, f.inv_case, f.tmp / "a");
    CHECK(again.at(0).status == repo::DocStatus::kExists);
    CHECK(again.at(0).id == first.at(0).id);
    CHECK(f.repo->ListDocuments(ivan, f.inv_case).size() == 1);
  }
  SECTION("from another path it is a duplicate, with no second blob or hit") {
    auto dup = f.Ingest(ivan, f.inv_case, f.tmp / "b");
    CHECK(dup.at(0).status == repo::DocStatus::kDuplicate);
    CHECK(dup.at(0).duplicate_of == first.at(0).id);
    CHECK(BlobFiles(f.dir).size() == 1);
    CHECK(f.Search(ivan, "memo").total == 1);
    auto info = f.repo->GetDocument(ivan, dup.at(0).id);
    CHECK(info.filename == "copy-of-memo.txt");
    CHECK(Content(*f.repo, ivan, dup.at(0).id) == "the same memo text");
    CHECK(f.repo->ListDocuments(ivan, f.inv_case).size() == 2);
  }
  SECTION("in another access set it is stored again") {
    auto other = f.Ingest(f.Lena(), f.legal_case, f.tmp / "a");
    CHECK(other.at(0).status == repo::DocStatus::kIndexed);
    CHECK(BlobFiles(f.dir).size() == 2);
  }
}

TEST_CASE("a second writer gets a clear error naming the holder") {
  Fixture f;
  try {
    repo::Repository::Open(f.dir);
    FAIL("a second writer opened the repository");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kConflict);
    CHECK(std::string(e.what()).find("pid " + std::to_string(::getpid())) != std::string::npos);
  }
  repo::OpenOptions ro;
  ro.read_only = true;
  auto reader = repo::Repository::Open(f.dir, ro);  // readers are not blocked
  CHECK(reader->Login("ivan", "ivan-password").user() == "ivan");
}

TEST_CASE("a protected server key needs its passphrase") {
  TempDir tmp;
  repo::InitOptions io;
  io.admin_user = "alice";
  io.admin_password = "alice-password";
  io.passphrase = "server passphrase";
  io.cost = crypto::PasswordCost::kInteractive;
  repo::Repository::Init(tmp / "r", io);
  CHECK(repo::Repository::ServerKeyProtected(tmp / "r"));
  CHECK(CodeOf([&] { repo::Repository::Open(tmp / "r"); }) == ErrorCode::kUnauthenticated);
  repo::OpenOptions wrong;
  wrong.passphrase = "not the passphrase";
  CHECK(CodeOf([&] { repo::Repository::Open(tmp / "r", wrong); }) == ErrorCode::kUnauthenticated);
  repo::OpenOptions right;
  right.passphrase = "server passphrase";
  CHECK(repo::Repository::Open(tmp / "r", right) != nullptr);
  // The recovery key went beside the directory, not into it.
  CHECK(fs::exists(tmp / "r.recovery-key"));
  CHECK((fs::status(tmp / "r/keys/server.key").permissions() & fs::perms::group_read) == fs::perms::none);
  SECTION("a recovery key inside the repository is refused") {
    io.recovery_key_out = tmp / "r2/inside.key";
    CHECK(CodeOf([&] { repo::Repository::Init(tmp / "r2", io); }) == ErrorCode::kInvalidArgument);
  }
  SECTION("another repository's recovery key is refused") {
    Fixture other;
    auto r = repo::Repository::Open(tmp / "r", right);
    CHECK(CodeOf([&] { r->LoginWithRecoveryKey(other.recovery); }) == ErrorCode::kUnauthenticated);
  }
}

TEST_CASE("reindex rebuilds a lost shard from the encrypted text") {
  Fixture f;
  std::mt19937 rng(3);
  for (int i = 0; i < 12; ++i) WriteFile(f.tmp / ("in/" + std::to_string(i) + ".txt"), Prose(rng, 60));
  WriteFile(f.tmp / "in/phrase.txt", "The phantom container repairs were never done.");
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  auto before = f.Search(f.Ivan(), "invoice OR \"container repairs\"");
  REQUIRE(before.total > 0);
  f.repo.reset();
  for (const auto& e : fs::directory_iterator(f.dir + "/index")) fs::remove_all(e.path());
  f.Reopen();
  // A lost shard is reported, with the remedy, never answered as no hits.
  try {
    f.Search(f.Ivan(), "invoice");
    FAIL("a search over a deleted shard answered");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kCorrupt);
    CHECK(std::string(e.what()).find("dossier reindex") != std::string::npos);
  }
  auto summary = f.repo->Reindex(f.repo->LoginWithRecoveryKey(f.recovery));
  CHECK(summary.documents == 13);
  auto after = f.Search(f.Ivan(), "invoice OR \"container repairs\"");
  REQUIRE(after.total == before.total);
  for (std::size_t i = 0; i < after.hits.size(); ++i) {
    CHECK(after.hits[i].document_id == before.hits[i].document_id);
    CHECK(after.hits[i].score == before.hits[i].score);
    CHECK(after.hits[i].snippet == before.hits[i].snippet);
  }
  SECTION("a user rebuilds only shards they can open") {
    auto s = f.repo->Reindex(f.Lena());
    CHECK(s.shards_rebuilt == 0);
    CHECK(s.shards_skipped == 1);
  }
}

TEST_CASE("a snippet comes from the chunk holding the match, even far into the text") {
  Fixture f;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "routine ledger line " + std::to_string(i) + "\n";
  text += "the final line names the quetzalwharf account\n";  // well past chunk 0
  WriteFile(f.tmp / "long.txt", text);
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "long.txt");
  auto found = f.Search(f.Ivan(), "quetzalwharf");
  REQUIRE(found.total == 1);
  CHECK(found.hits[0].snippet.find("<mark>quetzalwharf</mark>") != std::string::npos);
}

TEST_CASE("a reader upgrades a repository of the previous schema, unless a writer holds it") {
  Fixture f;
  f.repo.reset();
  {
    // Back to schema version 1 (no documents yet, so no key rows to convert).
    repo::sql::Db db(f.dir + "/dossier.db", false);
    db.Exec("DROP TABLE notifications; DROP TABLE reminders; DROP TABLE case_notes; DROP TABLE tasks; DROP TABLE case_history; DROP TABLE case_assignees; DROP INDEX cases_open; ALTER TABLE cases DROP COLUMN owner_id; ALTER TABLE cases DROP COLUMN risk; ALTER TABLE cases DROP COLUMN status; ALTER TABLE cases DROP COLUMN stage_since; ALTER TABLE cases DROP COLUMN stage; "
            "DROP TABLE audit_head; DROP TABLE audit_events; "
            "DROP TRIGGER documents_entity_shard; DROP TABLE link_notices; DROP TABLE stop_entities; "
            "DROP TABLE case_links; DROP TABLE entity_cases; DROP TABLE entity_postings; "
            "DROP INDEX documents_exceptions; DROP TABLE saved_searches; DROP TABLE custodian_terms; "
            "DROP TABLE document_tags; "
            "ALTER TABLE shards DROP COLUMN format; "
            "DROP INDEX documents_parent; DROP INDEX documents_duplicate; "
            "ALTER TABLE users DROP COLUMN totp_sealed; ALTER TABLE users DROP COLUMN totp_step; "
            "DROP INDEX documents_shard; DROP INDEX documents_unsettled; "
            "DROP INDEX documents_place; CREATE INDEX documents_place ON documents(place_key); "
            "DROP INDEX documents_dedup; CREATE INDEX documents_dedup ON documents(dedup_key); "
            "ALTER TABLE documents DROP COLUMN move_from; ALTER TABLE documents DROP COLUMN replaces; "
            "ALTER TABLE users DROP COLUMN disabled; "
            "DELETE FROM meta WHERE key IN ('index_epoch', 'membership_epoch'); "
            "DROP TABLE batch_keys; ALTER TABLE document_keys DROP COLUMN key_batch; "
            "ALTER TABLE documents DROP COLUMN key_batch; DROP TABLE key_batches; "
            "PRAGMA user_version=1");
  }
  repo::OpenOptions ro;
  ro.read_only = true;
  ro.cost = crypto::PasswordCost::kInteractive;
  {
    // A writer of the old format holds the lock: the reader must not migrate.
    const int lock = ::open((f.dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(::flock(lock, LOCK_EX | LOCK_NB) == 0);
    CHECK(CodeOf([&] { repo::Repository::Open(f.dir, ro); }) == ErrorCode::kConflict);
    ::close(lock);
  }
  auto reader = repo::Repository::Open(f.dir, ro);
  auto alice = reader->Login("alice", "alice-password");
  CHECK(reader->ListCases(alice).size() == 2);
  repo::sql::Db db(f.dir + "/dossier.db", false);
  repo::sql::Stmt v(db, "PRAGMA user_version");
  REQUIRE(v.Step());
  CHECK(v.Int(0) == repo::LatestSchemaVersion());
  reader.reset();
  // And the upgraded repository takes documents.
  f.Reopen();
  WriteFile(f.tmp / "in/a.txt", "harbour ledger");
  CHECK(f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in").size() == 1);
  CHECK(f.Search(f.Ivan(), "ledger").total == 1);
}

namespace {
void Sql(const std::string& dir, const std::string& sql) {
  repo::sql::Db db(dir + "/dossier.db", false);
  db.Exec("PRAGMA foreign_keys=OFF");
  db.Exec(sql);
}
}  // namespace

TEST_CASE("a row edited to point at another document is reported as damaged") {
  Fixture f;
  WriteFile(f.tmp / "in/a/memo.txt", "The first memo, about the sluice gate.");
  WriteFile(f.tmp / "in/b/other.txt", "Another memo entirely, about the weir.");
  WriteFile(f.tmp / "in/c/memo-copy.txt", "The first memo, about the sluice gate.");
  auto docs = f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  std::map<std::string, std::string> id;
  for (const auto& d : docs) id[d.path] = d.id;
  REQUIRE(id.size() == 3);
  std::string memo = id["a/memo.txt"], other = id["b/other.txt"], copy = id["c/memo-copy.txt"];
  auto ivan = f.Ivan();
  // Two extraction workers run at once: either file of the same content
  // may be staged first and become the original.
  if (f.repo->GetDocument(ivan, copy).duplicate_of.empty()) std::swap(memo, copy);
  REQUIRE(f.repo->GetDocument(ivan, copy).duplicate_of == memo);
  SECTION("an original made to look like a copy of another") {
    Sql(f.dir, "UPDATE documents SET duplicate_of='" + other + "' WHERE id='" + memo + "'");
    CHECK(CodeOf([&] { f.repo->ReadText(ivan, memo); }) == ErrorCode::kCorrupt);
    CHECK(CodeOf([&] { Content(*f.repo, ivan, memo); }) == ErrorCode::kCorrupt);
    CHECK(CodeOf([&] { f.repo->GetDocument(ivan, memo); }) == ErrorCode::kCorrupt);
  }
  SECTION("a copy pointed at another original") {
    Sql(f.dir, "UPDATE documents SET duplicate_of='" + other + "' WHERE id='" + copy + "'");
    CHECK(CodeOf([&] { f.repo->ReadText(ivan, copy); }) == ErrorCode::kCorrupt);
    CHECK(CodeOf([&] { Content(*f.repo, ivan, copy); }) == ErrorCode::kCorrupt);
  }
  SECTION("a document's stored file swapped for another's") {
    Sql(f.dir, "UPDATE documents SET blob=(SELECT blob FROM documents WHERE id='" + other +
                   "'), text=(SELECT text FROM documents WHERE id='" + other + "') WHERE id='" +
                   memo + "'");
    CHECK(CodeOf([&] { f.repo->ReadText(ivan, memo); }) == ErrorCode::kCorrupt);
    CHECK(CodeOf([&] { Content(*f.repo, ivan, memo); }) == ErrorCode::kCorrupt);
  }
  SECTION("a document moved to another case") {
    Sql(f.dir, "UPDATE documents SET case_id='" + f.legal_case + "' WHERE id='" + other + "'");
    CHECK(CodeOf([&] { f.repo->GetDocument(ivan, other); }) == ErrorCode::kCorrupt);
  }
  SECTION("a damaged hit is left out of the page with a note; the rest stands") {
    Sql(f.dir, "UPDATE documents SET size=size+1 WHERE id='" + other + "'");
    auto res = f.Search(ivan, "memo");
    CHECK(res.total == 2);
    REQUIRE(res.hits.size() == 1);
    CHECK(res.hits[0].document_id == memo);
    CHECK(res.damaged == 1);
    CHECK(res.note.find("damaged") != std::string::npos);
  }
}

TEST_CASE("plaintext columns read back are validated: a malformed access set is an error") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "A memo about the lock keeper.");
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  for (const std::string bad : {"zz", "", "3,1", "1,", "99999999999999999999"}) {
    INFO("access set '" << bad << "'");
    Sql(f.dir, "UPDATE shards SET access_set='" + bad + "'");
    try {
      f.Search(f.Ivan(), "memo");
      FAIL("a damaged access set was accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kCorrupt);
      CHECK(std::string(e.what()).find("access set") != std::string::npos);
    }
  }
}

TEST_CASE("a flipped byte in an unprotected server key is reported, not searched with") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "A memo about the lock keeper.");
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  f.repo.reset();
  const std::string path = f.dir + "/keys/server.key";
  for (std::size_t at : {std::size_t{7}, std::size_t{5 + 32 + 10}}) {  // index key, signing key
    INFO("byte " << at);
    std::string key = ReadFile(path);
    key[at] ^= 0x01;
    WriteFile(path, key);
    try {
      f.Reopen();
      FAIL("a damaged server key opened");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kCorrupt);
      CHECK(std::string(e.what()).find("server.key") != std::string::npos);
    }
    key[at] ^= 0x01;
    WriteFile(path, key);
  }
  f.Reopen();
  CHECK(f.Search(f.Ivan(), "keeper").total == 1);
}

TEST_CASE("an edited text chunk header fails to open, and its hit is left out") {
  Fixture f;
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "routine towpath line " + std::to_string(i) + "\n";
  text += "the last line names the barge\n";
  WriteFile(f.tmp / "in/long.txt", text);
  WriteFile(f.tmp / "in/short.txt", "a short note about the barge");
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  auto ivan = f.Ivan();
  REQUIRE(f.Search(ivan, "barge").total == 2);
  // The text file of long.txt: the one with several records. Point the
  // first record's positions at the match (as if it held it).
  std::string target;
  for (const auto& p : AllFiles(f.dir + "/text")) {
    if (p.parent_path().filename() != "tmp" && ReadFile(p.string()).size() > 20000) target = p.string();
  }
  REQUIRE_FALSE(target.empty());
  std::string t = ReadFile(target);
  REQUIRE(t.compare(0, 4, "DST2") == 0);
  for (int i = 0; i < 4; ++i) t[8 + i] = '\xff';  // end_pos of the first chunk
  WriteFile(target, t);
  const auto res = f.Search(ivan, "barge");
  CHECK(res.total == 2);
  CHECK(res.hits.size() == 1);
  CHECK(res.damaged == 1);
  const std::string long_id = [&] {
    for (const auto& d : f.repo->ListDocuments(ivan, f.inv_case)) {
      if (d.filename == "long.txt") return d.id;
    }
    return std::string();
  }();
  CHECK(CodeOf([&] { f.repo->ReadText(ivan, long_id); }) == ErrorCode::kCorrupt);
}
