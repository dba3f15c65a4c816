// dossier: the command-line face of repo::Repository (see API.md,
// "Command line"). Exit codes: 0 ok, 1 failure, 2 usage (bad arguments,
// malformed query).
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <map>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "repo/repository.h"
#include "repo/views.h"
#include "tools/folder_watch.h"
#include "tools/secrets.h"

namespace dossier::tools {
namespace {

using nlohmann::json;

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
  std::string name;      // user or role name
  std::string roles;     // comma list
  std::string title, description, risk;
  std::string case_id, role;
  std::vector<std::string> paths;
  std::string custodian, restrict_to, language = "en";
  std::string query, sort = "relevance";
  std::uint32_t limit = 20, offset = 0;
  std::string doc_id, out_file;
  bool text = false;
};

// The one place that maps error codes to exit codes.
int ExitCodeFor(ErrorCode code) {
  return code == ErrorCode::kInvalidArgument ? 2 : 1;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Argon2id cost for keys this process creates. DOSSIER_PASSWORD_COST=
// interactive is for test suites only: much faster, much weaker.
crypto::PasswordCost CostFromEnv() {
  const char* v = std::getenv("DOSSIER_PASSWORD_COST");
  return v != nullptr && std::string(v) == "interactive" ? crypto::PasswordCost::kInteractive
                                                         : crypto::PasswordCost::kModerate;
}

std::unique_ptr<repo::Repository> OpenRepo(const Options& o, bool read_only) {
  repo::OpenOptions opts;
  opts.read_only = read_only;
  opts.cost = CostFromEnv();
  opts.holder = "dossier CLI";
  crypto::SecretBytes passphrase;
  if (repo::Repository::ServerKeyProtected(o.dir)) {
    passphrase = ObtainSecret(o.passphrase_file, "DOSSIER_PASSPHRASE", "Server-key passphrase");
    opts.passphrase = View(passphrase);
  }
  return repo::Repository::Open(o.dir, opts);
}

repo::Session Act(repo::Repository& r, const Options& o) {
  if (!o.recovery_key.empty()) return r.LoginWithRecoveryKey(o.recovery_key);
  std::string user = o.user;
  if (user.empty()) {
    if (const char* u = std::getenv("DOSSIER_USER")) user = u;
  }
  if (user.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "say who acts: --user USER or DOSSIER_USER");
  }
  crypto::SecretBytes pw = ObtainSecret(o.password_file, "DOSSIER_PASSWORD",
                                        "Password for " + user);
  return r.Login(user, View(pw));
}

// Snippets are HTML; a terminal shows <mark> as bold, anything else as *…*.
std::string RenderSnippet(const std::string& html, bool tty) {
  std::string out;
  for (std::size_t i = 0; i < html.size();) {
    auto starts = [&](const char* s) { return html.compare(i, std::strlen(s), s) == 0; };
    if (starts("<mark>")) { out += tty ? "\033[1m" : "*"; i += 6; }
    else if (starts("</mark>")) { out += tty ? "\033[0m" : "*"; i += 7; }
    else if (starts("&amp;")) { out += '&'; i += 5; }
    else if (starts("&lt;")) { out += '<'; i += 4; }
    else if (starts("&gt;")) { out += '>'; i += 4; }
    else if (starts("&quot;")) { out += '"'; i += 6; }
    else if (starts("&#39;")) { out += '\''; i += 5; }
    else out += html[i++];
  }
  return out;
}

void PrintCase(const repo::CaseInfo& c) {
  std::cout << "Case " << c.id << "\n"
            << "  title:     " << c.title << "\n";
  if (!c.description.empty()) std::cout << "  about:     " << c.description << "\n";
  std::cout << "  stage:     " << c.stage << "\n"
            << "  risk:      " << (c.risk.empty() ? "-" : c.risk) << "\n"
            << "  status:    " << c.status << "\n"
            << "  owner:     " << c.owner << "\n"
            << "  roles:     ";
  for (std::size_t i = 0; i < c.roles.size(); ++i) std::cout << (i ? ", " : "") << c.roles[i];
  std::cout << "\n  documents: " << c.document_count << "\n"
            << "  created:   " << c.created_at << "\n";
}

int Run(int argc, char** argv) {
  CLI::App app{"Dossier: an encrypted records and investigation repository"};
  app.require_subcommand(1);
  Options o;
  std::function<int()> action;

  auto acting = [&](CLI::App* c) {
    c->add_option("--user", o.user, "acting user (default: $DOSSIER_USER)");
    c->add_option("--password-file", o.password_file,
                  "file holding the acting user's password (or $DOSSIER_PASSWORD, or a prompt)");
    c->add_option("--passphrase-file", o.passphrase_file,
                  "file holding the server-key passphrase (or $DOSSIER_PASSPHRASE, or a prompt)");
  };
  auto with_dir = [&](CLI::App* c) {
    c->add_option("DIR", o.dir, "repository directory")->required();
  };

  // init
  auto* init = app.add_subcommand("init", "create a new repository");
  with_dir(init);
  init->add_option("--admin", o.admin, "name of the first (admin) user")->required();
  init->add_option("--recovery-key-out", o.recovery_key_out,
                   "where to write the recovery key (default: DIR.recovery-key, never inside DIR)");
  init->add_flag("--no-protect", o.no_protect,
                 "store the server key without a passphrase (demos only)");
  init->add_option("--password-file", o.password_file, "file holding the admin's password");
  init->add_option("--passphrase-file", o.passphrase_file, "file holding the server-key passphrase");
  init->callback([&] {
    action = [&] {
      crypto::SecretBytes pw = ObtainSecret(o.password_file, "DOSSIER_PASSWORD",
                                            "New password for " + o.admin, true);
      crypto::SecretBytes pp;
      repo::InitOptions io;
      io.admin_user = o.admin;
      io.admin_password = View(pw);
      io.recovery_key_out = o.recovery_key_out;
      io.protect = !o.no_protect;
      io.cost = CostFromEnv();
      if (io.protect) {
        pp = ObtainSecret(o.passphrase_file, "DOSSIER_PASSPHRASE", "New server-key passphrase", true);
        io.passphrase = View(pp);
      }
      repo::InitResult r = repo::Repository::Init(o.dir, io);
      std::cout << "Created repository " << o.dir << " with admin user " << o.admin << ".\n"
                << "Recovery key written to " << r.recovery_key_path << "\n"
                << "  It opens every document in the repository: move it offline now\n"
                << "  and delete it from this machine.\n";
      if (!io.protect) {
        std::cout << "Warning: the server key is stored without a passphrase (--no-protect).\n";
      }
      return 0;
    };
  });

  // user add
  auto* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  auto* user_add = user->add_subcommand("add", "add a user (admin; needs a member of each role)");
  with_dir(user_add);
  user_add->add_option("USER", o.name, "new user's name")->required();
  user_add->add_option("--roles", o.roles, "comma-separated roles the user joins");
  user_add->add_flag("--admin", o.make_admin, "give the new user the admin permission");
  user_add->add_option("--new-password-file", o.new_password_file,
                       "file holding the new user's password (or a prompt)");
  user_add->add_option("--recovery-key", o.recovery_key, "act with the recovery key");
  acting(user_add);
  user_add->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, false);
      repo::Session s = Act(*r, o);
      crypto::SecretBytes pw = ObtainSecret(o.new_password_file, nullptr,
                                            "New password for " + o.name, true);
      r->AddUser(s, o.name, View(pw), SplitList(o.roles), o.make_admin);
      std::cout << "Added user " << o.name << ".\n";
      return 0;
    };
  });

  // role add
  auto* role = app.add_subcommand("role", "manage roles");
  role->require_subcommand(1);
  auto* role_add = role->add_subcommand("add", "add a role (admin); you become its first member");
  with_dir(role_add);
  role_add->add_option("ROLE", o.name, "role name")->required();
  role_add->add_flag("--no-join", o.no_join, "do not join the new role");
  role_add->add_option("--recovery-key", o.recovery_key, "act with the recovery key");
  acting(role_add);
  role_add->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, false);
      repo::Session s = Act(*r, o);
      r->AddRole(s, o.name, !o.no_join);
      std::cout << "Added role " << o.name << ".\n";
      return 0;
    };
  });

  // case …
  auto* cs = app.add_subcommand("case", "manage cases");
  cs->require_subcommand(1);
  auto* cc = cs->add_subcommand("create", "create a case");
  with_dir(cc);
  cc->add_option("--title", o.title, "case title")->required();
  cc->add_option("--description", o.description, "case description");
  cc->add_option("--roles", o.roles, "comma-separated roles granted on the case")->required();
  cc->add_option("--risk", o.risk, "low, moderate or high")
      ->check(CLI::IsMember({"low", "moderate", "high"}));
  cc->add_flag("--json", o.json, "print the API's JSON body");
  acting(cc);
  cc->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, false);
      repo::Session s = Act(*r, o);
      repo::CaseInfo c = r->CreateCase(s, {o.title, o.description, o.risk, SplitList(o.roles)});
      if (o.json) std::cout << repo::ToJson(c).dump(2) << "\n";
      else std::cout << "Created case " << c.id << ".\n";
      return 0;
    };
  });
  auto* cl = cs->add_subcommand("list", "list the cases you can see");
  with_dir(cl);
  cl->add_flag("--json", o.json, "print the API's JSON body");
  acting(cl);
  cl->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, true);
      repo::Session s = Act(*r, o);
      auto cases = r->ListCases(s);
      if (o.json) {
        json arr = json::array();
        for (const auto& c : cases) arr.push_back(repo::ToJson(c));
        std::cout << json{{"cases", arr}}.dump(2) << "\n";
        return 0;
      }
      if (cases.empty()) std::cout << "No cases visible to " << s.user() << ".\n";
      for (const auto& c : cases) {
        std::printf("%-13s %-16s %-9s %5lld docs  %s\n", c.id.c_str(), c.stage.c_str(),
                    c.risk.empty() ? "-" : c.risk.c_str(),
                    static_cast<long long>(c.document_count), c.title.c_str());
      }
      return 0;
    };
  });
  auto* cshow = cs->add_subcommand("show", "show one case");
  with_dir(cshow);
  cshow->add_option("CASE", o.case_id, "case id")->required();
  cshow->add_flag("--json", o.json, "print the API's JSON body");
  acting(cshow);
  cshow->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, true);
      repo::Session s = Act(*r, o);
      repo::CaseInfo c = r->GetCase(s, o.case_id);
      if (o.json) std::cout << repo::ToJson(c).dump(2) << "\n";
      else PrintCase(c);
      return 0;
    };
  });
  for (const char* verb : {"grant", "revoke"}) {
    const bool grant = std::string(verb) == "grant";
    auto* g = cs->add_subcommand(verb, grant ? "grant a role on a case (re-seals keys, moves shards)"
                                             : "revoke a role from a case");
    with_dir(g);
    g->add_option("CASE", o.case_id, "case id")->required();
    g->add_option("ROLE", o.role, "role name")->required();
    g->add_option("--recovery-key", o.recovery_key, "act with the recovery key");
    acting(g);
    g->callback([&, grant] {
      action = [&, grant] {
        auto r = OpenRepo(o, false);
        repo::Session s = Act(*r, o);
        if (grant) r->GrantRole(s, o.case_id, o.role);
        else r->RevokeRole(s, o.case_id, o.role);
        std::cout << (grant ? "Granted " : "Revoked ") << o.role << (grant ? " on " : " from ")
                  << o.case_id << ".\n";
        return 0;
      };
    });
  }

  // ingest
  auto* ing = app.add_subcommand("ingest", "ingest files and directories into a case");
  bool failures = false;
  std::string format = "json";
  with_dir(ing);
  ing->add_option("--case", o.case_id, "case id");
  ing->add_option("PATH", o.paths, "files or directories (recursive): any format; archives "
                                   "and mail are expanded into families");
  ing->add_option("--custodian", o.custodian, "whose data this is");
  ing->add_option("--restrict", o.restrict_to, "comma-separated subset of the case's roles");
  ing->add_option("--language", o.language,
                  "language to stem with when detection finds none (default en)");
  ing->add_flag("--failures", failures,
                "print the failure report (which item, where in its family, why) instead of ingesting");
  bool retry = false;
  ing->add_flag("--retry-failed", retry,
                "extract again the files whose documents failed: with no PATH, from their "
                "stored originals; with PATHs, from those files (others are skipped as existing)");
  ing->add_option("--format", format, "failure report format: json or csv")
      ->check(CLI::IsMember({"json", "csv"}));
  ing->add_flag("--json", o.json, "print the API's JSON body");
  acting(ing);
  ing->callback([&] {
    action = [&] {
      if (failures) {
        auto r = OpenRepo(o, true);
        repo::Session s = Act(*r, o);
        auto list = r->ListFailures(s, o.case_id);
        if (format == "csv") {
          auto csv = [](const std::string& v) {
            std::string q = "\"";
            for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            return q + "\"";
          };
          std::cout << "document_id,case_id,parent_id,path,filename,mime,status,error\n";
          for (const auto& d : list) {
            std::cout << d.id << "," << d.case_id << "," << d.parent_id << "," << csv(d.path) << ","
                      << csv(d.filename) << "," << csv(d.mime) << "," << d.status << ","
                      << csv(d.error) << "\n";
          }
        } else {
          json arr = json::array();
          for (const auto& d : list) {
            arr.push_back({{"document_id", d.id}, {"case_id", d.case_id},
                           {"parent_id", d.parent_id.empty() ? json(nullptr) : json(d.parent_id)},
                           {"path", d.path}, {"filename", d.filename}, {"mime", d.mime},
                           {"status", d.status}, {"error", d.error}});
          }
          std::cout << json{{"failures", arr}}.dump(2) << "\n";
        }
        return 0;
      }
      if (o.case_id.empty() || (o.paths.empty() && !retry)) {
        throw Error(ErrorCode::kInvalidArgument,
                    "ingest needs --case and at least one PATH (or --retry-failed)");
      }
      auto r = OpenRepo(o, false);
      repo::Session s = Act(*r, o);
      repo::IngestRequest req;
      req.case_id = o.case_id;
      req.paths = o.paths;
      req.custodian = o.custodian;
      req.restrict_to = SplitList(o.restrict_to);
      req.language = o.language;
      req.retry_failed = retry;
      const bool tty = ::isatty(STDERR_FILENO);
      const auto start = std::chrono::steady_clock::now();
      auto last = start;
      if (tty) {
        req.on_progress = [&](const repo::IngestProgress& p) {
          const auto now = std::chrono::steady_clock::now();
          if (now - last < std::chrono::milliseconds(200) && p.files_done < p.files_total) return;
          last = now;
          const double secs = std::chrono::duration<double>(now - start).count();
          const double rate = secs > 0 ? p.bytes_done / secs : 0;
          const double eta = rate > 0 ? (p.bytes_total - p.bytes_done) / rate : 0;
          const int width = 24;
          const int fill = p.bytes_total ? static_cast<int>(width * p.bytes_done / p.bytes_total) : width;
          std::fprintf(stderr, "\r[%s%s] %llu/%llu files  %.1f/%.1f MB  %.1f MB/s  ETA %d:%02d  %llu items  %llu errors ",
                       std::string(fill, '=').c_str(), std::string(width - fill, ' ').c_str(),
                       static_cast<unsigned long long>(p.files_done),
                       static_cast<unsigned long long>(p.files_total), p.bytes_done / 1e6,
                       p.bytes_total / 1e6, rate / 1e6, static_cast<int>(eta) / 60,
                       static_cast<int>(eta) % 60, static_cast<unsigned long long>(p.items),
                       static_cast<unsigned long long>(p.errors));
        };
      }
      auto summary = r->Ingest(s, req, [&](const repo::IngestedDocument& d) {
        if (!o.json && !tty) {
          std::cout << d.id << "  " << d.status << "  " << d.path;
          if (!d.error.empty()) std::cout << "  (" << d.error << ")";
          std::cout << "\n";
        }
      });
      if (tty) std::cerr << "\n";
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (o.json) {
        json docs = json::array();
        for (const auto& d : summary.documents) docs.push_back(repo::ToJson(d));
        std::cout << json{{"documents", docs}}.dump(2) << "\n";
        return 0;
      }
      std::map<std::string, int> by_status;
      for (const auto& d : summary.documents) ++by_status[d.status];
      std::cout << summary.documents.size()
                << (summary.documents.size() == 1 ? " document (" : " documents (")
                << std::fixed << std::setprecision(1) << summary.bytes / 1e6 << " MB) in "
                << secs << " s:";
      for (const auto& [st, count] : by_status) std::cout << " " << count << " " << st;
      std::cout << "\n";
      if (by_status["error"] + by_status["unsupported"] > 0) {
        std::cout << "See the failures: dossier ingest " << o.dir << " --failures --case "
                  << o.case_id << "\n";
      }
      return 0;
    };
  });

  // watch
  auto* wa = app.add_subcommand("watch", "ingest what lands in a folder (a consume folder)");
  int interval = 5;
  bool once = false;
  std::string folder;
  with_dir(wa);
  wa->add_option("--case", o.case_id, "case id")->required();
  wa->add_option("FOLDER", folder, "the folder to watch (recursively)")->required();
  wa->add_option("--custodian", o.custodian, "whose data this is");
  wa->add_option("--interval", interval, "seconds between scans when inotify reports nothing (default 5)")->check(CLI::Range(1, 3600));
  wa->add_flag("--once", once, "ingest what is there now and exit");
  acting(wa);
  wa->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, false);
      repo::Session s = Act(*r, o);
      // A file is taken as soon as inotify says it was closed after writing
      // or moved in, or else once its size and modification time held
      // still for a whole --interval (so a file still being copied is left
      // alone; this also covers file systems inotify cannot see, such as
      // network shares), and only once: what was acknowledged is
      // remembered by path, size and time, and the repository's own dedup
      // catches the rest.
      using Clock = std::chrono::steady_clock;
      struct Seen {
        std::uintmax_t size;
        std::filesystem::file_time_type mtime;
        Clock::time_point since;  // unchanged since then
        bool done;
        // Found in a folder created since the last scan: it may have been
        // written before inotify watched that folder, so no event will
        // come; it is taken once it holds still for kNewFolderWait.
        bool in_new_folder = false;
      };
      constexpr auto kNewFolderWait = std::chrono::seconds(2);
      std::map<std::string, Seen> seen;
      tools::FolderWatch watch;
      watch.Add(folder);
      std::set<std::string> closed;  // reported complete by inotify
      static volatile std::sig_atomic_t stop = 0;
      std::signal(SIGINT, [](int) { stop = 1; });
      std::signal(SIGTERM, [](int) { stop = 1; });
      std::cout << "Watching " << folder << " (Ctrl-C stops)." << std::endl;
      while (!stop) {
        std::vector<std::string> ready;
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(folder, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
          if (it->is_directory(ec) && !it->is_symlink(ec)) watch.Add(it->path().string());
          if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
          const std::string p = it->path().string();
          const auto size = it->file_size(ec);
          const auto mtime = it->last_write_time(ec);
          const bool complete = closed.count(p) > 0;
          const auto now = Clock::now();
          auto f = seen.find(p);
          if (f == seen.end()) {
            const bool fresh_folder = closed.count(it->path().parent_path().string()) > 0;
            seen[p] = {size, mtime, now, false, fresh_folder};
            if (once || complete) ready.push_back(p);
          } else if (f->second.size != size || f->second.mtime != mtime) {
            f->second = {size, mtime, now, false, f->second.in_new_folder};
            if (complete) ready.push_back(p);
          } else if (!f->second.done &&
                     (complete || now - f->second.since >= (f->second.in_new_folder
                                                                ? Clock::duration(kNewFolderWait)
                                                                : Clock::duration(std::chrono::seconds(interval))))) {
            ready.push_back(p);
          }
        }
        if (!ready.empty()) {
          repo::IngestRequest req;
          req.case_id = o.case_id;
          req.paths = ready;
          req.custodian = o.custodian;
          req.relative_to = folder;
          auto summary = r->Ingest(s, req, [&](const repo::IngestedDocument& d) {
            std::cout << d.id << "  " << d.status << "  " << d.path << std::endl;
          });
          for (const auto& p : ready) seen[p].done = true;
        }
        if (once) break;
        // Short waits, so Ctrl-C during an ingest or a wait ends the loop
        // within a quarter of a second.
        closed.clear();
        bool short_wait = false;
        for (const auto& [path, f] : seen) short_wait = short_wait || (!f.done && f.in_new_folder);
        const int limit_ms = short_wait ? 1000 : interval * 1000;
        for (int waited = 0; !stop && closed.empty() && waited < limit_ms; waited += 250) {
          closed = watch.Wait(250);
        }
      }
      return 0;
    };
  });

  // search
  auto* se = app.add_subcommand("search", "search the documents you can open");
  with_dir(se);
  se->add_option("QUERY", o.query, "query (see docs/query.md)")->required();
  se->add_option("--case", o.case_id, "only this case");
  se->add_option("--limit", o.limit, "hits per page (default 20)")->check(CLI::Range(1, 1000));
  se->add_option("--offset", o.offset, "hits to skip");
  se->add_option("--sort", o.sort, "relevance or date")->check(CLI::IsMember({"relevance", "date"}));
  se->add_flag("--json", o.json, "print the API's JSON body");
  acting(se);
  se->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, true);
      repo::Session s = Act(*r, o);
      repo::SearchRequest req{o.query, o.case_id, o.offset, o.limit, o.sort == "date"};
      repo::SearchResults res = r->Search(s, req);
      if (o.json) {
        std::cout << repo::ToJson(res).dump(2) << "\n";
        return 0;
      }
      const bool tty = ::isatty(STDOUT_FILENO);
      std::cout << res.total << (res.total == 1 ? " hit" : " hits") << " for " << s.user() << "\n";
      std::size_t i = o.offset;
      for (const auto& h : res.hits) {
        std::printf("%3zu. %s  (doc %s, case %s, score %.3f)\n", ++i, h.filename.c_str(),
                    h.document_id.c_str(), h.case_id.c_str(), h.score);
        std::cout << "     " << RenderSnippet(h.snippet, tty) << "\n";
      }
      return 0;
    };
  });

  // get
  auto* get = app.add_subcommand("get", "a document's metadata, text or original bytes");
  with_dir(get);
  get->add_option("DOC_ID", o.doc_id, "document id")->required();
  get->add_flag("--text", o.text, "print the extracted (indexed) text");
  get->add_option("-o,--output", o.out_file, "write the original bytes to FILE");
  get->add_flag("--json", o.json, "print the API's JSON body");
  acting(get);
  get->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, true);
      repo::Session s = Act(*r, o);
      if (!o.out_file.empty()) {
        // Written beside the target and renamed only once every chunk has
        // authenticated: a tampered or truncated blob leaves no output file.
        const std::string tmp = o.out_file + ".partial";
        {
          std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
          if (!out) throw Error(ErrorCode::kIo, "cannot write the output file");
          try {
            r->ReadContent(s, o.doc_id, [&](std::string_view b) { out.write(b.data(), static_cast<std::streamsize>(b.size())); });
          } catch (...) {
            out.close();
            std::remove(tmp.c_str());
            throw;
          }
          if (!out.flush()) throw Error(ErrorCode::kIo, "cannot write the output file");
        }
        if (std::rename(tmp.c_str(), o.out_file.c_str()) != 0) {
          throw Error(ErrorCode::kIo, "cannot write the output file");
        }
        return 0;
      }
      if (o.text) {
        std::cout << r->ReadText(s, o.doc_id);
        return 0;
      }
      repo::DocumentInfo d = r->GetDocument(s, o.doc_id);
      if (o.json) {
        std::cout << repo::ToJson(d).dump(2) << "\n";
        return 0;
      }
      std::cout << "Document " << d.id << "\n  case:      " << d.case_id
                << "\n  filename:  " << d.filename << "\n  path:      " << d.path
                << "\n  size:      " << d.size << " bytes\n  sha256:    " << d.sha256
                << "\n  language:  " << d.language << "\n  custodian: "
                << (d.custodian.empty() ? "-" : d.custodian) << "\n  status:    " << d.status;
      if (d.status == "partial") std::cout << " (only the first " << d.indexed_bytes << " bytes of text are indexed)";
      if (!d.duplicate_of.empty()) std::cout << " of " << d.duplicate_of;
      std::cout << "\n";
      return 0;
    };
  });

  // reindex
  auto* rx = app.add_subcommand("reindex", "rebuild index shards from the encrypted text");
  with_dir(rx);
  rx->add_option("--recovery-key", o.recovery_key, "act with the recovery key (rebuilds every shard)");
  acting(rx);
  rx->callback([&] {
    action = [&] {
      auto r = OpenRepo(o, false);
      repo::Session s = Act(*r, o);
      repo::ReindexSummary sum = r->Reindex(s);
      std::cout << "Rebuilt " << sum.shards_rebuilt << " shard(s) with " << sum.documents
                << " document(s)";
      if (sum.shards_skipped) std::cout << "; skipped " << sum.shards_skipped
                                        << " shard(s) holding documents you cannot open";
      std::cout << ".\n";
      return 0;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    return action ? action() : 2;
  } catch (const Error& e) {
    std::cerr << "dossier: " << e.what() << "\n";
    return ExitCodeFor(e.code());
  } catch (const std::filesystem::filesystem_error& e) {
    // Its what() quotes paths; the code's message alone says what failed.
    std::cerr << "dossier: file system error: " << e.code().message() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "dossier: internal error: " << e.what() << "\n";
    return 1;
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
