#include "indexer/searcher.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <limits>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "indexer/entities.h"
#include "indexer/query_syntax.h"
#include "indexer/text.h"
#include "indexer/words.h"
#include "indexer/xapian_internal.h"

namespace dossier::indexer {

namespace {

// Collects the word terms of a query tree: phrases and NEAR groups as
// ordered sequences, every other word term alone. Boolean field terms are
// left out: they have no place in the text.
void CollectTerms(const Xapian::Query& q, std::set<std::string>& terms,
                  std::vector<std::vector<std::string>>& phrases) {
  const auto type = q.get_type();
  if (type == Xapian::Query::LEAF_TERM) {
    const std::string t = *q.get_terms_begin();
    if (!t.empty() && t[0] == 'Z') terms.insert(t.substr(1));
    return;
  }
  if (type == Xapian::Query::OP_PHRASE) {
    std::vector<std::string> seq;
    for (std::size_t i = 0; i < q.get_num_subqueries(); ++i) {
      const Xapian::Query sub = q.get_subquery(i);
      if (sub.get_type() != Xapian::Query::LEAF_TERM) { seq.clear(); break; }
      const std::string t = *sub.get_terms_begin();
      if (t.empty() || t[0] != 'Z') { seq.clear(); break; }
      seq.push_back(t.substr(1));
    }
    if (!seq.empty()) {
      phrases.push_back(std::move(seq));
      return;
    }
  }
  for (std::size_t i = 0; i < q.get_num_subqueries(); ++i) {
    CollectTerms(q.get_subquery(i), terms, phrases);
  }
}

struct Word {
  std::size_t begin, end;  // byte offsets in the text
  std::string term;        // blind hash part ("" for a word too long to index)
};

std::vector<Word> SplitWords(std::string_view text,
                             std::size_t max_words = std::numeric_limits<std::size_t>::max()) {
  std::vector<Word> words;
  const auto spans = internal::SplitWords(text, max_words);
  words.reserve(spans.size());
  for (const auto& span : spans) {
    words.push_back({span.begin, span.end, {}});
  }
  return words;
}

// The word's blind term, as the document's stemmer made it when indexing.
std::string HashWord(std::string_view raw, Xapian::Stem& stem) {
  // TermGenerator reads U+2019 inside a word as an apostrophe.
  std::string word;
  for (std::size_t k = 0; k < raw.size();) {
    if (raw.compare(k, 3, "\xE2\x80\x99") == 0) {
      word.push_back('\'');
      k += 3;
    } else {
      word.push_back(raw[k++]);
    }
  }
  std::string lowered = Xapian::Unicode::tolower(word);
  return lowered.size() <= 64 ? stem(lowered) : std::string();
}

}  // namespace

namespace {
// Marks the words [from, to) of `words` that the query matches (its word
// terms, phrases and prefixes), hashing them first when stems are asked
// for (a prefix query alone needs none). Returns whether any was marked.
bool MarkWords(std::string_view text, std::vector<Word>& words, std::vector<bool>& marked,
               std::size_t from, std::size_t to, Xapian::Stem& stem,
               const std::vector<std::string>& terms,
               const std::vector<std::vector<std::string>>& phrases,
               const std::set<std::string>& prefixes,
               std::unordered_map<std::string_view, bool>& prefix_match,
               std::vector<bool>* joined = nullptr) {
  // Words are hashed only when stems are asked for (a prefix query
  // alone needs none).
  if (!terms.empty() || !phrases.empty()) {
    for (std::size_t i = from; i < to; ++i) words[i].term = HashWord(
        text.substr(words[i].begin, words[i].end - words[i].begin), stem);
  }
  bool any = false;
  for (std::size_t i = from; i < to; ++i) {
    if (!words[i].term.empty() && std::binary_search(terms.begin(), terms.end(), words[i].term)) {
      marked[i] = any = true;
    }
    if (!prefixes.empty() && !marked[i]) {
      // Words recur: each distinct one is folded and hashed once.
      const std::string_view raw = text.substr(words[i].begin, words[i].end - words[i].begin);
      auto seen = prefix_match.find(raw);
      if (seen == prefix_match.end()) {
        // ASCII folds to its lower case (NFKC leaves it alone); anything
        // else goes through the full fold.
        std::string folded;
        if (std::all_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
          folded.assign(raw);
          for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
          folded = FoldWord(raw);
        }
        bool hit = false;
        for (const auto& p : prefixes) hit = hit || folded.compare(0, p.size(), p) == 0;
        seen = prefix_match.emplace(raw, hit).first;
      }
      if (seen->second) marked[i] = any = true;
    }
    for (const auto& phrase : phrases) {
      if (i + phrase.size() > to) continue;
      bool match = true;
      for (std::size_t j = 0; j < phrase.size() && match; ++j) {
        match = words[i + j].term == phrase[j];
      }
      if (match) {
        for (std::size_t j = 0; j < phrase.size(); ++j) marked[i + j] = true;
        if (joined) {
          for (std::size_t j = 0; j + 1 < phrase.size(); ++j) (*joined)[i + j] = true;
        }
        any = true;
      }
    }
  }
  return any;
}

}  // namespace

// The words of one page's snippets recur (the query's own words first of
// all): one stemmer per language, whose cache keeps each word's hash, serves
// every hit. Snippet is const and may be called from several threads, so
// a lock guards it.
struct QueryMatcher::Stems {
  std::mutex mu;
  std::map<std::string, Xapian::Stem> by_language;
  Xapian::Stem& For(const BlindKeys& keys, const std::string& language) {  // with mu held
    auto known = by_language.find(language);
    if (known == by_language.end()) {
      known = by_language.emplace(language, internal::MakeBlindStem(keys, language)).first;
    }
    return known->second;
  }
};

QueryMatcher::QueryMatcher(const BlindKeys& keys, std::vector<std::string> terms,
                           std::vector<std::vector<std::string>> phrases,
                           std::set<std::string> prefixes)
    : keys_(keys), stems_(std::make_unique<Stems>()), terms_(std::move(terms)),
      phrases_(std::move(phrases)), prefixes_(std::move(prefixes)) {
  std::sort(terms_.begin(), terms_.end());
}
QueryMatcher::~QueryMatcher() = default;

// The byte offset of the first place in `text` where an ASCII word may
// start with one of the prefixes (case aside), or npos (also when a prefix
// is not ASCII: the fold of other letters is not a byte comparison).
std::size_t QueryMatcher::FirstPrefixCandidate(std::string_view text) const {
  auto ascii = [](unsigned char c) { return c < 0x80; };
  auto word_byte = [](unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; };
  std::size_t best = std::string_view::npos;
  for (const auto& p : prefixes_) {
    if (p.empty() || !std::all_of(p.begin(), p.end(), ascii)) return std::string_view::npos;
    auto same = [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
    };
    const std::string_view head = text.substr(0, best == std::string_view::npos ? text.size() : best);
    for (auto it = head.begin();;) {
      it = std::search(it, head.end(), p.begin(), p.end(), same);
      if (it == head.end()) break;
      const std::size_t at = static_cast<std::size_t>(it - text.begin());
      if (at == 0 || !word_byte(static_cast<unsigned char>(text[at - 1]))) {
        best = at;
        break;
      }
      ++it;
    }
  }
  return best;
}

std::string QueryMatcher::Snippet(std::string_view text, const std::string& language,
                                  std::size_t max_chars,
                                  std::optional<std::size_t> near_word) const {
  std::lock_guard lock(stems_->mu);
  Xapian::Stem& stem = stems_->For(keys_, language);
  // A prefix match has no position in the index, so its snippet would be
  // found by splitting and folding the chunk word by word from its start.
  // For ASCII prefixes a byte scan finds the first word that starts with
  // one first; the text before it (cut at a space) is skipped. A false
  // candidate costs nothing: the word-by-word scan goes on from there.
  bool cut = false;
  if (!near_word && terms_.empty() && phrases_.empty() && !prefixes_.empty()) {
    const std::size_t at = FirstPrefixCandidate(text);
    if (at != std::string_view::npos && at > max_chars) {
      std::size_t o = at - max_chars / 2;
      while (o < at && text[o] != ' ' && text[o] != '\n' && text[o] != '\t') ++o;
      text = text.substr(o);
      cut = true;
    }
  }
  // The index says where the first match is: splitting the text up to a
  // little past it and hashing the words from just before it is enough (a
  // chunk holds thousands of words, and each hash costs a normalisation, a
  // stem and a keyed hash). If that window holds no match (the word count
  // drifted from the index's positions), the text is hashed block by block.
  // A snippet starts max_chars/4 before its first match and runs
  // max_chars: the words after the match that it can show are hashed, to
  // mark them too; the words before it need no hash.
  constexpr std::size_t kBefore = 4, kAfter = 36;
  std::vector<Word> words =
      near_word ? SplitWords(text, *near_word + kAfter) : SplitWords(text);
  std::vector<bool> marked;
  std::unordered_map<std::string_view, bool> prefix_match;
  auto mark = [&](std::size_t from, std::size_t to) {
    return MarkWords(text, words, marked, from, to, stem, terms_, phrases_, prefixes_, prefix_match);
  };
  bool found = false;
  if (near_word && *near_word < words.size()) {
    const std::size_t from = *near_word > kBefore ? *near_word - kBefore : 0;
    const std::size_t to = words.size();
    marked.assign(words.size(), false);
    found = mark(from, to);
    if (found) {
      words = std::vector<Word>(words.begin() + from, words.begin() + to);
      marked = std::vector<bool>(marked.begin() + from, marked.begin() + to);
    }
  }
  if (!found) {
    // No position to start from (a prefix match has none) or none that
    // held a match: hash block by block from the start until a block
    // holds one, then the words a snippet can show after it. A snippet
    // never costs hashing a whole chunk when its match comes early.
    if (near_word) words = SplitWords(text);
    marked.assign(words.size(), false);
    std::size_t longest = 1;
    for (const auto& p : phrases_) longest = std::max(longest, p.size());
    constexpr std::size_t kBlock = 128;
    std::size_t from = 0;
    while (from < words.size()) {
      // Blocks overlap by a phrase's length, so no phrase falls between.
      const std::size_t to = std::min(words.size(), from + kBlock + longest - 1);
      if (mark(from, to)) {
        std::size_t first = from;
        while (first < to && !marked[first]) ++first;
        const std::size_t more = std::min(words.size(), first + kAfter);
        if (more > to) mark(to > longest ? to - longest + 1 : 0, more);
        break;
      }
      from += kBlock;
    }
  }
  // Window: start a little before the first mark, cut at word edges.
  std::size_t first = words.size();
  for (std::size_t i = 0; i < words.size(); ++i) if (marked[i]) { first = i; break; }
  std::size_t start = 0;
  if (first < words.size()) {
    const std::size_t anchor = words[first].begin;
    std::size_t back = std::min(anchor, max_chars / 4);
    start = anchor - back;
    // Move forward to the start of a word (or stay at 0).
    if (start > 0) {
      for (const auto& w : words) if (w.begin >= start) { start = w.begin; break; }
    }
  }
  std::size_t stop = std::min(text.size(), start + max_chars);
  if (stop < text.size()) {
    for (auto it = words.rbegin(); it != words.rend(); ++it) {
      if (it->end <= stop && it->begin >= start) { stop = it->end; break; }
    }
  }
  std::string out;
  if (start > 0 || cut) out += "…";
  std::size_t pos = start;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const Word& w = words[i];
    if (w.begin < start || w.end > stop || !marked[i]) continue;
    out += HtmlEscape(text.substr(pos, w.begin - pos));
    out += "<mark>";
    // Extend the mark over the following marked words of a phrase.
    std::size_t j = i;
    while (j + 1 < words.size() && marked[j + 1] && words[j + 1].end <= stop) ++j;
    out += HtmlEscape(text.substr(w.begin, words[j].end - w.begin));
    out += "</mark>";
    pos = words[j].end;
    i = j;
  }
  out += HtmlEscape(text.substr(pos, stop - pos));
  if (stop < text.size()) out += "…";
  // Collapse runs of whitespace (line breaks read badly in a one-line snippet).
  std::string collapsed;
  collapsed.reserve(out.size());
  bool space = false;
  for (char c : out) {
    const bool ws = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (ws) { if (!space) collapsed.push_back(' '); space = true; }
    else { collapsed.push_back(c); space = false; }
  }
  return collapsed;
}

std::vector<std::pair<std::size_t, std::size_t>> QueryMatcher::Matches(
    std::string_view text, const std::string& language, std::size_t max_matches,
    bool* truncated) const {
  std::lock_guard lock(stems_->mu);
  Xapian::Stem& stem = stems_->For(keys_, language);
  std::vector<std::pair<std::size_t, std::size_t>> out;
  if (truncated) *truncated = false;
  if (empty()) return out;
  std::size_t longest = 1;
  for (const auto& p : phrases_) longest = std::max(longest, p.size());
  // Window by window (about 64 KiB, cut after a space), so a long text
  // never holds all its words at once; a window starts again a phrase's
  // length of words before the last one ended, so no phrase falls between.
  constexpr std::size_t kWindow = 64 * 1024;
  std::unordered_map<std::string_view, bool> prefix_match;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t stop = std::min(text.size(), pos + kWindow);
    while (stop < text.size() && text[stop] != ' ' && text[stop] != '\n' && text[stop] != '\t' &&
           stop < pos + 2 * kWindow) {
      ++stop;
    }
    // Past twice the window without a space: cut at a character's start.
    while (stop < text.size() && (static_cast<unsigned char>(text[stop]) & 0xC0) == 0x80) ++stop;
    const std::string_view window = text.substr(pos, stop - pos);
    std::vector<Word> words = SplitWords(window);
    std::vector<bool> marked(words.size(), false), joined(words.size(), false);
    MarkWords(window, words, marked, 0, words.size(), stem, terms_, phrases_, prefixes_, prefix_match,
              &joined);
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (!marked[i]) continue;
      std::size_t j = i;
      while (j + 1 < words.size() && joined[j]) ++j;  // a phrase's words, as one mark
      const std::size_t b = pos + words[i].begin, e = pos + words[j].end;
      if (!out.empty() && b <= out.back().second) {
        out.back().second = std::max(out.back().second, e);  // seen in the overlap
      } else {
        if (out.size() >= max_matches) {
          if (truncated) *truncated = true;
          return out;
        }
        out.emplace_back(b, e);
      }
      i = j;
    }
    if (stop >= text.size()) break;
    // The next window starts at the first word of the last (longest - 1).
    const std::size_t keep = longest - 1;
    const std::size_t next =
        keep > 0 && words.size() > keep ? pos + words[words.size() - keep].begin : stop;
    pos = std::max(next, pos + 1);
    if (prefix_match.size() > 100000) prefix_match.clear();  // bounded (its keys point into `text`)
  }
  return out;
}

namespace {
// Leaves out the copies of documents that do not count (see
// SearchQuery::counted_copy). A combined database hands the decider each
// document with its docid within its own shard, so the candidates are
// those shard docids of the listed documents' copies; a candidate is then
// looked at (its id, and the shard its copy is marked with).
class ExcludeCopies : public Xapian::MatchDecider {
 public:
  ExcludeCopies(std::set<Xapian::docid> candidates, const std::map<std::string, std::string>& counted)
      : candidates_(std::move(candidates)), counted_(counted) {}
  bool operator()(const Xapian::Document& doc) const override {
    if (candidates_.count(doc.get_docid()) == 0) return true;
    auto it = counted_.find(doc.get_data());
    if (it == counted_.end()) return true;  // another document with the same shard docid
    return !it->second.empty() && doc.get_value(kShardSlot) == it->second;
  }
  bool empty() const { return candidates_.empty(); }

 private:
  std::set<Xapian::docid> candidates_;
  const std::map<std::string, std::string>& counted_;
};

ExcludeCopies CopiesToExclude(const Xapian::Database& db, const SearchQuery& q) {
  std::set<Xapian::docid> candidates;
  const Xapian::docid n = static_cast<Xapian::docid>(q.shard_ids.size());
  for (const auto& [doc, counted] : q.counted_copy) {
    const std::string term = internal::IdTerm(doc);
    for (auto p = db.postlist_begin(term); p != db.postlist_end(term); ++p) {
      // Combined docid d is docid (d - 1) / n + 1 of part (d - 1) % n.
      candidates.insert((*p - 1) / n + 1);
    }
  }
  return ExcludeCopies(std::move(candidates), q.counted_copy);
}
}  // namespace

namespace {

// `word*`, rewritten by CheckQuery to kPrefixField:word: the prefix term
// of the folded word's first kMaxPrefix characters.
// The folded prefixes it saw are kept for highlighting (the query's own
// words, for this request only).
class PrefixProcessor : public Xapian::FieldProcessor {
 public:
  PrefixProcessor(const BlindKeys& keys, std::set<std::string>& seen) : keys_(keys), seen_(seen) {}
  Xapian::Query operator()(const std::string& value) override {
    const std::vector<std::string> prefixes = internal::PrefixesOf(FoldWord(value));
    if (prefixes.empty()) throw Xapian::QueryParserError("a prefix needs at least 3 letters");
    seen_.insert(prefixes.back());
    return Xapian::Query(keys_.PrefixTerm(prefixes.back()));
  }

 private:
  const BlindKeys& keys_;
  std::set<std::string>& seen_;
};

// entity:TYPE:VALUE, the value normalised as the extractors normalise
// what they find (entity:iban:"DE89 3704 …" finds DE89370400440532013000).
// One value a user typed, in the server: extraction from documents runs in
// the workers.
class EntityProcessor : public Xapian::FieldProcessor {
 public:
  explicit EntityProcessor(const BlindKeys& keys) : keys_(keys) {}
  // The query is parsed once per language: each value is normalised once.
  Xapian::Query operator()(const std::string& value) override {
    auto seen = terms_.find(value);
    if (seen == terms_.end()) seen = terms_.emplace(value, TermOf(value)).first;
    return Xapian::Query(seen->second);
  }

 private:
  std::string TermOf(const std::string& value) const {
    const auto colon = value.find(':');
    const auto type = colon == std::string::npos ? std::nullopt : EntityTypeFromName(value.substr(0, colon));
    if (!type) {
      throw Xapian::QueryParserError(
          "entity: takes TYPE:VALUE, TYPE one of email, phone, iban, card, ip, url, domain, btc, eth, "
          "money, date, name");
    }
    const auto normal = NormalizeEntity(*type, value.substr(colon + 1));
    if (!normal) {
      throw Xapian::QueryParserError("'" + value.substr(colon + 1) + "' is not a valid " +
                                     std::string(EntityTypeName(*type)));
    }
    return keys_.FieldTerm(Field::kEntity, EntityTerm(*type, *normal));
  }
  const BlindKeys& keys_;
  std::map<std::string, std::string> terms_;
};

// date:A..B over the day slot.
class DateProcessor : public Xapian::FieldProcessor {
 public:
  Xapian::Query operator()(const std::string& value) override {
    const auto r = ParseDateRange(value);
    if (!r) throw Xapian::QueryParserError("a date: value is malformed");
    auto v = [](std::int64_t d) { return Xapian::sortable_serialise(static_cast<double>(d)); };
    if (r->from && r->to) return Xapian::Query(Xapian::Query::OP_VALUE_RANGE, kDaySlot, v(*r->from), v(*r->to));
    if (r->from) return Xapian::Query(Xapian::Query::OP_VALUE_GE, kDaySlot, v(*r->from));
    return Xapian::Query(Xapian::Query::OP_VALUE_LE, kDaySlot, v(*r->to));
  }
};

// Counts facet values over every match (the decider has already left out
// the copies that do not count). A match costs three value reads and
// three hash-table counts: the slots' raw values are counted as they are
// (the same few combinations of type, language, custodian and case recur
// over thousands of matches), and split into values once, at the end.
class FacetSpy : public Xapian::MatchSpy {
 public:
  explicit FacetSpy(FacetCounts& out) : out_(out) {}
  void operator()(const Xapian::Document& doc, double) override {
    ++fields_[doc.get_value(kFacetSlot)];
    std::string tags = doc.get_value(kTagSlot);
    if (!tags.empty()) ++tags_[std::move(tags)];
    std::string day = doc.get_value(kDaySlot);
    if (!day.empty()) ++days_[std::move(day)];
  }
  // Adds what was counted to the caller's counts (after the match).
  void Finish() {
    std::map<std::string, std::uint64_t>* maps[] = {&out_.type, &out_.language, &out_.custodian,
                                                   &out_.case_id};
    const std::string none(kTermHashBytes, '\0');
    for (const auto& [facets, n] : fields_) {
      if (facets.size() != 4 * kTermHashBytes) continue;
      for (std::size_t i = 0; i < 4; ++i) {
        std::string h = facets.substr(i * kTermHashBytes, kTermHashBytes);
        if (h != none) (*maps[i])[std::move(h)] += n;
      }
    }
    for (const auto& [tags, n] : tags_) {
      for (std::size_t i = 0; i + kTermHashBytes <= tags.size(); i += kTermHashBytes) {
        out_.tag[tags.substr(i, kTermHashBytes)] += n;
      }
    }
    for (const auto& [day, n] : days_) {
      out_.year[YearOfDay(static_cast<std::int64_t>(Xapian::sortable_unserialise(day)))] += n;
    }
    fields_.clear();
    tags_.clear();
    days_.clear();
  }

 private:
  FacetCounts& out_;
  std::unordered_map<std::string, std::uint64_t> fields_, tags_, days_;
};

// The parsed query of `text` for the shards of `q`: parsed once per
// language and OR'd, filtered to the case and to `only_ids`.
struct Parsed {
  Xapian::Query query;
  std::vector<std::string> notes;
  std::set<std::string> prefixes;  // folded, of `word*`
  std::vector<std::unique_ptr<Xapian::FieldProcessor>> processors;
};

Parsed ParseFor(const BlindKeys& keys, const SearchQuery& q, const std::string& raw_text) {
  Parsed out;
  std::vector<std::string> languages = q.languages;
  if (languages.empty()) languages.push_back("en");
  std::sort(languages.begin(), languages.end());
  languages.erase(std::unique(languages.begin(), languages.end()), languages.end());

  const CheckedQuery checked = CheckQuery(RepairUtf8(raw_text));
  out.notes = checked.notes;
  std::vector<Xapian::Query> parses;
  std::set<std::string> seen;
  if (!checked.match_all) {
    const std::string text = NormalizeNfkc(checked.text);
    // One parser for every language: only the stemmer differs (the field
    // processors hash values alike in every language).
    Xapian::QueryParser parser;
    parser.set_stemming_strategy(Xapian::QueryParser::STEM_ALL_Z);
    parser.set_default_op(Xapian::Query::OP_AND);
    for (Field f : {Field::kCase, Field::kCustodian, Field::kFilename, Field::kLanguage,
                    Field::kType, Field::kTag, Field::kFrom, Field::kTo, Field::kCc}) {
      out.processors.push_back(internal::MakeHashedFieldProcessor(keys, f));
      parser.add_boolean_prefix(std::string(FieldName(f)), out.processors.back().get());
    }
    out.processors.push_back(std::make_unique<EntityProcessor>(keys));
    parser.add_boolean_prefix(std::string(FieldName(Field::kEntity)), out.processors.back().get());
    out.processors.push_back(std::make_unique<DateProcessor>());
    parser.add_boolean_prefix("date", out.processors.back().get());
    out.processors.push_back(std::make_unique<PrefixProcessor>(keys, out.prefixes));
    parser.add_prefix(std::string(kPrefixField), out.processors.back().get());
    parser.add_prefix("subject", "S");
    const unsigned flags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_BOOLEAN |
                           Xapian::QueryParser::FLAG_BOOLEAN_ANY_CASE |
                           Xapian::QueryParser::FLAG_LOVEHATE | Xapian::QueryParser::FLAG_PURE_NOT;
    for (const auto& lang : languages) {
      parser.set_stemmer(internal::MakeBlindStem(keys, lang));
      Xapian::Query parsed;
      try {
        parsed = parser.parse_query(text, flags);
      } catch (const Xapian::QueryParserError& e) {
        // CheckQuery catches what it knows; anything else the parser
        // refuses is refused here, with the parser's reason.
        throw QueryError(1, "the query cannot be read (" + e.get_msg() + ")");
      }
      if (parsed.empty()) continue;
      if (seen.insert(parsed.get_description()).second) parses.push_back(parsed);
    }
  }
  Xapian::Query query = checked.match_all ? Xapian::Query::MatchAll
                                          : Xapian::Query(Xapian::Query::OP_OR,
                                                          parses.begin(), parses.end());
  if (!checked.match_all && parses.empty()) query = Xapian::Query();  // matches nothing
  if (!q.case_id.empty() && !query.empty()) {
    query = Xapian::Query(Xapian::Query::OP_FILTER, query,
                          Xapian::Query(keys.FieldTerm(Field::kCase, q.case_id)));
  }
  if (q.only_ids && !query.empty()) {
    std::vector<Xapian::Query> ids;
    for (const auto& id : *q.only_ids) ids.emplace_back(internal::IdTerm(id));
    query = Xapian::Query(Xapian::Query::OP_FILTER, query,
                          Xapian::Query(Xapian::Query::OP_OR, ids.begin(), ids.end()));
  }
  out.query = query;
  return out;
}

// Runs `fn(db)` on the leased shards, again on their latest commit if a
// writer committed twice under it.
template <typename Fn>
void WithRetry(ShardLease& lease, Fn&& fn) {
  internal::XapianCall("searching", [&] {
    for (int attempt = 0;; ++attempt) {
      try {
        fn(lease.impl().combined);
        return;
      } catch (const Xapian::DatabaseModifiedError&) {
        if (attempt >= 3) throw;
        lease.impl().reopen(lease.impl());
      }
    }
  });
}

}  // namespace

SearchOutcome Searcher::Search(const SearchQuery& q, ShardStore& shards) const {
  SearchOutcome out;
  Parsed parsed = ParseFor(keys_, q, q.text);
  out.notes = parsed.notes;
  const Xapian::Query& query = parsed.query;

  std::set<std::string> terms;
  std::vector<std::vector<std::string>> phrases;
  CollectTerms(query, terms, phrases);
  out.matcher = std::make_shared<QueryMatcher>(
      keys_, std::vector<std::string>(terms.begin(), terms.end()), phrases, parsed.prefixes);
  // Every term of a phrase also counts for choosing the snippet's chunk.
  for (const auto& p : phrases) terms.insert(p.begin(), p.end());

  if (q.shard_ids.empty() || query.empty()) return out;

  ShardLease lease = shards.Lease(q.shard_ids);
  WithRetry(lease, [&](Xapian::Database& db) {
    out.hits.clear();
    out.facets = FacetCounts{};
    Xapian::Enquire enquire(db);
    enquire.set_query(query);
    if (q.sort == SortOrder::kDateDescending) {
      enquire.set_sort_by_value_then_relevance(kDaySlot, true);
    } else {
      enquire.set_sort_by_relevance_then_value(kIdSlot, false);
    }
    FacetSpy spy(out.facets);
    if (q.facets) enquire.add_matchspy(&spy);
    const ExcludeCopies exclude = CopiesToExclude(db, q);
    // Ask Xapian to count every match: totals are exact, as review users
    // expect of a hit count (and facets count every match).
    const Xapian::doccount check = db.get_doccount();
    Xapian::MSet mset = enquire.get_mset(q.offset, q.limit, check, nullptr,
                                         exclude.empty() ? nullptr : &exclude);
    spy.Finish();
    out.total = mset.get_matches_estimated();
    for (auto it = mset.begin(); it != mset.end(); ++it) {
      SearchHit hit;
      Xapian::Document doc = it.get_document();
      hit.doc_id = doc.get_data();
      hit.weight = it.get_weight();
      for (const auto& t : terms) {
        const std::string term = "Z" + t;
        auto p = db.positionlist_begin(*it, term);
        if (p != db.positionlist_end(*it, term)) {
          if (!hit.first_match_pos || *p < *hit.first_match_pos) hit.first_match_pos = *p;
        }
      }
      out.hits.push_back(std::move(hit));
    }
  });
  return out;
}

std::shared_ptr<const QueryMatcher> Searcher::MatcherFor(const std::string& text,
                                                        const std::string& language,
                                                        std::vector<std::string>* notes) const {
  SearchQuery q;
  q.languages = {language};
  Parsed parsed = ParseFor(keys_, q, text);
  if (notes) *notes = parsed.notes;
  std::set<std::string> terms;
  std::vector<std::vector<std::string>> phrases;
  CollectTerms(parsed.query, terms, phrases);
  return std::make_shared<QueryMatcher>(
      keys_, std::vector<std::string>(terms.begin(), terms.end()), phrases, parsed.prefixes);
}

MatchSets Searcher::Match(const SearchQuery& base, const std::vector<std::string>& texts,
                          ShardStore& shards) const {
  MatchSets out;
  std::deque<Parsed> parsed;  // Parsed moves only: a deque never copies
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      parsed.push_back(ParseFor(keys_, base, texts[i]));
    } catch (const QueryError& e) {
      throw QueryError(e.position(), "term " + std::to_string(i + 1) + ": " +
                                         std::string(e.what()).substr(std::string(e.what()).find(": ") + 2));
    }
    out.notes.push_back(parsed.back().notes);
  }
  out.matches.assign(texts.size(), {});
  if (base.shard_ids.empty()) return out;
  ShardLease lease = shards.Lease(base.shard_ids);
  WithRetry(lease, [&](Xapian::Database& db) {
    out.doc_ids.clear();
    for (auto& m : out.matches) m.clear();
    // Each shard is matched on its own, so that a match spy sees docids
    // it can place (a combined database hands spies each shard's own
    // docids). (shard, docid) -> index into doc_ids, kNone until seen;
    // each document's id is read once, from its id slot.
    constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
    const std::vector<Xapian::Database>& parts = lease.impl().parts;
    std::vector<std::vector<std::uint32_t>> index;
    for (const auto& part : parts) index.emplace_back(static_cast<std::size_t>(part.get_lastdocid()) + 1, kNone);
    // Candidates are shard docids, as the decider is handed them here too.
    const ExcludeCopies exclude = CopiesToExclude(db, base);
    // Every match reaches the spy; no match set is built (a list of every
    // match, weighted and sorted, for nothing).
    class Collect : public Xapian::MatchSpy {
     public:
      explicit Collect(std::vector<Xapian::docid>& out) : out_(out) {}
      void operator()(const Xapian::Document& doc, double) override { out_.push_back(doc.get_docid()); }

     private:
      std::vector<Xapian::docid>& out_;
    };
    std::vector<Xapian::docid> found;
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      if (parsed[i].query.empty()) continue;
      auto& m = out.matches[i];
      for (std::size_t k = 0; k < parts.size(); ++k) {
        found.clear();
        Collect collect(found);
        Xapian::Enquire enquire(parts[k]);
        enquire.set_query(parsed[i].query);
        enquire.set_weighting_scheme(Xapian::BoolWeight());
        enquire.set_docid_order(Xapian::Enquire::ASCENDING);
        enquire.add_matchspy(&collect);
        (void)enquire.get_mset(0, 0, parts[k].get_doccount(), nullptr,
                               exclude.empty() ? nullptr : &exclude);
        for (const Xapian::docid id : found) {
          std::uint32_t& at = index[k].at(id);
          if (at == kNone) {
            at = static_cast<std::uint32_t>(out.doc_ids.size());
            out.doc_ids.push_back(
                parts[k].get_document(id, Xapian::DOC_ASSUME_VALID).get_value(kIdSlot));
          }
          m.push_back(at);
        }
      }
      std::sort(m.begin(), m.end());
      m.erase(std::unique(m.begin(), m.end()), m.end());
    }
  });
  return out;
}

}  // namespace dossier::indexer
