// Time, injectable: every deadline, expiry and timestamp in Dossier reads
// a Clock passed in (as LevelDB's Env passes time), so tests set the time
// instead of sleeping.
// Thread-safety: every Clock may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace dossier {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since 1970-01-01T00:00:00Z.
  virtual std::int64_t Now() const = 0;
};

// The system's real-time clock.
std::shared_ptr<const Clock> SystemClock();

// A clock that moves only when told to (tests).
class ManualClock : public Clock {
 public:
  explicit ManualClock(std::int64_t now) : now_(now) {}
  std::int64_t Now() const override { return now_.load(); }
  void Set(std::int64_t now) { now_.store(now); }
  void Advance(std::int64_t seconds) { now_.fetch_add(seconds); }

 private:
  std::atomic<std::int64_t> now_;
};

// "2026-12-01T10:00:00Z" for a time in seconds since the epoch.
std::string Rfc3339(std::int64_t seconds);
// The inverse, for exactly that form; false for anything else.
bool ParseRfc3339(std::string_view text, std::int64_t* seconds);

}  // namespace dossier
