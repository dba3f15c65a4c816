// Private to repo/: long work as jobs. A job runs on a thread of its own,
// reports its phase, progress and acknowledged documents as it goes, can
// be asked to stop, and stays readable after it ends (for the retention
// the options give) to the user who started it and to admins; to anyone
// else it does not exist. Jobs of one lane run one at a time, in order:
// ingests in one lane, grants and revokes in another.
// Thread-safety: any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// What a running job sees of itself.
class JobControl {
 public:
  bool cancelled() const { return cancel_.load(); }
  void SetPhase(JobPhase phase);
  void SetProgress(const IngestProgress& progress);
  // A document acknowledged (or an item skipped): it joins the summary.
  void Acknowledge(const IngestedDocument& doc);
  void AddBytes(std::uint64_t bytes);

 private:
  friend class JobService;
  std::string id_;
  JobKind kind_ = JobKind::kIngest;
  std::string case_id_;
  std::int64_t starter_id_ = 0;  // 0: the recovery key
  std::string starter_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  JobState state_ = JobState::kQueued;
  JobPhase phase_ = JobPhase::kWaiting;
  IngestProgress progress_;
  IngestSummary summary_;
  std::string error_;
  ErrorCode error_code_ = ErrorCode::kInternal;
  std::int64_t created_ = 0, finished_ = 0;
  std::uint64_t finish_order_ = 0;  // ties of finished_ (a second holds many jobs) go by it
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

class JobService {
 public:
  explicit JobService(RepoContext& ctx) : ctx_(ctx) {}
  // Asks every running job to stop and waits for them.
  ~JobService();

  using Body = std::function<void(JobControl&)>;
  std::string Start(const Actor& starter, JobKind kind, const std::string& case_id, Body body);
  JobInfo Get(const Actor& actor, const std::string& id);
  JobInfo Wait(const Actor& actor, const std::string& id, std::size_t seen,
               std::chrono::milliseconds timeout, std::vector<IngestedDocument>* more);
  IngestSummary Summary(const Actor& actor, const std::string& id);
  void Cancel(const Actor& actor, const std::string& id);
  // Cancels every running job a user started (the user was disabled).
  void CancelStartedBy(std::int64_t user_id);
  // Jobs queued or running now.
  std::size_t Active();
  // For blocking callers: throws the error a failed job ended with.
  void ThrowIfFailed(const Actor& actor, const std::string& id);

 private:
  std::shared_ptr<JobControl> Find(const Actor& actor, const std::string& id);
  static JobInfo InfoOf(const JobControl& job);  // REQUIRES job.mu_ held
  void Prune();  // REQUIRES mu_ held
  RepoContext& ctx_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<JobControl>> jobs_;
  std::atomic<std::uint64_t> finishes_{0};
  std::mutex lanes_[2];
};

}  // namespace dossier::repo
