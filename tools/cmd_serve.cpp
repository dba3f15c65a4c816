// dossier serve: the HTTP API and the web page over one open repository.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <iostream>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/server.h"
#include "api/service.h"
#include "repo/views.h"
#include "tools/cli.h"
#include "tools/hook.h"
#include "tools/secrets.h"

namespace dossier::tools {

namespace {

namespace fs = std::filesystem;

// Tests only (--test-clock-offset-file): the system's time plus the number
// of seconds the file holds, read at every use, so a test moves the
// server's time forward (session expiry, throttling windows) without
// waiting. A missing or unreadable file counts as 0.
class OffsetClock : public Clock {
 public:
  explicit OffsetClock(std::string file) : file_(std::move(file)) {}
  std::int64_t Now() const override {
    std::int64_t offset = 0;
    std::ifstream in(file_);
    if (!(in >> offset)) offset = 0;
    return SystemClock()->Now() + offset;
  }

 private:
  std::string file_;
};

// web/ beside the binary (the build tree), else ../share/dossier/web (an
// installed layout).
std::string DefaultWebRoot() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const fs::path& p : {exe.parent_path() / "web", exe.parent_path().parent_path() / "share/dossier/web"}) {
    if (fs::is_regular_file(p / "index.html", ec)) return p.string();
  }
  return "";
}

// Fires reminders every `every` seconds until stopped, passing each to the
// hook (if any) on this thread, so a slow hook delays only reminders.
class ReminderLoop {
 public:
  ReminderLoop(repo::Repository& repo, std::string hook, int every)
      : repo_(repo), hook_(std::move(hook)), every_(std::max(1, every)), thread_([this] { Loop(); }) {}
  ~ReminderLoop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      Once();
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(every_), [&] { return stop_; });
    }
  }
  void Once() {
    try {
      for (const auto& r : repo_.RunReminders()) {
        if (hook_.empty()) continue;
        const int rc = RunHook(hook_, repo::views::FiredReminderJson(r) + "\n");
        if (rc != 0) {
          std::cerr << "dossier: the notify command failed (" << rc << ") for the " << r.kind << " reminder of "
                    << r.case_id << "; it will not fire again\n";
        }
      }
    } catch (const std::exception& e) {
      std::cerr << "dossier: reminders: " << e.what() << "\n";
    }
  }
  repo::Repository& repo_;
  const std::string hook_;
  const int every_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace

int RunServe(const Options& o) {
  std::shared_ptr<const Clock> clock =
      o.clock_offset_file.empty() ? SystemClock() : std::make_shared<OffsetClock>(o.clock_offset_file);
  repo::OpenOptions opts;
  opts.cost = CostFromEnv();
  opts.holder = "dossier serve";
  opts.clock = clock;
  crypto::SecretBytes passphrase;
  if (repo::Repository::ServerKeyProtected(o.dir)) {
    passphrase = ObtainSecret(o.passphrase_file, "DOSSIER_PASSPHRASE", "Server-key passphrase");
    opts.passphrase = View(passphrase);
  }
  auto repo = repo::Repository::Open(o.dir, opts);
  passphrase = crypto::SecretBytes();  // asked once, then gone

  api::ServiceOptions so;
  so.web_root = o.web_root.empty() ? DefaultWebRoot() : o.web_root;
  if (so.web_root.empty()) {
    std::cerr << "dossier: no web page found beside the binary; serving the API only\n";
  }
  so.upload_cap = o.upload_cap;
  so.trusted_proxies = o.trusted_proxies;
  so.metrics_public = o.metrics_public;
  so.clock = clock;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  so.login_slots = std::max(1, std::min(cores, 8));
  api::Service service(*repo, so);

  api::ServerOptions srv;
  srv.listen = o.listen;
  srv.threads = o.threads;
  srv.tls_cert = o.tls_cert;
  srv.tls_key = o.tls_key;
  srv.on_tick = [&service] { service.Sweep(); };
  const bool tls = !o.tls_cert.empty();
  srv.on_listening = [&](const std::string& address) {
    std::cout << "Dossier is serving " << o.dir << " at " << (tls ? "https" : "http") << "://"
              << address << "/  (Ctrl-C stops)" << std::endl;
  };
  {
    ReminderLoop reminders(*repo, o.notify_command, o.remind_every);
    api::Serve(service, srv);
  }
  std::cout << "Dossier stopped." << std::endl;
  return 0;
}

}  // namespace dossier::tools
