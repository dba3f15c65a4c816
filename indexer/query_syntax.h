// The query syntax checked before Xapian's parser sees it.
//
// Xapian's QueryParser never refuses a query it can repair: an unclosed
// quote or parenthesis is silently closed, a failed parse is silently
// retried as plain words, and a lone `-word` matches the documents that
// contain the word. Dossier reads the query once itself first, so that:
// - what is malformed is refused with its position (QueryError), never
//   searched as something else;
// - what is repaired is said in a note;
// - a group whose every part is negated (`-draft`, `-tag:privileged`)
//   means "everything I can open except those", as docs/query.md says;
// - `word*` becomes a prefix query over the prefix terms (kMinPrefix to
//   kMaxPrefix characters; a longer prefix is matched by its first
//   kMaxPrefix characters, and a note says so);
// - `date:` values are checked (see ParseDateRange).
// Positions are 1-based, in Unicode characters of the query as given.
// Notes and errors name positions, never the query's words: they may be
// logged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dossier::indexer {

// The field name the rewritten text uses for `word*` (a FieldProcessor
// turns its value into a prefix term).
inline constexpr std::string_view kPrefixField = "dossierprefix";

struct CheckedQuery {
  std::string text;                // for Xapian's parser
  std::vector<std::string> notes;  // how a repaired query was read
  bool has_prefix = false;         // uses `word*`
  bool match_all = false;          // empty: every document
};

// Throws QueryError (base/error.h) for a malformed query.
CheckedQuery CheckQuery(std::string_view utf8);

// A day range of `date:` values: `2021`, `2021-03`, `2021-03-05`, and
// ranges `A..B`, `..B`, `A..` of those; days since 1970-01-01, inclusive
// (an open end is nullopt). Nothing if the value is not one of those forms
// or names no real date.
struct DayRange {
  std::optional<std::int64_t> from, to;
};
std::optional<DayRange> ParseDateRange(std::string_view value);

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back.
std::int64_t DaysFromCivil(int year, unsigned month, unsigned day);
int YearOfDay(std::int64_t day);

}  // namespace dossier::indexer
