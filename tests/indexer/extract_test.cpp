// Extraction of every supported format, limits against hostile archives,
// and the worker pool surviving crashes, hangs and memory exhaustion.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sys/resource.h>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <random>
#include <thread>

#include "crypto/secret.h"
#include "indexer/extract.h"
#include "indexer/extract_pool.h"
#include "tests/archive_maker.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::indexer;
using namespace dossier::testing;

namespace {

struct Got {
  ExtractedItem item;
  std::string bytes;
};

std::vector<Got> Extract(const std::string& data, const std::string& name,
                         ExtractLimits limits = {}) {
  std::vector<Got> out;
  ExtractAll(data, name, limits, [&](const ExtractedItem& it, std::string_view bytes) {
    out.push_back({it, std::string(bytes)});
  });
  return out;
}

std::string Latin1(const std::string& utf8) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const unsigned char c = utf8[i];
    if (c < 0x80) out.push_back(static_cast<char>(c));
    else if ((c & 0xE0) == 0xC0) out.push_back(static_cast<char>(((c & 0x1F) << 6) | (utf8[++i] & 0x3F)));
  }
  return out;
}

std::string SampleEmail() {
  const std::string pdf = MakePdf("Invoice CS-2025-004 for container repairs", "Invoice");
  return "From: =?ISO-8859-1?Q?Rui_Falc=E3o?= <rui@example.com>\r\n"
         "To: Ana Lima <ana@example.com>, bob@example.com\r\n"
         "Cc: carol@example.com\r\n"
         "Subject: =?UTF-8?B?RmF0dXJhcyBkZSBjb250ZW50b3Jlcw==?=\r\n"
         "Date: Fri, 14 Feb 2025 10:00:00 +0000\r\n"
         "Message-ID: <abc123@example.com>\r\n"
         "In-Reply-To: <prev@example.com>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
         "--XYZ\r\n"
         "Content-Type: text/plain; charset=ISO-8859-1\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
         "Segue em anexo a fatura do reparo dos contentores. Obrigado, Jo=E3o.\r\n"
         "--XYZ\r\n"
         "Content-Type: application/pdf; name=\"invoice.pdf\"\r\n"
         "Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" +
         crypto::ToBase64(reinterpret_cast<const unsigned char*>(pdf.data()), pdf.size()) +
         "\r\n--XYZ--\r\n";
}

std::string SampleDocx() {
  return MakeArchive("zip", "", {
      {"[Content_Types].xml", "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"},
      {"_rels/.rels", "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"/>"},
      {"word/document.xml", "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>Board minutes about the </w:t></w:r><w:r><w:t>harbour lease</w:t></w:r></w:p><w:p><w:r><w:t>Second paragraph.</w:t></w:r></w:p></w:body></w:document>"},
      {"docProps/core.xml", "<?xml version=\"1.0\"?><cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\"><dc:title>Board minutes</dc:title><dc:creator>Helena Costa</dc:creator><dcterms:created>2025-03-01T09:00:00Z</dcterms:created></cp:coreProperties>"}});
}

std::string SampleOdt() {
  return MakeArchive("zip", "", {
      {"mimetype", "application/vnd.oasis.opendocument.text"},
      {"content.xml", "<?xml version=\"1.0\"?><office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body><office:text><text:h>Relatório</text:h><text:p>Pagamentos ao fornecedor Corvo.</text:p></office:text></office:body></office:document-content>"},
      {"meta.xml", "<?xml version=\"1.0\"?><office:document-meta xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:meta=\"urn:oasis:names:tc:opendocument:xmlns:meta:1.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><office:meta><dc:title>Relatório de pagamentos</dc:title><meta:initial-creator>Marta Sousa</meta:initial-creator></office:meta></office:document-meta>"}});
}

std::string SampleHtml() {
  return "<!DOCTYPE html><html><head><title>Quarterly &amp; annual review</title>"
         "<style>body{color:red}</style><script>var secret='scripttext';</script></head>"
         "<body><h1>Findings</h1><p>Caf&eacute; receipts &lt;missing&gt;.</p></body></html>";
}

ExtractPoolOptions PoolOptions() {
  ExtractPoolOptions o;
  o.worker_path = DOSSIER_EXTRACT_WORKER_PATH;
  o.workers = 2;
  o.wall_seconds = 20;
  o.cpu_seconds = 10;
  o.memory_bytes = 768ull << 20;
  o.limits.test_faults = true;
  return o;
}

// A file descriptor holding `data` (memfd: no plaintext on disk).
int MemFile(const std::string& data) {
  int fd = memfd_create("sample", MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  return fd;
}

// Runs one file through the pool; returns its items and failure.
std::pair<std::vector<ExtractEvent>, std::string> ThroughPool(ExtractPool& pool, const std::string& data,
                                                              const std::string& name) {
  int fd = MemFile(data);
  pool.Submit(1, fd, name);
  ::close(fd);
  std::vector<ExtractEvent> items;
  for (;;) {
    ExtractEvent e = pool.Next();
    if (e.done) return {items, e.failure};
    items.push_back(std::move(e));
  }
}

}  // namespace

TEST_CASE("plain text in a legacy encoding comes out as UTF-8") {
  const std::string utf8 =
      "Relatório de pagamentos à Marés Logística. A análise das faturas mostra que "
      "o fornecedor recebeu catorze pagamentos em 2025, todos aprovados pelo mesmo "
      "funcionário, e que nenhum dos contentores foi reparado nas datas indicadas.\n";
  auto items = Extract(Latin1(utf8), "relatorio.txt");
  REQUIRE(items.size() == 1);
  CHECK(items[0].item.mime.rfind("text/", 0) == 0);
  CHECK(items[0].item.text == utf8);
  CHECK(items[0].item.language == "pt");
}

TEST_CASE("HTML loses scripts and styles, decodes entities and keeps its title") {
  auto items = Extract(SampleHtml(), "page.html");
  REQUIRE(items.size() == 1);
  const auto& it = items[0].item;
  CHECK(it.mime == "text/html");
  CHECK(it.fields.at("title") == "Quarterly & annual review");
  CHECK(it.text.find("Café receipts <missing>.") != std::string::npos);
  CHECK(it.text.find("scripttext") == std::string::npos);
  CHECK(it.text.find("color:red") == std::string::npos);
}

TEST_CASE("MIME types come from content: libmagic's signatures, markup sniffed, mail by headers") {
  // Text that libmagic's soft text tests would have guessed at.
  CHECK(DetectMime("\xEF\xBB\xBF\n  <!DOCTYPE html><html><p>x</p></html>") == "text/html");
  CHECK(DetectMime("<p>Minutes of the board meeting</p>") == "text/html");
  CHECK(DetectMime("<!-- saved page -->\n<div>x</div>") == "text/html");
  CHECK(DetectMime("<?xml version=\"1.0\"?>\n<ledger/>") == "text/xml");
  CHECK(DetectMime("<Amount> is the column we need, says the memo.\n") == "text/plain");
  CHECK(DetectMime("<html\nlang=\"en\"><body>x</body></html>") == "text/html");
  CHECK(DetectMime("<meta charset=\"utf-8\">\n<title>Minutes</title>\n<p>text</p>\n") == "text/html");
  CHECK(DetectMime("<!--[if IE]><p>x</p><![endif]-->\n<html><body>x</body></html>\n") == "text/html");
  CHECK(DetectMime("#include <stdio.h>\nint main(void) { return 0; }\n") == "text/plain");
  CHECK(DetectMime("From: Ana <ana@x.example>\nTo: bo@y.example\nSubject: hi\n"
                   "Date: Fri, 14 Feb 2025 10:00:00 +0000\n\nbody\n") == "message/rfc822");
  // A single message behind an envelope line is a message; two make a mailbox.
  const std::string one = "From ana@x.example Fri Feb 14 10:00:00 2025\nFrom: Ana <ana@x.example>\n"
                          "To: bo@y.example\nSubject: hi\nDate: Fri, 14 Feb 2025 10:00:00 +0000\n\nbody\n";
  CHECK(DetectMime(one) == "message/rfc822");
  CHECK(DetectMime(one + "\n" + one) == "application/mbox");
  // What libmagic's binary and built-in tests still name.
  CHECK(DetectMime("{\\rtf1\\ansi hello}\n") == "text/rtf");
  CHECK(DetectMime("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n") == "text/calendar");
  CHECK(DetectMime("{\"a\": [1, 2]}\n") == "application/json");
  CHECK(DetectMime("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n") == "application/pdf");
  CHECK(DetectMime(std::string("\x00\x01\x02\xFF\xFE\x80\x81", 7)) == "application/octet-stream");
}

TEST_CASE("PDF text and properties come through poppler") {
  auto items = Extract(MakePdf("Phantom container repairs were billed", "Audit memo"), "memo.pdf");
  REQUIRE(items.size() == 1);
  const auto& it = items[0].item;
  CHECK(it.mime == "application/pdf");
  CHECK(it.status == "ok");
  CHECK(it.text.find("Phantom container repairs were billed") != std::string::npos);
  CHECK(it.fields.at("title") == "Audit memo");
  CHECK(it.fields.at("author") == "Test Author");
}

TEST_CASE("an email's headers become fields and its attachment a child") {
  auto items = Extract(SampleEmail(), "msg.eml");
  REQUIRE(items.size() == 2);
  const auto& mail = items[0].item;
  CHECK(mail.mime == "message/rfc822");
  CHECK(mail.fields.at("from").find("Rui Falcão") != std::string::npos);
  CHECK(mail.fields.at("from").find("rui@example.com") != std::string::npos);
  CHECK(mail.fields.at("to").find("bob@example.com") != std::string::npos);
  CHECK(mail.fields.at("cc") == "carol@example.com");
  CHECK(mail.fields.at("subject") == "Faturas de contentores");
  CHECK(mail.fields.at("message_id") == "abc123@example.com");
  CHECK(mail.fields.at("in_reply_to") == "<prev@example.com>");
  CHECK(mail.fields.at("date") == "2025-02-14T10:00:00Z");
  CHECK(mail.text.find("Obrigado, João.") != std::string::npos);
  const auto& att = items[1];
  CHECK(att.item.parent == 0);
  CHECK(att.item.name == "invoice.pdf");
  CHECK(att.item.path == "invoice.pdf");
  CHECK(att.item.mime == "application/pdf");
  CHECK(att.bytes.rfind("%PDF-1.4", 0) == 0);
  CHECK(att.item.text.find("container repairs") != std::string::npos);
}

TEST_CASE("a message saved behind an envelope From line is read as that message") {
  const std::string eml = "From ana@x.example Fri Feb 14 10:00:00 2025\nFrom: Ana <ana@x.example>\n"
                          "To: bo@y.example\nSubject: the envelope case\n"
                          "Date: Fri, 14 Feb 2025 10:00:00 +0000\n\nthe body of the message\n";
  auto items = Extract(eml, "0001.eml");
  REQUIRE(items.size() == 1);
  CHECK(items[0].item.mime == "message/rfc822");
  CHECK(items[0].item.fields.at("subject") == "the envelope case");
  CHECK(items[0].item.fields.at("from").find("ana@x.example") != std::string::npos);
  CHECK(items[0].item.text.find("the body of the message") != std::string::npos);
}

TEST_CASE("an mbox yields one child per message") {
  std::string mbox;
  for (int i = 1; i <= 3; ++i) {
    mbox += "From sender@example.com Mon Jan  6 10:00:00 2025\n"
            "From: sender@example.com\nTo: r@example.com\nSubject: note " + std::to_string(i) +
            "\n\nBody of message number " + std::to_string(i) + ".\n\n";
  }
  auto items = Extract(mbox, "inbox.mbox");
  REQUIRE(items.size() == 4);
  CHECK(items[0].item.mime == "application/mbox");
  for (int i = 1; i <= 3; ++i) {
    CHECK(items[i].item.parent == 0);
    CHECK(items[i].item.fields.at("subject") == "note " + std::to_string(i));
    CHECK(items[i].item.text.find("message number " + std::to_string(i)) != std::string::npos);
  }
}

TEST_CASE("archives nest and every entry keeps its path in the family") {
  const std::string inner = MakeArchive("zip", "", {{"notes/a.txt", "alpha ledger entry"},
                                                    {"b.html", SampleHtml()}});
  const std::string outer = MakeArchive("tar", "gzip", {{"batch/inner.zip", inner},
                                                        {"batch/memo.pdf", MakePdf("memo text", "m")},
                                                        {"batch/link", "", "../../etc/passwd"}});
  auto items = Extract(outer, "evidence.tar.gz");
  std::map<std::string, Got> by_path;
  for (auto& g : items) by_path[g.item.path] = g;
  REQUIRE(by_path.count("batch/inner.zip"));
  REQUIRE(by_path.count("batch/inner.zip/notes/a.txt"));
  CHECK(by_path["batch/inner.zip/notes/a.txt"].item.text == "alpha ledger entry");
  CHECK(by_path["batch/inner.zip/notes/a.txt"].item.parent == by_path["batch/inner.zip"].item.index);
  CHECK(by_path["batch/inner.zip/b.html"].item.mime == "text/html");
  CHECK(by_path["batch/memo.pdf"].item.text.find("memo text") != std::string::npos);
  // A symlink is recorded with its target, never followed.
  CHECK(by_path["batch/link"].item.status == "link");
  CHECK(by_path["batch/link"].item.fields.at("link_target") == "../../etc/passwd");
  CHECK(by_path["batch/link"].bytes.empty());
}

TEST_CASE("RAR archives are read, entries nested and named like any other container") {
  const std::string inner = MakeArchive("zip", "", {{"b.html", SampleHtml()}});
  const std::string rar = MakeRar4({{"memo.txt", "the rar memo about container seals"},
                                    {"nested/inner.zip", inner},
                                    {"../outside.txt", "a name, not a path"}});
  auto items = Extract(rar, "evidence.rar");
  REQUIRE(!items.empty());
  CHECK(items[0].item.mime.find("rar") != std::string::npos);
  CHECK(items[0].item.status == "ok");
  std::map<std::string, Got> by_path;
  for (auto& g : items) by_path[g.item.path] = g;
  REQUIRE(by_path.count("memo.txt"));
  CHECK(by_path["memo.txt"].item.text == "the rar memo about container seals");
  CHECK(by_path["memo.txt"].bytes == "the rar memo about container seals");
  REQUIRE(by_path.count("nested/inner.zip/b.html"));
  CHECK(by_path["nested/inner.zip/b.html"].item.fields.at("title") == "Quarterly & annual review");
  REQUIRE(by_path.count("../outside.txt"));
  CHECK(by_path["../outside.txt"].item.name == "outside.txt");
}

TEST_CASE("hostile entry names stay names: nothing is written from them") {
  TempDir tmp;
  const std::string zip = MakeArchive("zip", "", {{"../../escaped.txt", "zip slip"},
                                                  {"/abs/path.txt", "absolute"}});
  auto items = Extract(zip, "slip.zip");
  REQUIRE(items.size() == 3);
  CHECK(items[1].item.path == "../../escaped.txt");
  CHECK(items[1].item.name == "escaped.txt");
  CHECK(items[1].item.text == "zip slip");
  CHECK(items[2].item.path == "/abs/path.txt");
  CHECK_FALSE(fs::exists(tmp.path().parent_path().parent_path() / "escaped.txt"));
}

TEST_CASE("Office Open XML and OpenDocument text and properties") {
  auto docx = Extract(SampleDocx(), "minutes.docx");
  REQUIRE(docx.size() == 1);
  CHECK(docx[0].item.mime == "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  CHECK(docx[0].item.text.find("Board minutes about the harbour lease") != std::string::npos);
  CHECK(docx[0].item.fields.at("author") == "Helena Costa");
  CHECK(docx[0].item.fields.at("created") == "2025-03-01T09:00:00Z");
  auto odt = Extract(SampleOdt(), "relatorio.odt");
  REQUIRE(odt.size() == 1);
  CHECK(odt[0].item.mime == "application/vnd.oasis.opendocument.text");
  CHECK(odt[0].item.text.find("Pagamentos ao fornecedor Corvo.") != std::string::npos);
  CHECK(odt[0].item.fields.at("title") == "Relatório de pagamentos");
  CHECK(odt[0].item.fields.at("author") == "Marta Sousa");
}

TEST_CASE("objects embedded in Office documents become children") {
  const std::string outer = MakeArchive("zip", "", {
      {"[Content_Types].xml", "<?xml version=\"1.0\"?><Types/>"},
      {"word/document.xml", "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>Report with an appendix</w:t></w:r></w:p></w:body></w:document>"},
      {"word/embeddings/Appendix.docx", SampleDocx()},
      {"word/embeddings/oleObject1.bin", std::string("\x01\x02\x03\xff\xfe", 5)}});
  auto items = Extract(outer, "report.docx");
  std::map<std::string, Got> by_path;
  for (auto& g : items) by_path[g.item.path] = g;
  REQUIRE(items.size() == 3);
  CHECK(items[0].item.text.find("Report with an appendix") != std::string::npos);
  CHECK(items[0].item.text.find("harbour lease") == std::string::npos);
  REQUIRE(by_path.count("Appendix.docx"));
  CHECK(by_path["Appendix.docx"].item.parent == 0);
  CHECK(by_path["Appendix.docx"].item.text.find("Board minutes about the harbour lease") != std::string::npos);
  REQUIRE(by_path.count("oleObject1.bin"));
  CHECK(by_path["oleObject1.bin"].item.status == "unsupported");
  CHECK(by_path["oleObject1.bin"].bytes.size() == 5);

  // An object past the per-entry limit is listed as an error; the document
  // keeps its text and its other objects.
  ExtractLimits small;
  small.max_entry_bytes = 4096;
  const std::string big = MakeArchive("zip", "", {
      {"[Content_Types].xml", "<?xml version=\"1.0\"?><Types/>"},
      {"word/document.xml", "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>Report with a large object</w:t></w:r></w:p></w:body></w:document>"},
      {"word/embeddings/huge.bin", std::string(20000, 'z')},
      {"word/embeddings/small.txt", "a small embedded note"}});
  auto limited = Extract(big, "big.docx", small);
  std::map<std::string, Got> lim;
  for (auto& g : limited) lim[g.item.path] = g;
  CHECK(limited[0].item.status == "ok");
  CHECK(limited[0].item.text.find("Report with a large object") != std::string::npos);
  REQUIRE(lim.count("huge.bin"));
  CHECK(lim["huge.bin"].item.status == "error");
  CHECK(lim["huge.bin"].item.error.find("per-entry limit") != std::string::npos);
  CHECK(lim["huge.bin"].bytes.empty());
  REQUIRE(lim.count("small.txt"));
  CHECK(lim["small.txt"].item.text == "a small embedded note");

  std::string odt = MakeArchive("zip", "", {
      {"mimetype", "application/vnd.oasis.opendocument.text"},
      {"content.xml", "<?xml version=\"1.0\"?><office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body><office:text><text:p>Texto principal.</text:p></office:text></office:body></office:document-content>"},
      {"Object 1", "a plain note embedded as an object"}});
  auto odt_items = Extract(odt, "relatorio.odt");
  REQUIRE(odt_items.size() == 2);
  CHECK(odt_items[1].item.path == "Object 1");
  CHECK(odt_items[1].item.text == "a plain note embedded as an object");
}

TEST_CASE("the language of each fixture text is detected") {
  // fixtures/languages/<code>.txt: short texts written for this project.
  const std::string dir = std::string(DOSSIER_FIXTURES_DIR) + "/languages";
  std::size_t checked = 0;
  for (const std::string code : {"pt", "es", "it", "fr", "de"}) {
    const std::string path = dir + "/" + code + ".txt";
    REQUIRE(fs::exists(path));
    auto items = Extract(ReadFile(path), code + ".txt");
    INFO(code);
    CHECK(items.at(0).item.language == code);
    ++checked;
  }
  CHECK(checked == 5);
  CHECK(DetectLanguage("The quick brown fox jumps over the lazy dog while the clerk "
                       "approves every invoice without reading it.") == "en");
}

TEST_CASE("unknown bytes are listed as unsupported, not dropped") {
  std::string blob(4096, '\0');
  std::mt19937 rng(1);
  for (auto& c : blob) c = static_cast<char>(rng());
  auto items = Extract(blob, "mystery.bin");
  REQUIRE(items.size() == 1);
  CHECK(items[0].item.status == "unsupported");
}

TEST_CASE("nesting past the depth limit is stopped with a clear error") {
  std::string data = "the innermost text";
  std::string name = "core.txt";
  for (int level = 0; level < 13; ++level) {
    data = MakeArchive("zip", "", {{name, data}});
    name = "level" + std::to_string(level) + ".zip";
  }
  auto items = Extract(data, name);
  bool stopped = false;
  for (auto& g : items) {
    if (g.item.error.find("nested deeper") != std::string::npos) stopped = true;
    CHECK(g.item.text != "the innermost text");
  }
  CHECK(stopped);
}

TEST_CASE("a compression bomb is rejected while streaming", "[bomb]") {
  const std::uint64_t size = 64ull << 20;
  SECTION("zip") {
    const std::string zip = MakeArchive("zip", "", {}, "zeros.bin", size);
    REQUIRE(zip.size() < size / 100);
    auto items = Extract(zip, "bomb.zip");
    REQUIRE(items.size() == 2);
    CHECK(items[1].item.status == "error");
    CHECK(items[1].item.error.find("ratio") != std::string::npos);
    CHECK(items[1].bytes.empty());
  }
  SECTION("gzip of a single file") {
    const std::string gz = MakeArchive("tar", "gzip", {}, "zeros.bin", size);
    auto items = Extract(gz, "bomb.tar.gz");
    REQUIRE(items.size() == 2);
    CHECK(items[1].item.error.find("ratio") != std::string::npos);
  }
  SECTION("overlapping entries expand once") {
    // 64 names for one 16 MiB kernel: 1 GiB if each were expanded. libarchive
    // reads the central directory into a tree keyed by local-header offset,
    // so the 64 records collapse into one entry: 16 MiB, even with the ratio
    // check out of the way.
    const std::string zip = MakeOverlappingZip(64, 16ull << 20);
    REQUIRE(zip.size() < (1u << 20));
    ExtractLimits limits;
    limits.max_ratio = 1e12;
    auto items = Extract(zip, "overlap.zip", limits);
    REQUIRE(items.size() == 2);
    CHECK(items[1].bytes.size() == (16u << 20));
    // With the default limits the ratio stops it at the first entry.
    auto first = Extract(zip, "overlap.zip");
    REQUIRE(first.size() == 2);
    CHECK(first[1].item.error.find("ratio") != std::string::npos);
    CHECK(first[1].bytes.empty());
  }
  SECTION("many ordinary entries stop at the total limit") {
    std::vector<Entry> entries;
    for (int i = 0; i < 20; ++i) entries.push_back({"part" + std::to_string(i) + ".bin", std::string(4u << 20, 'x')});
    const std::string zip = MakeArchive("zip", "", entries);
    ExtractLimits limits;
    limits.max_ratio = 1e12;
    limits.max_total_bytes = 32ull << 20;
    auto items = Extract(zip, "parts.zip", limits);
    REQUIRE(items.size() == 10);  // the zip, 8 entries of 4 MiB, the 9th stopped
    CHECK(items.back().item.status == "error");
    CHECK(items.back().item.error.find("total limit") != std::string::npos);
    CHECK(items.back().bytes.empty());
  }
  SECTION("a nest of bombs stops at the first") {
    const std::string zip = MakeArchive("zip", "", {}, "zeros.bin", 4ull << 20);
    std::vector<Entry> copies;
    for (int i = 0; i < 16; ++i) copies.push_back({"copy" + std::to_string(i) + ".zip", zip});
    const std::string nest = MakeArchive("zip", "", copies);
    auto items = Extract(nest, "42.zip");
    int errors = 0;
    for (auto& g : items) errors += g.item.status == "error";
    CHECK(errors >= 1);
    CHECK(items.size() < 6);
  }
}

TEST_CASE("a 1 GiB run of zeros zipped is rejected in bounded memory", "[bomb][slow]") {
  const std::string zip = MakeArchive("zip", "", {}, "zeros.bin", 1ull << 30);
  ExtractPool pool(PoolOptions());
  auto [items, failure] = ThroughPool(pool, zip, "bomb.zip");
  CHECK(failure.empty());
  REQUIRE(items.size() == 2);
  CHECK(items[1].item.status == "error");
  CHECK(items[1].bytes.empty());
}

TEST_CASE("the pool survives a crash, a hang, a CPU spin and memory exhaustion") {
  auto opts = PoolOptions();
  opts.cpu_seconds = 1;
  opts.memory_bytes = 256ull << 20;
  // The CPU limit must come first for the spin even on a loaded machine
  // (with a 3 s wall clock, ctest -j2 once let the wall clock win); a hang
  // uses no CPU, so its pool gets a short wall clock.
  opts.wall_seconds = 30;
  ExtractPool slow_pool(opts);
  opts.wall_seconds = 2;
  ExtractPool fast_pool(opts);
  const std::string ok_text = "after each failure the next file still extracts";
  for (const std::string fault : {"crash", "hang", "spin", "oom", "close"}) {
    INFO(fault);
    ExtractPool& pool = fault == "hang" ? fast_pool : slow_pool;
    auto [items, failure] = ThroughPool(pool, "x", "__dossier_fault_" + fault + "__");
    CHECK_FALSE(failure.empty());
    if (fault == "hang") CHECK(failure.find("wall-clock") != std::string::npos);
    if (fault == "spin") CHECK(failure.find("CPU") != std::string::npos);
#if !defined(__SANITIZE_ADDRESS__)
    // Under ASan a crash is reported and exits (not a signal), and memory is
    // bounded by hard_rss_limit_mb, which kills rather than fails malloc.
    if (fault == "crash") CHECK(failure.find("crashed") != std::string::npos);
    if (fault == "oom") CHECK(failure.find("memory") != std::string::npos);
#endif
    auto [good, none] = ThroughPool(pool, ok_text, "fine.txt");
    CHECK(none.empty());
    REQUIRE(good.size() == 1);
    CHECK(good[0].item.text == ok_text);
  }
}

TEST_CASE("a worker that lies about sizes or sends malformed replies is killed, and its job fails") {
  auto opts = PoolOptions();
  opts.limits.text_cap = 1u << 20;  // a 3 GiB text claim is far past this
  ExtractPool pool(opts);
  for (const std::string fault : {"lie", "garbage"}) {
    INFO(fault);
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    auto [items, failure] = ThroughPool(pool, "x", "__dossier_fault_" + fault + "__");
    CHECK(items.empty());  // nothing of the lying reply reaches the caller
    CHECK(failure == (fault == "lie" ? "the extractor sent a reply past its limits"
                                     : "malformed worker reply"));
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    // The parent never allocated what the worker claimed.
    CHECK(after.ru_maxrss - before.ru_maxrss < 512 * 1024);  // KiB
    // The replacement worker serves the next file.
    auto [good, none] = ThroughPool(pool, "an honest file after a liar", "fine.txt");
    CHECK(none.empty());
    REQUIRE(good.size() == 1);
    CHECK(good[0].item.text == "an honest file after a liar");
  }
}

TEST_CASE("jobs queued behind a crash or a hang go to the worker that replaces it") {
  auto opts = PoolOptions();
  opts.workers = 1;  // every job queues on the one worker
  opts.wall_seconds = 2;
  ExtractPool pool(opts);
  REQUIRE(pool.HasIdleWorker());
  auto submit = [&](std::uint64_t job, const std::string& data, const std::string& name) {
    int fd = MemFile(data);
    pool.Submit(job, fd, name);
    ::close(fd);
  };
  CHECK(pool.HasFreeWorker());
  submit(1, "x", "__dossier_fault_crash__");
  CHECK_FALSE(pool.HasFreeWorker());  // busy, yet it can queue one more
  CHECK(pool.HasIdleWorker());
  submit(2, "the queued file", "queued.txt");
  CHECK_FALSE(pool.HasIdleWorker());  // one running, one queued
  std::map<std::uint64_t, std::string> failure, text;
  std::vector<std::uint64_t> done_order;
  while (pool.running() > 0) {
    ExtractEvent e = pool.Next();
    if (e.done) {
      failure[e.job] = e.failure;
      done_order.push_back(e.job);
    } else {
      text[e.job] += e.item.text;
    }
    if (e.done && e.job == 2) {  // a hang, with a job queued behind it
      submit(3, "x", "__dossier_fault_hang__");
      submit(4, "after the hang", "last.txt");
    }
  }
  CHECK(done_order == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK_FALSE(failure[1].empty());
  CHECK(failure[2].empty());
  CHECK(text[2] == "the queued file");
  CHECK(failure[3].find("wall-clock") != std::string::npos);
  CHECK(failure[4].empty());
  CHECK(text[4] == "after the hang");
}

TEST_CASE("malformed files of every format never take the pool down", "[fuzz]") {
  std::vector<std::pair<std::string, std::string>> samples = {
      {"a.pdf", MakePdf("some words here", "t")},
      {"a.eml", SampleEmail()},
      {"a.docx", SampleDocx()},
      {"a.odt", SampleOdt()},
      {"a.html", SampleHtml()},
      {"a.zip", MakeArchive("zip", "", {{"x.txt", "inner text"}, {"y.pdf", MakePdf("pdf in zip", "t")}})},
      {"a.tar.gz", MakeArchive("tar", "gzip", {{"x.eml", SampleEmail()}})},
      {"a.7z", MakeArchive("7z", "", {{"x.txt", "seven zip text"}})},
      {"a.tar.xz", MakeArchive("tar", "xz", {{"x.txt", "xz text"}})},
  };
  std::mt19937 rng(12345);
  std::vector<std::pair<std::string, std::string>> corpus;
  for (const auto& [name, data] : samples) {
    for (int cut = 1; cut <= 8; ++cut) corpus.emplace_back(name, data.substr(0, data.size() * cut / 9));
    for (int flip = 0; flip < 12; ++flip) {
      std::string bad = data;
      for (int k = 0; k < 1 + flip % 4; ++k) bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
      corpus.emplace_back(name, bad);
    }
  }
  for (const std::string& magic : {std::string("%PDF-1.7\n"), std::string("PK\x03\x04", 4),
                                  std::string("\x1f\x8b\x08", 3), std::string("7z\xbc\xaf\x27\x1c", 6),
                                  std::string("From a@b Mon Jan  1 00:00:00 2024\n"),
                                  std::string("<html><body>"), std::string("\xfd" "7zXZ", 5),
                                  std::string("BZh9")}) {
    for (int i = 0; i < 4; ++i) {
      std::string junk = magic;
      for (int k = 0; k < 2000; ++k) junk.push_back(static_cast<char>(rng()));
      corpus.emplace_back("junk", junk);
    }
  }
  ExtractPool pool(PoolOptions());
  std::size_t crashes = 0, errors = 0;
  for (const auto& [name, data] : corpus) {
    auto [items, failure] = ThroughPool(pool, data, name);
    crashes += failure.find("crashed") != std::string::npos;
    for (auto& e : items) errors += e.item.status == "error";
  }
  INFO(corpus.size() << " malformed files, " << errors << " recorded errors, " << crashes
                     << " contained worker crashes");
  CHECK(corpus.size() > 200);
  CHECK(errors > 0);
  // Every job ended and the pool still works.
  auto [good, none] = ThroughPool(pool, "still alive", "ok.txt");
  CHECK(none.empty());
  REQUIRE(good.size() == 1);
  CHECK(good[0].item.text == "still alive");
}

TEST_CASE("workers outlive the thread that started the pool") {
  // A job runs on a thread of its own, and the pool outlives it. A worker
  // dies with the thread that forked it (PR_SET_PDEATHSIG), so the pool
  // forks from a thread of its own: a job submitted by a thread that then
  // ends must still finish.
  std::unique_ptr<ExtractPool> pool;
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "line " + std::to_string(i) + " of a long ledger\n";
  auto options = PoolOptions();
  options.workers = 1;
  std::thread starter([&] {
    pool = std::make_unique<ExtractPool>(options);
    // One small job to the end: the worker is up (and has asked to die
    // with its parent) before the long one starts.
    auto [first, why] = ThroughPool(*pool, "warm up", "first.txt");
    CHECK(why.empty());
    const int fd = MemFile(text);
    pool->Submit(1, fd, "ledger.txt");
    ::close(fd);
  });
  // The starter's thread ends while the worker is still sending the
  // ledger's text (nobody reads it yet: the socket is full).
  starter.join();
  std::vector<ExtractEvent> items;
  std::string failure;
  for (;;) {
    ExtractEvent e = pool->Next();
    if (e.done) {
      failure = e.failure;
      break;
    }
    items.push_back(std::move(e));
  }
  CHECK(failure.empty());
  REQUIRE(items.size() == 1);
  CHECK(items[0].item.text.size() == text.size());
  // And a later job, from this thread, too.
  auto [more, none] = ThroughPool(*pool, "after the starter ended", "later.txt");
  CHECK(none.empty());
  CHECK(more.size() == 1);
}

TEST_CASE("the worker finds entities in the text and the address headers, with offsets into the text") {
  ExtractPool pool(PoolOptions());
  const std::string text =
      "Pague para PT50 0002 0123 1234 5678 9015 4 ou ligue +351 21 123 4567.\n"
      "Not an IBAN: PT50 0002 0123 1234 5678 9015 5. Version 1.2.3.4 is out.\n";
  auto [items, failure] = ThroughPool(pool, text, "nota.txt");
  REQUIRE(failure.empty());
  REQUIRE(items.size() == 1);
  const ExtractedItem& it = items[0].item;
  std::vector<std::string> found;
  for (const auto& e : it.entities) {
    if (e.type == EntityType::kDate || e.type == EntityType::kName || e.type == EntityType::kMoney) continue;
    found.push_back(std::string(EntityTypeName(e.type)) + ":" + e.value + "=" +
                    it.text.substr(e.begin, e.end - e.begin));
  }
  CHECK(found == std::vector<std::string>{"iban:PT50000201231234567890154=PT50 0002 0123 1234 5678 9015 4",
                                          "phone:+351211234567=+351 21 123 4567"});

  auto [mail, why] = ThroughPool(pool, SampleEmail(), "mail.eml");
  REQUIRE(why.empty());
  REQUIRE_FALSE(mail.empty());
  std::set<std::string> headers;
  for (const auto& e : mail[0].item.entities) {
    if (e.type == EntityType::kEmail && !e.field.empty()) headers.insert(e.field + ":" + e.value);
  }
  CHECK(headers == std::set<std::string>{"from:rui@example.com", "to:ana@example.com", "to:bob@example.com",
                                         "cc:carol@example.com"});
}
