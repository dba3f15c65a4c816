// Private to indexer/: the wire format between ExtractPool and its
// dossier-extract workers.
#pragma once

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "indexer/extract.h"
#include "indexer/text.h"

namespace dossier::indexer {
using nlohmann::json;

// Frames, worker to parent: u32 kind | u64 len + header (JSON, then its
// entities: ItemHeader) | u64 len + bytes | u64 len + text. Kind 1 is an
// item, kind 2 the end of the job.
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

// An item's header: its JSON, then, when it has entities, a NUL (which
// JSON text never holds) and the entities in a fixed binary layout. Mail
// carries a score of entities per message, and parsing them as JSON
// arrays cost the parent more than the rest of the header (measured:
// 170M instructions for 630 messages, 13k per entity). Per entity, in the
// host's byte order (worker and parent are one build on one machine):
//   u8 type | u8 field (0 none, 1 from, 2 to, 3 cc, 4 bcc) | u16 value
//   length | u64 begin | u64 end | f64 weight | value bytes
// after a u32 count.
inline constexpr std::size_t kEntityRecordBytes = 1 + 1 + 2 + 8 + 8 + 8;
inline constexpr std::string_view kEntityFields[] = {"", "from", "to", "cc", "bcc"};

template <typename T>
inline void AppendRaw(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Appends `entities` to a header's JSON text (nothing when there are none).
// An entity of a field this protocol does not carry is left out.
inline void AppendEntities(std::string* header, const std::vector<Entity>& entities) {
  if (entities.empty()) return;
  header->push_back('\0');
  const std::size_t count_at = header->size();
  AppendRaw<std::uint32_t>(header, 0);
  std::uint32_t n = 0;
  for (const auto& e : entities) {
    std::size_t field = 0;
    while (field < std::size(kEntityFields) && kEntityFields[field] != e.field) ++field;
    if (field == std::size(kEntityFields) || e.value.size() > kMaxEntityValueBytes) continue;
    AppendRaw<std::uint8_t>(header, static_cast<std::uint8_t>(e.type));
    AppendRaw<std::uint8_t>(header, static_cast<std::uint8_t>(field));
    AppendRaw<std::uint16_t>(header, static_cast<std::uint16_t>(e.value.size()));
    AppendRaw<std::uint64_t>(header, e.begin);
    AppendRaw<std::uint64_t>(header, e.end);
    AppendRaw<double>(header, e.weight);
    header->append(e.value);
    ++n;
  }
  std::memcpy(header->data() + count_at, &n, sizeof n);
}

// The item header for `it`, with `found` as its entities (its own by default).
inline std::string ItemHeader(const ExtractedItem& it, const std::vector<Entity>* found = nullptr) {
  const json h = {{"index", it.index},   {"parent", it.parent},  {"path", NameToUtf8(it.path)},
                  {"name", NameToUtf8(it.name)}, {"mime", it.mime}, {"status", it.status},
                  {"error", it.error},   {"language", it.language},
                  {"truncated", it.text_truncated}, {"fields", it.fields}};
  // Field values from parsers are repaired already; the handler keeps any
  // stray byte from failing the job.
  std::string out = h.dump(-1, ' ', false, json::error_handler_t::replace);
  AppendEntities(&out, found ? *found : it.entities);
  return out;
}

// Splits a header into its JSON text and its entity block (empty: none).
inline std::pair<std::string_view, std::string_view> SplitHeader(std::string_view header) {
  const std::size_t nul = header.find('\0');
  if (nul == std::string_view::npos) return {header, {}};
  return {header.substr(0, nul), header.substr(nul + 1)};
}

// The entities of an item header's block. A worker's reply is hostile: a
// type Dossier does not know, a value that is empty, too long or not
// UTF-8, offsets past the text, a weight outside [0, 1], a field other than
// an address header, too many, or bytes left over or missing, and the
// whole reply is malformed.
inline bool EntitiesFromBlock(std::string_view block, std::size_t text_size, std::vector<Entity>* out) {
  if (block.empty()) return true;  // none
  std::uint32_t n = 0;
  if (block.size() < sizeof n) return false;
  std::memcpy(&n, block.data(), sizeof n);
  block.remove_prefix(sizeof n);
  if (n == 0 || n > kMaxEntitiesPerItem) return false;
  out->reserve(out->size() + n);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (block.size() < kEntityRecordBytes) return false;
    std::uint8_t type = 0, field = 0;
    std::uint16_t len = 0;
    std::uint64_t b = 0, end = 0;
    double w = 0;
    const char* p = block.data();
    std::memcpy(&type, p, 1);
    std::memcpy(&field, p + 1, 1);
    std::memcpy(&len, p + 2, 2);
    std::memcpy(&b, p + 4, 8);
    std::memcpy(&end, p + 12, 8);
    std::memcpy(&w, p + 20, 8);
    block.remove_prefix(kEntityRecordBytes);
    if (type > static_cast<std::uint8_t>(EntityType::kName) || field >= std::size(kEntityFields)) return false;
    if (len == 0 || len > kMaxEntityValueBytes || block.size() < len) return false;
    std::string value(block.substr(0, len));
    block.remove_prefix(len);
    if (RepairUtf8(value) != value || !(w >= 0 && w <= 1)) return false;
    if (field == 0 && (b >= end || end > text_size)) return false;
    out->push_back({static_cast<EntityType>(type), std::move(value), static_cast<std::size_t>(b),
                    static_cast<std::size_t>(end), w, std::string(kEntityFields[field])});
  }
  return block.empty();
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
