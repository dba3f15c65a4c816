// The server's side of logging in: who holds which token, how many logins
// may derive keys at once, and how often an account may be guessed at.
//
// Tokens are 32 random bytes (URL-safe base64) handed to the client once;
// the server keeps only their BLAKE2b digest, so a memory dump of the
// session table gives no usable token, and the stored digest is compared
// in constant time. Each session holds the user's repo::Session, whose
// unsealed role keys live in sodium_malloc memory. Sessions end after 30
// minutes idle or 12 hours after login, at logout, and when the user's
// password changes. Everything reads the Clock passed in.
// Thread-safety: every class here may be used from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "repo/repository.h"

namespace dossier::api {

struct SessionLimits {
  std::int64_t idle_seconds = 30 * 60;
  std::int64_t absolute_seconds = 12 * 3600;
  std::size_t max_sessions = 10000;  // then the least recently used one goes
  std::size_t max_per_user = 32;     // then that user's least recently used one goes
};

class SessionStore {
 public:
  SessionStore(std::shared_ptr<const Clock> clock, SessionLimits limits);

  struct Issued {
    std::string token;       // given to the client, never kept
    std::string csrf_token;  // sent back in X-CSRF-Token by browsers
    std::int64_t expires_at = 0;
  };
  // Sessions it pushed out to make room go to `evicted`, to be logged out.
  Issued Create(repo::Session session, std::vector<repo::Session>* evicted);

  struct Found {
    repo::Session session;
    std::string csrf_token;
    std::int64_t expires_at;
  };
  // The live session of `token` (its idle timer restarts), or nullopt.
  // An expired one is removed and returned through `expired` to be logged
  // out by the caller (outside this store's locks).
  std::optional<Found> Find(const std::string& token, std::vector<repo::Session>* expired);
  // Ends one session; returns it for Logout, if it existed.
  std::optional<repo::Session> End(const std::string& token);
  // Ends every session of `user`.
  std::vector<repo::Session> EndUser(const std::string& user);
  // Removes expired sessions; returns them for Logout.
  std::vector<repo::Session> Sweep();
  std::size_t size() const;

 private:
  struct Entry {
    repo::Session session;
    std::string digest;
    std::string csrf_token;
    std::int64_t created = 0, last_used = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    std::map<std::string, Entry> by_digest;  // guarded by mu
  };
  Shard& ShardOf(const std::string& digest);
  std::int64_t ExpiresAt(const Entry& e) const;

  std::shared_ptr<const Clock> clock_;
  SessionLimits limits_;
  std::array<Shard, 16> shards_;
};

// Logins derive keys with Argon2id (256 MiB and about a second each), so
// at most `slots` run at once and at most `queue` more wait for them; a
// login past that is refused at once (the server answers 503 with
// Retry-After) instead of piling up memory or waiting long.
class LoginGate {
 public:
  LoginGate(int slots, int queue) : slots_(slots), capacity_(slots + queue) {}
  class Ticket {
   public:
    explicit Ticket(LoginGate* gate) : gate_(gate) {}
    Ticket(Ticket&& o) noexcept : gate_(std::exchange(o.gate_, nullptr)) {}
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (gate_) gate_->admitted_.fetch_sub(1);
    }

   private:
    LoginGate* gate_;
  };
  std::optional<Ticket> Admit() {
    int n = admitted_.load();
    while (n < capacity_) {
      if (admitted_.compare_exchange_weak(n, n + 1)) return Ticket(this);
    }
    return std::nullopt;
  }
  int slots() const { return slots_; }
  int admitted() const { return admitted_.load(); }

 private:
  const int slots_, capacity_;
  std::atomic<int> admitted_{0};
};

// Failed logins counted in a sliding hour: at most `per_client` for one
// account from one client address, and `per_account` for one account
// from all addresses together. Past either, Check says how many seconds
// to wait. Nothing locks an account for ever: the counts age out, so
// nobody can shut another person out beyond the hour they spend failing.
class LoginThrottle {
 public:
  LoginThrottle(std::shared_ptr<const Clock> clock, int per_client = 100, int per_account = 1000);
  // 0 if a login may be tried now; else seconds until it may.
  std::int64_t Check(const std::string& user, const std::string& client);
  void Failed(const std::string& user, const std::string& client);
  // Forgets the failures of this account from this client (a success).
  void Succeeded(const std::string& user, const std::string& client);

 private:
  struct Window {
    std::vector<std::int64_t> times;  // failures within the hour, oldest first
  };
  std::int64_t WaitFor(Window& w, int limit, std::int64_t now);

  std::shared_ptr<const Clock> clock_;
  const int per_client_, per_account_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Window> by_client_;  // guarded by mu_
  std::map<std::string, Window> by_account_;                         // guarded by mu_
};

}  // namespace dossier::api
