// Creating and opening a repository directory: its layout, the lock, the
// schema, the server key, and the context every service shares.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/fd.h"
#include "crypto/keyed_hash.h"
#include "repo/columns.h"
#include "repo/open.h"
#include "repo/schema.h"
#include "repo/server_key.h"

namespace dossier::repo {

namespace fs = std::filesystem;

namespace {

// Where the recovery key goes: never inside the repository.
fs::path RecoveryKeyPath(const fs::path& root, const std::string& requested) {
  std::string path = requested;
  if (path.empty()) {
    std::string base = root.string();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    path = base + ".recovery-key";
  }
  const fs::path rec = fs::absolute(path).lexically_normal();
  auto rel = rec.lexically_relative(root);
  if (!rel.empty() && *rel.begin() != "..") {
    throw Error(ErrorCode::kInvalidArgument, "the recovery key must be written outside the repository");
  }
  return rec;
}

void MakeDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create the repository directory");
  // Only its owner may enter: a failure here is an error, not a warning.
  if (::chmod(dir.c_str(), 0700) != 0) {
    throw Error(ErrorCode::kIo, "cannot restrict the repository directory to its owner");
  }
}

}  // namespace

InitResult InitRepository(const std::string& dir, const InitOptions& o) {
  crypto::EnsureSodium();
  RequireValidName(o.admin_user, "user");
  if (o.admin_password.size() < 8) {
    throw Error(ErrorCode::kInvalidArgument, "passwords need at least 8 characters");
  }
  if (o.protect && o.passphrase.size() < 8) {
    throw Error(ErrorCode::kInvalidArgument, "the server-key passphrase needs at least 8 characters");
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    throw Error(ErrorCode::kConflict, "the repository directory exists and is not empty");
  }
  const fs::path root = fs::absolute(dir).lexically_normal();
  const fs::path rec = RecoveryKeyPath(root, o.recovery_key_out);
  if (fs::exists(rec, ec)) throw Error(ErrorCode::kConflict, "the recovery key file already exists");
  MakeDirectory(root);
  MakeDirectory(root / "keys");
  for (const char* sub : {"blobs", "text", "index"}) MakeDirectory(root / sub);

  const ServerKey server = NewServerKey();
  WriteServerKey((root / "keys/server.key").string(), server, o.protect, o.passphrase, o.cost);

  // Recovery role key pair: the secret goes outside the directory only.
  crypto::KeyPair recovery = crypto::GenerateKeyPair();
  const std::string repo_id = crypto::RandomId(16);
  WriteRecoveryKey(rec.string(), repo_id, recovery.secret_key);

  sql::Db db((root / "dossier.db").string(), true);
  Migrate(db);
  sql::Transaction t(db);
  SetMeta(db, "repo_id", repo_id);
  SetMeta(db, "hash_version", std::to_string(crypto::kHashFormatVersion));
  SetMeta(db, "recovery_public_key",
          std::string_view(reinterpret_cast<const char*>(recovery.public_key.data()),
                           recovery.public_key.size()));
  SetMeta(db, "server_key_check", ServerKeyCheck(server));
  crypto::KeyPair admin = crypto::GenerateKeyPair();
  sql::Stmt u(db,
              "INSERT INTO users(name, is_admin, public_key, wrapped_secret, created_at) "
              "VALUES(?, 1, ?, ?, ?)");
  u.Bind(1, o.admin_user)
      .Bind(2, crypto::Bytes(admin.public_key.begin(), admin.public_key.end()))
      .Bind(3, crypto::WrapWithPassword(admin.secret_key, o.admin_password, o.cost))
      .Bind(4, Rfc3339(SystemClock()->Now()))
      .Run();
  t.Commit();
  return InitResult{rec.string()};
}

namespace {

// One writer at a time: an exclusive flock on <repo>/lock, whose content
// names the holder for the error a second writer sees.
Fd TakeWriteLock(const std::string& dir, const std::string& holder) {
  const std::string lock_path = dir + "/lock";
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) throw Error(ErrorCode::kIo, "cannot open the repository lock file");
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    char buf[256] = {0};
    const auto n = ::pread(lock.get(), buf, sizeof buf - 1, 0);
    std::string who = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
    while (!who.empty() && who.back() == '\n') who.pop_back();
    for (char& c : who) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    throw Error(ErrorCode::kConflict, "the repository is being written by another process (" + who + ")");
  }
  const std::string me = holder + " pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock.get(), 0) != 0 || ::pwrite(lock.get(), me.data(), me.size(), 0) < 0) {
    throw Error(ErrorCode::kIo, "cannot write the repository lock file");
  }
  return lock;
}

// A reader of an older repository upgrades it first, under the write lock
// for that moment; a writer upgraded it when it opened.
void UpgradeForReading(const std::string& dir, sql::Db& db) {
  const int latest = LatestSchemaVersion();
  if (SchemaVersion(db) == latest) return;
  Fd lock(::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) {
    Migrate(db);
  } else if (SchemaVersion(db) > latest) {
    throw Error(ErrorCode::kUnsupported, "the repository was written by a newer Dossier");
  } else if (SchemaVersion(db) < latest) {
    // (A writer that opened it meanwhile has upgraded it: then go on.)
    throw Error(ErrorCode::kConflict,
                !lock ? "the repository needs an upgrade, which needs write access to it"
                      : "the repository needs an upgrade, and another process is writing it");
  }
}

void LoadMeta(RepoContext& ctx, sql::Db& db, const ServerKey& server) {
  ctx.repo_id = MetaText(db, "repo_id");
  if (!col::IsId(ctx.repo_id, col::IdKind::kRepository)) {
    throw Error(ErrorCode::kCorrupt, "the repository id is malformed");
  }
  if (MetaText(db, "hash_version") != std::to_string(crypto::kHashFormatVersion)) {
    throw Error(ErrorCode::kUnsupported, "the index uses another hash format; run dossier reindex");
  }
  const std::string pk = MetaText(db, "recovery_public_key");
  if (pk.size() != ctx.recovery_public.size()) {
    throw Error(ErrorCode::kCorrupt, "the recovery public key is malformed");
  }
  std::copy(pk.begin(), pk.end(), ctx.recovery_public.begin());
  // The server key must be this repository's, undamaged.
  const std::string check = ServerKeyCheck(server);
  sql::Stmt s(db, "SELECT value FROM meta WHERE key='server_key_check'");
  if (s.Step()) {
    const auto stored = s.Blob(0);
    if (std::string(stored.begin(), stored.end()) != check) {
      throw Error(ErrorCode::kCorrupt,
                  "keys/server.key does not match this repository (damaged, or another "
                  "repository's); restore it from a backup");
    }
  } else if (ctx.writable) {
    // Written by a version that kept no check value: record it now.
    sql::Transaction t(db);
    SetMeta(db, "server_key_check", check);
    t.Commit();
  }
}

}  // namespace

std::unique_ptr<RepoContext> OpenContext(const std::string& dir, const OpenOptions& options,
                                         Fd* lock) {
  crypto::EnsureSodium();
  const std::string root = fs::absolute(dir).lexically_normal().string();
  if (!fs::exists(root + "/dossier.db")) {
    throw Error(ErrorCode::kNotFound, "no Dossier repository at that path");
  }
  auto ctx = std::make_unique<RepoContext>(root, options);
  if (ctx->writable) *lock = TakeWriteLock(root, options.holder);
  crypto::SecretBytes signing_key;
  std::unique_ptr<crypto::KeyedHasher> audit_hasher;
  {
    sql::Db db(root + "/dossier.db", false);
    if (ctx->writable) Migrate(db);
    else UpgradeForReading(root, db);
    ServerKey server = ReadServerKey(root + "/keys/server.key", options.passphrase);
    LoadMeta(*ctx, db, server);
    ctx->blind = std::make_unique<indexer::BlindKeys>(server.index_key);
    ctx->dedup = std::make_unique<crypto::KeyedHasher>(server.index_key, crypto::HashPurpose::kDedup);
    ctx->entities =
        std::make_unique<crypto::KeyedHasher>(server.index_key, crypto::HashPurpose::kEntities);
    signing_key = std::move(server.signing_key);
    audit_hasher = std::make_unique<crypto::KeyedHasher>(server.index_key, crypto::HashPurpose::kAudit);
  }
  ctx->db = std::make_unique<Database>(root + "/dossier.db", ctx->writable);
  ctx->audit = std::make_unique<AuditTrail>(root + "/dossier.db", ctx->writable ? ctx->db.get() : nullptr,
                                            ctx->repo_id, std::move(signing_key), std::move(audit_hasher),
                                            ctx->recovery_public, ctx->clock, options.audit_delay);
  ctx->events.Attach(ctx->audit.get());
  ctx->blobs = OpenLocalBlobStore(root + "/blobs");
  ctx->text_files = OpenLocalBlobStore(root + "/text");
  ctx->texts = std::make_unique<TextStore>(*ctx->text_files);
  ctx->shards = indexer::OpenLocalShardStore(root + "/index", ctx->writable, !ctx->writable);
  return ctx;
}

bool ServerKeyProtected(const std::string& dir) {
  return ServerKeyFileProtected(dir + "/keys/server.key");
}

}  // namespace dossier::repo
