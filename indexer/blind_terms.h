// Blind terms: what the index stores instead of words.
//
// Term prefixes, all in one place (as omindex documents its own):
//   Z<h>    a stemmed word of the text: "Z" + keyed hash of the stem
//   Q<id>   the document id (boolean; ids are random, not content)
//   XC<h>   case          XU<h>  custodian      XF<h>  filename
//   XL<h>   language      XT<h>  type           K<h>   tag
//   XE<h>   entity        XA<h>  from address   XB<h>  to address
//   XD<h>   cc address    ZS<h>  a stemmed word of an email subject
//   P<h>    a prefix (3 to 8 characters) of a folded, unstemmed word of the
//           text, boolean (no positions): what `word*` matches
// <h> is the first kTermHashBytes bytes of a keyed BLAKE2b hash (raw bytes,
// not hex: measured within 16% of plain stems in size). Word hashes are
// computed from FoldWord(word) stemmed by the document language's stemmer;
// field hashes from the field name and FoldWord(value), so equal values in
// different fields never share a term.
// Value slot kDaySlot holds the document date as a day number (days since
// 1970-01-01, Xapian::sortable_serialise): the one thing the index reveals
// besides hash frequencies, listed in the README. Slot kIdSlot holds the
// (random) document id, so documents of equal weight come back in one
// order, whatever order they were indexed in (a reindex, a move). Slot
// kShardSlot holds the opaque id of the shard holding the copy.
// Thread-safety: BlindKeys is immutable and may be shared by threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "crypto/keyed_hash.h"

namespace dossier::indexer {

constexpr std::size_t kTermHashBytes = 8;
constexpr unsigned kDaySlot = 0;
constexpr unsigned kIdSlot = 1;
// Slot kShardSlot holds the (opaque) id of the shard a copy lives in: while
// a document moves, both shards hold it, and a search counts only the copy
// its database row names (see SearchQuery::counted_copy). A combined
// database hands a match decider the document's docid within its own
// shard, not the combined one, so the copies are told apart by this value.
constexpr unsigned kShardSlot = 2;
// Slot kFacetSlot holds the hash parts (kTermHashBytes each) of the type,
// language, custodian and case terms, in that order; slot kTagSlot those of
// the document's tags. Facets count them over the matches with a match spy.
constexpr unsigned kFacetSlot = 3;
constexpr unsigned kTagSlot = 4;

// The index format a shard is built with. 1: before prefix terms and facet
// values; 2: with them. A shard is as old as the oldest document in it;
// only `dossier reindex` (which holds content keys) brings it forward.
constexpr int kShardFormat = 2;
constexpr int kPrefixFormat = 2;  // the first format with prefix terms
// The prefix lengths indexed, in Unicode characters of the folded word.
constexpr std::size_t kMinPrefix = 3;
constexpr std::size_t kMaxPrefix = 8;

enum class Field { kCase, kCustodian, kFilename, kLanguage, kType, kTag, kEntity, kFrom, kTo, kCc };

// The Xapian term prefix of a field ("XC", ...).
std::string_view FieldPrefix(Field field);
// The query-syntax name of a field ("case", ...).
std::string_view FieldName(Field field);

// Languages with a stemmer; anything else is indexed with "none" (no
// stemming, still hashed).
bool IsSupportedLanguage(std::string_view language);

class BlindKeys {
 public:
  explicit BlindKeys(const crypto::SecretBytes& index_key);
  // The boolean term for `value` of `field`.
  std::string FieldTerm(Field field, std::string_view value) const;
  // The hash part of a word term, for an already folded and stemmed word.
  std::string StemHash(std::string_view stem) const;
  // The prefix term for a folded prefix of kMinPrefix..kMaxPrefix characters.
  std::string PrefixTerm(std::string_view folded_prefix) const;

 private:
  crypto::KeyedHasher terms_;
};

}  // namespace dossier::indexer
