// Passwords, the second factor, the admin's listings, uploads and a
// document's family, through the Repository façade.
#include <liboath/oath.h>

#include <thread>

#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

// The code an authenticator shows for `base32` at `now`.
std::string TotpAt(const std::string& base32, std::int64_t now) {
  REQUIRE(oath_init() == OATH_OK);
  char* secret = nullptr;
  size_t len = 0;
  REQUIRE(oath_base32_decode(base32.c_str(), base32.size(), &secret, &len) == OATH_OK);
  char otp[7] = {};
  const int rc = oath_totp_generate(secret, len, static_cast<time_t>(now), 30, 0, 6, otp);
  std::free(secret);
  REQUIRE(rc == OATH_OK);
  return otp;
}

std::string ReadAll(repo::Repository& r, const repo::Session& s, const std::string& id) {
  return Content(r, s, id);
}

}  // namespace

TEST_CASE("a user changes their own password and keeps their roles", "[accounts]") {
  Fixture f;
  auto ivan = f.Ivan();
  CHECK(CodeOf([&] { f.repo->ChangePassword(ivan, "wrong-password", "new-password-1"); }) ==
        ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { f.repo->ChangePassword(ivan, "ivan-password", "short"); }) ==
        ErrorCode::kInvalidArgument);
  f.repo->ChangePassword(ivan, "ivan-password", "new-password-1");
  CHECK(CodeOf([&] { f.repo->Login("ivan", "ivan-password"); }) == ErrorCode::kUnauthenticated);
  auto again = f.repo->Login("ivan", "new-password-1");
  CHECK(again.roles() == std::vector<std::string>{"investigator"});
  CHECK(f.repo->GetCase(again, f.inv_case).id == f.inv_case);
}

TEST_CASE("an admin resets a forgotten password, and the old sessions end", "[accounts]") {
  Fixture f;
  TempDir docs;
  WriteFile(docs / "a.txt", "harbour ledger entry");
  auto ivan = f.Ivan();
  const auto ingested = f.Ingest(ivan, f.inv_case, docs / "a.txt");
  auto alice = f.Alice();
  SECTION("by an admin holding the user's roles") {
    f.repo->ResetPassword(alice, "ivan", "reset-password-1");
  }
  SECTION("with the recovery key") {
    f.repo->ResetPassword(f.repo->LoginWithRecoveryKey(f.recovery), "ivan", "reset-password-1");
  }
  CHECK(CodeOf([&] { f.Search(ivan, "harbour"); }) == ErrorCode::kUnauthenticated);
  CHECK(ivan.ended());
  CHECK(CodeOf([&] { f.repo->Login("ivan", "ivan-password"); }) == ErrorCode::kUnauthenticated);
  auto fresh = f.repo->Login("ivan", "reset-password-1");
  CHECK(f.Search(fresh, "harbour").total == 1);
  CHECK(ReadAll(*f.repo, fresh, ingested[0].id) == "harbour ledger entry");
}

TEST_CASE("a reset needs every role the user holds", "[accounts]") {
  Fixture f;
  auto alice = f.Alice();
  f.repo->AddUser(alice, "bea", "bea-password", {}, /*admin=*/true);
  f.repo->AddMember(alice, "investigator", "bea");  // bea holds investigator only
  auto bea = f.repo->Login("bea", "bea-password");
  CHECK(CodeOf([&] { f.repo->ResetPassword(bea, "lena", "reset-password-1"); }) ==
        ErrorCode::kForbidden);
  CHECK(f.repo->Login("lena", "lena-password").roles() == std::vector<std::string>{"legal"});
  CHECK(CodeOf([&] { f.repo->ResetPassword(f.Ivan(), "lena", "reset-password-1"); }) ==
        ErrorCode::kForbidden);
}

TEST_CASE("admins list users and roles, others may not", "[accounts]") {
  Fixture f;
  auto alice = f.Alice();
  const auto users = f.repo->ListUsers(alice);
  REQUIRE(users.size() == 3);
  CHECK(users[0].name == "alice");
  CHECK(users[0].admin);
  CHECK(users[1].name == "ivan");
  CHECK(users[1].roles == std::vector<std::string>{"investigator"});
  const auto roles = f.repo->ListRoles(alice);
  REQUIRE(roles.size() == 2);
  CHECK(roles[0].name == "investigator");
  CHECK(roles[0].members == std::vector<std::string>{"alice", "ivan"});
  CHECK(CodeOf([&] { f.repo->ListUsers(f.Ivan()); }) == ErrorCode::kForbidden);
  CHECK(f.repo->CurrentUser(f.Ivan()).name == "ivan");
}

TEST_CASE("a second factor is enrolled, asked for, spent once, and removed", "[accounts]") {
  auto clock = std::make_shared<ManualClock>(1'800'000'000);
  repo::OpenOptions options;
  options.clock = clock;
  Fixture f(options);
  auto ivan = f.Ivan();
  const repo::TotpEnrollment e = f.repo->BeginTotp(ivan);
  CHECK(e.uri.find("otpauth://totp/Dossier:ivan?secret=" + e.secret_base32) == 0);
  CHECK(CodeOf([&] { f.repo->ConfirmTotp(ivan, "000000x"); }) == ErrorCode::kUnauthenticated);
  f.repo->ConfirmTotp(ivan, TotpAt(e.secret_base32, clock->Now()));
  CHECK(f.repo->CurrentUser(ivan).totp);
  // A session alone cannot swap the factor for another: removing it takes a code.
  CHECK(CodeOf([&] { f.repo->BeginTotp(ivan); }) == ErrorCode::kConflict);

  clock->Advance(60);
  CHECK(CodeOf([&] { f.repo->Login("ivan", "ivan-password"); }) == ErrorCode::kSecondFactor);
  CHECK(CodeOf([&] { f.repo->Login("ivan", "wrong-password", "123456"); }) ==
        ErrorCode::kUnauthenticated);
  const std::string code = TotpAt(e.secret_base32, clock->Now());
  auto s = f.repo->Login("ivan", "ivan-password", code);
  CHECK(s.roles() == std::vector<std::string>{"investigator"});
  // The same code, again: refused (each code works once), also after a
  // restart: the last step spent is kept in the repository.
  CHECK(CodeOf([&] { f.repo->Login("ivan", "ivan-password", code); }) ==
        ErrorCode::kUnauthenticated);
  {
    repo::OpenOptions again;
    again.clock = clock;
    f.Reopen(again);
    s = f.repo->Login("ivan", "ivan-password", TotpAt(e.secret_base32, clock->Now() + 30));
  }
  CHECK(CodeOf([&] { f.repo->Login("ivan", "ivan-password", code); }) ==
        ErrorCode::kUnauthenticated);
  // One step of drift either way is accepted, two are not.
  clock->Advance(30);
  CHECK_NOTHROW(f.repo->Login("ivan", "ivan-password", TotpAt(e.secret_base32, clock->Now() - 30 + 60)));
  clock->Advance(60);
  CHECK(CodeOf([&] {
          f.repo->Login("ivan", "ivan-password", TotpAt(e.secret_base32, clock->Now() - 90));
        }) == ErrorCode::kUnauthenticated);

  clock->Advance(60);
  f.repo->RemoveTotp(s, TotpAt(e.secret_base32, clock->Now()));
  CHECK_NOTHROW(f.repo->Login("ivan", "ivan-password"));
  // The TOTP secret is sealed in the database: it never appears as text.
  for (const auto& file : AllFiles(f.dir)) {
    CHECK(ReadFile(file.string()).find(e.secret_base32) == std::string::npos);
  }
}

TEST_CASE("an upload is ingested from encrypted staging and leaves nothing behind", "[uploads]") {
  Fixture f;
  auto ivan = f.Ivan();
  const std::string text = "Upload about the vessel Morning Star and its harbour fees.\n";
  repo::UploadRequest req;
  req.case_id = f.inv_case;
  req.path = "dropped/notes/fees.txt";
  req.custodian = "Harbour office";
  auto up = f.repo->BeginUpload(ivan, req);
  for (std::size_t at = 0; at < text.size(); at += 7) up->Write(std::string_view(text).substr(at, 7));
  // While it is being received, the staging area holds no name and no plaintext.
  for (const auto& file : AllFiles(f.dir)) {
    CHECK(ReadFile(file.string()).find("Morning Star") == std::string::npos);
  }
  const std::string job = f.repo->FinishUpload(ivan, std::move(up));
  repo::JobInfo info;
  for (int i = 0; i < 300; ++i) {
    info = f.repo->GetJob(ivan, job);
    if (info.state == repo::JobState::kDone) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(info.state == repo::JobState::kDone);
  const auto summary = f.repo->JobSummary(ivan, job);
  REQUIRE(summary.documents.size() == 1);
  CHECK(summary.documents[0].path == "dropped/notes/fees.txt");
  const auto doc = f.repo->GetDocument(ivan, summary.documents[0].id);
  CHECK(doc.filename == "fees.txt");
  CHECK(doc.custodian == "Harbour office");
  CHECK(ReadAll(*f.repo, ivan, doc.id) == text);
  CHECK(f.Search(ivan, "\"morning star\"").total == 1);
  CHECK(f.Search(f.Lena(), "\"morning star\"").total == 0);
  CHECK(AllFiles(f.tmp / "repo/uploads").empty());
}

TEST_CASE("an upload over its cap, or dropped unfinished, leaves nothing", "[uploads]") {
  Fixture f;
  auto ivan = f.Ivan();
  repo::UploadRequest req;
  req.case_id = f.inv_case;
  req.filename = "big.bin";
  req.max_bytes = 1000;
  {
    auto up = f.repo->BeginUpload(ivan, req);
    up->Write(std::string(600, 'a'));
    CHECK(CodeOf([&] { up->Write(std::string(600, 'b')); }) == ErrorCode::kTooLarge);
    CHECK(CodeOf([&] { up->Write("c"); }) == ErrorCode::kInvalidArgument);
    CHECK(CodeOf([&] { f.repo->FinishUpload(ivan, std::move(up)); }) ==
          ErrorCode::kInvalidArgument);
  }
  {
    auto up = f.repo->BeginUpload(ivan, req);
    up->Write("half of a file");
  }  // the client went away
  CHECK(AllFiles(f.tmp / "repo/uploads").empty());
  CHECK(f.repo->ListDocuments(ivan, f.inv_case).empty());
}

TEST_CASE("an upload's names are checked and its case must be visible", "[uploads]") {
  Fixture f;
  auto ivan = f.Ivan();
  repo::UploadRequest req;
  req.case_id = f.legal_case;
  req.filename = "a.txt";
  CHECK(CodeOf([&] { f.repo->BeginUpload(ivan, req); }) == ErrorCode::kNotFound);
  req.case_id = f.inv_case;
  for (const char* bad : {"", "/etc/passwd", "a/../b.txt", "a//b.txt", "./a.txt"}) {
    req.filename.clear();
    req.path = bad;
    CHECK(CodeOf([&] { f.repo->BeginUpload(ivan, req); }) == ErrorCode::kInvalidArgument);
  }
  req.path = "folder/a.txt";
  req.filename = "b.txt";
  CHECK(CodeOf([&] { f.repo->BeginUpload(ivan, req); }) == ErrorCode::kInvalidArgument);
  // Refused before any byte is sent: a restriction to a role not granted on
  // the case, an unknown language.
  req.filename = "a.txt";
  req.restrict_to = {"legal"};
  CHECK(CodeOf([&] { f.repo->BeginUpload(ivan, req); }) == ErrorCode::kInvalidArgument);
  req.restrict_to = {};
  req.language = "xx";
  CHECK(CodeOf([&] { f.repo->BeginUpload(ivan, req); }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("a document's family lists its parent, children and duplicates", "[family]") {
  Fixture f;
  TempDir src;
  WriteFile(src / "one/a.txt", "the same witness statement");
  WriteFile(src / "two/a.txt", "the same witness statement");
  auto ivan = f.Ivan();
  const auto docs = f.Ingest(ivan, f.inv_case, src.path().string());
  REQUIRE(docs.size() == 2);
  const auto& copy = docs[0].duplicate_of.empty() ? docs[1] : docs[0];
  const auto& original = docs[0].duplicate_of.empty() ? docs[0] : docs[1];
  REQUIRE(copy.duplicate_of == original.id);
  const auto family = f.repo->GetFamily(ivan, original.id);
  CHECK(!family.parent);
  CHECK(family.children.empty());
  REQUIRE(family.duplicates.size() == 1);
  CHECK(family.duplicates[0].id == copy.id);
  const auto back = f.repo->GetFamily(ivan, copy.id);
  REQUIRE(back.duplicates.size() == 1);
  CHECK(back.duplicates[0].id == original.id);
  CHECK(CodeOf([&] { f.repo->GetFamily(f.Lena(), original.id); }) == ErrorCode::kNotFound);
}
