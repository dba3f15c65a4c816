#include "api/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <unordered_map>

namespace dossier::api {

struct Metrics::Impl {
  std::function<Gauges()> read_gauges;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("dossier_http_requests_total")
          .Help("HTTP requests answered, by method, route template and status")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("dossier_http_request_duration_seconds")
          .Help("Time from a request's header to its answer, by route template")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& gauges =
      prometheus::BuildGauge().Name("dossier_state").Help("Server state read at scrape time").Register(*registry);
  prometheus::Gauge& open_connections =
      prometheus::BuildGauge()
          .Name("dossier_http_open_connections")
          .Help("Client connections open now")
          .Register(*registry)
          .Add({});
  prometheus::Counter& refused =
      prometheus::BuildCounter()
          .Name("dossier_http_connections_refused_total")
          .Help("Connections closed at once because the server had too many open")
          .Register(*registry)
          .Add({});
  // The series of each (method, route, status) once made: Family::Add
  // builds a label map and hashes it on every call.
  std::mutex series_mu;
  std::unordered_map<std::string, std::pair<prometheus::Counter*, prometheus::Histogram*>> series;
  // Latency buckets from half a millisecond to ten seconds.
  const prometheus::Histogram::BucketBoundaries buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                                        5,      10};
};

Metrics::Metrics(std::function<Gauges()> read_gauges) : impl_(std::make_unique<Impl>()) {
  impl_->read_gauges = std::move(read_gauges);
}
Metrics::~Metrics() = default;

void Metrics::Request(const std::string& method, const std::string& route, int status,
                      double seconds) {
  std::string key = method;
  key += ' ';
  key += route;
  key += ' ';
  key += std::to_string(status);
  std::pair<prometheus::Counter*, prometheus::Histogram*> s;
  {
    std::lock_guard lock(impl_->series_mu);
    auto it = impl_->series.find(key);
    if (it == impl_->series.end()) {
      s = {&impl_->requests.Add({{"method", method}, {"route", route}, {"status", std::to_string(status)}}),
           &impl_->latency.Add({{"route", route}}, impl_->buckets)};
      impl_->series.emplace(std::move(key), s);
    } else {
      s = it->second;
    }
  }
  s.first->Increment();
  s.second->Observe(seconds);
}

void Metrics::ConnectionOpened() { impl_->open_connections.Increment(); }
void Metrics::ConnectionClosed() { impl_->open_connections.Decrement(); }
void Metrics::ConnectionRefused() { impl_->refused.Increment(); }

std::string Metrics::Render() {
  if (impl_->read_gauges) {
    const Gauges g = impl_->read_gauges();
    impl_->gauges.Add({{"what", "sessions"}}).Set(g.sessions);
    impl_->gauges.Add({{"what", "documents"}}).Set(g.documents);
    impl_->gauges.Add({{"what", "running_jobs"}}).Set(g.running_jobs);
    impl_->gauges.Add({{"what", "extraction_errors"}}).Set(g.extraction_errors);
    impl_->gauges.Add({{"what", "logins_running"}}).Set(g.logins_running);
    impl_->gauges.Add({{"what", "audit_queued"}}).Set(g.audit_queued);
    impl_->gauges.Add({{"what", "audit_dropped"}}).Set(g.audit_dropped);
  }
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace dossier::api
