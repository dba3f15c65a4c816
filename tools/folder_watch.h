// A consume folder's change feed for `dossier watch`: inotify on every
// directory of the tree, so a file written and closed (or moved in) is
// known at once instead of at the next scan. Where inotify is unavailable
// (its watch limit reached, say) Wait simply sleeps and the caller's scans
// find what arrived.
#pragma once

#include <map>
#include <set>
#include <string>

#include "base/fd.h"

namespace dossier::tools {

class FolderWatch {
 public:
  FolderWatch();
  ~FolderWatch();
  FolderWatch(const FolderWatch&) = delete;
  FolderWatch& operator=(const FolderWatch&) = delete;

  // Watches `dir` (call it for every directory a scan meets; repeats are
  // free). Returns false if it could not be watched.
  bool Add(const std::string& dir);
  // Waits up to `timeout_ms` for files to be closed after writing or moved
  // into a watched directory; returns their paths (a short pause after the
  // first event gathers a burst into one batch).
  std::set<std::string> Wait(int timeout_ms);

 private:
  Fd fd_;
  std::map<int, std::string> dirs_;  // watch descriptor -> directory
};

}  // namespace dossier::tools
