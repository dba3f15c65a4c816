// repo::Repository — the one entry point to a Dossier repository.
//
// The CLI, the HTTP API and the tests all drive a repository through this
// class; none of them touches SQLite, Xapian or libsodium directly. Behind
// it each domain is a service of its own (users and roles, cases,
// documents, ingest, moves, search, jobs; repo/README.md lists the rooms)
// sharing one context: the database, the stores, key access, the clock
// and the event sink.
// A repository is one directory (the embedded default, see DESIGN.md):
//   dossier.db     SQLite (WAL, secure_delete): metadata, every case and
//                  document field encrypted, sealed keys, shard map
//   blobs/ab/…     original bytes, secretstream-encrypted, random names
//   text/ab/…      extracted text in independently sealed chunks
//   index/<set>/   one Xapian database per access set (opaque ids)
//   keys/server.key  the index key (0600, passphrase-protected unless the
//                  repository was made with --no-protect)
//
// Thread-safety: one open Repository serves calls from many threads at
// once. Reads (searches, gets, listings, logins) run in parallel, each on
// a database connection and index readers of its own, and see the last
// committed state; writes are serialised inside the process per
// transaction (a case change lands between two groups of a long ingest)
// and across processes by the lock file: opening for writing takes an
// exclusive lock, and a second writer gets Error(kConflict) naming the
// holder. Opening finishes what a crash interrupted (pending ingests,
// half-done shard moves) before returning. Sessions may be used from any
// thread. Long work (ingest, grant, revoke) runs as a job.
//
// Every method throws dossier::Error, and only that; none returns partial
// results as good. Every method taking a Session refuses one of another
// repository, one that has logged out, and one whose user is disabled.
#pragma once

#include <chrono>
#include <optional>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "crypto/keys.h"
#include "indexer/extract_limits.h"
#include "repo/events.h"
#include "repo/types.h"

namespace dossier::repo {

// Called at named steps of ingest and shard moves. Tests install one that
// ends the process at a chosen step to prove crash safety; production code
// leaves it empty. It may be called from several threads at once.
using FaultHook = std::function<void(std::string_view point)>;

struct InitOptions {
  std::string admin_user;
  std::string_view admin_password;
  // Where the recovery role's secret key is written; never inside the
  // repository. Empty means the sibling file "<dir>.recovery-key".
  std::string recovery_key_out;
  // Encrypt keys/server.key under `passphrase` (false only for demos).
  bool protect = true;
  std::string_view passphrase;
  crypto::PasswordCost cost = crypto::PasswordCost::kModerate;
};

struct InitResult {
  std::string recovery_key_path;
};

struct OpenOptions {
  std::string_view passphrase;  // for a protected server key
  // Read-only: no lock, no crash recovery; for search, get and listings
  // while another process writes.
  bool read_only = false;
  crypto::PasswordCost cost = crypto::PasswordCost::kModerate;  // new users
  std::size_t indexed_text_cap = 0;  // 0: the default (32 MiB)
  std::size_t commit_group = 200;    // documents per index commit in ingest
  FaultHook fault;
  std::shared_ptr<const Clock> clock;  // null: the system clock
  // Sees every event (see events.h), on the thread that caused it.
  std::function<void(const Event&)> on_event;
  // Extraction workers: the dossier-extract program (empty: beside this
  // executable, or $DOSSIER_EXTRACT_WORKER), how many (0: one per core),
  // and their wall-clock limit per file.
  std::string extract_worker;
  int extract_workers = 0;
  int extract_wall_seconds = 300;
  indexer::ExtractLimits extract_limits;  // depth, expansion, ratio, items
  // Background work (extraction workers, the threads that build index
  // entries) runs this much nicer than people's queries.
  int background_nice = 10;
  // Finished jobs stay readable this long (and at most this many).
  std::int64_t job_retention_seconds = 24 * 3600;
  std::size_t job_retention_count = 100;
  // Plaintext of uploads and stored originals held in memory for the
  // extraction workers at once (one file larger than this still runs,
  // alone).
  std::uint64_t plaintext_budget = std::uint64_t{2} << 30;
  // How this process describes itself to a second writer.
  std::string holder = "dossier";
  // Reads' audit events are appended (and a tree head signed) within this
  // delay; a crash loses at most this window of them.
  std::chrono::milliseconds audit_delay{1000};
};

// A logged-in user (or the recovery key) with their unsealed role keys.
// A copyable handle, usable from any thread; the keys live in
// sodium_malloc memory until the last copy is gone or Logout wipes them.
// A session follows membership changes: a role removed or a user disabled
// takes effect at the session's next call.
class Session {
 public:
  const std::string& user() const;
  // The roles held now.
  std::vector<std::string> roles() const;
  bool is_admin() const;
  bool is_recovery() const;
  // Logged out, or ended by the repository (user disabled, password reset).
  bool ended() const;
  struct Impl;
  explicit Session(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// An upload being received (Repository::BeginUpload). Not thread-safe:
// one writer. Destroying it unfinished discards every byte.
class Upload {
 public:
  ~Upload();
  // Encrypts and appends; Error(kTooLarge) once past the request's cap
  // (what came before is discarded too).
  void Write(std::string_view bytes);
  std::uint64_t size() const;
  struct Impl;
  explicit Upload(std::unique_ptr<Impl> impl);
  Impl& impl() { return *impl_; }
  std::unique_ptr<Impl> Release();

 private:
  std::unique_ptr<Impl> impl_;
};

class Repository {
 public:
  // Creates a new repository in `dir` (which must not exist or be empty),
  // its admin user, and the recovery key file outside it.
  static InitResult Init(const std::string& dir, const InitOptions& options);
  static std::unique_ptr<Repository> Open(const std::string& dir,
                                          const OpenOptions& options = {});
  // Whether the repository's server key needs a passphrase to open.
  static bool ServerKeyProtected(const std::string& dir);
  // Cancels running jobs (what they acknowledged stays) and waits for them.
  ~Repository();

  // ---- Sessions, users and roles ----
  // Throws Error(kUnauthenticated) for an unknown user or a wrong password
  // (the same message for both, after the same key derivation),
  // Error(kForbidden) for a disabled user. A user with a second factor
  // also needs `totp`, the code their authenticator shows now (RFC 6238,
  // 30 s steps, one step of drift either way, each code once):
  // Error(kSecondFactor) without it, Error(kUnauthenticated) for a wrong
  // or replayed one.
  Session Login(std::string_view user, std::string_view password, std::string_view totp = {});
  // Reads a recovery key file; throws Error(kUnauthenticated) if it is not
  // this repository's.
  Session LoginWithRecoveryKey(const std::string& key_file);
  // Wipes the session's keys; every copy of it stops working. Jobs it
  // started keep their own copy of the keys until they end.
  void Logout(const Session& session);

  // Admin: a new user who joins `roles` (the actor must hold each role's key).
  void AddUser(const Session& actor, const std::string& name,
               std::string_view password, const std::vector<std::string>& roles,
               bool admin = false);
  // Admin: a new role; the actor becomes its first member unless !join.
  void AddRole(const Session& actor, const std::string& name, bool join = true);
  // Admin holding the role's key: `user` joins `role`.
  void AddMember(const Session& actor, const std::string& role,
                 const std::string& user);
  // Admin holding the role's key: `user` leaves `role`. The role gets a new
  // key pair, sealed to its other members and the recovery key; its key
  // batches and case keys are re-sealed to it (one seal each, not one per
  // document), so the old key the user may have kept opens nothing written
  // or re-sealed from now on.
  void RemoveMember(const Session& actor, const std::string& role,
                    const std::string& user);
  // Admin holding the keys of the user's roles: the user can no longer log
  // in and leaves every role (each rotated as by RemoveMember); what they
  // did stays, under their name.
  void DisableUser(const Session& actor, const std::string& user);

  // The session's user changes their own password (the key pair stays, so
  // nothing is re-sealed). Error(kUnauthenticated) if `old_password` is
  // wrong. Other sessions of the user keep working: a server ends them.
  void ChangePassword(const Session& session, std::string_view old_password,
                      std::string_view new_password);
  // Admin holding the key of each of the user's roles (or the recovery
  // key): a forgotten password is replaced. The user gets a new key pair,
  // their role keys are re-sealed to it, their second factor is removed,
  // and their sessions end at their next call.
  void ResetPassword(const Session& actor, const std::string& user,
                     std::string_view new_password);
  // The session's own user (the recovery key: a user named "recovery").
  UserInfo CurrentUser(const Session& session);
  // Admin: every user and role, by name.
  std::vector<UserInfo> ListUsers(const Session& actor);
  std::vector<RoleInfo> ListRoles(const Session& actor);
  // A second factor for the session's user: BeginTotp makes a secret (kept
  // in the session until confirmed), ConfirmTotp stores it once `code`
  // proves the authenticator has it, RemoveTotp removes it (given a
  // current code). Error(kUnauthenticated) for a wrong code.
  TotpEnrollment BeginTotp(const Session& session);
  void ConfirmTotp(const Session& session, std::string_view code);
  void RemoveTotp(const Session& session, std::string_view code);

  // ---- Cases ----
  CaseInfo CreateCase(const Session& actor, const NewCase& c);
  // Many cases at once, in one transaction (all or none): an import.
  std::vector<CaseInfo> CreateCases(const Session& actor, const std::vector<NewCase>& cases);
  std::vector<CaseInfo> ListCases(const Session& actor);
  std::vector<CaseInfo> ListCases(const Session& actor, const CaseFilter& filter);
  // Error(kNotFound) also for a case the actor may not see.
  CaseInfo GetCase(const Session& actor, const std::string& case_id);
  // Admin able to open the case: seals its keys to `role` and moves its
  // documents to the new access set's shard. Blocks until done; StartGrant
  // runs it as a job. Error(kConflict) while an earlier grant or revoke of
  // the case is still moving documents.
  void GrantRole(const Session& actor, const std::string& case_id,
                 const std::string& role);
  void RevokeRole(const Session& actor, const std::string& case_id,
                  const std::string& role);

  // ---- Case management (repo/workflow.h) ----
  // Changes stage, status, risk, owner, assignees, title or description
  // (each change in the case's history, with the patch's reason); returns
  // the case after. Anyone who opens the case may change it; owner and
  // assignees must open it too (Error(kInvalidArgument) otherwise).
  CaseInfo UpdateCase(const Session& actor, const std::string& case_id, const CasePatch& patch);
  std::vector<CaseChange> CaseHistory(const Session& actor, const std::string& case_id);
  TaskInfo AddTask(const Session& actor, const std::string& case_id, const NewTask& task);
  // Error(kNotFound) for a task of a case the actor may not open.
  TaskInfo UpdateTask(const Session& actor, const std::string& task_id, const TaskPatch& patch);
  // Open tasks first, by due date.
  std::vector<TaskInfo> CaseTasks(const Session& actor, const std::string& case_id);
  // Across every case the actor may open (the overdue list).
  std::vector<TaskInfo> Tasks(const Session& actor, const TaskFilter& filter);
  NoteInfo AddNote(const Session& actor, const std::string& case_id, const std::string& text);
  std::vector<NoteInfo> CaseNotes(const Session& actor, const std::string& case_id);
  WorkflowSettings GetWorkflowSettings();
  void SetWorkflowSettings(const Session& actor, const WorkflowSettings& settings);  // admin
  // Cases by stage and risk, time in stage, cases past target, overdue
  // tasks per assignee, documents per case: over what the actor opens.
  WorkflowReport CaseReport(const Session& actor);
  // Fires the reminders due now (each once), into the inboxes of the
  // people concerned; returns them (serve passes them to its hook).
  std::vector<FiredReminder> RunReminders();
  // The actor's inbox, newest first.
  std::vector<NotificationInfo> Notifications(const Session& actor, bool unread_only = false,
                                              std::uint32_t limit = 100);
  void MarkNotificationsRead(const Session& actor, const std::vector<std::int64_t>& ids);

  // ---- Ingest ----
  // Starts an ingest job and returns its id at once (see GetJob). Requests
  // are checked first: a bad one throws here, not in the job.
  std::string StartIngest(const Session& actor, const IngestRequest& request);
  // Runs an ingest job to its end; `on_acknowledged` sees each document
  // once it is durable and searchable (after its group's index commit),
  // on this thread. Throws the job's error if it fails.
  IngestSummary Ingest(const Session& actor, const IngestRequest& request,
                       const std::function<void(const IngestedDocument&)>&
                           on_acknowledged = {});

  // Uploads: BeginUpload checks the request (the case must be visible) and
  // returns an Upload that encrypts bytes as they arrive into an unnamed
  // file of the repository, so an upload that is never finished (a client
  // that went away, a crash) leaves nothing behind. FinishUpload starts
  // its ingest job (as StartIngest) and returns the job id; the worker
  // gets the bytes decrypted into sealed memory, within the process's
  // budget of plaintext memory (OpenOptions::plaintext_budget).
  std::unique_ptr<Upload> BeginUpload(const Session& actor, const UploadRequest& request);
  std::string FinishUpload(const Session& actor, std::unique_ptr<Upload> upload);

  // ---- Jobs ----
  // A job is visible to the user who started it and to admins; to anyone
  // else it does not exist (Error(kNotFound)). Finished jobs stay readable
  // for OpenOptions::job_retention_seconds.
  std::string StartGrant(const Session& actor, const std::string& case_id,
                         const std::string& role);
  std::string StartRevoke(const Session& actor, const std::string& case_id,
                          const std::string& role);
  JobInfo GetJob(const Session& actor, const std::string& job_id);
  // Waits up to `timeout` for the job to acknowledge more than `seen`
  // documents or to end; appends the documents after `seen` to `more`.
  JobInfo WaitJob(const Session& actor, const std::string& job_id, std::size_t seen,
                  std::chrono::milliseconds timeout, std::vector<IngestedDocument>* more);
  // Everything the job acknowledged or skipped so far (all of it once it
  // ended), and its failure report: those of status error, unsupported or
  // skipped.
  IngestSummary JobSummary(const Session& actor, const std::string& job_id);
  std::vector<IngestedDocument> JobFailures(const Session& actor, const std::string& job_id);
  // Asks the job to stop: what it acknowledged stays, the rest is rolled
  // back as a crash would be. Returns at once; the job ends as cancelled.
  void CancelJob(const Session& actor, const std::string& job_id);

  // ---- Search and documents ----
  SearchResults Search(const Session& actor, const SearchRequest& request);
  // The documents in scope (a case, or every one the actor opens) that are
  // not fully searchable: errors, unsupported types, partially indexed, no
  // text. Reviewers disclose them beside their hit counts.
  ExceptionList SearchExceptions(const Session& actor, const std::string& case_id,
                                 std::uint32_t offset = 0, std::uint32_t limit = 100);
  // Every hit of a query (at most 100,000) with the columns of a review
  // export (CSV: see ExportCsv in views).
  std::vector<ExportRow> ExportHits(const Session& actor, const SearchRequest& request);
  // A search-term report: for each term (a full query) its hits, unique
  // hits, families hit and documents with their families; the total of
  // documents hit by any (see TermReport).
  TermReport SearchTerms(const Session& actor, const std::vector<std::string>& terms,
                         const std::string& case_id = "");
  // Tags: added and removed on one document (returns its tags), or on
  // every hit of a query (returns how many documents changed).
  std::vector<std::string> TagDocument(const Session& actor, const std::string& doc_id,
                                       const std::vector<std::string>& add,
                                       const std::vector<std::string>& remove);
  std::uint64_t TagMatching(const Session& actor, const std::string& query,
                            const std::string& case_id, const std::vector<std::string>& add,
                            const std::vector<std::string>& remove);
  // The roles that may set or remove the `privileged` tag (none: anyone
  // who opens the document); setting them needs the admin permission.
  std::vector<std::string> PrivilegedTagRoles();
  void SetPrivilegedTagRoles(const Session& actor, const std::vector<std::string>& roles);
  // Saved searches of the acting user.
  SavedSearch SaveSearch(const Session& actor, const std::string& name, const std::string& query,
                         const std::string& case_id = "");
  std::vector<SavedSearch> ListSavedSearches(const Session& actor);
  SavedSearchRun RunSavedSearch(const Session& actor, const std::string& id,
                                std::uint32_t offset = 0, std::uint32_t limit = 20);
  void DeleteSavedSearch(const Session& actor, const std::string& id);
  DocumentInfo GetDocument(const Session& actor, const std::string& doc_id);
  // The document's parent, children and duplicates the actor may open.
  DocumentFamily GetFamily(const Session& actor, const std::string& doc_id);
  // Documents whose extraction failed or is unsupported, across the cases
  // the actor can see (or one case): the failure report.
  std::vector<DocumentInfo> ListFailures(const Session& actor,
                                         const std::string& case_id = "");
  // The documents of a case the actor can open, oldest first.
  std::vector<DocumentInfo> ListDocuments(const Session& actor,
                                          const std::string& case_id);
  // What ReadContent would stream (name, type, exact size), checked
  // first: Error(kUnsupported) for a document without stored bytes,
  // Error(kCorrupt) for a duplicate whose original does not match. A server
  // answers with these before sending a byte.
  DocumentInfo ContentInfo(const Session& actor, const std::string& doc_id);
  // Streams the original bytes to `sink`. Throws Error(kCorrupt) if the blob
  // fails authentication at any point: bytes already passed to the sink
  // must then be discarded by the caller.
  void ReadContent(const Session& actor, const std::string& doc_id,
                   const std::function<void(std::string_view)>& sink);
  // The indexed text (up to the cap), decrypted and verified whole.
  std::string ReadText(const Session& actor, const std::string& doc_id);
  // Where `query` matches in that text (the ranges a page marks): the same
  // words, phrases and prefixes a search matches, found with the document's
  // own language. Error(kInvalidArgument) with a position for a malformed
  // query; the same errors as ReadText for the document.
  // `text`, if given, receives the text the ranges are of (read once).
  TextMatches MatchText(const Session& actor, const std::string& doc_id, const std::string& query,
                        std::string* text = nullptr);
  // An entity's documents and cases among those the actor may open.
  // `type` and `value` as a user writes them (normalised here);
  // Error(kInvalidArgument) for an unknown type or an invalid value.
  EntityOccurrences FindEntity(const Session& actor, const std::string& type, const std::string& value,
                               std::uint32_t limit = 50);

  // Case links (repo/links.h): the cases sharing entities with this one
  // in documents the actor may open, decided ones first, then by score,
  // each with the entities that make it and where they occur; the
  // deconfliction notices; the case's stop-entities. Error(kNotFound) for
  // a case the actor may not open.
  CaseLinks Links(const Session& actor, const std::string& case_id, std::uint32_t limit = 50);
  // decision: confirm, reject, add (a link no entity makes) or clear;
  // `why` is required but for clear. The actor must open both cases.
  void DecideLink(const Session& actor, const std::string& case_id, const std::string& other,
                  const std::string& decision, const std::string& why);
  // Stops an entity from linking cases (or lets it link again).
  void SetStopEntity(const Session& actor, const std::string& type, const std::string& value,
                     bool stop);
  // A case's neighbourhood for drawing: cases within `depth` (1-3) links
  // and the entities between them.
  LinkGraph Graph(const Session& actor, const std::string& case_id, int depth = 2);
  LinkSettings GetLinkSettings(const Session& actor);
  void SetLinkSettings(const Session& actor, const LinkSettings& settings);  // admin

  // ---- Audit trail (repo/audit.h) ----
  // Events in order (admins and the auditor role).
  std::vector<AuditEventInfo> AuditEvents(const Session& actor, const AuditFilter& filter);
  // Appends queued reads and signs a head over every event now.
  AuditHead SignedAuditHead();
  // The whole chain against its signed head and, if given, a head kept
  // elsewhere: the first event found wrong, or ok. Needs no session.
  AuditVerdict VerifyAudit(const std::optional<AuditHead>& against = std::nullopt);
  // One event's inclusion proof against the head (admins and auditors).
  AuditProof ProveAuditEvent(const Session& actor, std::uint64_t seq);
  // That the head of `first_size` events is a prefix of today's.
  AuditConsistency ProveAuditConsistency(std::uint64_t first_size);
  // The same three for a logged-in caller (the API): admins and auditors.
  AuditVerdict VerifyAudit(const Session& actor);
  AuditHead SignedAuditHead(const Session& actor);
  AuditConsistency ProveAuditConsistency(const Session& actor, std::uint64_t first_size);
  // A document's chain of custody (admins and auditors who may open it):
  // its intake hashes and every view, download, tag and change of it.
  CustodyReport DocumentCustody(const Session& actor, const std::string& doc_id);

  // Rebuilds every shard whose documents the actor can all open, from the
  // encrypted text store.
  ReindexSummary Reindex(const Session& actor);

  // Totals for monitoring (/metrics): no session, and nothing per role or
  // case. Counted at most once every few seconds; cheap to call often.
  RepositoryStats Stats();

  const std::string& dir() const;

  struct Impl;

 private:
  explicit Repository(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dossier::repo
