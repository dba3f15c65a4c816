// Test helpers: temporary directories, a small populated repository, and
// reading every byte under a directory. No mocks: real SQLite, Xapian and
// files in a temporary directory per test.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "crypto/secret.h"
#include "repo/repository.h"

namespace dossier::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dossier-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every regular file under `dir`, recursively.
inline std::vector<fs::path> AllFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

// A repository with users alice (admin, roles investigator and legal),
// ivan (investigator) and lena (legal), two cases: `inv_case` granted to
// investigator and `legal_case` granted to legal.
struct Fixture {
  TempDir tmp;
  std::string dir = tmp / "repo";
  std::string recovery;
  std::string inv_case, legal_case;
  std::unique_ptr<repo::Repository> repo;

  explicit Fixture(repo::OpenOptions options = {}) {
    repo::InitOptions io;
    io.admin_user = "alice";
    io.admin_password = "alice-password";
    io.protect = false;
    io.cost = crypto::PasswordCost::kInteractive;
    recovery = repo::Repository::Init(dir, io).recovery_key_path;
    options.cost = crypto::PasswordCost::kInteractive;
    repo = repo::Repository::Open(dir, options);
    auto alice = Alice();
    repo->AddRole(alice, "investigator");
    repo->AddRole(alice, "legal");
    alice = Alice();  // now holding both role keys
    repo->AddUser(alice, "ivan", "ivan-password", {"investigator"});
    repo->AddUser(alice, "lena", "lena-password", {"legal"});
    inv_case = repo->CreateCase(alice, {"Investigation", "", repo::Risk::kHigh, {"investigator"}}).id;
    legal_case = repo->CreateCase(alice, {"Counsel", "", repo::Risk::kNone, {"legal"}}).id;
  }
  repo::Session Alice() { return repo->Login("alice", "alice-password"); }
  repo::Session Ivan() { return repo->Login("ivan", "ivan-password"); }
  repo::Session Lena() { return repo->Login("lena", "lena-password"); }
  // Reopens the repository (as after a restart).
  void Reopen(repo::OpenOptions options = {}) {
    repo.reset();
    options.cost = crypto::PasswordCost::kInteractive;
    repo = repo::Repository::Open(dir, options);
  }
  std::vector<repo::IngestedDocument> Ingest(const repo::Session& s, const std::string& case_id,
                                             const std::string& path,
                                             std::vector<std::string> restrict_to = {}) {
    repo::IngestRequest req;
    req.case_id = case_id;
    req.paths = {path};
    req.restrict_to = std::move(restrict_to);
    return repo->Ingest(s, req).documents;
  }
  repo::SearchResults Search(const repo::Session& s, const std::string& q,
                             std::uint32_t limit = 100) {
    repo::SearchRequest r;
    r.query = q;
    r.limit = limit;
    return repo->Search(s, r);
  }
};

// The code of the dossier::Error `fn` throws; fails the test if none.
inline ErrorCode CodeOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected a dossier::Error");
  return ErrorCode::kInternal;
}

// A document's original bytes, whole.
inline std::string Content(repo::Repository& r, const repo::Session& s, const std::string& id) {
  std::string out;
  r.ReadContent(s, id, [&](std::string_view b) { out.append(b); });
  return out;
}

// Deterministic pseudo-text from a small vocabulary.
inline std::string Prose(std::mt19937& rng, std::size_t words) {
  static const char* kWords[] = {
      "the", "invoice", "container", "payment", "supplier", "account", "transfer",
      "review", "report", "bank", "shipment", "customs", "audit", "ledger", "clerk",
      "approval", "vessel", "harbour", "repair", "evidence", "witness", "meeting"};
  std::string out;
  for (std::size_t i = 0; i < words; ++i) {
    out += kWords[rng() % (sizeof kWords / sizeof *kWords)];
    out += (i % 12 == 11) ? ".\n" : " ";
  }
  return out;
}

}  // namespace dossier::testing
