#include "base/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "base/error.h"

namespace dossier {

ChildProcess ChildProcess::Spawn(const SpawnOptions& o) {
  // Everything the child touches is made here, before fork.
  std::vector<char*> argv;
  std::string path = o.path;
  argv.push_back(path.data());
  std::vector<std::string> args = o.args, env = o.env;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int highest = 2;
  for (const auto& [from, to] : o.fds) highest = std::max(highest, to);
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(ErrorCode::kInternal, "cannot start a child process");
  if (pid == 0) {
    for (const auto& [from, to] : o.fds) {
      if (from == to) {
        ::fcntl(to, F_SETFD, 0);  // keep it across exec
      } else if (::dup2(from, to) < 0) {
        ::_exit(127);
      }
    }
    ::close_range(static_cast<unsigned>(highest) + 1, ~0U, 0);
    if (o.nice != 0) (void)!::nice(o.nice);
    ::execve(path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return ChildProcess(pid);
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = std::exchange(o.pid_, -1);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void ChildProcess::Kill(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

std::optional<int> ChildProcess::WaitFor(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == pid_ || (got < 0 && errno != EINTR)) {
      pid_ = -1;
      return status;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int ChildProcess::Finish(std::chrono::milliseconds grace) {
  if (auto status = WaitFor(grace)) return *status;
  Kill(SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exit " + std::to_string(WEXITSTATUS(status));
}

}  // namespace dossier
