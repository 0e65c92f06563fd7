#include "api/metrics.h"

#include <prometheus/text_serializer.h>

#include <iterator>
#include <utility>

namespace ranker::api {
namespace {

// Seconds; from a cached /readyz (~50 us) to a 1000-candidate rank call.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  return kBuckets;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  latency_family_ = &prometheus::BuildHistogram()
                         .Name("ranker_http_request_duration_seconds")
                         .Help("Time to answer an HTTP request, by route, method and status")
                         .Register(*registry_);
  requests_family_ = &prometheus::BuildCounter()
                          .Name("ranker_http_requests_total")
                          .Help("HTTP requests answered, by route, method and status")
                          .Register(*registry_);
  errors_family_ = &prometheus::BuildCounter()
                        .Name("ranker_http_request_errors_total")
                        .Help("Requests refused before routing, by reason")
                        .Register(*registry_);
  open_connections_ = &prometheus::BuildGauge()
                           .Name("ranker_http_open_connections")
                           .Help("Open HTTP connections")
                           .Register(*registry_)
                           .Add({});
  inflight_ = &prometheus::BuildGauge()
                   .Name("ranker_http_inflight_requests")
                   .Help("HTTP requests queued for or running in a handler")
                   .Register(*registry_)
                   .Add({});
  connections_rejected_ = &prometheus::BuildCounter()
                               .Name("ranker_http_connections_rejected_total")
                               .Help("Connections beyond max_connections, answered 503")
                               .Register(*registry_)
                               .Add({});
  requests_shed_ = &prometheus::BuildCounter()
                        .Name("ranker_http_requests_shed_total")
                        .Help("Requests refused beyond max_inflight_requests")
                        .Register(*registry_)
                        .Add({});
}

Metrics::Series& Metrics::SeriesFor(std::string_view route, std::string_view method, int status) {
  std::string key;
  key.append(route).append("\n").append(method).append("\n").append(std::to_string(status));
  MutexLock lock(&mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second;
  const prometheus::Labels labels = {{"route", std::string(route)},
                                     {"method", std::string(method)},
                                     {"status", std::to_string(status)}};
  Series series{&latency_family_->Add(labels, LatencyBuckets()), &requests_family_->Add(labels)};
  return series_.emplace(std::move(key), series).first->second;
}

void Metrics::ObserveRequest(std::string_view route, std::string_view method, int status,
                             double seconds) {
  Series& series = SeriesFor(route, method, status);
  series.latency->Observe(seconds);
  series.count->Increment();
}

void Metrics::RequestError(std::string_view reason) {
  errors_family_->Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  MutexLock lock(&mu_);
  collectables_.push_back(std::move(collectable));
}

std::string Metrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
  {
    MutexLock lock(&mu_);
    collectables = collectables_;
  }
  for (const auto& c : collectables) {
    std::vector<prometheus::MetricFamily> more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace ranker::api
