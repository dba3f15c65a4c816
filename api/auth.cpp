#include "api/auth.h"

#include <algorithm>

#include "crypto/secret.h"

namespace dossier::api {

namespace {
constexpr std::int64_t kHour = 3600;
constexpr std::size_t kMaxThrottleKeys = 50000;  // then windows with no recent failure go
}  // namespace

// ---- SessionStore ------------------------------------------------------------

SessionStore::SessionStore(std::shared_ptr<const Clock> clock, SessionLimits limits)
    : clock_(std::move(clock)), limits_(limits) {}

SessionStore::Shard& SessionStore::ShardOf(const std::string& digest) {
  return shards_[static_cast<unsigned char>(digest[0]) % shards_.size()];
}

std::int64_t SessionStore::ExpiresAt(const Entry& e) const {
  return std::min(e.last_used + limits_.idle_seconds, e.created + limits_.absolute_seconds);
}

SessionStore::Issued SessionStore::Create(repo::Session session,
                                          std::vector<repo::Session>* evicted) {
  Issued out;
  out.token = crypto::RandomToken(32);
  out.csrf_token = crypto::RandomToken(32);
  const std::string user = session.user();
  Entry e{std::move(session), crypto::TokenDigest(out.token), out.csrf_token, clock_->Now(), 0};
  e.last_used = e.created;
  out.expires_at = ExpiresAt(e);
  // Room: one user may not push everybody else out, and the table has a
  // size. The least recently used session (of this user first) goes.
  auto evict_oldest = [&](bool same_user) {
    Shard* oldest_shard = nullptr;
    std::string oldest;
    std::int64_t when = INT64_MAX;
    std::size_t count = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      for (const auto& [d, entry] : s.by_digest) {
        if (same_user && entry.session.user() != user) continue;
        ++count;
        if (entry.last_used < when) {
          when = entry.last_used;
          oldest = d;
          oldest_shard = &s;
        }
      }
    }
    const std::size_t limit = same_user ? limits_.max_per_user : limits_.max_sessions;
    if (count < limit || !oldest_shard) return;
    std::lock_guard lock(oldest_shard->mu);
    auto it = oldest_shard->by_digest.find(oldest);
    if (it == oldest_shard->by_digest.end()) return;
    if (evicted) evicted->push_back(it->second.session);
    oldest_shard->by_digest.erase(it);
  };
  evict_oldest(true);
  if (size() >= limits_.max_sessions) evict_oldest(false);
  Shard& shard = ShardOf(e.digest);
  std::lock_guard lock(shard.mu);
  const std::string digest = e.digest;
  shard.by_digest.emplace(digest, std::move(e));
  return out;
}

std::optional<SessionStore::Found> SessionStore::Find(const std::string& token,
                                                      std::vector<repo::Session>* expired) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  const std::string digest = crypto::TokenDigest(token);
  Shard& shard = ShardOf(digest);
  std::lock_guard lock(shard.mu);
  auto it = shard.by_digest.find(digest);
  if (it == shard.by_digest.end() || !crypto::ConstantTimeEqual(it->second.digest, digest)) {
    return std::nullopt;
  }
  const std::int64_t now = clock_->Now();
  if (now >= ExpiresAt(it->second)) {
    if (expired) expired->push_back(it->second.session);
    shard.by_digest.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return Found{it->second.session, it->second.csrf_token, ExpiresAt(it->second)};
}

std::optional<repo::Session> SessionStore::End(const std::string& token) {
  const std::string digest = crypto::TokenDigest(token);
  Shard& shard = ShardOf(digest);
  std::lock_guard lock(shard.mu);
  auto it = shard.by_digest.find(digest);
  if (it == shard.by_digest.end()) return std::nullopt;
  repo::Session s = it->second.session;
  shard.by_digest.erase(it);
  return s;
}

std::vector<repo::Session> SessionStore::EndUser(const std::string& user) {
  std::vector<repo::Session> out;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    for (auto it = s.by_digest.begin(); it != s.by_digest.end();) {
      if (it->second.session.user() == user) {
        out.push_back(it->second.session);
        it = s.by_digest.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

std::vector<repo::Session> SessionStore::Sweep() {
  std::vector<repo::Session> out;
  const std::int64_t now = clock_->Now();
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    for (auto it = s.by_digest.begin(); it != s.by_digest.end();) {
      if (now >= ExpiresAt(it->second)) {
        out.push_back(it->second.session);
        it = s.by_digest.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

std::size_t SessionStore::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.by_digest.size();
  }
  return n;
}

// ---- LoginThrottle ----------------------------------------------------------------

LoginThrottle::LoginThrottle(std::shared_ptr<const Clock> clock, int per_client, int per_account)
    : clock_(std::move(clock)), per_client_(per_client), per_account_(per_account) {}

std::int64_t LoginThrottle::WaitFor(Window& w, int limit, std::int64_t now) {
  auto& t = w.times;
  t.erase(t.begin(), std::find_if(t.begin(), t.end(), [&](std::int64_t x) { return x > now - kHour; }));
  if (static_cast<int>(t.size()) < limit) return 0;
  // The oldest failure that must age out before one more try.
  return std::max<std::int64_t>(1, t[t.size() - limit] + kHour - now);
}

std::int64_t LoginThrottle::Check(const std::string& user, const std::string& client) {
  const std::int64_t now = clock_->Now();
  std::lock_guard lock(mu_);
  std::int64_t wait = 0;
  if (auto it = by_client_.find({user, client}); it != by_client_.end()) {
    wait = std::max(wait, WaitFor(it->second, per_client_, now));
  }
  if (auto it = by_account_.find(user); it != by_account_.end()) {
    wait = std::max(wait, WaitFor(it->second, per_account_, now));
  }
  return wait;
}

void LoginThrottle::Failed(const std::string& user, const std::string& client) {
  const std::int64_t now = clock_->Now();
  std::lock_guard lock(mu_);
  if (by_client_.size() > kMaxThrottleKeys || by_account_.size() > kMaxThrottleKeys) {
    auto stale = [&](auto& map) {
      for (auto it = map.begin(); it != map.end();) {
        const auto& t = it->second.times;
        it = (t.empty() || t.back() <= now - kHour) ? map.erase(it) : std::next(it);
      }
    };
    stale(by_client_);
    stale(by_account_);
  }
  auto push = [&](Window& w, int limit) {
    w.times.push_back(now);
    // Only the newest `limit` failures decide anything.
    if (static_cast<int>(w.times.size()) > limit) w.times.erase(w.times.begin());
  };
  push(by_client_[{user, client}], per_client_);
  push(by_account_[user], per_account_);
}

void LoginThrottle::Succeeded(const std::string& user, const std::string& client) {
  std::lock_guard lock(mu_);
  by_client_.erase({user, client});
}

}  // namespace dossier::api
