// dossier: the command-line face of repo::Repository (see API.md,
// "Command line"). This file declares the commands and their flags, one
// function per group; the bodies are in cmd_*.cpp. Exit codes: 0 ok,
// 1 failure, 2 usage (bad arguments, malformed query).
#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <iostream>

#include "tools/cli.h"

namespace dossier::tools {
namespace {

using Action = std::function<int()>;

void Acting(CLI::App* c, Options& o) {
  c->add_option("--user", o.user, "acting user (default: $DOSSIER_USER)");
  c->add_option("--password-file", o.password_file,
                "file holding the acting user's password (or $DOSSIER_PASSWORD, or a prompt)");
  c->add_option("--passphrase-file", o.passphrase_file,
                "file holding the server-key passphrase (or $DOSSIER_PASSPHRASE, or a prompt)");
  c->add_option("--totp", o.totp,
                "the acting user's one-time code, if they have a second factor (or $DOSSIER_TOTP)");
}
void WithDir(CLI::App* c, Options& o) {
  c->add_option("DIR", o.dir, "repository directory")->required();
}
void WithRecovery(CLI::App* c, Options& o) {
  c->add_option("--recovery-key", o.recovery_key, "act with the recovery key");
}
// The command runs `run` once the whole command line has parsed.
void Runs(CLI::App* c, Action& action, Action run) {
  c->callback([&action, run] { action = run; });
}

void DeclareInit(CLI::App& app, Options& o, Action& action) {
  auto* init = app.add_subcommand("init", "create a new repository");
  WithDir(init, o);
  init->add_option("--admin", o.admin, "name of the first (admin) user")->required();
  init->add_option("--recovery-key-out", o.recovery_key_out,
                   "where to write the recovery key (default: DIR.recovery-key, never inside DIR)");
  init->add_flag("--no-protect", o.no_protect, "store the server key without a passphrase (demos only)");
  init->add_option("--password-file", o.password_file, "file holding the admin's password");
  init->add_option("--passphrase-file", o.passphrase_file, "file holding the server-key passphrase");
  Runs(init, action, [&o] { return RunInit(o); });
}

void DeclareUsersAndRoles(CLI::App& app, Options& o, Action& action) {
  auto* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  auto* add = user->add_subcommand("add", "add a user (admin; needs a member of each role)");
  WithDir(add, o);
  add->add_option("USER", o.name, "new user's name")->required();
  add->add_option("--roles", o.roles, "comma-separated roles the user joins");
  add->add_flag("--admin", o.make_admin, "give the new user the admin permission");
  add->add_option("--new-password-file", o.new_password_file,
                  "file holding the new user's password (or a prompt)");
  WithRecovery(add, o);
  Acting(add, o);
  Runs(add, action, [&o] { return RunUserAdd(o); });
  auto* disable = user->add_subcommand(
      "disable", "end a user's access (admin holding their roles): no more logins, every role "
                 "they held rotated; what they did stays under their name");
  WithDir(disable, o);
  disable->add_option("USER", o.name, "the user")->required();
  WithRecovery(disable, o);
  Acting(disable, o);
  Runs(disable, action, [&o] { return RunUserDisable(o); });

  auto* passwd = user->add_subcommand("passwd", "change the acting user's own password");
  WithDir(passwd, o);
  passwd->add_option("--new-password-file", o.new_password_file,
                     "file holding the new password (or a prompt)");
  Acting(passwd, o);
  Runs(passwd, action, [&o] { return RunUserPasswd(o); });
  auto* reset = user->add_subcommand(
      "reset-password", "replace a user's forgotten password (admin holding each of their roles, "
                        "or --recovery-key): their role keys are re-sealed to a new key pair");
  WithDir(reset, o);
  reset->add_option("USER", o.name, "the user")->required();
  reset->add_option("--new-password-file", o.new_password_file,
                    "file holding the new password (or a prompt)");
  WithRecovery(reset, o);
  Acting(reset, o);
  Runs(reset, action, [&o] { return RunUserResetPassword(o); });
  auto* ulist = user->add_subcommand("list", "list users (admin)");
  WithDir(ulist, o);
  ulist->add_flag("--json", o.json, "print the API's JSON body");
  WithRecovery(ulist, o);
  Acting(ulist, o);
  Runs(ulist, action, [&o] { return RunUserList(o); });

  auto* role = app.add_subcommand("role", "manage roles");
  role->require_subcommand(1);
  auto* radd = role->add_subcommand("add", "add a role (admin); you become its first member");
  WithDir(radd, o);
  radd->add_option("ROLE", o.name, "role name")->required();
  radd->add_flag("--no-join", o.no_join, "do not join the new role");
  WithRecovery(radd, o);
  Acting(radd, o);
  Runs(radd, action, [&o] { return RunRoleAdd(o); });
  auto* rm = role->add_subcommand(
      "remove-member", "take a user out of a role (admin holding it): the role's keys are rotated, "
                       "so the key they held opens nothing from now on");
  WithDir(rm, o);
  rm->add_option("ROLE", o.name, "role name")->required();
  rm->add_option("USER", o.member, "the member to remove")->required();
  WithRecovery(rm, o);
  Acting(rm, o);
  Runs(rm, action, [&o] { return RunRoleRemoveMember(o); });
  auto* rlist = role->add_subcommand("list", "list roles and their members (admin)");
  WithDir(rlist, o);
  rlist->add_flag("--json", o.json, "print the API's JSON body");
  WithRecovery(rlist, o);
  Acting(rlist, o);
  Runs(rlist, action, [&o] { return RunRoleList(o); });
}

void DeclareAudit(CLI::App& app, Options& o, Action& action) {
  auto* audit = app.add_subcommand("audit", "the audit trail: verify it, export its signed head, prove events, list them");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "check every event against the chain and the signed head (exit 1 naming the first bad one)");
  WithDir(verify, o);
  verify->add_option("--against", o.against, "a head exported earlier (dossier audit head), kept elsewhere");
  verify->add_option("--passphrase-file", o.passphrase_file, "file holding the server-key passphrase");
  verify->add_flag("--json", o.json, "print the API's JSON body");
  Runs(verify, action, [&o] { return RunAuditVerify(o); });
  auto* head = audit->add_subcommand("head", "sign and print the head of the trail, to keep elsewhere");
  WithDir(head, o);
  head->add_option("-o,--output", o.out_file, "write it to this file instead");
  head->add_option("--passphrase-file", o.passphrase_file, "file holding the server-key passphrase");
  Runs(head, action, [&o] { return RunAuditHead(o); });
  auto* prove = audit->add_subcommand(
      "prove", "an event's inclusion proof (or, with --since, a consistency proof) for scripts/audit_check.py");
  WithDir(prove, o);
  prove->add_option("SEQ", o.seq, "the event's number")->check(CLI::PositiveNumber);
  prove->add_option("--since", o.since_size, "prove instead that the head of this many events is a prefix")
      ->check(CLI::PositiveNumber);
  prove->add_option("-o,--output", o.out_file, "write it to this file instead");
  Acting(prove, o);
  Runs(prove, action, [&o] { return RunAuditProve(o); });
  auto* list = audit->add_subcommand("list", "events in order (admins and the auditor role)");
  WithDir(list, o);
  list->add_option("--by", o.name, "only this user's events");
  list->add_option("--action", o.action_filter, "only this action (login, searched, case_created, …)");
  list->add_option("--target", o.target_filter, "only events on this case, document, user or role");
  list->add_option("--case", o.case_filter,
                   "the events of this case and its documents (also for the case's owner)");
  list->add_option("--detail", o.query, "only events whose detail (a search's query) is exactly this");
  list->add_option("--since", o.since_time, "only from this time (RFC 3339)");
  list->add_option("--after", o.after_seq, "only events after this number (paging)");
  list->add_option("--limit", o.limit, "events listed (default 20, at most 1000)")->check(CLI::Range(1, 1000));
  list->add_flag("--csv", o.csv, "print CSV");
  list->add_flag("--jsonl", o.jsonl, "print JSON lines");
  list->add_flag("--json", o.json, "print the API's JSON body");
  Acting(list, o);
  Runs(list, action, [&o] { return RunAuditList(o); });
  auto* custody = audit->add_subcommand(
      "custody", "a document's chain of custody: intake hashes and every view, download, tag and change of it");
  WithDir(custody, o);
  custody->add_option("DOC_ID", o.doc_id, "the document")->required();
  custody->add_flag("--csv", o.csv, "CSV instead of JSON");
  custody->add_flag("--pdf", o.pdf, "a PDF (with -o FILE)");
  custody->add_option("-o,--output", o.out_file, "write it to this file instead");
  Acting(custody, o);
  Runs(custody, action, [&o] { return RunAuditCustody(o); });
}

void DeclareServe(CLI::App& app, Options& o, Action& action) {
  auto* sv = app.add_subcommand("serve", "serve the HTTP API and the web page (Ctrl-C stops)");
  WithDir(sv, o);
  sv->add_option("--listen", o.listen, "ADDRESS:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  sv->add_option("--threads", o.threads, "network threads and query workers (default: one per core)")
      ->check(CLI::Range(0, 256));
  sv->add_option("--tls-cert", o.tls_cert, "PEM certificate chain: serve HTTPS");
  sv->add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert");
  sv->add_option("--trusted-proxy", o.trusted_proxies,
                 "address of a reverse proxy whose X-Forwarded-For names the client (repeatable)");
  sv->add_option("--upload-cap", o.upload_cap, "largest upload in bytes (default 2 GiB)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  sv->add_option("--web", o.web_root, "folder of the web page's files (default: web/ beside the binary)");
  sv->add_flag("--metrics-public", o.metrics_public, "answer /metrics to any client, not only loopback");
  sv->add_option("--notify-command", o.notify_command,
                 "shell command run for each reminder that fires, its JSON (ids, times, user names) on "
                 "standard input");
  sv->add_option("--remind-every", o.remind_every, "seconds between reminder checks (default 60)")
      ->check(CLI::Range(1, 86400));
  sv->add_option("--passphrase-file", o.passphrase_file,
                 "file holding the server-key passphrase (or $DOSSIER_PASSPHRASE, or a prompt)");
  // Tests only: the server's clock runs this many seconds (read from the
  // file at each use) ahead of the system's, to test expiry without waiting.
  sv->add_option("--test-clock-offset-file", o.clock_offset_file)->group("");
  Runs(sv, action, [&o] { return RunServe(o); });
}

void DeclareCases(CLI::App& app, Options& o, Action& action) {
  auto* cs = app.add_subcommand("case", "manage cases");
  cs->require_subcommand(1);
  auto* cc = cs->add_subcommand("create", "create a case");
  WithDir(cc, o);
  cc->add_option("--title", o.title, "case title")->required();
  cc->add_option("--description", o.description, "case description");
  cc->add_option("--roles", o.roles, "comma-separated roles granted on the case")->required();
  cc->add_option("--phone-region", o.phone_region,
                 "read phone numbers without a country code as this region's (ES, PT, …; default: the repository's)");
  cc->add_option("--risk", o.risk, "low, moderate or high")
      ->check(CLI::IsMember({"low", "moderate", "high"}));
  cc->add_flag("--json", o.json, "print the API's JSON body");
  Acting(cc, o);
  Runs(cc, action, [&o] { return RunCaseCreate(o); });
  auto* cl = cs->add_subcommand("list", "list the cases you can see");
  WithDir(cl, o);
  cl->add_option("--stage", o.stage, "only cases in this stage");
  cl->add_option("--risk", o.risk, "only cases of this risk (none, low, moderate, high)")
      ->check(CLI::IsMember({"none", "low", "moderate", "high"}));
  cl->add_option("--status", o.status, "open or closed")->check(CLI::IsMember({"open", "closed"}));
  cl->add_option("--q", o.case_query, "only cases whose title or id holds this");
  cl->add_flag("--json", o.json, "print the API's JSON body");
  Acting(cl, o);
  Runs(cl, action, [&o] { return RunCaseList(o); });
  auto* show = cs->add_subcommand("show", "show one case");
  WithDir(show, o);
  show->add_option("CASE", o.case_id, "case id")->required();
  show->add_flag("--json", o.json, "print the API's JSON body");
  Acting(show, o);
  Runs(show, action, [&o] { return RunCaseShow(o); });
  for (const bool grant : {true, false}) {
    auto* g = cs->add_subcommand(grant ? "grant" : "revoke",
                                 grant ? "grant a role on a case (re-seals keys, moves shards)"
                                       : "revoke a role from a case");
    WithDir(g, o);
    g->add_option("CASE", o.case_id, "case id")->required();
    g->add_option("ROLE", o.role, "role name")->required();
    WithRecovery(g, o);
    Acting(g, o);
    Runs(g, action, [&o, grant] { return RunCaseGrant(o, grant); });
  }
}

// Case management: stages, tasks, notes, reminders and reports.
void DeclareWorkflow(CLI::App& app, Options& o, Action& action) {
  CLI::App* cs = app.get_subcommand("case");
  const auto with_json = [&o](CLI::App* c) { c->add_flag("--json", o.json, "print the API's JSON body"); };
  auto* stage = cs->add_subcommand("stage", "move a case to a stage (any move is allowed and recorded)");
  WithDir(stage, o);
  stage->add_option("CASE", o.case_id, "case id")->required();
  stage->add_option("STAGE", o.stage,
                    "screening, assessment, risk_assessment, planning, implementation, follow_up or evaluation")
      ->required();
  stage->add_option("--reason", o.reason, "why (kept sealed in the case's history)");
  with_json(stage);
  Acting(stage, o);
  Runs(stage, action, [&o] { return RunCaseUpdate(o); });

  auto* up = cs->add_subcommand("update", "change a case's stage, status, risk, owner, assignees, title or description");
  WithDir(up, o);
  up->add_option("CASE", o.case_id, "case id")->required();
  up->add_option("--stage", o.stage, "the new stage");
  up->add_option("--status", o.status, "open or closed")->check(CLI::IsMember({"open", "closed"}));
  auto* risk = up->add_option("--risk", o.risk, "none, low, moderate or high")
                   ->check(CLI::IsMember({"none", "low", "moderate", "high"}));
  auto* owner = up->add_option("--owner", o.owner, "a user who can open the case");
  auto* assignees = up->add_option("--assignees", o.assignees, "comma-separated users who can open the case ('' for none)");
  auto* title = up->add_option("--title", o.title, "new title");
  auto* description = up->add_option("--description", o.description, "new description");
  up->add_option("--reason", o.reason, "why (kept sealed in the case's history)");
  with_json(up);
  Acting(up, o);
  Runs(up, action, [&o, risk, owner, assignees, title, description] {
    o.risk_set = risk->count() > 0;
    o.owner_set = owner->count() > 0;
    o.assignees_set = assignees->count() > 0;
    o.title_set = title->count() > 0;
    o.description_set = description->count() > 0;
    return RunCaseUpdate(o);
  });

  auto* hist = cs->add_subcommand("history", "a case's recorded changes: who, when, from, to, why");
  WithDir(hist, o);
  hist->add_option("CASE", o.case_id, "case id")->required();
  with_json(hist);
  Acting(hist, o);
  Runs(hist, action, [&o] { return RunCaseHistory(o); });

  auto* tg = cs->add_subcommand("targets", "show, or (admin) set, the target time of each stage");
  WithDir(tg, o);
  tg->add_option("--set", o.stage_targets, "STAGE=DAYS, or STAGE=none (repeatable)");
  tg->add_option("--due-soon-days", o.due_soon_days, "how many days before a deadline it is due soon")
      ->check(CLI::Range(0.0, 365.0));
  with_json(tg);
  Acting(tg, o);
  Runs(tg, action, [&o] { return RunCaseTargets(o); });

  auto* task = app.add_subcommand("task", "a case's tasks: add, list, update");
  task->require_subcommand(1);
  auto* ta = task->add_subcommand("add", "add a task to a case");
  WithDir(ta, o);
  ta->add_option("CASE", o.case_id, "case id")->required();
  ta->add_option("--title", o.title, "what is to be done")->required();
  ta->add_option("--due", o.due, "YYYY-MM-DD (the end of that day, UTC) or an RFC 3339 time");
  ta->add_option("--assignee", o.assignee, "a user who can open the case");
  with_json(ta);
  Acting(ta, o);
  Runs(ta, action, [&o] { return RunTaskAdd(o); });
  auto* tl = task->add_subcommand("list", "tasks of a case, or across every case you can open");
  WithDir(tl, o);
  tl->add_option("CASE", o.case_id, "only this case");
  tl->add_flag("--overdue", o.overdue, "only tasks past their due date");
  tl->add_option("--assignee", o.assignee, "only this user's tasks");
  tl->add_flag("--all", o.all_tasks, "done tasks too");
  tl->add_option("--limit", o.limit, "at most this many (across cases)");
  tl->add_flag("--csv", o.csv, "as CSV");
  with_json(tl);
  Acting(tl, o);
  Runs(tl, action, [&o] { return RunTaskList(o); });
  auto* tu = task->add_subcommand("update", "change a task, or mark it done");
  WithDir(tu, o);
  tu->add_option("TASK", o.task_id, "task id")->required();
  auto* ttitle = tu->add_option("--title", o.title, "new title");
  auto* due = tu->add_option("--due", o.due, "new due date ('' clears it)");
  auto* assignee = tu->add_option("--assignee", o.assignee, "new assignee ('' for nobody)");
  tu->add_flag("--done", o.done, "mark it done");
  tu->add_flag("--reopen", o.reopen, "mark it not done");
  with_json(tu);
  Acting(tu, o);
  Runs(tu, action, [&o, ttitle, due, assignee] {
    o.title_set = ttitle->count() > 0;
    o.due_set = due->count() > 0;
    o.assignee_set = assignee->count() > 0;
    return RunTaskUpdate(o);
  });

  auto* note = app.add_subcommand("note", "a case's notes: add, list");
  note->require_subcommand(1);
  auto* na = note->add_subcommand("add", "add a note to a case");
  WithDir(na, o);
  na->add_option("CASE", o.case_id, "case id")->required();
  na->add_option("--text", o.note_text, "the note ('-': read it from standard input)")->required();
  with_json(na);
  Acting(na, o);
  Runs(na, action, [&o] { return RunNoteAdd(o); });
  auto* nl = note->add_subcommand("list", "a case's notes, oldest first");
  WithDir(nl, o);
  nl->add_option("CASE", o.case_id, "case id")->required();
  with_json(nl);
  Acting(nl, o);
  Runs(nl, action, [&o] { return RunNoteList(o); });

  auto* rm = app.add_subcommand("remind", "fire the reminders due now, each once (what serve does every minute)");
  WithDir(rm, o);
  rm->add_option("--hook", o.notify_command,
                 "run this shell command for each reminder, its JSON on standard input");
  rm->add_option("--passphrase-file", o.passphrase_file,
                 "file holding the server-key passphrase (or $DOSSIER_PASSPHRASE, or a prompt)");
  with_json(rm);
  Runs(rm, action, [&o] { return RunRemind(o); });

  auto* nt = app.add_subcommand("notifications", "your reminders: tasks and stages due soon or overdue");
  WithDir(nt, o);
  nt->add_flag("--unread", o.unread, "only unread ones");
  nt->add_flag("--read-all", o.read_all, "then mark them all read");
  nt->add_option("--limit", o.limit, "at most this many");
  with_json(nt);
  Acting(nt, o);
  Runs(nt, action, [&o] { return RunNotifications(o); });

  auto* rp = app.add_subcommand("report", "where cases stand, over what you can open");
  WithDir(rp, o);
  rp->add_option("NAME", o.report_name, "cases-by-stage, time-in-stage, overdue or documents-per-case (default: all)");
  rp->add_flag("--csv", o.csv, "as CSV (one named report)");
  with_json(rp);
  Acting(rp, o);
  Runs(rp, action, [&o] { return RunReport(o); });
}

void DeclareIngest(CLI::App& app, Options& o, Action& action) {
  auto* ing = app.add_subcommand("ingest", "ingest files and directories into a case");
  WithDir(ing, o);
  ing->add_option("--case", o.case_id, "case id");
  ing->add_option("PATH", o.paths,
                  "files or directories (recursive): any format; archives and mail are expanded "
                  "into families");
  ing->add_option("--custodian", o.custodian, "whose data this is");
  ing->add_option("--restrict", o.restrict_to, "comma-separated subset of the case's roles");
  ing->add_option("--language", o.language,
                  "language to stem with when detection finds none (default en)");
  ing->add_flag("--failures", o.failures,
                "print the failure report (which item, where in its family, why) instead of ingesting");
  ing->add_flag("--retry-failed", o.retry,
                "extract again the files whose documents failed: with no PATH, from their stored "
                "originals; with PATHs, from those files (others are skipped as existing)");
  ing->add_option("--format", o.format, "failure report format: json or csv")
      ->check(CLI::IsMember({"json", "csv"}));
  ing->add_flag("--json", o.json, "print the API's JSON body");
  Acting(ing, o);
  Runs(ing, action, [&o] { return RunIngest(o); });

  auto* wa = app.add_subcommand("watch", "ingest what lands in a folder (a consume folder)");
  WithDir(wa, o);
  wa->add_option("--case", o.case_id, "case id")->required();
  wa->add_option("FOLDER", o.folder, "the folder to watch (recursively)")->required();
  wa->add_option("--custodian", o.custodian, "whose data this is");
  wa->add_option("--interval", o.interval,
                 "seconds between scans when inotify reports nothing (default 5)")
      ->check(CLI::Range(1, 3600));
  wa->add_flag("--once", o.once, "ingest what is there now and exit");
  Acting(wa, o);
  Runs(wa, action, [&o] { return RunWatch(o); });
}

void DeclareReading(CLI::App& app, Options& o, Action& action) {
  auto* se = app.add_subcommand("search", "search the documents you can open");
  WithDir(se, o);
  se->add_option("QUERY", o.query, "query (see docs/query.md)")->required();
  se->add_option("--case", o.case_id, "only this case");
  se->add_option("--limit", o.limit, "hits per page (default 20)")->check(CLI::Range(1, 1000));
  se->add_option("--offset", o.offset, "hits to skip");
  se->add_option("--sort", o.sort, "relevance or date")->check(CLI::IsMember({"relevance", "date"}));
  se->add_flag("--family", o.family, "show each hit's whole family (an email with its attachments)");
  se->add_flag("--facets", o.facets, "count type, custodian, language, case, tag and year");
  se->add_flag("--csv", o.csv, "export every hit as CSV (id, case, family, filename, date, custodian, hashes, tags)");
  se->add_flag("--json", o.json, "print the API's JSON body");
  Acting(se, o);
  Runs(se, action, [&o] { return RunSearch(o); });

  auto* en = app.add_subcommand("entities", "the documents and cases you can open that hold an entity");
  WithDir(en, o);
  en->add_option("ENTITY", o.query, "TYPE:VALUE, e.g. iban:DE89370400440532013000 or phone:+351211234567")
      ->required();
  en->add_option("--limit", o.limit, "documents listed (default 20)")->check(CLI::Range(1, 1000));
  en->add_flag("--json", o.json, "print the API's JSON body");
  Acting(en, o);
  Runs(en, action, [&o] { return RunEntities(o); });

  auto* lk = app.add_subcommand(
      "links", "a case's links to other cases by shared entities; decide them; stop-entities; settings");
  WithDir(lk, o);
  lk->add_option("CASE", o.case_id, "case id (not needed for --stop, --unstop, --settings)");
  lk->add_option("--limit", o.limit, "links listed (default 20)")->check(CLI::Range(1, 500));
  lk->add_option("--confirm", o.confirm, "confirm the link to this case (with --why)");
  lk->add_option("--reject", o.reject, "reject the link to this case (with --why)");
  lk->add_option("--add", o.add_link, "add a link to this case by hand (with --why)");
  lk->add_option("--clear", o.clear_link, "forget the decision on the link to this case");
  lk->add_option("--why", o.why, "why (kept with who and when)");
  lk->add_option("--stop", o.stop_entity, "TYPE:VALUE: stop this entity from linking cases");
  lk->add_option("--unstop", o.unstop_entity, "TYPE:VALUE: let it link again");
  lk->add_flag("--graph", o.graph, "print the case's neighbourhood (cases and entities)");
  lk->add_option("--depth", o.depth, "graph depth, 1-3 (default 2)")->check(CLI::Range(1, 3));
  lk->add_flag("--settings", o.link_settings, "show (or, with the options below, change) the settings");
  lk->add_option("--stop-threshold", o.stop_threshold, "admin: entities in more cases than this stop linking")
      ->check(CLI::Range(2, 100000));
  lk->add_option("--deconfliction", o.deconfliction, "admin: notice or none")
      ->check(CLI::IsMember({"notice", "none"}));
  lk->add_option("--notices-per-hour", o.notices_per_hour, "admin: new deconfliction notices per user and hour")
      ->check(CLI::Range(0, 100000));
  lk->add_option("--phone-region", o.phone_region, "admin: the default region of phone numbers (ES, PT, …)");
  lk->add_flag("--json", o.json, "print the API's JSON body");
  Acting(lk, o);
  Runs(lk, action, [&o] { return RunLinks(o); });

  auto* st = app.add_subcommand("search-terms", "a search-term report: hits, unique hits and families per term");
  WithDir(st, o);
  st->add_option("--terms", o.terms_file, "a file with one term (a full query) per line")->required();
  st->add_option("--case", o.case_id, "only this case");
  st->add_flag("--csv", o.csv, "print CSV");
  st->add_flag("--json", o.json, "print the API's JSON body");
  Acting(st, o);
  Runs(st, action, [&o] { return RunSearchTerms(o); });

  auto* ex = app.add_subcommand("exceptions", "documents in scope that are not fully searchable");
  WithDir(ex, o);
  ex->add_option("--case", o.case_id, "only this case");
  ex->add_option("--limit", o.limit, "documents per page (default 20)")->check(CLI::Range(1, 1000));
  ex->add_option("--offset", o.offset, "documents to skip");
  ex->add_flag("--json", o.json, "print the API's JSON body");
  Acting(ex, o);
  Runs(ex, action, [&o] { return RunExceptions(o); });

  auto* tg = app.add_subcommand("tag", "add or remove tags on a document, or on every hit of --query");
  WithDir(tg, o);
  tg->add_option("DOC_ID", o.doc_id, "document id (or give --query)");
  tg->add_option("--query", o.query, "tag every hit of this query instead");
  tg->add_option("--case", o.case_id, "with --query: only this case");
  tg->add_option("--add", o.add_tags, "tags to add, comma-separated");
  tg->add_option("--remove", o.remove_tags, "tags to remove, comma-separated");
  tg->add_flag("--json", o.json, "print the API's JSON body");
  Acting(tg, o);
  Runs(tg, action, [&o] {
    if (o.doc_id.empty() == o.query.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "give a DOC_ID or --query, not both");
    }
    return RunTag(o);
  });

  auto* tp = app.add_subcommand("tag-policy", "who may set the 'privileged' tag");
  WithDir(tp, o);
  auto* set = tp->add_option("--privileged-roles", o.privileged_roles,
                             "admin: only these roles may set or remove 'privileged' (\"\" for anyone)")
                  ->delimiter(',')
                  ->expected(0, -1);
  Acting(tp, o);
  Runs(tp, action, [&o, set] {
    o.set_policy = set->count() > 0;
    std::erase(o.privileged_roles, std::string());
    return RunTagPolicy(o);
  });

  auto* ss = app.add_subcommand("saved-search", "your saved searches");
  ss->require_subcommand(1);
  auto* sa = ss->add_subcommand("add", "save a search");
  WithDir(sa, o);
  sa->add_option("--name", o.name, "its name")->required();
  sa->add_option("--query", o.query, "the query")->required();
  sa->add_option("--case", o.case_id, "only this case");
  sa->add_flag("--json", o.json, "print the API's JSON body");
  Acting(sa, o);
  Runs(sa, action, [&o] { return RunSavedAdd(o); });
  auto* sl = ss->add_subcommand("list", "list your saved searches");
  WithDir(sl, o);
  sl->add_flag("--json", o.json, "print the API's JSON body");
  Acting(sl, o);
  Runs(sl, action, [&o] { return RunSavedList(o); });
  auto* sr = ss->add_subcommand("run", "run one: its hits and how many are new since the last run");
  WithDir(sr, o);
  sr->add_option("ID", o.search_id, "saved search id")->required();
  sr->add_option("--limit", o.limit, "hits per page (default 20)")->check(CLI::Range(1, 1000));
  sr->add_option("--offset", o.offset, "hits to skip");
  sr->add_flag("--json", o.json, "print the API's JSON body");
  Acting(sr, o);
  Runs(sr, action, [&o] { return RunSavedRun(o); });
  auto* sd = ss->add_subcommand("delete", "delete one");
  WithDir(sd, o);
  sd->add_option("ID", o.search_id, "saved search id")->required();
  Acting(sd, o);
  Runs(sd, action, [&o] { return RunSavedDelete(o); });

  auto* get = app.add_subcommand("get", "a document's metadata, text or original bytes");
  WithDir(get, o);
  get->add_option("DOC_ID", o.doc_id, "document id")->required();
  get->add_flag("--text", o.text, "print the extracted (indexed) text");
  get->add_option("--matches", o.match_query,
                  "with --text: mark where QUERY matches, >>like this<< (--json: the ranges)");
  get->add_option("-o,--output", o.out_file, "write the original bytes to FILE");
  get->add_flag("--json", o.json, "print the API's JSON body");
  Acting(get, o);
  Runs(get, action, [&o] { return RunGet(o); });

  auto* rx = app.add_subcommand("reindex", "rebuild index shards from the encrypted text");
  WithDir(rx, o);
  rx->add_option("--recovery-key", o.recovery_key, "act with the recovery key (rebuilds every shard)");
  Acting(rx, o);
  Runs(rx, action, [&o] { return RunReindex(o); });
}

int Run(int argc, char** argv) {
  CLI::App app{"Dossier: an encrypted records and investigation repository"};
  app.require_subcommand(1);
  Options o;
  Action action;
  DeclareInit(app, o, action);
  DeclareUsersAndRoles(app, o, action);
  DeclareCases(app, o, action);
  DeclareWorkflow(app, o, action);
  DeclareIngest(app, o, action);
  DeclareReading(app, o, action);
  DeclareServe(app, o, action);
  DeclareAudit(app, o, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    return action ? Guarded(action) : 2;
  } catch (const Error& e) {
    std::cerr << "dossier: " << e.what() << "\n";
    return ExitCodeFor(e.code());
  }
}

}  // namespace
}  // namespace dossier::tools

int main(int argc, char** argv) {
  // This process holds decrypted keys and text: never dump it to a core
  // file, and keep other processes of the same user from ptrace-reading it.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return dossier::tools::Run(argc, argv);
}
