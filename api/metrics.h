// The service's Prometheus registry and the HTTP server's own metrics.
// Other modules (the app: events consumed/rejected by reason, consumer lag,
// progressive metrics...) register their families on registry(); Render()
// serialises everything in the text exposition format for GET /metrics.
//
// HTTP families (names are part of the operational contract):
//   ranker_http_request_duration_seconds{route,method,status}  histogram
//   ranker_http_requests_total{route,method,status}            counter
//   ranker_http_open_connections                                gauge
//   ranker_http_inflight_requests                               gauge
//     (queued for or running in a handler)
//   ranker_http_connections_rejected_total                      counter
//     (accepted beyond max_connections, answered 503 and closed)
//   ranker_http_requests_shed_total                             counter
//     (refused beyond max_inflight_requests)
//   ranker_http_request_errors_total{reason}                    counter
//     (requests the server refused before routing: "body_limit",
//      "header_limit", "bad_request", "timeout")
// `route` is the router's pattern ("/v1/snapshots/{id}/restore"), never the
// raw path, so label cardinality stays bounded.
//
// Thread-safety: all methods are thread-safe. Lifetime: must outlive the
// HttpServer that records into it.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"

namespace ranker::api {

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // For other modules' families. Lives as long as this object.
  prometheus::Registry& registry() { return *registry_; }

  // One answered request: its route label, method, status and the time the
  // router and handler took.
  void ObserveRequest(std::string_view route, std::string_view method, int status, double seconds);
  void ConnectionOpened() { open_connections_->Increment(); }
  void ConnectionClosed() { open_connections_->Decrement(); }
  void ConnectionRejected() { connections_rejected_->Increment(); }
  void RequestStarted() { inflight_->Increment(); }
  void RequestFinished() { inflight_->Decrement(); }
  void RequestShed() { requests_shed_->Increment(); }
  // `reason`: one of the fixed strings listed in the header comment.
  void RequestError(std::string_view reason);

  // A collectable read at every Render(), after the registry: families
  // whose values are read when scraped rather than pushed (the service's
  // counters). Held until this object dies.
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  // The whole registry, then the collectables, in the Prometheus text format
  // (version 0.0.4).
  std::string Render() const;

 private:
  struct Series {
    prometheus::Histogram* latency;
    prometheus::Counter* count;
  };
  Series& SeriesFor(std::string_view route, std::string_view method, int status);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>* latency_family_;
  prometheus::Family<prometheus::Counter>* requests_family_;
  prometheus::Family<prometheus::Counter>* errors_family_;
  prometheus::Gauge* open_connections_;
  prometheus::Gauge* inflight_;
  prometheus::Counter* connections_rejected_;
  prometheus::Counter* requests_shed_;

  mutable Mutex mu_;
  // Key: route '\n' method '\n' status. Values point into the families.
  std::unordered_map<std::string, Series> series_ RANKER_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ RANKER_GUARDED_BY(mu_);
};

// The Content-Type of Render()'s output.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ranker::api
