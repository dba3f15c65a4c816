// The values that cross repo::Repository's door: requests, results and the
// closed sets (statuses, stages, job states) as enums. Strings for them
// exist only at the JSON and command-line edge (the *Name and Parse*
// functions below, used by views.cpp and tools/).
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace dossier::repo {

// A document's status. kExists and kSkipped occur only in an ingest's
// summary: an item found already there (nothing added), and a file found
// while walking a directory that could not or must not be read (a
// symlink, FIFO, device, unreadable or vanished file, unreadable folder).
enum class DocStatus {
  kPending,      // written, not yet acknowledged (never returned by reads)
  kIndexed,      // stored and searchable
  kPartial,      // stored; text past the cap not indexed
  kDuplicate,    // same content as another document of its access set
  kUnsupported,  // stored, no text
  kError,        // stored, extraction failed (see `error`)
  kLink,         // an archive's symlink or hardlink: recorded, not followed
  kExists,       // summary only: same content from the same place
  kSkipped,      // summary only: not read (see `error`)
};
std::string_view StatusName(DocStatus status);
std::optional<DocStatus> ParseStatus(std::string_view name);
// error, unsupported and skipped: what the failure report lists.
bool IsFailure(DocStatus status);

enum class Stage {
  kScreening,
  kAssessment,
  kRiskAssessment,
  kPlanning,
  kImplementation,
  kFollowUp,
  kEvaluation,
};
std::string_view StageName(Stage stage);
std::optional<Stage> ParseStage(std::string_view name);

enum class Risk { kNone, kLow, kModerate, kHigh };
std::string_view RiskName(Risk risk);  // "" for kNone
std::optional<Risk> ParseRisk(std::string_view name);  // "" and "none" are kNone

enum class CaseStatus { kOpen, kClosed };
std::string_view CaseStatusName(CaseStatus status);
std::optional<CaseStatus> ParseCaseStatus(std::string_view name);

// Where a deadline stands: a task's due date or a stage's target.
enum class DeadlineState { kNone, kOnTrack, kDueSoon, kOverdue, kDone };
std::string_view DeadlineStateName(DeadlineState state);  // "" for kNone
// Every stage in the seeds' order (a board's columns).
const std::vector<Stage>& AllStages();

struct CaseInfo {
  std::string id;
  std::string title;
  std::string description;
  Stage stage = Stage::kScreening;
  Risk risk = Risk::kNone;
  CaseStatus status = CaseStatus::kOpen;
  std::string owner;
  std::vector<std::string> assignees;
  std::vector<std::string> roles;  // granted role names
  std::string phone_region;        // "" : the repository's default
  std::string created_at;          // RFC 3339 UTC
  std::string updated_at;
  std::int64_t document_count = 0;
  // When the case entered its stage, the stage's target (since + the
  // repository's target for it; "" if none) and where that stands.
  std::string stage_since;
  std::string stage_due;
  DeadlineState stage_state = DeadlineState::kNone;
};

// Which cases ListCases returns: all set conditions hold; `q` is a
// case-insensitive part of the title, description or id.
struct CaseFilter {
  std::optional<Stage> stage;
  std::optional<Risk> risk;
  std::optional<CaseStatus> status;
  std::string q;
};

// A change to a case (Repository::UpdateCase): only the fields set change.
// Owner and assignees are user names, each able to open the case.
struct CasePatch {
  std::optional<std::string> title, description;
  std::optional<Stage> stage;
  std::optional<Risk> risk;
  std::optional<CaseStatus> status;
  std::optional<std::string> owner;
  std::optional<std::vector<std::string>> assignees;
  std::string reason;  // optional, kept sealed with each change it explains
};

// One recorded change of a case's field (stage, status, risk, owner,
// assignees, title, description). Title and description changes record
// that they changed, not their text.
struct CaseChange {
  std::string at;  // RFC 3339
  std::string user;
  std::string field;
  std::string from, to;
  std::string reason;
};

struct TaskInfo {
  std::string id;
  std::string case_id;
  std::string title;
  std::string assignee;  // "" : nobody
  std::string due;       // RFC 3339, "" : none
  std::string done_at;   // "" : not done
  std::string created_at;
  std::string created_by;
  DeadlineState state = DeadlineState::kNone;  // kNone: open without a due date
};

struct NewTask {
  std::string title;
  std::string due;  // RFC 3339 or a date (YYYY-MM-DD: the end of that day, UTC); "" none
  std::string assignee;
};

// A change to a task: only the fields set change ("" due or assignee clears it).
struct TaskPatch {
  std::optional<std::string> title;
  std::optional<bool> done;
  std::optional<std::string> due;
  std::optional<std::string> assignee;
};

// Tasks across every case the actor may open.
struct TaskFilter {
  bool overdue_only = false;  // not done and past due
  bool open_only = true;      // not done
  std::string assignee;       // "" : anyone's
  std::uint32_t limit = 500;
};

struct NoteInfo {
  std::string id;
  std::string case_id;
  std::string author;
  std::string at;
  std::string text;
};

// Per repository: a target duration per stage (seconds; a stage left out
// has none) and how long before a deadline it is "due soon".
struct WorkflowSettings {
  std::map<Stage, std::int64_t> stage_targets;
  std::int64_t due_soon_seconds = 2 * 24 * 3600;
};

// A reminder addressed to one user: a task or a stage due soon or overdue.
struct NotificationInfo {
  std::int64_t id = 0;
  std::string kind;  // "task" or "stage"
  DeadlineState state = DeadlineState::kDueSoon;
  std::string case_id;
  std::string task_id;  // for a task
  std::string stage;    // for a stage
  std::string due;
  std::string at;       // when it fired
  bool read = false;
};

// A reminder that fired (Repository::RunReminders), as the serve hook gets
// it: ids, times and user names only.
struct FiredReminder {
  std::string kind;
  DeadlineState state = DeadlineState::kDueSoon;
  std::string case_id, task_id, stage;
  std::string due, fired_at;
  std::vector<std::string> recipients;
};

// Where cases stand, over the cases and documents the actor may open.
struct WorkflowReport {
  std::string at;  // the clock's time it was made
  struct StageRisk {
    Stage stage;
    Risk risk;
    std::int64_t cases = 0;
  };
  std::vector<StageRisk> open_by_stage;  // open cases, every stage x risk with cases
  std::int64_t closed = 0;
  struct StageTime {
    Stage stage;
    std::int64_t intervals = 0;  // times a case spent in it (ongoing ones to now)
    std::int64_t median_seconds = 0, p90_seconds = 0;
  };
  std::vector<StageTime> time_in_stage;  // every stage
  struct LateCase {
    std::string case_id, title;
    Stage stage;
    std::string since;
    std::int64_t target_seconds = 0, over_seconds = 0;
  };
  std::vector<LateCase> past_target;  // open cases past their stage's target
  std::map<std::string, std::int64_t> overdue_tasks;  // per assignee ("" nobody)
  struct CaseDocuments {
    std::string case_id, title;
    std::int64_t documents = 0;
  };
  std::vector<CaseDocuments> documents_per_case;
};

struct NewCase {
  NewCase() = default;
  NewCase(std::string t, std::string d, Risk r, std::vector<std::string> rs, std::string region = "")
      : title(std::move(t)), description(std::move(d)), risk(r), roles(std::move(rs)),
        phone_region(std::move(region)) {}
  std::string title;
  std::string description;
  Risk risk = Risk::kNone;
  std::vector<std::string> roles;
  // Reads phone numbers written without a country code in its documents
  // (ISO 3166 alpha-2, e.g. "ES"); "": the repository's default.
  std::string phone_region;
};

struct IngestProgress {
  std::uint64_t files_done = 0, files_total = 0;  // top-level files
  std::uint64_t bytes_done = 0, bytes_total = 0;  // of top-level files
  std::uint64_t items = 0;   // documents acknowledged, children included
  std::uint64_t errors = 0;  // of which error, unsupported or skipped
};

struct IngestRequest {
  std::string case_id;
  std::vector<std::string> paths;  // files and directories (recursive)
  std::string custodian;
  std::vector<std::string> restrict_to;  // role names; empty: the case's roles
  // The language to stem with when detection finds none ("en" by default).
  std::string language = "en";
  // Called by the blocking Repository::Ingest, on the caller's thread, as
  // the job moves on. (A job started with StartIngest reports through
  // GetJob and WaitJob instead.)
  std::function<void(const IngestProgress&)> on_progress;
  // When set, every file's path (its place, for "same place" dedup) is
  // taken relative to this directory instead of to its argument.
  std::string relative_to;
  // Re-extract top-level files whose document failed (status error or
  // unsupported) instead of treating them as already there; the failed
  // document is replaced once the new one is acknowledged. With no paths,
  // the case's top-level documents with status error and exactly this
  // request's restriction are re-extracted from their stored (encrypted)
  // originals, each with the custodian and path it was ingested with; the
  // actor must open them.
  bool retry_failed = false;
};

struct IngestedDocument {
  std::string id;        // empty for kSkipped
  std::string parent_id;
  std::string path;      // a top-level file's path in the ingested directory;
                         // a child's path inside its top-level container
  std::string filename;
  std::string sha256;
  std::string mime;
  DocStatus status = DocStatus::kIndexed;
  std::string error;     // why, for kError and kSkipped
  std::string duplicate_of;
  std::uint64_t size = 0;
};

struct IngestSummary {
  std::vector<IngestedDocument> documents;
  std::uint64_t bytes = 0;
};

struct SearchRequest {
  std::string query;
  std::string case_id;
  std::uint32_t offset = 0;
  std::uint32_t limit = 20;
  bool sort_by_date = false;
  bool family = false;    // each hit with its whole family (visible members)
  bool facets = false;    // count facets over every match
  bool snippets = true;
};

// A member of a hit's family (the email, its attachments, an archive's
// entries), for family=true.
struct FamilyMember {
  std::string document_id;
  std::string parent_id;
  std::string filename;
};

struct SearchHit {
  std::string document_id;
  std::string case_id;
  std::string parent_id;  // "" for a top-level document
  std::string family_id;  // the top of its family (itself if top-level)
  std::string filename;
  std::string date;       // YYYY-MM-DD, or "" if it has none
  std::string custodian;
  std::vector<std::string> tags;
  double score = 0;       // the Xapian weight
  std::string snippet;    // HTML-escaped, matches in <mark>…</mark>
  std::vector<FamilyMember> family;  // family=true: the other members
};

struct FacetValue {
  std::string value;
  std::uint64_t count = 0;
};

struct SearchResults {
  std::uint64_t total = 0;
  std::vector<SearchHit> hits;
  // facet name (type, custodian, language, case, tag, year) -> values by
  // count, highest first.
  std::map<std::string, std::vector<FacetValue>> facets;
  // Documents in scope (the case searched, or every one the user opens)
  // that are not fully searchable: errors, unsupported types, partially
  // indexed, no text (see ExceptionList).
  std::uint64_t exceptions = 0;
  std::vector<std::string> query_notes;  // how a repaired query was read
  // Hits of this page left out because their stored record is damaged
  // (the page is shorter by this many); `note` then says so.
  std::uint64_t damaged = 0;
  std::string note;
};

struct ExceptionDocument {
  std::string document_id;
  std::string case_id;
  std::string filename;
  std::string status;  // error, unsupported, partial, no_text
  std::string reason;
};
struct ExceptionList {
  std::uint64_t total = 0;
  std::vector<ExceptionDocument> documents;
};

// One row of a search-term report.
struct TermReportRow {
  std::string term;
  std::uint64_t hits = 0;
  std::uint64_t unique_hits = 0;       // hit by no other term of the list
  std::uint64_t families = 0;          // families with a hit
  std::uint64_t family_documents = 0;  // the hits with their whole families
  std::vector<std::string> notes;
};
// Where a query matches inside one document's text, for marking it in
// the page: [begin, end) in characters (Unicode code points) of the text
// ReadText gives, in order, a phrase as one range.
struct TextMatches {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  bool truncated = false;  // more matches than kMaxTextMatches
  std::vector<std::string> query_notes;
};
constexpr std::size_t kMaxTextMatches = 5000;
struct TermReport {
  std::vector<TermReportRow> rows;
  std::uint64_t total_documents = 0;         // hit by any term
  std::uint64_t total_family_documents = 0;  // those with their families
  std::uint64_t exceptions = 0;
};

// One row of a hit list's export.
struct ExportRow {
  std::string document_id, case_id, family_id, parent_id, filename, date, custodian, sha256,
      md5;
  std::vector<std::string> tags;
};

struct SavedSearch {
  std::string id;
  std::string name;
  std::string query;
  std::string case_id;
  std::string created_at;
  std::string last_run_at;  // "" if never run
  std::uint64_t last_total = 0;
};
struct SavedSearchRun {
  SavedSearch search;  // as it was before this run
  SearchResults results;
  std::uint64_t new_since_last_run = 0;  // hits added since it last ran
};

// An entity found in a document (the extraction workers find them; see
// indexer/entities.h), as its sealed metadata keeps it.
struct DocumentEntity {
  std::string type;   // email, phone, iban, card, ip, url, domain, btc, eth, money, date, name
  std::string value;  // normalised
  std::uint64_t count = 0;
  double weight = 0;
  std::vector<std::string> fields;  // the headers it came from (from, to, cc, bcc)
  std::vector<std::pair<std::uint64_t, std::uint64_t>> offsets;  // the first ones, bytes of the text
};

// Where one entity occurs among the documents the viewer may open: the
// cases holding it (with how many of their documents) and the first
// documents. Found by search (entity:TYPE:VALUE), so it shows exactly
// what a search shows.
struct EntityOccurrences {
  std::string type, value;  // normalised
  std::uint64_t total = 0;  // documents
  std::vector<FacetValue> cases;  // case id, documents
  std::vector<SearchHit> documents;  // the first ones, without snippets
};

// Case links (Repository::Links): two cases link when documents the
// viewer may open in each hold the same entity.
struct LinkEvidence {
  std::string doc_id, filename;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> offsets;  // the first ones, bytes of the text
};
struct SharedEntity {
  std::string type, value;
  double weight = 0;        // its part of the score: type weight x rarity
  std::uint64_t cases = 0;  // cases the viewer may open that hold it
  std::vector<LinkEvidence> here, there;  // the first documents in this case, in the other
};
struct CaseLink {
  std::string case_id, title;
  double score = 0;
  std::string state;      // suggested, confirmed, rejected, added
  bool reopened = false;  // rejected, but an entity of a type not seen then has appeared
  std::string decided_by, decided_at, why;  // "" when nobody decided
  std::vector<SharedEntity> shared;          // heaviest first
};
// A deconfliction notice. Outgoing: a case the viewer may not open shares
// entities with this one. Incoming: someone working on a case this
// case's roles may not open was told that it shares entities with this one.
struct LinkNotice {
  bool incoming = false;
  std::uint64_t shared = 0;          // entities
  std::vector<std::string> types;    // their types
  std::vector<std::string> contact;  // the roles granted on the other case
  std::string user, at;              // incoming: who was told, when (RFC 3339)
};
struct StopEntity {
  std::string type, value;
  std::uint64_t cases = 0;  // cases the viewer may open that hold it (at least the threshold)
  bool manual = false;      // set by hand
  std::string set_by, set_at;
};
struct LinkSettings {
  std::uint32_t stop_threshold = 50;  // an entity held by more cases than this stops linking
  std::string deconfliction = "notice";  // notice | none
  std::uint32_t notices_per_hour = 30;   // new outgoing notices per user
  // The region phone numbers without a country code are read in, unless
  // their case has its own (ISO 3166 alpha-2).
  std::string phone_region = "PT";
};
struct CaseLinks {
  std::string case_id;
  std::vector<CaseLink> links;
  std::vector<LinkNotice> notices;
  std::uint64_t notices_withheld = 0;  // new ones past the hourly limit (or on a read-only repository)
  std::vector<StopEntity> stop_entities;  // this case's entities that link no more
  LinkSettings settings;
};
struct GraphNode {
  std::string id;     // "case:ID" or "entity:N"
  std::string kind;   // case | entity
  std::string label;  // a case's title, an entity's value
  std::string type;   // an entity's type; a case: "" (or "root")
  std::string case_id;
};
struct GraphEdge {
  std::string from, to;
  double weight = 0;
  std::string kind;  // holds (case to entity) | link (a confirmed or added link)
};
struct LinkGraph {
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
  bool truncated = false;  // more cases than the graph shows
};

struct DocumentInfo {
  std::string id;
  std::string case_id;
  std::string parent_id;
  std::string filename;
  std::string path;
  std::string mime;
  std::uint64_t size = 0;
  std::string sha256;
  std::string md5;
  std::string error;  // why extraction failed, for status error
  std::map<std::string, std::string> fields;  // title, author, from, to, …
  std::string language;
  std::string custodian;
  std::optional<std::int64_t> mtime;  // the file's modification time (Unix), if known
  DocStatus status = DocStatus::kIndexed;
  std::string duplicate_of;
  std::uint64_t indexed_bytes = 0;
  std::string created_at;
  std::string date;               // the document's date (YYYY-MM-DD), if any
  std::vector<std::string> tags;  // sorted
  std::vector<DocumentEntity> entities;
};

struct RepositoryStats {
  std::uint64_t documents = 0;          // stored, of every case
  std::uint64_t extraction_errors = 0;  // of them, status error
  std::uint64_t active_jobs = 0;        // queued or running
  std::uint64_t audit_queued = 0;       // reads waiting to be appended to the trail
  std::uint64_t audit_dropped = 0;      // reads the trail could not take (its queue was full)
};

// A user as an admin sees them.
struct UserInfo {
  std::string name;
  bool admin = false;
  bool disabled = false;
  bool totp = false;  // a second factor is enrolled
  std::vector<std::string> roles;
  std::string created_at;
};

struct RoleInfo {
  std::string name;
  std::vector<std::string> members;
};

// A second factor being enrolled: shown once, as text and as a QR code of
// `uri` (otpauth://totp/...), until ConfirmTotp proves the user's
// authenticator has it.
struct TotpEnrollment {
  std::string secret_base32;
  std::string uri;
};

// A document's family as the actor may see it: its parent, its children
// (attachments, archive members), and the documents recorded as
// duplicates of it or of which it is a duplicate.
struct DocumentFamily {
  std::optional<DocumentInfo> parent;
  std::vector<DocumentInfo> children;
  std::vector<DocumentInfo> duplicates;
};

// One file arriving over the network (an archive or a mailbox brings its
// whole family), ingested as if it were at `path` inside a dropped folder.
struct UploadRequest {
  std::string case_id;
  std::string filename;  // its name; the last part of `path` if empty
  std::string path;      // where it was inside the dropped folder; `filename` if empty
  std::string custodian;
  std::vector<std::string> restrict_to;
  std::string language = "en";
  std::uint64_t max_bytes = std::uint64_t{2} << 30;  // Error(kTooLarge) past this
};

struct ReindexSummary {
  std::uint64_t shards_rebuilt = 0;
  std::uint64_t shards_skipped = 0;  // the actor cannot open all their documents
  std::uint64_t documents = 0;
  std::uint64_t entities_found = 0;  // documents ingested before entities were found, given theirs now
};

// Long work started through Repository runs as a job.
enum class JobKind { kIngest, kGrant, kRevoke };
enum class JobState { kQueued, kRunning, kDone, kFailed, kCancelled };
enum class JobPhase {
  kWaiting,     // queued behind another job of its kind
  kPreparing,   // checking the request, walking directories
  kExtracting,  // files going through the extraction workers
  kCommitting,  // the last groups being written
  kMoving,      // documents moving between index shards
  kFinished,
};
std::string_view JobKindName(JobKind kind);
std::string_view JobStateName(JobState state);
std::string_view JobPhaseName(JobPhase phase);

struct JobInfo {
  std::string id;
  JobKind kind = JobKind::kIngest;
  JobState state = JobState::kQueued;
  JobPhase phase = JobPhase::kWaiting;
  IngestProgress progress;
  std::string started_by;
  std::string case_id;
  std::string created_at, finished_at;  // RFC 3339; finished_at empty until it ends
  std::string error;                    // why it failed (kFailed)
  ErrorCode error_code = ErrorCode::kInternal;
  std::uint64_t documents = 0;          // acknowledged (or skipped) so far
};

// ---- Audit trail (repo/audit.h) ----
struct AuditEventInfo {
  std::uint64_t seq = 0;
  std::int64_t at = 0;
  std::string actor, action, target;
  std::string hash;         // its leaf hash, hex
  std::string detail_hash;  // hex; "" for an event without a detail
  std::string sealed;       // hex: the detail as sealed (for proofs)
  std::optional<std::string> detail;  // opened, for the auditor role and the recovery key
};
struct AuditFilter {
  std::string actor, action, target;  // exact; empty: any
  // The events of one case: on the case itself and on its documents. A
  // case's owner may list these (without the details) though not an auditor.
  std::string case_id;
  std::string detail;                 // events whose detail (a query) is exactly this
  std::int64_t since = 0, until = 0;  // seconds; 0: open
  std::uint64_t after = 0;            // events after this seq (paging)
  std::uint32_t limit = 100;          // at most 1000
};
// A signed tree head, everything hex but the numbers.
struct AuditHead {
  std::string repo_id;
  std::uint64_t size = 0;
  std::string root;
  std::int64_t at = 0;
  std::string signature, public_key;
};
struct AuditVerdict {
  bool ok = false;
  std::uint64_t events = 0;
  AuditHead head;
  std::uint64_t unsigned_events = 0;  // appended since the head (none after a flush)
  std::uint64_t first_bad = 0;        // the first event found wrong (0: none, or the head itself)
  std::string problem;                // what is wrong, for a person
};
struct AuditProof {
  AuditEventInfo event;
  std::string prev;                  // the hash it chains to, hex
  std::vector<std::string> path;     // RFC 9162 inclusion path, hex
  AuditHead head;
};
// A document's chain of custody: its intake record and every event on it.
struct CustodyReport {
  DocumentInfo document;
  std::vector<AuditEventInfo> events;  // in order
  bool truncated = false;              // more than the report holds (10,000)
};
struct AuditConsistency {
  std::uint64_t first_size = 0;
  std::string first_root;
  std::vector<std::string> path;     // RFC 9162 consistency path, hex
  AuditHead head;
};

}  // namespace dossier::repo
