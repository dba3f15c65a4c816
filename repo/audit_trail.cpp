#include "repo/audit_trail.h"

#include <algorithm>

#include "base/error.h"
#include "repo/db.h"

namespace dossier::repo {
namespace {

// Reads queued beyond this wake the appender at once; beyond four times it
// the reader appends them itself (memory stays bounded under any load).
constexpr std::size_t kQueueWake = 4096;
constexpr std::size_t kQueueMax = 16 * kQueueWake;

void PutU64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutStr(std::string& out, const std::string& s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += s;
}
void PutHash(std::string& out, const crypto::Hash32& h) { out.append(reinterpret_cast<const char*>(h.data()), h.size()); }

crypto::Hash32 HashOf(const crypto::Bytes& b, const char* what) {
  if (b.size() != 32) throw Error(ErrorCode::kCorrupt, std::string(what) + " is malformed");
  crypto::Hash32 h;
  std::copy(b.begin(), b.end(), h.begin());
  return h;
}

crypto::Bytes BytesOf(const crypto::Hash32& h) { return crypto::Bytes(h.begin(), h.end()); }

}  // namespace

std::string EventActionName(EventKind kind) {
  switch (kind) {
    case EventKind::kLogin: return "login";
    case EventKind::kLoginFailed: return "login_failed";
    case EventKind::kLogout: return "logout";
    case EventKind::kUserAdded: return "user_added";
    case EventKind::kUserDisabled: return "user_disabled";
    case EventKind::kRoleAdded: return "role_added";
    case EventKind::kMemberAdded: return "member_added";
    case EventKind::kMemberRemoved: return "member_removed";
    case EventKind::kPasswordChanged: return "password_changed";
    case EventKind::kPasswordReset: return "password_reset";
    case EventKind::kSecondFactorChanged: return "second_factor_changed";
    case EventKind::kCaseCreated: return "case_created";
    case EventKind::kCaseRead: return "case_read";
    case EventKind::kGranted: return "granted";
    case EventKind::kRevoked: return "revoked";
    case EventKind::kIngestStarted: return "ingest_started";
    case EventKind::kIngestFinished: return "ingest_finished";
    case EventKind::kDocumentAdded: return "document_added";
    case EventKind::kDocumentRead: return "document_read";
    case EventKind::kContentRead: return "content_read";
    case EventKind::kTextRead: return "text_read";
    case EventKind::kSearched: return "searched";
    case EventKind::kReindexed: return "reindexed";
    case EventKind::kJobCancelled: return "job_cancelled";
    case EventKind::kTagged: return "tagged";
    case EventKind::kSearchSaved: return "search_saved";
    case EventKind::kHitsExported: return "hits_exported";
    case EventKind::kDocumentExported: return "document_exported";
    case EventKind::kTermReport: return "term_report";
    case EventKind::kLinksRead: return "links_read";
    case EventKind::kLinkDecided: return "link_decided";
    case EventKind::kLinkNotice: return "link_notice";
    case EventKind::kStopEntitySet: return "stop_entity_set";
    case EventKind::kLinkSettings: return "link_settings";
    case EventKind::kCaseChanged: return "case_changed";
    case EventKind::kTaskAdded: return "task_added";
    case EventKind::kTaskChanged: return "task_changed";
    case EventKind::kNoteAdded: return "note_added";
    case EventKind::kWorkflowRead: return "workflow_read";
    case EventKind::kReminded: return "reminded";
    case EventKind::kWorkflowSettings: return "workflow_settings";
  }
  return "unknown";
}

std::string EncodeAuditLeaf(const AuditLeaf& leaf) {
  std::string out = "dossier-audit-v1\n";
  PutU64(out, leaf.seq);
  PutU64(out, static_cast<std::uint64_t>(leaf.at));
  PutStr(out, leaf.actor);
  PutStr(out, leaf.action);
  PutStr(out, leaf.target);
  PutStr(out, leaf.detail_hash);
  PutStr(out, leaf.sealed);
  PutHash(out, leaf.prev);
  return out;
}

std::optional<std::string> OpenAuditDetail(const std::string& sealed, std::int64_t role,
                                           const crypto::KeyPair& key) {
  std::size_t at = 0;
  const auto take = [&](std::size_t n) {
    if (sealed.size() - at < n) throw Error(ErrorCode::kCorrupt, "an audit event's sealed detail is malformed");
    const std::size_t from = at;
    at += n;
    return std::string_view(sealed).substr(from, n);
  };
  while (at < sealed.size()) {
    std::uint64_t id = 0;
    for (unsigned char c : take(8)) id = (id << 8) | c;
    std::uint32_t len = 0;
    for (unsigned char c : take(4)) len = (len << 8) | c;
    const std::string_view box = take(len);
    if (static_cast<std::int64_t>(id) != role) continue;
    const crypto::SecretBytes open = crypto::OpenSealed(key, crypto::Bytes(box.begin(), box.end()));
    return std::string(reinterpret_cast<const char*>(open.data()), open.size());
  }
  return std::nullopt;
}

std::string EncodeAuditHead(const std::string& repo_id, std::uint64_t size, std::int64_t at,
                            const crypto::Hash32& root) {
  std::string out = "dossier-audit-head-v1\n";
  PutStr(out, repo_id);
  PutU64(out, size);
  PutU64(out, static_cast<std::uint64_t>(at));
  PutHash(out, root);
  return out;
}

std::optional<StoredHead> ReadStoredHead(sql::Db& db) {
  sql::Stmt st(db, "SELECT size, root, at, signature, edge FROM audit_head WHERE id = 1");
  if (!st.Step()) return std::nullopt;
  StoredHead h;
  if (st.TypeOf(0) != sql::Stmt::Type::kInteger || st.Int(0) < 0 || st.TypeOf(2) != sql::Stmt::Type::kInteger ||
      st.TypeOf(1) != sql::Stmt::Type::kBlob || st.TypeOf(3) != sql::Stmt::Type::kBlob ||
      st.TypeOf(4) != sql::Stmt::Type::kBlob || st.SizeOf(4) % 32 != 0 || st.SizeOf(4) > 64 * 32) {
    throw Error(ErrorCode::kCorrupt, "the audit trail's signed head is malformed");
  }
  h.size = static_cast<std::uint64_t>(st.Int(0));
  h.root = HashOf(st.Blob(1), "the audit trail's signed head");
  h.at = st.Int(2);
  h.signature = st.Blob(3);
  const crypto::Bytes edge = st.Blob(4);
  std::vector<crypto::Hash32> roots(edge.size() / 32);
  for (std::size_t i = 0; i < roots.size(); ++i) std::copy_n(edge.begin() + 32 * i, 32, roots[i].begin());
  h.edge = crypto::MerkleFrontier(h.size, std::move(roots));
  return h;
}

AuditTrail::AuditTrail(std::string db_path, Database* db, std::string repo_id, crypto::SecretBytes signing_key,
                       std::unique_ptr<crypto::KeyedHasher> detail_hasher, crypto::PublicKey recovery_public,
                       std::shared_ptr<const Clock> clock, std::chrono::milliseconds delay)
    : db_path_(std::move(db_path)),
      db_(db),
      repo_id_(std::move(repo_id)),
      signing_key_(std::move(signing_key)),
      public_key_(crypto::SigningPublicKeyOf(signing_key_)),
      detail_hasher_(std::move(detail_hasher)),
      recovery_public_(recovery_public),
      clock_(std::move(clock)),
      delay_(delay) {
  if (db_) thread_ = std::thread([this] { Run(); });
}

AuditTrail::~AuditTrail() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  try {
    Flush();
  } catch (const std::exception&) {
    // Closing must not throw; what was queued is the window a crash loses.
  }
}

void AuditTrail::AppendRow(sql::Db& txn, const Event& e) {
  AuditLeaf leaf;
  leaf.at = e.at;
  leaf.actor = e.actor;
  leaf.action = EventActionName(e.kind);
  leaf.target = e.target;
  if (!e.detail.empty()) {
    leaf.detail_hash = DetailHash(e.detail);
    const crypto::SecretBytes detail(reinterpret_cast<const unsigned char*>(e.detail.data()), e.detail.size());
    const auto seal_for = [&](std::int64_t role, const crypto::PublicKey& pk) {
      const crypto::Bytes box = crypto::SealTo(pk, detail);
      for (int i = 7; i >= 0; --i) leaf.sealed.push_back(static_cast<char>((static_cast<std::uint64_t>(role) >> (8 * i)) & 0xff));
      const auto n = static_cast<std::uint32_t>(box.size());
      for (int i = 3; i >= 0; --i) leaf.sealed.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
      leaf.sealed.append(box.begin(), box.end());
    };
    sql::Stmt auditor(txn, "SELECT id, public_key FROM roles WHERE name = 'auditor'");
    if (auditor.Step() && auditor.SizeOf(1) == crypto::PublicKey{}.size()) {
      crypto::PublicKey pk;
      const crypto::Bytes b = auditor.Blob(1);
      std::copy(b.begin(), b.end(), pk.begin());
      seal_for(auditor.Int(0), pk);
    }
    seal_for(0, recovery_public_);
  }
  {
    sql::Stmt tail(txn, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
    if (tail.Step()) {
      leaf.seq = static_cast<std::uint64_t>(tail.Int(0)) + 1;
      leaf.prev = HashOf(tail.Blob(1), "an audit event's hash");
    } else {
      leaf.seq = 1;
    }
  }
  const crypto::Hash32 hash = crypto::MerkleLeafHash(EncodeAuditLeaf(leaf));
  {
    std::lock_guard lock(mu_);
    if (first_own_seq_ == 0) first_own_seq_ = leaf.seq;
  }
  sql::Stmt ins(txn,
                "INSERT INTO audit_events(seq, at, actor, action, target, detail_hash, sealed, prev, hash) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.Bind(1, static_cast<std::int64_t>(leaf.seq)).Bind(2, leaf.at).Bind(3, leaf.actor).Bind(4, leaf.action);
  ins.Bind(5, leaf.target).BindBlob(6, leaf.detail_hash).BindBlob(7, leaf.sealed);
  ins.Bind(8, BytesOf(leaf.prev)).Bind(9, BytesOf(hash)).Run();
}

void AuditTrail::Append(sql::Db& txn, const Event& e) {
  AppendRow(txn, e);
  unsigned_ = true;
}

void AuditTrail::Queue(Event e) {
  std::size_t queued;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kQueueMax) {
      ++dropped_;  // the trail cannot take events (see Flush): bounded memory wins
      return;
    }
    queue_.push_back(std::move(e));
    queued = queue_.size();
  }
  if (queued >= 4 * kQueueWake || (!db_ && queued >= kQueueWake)) {
    try {
      Flush();
    } catch (const std::exception&) {
      // The read is done; its event waits in the queue (bounded) for the
      // next try, and verify names what keeps the trail from taking it.
    }
  } else if (queued >= kQueueWake) {
    cv_.notify_all();
  }
}

void AuditTrail::SignHead(sql::Db& txn) {
  std::optional<StoredHead> head = ReadStoredHead(txn);
  // The head extended must be one this key signed, over the edge stored
  // with it, and no older than the last this process signed or saw: else
  // whoever rewrote the rows and the edge would have them signed anew.
  const auto refuse = [](const char* why) {
    throw Error(ErrorCode::kCorrupt, std::string(why) + ": run dossier audit verify");
  };
  if (head) {
    if (head->edge.Root() != head->root ||
        !crypto::VerifyDetached(public_key_, EncodeAuditHead(repo_id_, head->size, head->at, head->root),
                                head->signature)) {
      refuse("the audit trail's signed head was changed");
    }
  }
  {
    std::lock_guard lock(mu_);
    if (last_signed_size_ && (!head || head->size < last_signed_size_ ||
                              (head->size == last_signed_size_ && head->root != last_signed_root_))) {
      refuse("the audit trail's signed head went back");
    }
    if (!head && first_own_seq_ != 1) {
      std::int64_t rows = 0;
      sql::Stmt any(txn, "SELECT count(*) FROM audit_events");
      if (any.Step()) rows = any.Int(0);
      if (rows > 0) refuse("the audit trail has events but no signed head");
    }
  }
  crypto::MerkleFrontier edge = head ? head->edge : crypto::MerkleFrontier();
  // Extend the signed tree by the rows after it, checking each as it is
  // added: a head is never signed over a row that does not chain.
  sql::Stmt st(txn, "SELECT seq, at, actor, action, target, detail_hash, sealed, prev, hash FROM audit_events "
                    "WHERE seq > ? ORDER BY seq");
  st.Bind(1, static_cast<std::int64_t>(edge.size()));
  crypto::Hash32 last{};  // the hash the next row must name as its prev
  if (edge.size() > 0) {
    sql::Stmt at_head(txn, "SELECT hash FROM audit_events WHERE seq = ?");
    at_head.Bind(1, static_cast<std::int64_t>(edge.size()));
    if (!at_head.Step()) {
      throw Error(ErrorCode::kCorrupt, "the audit trail is shorter than its signed head: run dossier audit verify");
    }
    last = HashOf(at_head.Blob(0), "an audit event's hash");
  }
  while (st.Step()) {
    AuditLeaf leaf;
    leaf.seq = static_cast<std::uint64_t>(st.Int(0));
    leaf.at = st.Int(1);
    leaf.actor = st.Text(2);
    leaf.action = st.Text(3);
    leaf.target = st.Text(4);
    const crypto::Bytes dh = st.Blob(5), sealed = st.Blob(6);
    leaf.detail_hash.assign(dh.begin(), dh.end());
    leaf.sealed.assign(sealed.begin(), sealed.end());
    leaf.prev = HashOf(st.Blob(7), "an audit event's link");
    const crypto::Hash32 hash = HashOf(st.Blob(8), "an audit event's hash");
    if (leaf.seq != edge.size() + 1 || leaf.prev != last ||
        crypto::MerkleLeafHash(EncodeAuditLeaf(leaf)) != hash) {
      throw Error(ErrorCode::kCorrupt, "audit event " + std::to_string(edge.size() + 1) +
                                           " does not chain: run dossier audit verify");
    }
    edge.Append(hash);
    last = hash;
  }
  if (head && edge.size() == head->size) {
    std::lock_guard lock(mu_);
    last_signed_size_ = head->size;
    last_signed_root_ = head->root;
    return;  // nothing new
  }
  StoredHead next;
  next.size = edge.size();
  next.root = edge.Root();
  next.at = std::max<std::int64_t>(head ? head->at : 0, clock_->Now());
  next.signature = crypto::SignDetached(signing_key_, EncodeAuditHead(repo_id_, next.size, next.at, next.root));
  crypto::Bytes edge_bytes;
  for (const auto& r : edge.roots()) edge_bytes.insert(edge_bytes.end(), r.begin(), r.end());
  sql::Stmt up(txn, "INSERT OR REPLACE INTO audit_head(id, size, root, at, signature, edge) VALUES(1, ?, ?, ?, ?, ?)");
  up.Bind(1, static_cast<std::int64_t>(next.size)).Bind(2, BytesOf(next.root)).Bind(3, next.at);
  up.Bind(4, next.signature).Bind(5, edge_bytes).Run();
  std::lock_guard lock(mu_);
  last_signed_size_ = next.size;
  last_signed_root_ = next.root;
}

void AuditTrail::AppendAll(sql::Db& db, std::deque<Event>& batch) {
  if (batch.empty()) return;
  sql::Transaction t(db);
  for (const auto& e : batch) AppendRow(db, e);
  t.Commit();
  batch.clear();
}

void AuditTrail::SignInOwnTransaction(sql::Db& db) {
  sql::Transaction t(db);
  SignHead(db);
  t.Commit();
}

void AuditTrail::Flush() {
  std::lock_guard flush(flush_mu_);
  std::deque<Event> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  if (batch.empty() && !unsigned_.exchange(false)) return;
  // The events first, in a transaction of their own, so that a head that
  // cannot be signed (a damaged trail) never keeps reads from the trail.
  try {
    if (db_) {
      auto w = db_->Write();
      AppendAll(*w, batch);
      SignInOwnTransaction(*w);
    } else {
      sql::Db own(db_path_, false);
      AppendAll(own, batch);
      SignInOwnTransaction(own);
    }
  } catch (...) {
    // What was not appended is kept for the next try, ahead of what came
    // in meanwhile, within the queue's bound.
    std::lock_guard lock(mu_);
    for (auto it = batch.rbegin(); it != batch.rend() && queue_.size() < kQueueMax; ++it) {
      queue_.push_front(std::move(*it));
    }
    unsigned_ = true;
    throw;
  }
}

void AuditTrail::Run() {
  std::unique_lock lock(mu_);
  bool failed = false;
  while (!stopping_) {
    // After a failure, the whole delay before the next try.
    cv_.wait_for(lock, delay_, [&] { return stopping_ || (!failed && queue_.size() >= kQueueWake); });
    if (stopping_) break;
    if (queue_.empty() && !unsigned_) continue;
    lock.unlock();
    try {
      Flush();
      failed = false;
    } catch (const std::exception&) {
      failed = true;  // retried after the delay; verify names what is wrong
    }
    lock.lock();
  }
}

}  // namespace dossier::repo
