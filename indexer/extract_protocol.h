// Private to indexer/: the wire format between ExtractPool and its
// dossier-extract workers.
#pragma once

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "indexer/extract.h"
#include "indexer/text.h"

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

// Frames on their way out of a worker. Small frames gather in one buffer
// that goes out in one write when it fills, when its oldest frame has
// waited 50 ms, or when the job ends (a mail and its end-of-job frame: one
// write instead of eleven); a frame larger than the buffer goes out at once
// with writev, uncopied. So a worker that crashes mid-family has sent what
// it extracted up to 50 ms before.
class FrameWriter {
 public:
  explicit FrameWriter(int fd) : fd_(fd) {}
  bool Add(std::uint32_t kind, const std::string& header, std::string_view bytes,
           std::string_view text) {
    const std::uint64_t sizes[3] = {header.size(), bytes.size(), text.size()};
    const std::size_t total = 4 + 24 + header.size() + bytes.size() + text.size();
    if (buf_.size() + total > kBuffer && !Flush()) return false;
    if (total > kBuffer) {
      iovec iov[7] = {{&kind, 4},
                      {const_cast<std::uint64_t*>(&sizes[0]), 8},
                      {const_cast<char*>(header.data()), header.size()},
                      {const_cast<std::uint64_t*>(&sizes[1]), 8},
                      {const_cast<char*>(bytes.data()), bytes.size()},
                      {const_cast<std::uint64_t*>(&sizes[2]), 8},
                      {const_cast<char*>(text.data()), text.size()}};
      return WriteAllV(iov, 7);
    }
    if (buf_.empty()) oldest_ = std::chrono::steady_clock::now();
    buf_.append(reinterpret_cast<const char*>(&kind), 4);
    buf_.append(reinterpret_cast<const char*>(&sizes[0]), 8).append(header);
    buf_.append(reinterpret_cast<const char*>(&sizes[1]), 8).append(bytes);
    buf_.append(reinterpret_cast<const char*>(&sizes[2]), 8).append(text);
    if (std::chrono::steady_clock::now() - oldest_ >= std::chrono::milliseconds(50)) return Flush();
    return true;
  }
  bool Flush() {
    const bool ok = WriteFull(fd_, buf_.data(), buf_.size());
    buf_.clear();
    return ok;
  }

 private:
  static constexpr std::size_t kBuffer = 64 * 1024;
  bool WriteAllV(iovec* iov, int n) {
    while (n > 0) {
      const ssize_t w = ::writev(fd_, iov, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      std::size_t left = static_cast<std::size_t>(w);
      while (n > 0 && left >= iov->iov_len) {
        left -= iov->iov_len;
        ++iov;
        --n;
      }
      if (n > 0) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + left;
        iov->iov_len -= left;
      }
    }
    return true;
  }
  int fd_;
  std::string buf_;
  std::chrono::steady_clock::time_point oldest_;
};

// `found`: the entities to send (the item's own by default).
inline json ItemHeader(const ExtractedItem& it, const std::vector<Entity>* found = nullptr) {
  json entities = json::array();
  for (const auto& e : found ? *found : it.entities) {
    entities.push_back({std::string(EntityTypeName(e.type)), e.value, e.begin, e.end, e.weight, e.field});
  }
  return {{"index", it.index},   {"parent", it.parent},  {"path", NameToUtf8(it.path)},
          {"name", NameToUtf8(it.name)}, {"mime", it.mime}, {"status", it.status},
          {"error", it.error},   {"language", it.language},
          {"truncated", it.text_truncated}, {"fields", it.fields}, {"entities", entities}};
}

// The entities of an item header: [type, value, begin, end, weight, field]
// each. A worker's reply is hostile: a type Dossier does not know, a value
// that is empty, too long or not UTF-8, offsets past the text, a weight
// outside [0, 1], a field other than an address header, or too many, and
// the whole reply is malformed.
inline bool EntitiesFromHeader(const json& h, std::size_t text_size, std::vector<Entity>* out) {
  auto f = h.find("entities");
  if (f == h.end()) return true;  // none
  if (!f->is_array() || f->size() > kMaxEntitiesPerItem) return false;
  for (const auto& e : *f) {
    if (!e.is_array() || e.size() != 6 || !e[0].is_string() || !e[1].is_string() ||
        !e[2].is_number_integer() || !e[3].is_number_integer() || !e[4].is_number() || !e[5].is_string() ||
        e[2].get<std::int64_t>() < 0 || e[3].get<std::int64_t>() < 0) {
      return false;
    }
    const auto type = EntityTypeFromName(e[0].get<std::string>());
    std::string value = e[1].get<std::string>(), field = e[5].get<std::string>();
    const auto b = static_cast<std::uint64_t>(e[2].get<std::int64_t>());
    const auto end = static_cast<std::uint64_t>(e[3].get<std::int64_t>());
    const double w = e[4].get<double>();
    if (!type || value.empty() || value.size() > kMaxEntityValueBytes || RepairUtf8(value) != value) return false;
    if (!(w >= 0 && w <= 1)) return false;
    if (field.empty()) {
      if (b >= end || end > text_size) return false;
    } else if (field != "from" && field != "to" && field != "cc" && field != "bcc") {
      return false;
    }
    out->push_back({*type, std::move(value), static_cast<std::size_t>(b), static_cast<std::size_t>(end), w,
                    std::move(field)});
  }
  return true;
}

// Reads an item header sent by a worker. The worker parses hostile input,
// so its replies are hostile too: every field must have its type, and
// anything else makes the reply malformed (false) rather than throwing.
inline bool ItemFromHeader(const json& h, ExtractedItem* it) {
  if (!h.is_object()) return false;
  auto str = [&](const char* key, std::string* out) {
    auto f = h.find(key);
    if (f == h.end() || !f->is_string()) return false;
    *out = f->get<std::string>();
    return true;
  };
  auto f_index = h.find("index"), f_parent = h.find("parent"), f_trunc = h.find("truncated");
  if (f_index == h.end() || !f_index->is_number_integer() || f_parent == h.end() ||
      !f_parent->is_number_integer() || f_trunc == h.end() || !f_trunc->is_boolean()) {
    return false;
  }
  const auto index = f_index->get<std::int64_t>(), parent = f_parent->get<std::int64_t>();
  if (index < 0 || index > (1 << 30) || parent < -1 || parent >= index) return false;
  it->index = static_cast<int>(index);
  it->parent = static_cast<int>(parent);
  it->text_truncated = f_trunc->get<bool>();
  if (!str("path", &it->path) || !str("name", &it->name) || !str("mime", &it->mime) ||
      !str("status", &it->status) || !str("error", &it->error) ||
      !str("language", &it->language)) {
    return false;
  }
  if (it->status != "ok" && it->status != "unsupported" && it->status != "error" &&
      it->status != "link") {
    return false;
  }
  auto fields = h.find("fields");
  if (fields == h.end() || !fields->is_object()) return false;
  for (auto f = fields->begin(); f != fields->end(); ++f) {
    if (!f->is_string()) return false;
    it->fields[f.key()] = f->get<std::string>();
  }
  return true;
}

}  // namespace dossier::indexer
