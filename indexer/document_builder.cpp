#include "indexer/document_builder.h"

#include <unordered_map>
#include <unordered_set>

#include "indexer/text.h"
#include "indexer/words.h"
#include "indexer/xapian_internal.h"

namespace dossier::indexer {

PreparedDocument::PreparedDocument() = default;
PreparedDocument::~PreparedDocument() = default;
PreparedDocument::PreparedDocument(PreparedDocument&&) noexcept = default;
PreparedDocument& PreparedDocument::operator=(PreparedDocument&&) noexcept = default;
PreparedDocument::PreparedDocument(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
const std::string& PreparedDocument::doc_id() const { return impl_->doc_id; }

struct DocumentBuilder::Impl {
  Impl(const BlindKeys& k, std::size_t cap, std::size_t terms, bool prefixes)
      : keys(k), text_cap(cap), max_terms(terms), prefix_terms(prefixes) {
    // Words longer than this are not words (base64 runs, hex dumps); Xapian
    // skips them, which also keeps terms far from the 245-byte limit.
    generator.set_max_word_length(64);
    generator.set_stemming_strategy(Xapian::TermGenerator::STEM_ALL_Z);
  }
  const BlindKeys& keys;
  std::size_t text_cap;
  std::size_t max_terms;
  bool prefix_terms;
  Xapian::TermGenerator generator;
  std::unique_ptr<PreparedDocument::Impl> current;
  std::string stem_language;  // the language the generator's stemmer is for
  std::size_t bytes = 0;
  bool partial = false;
  // The distinct words of the current document, as written (given prefix
  // terms once each), and a bounded cache from a written word to its
  // prefix terms across documents (most words recur).
  std::unordered_set<std::string> words;
  std::unordered_map<std::string, std::vector<std::string>> prefix_cache;
  static constexpr std::size_t kMaxPrefixCache = 200000;
};

DocumentBuilder::DocumentBuilder(const BlindKeys& keys, std::size_t text_cap,
                                 std::size_t max_terms, bool prefix_terms)
    : impl_(std::make_unique<Impl>(keys, text_cap, max_terms, prefix_terms)) {}
DocumentBuilder::~DocumentBuilder() = default;

void DocumentBuilder::Begin(const DocumentFields& f) {
  Impl& s = *impl_;
  if (s.current) throw Error(ErrorCode::kInternal, "document builder: Begin twice");
  s.current = std::make_unique<PreparedDocument::Impl>();
  s.current->doc_id = f.doc_id;
  s.bytes = 0;
  s.partial = false;
  s.words.clear();
  if (s.stem_language != f.language || s.stem_language.empty()) {
    // A new stemmer per language; its word cache lives as long as it does.
    s.generator.set_stemmer(internal::MakeBlindStem(s.keys, f.language));
    s.stem_language = f.language;
  }
  Xapian::Document& doc = s.current->doc;
  s.generator.set_document(doc);
  s.generator.set_termpos(0);
  doc.set_data(f.doc_id);
  doc.add_value(kIdSlot, f.doc_id);
  doc.add_boolean_term(internal::IdTerm(f.doc_id));
  auto add_field = [&](Field field, const std::string& value) {
    if (!value.empty()) doc.add_boolean_term(s.keys.FieldTerm(field, value));
  };
  add_field(Field::kCase, f.case_id);
  add_field(Field::kCustodian, f.custodian);
  add_field(Field::kFilename, f.filename);
  add_field(Field::kLanguage, f.language);
  add_field(Field::kType, f.type);
  std::string tags;
  for (const auto& [field, value] : f.extra) {
    add_field(field, value);
    if (field == Field::kTag && !value.empty()) {
      tags += s.keys.FieldTerm(field, value).substr(FieldPrefix(field).size());
    }
  }
  // Facet values: the hash parts of the terms, never the values.
  std::string facets;
  for (auto [field, value] : {std::pair{Field::kType, &f.type}, {Field::kLanguage, &f.language},
                              {Field::kCustodian, &f.custodian}, {Field::kCase, &f.case_id}}) {
    facets += value->empty() ? std::string(kTermHashBytes, '\0')
                             : s.keys.FieldTerm(field, *value).substr(FieldPrefix(field).size());
  }
  doc.add_value(kFacetSlot, facets);
  if (!tags.empty()) doc.add_value(kTagSlot, tags);
  if (!f.subject.empty()) {
    // No positions: the subject must not shift the body's word positions.
    internal::XapianCall("indexing", [&] {
      s.generator.index_text_without_positions(NormalizeNfkc(f.subject), 1, "S");
    });
  }
  if (f.day) {
    doc.add_value(kDaySlot, Xapian::sortable_serialise(static_cast<double>(*f.day)));
  }
}

ChunkRange DocumentBuilder::AddText(std::string_view utf8) {
  Impl& s = *impl_;
  if (!s.current) throw Error(ErrorCode::kInternal, "document builder: no document");
  ChunkRange range;
  range.first_pos = s.generator.get_termpos() + 1;
  // Once capped, later text is dropped too: the indexed text stays a prefix.
  if (s.partial) return ChunkRange{range.first_pos, range.first_pos, 0};
  if (s.bytes + utf8.size() > s.text_cap) {
    s.partial = true;
    const std::size_t room = s.text_cap - std::min(s.text_cap, s.bytes);
    utf8 = utf8.substr(0, ChunkBoundary(utf8, room));
    if (utf8.empty()) return ChunkRange{range.first_pos, range.first_pos, 0};
  }
  range.consumed = utf8.size();
  s.bytes += utf8.size();
  const std::string normalised = NormalizeNfkc(utf8);
  internal::XapianCall("indexing", [&] { s.generator.index_text(normalised); });
  // Prefix terms: boolean (no positions, no weight), one per distinct
  // prefix of the document's words. They count toward the document's
  // distinct terms like any other (memory follows terms).
  Xapian::Document& doc = s.current->doc;
  for (const auto& w : s.prefix_terms ? internal::SplitWords(normalised)
                                       : std::vector<internal::WordSpan>()) {
    if (doc.termlist_count() >= s.max_terms) break;
    std::string word = normalised.substr(w.begin, w.end - w.begin);
    if (!s.words.insert(word).second) continue;
    auto it = s.prefix_cache.find(word);
    if (it == s.prefix_cache.end()) {
      if (s.prefix_cache.size() >= Impl::kMaxPrefixCache) s.prefix_cache.clear();
      std::vector<std::string> terms;
      for (const auto& p : internal::PrefixesOf(FoldWord(word))) terms.push_back(s.keys.PrefixTerm(p));
      it = s.prefix_cache.emplace(std::move(word), std::move(terms)).first;
    }
    for (const auto& t : it->second) doc.add_boolean_term(t);
  }
  range.end_pos = s.generator.get_termpos() + 1;
  if (s.current->doc.termlist_count() >= s.max_terms) s.partial = true;
  return range;
}

bool DocumentBuilder::partial() const { return impl_->partial; }

PreparedDocument DocumentBuilder::Finish() {
  Impl& s = *impl_;
  if (!s.current) throw Error(ErrorCode::kInternal, "document builder: no document");
  s.generator.set_document(Xapian::Document());
  s.words.clear();
  return PreparedDocument(std::move(s.current));
}

std::size_t ChunkBoundary(std::string_view text, std::size_t target) {
  if (text.size() <= target) return text.size();
  // Prefer the last whitespace at or before target.
  for (std::size_t i = target; i > target / 2; --i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') return i + 1;
  }
  // No whitespace nearby: cut at a UTF-8 sequence start.
  std::size_t i = target;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  return i == 0 ? target : i;
}

namespace internal {
std::string IdTerm(std::string_view doc_id) {
  std::string t = "Q";
  t.append(doc_id);
  return t;
}
}  // namespace internal

}  // namespace dossier::indexer
