#include "repo/tags.h"

#include <algorithm>
#include <set>

#include "crypto/envelope.h"
#include "indexer/text.h"
#include "repo/documents.h"
#include "repo/key_ring.h"

namespace dossier::repo {

namespace {

constexpr const char* kPrivileged = "privileged";
constexpr const char* kPolicyKey = "privileged_tag_roles";
constexpr std::size_t kMaxTagsPerDocument = 64;

std::string TagAd(const std::string& doc_id, const std::string& term) {
  std::string ad = "dossier-tag-v1|" + doc_id + "|";
  ad += crypto::ToHex(crypto::Bytes(term.begin(), term.end()));
  return ad;
}

crypto::Bytes TermBytes(const std::string& term) { return crypto::Bytes(term.begin(), term.end()); }

// Letters and digits are anything but ASCII punctuation, space and
// control characters here; FoldWord has already normalised them.
bool TagChar(unsigned char c) {
  if (c >= 0x80) return true;
  return std::isalnum(c) || c == '-' || c == '_';
}

}  // namespace

std::string NormalizeTag(std::string_view name) {
  const std::string folded = indexer::FoldWord(indexer::RepairUtf8(name));
  if (folded.empty() || folded.size() > 64 ||
      !std::all_of(folded.begin(), folded.end(), [](char c) { return TagChar(static_cast<unsigned char>(c)); })) {
    throw Error(ErrorCode::kInvalidArgument,
                "a tag is 1 to 64 bytes of letters, digits, '-' and '_'");
  }
  return folded;
}

std::vector<std::string> TagsOf(sql::Db& db, const std::string& doc_id,
                                const crypto::SecretBytes& data_key) {
  const crypto::SecretBytes key = crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kMeta);
  sql::Stmt st(db, "SELECT term, sealed_name FROM document_tags WHERE doc_id=?");
  st.Bind(1, doc_id);
  std::vector<std::string> out;
  while (st.Step()) {
    const crypto::Bytes term = col::Bounded(st, 0, 1, 64, "a tag's term");
    const crypto::Bytes sealed = col::Bounded(st, 1, 1, 4096, "a tag");
    out.push_back(crypto::OpenMessage(key, TagAd(doc_id, std::string(term.begin(), term.end())), sealed));
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
// The policy's role names (meta.privileged_tag_roles, comma-separated).
std::vector<std::string> PolicyRoles(sql::Db& db) {
  sql::Stmt s(db, "SELECT value FROM meta WHERE key=?");
  s.Bind(1, std::string_view(kPolicyKey));
  std::vector<std::string> roles;
  if (!s.Step()) return roles;
  const auto b = s.Blob(0);
  const std::string text(b.begin(), b.end());
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) roles.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return roles;
}
}  // namespace

std::vector<std::string> TagService::PrivilegedRoles() {
  auto db = ctx_.db->Read();
  return PolicyRoles(*db);
}

void TagService::SetPrivilegedRoles(const Actor& actor, const std::vector<std::string>& roles) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  auto w = ctx_.db->Write();
  std::string text;
  for (const auto& r : roles) {
    RoleIdOf(*w, r);  // throws kNotFound for no such role
    if (!text.empty()) text += ",";
    text += r;
  }
  SetMeta(*w, kPolicyKey, text);
}

void TagService::CheckPrivileged(sql::Db& db, const Actor& actor,
                                 const std::vector<std::string>& tags) {
  if (std::find(tags.begin(), tags.end(), kPrivileged) == tags.end() || actor.recovery()) return;
  const std::vector<std::string> roles = PolicyRoles(db);
  if (roles.empty()) return;
  sql::Stmt r(db, "SELECT id FROM roles WHERE name=?");
  for (const auto& name : roles) {
    r.Reset();
    r.Bind(1, name);
    if (r.Step() && actor.Holds(r.Int(0))) return;
  }
  throw Error(ErrorCode::kForbidden, "setting or removing 'privileged' needs a role the repository's tag policy names");
}

bool TagService::UpdateOne(sql::Db& w, const Actor& actor, const std::string& doc_id,
                           const std::vector<std::string>& add,
                           const std::vector<std::string>& remove, bool& policy_checked,
                           std::set<std::string>& touched, std::vector<std::string>* after) {
  // Visibility before the policy: a document the actor cannot open is
  // "not found", whatever the tags asked.
  const OpenedDocument d = OpenDocument(w, actor, doc_id);
  if (!policy_checked) {
    std::vector<std::string> all = add;
    all.insert(all.end(), remove.begin(), remove.end());
    CheckPrivileged(w, actor, all);
    policy_checked = true;
  }
  std::vector<std::string> current = TagsOf(w, doc_id, d.key);
  std::set<std::string> next(current.begin(), current.end());
  for (const auto& t : remove) next.erase(t);
  for (const auto& t : add) next.insert(t);
  if (next.size() > kMaxTagsPerDocument) {
    throw Error(ErrorCode::kInvalidArgument, "a document carries at most 64 tags");
  }
  std::vector<std::string> result(next.begin(), next.end());
  if (after) *after = result;
  if (result == current) return false;
  // The index entry first (every copy: a moving document has two), then
  // the rows. A crash between leaves the index ahead of the rows, which
  // `dossier reindex` (built from the rows) puts right.
  std::vector<std::string> terms;
  for (const auto& t : result) terms.push_back(ctx_.blind->FieldTerm(indexer::Field::kTag, t));
  std::set<std::string> shards = {d.row.shard_id};
  {
    sql::Stmt m(w, "SELECT move_to, move_from FROM documents WHERE id=?");
    m.Bind(1, doc_id);
    if (m.Step()) {
      if (auto to = col::OptionalId(m, 0, col::IdKind::kShard, "a document's move")) shards.insert(*to);
      if (auto from = col::OptionalId(m, 1, col::IdKind::kShard, "a document's move")) shards.insert(*from);
    }
  }
  for (const auto& s : shards) {
    if (!ctx_.shards->Exists(s)) continue;
    ctx_.shards->Begin(s);  // Cancel can then discard it
    touched.insert(s);
    ctx_.shards->SetTags(s, doc_id, terms);
  }
  const crypto::SecretBytes key = crypto::DeriveDataSubkey(d.key, crypto::DataKeyUse::kMeta);
  sql::Stmt del(w, "DELETE FROM document_tags WHERE doc_id=? AND term=?");
  for (const auto& t : current) {
    if (next.count(t)) continue;
    del.Reset();
    del.Bind(1, doc_id).Bind(2, TermBytes(ctx_.blind->FieldTerm(indexer::Field::kTag, t))).Run();
  }
  sql::Stmt ins(w,
                "INSERT INTO document_tags(doc_id, term, sealed_name, set_by, set_at) "
                "VALUES(?, ?, ?, ?, ?)");
  const std::set<std::string> had(current.begin(), current.end());
  for (const auto& t : result) {
    if (had.count(t)) continue;
    const std::string term = ctx_.blind->FieldTerm(indexer::Field::kTag, t);
    ins.Reset();
    ins.Bind(1, doc_id).Bind(2, TermBytes(term)).Bind(3, crypto::SealMessage(key, TagAd(doc_id, term), t));
    ins.Bind(4, actor.name()).Bind(5, ctx_.NowText()).Run();
  }
  ctx_.events.Changed(w, EventKind::kTagged, actor.name(), doc_id);
  return true;
}

namespace {
void RequireSome(const std::vector<std::string>& add, const std::vector<std::string>& remove) {
  if (add.empty() && remove.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "give tags to add or remove");
  }
}

std::vector<std::string> Normalized(const std::vector<std::string>& tags) {
  std::vector<std::string> out;
  for (const auto& t : tags) out.push_back(NormalizeTag(t));
  return out;
}
}  // namespace

std::uint64_t TagService::Apply(const Actor& actor, const std::vector<std::string>& doc_ids,
                                const std::vector<std::string>& add_raw,
                                const std::vector<std::string>& remove_raw, bool skip_unopenable,
                                std::vector<std::string>* after) {
  ctx_.RequireWritable();
  RequireSome(add_raw, remove_raw);
  const auto add = Normalized(add_raw), remove = Normalized(remove_raw);
  std::uint64_t changed = 0;
  bool policy_checked = false;
  // In groups, so one bulk change never holds the write lock for long.
  constexpr std::size_t kGroup = 500;
  for (std::size_t start = 0; start < doc_ids.size(); start += kGroup) {
    auto w = ctx_.db->Write();
    IndexEpochChange gate(ctx_);
    sql::Transaction t(*w);
    std::set<std::string> touched;
    try {
      for (std::size_t i = start; i < std::min(doc_ids.size(), start + kGroup); ++i) {
        try {
          if (UpdateOne(*w, actor, doc_ids[i], add, remove, policy_checked, touched, after)) ++changed;
        } catch (const Error& e) {
          if (!skip_unopenable || e.code() != ErrorCode::kNotFound) throw;
        }
      }
      for (const auto& s : touched) ctx_.shards->Commit(s);
    } catch (...) {
      for (const auto& s : touched) ctx_.shards->Cancel(s);
      throw;
    }
    BumpEpoch(*w, kIndexEpoch);
    t.Commit();
  }
  return changed;
}

std::vector<std::string> TagService::Update(const Actor& actor, const std::string& doc_id,
                                            const std::vector<std::string>& add,
                                            const std::vector<std::string>& remove) {
  std::vector<std::string> after;
  Apply(actor, {doc_id}, add, remove, false, &after);
  return after;
}

std::uint64_t TagService::UpdateMany(const Actor& actor, const std::vector<std::string>& doc_ids,
                                     const std::vector<std::string>& add,
                                     const std::vector<std::string>& remove) {
  return Apply(actor, doc_ids, add, remove, true, nullptr);
}

}  // namespace dossier::repo
