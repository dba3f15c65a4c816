// The dossier command line (API.md, "Command line"): what every command
// shares. Commands only translate arguments to repo::Repository calls and
// results to text or JSON. Exit codes: 0 ok, 1 failure, 2 usage (bad
// arguments, a malformed query).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "repo/repository.h"

namespace dossier::tools {

// Every flag of every command; each command reads the ones it declares.
struct Options {
  std::string dir;
  std::string user;
  std::string password_file;
  std::string new_password_file;
  std::string passphrase_file;
  std::string recovery_key;
  std::string recovery_key_out;
  std::string admin;
  bool no_protect = false;
  bool json = false;
  bool no_join = false;
  bool make_admin = false;
  std::string name;   // user or role name
  std::string member; // a user, for role remove-member
  std::string roles;  // comma list
  std::string title, description, risk;
  std::string case_id, role;
  std::vector<std::string> paths;
  std::string custodian, restrict_to, language = "en";
  std::string query, sort = "relevance";
  std::uint32_t limit = 20, offset = 0;
  bool family = false, facets = false, csv = false;
  std::string terms_file, add_tags, remove_tags, search_id;
  std::vector<std::string> privileged_roles;
  bool set_policy = false;
  std::string doc_id, out_file;
  std::string match_query;  // get --text --matches
  bool text = false;
  // links
  std::string confirm, reject, add_link, clear_link, why, stop_entity, unstop_entity;
  bool graph = false, link_settings = false;
  int depth = 2;
  std::int64_t stop_threshold = -1, notices_per_hour = -1;
  std::string deconfliction, phone_region;
  // ingest
  bool failures = false, retry = false;
  std::string format = "json";
  // watch
  int interval = 5;
  bool once = false;
  std::string folder;
  // audit
  std::string against, action_filter, target_filter, since_time, case_filter;
  std::uint64_t seq = 0, since_size = 0, after_seq = 0;
  bool jsonl = false, pdf = false;
  // case management
  std::string stage, status, owner, assignees, reason, due, assignee, note_text, task_id;
  std::string notify_command, report_name, case_query;
  bool title_set = false, description_set = false, owner_set = false, assignees_set = false;
  bool due_set = false, assignee_set = false, risk_set = false;
  bool overdue = false, all_tasks = false, done = false, reopen = false, unread = false, read_all = false;
  std::vector<std::string> stage_targets;  // STAGE=DAYS
  double due_soon_days = -1;
  int remind_every = 60;
  // login
  std::string totp;
  // serve
  std::string listen = "127.0.0.1:8080";
  int threads = 0;
  std::string tls_cert, tls_key, web_root, clock_offset_file;
  std::vector<std::string> trusted_proxies;
  std::uint64_t upload_cap = std::uint64_t{2} << 30;
  bool metrics_public = false;
};

// The one place that maps error codes to exit codes.
int ExitCodeFor(ErrorCode code);
std::vector<std::string> SplitList(const std::string& s);
// Argon2id cost for keys this process creates: DOSSIER_PASSWORD_COST=
// interactive is for test suites only (much faster, much weaker).
crypto::PasswordCost CostFromEnv();
std::unique_ptr<repo::Repository> OpenRepo(const Options& o, bool read_only);
// The acting user (--user or $DOSSIER_USER) and their one-time code
// (--totp or $DOSSIER_TOTP; "" if none).
std::string ActingUser(const Options& o);
std::string TotpCode(const Options& o);
// The acting user's session (or the recovery key's).
repo::Session Act(repo::Repository& r, const Options& o);

// The commands, by group (cmd_*.cpp). Each returns an exit code.
int RunInit(const Options& o);
int RunUserAdd(const Options& o);
int RunUserDisable(const Options& o);
int RunUserPasswd(const Options& o);
int RunUserResetPassword(const Options& o);
int RunUserList(const Options& o);
int RunRoleList(const Options& o);
int RunServe(const Options& o);
int RunSearchTerms(const Options& o);
int RunExceptions(const Options& o);
int RunTag(const Options& o);
int RunTagPolicy(const Options& o);
int RunSavedAdd(const Options& o);
int RunSavedList(const Options& o);
int RunSavedRun(const Options& o);
int RunSavedDelete(const Options& o);
int RunRoleAdd(const Options& o);
int RunRoleRemoveMember(const Options& o);
int RunCaseCreate(const Options& o);
int RunCaseList(const Options& o);
int RunCaseShow(const Options& o);
int RunCaseGrant(const Options& o, bool grant);
int RunCaseUpdate(const Options& o);  // case stage and case update
int RunCaseHistory(const Options& o);
int RunCaseTargets(const Options& o);
int RunTaskAdd(const Options& o);
int RunTaskList(const Options& o);
int RunTaskUpdate(const Options& o);
int RunNoteAdd(const Options& o);
int RunNoteList(const Options& o);
int RunRemind(const Options& o);
int RunNotifications(const Options& o);
int RunReport(const Options& o);
int RunIngest(const Options& o);
int RunWatch(const Options& o);
int RunSearch(const Options& o);
int RunEntities(const Options& o);
int RunLinks(const Options& o);
int RunAuditVerify(const Options& o);
int RunAuditHead(const Options& o);
int RunAuditProve(const Options& o);
int RunAuditList(const Options& o);
int RunAuditCustody(const Options& o);
int RunGet(const Options& o);
int RunReindex(const Options& o);

}  // namespace dossier::tools
