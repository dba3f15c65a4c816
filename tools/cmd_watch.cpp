// watch: a consume folder. What lands in FOLDER is ingested once.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "tools/cli.h"
#include "tools/folder_watch.h"

namespace dossier::tools {

int RunWatch(const Options& o) {
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
  watch.Add(o.folder);
  std::set<std::string> closed;  // reported complete by inotify
  static volatile std::sig_atomic_t stop = 0;
  std::signal(SIGINT, [](int) { stop = 1; });
  std::signal(SIGTERM, [](int) { stop = 1; });
  std::cout << "Watching " << o.folder << " (Ctrl-C stops)." << std::endl;
  while (!stop) {
    std::vector<std::string> ready;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(o.folder, ec);
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
        if (o.once || complete) ready.push_back(p);
      } else if (f->second.size != size || f->second.mtime != mtime) {
        f->second = {size, mtime, now, false, f->second.in_new_folder};
        if (complete) ready.push_back(p);
      } else if (!f->second.done &&
                 (complete || now - f->second.since >= (f->second.in_new_folder
                                                            ? Clock::duration(kNewFolderWait)
                                                            : Clock::duration(std::chrono::seconds(o.interval))))) {
        ready.push_back(p);
      }
    }
    if (!ready.empty()) {
      repo::IngestRequest req;
      req.case_id = o.case_id;
      req.paths = ready;
      req.custodian = o.custodian;
      req.relative_to = o.folder;
      auto summary = r->Ingest(s, req, [&](const repo::IngestedDocument& d) {
        std::cout << (d.id.empty() ? "-" : d.id) << "  " << repo::StatusName(d.status) << "  "
                  << d.path << std::endl;
      });
      for (const auto& p : ready) seen[p].done = true;
    }
    if (o.once) break;
    // Short waits, so Ctrl-C during an ingest or a wait ends the loop
    // within a quarter of a second.
    closed.clear();
    bool short_wait = false;
    for (const auto& [path, f] : seen) short_wait = short_wait || (!f.done && f.in_new_folder);
    const int limit_ms = short_wait ? 1000 : o.interval * 1000;
    for (int waited = 0; !stop && closed.empty() && waited < limit_ms; waited += 250) {
      closed = watch.Wait(250);
    }
  }
  return 0;
}

}  // namespace dossier::tools
