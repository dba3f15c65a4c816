#include "repo/audit.h"

#include <algorithm>
#include <cctype>

#include "base/error.h"
#include "repo/audit_trail.h"
#include "repo/cases.h"
#include "repo/db.h"

namespace dossier::repo {
namespace {

std::string Hex(const crypto::Hash32& h) { return crypto::ToHex(h.data(), h.size()); }

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

crypto::Hash32 HashFrom(const sql::Stmt& st, int col, const char* what) {
  if (st.TypeOf(col) != sql::Stmt::Type::kBlob || st.SizeOf(col) != 32) {
    throw Error(ErrorCode::kCorrupt, std::string(what) + " is malformed");
  }
  const crypto::Bytes b = st.Blob(col);
  crypto::Hash32 h;
  std::copy(b.begin(), b.end(), h.begin());
  return h;
}

AuditHead HeadView(const RepoContext& ctx, const StoredHead& h) {
  AuditHead out;
  out.repo_id = ctx.repo_id;
  out.size = h.size;
  out.root = Hex(h.root);
  out.at = h.at;
  out.signature = crypto::ToHex(h.signature);
  out.public_key = crypto::ToHex(ctx.audit->public_key().data(), ctx.audit->public_key().size());
  return out;
}

// One row as its leaf; the stored hash beside it.
struct Row {
  AuditLeaf leaf;
  crypto::Hash32 hash{};
};
constexpr const char* kRowColumns = "seq, at, actor, action, target, detail_hash, sealed, prev, hash";
Row RowOf(const sql::Stmt& st) {
  Row r;
  r.leaf.seq = static_cast<std::uint64_t>(st.Int(0));
  r.leaf.at = st.Int(1);
  r.leaf.actor = st.Text(2);
  r.leaf.action = st.Text(3);
  r.leaf.target = st.Text(4);
  const crypto::Bytes dh = st.Blob(5), sealed = st.Blob(6);
  r.leaf.detail_hash.assign(dh.begin(), dh.end());
  r.leaf.sealed.assign(sealed.begin(), sealed.end());
  r.leaf.prev = HashFrom(st, 7, "an audit event's link");
  r.hash = HashFrom(st, 8, "an audit event's hash");
  return r;
}

std::string HexOf(const std::string& bytes) {
  return crypto::ToHex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

AuditEventInfo InfoOf(const Row& r) {
  AuditEventInfo e{r.leaf.seq, r.leaf.at, r.leaf.actor, r.leaf.action, r.leaf.target, Hex(r.hash), {}, {}, {}};
  e.detail_hash = HexOf(r.leaf.detail_hash);
  e.sealed = HexOf(r.leaf.sealed);
  return e;
}

// The detail of an event, for the auditor role's members and the recovery
// key; nothing for anyone else (an admin sees that there is one).
// A detail sealed for a key the role no longer has (its keys were
// rotated) or a damaged one stays sealed: the list goes on.
std::optional<std::string> DetailFor(const Actor& actor, std::optional<std::int64_t> auditor_role, const Row& r) {
  if (r.leaf.sealed.empty()) return std::nullopt;
  try {
    if (actor.recovery() && actor.session().recovery_key) {
      return OpenAuditDetail(r.leaf.sealed, 0, *actor.session().recovery_key);
    }
    if (auditor_role) {
      if (const crypto::KeyPair* key = actor.MemberKey(*auditor_role)) {
        return OpenAuditDetail(r.leaf.sealed, *auditor_role, *key);
      }
    }
  } catch (const Error&) {
  }
  return std::nullopt;
}

// Appends queued reads before a listing; a trail that cannot take them
// (damaged) is still listed as it is.
void FlushForReading(RepoContext& ctx) {
  try {
    ctx.audit->Flush();
  } catch (const Error&) {
  }
}

// The root of events [begin, end) (0-based), from their stored hashes.
crypto::Hash32 RangeRootOf(sql::Db& db, std::uint64_t begin, std::uint64_t end) {
  crypto::MerkleFrontier f;
  sql::Stmt st(db, "SELECT hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq");
  st.Bind(1, static_cast<std::int64_t>(begin)).Bind(2, static_cast<std::int64_t>(end));
  while (st.Step()) f.Append(HashFrom(st, 0, "an audit event's hash"));
  if (f.size() != end - begin) throw Error(ErrorCode::kCorrupt, "the audit trail has gaps: run dossier audit verify");
  return f.Root();
}

std::vector<std::string> HexAll(const std::vector<crypto::Hash32>& v) {
  std::vector<std::string> out;
  for (const auto& h : v) out.push_back(Hex(h));
  return out;
}

bool HeadSignatureHolds(const RepoContext& ctx, const StoredHead& h) {
  return crypto::VerifyDetached(ctx.audit->public_key(), EncodeAuditHead(ctx.repo_id, h.size, h.at, h.root),
                                h.signature);
}

// Checks a head kept elsewhere before anything is compared with it.
std::string ForeignHeadProblem(const RepoContext& ctx, const AuditHead& h) {
  const std::string own_key = crypto::ToHex(ctx.audit->public_key().data(), ctx.audit->public_key().size());
  if (h.repo_id != ctx.repo_id) return "the head kept elsewhere is another repository's";
  if (Lower(h.public_key) != own_key) return "the head kept elsewhere was signed with another key";
  StoredHead s;
  s.size = h.size;
  s.at = h.at;
  crypto::Bytes root, sig;
  try {
    root = crypto::FromHex(h.root);
    sig = crypto::FromHex(h.signature);
  } catch (const Error&) {
    return "the head kept elsewhere is malformed";
  }
  if (root.size() != 32) return "the head kept elsewhere is malformed";
  std::copy(root.begin(), root.end(), s.root.begin());
  s.signature = sig;
  if (!HeadSignatureHolds(ctx, s)) return "the head kept elsewhere does not hold its signature";
  return "";
}

}  // namespace

void AuditService::RequireAuditor(const Actor& actor) {
  if (IsAuditor(actor)) return;
  throw Error(ErrorCode::kForbidden, "the audit trail is for admins and the auditor role");
}

bool AuditService::IsAuditor(const Actor& actor) {
  if (actor.admin() || actor.recovery()) return true;
  const auto& names = actor.roles().names;
  return std::find(names.begin(), names.end(), "auditor") != names.end();
}

void AuditService::RequireCaseOwner(const Actor& actor, const std::string& case_id) {
  auto db = context().db->Read();
  sql::ReadTransaction snapshot(*db);
  RequireCaseVisible(*db, actor, case_id);
  sql::Stmt st(*db, "SELECT owner_id FROM cases WHERE id=?");
  st.Bind(1, case_id);
  if (!st.Step() || st.IsNull(0) || st.Int(0) != actor.user_id()) {
    throw Error(ErrorCode::kForbidden, "a case's events are for its owner, admins and the auditor role");
  }
}

std::vector<AuditEventInfo> AuditService::List(const Actor& actor, const AuditFilter& f) {
  const bool auditor = IsAuditor(actor);
  if (!auditor) {
    if (f.case_id.empty()) RequireAuditor(actor);  // throws: the whole trail is the auditors'
    else RequireCaseOwner(actor, f.case_id);
  }
  FlushForReading(context());
  std::string sql = std::string("SELECT ") + kRowColumns + " FROM audit_events WHERE seq > ?";
  if (!f.case_id.empty()) {
    // The case's documents: for an owner who is no auditor, those every
    // role of the case opens (not restricted ones, which they may not).
    // (:c is one parameter, the second, however often it appears.)
    // (Grants and revokes name "case:role".)
    sql += auditor ? " AND (target = :c OR target LIKE :c || ':%' OR "
                     "target IN (SELECT id FROM documents WHERE case_id = :c))"
                   : " AND (target = :c OR target LIKE :c || ':%' OR "
                     "target IN (SELECT id FROM documents WHERE case_id = :c AND restrict_set IS NULL))";
  }
  if (!f.actor.empty()) sql += " AND actor = ?";
  if (!f.action.empty()) sql += " AND action = ?";
  if (!f.target.empty()) sql += " AND target = ?";
  if (!f.detail.empty()) sql += " AND detail_hash = ?";
  if (f.since) sql += " AND at >= ?";
  if (f.until) sql += " AND at <= ?";
  sql += " ORDER BY seq LIMIT ?";
  auto db = context().db->Read();
  std::optional<std::int64_t> auditor_role;
  {
    sql::Stmt role(*db, "SELECT id FROM roles WHERE name = 'auditor'");
    if (role.Step()) auditor_role = role.Int(0);
  }
  sql::Stmt st(*db, sql);
  int i = 1;
  st.Bind(i++, static_cast<std::int64_t>(f.after));
  if (!f.case_id.empty()) st.Bind(i++, f.case_id);
  if (!f.actor.empty()) st.Bind(i++, f.actor);
  if (!f.action.empty()) st.Bind(i++, f.action);
  if (!f.target.empty()) st.Bind(i++, f.target);
  if (!f.detail.empty()) st.BindBlob(i++, context().audit->DetailHash(f.detail));
  if (f.since) st.Bind(i++, f.since);
  if (f.until) st.Bind(i++, f.until);
  st.Bind(i, static_cast<std::int64_t>(std::clamp<std::uint32_t>(f.limit, 1, 1000)));
  std::vector<AuditEventInfo> out;
  while (st.Step()) {
    const Row r = RowOf(st);
    out.push_back(InfoOf(r));
    out.back().detail = DetailFor(actor, auditor_role, r);
  }
  return out;
}

std::vector<AuditEventInfo> AuditService::Custody(const Actor& actor, const std::string& doc_id,
                                                  const std::string& case_id, bool* truncated) {
  constexpr std::size_t kMax = 10'000;
  // Every event on the document, then the grants and revokes of its case
  // since its intake: each moved it to the shard of another access set.
  const auto collect = [&](AuditFilter f, std::vector<AuditEventInfo>& out) {
    f.limit = 1000;
    for (;;) {
      auto page = List(actor, f);
      const bool last = page.size() < f.limit;
      for (auto& e : page) out.push_back(std::move(e));
      if (last || out.size() > kMax) return;
      f.after = out.back().seq;
    }
  };
  std::vector<AuditEventInfo> out;
  AuditFilter on_doc;
  on_doc.target = doc_id;
  collect(on_doc, out);
  if (!out.empty() && out.size() <= kMax) {
    for (const char* action : {"granted", "revoked"}) {
      AuditFilter moves;
      moves.case_id = case_id;
      moves.action = action;
      moves.after = out.front().seq;
      collect(moves, out);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  }
  *truncated = out.size() > kMax;
  if (*truncated) out.resize(kMax);
  return out;
}

AuditHead AuditService::Head() {
  context().audit->Flush();
  auto db = context().db->Read();
  const auto h = ReadStoredHead(*db);
  if (!h) throw Error(ErrorCode::kNotFound, "the audit trail holds no event yet");
  return HeadView(context(), *h);
}

AuditVerdict AuditService::Verify(const std::optional<AuditHead>& against) {
  RepoContext& ctx = context();
  AuditVerdict v;
  auto db = ctx.db->Read();
  sql::ReadTransaction snapshot(*db);
  std::optional<StoredHead> head;
  try {
    head = ReadStoredHead(*db);
  } catch (const Error& e) {
    v.problem = std::string("the signed head was changed: ") + e.what();
    return v;
  }
  if (head) {
    v.head = HeadView(ctx, *head);
    if (!HeadSignatureHolds(ctx, *head)) {
      v.problem = "the signed head does not hold its signature (it was changed)";
      return v;
    }
  }
  if (against) {
    if (std::string p = ForeignHeadProblem(ctx, *against); !p.empty()) {
      v.problem = p;
      return v;
    }
  }
  const crypto::Hash32 zero{};
  crypto::Hash32 prev = zero;
  crypto::MerkleFrontier tree;
  sql::Stmt st(*db, std::string("SELECT ") + kRowColumns + " FROM audit_events ORDER BY seq");
  while (st.Step()) {
    const std::uint64_t expected = tree.size() + 1;
    Row r;
    try {
      r = RowOf(st);
    } catch (const Error& e) {
      v.first_bad = expected;
      v.problem = "event " + std::to_string(expected) + ": " + e.what();
      return v;
    }
    v.first_bad = expected;
    if (r.leaf.seq != expected) {
      v.problem = "event " + std::to_string(expected) + " is missing (deleted, or the events renumbered)";
      return v;
    }
    if (crypto::MerkleLeafHash(EncodeAuditLeaf(r.leaf)) != r.hash) {
      v.problem = "event " + std::to_string(expected) + " was changed (it no longer matches its hash)";
      return v;
    }
    if (r.leaf.prev != prev) {
      v.problem = "event " + std::to_string(expected) + " does not follow event " + std::to_string(expected - 1) +
                  " (an event was inserted, deleted or moved)";
      return v;
    }
    tree.Append(r.hash);
    prev = r.hash;
    if (head && tree.size() == head->size && tree.Root() != head->root) {
      v.problem = "events 1-" + std::to_string(head->size) + " do not match the signed head (the trail was rewritten)";
      return v;
    }
    if (against && tree.size() == against->size && Hex(tree.Root()) != Lower(against->root)) {
      v.problem = "events 1-" + std::to_string(against->size) + " differ from the head kept elsewhere";
      return v;
    }
  }
  v.first_bad = 0;
  v.events = tree.size();
  if (head && tree.size() < head->size) {
    v.first_bad = tree.size() + 1;
    v.problem = "the trail ends at event " + std::to_string(tree.size()) + " but its signed head covers " +
                std::to_string(head->size) + ": events were cut";
    return v;
  }
  if (against && tree.size() < against->size) {
    v.first_bad = tree.size() + 1;
    v.problem = "the trail holds " + std::to_string(tree.size()) + " events but the head kept elsewhere covers " +
                std::to_string(against->size) + ": events were cut and an older head restored";
    return v;
  }
  if (!head && tree.size() > 0) {
    v.problem = "the trail has events but no signed head";
    v.first_bad = 1;
    return v;
  }
  v.unsigned_events = tree.size() - (head ? head->size : 0);
  v.ok = true;
  return v;
}

AuditProof AuditService::Prove(const Actor& actor, std::uint64_t seq) {
  RequireAuditor(actor);
  RepoContext& ctx = context();
  ctx.audit->Flush();
  auto db = ctx.db->Read();
  sql::ReadTransaction snapshot(*db);
  const auto head = ReadStoredHead(*db);
  if (seq == 0 || !head || seq > head->size) throw Error(ErrorCode::kNotFound, "no such audit event");
  sql::Stmt st(*db, std::string("SELECT ") + kRowColumns + " FROM audit_events WHERE seq = ?");
  st.Bind(1, static_cast<std::int64_t>(seq));
  if (!st.Step()) throw Error(ErrorCode::kCorrupt, "the audit trail has gaps: run dossier audit verify");
  const Row r = RowOf(st);
  AuditProof p;
  p.event = InfoOf(r);
  p.prev = Hex(r.leaf.prev);
  p.path = HexAll(crypto::InclusionProof(
      [&](std::uint64_t b, std::uint64_t e) { return RangeRootOf(*db, b, e); }, seq - 1, head->size));
  p.head = HeadView(ctx, *head);
  return p;
}

AuditConsistency AuditService::ProveConsistency(std::uint64_t first_size) {
  RepoContext& ctx = context();
  ctx.audit->Flush();
  auto db = ctx.db->Read();
  sql::ReadTransaction snapshot(*db);
  const auto head = ReadStoredHead(*db);
  if (first_size == 0 || !head || first_size > head->size) {
    throw Error(ErrorCode::kInvalidArgument, "the older head must cover 1 to " +
                                                 std::to_string(head ? head->size : 0) + " events");
  }
  AuditConsistency c;
  c.first_size = first_size;
  c.first_root = Hex(RangeRootOf(*db, 0, first_size));
  c.path = HexAll(crypto::ConsistencyProof(
      [&](std::uint64_t b, std::uint64_t e) { return RangeRootOf(*db, b, e); }, first_size, head->size));
  c.head = HeadView(ctx, *head);
  return c;
}

}  // namespace dossier::repo
