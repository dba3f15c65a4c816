// Private to repo/: threads that turn extracted text into blind index
// entries and sealed text chunks, so term generation (the costliest step of
// ingest after PDF parsing) uses every core. Each thread owns its
// DocumentBuilder; tasks share nothing but the immutable BlindKeys.
// Background work: each thread runs `nice` steps nicer than the threads
// serving people's queries (Linux keeps a niceness per thread).
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "indexer/document_builder.h"

namespace dossier::repo {

template <typename Result>
class BuildPool {
 public:
  using Task = std::function<Result(indexer::DocumentBuilder&)>;

  BuildPool(int threads, const indexer::BlindKeys& keys, std::size_t cap, int nice = 0) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, &keys, cap, nice] {
        if (nice > 0) {
          const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
          (void)::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + nice);
        }
        indexer::DocumentBuilder builder(keys, cap);
        for (;;) {
          std::shared_ptr<std::packaged_task<Result(indexer::DocumentBuilder&)>> task;
          {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;
            task = std::move(queue_.front());
            queue_.pop_front();
          }
          (*task)(builder);
        }
      });
    }
  }
  ~BuildPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  BuildPool(const BuildPool&) = delete;
  BuildPool& operator=(const BuildPool&) = delete;

  // Queues a task; its result (or exception) arrives through the future.
  std::future<Result> Submit(Task task) {
    auto p = std::make_shared<std::packaged_task<Result(indexer::DocumentBuilder&)>>(std::move(task));
    std::future<Result> f = p->get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(p));
    }
    cv_.notify_one();
    return f;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<std::packaged_task<Result(indexer::DocumentBuilder&)>>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dossier::repo
