// Private to indexer/: words as the index sees them, without Xapian in the
// header (its Unicode tables do the work in xapian_internal.cpp). Shared by
// the document builder (prefix terms), the snippet marker and the query
// checker.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dossier::indexer::internal {

// A word of text, as byte offsets.
struct WordSpan {
  std::size_t begin, end;
};
// Splits text into words the way TermGenerator does for ordinary text
// (runs of Unicode word characters, with an apostrophe between letters kept
// inside the word; a word over 64 bytes lower-cased is skipped, as
// TermGenerator skips it without a position), at most `max_words`.
std::vector<WordSpan> SplitWords(std::string_view text,
                                 std::size_t max_words = static_cast<std::size_t>(-1));

// Whether `text` is non-empty and all Unicode word characters.
bool IsOneWord(std::string_view text);

// The prefixes of a folded word that get prefix terms: its first
// kMinPrefix..kMaxPrefix characters (the whole word among them when it is
// that short); none for a shorter word.
std::vector<std::string> PrefixesOf(std::string_view folded);

}  // namespace dossier::indexer::internal
