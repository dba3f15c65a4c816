// Private to indexer/: the wire format between ExtractPool and its
// dossier-extract workers.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "indexer/extract.h"

namespace dossier::indexer {
using nlohmann::json;

// Frames, worker to parent: u32 kind | u64 len + header JSON | u64 len +
// bytes | u64 len + text. Kind 1 is an item, kind 2 the end of the job.
inline constexpr std::uint32_t kItemFrame = 1, kDoneFrame = 2;
inline constexpr int kWorkerFd = 3;

inline bool WriteFull(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

inline bool WriteFrame(int fd, std::uint32_t kind, const std::string& header,
                std::string_view bytes, std::string_view text) {
  auto u64 = [&](std::uint64_t v) { return WriteFull(fd, &v, 8); };
  return WriteFull(fd, &kind, 4) && u64(header.size()) && WriteFull(fd, header.data(), header.size()) &&
         u64(bytes.size()) && WriteFull(fd, bytes.data(), bytes.size()) && u64(text.size()) &&
         WriteFull(fd, text.data(), text.size());
}

inline json ItemHeader(const ExtractedItem& it) {
  return {{"index", it.index},   {"parent", it.parent},  {"path", it.path},
          {"name", it.name},     {"mime", it.mime},      {"status", it.status},
          {"error", it.error},   {"language", it.language},
          {"truncated", it.text_truncated}, {"fields", it.fields}};
}

inline ExtractedItem ItemFromHeader(const json& h) {
  ExtractedItem it;
  it.index = h.value("index", 0);
  it.parent = h.value("parent", -1);
  it.path = h.value("path", "");
  it.name = h.value("name", "");
  it.mime = h.value("mime", "");
  it.status = h.value("status", "error");
  it.error = h.value("error", "");
  it.language = h.value("language", "");
  it.text_truncated = h.value("truncated", false);
  if (h.contains("fields") && h["fields"].is_object()) {
    it.fields = h["fields"].get<std::map<std::string, std::string>>();
  }
  return it;
}


}  // namespace dossier::indexer
