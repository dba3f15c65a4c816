#include "indexer/blind_terms.h"

#include <array>

#include "indexer/text.h"

namespace dossier::indexer {

std::string_view FieldPrefix(Field field) {
  switch (field) {
    case Field::kCase: return "XC";
    case Field::kCustodian: return "XU";
    case Field::kFilename: return "XF";
    case Field::kLanguage: return "XL";
    case Field::kType: return "XT";
    case Field::kTag: return "K";
    case Field::kEntity: return "XE";
    case Field::kFrom: return "XA";
    case Field::kTo: return "XB";
    case Field::kCc: return "XD";
  }
  return "X?";
}

std::string_view FieldName(Field field) {
  switch (field) {
    case Field::kCase: return "case";
    case Field::kCustodian: return "custodian";
    case Field::kFilename: return "filename";
    case Field::kLanguage: return "lang";
    case Field::kType: return "type";
    case Field::kTag: return "tag";
    case Field::kEntity: return "entity";
    case Field::kFrom: return "from";
    case Field::kTo: return "to";
    case Field::kCc: return "cc";
  }
  return "";
}

bool IsSupportedLanguage(std::string_view language) {
  static constexpr std::array<std::string_view, 16> kLanguages = {
      "en", "pt", "es", "it", "fr", "de", "nl", "sv",
      "da", "nb", "fi", "ru", "ro", "hu", "tr", "ca"};
  for (auto l : kLanguages) if (l == language) return true;
  return false;
}

BlindKeys::BlindKeys(const crypto::SecretBytes& index_key)
    : terms_(index_key, crypto::HashPurpose::kTerms) {}

std::string BlindKeys::FieldTerm(Field field, std::string_view value) const {
  std::string input = "f|";
  input.append(FieldName(field));
  input.push_back('|');
  input.append(FoldWord(value));
  std::string term(FieldPrefix(field));
  term.append(terms_.Hash(input, kTermHashBytes));
  return term;
}

std::string BlindKeys::PrefixTerm(std::string_view folded_prefix) const {
  std::string input = "p|";
  input.append(folded_prefix);
  std::string term = "P";
  term.append(terms_.Hash(input, kTermHashBytes));
  return term;
}

std::string BlindKeys::StemHash(std::string_view stem) const {
  std::string input = "w|";
  input.append(stem);
  return terms_.Hash(input, kTermHashBytes);
}

}  // namespace dossier::indexer
