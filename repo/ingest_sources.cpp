// What an ingest reads: its path arguments walked into top-level files.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "indexer/text.h"
#include "repo/ingest.h"

namespace dossier::repo {

namespace fs = std::filesystem;

namespace {

// Why an entry found inside a directory is not read, or "" to read it.
std::string SkipReason(const fs::file_status& st) {
  switch (st.type()) {
    case fs::file_type::regular: return "";
    case fs::file_type::symlink: return "a symbolic link (links are not followed)";
    case fs::file_type::fifo: return "a FIFO (not read)";
    case fs::file_type::block:
    case fs::file_type::character: return "a device (not read)";
    case fs::file_type::socket: return "a socket (not read)";
    default: return "not a regular file";
  }
}

std::string Rel(const fs::path& p, const fs::path& base) {
  return p.lexically_relative(base).string();
}

// Walks one directory argument, depth first, with its own stack (so an
// unreadable folder is reported and the walk goes on past it).
void Walk(const fs::path& root, const fs::path& base, std::vector<SourceFile>* files,
          std::vector<SkippedSource>* skipped) {
  std::vector<SourceFile> found;
  std::vector<fs::path> dirs = {root};
  while (!dirs.empty()) {
    const fs::path dir = dirs.back();
    dirs.pop_back();
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    if (ec) {
      skipped->push_back({Rel(dir, base), "cannot read this folder: " + ec.message()});
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        skipped->push_back({Rel(dir, base), "cannot read all of this folder: " + ec.message()});
        break;
      }
      std::error_code sec;
      const fs::file_status st = it->symlink_status(sec);
      const fs::path& p = it->path();
      if (sec) {
        skipped->push_back({Rel(p, base), "cannot read this entry: " + sec.message()});
      } else if (st.type() == fs::file_type::directory) {
        dirs.push_back(p);
      } else if (const std::string why = SkipReason(st); !why.empty()) {
        skipped->push_back({Rel(p, base), why});
      } else if (::access(p.c_str(), R_OK) != 0) {
        skipped->push_back({Rel(p, base), "cannot read this file: " + std::string(strerror(errno))});
      } else {
        SourceFile f;
        f.path = p.string();
        f.rel = Rel(p, base);
        found.push_back(std::move(f));
      }
    }
  }
  std::sort(found.begin(), found.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.rel < b.rel; });
  files->insert(files->end(), std::make_move_iterator(found.begin()),
                std::make_move_iterator(found.end()));
}

}  // namespace

void ExpandPaths(const std::vector<std::string>& paths, const std::string& relative_to,
                 std::vector<SourceFile>* files, std::vector<SkippedSource>* skipped) {
  std::vector<fs::file_status> kinds;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::error_code ec;
    const auto st = fs::symlink_status(paths[i], ec);
    if (ec || !fs::exists(st)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "path argument " + std::to_string(i + 1) + " does not exist");
    }
    if (!fs::is_regular_file(st) && !fs::is_directory(st)) {
      throw Error(ErrorCode::kInvalidArgument, "path argument " + std::to_string(i + 1) +
                                                   " is neither a regular file nor a directory");
    }
    kinds.push_back(st);
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const fs::path p(paths[i]);
    if (fs::is_regular_file(kinds[i])) {
      SourceFile f;
      f.path = p.string();
      f.rel = relative_to.empty() ? p.filename().string() : Rel(p, relative_to);
      files->push_back(std::move(f));
    } else {
      Walk(p, relative_to.empty() ? p : fs::path(relative_to), files, skipped);
    }
  }
  for (auto& f : *files) {
    std::error_code ec;
    const auto size = fs::file_size(f.path, ec);
    f.size = ec ? 0 : size;
  }
}

}  // namespace dossier::repo
