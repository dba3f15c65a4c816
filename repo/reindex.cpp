#include "repo/reindex.h"

#include "crypto/envelope.h"
#include "indexer/document_builder.h"
#include "repo/documents.h"
#include "repo/ingest_stage.h"
#include "repo/tags.h"
#include "repo/key_ring.h"
#include "repo/links.h"
#include "repo/moves.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

ReindexSummary ReindexService::Rebuild(const Actor& actor) {
  ctx_.RequireWritable();
  ReindexSummary summary;
  struct Shard {
    std::string id;
    AccessSet set;
  };
  std::vector<Shard> all;
  {
    auto db = ctx_.db->Read();
    sql::Stmt st(*db, "SELECT id, access_set FROM shards ORDER BY id");
    while (st.Step()) {
      all.push_back({col::Id(st, 0, col::IdKind::kShard, "a shard id"),
                     col::Set(st, 1, "a shard's access set")});
    }
  }
  indexer::DocumentBuilder builder(*ctx_.blind, SIZE_MAX);
  for (const auto& shard : all) {
    if (!actor.HoldsAny(shard.set)) {
      ++summary.shards_skipped;
      continue;
    }
    auto w = ctx_.db->Write();
    if (DocumentsMoving(*w, "")) {
      throw Error(ErrorCode::kConflict,
                  "a grant or revoke is still moving documents; reindex once it ends");
    }
    std::vector<std::string> ids;
    {
      sql::Stmt d(*w,
                  "SELECT id FROM documents WHERE shard_id=? AND duplicate_of IS NULL AND "
                  "status IN ('indexed','partial')");
      d.Bind(1, shard.id);
      while (d.Step()) ids.push_back(col::Id(d, 0, col::IdKind::kDocument, "a document id"));
    }
    std::vector<std::pair<crypto::Bytes, std::string>> custodians;  // term, document
    // Every document's entities for linking, duplicates too (each is
    // evidence in its own case): rebuilt from the sealed metadata.
    std::vector<std::tuple<std::string, std::string, nlohmann::json>> postings;  // doc, case, entities
    {
      std::vector<std::string> dups;
      sql::Stmt d(*w, "SELECT id FROM documents WHERE shard_id=? AND duplicate_of IS NOT NULL AND status != 'pending'");
      d.Bind(1, shard.id);
      while (d.Step()) dups.push_back(col::Id(d, 0, col::IdKind::kDocument, "a document id"));
      for (const auto& id : dups) {
        const OpenedDocument doc = OpenDocument(*w, actor, id);
        if (auto e = doc.meta.find("entities"); e != doc.meta.end()) postings.emplace_back(id, doc.row.case_id, *e);
      }
    }
    ctx_.shards->StartRebuild(shard.id);
    for (const auto& id : ids) {
      const OpenedDocument doc = OpenDocument(*w, actor, id);
      std::map<std::string, std::string> fields;
      if (auto m = doc.meta.find("fields"); m != doc.meta.end() && m->is_object()) {
        for (const auto& [k, v] : m->items()) {
          if (v.is_string()) fields.emplace(k, v.get<std::string>());
        }
      }
      std::optional<std::int64_t> mtime;
      if (auto m = doc.meta.find("mtime"); m != doc.meta.end() && m->is_number_integer()) {
        mtime = m->get<std::int64_t>();
      }
      const std::string custodian = JsonString(doc.meta, "custodian");
      indexer::DocumentFields f = FieldsFromRecord(
          id, doc.row.case_id, custodian, JsonString(doc.meta, "filename"),
          JsonString(doc.meta, "mime"), JsonString(doc.meta, "language", "en"), fields, mtime,
          [&] {
            auto list = doc.meta.find("entities");  // end() when meta is not an object
            return list == doc.meta.end() ? std::vector<std::string>{} : EntityTermsOf(*list);
          }());
      if (auto e = doc.meta.find("entities"); e != doc.meta.end()) postings.emplace_back(id, doc.row.case_id, *e);
      for (const auto& tag : TagsOf(*w, id, doc.key)) f.extra.emplace_back(indexer::Field::kTag, tag);
      if (!custodian.empty()) {
        const std::string term = ctx_.blind->FieldTerm(indexer::Field::kCustodian, custodian);
        custodians.emplace_back(crypto::Bytes(term.begin(), term.end()), id);
      }
      builder.Begin(f);
      try {
        if (!doc.row.text.empty()) {
          const crypto::SecretBytes text_key =
              crypto::DeriveDataSubkey(doc.key, crypto::DataKeyUse::kText);
          ctx_.texts->ReadAll(doc.row.text, id, text_key,
                              [&](std::string_view chunk) { builder.AddText(chunk); });
        }
      } catch (...) {
        builder.Finish();  // ready for the next document
        throw;
      }
      ctx_.shards->AddToRebuild(shard.id, builder.Finish());
      ++summary.documents;
    }
    ctx_.shards->FinishRebuild(shard.id);
    {
      IndexEpochChange gate(ctx_);
      sql::Transaction t(*w);
      BumpEpoch(*w, kIndexEpoch);
      sql::Stmt c(*w, "INSERT OR IGNORE INTO custodian_terms(term, doc_id) VALUES(?, ?)");
      for (const auto& [term, doc_id] : custodians) {
        c.Reset();
        c.Bind(1, term).Bind(2, doc_id).Run();
      }
      sql::Stmt drop(*w, "DELETE FROM entity_postings WHERE doc_id=?");
      for (const auto& [doc_id, case_id, entities] : postings) {
        drop.Reset();
        drop.Bind(1, doc_id).Run();
        PostEntities(ctx_, *w, doc_id, case_id, shard.id, entities);
      }
      sql::Stmt fmt(*w, "UPDATE shards SET format=? WHERE id=?");
      fmt.Bind(1, static_cast<std::int64_t>(indexer::kShardFormat)).Bind(2, shard.id).Run();
      ctx_.events.Changed(*w, EventKind::kReindexed, actor.name(), shard.id);
      t.Commit();
    }
    ++summary.shards_rebuilt;
  }
  return summary;
}

}  // namespace dossier::repo
