// The service's Prometheus gauges, registered on the api::Metrics registry
// next to the HTTP server's own (the service's counters are read at scrape
// time instead: service/service_counters.h):
//   ranker_join_pending                                 gauge
//   ranker_feedback_delay_ms{quantile}                  gauge (0.5, 0.99)
//   ranker_feedback_publish_delay_ms{quantile}          gauge (0.5, 0.99)
//   ranker_progressive_metric{task,metric}              gauge (auc, logloss,
//     rmse, their window_ forms, count)
//   ranker_gate_weight{task,expert}                     gauge
//   ranker_model_version                                gauge
//   ranker_model_published_timestamp_seconds            gauge
//   ranker_model_age_seconds                            gauge (at scrape)
//   ranker_model_publish_clone_seconds                  gauge (last copy)
//   ranker_model_publish_seconds                        gauge (last publication, learner thread)
//   ranker_model_publish_rows                           gauge (rows it carried)
//   ranker_model_versions_freed                         gauge (by the reclaimer thread)
//   ranker_model_version_free_seconds                   gauge (the last one's time)
//   ranker_model_versions_free_seconds                  gauge (all of them: the thread's time)
//   ranker_consumer_lag_messages{topic,partition}       gauge (at scrape)
//   ranker_consumer_fenced                              gauge (1: static member fenced)
//   ranker_model_input_features{kind,binding}           gauge (bound / pooled)
//   ranker_model_input_pooled{kind,name,slot}           gauge (1 per pooled name)
//   ranker_embedding_rows                               gauge
//   ranker_snapshot_write_seconds                       gauge (last write)
//   ranker_snapshot_retain_seconds                      gauge (of it: retention)
//   ranker_snapshot_heap_trim_seconds                   gauge (of it: malloc_trim)
//   ranker_snapshot_capture_seconds                     gauge (last learner pause)
//   ranker_snapshot_bytes                               gauge (last payload)
//   ranker_snapshot_rows                                gauge (last delta rows)
//   ranker_snapshot_last_id, ranker_snapshot_last_timestamp_seconds  gauges
// Model families are updated at publication time (OnPublish, learner
// thread); lag and age when scraped (OnScrape, HTTP threads).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "api/metrics.h"
#include "base/mutex.h"
#include "ingest/event_source.h"
#include "service/model_publisher.h"
#include "service/snapshotter.h"

namespace ranker::app {

class ServiceMetrics {
 public:
  // `metrics` is borrowed and must outlive this object.
  explicit ServiceMetrics(api::Metrics* metrics);

  void OnPublish(const PublishedModel& model);
  // Lag per assigned partition (partitions no longer assigned are dropped),
  // whether the consumer was fenced, and the model's age at `now_ms`.
  void OnScrape(const ingest::SourceCounters* source, int64_t now_ms);
  // Snapshot gauges (all zero without snapshots).
  void OnSnapshotScrape(const SnapshotStats& stats);
  // Replaced model versions freed off the readers' threads (base/reclaimer.h).
  void OnReclaimerScrape(const Reclaimer::Stats& stats);

 private:
  // Bound and pooled input features of the published model.
  void OnInputs(const learner::InputBindings& b);
  void OnGateHealth(const std::string& task, const learner::GateHealth& health);

  prometheus::Family<prometheus::Gauge>* progressive_;
  prometheus::Family<prometheus::Gauge>* gates_;
  prometheus::Family<prometheus::Gauge>* gate_entropy_;
  prometheus::Family<prometheus::Gauge>* gate_collapsed_;
  prometheus::Family<prometheus::Gauge>* utilisation_;
  prometheus::Family<prometheus::Gauge>* lag_;
  prometheus::Gauge* source_fenced_;
  prometheus::Gauge* pending_;
  prometheus::Family<prometheus::Gauge>* feedback_delay_;          // {quantile}
  prometheus::Family<prometheus::Gauge>* feedback_publish_delay_;  // {quantile}
  prometheus::Gauge* version_;
  prometheus::Gauge* published_at_;
  prometheus::Gauge* age_;
  prometheus::Gauge* clone_seconds_;
  prometheus::Family<prometheus::Gauge>* inputs_;
  prometheus::Family<prometheus::Gauge>* pooled_;
  prometheus::Gauge* publish_seconds_;
  prometheus::Gauge* publish_rows_;
  prometheus::Gauge* embedding_rows_;
  prometheus::Gauge* snapshot_write_;
  prometheus::Gauge* snapshot_retain_;
  prometheus::Gauge* snapshot_trim_;
  prometheus::Gauge* snapshot_capture_;
  prometheus::Gauge* snapshot_bytes_;
  prometheus::Gauge* snapshot_rows_;
  prometheus::Gauge* snapshot_id_;
  prometheus::Gauge* snapshot_time_;
  prometheus::Gauge* versions_freed_;
  prometheus::Gauge* version_free_seconds_;
  prometheus::Gauge* versions_free_seconds_;

  Mutex mu_;
  std::map<ingest::TopicPartition, prometheus::Gauge*> lag_series_ RANKER_GUARDED_BY(mu_);
  int64_t published_at_ms_ RANKER_GUARDED_BY(mu_) = 0;
};

}  // namespace ranker::app
