// What happens in a repository, as events: every change and every read
// passes through one event sink (repo/context.h), which the audit issue
// turns into the audit trail. Today the sink only hands each event to an
// optional observer (OpenOptions::on_event); the call sites are what
// matter: no later feature has to find every write and read again.
// An event names ids, never titles, names of files or content in clear.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dossier::repo {

enum class EventKind {
  // Sessions and people.
  kLogin,
  kLoginFailed,
  kLogout,
  kUserAdded,
  kUserDisabled,
  kRoleAdded,
  kMemberAdded,
  kMemberRemoved,  // the role's keys were rotated
  kPasswordChanged,
  kPasswordReset,  // by an admin: a new key pair
  kSecondFactorChanged,
  // Cases and access.
  kCaseCreated,
  kCaseRead,
  kGranted,
  kRevoked,
  // Documents.
  kIngestStarted,
  kIngestFinished,
  kDocumentAdded,
  kDocumentRead,  // metadata
  kContentRead,   // original bytes
  kTextRead,      // extracted text
  kSearched,
  kReindexed,
  kJobCancelled,
  kTagged,         // tags set or removed on a document
  kSearchSaved,
  kHitsExported,   // a hit list exported (target: its case filter; detail: the query)
  kDocumentExported,  // one document of an exported hit list (for its chain of custody)
  kTermReport,     // a search-term report run
  // Links.
  kLinksRead,      // a case's links listed
  kLinkDecided,    // a link confirmed, rejected, added or cleared
  kLinkNotice,     // a deconfliction notice given (target: the restricted case)
  kStopEntitySet,  // a stop-entity set or cleared by hand
  kLinkSettings,   // the linking settings changed
  // Case management.
  kCaseChanged,    // stage, status, risk, owner, assignees, title or description
  kTaskAdded,      // target: the case; detail: the task id
  kTaskChanged,
  kNoteAdded,
  kWorkflowRead,   // a case's history, tasks or notes, a task list, a report
  kReminded,       // a reminder fired (actor ""); target: the case
  kWorkflowSettings,  // stage targets changed
};

struct Event {
  EventKind kind;
  std::string actor;   // user name, "recovery", or "" before a login
  std::string target;  // a case, document, job, user or role id/name
  std::int64_t at = 0; // seconds since the epoch, from the repository's clock
  bool change = false; // a change (written with it) or a read
  // What the event is about beyond ids (a search's query): the trail keeps
  // it sealed to the auditor role and the recovery key, and its keyed hash.
  std::string detail;
};

}  // namespace dossier::repo
