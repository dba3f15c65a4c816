#include "indexer/extract_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/process.h"
#include "crypto/secret.h"
#include "indexer/extract_protocol.h"

namespace dossier::indexer {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string DescribeExit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGXCPU) return "the extractor exceeded its CPU time limit";
    if (sig == SIGKILL) return "the extractor was killed (out of memory or time)";
    return std::string("the extractor crashed (") + strsignal(sig) + ")";
  }
  return "the extractor stopped unexpectedly (exit " + std::to_string(WEXITSTATUS(status)) + ")";
}

}  // namespace

// Each worker has up to kQueueDepth jobs sent to it: the next file waits
// in the worker's socket while it extracts the current one, so a worker
// never idles while the ingest thread is busy elsewhere (measured on 2,518
// mails: workers waited on the ingest thread for a third of the run).
constexpr std::size_t kQueueDepth = 2;
// Replies are read through a per-worker buffer of this size: one read
// takes a whole small frame, or several, instead of one read per field.
constexpr std::size_t kReadChunk = 64 * 1024;
// An item header is names and fields (headers of a mail): far below this.
constexpr std::uint64_t kMaxHeaderBytes = 1u << 20;

struct ExtractPool::Impl {
  ExtractPoolOptions options;
  struct Job {
    std::uint64_t id = 0;
    Fd fd;  // the pool's own duplicate, closed when the job ends
    std::string name;
    std::string phone_region;
  };
  struct Worker {
    ChildProcess process;
    Fd fd;  // the worker's socket
    std::deque<Job> queue;  // front: the job being extracted
    Clock::time_point deadline;  // of the front job
    std::string in;  // read but not yet parsed (plaintext: wiped when dropped)
    std::size_t in_pos = 0;
    // What the front job has sent so far, against the family's limits.
    std::uint64_t items = 0, bytes = 0;
    int last_index = -1;
    bool buffered() const { return in_pos < in.size(); }
    void DropInput() {
      crypto::Wipe(in);
      in.clear();
      in_pos = 0;
    }
  };
  std::vector<Worker> workers;

  // Workers are forked by one thread that lives as long as the pool.
  // PR_SET_PDEATHSIG (a worker dies with its parent) fires when the
  // *thread* that forked the worker exits, and the pool outlives the
  // threads that use it (a job runs on a thread of its own): a worker forked
  // by an earlier job's thread was killed mid-file, under load, when that
  // thread ended after the next job had begun (measured: one file in a few
  // runs "killed (out of memory or time)").
  std::mutex spawn_mu;
  std::condition_variable spawn_cv;
  std::function<void()> spawn_task;  // guarded by spawn_mu
  bool spawn_busy = false, spawn_stop = false;
  std::exception_ptr spawn_error;
  std::thread spawner;

  void SpawnerLoop() {
    std::unique_lock lock(spawn_mu);
    for (;;) {
      spawn_cv.wait(lock, [&] { return spawn_stop || static_cast<bool>(spawn_task); });
      if (spawn_stop && !spawn_task) return;
      std::function<void()> task = std::move(spawn_task);
      spawn_task = nullptr;
      lock.unlock();
      std::exception_ptr error;
      try {
        task();
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      spawn_error = error;
      spawn_busy = false;
      spawn_cv.notify_all();
    }
  }

  // Runs `fn` on the spawner thread and waits for it.
  void OnSpawner(std::function<void()> fn) {
    std::unique_lock lock(spawn_mu);
    spawn_cv.wait(lock, [&] { return !spawn_busy; });
    spawn_busy = true;
    spawn_task = std::move(fn);
    spawn_cv.notify_all();
    spawn_cv.wait(lock, [&] { return !spawn_busy; });
    if (spawn_error) std::rethrow_exception(std::exchange(spawn_error, nullptr));
  }

  void StopSpawner() {
    {
      std::lock_guard lock(spawn_mu);
      spawn_stop = true;
    }
    spawn_cv.notify_all();
    if (spawner.joinable()) spawner.join();
  }

  void Start(Worker& w) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      throw Error(ErrorCode::kInternal, "cannot create a socket for an extraction worker");
    }
    Fd ours(sv[0]), theirs(sv[1]);
    const std::string cpu = std::to_string(options.cpu_seconds);
    const std::string mem = std::to_string(options.memory_bytes);
    const json limits = {{"max_depth", options.limits.max_depth},
                         {"max_entry_bytes", options.limits.max_entry_bytes},
                         {"max_total_bytes", options.limits.max_total_bytes},
                         {"max_ratio", options.limits.max_ratio},
                         {"max_items", options.limits.max_items},
                         {"text_cap", options.limits.text_cap},
                         {"phone_region", options.limits.phone_region},
                         {"find_entities", options.limits.find_entities},
                         {"test_faults", options.limits.test_faults}};
    const std::string lim = limits.dump();
    // The child's environment is built before fork: after fork in a process
    // with threads, only async-signal-safe calls are allowed.
    std::vector<std::string> env_store;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "ASAN_OPTIONS=", 13) != 0) env_store.emplace_back(*e);
    }
#if defined(__SANITIZE_ADDRESS__)
    env_store.push_back("ASAN_OPTIONS=hard_rss_limit_mb=" +
                        std::to_string(options.memory_bytes >> 20) + ":detect_leaks=0");
#endif
    SpawnOptions spawn;
    spawn.path = options.worker_path;
    spawn.args = {cpu, mem, lim};
    spawn.env = std::move(env_store);
    // The socket becomes fd 3; every other descriptor closes, and a fresh
    // image replaces the child (nothing of the parent's memory stays).
    spawn.fds = {{theirs.get(), kWorkerFd}};
    spawn.nice = options.nice;
    OnSpawner([&] { w.process = ChildProcess::Spawn(spawn); });
    w.fd = std::move(ours);
    w.DropInput();
    w.items = w.bytes = 0;
    w.last_index = -1;
  }

  void Stop(Worker& w, bool kill) {
    w.fd.Reset();
    if (kill) w.process.Kill(SIGKILL);
    if (w.process.started()) w.process.Finish(std::chrono::seconds(1));
    w.DropInput();
  }

  // Sends one job: its name and (SCM_RIGHTS) its descriptor.
  bool Send(Worker& w, const Job& job) {
    json h = {{"name", NameToUtf8(job.name)}};
    if (!job.phone_region.empty()) h["phone_region"] = job.phone_region;
    const std::string header = h.dump();
    const std::uint64_t len = header.size();
    std::string payload(reinterpret_cast<const char*>(&len), 8);
    payload += header;
    iovec iov{payload.data(), payload.size()};
    char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    const int fd = job.fd.get();
    std::memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return ::sendmsg(w.fd.get(), &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(payload.size());
  }

  void EndJob(Worker& w) {
    w.queue.pop_front();  // closes the job's descriptor
    w.items = w.bytes = 0;
    w.last_index = -1;
    if (!w.queue.empty()) {
      w.deadline = Clock::now() + std::chrono::seconds(options.wall_seconds);
    }
  }

  // Ends a worker's current job with a failure and replaces the worker;
  // the jobs queued behind it go to the new worker.
  ExtractEvent Fail(Worker& w, const std::string& why, bool kill) {
    std::string reason = why;
    w.fd.Reset();
    if (w.process.started()) {
      // A worker whose socket closed is usually dying: its exit status
      // says why. One that closed it and lives on gets a second, then
      // SIGKILL.
      if (kill) w.process.Kill(SIGKILL);
      const int status = w.process.Finish(std::chrono::seconds(1));
      if (reason.empty()) reason = DescribeExit(status);
    }
    w.DropInput();
    ExtractEvent e;
    e.job = w.queue.front().id;
    e.done = true;
    e.failure = reason.empty() ? "the extractor stopped unexpectedly" : reason;
    EndJob(w);
    Start(w);
    for (const Job& job : w.queue) {
      if (!Send(w, job)) throw Error(ErrorCode::kInternal, "cannot reach an extraction worker");
    }
    return e;
  }

  // Reads exactly n bytes before the worker's deadline.
  bool ReadFull(Worker& w, void* p, std::size_t n, bool* timed_out) {
    char* c = static_cast<char*>(p);
    while (n > 0) {
      if (w.buffered()) {
        const std::size_t take = std::min(n, w.in.size() - w.in_pos);
        std::memcpy(c, w.in.data() + w.in_pos, take);
        w.in_pos += take;
        c += take;
        n -= take;
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(w.deadline - Clock::now()).count();
      if (left <= 0) { *timed_out = true; return false; }
      pollfd pfd{w.fd.get(), POLLIN, 0};
      const int r = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) continue;
      // A large payload goes straight to its place; anything smaller fills
      // the buffer with whatever else has arrived.
      const bool direct = n >= kReadChunk;
      if (!direct) w.in.resize(kReadChunk);
      const ssize_t got = ::read(w.fd.get(), direct ? c : w.in.data(), direct ? n : kReadChunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        w.in.clear();
        w.in_pos = 0;
        return false;
      }
      if (direct) {
        c += got;
        n -= static_cast<std::size_t>(got);
      } else {
        w.in.resize(static_cast<std::size_t>(got));
        w.in_pos = 0;
      }
    }
    return true;
  }
};

ExtractPool::ExtractPool(ExtractPoolOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (::access(impl_->options.worker_path.c_str(), X_OK) != 0) {
    throw Error(ErrorCode::kInternal, "the dossier-extract worker program is missing");
  }
  ::signal(SIGPIPE, SIG_IGN);
  impl_->spawner = std::thread([impl = impl_.get()] { impl->SpawnerLoop(); });
  try {
    impl_->workers.resize(std::max(1, impl_->options.workers));
    for (auto& w : impl_->workers) impl_->Start(w);
  } catch (...) {
    for (auto& w : impl_->workers) impl_->Stop(w, true);
    impl_->StopSpawner();
    throw;
  }
}

ExtractPool::~ExtractPool() {
  for (auto& w : impl_->workers) {
    impl_->Stop(w, true);
    w.queue.clear();
  }
  impl_->StopSpawner();
}

bool ExtractPool::HasIdleWorker() const {
  for (const auto& w : impl_->workers) if (w.queue.size() < kQueueDepth) return true;
  return false;
}

bool ExtractPool::HasFreeWorker() const {
  for (const auto& w : impl_->workers) if (w.queue.empty()) return true;
  return false;
}

std::size_t ExtractPool::running() const {
  std::size_t n = 0;
  for (const auto& w : impl_->workers) n += w.queue.size();
  return n;
}

void ExtractPool::Submit(std::uint64_t job, int fd, const std::string& name,
                         const std::string& phone_region) {
  Impl& s = *impl_;
  Impl::Worker* w = nullptr;
  for (auto& c : s.workers) {
    if (c.queue.size() < kQueueDepth && (!w || c.queue.size() < w->queue.size())) w = &c;
  }
  if (!w) throw Error(ErrorCode::kInternal, "no idle extraction worker");
  Impl::Job j{job, Fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)), name, phone_region};
  if (!j.fd) throw Error(ErrorCode::kIo, "cannot pass a file to an extraction worker");
  if (!s.Send(*w, j)) {
    if (w->queue.empty()) {
      // The worker died between jobs: replace it and try once more.
      s.Stop(*w, true);
      s.Start(*w);
      if (!s.Send(*w, j)) throw Error(ErrorCode::kInternal, "cannot reach an extraction worker");
    }
    // Otherwise the worker died mid-job: Next() reports that job and sends
    // this one, queued, to the worker that replaces it.
  }
  if (w->queue.empty()) w->deadline = Clock::now() + std::chrono::seconds(s.options.wall_seconds);
  w->queue.push_back(std::move(j));
}

ExtractEvent ExtractPool::Next() {
  Impl& s = *impl_;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Impl::Worker*> who;
    Impl::Worker* ready = nullptr;
    auto nearest = Clock::time_point::max();
    for (auto& w : s.workers) {
      if (w.queue.empty()) continue;
      if (Clock::now() >= w.deadline) return s.Fail(w, "the extractor exceeded its wall-clock limit", true);
      if (w.buffered() && !ready) ready = &w;
      fds.push_back({w.fd.get(), POLLIN, 0});
      who.push_back(&w);
      nearest = std::min(nearest, w.deadline);
    }
    if (fds.empty()) throw Error(ErrorCode::kInternal, "no extraction job is running");
    if (!ready) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(nearest - Clock::now()).count();
      const int r = ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(wait, 0, 1000)));
      if (r < 0 && errno != EINTR) throw Error(ErrorCode::kInternal, "cannot wait for extraction workers");
      if (r <= 0) continue;
      for (std::size_t i = 0; i < fds.size() && !ready; ++i) {
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ready = who[i];
      }
      if (!ready) continue;
    }
    Impl::Worker& w = *ready;
    bool timed_out = false;
    std::uint32_t kind = 0;
    std::uint64_t hlen = 0, blen = 0, tlen = 0;
    std::string header, bytes, text;
    // Each length is checked before anything is allocated for it: a worker
    // cannot make the parent, which holds keys, allocate more than one
    // item's limits (its reply is cut off and it is killed instead).
    const ExtractLimits& lim = s.options.limits;
    const std::uint64_t max_bytes = std::min(lim.max_entry_bytes, lim.max_total_bytes);
    const std::uint64_t max_text = lim.text_cap + 8;  // the cap falls inside a character
    auto too_much = [](std::uint64_t n, std::uint64_t max) { return n > max; };
    bool lied = false;
    bool ok = s.ReadFull(w, &kind, 4, &timed_out) && s.ReadFull(w, &hlen, 8, &timed_out);
    if (ok && (lied = too_much(hlen, kMaxHeaderBytes))) ok = false;
    if (ok) { header.resize(hlen); ok = s.ReadFull(w, header.data(), hlen, &timed_out); }
    ok = ok && s.ReadFull(w, &blen, 8, &timed_out);
    if (ok && (lied = too_much(blen, max_bytes) || too_much(w.bytes + blen, lim.max_total_bytes))) ok = false;
    if (ok) { bytes.resize(blen); ok = s.ReadFull(w, bytes.data(), blen, &timed_out); }
    ok = ok && s.ReadFull(w, &tlen, 8, &timed_out);
    if (ok && (lied = too_much(tlen, max_text))) ok = false;
    if (ok) { text.resize(tlen); ok = s.ReadFull(w, text.data(), tlen, &timed_out); }
    if (!ok) {
      crypto::Wipe(bytes);
      crypto::Wipe(text);
      if (lied) return s.Fail(w, "the extractor sent a reply past its limits", true);
      return s.Fail(w, timed_out ? "the extractor exceeded its wall-clock limit" : "", timed_out);
    }
    const auto [header_json, entity_block] = SplitHeader(header);
    const json h = json::parse(header_json, nullptr, false);
    ExtractEvent e;
    e.job = w.queue.front().id;
    if (kind == kDoneFrame) {
      auto f = h.is_object() ? h.find("failure") : h.end();
      if (!h.is_object() || f == h.end() || !f->is_string() || blen != 0 || tlen != 0 ||
          !entity_block.empty()) {
        return s.Fail(w, "malformed worker reply", true);
      }
      e.done = true;
      e.failure = f->get<std::string>();
      s.EndJob(w);
      return e;
    }
    if (kind != kItemFrame || !ItemFromHeader(h, &e.item) || !EntitiesFromBlock(entity_block, tlen, &e.item.entities) ||
        e.item.index <= w.last_index || (w.last_index < 0) != (e.item.index == 0) ||
        ++w.items > lim.max_items + 1) {
      crypto::Wipe(bytes);
      crypto::Wipe(text);
      return s.Fail(w, "malformed worker reply", true);
    }
    w.last_index = e.item.index;
    w.bytes += blen;
    e.item.text = std::move(text);
    e.bytes = std::move(bytes);
    return e;
  }
}

std::string ExtractPool::DefaultWorkerPath() {
  if (const char* env = std::getenv("DOSSIER_EXTRACT_WORKER")) return env;
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "dossier-extract";
  std::string self(buf, static_cast<std::size_t>(n));
  return self.substr(0, self.find_last_of('/') + 1) + "dossier-extract";
}

}  // namespace dossier::indexer
