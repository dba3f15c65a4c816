#include "repo/jobs.h"

#include <algorithm>
#include <tuple>

#include "repo/cases.h"

namespace dossier::repo {

void JobControl::SetPhase(JobPhase phase) {
  {
    std::lock_guard lock(mu_);
    phase_ = phase;
  }
  changed_.notify_all();
}

void JobControl::SetProgress(const IngestProgress& progress) {
  {
    std::lock_guard lock(mu_);
    progress_ = progress;
  }
  changed_.notify_all();
}

void JobControl::Acknowledge(const IngestedDocument& doc) {
  {
    std::lock_guard lock(mu_);
    summary_.documents.push_back(doc);
  }
  changed_.notify_all();
}

void JobControl::AddBytes(std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  summary_.bytes += bytes;
}

JobService::~JobService() {
  std::vector<std::shared_ptr<JobControl>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, job] : jobs_) all.push_back(job);
  }
  for (auto& job : all) job->cancel_ = true;
  for (auto& job : all) {
    if (job->thread_.joinable()) job->thread_.join();
  }
}

std::string JobService::Start(const Actor& starter, JobKind kind, const std::string& case_id,
                              Body body) {
  auto job = std::make_shared<JobControl>();
  job->id_ = "j" + crypto::RandomId(15);
  job->kind_ = kind;
  job->case_id_ = case_id;
  job->starter_id_ = starter.recovery() ? 0 : starter.user_id();
  job->starter_ = starter.name();
  job->created_ = ctx_.Now();
  std::mutex& lane = lanes_[kind == JobKind::kIngest ? 0 : 1];
  // The thread holds the job (not the service's map), so a job pruned
  // from the map while running still finishes.
  job->thread_ = std::thread([this, job, &lane, body = std::move(body)]() mutable {
    std::unique_lock lane_lock(lane);
    {
      std::lock_guard lock(job->mu_);
      job->state_ = JobState::kRunning;
      job->phase_ = JobPhase::kPreparing;
    }
    job->changed_.notify_all();
    JobState end = JobState::kDone;
    std::string error;
    ErrorCode code = ErrorCode::kInternal;
    if (job->cancelled()) {
      end = JobState::kCancelled;
    } else {
      try {
        Guarded([&] { body(*job); });
        if (job->cancelled()) end = JobState::kCancelled;
      } catch (const Error& e) {
        end = JobState::kFailed;
        error = e.what();
        code = e.code();
      }
    }
    // What the job held (its plan, its keys) goes before it is seen to end.
    body = nullptr;
    {
      std::lock_guard lock(job->mu_);
      job->state_ = end;
      job->phase_ = JobPhase::kFinished;
      job->error_ = error;
      job->error_code_ = code;
      job->finished_ = ctx_.Now();
      job->finish_order_ = ++finishes_;
    }
    job->changed_.notify_all();
  });
  {
    // Listed once its thread exists, so pruning never sees a job whose
    // thread is still being assigned.
    std::lock_guard lock(mu_);
    Prune();
    jobs_.emplace(job->id_, job);
  }
  return job->id_;
}

std::size_t JobService::Active() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& [id, job] : jobs_) {
    std::lock_guard l(job->mu_);
    n += job->state_ == JobState::kQueued || job->state_ == JobState::kRunning;
  }
  return n;
}

void JobService::Prune() {
  const std::int64_t now = ctx_.Now();
  std::vector<std::tuple<std::int64_t, std::uint64_t, std::string>> finished;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    JobControl& j = *it->second;
    std::unique_lock lock(j.mu_);
    const bool ended = j.state_ != JobState::kQueued && j.state_ != JobState::kRunning;
    const bool expired = ended && now - j.finished_ >= ctx_.options.job_retention_seconds;
    lock.unlock();
    if (expired) {
      if (j.thread_.joinable()) j.thread_.join();
      it = jobs_.erase(it);
      continue;
    }
    if (ended) finished.emplace_back(j.finished_, j.finish_order_, it->first);
    ++it;
  }
  // Beyond the count, the oldest go first (in the order they finished: by
  // id, a job that had just finished could go before its caller saw it).
  std::sort(finished.begin(), finished.end());
  for (std::size_t i = 0; i + ctx_.options.job_retention_count < finished.size(); ++i) {
    auto it = jobs_.find(std::get<2>(finished[i]));
    if (it->second->thread_.joinable()) it->second->thread_.join();
    jobs_.erase(it);
  }
}

std::shared_ptr<JobControl> JobService::Find(const Actor& actor, const std::string& id) {
  std::shared_ptr<JobControl> job;
  bool starter = false;
  {
    std::lock_guard lock(mu_);
    Prune();
    auto it = jobs_.find(id);
    if (it == jobs_.end()) throw Error(ErrorCode::kNotFound, "no such job");
    job = it->second;
    starter = actor.recovery() ? job->starter_id_ == 0 : job->starter_id_ == actor.user_id();
  }
  if (!starter) {
    // An admin sees another's job only if they can see its case: its
    // summary names the case's documents.
    if (!actor.admin()) throw Error(ErrorCode::kNotFound, "no such job");
    auto db = ctx_.db->Read();
    try {
      RequireCaseVisible(*db, actor, job->case_id_);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) throw Error(ErrorCode::kNotFound, "no such job");
      throw;
    }
  }
  return job;
}

JobInfo JobService::InfoOf(const JobControl& j) {
  JobInfo info;
  info.id = j.id_;
  info.kind = j.kind_;
  info.state = j.state_;
  info.phase = j.phase_;
  info.progress = j.progress_;
  info.started_by = j.starter_;
  info.case_id = j.case_id_;
  info.created_at = Rfc3339(j.created_);
  if (j.finished_ != 0) info.finished_at = Rfc3339(j.finished_);
  info.error = j.error_;
  info.error_code = j.error_code_;
  info.documents = j.summary_.documents.size();
  return info;
}

JobInfo JobService::Get(const Actor& actor, const std::string& id) {
  auto job = Find(actor, id);
  std::lock_guard lock(job->mu_);
  return InfoOf(*job);
}

JobInfo JobService::Wait(const Actor& actor, const std::string& id, std::size_t seen,
                         std::chrono::milliseconds timeout, std::vector<IngestedDocument>* more) {
  auto job = Find(actor, id);
  std::unique_lock lock(job->mu_);
  job->changed_.wait_for(lock, timeout, [&] {
    return job->summary_.documents.size() > seen ||
           (job->state_ != JobState::kQueued && job->state_ != JobState::kRunning);
  });
  if (more) {
    const auto& docs = job->summary_.documents;
    for (std::size_t i = seen; i < docs.size(); ++i) more->push_back(docs[i]);
  }
  return InfoOf(*job);
}

IngestSummary JobService::Summary(const Actor& actor, const std::string& id) {
  auto job = Find(actor, id);
  std::lock_guard lock(job->mu_);
  return job->summary_;
}

void JobService::Cancel(const Actor& actor, const std::string& id) {
  auto job = Find(actor, id);
  job->cancel_ = true;
  job->changed_.notify_all();
  ctx_.events.Read(EventKind::kJobCancelled, actor.name(), id);
}

void JobService::CancelStartedBy(std::int64_t user_id) {
  std::lock_guard lock(mu_);
  for (auto& [id, job] : jobs_) {
    if (job->starter_id_ == user_id) {
      job->cancel_ = true;
      job->changed_.notify_all();
    }
  }
}

void JobService::ThrowIfFailed(const Actor& actor, const std::string& id) {
  auto job = Find(actor, id);
  std::lock_guard lock(job->mu_);
  if (job->state_ == JobState::kFailed) throw Error(job->error_code_, job->error_);
}

}  // namespace dossier::repo
