// The ingest run: the worker pipeline (every worker extracts a file while
// this thread encrypts, stages and hands groups to the committer), the
// families of what the workers send back, progress and cancellation.
#include "repo/ingest.h"
#include "repo/uploads.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "base/fd.h"
#include "crypto/blob_stream.h"
#include "crypto/envelope.h"
#include "indexer/extract_pool.h"
#include "indexer/text.h"
#include "repo/build_pool.h"
#include "repo/cases.h"
#include "repo/documents.h"
#include "repo/group_committer.h"
#include "repo/links.h"
#include "repo/moves.h"
#include "repo/ingest_stage.h"
#include "repo/recovery.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace fs = std::filesystem;

IngestService::IngestService(RepoContext& ctx) : ctx_(ctx) {}
IngestService::~IngestService() = default;

namespace {

int Cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// The case's failed top-level documents with exactly this restriction
// (none, unless --restrict names one), read back from their encrypted
// blobs, so the custodian's originals are not needed again: a retry never
// widens or narrows who may open a document. Only `error`, as an
// `unsupported` type stays unsupported.
std::vector<SourceFile> StoredFailures(sql::Db& db, const Actor& actor, const IngestPlan& plan) {
  sql::ReadTransaction snapshot(db);
  sql::Stmt st(db,
               "SELECT id FROM documents WHERE case_id=? AND shard_id=? AND parent_id IS NULL AND "
               "status = 'error' AND blob IS NOT NULL AND blob != '' AND restrict_set IS ? "
               "ORDER BY created_at, rowid");
  st.Bind(1, plan.case_id).Bind(2, plan.shard);
  plan.restrict_text.empty() ? st.BindNull(3) : st.Bind(3, plan.restrict_text);
  std::vector<std::string> ids;
  while (st.Step()) ids.push_back(col::Id(st, 0, col::IdKind::kDocument, "a document id"));
  std::vector<SourceFile> files;
  for (const auto& id : ids) {
    try {
      const DocumentInfo d = InfoOf(OpenDocument(db, actor, id));
      SourceFile f;
      f.stored_id = d.id;
      f.rel = d.path;
      f.custodian = d.custodian;
      f.mtime = d.mtime;
      f.size = d.size;
      files.push_back(std::move(f));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
  }
  return files;
}

}  // namespace

AccessSet IngestService::AccessFor(sql::Db& db, const Actor& actor, const IngestRequest& req,
                                   std::string* restrict_text) {
  RequireCaseVisible(db, actor, req.case_id);
  if (DocumentsMoving(db, req.case_id)) {
    throw Error(ErrorCode::kConflict,
                "a grant or revoke is still moving this case's documents; ingest once it ends");
  }
  // The access set: the case's roles, narrowed by --restrict.
  const AccessSet case_roles = CaseRoles(db, req.case_id);
  AccessSet set = case_roles;
  if (!req.restrict_to.empty()) {
    AccessSet restrict;
    for (const auto& name : req.restrict_to) {
      const RoleId id = RoleIdOf(db, name);
      if (!case_roles.count(id)) {
        throw Error(ErrorCode::kInvalidArgument,
                    "a restricted document's roles must be granted on its case");
      }
      restrict.insert(id);
    }
    set = restrict;
    if (restrict_text) *restrict_text = EncodeSet(restrict);
  }
  // Deduplication within a set the uploader cannot open would reveal
  // what it holds, so nobody writes where they cannot read.
  if (!actor.HoldsAny(set)) {
    throw Error(ErrorCode::kForbidden, "you must hold one of the document's roles to ingest it");
  }
  return set;
}

void IngestService::Check(const Actor& actor, const IngestRequest& req) {
  ctx_.RequireWritable();
  const std::string language = req.language.empty() ? "en" : req.language;
  if (language != "none" && !indexer::IsSupportedLanguage(language)) {
    throw Error(ErrorCode::kInvalidArgument, "unsupported language code");
  }
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  (void)AccessFor(*db, actor, req, nullptr);
}

IngestPlan IngestService::Plan(const Actor& actor, const IngestRequest& req,
                               std::shared_ptr<const Upload::Impl> upload) {
  ctx_.RequireWritable();
  IngestPlan plan;
  plan.case_id = req.case_id;
  plan.actor = actor.name();
  plan.retry_failed = req.retry_failed;
  plan.fallback_language = req.language.empty() ? "en" : req.language;
  if (plan.fallback_language != "none" && !indexer::IsSupportedLanguage(plan.fallback_language)) {
    throw Error(ErrorCode::kInvalidArgument, "unsupported language code");
  }
  if (req.paths.empty() && !req.retry_failed && !upload) {
    throw Error(ErrorCode::kInvalidArgument, "nothing to ingest");
  }
  plan.text_cap = ctx_.options.indexed_text_cap ? ctx_.options.indexed_text_cap
                                                : indexer::kDefaultIndexedTextCap;
  {
    auto w = ctx_.db->Write();
    sql::Transaction t(*w);
    const AccessSet set = AccessFor(*w, actor, req, &plan.restrict_text);
    std::vector<std::pair<RoleId, crypto::PublicKey>> recipients;
    for (RoleId r : set) recipients.emplace_back(r, RolePublicKey(*w, r));
    plan.batch = std::make_unique<KeyBatch>(std::move(recipients), ctx_.recovery_public);
    plan.shard = ShardFor(*w, set);
    plan.phone_region = PhoneRegionFor(*w, actor, req.case_id);
    t.Commit();
    plan.ingesting.emplace(ctx_.ingesting.Enter(req.case_id));
    // The shard exists before any group writes to it, so no crash can
    // leave it half-created.
    ctx_.shards->Create(plan.shard);
  }
  if (upload) {
    SourceFile f;
    f.rel = upload->rel;
    f.custodian = req.custodian;
    f.size = upload->size;
    f.upload = std::move(upload);
    plan.files.push_back(std::move(f));
  } else if (!req.paths.empty()) {
    ExpandPaths(req.paths, req.relative_to, &plan.files, &plan.skipped);
    for (auto& f : plan.files) f.custodian = req.custodian;
  } else {
    auto db = ctx_.db->Read();
    plan.files = StoredFailures(*db, actor, plan);
  }
  return plan;
}

namespace {

// One top-level file in the workers.
struct Family {
  const SourceFile* src = nullptr;
  Fd fd;
  PlaintextBudget::Grant plaintext;  // for a memfd of decrypted bytes
  std::optional<std::int64_t> mtime;
  std::uint64_t size = 0;
  std::map<int, std::string> ids;  // item index -> document id
  std::optional<Staged> top;       // staged last: the family's commit marker
  bool top_seen = false;
  bool skip = false;               // the whole family exists already
};

// A stored original goes to the worker as a sealed memfd: plaintext in
// memory for as long as its extraction takes, never in a file.
Fd StoredOriginal(RepoContext& ctx, const Actor& actor, const std::string& id) {
  OpenedDocument doc;
  {
    auto db = ctx.db->Read();
    sql::ReadTransaction snapshot(*db);
    doc = OpenDocument(*db, actor, id);
  }
  if (doc.row.blob.empty()) throw Error(ErrorCode::kCorrupt, "a stored original is missing");
  auto in = ctx.blobs->Open(doc.row.blob);
  crypto::BlobDecryptor dec(crypto::DeriveDataSubkey(doc.key, crypto::DataKeyUse::kBlob),
                            [&](unsigned char* p, std::size_t n) { return in->Read(p, n); });
  return DecryptToSealedMemory(dec, "a stored original");
}

// A family's top-level file as the stage step sees it.
ItemSource TopSource(const Family& f) {
  ItemSource src;
  src.fd = f.fd.get();
  // Shown names are UTF-8 (indexer::NameToUtf8); the place key hashes the
  // path's own bytes, so two names that read alike stay apart.
  src.path = indexer::NameToUtf8(f.src->rel);
  src.filename = indexer::NameToUtf8(fs::path(f.src->rel).filename().string());
  src.place = f.src->rel;
  src.mtime = f.mtime;
  src.custodian = indexer::NameToUtf8(f.src->custodian);
  return src;
}

// The pipeline of one run.
class Pipeline {
 public:
  Pipeline(RepoContext& ctx, const Actor& actor, IngestPlan& plan, JobControl& job,
           indexer::ExtractPool& pool)
      : ctx_(ctx),
        actor_(actor),
        plan_(plan),
        job_(job),
        pool_(pool),
        builds_(Cores(), *ctx.blind, plan.text_cap, ctx.options.background_nice),
        groups_(ctx, plan, builds_, [this](const IngestedDocument& d) { Acknowledge(d); }),
        lookups_(ctx.db->Read()),
        stager_(ctx, plan, groups_, *lookups_) {
    progress_.files_total = plan.files.size();
    for (const auto& f : plan.files) progress_.bytes_total += f.size;
  }

  // Returns false if cancelled (what was acknowledged stays).
  bool Run() {
    for (const auto& s : plan_.skipped) Skip(s.rel, s.reason, false);
    job_.SetPhase(JobPhase::kExtracting);
    job_.SetProgress(progress_);
    while (next_ < plan_.files.size() || pool_.running() > 0) {
      if (job_.cancelled()) {
        groups_.Discard();
        return false;
      }
      SubmitWhatFits();
      groups_.Poll();  // acknowledge a finished commit without waiting for the next
      if (pool_.running() == 0) continue;  // every file so far was skipped
      Handle(pool_.Next());
    }
    job_.SetPhase(JobPhase::kCommitting);
    groups_.Finish();
    return true;
  }

 private:
  void Acknowledge(const IngestedDocument& d) {
    ++progress_.items;
    if (IsFailure(d.status)) ++progress_.errors;
    job_.Acknowledge(d);
    job_.SetProgress(progress_);
  }

  // A file not read: listed with its reason, the run goes on.
  void Skip(const std::string& rel, const std::string& reason, bool top_level) {
    IngestedDocument d;
    d.path = indexer::NameToUtf8(rel);
    d.filename = indexer::NameToUtf8(fs::path(rel).filename().string());
    d.status = DocStatus::kSkipped;
    d.error = reason;
    if (top_level) ++progress_.files_done;
    Acknowledge(d);
  }

  // A stored original or an upload is decrypted into memory for its job:
  // those only go to a worker with nothing queued, so at most one per
  // worker is held, and only while the process's plaintext budget has room.
  void SubmitWhatFits() {
    while (next_ < plan_.files.size()) {
      const SourceFile& src = plan_.files[next_];
      const bool in_memory = !src.stored_id.empty() || src.upload;
      if (!(in_memory ? pool_.HasIdleWorker() : pool_.HasFreeWorker())) break;
      Family f;
      f.src = &src;
      if (in_memory) {
        std::optional<PlaintextBudget::Grant> grant = ctx_.plaintext.TryTake(src.size);
        if (!grant) {
          // Another job's files hold the budget: wait for them.
          if (pool_.running() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
          break;
        }
        f.plaintext = std::move(*grant);
      }
      ++next_;
      if (src.upload) {
        f.fd = DecryptUpload(*src.upload);
        f.size = src.size;
      } else if (!src.stored_id.empty()) {
        try {
          f.fd = StoredOriginal(ctx_, actor_, src.stored_id);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kCorrupt) throw;
          // One damaged blob is reported and skipped; the retry goes on.
          IngestedDocument damaged;
          damaged.id = src.stored_id;
          damaged.path = src.rel;
          damaged.filename = fs::path(src.rel).filename().string();
          damaged.size = src.size;
          damaged.status = DocStatus::kError;
          damaged.error = std::string("its stored original is damaged: ") + e.what();
          ++progress_.files_done;
          progress_.bytes_done += src.size;
          Acknowledge(damaged);
          continue;
        }
        f.mtime = src.mtime;
        f.size = src.size;
      } else {
        f.fd = Fd(::open(src.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
        struct stat st {};
        if (!f.fd) {
          Skip(src.rel, errno == ENOENT ? "the file vanished before it was read"
                                        : "cannot read this file: " + std::string(strerror(errno)),
               true);
          continue;
        }
        if (::fstat(f.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
          Skip(src.rel, "no longer a regular file", true);
          continue;
        }
        f.mtime = st.st_mtime;
        f.size = static_cast<std::uint64_t>(st.st_size);
      }
      const std::uint64_t id = ++counter_;
      pool_.Submit(id, f.fd.get(), fs::path(src.rel).filename().string(), plan_.phone_region);
      families_.emplace(id, std::move(f));
    }
  }

  void FinishTop(Family& f, const IngestedDocument& exists_info, bool existed) {
    ++progress_.files_done;
    progress_.bytes_done += f.size;
    if (existed) {
      job_.AddBytes(exists_info.size);
      groups_.AcknowledgeExisting(exists_info);
    } else if (f.top) {
      job_.AddBytes(f.top->info.size);
      groups_.Push(std::move(*f.top));
    }
    job_.SetProgress(progress_);
  }

  void HandleItem(Family& f, indexer::ExtractEvent& e) {
    if (f.skip) return;
    if (e.item.index == 0) {
      ItemSource src = TopSource(f);
      src.item = std::move(e.item);
      IngestedDocument existing;
      auto staged = stager_.Stage(std::move(src), &existing);
      f.top_seen = true;
      if (!staged) {
        f.skip = true;  // the family was acknowledged before
        f.ids[0] = existing.id;
        FinishTop(f, existing, true);
        return;
      }
      f.ids[0] = staged->info.id;
      f.top.emplace(std::move(*staged));
      return;
    }
    auto parent = f.ids.find(e.item.parent);
    if (parent == f.ids.end()) return;  // its container was not kept
    ItemSource src;
    src.item = std::move(e.item);
    src.bytes = e.bytes;
    src.path = src.item.path;
    src.filename = src.item.name;
    src.place = f.src->rel + "//" + src.item.path;
    src.parent_id = parent->second;
    src.custodian = f.src->custodian;
    const int index = src.item.index;
    IngestedDocument existing;
    auto staged = stager_.Stage(std::move(src), &existing);
    if (!staged) {
      f.ids[index] = existing.id;
      job_.AddBytes(existing.size);
      groups_.AcknowledgeExisting(existing);
      return;
    }
    f.ids[index] = staged->info.id;
    job_.AddBytes(staged->info.size);
    groups_.Push(std::move(*staged));
  }

  // The job ended: a failure marks its top-level document.
  void HandleEnd(Family& f, const indexer::ExtractEvent& e) {
    if (f.skip) return;
    if (!f.top_seen) {
      ItemSource src = TopSource(f);
      src.item.status = "error";
      src.item.error = e.failure.empty() ? "the extractor returned nothing" : e.failure;
      IngestedDocument existing;
      auto staged = stager_.Stage(std::move(src), &existing);
      if (staged) f.top.emplace(std::move(*staged));
      FinishTop(f, existing, !f.top);
      return;
    }
    if (!e.failure.empty() && f.top) {
      f.top->info.status = DocStatus::kError;
      f.top->info.error = e.failure;
      f.top->meta["error"] = e.failure;
    }
    FinishTop(f, IngestedDocument{}, false);
  }

  void Handle(indexer::ExtractEvent e) {
    Family& f = families_.at(e.job);
    if (!e.done) {
      HandleItem(f, e);
      crypto::Wipe(e.bytes);  // a child's original bytes, staged by now
      return;
    }
    HandleEnd(f, e);
    families_.erase(e.job);
  }

  RepoContext& ctx_;
  const Actor& actor_;
  IngestPlan& plan_;
  JobControl& job_;
  indexer::ExtractPool& pool_;
  IngestProgress progress_;
  // Declared before the committer: the committer's destructor waits for
  // its commit, which waits for builds.
  BuildPool<BuildResult> builds_;
  GroupCommitter groups_;
  Database::Lease lookups_;
  Stager stager_;
  std::map<std::uint64_t, Family> families_;
  std::size_t next_ = 0;
  std::uint64_t counter_ = 0;
};

}  // namespace

void IngestService::Run(const Actor& actor, IngestPlan& plan, JobControl& job) {
  if (!pool_) {
    indexer::ExtractPoolOptions po;
    po.worker_path = ctx_.options.extract_worker.empty() ? indexer::ExtractPool::DefaultWorkerPath()
                                                        : ctx_.options.extract_worker;
    po.workers = ctx_.options.extract_workers > 0 ? ctx_.options.extract_workers : Cores();
    po.wall_seconds = ctx_.options.extract_wall_seconds;
    po.limits = ctx_.options.extract_limits;
    po.nice = ctx_.options.background_nice;
    pool_ = std::make_unique<indexer::ExtractPool>(po);
  }
  bool finished = false;
  try {
    Pipeline pipeline(ctx_, actor, plan, job, *pool_);
    finished = pipeline.Run();
  } catch (...) {
    // A run that stops on an error may leave jobs in the workers; the pool
    // goes with them, so a later run never reads their replies. A group
    // that failed after its rows were written is settled now, as a crash
    // would be at the next open (kept if its index commit happened).
    if (pool_->running() > 0) pool_.reset();
    try {
      RecoverPending(ctx_, false);
    } catch (...) {
      // The next open settles them.
    }
    throw;
  }
  if (!finished && pool_->running() > 0) pool_.reset();  // cancelled mid-family
}

}  // namespace dossier::repo
