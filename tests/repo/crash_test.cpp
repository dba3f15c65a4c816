// Crash safety: the process dies at every step of an ingest and of a shard
// move (a test-only fault point that calls _exit), and at random moments
// (SIGKILL); reopening keeps every acknowledged document, decryptable and
// searchable, and a half-done one is either whole or absent.
#include <signal.h>
#include <sys/wait.h>
#include <xapian.h>

#include <catch2/catch.hpp>
#include <map>

#include "base/error.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

constexpr int kCrashed = 77;

// A repository prepared once and copied for every crash run.
struct Base {
  Fixture f;
  std::map<std::string, std::string> sources;  // relative path -> content
  std::string in = f.tmp / "in";

  explicit Base(int files) {
    for (int i = 0; i < files; ++i) {
      const std::string rel = "file" + std::to_string(i) + ".txt";
      std::string body = "Memo " + std::to_string(i) + " mentions uniqword" + std::to_string(i) +
                         " and the shared ledger.\n";
      for (int k = 0; k < i * 50; ++k) body += "padding line " + std::to_string(k) + "\n";
      sources[rel] = body;
      WriteFile(in + "/" + rel, body);
    }
    f.repo.reset();
  }
  // A fresh copy of the repository, beside the recovery key.
  std::string Copy(const TempDir& into) const {
    const std::string dir = into / "repo";
    fs::copy(f.dir, dir, fs::copy_options::recursive);
    return dir;
  }
};

struct ChildResult {
  std::vector<std::string> acked;
  int status = -1;  // exit code, or -signal
};

// Runs `fn` in a child process. The child reports each acknowledged id on
// `ack_fd`; `watch` (in the parent) sees each ack and may kill the child.
ChildResult RunChild(const std::function<void(int ack_fd)>& fn,
                     const std::function<void(pid_t, std::size_t)>& watch = {}) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      fn(fds[1]);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildResult r;
  std::string buf;
  char c;
  while (::read(fds[0], &c, 1) == 1) {
    if (c != '\n') {
      buf.push_back(c);
      continue;
    }
    r.acked.push_back(buf);
    buf.clear();
    if (watch) watch(pid, r.acked.size());
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return r;
}

repo::OpenOptions CrashAt(const std::string& point, int occurrence) {
  repo::OpenOptions o;
  o.cost = crypto::PasswordCost::kInteractive;
  o.commit_group = 2;
  auto seen = std::make_shared<int>(0);
  o.fault = [point, occurrence, seen](std::string_view p) {
    if (p == point && ++*seen == occurrence) ::_exit(kCrashed);
  };
  return o;
}

void AckTo(int fd, const repo::IngestedDocument& d) {
  const std::string line = d.id + "\n";
  (void)!::write(fd, line.data(), line.size());
}

std::size_t CountFiles(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& p : AllFiles(dir)) n += p.parent_path().filename() != "tmp";
  return n;
}

// How many shards (staging excluded) hold each document id.
std::map<std::string, int> ShardCopies(const std::string& repo, std::size_t* staged) {
  std::map<std::string, int> out;
  *staged = 0;
  for (const auto& e : fs::directory_iterator(repo + "/index")) {
    if (!fs::exists(e.path() / "iamglass")) continue;
    Xapian::Database db(e.path().string());
    for (auto t = db.allterms_begin("Q"); t != db.allterms_end("Q"); ++t) {
      if (e.path().filename() == "_moving") ++*staged;
      else ++out[(*t).substr(1)];
    }
  }
  return out;
}

// Every acknowledged document is there, whole and searchable; every
// document there is whole; nothing is left half-written.
void VerifyIngest(const Base& base, const std::string& dir, const std::vector<std::string>& acked) {
  repo::OpenOptions o;
  o.cost = crypto::PasswordCost::kInteractive;
  auto r = repo::Repository::Open(dir, o);
  auto ivan = r->Login("ivan", "ivan-password");
  auto docs = r->ListDocuments(ivan, base.f.inv_case);
  std::set<std::string> present;
  for (const auto& d : docs) {
    present.insert(d.id);
    INFO("document " << d.path);
    REQUIRE(base.sources.count(d.path) == 1);
    std::string content;
    r->ReadContent(ivan, d.id, [&](std::string_view b) { content.append(b); });
    CHECK(content == base.sources.at(d.path));
    CHECK(r->ReadText(ivan, d.id) == content);
    const std::string word = "uniqword" + d.path.substr(4, d.path.size() - 8);
    repo::SearchRequest q;
    q.query = word;
    auto found = r->Search(ivan, q);
    REQUIRE(found.total == 1);
    CHECK(found.hits[0].document_id == d.id);
  }
  for (const auto& id : acked) CHECK(present.count(id) == 1);
  repo::SearchRequest all;
  all.limit = 1000;
  CHECK(r->Search(ivan, all).total == docs.size());
  CHECK(CountFiles(dir + "/blobs") == docs.size());
  CHECK(CountFiles(dir + "/text") == docs.size());
  CHECK(AllFiles(dir + "/blobs/tmp").empty());
  // Running the same ingest again completes it: acknowledged files are
  // recognised, the rest are added.
  repo::IngestRequest req;
  req.case_id = base.f.inv_case;
  req.paths = {base.in};
  auto again = r->Ingest(ivan, req).documents;
  std::size_t exists = 0;
  for (const auto& d : again) exists += d.status == repo::DocStatus::kExists;
  CHECK(exists == docs.size());
  CHECK(r->ListDocuments(ivan, base.f.inv_case).size() == base.sources.size());
}

}  // namespace

TEST_CASE("an ingest that crashes at any step keeps what it acknowledged", "[crash]") {
  Base base(7);
  for (const std::string point : {"after_blob_written", "after_rows_pending", "after_blob_published",
                                  "before_index_commit", "after_index_commit", "after_mark_indexed"}) {
    for (int occurrence : {1, 2, 4}) {
      INFO("crash at " << point << " #" << occurrence);
      TempDir run;
      const std::string dir = base.Copy(run);
      auto result = RunChild([&](int fd) {
        auto r = repo::Repository::Open(dir, CrashAt(point, occurrence));
        repo::IngestRequest req;
        req.case_id = base.f.inv_case;
        req.paths = {base.in};
        r->Ingest(r->Login("ivan", "ivan-password"), req,
                  [&](const repo::IngestedDocument& d) { AckTo(fd, d); });
      });
      REQUIRE(result.status == kCrashed);
      VerifyIngest(base, dir, result.acked);
    }
  }
}

TEST_CASE("a shard move that crashes at any step is finished on reopen", "[crash]") {
  Base base(0);
  {
    auto r = repo::Repository::Open(base.f.dir, CrashAt("none", 1));
    std::mt19937 rng(5);
    for (int i = 0; i < 6; ++i) WriteFile(base.f.tmp / ("legal/" + std::to_string(i) + ".txt"), Prose(rng, 40) + " contract");
    repo::IngestRequest req;
    req.case_id = base.f.legal_case;
    req.paths = {base.f.tmp / "legal"};
    r->Ingest(r->Login("lena", "lena-password"), req);
  }
  for (const std::string op : {"grant", "revoke"}) {
    for (const std::string& point : {std::string(op) + "_recorded", std::string("move_added_to_new"),
                                    std::string("move_recorded"),
                                    std::string("move_removed_from_old"),
                                    std::string("move_finished")}) {
      INFO(op << " crashing at " << point);
      TempDir run;
      const std::string dir = base.Copy(run);
      if (op == "revoke") {
        auto r = repo::Repository::Open(dir, CrashAt("none", 1));
        r->GrantRole(r->Login("alice", "alice-password"), base.f.legal_case, "investigator");
      }
      auto result = RunChild([&](int) {
        auto r = repo::Repository::Open(dir, CrashAt(point, 1));
        auto alice = r->Login("alice", "alice-password");
        if (op == "grant") r->GrantRole(alice, base.f.legal_case, "investigator");
        else r->RevokeRole(alice, base.f.legal_case, "investigator");
      });
      REQUIRE(result.status == kCrashed);
      repo::OpenOptions o;
      o.cost = crypto::PasswordCost::kInteractive;
      auto r = repo::Repository::Open(dir, o);  // finishes the move
      repo::SearchRequest q;
      q.query = "contract";
      q.limit = 100;
      const auto ivan = r->Search(r->Login("ivan", "ivan-password"), q);
      const auto lena = r->Search(r->Login("lena", "lena-password"), q);
      CHECK(lena.total == 6);
      CHECK(ivan.total == (op == "grant" ? 6u : 0u));
      std::size_t staged = 0;
      auto copies = ShardCopies(dir, &staged);
      CHECK(copies.size() == 6);
      for (const auto& [id, n] : copies) CHECK(n == 1);
      CHECK(staged == 0);
    }
  }
}

TEST_CASE("SIGKILL at random moments of an ingest loses nothing acknowledged", "[crash][slow]") {
  Base base(30);
  std::mt19937 rng(20261124);
  for (int round = 0; round < 6; ++round) {
    TempDir run;
    const std::string dir = base.Copy(run);
    const std::size_t kill_after = rng() % 25;  // acknowledgements to wait for
    const unsigned spin = rng() % 200000;        // then a random extra moment
    INFO("round " << round << ": kill after " << kill_after << " acks + " << spin << " spins");
    bool killed = false;
    auto result = RunChild(
        [&](int fd) {
          repo::OpenOptions o;
          o.cost = crypto::PasswordCost::kInteractive;
          o.commit_group = 3;
          auto r = repo::Repository::Open(dir, o);
          repo::IngestRequest req;
          req.case_id = base.f.inv_case;
          req.paths = {base.in};
          r->Ingest(r->Login("ivan", "ivan-password"), req,
                    [&](const repo::IngestedDocument& d) { AckTo(fd, d); });
        },
        [&](pid_t pid, std::size_t acks) {
          if (!killed && acks >= kill_after) {
            volatile unsigned sink = 0;
            for (unsigned i = 0; i < spin; ++i) sink = sink + i;
            ::kill(pid, SIGKILL);
            killed = true;
          }
        });
    CHECK((result.status == -SIGKILL || result.status == 0));
    VerifyIngest(base, dir, result.acked);
  }
}

TEST_CASE("a crash before the index commit of a group holding copies leaves a repository that opens", "[crash]") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "the same memo twice");
  WriteFile(f.tmp / "in/b.txt", "the same memo twice");  // a copy of a.txt, same group
  WriteFile(f.tmp / "in/c.txt", "another memo");
  f.repo.reset();
  const std::string dir = f.dir, in = f.tmp / "in";
  auto result = RunChild([&](int) {
    auto r = repo::Repository::Open(dir, CrashAt("before_index_commit", 1));
    repo::IngestRequest req;
    req.case_id = f.inv_case;
    req.paths = {in};
    r->Ingest(r->Login("ivan", "ivan-password"), req);
  });
  REQUIRE(result.status == kCrashed);
  // The copy's original is removed with it (copies go first), not left
  // behind by a foreign key that refuses the original's deletion.
  repo::OpenOptions o;
  o.cost = crypto::PasswordCost::kInteractive;
  auto r = repo::Repository::Open(dir, o);
  auto ivan = r->Login("ivan", "ivan-password");
  CHECK(r->ListDocuments(ivan, f.inv_case).empty());
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {in};
  r->Ingest(ivan, req);
  CHECK(r->ListDocuments(ivan, f.inv_case).size() == 3);
}
