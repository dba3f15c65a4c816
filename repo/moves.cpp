#include "repo/moves.h"

#include <map>
#include <set>

#include "repo/cases.h"
#include "repo/key_ring.h"

namespace dossier::repo {

namespace {

// Documents handled per step: each step holds the write lock only this long.
constexpr std::size_t kMoveChunk = 500;

struct CaseDoc {
  std::string id, shard;
  std::optional<AccessSet> restrict;
};

// Every committed document of a case, with its shard and restriction.
std::vector<CaseDoc> CaseDocs(sql::Db& db, const std::string& case_id) {
  sql::Stmt d(db,
              "SELECT id, shard_id, restrict_set FROM documents WHERE case_id=? "
              "AND status != 'pending'");
  d.Bind(1, case_id);
  std::vector<CaseDoc> docs;
  while (d.Step()) {
    docs.push_back({col::Id(d, 0, col::IdKind::kDocument, "a document id"),
                    col::Id(d, 1, col::IdKind::kShard, "a document's shard"),
                    col::OptionalSet(d, 2, "a document's restriction")});
  }
  return docs;
}

AccessSet NewSetFor(const std::optional<AccessSet>& restrict, const AccessSet& case_roles) {
  if (!restrict) return case_roles;
  AccessSet out;
  for (RoleId r : *restrict) {
    if (case_roles.count(r)) out.insert(r);
  }
  return out;
}

void RequireSettled(const RepoContext& ctx, sql::Db& db, const std::string& case_id) {
  if (ctx.ingesting.Busy(case_id)) {
    throw Error(ErrorCode::kConflict,
                "an ingest into this case is running; grant or revoke once it ends");
  }
  if (DocumentsMoving(db, case_id)) {
    throw Error(ErrorCode::kConflict,
                "an earlier grant or revoke of this case is still moving its documents");
  }
  sql::Stmt p(db, "SELECT 1 FROM documents WHERE case_id=? AND status='pending' LIMIT 1");
  p.Bind(1, case_id);
  if (p.Step()) {
    throw Error(ErrorCode::kConflict,
                "documents of this case are still being written; retry once the ingest ends");
  }
}

// Records a move. The document's copy gets its shard mark first (copies
// written before marks existed have none), so a search tells it apart
// from the copy it is about to get (see indexer::kShardSlot).
void RecordMove(RepoContext& ctx, sql::Db& w, const CaseDoc& doc, const AccessSet& next,
                std::set<std::string>* marked) {
  if (ctx.shards->Mark(doc.shard, doc.id)) marked->insert(doc.shard);
  const std::string to = ShardFor(w, next);
  sql::Stmt langs(w,
                  "INSERT OR IGNORE INTO shard_languages SELECT ?, language FROM "
                  "shard_languages WHERE shard_id=?");
  langs.Bind(1, to).Bind(2, doc.shard).Run();
  sql::Stmt mv(w, "UPDATE documents SET move_to=? WHERE id=?");
  mv.Bind(1, to).Bind(2, doc.id).Run();
}

}  // namespace

bool DocumentsMoving(sql::Db& db, const std::string& case_id) {
  // Through the small index of unsettled documents: every ingest asks, and
  // a scan of all documents made adding one cost in proportion to them.
  // The index's own condition is repeated: SQLite uses a partial index
  // only for a query whose WHERE holds that condition as written.
  sql::Stmt s(db,
              "SELECT 1 FROM documents INDEXED BY documents_unsettled WHERE "
              "(status = 'pending' OR move_to IS NOT NULL OR move_from IS NOT NULL) AND "
              "(move_to IS NOT NULL OR move_from IS NOT NULL) AND (?1 = '' OR case_id = ?1) LIMIT 1");
  s.Bind(1, case_id);
  return s.Step();
}

void MoveService::RecordGrant(const Actor& actor, const std::string& case_id,
                              const std::string& role) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  auto w = ctx_.db->Write();
  IndexEpochChange gate(ctx_);
  sql::Transaction t(*w);
  RequireCaseVisible(*w, actor, case_id);
  const RoleId rid = RoleIdOf(*w, role);
  AccessSet roles = CaseRoles(*w, case_id);
  if (roles.count(rid)) throw Error(ErrorCode::kConflict, "the role is already granted on the case");
  RequireSettled(ctx_, *w, case_id);
  const crypto::PublicKey pk = RolePublicKey(*w, rid);
  const crypto::SecretBytes case_key = OpenCaseKey(*w, actor, case_id);
  roles.insert(rid);
  std::set<std::string> marked;
  sql::Stmt g(*w, "INSERT INTO case_grants(case_id, role_id, sealed_key) VALUES(?, ?, ?)");
  g.Bind(1, case_id).Bind(2, rid).Bind(3, crypto::SealTo(pk, case_key)).Run();
  // The grant's own batch: its key for the role wraps each document's key.
  const KeyBatch batch({{rid, pk}}, ctx_.recovery_public);
  batch.Store(*w, ctx_.NowText());
  sql::Stmt k(*w,
              "INSERT INTO document_keys(doc_id, role_id, sealed_key, key_batch) VALUES(?, ?, ?, ?)");
  for (const auto& doc : CaseDocs(*w, case_id)) {
    const AccessSet next = NewSetFor(doc.restrict, roles);
    if (!next.count(rid)) continue;  // restricted to other roles
    const crypto::SecretBytes key = OpenDocumentKey(*w, actor, doc.id);
    const WrappedKeys wrapped = batch.Wrap(doc.id, key);
    k.Reset();
    k.Bind(1, doc.id).Bind(2, rid).Bind(3, wrapped.roles.at(0).second).Bind(4, batch.id()).Run();
    RecordMove(ctx_, *w, doc, next, &marked);
  }
  for (const auto& shard : marked) ctx_.shards->Commit(shard);
  BumpEpoch(*w, kIndexEpoch);
  ctx_.events.Changed(*w, EventKind::kGranted, actor.name(), case_id + ":" + role);
  t.Commit();
  ctx_.Fault("grant_recorded");
}

void MoveService::RecordRevoke(const Actor& actor, const std::string& case_id,
                               const std::string& role) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  auto w = ctx_.db->Write();
  IndexEpochChange gate(ctx_);
  sql::Transaction t(*w);
  RequireCaseVisible(*w, actor, case_id);
  const RoleId rid = RoleIdOf(*w, role);
  AccessSet roles = CaseRoles(*w, case_id);
  if (!roles.count(rid)) throw Error(ErrorCode::kNotFound, "the role is not granted on the case");
  if (roles.size() == 1) {
    throw Error(ErrorCode::kConflict, "a case keeps at least one role; grant another first");
  }
  RequireSettled(ctx_, *w, case_id);
  roles.erase(rid);
  std::set<std::string> marked;
  for (const auto& doc : CaseDocs(*w, case_id)) {
    const AccessSet next = NewSetFor(doc.restrict, roles);
    if (next.empty()) {
      throw Error(ErrorCode::kConflict,
                  "documents restricted to this role would be left with no role");
    }
    if (next != ShardSet(*w, doc.shard)) RecordMove(ctx_, *w, doc, next, &marked);
  }
  for (const auto& shard : marked) ctx_.shards->Commit(shard);
  // The wrapped keys go in this commit: from it on the role opens nothing.
  sql::Stmt dk(*w,
               "DELETE FROM document_keys WHERE role_id=? AND doc_id IN "
               "(SELECT id FROM documents WHERE case_id=?)");
  dk.Bind(1, rid).Bind(2, case_id).Run();
  sql::Stmt g(*w, "DELETE FROM case_grants WHERE case_id=? AND role_id=?");
  g.Bind(1, case_id).Bind(2, rid).Run();
  BumpEpoch(*w, kIndexEpoch);
  ctx_.events.Changed(*w, EventKind::kRevoked, actor.name(), case_id + ":" + role);
  t.Commit();
  ctx_.Fault("revoke_recorded");
}

void MoveService::Resume(const std::function<void(std::uint64_t)>& progress) {
  ctx_.RequireWritable();
  std::lock_guard lock(mover_mu_);
  FinishLeftovers();  // what a crash left after a flip
  MoveRecorded(progress);
  FinishLeftovers();
  if (progress) progress(0);
}

namespace {
struct MovingRow {
  std::string id, shard, other;  // other: move_to (moving) or move_from (leftover)
};

std::vector<MovingRow> MovingRows(RepoContext& ctx, const char* column) {
  auto db = ctx.db->Write();
  std::vector<MovingRow> rows;
  sql::Stmt st(*db, std::string("SELECT id, shard_id, ") + column + " FROM documents WHERE " +
                        column + " IS NOT NULL ORDER BY id");
  while (st.Step()) {
    rows.push_back({col::Id(st, 0, col::IdKind::kDocument, "a document id"),
                    col::Id(st, 1, col::IdKind::kShard, "a document's shard"),
                    col::Id(st, 2, col::IdKind::kShard, "a document's moving shard")});
  }
  return rows;
}

// Runs `step` on every row's index copies a chunk at a time, each chunk
// under the write lock on its own (other writes get in between), and
// commits the shards it touched.
void InChunks(RepoContext& ctx, const std::vector<MovingRow>& rows,
              const std::function<void(const MovingRow&, std::set<std::string>&)>& step,
              const std::function<void(std::uint64_t)>& progress = {}) {
  for (std::size_t at = 0; at < rows.size(); at += kMoveChunk) {
    auto w = ctx.db->Write();
    std::set<std::string> touched;
    const std::size_t end = std::min(rows.size(), at + kMoveChunk);
    for (std::size_t i = at; i < end; ++i) step(rows[i], touched);
    for (const auto& s : touched) ctx.shards->Commit(s);
    if (progress) progress(end);
  }
}

// One transaction recording a step for every row (`sql` binds the id,
// then the row's other shard if it has a second parameter), moving the
// index epoch on: readers see all of it at once.
void RecordAll(RepoContext& ctx, const std::vector<MovingRow>& rows, const char* sql, bool with_other) {
  auto w = ctx.db->Write();
  IndexEpochChange gate(ctx);
  sql::Transaction t(*w);
  sql::Stmt up(*w, sql);
  for (const auto& r : rows) {
    up.Reset();
    up.Bind(1, r.id);
    if (with_other) up.Bind(2, r.other);
    up.Run();
  }
  BumpEpoch(*w, kIndexEpoch);
  t.Commit();
}
}  // namespace

void MoveService::FinishLeftovers() {
  const std::vector<MovingRow> rows = MovingRows(ctx_, "move_from");
  if (rows.empty()) return;
  InChunks(ctx_, rows, [&](const MovingRow& r, std::set<std::string>& touched) {
    if (r.other != r.shard && ctx_.shards->Delete(r.other, r.id)) touched.insert(r.other);
  });
  ctx_.Fault("move_removed_from_old");
  RecordAll(ctx_, rows, "UPDATE documents SET move_from=NULL WHERE id=?", false);
  ctx_.Fault("move_finished");
}

void MoveService::MoveRecorded(const std::function<void(std::uint64_t)>& progress) {
  const std::vector<MovingRow> rows = MovingRows(ctx_, "move_to");
  if (rows.empty()) return;
  // Copies go chunk by chunk; the rows then flip in one transaction, so a
  // role gaining or losing access sees the whole case change at once.
  InChunks(
      ctx_, rows,
      [&](const MovingRow& r, std::set<std::string>& touched) {
        // Duplicates have no index entry: nothing to copy.
        if (!ctx_.shards->Contains(r.other, r.id) && ctx_.shards->Copy(r.shard, r.other, r.id)) {
          touched.insert(r.other);
          touched.insert(r.shard);  // its copy may have been given its shard mark
        }
      },
      progress);
  ctx_.Fault("move_added_to_new");
  {
    // A shard is as old as the oldest copy in it: one copied from a shard
    // of an older index format brings that format along.
    std::set<std::pair<std::string, std::string>> pairs;
    for (const auto& r : rows) pairs.emplace(r.shard, r.other);
    auto w = ctx_.db->Write();
    sql::Transaction t(*w);
    sql::Stmt f(*w,
                "UPDATE shards SET format=(SELECT MIN(s.format, f.format) FROM shards s, shards f "
                "WHERE s.id=shards.id AND f.id=?) WHERE id=?");
    for (const auto& [from, to] : pairs) {
      f.Reset();
      f.Bind(1, from).Bind(2, to).Run();
    }
    t.Commit();
  }
  RecordAll(ctx_, rows,
            "UPDATE documents SET move_from=shard_id, shard_id=move_to, move_to=NULL "
            "WHERE id=? AND move_to=?",
            true);
  ctx_.Fault("move_recorded");
}

}  // namespace dossier::repo
