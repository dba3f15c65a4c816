// Blind terms: what the index stores instead of words.
//
// Term prefixes, all in one place (as omindex documents its own):
//   Z<h>    a stemmed word of the text: "Z" + keyed hash of the stem
//   Q<id>   the document id (boolean; ids are random, not content)
//   XC<h>   case          XU<h>  custodian      XF<h>  filename
//   XL<h>   language      XT<h>  type           K<h>   tag
//   XE<h>   entity        XA<h>  from address   XB<h>  to address
//   XD<h>   cc address    ZS<h>  a stemmed word of an email subject
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

 private:
  crypto::KeyedHasher terms_;
};

}  // namespace dossier::indexer
