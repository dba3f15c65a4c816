#include "indexer/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmime/gmime.h>
#include <iconv.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <magic.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#include <strings.h>
#include <sys/mman.h>
#include <textcat.h>
#include <uchardet.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <vector>

#include "indexer/text.h"

namespace dossier::indexer {
namespace {

// ---- RAII for the C handles of each library --------------------------------

struct MagicCloser { void operator()(magic_t m) const { magic_close(m); } };
struct ArchiveCloser { void operator()(archive* a) const { archive_read_free(a); } };
struct XmlDocFree { void operator()(xmlDoc* d) const { xmlFreeDoc(d); } };
struct GObjectUnref { void operator()(void* p) const { if (p) g_object_unref(p); } };
struct UchardetFree { void operator()(uchardet_t u) const { uchardet_delete(u); } };
struct IconvClose { void operator()(iconv_t* c) const { iconv_close(*c); delete c; } };

template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

magic_t Magic() {
  // One libmagic handle per process, loaded once (its database load is slow).
  static std::unique_ptr<std::remove_pointer_t<magic_t>, MagicCloser> handle = [] {
    magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
    if (m != nullptr && magic_load(m, nullptr) != 0) {
      magic_close(m);
      m = nullptr;
    }
    return std::unique_ptr<std::remove_pointer_t<magic_t>, MagicCloser>(m);
  }();
  return handle.get();
}

void* TextCat() {
  // Only the languages Dossier has stemmers for: fewer candidates, fewer
  // wrong guesses, faster. The config goes through a memfd, not a file.
  static void* handle = [] () -> void* {
    static const char* kLangs[] = {"en", "pt", "es", "it", "fr", "de", "nl", "sv", "da",
                                   "nb", "fi", "ru", "ro", "hu", "tr", "ca"};
    std::string conf;
    for (const char* l : kLangs) conf += std::string(l) + ".lm " + l + "--utf8\n";
    int fd = memfd_create("textcat.conf", MFD_CLOEXEC);
    if (fd < 0 || write(fd, conf.data(), conf.size()) != static_cast<ssize_t>(conf.size())) return nullptr;
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    void* h = special_textcat_Init(path.c_str(), "/usr/share/libexttextcat/");
    close(fd);
    return h;
  }();
  return handle;
}

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

bool StartsWith(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

std::string Trimmed(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string IsoDate(std::time_t t) {
  if (t <= 0) return "";
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Appends to an item's text without passing its cap.
void AddText(ExtractedItem& item, std::string_view text, std::size_t cap) {
  if (item.text.size() >= cap) {
    item.text_truncated = item.text_truncated || !text.empty();
    return;
  }
  std::string clean = RepairUtf8(text.substr(0, cap - item.text.size() + 4));
  if (item.text.size() + clean.size() > cap) {
    std::size_t cut = cap - item.text.size();
    while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) --cut;
    clean.resize(cut);
    item.text_truncated = true;
  }
  if (text.size() > clean.size() + 4) item.text_truncated = true;
  item.text += clean;
}

// ---- the walker ---------------------------------------------------------------

class Walker {
 public:
  Walker(const ExtractLimits& limits, const ItemSink& sink) : limits_(limits), sink_(sink) {}

  // Extracts one item (and, recursively, its children) and hands it on.
  void Visit(std::string_view data, const std::string& name, const std::string& path,
             int parent, int depth, bool is_child);

 private:
  struct Child {
    std::string name;
    std::string bytes;
    std::string error;  // set: listed as an error child, bytes not kept
  };

  void Emit(const ExtractedItem& item, std::string_view bytes) {
    sink_(item, bytes);
  }
  void EmitChildError(int parent, const std::string& path, const std::string& name,
                      const std::string& status, const std::string& error,
                      const std::map<std::string, std::string>& fields = {});

  void Html(std::string_view data, ExtractedItem& item);
  void Pdf(std::string_view data, ExtractedItem& item);
  void Email(std::string_view data, ExtractedItem& item, std::vector<Child>& children);
  void Mbox(std::string_view data, ExtractedItem& item, int depth);
  void Archive(std::string_view data, ExtractedItem& item, int depth, bool raw_allowed);
  void Office(std::string_view data, ExtractedItem& item, std::vector<Child>& embedded);

  const ExtractLimits& limits_;
  const ItemSink& sink_;
  int next_index_ = 0;
  std::uint64_t expanded_ = 0;
};

std::string JoinPath(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

void Walker::EmitChildError(int parent, const std::string& path,
                            const std::string& name, const std::string& status,
                            const std::string& error,
                            const std::map<std::string, std::string>& fields) {
  ExtractedItem item;
  item.index = next_index_++;
  item.parent = parent;
  item.path = path;
  item.name = name;
  item.status = status;
  item.error = error;
  item.fields = fields;
  Emit(item, {});
}

bool IsArchive(const std::string& mime) {
  static const char* kTypes[] = {
      "application/zip", "application/x-tar", "application/gzip", "application/x-gzip",
      "application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
      "application/x-rar", "application/vnd.rar", "application/x-cpio",
      "application/x-iso9660-image", "application/x-lzma", "application/zstd",
      "application/x-archive", "application/java-archive"};
  for (auto t : kTypes) if (mime == t) return true;
  return false;
}

bool IsOffice(const std::string& mime) {
  return StartsWith(mime, "application/vnd.openxmlformats-officedocument.") ||
         StartsWith(mime, "application/vnd.oasis.opendocument.");
}

void Walker::Visit(std::string_view data, const std::string& name, const std::string& path,
                   int parent, int depth, bool is_child) {
  ExtractedItem item;
  item.index = next_index_++;
  item.parent = parent;
  item.path = path;
  item.name = name;
  if (static_cast<std::uint64_t>(item.index) >= limits_.max_items) {
    return;  // the caller reports the limit on the container
  }
  item.mime = DetectMime(data);
  const std::string& mime = item.mime;
  std::vector<Child> attachments;
  enum class Then { kNothing, kArchive, kRawArchive, kMbox, kAttachments } then = Then::kNothing;
  try {
    if (depth > limits_.max_depth) {
      item.status = "error";
      item.error = "nested deeper than the limit of " + std::to_string(limits_.max_depth);
    } else if (mime == "inode/x-empty") {
      // An empty file: stored, nothing to extract.
    } else if (mime == "text/html" || mime == "application/xhtml+xml") {
      Html(data, item);
    } else if (mime == "application/pdf") {
      Pdf(data, item);
    } else if (mime == "message/rfc822" || mime == "message/news") {
      Email(data, item, attachments);
      then = Then::kAttachments;
    } else if (mime == "application/mbox") {
      then = Then::kMbox;
    } else if (IsOffice(mime)) {
      Office(data, item, attachments);
      then = Then::kAttachments;
    } else if (IsArchive(mime)) {
      const bool single_stream = mime == "application/gzip" || mime == "application/x-gzip" ||
                                 mime == "application/x-bzip2" || mime == "application/x-xz" ||
                                 mime == "application/x-lzma" || mime == "application/zstd";
      then = single_stream ? Then::kRawArchive : Then::kArchive;
    } else if (StartsWith(mime, "text/") || mime == "application/json" ||
               mime == "application/xml" || mime == "application/javascript" ||
               mime == "application/x-subrip" || mime == "application/csv") {
      bool truncated = false;
      item.text = DecodeText(data, limits_.text_cap, &truncated);
      item.text_truncated = truncated;
    } else {
      item.status = "unsupported";
    }
  } catch (const std::bad_alloc&) {
    item.status = "error";
    item.error = "out of memory while extracting";
    item.text.clear();
  } catch (const std::exception&) {
    item.status = "error";
    item.error = "the extractor failed on malformed input";
  }
  if (!item.text.empty()) item.language = DetectLanguage(item.text);
  Emit(item, is_child ? data : std::string_view());

  const int me = item.index;
  switch (then) {
    case Then::kNothing: break;
    case Then::kArchive: Archive(data, item, depth, false); break;
    case Then::kRawArchive: Archive(data, item, depth, true); break;
    case Then::kMbox: Mbox(data, item, depth); break;
    case Then::kAttachments:
      for (auto& c : attachments) {
        if (!c.error.empty()) {
          EmitChildError(me, JoinPath(path, c.name), c.name, "error", c.error);
          continue;
        }
        Visit(c.bytes, c.name, JoinPath(path, c.name), me, depth + 1, true);
        std::string().swap(c.bytes);
      }
      break;
  }
}

// ---- HTML (libxml2's HTML parser) ---------------------------------------------------

// HTML goes through libxml2's SAX interface: text straight into one string,
// no tree. Building the DOM and walking it cost the worker more in malloc
// and free than in parsing (measured with perf on the Python docs).
struct HtmlText {
  std::string text, title;
  std::size_t cap = 0;   // text kept at most (the item's text cap)
  htmlParserCtxtPtr ctxt = nullptr;
  int skip = 0;          // depth inside script, style, noscript, template
  bool in_title = false;
  bool title_done = false;
  bool out_of_memory = false;  // no exception may cross libxml2's C frames
};

// Gives the context its own handler back before freeing it.
struct HtmlCtxtFree {
  void operator()(htmlParserCtxt* c) const {
    c->sax = nullptr;
    c->userData = nullptr;
    if (c->myDoc != nullptr) xmlFreeDoc(c->myDoc);
    htmlFreeParserCtxt(c);
  }
};

bool TagIs(const xmlChar* name, std::initializer_list<const char*> tags) {
  for (const char* t : tags) {
    if (!strcasecmp(reinterpret_cast<const char*>(name), t)) return true;
  }
  return false;
}

bool Hidden(const xmlChar* name) { return TagIs(name, {"script", "style", "noscript", "template"}); }

bool Block(const xmlChar* name) {
  return TagIs(name, {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table",
                      "section", "article", "pre", "blockquote", "dt", "dd", "td", "th"});
}

void HtmlStart(void* ctx, const xmlChar* name, const xmlChar**) {
  auto* h = static_cast<HtmlText*>(ctx);
  if (Hidden(name)) {
    ++h->skip;
  } else if (TagIs(name, {"title"}) && !h->title_done) {
    h->in_title = true;
  }
}

void HtmlEnd(void* ctx, const xmlChar* name) {
  auto* h = static_cast<HtmlText*>(ctx);
  if (Hidden(name)) {
    if (h->skip > 0) --h->skip;
  } else if (TagIs(name, {"title"}) && h->in_title) {
    h->in_title = false;
    h->title_done = true;
  } else if (Block(name) && h->skip == 0 && h->text.size() < h->cap) {
    h->text += '\n';
  }
}

void HtmlChars(void* ctx, const xmlChar* ch, int len) {
  auto* h = static_cast<HtmlText*>(ctx);
  if (h->skip > 0 || len <= 0) return;
  std::string& out = h->in_title ? h->title : h->text;
  const std::size_t room = h->cap > out.size() ? h->cap - out.size() : 0;
  const std::size_t take = std::min<std::size_t>(room, static_cast<std::size_t>(len));
  try {
    out.append(reinterpret_cast<const char*>(ch), take);
  } catch (const std::bad_alloc&) {
    h->out_of_memory = true;
  }
  // Past the cap the rest is not kept, so there is no point parsing it.
  if (take < static_cast<std::size_t>(len) || h->out_of_memory) xmlStopParser(h->ctxt);
}

void Walker::Html(std::string_view data, ExtractedItem& item) {
  htmlSAXHandler sax{};
  sax.startElement = HtmlStart;
  sax.endElement = HtmlEnd;
  sax.characters = HtmlChars;
  sax.cdataBlock = HtmlChars;
  sax.ignorableWhitespace = HtmlChars;
  sax.initialized = 1;
  HtmlText out;
  out.cap = limits_.text_cap + 1;  // one byte over, so AddText sees the cut and says so
  std::unique_ptr<htmlParserCtxt, HtmlCtxtFree> ctxt(htmlCreateMemoryParserCtxt(
      data.data(), static_cast<int>(std::min<std::size_t>(data.size(), INT32_MAX))));
  if (!ctxt) {
    item.status = "error";
    item.error = "unreadable HTML";
    return;
  }
  // The documented way to parse with one's own handler (htmlSAXParseDoc
  // does the same): swap the context's handler, give it back before free.
  xmlFree(ctxt->sax);
  ctxt->sax = reinterpret_cast<xmlSAXHandlerPtr>(&sax);
  ctxt->userData = &out;
  out.ctxt = ctxt.get();
  htmlCtxtUseOptions(ctxt.get(), HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                     HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED);
  htmlParseDocument(ctxt.get());
  ctxt.reset();
  if (out.out_of_memory) throw std::bad_alloc();
  const std::string title = Trimmed(out.title);
  if (!title.empty()) {
    item.fields["title"] = title;
    AddText(item, title + "\n", limits_.text_cap);
  }
  AddText(item, out.text, limits_.text_cap);
}

// ---- PDF (poppler-cpp) ----------------------------------------------------------------

void QuietPoppler(const std::string&, void*) {}

void Walker::Pdf(std::string_view data, ExtractedItem& item) {
  poppler::set_debug_error_function(QuietPoppler, nullptr);
  if (data.size() > INT32_MAX) {
    item.status = "error";
    item.error = "PDF larger than 2 GiB";
    return;
  }
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
  if (!doc) {
    item.status = "error";
    item.error = "unreadable PDF";
    return;
  }
  if (doc->is_locked()) {
    item.status = "error";
    item.error = "encrypted PDF (no password)";
    return;
  }
  auto info = [&](const char* key, const char* field) {
    const poppler::byte_array v = doc->info_key(key).to_utf8();
    std::string s = Trimmed(std::string(v.begin(), v.end()));
    if (!s.empty()) item.fields[field] = RepairUtf8(s);
  };
  info("Title", "title");
  info("Author", "author");
  if (auto t = doc->info_date_t("CreationDate"); t > 0) item.fields["created"] = IsoDate(t);
  for (int i = 0; i < doc->pages() && item.text.size() < limits_.text_cap; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) continue;
    const poppler::byte_array t = page->text().to_utf8();
    AddText(item, std::string_view(t.data(), t.size()), limits_.text_cap);
    AddText(item, "\n\f", limits_.text_cap);
  }
}

// ---- Email and mbox (GMime) ----------------------------------------------------------

std::string AddressList(InternetAddressList* list) {
  if (list == nullptr || internet_address_list_length(list) == 0) return "";
  char* s = internet_address_list_to_string(list, nullptr, FALSE);
  std::string out = s ? s : "";
  g_free(s);
  return out;
}

std::string PartBytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return "";
  GPtr<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, mem.get());
  GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(arr->data), arr->len);
}

std::string ObjectBytes(GMimeObject* obj) {
  GPtr<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(obj, nullptr, mem.get());
  GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(arr->data), arr->len);
}

struct MailWalk {
  std::string plain, html;
  std::vector<std::pair<std::string, std::string>> attachments;  // name, bytes
  std::uint64_t bytes = 0;
  std::uint64_t limit = 0;
  bool over = false;
  int unnamed = 0;
};

void VisitPart(GMimeObject* parent, GMimeObject* part, gpointer data) {
  (void)parent;
  auto* w = static_cast<MailWalk*>(data);
  if (GMIME_IS_MESSAGE_PART(part)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
    if (inner) {
      std::string b = ObjectBytes(GMIME_OBJECT(inner));
      w->bytes += b.size();
      if (w->bytes > w->limit) { w->over = true; return; }
      w->attachments.emplace_back("message-" + std::to_string(++w->unnamed) + ".eml", std::move(b));
    }
    return;
  }
  if (!GMIME_IS_PART(part)) return;
  GMimePart* p = GMIME_PART(part);
  const char* filename = g_mime_part_get_filename(p);
  GMimeContentType* ct = g_mime_object_get_content_type(part);
  const bool is_text = ct && g_mime_content_type_is_type(ct, "text", "*");
  const bool attachment = g_mime_part_is_attachment(p) || (filename != nullptr && *filename);
  if (!attachment && is_text && GMIME_IS_TEXT_PART(part)) {
    char* t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));  // decoded to UTF-8
    if (t) {
      if (g_mime_content_type_is_type(ct, "text", "html")) w->html += t;
      else w->plain += std::string(t) + "\n";
      g_free(t);
    }
    return;
  }
  std::string b = PartBytes(p);
  w->bytes += b.size();
  if (w->bytes > w->limit) { w->over = true; return; }
  std::string name = filename && *filename ? filename : "attachment-" + std::to_string(++w->unnamed);
  std::replace(name.begin(), name.end(), '/', '_');
  w->attachments.emplace_back(name, std::move(b));
}

void Walker::Email(std::string_view data, ExtractedItem& item, std::vector<Child>& children) {
  InitGMime();
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(data.data(), data.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  // The mbox format makes GMime read past an envelope "From " line.
  if (data.substr(0, 5) == "From ") g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MBOX);
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) {
    item.status = "error";
    item.error = "unreadable email message";
    return;
  }
  auto& f = item.fields;
  auto set = [&](const char* key, std::string v) {
    v = Trimmed(RepairUtf8(v));
    if (!v.empty()) f[key] = v;
  };
  set("from", AddressList(g_mime_message_get_from(msg.get())));
  set("to", AddressList(g_mime_message_get_to(msg.get())));
  set("cc", AddressList(g_mime_message_get_cc(msg.get())));
  set("bcc", AddressList(g_mime_message_get_bcc(msg.get())));
  if (const char* s = g_mime_message_get_subject(msg.get())) set("subject", s);
  if (const char* s = g_mime_message_get_message_id(msg.get())) set("message_id", s);
  if (const char* s = g_mime_object_get_header(GMIME_OBJECT(msg.get()), "In-Reply-To")) set("in_reply_to", s);
  if (const char* s = g_mime_object_get_header(GMIME_OBJECT(msg.get()), "References")) set("references", s);
  if (GDateTime* d = g_mime_message_get_date(msg.get())) {
    set("date", IsoDate(g_date_time_to_unix(d)));
  }
  if (f.count("subject")) f["title"] = f["subject"];
  MailWalk walk;
  walk.limit = limits_.max_entry_bytes;
  g_mime_message_foreach(msg.get(), VisitPart, &walk);
  std::string head;
  for (const char* k : {"from", "to", "cc", "subject"}) {
    if (f.count(k)) head += f[k] + "\n";
  }
  AddText(item, head + "\n", limits_.text_cap);
  if (!walk.plain.empty()) {
    AddText(item, walk.plain, limits_.text_cap);
  } else if (!walk.html.empty()) {
    ExtractedItem tmp;
    Html(walk.html, tmp);
    AddText(item, tmp.text, limits_.text_cap);
  }
  if (walk.over) {
    item.status = "error";
    item.error = "attachments exceed the expansion limit";
  }
  for (auto& [name, bytes] : walk.attachments) {
    expanded_ += bytes.size();
    if (expanded_ > limits_.max_total_bytes) {
      item.status = "error";
      item.error = "attachments exceed the total expansion limit";
      break;
    }
    Child c;
    c.name = name;
    c.bytes = std::move(bytes);
    children.push_back(std::move(c));
  }
}

void Walker::Mbox(std::string_view data, ExtractedItem& item, int depth) {
  InitGMime();
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(data.data(), data.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MBOX);
  int n = 0;
  while (!g_mime_parser_eos(parser.get())) {
    GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
    if (!msg) break;
    ++n;
    // The message as GMime re-serialises it (the mbox "From " line and
    // >From quoting are not part of a message).
    std::string bytes = ObjectBytes(GMIME_OBJECT(msg.get()));
    expanded_ += bytes.size();
    if (expanded_ > limits_.max_total_bytes ||
        static_cast<std::uint64_t>(next_index_) >= limits_.max_items) {
      EmitChildError(item.index, JoinPath(item.path, "..."), "...", "error",
                     "the mailbox exceeds the expansion limit");
      return;
    }
    const std::string name = "message-" + std::to_string(n) + ".eml";
    Visit(bytes, name, JoinPath(item.path, name), item.index, depth + 1, true);
  }
}

// ---- Archives (libarchive) ------------------------------------------------------------

void Walker::Archive(std::string_view data, ExtractedItem& item, int depth, bool raw_allowed) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  // Only the format libmagic named: with every format on, libarchive's
  // bidders can prefer another container found inside this one (a RAR whose
  // last stored entry is a zip was read as that zip, by its central
  // directory at the end of the file).
  const std::string& m = item.mime;
  if (m == "application/zip" || m == "application/java-archive") {
    archive_read_support_format_zip(a.get());
  } else if (m == "application/x-7z-compressed") {
    archive_read_support_format_7zip(a.get());
  } else if (m == "application/x-rar" || m == "application/vnd.rar") {
    archive_read_support_format_rar(a.get());
    archive_read_support_format_rar5(a.get());
  } else if (m == "application/x-cpio") {
    archive_read_support_format_cpio(a.get());
  } else if (m == "application/x-iso9660-image") {
    archive_read_support_format_iso9660(a.get());
  } else if (m == "application/x-archive") {
    archive_read_support_format_ar(a.get());
  } else if (m == "application/x-tar") {
    archive_read_support_format_tar(a.get());
  } else {
    // A compressed stream: a tar or cpio inside, or one compressed file.
    archive_read_support_format_tar(a.get());
    archive_read_support_format_cpio(a.get());
    if (raw_allowed) archive_read_support_format_raw(a.get());
  }
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) {
    EmitChildError(item.index, JoinPath(item.path, "?"), "?", "error",
                   "unreadable archive");
    return;
  }
  archive_entry* entry = nullptr;
  std::vector<char> buf(64 * 1024);
  int unnamed = 0;
  for (;;) {
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      EmitChildError(item.index, JoinPath(item.path, "?"), "?", "error",
                     "the archive is damaged past this point");
      return;
    }
    if (static_cast<std::uint64_t>(next_index_) >= limits_.max_items) {
      EmitChildError(item.index, JoinPath(item.path, "?"), "?", "error",
                     "the archive has more entries than the limit");
      return;
    }
    const char* pn = archive_entry_pathname_utf8(entry);
    if (pn == nullptr) pn = archive_entry_pathname(entry);
    // Entry names are data, never paths on disk: nothing is written from
    // them, so "../" and absolute names are harmless text here.
    // A name that is not UTF-8 (and that libarchive could not convert) is
    // read as Latin-1, byte for byte, so it stays readable and distinct.
    std::string name = pn && *pn ? NameToUtf8(pn) : "entry-" + std::to_string(++unnamed);
    if (raw_allowed && name == "data") {
      name = item.name;
      for (const char* ext : {".gz", ".bz2", ".xz", ".lzma", ".zst"}) {
        if (name.size() > std::strlen(ext) && name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0) {
          name.resize(name.size() - std::strlen(ext));
        }
      }
    }
    const std::string child_path = JoinPath(item.path, name);
    const std::string base = name.substr(name.find_last_of('/') == std::string::npos ? 0 : name.find_last_of('/') + 1);
    const auto type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) continue;
    if (type == AE_IFLNK || archive_entry_hardlink(entry) != nullptr) {
      const char* target = archive_entry_symlink_utf8(entry);
      if (!target) target = archive_entry_hardlink(entry);
      EmitChildError(item.index, child_path, base, "link", "",
                     {{"link_target", target ? RepairUtf8(target) : ""}});
      continue;
    }
    if (type != AE_IFREG && type != 0) {
      EmitChildError(item.index, child_path, base, "unsupported",
                     "special file entry (device, fifo or socket)");
      continue;
    }
    if (archive_entry_is_encrypted(entry)) {
      EmitChildError(item.index, child_path, base, "error", "encrypted entry");
      continue;
    }
    std::string bytes;
    std::string failure;
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        failure = "the entry is damaged";
        break;
      }
      bytes.append(buf.data(), static_cast<std::size_t>(n));
      expanded_ += static_cast<std::uint64_t>(n);
      // Checked while streaming: a bomb stops here, not after it expands.
      const auto consumed = std::max<la_int64_t>(archive_filter_bytes(a.get(), -1), 1);
      if (bytes.size() > limits_.max_entry_bytes) {
        failure = "the entry expands past the per-entry limit";
      } else if (expanded_ > limits_.max_total_bytes) {
        failure = "the archive expands past the total limit";
      } else if (expanded_ > (1u << 20) &&
                 static_cast<double>(expanded_) / static_cast<double>(consumed) > limits_.max_ratio) {
        failure = "the archive's expansion ratio is over the limit (a compression bomb?)";
      }
      if (!failure.empty()) break;
    }
    if (!failure.empty()) {
      EmitChildError(item.index, child_path, base, "error", failure);
      if (failure.find("damaged") == std::string::npos) return;  // stop the whole archive
      continue;
    }
    Visit(bytes, base, child_path, item.index, depth + 1, true);
  }
}

// ---- Office Open XML and OpenDocument (libarchive + libxml2) ----------------------

void CollectXmlText(xmlNode* node, std::string& out) {
  for (xmlNode* n = node; n != nullptr; n = n->next) {
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      if (n->content) out += reinterpret_cast<const char*>(n->content);
    } else if (n->type == XML_ELEMENT_NODE) {
      const char* tag = reinterpret_cast<const char*>(n->name);
      if (!strcmp(tag, "tab") || !strcmp(tag, "s")) out += ' ';
      CollectXmlText(n->children, out);
      // Paragraph-like elements end a line: w:p, a:p, text:p, text:h, row, si.
      if (!strcmp(tag, "p") || !strcmp(tag, "h") || !strcmp(tag, "br") || !strcmp(tag, "row") ||
          !strcmp(tag, "si") || !strcmp(tag, "tr") || !strcmp(tag, "table-row")) {
        out += '\n';
      } else if (!strcmp(tag, "c") || !strcmp(tag, "table-cell")) {
        out += '\t';
      }
    }
  }
}

std::unique_ptr<xmlDoc, XmlDocFree> ParseXml(const std::string& xml) {
  // No entity substitution, no network, no DTD loading: XXE is impossible.
  return std::unique_ptr<xmlDoc, XmlDocFree>(
      xmlReadMemory(xml.data(), static_cast<int>(std::min<std::size_t>(xml.size(), INT32_MAX)),
                    nullptr, nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

void Walker::Office(std::string_view data, ExtractedItem& item, std::vector<Child>& embedded) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) {
    item.status = "error";
    item.error = "unreadable office document";
    return;
  }
  auto wanted = [](const std::string& n) {
    return n == "word/document.xml" || StartsWith(n, "word/header") ||
           StartsWith(n, "word/footer") || n == "word/footnotes.xml" ||
           n == "xl/sharedStrings.xml" || (StartsWith(n, "xl/worksheets/sheet") && n.size() < 40) ||
           (StartsWith(n, "ppt/slides/slide") && n.find("_rels") == std::string::npos) ||
           StartsWith(n, "ppt/notesSlides/notesSlide") || n == "content.xml" ||
           n == "docProps/core.xml" || n == "meta.xml";
  };
  // Embedded objects (a spreadsheet in a report, an OLE object, a file
  // dropped into a slide) become children, as review tools list them:
  // OOXML keeps them under */embeddings/, ODF as top-level "Object N" files.
  auto is_embedded = [](const std::string& n) {
    return ((StartsWith(n, "word/embeddings/") || StartsWith(n, "xl/embeddings/") ||
             StartsWith(n, "ppt/embeddings/")) && n.back() != '/') ||
           (StartsWith(n, "Object ") && n.find('/') == std::string::npos);
  };
  std::map<std::string, std::string> parts;
  archive_entry* entry = nullptr;
  std::vector<char> buf(64 * 1024);
  std::uint64_t text_parts = 0;  // the document's own XML, against the per-entry limit
  std::uint64_t all = 0;         // everything read, against the ratio
  while (archive_read_next_header(a.get(), &entry) == ARCHIVE_OK) {
    const char* pn = archive_entry_pathname(entry);
    const std::string name = pn ? RepairUtf8(pn) : "";
    const bool object = is_embedded(name);
    if (!object && !wanted(name)) continue;
    // Each embedded object has the per-entry limit of its own and counts
    // towards the family's total, like an archive entry.
    if (object) embedded.push_back({name.substr(name.find_last_of('/') + 1), {}, {}});
    std::string& xml = object ? embedded.back().bytes : parts[name];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf.data(), buf.size())) > 0) {
      xml.append(buf.data(), static_cast<std::size_t>(n));
      all += static_cast<std::uint64_t>(n);
      if (object) {
        expanded_ += static_cast<std::uint64_t>(n);
      } else {
        text_parts += static_cast<std::uint64_t>(n);
      }
      const auto consumed = std::max<la_int64_t>(archive_filter_bytes(a.get(), -1), 1);
      std::string failure;
      if (all > (1u << 20) && static_cast<double>(all) / consumed > limits_.max_ratio) {
        failure = "the office document expands past the limits";
      } else if (text_parts > limits_.max_entry_bytes) {
        failure = "the office document expands past the limits";
      } else if (object && expanded_ > limits_.max_total_bytes) {
        failure = "the family expands past the total limit";
      } else if (object && xml.size() > limits_.max_entry_bytes) {
        // Only this object is lost; the document and the other objects stay.
        embedded.back().bytes.clear();
        embedded.back().error = "the embedded object expands past the per-entry limit";
        break;
      }
      if (!failure.empty()) {
        if (object) {
          embedded.back().bytes.clear();  // never a truncated child
          embedded.back().error = failure;
        }
        item.status = "error";
        item.error = failure;
        return;
      }
    }
  }
  // Properties.
  for (const char* props : {"docProps/core.xml", "meta.xml"}) {
    auto it = parts.find(props);
    if (it == parts.end()) continue;
    auto doc = ParseXml(it->second);
    if (!doc) continue;
    std::function<void(xmlNode*)> walk = [&](xmlNode* n) {
      for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        const std::string tag = reinterpret_cast<const char*>(n->name);
        const char* field = tag == "title" ? "title"
                            : (tag == "creator" || tag == "initial-creator") ? "author"
                            : (tag == "created" || tag == "creation-date") ? "created"
                                                                            : nullptr;
        if (field && !item.fields.count(field)) {
          xmlChar* c = xmlNodeGetContent(n);
          if (c) {
            std::string v = Trimmed(reinterpret_cast<const char*>(c));
            if (!v.empty()) item.fields[field] = RepairUtf8(v);
            xmlFree(c);
          }
        }
        walk(n->children);
      }
    };
    walk(xmlDocGetRootElement(doc.get()));
  }
  if (item.fields.count("title")) AddText(item, item.fields["title"] + "\n", limits_.text_cap);
  for (const auto& [name, xml] : parts) {
    if (name == "docProps/core.xml" || name == "meta.xml") continue;
    auto doc = ParseXml(xml);
    if (!doc) continue;
    std::string text;
    CollectXmlText(xmlDocGetRootElement(doc.get()), text);
    AddText(item, text + "\n", limits_.text_cap);
  }
}

}  // namespace

// ---- public helpers ------------------------------------------------------------

namespace {

// True when `data` opens with an RFC 5322 header block holding at least two
// of From, To, Subject, Date, Message-ID (libmagic calls many real
// messages text/plain).
bool LooksLikeMessage(std::string_view data) {
  int known = 0;
  std::size_t pos = 0;
  for (int line = 0; line < 60 && pos < data.size(); ++line) {
    const std::size_t end = data.find('\n', pos);
    std::string_view l = data.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? data.size() : end + 1;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) break;  // end of the header block
    if (l[0] == ' ' || l[0] == '\t') continue;  // folded header
    const std::size_t colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0 || l.find(' ') < colon) return false;
    std::string name(l.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "from" || name == "to" || name == "subject" || name == "date" || name == "message-id") ++known;
  }
  return known >= 2;
}

// A zip holding "mimetype" (OpenDocument) or "[Content_Types].xml" (Office
// Open XML): the type its own packaging declares.
std::string OfficeTypeOfZip(std::string_view data) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) return "";
  archive_entry* e = nullptr;
  for (int i = 0; i < 64 && archive_read_next_header(a.get(), &e) == ARCHIVE_OK; ++i) {
    const std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (name == "mimetype") {
      char buf[128];
      const la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      std::string type = n > 0 ? Trimmed(std::string(buf, static_cast<std::size_t>(n))) : "";
      if (StartsWith(type, "application/vnd.oasis.opendocument.")) return type;
    } else if (StartsWith(name, "word/")) {
      return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    } else if (StartsWith(name, "xl/")) {
      return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    } else if (StartsWith(name, "ppt/")) {
      return "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    }
  }
  return "";
}

// The HTML and XML rows of the WHATWG MIME Sniffing Standard's "rules for
// identifying an unknown MIME type" (section 7.1): after a byte-order mark
// and leading whitespace, one of these tags, case-insensitively, followed by
// a tag-terminating byte (the standard's space or '>', and also the other
// whitespace and '/' real pages put there). Returns "text/plain" when none
// matches.
std::string SniffMarkup(std::string_view data) {
  if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
  const std::size_t start = data.find_first_not_of("\t\n\f\r ");
  if (start == std::string_view::npos) return "text/plain";
  data.remove_prefix(start);
  if (data.substr(0, 5) == "<?xml") return "text/xml";
  static constexpr std::string_view kHtml[] = {
      "<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT", "<TABLE",
      "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"};
  for (std::string_view tag : kHtml) {
    if (data.size() <= tag.size()) continue;
    if (strncasecmp(data.data(), tag.data(), tag.size()) != 0) continue;
    const char after = data[tag.size()];
    if (std::strchr(" >\t\n\r\f/", after) != nullptr && after != '\0') return "text/html";
  }
  return "text/plain";
}

}  // namespace


std::string DetectMime(std::string_view data) {
  magic_t m = Magic();
  if (data.empty()) return "inode/x-empty";
  if (m == nullptr) return "application/octet-stream";
  // libmagic reads the start of a file; 4 MiB covers every signature it has.
  const std::size_t n = std::min<std::size_t>(data.size(), 4u << 20);
  // First its binary tests and built-in ones (JSON, CSV, calendar, vCard,
  // RTF, PostScript, SVG, PDF, archives, Office... all answer here).
  magic_setflags(m, MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_TEXT);
  const char* r = magic_buffer(m, data.data(), n);
  std::string mime = r ? r : "application/octet-stream";
  if (mime == "application/octet-stream") {
    // Then only its encoding test: text or not. Its soft text tests (about
    // a hundred regular expressions guessing programming languages) cost
    // 1.2 ms per text file, a fifth of all text-ingest CPU (measured with
    // perf), and mostly guess wrong on prose (kernel .rst docs as C). The
    // text types that matter here, HTML and XML, are recognised by the
    // WHATWG MIME Sniffing Standard's patterns below; mail by its headers.
    magic_setflags(m, MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_SOFT);
    r = magic_buffer(m, data.data(), n);
    mime = r ? r : "application/octet-stream";
    if (mime == "text/plain") mime = SniffMarkup(data);
    if (mime == "text/plain") {
      // Text that opens with markup the patterns do not know ("<meta
      // charset>", a conditional comment) gets libmagic's text tests after
      // all, on its first 64 KiB: rare in prose, so the cost stays small.
      const std::size_t first = data.find_first_not_of("\t\n\f\r \xEF\xBB\xBF");
      if (first != std::string_view::npos && data[first] == '<') {
        magic_setflags(m, MAGIC_MIME_TYPE | MAGIC_ERROR);
        r = magic_buffer(m, data.data(), std::min<std::size_t>(n, 64u << 10));
        if (r != nullptr && StartsWith(r, "text/")) mime = r;
      }
    }
  }
  // Refinements where libmagic is known to answer too generally.
  if (mime == "text/plain") {
    if (StartsWith(std::string(data.substr(0, 5)), "From ") &&
        LooksLikeMessage(data.substr(std::min(data.size(), data.find('\n') + 1)))) {
      // One message behind an envelope "From " line (how many mail
      // exports save a single .eml) is a message; more make a mailbox.
      return data.find("\nFrom ") != std::string_view::npos ? "application/mbox"
                                                             : "message/rfc822";
    }
    if (LooksLikeMessage(data)) return "message/rfc822";
  }
  if ((mime == "message/news" || mime == "message/rfc822") && !LooksLikeMessage(data)) {
    return "text/plain";  // e.g. prose that happens to start with "Article"
  }
  if (mime == "application/zip" || mime == "application/octet-stream") {
    if (data.size() > 4 && data.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
      const std::string office = OfficeTypeOfZip(data);
      if (!office.empty()) return office;
      if (mime == "application/octet-stream") return "application/zip";
    }
  }
  return mime;
}

std::string DetectLanguage(std::string_view utf8) {
  void* h = TextCat();
  if (h == nullptr || utf8.size() < 24) return "";
  const std::size_t n = std::min<std::size_t>(utf8.size(), 8192);
  const char* r = textcat_Classify(h, utf8.data(), n);
  if (r == nullptr || r[0] != '[') return "";  // "SHORT", "UNKNOWN"
  // "[pt--utf8][es--utf8]": the best guess comes first.
  std::string best(r + 1);
  best = best.substr(0, best.find_first_of("-]"));
  return best;
}

std::string DecodeText(std::string_view bytes, std::size_t cap, bool* truncated) {
  *truncated = bytes.size() > cap;
  std::string_view head = bytes.substr(0, std::min(bytes.size(), cap));
  std::unique_ptr<std::remove_pointer_t<uchardet_t>, UchardetFree> det(uchardet_new());
  uchardet_handle_data(det.get(), head.data(), std::min<std::size_t>(head.size(), 256 * 1024));
  uchardet_data_end(det.get());
  std::string charset = uchardet_get_charset(det.get());
  if (charset.empty() || charset == "ASCII" || charset == "UTF-8") return RepairUtf8(head);
  iconv_t cd = iconv_open("UTF-8//IGNORE", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return RepairUtf8(head);
  std::unique_ptr<iconv_t, IconvClose> guard(new iconv_t(cd));
  std::string out;
  out.resize(head.size() * 2 + 16);
  char* in = const_cast<char*>(head.data());
  std::size_t in_left = head.size();
  char* o = out.data();
  std::size_t out_left = out.size();
  while (in_left > 0) {
    if (iconv(cd, &in, &in_left, &o, &out_left) == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) {
        const std::size_t used = o - out.data();
        out.resize(out.size() * 2);
        o = out.data() + used;
        out_left = out.size() - used;
      } else {
        ++in;  // skip a byte that is not valid in the detected charset
        --in_left;
      }
    }
  }
  out.resize(o - out.data());
  std::string repaired = RepairUtf8(out);
  if (repaired.size() > cap) {
    std::size_t cut = cap;
    while (cut > 0 && (static_cast<unsigned char>(repaired[cut]) & 0xC0) == 0x80) --cut;
    repaired.resize(cut);
    *truncated = true;
  }
  return repaired;
}

void ExtractAll(std::string_view data, const std::string& name, const ExtractLimits& limits,
                const ItemSink& sink) {
  Walker w(limits, sink);
  w.Visit(data, name, "", -1, 0, false);
}

}  // namespace dossier::indexer
