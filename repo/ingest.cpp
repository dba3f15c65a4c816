// Repository::Ingest: files in; their families extracted in the worker
// pool (indexer/extract_pool.h); encrypted blobs, sealed text chunks and
// blind index entries out, with the crash-safety order of DESIGN.md, paid
// once per commit group rather than once per document:
//   1. each blob and text is written to a temporary file (never under a name);
//   2. the group's rows commit as `pending` (one transaction);
//   3. the group's files are renamed into place and made durable by one
//      syncfs (measured: per-file fsyncs held ingest to 139 small files/s);
//   4. the group's documents are added to the shard and the shard commits;
//   5. the rows are marked indexed and the documents acknowledged.
// Steps 2-5 run on a commit thread while the ingest thread stages the next
// group, so extraction, staging, term building and commits overlap: one
// group commits at a time, and the group being committed stays visible to
// the deduplication and "already there" lookups of the next.
// Opening the repository after a crash keeps a pending row whose id term
// is in its shard and removes one whose term is missing. A family's
// top-level document is staged after all its children, so a top-level
// document that exists means its whole family was acknowledged: running
// the same ingest again resumes where it stopped.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <future>
#include <regex>
#include <thread>
#include <filesystem>
#include <map>
#include <mutex>

#include "crypto/blob_stream.h"
#include "indexer/extract_pool.h"
#include "repo/build_pool.h"
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
  // --retry-failed without paths: a failed document's stored original,
  // decrypted into memory (a memfd) when its turn comes, with what its
  // first ingest recorded.
  std::string stored_id;
  std::string custodian;
  std::optional<std::int64_t> mtime;
  std::uint64_t size = 0;
};

// Expands files and directories (recursively, symlinks not followed) into
// a sorted list of regular files. Every argument is checked before anything
// is written.
std::vector<SourceFile> ExpandPaths(const std::vector<std::string>& paths,
                                    const std::string& relative_to) {
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
      SourceFile f;
      f.path = p.string();
      f.rel = relative_to.empty() ? p.filename().string()
                                  : p.lexically_relative(relative_to).string();
      out.push_back(std::move(f));
    } else if (fs::is_directory(st)) {
      std::vector<SourceFile> found;
      for (auto it = fs::recursive_directory_iterator(p, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
          SourceFile f;
          f.path = it->path().string();
          f.rel = it->path().lexically_relative(relative_to.empty() ? p : fs::path(relative_to)).string();
          found.push_back(std::move(f));
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

// What the build pool makes of one document's text.
struct BuildResult {
  std::optional<FileStore::Pending> text;  // sealed chunks, not yet named
  indexer::PreparedDocument doc;           // added to the shard by the commit
  std::uint64_t indexed_bytes = 0;
  bool partial = false;
};

// One document of an ingest on its way through the steps above.
struct Staged {
  IngestedDocument info;
  std::optional<FileStore::Pending> blob, text;       // empty for duplicates, links
  std::string blob_name, text_name;
  std::string restrict_text;
  crypto::Bytes dedup_key, place_key;
  WrappedKeys keys;
  std::size_t text_bytes = 0;
  std::string replaces;  // a failed document this one replaces (--retry-failed)
  // Terms and text chunks, made on the build pool: the task is submitted
  // when the document joins a commit group (a family's top-level document
  // waits for its children), so every index entry added to the shard's
  // transaction belongs to the group that commits it.
  std::function<BuildResult(indexer::DocumentBuilder&)> build_task;
  std::future<BuildResult> build;
  // Sealed when the group commits, so a failure reported after the item
  // was staged still reaches its metadata.
  crypto::SecretBytes data_key;
  nlohmann::json meta;
};

// What the extractor (or, for a file it never answered about, the failure)
// says about one item.
struct ItemSource {
  int fd = -1;               // a top-level file: its bytes are read from here
  std::string_view bytes;    // a child: its bytes, from the worker
  std::string path, filename, place, parent_id, custodian;
  indexer::ExtractedItem item;
  std::optional<std::int64_t> mtime;
};

std::string TypeFamily(const std::string& mime) {
  if (mime == "application/pdf") return "pdf";
  if (mime == "message/rfc822" || mime == "message/news") return "email";
  if (mime == "application/mbox") return "mailbox";
  if (mime == "text/html" || mime == "application/xhtml+xml") return "html";
  if (mime.rfind("application/vnd.openxmlformats-officedocument.", 0) == 0 ||
      mime.rfind("application/vnd.oasis.opendocument.", 0) == 0) return "office";
  if (mime.rfind("text/", 0) == 0) return "text";
  if (mime == "application/zip" || mime == "application/x-tar" || mime == "application/gzip" ||
      mime == "application/x-7z-compressed" || mime == "application/x-bzip2" ||
      mime == "application/x-xz" || mime == "application/vnd.rar" || mime == "application/x-rar") {
    return "archive";
  }
  return "other";
}

// Email addresses in a header value ("Ana <ana@x.example>, bob@y.example").
std::vector<std::string> Addresses(const std::string& header) {
  static const std::regex kAddress(R"([A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+)");
  std::vector<std::string> out;
  for (std::sregex_iterator it(header.begin(), header.end(), kAddress), end; it != end; ++it) {
    std::string a = it->str();
    for (auto& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(a);
  }
  return out;
}

// Day number of an RFC 3339 date ("2025-02-14T10:00:00Z"), if it is one.
std::optional<std::int64_t> DayOf(const std::string& iso) {
  std::tm tm{};
  if (iso.size() < 10 || !strptime(iso.substr(0, 10).c_str(), "%Y-%m-%d", &tm)) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) / 86400;
}

}  // namespace

std::vector<TextChunkRecord> ReadTextRecords(const FileStore& store, const std::string& name,
                                             bool payloads) {
  Fd fd = store.Open(name);
  char magic[4];
  if (ReadSome(fd.get(), magic, 4) != 4 || std::string(magic, 4) != "DST1") {
    throw Error(ErrorCode::kCorrupt, "stored text has a malformed header");
  }
  std::vector<TextChunkRecord> out;
  std::uint64_t at = 4;
  for (;;) {
    unsigned char head[12];
    const std::size_t n = ReadSome(fd.get(), head, sizeof head);
    if (n == 0) break;
    if (n != sizeof head) throw Error(ErrorCode::kCorrupt, "stored text is truncated");
    auto u32 = [&](int i) {
      std::uint32_t v = 0;
      for (int k = 0; k < 4; ++k) v |= std::uint32_t{head[i + k]} << (8 * k);
      return v;
    };
    TextChunkRecord r;
    r.first_pos = u32(0);
    r.end_pos = u32(4);
    r.length = u32(8);
    r.offset = at + sizeof head;
    if (r.length > 4 * kTextChunkBytes + 1024) {
      throw Error(ErrorCode::kCorrupt, "stored text has a malformed record");
    }
    if (payloads) {
      r.sealed.resize(r.length);
      if (ReadSome(fd.get(), r.sealed.data(), r.length) != r.length) {
        throw Error(ErrorCode::kCorrupt, "stored text is truncated");
      }
    } else if (::lseek(fd.get(), static_cast<off_t>(r.length), SEEK_CUR) < 0) {
      throw Error(ErrorCode::kIo, "cannot read stored text");
    }
    at = r.offset + r.length;
    out.push_back(std::move(r));
  }
  if (!payloads) {
    // Seeking past the end does not fail: check the last record is whole.
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) < at) {
      throw Error(ErrorCode::kCorrupt, "stored text is truncated");
    }
  }
  return out;
}

crypto::Bytes ReadTextChunk(const FileStore& store, const std::string& name,
                            const TextChunkRecord& record) {
  Fd fd = store.Open(name);
  crypto::Bytes out(record.length);
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::pread(fd.get(), out.data() + got, out.size() - got,
                              static_cast<off_t>(record.offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw Error(ErrorCode::kCorrupt, "stored text is truncated");
    got += static_cast<std::size_t>(r);
  }
  return out;
}

IngestSummary Repository::Ingest(
    const Session& actor, const IngestRequest& req,
    const std::function<void(const IngestedDocument&)>& on_acknowledged) {
  Impl& s = *impl_;
  s.RequireWritable();
  // An ingest that stops on an error may leave jobs in the workers; the
  // pool goes with them, so a later ingest never reads their replies.
  struct DropPoolOnError {
    Impl& s;
    ~DropPoolOnError() {
      if (std::uncaught_exceptions() > 0 && s.pool && s.pool->running() > 0) s.pool.reset();
    }
  } drop_pool{s};
  if (actor.impl().repo_id != s.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
  s.RequireCaseVisible(actor, req.case_id);
  const std::string fallback_language = req.language.empty() ? "en" : req.language;
  if (fallback_language != "none" && !indexer::IsSupportedLanguage(fallback_language)) {
    throw Error(ErrorCode::kInvalidArgument, "unsupported language code");
  }
  if (req.paths.empty() && !req.retry_failed) {
    throw Error(ErrorCode::kInvalidArgument, "nothing to ingest");
  }

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
  const KeyBatch key_batch(std::move(recipients), s.recovery_public);

  std::string shard;
  {
    sql::Transaction t(*s.db);
    shard = s.ShardFor(set);
    t.Commit();
  }

  std::vector<SourceFile> files;
  if (!req.paths.empty()) {
    files = ExpandPaths(req.paths, req.relative_to);
    for (auto& f : files) {
      std::error_code ec;
      f.size = fs::file_size(f.path, ec);
      f.custodian = req.custodian;
    }
  } else {
    // Retry from the repository itself: the case's failed top-level
    // documents, read back from their encrypted blobs, so the custodian's
    // originals are not needed again. Only those with this request's exact
    // restriction (none, unless --restrict names one), so a retry never
    // widens or narrows who may open a document; only `error`, as an
    // `unsupported` type stays unsupported.
    sql::Stmt st(*s.db,
                 "SELECT id FROM documents WHERE case_id=? AND shard_id=? AND parent_id IS NULL AND "
                 "status = 'error' AND blob IS NOT NULL AND blob != '' AND restrict_set IS ? "
                 "ORDER BY created_at, rowid");
    st.Bind(1, req.case_id).Bind(2, shard);
    restrict_text.empty() ? st.BindNull(3) : st.Bind(3, restrict_text);
    for (const DocumentInfo& d : OpenableDocuments(actor, st)) {
      SourceFile f;
      f.stored_id = d.id;
      f.rel = d.path;
      f.custodian = d.custodian;
      f.mtime = d.mtime;
      f.size = d.size;
      files.push_back(std::move(f));
    }
  }
  IngestProgress progress;
  progress.files_total = files.size();
  for (const auto& f : files) progress.bytes_total += f.size;
  std::set<std::string> shard_languages;

  if (!s.pool) {
    indexer::ExtractPoolOptions po;
    po.worker_path = s.options.extract_worker.empty() ? indexer::ExtractPool::DefaultWorkerPath()
                                                     : s.options.extract_worker;
    po.workers = s.options.extract_workers > 0
                     ? s.options.extract_workers
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    po.wall_seconds = s.options.extract_wall_seconds;
    po.limits = s.options.extract_limits;
    s.pool = std::make_unique<indexer::ExtractPool>(po);
  }

  const std::size_t cap = s.options.indexed_text_cap ? s.options.indexed_text_cap
                                                     : indexer::kDefaultIndexedTextCap;
  // The commit thread adds each group's index entries to the shard inside a
  // transaction that it makes durable after the group's rows and files; an
  // ingest that fails cancels what it added. Declared before the build pool
  // and the commit thread, so it cancels after both have finished.
  struct CancelOnExit {
    indexer::ShardStore& shards;
    const std::string& shard;
    ~CancelOnExit() {
      try {
        shards.Cancel(shard);
      } catch (...) {
        // Closing the shard cancels it too.
      }
    }
  } cancel_on_exit{*s.shards, shard};
  s.shards->Begin(shard);
  BuildPool<BuildResult> builds(
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), *s.blind, cap);
  IngestSummary summary;
  std::vector<Staged> group;
  // What a commit group holds, for the lookups of items staged after it
  // (its rows are not readable as acknowledged until it commits): the open
  // group, and the group being committed.
  struct GroupIndex {
    std::map<crypto::Bytes, IngestedDocument> place;  // by place key
    std::map<crypto::Bytes, std::string> original;    // document id by content key
    std::set<std::string> ids;
    // Items found already there that name one of its documents: their
    // acknowledgement waits for its commit, so nothing acknowledged can
    // vanish in a crash.
    std::vector<IngestedDocument> exists;
  };
  GroupIndex open, committing_group;
  std::vector<std::pair<std::string, std::string>> reparent;  // child id, new parent id
  std::size_t group_text = 0;
  // --retry-failed: failures this run replaces, and (once the replacement
  // has joined a group) what replaces them. A copy staged before the
  // replacement existed follows it.
  std::set<std::string> being_replaced;
  std::map<std::string, std::string> replaced_by;

  auto acknowledge = [&](const IngestedDocument& d) {
    summary.documents.push_back(d);
    ++progress.items;
    if (d.status == "error" || d.status == "unsupported") ++progress.errors;
    if (on_acknowledged) on_acknowledged(d);
  };
  auto acknowledge_existing = [&](const IngestedDocument& d) {
    if (open.ids.count(d.id)) open.exists.push_back(d);
    else if (committing_group.ids.count(d.id)) committing_group.exists.push_back(d);
    else acknowledge(d);
  };

  // One group commit, on the commit thread while this thread stages the
  // next group: rows (pending), files, index, then rows marked indexed.
  // Its own SQLite connection (WAL: this thread's lookups read the last
  // committed state meanwhile). Returns the documents to acknowledge.
  struct CommitBatch {
    std::vector<Staged> group;
    std::vector<std::pair<std::string, std::string>> reparent;
    std::set<std::string> languages;
  };
  sql::Db commit_db(s.dir + "/dossier.db", false);
  auto commit = [&s, &req, &shard, &key_batch, &db = commit_db](CommitBatch& b) {
    auto& group = b.group;
    for (auto& g : group) {
      if (!g.build.valid()) continue;
      BuildResult r = g.build.get();  // rethrows what the build threw
      if (r.text) {
        g.text.emplace(std::move(*r.text));
        g.text_name = crypto::RandomId(26);
      }
      g.text_bytes = r.indexed_bytes;
      g.meta["indexed_bytes"] = r.indexed_bytes;
      g.meta["partial"] = r.partial;
      if (r.partial && g.info.status == "indexed") g.info.status = "partial";
      s.shards->Add(shard, std::move(r.doc));
    }
    {
      sql::Transaction t(db);
      sql::Stmt ins(db,
                    "INSERT INTO documents(id, case_id, parent_id, shard_id, restrict_set, "
                    "status, blob, text, size, dedup_key, place_key, duplicate_of, "
                    "sealed_meta, recovery_sealed_key, created_at, final_status, key_batch) "
                    "VALUES(?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      sql::Stmt k(db,
                  "INSERT INTO document_keys(doc_id, role_id, sealed_key, key_batch) "
                  "VALUES(?, ?, ?, ?)");
      const std::string now = s.NowText();
      key_batch.Store(db, now);
      for (auto& g : group) {
        const bool duplicate = !g.info.duplicate_of.empty();
        ins.Reset();
        ins.Bind(1, g.info.id).Bind(2, req.case_id);
        g.info.parent_id.empty() ? ins.BindNull(3) : ins.Bind(3, g.info.parent_id);
        ins.Bind(4, shard);
        g.restrict_text.empty() ? ins.BindNull(5) : ins.Bind(5, g.restrict_text);
        g.blob ? ins.Bind(6, g.blob_name) : ins.BindNull(6);
        g.text ? ins.Bind(7, g.text_name) : ins.BindNull(7);
        ins.Bind(8, static_cast<std::int64_t>(g.info.size));
        g.dedup_key.empty() ? ins.BindNull(9) : ins.Bind(9, g.dedup_key);
        ins.Bind(10, g.place_key);
        duplicate ? ins.Bind(11, g.info.duplicate_of) : ins.BindNull(11);
        ins.Bind(12, SealJson(crypto::DeriveDataSubkey(g.data_key, crypto::DataKeyUse::kMeta),
                              DocAd(g.info.id), g.meta));
        ins.Bind(13, g.keys.recovery).Bind(14, now).Bind(15, g.info.status);
        ins.Bind(16, key_batch.id());
        ins.Run();
        for (const auto& [role, wrapped] : g.keys.roles) {
          k.Reset();
          k.Bind(1, g.info.id).Bind(2, role).Bind(3, wrapped).Bind(4, key_batch.id()).Run();
        }
      }
      sql::Stmt lang(db, "INSERT OR IGNORE INTO shard_languages VALUES(?, ?)");
      for (const auto& l : b.languages) {
        lang.Reset();
        lang.Bind(1, shard).Bind(2, l).Run();
      }
      // Children kept from an interrupted run join their new top-level.
      sql::Stmt rp(db, "UPDATE documents SET parent_id=? WHERE id=?");
      for (const auto& [child, parent] : b.reparent) {
        rp.Reset();
        rp.Bind(1, parent).Bind(2, child).Run();
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
    // A replaced failure leaves the index in the same commit; a crash
    // before its rows go leaves it listed as a failure, to retry again.
    for (auto& g : group) {
      if (!g.replaces.empty()) s.shards->Delete(shard, g.replaces);
    }
    s.Fault("before_index_commit");
    s.shards->Commit(shard);
    s.Fault("after_index_commit");
    s.shards->Begin(shard);
    std::vector<std::pair<std::string, std::string>> replaced_files;
    {
      sql::Transaction t(db);
      sql::Stmt up(db, "UPDATE documents SET status=final_status WHERE id=?");
      sql::Stmt old(db, "SELECT blob, text FROM documents WHERE id=?");
      sql::Stmt del(db, "DELETE FROM documents WHERE id=?");
      sql::Stmt dups(db, "UPDATE documents SET duplicate_of=? WHERE duplicate_of=?");
      for (auto& g : group) {
        up.Reset();
        up.Bind(1, g.info.id).Run();
        if (!g.replaces.empty()) {
          old.Reset();
          old.Bind(1, g.replaces);
          if (old.Step()) replaced_files.emplace_back(old.Text(0), old.Text(1));
          // Copies recorded as duplicates of the failure now point at the
          // document that replaces it (the foreign key would refuse the
          // delete otherwise).
          dups.Reset();
          dups.Bind(1, g.info.duplicate_of.empty() ? g.info.id : g.info.duplicate_of)
              .Bind(2, g.replaces)
              .Run();
          del.Reset();
          del.Bind(1, g.replaces).Run();
        }
      }
      t.Commit();
    }
    for (const auto& [bl, tx] : replaced_files) {
      if (!bl.empty()) s.blobs->Remove(bl);
      if (!tx.empty()) s.text->Remove(tx);
    }
    s.Fault("after_mark_indexed");
    std::vector<IngestedDocument> done;
    done.reserve(group.size());
    for (auto& g : group) done.push_back(std::move(g.info));
    return done;
  };
  // At most one group commits while the next is staged. Declared after the
  // build pool: its destructor waits for the commit thread, which waits for
  // builds.
  std::future<std::vector<IngestedDocument>> committing;
  auto finish_commit = [&] {
    if (!committing.valid()) return;
    for (const auto& d : committing.get()) acknowledge(d);
    for (const auto& d : committing_group.exists) acknowledge(d);
    committing_group = {};
  };

  auto flush = [&] {
    if (group.empty() && reparent.empty()) return;
    finish_commit();
    auto batch = std::make_shared<CommitBatch>();
    batch->group = std::move(group);
    batch->reparent = std::move(reparent);
    batch->languages = shard_languages;
    committing_group = std::move(open);
    open = {};
    committing = std::async(std::launch::async, [&commit, batch] { return commit(*batch); });
    group.clear();
    reparent.clear();
    group_text = 0;
  };

  auto push = [&](Staged&& staged) {
    if (!staged.replaces.empty()) {
      replaced_by[staged.replaces] =
          staged.info.duplicate_of.empty() ? staged.info.id : staged.info.duplicate_of;
    }
    if (auto r = replaced_by.find(staged.info.duplicate_of); r != replaced_by.end()) {
      staged.info.duplicate_of = r->second;
    }
    if (staged.build_task) {
      staged.build = builds.Submit(std::move(staged.build_task));
      staged.build_task = nullptr;
    }
    open.place.emplace(staged.place_key, staged.info);
    open.ids.insert(staged.info.id);
    if (!staged.dedup_key.empty() && staged.info.duplicate_of.empty()) {
      open.original.emplace(staged.dedup_key, staged.info.id);
    }
    summary.bytes += staged.info.size;
    group_text += staged.text_bytes;
    group.push_back(std::move(staged));
    // Bounded memory: built documents wait here until the group commits.
    if (group.size() >= std::max<std::size_t>(1, s.options.commit_group) ||
        group_text >= kMaxGroupText) {
      flush();
    }
  };

  // Stages one item: encrypts its bytes and text, builds its index entry and
  // decides whether it is new, a duplicate, or already there. Returns
  // nothing when it already exists (then `existing` says which document).
  auto stage = [&](const ItemSource& src, IngestedDocument* existing) -> std::optional<Staged> {
    const indexer::ExtractedItem& it = src.item;
    Staged staged;
    IngestedDocument& info = staged.info;
    info.id = "d" + crypto::RandomId(15);
    info.parent_id = src.parent_id;
    info.path = src.path;
    info.filename = src.filename;
    info.mime = it.mime.empty() ? "application/octet-stream" : it.mime;
    info.error = it.error;
    const bool link = it.status == "link";

    crypto::SecretBytes data_key = crypto::NewDataKey();
    const crypto::SecretBytes text_key = crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kText);
    std::optional<FileStore::Pending> blob;
    crypto::Sha256 sha;
    crypto::Md5 md5;
    crypto::KeyedHasher::Stream mac = s.dedup->Start();
    if (!link) {
      blob.emplace(s.blobs->Create());
      crypto::BlobEncryptor enc(crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kBlob),
                                [&](const unsigned char* p, std::size_t n) { blob->Append(p, n); });
      auto feed = [&](const unsigned char* p, std::size_t n) {
        enc.Write(p, n);
        sha.Update(p, n);
        md5.Update(p, n);
        mac.Update(p, n);
        info.size += n;
      };
      if (src.fd >= 0) {
        std::vector<unsigned char> buf(crypto::kBlobChunk);
        for (std::uint64_t off = 0;;) {
          const ssize_t n = ::pread(src.fd, buf.data(), buf.size(), static_cast<off_t>(off));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw Error(ErrorCode::kIo, "cannot read a file to ingest");
          if (n == 0) break;
          feed(buf.data(), static_cast<std::size_t>(n));
          crypto::Wipe(buf.data(), static_cast<std::size_t>(n));
          off += static_cast<std::uint64_t>(n);
        }
      } else {
        feed(reinterpret_cast<const unsigned char*>(src.bytes.data()), src.bytes.size());
      }
      enc.Finish();
      info.sha256 = sha.FinalHex();
    }
    const std::string content_mac = link ? "link|" + it.fields.count("link_target") : mac.Final();
    const std::string md5_hex = link ? "" : md5.FinalHex();

    indexer::DocumentFields fields;
    fields.doc_id = info.id;
    fields.case_id = req.case_id;
    fields.custodian = src.custodian;
    fields.filename = info.filename;
    fields.language = it.language.empty() ? fallback_language : it.language;
    fields.type = TypeFamily(info.mime);
    std::optional<std::int64_t> day;
    for (const char* k : {"date", "created"}) {
      if (!day && it.fields.count(k)) day = DayOf(it.fields.at(k));
    }
    if (!day && src.mtime) day = *src.mtime / 86400;
    fields.day = day;
    auto add_addresses = [&](const char* header, indexer::Field field) {
      if (it.fields.count(header)) {
        for (auto& a : Addresses(it.fields.at(header))) fields.extra.emplace_back(field, a);
      }
    };
    add_addresses("from", indexer::Field::kFrom);
    add_addresses("to", indexer::Field::kTo);
    add_addresses("cc", indexer::Field::kCc);
    if (it.fields.count("subject")) fields.subject = it.fields.at("subject");
    const bool partial = it.text_truncated;
    s.Fault("after_blob_written");

    // Deduplication, scoped to this access set (and, for "same place", to
    // this case, custodian and place in the family).
    const std::string place = s.dedup->Hash(
        "place|" + content_mac + "|" + req.case_id + "|" + src.custodian + "|" + src.place, 32);
    const crypto::Bytes place_key(place.begin(), place.end());
    bool exists = false;
    const IngestedDocument* known = nullptr;
    for (const GroupIndex* g : {&open, &committing_group}) {
      if (auto k = g->place.find(place_key); !known && k != g->place.end()) known = &k->second;
    }
    if (known) {
      *existing = *known;
      exists = true;
    } else {
      sql::Stmt p(*s.db,
                  "SELECT id, duplicate_of, parent_id, final_status FROM documents WHERE "
                  "place_key=? AND shard_id=? AND status != 'pending'");
      p.Bind(1, place_key).Bind(2, shard);
      if (p.Step()) {
        const std::string final_status = p.Text(3);
        if (req.retry_failed && src.parent_id.empty() &&
            (final_status == "error" || final_status == "unsupported")) {
          staged.replaces = p.Text(0);
          being_replaced.insert(staged.replaces);
        } else {
          *existing = info;
          existing->id = p.Text(0);
          existing->duplicate_of = p.Text(1);
          if (!src.parent_id.empty() && p.Text(2) != src.parent_id) {
            reparent.emplace_back(existing->id, src.parent_id);
          }
          exists = true;
        }
      }
    }
    if (exists) {
      existing->status = "exists";
      return std::nullopt;  // the pending files remove themselves
    }
    const crypto::Bytes dedup_key = link ? crypto::Bytes()
                                         : crypto::Bytes(content_mac.begin(), content_mac.end());
    std::string original;
    if (!link) {
      for (const GroupIndex* g : {&open, &committing_group}) {
        if (auto o = g->original.find(dedup_key); original.empty() && o != g->original.end()) {
          original = o->second;
        }
      }
      if (original.empty()) {
        // Never a duplicate of the failed document it replaces.
        sql::Stmt d(*s.db,
                    "SELECT id FROM documents WHERE dedup_key=? AND shard_id=? AND "
                    "duplicate_of IS NULL AND id != ? ORDER BY created_at LIMIT 1");
        d.Bind(1, dedup_key).Bind(2, shard).Bind(3, staged.replaces);
        // Never a copy of a failure that this run replaces (and deletes).
        if (d.Step() && !being_replaced.count(d.Text(0))) original = d.Text(0);
      }
    }
    const bool duplicate = !original.empty();
    info.duplicate_of = original;
    if (duplicate) info.status = "duplicate";
    else if (link) info.status = "link";
    else if (it.status == "error" || it.status == "unsupported") info.status = it.status;
    else info.status = partial ? "partial" : "indexed";

    nlohmann::json meta = {{"filename", info.filename},
                           {"path", info.path},
                           {"sha256", info.sha256},
                           {"md5", md5_hex},
                           {"custodian", src.custodian},
                           {"mime", info.mime},
                           {"language", fields.language},
                           {"size", info.size},
                           {"indexed_bytes", 0},  // set when the build finishes
                           {"partial", partial},
                           {"error", info.error},
                           {"fields", it.fields}};
    if (src.mtime) meta["mtime"] = *src.mtime;
    staged.restrict_text = restrict_text;
    staged.dedup_key = duplicate ? crypto::Bytes() : dedup_key;
    staged.place_key = place_key;
    staged.meta = std::move(meta);
    staged.keys = key_batch.Wrap(info.id, data_key);
    staged.data_key = std::move(data_key);
    if (!duplicate) {
      if (blob) {
        blob->Close();
        staged.blob.emplace(std::move(*blob));
        staged.blob_name = crypto::RandomId(26);
      }
      // Terms and sealed text chunks are made on the build pool; the group
      // commit waits for them. The task owns copies of what it needs.
      auto key = std::make_shared<crypto::SecretBytes>(text_key.Clone());
      staged.build_task =
          [fields, text = it.text, key, link, id = info.id, store = s.text.get(),
           truncated = it.text_truncated](indexer::DocumentBuilder& builder) {
            BuildResult r;
            builder.Begin(fields);
            try {
              if (!link) {
                r.text.emplace(store->Create());
                r.text->Append("DST1", 4);
                // Sealed one behind so the last can carry the "last" flag.
                std::optional<std::pair<std::string, indexer::ChunkRange>> held;
                std::uint32_t chunk_no = 0;
                auto seal_held = [&](bool last) {
                  if (!held) return;
                  const crypto::Bytes sealed = crypto::SealMessage(
                      *key, crypto::TextChunkAd(id, chunk_no, last), held->first);
                  std::string rec;
                  PutU32(rec, held->second.first_pos);
                  PutU32(rec, held->second.end_pos);
                  PutU32(rec, static_cast<std::uint32_t>(sealed.size()));
                  rec.append(sealed.begin(), sealed.end());
                  r.text->Append(rec.data(), rec.size());
                  held.reset();
                  ++chunk_no;
                };
                std::string_view rest = text;
                while (!rest.empty()) {
                  const std::size_t cut = indexer::ChunkBoundary(rest, kTextChunkBytes);
                  std::string chunk(rest.substr(0, cut));
                  rest.remove_prefix(cut);
                  indexer::ChunkRange range = builder.AddText(chunk);
                  if (range.consumed < chunk.size()) {
                    chunk.resize(range.consumed);  // the cap: keep only what was indexed
                    rest = {};
                  }
                  if (chunk.empty()) break;
                  r.indexed_bytes += chunk.size();
                  seal_held(false);
                  held.emplace(std::move(chunk), range);
                }
                if (!held && chunk_no == 0) held.emplace(std::string(), indexer::ChunkRange{1, 1, 0});
                seal_held(true);
                r.text->Close();
              }
            } catch (...) {
              builder.Finish();  // leave the builder ready for its next task
              throw;
            }
            r.doc = builder.Finish();
            r.partial = builder.partial() || truncated;
            return r;
          };
      staged.text_bytes = it.text.size();
      shard_languages.insert(fields.language);
    }
    return staged;
  };

  // The pipeline: every worker extracts a file while this thread encrypts,
  // indexes and commits what they send back.
  struct Job {
    const SourceFile* src = nullptr;
    Fd fd;
    std::optional<std::int64_t> mtime;
    std::uint64_t size = 0;
    std::map<int, std::string> ids;  // item index -> document id
    std::optional<Staged> top;       // staged last: the family's commit marker
    bool top_seen = false;
    bool skip = false;               // the whole family exists already
  };
  // A stored original goes to the worker as a memfd: plaintext in memory
  // for as long as its extraction takes, never in a file.
  auto stored_original = [&](const std::string& id) {
    Fd fd(::memfd_create("dossier-retry", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) throw Error(ErrorCode::kIo, "cannot hold a stored original in memory");
    off_t at = 0;
    ReadContent(actor, id, [&](std::string_view chunk) {
      while (!chunk.empty()) {
        const ssize_t n = ::pwrite(fd.get(), chunk.data(), chunk.size(), at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(ErrorCode::kIo, "cannot hold a stored original in memory");
        chunk.remove_prefix(static_cast<std::size_t>(n));
        at += n;
      }
    });
    // Sealed before the worker sees it: a compromised parser cannot change
    // the bytes the custody hashes and the new blob are made from.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
      throw Error(ErrorCode::kIo, "cannot seal a stored original in memory");
    }
    return fd;
  };
  std::map<std::uint64_t, Job> jobs;
  std::size_t next = 0;
  std::uint64_t job_counter = 0;

  auto finish_top = [&](Job& job, IngestedDocument& exists_info, bool existed) {
    ++progress.files_done;
    progress.bytes_done += job.size;
    if (existed) {
      summary.bytes += exists_info.size;
      acknowledge_existing(exists_info);
    } else if (job.top) {
      push(std::move(*job.top));
    }
    if (req.on_progress) req.on_progress(progress);
  };

  // A job's top-level file as the stage step sees it.
  auto top_source = [](const Job& job) {
    ItemSource src;
    src.fd = job.fd.get();
    // Shown names are UTF-8 (indexer::NameToUtf8); the place key hashes
    // the path's own bytes, so two names that read alike stay apart.
    src.path = indexer::NameToUtf8(job.src->rel);
    src.filename = indexer::NameToUtf8(fs::path(job.src->rel).filename().string());
    src.place = job.src->rel;
    src.mtime = job.mtime;
    src.custodian = indexer::NameToUtf8(job.src->custodian);
    return src;
  };

  while (next < files.size() || s.pool->running() > 0) {
    // A stored original is decrypted into memory for its job: those only go
    // to a worker with nothing queued, so at most one per worker is held.
    while (next < files.size() &&
           (files[next].stored_id.empty() ? s.pool->HasIdleWorker() : s.pool->HasFreeWorker())) {
      const SourceFile& src = files[next++];
      Job job;
      job.src = &src;
      if (!src.stored_id.empty()) {
        try {
          job.fd = stored_original(src.stored_id);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kCorrupt) throw;
          // One damaged blob is reported and skipped; the retry goes on.
          IngestedDocument damaged;
          damaged.id = src.stored_id;
          damaged.path = src.rel;
          damaged.filename = fs::path(src.rel).filename().string();
          damaged.size = src.size;
          damaged.status = "error";
          damaged.error = std::string("its stored original is damaged: ") + e.what();
          ++progress.files_done;
          progress.bytes_done += src.size;
          acknowledge(damaged);
          if (req.on_progress) req.on_progress(progress);
          continue;
        }
        job.mtime = src.mtime;
        job.size = src.size;
      } else {
        job.fd = Fd(::open(src.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat st {};
        if (!job.fd || ::fstat(job.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
          throw Error(ErrorCode::kIo, "cannot read a file to ingest");
        }
        job.mtime = st.st_mtime;
        job.size = static_cast<std::uint64_t>(st.st_size);
      }
      const std::uint64_t id = ++job_counter;
      s.pool->Submit(id, job.fd.get(), fs::path(src.rel).filename().string());
      jobs.emplace(id, std::move(job));
    }
    if (committing.valid() &&
        committing.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      finish_commit();  // acknowledge a finished commit without waiting for the next
    }
    if (s.pool->running() == 0) continue;  // every file so far was skipped
    indexer::ExtractEvent e = s.pool->Next();
    Job& job = jobs.at(e.job);
    if (!e.done) {
      if (job.skip) continue;
      if (e.item.index == 0) {
        ItemSource src = top_source(job);
        src.item = std::move(e.item);
        IngestedDocument existing;
        auto staged = stage(src, &existing);
        job.top_seen = true;
        if (!staged) {
          job.skip = true;  // the family was acknowledged before
          job.ids[0] = existing.id;
          finish_top(job, existing, true);
          continue;
        }
        job.ids[0] = staged->info.id;
        job.top.emplace(std::move(*staged));
        continue;
      }
      auto parent = job.ids.find(e.item.parent);
      if (parent == job.ids.end()) continue;  // its container was not kept
      ItemSource src;
      src.item = std::move(e.item);
      src.bytes = e.bytes;
      src.path = src.item.path;
      src.filename = src.item.name;
      src.place = job.src->rel + "//" + src.item.path;
      src.parent_id = parent->second;
      src.custodian = job.src->custodian;
      IngestedDocument existing;
      auto staged = stage(src, &existing);
      if (!staged) {
        job.ids[src.item.index] = existing.id;
        summary.bytes += existing.size;
        acknowledge_existing(existing);
        continue;
      }
      job.ids[src.item.index] = staged->info.id;
      push(std::move(*staged));
      continue;
    }
    // The job ended: a failure marks its top-level document.
    if (!job.skip) {
      if (!job.top_seen) {
        ItemSource src = top_source(job);
        src.item.status = "error";
        src.item.error = e.failure.empty() ? "the extractor returned nothing" : e.failure;
        IngestedDocument existing;
        auto staged = stage(src, &existing);
        if (staged) job.top.emplace(std::move(*staged));
        finish_top(job, existing, !job.top);
      } else {
        if (!e.failure.empty() && job.top) {
          job.top->info.status = "error";
          job.top->info.error = e.failure;
          job.top->meta["error"] = e.failure;
        }
        IngestedDocument none;
        finish_top(job, none, false);
      }
    }
    jobs.erase(e.job);
  }
  flush();
  finish_commit();
  return summary;
}

}  // namespace dossier::repo
