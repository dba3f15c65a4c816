// Role membership, ended properly: removing a member rotates the role's
// keys, so the key the ex-member kept opens nothing written or re-sealed
// afterwards; disabling a user ends every access at once; live sessions
// follow membership without logging in again.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>

#include "base/error.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "repo/sqlite.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

// What an ex-member could have kept: their copy of a role's key pair,
// opened as Dossier opens it (their password-wrapped key, then the sealed
// role key of their membership row).
crypto::KeyPair SavedRoleKey(const std::string& dir, const std::string& user,
                             const std::string& password, const std::string& role) {
  repo::sql::Db db(dir + "/dossier.db", false);
  repo::sql::Stmt u(db, "SELECT id, public_key, wrapped_secret FROM users WHERE name=?");
  u.Bind(1, user);
  REQUIRE(u.Step());
  crypto::KeyPair me;
  const crypto::Bytes pk = u.Blob(1);
  std::copy(pk.begin(), pk.end(), me.public_key.begin());
  me.secret_key = crypto::UnwrapWithPassword(u.Blob(2), password);
  repo::sql::Stmt m(db,
                    "SELECT r.public_key, m.sealed_secret FROM role_members m JOIN roles r ON "
                    "r.id=m.role_id WHERE m.user_id=? AND r.name=?");
  m.Bind(1, u.Int(0)).Bind(2, role);
  REQUIRE(m.Step());
  crypto::KeyPair rk;
  const crypto::Bytes rpk = m.Blob(0);
  std::copy(rpk.begin(), rpk.end(), rk.public_key.begin());
  rk.secret_key = crypto::OpenSealed(me, m.Blob(1));
  return rk;
}

// How many sealed rows of the role `key` still opens: batch keys, case
// keys, and data keys sealed directly.
int RowsOpenedBy(const std::string& dir, const crypto::KeyPair& key, const std::string& role) {
  repo::sql::Db db(dir + "/dossier.db", false);
  int opened = 0;
  for (const char* sql :
       {"SELECT b.sealed_key FROM batch_keys b JOIN roles r ON r.id=b.role_id WHERE r.name=?",
        "SELECT g.sealed_key FROM case_grants g JOIN roles r ON r.id=g.role_id WHERE r.name=?",
        "SELECT k.sealed_key FROM document_keys k JOIN roles r ON r.id=k.role_id WHERE r.name=? "
        "AND k.key_batch IS NULL"}) {
    repo::sql::Stmt s(db, sql);
    s.Bind(1, role);
    while (s.Step()) {
      try {
        crypto::OpenSealed(key, s.Blob(0));
        ++opened;
      } catch (const Error&) {
      }
    }
  }
  return opened;
}

}  // namespace

TEST_CASE("an ex-member's saved role key opens nothing ingested or re-sealed after the removal") {
  Fixture f;
  WriteFile(f.tmp / "before/a.txt", "Before the removal: the quarry ledger.");
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "before");
  auto ivan_live = f.Ivan();  // a session from before the removal
  const crypto::KeyPair saved = SavedRoleKey(f.dir, "ivan", "ivan-password", "investigator");
  REQUIRE(RowsOpenedBy(f.dir, saved, "investigator") > 0);  // it did open things

  f.repo->RemoveMember(f.Alice(), "investigator", "ivan");
  WriteFile(f.tmp / "after/b.txt", "After the removal: the quarry invoices.");
  auto after = f.Ingest(f.Alice(), f.inv_case, f.tmp / "after");
  REQUIRE(after.size() == 1);

  // The saved key opens no sealed row at all: every batch and case key of
  // the role was re-sealed to its new key, and new batches use it.
  CHECK(RowsOpenedBy(f.dir, saved, "investigator") == 0);
  {
    // Nor the new document's wrapped key, through any batch it can reach.
    repo::sql::Db db(f.dir + "/dossier.db", false);
    repo::sql::Stmt k(db, "SELECT key_batch FROM document_keys WHERE doc_id=?");
    k.Bind(1, after[0].id);
    REQUIRE(k.Step());
    repo::sql::Stmt b(db, "SELECT sealed_key FROM batch_keys WHERE batch_id=?");
    b.Bind(1, k.Int(0));
    REQUIRE(b.Step());
    CHECK_THROWS(crypto::OpenSealed(saved, b.Blob(0)));
  }
  // Ivan's live session lost the role at its next call; a new login has none.
  CHECK(ivan_live.roles().empty() == false);  // as it was when last used
  CHECK(f.Search(ivan_live, "quarry").total == 0);
  CHECK(ivan_live.roles().empty());
  CHECK(f.Ivan().roles().empty());
  CHECK(CodeOf([&] { f.repo->GetCase(f.Ivan(), f.inv_case); }) == ErrorCode::kNotFound);
  // Those still holding the role read old and new, so does the recovery key.
  CHECK(f.Search(f.Alice(), "quarry").total == 2);
  auto rec = f.repo->LoginWithRecoveryKey(f.recovery);
  CHECK(f.Search(rec, "quarry").total == 2);
  // And after a restart, nothing depends on cached keys.
  f.Reopen();
  CHECK(f.Search(f.Alice(), "quarry").total == 2);
  CHECK(CodeOf([&] { f.repo->RemoveMember(f.Alice(), "investigator", "ivan"); }) ==
        ErrorCode::kNotFound);
}

TEST_CASE("a live session picks up a role it is given, without logging in again") {
  Fixture f;
  WriteFile(f.tmp / "in/memo.txt", "Counsel memo about the estuary permit.");
  f.Ingest(f.Lena(), f.legal_case, f.tmp / "in");
  auto ivan = f.Ivan();
  CHECK(f.Search(ivan, "estuary").total == 0);
  f.repo->AddMember(f.Alice(), "legal", "ivan");
  CHECK(f.Search(ivan, "estuary").total == 1);
  CHECK(ivan.roles() == std::vector<std::string>{"investigator", "legal"});
}

TEST_CASE("a disabled user cannot log in, their sessions end, and their roles are rotated") {
  Fixture f;
  WriteFile(f.tmp / "in/memo.txt", "Counsel memo about the estuary permit.");
  f.Ingest(f.Lena(), f.legal_case, f.tmp / "in");
  auto lena_live = f.Lena();
  const crypto::KeyPair saved = SavedRoleKey(f.dir, "lena", "lena-password", "legal");
  CHECK(CodeOf([&] { f.repo->DisableUser(f.Ivan(), "lena"); }) == ErrorCode::kForbidden);
  f.repo->DisableUser(f.Alice(), "lena");
  CHECK(CodeOf([&] { f.Lena(); }) == ErrorCode::kForbidden);
  CHECK(CodeOf([&] { f.Search(lena_live, "estuary"); }) != ErrorCode::kInternal);
  CHECK_THROWS_AS(f.Search(lena_live, "estuary"), Error);
  CHECK(RowsOpenedBy(f.dir, saved, "legal") == 0);
  // What she did stays: her document, readable by the role's other members.
  CHECK(f.Search(f.Alice(), "estuary").total == 1);
  CHECK(CodeOf([&] { f.repo->AddMember(f.Alice(), "legal", "lena"); }) == ErrorCode::kConflict);
  CHECK(CodeOf([&] { f.repo->DisableUser(f.Alice(), "alice"); }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("a session of another repository is refused by every method") {
  Fixture a, b;
  auto foreign = b.Alice();
  WriteFile(a.tmp / "in/x.txt", "text");
  CHECK(CodeOf([&] { a.repo->GrantRole(foreign, a.inv_case, "legal"); }) ==
        ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { a.repo->RevokeRole(foreign, a.inv_case, "investigator"); }) ==
        ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { a.repo->Reindex(foreign); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { a.Ingest(foreign, a.inv_case, a.tmp / "in"); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { a.repo->ListCases(foreign); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { a.repo->RemoveMember(foreign, "legal", "lena"); }) ==
        ErrorCode::kUnauthenticated);
}

TEST_CASE("a member removed while an ingest runs gets nothing of what it writes afterwards") {
  std::mutex mu;
  std::condition_variable cv;
  bool paused = false, resume = false;
  repo::OpenOptions o;
  o.commit_group = 2;
  auto count = std::make_shared<int>(0);
  o.fault = [&, count](std::string_view p) {
    if (p != "after_blob_written" || ++*count != 1) return;
    std::unique_lock lock(mu);
    paused = true;
    cv.notify_all();
    cv.wait(lock, [&] { return resume; });
  };
  Fixture f(o);
  for (int i = 0; i < 8; ++i) {
    WriteFile(f.tmp / ("in/n" + std::to_string(10 + i) + ".txt"), "Tide table " + std::to_string(i));
  }
  const crypto::KeyPair saved = SavedRoleKey(f.dir, "ivan", "ivan-password", "investigator");
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  auto alice = f.Alice();
  const std::string job = f.repo->StartIngest(alice, req);
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return paused; });
  }
  // Mid-ingest: its key batch is made (sealed to the old key) but not yet
  // stored, as no group has committed.
  f.repo->RemoveMember(f.Alice(), "investigator", "ivan");
  {
    std::lock_guard lock(mu);
    resume = true;
  }
  cv.notify_all();
  for (;;) {
    auto info = f.repo->WaitJob(alice, job, SIZE_MAX, std::chrono::seconds(1), nullptr);
    if (info.state != repo::JobState::kRunning && info.state != repo::JobState::kQueued) {
      REQUIRE(info.state == repo::JobState::kDone);
      break;
    }
  }
  CHECK(RowsOpenedBy(f.dir, saved, "investigator") == 0);
  CHECK(f.Search(f.Alice(), "tide").total == 8);
  CHECK(f.Search(f.Alice(), "tide").damaged == 0);
}
