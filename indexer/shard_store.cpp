#include "indexer/shard_store.h"

#include <filesystem>
#include <set>

#include "indexer/xapian_internal.h"

namespace dossier::indexer {

namespace fs = std::filesystem;

struct ShardStore::Impl {
  std::string dir;
  std::map<std::string, Xapian::WritableDatabase> open;
  std::set<std::string> in_transaction;

  Xapian::WritableDatabase& Get(const std::string& shard) {
    auto it = open.find(shard);
    if (it != open.end()) return it->second;
    if (shard.empty() || shard.find('/') != std::string::npos || shard[0] == '.') {
      throw Error(ErrorCode::kInternal, "invalid shard id");
    }
    auto db = internal::XapianCall("opening a shard", [&] {
      return Xapian::WritableDatabase(dir + "/" + shard,
                                      Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS);
    });
    internal::XapianCall("opening a shard", [&] {
      if (db.get_metadata("dossier.hash_version").empty()) {
        db.set_metadata("dossier.hash_version",
                        std::to_string(crypto::kHashFormatVersion));
      } else if (db.get_metadata("dossier.hash_version") !=
                 std::to_string(crypto::kHashFormatVersion)) {
        throw Error(ErrorCode::kUnsupported,
                    "index shard uses another hash format; run dossier reindex");
      }
    });
    return open.emplace(shard, std::move(db)).first->second;
  }
};

ShardStore::ShardStore(std::string index_dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(index_dir);
  fs::create_directories(impl_->dir);
}
ShardStore::~ShardStore() {
  try {
    Close();
  } catch (...) {
    // Uncommitted changes are discarded; committed ones are already safe.
  }
}

void ShardStore::Add(const std::string& shard, PreparedDocument doc) {
  auto& db = impl_->Get(shard);
  internal::XapianCall("adding a document", [&] {
    db.replace_document(internal::IdTerm(doc.doc_id()), doc.impl().doc);
  });
}

bool ShardStore::Delete(const std::string& shard, const std::string& doc_id) {
  auto& db = impl_->Get(shard);
  return internal::XapianCall("deleting a document", [&] {
    const std::string term = internal::IdTerm(doc_id);
    if (!db.term_exists(term)) return false;
    db.delete_document(term);
    return true;
  });
}

bool ShardStore::Contains(const std::string& shard, const std::string& doc_id) {
  auto& db = impl_->Get(shard);
  return internal::XapianCall("reading a shard", [&] {
    return db.term_exists(internal::IdTerm(doc_id));
  });
}

bool ShardStore::Copy(const std::string& from, const std::string& to,
                      const std::string& doc_id) {
  auto& src = impl_->Get(from);
  auto& dst = impl_->Get(to);
  return internal::XapianCall("moving a document", [&] {
    const std::string term = internal::IdTerm(doc_id);
    Xapian::PostingIterator p = src.postlist_begin(term);
    if (p == src.postlist_end(term)) return false;
    Xapian::Document doc = src.get_document(*p);
    dst.replace_document(term, doc);
    return true;
  });
}

std::uint64_t ShardStore::DocumentCount(const std::string& shard) {
  auto& db = impl_->Get(shard);
  return internal::XapianCall("reading a shard", [&] { return db.get_doccount(); });
}

std::vector<std::string> ShardStore::DocumentIds(const std::string& shard) {
  auto& db = impl_->Get(shard);
  return internal::XapianCall("reading a shard", [&] {
    std::vector<std::string> ids;
    for (auto t = db.allterms_begin("Q"); t != db.allterms_end("Q"); ++t) {
      ids.push_back((*t).substr(1));
    }
    return ids;
  });
}

void ShardStore::Begin(const std::string& shard) {
  if (impl_->in_transaction.count(shard)) return;
  auto& db = impl_->Get(shard);
  internal::XapianCall("starting a shard transaction", [&] { db.begin_transaction(true); });
  impl_->in_transaction.insert(shard);
}

void ShardStore::Commit(const std::string& shard) {
  auto it = impl_->open.find(shard);
  if (it == impl_->open.end()) return;
  if (impl_->in_transaction.erase(shard)) {
    internal::XapianCall("committing a shard", [&] { it->second.commit_transaction(); });
  } else {
    internal::XapianCall("committing a shard", [&] { it->second.commit(); });
  }
}

void ShardStore::Cancel(const std::string& shard) {
  auto it = impl_->open.find(shard);
  if (it == impl_->open.end() || !impl_->in_transaction.erase(shard)) return;
  internal::XapianCall("cancelling a shard transaction",
                       [&] { it->second.cancel_transaction(); });
}

void ShardStore::CommitAll() {
  // Never ends an open transaction: that is its owner's to commit.
  for (auto& [id, db] : impl_->open) {
    if (impl_->in_transaction.count(id)) continue;
    internal::XapianCall("committing a shard", [&] { db.commit(); });
  }
}

void ShardStore::Drop(const std::string& shard) {
  auto it = impl_->open.find(shard);
  if (it != impl_->open.end()) {
    internal::XapianCall("closing a shard", [&] { it->second.close(); });  // cancels a transaction
    impl_->open.erase(it);
    impl_->in_transaction.erase(shard);
  }
  std::error_code ec;
  fs::remove_all(PathOf(shard), ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot remove an index shard");
}

void ShardStore::Close() {
  // close() cancels an open transaction and commits anything else.
  for (auto& [id, db] : impl_->open) {
    internal::XapianCall("closing a shard", [&] { db.close(); });
  }
  impl_->open.clear();
  impl_->in_transaction.clear();
}

std::string ShardStore::PathOf(const std::string& shard) const {
  return impl_->dir + "/" + shard;
}

}  // namespace dossier::indexer
