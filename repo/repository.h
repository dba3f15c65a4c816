// repo::Repository — the one entry point to a Dossier repository.
//
// The CLI, the HTTP API and the tests all drive a repository through this
// class; none of them touches SQLite, Xapian or libsodium directly.
// A repository is one directory (the embedded default, see DESIGN.md):
//   dossier.db     SQLite (WAL, secure_delete): metadata, every case and
//                  document field encrypted, sealed keys, shard map
//   blobs/ab/…     original bytes, secretstream-encrypted, random names
//   text/ab/…      extracted text in independently sealed chunks
//   index/<set>/   one Xapian database per access set (opaque ids)
//   keys/server.key  the index key (0600, passphrase-protected unless the
//                  repository was made with --no-protect)
//
// Thread-safety: a Repository is used by one thread at a time (the HTTP
// server will serialise writes through it). Opening for writing takes an
// exclusive lock file; a second writer gets Error(kConflict) naming the
// holder. Opening finishes what a crash interrupted (pending ingests, half
// done shard moves) before returning.
//
// Every method throws dossier::Error; none returns partial results as good.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "indexer/extract.h"

namespace dossier::repo {

namespace sql {
class Stmt;
}  // namespace sql

// Called at named steps of ingest and shard moves. Tests install one that
// ends the process at a chosen step to prove crash safety; production code
// leaves it empty. During an ingest it is called from the ingest thread and
// from the commit thread, possibly at the same time.
using FaultHook = std::function<void(std::string_view point)>;

struct InitOptions {
  std::string admin_user;
  std::string_view admin_password;
  // Where the recovery role's secret key is written; never inside the
  // repository. Empty means the sibling file "<dir>.recovery-key".
  std::string recovery_key_out;
  // Encrypt keys/server.key under `passphrase` (false only for demos).
  bool protect = true;
  std::string_view passphrase;
  crypto::PasswordCost cost = crypto::PasswordCost::kModerate;
};

struct InitResult {
  std::string recovery_key_path;
};

struct OpenOptions {
  std::string_view passphrase;  // for a protected server key
  // Read-only: no lock, no crash recovery; for search, get and listings
  // while another process writes.
  bool read_only = false;
  crypto::PasswordCost cost = crypto::PasswordCost::kModerate;  // new users
  std::size_t indexed_text_cap = 0;  // 0: the default (32 MiB)
  std::size_t commit_group = 200;    // documents per index commit in ingest
  FaultHook fault;
  std::function<std::int64_t()> clock;  // seconds since epoch; tests fix it
  // Extraction workers: the dossier-extract program (empty: beside this
  // executable, or $DOSSIER_EXTRACT_WORKER), how many (0: one per core),
  // and their wall-clock limit per file.
  std::string extract_worker;
  int extract_workers = 0;
  int extract_wall_seconds = 300;
  indexer::ExtractLimits extract_limits;  // depth, expansion, ratio, items
  // How this process describes itself to a second writer.
  std::string holder = "dossier";
};

// A logged-in user (or the recovery key) with their unsealed role keys.
// Copyable handle; the keys live in sodium_malloc memory until the last
// copy is gone.
class Session {
 public:
  const std::string& user() const;
  const std::vector<std::string>& roles() const;
  bool is_admin() const;
  bool is_recovery() const;
  struct Impl;
  explicit Session(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

struct CaseInfo {
  std::string id;
  std::string title;
  std::string description;
  std::string stage;   // screening, assessment, risk_assessment, ...
  std::string risk;    // low, moderate, high, or empty
  std::string status;  // open, closed
  std::string owner;
  std::vector<std::string> assignees;
  std::vector<std::string> roles;  // granted role names
  std::string created_at;          // RFC 3339 UTC
  std::string updated_at;
  std::int64_t document_count = 0;
};

struct NewCase {
  std::string title;
  std::string description;
  std::string risk;
  std::vector<std::string> roles;
};

struct IngestProgress {
  std::uint64_t files_done = 0, files_total = 0;  // top-level files
  std::uint64_t bytes_done = 0, bytes_total = 0;  // of top-level files
  std::uint64_t items = 0;   // documents acknowledged, children included
  std::uint64_t errors = 0;  // of which status error or unsupported
};

struct IngestRequest {
  std::string case_id;
  std::vector<std::string> paths;  // files and directories (recursive)
  std::string custodian;
  std::vector<std::string> restrict_to;  // role names; empty: the case's roles
  // The language to stem with when detection finds none ("en" by default).
  std::string language = "en";
  std::function<void(const IngestProgress&)> on_progress;
  // When set, every file's path (its place, for "same place" dedup) is
  // taken relative to this directory instead of to its argument.
  std::string relative_to;
  // Re-extract top-level files whose document failed (status error or
  // unsupported) instead of treating them as already there; the failed
  // document is replaced once the new one is acknowledged. With no paths,
  // the case's top-level documents with status error and exactly this
  // request's restriction are re-extracted from their stored (encrypted)
  // originals, each with the custodian and path it was ingested with; the
  // actor must open them.
  bool retry_failed = false;
};

struct IngestedDocument {
  std::string id;
  std::string parent_id;
  std::string path;      // a top-level file's path in the ingested directory;
                         // a child's path inside its top-level container
  std::string filename;
  std::string sha256;
  std::string mime;
  // indexed | partial (text past the cap not indexed) | duplicate |
  // unsupported (stored, no text) | error (stored, see `error`) |
  // link (an archive's symlink or hardlink: recorded, not followed) |
  // exists (same content from the same place: nothing added)
  std::string status;
  std::string error;
  std::string duplicate_of;
  std::uint64_t size = 0;
};

struct IngestSummary {
  std::vector<IngestedDocument> documents;
  std::uint64_t bytes = 0;
};

struct SearchRequest {
  std::string query;
  std::string case_id;
  std::uint32_t offset = 0;
  std::uint32_t limit = 20;
  bool sort_by_date = false;
};

struct SearchHit {
  std::string document_id;
  std::string case_id;
  std::string filename;
  double score = 0;       // the Xapian weight
  std::string snippet;    // HTML-escaped, matches in <mark>…</mark>
};

struct SearchResults {
  std::uint64_t total = 0;
  std::vector<SearchHit> hits;
};

struct DocumentInfo {
  std::string id;
  std::string case_id;
  std::string parent_id;
  std::string filename;
  std::string path;
  std::string mime;
  std::uint64_t size = 0;
  std::string sha256;
  std::string md5;
  std::string error;  // why extraction failed, for status error
  std::map<std::string, std::string> fields;  // title, author, from, to, …
  std::string language;
  std::string custodian;
  std::optional<std::int64_t> mtime;  // the file's modification time (Unix), if known
  std::string status;  // indexed | partial | duplicate | unsupported | error | link
  std::string duplicate_of;
  std::uint64_t indexed_bytes = 0;
  std::string created_at;
};

struct ReindexSummary {
  std::uint64_t shards_rebuilt = 0;
  std::uint64_t shards_skipped = 0;  // the actor cannot open all their documents
  std::uint64_t documents = 0;
};

class Repository {
 public:
  // Creates a new repository in `dir` (which must not exist or be empty),
  // its admin user, and the recovery key file outside it.
  static InitResult Init(const std::string& dir, const InitOptions& options);
  static std::unique_ptr<Repository> Open(const std::string& dir,
                                          const OpenOptions& options = {});
  // Whether the repository's server key needs a passphrase to open.
  static bool ServerKeyProtected(const std::string& dir);
  ~Repository();

  // Throws Error(kUnauthenticated) for an unknown user or a wrong password
  // (the same message for both).
  Session Login(std::string_view user, std::string_view password);
  // Reads a recovery key file; throws Error(kUnauthenticated) if it is not
  // this repository's.
  Session LoginWithRecoveryKey(const std::string& key_file);

  // Admin: a new user who joins `roles` (the actor must hold each role's key).
  void AddUser(const Session& actor, const std::string& name,
               std::string_view password, const std::vector<std::string>& roles,
               bool admin = false);
  // Admin: a new role; the actor becomes its first member unless !join.
  void AddRole(const Session& actor, const std::string& name, bool join = true);
  // Admin holding the role's key: `user` joins `role`.
  void AddMember(const Session& actor, const std::string& role,
                 const std::string& user);

  CaseInfo CreateCase(const Session& actor, const NewCase& c);
  std::vector<CaseInfo> ListCases(const Session& actor);
  // Error(kNotFound) also for a case the actor may not see.
  CaseInfo GetCase(const Session& actor, const std::string& case_id);
  // Admin able to open the case: seals its keys to `role` and moves its
  // documents to the new access set's shard.
  void GrantRole(const Session& actor, const std::string& case_id,
                 const std::string& role);
  void RevokeRole(const Session& actor, const std::string& case_id,
                  const std::string& role);

  // Ingests files; `on_acknowledged` is called for each document once it is
  // durable and searchable (after its group's index commit).
  IngestSummary Ingest(const Session& actor, const IngestRequest& request,
                       const std::function<void(const IngestedDocument&)>&
                           on_acknowledged = {});

  SearchResults Search(const Session& actor, const SearchRequest& request);

  DocumentInfo GetDocument(const Session& actor, const std::string& doc_id);
  // Documents whose extraction failed or is unsupported, across the cases
  // the actor can see (or one case): the failure report.
  std::vector<DocumentInfo> ListFailures(const Session& actor,
                                         const std::string& case_id = "");
  // The documents of a case the actor can open, oldest first.
  std::vector<DocumentInfo> ListDocuments(const Session& actor,
                                          const std::string& case_id);
  // Streams the original bytes to `sink`. Throws Error(kCorrupt) if the blob
  // fails authentication at any point: bytes already passed to the sink
  // must then be discarded by the caller.
  void ReadContent(const Session& actor, const std::string& doc_id,
                   const std::function<void(std::string_view)>& sink);
  // The indexed text (up to the cap), decrypted and verified whole.
  std::string ReadText(const Session& actor, const std::string& doc_id);

  // Rebuilds every shard whose documents the actor can all open, from the
  // encrypted text store.
  ReindexSummary Reindex(const Session& actor);

  const std::string& dir() const;

  struct Impl;

 private:
  explicit Repository(std::unique_ptr<Impl> impl);
  // GetDocument for each id the query yields, skipping those the actor
  // cannot open.
  std::vector<DocumentInfo> OpenableDocuments(const Session& actor, sql::Stmt& ids_query);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dossier::repo
