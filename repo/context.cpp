#include "repo/context.h"

#include <charconv>

#include "base/error.h"

namespace dossier::repo {

void EventSink::Changed(sql::Db& txn, EventKind kind, std::string actor, std::string target,
                        std::string detail) const {
  Event e{kind, std::move(actor), std::move(target), clock_->Now(), true, std::move(detail)};
  if (trail_) trail_->Append(txn, e);
  if (observer_) observer_(e);
}

void EventSink::Read(EventKind kind, std::string actor, std::string target, std::string detail) const {
  Event e{kind, std::move(actor), std::move(target), clock_->Now(), false, std::move(detail)};
  if (observer_) observer_(e);
  if (trail_) trail_->Queue(std::move(e));
}

RepoContext::RepoContext(std::string d, const OpenOptions& o)
    : dir(std::move(d)),
      options(o),
      writable(!o.read_only),
      clock(o.clock ? o.clock : SystemClock()),
      events(o.on_event, clock),
      plaintext(o.plaintext_budget) {}

void RepoContext::RequireWritable() const {
  if (!writable) throw Error(ErrorCode::kInternal, "the repository was opened read-only");
}

std::string MetaText(sql::Db& db, const std::string& key) {
  sql::Stmt s(db, "SELECT value FROM meta WHERE key=?");
  s.Bind(1, key);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "repository metadata is missing");
  if (s.SizeOf(0) > 4096) throw Error(ErrorCode::kCorrupt, "repository metadata is malformed");
  auto b = s.Blob(0);
  return std::string(b.begin(), b.end());
}

void SetMeta(sql::Db& db, const std::string& key, std::string_view value) {
  sql::Stmt s(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  s.Bind(1, key).BindBlob(2, value).Run();
}

std::int64_t ReadEpoch(sql::Db& db, const char* name) {
  sql::Stmt s(db, "SELECT value FROM meta WHERE key=?");
  s.Bind(1, std::string_view(name));
  if (!s.Step()) return 0;
  if (s.SizeOf(0) > 20) throw Error(ErrorCode::kCorrupt, "a repository counter is malformed");
  const auto b = s.Blob(0);
  std::int64_t v = 0;
  const char* p = reinterpret_cast<const char*>(b.data());
  const auto [end, ec] = std::from_chars(p, p + b.size(), v);
  if (ec != std::errc() || end != p + b.size() || v < 0) {
    throw Error(ErrorCode::kCorrupt, "a repository counter is malformed");
  }
  return v;
}

void BumpEpoch(sql::Db& db, const char* name) {
  SetMeta(db, name, std::to_string(ReadEpoch(db, name) + 1));
}

}  // namespace dossier::repo

