#include "repo/columns.h"

#include <charconv>

#include "base/clock.h"
#include "indexer/blind_terms.h"

namespace dossier::repo {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void RequireValidName(std::string_view name, const char* what) {
  if (!ValidName(name)) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(what) + " names use 1-64 letters, digits, '.', '_' or '-'");
  }
}

std::string EncodeSet(const AccessSet& set) {
  std::string out;
  for (RoleId id : set) {
    if (!out.empty()) out.push_back(',');
    out += std::to_string(id);
  }
  return out;
}

std::optional<AccessSet> ParseSet(std::string_view text) {
  AccessSet set;
  RoleId last = 0;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    RoleId v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || end != item.data() + item.size() || item.empty() || v <= last) {
      return std::nullopt;
    }
    set.insert(v);
    last = v;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return std::nullopt;  // a trailing comma
  }
  if (set.empty()) return std::nullopt;
  return set;
}

namespace col {
namespace {

[[noreturn]] void Damaged(const char* what) {
  throw Error(ErrorCode::kCorrupt, std::string(what) + " is malformed in the repository database");
}

bool IsBase32(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  }
  return true;
}

bool IsTextish(const sql::Stmt& st, int col) {
  const auto t = st.TypeOf(col);
  return t == sql::Stmt::Type::kText || t == sql::Stmt::Type::kBlob;
}

}  // namespace

bool IsId(std::string_view s, IdKind kind) {
  switch (kind) {
    case IdKind::kCase: return s.size() == 12 && s[0] == 'c' && IsBase32(s.substr(1));
    case IdKind::kDocument: return s.size() == 16 && s[0] == 'd' && IsBase32(s.substr(1));
    case IdKind::kShard: return s.size() == 16 && s[0] == 's' && IsBase32(s.substr(1));
    case IdKind::kStoredFile: return s.size() == 26 && IsBase32(s);
    case IdKind::kRepository: return s.size() == 16 && IsBase32(s);
    case IdKind::kSavedSearch: return s.size() == 16 && s[0] == 'q' && IsBase32(s.substr(1));
    case IdKind::kTask: return s.size() == 16 && s[0] == 't' && IsBase32(s.substr(1));
    case IdKind::kNote: return s.size() == 16 && s[0] == 'n' && IsBase32(s.substr(1));
  }
  return false;
}

std::string Id(const sql::Stmt& st, int col, IdKind kind, const char* what) {
  if (!IsTextish(st, col) || st.SizeOf(col) > 64) Damaged(what);
  std::string v = st.Text(col);
  if (!IsId(v, kind)) Damaged(what);
  return v;
}

std::optional<std::string> OptionalId(const sql::Stmt& st, int col, IdKind kind,
                                      const char* what) {
  if (st.IsNull(col)) return std::nullopt;
  if (IsTextish(st, col) && st.SizeOf(col) == 0) return std::nullopt;
  return Id(st, col, kind, what);
}

crypto::Bytes Exact(const sql::Stmt& st, int col, std::size_t n, const char* what) {
  if (st.TypeOf(col) != sql::Stmt::Type::kBlob || st.SizeOf(col) != n) Damaged(what);
  return st.Blob(col);
}

crypto::Bytes Bounded(const sql::Stmt& st, int col, std::size_t min, std::size_t max,
                      const char* what) {
  if (st.TypeOf(col) != sql::Stmt::Type::kBlob) Damaged(what);
  const std::size_t n = st.SizeOf(col);
  if (n < min || n > max) Damaged(what);
  return st.Blob(col);
}

crypto::PublicKey PublicKey(const sql::Stmt& st, int col, const char* what) {
  const crypto::Bytes b = Exact(st, col, crypto::PublicKey{}.size(), what);
  crypto::PublicKey pk{};
  std::copy(b.begin(), b.end(), pk.begin());
  return pk;
}

crypto::Bytes SealedKey(const sql::Stmt& st, int col, const char* what) {
  return Exact(st, col, crypto::SealedSize(32), what);
}

crypto::Bytes DataKey(const sql::Stmt& st, int col, bool wrapped, const char* what) {
  // Wrapped: nonce (24) | key (32) | tag (16). Sealed: a 32-byte sealed box.
  return Exact(st, col, wrapped ? 24 + 32 + 16 : crypto::SealedSize(32), what);
}

std::int64_t Integer(const sql::Stmt& st, int col, std::int64_t min, std::int64_t max,
                     const char* what) {
  if (st.TypeOf(col) != sql::Stmt::Type::kInteger) Damaged(what);
  const std::int64_t v = st.Int(col);
  if (v < min || v > max) Damaged(what);
  return v;
}

std::string Time(const sql::Stmt& st, int col, const char* what) {
  if (!IsTextish(st, col) || st.SizeOf(col) > 32) Damaged(what);
  std::string v = st.Text(col);
  std::int64_t secs = 0;
  if (!ParseRfc3339(v, &secs)) Damaged(what);
  return v;
}

std::string Name(const sql::Stmt& st, int col, const char* what) {
  if (!IsTextish(st, col) || st.SizeOf(col) > 64) Damaged(what);
  std::string v = st.Text(col);
  if (!ValidName(v)) Damaged(what);
  return v;
}

DocStatus Status(const sql::Stmt& st, int col, const char* what) {
  if (!IsTextish(st, col) || st.SizeOf(col) > 16) Damaged(what);
  const auto s = ParseStatus(st.Text(col));
  // Only statuses a stored document can have.
  if (!s || *s == DocStatus::kExists || *s == DocStatus::kSkipped) Damaged(what);
  return *s;
}

std::string Language(const sql::Stmt& st, int col, const char* what) {
  if (!IsTextish(st, col) || st.SizeOf(col) > 8) Damaged(what);
  std::string v = st.Text(col);
  if (v != "none" && !indexer::IsSupportedLanguage(v)) Damaged(what);
  return v;
}

AccessSet Set(const sql::Stmt& st, int col, const char* what) {
  if (!IsTextish(st, col) || st.SizeOf(col) > 4096) Damaged(what);
  auto set = ParseSet(st.Text(col));
  if (!set) Damaged(what);
  return *set;
}

std::optional<AccessSet> OptionalSet(const sql::Stmt& st, int col, const char* what) {
  if (st.IsNull(col)) return std::nullopt;
  return Set(st, col, what);
}

}  // namespace col
}  // namespace dossier::repo
