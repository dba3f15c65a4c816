// A child process started with fork+exec, owned by a handle: the one place
// Dossier forks. After fork only async-signal-safe calls run (the parent
// may have threads), so everything the child needs is built before.
// Destroying a handle whose child still runs kills it (SIGKILL) and reaps
// it, so no path leaves a zombie or a stray worker behind.
// Thread-safety: a handle is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dossier {

struct SpawnOptions {
  std::string path;                   // the executable
  std::vector<std::string> args;      // argv[1..]
  std::vector<std::string> env;       // the child's whole environment
  // Descriptors the child keeps: (descriptor here, its number there).
  // Every other descriptor is closed before exec.
  std::vector<std::pair<int, int>> fds;
  int nice = 0;  // added to the child's niceness (background work)
};

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts the child. Throws Error(kInternal) if fork fails; an exec that
  // fails ends the child with exit code 127.
  static ChildProcess Spawn(const SpawnOptions& options);
  ~ChildProcess();
  ChildProcess(ChildProcess&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  void Kill(int signal);
  // Waits up to `timeout` for the child to end; its wait(2) status, or
  // nothing if it still runs. Once it returns a status the handle is empty.
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);
  // Waits up to `grace` for the child to end by itself, then kills it;
  // returns its wait status.
  int Finish(std::chrono::milliseconds grace);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// A sentence for a wait(2) status: "exit 3", "killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int status);

}  // namespace dossier
