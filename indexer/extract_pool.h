// A pool of extraction worker processes, kept warm, the way omindex
// isolates its filters: parsers of untrusted formats (poppler, GMime,
// libarchive, libxml2) run in `dossier-extract`, a separate executable
// started with fork+exec so it holds no key of the parent, under
// setrlimit (data size, CPU time, no core dumps) and a wall-clock limit.
// A crash, hang or out-of-memory ends that job with a recorded failure; the
// worker is replaced and the batch goes on. Bytes reach a worker as a file
// descriptor of the original file (SCM_RIGHTS), never as a temporary copy.
// A worker's replies are as untrusted as its input: a reply past the
// limits (a header over 1 MiB, bytes over max_entry_bytes, text over
// text_cap, more items or bytes in a family than the limits allow) or of
// the wrong form ends the job the same way and kills the worker, before
// the parent allocates anything for it.
//
// Not thread-safe: one thread submits jobs and reads events.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "indexer/extract.h"

namespace dossier::indexer {

struct ExtractPoolOptions {
  std::string worker_path;  // the dossier-extract executable
  int workers = 2;
  ExtractLimits limits;
  int wall_seconds = 300;                   // per file, whole family
  int cpu_seconds = 120;                    // per file
  std::uint64_t memory_bytes = 1536ull << 20;  // RLIMIT_DATA of a worker
  int nice = 0;  // added to the workers' niceness: people's queries first
};

struct ExtractEvent {
  std::uint64_t job = 0;
  bool done = false;      // the job's last event
  ExtractedItem item;     // when !done
  std::string bytes;      // a child's original bytes, when !done
  std::string failure;    // when done: why the job stopped early, or ""
};

class ExtractPool {
 public:
  // Starts the workers. Throws Error(kInternal) if they cannot start.
  explicit ExtractPool(ExtractPoolOptions options);
  ~ExtractPool();
  ExtractPool(const ExtractPool&) = delete;
  ExtractPool& operator=(const ExtractPool&) = delete;

  // True while some worker can take another job: each has its current job
  // and at most one more queued, so it never waits for the next file.
  bool HasIdleWorker() const;
  // True while some worker has no job at all (for jobs that hold much
  // memory while they wait, such as a stored original in a memfd).
  bool HasFreeWorker() const;
  std::size_t running() const;  // jobs submitted and not yet done
  // Sends `fd` (an open, readable file) to the least loaded worker. The
  // pool keeps its own duplicate (to send the job again if the worker dies
  // before reaching it); the caller may close `fd`. `phone_region` (ISO
  // 3166 alpha-2, "": the pool's default) reads phone numbers written
  // without a country code. REQUIRES HasIdleWorker().
  void Submit(std::uint64_t job, int fd, const std::string& name, const std::string& phone_region = "");
  // The next event of any running job, waiting as needed (and enforcing
  // wall-clock limits meanwhile). REQUIRES running() > 0.
  ExtractEvent Next();

  // The default worker path: dossier-extract beside the running executable.
  static std::string DefaultWorkerPath();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The worker's main loop (dossier-extract): reads jobs from fd 3 until it
// closes. Returns the process exit code.
int RunExtractWorker(const ExtractLimits& limits, int cpu_seconds,
                     std::uint64_t memory_bytes);

}  // namespace dossier::indexer
