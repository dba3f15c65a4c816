#include "repo/text_store.h"

#include <cstring>

#include "base/error.h"
#include "crypto/envelope.h"

namespace dossier::repo {

namespace {

constexpr char kMagicV1[4] = {'D', 'S', 'T', '1'};
constexpr char kMagicV2[4] = {'D', 'S', 'T', '2'};
constexpr std::size_t kHeader = 12;
// A sealed chunk is at most a chunk (a little over kChunkBytes when a long
// word straddles the cut) plus nonce and tag; anything longer is damage.
constexpr std::uint32_t kMaxSealed = 4 * TextStore::kChunkBytes + 1024;

void PutU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint32_t GetU32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int k = 0; k < 4; ++k) v |= std::uint32_t{p[k]} << (8 * k);
  return v;
}

}  // namespace

TextStore::Writer::Writer(BlobStore& files, crypto::SecretBytes text_key, std::string doc_id)
    : file_(files.Create()), key_(std::move(text_key)), doc_id_(std::move(doc_id)) {
  file_->Append(kMagicV2, sizeof kMagicV2);
}
TextStore::Writer::Writer(Writer&&) noexcept = default;
TextStore::Writer::~Writer() {
  if (held_) crypto::Wipe(held_->first);
}

TextStore::Writer TextStore::Write(const crypto::SecretBytes& text_key, const std::string& doc_id) {
  return Writer(files_, text_key.Clone(), doc_id);
}

void TextStore::Writer::Add(std::string chunk, const indexer::ChunkRange& range) {
  SealHeld(false);
  held_.emplace(std::move(chunk), range);
}

void TextStore::Writer::SealHeld(bool last) {
  if (!held_) return;
  const indexer::ChunkRange& r = held_->second;
  const crypto::Bytes sealed = crypto::SealMessage(
      key_, crypto::TextChunkAdV2(doc_id_, next_, last, r.first_pos, r.end_pos), held_->first);
  crypto::Wipe(held_->first);
  std::string rec;
  rec.reserve(kHeader + sealed.size());
  PutU32(rec, r.first_pos);
  PutU32(rec, r.end_pos);
  PutU32(rec, static_cast<std::uint32_t>(sealed.size()));
  rec.append(sealed.begin(), sealed.end());
  file_->Append(rec.data(), rec.size());
  held_.reset();
  ++next_;
}

std::unique_ptr<PendingBlob> TextStore::Writer::Finish() {
  if (!held_ && next_ == 0) held_.emplace(std::string(), indexer::ChunkRange{1, 1, 0});
  SealHeld(true);
  file_->Close();
  return std::move(file_);
}

namespace {

struct Chunk {
  std::uint32_t first_pos = 0, end_pos = 0;  // word positions covered
  std::uint64_t offset = 0;                  // of the sealed message
  std::uint32_t length = 0;
};
struct Index {
  int version = 2;
  std::vector<Chunk> chunks;
};

// The record headers of a stored text.
Index ReadIndex(BlobReader& in) {
  char magic[4];
  Index index;
  if (!in.ReadAt(0, magic, 4)) throw Error(ErrorCode::kCorrupt, "stored text has a malformed header");
  if (std::memcmp(magic, kMagicV2, 4) == 0) {
    index.version = 2;
  } else if (std::memcmp(magic, kMagicV1, 4) == 0) {
    index.version = 1;
  } else {
    throw Error(ErrorCode::kCorrupt, "stored text has a malformed header");
  }
  const std::uint64_t size = in.Size();
  std::uint64_t at = 4;
  while (at < size) {
    unsigned char head[kHeader];
    if (!in.ReadAt(at, head, sizeof head)) throw Error(ErrorCode::kCorrupt, "stored text is truncated");
    Chunk c;
    c.first_pos = GetU32(head);
    c.end_pos = GetU32(head + 4);
    c.length = GetU32(head + 8);
    c.offset = at + kHeader;
    if (c.length > kMaxSealed || c.first_pos > c.end_pos) {
      throw Error(ErrorCode::kCorrupt, "stored text has a malformed record");
    }
    at = c.offset + c.length;
    if (at > size) throw Error(ErrorCode::kCorrupt, "stored text is truncated");
    index.chunks.push_back(c);
  }
  if (index.chunks.empty()) throw Error(ErrorCode::kCorrupt, "stored text is truncated");
  return index;
}

// Chunk `i`, opened and verified.
std::string OpenChunk(BlobReader& in, const Index& index, std::size_t i, const std::string& doc_id,
                      const crypto::SecretBytes& key) {
  const Chunk& c = index.chunks[i];
  crypto::Bytes sealed(c.length);
  if (!in.ReadAt(c.offset, sealed.data(), sealed.size())) {
    throw Error(ErrorCode::kCorrupt, "stored text is truncated");
  }
  const auto n = static_cast<std::uint32_t>(i);
  const bool last = i + 1 == index.chunks.size();
  // The last flag in the associated data: a list cut short fails here.
  return crypto::OpenMessage(key,
                             index.version == 1
                                 ? crypto::TextChunkAd(doc_id, n, last)
                                 : crypto::TextChunkAdV2(doc_id, n, last, c.first_pos, c.end_pos),
                             sealed);
}

}  // namespace

std::string TextStore::OpenChunkAt(const std::string& name, const std::string& doc_id,
                                   const crypto::SecretBytes& key,
                                   std::optional<std::uint32_t> pos,
                                   std::uint32_t* first_pos) const {
  auto in = files_.Open(name);
  const Index index = ReadIndex(*in);
  std::size_t pick = 0;
  if (pos) {
    for (std::size_t i = 0; i < index.chunks.size(); ++i) {
      if (*pos >= index.chunks[i].first_pos && *pos < index.chunks[i].end_pos) {
        pick = i;
        break;
      }
    }
  }
  if (first_pos) *first_pos = index.chunks.empty() ? 0 : index.chunks[pick].first_pos;
  return OpenChunk(*in, index, pick, doc_id, key);
}

void TextStore::ReadAll(const std::string& name, const std::string& doc_id,
                        const crypto::SecretBytes& key,
                        const std::function<void(std::string_view)>& sink) const {
  auto in = files_.Open(name);
  const Index index = ReadIndex(*in);
  for (std::size_t i = 0; i < index.chunks.size(); ++i) {
    std::string chunk = OpenChunk(*in, index, i, doc_id, key);
    try {
      sink(chunk);
    } catch (...) {
      crypto::Wipe(chunk);
      throw;
    }
    crypto::Wipe(chunk);
  }
}

}  // namespace dossier::repo
