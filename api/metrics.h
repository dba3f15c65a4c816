// The server's Prometheus metrics (prometheus-cpp's registry and text
// format): requests by route template and status, latency histograms by
// route, open connections, and gauges read at scrape time (sessions,
// documents, running jobs, extraction errors).
// Thread-safety: any thread (prometheus-cpp's metrics are atomic).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace dossier::api {

struct Gauges {
  double sessions = 0, documents = 0, running_jobs = 0, extraction_errors = 0, logins_running = 0;
  double audit_queued = 0, audit_dropped = 0;
};

class Metrics {
 public:
  // `read_gauges` is called at every scrape.
  explicit Metrics(std::function<Gauges()> read_gauges);
  ~Metrics();
  void Request(const std::string& method, const std::string& route, int status, double seconds);
  void ConnectionOpened();
  void ConnectionClosed();
  void ConnectionRefused();
  // The text exposition format, version 0.0.4.
  std::string Render();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dossier::api
