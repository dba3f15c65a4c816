// Grants, revokes and the shard moves they cause; crash recovery; reindex.
//
// A move is recorded in SQLite (documents.move_to) before it starts, and
// SQLite stays the source of truth. The move itself is fail-closed and
// idempotent, so recovery simply runs it again:
//   1. copy the document from its shard to the staging shard, commit;
//   2. delete it from the old shard, commit (no old-set user sees it now);
//   3. copy it from staging to the new shard, commit;
//   4. in SQLite, shard_id = move_to, move_to = NULL;
//   5. delete it from staging, commit.
// Copies move terms, positions and values without decrypting anything.
#include <filesystem>

#include "crypto/blob_stream.h"
#include "indexer/document_builder.h"
#include "repo/repository_impl.h"

namespace dossier::repo {

namespace fs = std::filesystem;
using nlohmann::json;

void Repository::Impl::ResumeMoves() {
  struct Move {
    std::string id, from, to;
  };
  std::vector<Move> moves;
  {
    sql::Stmt st(*db,
                 "SELECT id, shard_id, move_to FROM documents WHERE move_to IS NOT NULL");
    while (st.Step()) moves.push_back({st.Text(0), st.Text(1), st.Text(2)});
  }
  const std::string staging = indexer::kStagingShard;
  // A crash after step 4 leaves staged copies of finished moves: drop them.
  {
    std::set<std::string> moving;
    for (const auto& m : moves) moving.insert(m.id);
    bool dropped = false;
    for (const auto& id : shards->DocumentIds(staging)) {
      if (!moving.count(id)) dropped = shards->Delete(staging, id) || dropped;
    }
    if (dropped) shards->Commit(staging);
  }
  if (moves.empty()) return;
  std::set<std::string> olds, news;
  for (const auto& m : moves) {
    if (!shards->Contains(m.to, m.id) && !shards->Contains(staging, m.id)) {
      shards->Copy(m.from, staging, m.id);  // false if already gone: nothing to copy
    }
  }
  shards->Commit(staging);
  Fault("move_staged");
  for (const auto& m : moves) {
    shards->Delete(m.from, m.id);
    olds.insert(m.from);
  }
  for (const auto& o : olds) shards->Commit(o);
  Fault("move_removed_from_old");
  for (const auto& m : moves) {
    if (!shards->Contains(m.to, m.id)) shards->Copy(staging, m.to, m.id);
    news.insert(m.to);
  }
  for (const auto& n : news) shards->Commit(n);
  Fault("move_added_to_new");
  {
    sql::Transaction t(*db);
    sql::Stmt up(*db, "UPDATE documents SET shard_id=move_to, move_to=NULL WHERE id=?");
    for (const auto& m : moves) {
      up.Reset();
      up.Bind(1, m.id).Run();
    }
    t.Commit();
  }
  Fault("move_recorded");
  for (const auto& m : moves) shards->Delete(staging, m.id);
  shards->Commit(staging);
}

void Repository::Impl::Recover() {
  blobs->CleanTemp();
  text->CleanTemp();
  // Pending originals: keep the ones whose id term reached their shard.
  struct Row {
    std::string id, shard, blob, text, dup;
    crypto::Bytes meta;
  };
  std::vector<Row> pending;
  {
    sql::Stmt st(*db,
                 "SELECT id, shard_id, blob, text, duplicate_of FROM documents "
                 "WHERE status='pending' ORDER BY duplicate_of IS NOT NULL");
    while (st.Step()) {
      pending.push_back({st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Text(4), {}});
    }
  }
  for (const auto& r : pending) {
    bool keep;
    if (r.dup.empty()) {
      keep = shards->Contains(r.shard, r.id);
    } else {
      sql::Stmt o(*db, "SELECT status FROM documents WHERE id=?");
      o.Bind(1, r.dup);
      keep = o.Step() && o.Text(0) != "pending";
    }
    sql::Transaction t(*db);
    if (keep) {
      sql::Stmt up(*db, "UPDATE documents SET status=final_status WHERE id=?");
      up.Bind(1, r.id).Run();
    } else {
      sql::Stmt del(*db, "DELETE FROM documents WHERE id=?");
      del.Bind(1, r.id).Run();
    }
    t.Commit();
    if (!keep) {
      if (!r.blob.empty()) blobs->Remove(r.blob);
      if (!r.text.empty()) text->Remove(r.text);
    }
  }
  ResumeMoves();
}

namespace {
std::string DocAd(const std::string& id) { return "dossier.doc.v1|" + id; }

struct CaseDoc {
  std::string id, shard, restrict;
};

// Every committed document of a case, with its shard and restriction.
std::vector<CaseDoc> CaseDocs(sql::Db& db, const std::string& case_id) {
  sql::Stmt d(db,
              "SELECT id, shard_id, restrict_set FROM documents WHERE case_id=? "
              "AND status != 'pending'");
  d.Bind(1, case_id);
  std::vector<CaseDoc> docs;
  while (d.Step()) docs.push_back({d.Text(0), d.Text(1), d.Text(2)});
  return docs;
}

AccessSet NewSetFor(const std::string& restrict_text, const AccessSet& case_roles) {
  if (restrict_text.empty()) return case_roles;
  AccessSet out;
  for (RoleId r : DecodeSet(restrict_text)) {
    if (case_roles.count(r)) out.insert(r);
  }
  return out;
}
}  // namespace

void Repository::GrantRole(const Session& actor, const std::string& case_id,
                           const std::string& role) {
  Impl& s = *impl_;
  s.RequireWritable();
  if (!actor.is_admin()) throw Error(ErrorCode::kForbidden, "this needs the admin permission");
  s.RequireCaseVisible(actor, case_id);
  const RoleId rid = s.RoleIdOf(role);
  AccessSet roles = s.CaseRoles(case_id);
  if (roles.count(rid)) throw Error(ErrorCode::kConflict, "the role is already granted on the case");
  const crypto::PublicKey pk = s.RolePublicKey(rid);
  crypto::SecretBytes case_key = s.OpenCaseKey(actor, case_id);
  roles.insert(rid);
  {
    sql::Transaction t(*s.db);
    sql::Stmt g(*s.db, "INSERT INTO case_grants(case_id, role_id, sealed_key) VALUES(?, ?, ?)");
    g.Bind(1, case_id).Bind(2, rid).Bind(3, crypto::SealTo(pk, case_key)).Run();
    const std::vector<CaseDoc> docs = CaseDocs(*s.db, case_id);
    // The grant's own batch: its key for the role wraps each document's key.
    const KeyBatch batch({{rid, pk}}, s.recovery_public);
    batch.Store(*s.db, s.NowText());
    sql::Stmt k(*s.db,
                "INSERT INTO document_keys(doc_id, role_id, sealed_key, key_batch) "
                "VALUES(?, ?, ?, ?)");
    for (const auto& doc : docs) {
      const AccessSet next = NewSetFor(doc.restrict, roles);
      if (!next.count(rid)) continue;  // restricted to other roles
      crypto::SecretBytes key = s.OpenDocumentKey(actor, doc.id);
      WrappedKeys wrapped = batch.Wrap(doc.id, key);
      k.Reset();
      k.Bind(1, doc.id).Bind(2, rid).Bind(3, wrapped.roles.at(0).second).Bind(4, batch.id()).Run();
      const std::string to = s.ShardFor(next);
      sql::Stmt langs(*s.db,
                      "INSERT OR IGNORE INTO shard_languages SELECT ?, language FROM "
                      "shard_languages WHERE shard_id=?");
      langs.Bind(1, to).Bind(2, doc.shard).Run();
      sql::Stmt mv(*s.db, "UPDATE documents SET move_to=? WHERE id=?");
      mv.Bind(1, to).Bind(2, doc.id).Run();
    }
    t.Commit();
  }
  s.Fault("grant_recorded");
  s.ResumeMoves();
}

void Repository::RevokeRole(const Session& actor, const std::string& case_id,
                            const std::string& role) {
  Impl& s = *impl_;
  s.RequireWritable();
  if (!actor.is_admin()) throw Error(ErrorCode::kForbidden, "this needs the admin permission");
  s.RequireCaseVisible(actor, case_id);
  const RoleId rid = s.RoleIdOf(role);
  AccessSet roles = s.CaseRoles(case_id);
  if (!roles.count(rid)) throw Error(ErrorCode::kNotFound, "the role is not granted on the case");
  if (roles.size() == 1) {
    throw Error(ErrorCode::kConflict, "a case keeps at least one role; grant another first");
  }
  roles.erase(rid);
  {
    sql::Transaction t(*s.db);
    const std::vector<CaseDoc> docs = CaseDocs(*s.db, case_id);
    for (const auto& doc : docs) {
      const AccessSet next = NewSetFor(doc.restrict, roles);
      if (next.empty()) {
        throw Error(ErrorCode::kConflict,
                    "documents restricted to this role would be left with no role");
      }
      if (next == s.ShardSet(doc.shard)) continue;
      const std::string to = s.ShardFor(next);
      sql::Stmt langs(*s.db,
                      "INSERT OR IGNORE INTO shard_languages SELECT ?, language FROM "
                      "shard_languages WHERE shard_id=?");
      langs.Bind(1, to).Bind(2, doc.shard).Run();
      sql::Stmt mv(*s.db, "UPDATE documents SET move_to=? WHERE id=?");
      mv.Bind(1, to).Bind(2, doc.id).Run();
    }
    // The sealed keys go first: from this commit on the role opens nothing.
    sql::Stmt dk(*s.db,
                 "DELETE FROM document_keys WHERE role_id=? AND doc_id IN "
                 "(SELECT id FROM documents WHERE case_id=?)");
    dk.Bind(1, rid).Bind(2, case_id).Run();
    sql::Stmt g(*s.db, "DELETE FROM case_grants WHERE case_id=? AND role_id=?");
    g.Bind(1, case_id).Bind(2, rid).Run();
    t.Commit();
  }
  s.Fault("revoke_recorded");
  s.ResumeMoves();
}

ReindexSummary Repository::Reindex(const Session& actor) {
  Impl& s = *impl_;
  s.RequireWritable();
  ReindexSummary summary;
  struct Shard { std::string id; AccessSet set; };
  std::vector<Shard> all;
  {
    sql::Stmt st(*s.db, "SELECT id, access_set FROM shards ORDER BY id");
    while (st.Step()) all.push_back({st.Text(0), DecodeSet(st.Text(1))});
  }
  indexer::DocumentBuilder builder(*s.blind, SIZE_MAX);
  for (const auto& shard : all) {
    bool opens = actor.is_recovery();
    for (RoleId r : shard.set) opens = opens || s.HoldsRole(actor, r);
    if (!opens) {
      ++summary.shards_skipped;
      continue;
    }
    struct Doc { std::string id, case_id, text; crypto::Bytes meta; };
    std::vector<Doc> docs;
    {
      sql::Stmt d(*s.db,
                  "SELECT id, case_id, text, sealed_meta FROM documents WHERE shard_id=? "
                  "AND duplicate_of IS NULL AND status IN ('indexed','partial')");
      d.Bind(1, shard.id);
      while (d.Step()) docs.push_back({d.Text(0), d.Text(1), d.Text(2), d.Blob(3)});
    }
    const std::string rebuild = shard.id + ".rebuild";
    s.shards->Drop(rebuild);
    (void)s.shards->DocumentCount(rebuild);  // creates it, even if it stays empty
    for (const auto& doc : docs) {
      crypto::SecretBytes key = s.OpenDocumentKey(actor, doc.id);
      json meta = OpenJson(crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kMeta),
                           DocAd(doc.id), doc.meta);
      indexer::DocumentFields f;
      f.doc_id = doc.id;
      f.case_id = doc.case_id;
      f.custodian = meta.value("custodian", "");
      f.filename = meta.value("filename", "");
      f.language = meta.value("language", "en");
      f.type = "text";
      f.day = meta.value("mtime", std::int64_t{0}) / 86400;
      builder.Begin(f);
      const crypto::SecretBytes text_key =
          crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kText);
      auto records = ReadTextRecords(*s.text, doc.text);
      for (std::size_t i = 0; i < records.size(); ++i) {
        std::string chunk = crypto::OpenMessage(
            text_key,
            crypto::TextChunkAd(doc.id, static_cast<std::uint32_t>(i), i + 1 == records.size()),
            records[i].sealed);
        builder.AddText(chunk);
        crypto::Wipe(chunk);
      }
      s.shards->Add(rebuild, builder.Finish());
      ++summary.documents;
    }
    s.shards->Commit(rebuild);
    s.shards->Close();
    // Swap the rebuilt shard in: a crash in between leaves either the old
    // shard or no shard (which the next reindex rebuilds), never a mix.
    const std::string live = s.shards->PathOf(shard.id);
    const std::string old = live + ".old";
    std::error_code ec;
    fs::remove_all(old, ec);
    if (fs::exists(live, ec)) fs::rename(live, old, ec);
    if (!ec) fs::rename(s.shards->PathOf(rebuild), live, ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot swap in a rebuilt index shard");
    SyncDir(fs::path(live).parent_path().string());
    fs::remove_all(old, ec);
    ++summary.shards_rebuilt;
  }
  return summary;
}

}  // namespace dossier::repo
