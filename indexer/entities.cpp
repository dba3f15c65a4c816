#include "indexer/entities.h"

#include <arpa/inet.h>
#include <libpsl.h>
#include <phonenumbers/phonenumbermatch.h>
#include <phonenumbers/phonenumbermatcher.h>
#include <phonenumbers/phonenumberutil.h>
#include <sodium.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace dossier::indexer {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }
char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
char Upper(char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); }
std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}
// A byte that may continue a word around a candidate: an ASCII letter or
// digit, or any byte of a non-ASCII character (a letter, most likely).
bool WordByte(char c) { return IsAlnum(c) || static_cast<unsigned char>(c) >= 0x80; }

// ---------------------------------------------------------------------------
// IBAN (ISO 13616). No Debian library validates IBANs; the registry's
// lengths per country and the mod-97 check are short enough to keep here.

const std::map<std::string, int>& IbanLengths() {
  static const std::map<std::string, int> lengths = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28},
      {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24},
      {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18},
      {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23},
      {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
      {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24},
      {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15},
      {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22},
      {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
      {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22},
      {"VG", 24}, {"XK", 20}};
  return lengths;
}

}  // namespace

std::optional<std::string> NormalizeIban(std::string_view text) {
  std::string iban;
  for (char c : text) {
    if (c == ' ') continue;
    if (!IsAlnum(c)) return std::nullopt;
    iban.push_back(Upper(c));
  }
  if (iban.size() < 15 || iban.size() > 34) return std::nullopt;
  auto len = IbanLengths().find(iban.substr(0, 2));
  if (len == IbanLengths().end() || static_cast<int>(iban.size()) != len->second) return std::nullopt;
  if (!IsDigit(iban[2]) || !IsDigit(iban[3])) return std::nullopt;
  const std::string moved = iban.substr(4) + iban.substr(0, 4);
  int mod = 0;
  for (char c : moved) {
    const int v = IsDigit(c) ? c - '0' : c - 'A' + 10;
    mod = v >= 10 ? (mod * 100 + v) % 97 : (mod * 10 + v) % 97;
  }
  if (mod != 1) return std::nullopt;
  return iban;
}

// ---------------------------------------------------------------------------
// Payment cards: Luhn and the issuers' ranges (ISO/IEC 7812 prefixes as
// the networks publish them).

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!IsDigit(*it)) return false;
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

std::optional<std::string> CardNetwork(std::string_view d) {
  if (d.size() < 12 || d.size() > 19 || !LuhnValid(d)) return std::nullopt;
  auto prefix = [&](std::size_t n) { return std::atoi(std::string(d.substr(0, n)).c_str()); };
  const std::size_t n = d.size();
  const int p2 = prefix(2), p3 = prefix(3), p4 = prefix(4), p6 = prefix(6);
  if (d[0] == '4' && (n == 13 || n == 16 || n == 19)) return "visa";
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16) return "mastercard";
  if ((p2 == 34 || p2 == 37) && n == 15) return "amex";
  if ((p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) &&
      n >= 16 && n <= 19) {
    return "discover";
  }
  if (p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) return "jcb";
  if ((((p3 >= 300 && p3 <= 305) || p2 == 36) && n == 14) || ((p2 == 38 || p2 == 39) && n == 16)) {
    return "diners";
  }
  if (p2 == 62 && n >= 16 && n <= 19) return "unionpay";
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Keccak-256. Neither OpenSSL 3.0 (its SHA3-256 pads differently) nor
// libsodium has the original Keccak that Ethereum's EIP-55 checksum uses,
// and no Debian library offers it: this is the Keccak-f[1600] permutation
// from the reference specification, tested against published vectors.

namespace {

constexpr std::array<std::uint64_t, 24> kRoundConstants = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
// Rotation of lane (x, y), at index x + 5y.
constexpr std::array<int, 25> kRotations = {0,  1,  62, 28, 27, 36, 44, 6,  55, 20, 3,  10, 43,
                                            25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};

std::uint64_t Rotl(std::uint64_t v, int n) { return n == 0 ? v : (v << n) | (v >> (64 - n)); }

void KeccakF(std::array<std::uint64_t, 25>& a) {
  for (const std::uint64_t rc : kRoundConstants) {
    std::array<std::uint64_t, 5> c{}, d{};
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (int x = 0; x < 5; ++x) d[x] = c[(x + 4) % 5] ^ Rotl(c[(x + 1) % 5], 1);
    for (int i = 0; i < 25; ++i) a[i] ^= d[i % 5];
    std::array<std::uint64_t, 25> b{};
    for (int x = 0; x < 5; ++x) {
      for (int y = 0; y < 5; ++y) b[y + 5 * ((2 * x + 3 * y) % 5)] = Rotl(a[x + 5 * y], kRotations[x + 5 * y]);
    }
    for (int x = 0; x < 5; ++x) {
      for (int y = 0; y < 5; ++y) {
        a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
      }
    }
    a[0] ^= rc;
  }
}

}  // namespace

std::string Keccak256Hex(std::string_view data) {
  constexpr std::size_t kRate = 136;  // bytes: 1600 - 2 * 256 bits
  std::array<std::uint64_t, 25> state{};
  auto absorb = [&](const unsigned char* block) {
    for (std::size_t i = 0; i < kRate / 8; ++i) {
      std::uint64_t lane = 0;
      for (int b = 7; b >= 0; --b) lane = (lane << 8) | block[i * 8 + b];
      state[i] ^= lane;
    }
    KeccakF(state);
  };
  std::size_t pos = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  for (; pos + kRate <= data.size(); pos += kRate) absorb(bytes + pos);
  std::array<unsigned char, kRate> last{};
  std::copy(bytes + pos, bytes + data.size(), last.begin());
  last[data.size() - pos] ^= 0x01;  // Keccak's padding (SHA-3 would use 0x06)
  last[kRate - 1] ^= 0x80;
  absorb(last.data());
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    for (int b = 0; b < 8; ++b) {
      const unsigned v = (state[i] >> (8 * b)) & 0xff;
      out.push_back(hex[v >> 4]);
      out.push_back(hex[v & 15]);
    }
  }
  return out;
}

std::optional<std::string> NormalizeEthereum(std::string_view text) {
  if (text.size() != 42 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) return std::nullopt;
  const std::string_view body = text.substr(2);
  bool upper = false, lower = false;
  for (char c : body) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    upper = upper || (c >= 'A' && c <= 'F');
    lower = lower || (c >= 'a' && c <= 'f');
  }
  const std::string low = LowerAscii(body);
  if (upper && lower) {
    // EIP-55: a letter is upper case exactly where the hash's nibble is 8 or more.
    const std::string hash = Keccak256Hex(low);
    for (std::size_t i = 0; i < 40; ++i) {
      if (!IsAlpha(body[i])) continue;
      const int nibble = std::isdigit(static_cast<unsigned char>(hash[i])) ? hash[i] - '0' : hash[i] - 'a' + 10;
      if ((nibble >= 8) != (body[i] >= 'A' && body[i] <= 'F')) return std::nullopt;
    }
  }
  if (low == std::string(40, '0')) return std::nullopt;  // the zero address names no one
  return "0x" + low;
}

// ---------------------------------------------------------------------------
// Bitcoin: Base58Check and bech32/bech32m (BIP-173, BIP-350). No Debian
// library for either outside full wallet stacks; both are a page each.

namespace {

std::optional<std::vector<unsigned char>> Base58Decode(std::string_view s) {
  static const std::string_view alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  std::vector<unsigned char> out;  // big-endian
  for (char c : s) {
    const auto v = alphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    unsigned carry = static_cast<unsigned>(v);
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      carry += 58u * *it;
      *it = static_cast<unsigned char>(carry & 0xff);
      carry >>= 8;
    }
    while (carry) {
      out.insert(out.begin(), static_cast<unsigned char>(carry & 0xff));
      carry >>= 8;
    }
  }
  for (char c : s) {
    if (c != '1') break;
    out.insert(out.begin(), 0);
  }
  return out;
}

std::uint32_t Bech32Polymod(const std::vector<unsigned char>& values) {
  static const std::uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::uint32_t chk = 1;
  for (unsigned char v : values) {
    const std::uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) chk ^= ((top >> i) & 1) ? gen[i] : 0;
  }
  return chk;
}

}  // namespace

std::optional<std::string> NormalizeBitcoin(std::string_view text) {
  if (text.size() >= 26 && text.size() <= 35 && (text[0] == '1' || text[0] == '3')) {
    const auto bytes = Base58Decode(text);
    if (!bytes || bytes->size() != 25) return std::nullopt;
    if ((*bytes)[0] != (text[0] == '1' ? 0x00 : 0x05)) return std::nullopt;
    unsigned char h1[crypto_hash_sha256_BYTES], h2[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h1, bytes->data(), 21);
    crypto_hash_sha256(h2, h1, sizeof h1);
    if (!std::equal(h2, h2 + 4, bytes->begin() + 21)) return std::nullopt;
    return std::string(text);
  }
  if (text.size() < 14 || text.size() > 90) return std::nullopt;
  const bool any_upper = std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  const bool any_lower = std::any_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  if (any_upper && any_lower) return std::nullopt;  // bech32 is one case
  const std::string s = LowerAscii(text);
  if (s.rfind("bc1", 0) != 0) return std::nullopt;
  static const std::string_view charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  std::vector<unsigned char> data;
  for (char c : s.substr(3)) {
    const auto v = charset.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    data.push_back(static_cast<unsigned char>(v));
  }
  if (data.size() < 7) return std::nullopt;
  std::vector<unsigned char> values = {3, 3, 0, 2, 3};  // "bc" expanded
  values.insert(values.end(), data.begin(), data.end());
  const std::uint32_t check = Bech32Polymod(values);
  const int version = data[0];
  if (version > 16) return std::nullopt;
  if (check != (version == 0 ? 1u : 0x2bc830a3u)) return std::nullopt;
  // The witness program: 5-bit groups to bytes, without padding left over.
  std::vector<unsigned char> program;
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 1; i + 6 < data.size(); ++i) {
    acc = (acc << 5) | data[i];
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      program.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  if (program.size() < 2 || program.size() > 40) return std::nullopt;
  if (version == 0 && program.size() != 20 && program.size() != 32) return std::nullopt;
  return s;
}

// ---------------------------------------------------------------------------
// Names: folded without case or diacritics (libunistring).

namespace {

std::string FoldName(std::string_view utf8) {
  std::size_t n = 0;
  std::unique_ptr<std::uint8_t, decltype(&std::free)> nfd(
      u8_normalize(UNINORM_NFD, reinterpret_cast<const std::uint8_t*>(utf8.data()), utf8.size(), nullptr, &n),
      &std::free);
  if (!nfd) return std::string(utf8);
  std::string stripped;
  for (std::size_t i = 0; i < n;) {
    ucs4_t uc = 0;
    const int len = u8_mbtouc(&uc, nfd.get() + i, n - i);
    if (!uc_is_general_category(uc, UC_CATEGORY_M)) {
      stripped.append(reinterpret_cast<const char*>(nfd.get() + i), static_cast<std::size_t>(len));
    }
    i += static_cast<std::size_t>(len);
  }
  std::size_t m = 0;
  std::unique_ptr<std::uint8_t, decltype(&std::free)> folded(
      u8_casefold(reinterpret_cast<const std::uint8_t*>(stripped.data()), stripped.size(), nullptr,
                  UNINORM_NFC, nullptr, &m),
      &std::free);
  if (!folded) return stripped;
  // Runs of spaces and punctuation between words become one space.
  std::string out;
  bool space = false;
  for (std::size_t i = 0; i < m; ++i) {
    const char c = static_cast<char>(folded.get()[i]);
    const bool sep = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '.' || c == ',' || c == '-';
    if (sep) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Domains and URLs (libpsl).

const psl_ctx_t* Psl() { return psl_builtin(); }

// A host's registrable domain ("mail.corvo.pt" -> "corvo.pt"), lower-cased,
// or "" when its top-level label is not a known suffix. The reserved test
// names of RFC 2606 (.example, .test) count, as case files use them.
std::string RegistrableDomain(std::string_view host) {
  std::string h = LowerAscii(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (h.find('.') == std::string::npos || h.size() > 253) return "";
  for (std::size_t i = 0, start = 0; i <= h.size(); ++i) {
    if (i == h.size() || h[i] == '.') {
      const std::size_t len = i - start;
      if (len == 0 || len > 63 || h[start] == '-' || h[i - 1] == '-') return "";
      start = i + 1;
    } else if (!IsAlnum(h[i]) && h[i] != '-') {
      return "";
    }
  }
  const std::string tld = h.substr(h.rfind('.') + 1);
  if (std::all_of(tld.begin(), tld.end(), IsDigit)) return "";
  const bool reserved = tld == "example" || tld == "test";
  if (!reserved && !psl_is_public_suffix2(Psl(), tld.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE)) {
    return "";
  }
  const char* reg = psl_registrable_domain(Psl(), h.c_str());
  return reg ? std::string(reg) : (reserved ? h.substr(h.rfind('.', h.rfind('.') - 1) + 1) : "");
}

bool ValidIpv4(std::string_view s) {
  int parts = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      const std::size_t len = i - start;
      if (len == 0 || len > 3 || (len > 1 && s[start] == '0')) return false;  // no leading zeros
      ++parts;
      start = i + 1;
    } else if (!IsDigit(s[i])) {
      return false;
    }
  }
  if (parts != 4) return false;
  in_addr addr{};
  return inet_pton(AF_INET, std::string(s).c_str(), &addr) == 1;
}

std::optional<std::string> NormalizeIpv6(std::string_view s) {
  if (s.size() < 3 || s.size() > 45) return std::nullopt;
  const int colons = static_cast<int>(std::count(s.begin(), s.end(), ':'));
  const int hex = static_cast<int>(std::count_if(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  }));
  if (colons < 2 || hex < 4) return std::nullopt;
  in6_addr addr{};
  if (inet_pton(AF_INET6, std::string(s).c_str(), &addr) != 1) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, &addr, buf, sizeof buf)) return std::nullopt;
  return std::string(buf);
}

// ---------------------------------------------------------------------------
// The scanners. Each appends what it finds; FindEntities sorts.

struct Found {
  std::vector<Entity>& out;
  void Add(EntityType t, std::string value, std::size_t b, std::size_t e, double w = 1.0) {
    out.push_back({t, std::move(value), b, e, w});
  }
  // Hosts repeat (a thread's addresses, a site's links, a mailing list's
  // headers), so each thread keeps the last few thousand it looked up.
  static const std::string& Domain(std::string_view host) {
    thread_local std::unordered_map<std::string, std::string> domains;
    auto it = domains.find(std::string(host));
    if (it == domains.end()) {
      if (domains.size() >= 4096) domains.clear();
      it = domains.emplace(std::string(host), RegistrableDomain(host)).first;
    }
    return it->second;
  }
};

bool EmailLocalChar(char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }
bool HostChar(char c) { return IsAlnum(c) || c == '.' || c == '-'; }

void ScanEmails(std::string_view t, Found& f) {
  for (std::size_t at = t.find('@'); at != std::string_view::npos; at = t.find('@', at + 1)) {
    std::size_t b = at;
    while (b > 0 && EmailLocalChar(t[b - 1])) --b;
    while (b < at && (t[b] == '.' || t[b] == '-')) ++b;  // not from punctuation before it
    std::size_t e = at + 1;
    while (e < t.size() && HostChar(t[e])) ++e;
    while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) --e;
    if (b == at || e == at + 1 || at - b > 64) continue;
    if (b > 0 && static_cast<unsigned char>(t[b - 1]) >= 0x80) continue;  // inside a non-ASCII word
    const std::string_view local = t.substr(b, at - b), host = t.substr(at + 1, e - at - 1);
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) continue;
    const std::string& domain = f.Domain(host);
    if (domain.empty()) continue;
    f.Add(EntityType::kEmail, LowerAscii(local) + "@" + LowerAscii(host), b, e);
    f.Add(EntityType::kDomain, domain, at + 1, e, 0.5);
  }
}

void ScanUrls(std::string_view t, Found& f) {
  for (const std::string_view scheme : {"https://", "http://"}) {
    for (std::size_t at = 0; (at = t.find(scheme, at)) != std::string_view::npos; at += scheme.size()) {
      if (at > 0 && IsAlnum(t[at - 1])) continue;
      std::size_t e = at + scheme.size();
      while (e < t.size() && static_cast<unsigned char>(t[e]) > 0x20 && t[e] != '<' && t[e] != '>' &&
             t[e] != '"' && t[e] != '\'' && t[e] != '`' && static_cast<unsigned char>(t[e]) < 0x80) {
        ++e;
      }
      // Trailing punctuation closes the sentence, not the URL (a ')' only
      // when the URL opened none).
      while (e > at + scheme.size()) {
        const char c = t[e - 1];
        const std::string_view url = t.substr(at, e - at);
        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' ||
            (c == ')' && std::count(url.begin(), url.end(), '(') < std::count(url.begin(), url.end(), ')'))) {
          --e;
        } else {
          break;
        }
      }
      const std::size_t host_b = at + scheme.size();
      std::size_t host_e = host_b;
      while (host_e < e && t[host_e] != '/' && t[host_e] != '?' && t[host_e] != '#') ++host_e;
      std::string_view authority = t.substr(host_b, host_e - host_b);
      if (authority.find('@') != std::string_view::npos) continue;  // user:pass@ — not a plain link
      std::string_view host = authority, port;
      if (const auto colon = authority.rfind(':'); colon != std::string_view::npos && authority.front() != '[') {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty() || !std::all_of(port.begin(), port.end(), IsDigit)) continue;
      }
      std::string norm = std::string(scheme) + LowerAscii(host);
      const bool default_port = (scheme == "https://" && port == "443") || (scheme == "http://" && port == "80");
      if (!port.empty() && !default_port) norm += ":" + std::string(port);
      std::string rest(t.substr(host_e, e - host_e));
      if (const auto hash = rest.find('#'); hash != std::string::npos) rest.resize(hash);
      norm += rest.empty() ? "/" : rest;
      if (ValidIpv4(host)) {
        f.Add(EntityType::kUrl, norm, at, e);
        f.Add(EntityType::kIp, std::string(host), host_b, host_b + host.size());
        continue;
      }
      const std::string& domain = f.Domain(host);
      if (domain.empty()) continue;
      f.Add(EntityType::kUrl, norm, at, e);
      f.Add(EntityType::kDomain, domain, host_b, host_b + host.size(), 0.5);
    }
  }
  // Bare "www." hosts (a bare word with a dot is too often a file name).
  for (std::size_t at = 0; (at = t.find("www.", at)) != std::string_view::npos; at += 4) {
    if (at > 0 && (HostChar(t[at - 1]) || t[at - 1] == '/' || static_cast<unsigned char>(t[at - 1]) >= 0x80)) continue;
    std::size_t e = at;
    while (e < t.size() && HostChar(t[e])) ++e;
    while (e > at && (t[e - 1] == '.' || t[e - 1] == '-')) --e;
    const std::string& domain = f.Domain(t.substr(at, e - at));
    if (!domain.empty()) f.Add(EntityType::kDomain, domain, at, e, 0.5);
  }
}

void ScanIps(std::string_view t, Found& f) {
  for (std::size_t i = 0; i < t.size();) {
    const bool start = i == 0 || (!WordByte(t[i - 1]) && t[i - 1] != ':' && t[i - 1] != '.');
    if (!start || !(std::isxdigit(static_cast<unsigned char>(t[i])) || t[i] == ':')) {
      ++i;
      continue;
    }
    // A run of hex digits, colons and dots with two colons is IPv6 (below).
    std::size_t run = i;
    while (run < t.size() && (std::isxdigit(static_cast<unsigned char>(t[run])) || t[run] == ':' || t[run] == '.')) ++run;
    const bool v6 = std::count(t.begin() + i, t.begin() + run, ':') >= 2;
    // IPv4: a run of digits and dots, standing alone.
    if (!v6 && IsDigit(t[i]) && (i == 0 || (!WordByte(t[i - 1]) && t[i - 1] != '.'))) {
      std::size_t e = i;
      while (e < t.size() && (IsDigit(t[e]) || t[e] == '.')) ++e;
      std::size_t end = e;
      while (end > i && t[end - 1] == '.') --end;  // a sentence's full stop
      const bool glued = e < t.size() && (WordByte(t[e]) || t[e] == '-');
      // Version strings and OIDs: "v1.2.3.4", "version 10.0.0.1", "OID 1.3.6.1".
      auto versioned = [&] {
        const std::string before = LowerAscii(t.substr(i >= 12 ? i - 12 : 0, i >= 12 ? 12 : i));
        return (i > 0 && (t[i - 1] == 'v' || t[i - 1] == 'V')) || before.find("version") != std::string::npos ||
               before.find("ver.") != std::string::npos || before.find("oid") != std::string::npos ||
               before.find("release") != std::string::npos;
      };
      const std::string_view cand = t.substr(i, end - i);
      if (!glued && ValidIpv4(cand) && cand.substr(0, 2) != "0." && !versioned()) {
        f.Add(EntityType::kIp, std::string(cand), i, end);
      }
      i = e;
      continue;
    }
    // IPv6: hex digits and colons (and a dotted IPv4 tail), standing alone.
    if ((std::isxdigit(static_cast<unsigned char>(t[i])) || t[i] == ':') &&
        (i == 0 || (!WordByte(t[i - 1]) && t[i - 1] != ':' && t[i - 1] != '.'))) {
      std::size_t e = i;
      while (e < t.size() && (std::isxdigit(static_cast<unsigned char>(t[e])) || t[e] == ':' || t[e] == '.')) ++e;
      std::size_t end = e;
      while (end > i && t[end - 1] == '.') --end;
      const bool glued = e < t.size() && WordByte(t[e]);
      if (!glued && std::count(t.begin() + i, t.begin() + end, ':') >= 2) {
        if (auto v6 = NormalizeIpv6(t.substr(i, end - i))) f.Add(EntityType::kIp, *v6, i, end);
      }
      i = std::max(e, i + 1);
      continue;
    }
    ++i;
  }
}

// Digit runs with single spaces or dashes between groups: cards.
void ScanCards(std::string_view t, Found& f) {
  for (std::size_t i = 0; i < t.size();) {
    if (!IsDigit(t[i]) || (i > 0 && (WordByte(t[i - 1]) || t[i - 1] == '.' || t[i - 1] == '-'))) {
      ++i;
      continue;
    }
    // The digits after an IBAN's "DE89 " are its account, not a card
    // (when the IBAN itself fails its check, they are nothing).
    auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
    if (i >= 5 && t[i - 1] == ' ' && upper(t[i - 5]) && upper(t[i - 4]) && IsDigit(t[i - 3]) && IsDigit(t[i - 2])) {
      const auto len = IbanLengths().find(std::string(t.substr(i - 5, 2)));
      if (len != IbanLengths().end()) {
        int left = len->second - 4;  // the account's characters, in groups
        while (i < t.size() && left > 0 && (IsDigit(t[i]) || (t[i] == ' ' && i + 1 < t.size() && IsDigit(t[i + 1])))) {
          left -= IsDigit(t[i]) ? 1 : 0;
          ++i;
        }
        continue;
      }
    }
    std::string digits;
    std::vector<std::size_t> groups{0};
    std::size_t e = i, last = i;
    char sep = 0;
    while (e < t.size()) {
      if (IsDigit(t[e])) {
        digits.push_back(t[e++]);
        ++groups.back();
        last = e;
      } else if ((t[e] == ' ' || t[e] == '-') && e + 1 < t.size() && IsDigit(t[e + 1]) &&
                 (sep == 0 || sep == t[e])) {
        sep = t[e++];
        groups.push_back(0);
      } else {
        break;
      }
      if (digits.size() > 19) break;
    }
    // Written in groups, a card number has its networks' grouping: 4-4-4-4
    // (and a last group of 1 to 3 past 16 digits), 4-6-5 or 4-6-4.
    using G = std::vector<std::size_t>;
    const bool grouped_ok =
        groups.size() == 1 || groups == G{4, 6, 5} || groups == G{4, 6, 4} ||
        ((groups.size() == 4 || groups.size() == 5) &&
         std::all_of(groups.begin(), groups.begin() + 4, [](std::size_t g) { return g == 4; }) &&
         (groups.size() == 4 || (groups[4] >= 1 && groups[4] <= 3)));
    const bool glued = last < t.size() && (WordByte(t[last]) || (t[last] == '.' && last + 1 < t.size() && IsDigit(t[last + 1])));
    if (!glued && grouped_ok && digits.size() >= 13 && digits.size() <= 19 && CardNetwork(digits)) {
      f.Add(EntityType::kCard, digits, i, last);
    }
    i = std::max(last, i + 1);
  }
}

void ScanIbans(std::string_view t, Found& f) {
  for (std::size_t i = 0; i + 15 <= t.size(); ++i) {
    if (!(t[i] >= 'A' && t[i] <= 'Z') || !(t[i + 1] >= 'A' && t[i + 1] <= 'Z') || !IsDigit(t[i + 2]) ||
        !IsDigit(t[i + 3]) || (i > 0 && WordByte(t[i - 1]))) {
      continue;
    }
    auto len = IbanLengths().find(std::string(t.substr(i, 2)));
    if (len == IbanLengths().end()) continue;
    // Characters of the IBAN, with single spaces allowed between groups.
    std::size_t e = i;
    int n = 0;
    while (e < t.size() && n < len->second) {
      if (IsAlnum(t[e])) {
        ++n;
        ++e;
      } else if (t[e] == ' ' && e + 1 < t.size() && IsAlnum(t[e + 1]) && n % 4 == 0) {
        ++e;
      } else {
        break;
      }
    }
    if (n != len->second || (e < t.size() && IsAlnum(t[e]))) continue;
    if (auto iban = NormalizeIban(t.substr(i, e - i))) {
      f.Add(EntityType::kIban, *iban, i, e);
      i = e - 1;
    }
  }
}

void ScanCrypto(std::string_view t, Found& f) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i > 0 && WordByte(t[i - 1])) continue;
    if (!IsAlnum(t[i])) continue;
    std::size_t e = i;
    while (e < t.size() && IsAlnum(t[e])) ++e;
    const std::string_view tok = t.substr(i, e - i);
    if (e < t.size() && static_cast<unsigned char>(t[e]) >= 0x80) {
      i = e;
      continue;
    }
    if (tok.size() == 42 && (tok[1] == 'x' || tok[1] == 'X') && tok[0] == '0') {
      if (auto eth = NormalizeEthereum(tok)) f.Add(EntityType::kEthereum, *eth, i, e);
    } else if (tok.size() >= 26 && tok.size() <= 90) {
      if (auto btc = NormalizeBitcoin(tok)) f.Add(EntityType::kBitcoin, *btc, i, e);
    }
    i = e;
  }
}

// The fewest digits of a national number in a region, from the metadata
// (libphonenumber keeps the possible lengths private, so they are probed).
std::size_t MinNationalDigits(const std::string& region) {
  static std::mutex mutex;
  static std::map<std::string, std::size_t> known;
  const std::lock_guard lock(mutex);
  if (const auto it = known.find(region); it != known.end()) return it->second;
  const auto& util = *i18n::phonenumbers::PhoneNumberUtil::GetInstance();
  // A probe's leading digits could be taken for a national prefix and
  // stripped, so every leading digit is tried and the fewest kept.
  std::size_t fewest = 17;
  for (char d = '2'; d <= '9'; ++d) {
    for (std::size_t n = 1; n < fewest; ++n) {
      if (util.IsPossibleNumberForString(std::string(n, d), region)) {
        fewest = n;
        break;
      }
    }
  }
  return known[region] = fewest;
}

// Whether a candidate (a run and what is glued after it) holds too few
// digits for any valid number of the region: a national number has at
// least the region's fewest digits, and only an international one ('+',
// or an international prefix: 00, 011, 0011, 119, or 810 in the former
// Soviet regions) may be shorter. Every digit a match could hold is in
// the candidate.
bool TooShortForRegion(std::string_view candidate, const std::string& region) {
  std::size_t digits = 0;
  char first = 0;
  for (const char c : candidate) {
    if (c == '+') return false;
    if (IsDigit(c)) {
      if (digits++ == 0) first = c;
    }
  }
  return first != '0' && first != '1' && first != '8' && digits < MinNationalDigits(region);
}

// The spans of the stronger kinds (identifiers, dates, amounts), by start:
// a phone or a capitalised name inside one of them is not kept.
class StrongSpans {
 public:
  explicit StrongSpans(const std::vector<Entity>& found) {
    for (const auto& o : found) {
      if (o.field.empty() && o.type != EntityType::kPhone && o.type != EntityType::kName &&
          o.type != EntityType::kDomain) {
        spans_.emplace_back(o.begin, o.end);
      }
    }
    std::sort(spans_.begin(), spans_.end());
    for (const auto& [b, e] : spans_) widest_ = std::max(widest_, e - b);
  }
  bool Covers(std::size_t begin, std::size_t end) const {
    // Spans that start at most `widest_` before `begin` and not after it.
    auto it = std::lower_bound(spans_.begin(), spans_.end(),
                               std::make_pair(begin > widest_ ? begin - widest_ : 0, std::size_t{0}));
    for (; it != spans_.end() && it->first <= begin; ++it) {
      if (end <= it->second) return true;
    }
    return false;
  }

 private:
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::size_t widest_ = 0;
};

// libphonenumber's matcher re-encodes the rest of the text at every
// candidate (measured: 0.2 MB/s on a ledger of short numbers, quadratic),
// so it only ever sees short windows: each run of digits and the
// characters numbers are written with (+ ( ) - . / space) holding 7 to 20
// digits, with a little context on each side. A window costs 20-80 µs
// (phones were a third of entities' time on mail), so three kinds of run
// never reach it, as nothing it could find there would be kept: a run
// inside a stronger entity (an IP address in a Received line, a date, a
// URL); digits glued to a letter before them ("id E9D40294183"), which the
// matcher refuses at STRICT_GROUPING (a number may not follow a Latin
// letter, and a run of digits alone holds no inner candidate); and a run
// too short for the region (TooShortForRegion).
void ScanPhones(std::string_view t, const std::string& region, const StrongSpans& strong, Found& f) {
  using i18n::phonenumbers::PhoneNumberMatch;
  using i18n::phonenumbers::PhoneNumberMatcher;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  auto phone_char = [](char c) {
    return IsDigit(c) || c == '+' || c == '(' || c == ')' || c == '-' || c == '.' || c == '/' || c == ' ';
  };
  std::set<std::size_t> seen;
  for (std::size_t i = 0; i < t.size();) {
    if (!IsDigit(t[i]) && t[i] != '+' && t[i] != '(') {
      ++i;
      continue;
    }
    // A run ends at two spaces or at a '+' (the start of another number).
    std::size_t e = i;
    int digits = 0;
    while (e < t.size() && phone_char(t[e]) && !(t[e] == ' ' && e + 1 < t.size() && (t[e + 1] == ' ' || t[e + 1] == '+')) &&
           !(t[e] == '+' && e > i)) {
      digits += IsDigit(t[e++]) ? 1 : 0;
    }
    if (digits < 7 || digits > 20) {
      i = std::max(e, i + 1);
      continue;
    }
    std::size_t last = e;  // one past the run's last digit
    while (last > i && !IsDigit(t[last - 1])) --last;
    const bool digits_only = static_cast<std::size_t>(digits) == last - i;
    if (strong.Covers(i, last) || (digits_only && i > 0 && IsAlpha(t[i - 1]))) {
      i = e;
      continue;
    }
    constexpr std::size_t kContext = 16;
    // After the run, only what touches it (a letter glued to the digits
    // must be seen), never the next number.
    std::size_t we = e;
    while (we < t.size() && we < e + kContext && t[we] != ' ' && t[we] != '\n' && t[we] != '\t') ++we;
    if (TooShortForRegion(t.substr(i, we - i), region)) {
      i = e;
      continue;
    }
    std::size_t wb = i > kContext ? i - kContext : 0;
    while (wb > 0 && (static_cast<unsigned char>(t[wb]) & 0xC0) == 0x80) --wb;  // whole characters
    while (we < t.size() && (static_cast<unsigned char>(t[we]) & 0xC0) == 0x80) ++we;
    const std::string window(t.substr(wb, we - wb));
    PhoneNumberMatcher matcher(util, window, region, PhoneNumberMatcher::STRICT_GROUPING, /*max_tries=*/64);
    PhoneNumberMatch m;
    while (matcher.HasNext()) {
      if (!matcher.Next(&m)) break;
      if (!util.IsValidNumber(m.number())) continue;
      const std::size_t b = wb + static_cast<std::size_t>(m.start());
      if (b < i || b >= e || !seen.insert(b).second) continue;  // its own run only
      std::string e164;
      util.Format(m.number(), PhoneNumberUtil::E164, &e164);
      f.Add(EntityType::kPhone, e164, b, b + m.raw_string().size());
    }
    i = e;
  }
}

// Money: a currency (ISO 4217 code or symbol) beside an amount.
void ScanMoney(std::string_view t, Found& f) {
  static const std::vector<std::pair<std::string_view, std::string_view>> symbols = {
      {"R$", "BRL"}, {"US$", "USD"}, {"\xE2\x82\xAC", "EUR"}, {"\xC2\xA3", "GBP"}, {"$", "USD"},
      {"\xC2\xA5", "JPY"}};
  static const std::set<std::string_view> codes = {
      "EUR", "USD", "GBP", "CHF", "JPY", "CNY", "BRL", "AUD", "CAD", "SEK", "NOK", "DKK", "PLN",
      "CZK", "HUF", "RUB", "INR", "MXN", "ZAR", "TRY", "AOA", "MZN", "CVE", "HKD", "SGD", "AED"};
  // An amount at `p`: digits with group separators and a decimal part;
  // returns its end and the value as "12800.00", or npos.
  auto amount = [&](std::size_t p, std::string& value) -> std::size_t {
    std::size_t e = p;
    std::string raw;
    while (e < t.size() && (IsDigit(t[e]) || ((t[e] == ',' || t[e] == '.' || t[e] == ' ') && e + 1 < t.size() &&
                                              IsDigit(t[e + 1]) && !raw.empty()))) {
      raw.push_back(t[e++]);
    }
    if (raw.empty() || !IsDigit(raw.front())) return std::string_view::npos;
    // The decimal separator is the last , or . followed by 1 or 2 digits.
    std::string whole = raw, cents;
    const auto sep = raw.find_last_of(",.");
    if (sep != std::string::npos && raw.size() - sep - 1 <= 2) {
      whole = raw.substr(0, sep);
      cents = raw.substr(sep + 1);
    }
    std::string digits;
    for (char c : whole) {
      if (IsDigit(c)) digits.push_back(c);
    }
    if (digits.empty() || digits.size() > 15) return std::string_view::npos;
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
    if (cents.size() == 1) cents.push_back('0');
    value = digits + "." + (cents.empty() ? "00" : cents);
    return e;
  };
  for (std::size_t i = 0; i < t.size(); ++i) {
    std::string_view code;
    std::size_t after = 0;
    const char c0 = t[i];
    const bool may_code = c0 >= 'A' && c0 <= 'Z' && i + 3 <= t.size() && t[i + 1] >= 'A' && t[i + 1] <= 'Z';
    const bool may_symbol = c0 == '$' || c0 == 'R' || c0 == 'U' || c0 == '\xE2' || c0 == '\xC2';
    if (!may_code && !may_symbol && !IsDigit(c0)) continue;
    if (may_code && codes.count(t.substr(i, 3)) && (i == 0 || !WordByte(t[i - 1])) &&
        (i + 3 == t.size() || !IsAlpha(t[i + 3]))) {
      code = *codes.find(t.substr(i, 3));
      after = i + 3;
    } else if (may_symbol) {
      for (const auto& [sym, c] : symbols) {
        if (t.substr(i, sym.size()) == sym && (i == 0 || !IsAlnum(t[i - 1]))) {
          code = c;
          after = i + sym.size();
          break;
        }
      }
    }
    if (!code.empty()) {
      std::size_t p = after;
      if (p < t.size() && t[p] == ' ') ++p;
      std::string value;
      const std::size_t e = amount(p, value);
      if (e != std::string_view::npos && (e == t.size() || !WordByte(t[e]))) {
        f.Add(EntityType::kMoney, std::string(code) + " " + value, i, e, 0.3);
        i = e - 1;
      }
      continue;
    }
    // An amount followed by a code: "12 800,00 EUR".
    if (IsDigit(t[i]) && (i == 0 || (!WordByte(t[i - 1]) && t[i - 1] != '.' && t[i - 1] != ','))) {
      std::string value;
      const std::size_t e = amount(i, value);
      if (e == std::string_view::npos) continue;
      std::size_t p = e;
      if (p < t.size() && t[p] == ' ') ++p;
      if (p + 3 <= t.size() && codes.count(t.substr(p, 3)) && (p + 3 == t.size() || !IsAlpha(t[p + 3]))) {
        f.Add(EntityType::kMoney, std::string(t.substr(p, 3)) + " " + value, i, p + 3, 0.3);
        i = p + 2;
      } else {
        i = e - 1;
      }
    }
  }
}

// Dates: ISO, "14 Feb 2025", "February 14, 2025", and d/m/y only when the
// day cannot be taken for the month.
void ScanDates(std::string_view t, Found& f) {
  static const std::vector<std::pair<std::string, int>> months = {
      {"january", 1}, {"february", 2}, {"march", 3}, {"april", 4}, {"may", 5}, {"june", 6},
      {"july", 7}, {"august", 8}, {"september", 9}, {"october", 10}, {"november", 11}, {"december", 12},
      {"jan", 1}, {"feb", 2}, {"mar", 3}, {"apr", 4}, {"jun", 6}, {"jul", 7}, {"aug", 8},
      {"sep", 9}, {"sept", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
  auto days_in = [](int y, int m) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
  };
  auto add = [&](int y, int m, int d, std::size_t b, std::size_t e) {
    if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 || d > days_in(y, m)) return;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
    f.Add(EntityType::kDate, buf, b, e, 0.2);
  };
  auto number = [&](std::size_t p, std::size_t min, std::size_t max, int& v) -> std::size_t {
    std::size_t e = p;
    while (e < t.size() && IsDigit(t[e]) && e - p < max) ++e;
    if (e - p < min || (e < t.size() && IsDigit(t[e]))) return std::string_view::npos;
    v = 0;
    for (std::size_t k = p; k < e; ++k) v = v * 10 + (t[k] - '0');
    return e;
  };
  static const std::map<std::string, int, std::less<>> by_name(months.begin(), months.end());
  auto month_at = [&](std::size_t p, int& m) -> std::size_t {
    // Every month's name starts with one of these (most words do not).
    static constexpr std::string_view kFirst = "adfjmnosADFJMNOS";
    if (kFirst.find(t[p]) == std::string_view::npos) return std::string_view::npos;
    std::size_t e = p;
    char lower[10];
    while (e < t.size() && IsAlpha(t[e]) && e - p < 10) {
      lower[e - p] = Lower(t[e]);
      ++e;
    }
    if (e - p < 3 || e - p > 9 || (e < t.size() && IsAlpha(t[e]))) return std::string_view::npos;
    const auto it = by_name.find(std::string_view(lower, e - p));
    if (it == by_name.end()) return std::string_view::npos;
    m = it->second;
    if (e < t.size() && t[e] == '.') ++e;
    return e;
  };
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i > 0 && WordByte(t[i - 1])) continue;
    int y = 0, m = 0, d = 0;
    if (IsDigit(t[i])) {
      // 2025-02-14
      std::size_t e = number(i, 4, 4, y);
      if (e != std::string_view::npos && e < t.size() && t[e] == '-') {
        std::size_t e2 = number(e + 1, 2, 2, m);
        if (e2 != std::string_view::npos && e2 < t.size() && t[e2] == '-') {
          std::size_t e3 = number(e2 + 1, 2, 2, d);
          if (e3 != std::string_view::npos && (e3 == t.size() || !IsAlnum(t[e3]))) {
            add(y, m, d, i, e3);
            i = e3 - 1;
            continue;
          }
        }
      }
      // 14 Feb 2025, 14/02/2025
      e = number(i, 1, 2, d);
      if (e == std::string_view::npos) continue;
      if (e < t.size() && t[e] == ' ') {
        std::size_t e2 = month_at(e + 1, m);
        if (e2 != std::string_view::npos && e2 < t.size() && t[e2] == ' ') {
          std::size_t e3 = number(e2 + 1, 4, 4, y);
          if (e3 != std::string_view::npos && (e3 == t.size() || !IsAlnum(t[e3]))) {
            add(y, m, d, i, e3);
            i = e3 - 1;
          }
        }
      } else if (e < t.size() && (t[e] == '/' || t[e] == '.')) {
        const char sep = t[e];
        int second = 0;
        std::size_t e2 = number(e + 1, 1, 2, second);
        if (e2 != std::string_view::npos && e2 < t.size() && t[e2] == sep) {
          std::size_t e3 = number(e2 + 1, 4, 4, y);
          if (e3 != std::string_view::npos && (e3 == t.size() || !IsAlnum(t[e3]))) {
            if (d > 12 && second <= 12) add(y, second, d, i, e3);       // day first
            else if (second > 12 && d <= 12) add(y, d, second, i, e3);  // month first
            i = e3 - 1;
          }
        }
      }
    } else if (IsAlpha(t[i])) {
      // February 14, 2025
      std::size_t e = month_at(i, m);
      if (e == std::string_view::npos || e >= t.size() || t[e] != ' ') continue;
      std::size_t e2 = number(e + 1, 1, 2, d);
      if (e2 == std::string_view::npos) continue;
      if (e2 < t.size() && t[e2] == ',') ++e2;
      if (e2 >= t.size() || t[e2] != ' ') continue;
      std::size_t e3 = number(e2 + 1, 4, 4, y);
      if (e3 != std::string_view::npos && (e3 == t.size() || !IsAlnum(t[e3]))) {
        add(y, m, d, i, e3);
        i = e3 - 1;
      }
    }
  }
}

// Words of a text with their byte spans and whether each starts with an
// upper-case letter followed by lower-case ones (libunistring's classes).
struct NameWord {
  std::size_t begin, end;
  bool capitalised;
};

std::vector<NameWord> Words(std::string_view t) {
  std::vector<NameWord> out;
  const auto* s = reinterpret_cast<const std::uint8_t*>(t.data());
  std::size_t i = 0;
  // ASCII is classified here, the rest by libunistring (most text is ASCII,
  // and decoding each byte as a character is most of this loop's time).
  auto next = [&](std::size_t at, ucs4_t& uc, bool& alpha, bool& upper) -> std::size_t {
    if (s[at] < 0x80) {
      uc = s[at];
      alpha = IsAlpha(static_cast<char>(uc));
      upper = uc >= 'A' && uc <= 'Z';
      return 1;
    }
    const int len = u8_mbtouc(&uc, s + at, t.size() - at);
    alpha = uc_is_alpha(uc);
    upper = alpha && uc_is_upper(uc);
    return static_cast<std::size_t>(len);
  };
  while (i < t.size()) {
    ucs4_t uc = 0;
    bool alpha = false, upper = false;
    std::size_t len = next(i, uc, alpha, upper);
    if (!alpha) {
      i += len;
      continue;
    }
    const std::size_t b = i;
    bool first_upper = upper, rest_lower = true;
    std::size_t letters = 0;
    while (i < t.size()) {
      len = next(i, uc, alpha, upper);
      if (!alpha && uc != '\'' && uc != 0x2019) break;
      if (letters > 0 && upper) rest_lower = false;
      ++letters;
      i += len;
    }
    out.push_back({b, i, first_upper && rest_lower && letters >= 2});
  }
  return out;
}

void ScanNames(std::string_view t, const EntityOptions& o, Found& f) {
  const std::vector<NameWord> words = Words(t);
  // The watch list: each name as folded words, matched word by word.
  std::vector<std::pair<std::vector<std::string>, std::string>> watch;
  for (const auto& name : o.watchlist) {
    const std::string folded = FoldName(name);
    if (folded.empty()) continue;
    std::vector<std::string> parts;
    for (std::size_t p = 0; p <= folded.size();) {
      const std::size_t sp = std::min(folded.find(' ', p), folded.size());
      if (sp > p) parts.push_back(folded.substr(p, sp - p));
      p = sp + 1;
    }
    watch.emplace_back(std::move(parts), folded);
  }
  std::vector<std::string> folded_words;
  if (!watch.empty()) {
    for (const auto& w : words) folded_words.push_back(FoldName(t.substr(w.begin, w.end - w.begin)));
  }
  std::vector<bool> taken(words.size(), false);
  for (std::size_t i = 0; i < words.size(); ++i) {
    for (const auto& [parts, name] : watch) {
      if (i + parts.size() > words.size()) continue;
      bool match = true;
      for (std::size_t j = 0; j < parts.size() && match; ++j) match = folded_words[i + j] == parts[j];
      if (!match) continue;
      f.Add(EntityType::kName, name, words[i].begin, words[i + parts.size() - 1].end, 1.0);
      for (std::size_t j = 0; j < parts.size(); ++j) taken[i + j] = true;
    }
  }
  if (!o.capitalised_names) return;
  // Capitalised sequences: 2-4 capitalised words (particles such as "da",
  // "de", "van" between them), separated by single spaces, not starting
  // with a word that is capitalised only because it opens a sentence.
  static const std::unordered_set<std::string_view> particles = {"da", "de", "do", "dos", "das", "del", "della",
                                                       "di", "van", "von", "der", "le", "la", "y", "e"};
  static const std::unordered_set<std::string_view> openers = {
      "The", "A", "An", "This", "That", "These", "Those", "In", "On", "At", "For", "From", "To",
      "Of", "And", "But", "Or", "If", "When", "As", "By", "With", "Dear", "Mr", "Mrs", "Ms", "Dr",
      "Our", "We", "It", "He", "She", "They", "His", "Her", "Their", "After", "Before", "Each",
      "Every", "No", "Not", "Please", "Subject", "From", "Re", "Fwd", "Monday", "Tuesday",
      "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March",
      "April", "May", "June", "July", "August", "September", "October", "November", "December",
      "O", "Os", "As", "Um", "Uma", "El", "Los", "Las", "Il", "Lo", "Gli", "Le", "Un", "Una",
      // Dates in headers ("Fri Apr 3"), sentence openers of notices and
      // German articles (German capitalises every noun).
      "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul",
      "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "See", "All", "Copyright", "Der", "Die", "Das",
      "Den", "Dem", "Des", "Ein", "Eine", "Einen", "Einem", "Einer", "Dieses", "Diese", "Dieser"};
  for (std::size_t i = 0; i < words.size();) {
    auto text_of = [&](std::size_t k) { return t.substr(words[k].begin, words[k].end - words[k].begin); };
    if (!words[i].capitalised || taken[i] || openers.count(text_of(i))) {
      ++i;
      continue;
    }
    std::size_t j = i, caps = 1;
    while (j + 1 < words.size() && caps < 4) {
      const std::string_view gap = t.substr(words[j].end, words[j + 1].begin - words[j].end);
      if (gap != " ") break;
      const std::size_t k = j + 1;
      if (words[k].capitalised && !taken[k]) {
        j = k;
        ++caps;
      } else if (particles.count(text_of(k)) && k + 1 < words.size() && words[k + 1].capitalised &&
                 t.substr(words[k].end, words[k + 1].begin - words[k].end) == " ") {
        j = k + 1;
        ++caps;
      } else {
        break;
      }
    }
    if (caps >= 2) {
      // "Rui Falcão's login" names Rui Falcão.
      std::size_t end = words[j].end;
      const std::string_view tail = t.substr(words[i].begin, end - words[i].begin);
      if (tail.size() > 2 && tail.substr(tail.size() - 2) == "'s") end -= 2;
      else if (tail.size() > 4 && tail.substr(tail.size() - 4) == "\xE2\x80\x99s") end -= 4;
      f.Add(EntityType::kName, FoldName(t.substr(words[i].begin, end - words[i].begin)), words[i].begin, end,
            0.3);
    }
    i = j + 1;
  }
}

}  // namespace

std::string_view EntityTypeName(EntityType type) {
  switch (type) {
    case EntityType::kEmail: return "email";
    case EntityType::kPhone: return "phone";
    case EntityType::kIban: return "iban";
    case EntityType::kCard: return "card";
    case EntityType::kIp: return "ip";
    case EntityType::kUrl: return "url";
    case EntityType::kDomain: return "domain";
    case EntityType::kBitcoin: return "btc";
    case EntityType::kEthereum: return "eth";
    case EntityType::kMoney: return "money";
    case EntityType::kDate: return "date";
    case EntityType::kName: return "name";
  }
  return "unknown";
}

std::optional<EntityType> EntityTypeFromName(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(EntityType::kName); ++i) {
    const auto t = static_cast<EntityType>(i);
    if (EntityTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::vector<Entity> FindEntities(std::string_view text, const EntityOptions& options) {
  std::vector<Entity> out;
  Found f{out};
  ScanEmails(text, f);
  ScanUrls(text, f);
  ScanIps(text, f);
  ScanIbans(text, f);
  ScanCards(text, f);
  ScanCrypto(text, f);
  ScanMoney(text, f);
  ScanDates(text, f);
  // A card number is not also a phone number, nor an IBAN's digits one;
  // a date or an IP address is not a phone either.
  const StrongSpans strong(out);
  ScanPhones(text, options.default_region, strong, f);
  ScanNames(text, options, f);
  std::vector<Entity> kept;
  for (const auto& e : out) {
    if (e.type == EntityType::kPhone && strong.Covers(e.begin, e.end)) continue;
    if (e.type == EntityType::kName && e.weight < 1.0 && strong.Covers(e.begin, e.end)) continue;
    kept.push_back(e);
  }
  std::stable_sort(kept.begin(), kept.end(), [](const Entity& a, const Entity& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.type < b.type;
  });
  // The same value found twice at one place (two scanners) counts once.
  kept.erase(std::unique(kept.begin(), kept.end(),
                         [](const Entity& a, const Entity& b) {
                           return a.type == b.type && a.value == b.value && a.begin == b.begin;
                         }),
             kept.end());
  return kept;
}

std::optional<std::string> NormalizeEntity(EntityType type, std::string_view value,
                                           const EntityOptions& options) {
  switch (type) {
    case EntityType::kIban: return NormalizeIban(value);
    case EntityType::kBitcoin: return NormalizeBitcoin(value);
    case EntityType::kEthereum: return NormalizeEthereum(value);
    case EntityType::kCard: {
      std::string digits;
      for (char c : value) {
        if (IsDigit(c)) digits.push_back(c);
        else if (c != ' ' && c != '-') return std::nullopt;
      }
      if (!CardNetwork(digits)) return std::nullopt;
      return digits;
    }
    case EntityType::kName: {
      std::string folded = FoldName(value);
      if (folded.empty()) return std::nullopt;
      return folded;
    }
    case EntityType::kDomain: {
      std::string d = RegistrableDomain(value);
      if (d.empty()) return std::nullopt;
      return d;
    }
    default: break;
  }
  // Everything else: what the scanners find in the value alone, if it is
  // the whole value.
  EntityOptions o = options;
  o.capitalised_names = false;
  for (const auto& e : FindEntities(value, o)) {
    if (e.type == type && e.begin == 0 && e.end == value.size()) return e.value;
  }
  return std::nullopt;
}

std::vector<Entity> FindItemEntities(std::string_view text, const std::map<std::string, std::string>& fields,
                                     const EntityOptions& options) {
  std::vector<Entity> entities = FindEntities(text, options);
  for (const char* header : {"from", "to", "cc", "bcc"}) {
    auto f = fields.find(header);
    if (f == fields.end()) continue;
    for (Entity e : FindEntities(f->second, options)) {
      if (e.type != EntityType::kEmail && e.type != EntityType::kDomain && e.type != EntityType::kName) continue;
      e.begin = e.end = 0;
      e.field = header;
      entities.push_back(std::move(e));
    }
  }
  std::erase_if(entities, [](const Entity& e) { return e.value.empty() || e.value.size() > kMaxEntityValueBytes; });
  if (entities.size() > kMaxEntitiesPerItem) entities.resize(kMaxEntitiesPerItem);
  return entities;
}

bool IsPhoneRegion(const std::string& region) {
  if (region.size() != 2 || !std::isupper(static_cast<unsigned char>(region[0])) ||
      !std::isupper(static_cast<unsigned char>(region[1]))) {
    return false;
  }
  return i18n::phonenumbers::PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region) != 0;
}

}  // namespace dossier::indexer
