// Private to repo/: the repository database's connections, for many
// threads. Reads take a connection of their own from a pool (WAL: each
// sees the last committed state, and none waits for the writer); writes
// take the one writer connection under the in-process write lock, which a
// writer holds per transaction (or per short group of them, such as one
// ingest group's commit), never for a whole job, so other writes get in
// between. Across processes, the lock file keeps a second writer out
// (repo/open.cpp).
// Thread-safety: all of it; a lease or writer belongs to one thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "repo/sqlite.h"

namespace dossier::repo {

class Database {
 public:
  Database(std::string path, bool writable);
  ~Database();

  // A pooled connection for this thread's reads; back to the pool when the
  // lease ends.
  class Lease {
   public:
    Lease(Database& owner, std::unique_ptr<sql::Db> db) : owner_(&owner), db_(std::move(db)) {}
    Lease(Lease&&) noexcept = default;
    ~Lease();
    sql::Db& operator*() const { return *db_; }
    sql::Db* operator->() const { return db_.get(); }

   private:
    Database* owner_;
    std::unique_ptr<sql::Db> db_;
  };
  Lease Read();

  // The writer connection, this thread's alone while the Writer lives.
  // Not re-entrant: code holding it passes the connection down instead of
  // asking again. REQUIRES a writable database.
  class Writer {
   public:
    explicit Writer(Database& owner);
    sql::Db& operator*() const { return *db_; }
    sql::Db* operator->() const { return db_; }

   private:
    std::unique_lock<std::mutex> lock_;
    sql::Db* db_;
  };
  Writer Write() { return Writer(*this); }

 private:
  const std::string path_;
  const bool writable_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<sql::Db>> pool_;
  std::mutex write_mu_;
  std::unique_ptr<sql::Db> writer_;
};

}  // namespace dossier::repo
