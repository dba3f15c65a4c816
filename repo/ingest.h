// Private to repo/: ingest — files in; their families extracted in the
// worker pool (indexer/extract_pool.h); encrypted blobs, sealed text chunks
// and blind index entries out, with the crash-safety order of DESIGN.md,
// paid once per commit group rather than once per document:
//   1. each blob and text is written to a temporary file (never under a name);
//   2. the group's rows commit as `pending` (one transaction);
//   3. the group's files are renamed into place and made durable by one
//      syncfs (measured: per-file fsyncs held ingest to 139 small files/s);
//   4. the group's documents are added to the shard and the shard commits;
//   5. the rows are marked indexed and the documents acknowledged.
// Steps 2-5 run on a commit thread (GroupCommitter) while the run stages
// the next group, so extraction, staging, term building and commits
// overlap: one group commits at a time, under the write lock for that
// group only, and the group being committed stays visible to the
// deduplication and "already there" lookups of the next.
// Opening the repository after a crash keeps a pending row whose id term
// is in its shard and removes one whose term is missing. A family's
// top-level document is staged after all its children, so a top-level
// document that exists means its whole family was acknowledged: running
// the same ingest again resumes where it stopped.
//
// The parts: ingest_sources.cpp (what to read: paths walked, or stored
// failures), ingest_stage.cpp (one item encrypted, hashed, deduplicated and
// given its build task), group_committer.cpp (steps 2-5), ingest.cpp (the
// run: the worker pipeline, families, progress, cancellation).
#pragma once

#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "indexer/document_builder.h"
#include "indexer/extract.h"
#include "repo/context.h"
#include "repo/jobs.h"
#include "repo/key_ring.h"
#include "repo/session_impl.h"

namespace dossier::indexer {
class ExtractPool;
}

namespace dossier::repo {

// One top-level file to read.
struct SourceFile {
  std::string path;  // where to read it
  std::string rel;   // its path relative to the ingested argument
  // --retry-failed without paths: a failed document's stored original,
  // decrypted into memory (a memfd) when its turn comes, with what its
  // first ingest recorded.
  std::string stored_id;
  // An upload (Repository::BeginUpload): decrypted into memory the same way.
  std::shared_ptr<const Upload::Impl> upload;
  std::string custodian;
  std::optional<std::int64_t> mtime;
  std::uint64_t size = 0;
};

// A file found while walking a directory that is not read, and why.
struct SkippedSource {
  std::string rel;
  std::string reason;
};

// What every part of one run shares.
struct IngestPlan {
  std::string case_id;
  std::string actor;  // who started it, named in its documents' audit events
  std::string shard;
  std::string restrict_text;  // "" unless restricted
  std::string fallback_language;
  std::string phone_region;  // the case's, else the repository's
  bool retry_failed = false;
  std::size_t text_cap = 0;
  std::unique_ptr<KeyBatch> batch;
  std::vector<SourceFile> files;
  std::vector<SkippedSource> skipped;
  // Holds off grants and revokes of the case while the plan lives.
  std::optional<IngestingCases::Token> ingesting;
};

// What the build pool makes of one document's text.
struct BuildResult {
  std::unique_ptr<PendingBlob> text;  // sealed chunks, not yet named
  indexer::PreparedDocument doc;      // added to the shard by the commit
  std::uint64_t indexed_bytes = 0;
  bool partial = false;
};
using BuildTask = std::function<BuildResult(indexer::DocumentBuilder&)>;

// One document of an ingest on its way through the steps above.
struct Staged {
  IngestedDocument info;
  std::unique_ptr<PendingBlob> blob, text;  // empty for duplicates, links
  std::string blob_name, text_name;
  crypto::Bytes dedup_key, place_key;
  std::size_t text_bytes = 0;
  std::string replaces;  // a failed document this one replaces (--retry-failed)
  // Terms and text chunks, made on the build pool: the task is submitted
  // when the document joins a commit group (a family's top-level document
  // waits for its children), so every index entry added to the shard's
  // transaction belongs to the group that commits it.
  BuildTask build_task;
  std::future<BuildResult> build;
  // Sealed and wrapped when the group commits, so a failure reported after
  // the item was staged still reaches its metadata, and the key is wrapped
  // for the roles' keys as they are then (a role rotated meanwhile).
  crypto::SecretBytes data_key;
  nlohmann::json meta;
  std::vector<DocumentEntity> entities;  // meta["entities"] as the postings take it
};

// What the extractor (or, for a file it never answered about, the
// failure) says about one item.
struct ItemSource {
  int fd = -1;             // a top-level file: its bytes are read from here
  std::string_view bytes;  // a child: its bytes, from the worker
  std::string path, filename, place, parent_id, custodian;
  indexer::ExtractedItem item;
  std::optional<std::int64_t> mtime;
};

class IngestService {
 public:
  explicit IngestService(RepoContext& ctx);
  ~IngestService();
  // Checks a request and plans it: the access set, its shard (recorded
  // now), and the files (paths walked, or the stored failures to retry).
  // Throws for a bad request, before any job starts.
  // With `upload`, the request names no paths and the plan's one file is
  // the upload.
  IngestPlan Plan(const Actor& actor, const IngestRequest& request,
                  std::shared_ptr<const Upload::Impl> upload = nullptr);
  // What Plan checks of a request without planning it (no writes): an
  // upload is checked so before its bytes arrive.
  void Check(const Actor& actor, const IngestRequest& request);
  // Runs a planned ingest to its end, or until `job` is cancelled.
  void Run(const Actor& actor, IngestPlan& plan, JobControl& job);

 private:
  // The request's access set: the case's roles, narrowed by its
  // restriction (encoded into `restrict_text` if given), after checking
  // that the case is visible and settled and the actor holds one of them.
  AccessSet AccessFor(sql::Db& db, const Actor& actor, const IngestRequest& req,
                      std::string* restrict_text);
  RepoContext& ctx_;
  std::unique_ptr<indexer::ExtractPool> pool_;  // started by the first run
};

// ingest_sources.cpp: files and directories walked into top-level files
// (sorted; symlinks, FIFOs, devices and unreadable entries found inside
// directories are skipped with a reason). Every argument is checked first.
void ExpandPaths(const std::vector<std::string>& paths, const std::string& relative_to,
                 std::vector<SourceFile>* files, std::vector<SkippedSource>* skipped);

}  // namespace dossier::repo
