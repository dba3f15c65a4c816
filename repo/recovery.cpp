#include "repo/recovery.h"

#include <map>
#include <set>

#include "repo/columns.h"

namespace dossier::repo {

void DrainLegacyStaging(RepoContext& ctx) {
  auto w = ctx.db->Write();
  const std::string staging = "_moving";
  if (!ctx.shards->Exists(staging)) return;
  std::set<std::string> touched;
  for (const auto& id : ctx.shards->DocumentIds(staging)) {
    sql::Stmt st(*w, "SELECT shard_id, move_to FROM documents WHERE id=?");
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

void RecoverPending(RepoContext& ctx, bool clean_temp) {
  if (clean_temp) {
    ctx.blobs->CleanTemp();
    ctx.text_files->CleanTemp();
  }
  auto w = ctx.db->Write();
  struct Row {
    std::string id, shard, blob, text, dup, replaces;
    bool keep = false;
  };
  std::vector<Row> pending;
  {
    sql::Stmt st(*w,
                 "SELECT id, shard_id, blob, text, duplicate_of, replaces FROM documents "
                 "WHERE status='pending' ORDER BY duplicate_of IS NOT NULL");
    using K = col::IdKind;
    while (st.Step()) {
      pending.push_back({col::Id(st, 0, K::kDocument, "a document id"),
                         col::Id(st, 1, K::kShard, "a document's shard"),
                         col::OptionalId(st, 2, K::kStoredFile, "a stored file").value_or(""),
                         col::OptionalId(st, 3, K::kStoredFile, "a stored text").value_or(""),
                         col::OptionalId(st, 4, K::kDocument, "a document's original").value_or(""),
                         col::OptionalId(st, 5, K::kDocument, "a replaced document").value_or(""),
                         false});
    }
  }
  if (pending.empty()) return;
  // Originals first: one is kept if its id term reached its shard (its
  // group's index commit happened); a copy is kept if its original stays.
  std::map<std::string, bool> kept;
  for (auto& r : pending) {
    if (r.dup.empty()) {
      r.keep = ctx.shards->Contains(r.shard, r.id);
    } else if (auto k = kept.find(r.dup); k != kept.end()) {
      r.keep = k->second;
    } else {
      sql::Stmt o(*w, "SELECT status FROM documents WHERE id=?");
      o.Bind(1, r.dup);
      r.keep = o.Step() && o.Text(0) != "pending";
    }
    kept[r.id] = r.keep;
  }
  // A kept replacement's failure leaves the index with it (the same index
  // commit; deleted again here in case), then its row, after the copies
  // that point at it are pointed at the replacement.
  std::set<std::string> touched;
  for (const auto& r : pending) {
    if (r.keep && !r.replaces.empty() && ctx.shards->Delete(r.shard, r.replaces)) touched.insert(r.shard);
  }
  for (const auto& s : touched) ctx.shards->Commit(s);
  std::vector<std::pair<std::string, std::string>> doomed_files;
  {
    IndexEpochChange gate(ctx);
    sql::Transaction t(*w);
    sql::Stmt up(*w, "UPDATE documents SET status=final_status, replaces=NULL WHERE id=?");
    sql::Stmt del(*w, "DELETE FROM documents WHERE id=?");
    sql::Stmt files(*w, "SELECT blob, text FROM documents WHERE id=?");
    sql::Stmt dups(*w, "UPDATE documents SET duplicate_of=? WHERE duplicate_of=?");
    auto drop = [&](const std::string& id) {
      files.Reset();
      files.Bind(1, id);
      if (files.Step()) doomed_files.emplace_back(files.Text(0), files.Text(1));
      del.Reset();
      del.Bind(1, id).Run();
    };
    for (const auto& r : pending) {
      if (!r.keep) continue;
      up.Reset();
      up.Bind(1, r.id).Run();
      if (r.replaces.empty()) continue;
      dups.Reset();
      dups.Bind(1, r.dup.empty() ? r.id : r.dup).Bind(2, r.replaces).Run();
      drop(r.replaces);
    }
    // Doomed copies go before the originals they point at (foreign key).
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
      if (!it->keep) drop(it->id);
    }
    BumpEpoch(*w, kIndexEpoch);
    t.Commit();
  }
  for (const auto& [blob, text] : doomed_files) {
    if (col::IsId(blob, col::IdKind::kStoredFile)) ctx.blobs->Remove(blob);
    if (col::IsId(text, col::IdKind::kStoredFile)) ctx.text_files->Remove(text);
  }
}

}  // namespace dossier::repo
