#include "indexer/xapian_internal.h"

#include <unordered_map>

#include "indexer/text.h"

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

Xapian::Stem MakeBlindStem(const BlindKeys& keys, const std::string& language) {
  return Xapian::Stem(new BlindStemmer(keys, language));
}

std::unique_ptr<Xapian::FieldProcessor> MakeHashedFieldProcessor(const BlindKeys& keys,
                                                                 Field field) {
  return std::make_unique<HashedFieldProcessor>(keys, field);
}

}  // namespace dossier::indexer::internal
