// Ingest of real-world formats through the worker pool: families, custody
// hashes, statuses, search over extracted text and headers, the failure
// report, resuming, and no plaintext of headers or entry names on disk.
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xapian.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "base/error.h"
#include "tests/archive_maker.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;

namespace {

std::string Email(const std::string& subject, const std::string& attachment_name,
                  const std::string& attachment) {
  return "From: Rui Falcao <rui@corvo.example>\r\n"
         "To: Ana Lima <ana@mares.example>\r\n"
         "Subject: " + subject + "\r\n"
         "Date: Fri, 14 Feb 2025 10:00:00 +0000\r\n"
         "Message-ID: <m1@corvo.example>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
         "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
         "Please pay the attached invoice for the quayside crane.\r\n"
         "--B\r\nContent-Type: application/pdf\r\n"
         "Content-Disposition: attachment; filename=\"" + attachment_name + "\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" +
         crypto::ToBase64(reinterpret_cast<const unsigned char*>(attachment.data()), attachment.size()) +
         "\r\n--B--\r\n";
}

// Limits under which any PDF attachment fails (over 100 bytes), so the
// message carrying it is listed as a failure to retry.
repo::OpenOptions TightLimits() {
  repo::OpenOptions o;
  o.extract_limits.max_entry_bytes = 100;
  return o;
}

// A message whose PDF attachment says `text`.
std::string EmailWithPdf(const std::string& text) {
  return Email("Contract", "contract.pdf", MakePdf(text, "Contract"));
}

// Writes `eml` to in/msg.eml and ingests in/ under TightLimits, so the
// message fails (its attachment is past the limit). Returns the request
// (for a retry) and sets `failed_id` to the failure.
repo::IngestRequest IngestFailingEmail(Fixture& f, const std::string& eml, std::string& failed_id) {
  WriteFile(f.tmp / "in/msg.eml", eml);
  f.Reopen(TightLimits());
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  f.repo->Ingest(f.Ivan(), req);
  auto failures = f.repo->ListFailures(f.Ivan(), f.inv_case);
  REQUIRE(failures.size() == 1);
  failed_id = failures[0].id;
  return req;
}

repo::OpenOptions WithFaults() {
  repo::OpenOptions o;
  o.extract_limits.test_faults = true;
  o.extract_wall_seconds = 30;
  return o;
}

}  // namespace

TEST_CASE("a mixed batch ingests as families with custody hashes and statuses") {
  Fixture f(WithFaults());
  const std::string pdf = MakePdf("Gantry crane invoice for zephyrquay berth", "Invoice 7");
  const std::string mail = Email("Overdue markersubjectwalrus payment", "markerattachmentnarwhal.pdf", pdf);
  const std::string tgz = MakeArchive("tar", "gzip", {{"mail/msg1.eml", mail},
                                                      {"docs/markerentrypelican.txt", "ledger of quokkaport"}});
  WriteFile(f.tmp / "in/bundle.tar.gz", tgz);
  WriteFile(f.tmp / "in/page.html", "<html><head><title>Harbour page</title><script>hiddenscriptword</script>"
                                    "</head><body><p>Visible harbourmaster notice</p></body></html>");
  WriteFile(f.tmp / "in/latin1.txt", std::string("Relat\xf3rio das faturas pagas \xe0 Mar\xe9s em 2025, "
                                                 "com a an\xe1lise dos contentores e dos pagamentos.\n"));
  WriteFile(f.tmp / "in/broken.pdf", pdf.substr(0, 40));
  std::string junk(3000, '\0');
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 7919) % 251);
  WriteFile(f.tmp / "in/mystery.bin", junk);
  WriteFile(f.tmp / "in/__dossier_fault_crash__", "this file crashes its worker");

  auto ivan = f.Ivan();
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  req.custodian = "Audit";
  auto docs = f.repo->Ingest(ivan, req).documents;
  std::map<std::string, repo::IngestedDocument> by_path;
  for (const auto& d : docs) by_path[d.path] = d;

  // The family: tar.gz > msg1.eml > attachment, and the tar's text entry.
  REQUIRE(by_path.count("bundle.tar.gz"));
  REQUIRE(by_path.count("mail/msg1.eml"));
  REQUIRE(by_path.count("mail/msg1.eml/markerattachmentnarwhal.pdf"));
  const auto& top = by_path["bundle.tar.gz"];
  const auto& msg = by_path["mail/msg1.eml"];
  const auto& att = by_path["mail/msg1.eml/markerattachmentnarwhal.pdf"];
  CHECK(top.parent_id.empty());
  CHECK(msg.parent_id == top.id);
  CHECK(att.parent_id == msg.id);
  CHECK(by_path["docs/markerentrypelican.txt"].parent_id == top.id);
  CHECK(att.mime == "application/pdf");
  CHECK(att.status == repo::DocStatus::kIndexed);

  // Custody: SHA-256 and MD5 of the original bytes, encrypted at rest.
  auto info = f.repo->GetDocument(ivan, att.id);
  CHECK(info.size == pdf.size());
  CHECK(info.md5.size() == 32);
  CHECK(info.sha256.size() == 64);
  std::string content;
  f.repo->ReadContent(ivan, att.id, [&](std::string_view b) { content.append(b); });
  CHECK(content == pdf);
  auto mail_info = f.repo->GetDocument(ivan, msg.id);
  CHECK(mail_info.fields.at("subject") == "Overdue markersubjectwalrus payment");
  CHECK(mail_info.fields.at("from").find("rui@corvo.example") != std::string::npos);

  // Statuses of the odd ones; the crash hit one file and the batch went on.
  CHECK(by_path["broken.pdf"].status == repo::DocStatus::kError);
  CHECK(by_path["mystery.bin"].status == repo::DocStatus::kUnsupported);
  CHECK(by_path["__dossier_fault_crash__"].status == repo::DocStatus::kError);
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(by_path["__dossier_fault_crash__"].error.find("crashed") != std::string::npos);
#endif
  CHECK(by_path["latin1.txt"].status == repo::DocStatus::kIndexed);
  CHECK(by_path["page.html"].status == repo::DocStatus::kIndexed);

  // Search reaches text at every depth and the hashed header fields.
  CHECK(f.Search(ivan, "zephyrquay").total == 1);
  CHECK(f.Search(ivan, "quokkaport").total == 1);
  CHECK(f.Search(ivan, "harbourmaster").total == 1);
  CHECK(f.Search(ivan, "hiddenscriptword").total == 0);
  CHECK(f.Search(ivan, "relatório").total == 1);
  CHECK(f.Search(ivan, "from:rui@corvo.example").total == 1);
  CHECK(f.Search(ivan, "to:ana@mares.example").total == 1);
  CHECK(f.Search(ivan, "subject:markersubjectwalrus").total == 1);
  CHECK(f.Search(ivan, "filename:markerattachmentnarwhal.pdf").total == 1);
  CHECK(f.Search(ivan, "type:pdf").total >= 1);

  // The failure report names the item, its place in the family and why.
  auto failures = f.repo->ListFailures(ivan, f.inv_case);
  CHECK(failures.size() == 3);
  for (const auto& d : failures) CHECK_FALSE((d.error.empty() && d.status == repo::DocStatus::kError));

  // Running the same ingest again adds nothing: each of the six top-level
  // files exists, and a file that exists stands for its whole family.
  auto again = f.repo->Ingest(ivan, req).documents;
  for (const auto& d : again) CHECK(d.status == repo::DocStatus::kExists);
  CHECK(again.size() == 6);
  CHECK(f.repo->ListDocuments(ivan, f.inv_case).size() == docs.size());
}

TEST_CASE("headers, attachment names and entry paths leave no plaintext on disk") {
  Fixture f;
  const std::string mail = Email("markersubjectwalrus", "markerattachmentnarwhal.pdf",
                                 MakePdf("body markerpdftextibis", "markertitleheron"));
  WriteFile(f.tmp / "in/x.tar", MakeArchive("tar", "", {{"markerdirpelican/m.eml", mail}}));
  f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  CHECK(f.Search(f.Ivan(), "markerpdftextibis").total == 1);
  f.repo.reset();
  for (const auto& file : AllFiles(f.dir)) {
    const std::string bytes = ReadFile(file.string());
    for (const char* m : {"markersubjectwalrus", "markerattachmentnarwhal", "markerpdftextibis",
                          "markertitleheron", "markerdirpelican", "corvo.example", "Falcao"}) {
      INFO(file << " " << m);
      CHECK(bytes.find(m) == std::string::npos);
    }
  }
}

TEST_CASE("retrying failed files extracts them again and replaces their documents") {
  Fixture f;
  WriteFile(f.tmp / "in/msg.eml", EmailWithPdf("attached zanzicontract text"));
  WriteFile(f.tmp / "in/fine.txt", "an ordinary note");
  f.Reopen(TightLimits());  // first run: the attachment is past the limit
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  auto first = f.repo->Ingest(f.Ivan(), req).documents;
  REQUIRE(first.size() == 2);
  auto failures = f.repo->ListFailures(f.Ivan(), f.inv_case);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].filename == "msg.eml");
  CHECK(failures[0].error.find("limit") != std::string::npos);
  const std::string failed_id = failures[0].id;
  CHECK(f.Search(f.Ivan(), "zanzicontract").total == 0);

  // Second run, default limits: only the failed file is extracted again.
  f.Reopen();
  req.retry_failed = true;
  auto second = f.repo->Ingest(f.Ivan(), req).documents;
  std::map<std::string, repo::DocStatus> status;
  for (const auto& d : second) status[d.path] = d.status;
  CHECK(status["fine.txt"] == repo::DocStatus::kExists);
  CHECK(status["msg.eml"] == repo::DocStatus::kIndexed);
  CHECK(status["contract.pdf"] == repo::DocStatus::kIndexed);
  CHECK(f.repo->ListFailures(f.Ivan(), f.inv_case).empty());
  CHECK(f.Search(f.Ivan(), "zanzicontract").total == 1);
  try {
    f.repo->GetDocument(f.Ivan(), failed_id);
    FAIL("the failed document is still there");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kNotFound);
  }
  CHECK(f.repo->ListDocuments(f.Ivan(), f.inv_case).size() == 3);
}

TEST_CASE("retrying failed documents from their stored originals needs no source files") {
  Fixture f;
  WriteFile(f.tmp / "in/msg.eml", EmailWithPdf("attached quillomatic text"));
  WriteFile(f.tmp / "in/fine.txt", "an ordinary note");
  f.Reopen(TightLimits());
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.custodian = "Ana Ribeiro";
  req.paths = {f.tmp / "in"};
  REQUIRE(f.repo->Ingest(f.Ivan(), req).documents.size() == 2);
  auto failures = f.repo->ListFailures(f.Ivan(), f.inv_case);
  REQUIRE(failures.size() == 1);
  const repo::DocumentInfo failed = failures[0];
  REQUIRE(failed.mtime.has_value());

  // The custodian's originals are gone; the repository's copy is enough.
  fs::remove_all(f.tmp / "in");
  f.Reopen();
  repo::IngestRequest retry;
  retry.case_id = f.inv_case;
  retry.retry_failed = true;  // no paths, no custodian given
  auto again = f.repo->Ingest(f.Ivan(), retry).documents;
  std::map<std::string, repo::IngestedDocument> by_path;
  for (const auto& d : again) by_path[d.path] = d;
  REQUIRE(again.size() == 2);  // the message and its attachment; fine.txt untouched
  CHECK(by_path["msg.eml"].status == repo::DocStatus::kIndexed);
  CHECK(by_path["contract.pdf"].status == repo::DocStatus::kIndexed);
  CHECK(f.repo->ListFailures(f.Ivan(), f.inv_case).empty());
  CHECK(f.Search(f.Ivan(), "quillomatic").total == 1);
  const repo::DocumentInfo now = f.repo->GetDocument(f.Ivan(), by_path["msg.eml"].id);
  CHECK(now.custodian == "Ana Ribeiro");
  CHECK(now.sha256 == failed.sha256);
  CHECK(now.mtime == failed.mtime);
  CHECK(f.repo->ListDocuments(f.Ivan(), f.inv_case).size() == 3);
  // Run again: nothing is left to retry.
  CHECK(f.repo->Ingest(f.Ivan(), retry).documents.empty());
}

TEST_CASE("a retried failure's duplicates follow it, and a retry keeps each document's restriction") {
  Fixture f;
  const std::string eml = EmailWithPdf("attached vorpalledger text");
  WriteFile(f.tmp / "in/msg.eml", eml);
  WriteFile(f.tmp / "later/copy.eml", eml);
  WriteFile(f.tmp / "secret/msg2.eml", Email("Other", "other.pdf", MakePdf("restricted vorpalledger", "R")));
  f.Reopen(TightLimits());
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in"};
  f.repo->Ingest(f.Ivan(), req);
  req.paths = {f.tmp / "later"};
  auto copy = f.repo->Ingest(f.Ivan(), req).documents;
  REQUIRE(copy.size() == 1);
  CHECK(copy[0].status == repo::DocStatus::kDuplicate);
  // The same case, restricted to its only role: same shard, but restricted.
  repo::IngestRequest restricted = req;
  restricted.paths = {f.tmp / "secret"};
  restricted.restrict_to = {"investigator"};
  f.repo->Ingest(f.Ivan(), restricted);
  REQUIRE(f.repo->ListFailures(f.Ivan(), f.inv_case).size() == 2);

  f.Reopen();
  repo::IngestRequest retry;
  retry.case_id = f.inv_case;
  retry.retry_failed = true;
  auto again = f.repo->Ingest(f.Ivan(), retry).documents;
  std::map<std::string, repo::IngestedDocument> by_path;
  for (const auto& d : again) by_path[d.path] = d;
  REQUIRE(by_path.count("msg.eml"));
  CHECK(by_path["msg.eml"].status == repo::DocStatus::kIndexed);
  CHECK(by_path.count("msg2.eml") == 0);  // restricted: not this request's set
  const repo::DocumentInfo dup = f.repo->GetDocument(f.Ivan(), copy[0].id);
  CHECK(dup.duplicate_of == by_path["msg.eml"].id);
  CHECK(f.Search(f.Ivan(), "vorpalledger").total == 1);

  restricted.paths.clear();
  restricted.retry_failed = true;
  auto secret = f.repo->Ingest(f.Ivan(), restricted).documents;
  std::map<std::string, repo::DocStatus> secret_status;
  for (const auto& d : secret) secret_status[d.path] = d.status;
  CHECK(secret_status["msg2.eml"] == repo::DocStatus::kIndexed);
  CHECK(secret_status["other.pdf"] == repo::DocStatus::kIndexed);
  CHECK(f.repo->ListFailures(f.Ivan(), f.inv_case).empty());
}

TEST_CASE("a retry from a damaged stored original reports that document and goes on") {
  Fixture f;
  const std::string eml = EmailWithPdf("damaged retry text");
  std::string failed_id;
  IngestFailingEmail(f, eml, failed_id);
  // Damage every stored blob: one byte flipped in the middle.
  for (const auto& p : AllFiles(f.dir + "/blobs")) {
    if (p.parent_path().filename() == "tmp") continue;
    std::fstream io(p, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(fs::file_size(p) / 2));
    char c = 0;
    io.read(&c, 1);
    io.seekp(static_cast<std::streamoff>(fs::file_size(p) / 2));
    c = static_cast<char>(c ^ 0x5a);
    io.write(&c, 1);
  }
  f.Reopen();
  repo::IngestRequest retry;
  retry.case_id = f.inv_case;
  retry.retry_failed = true;
  auto again = f.repo->Ingest(f.Ivan(), retry).documents;
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == failed_id);
  CHECK(again[0].status == repo::DocStatus::kError);
  CHECK(again[0].error.find("damaged") != std::string::npos);
  // The failure is still listed, to be dealt with.
  CHECK(f.repo->ListFailures(f.Ivan(), f.inv_case).size() == 1);
}

TEST_CASE("an ingest that fails with files in the workers leaves the next ingest whole") {
  // A fault thrown while staging the fifth document stops the first ingest
  // with jobs still queued in the workers; their replies must not reach the
  // next ingest, which reuses the job numbers.
  auto armed = std::make_shared<bool>(true);
  auto staged = std::make_shared<int>(0);
  repo::OpenOptions o;
  o.fault = [armed, staged](std::string_view p) {
    if (*armed && p == "after_blob_written" && ++*staged == 5) {
      throw Error(ErrorCode::kIo, "injected fault");
    }
  };
  Fixture f(o);
  for (int i = 0; i < 60; ++i) {
    WriteFile(f.tmp / ("in/" + std::to_string(100 + i) + ".txt"),
              "note " + std::to_string(100 + i) + " of the harbour ledger");
  }
  CHECK(CodeOf([&] { f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in"); }) == ErrorCode::kIo);
  *armed = false;
  const auto docs = f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  REQUIRE(docs.size() == 60);
  const auto ivan = f.Ivan();
  for (const auto& d : docs) {
    INFO(d.path);
    CHECK(d.status == repo::DocStatus::kIndexed);
    // Each document holds its own file's text, not another job's.
    CHECK(Content(*f.repo, ivan, d.id) == "note " + d.path.substr(0, 3) + " of the harbour ledger");
  }
}

TEST_CASE("file and entry names in Latin-1 are ingested and shown as UTF-8") {
  Fixture f;
  // Raw Latin-1 bytes, as old Windows exports and zip files hold them.
  const std::string latin1_file = "relat\xF3rio.txt", latin1_entry = "fatura n\xBA 4.txt";
  WriteFile(f.tmp / ("in/" + latin1_file), "Pagamentos ao fornecedor Corvo.");
  WriteFile(f.tmp / "in/also-valid-\xC3\xA9.txt", "A valid UTF-8 name stays as it is.");
  // Two names that differ only in an invalid byte stay two documents.
  WriteFile(f.tmp / "in/x\xE8.txt", "first of two look-alike names");
  WriteFile(f.tmp / "in/x\xE9.txt", "second of two look-alike names");
  WriteFile(f.tmp / "in/pack.tar",
            MakeArchive("tar", "", {{latin1_entry, "Fatura do contentor reparado."}}));
  auto docs = f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in");
  std::set<std::string> names;
  for (const auto& d : docs) {
    CHECK(d.status != repo::DocStatus::kError);
    names.insert(d.filename);
  }
  CHECK(names.count("relat\xC3\xB3rio.txt") == 1);    // relatório.txt
  CHECK(names.count("fatura n\xC2\xBA 4.txt") == 1);  // fatura nº 4.txt
  CHECK(names.count("also-valid-\xC3\xA9.txt") == 1);
  CHECK(names.count("x\xC3\xA8.txt") == 1);
  CHECK(names.count("x\xC3\xA9.txt") == 1);
  CHECK(f.Search(f.Ivan(), "fornecedor").total == 1);
  CHECK(f.Search(f.Ivan(), "contentor").total == 1);
  // A second run finds every one of them already there.
  for (const auto& d : f.Ingest(f.Ivan(), f.inv_case, f.tmp / "in")) CHECK(d.status == repo::DocStatus::kExists);
}

TEST_CASE("a retry never records a copy of the failure it is replacing") {
  Fixture f;
  const std::string msg = EmailWithPdf("attached vorpalcontract text");
  std::string failed_id;
  repo::IngestRequest req = IngestFailingEmail(f, msg, failed_id);

  // The same bytes under a second name, taken after the failure's
  // replacement, with one document per commit: the replacement commits
  // (deleting the failure) before the copy joins a group.
  WriteFile(f.tmp / "in/zcopy.eml", msg);
  repo::OpenOptions one;
  one.commit_group = 1;
  f.Reopen(one);
  req.retry_failed = true;
  std::map<std::string, repo::IngestedDocument> by_path;
  for (const auto& d : f.repo->Ingest(f.Ivan(), req).documents) by_path[d.path] = d;
  REQUIRE(by_path.count("msg.eml"));
  REQUIRE(by_path.count("zcopy.eml"));
  CHECK(by_path["msg.eml"].status == repo::DocStatus::kIndexed);
  // Whichever was staged first, the stored copy points at the replacement
  // (or is an original itself), never at the deleted failure.
  const auto copy = f.repo->GetDocument(f.Ivan(), by_path["zcopy.eml"].id);
  CHECK(copy.duplicate_of != failed_id);
  if (!copy.duplicate_of.empty()) CHECK(copy.duplicate_of == by_path["msg.eml"].id);
  CHECK(f.repo->ListFailures(f.Ivan(), f.inv_case).empty());
  CHECK(f.Search(f.Ivan(), "vorpalcontract").total >= 1);
  CHECK(Content(*f.repo, f.Ivan(), by_path["zcopy.eml"].id) == msg);
}

TEST_CASE("an item found already there is acknowledged only after what it names is committed") {
  Fixture f;
  WriteFile(f.tmp / "in/a.txt", "the same file named twice in one run");
  WriteFile(f.tmp / "in/b.txt", "another note");
  repo::IngestRequest req;
  req.case_id = f.inv_case;
  req.paths = {f.tmp / "in/a.txt", f.tmp / "in/b.txt", f.tmp / "in/a.txt"};
  std::vector<repo::IngestedDocument> order;
  f.repo->Ingest(f.Ivan(), req, [&](const repo::IngestedDocument& d) { order.push_back(d); });
  REQUIRE(order.size() == 3);
  std::set<std::string> committed;
  int exists = 0;
  for (const auto& d : order) {
    if (d.status == repo::DocStatus::kExists) {
      ++exists;
      CHECK(committed.count(d.id) == 1);  // its document was acknowledged first
    } else {
      committed.insert(d.id);
    }
  }
  CHECK(exists == 1);
}

namespace {
// Runs `fn` as an unprivileged user when the tests run as root (root reads
// files whatever their mode), so unreadable files are unreadable; the
// fixture's directory is handed to that user first. Returns fn's verdict.
bool AsUnprivileged(const fs::path& dir, const std::function<bool()>& fn) {
  if (::geteuid() != 0) return fn();
  constexpr uid_t kNobody = 65534;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (::lchown(e.path().c_str(), kNobody, kNobody) != 0) return false;
  }
  if (::chown(dir.c_str(), kNobody, kNobody) != 0) return false;
  const pid_t pid = ::fork();
  if (pid == 0) {
    bool ok = false;
    if (::setgroups(0, nullptr) == 0 && ::setgid(kNobody) == 0 && ::setuid(kNobody) == 0) {
      try {
        ok = fn();
      } catch (...) {
        ok = false;
      }
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
}  // namespace

TEST_CASE("an ingest goes past what it cannot read, listing each with its reason") {
  Fixture f;
  const std::string in = f.tmp / "in";
  WriteFile(in + "/a.txt", "a readable memo about the silo");
  WriteFile(in + "/sub/b.txt", "another readable memo about the silo");
  WriteFile(in + "/secret.txt", "a memo nobody may read");
  WriteFile(in + "/locked/c.txt", "a memo in a folder nobody may open");
  fs::permissions(in + "/secret.txt", fs::perms::none);
  REQUIRE(::mkfifo((in + "/pipe").c_str(), 0600) == 0);
  fs::create_symlink(in + "/a.txt", in + "/link.txt");
  for (int i = 0; i < 8; ++i) WriteFile(in + "/z" + std::to_string(i) + ".txt", "filler memo " + std::to_string(i));
  fs::permissions(in + "/locked", fs::perms::none);
  f.repo.reset();
  const std::string dir = f.dir, case_id = f.inv_case;
  const bool ok = AsUnprivileged(f.tmp.path(), [&] {
    repo::OpenOptions o;
    o.cost = crypto::PasswordCost::kInteractive;
    o.extract_workers = 1;
    // The last file vanishes once the first has been read.
    o.fault = [&](std::string_view p) {
      if (p == "after_blob_written") fs::remove(in + "/z7.txt");
    };
    auto r = repo::Repository::Open(dir, o);
    auto ivan = r->Login("ivan", "ivan-password");
    repo::IngestRequest req;
    req.case_id = case_id;
    req.paths = {in};
    const std::string job = r->StartIngest(ivan, req);
    repo::JobInfo info;
    do {
      info = r->WaitJob(ivan, job, SIZE_MAX, std::chrono::seconds(1), nullptr);
    } while (info.state == repo::JobState::kRunning || info.state == repo::JobState::kQueued);
    std::map<std::string, repo::IngestedDocument> by_path;
    for (const auto& d : r->JobSummary(ivan, job).documents) by_path[d.path] = d;
    std::map<std::string, std::string> reasons;
    for (const auto& d : r->JobFailures(ivan, job)) reasons[d.path] = d.error;
    auto says = [&](const std::string& path, const std::string& what) {
      return reasons.count(path) && reasons[path].find(what) != std::string::npos &&
             by_path[path].status == repo::DocStatus::kSkipped;
    };
    return info.state == repo::JobState::kDone &&
           by_path["a.txt"].status == repo::DocStatus::kIndexed &&
           by_path["sub/b.txt"].status == repo::DocStatus::kIndexed &&
           says("secret.txt", "cannot read this file") && says("locked", "cannot read this folder") &&
           says("pipe", "FIFO") && says("link.txt", "symbolic link") &&
           says("z7.txt", "vanished") && by_path["z6.txt"].status == repo::DocStatus::kIndexed &&
           reasons.size() == 5 && r->Search(ivan, repo::SearchRequest{"silo", "", 0, 20, false}).total == 2 &&
           info.progress.errors == 5 && info.progress.files_done == info.progress.files_total;
  });
  CHECK(ok);
}
