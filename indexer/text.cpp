#include "indexer/text.h"

#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "base/error.h"

namespace dossier::indexer {
namespace {
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
}  // namespace

namespace {
// Copies valid UTF-8 (NUL becomes a space: it would end C strings further
// down) and hands every invalid sequence to `on_invalid(out, bytes)`, which
// returns how many of those bytes it consumed.
template <typename OnInvalid>
std::string WalkUtf8(std::string_view bytes, OnInvalid on_invalid) {
  std::string out;
  out.reserve(bytes.size());
  const auto* s = reinterpret_cast<const uint8_t*>(bytes.data());
  std::size_t n = bytes.size();
  while (n > 0) {
    ucs4_t uc = 0;
    std::size_t len = static_cast<std::size_t>(u8_mbtouc(&uc, s, n));
    // u8_mbtouc returns 0xFFFD for an invalid sequence; tell a real U+FFFD
    // apart from an error by checking the bytes.
    if (uc == 0xFFFD && !(len == 3 && s[0] == 0xEF && s[1] == 0xBF && s[2] == 0xBD)) {
      len = on_invalid(out, s, len);
    } else if (uc == 0) {
      out.push_back(' ');
    } else {
      out.append(reinterpret_cast<const char*>(s), len);
    }
    s += len;
    n -= len;
  }
  return out;
}
}  // namespace

std::string RepairUtf8(std::string_view bytes) {
  return WalkUtf8(bytes, [](std::string& out, const uint8_t*, std::size_t len) {
    out.append("\xEF\xBF\xBD");
    return len;
  });
}

std::string NameToUtf8(std::string_view bytes) {
  // One byte at a time, as its Latin-1 character: the next byte may start a
  // valid sequence.
  return WalkUtf8(bytes, [](std::string& out, const uint8_t* s, std::size_t) {
    out.push_back(static_cast<char>(0xC0 | (s[0] >> 6)));
    out.push_back(static_cast<char>(0x80 | (s[0] & 0x3F)));
    return std::size_t{1};
  });
}

namespace {
bool Ascii(char c) { return static_cast<unsigned char>(c) < 0x80; }

void AppendNfkc(std::string& out, std::string_view utf8) {
  std::size_t len = 0;
  std::unique_ptr<uint8_t, FreeDeleter> r(
      u8_normalize(UNINORM_NFKC, reinterpret_cast<const uint8_t*>(utf8.data()),
                   utf8.size(), nullptr, &len));
  if (!r) throw Error(ErrorCode::kInternal, "Unicode normalisation failed");
  out.append(reinterpret_cast<const char*>(r.get()), len);
}
}  // namespace

std::string NormalizeNfkc(std::string_view utf8) {
  // ASCII is its own NFKC form, and no composition takes an ASCII
  // character as its second part, so text splits before any ASCII
  // character without changing the result. Only the runs of non-ASCII
  // bytes go through libunistring, each with the character before it
  // (an "e" followed by a combining accent composes into one). Measured:
  // normalising whole chunks was 5% of text-ingest CPU.
  std::string out;
  out.reserve(utf8.size());
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t k = i;
    while (k < utf8.size() && Ascii(utf8[k])) ++k;
    if (k == utf8.size()) {
      out.append(utf8.substr(i));
      break;
    }
    const std::size_t start = k > i ? k - 1 : k;
    out.append(utf8.substr(i, start - i));
    std::size_t e = k;
    while (e < utf8.size() && !Ascii(utf8[e])) ++e;
    AppendNfkc(out, utf8.substr(start, e - start));
    i = e;
  }
  return out;
}

std::string FoldWord(std::string_view utf8) {
  // ASCII is stable under NFKC and folds to its lower case, so most words
  // skip libunistring, whose call costs about 8,000 instructions even on a
  // short ASCII word (a tenth of an ingest's own work on mail).
  if (std::all_of(utf8.begin(), utf8.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    std::string out(utf8);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
  std::size_t len = 0;
  std::unique_ptr<uint8_t, FreeDeleter> r(
      u8_casefold(reinterpret_cast<const uint8_t*>(utf8.data()), utf8.size(),
                  nullptr, UNINORM_NFKC, nullptr, &len));
  if (!r) throw Error(ErrorCode::kInternal, "Unicode case folding failed");
  return std::string(reinterpret_cast<const char*>(r.get()), len);
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace dossier::indexer
