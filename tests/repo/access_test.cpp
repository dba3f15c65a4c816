// Attacks on the access model: wrong passwords, users without a role,
// ranking side channels, restricted documents, grants and revokes.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {
}  // namespace

TEST_CASE("a wrong password or unknown user opens nothing, with one message") {
  Fixture f;
  std::string wrong, unknown;
  try { f.repo->Login("ivan", "not-ivans-password"); } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kUnauthenticated);
    wrong = e.what();
  }
  try { f.repo->Login("mallory", "whatever-password"); } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kUnauthenticated);
    unknown = e.what();
  }
  CHECK(!wrong.empty());
  CHECK(wrong == unknown);
}

TEST_CASE("a user without the role gets no hit, count, snippet or document") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "The zanzibarite ledger shows a payment to the harbour master.");
  WriteFile(f.tmp / "in/b.txt", "Another zanzibarite entry, with no harbour at all.");
  auto docs = f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  REQUIRE(docs.size() == 2);

  auto ivan = f.Ivan();
  auto lena = f.Lena();
  CHECK(f.Search(ivan, "zanzibarite").total == 2);
  auto hidden = f.Search(lena, "zanzibarite");
  CHECK(hidden.total == 0);
  CHECK(hidden.hits.empty());
  CHECK(f.Search(lena, "").total == 0);  // match-all counts nothing of theirs either
  for (const auto& d : docs) {
    CHECK(CodeOf([&] { f.repo->GetDocument(lena, d.id); }) == ErrorCode::kNotFound);
    CHECK(CodeOf([&] { Content(*f.repo, lena, d.id); }) == ErrorCode::kNotFound);
    CHECK(CodeOf([&] { f.repo->ReadText(lena, d.id); }) == ErrorCode::kNotFound);
  }
  CHECK(CodeOf([&] { f.repo->GetCase(lena, f.inv_case); }) == ErrorCode::kNotFound);
  CHECK(f.repo->ListCases(lena).size() == 1);
  repo::SearchRequest in_case;
  in_case.query = "zanzibarite";
  in_case.case_id = f.inv_case;
  CHECK(CodeOf([&] { f.repo->Search(lena, in_case); }) == ErrorCode::kNotFound);
  // Lena cannot put documents into a case she cannot see either.
  CHECK(CodeOf([&] { f.Ingest(lena, f.inv_case, f.tmp / "in"); }) == ErrorCode::kNotFound);
}

TEST_CASE("a query gives the same answer as if hidden documents did not exist") {
  // Two repositories with identical investigator documents; in one, the
  // legal case also holds many documents full of the query's words.
  std::mt19937 rng(42);
  std::vector<std::string> shared;
  for (int i = 0; i < 25; ++i) shared.push_back(Prose(rng, 30 + i * 7));
  Fixture empty_legal, full_legal;
  for (Fixture* f : {&empty_legal, &full_legal}) {
    for (std::size_t i = 0; i < shared.size(); ++i) {
      WriteFile(f->tmp / ("inv/" + std::to_string(100 + i) + ".txt"), shared[i]);
    }
    f->Ingest(f->Ivan(), f->inv_case, f->tmp / "inv");
  }
  for (int i = 0; i < 80; ++i) {
    WriteFile(full_legal.tmp / ("legal/" + std::to_string(i) + ".txt"),
              "invoice invoice container repair payment " + Prose(rng, 20 + i));
  }
  full_legal.Ingest(full_legal.Lena(), full_legal.legal_case, full_legal.tmp / "legal");

  for (const std::string q : {"invoice", "container repair", "\"container repair\"",
                              "payment OR vessel", "invoice NOT bank", "audit NEAR ledger"}) {
    INFO("query: " << q);
    auto a = empty_legal.Search(empty_legal.Ivan(), q);
    auto b = full_legal.Search(full_legal.Ivan(), q);
    // Equal weights rank by Xapian docid, which follows the order extraction
    // finished in each repository; order ties by name to compare.
    for (auto* r : {&a, &b}) {
      std::stable_sort(r->hits.begin(), r->hits.end(), [](const auto& x, const auto& y) {
        return x.score != y.score ? x.score > y.score : x.filename < y.filename;
      });
    }
    REQUIRE(a.total == b.total);
    REQUIRE(a.hits.size() == b.hits.size());
    for (std::size_t i = 0; i < a.hits.size(); ++i) {
      CHECK(a.hits[i].filename == b.hits[i].filename);
      CHECK(a.hits[i].score == b.hits[i].score);  // bit-identical weights
      CHECK(a.hits[i].snippet == b.hits[i].snippet);
    }
  }
}

TEST_CASE("a restricted document is hidden from the case's other roles") {
  Fixture f;
  auto alice = f.Alice();
  const std::string both = f.repo->CreateCase(alice, {"Joint", "", "", {"investigator", "legal"}}).id;
  WriteFile(f.tmp / "open.txt", "quarterly quokka report for everyone");
  WriteFile(f.tmp / "priv.txt", "privileged quokka advice for counsel only");
  f.Ingest(alice, both, f.tmp / "open.txt");
  auto priv = f.Ingest(alice, both, f.tmp / "priv.txt", {"legal"});
  CHECK(f.Search(f.Ivan(), "quokka").total == 1);
  CHECK(f.Search(f.Lena(), "quokka").total == 2);
  CHECK(CodeOf([&] { f.repo->GetDocument(f.Ivan(), priv[0].id); }) == ErrorCode::kNotFound);
  CHECK(f.repo->GetCase(f.Ivan(), both).document_count == 1);
  CHECK(f.repo->GetCase(f.Lena(), both).document_count == 2);
  // Restricting to a role not granted on the case is refused.
  CHECK(CodeOf([&] { f.Ingest(alice, f.inv_case, f.tmp / "priv.txt", {"legal"}); }) ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("granting a role lets its users find the documents, revoking takes them away") {
  Fixture f;
  WriteFile(f.tmp / "legal/memo.txt",
            "Counsel notes: the phantom container repairs were invoiced twice. "
            "A container was inspected; repairs were not done.");
  WriteFile(f.tmp / "legal/other.txt", "Settlement talks about container leases.");
  auto docs = f.Ingest(f.Lena(), f.legal_case, f.tmp / "legal");
  // Acknowledgements come in the order extraction finishes: find the memo.
  std::sort(docs.begin(), docs.end(), [](auto& a, auto& b) { return a.path < b.path; });
  REQUIRE(docs[0].path == "memo.txt");
  const std::string phrase = "\"phantom container repairs\"";
  auto lena_before = f.Search(f.Lena(), phrase);
  REQUIRE(lena_before.total == 1);
  CHECK(f.Search(f.Ivan(), phrase).total == 0);

  f.repo->GrantRole(f.Alice(), f.legal_case, "investigator");
  auto ivan = f.Ivan();
  auto after = f.Search(ivan, phrase);
  REQUIRE(after.total == 1);
  CHECK(after.hits[0].snippet == lena_before.hits[0].snippet);
  CHECK(after.hits[0].snippet.find("<mark>phantom container repairs</mark>") != std::string::npos);
  CHECK(f.Search(ivan, "container").total == 2);
  CHECK(Content(*f.repo, ivan, docs[0].id).find("phantom") != std::string::npos);
  // Lena's view is unchanged by the move.
  auto lena_after = f.Search(f.Lena(), phrase);
  CHECK(lena_after.hits[0].score == lena_before.hits[0].score);

  f.repo->RevokeRole(f.Alice(), f.legal_case, "investigator");
  CHECK(f.Search(ivan, "container").total == 0);
  CHECK(CodeOf([&] { f.repo->GetDocument(ivan, docs[0].id); }) == ErrorCode::kNotFound);
  CHECK(CodeOf([&] { Content(*f.repo, ivan, docs[0].id); }) == ErrorCode::kNotFound);
  CHECK(f.Search(f.Lena(), "container").total == 2);
  // Survives a reopen, and the last role of a case cannot be revoked.
  f.Reopen();
  CHECK(f.Search(f.Ivan(), "container").total == 0);
  CHECK(f.Search(f.Lena(), phrase).total == 1);
  CHECK(CodeOf([&] { f.repo->RevokeRole(f.Alice(), f.legal_case, "legal"); }) ==
        ErrorCode::kConflict);
}

TEST_CASE("only admins grant, and only roles one holds are given to new users") {
  Fixture f;
  CHECK(CodeOf([&] { f.repo->GrantRole(f.Ivan(), f.inv_case, "legal"); }) == ErrorCode::kForbidden);
  auto alice = f.Alice();
  f.repo->AddRole(alice, "records", /*join=*/false);
  CHECK(CodeOf([&] { f.repo->AddUser(f.Alice(), "rita", "rita-password", {"records"}); }) ==
        ErrorCode::kForbidden);
  // The recovery key holds every role.
  auto recovery = f.repo->LoginWithRecoveryKey(f.recovery);
  f.repo->AddUser(recovery, "rita", "rita-password", {"records"});
  CHECK(f.repo->Login("rita", "rita-password").roles() == std::vector<std::string>{"records"});
}
