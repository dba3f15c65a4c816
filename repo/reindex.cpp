#include "repo/reindex.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "indexer/document_builder.h"
#include "indexer/entities.h"
#include "repo/documents.h"
#include "repo/ingest_stage.h"
#include "repo/tags.h"
#include "repo/key_ring.h"
#include "repo/links.h"
#include "repo/moves.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {

// A document's text is held for entities only up to this much.
constexpr std::uint64_t kMaxEntityText = 64u << 20;

// A record's header fields (from, to, cc, …) that are strings.
std::map<std::string, std::string> RecordFields(const nlohmann::json& meta) {
  std::map<std::string, std::string> fields;
  if (auto f = meta.find("fields"); f != meta.end() && f->is_object()) {
    for (const auto& [k, v] : f->items()) {
      if (v.is_string()) fields.emplace(k, v.get<std::string>());
    }
  }
  return fields;
}

// A document's decrypted text as the store's chunks came (the builder is
// given the same chunks as when it reads the store), or only its first
// kMaxEntityText bytes (`whole` false).
struct HeldText {
  std::string text;
  std::vector<std::size_t> chunks;
  bool whole = true;
  ~HeldText() { crypto::Wipe(text); }
};

// The entities of a document ingested before they were found: found here,
// in the trusted process, which decrypts the document's text for the index
// builder anyway (the workers did not see it then). The text is read once,
// into `held`, for the builder too.
nlohmann::json FindMissingEntities(RepoContext& ctx, const OpenedDocument& doc,
                                   const std::map<std::string, std::string>& fields, const std::string& region,
                                   HeldText& held) {
  indexer::EntityOptions options;
  options.default_region = region;
  if (!doc.row.text.empty()) {
    const crypto::SecretBytes text_key = crypto::DeriveDataSubkey(doc.key, crypto::DataKeyUse::kText);
    ctx.texts->ReadAll(doc.row.text, doc.row.id, text_key, [&](std::string_view chunk) {
      if (!held.whole) return;
      if (held.text.size() + chunk.size() > kMaxEntityText) {
        held.text.append(chunk.substr(0, kMaxEntityText - held.text.size()));
        held.whole = false;
        return;
      }
      held.text.append(chunk);
      held.chunks.push_back(chunk.size());
    });
  }
  return EntitiesJson(StoredEntities(indexer::FindItemEntities(held.text, fields, options)));
}

}  // namespace

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
    // Sealed records that gain the entities found now (documents ingested
    // before entities were found), and what each original found.
    std::vector<std::pair<std::string, crypto::Bytes>> resealed;
    std::map<std::string, nlohmann::json> found_now;
    std::map<std::string, std::string> regions;  // by case
    auto region_of = [&](const std::string& case_id) -> const std::string& {
      auto it = regions.find(case_id);
      if (it == regions.end()) it = regions.emplace(case_id, PhoneRegionFor(*w, actor, case_id)).first;
      return it->second;
    };
    ctx_.shards->StartRebuild(shard.id);
    for (const auto& id : ids) {
      OpenedDocument doc = OpenDocument(*w, actor, id);
      const std::map<std::string, std::string> fields = RecordFields(doc.meta);
      std::optional<HeldText> held;
      if (!doc.meta.contains("entities")) {
        doc.meta["entities"] = FindMissingEntities(ctx_, doc, fields, region_of(doc.row.case_id), held.emplace());
        found_now[id] = doc.meta["entities"];
        resealed.emplace_back(id, SealJson(crypto::DeriveDataSubkey(doc.key, crypto::DataKeyUse::kMeta),
                                           DocumentAd(id), doc.meta));
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
            return list == doc.meta.end() ? std::vector<std::string>{} : EntityTermsOf(EntitiesFromJson(*list));
          }());
      if (auto e = doc.meta.find("entities"); e != doc.meta.end()) postings.emplace_back(id, doc.row.case_id, *e);
      for (const auto& tag : TagsOf(*w, id, doc.key)) f.extra.emplace_back(indexer::Field::kTag, tag);
      if (!custodian.empty()) {
        const std::string term = ctx_.blind->FieldTerm(indexer::Field::kCustodian, custodian);
        custodians.emplace_back(crypto::Bytes(term.begin(), term.end()), id);
      }
      builder.Begin(f);
      try {
        if (held && held->whole) {
          std::size_t at = 0;
          for (const std::size_t n : held->chunks) {
            builder.AddText(std::string_view(held->text).substr(at, n));
            at += n;
          }
        } else if (!doc.row.text.empty()) {
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
      // Duplicates are evidence in their own cases: they take the entities
      // of their original (found now if it predates them too).
      std::vector<std::string> dups;
      sql::Stmt d(*w, "SELECT id FROM documents WHERE shard_id=? AND duplicate_of IS NOT NULL AND status != 'pending'");
      d.Bind(1, shard.id);
      while (d.Step()) dups.push_back(col::Id(d, 0, col::IdKind::kDocument, "a document id"));
      for (const auto& id : dups) {
        OpenedDocument doc = OpenDocument(*w, actor, id);
        if (!doc.meta.contains("entities")) {
          auto original = found_now.find(doc.row.duplicate_of);
          if (original == found_now.end()) continue;
          doc.meta["entities"] = original->second;
          resealed.emplace_back(id, SealJson(crypto::DeriveDataSubkey(doc.key, crypto::DataKeyUse::kMeta),
                                             DocumentAd(id), doc.meta));
        }
        postings.emplace_back(id, doc.row.case_id, doc.meta["entities"]);
      }
    }
    {
      IndexEpochChange gate(ctx_);
      sql::Transaction t(*w);
      BumpEpoch(*w, kIndexEpoch);
      sql::Stmt c(*w, "INSERT OR IGNORE INTO custodian_terms(term, doc_id) VALUES(?, ?)");
      for (const auto& [term, doc_id] : custodians) {
        c.Reset();
        c.Bind(1, term).Bind(2, doc_id).Run();
      }
      sql::Stmt meta(*w, "UPDATE documents SET sealed_meta=? WHERE id=?");
      for (const auto& [doc_id, sealed] : resealed) {
        meta.Reset();
        meta.Bind(1, sealed).Bind(2, doc_id).Run();
      }
      sql::Stmt drop(*w, "DELETE FROM entity_postings WHERE doc_id=?");
      EntityPostings posted(ctx_, *w);
      for (const auto& [doc_id, case_id, entities] : postings) {
        drop.Reset();
        drop.Bind(1, doc_id).Run();
        posted.Add(doc_id, case_id, shard.id, EntitiesFromJson(entities));
      }
      posted.Finish();
      sql::Stmt fmt(*w, "UPDATE shards SET format=? WHERE id=?");
      fmt.Bind(1, static_cast<std::int64_t>(indexer::kShardFormat)).Bind(2, shard.id).Run();
      ctx_.events.Changed(*w, EventKind::kReindexed, actor.name(), shard.id);
      t.Commit();
    }
    ++summary.shards_rebuilt;
    summary.entities_found += resealed.size();
  }
  return summary;
}

}  // namespace dossier::repo
