// A 1 GiB text file streams into encrypted storage in bounded memory; its
// indexed text stops at the cap and the document says it is partial.
#include <sys/resource.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include "crypto/keyed_hash.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

TEST_CASE("a 1 GiB text file streams in bounded memory and is partially indexed", "[slow]") {
  Fixture f;
  const std::string path = f.tmp / "huge.txt";
  const std::uint64_t kSize = 1ull << 30;
  crypto::Sha256 sha;
  {
    std::ofstream out(path, std::ios::binary);
    std::string block;
    std::uint64_t written = 0;
    int line = 0;
    while (written < kSize) {
      block.clear();
      if (written == 0) block += "beginningword starts the file\n";
      while (block.size() < (1u << 20)) block += "ledger line " + std::to_string(line++) + " of the export\n";
      if (written + block.size() >= kSize) {
        block.resize(kSize - written - 11);
        block += "endingword\n";
      }
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
      sha.Update(reinterpret_cast<const unsigned char*>(block.data()), block.size());
      written += block.size();
    }
  }
  const std::string expected_sha = sha.FinalHex();
  f.repo.reset();

  // Ingest in a child so its peak RSS is the ingest's alone.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      repo::OpenOptions o;
      o.cost = crypto::PasswordCost::kInteractive;
      auto r = repo::Repository::Open(f.dir, o);
      repo::IngestRequest req;
      req.case_id = f.inv_case;
      req.paths = {path};
      r->Ingest(r->Login("ivan", "ivan-password"), req);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const long peak_mib = usage.ru_maxrss / 1024;
  INFO("peak RSS of the ingest: " << peak_mib << " MiB");
  CHECK(peak_mib < 400);  // the file is 1024 MiB; memory must not follow it

  f.Reopen();
  auto ivan = f.Ivan();
  auto docs = f.repo->ListDocuments(ivan, f.inv_case);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].status == repo::DocStatus::kPartial);
  CHECK(docs[0].size == kSize);
  CHECK(docs[0].sha256 == expected_sha);
  // This text has a new number on every line, so the distinct-term limit
  // stops it before the byte cap.
  CHECK(docs[0].indexed_bytes <= (32u << 20));
  CHECK(docs[0].indexed_bytes > (4u << 20));
  CHECK(f.Search(ivan, "beginningword").total == 1);
  CHECK(f.Search(ivan, "endingword").total == 0);  // past the cap
  // The original comes back whole and verified.
  crypto::Sha256 back;
  std::uint64_t n = 0;
  f.repo->ReadContent(ivan, docs[0].id, [&](std::string_view b) {
    back.Update(reinterpret_cast<const unsigned char*>(b.data()), b.size());
    n += b.size();
  });
  CHECK(n == kSize);
  CHECK(back.FinalHex() == expected_sha);
}
