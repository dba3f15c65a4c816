#include "indexer/shard_store.h"

#include <fcntl.h>
#include <stdio.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "base/fd.h"
#include "indexer/xapian_internal.h"

namespace dossier::indexer {

namespace fs = std::filesystem;

ShardLease::ShardLease(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShardLease::ShardLease(ShardLease&&) noexcept = default;
ShardLease& ShardLease::operator=(ShardLease&&) noexcept = default;
ShardLease::~ShardLease() = default;

namespace {

// Open readers of some shards, owned by one lease at a time.
struct ReaderSet {
  struct Reader {
    Xapian::Database db;
    std::uint64_t generation = 0;   // of the shard when last (re)opened
    std::uint64_t incarnation = 0;  // changes when the shard is replaced whole
  };
  std::map<std::string, Reader> shards;
};

void CheckShardId(const std::string& shard) {
  if (shard.empty() || shard.find('/') != std::string::npos || shard[0] == '.') {
    throw Error(ErrorCode::kInternal, "invalid shard id");
  }
}

class LocalShardStore : public ShardStore {
 public:
  LocalShardStore(std::string dir, bool writable, bool other_writers)
      : dir_(std::move(dir)), writable_(writable), other_writers_(other_writers) {
    if (writable_) {
      std::error_code ec;
      fs::create_directories(dir_, ec);
      if (ec) throw Error(ErrorCode::kIo, "cannot create the index directory");
    }
  }
  ~LocalShardStore() override {
    try {
      Close();
    } catch (...) {
      // Uncommitted changes are discarded; committed ones are already safe.
    }
  }

  void Add(const std::string& shard, PreparedDocument doc) override {
    AddAs(shard, shard, std::move(doc));
  }

  bool Delete(const std::string& shard, const std::string& doc_id) override {
    auto& db = Writable(shard);
    return internal::XapianCall("deleting a document", [&] {
      const std::string term = internal::IdTerm(doc_id);
      if (!db.term_exists(term)) return false;
      db.delete_document(term);
      return true;
    });
  }

  bool Contains(const std::string& shard, const std::string& doc_id) override {
    auto& db = Writable(shard);
    return internal::XapianCall("reading a shard",
                                [&] { return db.term_exists(internal::IdTerm(doc_id)); });
  }

  bool Copy(const std::string& from, const std::string& to, const std::string& doc_id) override {
    auto& src = Writable(from);
    auto& dst = Writable(to);
    return internal::XapianCall("moving a document", [&] {
      const std::string term = internal::IdTerm(doc_id);
      Xapian::PostingIterator p = src.postlist_begin(term);
      if (p == src.postlist_end(term)) return false;
      Xapian::Document doc = src.get_document(*p);
      if (doc.get_value(kShardSlot) != from) {
        // Written before copies were marked: the source copy gets its mark
        // too (committed with the source shard).
        doc.add_value(kShardSlot, from);
        src.replace_document(term, doc);
      }
      doc.add_value(kShardSlot, to);
      dst.replace_document(term, doc);
      return true;
    });
  }

  bool Mark(const std::string& shard, const std::string& doc_id) override {
    auto& db = Writable(shard);
    return internal::XapianCall("marking a document", [&] {
      const std::string term = internal::IdTerm(doc_id);
      Xapian::PostingIterator p = db.postlist_begin(term);
      if (p == db.postlist_end(term)) return false;
      Xapian::Document doc = db.get_document(*p);
      if (doc.get_value(kShardSlot) == shard) return false;
      doc.add_value(kShardSlot, shard);
      db.replace_document(term, doc);
      return true;
    });
  }

  bool SetTags(const std::string& shard, const std::string& doc_id,
               const std::vector<std::string>& tag_terms) override {
    auto& db = Writable(shard);
    return internal::XapianCall("tagging a document", [&] {
      const std::string term = internal::IdTerm(doc_id);
      Xapian::PostingIterator p = db.postlist_begin(term);
      if (p == db.postlist_end(term)) return false;
      Xapian::Document doc = db.get_document(*p);
      std::vector<std::string> old;
      const std::string tag_prefix(FieldPrefix(Field::kTag));
      for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t) {
        // Tag terms are "K" + hash; no other term starts with K.
        if ((*t).compare(0, tag_prefix.size(), tag_prefix) == 0) old.push_back(*t);
      }
      for (const auto& t : old) doc.remove_term(t);
      std::string slot;
      for (const auto& t : tag_terms) {
        doc.add_boolean_term(t);
        slot += t.substr(tag_prefix.size());
      }
      if (slot.empty()) doc.remove_value(kTagSlot);
      else doc.add_value(kTagSlot, slot);
      db.replace_document(term, doc);
      return true;
    });
  }

  std::vector<std::string> DocumentIds(const std::string& shard) override {
    auto& db = Writable(shard);
    return internal::XapianCall("reading a shard", [&] {
      std::vector<std::string> ids;
      for (auto t = db.allterms_begin("Q"); t != db.allterms_end("Q"); ++t) {
        ids.push_back((*t).substr(1));
      }
      return ids;
    });
  }

  void Begin(const std::string& shard) override {
    if (in_transaction_.count(shard)) return;
    auto& db = Writable(shard);
    internal::XapianCall("starting a shard transaction", [&] { db.begin_transaction(true); });
    in_transaction_.insert(shard);
  }

  void Commit(const std::string& shard) override {
    auto it = open_.find(shard);
    if (it == open_.end()) return;
    if (in_transaction_.erase(shard)) {
      internal::XapianCall("committing a shard", [&] { it->second.commit_transaction(); });
    } else {
      internal::XapianCall("committing a shard", [&] { it->second.commit(); });
    }
    Bump(shard, false);
  }

  void Cancel(const std::string& shard) override {
    auto it = open_.find(shard);
    if (it == open_.end() || !in_transaction_.erase(shard)) return;
    internal::XapianCall("cancelling a shard transaction",
                         [&] { it->second.cancel_transaction(); });
  }

  void Create(const std::string& shard) override {
    if (Exists(shard) && open_.count(shard)) return;
    auto& db = Writable(shard);
    if (!in_transaction_.count(shard)) {
      internal::XapianCall("creating a shard", [&] { db.commit(); });
    }
  }

  void Drop(const std::string& shard) override {
    CloseOne(shard);
    std::error_code ec;
    fs::remove_all(PathOf(shard), ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot remove an index shard");
    Bump(shard, true);
  }

  void StartRebuild(const std::string& shard) override {
    const std::string rebuild = RebuildId(shard);
    Drop(rebuild);
    Writable(rebuild);  // exists from now on, even if it stays empty
  }
  void AddToRebuild(const std::string& shard, PreparedDocument doc) override {
    AddAs(RebuildId(shard), shard, std::move(doc));
  }
  void FinishRebuild(const std::string& shard) override {
    const std::string rebuild = RebuildId(shard);
    Commit(rebuild);
    CloseOne(rebuild);
    CloseOne(shard);
    // Swap the rebuilt shard in: a crash in between leaves either the old
    // shard or no shard (which the next reindex rebuilds), never a mix.
    // Swapped in with one atomic exchange, so a reader opening the shard
    // meanwhile finds the old one or the new one, never none; a crash
    // leaves either, never a mix.
    const std::string live = PathOf(shard), built = PathOf(rebuild);
    std::error_code ec;
    if (fs::exists(live, ec)) {
      if (::renameat2(AT_FDCWD, built.c_str(), AT_FDCWD, live.c_str(), RENAME_EXCHANGE) != 0) {
        throw Error(ErrorCode::kIo, "cannot swap in a rebuilt index shard");
      }
    } else if (::rename(built.c_str(), live.c_str()) != 0) {
      throw Error(ErrorCode::kIo, "cannot swap in a rebuilt index shard");
    }
    SyncDir(dir_);
    fs::remove_all(built, ec);  // the old shard, now under the rebuild's name
    Bump(shard, true);
  }

  void Close() override {
    // close() cancels an open transaction and commits anything else.
    for (auto& [id, db] : open_) {
      internal::XapianCall("closing a shard", [&] { db.close(); });
    }
    open_.clear();
    in_transaction_.clear();
  }

  bool Exists(const std::string& shard) const override {
    std::error_code ec;
    return fs::exists(PathOf(shard) + "/iamglass", ec);
  }

  ShardLease Lease(const std::vector<std::string>& shards) override {
    std::shared_ptr<ReaderSet> readers;
    {
      std::lock_guard lock(pool_mu_);
      if (!pool_.empty()) {
        readers = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!readers) readers = std::make_shared<ReaderSet>();
    auto impl = std::make_unique<ShardLease::Impl>();
    Prepare(*readers, shards, *impl, false);
    impl->reopen = [this, readers, shards](ShardLease::Impl& l) {
      Prepare(*readers, shards, l, true);
    };
    impl->release = [this, readers] {
      std::lock_guard lock(pool_mu_);
      pool_.push_back(readers);
    };
    return ShardLease(std::move(impl));
  }

 private:
  struct Generation {
    std::uint64_t commits = 0;
    std::uint64_t incarnation = 0;
  };

  std::string PathOf(const std::string& shard) const {
    CheckShardId(shard);
    return dir_ + "/" + shard;
  }
  static std::string RebuildId(const std::string& shard) { return shard + ".rebuild"; }

  // Adds to `shard` a copy marked as living in `as` (a rebuild's copies
  // are marked with the shard they will become).
  void AddAs(const std::string& shard, const std::string& as, PreparedDocument doc) {
    auto& db = Writable(shard);
    internal::XapianCall("adding a document", [&] {
      doc.impl().doc.add_value(kShardSlot, as);
      db.replace_document(internal::IdTerm(doc.doc_id()), doc.impl().doc);
    });
  }

  Generation GenerationOf(const std::string& shard) const {
    std::lock_guard lock(gen_mu_);
    auto it = generations_.find(shard);
    return it == generations_.end() ? Generation{} : it->second;
  }
  void Bump(const std::string& shard, bool replaced) {
    std::lock_guard lock(gen_mu_);
    Generation& g = generations_[shard];
    ++g.commits;
    if (replaced) ++g.incarnation;
  }

  // Opens or reopens the readers of `ids` as needed, then combines them.
  void Prepare(ReaderSet& readers, const std::vector<std::string>& ids, ShardLease::Impl& lease,
               bool force) {
    internal::XapianCall("opening a shard", [&] {
      Xapian::Database& combined = lease.combined;
      combined = Xapian::Database();
      lease.parts.clear();
      for (const auto& id : ids) {
        const Generation g = GenerationOf(id);
        auto it = readers.shards.find(id);
        if (it != readers.shards.end() && it->second.incarnation != g.incarnation) {
          readers.shards.erase(it);
          it = readers.shards.end();
        }
        if (it == readers.shards.end()) {
          if (!Exists(id)) {
            throw Error(ErrorCode::kCorrupt,
                        "an index shard is missing; run dossier reindex to rebuild it");
          }
          ReaderSet::Reader r{Xapian::Database(PathOf(id), Xapian::DB_BACKEND_GLASS),
                              g.commits, g.incarnation};
          it = readers.shards.emplace(id, std::move(r)).first;
        } else if (force || other_writers_ || it->second.generation != g.commits) {
          // Measured: a reopen that finds nothing new costs a read of the
          // version file; only leases that may see a change pay it.
          it->second.db.reopen();
          it->second.generation = g.commits;
        }
        combined.add_database(it->second.db);
        lease.parts.push_back(it->second.db);
      }
    });
  }

  Xapian::WritableDatabase& Writable(const std::string& shard) {
    auto it = open_.find(shard);
    if (it != open_.end()) return it->second;
    if (!writable_) throw Error(ErrorCode::kInternal, "the repository was opened read-only");
    const std::string path = PathOf(shard);
    auto db = internal::XapianCall("opening a shard", [&] {
      return Xapian::WritableDatabase(path, Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS);
    });
    internal::XapianCall("opening a shard", [&] {
      if (db.get_metadata("dossier.hash_version").empty()) {
        db.set_metadata("dossier.hash_version", std::to_string(crypto::kHashFormatVersion));
      } else if (db.get_metadata("dossier.hash_version") !=
                 std::to_string(crypto::kHashFormatVersion)) {
        throw Error(ErrorCode::kUnsupported,
                    "index shard uses another hash format; run dossier reindex");
      }
    });
    return open_.emplace(shard, std::move(db)).first->second;
  }

  void CloseOne(const std::string& shard) {
    auto it = open_.find(shard);
    if (it == open_.end()) return;
    internal::XapianCall("closing a shard", [&] { it->second.close(); });  // cancels a transaction
    open_.erase(it);
    in_transaction_.erase(shard);
  }

  const std::string dir_;
  const bool writable_, other_writers_;
  // Writing side: under the repository's write lock.
  std::map<std::string, Xapian::WritableDatabase> open_;
  std::set<std::string> in_transaction_;
  // Reading side.
  mutable std::mutex gen_mu_;
  std::map<std::string, Generation> generations_;
  std::mutex pool_mu_;
  std::vector<std::shared_ptr<ReaderSet>> pool_;
};

}  // namespace

std::unique_ptr<ShardStore> OpenLocalShardStore(const std::string& index_dir, bool writable,
                                                bool other_writers) {
  return std::make_unique<LocalShardStore>(index_dir, writable, other_writers);
}

}  // namespace dossier::indexer
