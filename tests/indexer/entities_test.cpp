// Entity extraction: every validator against published vectors, and a
// labelled set of true values and near misses (a bad checksum, an order
// number that fails Luhn, a version string or an OID that looks like an
// IP address, digits libphonenumber refuses), which must yield nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "indexer/entities.h"
#include "indexer/extract_protocol.h"

using namespace dossier::indexer;

namespace {

std::vector<std::string> Values(const std::string& text, EntityType type, const EntityOptions& o = {}) {
  std::vector<std::string> out;
  for (const auto& e : FindEntities(text, o)) {
    if (e.type == type) out.push_back(e.value);
  }
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("Keccak-256 and EIP-55 match the published vectors") {
  CHECK(Keccak256Hex("") == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  CHECK(Keccak256Hex("abc") == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // Longer than one block (136 bytes).
  CHECK(Keccak256Hex(std::string(200, 'a')).size() == 64);
  CHECK(Keccak256Hex(std::string(136, 'a')) != Keccak256Hex(std::string(135, 'a')));
  for (const char* good : {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                           "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                           "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
                           "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
                           "0x52908400098527886E0F7030069857D2E4169EE7",
                           "0xde709f2102306220921060314715629080e2fb77"}) {
    INFO(good);
    CHECK(NormalizeEthereum(good).has_value());
  }
  // One letter's case flipped breaks the checksum.
  CHECK_FALSE(NormalizeEthereum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));
  CHECK_FALSE(NormalizeEthereum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe"));  // 39 digits
  CHECK(*NormalizeEthereum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") ==
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
}

TEST_CASE("Bitcoin addresses: Base58Check, bech32 and bech32m") {
  for (const char* good : {"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
                           "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
                           "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                           "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
                           "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"}) {
    INFO(good);
    CHECK(NormalizeBitcoin(good).has_value());
  }
  CHECK(*NormalizeBitcoin("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4") ==
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
  for (const char* bad : {"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",  // checksum
                          "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN",   // short
                          "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
                          "BC1QW508D6QEJXTDG4Y5R3ZARVARY0c5xw7kv8f3t4",  // mixed case
                          // v1 with a bech32 (not bech32m) checksum, BIP-350's invalid list
                          "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
                          "0OIl0OIl0OIl0OIl0OIl0OIl0OIl"}) {
    INFO(bad);
    CHECK_FALSE(NormalizeBitcoin(bad));
  }
}

TEST_CASE("IBANs: per-country length and mod-97") {
  CHECK(*NormalizeIban("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000");
  CHECK(*NormalizeIban("gb82 west 1234 5698 7654 32") == "GB82WEST12345698765432");
  CHECK(NormalizeIban("PT50000201231234567890154").has_value());
  CHECK_FALSE(NormalizeIban("DE89 3704 0044 0532 0130 01"));  // checksum
  CHECK_FALSE(NormalizeIban("DE89 3704 0044 0532 0130 0"));   // length for DE
  CHECK_FALSE(NormalizeIban("ZZ89 3704 0044 0532 0130 00"));  // no such country
  CHECK(Values("Pay to DE89 3704 0044 0532 0130 00 by Friday.", EntityType::kIban) ==
        V{"DE89370400440532013000"});
  CHECK(Values("Pay to DE89 3704 0044 0532 0130 01 by Friday.", EntityType::kIban).empty());
}

TEST_CASE("payment cards: Luhn and the issuers' ranges") {
  CHECK(*CardNetwork("4111111111111111") == "visa");
  CHECK(*CardNetwork("5555555555554444") == "mastercard");
  CHECK(*CardNetwork("2223003122003222") == "mastercard");
  CHECK(*CardNetwork("378282246310005") == "amex");
  CHECK(*CardNetwork("6011111111111117") == "discover");
  CHECK(*CardNetwork("3530111333300000") == "jcb");
  CHECK_FALSE(CardNetwork("4111111111111112"));  // Luhn
  CHECK_FALSE(CardNetwork("9111111111111119"));  // Luhn-valid, no issuer has 9
  CHECK(Values("Card 4111 1111 1111 1111 was charged.", EntityType::kCard) == V{"4111111111111111"});
  CHECK(Values("Card 4111-1111-1111-1111 was charged.", EntityType::kCard) == V{"4111111111111111"});
  // A 16-digit order number that fails Luhn, and one that passes Luhn but
  // starts where no issuer does.
  CHECK(Values("Order 4111111111111112 shipped; ref 9111111111111119.", EntityType::kCard).empty());
  // Digits glued to more digits or letters are not a card.
  CHECK(Values("serial 41111111111111110 and X4111111111111111", EntityType::kCard).empty());
}

TEST_CASE("IP addresses: inet_pton, not version strings or OIDs") {
  CHECK(Values("Login from 192.168.10.4 at night.", EntityType::kIp) == V{"192.168.10.4"});
  CHECK(Values("Server 2001:0db8:0000:0000:0000:ff00:0042:8329 answered", EntityType::kIp) ==
        V{"2001:db8::ff00:42:8329"});
  CHECK(Values("Then ::1 and fe80::1ff:fe23:4567:890a too.", EntityType::kIp) ==
        V{"fe80::1ff:fe23:4567:890a"});
  for (const char* near_miss : {"Upgrade to version 10.0.0.1 now.", "Built v1.2.3.4 today.",
                                "OID 1.3.6.1.4.1.311 names it.", "OID 1.3.6.1 is the internet.",
                                "Address 256.1.1.1 is not one.", "Padded 010.001.002.003 is not one.",
                                "The time 12:30:45 is not IPv6.", "Call std::string::npos here.",
                                "Release 4.2.2.1-beta."}) {
    INFO(near_miss);
    CHECK(Values(near_miss, EntityType::kIp).empty());
  }
}

TEST_CASE("email addresses, URLs and registrable domains through the public suffix list") {
  CHECK(Values("Write to Rui.Falcao@Mail.Corvo.PT today", EntityType::kEmail) ==
        V{"rui.falcao@mail.corvo.pt"});
  CHECK(Values("Write to Rui.Falcao@Mail.Corvo.PT today", EntityType::kDomain) == V{"corvo.pt"});
  CHECK(Values("ops@shipping.co.uk", EntityType::kDomain) == V{"shipping.co.uk"});
  CHECK(Values("ana@mares.example", EntityType::kEmail) == V{"ana@mares.example"});
  for (const char* near_miss : {"user@localhost", "a@b", "see file@README.md5x", "x@1.2.3.4",
                                "bob@corvo.notatld", "the @ sign", "@handle"}) {
    INFO(near_miss);
    CHECK(Values(near_miss, EntityType::kEmail).empty());
  }
  CHECK(Values("See https://WWW.Corvo.pt:443/pay?id=7#top.", EntityType::kUrl) ==
        V{"https://www.corvo.pt/pay?id=7"});
  CHECK(Values("See https://WWW.Corvo.pt:443/pay?id=7#top.", EntityType::kDomain) == V{"corvo.pt"});
  CHECK(Values("(see http://example.com/a_(b))", EntityType::kUrl) == V{"http://example.com/a_(b)"});
  CHECK(Values("(see http://example.com/a).", EntityType::kUrl) == V{"http://example.com/a"});
  CHECK(Values("Visit www.mares.com.br now", EntityType::kDomain) == V{"mares.com.br"});
  // File names are not domains, even where the extension is a country.
  CHECK(Values("Open README.md and setup.py and notes.txt", EntityType::kDomain).empty());
}

TEST_CASE("phone numbers through libphonenumber, in E.164, invalid ones rejected") {
  CHECK(Values("Call +351 21 123 4567 or +44 20 7946 0958.", EntityType::kPhone) ==
        V{"+351211234567", "+442079460958"});
  EntityOptions pt;
  pt.default_region = "PT";
  CHECK(Values("Ligue 912 345 678 amanhã.", EntityType::kPhone, pt) == V{"+351912345678"});
  EntityOptions gb;
  gb.default_region = "GB";
  CHECK(Values("Ring 020 7946 0958 today.", EntityType::kPhone, gb) == V{"+442079460958"});
  // Offsets are bytes of the text, after non-ASCII characters too.
  const std::string text = "Número: +351 21 123 4567.";
  const auto found = FindEntities(text);
  const auto phone = std::find_if(found.begin(), found.end(), [](const Entity& e) { return e.type == EntityType::kPhone; });
  REQUIRE(phone != found.end());
  CHECK(text.substr(phone->begin, phone->end - phone->begin) == "+351 21 123 4567");
  for (const char* near_miss : {"Invoice 12345678901234 is due.", "Call +351 99 999 9999 now.",
                                "Ref 1234, batch 5678.", "Card 4111 1111 1111 1111",
                                "IBAN DE89 3704 0044 0532 0130 00", "On 2025-02-14 it rained."}) {
    INFO(near_miss);
    CHECK(Values(near_miss, EntityType::kPhone).empty());
  }
}

TEST_CASE("money amounts with a currency, and dates, normalised") {
  CHECK(Values("First invoice for EUR 12,800.00 and then €1.234,56.", EntityType::kMoney) ==
        V{"EUR 12800.00", "EUR 1234.56"});
  CHECK(Values("Total 187 460,00 EUR, fee $5,000 and R$ 300.", EntityType::kMoney) ==
        V{"EUR 187460.00", "USD 5000.00", "BRL 300.00"});
  CHECK(Values("EUROPE 2025 and 12 boxes", EntityType::kMoney).empty());
  CHECK(Values("On 14 Feb 2025, then February 3, 2025, then 2025-03-01.", EntityType::kDate) ==
        V{"2025-02-14", "2025-02-03", "2025-03-01"});
  CHECK(Values("Paid 14/02/2025 and 02/14/2025.", EntityType::kDate) == V{"2025-02-14", "2025-02-14"});
  // Ambiguous day and month, or no such day: nothing.
  CHECK(Values("Paid 03/04/2025 and 2025-02-30 and 31 Apr 2025.", EntityType::kDate).empty());
}

TEST_CASE("names: a watch list without case or diacritics, and capitalised sequences lower") {
  EntityOptions o;
  o.watchlist = {"Sofia Marques Lopes", "Rui Falcão"};
  const auto found = FindEntities("Signed by SOFIA MARQUES LOPES; approved by rui falcao.", o);
  std::vector<std::pair<std::string, double>> names;
  for (const auto& e : found) {
    if (e.type == EntityType::kName) names.emplace_back(e.value, e.weight);
  }
  CHECK(names == std::vector<std::pair<std::string, double>>{{"sofia marques lopes", 1.0}, {"rui falcao", 1.0}});
  const auto caps = Values("The account mandate names Helena Duarte da Silva as lead. The Company agreed.",
                           EntityType::kName);
  CHECK(caps == V{"helena duarte da silva"});
  CHECK(Values("It went under Rui Falcão's login.", EntityType::kName) == V{"rui falcao"});
  EntityOptions none;
  none.capitalised_names = false;
  CHECK(Values("Helena Duarte called.", EntityType::kName, none).empty());
}

TEST_CASE("a labelled text: every planted value found, no near miss, offsets point at them") {
  // Real prose around planted values (the kind of paragraph a Debian
  // package's documentation holds), with near misses beside each.
  const std::string text =
      "The package was uploaded by the maintainer (see https://tracker.debian.org/pkg/dossier). "
      "Bug reports go to submit@bugs.debian.org, not to 1234567@bugs. Version 2.4.1.7 fixes the "
      "build on 10.0.2.15 hosts; the MIB OID 1.3.6.1.2.1 is unchanged. Donations: IBAN "
      "GB82 WEST 1234 5698 7654 32 (not GB82 WEST 1234 5698 7654 33), or bitcoin "
      "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 (not 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3), or "
      "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed (not 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD). "
      "Test card 5555 5555 5555 4444; order number 5555 5555 5555 4445. "
      "Phone +44 20 7946 0958; build id 20250214093000.";
  const auto found = FindEntities(text);
  std::vector<std::string> got;
  for (const auto& e : found) {
    CHECK(e.end <= text.size());
    CHECK(e.begin < e.end);
    if (e.type == EntityType::kDate || e.type == EntityType::kName || e.type == EntityType::kMoney) continue;
    got.push_back(std::string(EntityTypeName(e.type)) + ":" + e.value);
  }
  CHECK(got == V{"url:https://tracker.debian.org/pkg/dossier", "domain:debian.org",
                 "email:submit@bugs.debian.org", "domain:debian.org", "ip:10.0.2.15",
                 "iban:GB82WEST12345698765432", "btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                 "eth:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "card:5555555555554444",
                 "phone:+442079460958"});
  CHECK(NormalizeEntity(EntityType::kPhone, "+44 20 7946 0958") == std::optional<std::string>("+442079460958"));
  CHECK(NormalizeEntity(EntityType::kIban, "GB82 WEST 1234 5698 7654 32") ==
        std::optional<std::string>("GB82WEST12345698765432"));
  CHECK_FALSE(NormalizeEntity(EntityType::kEmail, "not an email"));
  CHECK(EntityTypeFromName("iban") == EntityType::kIban);
  CHECK_FALSE(EntityTypeFromName("nope"));
}

namespace {

// One entity record as a worker could write it, any field out of range.
std::string Record(unsigned type, unsigned field, const std::string& value, std::uint64_t begin,
                   std::uint64_t end, double weight, std::size_t claimed_len = std::string::npos) {
  std::string r;
  AppendRaw<std::uint8_t>(&r, static_cast<std::uint8_t>(type));
  AppendRaw<std::uint8_t>(&r, static_cast<std::uint8_t>(field));
  AppendRaw<std::uint16_t>(&r, static_cast<std::uint16_t>(claimed_len == std::string::npos ? value.size() : claimed_len));
  AppendRaw<std::uint64_t>(&r, begin);
  AppendRaw<std::uint64_t>(&r, end);
  AppendRaw<double>(&r, weight);
  return r + value;
}

std::string Block(std::uint32_t count, const std::string& records) {
  std::string b;
  AppendRaw<std::uint32_t>(&b, count);
  return b + records;
}

}  // namespace

TEST_CASE("a worker's entities travel after its header and are refused whole when any is malformed") {
  const unsigned iban = static_cast<unsigned>(EntityType::kIban);
  auto parse = [](const std::string& block, std::size_t text_size = 100) {
    std::vector<Entity> out;
    const bool ok = EntitiesFromBlock(block, text_size, &out);
    return std::make_pair(ok, out.size());
  };
  // What a worker writes reads back the same.
  ExtractedItem item;
  item.entities = {{EntityType::kIban, "DE89370400440532013000", 4, 31, 1.0, ""},
                   {EntityType::kEmail, "a@b.example", 0, 0, 0.5, "from"}};
  const std::string header = ItemHeader(item);
  const auto [text, block] = SplitHeader(header);
  CHECK(nlohmann::json::parse(text).at("index") == 0);
  std::vector<Entity> back;
  REQUIRE(EntitiesFromBlock(block, 100, &back));
  REQUIRE(back.size() == 2);
  CHECK(back[0].value == "DE89370400440532013000");
  CHECK(back[0].begin == 4);
  CHECK(back[0].end == 31);
  CHECK(back[1].type == EntityType::kEmail);
  CHECK(back[1].field == "from");
  CHECK(back[1].weight == 0.5);
  CHECK(SplitHeader(ItemHeader(ExtractedItem{})).second.empty());  // none at all
  CHECK(EntitiesFromBlock({}, 10, nullptr));

  const std::string good = Record(iban, 0, "DE89370400440532013000", 4, 31, 1.0);
  CHECK(parse(Block(1, good)) == std::make_pair(true, std::size_t{1}));
  for (const std::string& bad : {Record(99, 0, "x", 0, 1, 1.0),           // no such type
                                 Record(iban, 0, "", 0, 1, 1.0),          // empty
                                 Record(iban, 0, std::string(600, 'A'), 0, 1, 1.0),
                                 Record(iban, 0, "\xff\xfe", 0, 1, 1.0),  // not UTF-8
                                 Record(iban, 0, "X", 4, 300, 1.0),       // past the text
                                 Record(iban, 0, "X", 9, 9, 1.0),         // empty span
                                 Record(iban, 0, "X", 0, 1, 1.5),         // weight
                                 Record(iban, 0, "X", 0, 1, std::numeric_limits<double>::quiet_NaN()),
                                 Record(iban, 7, "X", 0, 1, 1.0),         // a field that is no address header
                                 Record(iban, 0, "XY", 0, 1, 1.0, 9),     // a value longer than sent
                                 Record(iban, 0, "X", 0, 1, 1.0).substr(0, 10)}) {  // cut short
    CHECK_FALSE(parse(Block(2, good + bad)).first);
  }
  CHECK_FALSE(parse(Block(1, good + "extra")).first);        // bytes left over
  CHECK_FALSE(parse(Block(3, good + good)).first);           // fewer than counted
  CHECK_FALSE(parse(Block(0, "")).first);                    // a block that says nothing
  CHECK_FALSE(parse("ab").first);                            // no count
  CHECK_FALSE(parse(Block(kMaxEntitiesPerItem + 1, good)).first);
}
