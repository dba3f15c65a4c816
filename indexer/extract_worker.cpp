// The dossier-extract worker loop: jobs in on fd 3, frames out.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/fd.h"
#include "indexer/extract_pool.h"
#include "indexer/extract_protocol.h"

namespace dossier::indexer {

int RunExtractWorker(const ExtractLimits& limits, int cpu_seconds, std::uint64_t memory_bytes) {
  // A worker holds plaintext: no core dumps, not ptrace-readable.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // RLIMIT_DATA, not RLIMIT_AS: sanitizer builds reserve terabytes of
  // address space and die under RLIMIT_AS (measured; DESIGN.md).
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  const rlimit data{memory_bytes, memory_bytes};
  ::setrlimit(RLIMIT_DATA, &data);
#else
  // The sanitizers map their allocators and shadow memory as data too
  // (measured: ASan's "Failed to mmap", TSan's "internal allocator is out
  // of memory" under a 1.5 GiB RLIMIT_DATA), so sanitizer builds are
  // bounded by ASan's hard_rss_limit_mb (set by ExtractPool), or not at all.
  (void)memory_bytes;
#endif
  ::signal(SIGPIPE, SIG_IGN);
  // Ctrl-C at a terminal reaches the whole process group: the parent
  // decides what stops (and PR_SET_PDEATHSIG ends a worker whose parent
  // died), so a worker does not die mid-file and report a false crash.
  ::signal(SIGINT, SIG_IGN);
  // Keep freed memory for the next file instead of handing it back to the
  // kernel after every one (measured: two brk calls per mail otherwise).
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  ::mallopt(M_TOP_PAD, 4 << 20);
  FrameWriter out(kWorkerFd);
  for (;;) {
    std::uint64_t len = 0;
    char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&len, 8};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t got = ::recvmsg(kWorkerFd, &msg, MSG_CMSG_CLOEXEC);
    if (got == 0) return 0;  // the parent closed: done
    if (got != 8 || len > (1u << 20)) return 2;
    int received = -1;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
        std::memcpy(&received, CMSG_DATA(cm), sizeof(int));
      }
    }
    const Fd file(received);
    const int fd = file.get();
    std::string header(len, '\0');
    std::size_t have = 0;
    while (have < len) {
      const ssize_t r = ::read(kWorkerFd, header.data() + have, len - have);
      if (r <= 0) return 2;
      have += static_cast<std::size_t>(r);
    }
    const json job = json::parse(header, nullptr, false);
    const std::string name = job.is_object() ? job.value("name", "") : "";
    // A region other than the pool's, for this file alone (its case's).
    std::string region = job.is_object() ? job.value("phone_region", "") : "";
    if (!IsPhoneRegion(region)) region = limits.phone_region;
    // The CPU budget counts from now, whatever earlier jobs used.
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const rlim_t used = static_cast<rlim_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1;
    const rlimit cpu{used + static_cast<rlim_t>(cpu_seconds), used + static_cast<rlim_t>(cpu_seconds) + 5};
    ::setrlimit(RLIMIT_CPU, &cpu);

    std::string failure;
    struct stat st{};
    void* map = nullptr;
    std::size_t size = 0;
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      failure = "the file could not be read";
    } else if (st.st_size > 0) {
      size = static_cast<std::size_t>(st.st_size);
      map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map == MAP_FAILED) { map = nullptr; failure = "the file could not be mapped"; }
    }
    if (failure.empty()) {
      try {
      if (limits.test_faults) {
        if (name == "__dossier_fault_crash__") ::raise(SIGSEGV);
        if (name == "__dossier_fault_hang__") for (;;) ::pause();
        if (name == "__dossier_fault_close__") {  // hangs up, then sleeps on
          ::close(kWorkerFd);
          for (;;) ::pause();
        }
        if (name == "__dossier_fault_spin__") for (;;) asm volatile("");
        if (name == "__dossier_fault_lie__") {  // claims a 3 GiB text, sends a little
          const std::uint32_t kind = kItemFrame;
          const std::string h = ItemHeader(ExtractedItem{});
          const std::uint64_t hl = h.size(), none = 0, huge = 3ull << 30;
          (void)(WriteFull(kWorkerFd, &kind, 4) && WriteFull(kWorkerFd, &hl, 8) &&
                 WriteFull(kWorkerFd, h.data(), h.size()) && WriteFull(kWorkerFd, &none, 8) &&
                 WriteFull(kWorkerFd, &huge, 8) && WriteFull(kWorkerFd, "xxxx", 4));
          for (;;) ::pause();
        }
        if (name == "__dossier_fault_garbage__") {  // a header of the wrong form
          if (!out.Add(kItemFrame, R"({"index":"zero","parent":[],"fields":7})", {}, {}) ||
              !out.Flush()) {
            return 3;
          }
          for (;;) ::pause();
        }
        if (name == "__dossier_fault_oom__") {
          std::vector<std::string> hog;
          for (;;) hog.emplace_back(64u << 20, 'x');  // until RLIMIT_DATA stops it
        }
      }
        EntityOptions entity_options;
        entity_options.default_region = region;
        ExtractAll(std::string_view(static_cast<const char*>(map), map ? size : 0), name, limits,
                   [&](const ExtractedItem& item, std::string_view bytes) {
                     // Entities are found here, where the plaintext already
                     // is and no key is: libphonenumber and the validators
                     // parse hostile text inside the sandbox.
                     std::vector<Entity> entities;
                     if (limits.find_entities) entities = FindItemEntities(item.text, item.fields, entity_options);
                     if (!out.Add(kItemFrame, ItemHeader(item, &entities), bytes, item.text)) {
                       ::_exit(3);  // the parent is gone
                     }
                   });
      } catch (const std::bad_alloc&) {
        failure = "the extractor ran out of memory";
      } catch (const std::exception&) {
        failure = "the extractor failed";
      }
    }
    if (map) ::munmap(map, size);
    if (!out.Add(kDoneFrame, json{{"failure", failure}}.dump(), {}, {}) || !out.Flush()) return 3;
  }
}

}  // namespace dossier::indexer
