// Private to repo/: a thin RAII adapter over SQLite. Every sqlite3 error is
// turned into dossier::Error here and nowhere else. The handles are only
// forward-declared: <sqlite3.h> stays in sqlite.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "crypto/secret.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dossier::repo::sql {

struct DbCloser {
  void operator()(sqlite3* db) const;
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const;
};

class Db;

// A prepared statement. Bind parameters are 1-based; columns 0-based.
// Statements come from their connection's cache and go back to it reset
// (see Db), so the same SQL is compiled once per connection.
class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& Bind(int i, std::int64_t v);
  Stmt& Bind(int i, std::string_view v);  // TEXT
  Stmt& Bind(int i, const crypto::Bytes& v);  // BLOB
  Stmt& BindBlob(int i, std::string_view v);
  Stmt& BindNull(int i);
  // Steps once; returns true while a row is available.
  bool Step();
  // Steps to completion (for statements without rows).
  void Run();
  void Reset();
  std::int64_t Int(int col) const;
  std::string Text(int col) const;
  crypto::Bytes Blob(int col) const;
  bool IsNull(int col) const;
  // The column's storage class in this row, and its size in bytes: values
  // read back from the file are checked against these before use
  // (repo/columns.h), since anyone with the file can change them.
  enum class Type { kInteger, kFloat, kText, kBlob, kNull };
  Type TypeOf(int col) const;
  std::size_t SizeOf(int col) const;

 private:
  Db& db_;
  std::string sql_;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
};

class Db {
 public:
  // Opens (creating if asked) a database file with WAL, foreign keys,
  // secure_delete and a busy timeout.
  Db(const std::string& path, bool create);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  void Exec(std::string_view sql);
  sqlite3* raw() { return db_.get(); }
  [[noreturn]] void Fail(int rc, std::string_view what);
  std::int64_t LastInsertRowid();
  // Rows changed by the last statement.
  std::int64_t Changes();

 private:
  friend class Stmt;
  // Prepared statements put back by Stmt, reset and unbound, by their SQL
  // (a search runs a dozen statements: compiling them each time was most
  // of a search's fixed cost). Bounded: SQL built with a varying number of
  // parameters cannot fill it for good. One connection serves one thread
  // at a time, so no lock.
  static constexpr std::size_t kCachedStatements = 256;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> Take(const std::string& sql);
  void Give(const std::string& sql, std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt);
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StmtFinalizer>> cache_;
  std::unique_ptr<sqlite3, DbCloser> db_;
};

// BEGIN … COMMIT around reads: every statement in between sees one
// snapshot (WAL), whatever writers commit meanwhile.
class ReadTransaction {
 public:
  explicit ReadTransaction(Db& db);
  ~ReadTransaction();
  // Ends the snapshot early (the destructor then does nothing).
  void End();

 private:
  Db& db_;
  bool done_ = false;
};

// BEGIN IMMEDIATE … COMMIT, rolled back if destroyed before Commit().
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void Commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace dossier::repo::sql
