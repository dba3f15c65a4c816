// Entities of a text: the identifiers and names that link cases (email
// addresses, phone numbers, IBANs, payment cards, IP addresses, URLs and
// registrable domains, Bitcoin and Ethereum addresses, money amounts,
// dates, watch-listed and capitalised names). Each is validated and
// normalised, through a library where one exists (libphonenumber, libpsl,
// inet_pton); precision comes before recall: a near miss (a bad checksum,
// an order number that fails Luhn, a version string or an OID) yields
// nothing.
//
// Runs where plaintext already is and no key is: in the extraction worker
// (libphonenumber and the validators parse untrusted text), linked into
// dossier-extract, never into the process that holds keys.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dossier::indexer {

// kName stays last: the worker protocol checks a type's number against it.
enum class EntityType {
  kEmail, kPhone, kIban, kCard, kIp, kUrl, kDomain, kBitcoin, kEthereum, kMoney, kDate, kName,
};
// "email", "phone", "iban", "card", "ip", "url", "domain", "btc", "eth",
// "money", "date", "name".
std::string_view EntityTypeName(EntityType type);
std::optional<EntityType> EntityTypeFromName(std::string_view name);

struct Entity {
  EntityType type;
  std::string value;       // normalised: what matching compares
  std::size_t begin, end;  // byte offsets of the occurrence in the text
  double weight;           // how much the occurrence says (1 for identifiers)
  std::string field = {};  // "" for the text, else the header it came from (from, to, cc, bcc)
};
// At most this many entities are kept per document (the first ones).
inline constexpr std::size_t kMaxEntitiesPerItem = 20000;
inline constexpr std::size_t kMaxEntityValueBytes = 512;

struct EntityOptions {
  // ISO 3166 region for numbers written without a country code ("PT").
  std::string default_region = "PT";
  // Names and aliases to find (exact, and case/diacritic-insensitive).
  std::vector<std::string> watchlist;
  // Capitalised sequences of 2-4 words ("Sofia Marques Lopes"), at a
  // lower weight.
  bool capitalised_names = true;
};

// Every entity of `text` (valid UTF-8), in order of position; an
// occurrence found twice (a URL's domain, an email's domain) is listed
// once per type.
std::vector<Entity> FindEntities(std::string_view text, const EntityOptions& options = {});

// The validators, for tests and for values typed by hand (entity: in a
// query, a stop-entity set by an investigator).
// An IBAN with spaces or not, any case -> "PT50003502170004123456783", or
// nullopt (unknown country, wrong length for it, or a bad mod-97).
std::optional<std::string> NormalizeIban(std::string_view text);
bool LuhnValid(std::string_view digits);
// The card network of a Luhn-valid number of the right length for it
// ("visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay"),
// or nullopt.
std::optional<std::string> CardNetwork(std::string_view digits);
// Base58Check (P2PKH, P2SH) or bech32/bech32m (segwit v0 / v1+) mainnet
// addresses; the normalised form (bech32 lower-cased), or nullopt.
std::optional<std::string> NormalizeBitcoin(std::string_view text);
// 0x + 40 hex digits; mixed case must carry a valid EIP-55 checksum.
// Lower-cased, or nullopt.
std::optional<std::string> NormalizeEthereum(std::string_view text);
// Keccak-256 (the original padding Ethereum uses, not SHA3-256), hex.
std::string Keccak256Hex(std::string_view data);
// The value an entity is indexed and linked by: "iban:DE89370400440532013000".
inline std::string EntityTerm(EntityType type, const std::string& value) {
  return std::string(EntityTypeName(type)) + ":" + value;
}
// One value typed by hand, normalised as FindEntities would, or nullopt
// if it is not a valid value of that type.
std::optional<std::string> NormalizeEntity(EntityType type, std::string_view value,
                                           const EntityOptions& options = {});
// The entities of one extracted item: those of its text, then the
// addresses and names of its from/to/cc/bcc headers (`fields`, with
// Entity.field set and no offsets); values that are empty or too long
// dropped, at most kMaxEntitiesPerItem.
std::vector<Entity> FindItemEntities(std::string_view text, const std::map<std::string, std::string>& fields,
                                     const EntityOptions& options = {});
// Whether libphonenumber knows `region` (ISO 3166 alpha-2, upper case).
bool IsPhoneRegion(const std::string& region);

}  // namespace dossier::indexer
