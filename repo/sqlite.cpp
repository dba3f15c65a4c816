#include "repo/sqlite.h"

#include <sqlite3.h>

namespace dossier::repo::sql {

void DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StmtFinalizer::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
std::int64_t Db::LastInsertRowid() { return sqlite3_last_insert_rowid(db_.get()); }
std::int64_t Db::Changes() { return sqlite3_changes(db_.get()); }

Db::Db(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) {
    throw Error(rc == SQLITE_CANTOPEN ? ErrorCode::kNotFound : ErrorCode::kIo,
                "cannot open the repository database");
  }
  sqlite3_busy_timeout(raw, 5000);
  Exec("PRAGMA journal_mode=WAL");
  Exec("PRAGMA synchronous=FULL");
  Exec("PRAGMA foreign_keys=ON");
  Exec("PRAGMA secure_delete=ON");
}

void Db::Fail(int rc, std::string_view what) {
  std::string msg = "database error while ";
  msg.append(what);
  msg += ": ";
  msg += sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  ErrorCode code = ErrorCode::kIo;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) code = ErrorCode::kCorrupt;
  if (primary == SQLITE_CONSTRAINT) code = ErrorCode::kConflict;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = ErrorCode::kConflict;
  throw Error(code, msg);
}

void Db::Exec(std::string_view sql) {
  const std::string s(sql);
  const int rc = sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) Fail(rc, "running a statement");
}

Db::~Db() {
  cache_.clear();  // finalized before the connection closes
}

std::unique_ptr<sqlite3_stmt, StmtFinalizer> Db::Take(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) return nullptr;
  auto stmt = std::move(it->second);
  cache_.erase(it);
  return stmt;
}

void Db::Give(const std::string& sql, std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt) {
  sqlite3_reset(stmt.get());
  sqlite3_clear_bindings(stmt.get());
  if (cache_.size() >= kCachedStatements && !cache_.count(sql)) return;  // finalized
  cache_.insert_or_assign(sql, std::move(stmt));  // a second copy of the same SQL replaces the first
}

Stmt::Stmt(Db& db, std::string_view sql) : db_(db), sql_(sql), stmt_(db.Take(sql_)) {
  if (stmt_) return;
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db.raw(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  stmt_.reset(raw);
  if (rc != SQLITE_OK) db.Fail(rc, "preparing a statement");
}

Stmt::~Stmt() {
  if (stmt_) db_.Give(sql_, std::move(stmt_));
}

Stmt& Stmt::Bind(int i, std::int64_t v) {
  const int rc = sqlite3_bind_int64(stmt_.get(), i, v);
  if (rc != SQLITE_OK) db_.Fail(rc, "binding a value");
  return *this;
}
Stmt& Stmt::Bind(int i, std::string_view v) {
  const int rc = sqlite3_bind_text(stmt_.get(), i, v.data(),
                                   static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_.Fail(rc, "binding a value");
  return *this;
}
Stmt& Stmt::Bind(int i, const crypto::Bytes& v) {
  const int rc = sqlite3_bind_blob(stmt_.get(), i, v.data(),
                                   static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_.Fail(rc, "binding a value");
  return *this;
}
Stmt& Stmt::BindBlob(int i, std::string_view v) {
  const int rc = sqlite3_bind_blob(stmt_.get(), i, v.data(),
                                   static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_.Fail(rc, "binding a value");
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  const int rc = sqlite3_bind_null(stmt_.get(), i);
  if (rc != SQLITE_OK) db_.Fail(rc, "binding a value");
  return *this;
}

bool Stmt::Step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.Fail(rc, "reading or writing rows");
}

void Stmt::Run() {
  while (Step()) {
  }
}

void Stmt::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
std::string Stmt::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         sqlite3_column_bytes(stmt_.get(), col))
           : std::string();
}
crypto::Bytes Stmt::Blob(int col) const {
  const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_.get(), col));
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p ? crypto::Bytes(p, p + n) : crypto::Bytes();
}
bool Stmt::IsNull(int col) const {
  return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

Stmt::Type Stmt::TypeOf(int col) const {
  switch (sqlite3_column_type(stmt_.get(), col)) {
    case SQLITE_INTEGER: return Type::kInteger;
    case SQLITE_FLOAT: return Type::kFloat;
    case SQLITE_TEXT: return Type::kText;
    case SQLITE_BLOB: return Type::kBlob;
    default: return Type::kNull;
  }
}
std::size_t Stmt::SizeOf(int col) const {
  return static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col));
}

ReadTransaction::ReadTransaction(Db& db) : db_(db) { Stmt(db_, "BEGIN").Run(); }
ReadTransaction::~ReadTransaction() { End(); }
void ReadTransaction::End() {
  if (done_) return;
  done_ = true;
  sqlite3_exec(db_.raw(), "COMMIT", nullptr, nullptr, nullptr);  // never throws (destructors)
}

Transaction::Transaction(Db& db) : db_(db) { db_.Exec("BEGIN IMMEDIATE"); }
Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
}
void Transaction::Commit() {
  db_.Exec("COMMIT");
  done_ = true;
}

}  // namespace dossier::repo::sql
