// The façade: every method resolves its session into an Actor (checking it
// belongs here and is current), hands the call to one service, and lets
// only dossier::Error out (Guarded).
#include "repo/repository.h"

#include <thread>

#include "indexer/entities.h"
#include "repo/cases.h"
#include "repo/documents.h"
#include "repo/ingest.h"
#include "repo/jobs.h"
#include "repo/moves.h"
#include "repo/open.h"
#include "repo/recovery.h"
#include "repo/reindex.h"
#include "repo/links.h"
#include "repo/audit.h"
#include "repo/rooms.h"
#include "repo/workflow.h"
#include "repo/search.h"
#include "repo/tags.h"
#include "repo/uploads.h"
#include "repo/users.h"

namespace dossier::repo {

// ---- Session -------------------------------------------------------------------

const std::string& Session::user() const { return impl_->user; }
std::vector<std::string> Session::roles() const { return impl_->Roles()->names; }
bool Session::is_admin() const {
  std::lock_guard lock(impl_->mu);
  return impl_->admin;
}
bool Session::is_recovery() const { return impl_->recovery; }
bool Session::ended() const {
  std::lock_guard lock(impl_->mu);
  return impl_->ended;
}

// ---- Impl ------------------------------------------------------------------------

struct Repository::Impl {
  explicit Impl(std::unique_ptr<RepoContext> c, Fd l)
      : lock(std::move(l)),
        ctx(std::move(c)),
        users(*ctx),
        cases(*ctx),
        documents(*ctx),
        search(*ctx),
        tags(*ctx),
        moves(*ctx),
        ingest(*ctx),
        reindex(*ctx),
        links(*ctx),
        workflow(*ctx),
        reminders(*ctx),
        audit(*ctx),
        disclosure(*ctx),
        jobs(*ctx) {}

  Fd lock;  // the write lock, released last
  std::unique_ptr<RepoContext> ctx;
  UserService users;
  CaseService cases;
  DocumentService documents;
  SearchService search;
  TagService tags;
  MoveService moves;
  IngestService ingest;
  ReindexService reindex;
  LinkService links;
  WorkflowService workflow;
  ReminderService reminders;
  AuditService audit;
  DisclosureService disclosure;
  JobService jobs;  // destroyed first: running jobs stop before the services go

  // A job keeps the keys it started with until it ends, even if the
  // session that started it logs out (it works on a detached copy).
  std::mutex stats_mu;
  RepositoryStats stats;      // guarded by stats_mu
  std::int64_t stats_at = 0;  // guarded by stats_mu: when `stats` was counted

  // Runs a planned ingest as a job, with keys of its own.
  std::string StartIngestJob(const Session& s, const Actor& actor,
                             std::shared_ptr<IngestPlan> plan) {
    const Session detached = users.Detach(s);
    ctx->events.Read(EventKind::kIngestStarted, actor.name(), plan->case_id);
    return jobs.Start(actor, JobKind::kIngest, plan->case_id, [this, plan, detached](JobControl& job) {
      const Actor a = JobActor(detached);
      ingest.Run(a, *plan, job);
      ctx->events.Read(EventKind::kIngestFinished, a.name(), plan->case_id);
    });
  }

  static Actor JobActor(const Session& detached) {
    const Session::Impl& si = detached.impl();
    bool admin;
    {
      std::lock_guard l(si.mu);
      admin = si.admin;
    }
    return Actor(si, si.Roles(), admin);
  }

  // Waits for a job to end, handing its documents and progress on; throws
  // its error if it failed.
  IngestSummary Follow(const Actor& actor, const std::string& id,
                       const std::function<void(const IngestedDocument&)>& on_document,
                       const std::function<void(const IngestProgress&)>& on_progress) {
    std::size_t seen = 0;
    for (;;) {
      std::vector<IngestedDocument> more;
      const JobInfo info = jobs.Wait(actor, id, seen, std::chrono::milliseconds(200), &more);
      seen += more.size();
      try {
        if (on_document) {
          for (const auto& d : more) on_document(d);
        }
        if (on_progress) on_progress(info.progress);
      } catch (...) {
        jobs.Cancel(actor, id);
        throw;
      }
      if (info.state == JobState::kQueued || info.state == JobState::kRunning) continue;
      jobs.ThrowIfFailed(actor, id);
      if (info.state == JobState::kCancelled) {
        throw Error(ErrorCode::kConflict, "the job was cancelled");
      }
      return jobs.Summary(actor, id);
    }
  }

  std::string StartMove(const Session& s, const std::string& case_id, const std::string& role,
                        bool grant) {
    const Actor a = users.Resolve(s);
    if (grant) moves.RecordGrant(a, case_id, role);
    else moves.RecordRevoke(a, case_id, role);
    return jobs.Start(a, grant ? JobKind::kGrant : JobKind::kRevoke, case_id,
                      [this](JobControl& job) {
                        job.SetPhase(JobPhase::kMoving);
                        moves.Resume([&job](std::uint64_t moved) {
                          IngestProgress p;
                          p.items = moved;
                          job.SetProgress(p);
                        });
                      });
  }
};

// ---- Init and Open ---------------------------------------------------------------

InitResult Repository::Init(const std::string& dir, const InitOptions& options) {
  return Guarded([&] { return InitRepository(dir, options); });
}

bool Repository::ServerKeyProtected(const std::string& dir) {
  return Guarded([&] { return repo::ServerKeyProtected(dir); });
}

std::unique_ptr<Repository> Repository::Open(const std::string& dir, const OpenOptions& options) {
  return Guarded([&] {
    Fd lock;
    std::unique_ptr<RepoContext> ctx = OpenContext(dir, options, &lock);
    auto impl = std::make_unique<Impl>(std::move(ctx), std::move(lock));
    if (impl->ctx->writable) {
      // Finish what a crash interrupted before anyone reads.
      RecoverPending(*impl->ctx);
      DrainLegacyStaging(*impl->ctx);
      impl->moves.Resume();
    }
    return std::unique_ptr<Repository>(new Repository(std::move(impl)));
  });
}

Repository::Repository(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Repository::~Repository() = default;
const std::string& Repository::dir() const { return impl_->ctx->dir; }

// ---- Sessions, users and roles ----------------------------------------------------

Session Repository::Login(std::string_view user, std::string_view password,
                          std::string_view totp) {
  return Guarded([&] { return impl_->users.Login(user, password, totp); });
}
void Repository::ChangePassword(const Session& s, std::string_view old_password,
                                std::string_view new_password) {
  Guarded([&] {
    impl_->users.ChangePassword(impl_->users.Resolve(s), old_password, new_password);
  });
}
void Repository::ResetPassword(const Session& s, const std::string& user,
                               std::string_view new_password) {
  Guarded([&] { impl_->users.ResetPassword(impl_->users.Resolve(s), user, new_password); });
}
UserInfo Repository::CurrentUser(const Session& s) {
  return Guarded([&] { return impl_->users.CurrentUser(impl_->users.Resolve(s)); });
}
std::vector<UserInfo> Repository::ListUsers(const Session& s) {
  return Guarded([&] { return impl_->users.ListUsers(impl_->users.Resolve(s)); });
}
std::vector<RoleInfo> Repository::ListRoles(const Session& s) {
  return Guarded([&] { return impl_->users.ListRoles(impl_->users.Resolve(s)); });
}
TotpEnrollment Repository::BeginTotp(const Session& s) {
  return Guarded([&] { return impl_->users.BeginTotp(impl_->users.Resolve(s)); });
}
void Repository::ConfirmTotp(const Session& s, std::string_view code) {
  Guarded([&] { impl_->users.ConfirmTotp(impl_->users.Resolve(s), code); });
}
void Repository::RemoveTotp(const Session& s, std::string_view code) {
  Guarded([&] { impl_->users.RemoveTotp(impl_->users.Resolve(s), code); });
}
Session Repository::LoginWithRecoveryKey(const std::string& key_file) {
  return Guarded([&] { return impl_->users.LoginWithRecoveryKey(key_file); });
}
void Repository::Logout(const Session& s) {
  Guarded([&] { impl_->users.Logout(s); });
}
void Repository::AddUser(const Session& s, const std::string& name, std::string_view password,
                         const std::vector<std::string>& roles, bool admin) {
  Guarded([&] { impl_->users.AddUser(impl_->users.Resolve(s), name, password, roles, admin); });
}
void Repository::AddRole(const Session& s, const std::string& name, bool join) {
  Guarded([&] { impl_->users.AddRole(impl_->users.Resolve(s), name, join); });
}
void Repository::AddMember(const Session& s, const std::string& role, const std::string& user) {
  Guarded([&] { impl_->users.AddMember(impl_->users.Resolve(s), role, user); });
}
void Repository::RemoveMember(const Session& s, const std::string& role, const std::string& user) {
  Guarded([&] { impl_->users.RemoveMember(impl_->users.Resolve(s), role, user); });
}
void Repository::DisableUser(const Session& s, const std::string& user) {
  Guarded([&] {
    const std::int64_t id = impl_->users.DisableUser(impl_->users.Resolve(s), user);
    impl_->jobs.CancelStartedBy(id);  // their uploads stop too
  });
}

// ---- Cases ------------------------------------------------------------------------

CaseInfo Repository::CreateCase(const Session& s, const NewCase& c) {
  return Guarded([&] { return impl_->cases.Create(impl_->users.Resolve(s), c); });
}
std::vector<CaseInfo> Repository::CreateCases(const Session& s, const std::vector<NewCase>& cases) {
  return Guarded([&] { return impl_->cases.CreateMany(impl_->users.Resolve(s), cases); });
}
std::vector<CaseInfo> Repository::ListCases(const Session& s) {
  return Guarded([&] { return impl_->cases.List(impl_->users.Resolve(s)); });
}
std::vector<CaseInfo> Repository::ListCases(const Session& s, const CaseFilter& filter) {
  return Guarded([&] { return impl_->cases.List(impl_->users.Resolve(s), filter); });
}

// ---- Case management ----
CaseInfo Repository::UpdateCase(const Session& s, const std::string& case_id, const CasePatch& patch) {
  return Guarded([&] {
    const Actor a = impl_->users.Resolve(s);
    impl_->workflow.Update(a, case_id, patch);
    return impl_->cases.Get(a, case_id);
  });
}
std::vector<CaseChange> Repository::CaseHistory(const Session& s, const std::string& case_id) {
  return Guarded([&] { return impl_->workflow.History(impl_->users.Resolve(s), case_id); });
}
TaskInfo Repository::AddTask(const Session& s, const std::string& case_id, const NewTask& task) {
  return Guarded([&] { return impl_->workflow.AddTask(impl_->users.Resolve(s), case_id, task); });
}
TaskInfo Repository::UpdateTask(const Session& s, const std::string& task_id, const TaskPatch& patch) {
  return Guarded([&] { return impl_->workflow.UpdateTask(impl_->users.Resolve(s), task_id, patch); });
}
std::vector<TaskInfo> Repository::CaseTasks(const Session& s, const std::string& case_id) {
  return Guarded([&] { return impl_->workflow.CaseTasks(impl_->users.Resolve(s), case_id); });
}
std::vector<TaskInfo> Repository::Tasks(const Session& s, const TaskFilter& filter) {
  return Guarded([&] { return impl_->workflow.Tasks(impl_->users.Resolve(s), filter); });
}
NoteInfo Repository::AddNote(const Session& s, const std::string& case_id, const std::string& text) {
  return Guarded([&] { return impl_->workflow.AddNote(impl_->users.Resolve(s), case_id, text); });
}
std::vector<NoteInfo> Repository::CaseNotes(const Session& s, const std::string& case_id) {
  return Guarded([&] { return impl_->workflow.Notes(impl_->users.Resolve(s), case_id); });
}
WorkflowSettings Repository::GetWorkflowSettings() {
  return Guarded([&] { return impl_->workflow.Settings(); });
}
void Repository::SetWorkflowSettings(const Session& s, const WorkflowSettings& settings) {
  Guarded([&] { impl_->workflow.SetSettings(impl_->users.Resolve(s), settings); });
}
WorkflowReport Repository::CaseReport(const Session& s) {
  return Guarded([&] { return impl_->workflow.Report(impl_->users.Resolve(s)); });
}
std::vector<FiredReminder> Repository::RunReminders() {
  return Guarded([&] { return impl_->reminders.Run(); });
}
std::vector<NotificationInfo> Repository::Notifications(const Session& s, bool unread_only, std::uint32_t limit) {
  return Guarded([&] { return impl_->reminders.Inbox(impl_->users.Resolve(s), unread_only, limit); });
}
void Repository::MarkNotificationsRead(const Session& s, const std::vector<std::int64_t>& ids) {
  Guarded([&] { impl_->reminders.MarkRead(impl_->users.Resolve(s), ids); });
}
CaseInfo Repository::GetCase(const Session& s, const std::string& case_id) {
  return Guarded([&] { return impl_->cases.Get(impl_->users.Resolve(s), case_id); });
}
void Repository::GrantRole(const Session& s, const std::string& case_id, const std::string& role) {
  Guarded([&] {
    const std::string id = impl_->StartMove(s, case_id, role, true);
    impl_->Follow(impl_->users.Resolve(s), id, {}, {});
  });
}
void Repository::RevokeRole(const Session& s, const std::string& case_id, const std::string& role) {
  Guarded([&] {
    const std::string id = impl_->StartMove(s, case_id, role, false);
    impl_->Follow(impl_->users.Resolve(s), id, {}, {});
  });
}
std::string Repository::StartGrant(const Session& s, const std::string& case_id,
                                   const std::string& role) {
  return Guarded([&] { return impl_->StartMove(s, case_id, role, true); });
}
std::string Repository::StartRevoke(const Session& s, const std::string& case_id,
                                    const std::string& role) {
  return Guarded([&] { return impl_->StartMove(s, case_id, role, false); });
}

// ---- Ingest and jobs --------------------------------------------------------------

std::string Repository::StartIngest(const Session& s, const IngestRequest& request) {
  return Guarded([&] {
    const Actor actor = impl_->users.Resolve(s);
    auto plan = std::make_shared<IngestPlan>(impl_->ingest.Plan(actor, request));
    return impl_->StartIngestJob(s, actor, std::move(plan));
  });
}

Upload::Upload(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Upload::~Upload() = default;
std::unique_ptr<Upload::Impl> Upload::Release() { return std::move(impl_); }
void Upload::Write(std::string_view bytes) {
  Guarded([&] {
    if (!impl_ || impl_->finished || impl_->failed) {
      throw Error(ErrorCode::kInvalidArgument, "this upload is closed");
    }
    if (bytes.size() > impl_->request.max_bytes - impl_->size) {
      impl_->failed = true;
      throw Error(ErrorCode::kTooLarge, "the upload is larger than the server accepts");
    }
    try {
      impl_->encryptor->Write(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    } catch (...) {
      impl_->failed = true;
      throw;
    }
    impl_->size += bytes.size();
  });
}
std::uint64_t Upload::size() const { return impl_ ? impl_->size : 0; }

std::unique_ptr<Upload> Repository::BeginUpload(const Session& s, const UploadRequest& request) {
  return Guarded([&] {
    const Actor actor = impl_->users.Resolve(s);
    IngestRequest check;
    check.case_id = request.case_id;
    check.restrict_to = request.restrict_to;
    check.language = request.language;
    impl_->ingest.Check(actor, check);  // before any byte arrives
    return std::make_unique<Upload>(OpenUpload(*impl_->ctx, request));
  });
}

std::string Repository::FinishUpload(const Session& s, std::unique_ptr<Upload> upload) {
  return Guarded([&] {
    if (!upload) throw Error(ErrorCode::kInvalidArgument, "no upload");
    std::shared_ptr<Upload::Impl> up = upload->Release();
    if (!up || up->finished || up->failed) {
      throw Error(ErrorCode::kInvalidArgument, "this upload is closed");
    }
    up->Finish();
    const Actor actor = impl_->users.Resolve(s);
    IngestRequest request;
    request.case_id = up->request.case_id;
    request.custodian = up->request.custodian;
    request.restrict_to = up->request.restrict_to;
    request.language = up->request.language;
    auto plan = std::make_shared<IngestPlan>(impl_->ingest.Plan(actor, request, up));
    return impl_->StartIngestJob(s, actor, std::move(plan));
  });
}

IngestSummary Repository::Ingest(const Session& s, const IngestRequest& request,
                                 const std::function<void(const IngestedDocument&)>& on_ack) {
  return Guarded([&] {
    const std::string id = StartIngest(s, request);
    return impl_->Follow(impl_->users.Resolve(s), id, on_ack, request.on_progress);
  });
}

JobInfo Repository::GetJob(const Session& s, const std::string& id) {
  return Guarded([&] { return impl_->jobs.Get(impl_->users.Resolve(s), id); });
}
JobInfo Repository::WaitJob(const Session& s, const std::string& id, std::size_t seen,
                            std::chrono::milliseconds timeout, std::vector<IngestedDocument>* more) {
  return Guarded([&] { return impl_->jobs.Wait(impl_->users.Resolve(s), id, seen, timeout, more); });
}
IngestSummary Repository::JobSummary(const Session& s, const std::string& id) {
  return Guarded([&] { return impl_->jobs.Summary(impl_->users.Resolve(s), id); });
}
std::vector<IngestedDocument> Repository::JobFailures(const Session& s, const std::string& id) {
  return Guarded([&] {
    std::vector<IngestedDocument> out;
    for (auto& d : impl_->jobs.Summary(impl_->users.Resolve(s), id).documents) {
      if (IsFailure(d.status)) out.push_back(std::move(d));
    }
    return out;
  });
}
void Repository::CancelJob(const Session& s, const std::string& id) {
  Guarded([&] { impl_->jobs.Cancel(impl_->users.Resolve(s), id); });
}

// ---- Search and documents ---------------------------------------------------------

SearchResults Repository::Search(const Session& s, const SearchRequest& request) {
  return Guarded([&] { return impl_->search.Search(impl_->users.Resolve(s), request); });
}

ExceptionList Repository::SearchExceptions(const Session& s, const std::string& case_id,
                                           std::uint32_t offset, std::uint32_t limit) {
  return Guarded([&] {
    return impl_->search.Exceptions(impl_->users.Resolve(s), case_id, offset, limit);
  });
}

std::vector<ExportRow> Repository::ExportHits(const Session& s, const SearchRequest& request) {
  return Guarded([&] { return impl_->search.Export(impl_->users.Resolve(s), request); });
}

TermReport Repository::SearchTerms(const Session& s, const std::vector<std::string>& terms,
                                   const std::string& case_id) {
  return Guarded([&] { return impl_->search.Terms(impl_->users.Resolve(s), terms, case_id); });
}

std::vector<std::string> Repository::TagDocument(const Session& s, const std::string& doc_id,
                                                 const std::vector<std::string>& add,
                                                 const std::vector<std::string>& remove) {
  return Guarded([&] { return impl_->tags.Update(impl_->users.Resolve(s), doc_id, add, remove); });
}

std::uint64_t Repository::TagMatching(const Session& s, const std::string& query,
                                      const std::string& case_id,
                                      const std::vector<std::string>& add,
                                      const std::vector<std::string>& remove) {
  return Guarded([&] {
    const Actor actor = impl_->users.Resolve(s);
    const auto ids = impl_->search.MatchingIds(actor, query, case_id, 100000);
    return impl_->tags.UpdateMany(actor, ids, add, remove);
  });
}

std::vector<std::string> Repository::PrivilegedTagRoles() {
  return Guarded([&] { return impl_->tags.PrivilegedRoles(); });
}

void Repository::SetPrivilegedTagRoles(const Session& s, const std::vector<std::string>& roles) {
  Guarded([&] { impl_->tags.SetPrivilegedRoles(impl_->users.Resolve(s), roles); });
}

SavedSearch Repository::SaveSearch(const Session& s, const std::string& name,
                                   const std::string& query, const std::string& case_id) {
  return Guarded([&] { return impl_->search.Save(impl_->users.Resolve(s), name, query, case_id); });
}

std::vector<SavedSearch> Repository::ListSavedSearches(const Session& s) {
  return Guarded([&] { return impl_->search.ListSaved(impl_->users.Resolve(s)); });
}

SavedSearchRun Repository::RunSavedSearch(const Session& s, const std::string& id,
                                          std::uint32_t offset, std::uint32_t limit) {
  return Guarded([&] { return impl_->search.RunSaved(impl_->users.Resolve(s), id, offset, limit); });
}

void Repository::DeleteSavedSearch(const Session& s, const std::string& id) {
  Guarded([&] { impl_->search.DeleteSaved(impl_->users.Resolve(s), id); });
}
DocumentInfo Repository::GetDocument(const Session& s, const std::string& doc_id) {
  return Guarded([&] { return impl_->documents.Get(impl_->users.Resolve(s), doc_id); });
}
RepositoryStats Repository::Stats() {
  return Guarded([&] {
    std::lock_guard lock(impl_->stats_mu);
    const std::int64_t now = impl_->ctx->Now();
    if (impl_->stats_at == 0 || now - impl_->stats_at >= 5) {
      impl_->stats = impl_->documents.Count();
      impl_->stats_at = now;
    }
    RepositoryStats s = impl_->stats;
    s.active_jobs = impl_->jobs.Active();
    if (impl_->ctx->audit) {
      s.audit_queued = impl_->ctx->audit->Queued();
      s.audit_dropped = impl_->ctx->audit->Dropped();
    }
    return s;
  });
}

DocumentFamily Repository::GetFamily(const Session& s, const std::string& doc_id) {
  return Guarded([&] { return impl_->documents.Family(impl_->users.Resolve(s), doc_id); });
}
std::vector<DocumentInfo> Repository::ListFailures(const Session& s, const std::string& case_id) {
  return Guarded([&] { return impl_->documents.Failures(impl_->users.Resolve(s), case_id); });
}
std::vector<DocumentInfo> Repository::ListDocuments(const Session& s, const std::string& case_id) {
  return Guarded([&] { return impl_->documents.List(impl_->users.Resolve(s), case_id); });
}
DocumentInfo Repository::ContentInfo(const Session& s, const std::string& doc_id) {
  return Guarded([&] { return impl_->documents.ContentInfo(impl_->users.Resolve(s), doc_id); });
}
void Repository::ReadContent(const Session& s, const std::string& doc_id,
                             const std::function<void(std::string_view)>& sink) {
  Guarded([&] { impl_->documents.ReadContent(impl_->users.Resolve(s), doc_id, sink); });
}
std::string Repository::ReadText(const Session& s, const std::string& doc_id) {
  return Guarded([&] { return impl_->documents.ReadText(impl_->users.Resolve(s), doc_id); });
}
EntityOccurrences Repository::FindEntity(const Session& s, const std::string& type,
                                         const std::string& value, std::uint32_t limit) {
  return Guarded([&] {
    const auto t = indexer::EntityTypeFromName(type);
    if (!t) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown entity type '" + type +
                      "' (email, phone, iban, card, ip, url, domain, btc, eth, money, date, name)");
    }
    const auto normal = indexer::NormalizeEntity(*t, value);
    if (!normal) throw Error(ErrorCode::kInvalidArgument, "'" + value + "' is not a valid " + type);
    SearchRequest req;
    std::string quoted = indexer::EntityTerm(*t, *normal);
    if (quoted.find('"') != std::string::npos) throw Error(ErrorCode::kInvalidArgument, "the value holds a quote");
    req.query = "entity:\"" + quoted + "\"";
    req.limit = std::min<std::uint32_t>(limit, 1000);
    req.facets = true;
    req.snippets = false;
    const SearchResults r = impl_->search.Search(impl_->users.Resolve(s), req);
    EntityOccurrences out;
    out.type = type;
    out.value = *normal;
    out.total = r.total;
    if (auto c = r.facets.find("case"); c != r.facets.end()) out.cases = c->second;
    out.documents = r.hits;
    return out;
  });
}

TextMatches Repository::MatchText(const Session& s, const std::string& doc_id, const std::string& query,
                                  std::string* text_out) {
  return Guarded([&] {
    const Actor& actor = impl_->users.Resolve(s);
    const DocumentInfo info = impl_->documents.Get(actor, doc_id);
    std::string text = impl_->documents.ReadText(actor, doc_id);
    TextMatches out = impl_->search.MatchText(query, text, info.language);
    if (text_out) *text_out = std::move(text);
    crypto::Wipe(text);
    return out;
  });
}
std::vector<AuditEventInfo> Repository::AuditEvents(const Session& s, const AuditFilter& filter) {
  return Guarded([&] { return impl_->audit.List(impl_->users.Resolve(s), filter); });
}
AuditHead Repository::SignedAuditHead() {
  return Guarded([&] { return impl_->audit.Head(); });
}
AuditVerdict Repository::VerifyAudit(const std::optional<AuditHead>& against) {
  return Guarded([&] { return impl_->audit.Verify(against); });
}
AuditProof Repository::ProveAuditEvent(const Session& s, std::uint64_t seq) {
  return Guarded([&] { return impl_->audit.Prove(impl_->users.Resolve(s), seq); });
}
AuditConsistency Repository::ProveAuditConsistency(std::uint64_t first_size) {
  return Guarded([&] { return impl_->audit.ProveConsistency(first_size); });
}
AuditVerdict Repository::VerifyAudit(const Session& s) {
  return Guarded([&] {
    impl_->audit.RequireAuditor(impl_->users.Resolve(s));
    return impl_->audit.Verify(std::nullopt);
  });
}
AuditHead Repository::SignedAuditHead(const Session& s) {
  return Guarded([&] {
    impl_->audit.RequireAuditor(impl_->users.Resolve(s));
    return impl_->audit.Head();
  });
}
AuditConsistency Repository::ProveAuditConsistency(const Session& s, std::uint64_t first_size) {
  return Guarded([&] {
    impl_->audit.RequireAuditor(impl_->users.Resolve(s));
    return impl_->audit.ProveConsistency(first_size);
  });
}
CustodyReport Repository::DocumentCustody(const Session& s, const std::string& doc_id) {
  return Guarded([&] {
    const Actor a = impl_->users.Resolve(s);
    CustodyReport r;
    r.document = impl_->documents.Get(a, doc_id);  // Error(kNotFound) unless the actor may open it
    r.events = impl_->audit.Custody(a, doc_id, r.document.case_id, &r.truncated);
    return r;
  });
}

CaseLinks Repository::Links(const Session& s, const std::string& case_id, std::uint32_t limit) {
  return Guarded([&] { return impl_->links.Links(impl_->users.Resolve(s), case_id, limit); });
}
void Repository::DecideLink(const Session& s, const std::string& case_id, const std::string& other,
                            const std::string& decision, const std::string& why) {
  Guarded([&] { impl_->links.Decide(impl_->users.Resolve(s), case_id, other, decision, why); });
}
void Repository::SetStopEntity(const Session& s, const std::string& type, const std::string& value,
                               bool stop) {
  Guarded([&] { impl_->links.SetStop(impl_->users.Resolve(s), type, value, stop); });
}
LinkGraph Repository::Graph(const Session& s, const std::string& case_id, int depth) {
  return Guarded([&] { return impl_->links.Graph(impl_->users.Resolve(s), case_id, depth); });
}
LinkSettings Repository::GetLinkSettings(const Session& s) {
  return Guarded([&] {
    impl_->users.Resolve(s);
    return impl_->links.Settings();
  });
}
void Repository::SetLinkSettings(const Session& s, const LinkSettings& settings) {
  Guarded([&] { impl_->links.SetSettings(impl_->users.Resolve(s), settings); });
}

ReindexSummary Repository::Reindex(const Session& s) {
  return Guarded([&] { return impl_->reindex.Rebuild(impl_->users.Resolve(s)); });
}

}  // namespace dossier::repo
