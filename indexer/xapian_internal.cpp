#include "indexer/xapian_internal.h"

#include <unordered_map>

#include "indexer/text.h"
#include "indexer/words.h"

namespace dossier::indexer::internal {

namespace {

class BlindStemmer : public Xapian::StemImplementation {
 public:
  BlindStemmer(const BlindKeys& keys, const std::string& language)
      : keys_(keys),
        stem_(IsSupportedLanguage(language) ? Xapian::Stem(language) : Xapian::Stem()),
        language_(language) {}

  std::string operator()(const std::string& word) override {
    auto it = cache_.find(word);
    if (it != cache_.end()) return it->second;
    // Bounded: a long document of unique tokens must not grow it forever.
    if (cache_.size() >= kMaxCache) cache_.clear();
    std::string folded = FoldWord(word);
    std::string hashed = keys_.StemHash(stem_(folded));
    return cache_.emplace(word, std::move(hashed)).first->second;
  }
  std::string get_description() const override {
    return "dossier blind stemmer (" + language_ + ")";
  }

 private:
  static constexpr std::size_t kMaxCache = 200000;
  const BlindKeys& keys_;
  Xapian::Stem stem_;
  std::string language_;
  std::unordered_map<std::string, std::string> cache_;
};

class HashedFieldProcessor : public Xapian::FieldProcessor {
 public:
  HashedFieldProcessor(const BlindKeys& keys, Field field) : keys_(keys), field_(field) {}
  Xapian::Query operator()(const std::string& value) override {
    return Xapian::Query(keys_.FieldTerm(field_, value));
  }

 private:
  const BlindKeys& keys_;
  Field field_;
};

}  // namespace

// Splits text into words the way TermGenerator does for ordinary text
// (runs of Unicode word characters, with an apostrophe between letters kept
// inside the word). Only finds their edges: hashing is the costly part.
std::vector<WordSpan> SplitWords(std::string_view text, std::size_t max_words) {
  std::vector<WordSpan> words;
  Xapian::Utf8Iterator it(text.data(), text.size()), end;
  const char* base = text.data();
  while (it != end) {
    if (!Xapian::Unicode::is_wordchar(*it)) { ++it; continue; }
    const std::size_t b = it.raw() - base;
    std::size_t e = b;
    while (it != end) {
      if (Xapian::Unicode::is_wordchar(*it)) {
        ++it;
        e = it.raw() - base;
        continue;
      }
      if (*it == '\'' || *it == 0x2019) {
        Xapian::Utf8Iterator next = it;
        ++next;
        if (next != end && Xapian::Unicode::is_wordchar(*next)) { it = next; continue; }
      }
      break;
    }
    // TermGenerator skips a word over 64 bytes (lower-cased) without
    // giving it a position: so does this, to keep positions in step.
    if (e - b > 32 && Xapian::Unicode::tolower(std::string(text.substr(b, e - b))).size() > 64) {
      continue;
    }
    words.push_back({b, e});
    if (words.size() >= max_words) break;
  }
  return words;
}


bool IsOneWord(std::string_view s) {
  if (s.empty()) return false;
  Xapian::Utf8Iterator it(s.data(), s.size()), end;
  for (; it != end; ++it) {
    if (!Xapian::Unicode::is_wordchar(*it)) return false;
  }
  return true;
}

std::vector<std::string> PrefixesOf(std::string_view folded) {
  std::vector<std::string> out;
  Xapian::Utf8Iterator it(folded.data(), folded.size()), end;
  std::size_t chars = 0;
  while (it != end && chars < kMaxPrefix) {
    ++it;
    ++chars;
    if (chars >= kMinPrefix) {
      out.emplace_back(folded.substr(0, it == end ? folded.size() : it.raw() - folded.data()));
    }
  }
  return out;
}

Xapian::Stem MakeBlindStem(const BlindKeys& keys, const std::string& language) {
  return Xapian::Stem(new BlindStemmer(keys, language));
}

std::unique_ptr<Xapian::FieldProcessor> MakeHashedFieldProcessor(const BlindKeys& keys,
                                                                 Field field) {
  return std::make_unique<HashedFieldProcessor>(keys, field);
}

}  // namespace dossier::indexer::internal
