#include "repo/db.h"

#include "base/error.h"

namespace dossier::repo {

namespace {
// Idle reading connections kept for reuse; more may exist while busy.
constexpr std::size_t kMaxIdle = 16;
}  // namespace

Database::Database(std::string path, bool writable) : path_(std::move(path)), writable_(writable) {
  if (writable_) writer_ = std::make_unique<sql::Db>(path_, false);
}
Database::~Database() = default;

Database::Lease::~Lease() {
  if (!db_) return;
  std::lock_guard lock(owner_->pool_mu_);
  if (owner_->pool_.size() < kMaxIdle) owner_->pool_.push_back(std::move(db_));
}

Database::Lease Database::Read() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      auto db = std::move(pool_.back());
      pool_.pop_back();
      return Lease(*this, std::move(db));
    }
  }
  return Lease(*this, std::make_unique<sql::Db>(path_, false));
}

Database::Writer::Writer(Database& owner) : lock_(owner.write_mu_), db_(owner.writer_.get()) {
  if (!db_) throw Error(ErrorCode::kInternal, "the repository was opened read-only");
}

}  // namespace dossier::repo
