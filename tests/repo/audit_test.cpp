// The audit trail: what it records, and every way of changing it quietly
// (an edited, deleted, inserted or reordered event, a changed head, a cut
// tail behind an older head) caught and named.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "crypto/merkle.h"
#include "repo/audit_trail.h"
#include "repo/sqlite.h"
#include "repo/views.h"
#include "tests/support.h"

#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-page.h>

using namespace dossier;
using namespace dossier::testing;

namespace {

bool Has(const std::vector<repo::AuditEventInfo>& events, const std::string& actor, const std::string& action,
         const std::string& target) {
  return std::any_of(events.begin(), events.end(), [&](const repo::AuditEventInfo& e) {
    return e.actor == actor && e.action == action && e.target == target;
  });
}

// A fixture with a dozen events or more, all under a signed head.
struct Trail {
  Fixture f;
  std::uint64_t size = 0;
  Trail() {
    auto ivan = f.Ivan();
    f.Search(ivan, "anything");
    f.repo->GetCase(ivan, f.inv_case);
    size = f.repo->SignedAuditHead().size;
    REQUIRE(size >= 10);
  }
  // Closes the repository, changes its database by hand, and checks a
  // fresh open's verdict.
  repo::AuditVerdict Tampered(const std::string& sql, const std::optional<repo::AuditHead>& against = {}) {
    f.repo.reset();
    {
      repo::sql::Db db(f.dir + "/dossier.db", false);
      db.Exec(sql);
    }
    repo::OpenOptions ro;
    ro.read_only = true;
    ro.cost = crypto::PasswordCost::kInteractive;
    auto r = repo::Repository::Open(f.dir, ro);
    return r->VerifyAudit(against);
  }
};

}  // namespace

TEST_CASE("changes and reads land in the trail in order, under a signed head") {
  Fixture f;
  auto alice = f.Alice();
  auto ivan = f.Ivan();
  WriteFile(f.tmp / "in/note.txt", "the invoice of the quarter\n");
  const auto docs = f.Ingest(ivan, f.inv_case, f.tmp / "in");
  REQUIRE(docs.size() == 1);
  f.Search(ivan, "invoice");
  CHECK_THROWS_AS(f.repo->Login("ivan", "wrong"), Error);
  const auto head = f.repo->SignedAuditHead();
  const auto events = f.repo->AuditEvents(alice, {});
  REQUIRE(events.size() == head.size);
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].seq == i + 1);
  CHECK(Has(events, "alice", "role_added", "investigator"));
  CHECK(Has(events, "alice", "user_added", "ivan"));
  CHECK(Has(events, "alice", "case_created", f.inv_case));
  CHECK(Has(events, "ivan", "login", "ivan"));
  CHECK(Has(events, "ivan", "searched", ""));
  CHECK(Has(events, "ivan", "document_added", docs[0].id));
  CHECK(Has(events, "ivan", "ingest_started", f.inv_case));
  CHECK(Has(events, "", "login_failed", "ivan"));
  // Nothing of a case's title or a query is in clear.
  for (const auto& e : events) {
    CHECK(e.target.find("Investigation") == std::string::npos);
    CHECK(e.target.find("invoice") == std::string::npos);
    CHECK(e.target.find("note.txt") == std::string::npos);
  }
  const auto v = f.repo->VerifyAudit();
  CHECK(v.ok);
  CHECK(v.events == head.size);
  CHECK(v.unsigned_events == 0);
  CHECK(v.problem.empty());

  // Filters, and paging after a seq.
  repo::AuditFilter by_ivan;
  by_ivan.actor = "ivan";
  for (const auto& e : f.repo->AuditEvents(alice, by_ivan)) CHECK(e.actor == "ivan");
  repo::AuditFilter page;
  page.after = 3;
  page.limit = 2;
  const auto two = f.repo->AuditEvents(alice, page);
  REQUIRE(two.size() == 2);
  CHECK(two[0].seq == 4);

  // Only admins and the auditor role read it.
  CHECK(CodeOf([&] { f.repo->AuditEvents(ivan, {}); }) == ErrorCode::kForbidden);
  CHECK(CodeOf([&] { f.repo->ProveAuditEvent(ivan, 1); }) == ErrorCode::kForbidden);
  f.repo->AddRole(alice, "auditor");
  f.repo->AddUser(f.Alice(), "audra", "audra-password", {"auditor"});
  auto audra = f.repo->Login("audra", "audra-password");
  CHECK(Has(f.repo->AuditEvents(audra, {}), "alice", "user_added", "audra"));
}

TEST_CASE("a search's query is sealed for the auditor role and the recovery key, and found by its hash") {
  Fixture f;
  auto alice = f.Alice();
  // Alice makes the role without joining it; the recovery key gives it its member.
  f.repo->AddRole(alice, "auditor", /*join=*/false);
  f.repo->AddUser(f.repo->LoginWithRecoveryKey(f.recovery), "audra", "audra-password", {"auditor"});
  auto ivan = f.Ivan();
  f.Search(ivan, "zanzibarmarker quay");
  f.Search(ivan, "something else");
  f.Search(ivan, "zanzibarmarker quay");
  repo::AuditFilter searches;
  searches.action = "searched";
  // The auditor opens the queries.
  auto audra = f.repo->Login("audra", "audra-password");
  const auto seen = f.repo->AuditEvents(audra, searches);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].detail == std::optional<std::string>("zanzibarmarker quay"));
  CHECK(seen[1].detail == std::optional<std::string>("something else"));
  CHECK(seen[0].detail_hash == seen[2].detail_hash);
  CHECK(seen[0].detail_hash != seen[1].detail_hash);
  // An admin outside the role sees that there is a query, not what it is.
  for (const auto& e : f.repo->AuditEvents(alice, searches)) {
    CHECK_FALSE(e.detail);
    CHECK_FALSE(e.sealed.empty());
  }
  // The recovery key opens them too.
  auto recovery = f.repo->LoginWithRecoveryKey(f.recovery);
  CHECK(f.repo->AuditEvents(recovery, searches)[1].detail == std::optional<std::string>("something else"));
  // Events of one query, found by its keyed hash.
  repo::AuditFilter same = searches;
  same.detail = "zanzibarmarker quay";
  CHECK(f.repo->AuditEvents(alice, same).size() == 2);
  CHECK(f.repo->VerifyAudit().ok);
  // And no byte of the query is in the repository's files.
  f.repo.reset();
  for (const auto& file : AllFiles(f.dir)) CHECK(ReadFile(file.string()).find("zanzibarmarker") == std::string::npos);
}

TEST_CASE("a document's chain of custody: its intake hashes and every event on it") {
  Fixture f;
  auto ivan = f.Ivan();
  WriteFile(f.tmp / "in/ledger.txt", "ledger of the pier\n");
  const auto docs = f.Ingest(ivan, f.inv_case, f.tmp / "in");
  REQUIRE(docs.size() == 1);
  const std::string id = docs[0].id;
  f.repo->GetDocument(ivan, id);
  Content(*f.repo, ivan, id);
  auto alice = f.Alice();
  const auto report = f.repo->DocumentCustody(alice, id);
  CHECK(report.document.sha256 == docs[0].sha256);
  CHECK(report.document.filename == "ledger.txt");
  std::vector<std::string> actions;
  for (const auto& e : report.events) {
    CHECK(e.target == id);
    actions.push_back(e.actor + " " + e.action);
  }
  CHECK(CodeOf([&] { f.repo->DocumentCustody(f.Lena(), id); }) == ErrorCode::kNotFound);
  // An export of a hit list holding it shows in its custody too.
  {
    repo::SearchRequest q;
    q.query = "ledger";
    CHECK(f.repo->ExportHits(ivan, q).size() == 1);
    const auto exported = f.repo->DocumentCustody(alice, id);
    CHECK(std::any_of(exported.events.begin(), exported.events.end(),
                      [&](const auto& e) { return e.target == id && e.action == "document_exported" && e.actor == "ivan"; }));
  }
  // A grant on its case moves it: the custody report shows the move.
  f.repo->GrantRole(alice, f.inv_case, "legal");
  const auto moved = f.repo->DocumentCustody(alice, id);
  REQUIRE(moved.events.size() > report.events.size());
  CHECK(std::any_of(moved.events.begin(), moved.events.end(),
                    [&](const auto& e) { return e.target == f.inv_case + ":legal" && e.action == "granted"; }));
  CHECK(std::is_sorted(moved.events.begin(), moved.events.end(),
                       [](const auto& a, const auto& b) { return a.seq < b.seq; }));
  REQUIRE(actions.size() >= 3);
  CHECK(actions[0] == "ivan document_added");
  CHECK(std::find(actions.begin(), actions.end(), "ivan content_read") != actions.end());
  CHECK(std::find(actions.begin(), actions.end(), "ivan document_read") != actions.end());
  CHECK_FALSE(report.truncated);
  // The same report as a PDF: poppler reads back the intake hash, a
  // filename in another script, and every event.
  repo::CustodyReport renamed = report;
  renamed.document.filename = "реестр 台帳 ledger.txt";
  const std::string pdf = repo::views::CustodyPdf(renamed, 1'800'000'000);
  REQUIRE(pdf.rfind("%PDF-", 0) == 0);
  std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(pdf.data(), static_cast<int>(pdf.size())));
  REQUIRE(doc);
  std::string text;
  for (int i = 0; i < doc->pages(); ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    const auto utf8 = page->text().to_utf8();
    text.append(utf8.begin(), utf8.end());
  }
  CHECK(text.find(report.document.sha256) != std::string::npos);
  CHECK(text.find("реестр 台帳 ledger.txt") != std::string::npos);
  CHECK(text.find("document_added") != std::string::npos);
  CHECK(text.find("content_read") != std::string::npos);
  CHECK(text.find("2027-01-15T08:00:00Z") != std::string::npos);
  // Many events run over several pages, numbered.
  repo::CustodyReport many = report;
  for (int i = 0; i < 200; ++i) many.events.push_back(report.events.back());
  const std::string many_pdf = repo::views::CustodyPdf(many, 0);
  std::unique_ptr<poppler::document> long_doc(
      poppler::document::load_from_raw_data(many_pdf.data(), static_cast<int>(many_pdf.size())));
  REQUIRE(long_doc);
  CHECK(long_doc->pages() > 3);
  // Not for a user outside the auditor role; not for someone who may not
  // open the document (the same answer as for no document).
  CHECK(CodeOf([&] { f.repo->DocumentCustody(ivan, id); }) == ErrorCode::kForbidden);
}

TEST_CASE("queued reads are appended within the delay, without a flush") {
  repo::OpenOptions o;
  o.audit_delay = std::chrono::milliseconds(50);
  Fixture f(o);
  auto ivan = f.Ivan();
  f.Search(ivan, "anything");
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    repo::sql::Db db(f.dir + "/dossier.db", false);
    repo::sql::Stmt st(db, "SELECT count(*) FROM audit_events WHERE actor = 'ivan' AND action = 'searched'");
    REQUIRE(st.Step());
    found = st.Int(0) == 1;
  }
  CHECK(found);
}

TEST_CASE("a read-only process beside a writer appends its reads in a transaction of its own") {
  Fixture f;
  {
    repo::OpenOptions ro;
    ro.read_only = true;
    ro.cost = crypto::PasswordCost::kInteractive;
    auto reader = repo::Repository::Open(f.dir, ro);
    auto lena = reader->Login("lena", "lena-password");
    reader->GetCase(lena, f.legal_case);
  }
  auto alice = f.Alice();
  const auto events = f.repo->AuditEvents(alice, {});
  CHECK(Has(events, "lena", "login", "lena"));
  CHECK(Has(events, "lena", "case_read", f.legal_case));
  CHECK(f.repo->VerifyAudit().ok);
}

TEST_CASE("an event's inclusion proof and a consistency proof between heads check out") {
  Trail t;
  auto alice = t.f.Alice();
  const auto first = t.f.repo->SignedAuditHead();
  t.f.Search(t.f.Ivan(), "more");
  for (std::uint64_t seq : {std::uint64_t{1}, std::uint64_t{7}, t.size}) {
    const auto p = t.f.repo->ProveAuditEvent(alice, seq);
    repo::AuditLeaf leaf;
    leaf.seq = p.event.seq;
    leaf.at = p.event.at;
    leaf.actor = p.event.actor;
    leaf.action = p.event.action;
    leaf.target = p.event.target;
    const auto dh = crypto::FromHex(p.event.detail_hash), sealed = crypto::FromHex(p.event.sealed);
    leaf.detail_hash.assign(dh.begin(), dh.end());
    leaf.sealed.assign(sealed.begin(), sealed.end());
    const auto prev = crypto::FromHex(p.prev);
    std::copy(prev.begin(), prev.end(), leaf.prev.begin());
    const crypto::Hash32 hash = crypto::MerkleLeafHash(repo::EncodeAuditLeaf(leaf));
    CHECK(crypto::ToHex(hash.data(), 32) == p.event.hash);
    std::vector<crypto::Hash32> path;
    for (const auto& h : p.path) {
      const auto b = crypto::FromHex(h);
      path.emplace_back();
      std::copy(b.begin(), b.end(), path.back().begin());
    }
    crypto::Hash32 root;
    const auto rb = crypto::FromHex(p.head.root);
    std::copy(rb.begin(), rb.end(), root.begin());
    CHECK(crypto::VerifyInclusion(hash, seq - 1, p.head.size, path, root));
    CHECK(p.path.size() <= 64);
  }
  const auto c = t.f.repo->ProveAuditConsistency(first.size);
  CHECK(c.first_root == first.root);
  CHECK(c.head.size > first.size);
  CHECK(CodeOf([&] { t.f.repo->ProveAuditEvent(alice, c.head.size + 5); }) == ErrorCode::kNotFound);
}

TEST_CASE("verify names the first edited, deleted, inserted or reordered event") {
  SECTION("edited") {
    Trail t;
    const auto v = t.Tampered("UPDATE audit_events SET target = 'someone-else' WHERE seq = 5");
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 5);
    CHECK(v.problem.find("changed") != std::string::npos);
  }
  SECTION("edited, with its hash recomputed") {
    Trail t;
    // Whoever rewrites one event and its hash breaks the next one's link.
    std::string sql;
    {
      repo::sql::Db db(t.f.dir + "/dossier.db", false);
      repo::sql::Stmt st(db, "SELECT seq, at, actor, action, target, detail_hash, sealed, prev FROM audit_events "
                             "WHERE seq = 5");
      REQUIRE(st.Step());
      const auto dh = st.Blob(5), sealed = st.Blob(6);
      repo::AuditLeaf leaf{5, st.Int(1), st.Text(2), st.Text(3), "someone-else",
                           std::string(dh.begin(), dh.end()), std::string(sealed.begin(), sealed.end()), {}};
      const auto prev = st.Blob(7);
      std::copy(prev.begin(), prev.end(), leaf.prev.begin());
      const auto h = crypto::MerkleLeafHash(repo::EncodeAuditLeaf(leaf));
      sql = "UPDATE audit_events SET target = 'someone-else', hash = X'" + crypto::ToHex(h.data(), 32) +
            "' WHERE seq = 5";
    }
    const auto v = t.Tampered(sql);
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 6);
  }
  SECTION("deleted") {
    Trail t;
    const auto v = t.Tampered("DELETE FROM audit_events WHERE seq = 5");
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 5);
    CHECK(v.problem.find("missing") != std::string::npos);
  }
  SECTION("inserted") {
    Trail t;
    const auto v = t.Tampered(
        "UPDATE audit_events SET seq = seq + 1000000 WHERE seq >= 5;"
        "UPDATE audit_events SET seq = seq - 999999 WHERE seq > 1000000;"
        "INSERT INTO audit_events SELECT 5, at, 'mallory', action, target, detail_hash, sealed, hash, hash "
        "FROM audit_events WHERE seq = 4;");
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 5);
  }
  SECTION("reordered") {
    Trail t;
    const auto v = t.Tampered(
        "UPDATE audit_events SET seq = -1 WHERE seq = 5; UPDATE audit_events SET seq = 5 WHERE seq = 6;"
        "UPDATE audit_events SET seq = 6 WHERE seq = -1;");
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 5);
  }
  SECTION("the signed head changed") {
    Trail t;
    const auto v = t.Tampered("UPDATE audit_head SET at = at + 1");
    CHECK_FALSE(v.ok);
    CHECK(v.problem.find("signature") != std::string::npos);
  }
  SECTION("the signed head's size changed") {
    Trail t;
    const auto v = t.Tampered("UPDATE audit_head SET size = size - 1");
    CHECK_FALSE(v.ok);
    CHECK(v.problem.find("head") != std::string::npos);
  }
  SECTION("the tail cut") {
    Trail t;
    const auto v = t.Tampered("DELETE FROM audit_events WHERE seq > 8");
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 9);
    CHECK(v.problem.find("cut") != std::string::npos);
  }
}

TEST_CASE("a running server does not sign a head over a trail changed under it, and keeps recording reads") {
  SECTION("the head deleted") {
    Trail t;
    { repo::sql::Db(t.f.dir + "/dossier.db", false).Exec("DELETE FROM audit_head"); }
    t.f.Search(t.f.Ivan(), "after the head went");
    CHECK(CodeOf([&] { t.f.repo->SignedAuditHead(); }) == ErrorCode::kCorrupt);
    // The reads were still appended (unsigned).
    repo::sql::Db db(t.f.dir + "/dossier.db", false);
    repo::sql::Stmt n(db, "SELECT count(*) FROM audit_events WHERE action = 'searched'");
    REQUIRE(n.Step());
    CHECK(n.Int(0) == 2);
    CHECK_FALSE(t.f.repo->VerifyAudit().ok);
  }
  SECTION("the rows and the stored edge rewritten") {
    Trail t;
    // A forger rewrites event 2 and every hash after it, and the stored
    // edge to match, leaving the signed root: the server must not sign it.
    {
      repo::sql::Db db(t.f.dir + "/dossier.db", false);
      repo::sql::Stmt rows(db, "SELECT seq, at, actor, action, target, detail_hash, sealed FROM audit_events ORDER BY seq");
      crypto::Hash32 prev{};
      crypto::MerkleFrontier edge;
      std::vector<std::string> updates;
      while (rows.Step()) {
        const auto dh = rows.Blob(5), sealed = rows.Blob(6);
        repo::AuditLeaf leaf{static_cast<std::uint64_t>(rows.Int(0)), rows.Int(1), rows.Text(2), rows.Text(3),
                             rows.Int(0) == 2 ? std::string("forged") : rows.Text(4),
                             std::string(dh.begin(), dh.end()), std::string(sealed.begin(), sealed.end()), prev};
        const crypto::Hash32 h = crypto::MerkleLeafHash(repo::EncodeAuditLeaf(leaf));
        updates.push_back("UPDATE audit_events SET target = '" + leaf.target + "', prev = X'" +
                          crypto::ToHex(prev.data(), 32) + "', hash = X'" + crypto::ToHex(h.data(), 32) +
                          "' WHERE seq = " + std::to_string(leaf.seq));
        edge.Append(h);
        prev = h;
      }
      std::string edge_hex;
      for (const auto& r : edge.roots()) edge_hex += crypto::ToHex(r.data(), 32);
      for (const auto& u : updates) db.Exec(u);
      db.Exec("UPDATE audit_head SET edge = X'" + edge_hex + "'");
    }
    t.f.Search(t.f.Ivan(), "after the rewrite");
    CHECK(CodeOf([&] { t.f.repo->SignedAuditHead(); }) == ErrorCode::kCorrupt);
    const auto v = t.f.repo->VerifyAudit();
    CHECK_FALSE(v.ok);
  }
}

TEST_CASE("a cut tail behind a restored older head is caught against a head kept elsewhere") {
  Trail t;
  std::string old_head_row;
  {
    repo::sql::Db db(t.f.dir + "/dossier.db", false);
    repo::sql::Stmt st(db, "SELECT quote(size), quote(root), quote(at), quote(signature), quote(edge) FROM audit_head");
    REQUIRE(st.Step());
    old_head_row = st.Text(0) + ", " + st.Text(1) + ", " + st.Text(2) + ", " + st.Text(3) + ", " + st.Text(4);
  }
  auto ivan = t.f.Ivan();
  t.f.Search(ivan, "what was cut");
  const repo::AuditHead kept = t.f.repo->SignedAuditHead();  // exported, kept elsewhere
  REQUIRE(kept.size > t.size);
  const std::string cut = "DELETE FROM audit_events WHERE seq > " + std::to_string(t.size) +
                          "; INSERT OR REPLACE INTO audit_head(id, size, root, at, signature, edge) VALUES(1, " +
                          old_head_row + ")";
  const auto alone = t.Tampered(cut);
  CHECK(alone.ok);  // consistent with itself: only a head kept elsewhere tells
  CHECK(alone.events == t.size);
  repo::OpenOptions ro;
  ro.read_only = true;
  ro.cost = crypto::PasswordCost::kInteractive;
  auto r = repo::Repository::Open(t.f.dir, ro);
  const auto v = r->VerifyAudit(kept);
  CHECK_FALSE(v.ok);
  CHECK(v.first_bad == t.size + 1);
  CHECK(v.problem.find("cut") != std::string::npos);
  // A head kept elsewhere that was itself changed is refused as such.
  repo::AuditHead forged = kept;
  forged.size -= 1;
  CHECK(r->VerifyAudit(forged).problem.find("signature") != std::string::npos);
}
