#include "indexer/query_syntax.h"

#include <cctype>
#include <set>

#include "base/error.h"
#include "indexer/blind_terms.h"
#include "indexer/text.h"
#include "indexer/words.h"

namespace dossier::indexer {

namespace {

// The boolean and free-text fields the parser knows (searcher.cpp adds
// the same ones), and `date`.
const std::set<std::string, std::less<>>& KnownFields() {
  static const std::set<std::string, std::less<>> fields = {
      "case", "custodian", "filename", "lang", "type", "tag", "entity",
      "from", "to",        "cc",       "subject", "date"};
  return fields;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// AND OR XOR NOT NEAR ADJ, and NEAR/n ADJ/n, in any case (the parser runs
// with FLAG_BOOLEAN_ANY_CASE).
std::string OperatorOf(std::string_view token) {
  const std::string u = Upper(token);
  if (u == "AND" || u == "OR" || u == "XOR" || u == "NOT" || u == "NEAR" || u == "ADJ") return u;
  for (const char* op : {"NEAR/", "ADJ/"}) {
    const std::string_view p(op);
    if (u.size() > p.size() && u.compare(0, p.size(), p) == 0 &&
        u.find_first_not_of("0123456789", p.size()) == std::string::npos) {
      return std::string(p.substr(0, p.size() - 1));
    }
  }
  return {};
}

std::size_t Chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

enum class Kind { kWord, kPhrase, kGroup, kField, kPrefix };

// One level of grouping: the query, or the inside of a parenthesis.
struct Level {
  std::size_t open_pos = 0;  // of its '(' (1-based), 0 for the query
  bool expect_operand = true;
  std::string pending_op;     // the binary operator waiting for its right side
  std::size_t pending_pos = 0;
  std::optional<Kind> last;   // kind of the last operand
  bool explicit_ops = false;  // an operator other than the implicit AND
  std::size_t positive = 0;   // operands not negated
  std::vector<std::size_t> hate_marks;  // output offsets of the '-' of negated ones
};

struct Scanner {
  std::string_view in;
  CheckedQuery out;
  std::vector<Level> levels{Level{}};
  std::size_t i = 0;

  std::size_t PosOf(std::size_t byte) const { return Chars(in.substr(0, byte)) + 1; }

  [[noreturn]] void Fail(std::size_t byte, const std::string& what) const {
    throw QueryError(PosOf(byte), what);
  }

  // An operand of `kind` at byte `at`; `hated`: it had a '-' (whose output
  // offset is `mark`).
  void Operand(Kind kind, std::size_t at, bool hated, bool loved, std::size_t mark) {
    Level& l = levels.back();
    if (!l.pending_op.empty()) {
      if ((l.pending_op == "NEAR" || l.pending_op == "ADJ") && kind != Kind::kWord) {
        Fail(at, l.pending_op + " joins single words, not phrases, groups, fields or prefixes");
      }
      l.pending_op.clear();
    }
    if (hated && !loved) l.hate_marks.push_back(mark);
    else ++l.positive;
    l.expect_operand = false;
    l.last = kind;
  }

  void Operator(const std::string& op, std::size_t at) {
    Level& l = levels.back();
    if (op == "NOT") {
      // `NOT x` alone is "everything but x"; `a NOT b`, `a OR NOT b` too.
      if (!l.pending_op.empty() && l.pending_op != "AND" && l.pending_op != "OR" &&
          l.pending_op != "XOR") {
        Fail(at, "NOT cannot follow " + l.pending_op);
      }
      if (l.pending_op.empty()) {
        l.pending_op = "NOT";
        l.pending_pos = at;
      }
      l.explicit_ops = true;
      l.expect_operand = true;
      return;
    }
    if (l.expect_operand) Fail(at, op + " needs something before it");
    if ((op == "NEAR" || op == "ADJ") && l.last != Kind::kWord) {
      Fail(at, op + " joins single words, not phrases, groups, fields or prefixes");
    }
    l.pending_op = op;
    l.pending_pos = at;
    l.explicit_ops = true;
    l.expect_operand = true;
  }

  // Closes a level: a trailing operator is an error; a level whose every
  // operand is negated becomes "everything except".
  void CloseLevel(Level& l) {
    if (!l.pending_op.empty()) Fail(l.pending_pos, l.pending_op + " needs something after it");
    if (!l.explicit_ops && l.positive == 0 && !l.hate_marks.empty()) {
      // Replace each '-' by "NOT " (from the back, so offsets hold): with
      // FLAG_PURE_NOT that reads as all documents AND_NOT each of them.
      for (auto it = l.hate_marks.rbegin(); it != l.hate_marks.rend(); ++it) {
        out.text.replace(*it, 1, "NOT ");
      }
    }
  }

  void Phrase(bool hated, bool loved, std::size_t mark) {
    const std::size_t start = i;
    const std::size_t close = in.find('"', i + 1);
    std::string_view body;
    if (close == std::string_view::npos) {
      out.notes.push_back("the quote at position " + std::to_string(PosOf(start)) +
                          " is not closed: the phrase runs to the end of the query");
      body = in.substr(i + 1);
      i = in.size();
    } else {
      body = in.substr(i + 1, close - i - 1);
      i = close + 1;
    }
    const std::size_t star = body.find('*');
    if (star != std::string_view::npos) {
      Fail(start + 1 + star, "a prefix (word*) cannot be part of a phrase");
    }
    out.text.push_back('"');
    out.text.append(body);
    out.text.push_back('"');
    Operand(Kind::kPhrase, start, hated, loved, mark);
  }

  void Token(bool hated, bool loved, std::size_t mark) {
    const std::size_t start = i;
    // A field's quoted value belongs to the token: `tag:"a b"`.
    while (i < in.size() && !IsSpace(in[i]) && in[i] != '(' && in[i] != ')' && in[i] != '"') ++i;
    std::string_view token = in.substr(start, i - start);
    const std::size_t colon = token.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      const std::string name(token.substr(0, colon));
      bool known = KnownFields().count(name) > 0;
      if (known) {
        std::string_view value = token.substr(colon + 1);
        std::string quoted;
        if (value.empty() && i < in.size() && in[i] == '"') {
          const std::size_t close = in.find('"', i + 1);
          if (close == std::string_view::npos) {
            Fail(i, "the quoted value of " + name + ": is not closed");
          }
          quoted = std::string(in.substr(i, close - i + 1));
          value = in.substr(i + 1, close - i - 1);
          i = close + 1;
        }
        if (value.empty()) Fail(start, name + ": needs a value");
        if (value.back() == '*') {
          Fail(start, "a prefix (word*) works on words of the text, not on " + name + ": values");
        }
        if (name == "date" && !ParseDateRange(value)) {
          Fail(start + colon + 1,
               "date: takes YYYY, YYYY-MM or YYYY-MM-DD, or a range A..B, ..B or A.. of those");
        }
        out.text.append(token);
        out.text.append(quoted);
        Operand(name == "subject" ? Kind::kWord : Kind::kField, start, hated, loved, mark);
        return;
      }
      if (internal::IsOneWord(token.substr(0, colon))) {
        out.notes.push_back("the word before ':' at position " + std::to_string(PosOf(start)) +
                            " is not a field name: both sides are searched as words");
      }
    }
    if (!hated && !loved) {
      const std::string op = OperatorOf(token);
      if (!op.empty()) {
        out.text.append(token);
        Operator(op, start);
        return;
      }
    }
    const std::size_t star = token.find('*');
    if (star != std::string_view::npos) {
      std::string_view core = token.substr(0, star);
      if (star + 1 != token.size() && token.find_first_not_of('*', star) != std::string_view::npos) {
        Fail(start + star, "* may only end a word (word*)");
      }
      if (!internal::IsOneWord(core)) Fail(start, "a prefix (word*) must be one word of letters or digits");
      const std::string folded = FoldWord(core);
      const std::size_t n = Chars(folded);
      if (n < kMinPrefix) {
        Fail(start, "a prefix (word*) needs at least " + std::to_string(kMinPrefix) + " letters");
      }
      if (n > kMaxPrefix) {
        out.notes.push_back("the prefix at position " + std::to_string(PosOf(start)) +
                            " is matched by its first " + std::to_string(kMaxPrefix) +
                            " letters (longer prefixes are not indexed)");
      }
      out.text.append(kPrefixField);
      out.text.push_back(':');
      out.text.append(core);
      out.has_prefix = true;
      Operand(Kind::kPrefix, start, hated, loved, mark);
      return;
    }
    out.text.append(token);
    Operand(Kind::kWord, start, hated, loved, mark);
  }

  void Run() {
    while (i < in.size()) {
      const char c = in[i];
      if (IsSpace(c)) {
        out.text.push_back(c);
        ++i;
        continue;
      }
      if (c == '(') {
        Level l;
        l.open_pos = PosOf(i);
        levels.push_back(l);
        out.text.push_back('(');
        ++i;
        continue;
      }
      if (c == ')') {
        if (levels.size() == 1) {
          out.notes.push_back("the ) at position " + std::to_string(PosOf(i)) +
                              " closes nothing and is ignored");
          out.text.push_back(' ');
          ++i;
          continue;
        }
        Level l = levels.back();
        if (l.positive == 0 && l.hate_marks.empty()) Fail(i, "an empty group ()");
        CloseLevel(l);
        levels.pop_back();
        out.text.push_back(')');
        Operand(Kind::kGroup, i, false, false, 0);
        ++i;
        continue;
      }
      // '+' or '-' at the start of a token marks it (Xapian's love/hate).
      bool hated = false, loved = false;
      std::size_t mark = 0;
      if ((c == '-' || c == '+') && i + 1 < in.size() && !IsSpace(in[i + 1]) && in[i + 1] != ')') {
        (c == '-' ? hated : loved) = true;
        mark = out.text.size();
        out.text.push_back(c);
        ++i;
        if (in[i] == '-' || in[i] == '+') Fail(i, "a second + or - before one word");
      }
      if (in[i] == '(') {
        // A sign before a group: Xapian reads it; count it as a plain operand.
        continue;
      }
      if (in[i] == '"') Phrase(hated, loved, mark);
      else Token(hated, loved, mark);
    }
    while (levels.size() > 1) {
      Level l = levels.back();
      out.notes.push_back("the ( at position " + std::to_string(l.open_pos) +
                          " is not closed: the group runs to the end of the query");
      if (l.positive == 0 && l.hate_marks.empty()) Fail(in.size(), "an empty group ()");
      CloseLevel(l);
      levels.pop_back();
      out.text.push_back(')');
      Operand(Kind::kGroup, in.size(), false, false, 0);
    }
    CloseLevel(levels.back());
  }
};

bool Digits(std::string_view s, std::size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789") == std::string_view::npos;
}

unsigned DaysInMonth(int year, unsigned month) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// One end of a range: YYYY, YYYY-MM or YYYY-MM-DD, as its first and last day.
std::optional<std::pair<std::int64_t, std::int64_t>> ParseDate(std::string_view v) {
  if (v.size() < 4 || !Digits(v.substr(0, 4), 4)) return std::nullopt;
  const int year = std::stoi(std::string(v.substr(0, 4)));
  if (year < 1) return std::nullopt;
  if (v.size() == 4) return std::pair{DaysFromCivil(year, 1, 1), DaysFromCivil(year, 12, 31)};
  if (v[4] != '-' || v.size() < 7 || !Digits(v.substr(5, 2), 2)) return std::nullopt;
  const unsigned month = static_cast<unsigned>(std::stoi(std::string(v.substr(5, 2))));
  if (month < 1 || month > 12) return std::nullopt;
  if (v.size() == 7) {
    return std::pair{DaysFromCivil(year, month, 1),
                     DaysFromCivil(year, month, DaysInMonth(year, month))};
  }
  if (v.size() != 10 || v[7] != '-' || !Digits(v.substr(8, 2), 2)) return std::nullopt;
  const unsigned day = static_cast<unsigned>(std::stoi(std::string(v.substr(8, 2))));
  if (day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  const std::int64_t d = DaysFromCivil(year, month, day);
  return std::pair{d, d};
}

}  // namespace

CheckedQuery CheckQuery(std::string_view utf8) {
  Scanner s;
  s.in = utf8;
  if (utf8.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos) {
    s.out.match_all = true;
    return s.out;
  }
  s.Run();
  return s.out;
}

std::optional<DayRange> ParseDateRange(std::string_view value) {
  const std::size_t dots = value.find("..");
  DayRange r;
  if (dots == std::string_view::npos) {
    auto d = ParseDate(value);
    if (!d) return std::nullopt;
    r.from = d->first;
    r.to = d->second;
    return r;
  }
  const std::string_view a = value.substr(0, dots), b = value.substr(dots + 2);
  if (a.empty() && b.empty()) return std::nullopt;
  if (!a.empty()) {
    auto d = ParseDate(a);
    if (!d) return std::nullopt;
    r.from = d->first;
  }
  if (!b.empty()) {
    auto d = ParseDate(b);
    if (!d) return std::nullopt;
    r.to = d->second;
  }
  if (r.from && r.to && *r.from > *r.to) return std::nullopt;
  return r;
}

// Howard Hinnant's days_from_civil (public domain algorithm): the
// standard library of GCC 12 has no std::chrono calendar arithmetic that
// handles years before 1970 without time zones.
std::int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int YearOfDay(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned m = mp + (mp < 10 ? 3 : -9);
  return static_cast<int>(y + (m <= 2));
}

}  // namespace dossier::indexer
