#include "repo/group_committer.h"

#include "crypto/envelope.h"
#include "repo/documents.h"
#include "repo/links.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {
// A commit group also closes once it holds this much indexed text: its
// built Xapian documents are in memory until the group commits.
constexpr std::size_t kMaxGroupText = 48u << 20;
}  // namespace

GroupCommitter::GroupCommitter(RepoContext& ctx, const IngestPlan& plan,
                               BuildPool<BuildResult>& builds,
                               std::function<void(const IngestedDocument&)> acknowledge)
    : ctx_(ctx), plan_(plan), builds_(builds), acknowledge_(std::move(acknowledge)) {}

GroupCommitter::~GroupCommitter() {
  if (!committing_.valid()) return;
  try {
    committing_.get();
  } catch (...) {
    // The run is already failing; its error is the one reported.
  }
}

const IngestedDocument* GroupCommitter::FindPlace(const crypto::Bytes& place_key) const {
  for (const GroupIndex* g : {&open_, &committing_group_}) {
    if (auto k = g->place.find(place_key); k != g->place.end()) return &k->second;
  }
  return nullptr;
}

std::string GroupCommitter::FindOriginal(const crypto::Bytes& dedup_key) const {
  for (const GroupIndex* g : {&open_, &committing_group_}) {
    if (auto o = g->original.find(dedup_key); o != g->original.end()) return o->second;
  }
  return "";
}

void GroupCommitter::AcknowledgeExisting(const IngestedDocument& d) {
  if (open_.ids.count(d.id)) {
    open_.exists.push_back(d);
  } else if (committing_group_.ids.count(d.id)) {
    committing_group_.exists.push_back(d);
  } else {
    acknowledge_(d);
  }
}

void GroupCommitter::Reparent(const std::string& child, const std::string& parent) {
  reparent_.emplace_back(child, parent);
}

void GroupCommitter::AddLanguage(const std::string& language) { languages_.insert(language); }

void GroupCommitter::NoteReplacing(const std::string& failure_id) {
  being_replaced_.insert(failure_id);
}

void GroupCommitter::Push(Staged&& staged) {
  if (!staged.replaces.empty()) {
    replaced_by_[staged.replaces] =
        staged.info.duplicate_of.empty() ? staged.info.id : staged.info.duplicate_of;
  }
  if (auto r = replaced_by_.find(staged.info.duplicate_of); r != replaced_by_.end()) {
    staged.info.duplicate_of = r->second;
  }
  if (staged.build_task) {
    staged.build = builds_.Submit(std::move(staged.build_task));
    staged.build_task = nullptr;
  }
  open_.place.emplace(staged.place_key, staged.info);
  open_.ids.insert(staged.info.id);
  if (!staged.dedup_key.empty() && staged.info.duplicate_of.empty()) {
    open_.original.emplace(staged.dedup_key, staged.info.id);
  }
  group_text_ += staged.text_bytes;
  group_.push_back(std::move(staged));
  // Bounded memory: built documents wait here until the group commits.
  if (group_.size() >= std::max<std::size_t>(1, ctx_.options.commit_group) ||
      group_text_ >= kMaxGroupText) {
    Flush();
  }
}

void GroupCommitter::FinishCommit() {
  if (!committing_.valid()) return;
  for (const auto& d : committing_.get()) acknowledge_(d);
  for (const auto& d : committing_group_.exists) acknowledge_(d);
  committing_group_ = {};
}

void GroupCommitter::Poll() {
  if (committing_.valid() &&
      committing_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    FinishCommit();
  }
}

void GroupCommitter::Flush() {
  if (group_.empty() && reparent_.empty()) return;
  FinishCommit();
  auto batch = std::make_shared<Batch>();
  batch->group = std::move(group_);
  batch->reparent = std::move(reparent_);
  batch->languages = languages_;
  committing_group_ = std::move(open_);
  open_ = {};
  committing_ = std::async(std::launch::async, [this, batch] { return Commit(*batch); });
  group_.clear();
  reparent_.clear();
  group_text_ = 0;
}

void GroupCommitter::Finish() {
  Flush();
  FinishCommit();
  // Items found already there whose document was in no group.
  for (const auto& d : open_.exists) acknowledge_(d);
  open_.exists.clear();
}

void GroupCommitter::Discard() {
  group_.clear();  // pending files remove themselves
  reparent_.clear();
  open_ = {};
  if (committing_.valid()) FinishCommit();
}

const KeyBatch& GroupCommitter::CurrentBatch(sql::Db& w) {
  const KeyBatch& now = rebatch_ ? *rebatch_ : *plan_.batch;
  std::vector<std::pair<RoleId, crypto::PublicKey>> current;
  bool rotated = false;
  for (const auto& [role, pk] : now.recipients()) {
    current.emplace_back(role, RolePublicKey(w, role));
    rotated = rotated || current.back().second != pk;
  }
  if (rotated) rebatch_ = std::make_unique<KeyBatch>(std::move(current), ctx_.recovery_public);
  return rebatch_ ? *rebatch_ : *plan_.batch;
}

// Step 2's rows: the group's documents as `pending`, their wrapped keys,
// the batch, the shard's languages, and children joining new parents.
void GroupCommitter::WriteRows(sql::Db& w, Batch& b) {
  sql::Stmt ins(w,
                "INSERT INTO documents(id, case_id, parent_id, shard_id, restrict_set, "
                "status, blob, text, size, dedup_key, place_key, duplicate_of, "
                "sealed_meta, recovery_sealed_key, created_at, final_status, key_batch, replaces) "
                "VALUES(?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  sql::Stmt k(w,
              "INSERT INTO document_keys(doc_id, role_id, sealed_key, key_batch) VALUES(?, ?, ?, ?)");
  sql::Stmt cust(w, "INSERT OR IGNORE INTO custodian_terms(term, doc_id) VALUES(?, ?)");
  const std::string now = ctx_.NowText();
  const KeyBatch& batch = CurrentBatch(w);
  batch.Store(w, now);
  EntityPostings postings(ctx_, w);
  for (auto& g : b.group) {
    const bool duplicate = !g.info.duplicate_of.empty();
    // The sealed record binds what the row points to (documents.h).
    g.meta["status"] = StatusName(g.info.status);
    g.meta["case"] = plan_.case_id;
    g.meta["blob"] = g.blob ? g.blob_name : "";
    g.meta["text"] = g.text ? g.text_name : "";
    g.meta["restrict"] = plan_.restrict_text;
    g.meta["original"] = !duplicate;
    const WrappedKeys keys = batch.Wrap(g.info.id, g.data_key);
    ins.Reset();
    ins.Bind(1, g.info.id).Bind(2, plan_.case_id);
    g.info.parent_id.empty() ? ins.BindNull(3) : ins.Bind(3, g.info.parent_id);
    ins.Bind(4, plan_.shard);
    plan_.restrict_text.empty() ? ins.BindNull(5) : ins.Bind(5, plan_.restrict_text);
    g.blob ? ins.Bind(6, g.blob_name) : ins.BindNull(6);
    g.text ? ins.Bind(7, g.text_name) : ins.BindNull(7);
    ins.Bind(8, static_cast<std::int64_t>(g.info.size));
    g.dedup_key.empty() ? ins.BindNull(9) : ins.Bind(9, g.dedup_key);
    ins.Bind(10, g.place_key);
    duplicate ? ins.Bind(11, g.info.duplicate_of) : ins.BindNull(11);
    ins.Bind(12, SealJson(crypto::DeriveDataSubkey(g.data_key, crypto::DataKeyUse::kMeta),
                          DocumentAd(g.info.id), g.meta));
    ins.Bind(13, keys.recovery).Bind(14, now).Bind(15, StatusName(g.info.status));
    ins.Bind(16, batch.id());
    g.replaces.empty() ? ins.BindNull(17) : ins.Bind(17, g.replaces);
    ins.Run();
    for (const auto& [role, wrapped] : keys.roles) {
      k.Reset();
      k.Bind(1, g.info.id).Bind(2, role).Bind(3, wrapped).Bind(4, batch.id()).Run();
    }
    const std::string custodian = JsonString(g.meta, "custodian");
    if (!custodian.empty()) {
      // Names the custodian facet's value from a document the viewer opens.
      const std::string term = ctx_.blind->FieldTerm(indexer::Field::kCustodian, custodian);
      cust.Reset();
      cust.Bind(1, crypto::Bytes(term.begin(), term.end())).Bind(2, g.info.id).Run();
    }
    postings.Add(g.info.id, plan_.case_id, plan_.shard, g.entities);
  }
  postings.Finish();
  sql::Stmt lang(w, "INSERT OR IGNORE INTO shard_languages VALUES(?, ?)");
  for (const auto& l : b.languages) {
    lang.Reset();
    lang.Bind(1, plan_.shard).Bind(2, l).Run();
  }
  sql::Stmt rp(w, "UPDATE documents SET parent_id=? WHERE id=?");
  for (const auto& [child, parent] : b.reparent) {
    rp.Reset();
    rp.Bind(1, parent).Bind(2, child).Run();
  }
  // Readers mid-search see the index move on and search again.
  BumpEpoch(w, kIndexEpoch);
  for (const auto& g : b.group) {
    ctx_.events.Changed(w, EventKind::kDocumentAdded, plan_.actor, g.info.id);
  }
}

// Step 5: the rows become what they are; replaced failures go, and copies
// recorded as their duplicates point at what replaces them (the foreign
// key would refuse the delete otherwise).
void GroupCommitter::MarkIndexed(sql::Db& w, Batch& b) {
  std::vector<std::pair<std::string, std::string>> replaced_files;
  {
    sql::Transaction t(w);
    sql::Stmt up(w, "UPDATE documents SET status=final_status, replaces=NULL WHERE id=?");
    sql::Stmt old(w, "SELECT blob, text FROM documents WHERE id=?");
    sql::Stmt del(w, "DELETE FROM documents WHERE id=?");
    sql::Stmt dups(w, "UPDATE documents SET duplicate_of=? WHERE duplicate_of=?");
    for (auto& g : b.group) {
      up.Reset();
      up.Bind(1, g.info.id).Run();
      if (g.replaces.empty()) continue;
      old.Reset();
      old.Bind(1, g.replaces);
      if (old.Step()) replaced_files.emplace_back(old.Text(0), old.Text(1));
      dups.Reset();
      dups.Bind(1, g.info.duplicate_of.empty() ? g.info.id : g.info.duplicate_of)
          .Bind(2, g.replaces)
          .Run();
      del.Reset();
      del.Bind(1, g.replaces).Run();
    }
    t.Commit();
  }
  for (const auto& [bl, tx] : replaced_files) {
    if (!bl.empty()) ctx_.blobs->Remove(bl);
    if (!tx.empty()) ctx_.text_files->Remove(tx);
  }
}

std::vector<IngestedDocument> GroupCommitter::Commit(Batch& b) {
  // Built documents are awaited before the lock is taken.
  std::vector<BuildResult> built(b.group.size());
  std::vector<bool> has_entry(b.group.size(), false);
  for (std::size_t i = 0; i < b.group.size(); ++i) {
    Staged& g = b.group[i];
    if (!g.build.valid()) continue;
    built[i] = g.build.get();  // rethrows what the build threw
    has_entry[i] = true;
    if (built[i].text) {
      g.text = std::move(built[i].text);
      g.text_name = crypto::RandomId(26);
    }
    g.text_bytes = built[i].indexed_bytes;
    g.meta["indexed_bytes"] = built[i].indexed_bytes;
    g.meta["partial"] = built[i].partial;
    if (built[i].partial && g.info.status == DocStatus::kIndexed) g.info.status = DocStatus::kPartial;
  }
  auto w = ctx_.db->Write();
  ctx_.shards->Begin(plan_.shard);
  try {
    for (std::size_t i = 0; i < b.group.size(); ++i) {
      if (has_entry[i]) {
        ctx_.shards->Add(plan_.shard, std::move(built[i].doc));
      }
    }
    {
      IndexEpochChange gate(ctx_);
      sql::Transaction t(*w);
      WriteRows(*w, b);
      t.Commit();
    }
    ctx_.Fault("after_rows_pending");
    for (auto& g : b.group) {
      if (g.blob) ctx_.blobs->Publish(*g.blob, g.blob_name);
      if (g.text) ctx_.text_files->Publish(*g.text, g.text_name);
    }
    ctx_.blobs->Sync();
    ctx_.text_files->Sync();
    ctx_.Fault("after_blob_published");
    // A replaced failure leaves the index in the same commit; a crash
    // before its rows go leaves it listed as a failure, to retry again.
    for (auto& g : b.group) {
      if (!g.replaces.empty()) ctx_.shards->Delete(plan_.shard, g.replaces);
    }
    ctx_.Fault("before_index_commit");
    ctx_.shards->Commit(plan_.shard);
  } catch (...) {
    ctx_.shards->Cancel(plan_.shard);
    throw;
  }
  ctx_.Fault("after_index_commit");
  MarkIndexed(*w, b);
  ctx_.Fault("after_mark_indexed");
  std::vector<IngestedDocument> done;
  done.reserve(b.group.size());
  for (auto& g : b.group) done.push_back(std::move(g.info));
  return done;
}

}  // namespace dossier::repo
