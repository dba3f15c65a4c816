#include "repo/recovery.h"

#include <set>

#include "repo/columns.h"

namespace dossier::repo {

namespace {

// Before the current move order, moves went through a staging shard; a
// crash could leave documents only there. They go to their destination,
// and the staging shard goes.
void DrainLegacyStaging(RepoContext& ctx, sql::Db& w) {
  const std::string staging = "_moving";
  if (!ctx.shards->Exists(staging)) return;
  std::set<std::string> touched;
  for (const auto& id : ctx.shards->DocumentIds(staging)) {
    sql::Stmt st(w, "SELECT shard_id, move_to FROM documents WHERE id=?");
    st.Bind(1, id);
    if (!st.Step()) continue;
    const std::string shard = col::Id(st, 0, col::IdKind::kShard, "a document's shard");
    const auto to = col::OptionalId(st, 1, col::IdKind::kShard, "a document's move");
    const std::string dest = to ? *to : shard;
    if (!ctx.shards->Contains(dest, id) && !ctx.shards->Contains(shard, id)) {
      ctx.shards->Copy(staging, dest, id);
      touched.insert(dest);
    }
  }
  for (const auto& s : touched) ctx.shards->Commit(s);
  ctx.shards->Drop(staging);
}

}  // namespace

void RecoverPending(RepoContext& ctx) {
  ctx.blobs->CleanTemp();
  ctx.text_files->CleanTemp();
  auto w = ctx.db->Write();
  struct Row {
    std::string id, shard, blob, text, dup;
  };
  std::vector<Row> pending;
  {
    sql::Stmt st(*w,
                 "SELECT id, shard_id, blob, text, duplicate_of FROM documents "
                 "WHERE status='pending' ORDER BY duplicate_of IS NOT NULL");
    using K = col::IdKind;
    while (st.Step()) {
      pending.push_back({col::Id(st, 0, K::kDocument, "a document id"),
                         col::Id(st, 1, K::kShard, "a document's shard"),
                         col::OptionalId(st, 2, K::kStoredFile, "a stored file").value_or(""),
                         col::OptionalId(st, 3, K::kStoredFile, "a stored text").value_or(""),
                         col::OptionalId(st, 4, K::kDocument, "a document's original").value_or("")});
    }
  }
  for (const auto& r : pending) {
    bool keep;
    if (r.dup.empty()) {
      keep = ctx.shards->Contains(r.shard, r.id);
    } else {
      sql::Stmt o(*w, "SELECT status FROM documents WHERE id=?");
      o.Bind(1, r.dup);
      keep = o.Step() && o.Text(0) != "pending";
    }
    sql::Transaction t(*w);
    if (keep) {
      sql::Stmt up(*w, "UPDATE documents SET status=final_status WHERE id=?");
      up.Bind(1, r.id).Run();
    } else {
      sql::Stmt del(*w, "DELETE FROM documents WHERE id=?");
      del.Bind(1, r.id).Run();
    }
    t.Commit();
    if (!keep) {
      if (!r.blob.empty()) ctx.blobs->Remove(r.blob);
      if (!r.text.empty()) ctx.text_files->Remove(r.text);
    }
  }
  if (!pending.empty()) {
    IndexEpochChange gate(ctx);
    sql::Transaction t(*w);
    BumpEpoch(*w, kIndexEpoch);
    t.Commit();
  }
  DrainLegacyStaging(ctx, *w);
}

}  // namespace dossier::repo
