// ingest (and its failure report): starts an ingest job and follows it,
// printing each document as it is acknowledged; Ctrl-C cancels the job
// (what was acknowledged stays; the same command resumes).
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>

#include "repo/views.h"
#include "tools/cli.h"

namespace dossier::tools {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

std::string Csv(const std::string& v) {
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

int PrintFailures(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  auto list = r->ListFailures(s, o.case_id);
  if (o.format != "csv") {
    std::cout << repo::views::Failures(list) << "\n";
    return 0;
  }
  std::cout << "document_id,case_id,parent_id,path,filename,mime,status,error\n";
  for (const auto& d : list) {
    std::cout << d.id << "," << d.case_id << "," << d.parent_id << "," << Csv(d.path) << ","
              << Csv(d.filename) << "," << Csv(d.mime) << "," << repo::StatusName(d.status) << ","
              << Csv(d.error) << "\n";
  }
  return 0;
}

// One line on a terminal: files, MB, rate, ETA, items, errors.
class ProgressBar {
 public:
  void Show(const repo::IngestProgress& p, bool final) {
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? p.bytes_done / secs : 0;
    const double eta = rate > 0 ? (p.bytes_total - p.bytes_done) / rate : 0;
    const int width = 24;
    const int fill = p.bytes_total ? static_cast<int>(width * p.bytes_done / p.bytes_total) : width;
    std::fprintf(stderr,
                 "\r[%s%s] %llu/%llu files  %.1f/%.1f MB  %.1f MB/s  ETA %d:%02d  %llu items  %llu errors ",
                 std::string(fill, '=').c_str(), std::string(width - fill, ' ').c_str(),
                 static_cast<unsigned long long>(p.files_done),
                 static_cast<unsigned long long>(p.files_total), p.bytes_done / 1e6,
                 p.bytes_total / 1e6, rate / 1e6, static_cast<int>(eta) / 60,
                 static_cast<int>(eta) % 60, static_cast<unsigned long long>(p.items),
                 static_cast<unsigned long long>(p.errors));
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_;
};

void PrintDocument(const repo::IngestedDocument& d) {
  std::cout << (d.id.empty() ? "-" : d.id) << "  " << repo::StatusName(d.status) << "  " << d.path;
  if (!d.error.empty()) std::cout << "  (" << d.error << ")";
  std::cout << "\n";
}

}  // namespace

int RunIngest(const Options& o) {
  if (o.failures) return PrintFailures(o);
  if (o.case_id.empty() || (o.paths.empty() && !o.retry)) {
    throw Error(ErrorCode::kInvalidArgument,
                "ingest needs --case and at least one PATH (or --retry-failed)");
  }
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  repo::IngestRequest req;
  req.case_id = o.case_id;
  req.paths = o.paths;
  req.custodian = o.custodian;
  req.restrict_to = SplitList(o.restrict_to);
  req.language = o.language;
  req.retry_failed = o.retry;
  const bool tty = ::isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  const std::string job = r->StartIngest(s, req);
  // Ctrl-C asks the job to stop; a second one ends the process at once
  // (the next open finishes what it left, as after a crash).
  g_interrupted = 0;
  std::signal(SIGINT, [](int) {
    if (g_interrupted) std::_Exit(130);
    g_interrupted = 1;
  });
  ProgressBar bar;
  std::size_t seen = 0;
  bool cancelled = false;
  repo::JobInfo info;
  for (;;) {
    if (g_interrupted && !cancelled) {
      r->CancelJob(s, job);
      cancelled = true;
    }
    std::vector<repo::IngestedDocument> more;
    info = r->WaitJob(s, job, seen, std::chrono::milliseconds(200), &more);
    seen += more.size();
    if (!o.json && !tty) {
      for (const auto& d : more) PrintDocument(d);
    }
    if (tty) bar.Show(info.progress, false);
    if (info.state != repo::JobState::kQueued && info.state != repo::JobState::kRunning) break;
  }
  std::signal(SIGINT, SIG_DFL);
  if (tty) {
    bar.Show(info.progress, true);
    std::cerr << "\n";
  }
  if (info.state == repo::JobState::kFailed) throw Error(info.error_code, info.error);
  const repo::IngestSummary summary = r->JobSummary(s, job);
  if (info.state == repo::JobState::kCancelled) {
    std::cerr << "dossier: cancelled; the " << summary.documents.size()
              << " documents acknowledged stay. The same command resumes.\n";
    return 130;
  }
  if (o.json) {
    std::cout << repo::views::IngestSummaryBody(summary) << "\n";
    return 0;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::map<std::string, int> by_status;
  std::size_t documents = 0;
  for (const auto& d : summary.documents) {
    if (d.status == repo::DocStatus::kSkipped) continue;  // not documents: listed below
    ++by_status[std::string(repo::StatusName(d.status))];
    ++documents;
  }
  std::cout << documents << (documents == 1 ? " document (" : " documents (") << std::fixed
            << std::setprecision(1) << summary.bytes / 1e6 << " MB) in " << secs << " s:";
  for (const auto& [st, count] : by_status) std::cout << " " << count << " " << st;
  std::cout << "\n";
  const std::size_t skipped = summary.documents.size() - documents;
  if (by_status["error"] + by_status["unsupported"] > 0) {
    std::cout << "See the failures: dossier ingest " << o.dir << " --failures --case " << o.case_id
              << "\n";
  }
  if (skipped > 0) {
    std::cout << skipped << (skipped == 1 ? " file" : " files")
              << " skipped (listed above with the reason); nothing was stored for "
              << (skipped == 1 ? "it" : "them") << ".\n";
  }
  return 0;
}

}  // namespace dossier::tools
