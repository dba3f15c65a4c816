// The read side of the index: search over exactly the shards a user's roles
// reach, combined into one Xapian database so ranking statistics come from
// visible documents only (a combined database of the visible shards gives
// the same weights as a database holding only those documents).
//
// Thread-safety: a Searcher is immutable and serves any number of threads
// at once (each search leases readers of its own from the ShardStore); the
// QueryMatcher it returns is immutable and may be shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <map>
#include <set>

#include "indexer/blind_terms.h"
#include "indexer/shard_store.h"

namespace dossier::indexer {

enum class SortOrder { kRelevance, kDateDescending };

struct SearchQuery {
  std::string text;                    // query syntax, see docs/query.md
  std::vector<std::string> shard_ids;  // exactly the visible shards
  std::vector<std::string> languages;  // languages present in those shards
  std::string case_id;                 // optional case filter
  // Documents whose copies do not all count: while a document moves
  // between shards both may hold it, and a document being written is in
  // its shard before it is acknowledged. For each such document, the one
  // shard whose copy counts ("" for none); every other copy of it is left
  // out of hits and totals.
  std::map<std::string, std::string> counted_copy;
  std::uint32_t offset = 0;
  std::uint32_t limit = 20;
  SortOrder sort = SortOrder::kRelevance;
  // Count facets over every match (FacetCounts).
  bool facets = false;
  // If set, only these documents can match (e.g. those added since a saved
  // search last ran).
  std::optional<std::vector<std::string>> only_ids;
};

// Facet counts over the matches: by the hash part of the term of each
// value (type, language, custodian, case, tag), and by year. The caller
// maps hashes back to the values the user knows.
struct FacetCounts {
  std::map<std::string, std::uint64_t> type, language, custodian, case_id, tag;
  std::map<int, std::uint64_t> year;
};

struct SearchHit {
  std::string doc_id;
  double weight = 0;
  // Position of the first word matching the query, to pick the text chunk
  // the snippet comes from; empty for purely boolean matches.
  std::optional<std::uint32_t> first_match_pos;
};

// The words and phrases of a parsed query, as blind hashes; marks matches in
// decrypted text by hashing its words the same way.
class QueryMatcher {
 public:
  // `prefixes`: the folded prefixes of `word*` queries; a word starting
  // with one (after folding) is marked too.
  QueryMatcher(const BlindKeys& keys, std::vector<std::string> terms,
               std::vector<std::vector<std::string>> phrases,
               std::set<std::string> prefixes = {});
  ~QueryMatcher();
  // An HTML-escaped excerpt of `text` of about `max_chars` characters around
  // the first match, with every match wrapped in <mark>…</mark>. Words are
  // hashed with `language`'s stemmer, as the document was indexed.
  // `near_word`: the index's word position of the first match within
  // `text`, if known (only the words around it are hashed then).
  std::string Snippet(std::string_view text, const std::string& language,
                      std::size_t max_chars = 240,
                      std::optional<std::size_t> near_word = std::nullopt) const;
  // Every match in `text` as byte ranges [begin, end), in order (the
  // words of a phrase as one range), at most `max_matches`; `truncated`
  // says whether more were left out. For marking a whole document.
  std::vector<std::pair<std::size_t, std::size_t>> Matches(std::string_view text,
                                                           const std::string& language,
                                                           std::size_t max_matches,
                                                           bool* truncated = nullptr) const;
  bool empty() const { return terms_.empty() && phrases_.empty() && prefixes_.empty(); }

 private:
  std::size_t FirstPrefixCandidate(std::string_view text) const;
  struct Stems;  // one blind stemmer per language, kept across the hits of a page
  const BlindKeys& keys_;
  std::unique_ptr<Stems> stems_;
  std::vector<std::string> terms_;                 // sorted hash parts
  std::vector<std::vector<std::string>> phrases_;  // in word order
  std::set<std::string> prefixes_;
};

struct SearchOutcome {
  std::uint64_t total = 0;  // exact for the visible shards
  std::vector<SearchHit> hits;
  std::shared_ptr<const QueryMatcher> matcher;
  std::vector<std::string> notes;  // how a repaired query was read
  FacetCounts facets;              // if asked for
};

// For a search-term report: every document matched by each of several
// queries, as indexes into `doc_ids`.
struct MatchSets {
  std::vector<std::string> doc_ids;
  std::vector<std::vector<std::uint32_t>> matches;  // one sorted list per query
  std::vector<std::vector<std::string>> notes;      // per query
};

class Searcher {
 public:
  explicit Searcher(const BlindKeys& keys) : keys_(keys) {}
  // Searches `query.shard_ids` of `shards`. Throws Error(kInvalidArgument)
  // for a malformed query, Error(kCorrupt) for a missing or damaged shard.
  SearchOutcome Search(const SearchQuery& query, ShardStore& shards) const;
  // Runs each of `texts` as the query of `base` (its shards, languages,
  // copies and case), collecting every match; throws QueryError naming the
  // first malformed one (its index in the message).
  MatchSets Match(const SearchQuery& base, const std::vector<std::string>& texts,
                  ShardStore& shards) const;
  // What marks `text`'s matches in a document of `language` (no search
  // runs); `notes` as a search would give them. Throws QueryError for a
  // malformed query.
  std::shared_ptr<const QueryMatcher> MatcherFor(const std::string& text, const std::string& language,
                                                 std::vector<std::string>* notes = nullptr) const;

 private:
  const BlindKeys& keys_;
};

}  // namespace dossier::indexer
