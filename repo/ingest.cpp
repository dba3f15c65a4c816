// Repository::Ingest: files in, encrypted blobs, sealed text chunks, blind
// index entries out, with the crash-safety order of DESIGN.md, paid once per
// commit group rather than once per document:
//   1. each blob and text is written to a temporary file (never under a name);
//   2. the group's rows commit as `pending` (one transaction);
//   3. the group's files are renamed into place and made durable by one
//      syncfs (measured: per-file fsyncs held ingest to 139 small files/s);
//   4. the group's documents are added to the shard and the shard commits;
//   5. the rows are marked indexed and the documents acknowledged.
// Opening the repository after a crash keeps a pending row whose id term
// is in its shard and removes one whose term is missing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "crypto/blob_stream.h"
#include "indexer/document_builder.h"
#include "indexer/text.h"
#include "repo/repository_impl.h"

namespace dossier::repo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct SourceFile {
  std::string path;  // where to read it
  std::string rel;   // its path relative to the ingested argument
};

// Expands files and directories (recursively, symlinks not followed) into
// a sorted list of regular files. Every argument is checked before anything
// is written.
std::vector<SourceFile> ExpandPaths(const std::vector<std::string>& paths) {
  std::vector<SourceFile> out;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::error_code ec;
    const fs::path p(paths[i]);
    const auto st = fs::symlink_status(p, ec);
    if (ec || !fs::exists(st)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "path argument " + std::to_string(i + 1) + " does not exist");
    }
    if (fs::is_regular_file(st)) {
      out.push_back({p.string(), p.filename().string()});
    } else if (fs::is_directory(st)) {
      std::vector<SourceFile> found;
      for (auto it = fs::recursive_directory_iterator(p, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
          found.push_back({it->path().string(),
                           it->path().lexically_relative(p).string()});
        }
      }
      if (ec) {
        throw Error(ErrorCode::kIo, "cannot read directory argument " +
                                        std::to_string(i + 1));
      }
      std::sort(found.begin(), found.end(),
                [](const SourceFile& a, const SourceFile& b) { return a.rel < b.rel; });
      out.insert(out.end(), found.begin(), found.end());
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  "path argument " + std::to_string(i + 1) +
                      " is neither a regular file nor a directory");
    }
  }
  return out;
}

std::string DocAd(const std::string& id) { return "dossier.doc.v1|" + id; }

// A commit group also closes once it holds this much indexed text: its
// built Xapian documents are in memory until the group commits.
constexpr std::size_t kMaxGroupText = 48u << 20;

void PutU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// One document of an ingest on its way through the steps above.
struct Staged {
  IngestedDocument info;
  std::optional<indexer::PreparedDocument> prepared;  // empty for duplicates
  std::optional<FileStore::Pending> blob, text;       // empty for duplicates
  std::string blob_name, text_name;
  std::string restrict_text;
  crypto::Bytes dedup_key, place_key, sealed_meta, recovery_key;
  std::vector<std::pair<RoleId, crypto::Bytes>> sealed_keys;
  std::size_t text_bytes = 0;
};

}  // namespace

std::vector<TextChunkRecord> ReadTextRecords(const FileStore& store,
                                             const std::string& name) {
  Fd fd = store.Open(name);
  char magic[4];
  if (ReadSome(fd.get(), magic, 4) != 4 || std::string(magic, 4) != "DST1") {
    throw Error(ErrorCode::kCorrupt, "stored text has a malformed header");
  }
  std::vector<TextChunkRecord> out;
  for (;;) {
    unsigned char head[12];
    const std::size_t n = ReadSome(fd.get(), head, sizeof head);
    if (n == 0) break;
    if (n != sizeof head) throw Error(ErrorCode::kCorrupt, "stored text is truncated");
    auto u32 = [&](int at) {
      std::uint32_t v = 0;
      for (int i = 0; i < 4; ++i) v |= std::uint32_t{head[at + i]} << (8 * i);
      return v;
    };
    TextChunkRecord r;
    r.first_pos = u32(0);
    r.end_pos = u32(4);
    const std::uint32_t len = u32(8);
    if (len > 4 * kTextChunkBytes + 1024) {
      throw Error(ErrorCode::kCorrupt, "stored text has a malformed record");
    }
    r.sealed.resize(len);
    if (ReadSome(fd.get(), r.sealed.data(), len) != len) {
      throw Error(ErrorCode::kCorrupt, "stored text is truncated");
    }
    out.push_back(std::move(r));
  }
  return out;
}

IngestSummary Repository::Ingest(
    const Session& actor, const IngestRequest& req,
    const std::function<void(const IngestedDocument&)>& on_acknowledged) {
  Impl& s = *impl_;
  s.RequireWritable();
  if (actor.impl().repo_id != s.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
  s.RequireCaseVisible(actor, req.case_id);
  const std::string language = req.language.empty() ? "en" : req.language;
  if (language != "none" && !indexer::IsSupportedLanguage(language)) {
    throw Error(ErrorCode::kInvalidArgument, "unsupported language code");
  }
  if (req.paths.empty()) throw Error(ErrorCode::kInvalidArgument, "nothing to ingest");

  // The access set: the case's roles, narrowed by --restrict.
  const AccessSet case_roles = s.CaseRoles(req.case_id);
  AccessSet set = case_roles;
  std::string restrict_text;
  if (!req.restrict_to.empty()) {
    AccessSet restrict;
    for (const auto& name : req.restrict_to) {
      const RoleId id = s.RoleIdOf(name);
      if (!case_roles.count(id)) {
        throw Error(ErrorCode::kInvalidArgument,
                    "a restricted document's roles must be granted on its case");
      }
      restrict.insert(id);
    }
    set = restrict;
    restrict_text = EncodeSet(restrict);
  }
  bool holds = actor.is_recovery();
  for (RoleId r : set) holds = holds || s.HoldsRole(actor, r);
  if (!holds) {
    // Deduplication within a set the uploader cannot open would reveal
    // what it holds, so nobody writes where they cannot read.
    throw Error(ErrorCode::kForbidden,
                "you must hold one of the document's roles to ingest it");
  }
  std::vector<std::pair<RoleId, crypto::PublicKey>> recipients;
  for (RoleId r : set) recipients.emplace_back(r, s.RolePublicKey(r));

  const std::vector<SourceFile> files = ExpandPaths(req.paths);

  std::string shard;
  {
    sql::Transaction t(*s.db);
    shard = s.ShardFor(set);
    sql::Stmt lang(*s.db, "INSERT OR IGNORE INTO shard_languages VALUES(?, ?)");
    lang.Bind(1, shard).Bind(2, language).Run();
    t.Commit();
  }

  const std::size_t cap = s.options.indexed_text_cap ? s.options.indexed_text_cap
                                                     : indexer::kDefaultIndexedTextCap;
  indexer::DocumentBuilder builder(*s.blind, cap);
  IngestSummary summary;
  std::vector<Staged> group;

  // Dedup within the group being staged (its rows are not in SQLite yet).
  std::map<crypto::Bytes, std::size_t> group_place;
  std::map<crypto::Bytes, std::string> group_original;
  std::size_t group_text = 0;

  auto flush = [&] {
    if (group.empty()) return;
    {
      sql::Transaction t(*s.db);
      sql::Stmt ins(*s.db,
                    "INSERT INTO documents(id, case_id, parent_id, shard_id, restrict_set, "
                    "status, blob, text, size, dedup_key, place_key, duplicate_of, "
                    "sealed_meta, recovery_sealed_key, created_at, final_status) "
                    "VALUES(?, ?, NULL, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      sql::Stmt k(*s.db, "INSERT INTO document_keys(doc_id, role_id, sealed_key) VALUES(?, ?, ?)");
      const std::string now = s.NowText();
      for (auto& g : group) {
        const bool duplicate = !g.info.duplicate_of.empty();
        ins.Reset();
        ins.Bind(1, g.info.id).Bind(2, req.case_id).Bind(3, shard);
        g.restrict_text.empty() ? ins.BindNull(4) : ins.Bind(4, g.restrict_text);
        duplicate ? ins.BindNull(5) : ins.Bind(5, g.blob_name);
        duplicate ? ins.BindNull(6) : ins.Bind(6, g.text_name);
        ins.Bind(7, static_cast<std::int64_t>(g.info.size));
        duplicate ? ins.BindNull(8) : ins.Bind(8, g.dedup_key);
        ins.Bind(9, g.place_key);
        duplicate ? ins.Bind(10, g.info.duplicate_of) : ins.BindNull(10);
        ins.Bind(11, g.sealed_meta).Bind(12, g.recovery_key).Bind(13, now).Bind(14, g.info.status);
        ins.Run();
        for (const auto& [role, sealed] : g.sealed_keys) {
          k.Reset();
          k.Bind(1, g.info.id).Bind(2, role).Bind(3, sealed).Run();
        }
      }
      t.Commit();
    }
    s.Fault("after_rows_pending");
    for (auto& g : group) {
      if (g.blob) s.blobs->Rename(*g.blob, g.blob_name);
      if (g.text) s.text->Rename(*g.text, g.text_name);
    }
    s.blobs->SyncFilesystem();
    s.text->SyncFilesystem();
    s.Fault("after_blob_published");
    for (auto& g : group) {
      if (g.prepared) s.shards->Add(shard, std::move(*g.prepared));
    }
    s.Fault("before_index_commit");
    s.shards->Commit(shard);
    s.Fault("after_index_commit");
    {
      sql::Transaction t(*s.db);
      sql::Stmt up(*s.db, "UPDATE documents SET status=final_status WHERE id=?");
      for (auto& g : group) {
        up.Reset();
        up.Bind(1, g.info.id).Run();
      }
      t.Commit();
    }
    s.Fault("after_mark_indexed");
    for (auto& g : group) {
      summary.documents.push_back(g.info);
      if (on_acknowledged) on_acknowledged(g.info);
    }
    group.clear();
    group_place.clear();
    group_original.clear();
    group_text = 0;
  };

  for (const SourceFile& src : files) {
    Fd fd(::open(src.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      throw Error(ErrorCode::kIo, "cannot read a file to ingest");
    }
    Staged staged;
    IngestedDocument& info = staged.info;
    info.id = "d" + crypto::RandomId(15);
    info.path = src.rel;
    info.filename = fs::path(src.rel).filename().string();

    crypto::SecretBytes data_key = crypto::NewDataKey();
    const crypto::SecretBytes text_key =
        crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kText);
    FileStore::Pending blob = s.blobs->Create();
    FileStore::Pending text = s.text->Create();
    text.Append("DST1", 4);
    crypto::BlobEncryptor enc(
        crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kBlob),
        [&](const unsigned char* p, std::size_t n) { blob.Append(p, n); });
    crypto::Sha256 sha;
    crypto::KeyedHasher::Stream mac = s.dedup->Start();

    indexer::DocumentFields fields;
    fields.doc_id = info.id;
    fields.case_id = req.case_id;
    fields.custodian = req.custodian;
    fields.filename = info.filename;
    fields.language = language;
    fields.type = "text";
    fields.day = static_cast<std::int64_t>(st.st_mtime) / 86400;
    builder.Begin(fields);

    // Text chunks are sealed one behind, so the last one can carry the
    // "last" flag that makes truncation of the chunk list detectable.
    std::string carry;
    std::optional<std::pair<std::string, indexer::ChunkRange>> held;
    std::uint32_t chunk_no = 0;
    bool text_done = false;
    std::uint64_t indexed_bytes = 0;
    auto seal_held = [&](bool last) {
      if (!held) return;
      const crypto::Bytes sealed = crypto::SealMessage(
          text_key, crypto::TextChunkAd(info.id, chunk_no, last), held->first);
      std::string rec;
      PutU32(rec, held->second.first_pos);
      PutU32(rec, held->second.end_pos);
      PutU32(rec, static_cast<std::uint32_t>(sealed.size()));
      rec.append(sealed.begin(), sealed.end());
      text.Append(rec.data(), rec.size());
      crypto::Wipe(held->first);
      held.reset();
      ++chunk_no;
    };
    auto take_chunk = [&](std::string chunk) {
      if (text_done) return;
      indexer::ChunkRange range = builder.AddText(chunk);
      if (range.consumed < chunk.size()) {
        text_done = true;  // the cap: keep only what was indexed
        chunk.resize(range.consumed);
        if (chunk.empty()) return;
      }
      indexed_bytes += chunk.size();
      seal_held(false);
      held.emplace(std::move(chunk), range);
    };

    std::vector<unsigned char> buf(crypto::kBlobChunk);
    for (;;) {
      const std::size_t n = ReadSome(fd.get(), buf.data(), buf.size());
      if (n == 0) break;
      enc.Write(buf.data(), n);
      sha.Update(buf.data(), n);
      mac.Update(buf.data(), n);
      info.size += n;
      if (!text_done) {
        carry.append(reinterpret_cast<const char*>(buf.data()), n);
        while (carry.size() >= 2 * kTextChunkBytes && !text_done) {
          const std::size_t cut = indexer::ChunkBoundary(carry, kTextChunkBytes);
          take_chunk(indexer::RepairUtf8(std::string_view(carry).substr(0, cut)));
          crypto::Wipe(carry.data(), cut);
          carry.erase(0, cut);
        }
      }
      crypto::Wipe(buf.data(), n);
      if (text_done && !carry.empty()) {
        crypto::Wipe(carry);
        carry.clear();
      }
    }
    while (!carry.empty() && !text_done) {
      const std::size_t cut = indexer::ChunkBoundary(carry, kTextChunkBytes);
      take_chunk(indexer::RepairUtf8(std::string_view(carry).substr(0, cut)));
      crypto::Wipe(carry.data(), cut);
      carry.erase(0, cut);
    }
    crypto::Wipe(carry);
    if (!held && chunk_no == 0) held.emplace(std::string(), indexer::ChunkRange{1, 1, 0});
    seal_held(true);
    enc.Finish();
    indexer::PreparedDocument prepared = builder.Finish();
    info.sha256 = sha.FinalHex();
    const std::string content_mac = mac.Final();
    s.Fault("after_blob_written");

    // Deduplication, scoped to this access set (and, for "same place", to
    // this case, custodian and path).
    const crypto::Bytes dedup_key(content_mac.begin(), content_mac.end());
    const std::string place = s.dedup->Hash(
        "place|" + content_mac + "|" + req.case_id + "|" + req.custodian + "|" + src.rel, 32);
    const crypto::Bytes place_key(place.begin(), place.end());
    bool exists = false;
    if (auto it = group_place.find(place_key); it != group_place.end()) {
      info.id = group[it->second].info.id;
      info.duplicate_of = group[it->second].info.duplicate_of;
      exists = true;
    } else {
      sql::Stmt p(*s.db,
                  "SELECT id, duplicate_of FROM documents WHERE place_key=? AND shard_id=? "
                  "AND status != 'pending'");
      p.Bind(1, place_key).Bind(2, shard);
      if (p.Step()) {
        info.id = p.Text(0);
        info.duplicate_of = p.Text(1);
        exists = true;
      }
    }
    if (exists) {
      info.status = "exists";
      summary.bytes += info.size;
      summary.documents.push_back(info);
      if (on_acknowledged) on_acknowledged(info);
      continue;  // the pending files remove themselves
    }
    std::string original;
    if (auto it = group_original.find(dedup_key); it != group_original.end()) {
      original = it->second;
    } else {
      sql::Stmt d(*s.db,
                  "SELECT id FROM documents WHERE dedup_key=? AND shard_id=? AND "
                  "duplicate_of IS NULL ORDER BY created_at LIMIT 1");
      d.Bind(1, dedup_key).Bind(2, shard);
      if (d.Step()) original = d.Text(0);
    }
    const bool duplicate = !original.empty();
    const bool partial = builder.partial();
    info.duplicate_of = original;
    info.status = duplicate ? "duplicate" : (partial ? "partial" : "indexed");

    json meta = {{"filename", info.filename},
                 {"path", info.path},
                 {"sha256", info.sha256},
                 {"custodian", req.custodian},
                 {"mime", "text/plain"},
                 {"language", language},
                 {"size", info.size},
                 {"mtime", static_cast<std::int64_t>(st.st_mtime)},
                 {"indexed_bytes", indexed_bytes},
                 {"partial", partial}};
    staged.restrict_text = restrict_text;
    staged.dedup_key = dedup_key;
    staged.place_key = place_key;
    staged.sealed_meta = SealJson(crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kMeta),
                                  DocAd(info.id), meta);
    staged.recovery_key = crypto::SealTo(s.recovery_public, data_key);
    for (const auto& [role, pk] : recipients) {
      staged.sealed_keys.emplace_back(role, crypto::SealTo(pk, data_key));
    }
    if (!duplicate) {
      blob.Close();
      text.Close();
      staged.blob.emplace(std::move(blob));
      staged.text.emplace(std::move(text));
      staged.blob_name = crypto::RandomId(26);
      staged.text_name = crypto::RandomId(26);
      staged.prepared.emplace(std::move(prepared));
      staged.text_bytes = indexed_bytes;
      group_original.emplace(dedup_key, info.id);
    }
    group_place.emplace(place_key, group.size());
    summary.bytes += info.size;
    group_text += staged.text_bytes;
    group.push_back(std::move(staged));
    // Bounded memory: built documents wait here until the group commits.
    if (group.size() >= std::max<std::size_t>(1, s.options.commit_group) ||
        group_text >= kMaxGroupText) {
      flush();
    }
  }
  flush();
  return summary;
}

}  // namespace dossier::repo
