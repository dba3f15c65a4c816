#include "tools/folder_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace dossier::tools {

FolderWatch::FolderWatch() : fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {}

FolderWatch::~FolderWatch() = default;

bool FolderWatch::Add(const std::string& dir) {
  if (!fd_) return false;
  const int wd = ::inotify_add_watch(fd_.get(), dir.c_str(),
                                     IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR);
  if (wd < 0) return false;
  dirs_[wd] = dir;
  return true;
}

std::set<std::string> FolderWatch::Wait(int timeout_ms) {
  std::set<std::string> out;
  if (!fd_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return out;
  }
  auto drain = [&] {
    alignas(inotify_event) char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n <= 0) return;  // EAGAIN: nothing more for now
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        auto dir = dirs_.find(e->wd);
        if (dir == dirs_.end() || e->len == 0) continue;
        const std::string path = (std::filesystem::path(dir->second) / e->name).string();
        if (e->mask & IN_ISDIR) {
          Add(path);  // a new subfolder: watched from now on, scanned by the caller
          out.insert(path);
        } else if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
          out.insert(path);
        }
      }
    }
  };
  pollfd p{fd_.get(), POLLIN, 0};
  // EINTR (Ctrl-C) returns at once, so the caller sees its stop flag.
  if (::poll(&p, 1, timeout_ms) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    drain();
  }
  return out;
}

}  // namespace dossier::tools
