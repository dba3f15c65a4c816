// A document's chain of custody as a PDF (views::CustodyPdf), written with
// PoDoFo: the intake record, then every event in order, on A4 pages with
// their numbers. Text is drawn in DejaVu Sans (embedded, a subset: Latin,
// Greek, Cyrillic, Arabic, Hebrew…), with Droid Sans Fallback for what it
// lacks (Chinese, Japanese, Korean), else in Helvetica. PoDoFo 0.9 picks
// no fallback font by itself, so each line is drawn in runs of one font.
// PoDoFo is included here only.
#include <podofo/podofo.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "indexer/text.h"
#include "repo/views.h"

namespace dossier::repo::views {

namespace {

constexpr const char* kFontFile = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr const char* kFallbackFile = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf";
constexpr double kPageW = 595.0, kPageH = 842.0, kMargin = 50.0;

PoDoFo::PdfString Text(const std::string& s) {
  const std::string clean = indexer::RepairUtf8(s);
  return PoDoFo::PdfString(reinterpret_cast<const PoDoFo::pdf_utf8*>(clean.c_str()));
}

class Writer {
 public:
  Writer() {
    if (std::filesystem::is_regular_file(kFontFile)) {
      font_ = doc_.CreateFontSubset("DejaVu Sans", false, false, false,
                                    PoDoFo::PdfEncodingFactory::GlobalIdentityEncodingInstance(), kFontFile);
    }
    if (!font_) font_ = doc_.CreateFont("Helvetica");
    if (!font_) throw Error(ErrorCode::kInternal, "no font to write the PDF with");
    if (std::filesystem::is_regular_file(kFallbackFile)) {
      fallback_ = doc_.CreateFontSubset("Droid Sans Fallback", false, false, false,
                                        PoDoFo::PdfEncodingFactory::GlobalIdentityEncodingInstance(), kFallbackFile);
    }
    Size(9);
    NewPage();
  }

  // One line of text at the indent, wrapped at the right margin; a new
  // page when this one is full.
  void Line(const std::string& text, double indent = 0, double size = 9) {
    Size(size);
    const double width = kPageW - 2 * kMargin - indent;
    std::string rest = indexer::RepairUtf8(text);
    do {
      std::size_t cut = rest.size();
      while (cut > 1 && Width(rest.substr(0, cut)) > width) cut = Back(rest, cut);
      Room(size + 4);
      Size(size);
      Draw(kMargin + indent, y_, rest.substr(0, cut));
      y_ -= size + 4;
      rest.erase(0, cut);
    } while (!rest.empty());
  }
  void Gap(double h = 6) { y_ -= h; }

  std::string Finish() {
    Footer();
    painter_.FinishPage();
    PoDoFo::PdfRefCountedBuffer buffer;
    PoDoFo::PdfOutputDevice device(&buffer);
    doc_.Write(&device);
    return std::string(buffer.GetBuffer(), device.GetLength());
  }

 private:
  void Size(double size) {
    font_->SetFontSize(static_cast<float>(size));
    if (fallback_) fallback_->SetFontSize(static_cast<float>(size));
  }
  // `text` cut into runs, each in the first font that has its glyphs.
  std::vector<std::pair<PoDoFo::PdfFont*, std::string>> Runs(const std::string& text) const {
    std::vector<std::pair<PoDoFo::PdfFont*, std::string>> runs;
    for (std::size_t i = 0; i < text.size();) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      long cp = n == 1 ? c : c & (0x7F >> n);
      for (std::size_t k = 1; k < n && i + k < text.size(); ++k) cp = (cp << 6) | (text[i + k] & 0x3F);
      PoDoFo::PdfFont* f = font_;
      if (cp >= 0x80 && fallback_ && font_->GetFontMetrics()->GetGlyphId(cp) == 0 &&
          fallback_->GetFontMetrics()->GetGlyphId(cp) != 0) {
        f = fallback_;
      }
      if (runs.empty() || runs.back().first != f) runs.emplace_back(f, "");
      runs.back().second.append(text, i, n);
      i += n;
    }
    return runs;
  }
  double Width(const std::string& text) const {
    double w = 0;
    for (const auto& [f, run] : Runs(text)) w += f->GetFontMetrics()->StringWidth(Text(run));
    return w;
  }
  void Draw(double x, double y, const std::string& text) {
    for (const auto& [f, run] : Runs(text)) {
      painter_.SetFont(f);
      painter_.DrawText(x, y, Text(run));
      x += f->GetFontMetrics()->StringWidth(Text(run));
    }
  }
  // The start of the UTF-8 character before byte `cut` (a shorter prefix).
  static std::size_t Back(const std::string& s, std::size_t cut) {
    --cut;
    while (cut > 1 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return cut;
  }
  void Room(double h) {
    if (y_ - h >= kMargin + 20) return;
    Footer();
    painter_.FinishPage();
    NewPage();
  }
  void NewPage() {
    PoDoFo::PdfPage* page = doc_.CreatePage(PoDoFo::PdfRect(0, 0, kPageW, kPageH));
    painter_.SetPage(page);
    painter_.SetFont(font_);
    ++pages_;
    y_ = kPageH - kMargin;
  }
  void Footer() {
    Size(8);
    Draw(kMargin, kMargin - 10, "Dossier chain of custody, page " + std::to_string(pages_));
  }

  PoDoFo::PdfMemDocument doc_;
  PoDoFo::PdfPainter painter_;
  PoDoFo::PdfFont* font_ = nullptr;
  PoDoFo::PdfFont* fallback_ = nullptr;  // for glyphs font_ lacks
  double y_ = 0;
  int pages_ = 0;
};

}  // namespace

std::string CustodyPdf(const CustodyReport& r, std::int64_t now) {
  try {
    Writer w;
    const DocumentInfo& d = r.document;
    w.Line("Chain of custody", 0, 16);
    w.Gap();
    w.Line("Made " + Rfc3339(now) + " from the repository's audit trail.", 0, 9);
    w.Gap(8);
    w.Line("Intake", 0, 12);
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"Document", d.id}, {"Case", d.case_id}, {"File name", d.filename}, {"Path", d.path},
             {"Custodian", d.custodian}, {"Type", d.mime}, {"Size", std::to_string(d.size) + " bytes"},
             {"SHA-256", d.sha256}, {"MD5", d.md5}, {"Ingested", d.created_at}}) {
      w.Line(k + ": " + (v.empty() ? "-" : v), 10);
    }
    w.Gap(8);
    w.Line("Events (" + std::to_string(r.events.size()) + (r.truncated ? ", truncated" : "") + ")", 0, 12);
    for (const auto& e : r.events) {
      w.Line("#" + std::to_string(e.seq) + "  " + Rfc3339(e.at) + "  " + (e.actor.empty() ? "-" : e.actor) + "  " +
                 e.action + "  " + e.target + (e.detail ? "  \"" + *e.detail + "\"" : ""),
             10);
      w.Line("leaf " + e.hash, 24, 7);
    }
    return w.Finish();
  } catch (const PoDoFo::PdfError& e) {
    throw Error(ErrorCode::kInternal, std::string("the PDF could not be written: ") + e.what());
  }
}

}  // namespace dossier::repo::views
