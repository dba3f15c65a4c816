// The JSON bodies of the HTTP API (API.md), built from Repository results,
// as text. The CLI's --json prints exactly these, so the two never drift
// apart. (The JSON library stays inside views.cpp.)
#pragma once

#include <string>
#include <vector>

#include "repo/types.h"

namespace dossier::repo::views {

// `indent` < 0: compact; otherwise pretty-printed with that many spaces.
std::string Case(const CaseInfo& c, int indent = 2);
std::string Cases(const std::vector<CaseInfo>& cases, int indent = 2);
std::string Document(const DocumentInfo& d, int indent = 2);
// {"documents": [...]}: an ingest's summary.
std::string IngestSummaryBody(const IngestSummary& s, int indent = 2);
// {"failures": [...]}: the failure report.
std::string Failures(const std::vector<DocumentInfo>& failures, int indent = 2);
// {total, exceptions, hits, facets, query_note?, note?}
std::string Search(const SearchResults& r, int indent = 2);
// {total, documents:[{document_id, case_id, filename, status, reason}]}
std::string Exceptions(const ExceptionList& e, int indent = 2);
// A hit list as CSV: document_id, case_id, family_id, parent_id, filename,
// date, custodian, sha256, md5, tags (';'-separated).
std::string ExportCsv(const std::vector<ExportRow>& rows);
// {rows:[{term, hits, unique_hits, families, family_documents}],
//  total_documents, total_family_documents, exceptions}, and as CSV.
std::string TermReportJson(const TermReport& t, int indent = 2);
// {"matches": [[begin, end], …], "truncated", "query_note"}: characters of the text.
std::string TextMatchesJson(const TextMatches& m, int indent = 2);
// {type, value, total, cases: [{case_id, documents}], documents: [{document_id, case_id, filename, date}]}
std::string EntityJson(const EntityOccurrences& e, int indent = 2);
// {case_id, links:[{case_id, title, score, state, reopened, decided_by,
//  decided_at, why, shared:[{type, value, weight, cases, here:[…], there:[…]}]}],
//  notices:[{direction, shared, types, contact, user?, at?}], notices_withheld,
//  stop_entities:[{type, value, cases, manual, set_by, set_at}], settings}
std::string LinksJson(const CaseLinks& l, int indent = 2);
// {nodes:[{id, kind, label, type, case_id}], edges:[{from, to, weight, kind}], truncated}
std::string GraphJson(const LinkGraph& g, int indent = 2);
// {stop_threshold, deconfliction, notices_per_hour}
std::string LinkSettingsJson(const LinkSettings& s, int indent = 2);
std::string TermReportCsv(const TermReport& t);
std::string SavedSearchBody(const SavedSearch& s, int indent = 2);
// {searches:[…]}
std::string SavedSearches(const std::vector<SavedSearch>& list, int indent = 2);
// Search's body plus {search, new_since_last_run}.
std::string SavedSearchRunBody(const SavedSearchRun& run, int indent = 2);
// {tags:[…]}
std::string Tags(const std::vector<std::string>& tags, int indent = 2);
// A job; with `summary` (an ingest that ended) its documents too.
std::string Job(const JobInfo& j, int indent = 2, const IngestSummary* summary = nullptr);
// An ingest job's failure report as CSV (RFC 4180; a header line, then
// path, status, error, mime, sha256, document_id, parent_id). Cells that
// a spreadsheet would run as a formula are quoted with a leading '.
std::string FailuresCsv(const std::vector<IngestedDocument>& failures);
// A document with `family`: {parent, children, duplicates}.
std::string DocumentWithFamily(const DocumentInfo& d, const DocumentFamily& family,
                               int indent = 2);
// {"documents": [...]}: a case's documents.
std::string Documents(const std::vector<DocumentInfo>& docs, int indent = 2);
std::string Users(const std::vector<UserInfo>& users, int indent = 2);
std::string Roles(const std::vector<RoleInfo>& roles, int indent = 2);

// Audit trail. An event: {seq, at (seconds), time (RFC 3339), user,
// action, target, hash}. A head: {format, repo_id, size, root, at,
// signature, public_key}.
std::string AuditEventsJson(const std::vector<AuditEventInfo>& events, int indent = 2);
std::string AuditEventsCsv(const std::vector<AuditEventInfo>& events);
std::string AuditEventsJsonLines(const std::vector<AuditEventInfo>& events);
std::string AuditHeadJson(const AuditHead& h, int indent = 2);
// Error(kInvalidArgument) for text that is not such a head.
AuditHead ParseAuditHead(const std::string& text);
// {ok, events, unsigned_events, head, first_bad?, problem?}
std::string AuditVerdictJson(const AuditVerdict& v, int indent = 2);
// {format, event, prev, path, head}
std::string AuditProofJson(const AuditProof& p, int indent = 2);
// {format, first_size, first_root, path, head}
std::string AuditConsistencyJson(const AuditConsistency& c, int indent = 2);
// {document: {id, case_id, filename, path, custodian, mime, size, sha256,
//  md5, ingested_at}, events: [...], truncated}
std::string CustodyJson(const CustodyReport& r, int indent = 2);
// The intake record as field,value rows, a blank line, then the events.
std::string CustodyCsv(const CustodyReport& r);
// The same as a PDF (custody_pdf.cpp), made at `now` (seconds).
std::string CustodyPdf(const CustodyReport& r, std::int64_t now);

// One RFC 4180 cell, always quoted. A cell starting like a formula is
// defused with a leading ' (CSV injection).
std::string CsvCell(std::string v);

// Case management (views_workflow.cpp).
// {events:[{at, user, field, from, to, reason}]}
std::string CaseHistoryJson(const std::vector<CaseChange>& h, int indent = 2);
// {id, case_id, title, assignee, due, done, done_at, state, created_at, created_by}
std::string TaskJson(const TaskInfo& t, int indent = 2);
std::string TasksJson(const std::vector<TaskInfo>& tasks, int indent = 2);  // {tasks:[…]}
std::string TasksCsv(const std::vector<TaskInfo>& tasks);
std::string NoteJson(const NoteInfo& n, int indent = 2);
std::string NotesJson(const std::vector<NoteInfo>& notes, int indent = 2);  // {notes:[…]}
// {notifications:[{id, kind, state, case_id, task_id, stage, due, at, read}], unread}
std::string NotificationsJson(const std::vector<NotificationInfo>& n, int indent = 2);
// What the serve hook reads on standard input: {kind, state, case_id,
// task_id, stage, due, fired_at, recipients}; ids, times and names only.
std::string FiredReminderJson(const FiredReminder& r, int indent = -1);
std::string FiredRemindersJson(const std::vector<FiredReminder>& list, int indent = 2);
// {stage_targets:{stage: seconds}, due_soon_seconds}
std::string WorkflowSettingsJson(const WorkflowSettings& s, int indent = 2);
// Error(kInvalidArgument) for a body that is not such settings.
WorkflowSettings ParseWorkflowSettings(const std::string& text);
// The reports' names: cases-by-stage, time-in-stage, overdue, documents-per-case.
bool IsReportName(const std::string& name);
// One report ({report, at, rows:[…]} and, for overdue, tasks_per_assignee),
// or all of them keyed by name when `name` is "".
std::string ReportJson(const WorkflowReport& r, const std::string& name, int indent = 2);
std::string ReportCsv(const WorkflowReport& r, const std::string& name);

}  // namespace dossier::repo::views
