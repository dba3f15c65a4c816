#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "repo/repository_impl.h"

namespace dossier::repo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kSchemaVersion = 2;

// Versioned migrations: entry i brings the schema from version i to i+1.
// Never edit a released entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE users(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0, public_key BLOB NOT NULL,
  wrapped_secret BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE roles(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, public_key BLOB NOT NULL,
  recovery_sealed BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE role_members(
  role_id INTEGER NOT NULL REFERENCES roles(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  sealed_secret BLOB NOT NULL, PRIMARY KEY(role_id, user_id));
CREATE TABLE cases(
  id TEXT PRIMARY KEY, sealed_meta BLOB NOT NULL,
  recovery_sealed_key BLOB NOT NULL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE TABLE case_grants(
  case_id TEXT NOT NULL REFERENCES cases(id),
  role_id INTEGER NOT NULL REFERENCES roles(id),
  sealed_key BLOB NOT NULL, PRIMARY KEY(case_id, role_id));
CREATE TABLE shards(id TEXT PRIMARY KEY, access_set TEXT UNIQUE NOT NULL);
CREATE TABLE shard_languages(
  shard_id TEXT NOT NULL REFERENCES shards(id), language TEXT NOT NULL,
  PRIMARY KEY(shard_id, language));
CREATE TABLE documents(
  id TEXT PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases(id),
  parent_id TEXT,
  shard_id TEXT NOT NULL REFERENCES shards(id),
  move_to TEXT REFERENCES shards(id),
  restrict_set TEXT,
  status TEXT NOT NULL,
  final_status TEXT NOT NULL,
  blob TEXT, text TEXT,
  size INTEGER NOT NULL,
  dedup_key BLOB, place_key BLOB NOT NULL,
  duplicate_of TEXT REFERENCES documents(id),
  sealed_meta BLOB NOT NULL,
  recovery_sealed_key BLOB NOT NULL,
  created_at TEXT NOT NULL);
CREATE INDEX documents_case ON documents(case_id);
CREATE INDEX documents_dedup ON documents(dedup_key);
CREATE INDEX documents_place ON documents(place_key);
CREATE INDEX documents_status ON documents(status);
CREATE INDEX documents_move ON documents(move_to) WHERE move_to IS NOT NULL;
CREATE TABLE document_keys(
  doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  role_id INTEGER NOT NULL REFERENCES roles(id),
  sealed_key BLOB NOT NULL, PRIMARY KEY(doc_id, role_id));
)sql",
    // Data keys wrapped under per-batch keys (see KeyBatch). A key row whose
    // key_batch is NULL was written by version 1: crypto_box_seal directly.
    R"sql(
CREATE TABLE key_batches(
  id INTEGER PRIMARY KEY, recovery_sealed BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE batch_keys(
  batch_id INTEGER NOT NULL REFERENCES key_batches(id),
  role_id INTEGER NOT NULL REFERENCES roles(id),
  sealed_key BLOB NOT NULL, PRIMARY KEY(batch_id, role_id));
ALTER TABLE documents ADD COLUMN key_batch INTEGER REFERENCES key_batches(id);
ALTER TABLE document_keys ADD COLUMN key_batch INTEGER REFERENCES key_batches(id);
)sql",
};

int SchemaVersion(sql::Db& db) {
  sql::Stmt v(db, "PRAGMA user_version");
  v.Step();
  return static_cast<int>(v.Int(0));
}

void Migrate(sql::Db& db) {
  int version = SchemaVersion(db);
  const int latest = static_cast<int>(std::size(kMigrations));
  if (version > latest) {
    throw Error(ErrorCode::kUnsupported,
                "the repository was written by a newer Dossier");
  }
  for (; version < latest; ++version) {
    sql::Transaction t(db);
    db.Exec(kMigrations[version]);
    db.Exec("PRAGMA user_version=" + std::to_string(version + 1));
    t.Commit();
  }
  static_assert(kSchemaVersion == std::size(kMigrations));
}

// keys/server.key: "DSK1" | u8 protected | payload, where the payload is
// index key (32) || audit signing key (64), raw when unprotected or wrapped
// under the passphrase (Argon2id) when protected.
constexpr char kServerKeyMagic[4] = {'D', 'S', 'K', '1'};
constexpr std::size_t kSigningKeyBytes = 64;

void WriteFileAtomically(const std::string& path, const void* data,
                         std::size_t n, mode_t mode) {
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) throw Error(ErrorCode::kIo, "cannot write a key file");
  WriteAll(fd.get(), data, n);
  if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0 ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error(ErrorCode::kIo, "cannot write a key file");
  }
  SyncDir(fs::path(path).parent_path().string());
}

std::string ReadSmallFile(const std::string& path, ErrorCode missing) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(missing, "cannot read a key file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* kRecoveryHeader = "DOSSIER-RECOVERY-KEY-V1";

std::string MetaText(sql::Db& db, const std::string& key) {
  sql::Stmt s(db, "SELECT value FROM meta WHERE key=?");
  s.Bind(1, key);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "repository metadata is missing");
  auto b = s.Blob(0);
  return std::string(b.begin(), b.end());
}

void SetMeta(sql::Db& db, const std::string& key, std::string_view value) {
  sql::Stmt s(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  s.Bind(1, key).BindBlob(2, value).Run();
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || (c >= 'A' && c <= 'Z');
  });
}

void RequireValidName(const std::string& name, const char* what) {
  if (!ValidName(name)) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(what) +
                    " names use 1-64 letters, digits, '.', '_' or '-'");
  }
}

const std::vector<std::string> kStages = {
    "screening", "assessment", "risk_assessment", "planning",
    "implementation", "follow_up", "evaluation"};

}  // namespace

// ---- helpers shared by the repo .cpp files --------------------------------

std::string EncodeSet(const AccessSet& set) {
  std::string out;
  for (RoleId id : set) {
    if (!out.empty()) out.push_back(',');
    out += std::to_string(id);
  }
  return out;
}

AccessSet DecodeSet(const std::string& text) {
  AccessSet set;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) set.insert(std::stoll(item));
  }
  return set;
}

std::string Rfc3339(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

crypto::Bytes SealJson(const crypto::SecretBytes& key, std::string_view ad,
                       const json& j) {
  // Names are made valid UTF-8 before they get here; the handler keeps a
  // stray byte from failing a whole commit.
  std::string plain = j.dump(-1, ' ', false, json::error_handler_t::replace);
  crypto::Bytes sealed = crypto::SealMessage(key, ad, plain);
  crypto::Wipe(plain);
  return sealed;
}

json OpenJson(const crypto::SecretBytes& key, std::string_view ad,
              const crypto::Bytes& sealed) {
  std::string plain = crypto::OpenMessage(key, ad, sealed);
  json j = json::parse(plain, nullptr, false);
  crypto::Wipe(plain);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(ErrorCode::kCorrupt, "encrypted metadata is malformed");
  }
  return j;
}

// ---- Session ---------------------------------------------------------------

const std::string& Session::user() const { return impl_->user; }
const std::vector<std::string>& Session::roles() const { return impl_->role_names; }
bool Session::is_admin() const { return impl_->admin; }
bool Session::is_recovery() const { return impl_->recovery; }

// ---- Impl helpers -----------------------------------------------------------

std::int64_t Repository::Impl::Now() const {
  if (options.clock) return options.clock();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::string Repository::Impl::NowText() const { return Rfc3339(Now()); }

void Repository::Impl::RequireWritable() const {
  if (!shards) {
    throw Error(ErrorCode::kInternal, "the repository was opened read-only");
  }
}

RoleId Repository::Impl::RoleIdOf(const std::string& name) {
  sql::Stmt s(*db, "SELECT id FROM roles WHERE name=?");
  s.Bind(1, name);
  if (!s.Step()) throw Error(ErrorCode::kNotFound, "no such role");
  return s.Int(0);
}

std::string Repository::Impl::RoleNameOf(RoleId id) {
  sql::Stmt s(*db, "SELECT name FROM roles WHERE id=?");
  s.Bind(1, id);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "a role is missing");
  return s.Text(0);
}

crypto::PublicKey Repository::Impl::RolePublicKey(RoleId id) {
  sql::Stmt s(*db, "SELECT public_key FROM roles WHERE id=?");
  s.Bind(1, id);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "a role is missing");
  auto b = s.Blob(0);
  crypto::PublicKey pk{};
  if (b.size() != pk.size()) throw Error(ErrorCode::kCorrupt, "a role key is malformed");
  std::copy(b.begin(), b.end(), pk.begin());
  return pk;
}

bool Repository::Impl::HoldsRole(const Session& s, RoleId id) const {
  return s.impl().recovery || s.impl().role_keys.count(id) > 0;
}

const crypto::KeyPair& Repository::Impl::RoleKey(
    const Session& s, RoleId id, std::map<RoleId, crypto::KeyPair>& scratch) {
  auto it = s.impl().role_keys.find(id);
  if (it != s.impl().role_keys.end()) return it->second;
  auto sc = scratch.find(id);
  if (sc != scratch.end()) return sc->second;
  if (!s.impl().recovery) {
    throw Error(ErrorCode::kForbidden, "you do not hold this role's key");
  }
  sql::Stmt st(*db, "SELECT recovery_sealed FROM roles WHERE id=?");
  st.Bind(1, id);
  if (!st.Step()) throw Error(ErrorCode::kCorrupt, "a role is missing");
  crypto::KeyPair kp{RolePublicKey(id),
                     crypto::OpenSealed(*s.impl().recovery_key, st.Blob(0))};
  return scratch.emplace(id, std::move(kp)).first->second;
}

AccessSet Repository::Impl::CaseRoles(const std::string& case_id) {
  sql::Stmt s(*db, "SELECT role_id FROM case_grants WHERE case_id=?");
  s.Bind(1, case_id);
  AccessSet set;
  while (s.Step()) set.insert(s.Int(0));
  return set;
}

void Repository::Impl::RequireCaseVisible(const Session& s,
                                          const std::string& case_id) {
  sql::Stmt st(*db, "SELECT 1 FROM cases WHERE id=?");
  st.Bind(1, case_id);
  bool visible = st.Step();
  if (visible && !s.impl().recovery) {
    visible = false;
    for (RoleId r : CaseRoles(case_id)) visible = visible || HoldsRole(s, r);
  }
  if (!visible) throw Error(ErrorCode::kNotFound, "no such case");
}

crypto::SecretBytes Repository::Impl::OpenCaseKey(const Session& s,
                                                  const std::string& case_id) {
  if (s.impl().recovery) {
    sql::Stmt st(*db, "SELECT recovery_sealed_key FROM cases WHERE id=?");
    st.Bind(1, case_id);
    if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such case");
    return crypto::OpenSealed(*s.impl().recovery_key, st.Blob(0));
  }
  sql::Stmt st(*db, "SELECT role_id, sealed_key FROM case_grants WHERE case_id=?");
  st.Bind(1, case_id);
  while (st.Step()) {
    auto it = s.impl().role_keys.find(st.Int(0));
    if (it != s.impl().role_keys.end()) return crypto::OpenSealed(it->second, st.Blob(1));
  }
  throw Error(ErrorCode::kNotFound, "no such case");
}

std::string Repository::Impl::ShardFor(const AccessSet& set) {
  if (set.empty()) throw Error(ErrorCode::kInternal, "empty access set");
  const std::string key = EncodeSet(set);
  sql::Stmt s(*db, "SELECT id FROM shards WHERE access_set=?");
  s.Bind(1, key);
  if (s.Step()) return s.Text(0);
  const std::string id = "s" + crypto::RandomId(15);
  sql::Stmt ins(*db, "INSERT INTO shards(id, access_set) VALUES(?, ?)");
  ins.Bind(1, id).Bind(2, key).Run();
  return id;
}

AccessSet Repository::Impl::ShardSet(const std::string& shard_id) {
  sql::Stmt s(*db, "SELECT access_set FROM shards WHERE id=?");
  s.Bind(1, shard_id);
  if (!s.Step()) throw Error(ErrorCode::kCorrupt, "a shard record is missing");
  return DecodeSet(s.Text(0));
}

std::vector<std::string> Repository::Impl::VisibleShards(const Session& s) {
  // A shard is visible when its access set meets the user's roles. Only
  // shards that hold indexed documents and exist on disk are opened.
  sql::Stmt st(*db, "SELECT id, access_set FROM shards ORDER BY id");
  std::vector<std::string> out;
  while (st.Step()) {
    const std::string id = st.Text(0);
    bool visible = s.impl().recovery;
    for (RoleId r : DecodeSet(st.Text(1))) visible = visible || HoldsRole(s, r);
    if (visible && fs::exists(dir + "/index/" + id + "/iamglass")) out.push_back(id);
  }
  return out;
}

crypto::SecretBytes Repository::Impl::OpenDocumentKey(const Session& s,
                                                      const std::string& doc_id) {
  if (s.impl().recovery) {
    sql::Stmt st(*db, "SELECT recovery_sealed_key, key_batch FROM documents WHERE id=?");
    st.Bind(1, doc_id);
    if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such document");
    if (st.IsNull(1)) return crypto::OpenSealed(*s.impl().recovery_key, st.Blob(0));
    return crypto::UnwrapKey(BatchKey(s, st.Int(1), kRecoveryRecipient),
                             crypto::DataKeyAd(doc_id, "recovery"), st.Blob(0));
  }
  sql::Stmt st(*db, "SELECT role_id, sealed_key, key_batch FROM document_keys WHERE doc_id=?");
  st.Bind(1, doc_id);
  while (st.Step()) {
    const RoleId role = st.Int(0);
    auto it = s.impl().role_keys.find(role);
    if (it == s.impl().role_keys.end()) continue;
    if (st.IsNull(2)) return crypto::OpenSealed(it->second, st.Blob(1));
    return crypto::UnwrapKey(BatchKey(s, st.Int(2), role),
                             crypto::DataKeyAd(doc_id, std::to_string(role)), st.Blob(1));
  }
  throw Error(ErrorCode::kNotFound, "no such document");
}

const crypto::SecretBytes& Repository::Impl::BatchKey(const Session& s, std::int64_t batch,
                                                      RoleId recipient) {
  const Session::Impl& si = s.impl();
  {
    std::lock_guard<std::mutex> lock(si.batch_keys_mu);
    auto it = si.batch_keys.find({batch, recipient});
    if (it != si.batch_keys.end()) return it->second;
  }
  crypto::SecretBytes key;
  if (recipient == kRecoveryRecipient) {
    sql::Stmt st(*db, "SELECT recovery_sealed FROM key_batches WHERE id=?");
    st.Bind(1, batch);
    if (!st.Step()) throw Error(ErrorCode::kCorrupt, "a key batch is missing");
    key = crypto::OpenSealed(*si.recovery_key, st.Blob(0));
  } else {
    sql::Stmt st(*db, "SELECT sealed_key FROM batch_keys WHERE batch_id=? AND role_id=?");
    st.Bind(1, batch).Bind(2, recipient);
    if (!st.Step()) throw Error(ErrorCode::kCorrupt, "a key batch is missing");
    key = crypto::OpenSealed(si.role_keys.at(recipient), st.Blob(0));
  }
  std::lock_guard<std::mutex> lock(si.batch_keys_mu);
  // std::map nodes stay put, so the reference outlives later insertions.
  return si.batch_keys.emplace(std::make_pair(batch, recipient), std::move(key)).first->second;
}

KeyBatch::KeyBatch(std::vector<std::pair<RoleId, crypto::PublicKey>> recipients,
                   const crypto::PublicKey& recovery)
    : recovery_key_(crypto::RandomSecret(crypto::kDataKeySize)) {
  // A random id, not SQLite's next rowid, so the rows can be written (with
  // INSERT OR IGNORE) by whichever commit first needs them, even after a
  // rolled-back one.
  crypto::Bytes r = crypto::RandomBytes(8);
  for (unsigned char b : r) id_ = (id_ << 8) | b;
  id_ &= INT64_MAX;
  recovery_sealed_ = crypto::SealTo(recovery, recovery_key_);
  for (const auto& [role, pk] : recipients) {
    Recipient rc{role, crypto::RandomSecret(crypto::kDataKeySize), {}};
    rc.sealed = crypto::SealTo(pk, rc.key);
    recipients_.push_back(std::move(rc));
  }
}

WrappedKeys KeyBatch::Wrap(const std::string& doc_id, const crypto::SecretBytes& data_key) const {
  WrappedKeys out;
  out.recovery = crypto::WrapKey(recovery_key_, crypto::DataKeyAd(doc_id, "recovery"), data_key);
  for (const auto& rc : recipients_) {
    out.roles.emplace_back(
        rc.role, crypto::WrapKey(rc.key, crypto::DataKeyAd(doc_id, std::to_string(rc.role)), data_key));
  }
  return out;
}

void KeyBatch::Store(sql::Db& db, const std::string& now) const {
  sql::Stmt b(db, "INSERT OR IGNORE INTO key_batches(id, recovery_sealed, created_at) VALUES(?, ?, ?)");
  b.Bind(1, id_).Bind(2, recovery_sealed_).Bind(3, now).Run();
  sql::Stmt k(db, "INSERT OR IGNORE INTO batch_keys(batch_id, role_id, sealed_key) VALUES(?, ?, ?)");
  for (const auto& rc : recipients_) {
    k.Reset();
    k.Bind(1, id_).Bind(2, rc.role).Bind(3, rc.sealed).Run();
  }
}

// ---- Init and Open ----------------------------------------------------------

InitResult Repository::Init(const std::string& dir, const InitOptions& o) {
  crypto::EnsureSodium();
  RequireValidName(o.admin_user, "user");
  if (o.admin_password.size() < 8) {
    throw Error(ErrorCode::kInvalidArgument, "passwords need at least 8 characters");
  }
  if (o.protect && o.passphrase.size() < 8) {
    throw Error(ErrorCode::kInvalidArgument,
                "the server-key passphrase needs at least 8 characters");
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    throw Error(ErrorCode::kConflict, "the repository directory exists and is not empty");
  }
  const fs::path root = fs::absolute(dir).lexically_normal();
  std::string recovery_path = o.recovery_key_out;
  if (recovery_path.empty()) {
    std::string base = root.string();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    recovery_path = base + ".recovery-key";
  }
  const fs::path rec = fs::absolute(recovery_path).lexically_normal();
  {
    auto rel = rec.lexically_relative(root);
    if (!rel.empty() && *rel.begin() != "..") {
      throw Error(ErrorCode::kInvalidArgument,
                  "the recovery key must be written outside the repository");
    }
  }
  if (fs::exists(rec, ec)) {
    throw Error(ErrorCode::kConflict, "the recovery key file already exists");
  }
  fs::create_directories(root / "keys", ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create the repository directory");
  fs::permissions(root, fs::perms::owner_all, ec);
  fs::permissions(root / "keys", fs::perms::owner_all, ec);
  for (const char* sub : {"blobs", "text", "index"}) fs::create_directories(root / sub);

  // Server key: index key and audit signing key.
  crypto::SecretBytes index_key = crypto::RandomSecret(crypto::kIndexKeySize);
  crypto::SecretBytes signing = crypto::GenerateSigningSecret();
  crypto::SecretBytes both(index_key.size() + signing.size());
  std::copy(index_key.data(), index_key.data() + index_key.size(), both.data());
  std::copy(signing.data(), signing.data() + signing.size(),
            both.data() + index_key.size());
  std::string file(kServerKeyMagic, 4);
  file.push_back(o.protect ? '\1' : '\0');
  if (o.protect) {
    crypto::Bytes wrapped = crypto::WrapWithPassword(both, o.passphrase, o.cost);
    file.append(wrapped.begin(), wrapped.end());
  } else {
    file.append(reinterpret_cast<const char*>(both.data()), both.size());
  }
  WriteFileAtomically((root / "keys/server.key").string(), file.data(), file.size(), 0600);
  crypto::Wipe(file);

  // Recovery role key pair: the secret goes outside the directory only.
  crypto::KeyPair recovery = crypto::GenerateKeyPair();
  const std::string repo_id = crypto::RandomId(16);
  {
    std::string text = std::string("# Dossier recovery key for repository ") + repo_id +
                       ".\n# It opens every document in the repository. Move this "
                       "file offline\n# (a safe, a hardware token) and delete it "
                       "from this machine.\n" + kRecoveryHeader + " " + repo_id + " " +
                       crypto::ToBase64(recovery.secret_key.data(),
                                        recovery.secret_key.size()) + "\n";
    WriteFileAtomically(rec.string(), text.data(), text.size(), 0600);
    crypto::Wipe(text);
  }

  sql::Db db((root / "dossier.db").string(), true);
  Migrate(db);
  sql::Transaction t(db);
  SetMeta(db, "repo_id", repo_id);
  SetMeta(db, "hash_version", std::to_string(crypto::kHashFormatVersion));
  SetMeta(db, "recovery_public_key",
          std::string_view(reinterpret_cast<const char*>(recovery.public_key.data()),
                           recovery.public_key.size()));
  crypto::KeyPair admin = crypto::GenerateKeyPair();
  sql::Stmt u(db,
              "INSERT INTO users(name, is_admin, public_key, wrapped_secret, created_at) "
              "VALUES(?, 1, ?, ?, ?)");
  u.Bind(1, o.admin_user)
      .Bind(2, crypto::Bytes(admin.public_key.begin(), admin.public_key.end()))
      .Bind(3, crypto::WrapWithPassword(admin.secret_key, o.admin_password, o.cost))
      .Bind(4, Rfc3339(std::time(nullptr)))
      .Run();
  t.Commit();
  return InitResult{rec.string()};
}

bool Repository::ServerKeyProtected(const std::string& dir) {
  std::ifstream in(dir + "/keys/server.key", std::ios::binary);
  char head[5] = {0};
  if (!in.read(head, 5)) throw Error(ErrorCode::kNotFound, "no Dossier repository at that path");
  return head[4] == '\1';
}

Repository::Repository(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Repository::~Repository() = default;
const std::string& Repository::dir() const { return impl_->dir; }

std::unique_ptr<Repository> Repository::Open(const std::string& dir,
                                             const OpenOptions& options) {
  crypto::EnsureSodium();
  auto impl = std::make_unique<Impl>();
  impl->dir = fs::absolute(dir).lexically_normal().string();
  impl->options = options;
  if (!fs::exists(impl->dir + "/dossier.db")) {
    throw Error(ErrorCode::kNotFound, "no Dossier repository at that path");
  }
  if (!options.read_only) {
    // One writer at a time: an exclusive flock on <repo>/lock, whose content
    // names the holder for the error a second writer sees.
    const std::string lock_path = impl->dir + "/lock";
    impl->lock = Fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!impl->lock) throw Error(ErrorCode::kIo, "cannot open the repository lock file");
    if (::flock(impl->lock.get(), LOCK_EX | LOCK_NB) != 0) {
      char buf[256] = {0};
      const auto n = ::pread(impl->lock.get(), buf, sizeof buf - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
      while (!holder.empty() && (holder.back() == '\n')) holder.pop_back();
      throw Error(ErrorCode::kConflict,
                  "the repository is being written by another process (" + holder + ")");
    }
    const std::string me = options.holder + " pid " + std::to_string(::getpid()) + "\n";
    if (::ftruncate(impl->lock.get(), 0) != 0 ||
        ::pwrite(impl->lock.get(), me.data(), me.size(), 0) < 0) {
      throw Error(ErrorCode::kIo, "cannot write the repository lock file");
    }
  }
  impl->db = std::make_unique<sql::Db>(impl->dir + "/dossier.db", false);
  if (!options.read_only) {
    Migrate(*impl->db);
  } else if (SchemaVersion(*impl->db) != kSchemaVersion) {
    // A reader of an older repository upgrades it first, under the write
    // lock for that moment; a writer already upgraded it when it opened.
    Fd lock(::open((impl->dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) {
      Migrate(*impl->db);
    } else if (SchemaVersion(*impl->db) > kSchemaVersion) {
      throw Error(ErrorCode::kUnsupported, "the repository was written by a newer Dossier");
    } else if (SchemaVersion(*impl->db) < kSchemaVersion) {
      // (A writer that opened it meanwhile has upgraded it: then go on.)
      throw Error(ErrorCode::kConflict,
                  !lock ? "the repository needs an upgrade, which needs write access to it"
                        : "the repository needs an upgrade, and another process is writing it");
    }
  }
  impl->repo_id = MetaText(*impl->db, "repo_id");
  if (MetaText(*impl->db, "hash_version") != std::to_string(crypto::kHashFormatVersion)) {
    throw Error(ErrorCode::kUnsupported,
                "the index uses another hash format; run dossier reindex");
  }
  {
    const std::string pk = MetaText(*impl->db, "recovery_public_key");
    if (pk.size() != impl->recovery_public.size()) {
      throw Error(ErrorCode::kCorrupt, "the recovery public key is malformed");
    }
    std::copy(pk.begin(), pk.end(), impl->recovery_public.begin());
  }

  // The server key.
  {
    std::string file = ReadSmallFile(impl->dir + "/keys/server.key", ErrorCode::kCorrupt);
    if (file.size() < 5 || file.compare(0, 4, kServerKeyMagic, 4) != 0) {
      throw Error(ErrorCode::kCorrupt, "keys/server.key is malformed");
    }
    crypto::SecretBytes both;
    if (file[4] == '\1') {
      if (options.passphrase.empty()) {
        throw Error(ErrorCode::kUnauthenticated,
                    "the server key is protected: a passphrase is needed");
      }
      crypto::Bytes wrapped(file.begin() + 5, file.end());
      try {
        both = crypto::UnwrapWithPassword(wrapped, options.passphrase);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kUnauthenticated) {
          throw Error(ErrorCode::kUnauthenticated, "wrong server-key passphrase");
        }
        throw;
      }
    } else {
      both = crypto::SecretBytes(reinterpret_cast<const unsigned char*>(file.data()) + 5,
                                 file.size() - 5);
    }
    crypto::Wipe(file);
    if (both.size() != crypto::kIndexKeySize + kSigningKeyBytes) {
      throw Error(ErrorCode::kCorrupt, "keys/server.key is malformed");
    }
    impl->index_key = crypto::SecretBytes(both.data(), crypto::kIndexKeySize);
  }
  impl->blind = std::make_unique<indexer::BlindKeys>(impl->index_key);
  impl->dedup = std::make_unique<crypto::KeyedHasher>(impl->index_key,
                                                      crypto::HashPurpose::kDedup);
  impl->blobs = std::make_unique<FileStore>(impl->dir + "/blobs");
  impl->text = std::make_unique<FileStore>(impl->dir + "/text");
  impl->searcher = std::make_unique<indexer::Searcher>(*impl->blind, impl->dir + "/index");
  if (!options.read_only) {
    impl->shards = std::make_unique<indexer::ShardStore>(impl->dir + "/index");
    impl->Recover();
  }
  return std::unique_ptr<Repository>(new Repository(std::move(impl)));
}

// ---- Login ------------------------------------------------------------------

Session Repository::Login(std::string_view user, std::string_view password) {
  Impl& s = *impl_;
  sql::Stmt st(*s.db,
               "SELECT id, is_admin, public_key, wrapped_secret FROM users WHERE name=?");
  st.Bind(1, user);
  if (!st.Step()) {
    // Spend the same effort as a real unwrap so timing does not tell
    // unknown users from wrong passwords.
    crypto::SecretBytes dummy = crypto::RandomSecret(32);
    (void)crypto::WrapWithPassword(dummy, password, s.options.cost);
    throw Error(ErrorCode::kUnauthenticated, "unknown user or wrong password");
  }
  auto impl = std::make_shared<Session::Impl>();
  impl->user_id = st.Int(0);
  impl->user = std::string(user);
  impl->admin = st.Int(1) != 0;
  impl->repo_id = s.repo_id;
  crypto::KeyPair me;
  {
    auto pk = st.Blob(2);
    if (pk.size() != me.public_key.size()) throw Error(ErrorCode::kCorrupt, "a user key is malformed");
    std::copy(pk.begin(), pk.end(), me.public_key.begin());
  }
  try {
    me.secret_key = crypto::UnwrapWithPassword(st.Blob(3), password);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnauthenticated) {
      throw Error(ErrorCode::kUnauthenticated, "unknown user or wrong password");
    }
    throw;
  }
  sql::Stmt roles(*s.db,
                  "SELECT r.id, r.name, r.public_key, m.sealed_secret FROM role_members m "
                  "JOIN roles r ON r.id = m.role_id WHERE m.user_id=? ORDER BY r.name");
  roles.Bind(1, impl->user_id);
  while (roles.Step()) {
    crypto::KeyPair kp;
    auto pk = roles.Blob(2);
    std::copy(pk.begin(), pk.end(), kp.public_key.begin());
    kp.secret_key = crypto::OpenSealed(me, roles.Blob(3));
    impl->role_keys.emplace(roles.Int(0), std::move(kp));
    impl->role_names.push_back(roles.Text(1));
  }
  return Session(impl);
}

Session Repository::LoginWithRecoveryKey(const std::string& key_file) {
  Impl& s = *impl_;
  std::string text = ReadSmallFile(key_file, ErrorCode::kNotFound);
  const auto at = text.find(kRecoveryHeader);
  if (at == std::string::npos) {
    crypto::Wipe(text);
    throw Error(ErrorCode::kUnauthenticated, "that file is not a Dossier recovery key");
  }
  std::istringstream in(text.substr(at + std::strlen(kRecoveryHeader)));
  std::string repo_id, b64;
  in >> repo_id >> b64;
  crypto::Wipe(text);
  if (repo_id != s.repo_id) {
    crypto::Wipe(b64);
    throw Error(ErrorCode::kUnauthenticated, "that recovery key belongs to another repository");
  }
  auto impl = std::make_shared<Session::Impl>();
  impl->recovery = true;
  impl->admin = true;
  impl->user = "recovery";
  impl->repo_id = s.repo_id;
  impl->recovery_key = std::make_unique<crypto::KeyPair>();
  impl->recovery_key->secret_key = crypto::SecretFromBase64(b64);
  crypto::Wipe(b64);
  impl->recovery_key->public_key = crypto::PublicKeyOf(impl->recovery_key->secret_key);
  if (impl->recovery_key->public_key != s.recovery_public) {
    throw Error(ErrorCode::kUnauthenticated, "that recovery key does not match this repository");
  }
  return Session(impl);
}

// ---- Users and roles ----------------------------------------------------------

namespace {
void RequireSameRepo(const Session& s, const std::string& repo_id) {
  if (s.impl().repo_id != repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
}
void RequireAdmin(const Session& s) {
  if (!s.is_admin()) throw Error(ErrorCode::kForbidden, "this needs the admin permission");
}
}  // namespace

void Repository::AddUser(const Session& actor, const std::string& name,
                         std::string_view password,
                         const std::vector<std::string>& roles, bool admin) {
  Impl& s = *impl_;
  s.RequireWritable();
  RequireSameRepo(actor, s.repo_id);
  RequireAdmin(actor);
  RequireValidName(name, "user");
  if (password.size() < 8) {
    throw Error(ErrorCode::kInvalidArgument, "passwords need at least 8 characters");
  }
  std::map<RoleId, crypto::KeyPair> scratch;
  std::vector<RoleId> ids;
  for (const auto& r : roles) {
    const RoleId id = s.RoleIdOf(r);
    s.RoleKey(actor, id, scratch);  // throws unless the actor holds it
    ids.push_back(id);
  }
  crypto::KeyPair kp = crypto::GenerateKeyPair();
  const crypto::Bytes wrapped = crypto::WrapWithPassword(kp.secret_key, password, s.options.cost);
  sql::Transaction t(*s.db);
  {
    sql::Stmt dup(*s.db, "SELECT 1 FROM users WHERE name=?");
    dup.Bind(1, name);
    if (dup.Step()) throw Error(ErrorCode::kConflict, "a user with that name exists");
  }
  sql::Stmt u(*s.db,
              "INSERT INTO users(name, is_admin, public_key, wrapped_secret, created_at) "
              "VALUES(?, ?, ?, ?, ?)");
  u.Bind(1, name)
      .Bind(2, admin ? 1 : 0)
      .Bind(3, crypto::Bytes(kp.public_key.begin(), kp.public_key.end()))
      .Bind(4, wrapped)
      .Bind(5, s.NowText())
      .Run();
  const std::int64_t uid = s.db->LastInsertRowid();
  for (RoleId id : ids) {
    const crypto::KeyPair& rk = s.RoleKey(actor, id, scratch);
    sql::Stmt m(*s.db,
                "INSERT INTO role_members(role_id, user_id, sealed_secret) VALUES(?, ?, ?)");
    m.Bind(1, id).Bind(2, uid).Bind(3, crypto::SealTo(kp.public_key, rk.secret_key)).Run();
  }
  t.Commit();
}

void Repository::AddRole(const Session& actor, const std::string& name, bool join) {
  Impl& s = *impl_;
  s.RequireWritable();
  RequireSameRepo(actor, s.repo_id);
  RequireAdmin(actor);
  RequireValidName(name, "role");
  crypto::KeyPair kp = crypto::GenerateKeyPair();
  sql::Transaction t(*s.db);
  {
    sql::Stmt dup(*s.db, "SELECT 1 FROM roles WHERE name=?");
    dup.Bind(1, name);
    if (dup.Step()) throw Error(ErrorCode::kConflict, "a role with that name exists");
  }
  sql::Stmt r(*s.db,
              "INSERT INTO roles(name, public_key, recovery_sealed, created_at) "
              "VALUES(?, ?, ?, ?)");
  r.Bind(1, name)
      .Bind(2, crypto::Bytes(kp.public_key.begin(), kp.public_key.end()))
      .Bind(3, crypto::SealTo(s.recovery_public, kp.secret_key))
      .Bind(4, s.NowText())
      .Run();
  const RoleId id = s.db->LastInsertRowid();
  if (join && !actor.is_recovery()) {
    sql::Stmt pk(*s.db, "SELECT public_key FROM users WHERE id=?");
    pk.Bind(1, actor.impl().user_id);
    if (!pk.Step()) throw Error(ErrorCode::kCorrupt, "the acting user is missing");
    auto b = pk.Blob(0);
    crypto::PublicKey upk{};
    std::copy(b.begin(), b.end(), upk.begin());
    sql::Stmt m(*s.db,
                "INSERT INTO role_members(role_id, user_id, sealed_secret) VALUES(?, ?, ?)");
    m.Bind(1, id).Bind(2, actor.impl().user_id).Bind(3, crypto::SealTo(upk, kp.secret_key)).Run();
  }
  t.Commit();
}

void Repository::AddMember(const Session& actor, const std::string& role,
                           const std::string& user) {
  Impl& s = *impl_;
  s.RequireWritable();
  RequireSameRepo(actor, s.repo_id);
  RequireAdmin(actor);
  std::map<RoleId, crypto::KeyPair> scratch;
  const RoleId id = s.RoleIdOf(role);
  const crypto::KeyPair& rk = s.RoleKey(actor, id, scratch);
  sql::Stmt u(*s.db, "SELECT id, public_key FROM users WHERE name=?");
  u.Bind(1, user);
  if (!u.Step()) throw Error(ErrorCode::kNotFound, "no such user");
  const std::int64_t uid = u.Int(0);
  auto b = u.Blob(1);
  crypto::PublicKey upk{};
  std::copy(b.begin(), b.end(), upk.begin());
  sql::Stmt m(*s.db,
              "INSERT OR IGNORE INTO role_members(role_id, user_id, sealed_secret) "
              "VALUES(?, ?, ?)");
  m.Bind(1, id).Bind(2, uid).Bind(3, crypto::SealTo(upk, rk.secret_key)).Run();
}

// ---- Cases ------------------------------------------------------------------------

namespace {
std::string CaseAd(const std::string& id) { return "dossier.case.v1|" + id; }
}  // namespace

CaseInfo Repository::CreateCase(const Session& actor, const NewCase& c) {
  Impl& s = *impl_;
  s.RequireWritable();
  RequireSameRepo(actor, s.repo_id);
  if (c.title.empty() || c.title.size() > 500) {
    throw Error(ErrorCode::kInvalidArgument, "a case title needs 1-500 characters");
  }
  if (!c.risk.empty() && c.risk != "low" && c.risk != "moderate" && c.risk != "high") {
    throw Error(ErrorCode::kInvalidArgument, "risk is one of low, moderate, high");
  }
  if (c.roles.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "a case needs at least one role");
  }
  AccessSet roles;
  bool member = actor.is_recovery();
  for (const auto& r : c.roles) {
    const RoleId id = s.RoleIdOf(r);
    roles.insert(id);
    member = member || s.HoldsRole(actor, id);
  }
  if (!member) {
    throw Error(ErrorCode::kForbidden,
                "you must hold one of the case's roles to create it");
  }
  const std::string id = "c" + crypto::RandomId(11);
  const std::string now = s.NowText();
  crypto::SecretBytes case_key = crypto::NewDataKey();
  json meta = {{"title", c.title},       {"description", c.description},
               {"risk", c.risk},         {"stage", "screening"},
               {"status", "open"},       {"owner", actor.user()},
               {"assignees", json::array()}};
  sql::Transaction t(*s.db);
  sql::Stmt ins(*s.db,
                "INSERT INTO cases(id, sealed_meta, recovery_sealed_key, created_at, "
                "updated_at) VALUES(?, ?, ?, ?, ?)");
  ins.Bind(1, id)
      .Bind(2, SealJson(crypto::DeriveDataSubkey(case_key, crypto::DataKeyUse::kMeta),
                        CaseAd(id), meta))
      .Bind(3, crypto::SealTo(s.recovery_public, case_key))
      .Bind(4, now)
      .Bind(5, now)
      .Run();
  for (RoleId r : roles) {
    sql::Stmt g(*s.db, "INSERT INTO case_grants(case_id, role_id, sealed_key) VALUES(?, ?, ?)");
    g.Bind(1, id).Bind(2, r).Bind(3, crypto::SealTo(s.RolePublicKey(r), case_key)).Run();
  }
  t.Commit();
  return GetCase(actor, id);
}

CaseInfo Repository::GetCase(const Session& actor, const std::string& case_id) {
  Impl& s = *impl_;
  RequireSameRepo(actor, s.repo_id);
  s.RequireCaseVisible(actor, case_id);
  crypto::SecretBytes key = s.OpenCaseKey(actor, case_id);
  sql::Stmt st(*s.db, "SELECT sealed_meta, created_at, updated_at FROM cases WHERE id=?");
  st.Bind(1, case_id);
  if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such case");
  json meta = OpenJson(crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kMeta),
                       CaseAd(case_id), st.Blob(0));
  CaseInfo info;
  info.id = case_id;
  info.title = meta.value("title", "");
  info.description = meta.value("description", "");
  info.risk = meta.value("risk", "");
  info.stage = meta.value("stage", "screening");
  info.status = meta.value("status", "open");
  info.owner = meta.value("owner", "");
  if (meta.contains("assignees")) info.assignees = meta["assignees"].get<std::vector<std::string>>();
  info.created_at = st.Text(1);
  info.updated_at = st.Text(2);
  for (RoleId r : s.CaseRoles(case_id)) info.roles.push_back(s.RoleNameOf(r));
  std::sort(info.roles.begin(), info.roles.end());
  // Count only the documents this actor can see: restricted ones in sets
  // they do not reach are not theirs to count.
  sql::Stmt count(*s.db,
                  "SELECT shard_id FROM documents WHERE case_id=? AND status IN "
                  "('indexed','partial','duplicate')");
  count.Bind(1, case_id);
  std::map<std::string, bool> visible;
  while (count.Step()) {
    const std::string shard = count.Text(0);
    auto it = visible.find(shard);
    if (it == visible.end()) {
      bool v = actor.is_recovery();
      for (RoleId r : s.ShardSet(shard)) v = v || s.HoldsRole(actor, r);
      it = visible.emplace(shard, v).first;
    }
    if (it->second) ++info.document_count;
  }
  return info;
}

std::vector<CaseInfo> Repository::ListCases(const Session& actor) {
  Impl& s = *impl_;
  RequireSameRepo(actor, s.repo_id);
  std::vector<std::string> ids;
  {
    sql::Stmt st(*s.db, "SELECT id FROM cases ORDER BY created_at, id");
    while (st.Step()) ids.push_back(st.Text(0));
  }
  std::vector<CaseInfo> out;
  for (const auto& id : ids) {
    try {
      out.push_back(GetCase(actor, id));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
  }
  return out;
}

}  // namespace dossier::repo
