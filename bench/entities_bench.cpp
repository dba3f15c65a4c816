// Precision and recall of each entity extractor on a labelled set built
// from real text, and its speed.
//
// Usage: entities_bench DIR [FILES] [SEED]
// Takes up to FILES (default 2000) text files of DIR (real documents, e.g.
// bench/out/corpus20k/small), plants in each, between words, valid values
// of every type (generated: IBANs with their check digits, Luhn-valid card
// numbers of real issuer ranges, Base58Check and bech32 Bitcoin addresses,
// EIP-55 Ethereum addresses, phone numbers of real numbering plans, email
// addresses and URLs at real domains, IPv4 and IPv6 addresses) and near
// misses of each (a wrong check digit, a Luhn failure, a bad checksum, a
// mixed-case address whose case does not match its hash, a number no plan
// allows, a version string or an OID, a file name with a country-code
// extension), then runs FindEntities. Per type: a planted value found with
// its value is a true positive, one not found a false negative, an entity
// overlapping a near miss a false positive; entities found elsewhere (in
// the real text itself) are counted apart, unlabelled.
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "indexer/entities.h"

using namespace dossier::indexer;
namespace fs = std::filesystem;

namespace {

std::mt19937_64 rng(20261201);
std::string Digits(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
  return s;
}
int Mod97(const std::string& s) {
  int mod = 0;
  for (char c : s) {
    const int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'A' + 10;
    mod = v >= 10 ? (mod * 100 + v) % 97 : (mod * 10 + v) % 97;
  }
  return mod;
}
// A valid IBAN of `country` with a BBAN of digits, grouped by four.
std::string Iban(const std::string& country, int bban, bool valid) {
  const std::string b = Digits(bban);
  int check = 98 - Mod97(b + country + "00");
  if (!valid) check = check == 97 ? 96 : check + 1;
  char cd[16];
  std::snprintf(cd, sizeof cd, "%02d", check);
  const std::string iban = country + cd + b;
  std::string grouped;
  for (std::size_t i = 0; i < iban.size(); ++i) grouped += (i && i % 4 == 0 ? " " : "") + std::string(1, iban[i]);
  return grouped;
}
std::string Card(const std::string& prefix, int len, bool valid) {
  std::string d = prefix + Digits(len - static_cast<int>(prefix.size()) - 1);
  for (char c = '0'; c <= '9'; ++c) {
    if (LuhnValid(d + c) == valid) return d + c;
  }
  return d + "0";
}
std::string Base58Check(unsigned char version) {
  unsigned char payload[25];
  payload[0] = version;
  for (int i = 1; i < 21; ++i) payload[i] = static_cast<unsigned char>(rng());
  unsigned char h1[32], h2[32];
  crypto_hash_sha256(h1, payload, 21);
  crypto_hash_sha256(h2, h1, 32);
  std::copy(h2, h2 + 4, payload + 21);
  static const char* alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  std::vector<unsigned char> num(payload, payload + 25);
  std::string out;
  while (std::any_of(num.begin(), num.end(), [](unsigned char c) { return c != 0; })) {
    unsigned rem = 0;
    for (auto& c : num) {
      const unsigned cur = rem * 256 + c;
      c = static_cast<unsigned char>(cur / 58);
      rem = cur % 58;
    }
    out.insert(out.begin(), alphabet[rem]);
  }
  for (int i = 0; i < 25 && payload[i] == 0; ++i) out.insert(out.begin(), '1');
  return out;
}
std::string Eth(bool valid) {
  static const char* hex = "0123456789abcdef";
  std::string low;
  for (int i = 0; i < 40; ++i) low.push_back(hex[rng() % 16]);
  const std::string hash = Keccak256Hex(low);
  std::string out = low;
  bool flipped = false;
  for (int i = 0; i < 40; ++i) {
    if (!std::isalpha(static_cast<unsigned char>(out[i]))) continue;
    const int nibble = std::isdigit(static_cast<unsigned char>(hash[i])) ? hash[i] - '0' : hash[i] - 'a' + 10;
    bool upper = nibble >= 8;
    if (!valid && !flipped) {
      upper = !upper;
      flipped = true;
    }
    if (upper) out[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[i])));
  }
  return "0x" + out;
}

struct Plant {
  EntityType type;
  std::string text;      // as written
  std::string expected;  // normalised ("" for a near miss)
};

std::vector<Plant> PlantsFor() {
  std::vector<Plant> p;
  const std::string ib[] = {"DE", "GB", "FR", "PT", "ES", "IT", "NL"};
  const int len[] = {18, 18, 23, 21, 20, 23, 14};
  const int k = static_cast<int>(rng() % 7);
  // GB and NL BBANs start with a bank code of letters: use the digit-only
  // countries for generated ones, GB/NL as written below.
  const std::string country = ib[k] == "GB" || ib[k] == "NL" ? "DE" : ib[k];
  const int bban = ib[k] == "GB" || ib[k] == "NL" ? 18 : len[k];
  const std::string good_iban = Iban(country, bban, true);
  p.push_back({EntityType::kIban, good_iban, *NormalizeIban(good_iban)});
  p.push_back({EntityType::kIban, Iban(country, bban, false), ""});
  const std::string visa = Card("4", 16, true), mc = Card("51", 16, true);
  p.push_back({EntityType::kCard, visa.substr(0, 4) + " " + visa.substr(4, 4) + " " + visa.substr(8, 4) + " " + visa.substr(12), visa});
  p.push_back({EntityType::kCard, mc, mc});
  p.push_back({EntityType::kCard, "order " + Card("4", 16, false), ""});
  p.push_back({EntityType::kCard, "ref " + Card("9", 16, true), ""});
  const std::string b1 = Base58Check(0x00), b3 = Base58Check(0x05);
  p.push_back({EntityType::kBitcoin, b1, b1});
  p.push_back({EntityType::kBitcoin, b3, b3});
  std::string bad = b1;
  bad[bad.size() - 1] = bad.back() == 'z' ? 'y' : 'z';
  p.push_back({EntityType::kBitcoin, bad, ""});
  const std::string eth = Eth(true);
  p.push_back({EntityType::kEthereum, eth, "0x" + [&] { std::string s = eth.substr(2); for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c))); return s; }()});
  std::string bad_eth = Eth(false);
  while (std::none_of(bad_eth.begin() + 2, bad_eth.end(), [](char c) { return c >= 'A' && c <= 'F'; }) ||
         std::none_of(bad_eth.begin() + 2, bad_eth.end(), [](char c) { return c >= 'a' && c <= 'f'; })) {
    bad_eth = Eth(false);  // a near miss is mixed case (all one case carries no checksum)
  }
  p.push_back({EntityType::kEthereum, bad_eth, ""});
  const std::string mobile = "9" + std::to_string(1 + rng() % 3) + Digits(7);
  p.push_back({EntityType::kPhone, "+351 " + mobile.substr(0, 3) + " " + mobile.substr(3, 3) + " " + mobile.substr(6),
               "+351" + mobile});
  const std::string london = "20 7946 0" + Digits(3);
  p.push_back({EntityType::kPhone, "+44 " + london, "+44" + london.substr(0, 2) + london.substr(3, 4) + london.substr(8)});
  p.push_back({EntityType::kPhone, "+351 99 " + Digits(3) + " " + Digits(4), ""});  // no such range
  p.push_back({EntityType::kPhone, "build " + Digits(14), ""});
  const std::string user = "user" + Digits(4);
  const std::string domains[] = {"debian.org", "gmail.com", "example.co.uk", "corvo.pt", "mares.com.br"};
  const std::string dom = domains[rng() % 5];
  p.push_back({EntityType::kEmail, user + "@" + dom, user + "@" + dom});
  p.push_back({EntityType::kEmail, user + "@localhost", ""});
  const std::string url = "https://www." + dom + "/a/" + Digits(3);
  p.push_back({EntityType::kUrl, url, url});
  p.push_back({EntityType::kDomain, "README.md", ""});
  const std::string ip = std::to_string(11 + rng() % 200) + "." + std::to_string(rng() % 256) + "." +
                         std::to_string(rng() % 256) + "." + std::to_string(1 + rng() % 254);
  p.push_back({EntityType::kIp, ip, ip});
  p.push_back({EntityType::kIp, "version " + std::to_string(1 + rng() % 9) + ".0.0." + std::to_string(rng() % 9), ""});
  p.push_back({EntityType::kIp, "OID 1.3.6.1.4.1." + Digits(4), ""});
  const std::string v6 = "2001:db8:" + std::to_string(1000 + rng() % 8000) + "::1";
  p.push_back({EntityType::kIp, v6, v6});  // already in inet_ntop's form
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: entities_bench DIR [FILES] [SEED]\n");
    return 2;
  }
  const std::size_t max_files = argc > 2 ? std::stoul(argv[2]) : 2000;
  if (argc > 3) rng.seed(std::stoull(argv[3]));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(argv[1])) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::shuffle(files.begin(), files.end(), rng);
  if (files.size() > max_files) files.resize(max_files);
  struct Count {
    std::uint64_t tp = 0, fn = 0, fp = 0, background = 0;
  };
  std::map<std::string, Count> by_type;
  double seconds = 0, bytes = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str().substr(0, 64 * 1024);
    // Plant at spaces, spread over the text.
    std::vector<Plant> plants = PlantsFor();
    std::vector<std::pair<std::size_t, std::size_t>> spans(plants.size());
    std::string out;
    std::size_t from = 0;
    for (std::size_t i = 0; i < plants.size(); ++i) {
      std::size_t at = std::min(text.size(), from + rng() % (text.size() / plants.size() + 1));
      while (at < text.size() && text[at] != ' ' && text[at] != '\n') ++at;
      out += text.substr(from, at - from);
      out += " ";
      spans[i].first = out.size();
      out += plants[i].text;
      spans[i].second = out.size();
      out += " ";
      from = at;
    }
    out += text.substr(from);
    const auto t0 = std::chrono::steady_clock::now();
    const auto found = FindEntities(out);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bytes += static_cast<double>(out.size());
    std::vector<bool> used(found.size(), false);
    for (std::size_t i = 0; i < plants.size(); ++i) {
      const auto& pl = plants[i];
      Count& c = by_type[std::string(EntityTypeName(pl.type))];
      bool hit = false, wrong = false;
      for (std::size_t k = 0; k < found.size(); ++k) {
        const auto& e = found[k];
        const bool overlaps = e.begin < spans[i].second && spans[i].first < e.end;
        if (!overlaps) continue;
        used[k] = true;
        if (pl.expected.empty()) {
          // A near miss: anything of a kind that validates identifiers.
          if (e.type != EntityType::kDate && e.type != EntityType::kName && e.type != EntityType::kMoney) {
            wrong = true;
            if (std::getenv("ENTITIES_BENCH_SHOW")) {
              std::printf("near miss %s -> %s %s\n", pl.text.c_str(), std::string(EntityTypeName(e.type)).c_str(),
                          e.value.c_str());
            }
          }
        } else if (e.type == pl.type && e.value == pl.expected) {
          hit = true;
        }
      }
      if (!pl.expected.empty() && !hit && std::getenv("ENTITIES_BENCH_SHOW")) {
        const std::size_t cb = spans[i].first > 30 ? spans[i].first - 30 : 0;
        std::string ctx = out.substr(cb, spans[i].second + 30 - cb);
        for (auto& ch : ctx) if (ch == '\n') ch = '|';
        std::printf("missed %s %s in [%s]\n", std::string(EntityTypeName(pl.type)).c_str(), pl.text.c_str(), ctx.c_str());
      }
      if (pl.expected.empty()) c.fp += wrong;
      else (hit ? c.tp : c.fn) += 1;
    }
    for (std::size_t k = 0; k < found.size(); ++k) {
      if (!used[k]) ++by_type[std::string(EntityTypeName(found[k].type))].background;
    }
  }
  std::printf("%zu files, %.1f MB with plants, FindEntities %.2f s = %.1f MB/s\n", files.size(), bytes / 1e6,
              seconds, bytes / 1e6 / seconds);
  std::printf("%-7s %6s %6s %6s %9s %7s %11s\n", "type", "TP", "FN", "FP", "precision", "recall", "unlabelled");
  for (const auto& [type, c] : by_type) {
    const double precision = c.tp + c.fp ? double(c.tp) / double(c.tp + c.fp) : 1.0;
    const double recall = c.tp + c.fn ? double(c.tp) / double(c.tp + c.fn) : 1.0;
    std::printf("%-7s %6llu %6llu %6llu %9.4f %7.4f %11llu\n", type.c_str(), (unsigned long long)c.tp,
                (unsigned long long)c.fn, (unsigned long long)c.fp, precision, recall,
                (unsigned long long)c.background);
  }
  return 0;
}
