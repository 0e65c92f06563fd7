// The service's Prometheus families, registered on the api::Metrics registry
// next to the HTTP server's own:
//   ranker_events_consumed_total                       counter
//   ranker_events_rejected_total{reason}                counter (log + HTTP)
//   ranker_join_events_total{outcome}                   counter (joiner stats)
//   ranker_join_pending                                 gauge
//   ranker_feedback_delay_ms{quantile}                  gauge (0.5, 0.99)
//   ranker_examples_trained_total                       counter
//   ranker_progressive_metric{task,metric}              gauge (auc, logloss,
//     rmse, their window_ forms, count)
//   ranker_gate_weight{task,expert}                     gauge
//   ranker_model_version                                gauge
//   ranker_model_published_timestamp_seconds            gauge
//   ranker_model_age_seconds                            gauge (at scrape)
//   ranker_model_publish_clone_seconds                  gauge (last copy)
//   ranker_model_publish_seconds                        gauge (last publication, learner thread)
//   ranker_model_publish_rows                           gauge (rows it carried)
//   ranker_consumer_lag_messages{topic,partition}       gauge (at scrape)
//   ranker_consumer_errors_total                        counter
//   ranker_consumer_offset_resets_total                 counter (events lost to retention)
//   ranker_consumer_offsets_lost_total                  counter (the offsets those skipped)
//   ranker_consumer_fenced                              gauge (1: static member fenced)
//   ranker_offset_commits_total{result}                 counter
//   ranker_model_input_features{kind,binding}           gauge (bound / pooled)
//   ranker_model_input_pooled{kind,name,slot}           gauge (1 per pooled name)
//   ranker_model_input_features{kind,binding}           gauge (bound / pooled)
//   ranker_model_input_pooled{kind,name,slot}           gauge (1 per pooled name)
//   ranker_embedding_rows                               gauge
//   ranker_embedding_evicted_rows_total                 counter (expiry)
//   ranker_snapshots_total{result}                      counter (ok, failed)
//   ranker_snapshot_corrupt_skipped_total               counter
//   ranker_snapshot_isa_mismatch_total                  counter (restores from
//     a build for other instruction sets)
//   ranker_snapshot_write_seconds                       gauge (last write)
//   ranker_snapshot_retain_seconds                      gauge (of it: retention)
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
#include <mutex>
#include <string>

#include "api/metrics.h"
#include "ingest/event_source.h"
#include "ingest/reject.h"
#include "service/model_publisher.h"
#include "service/snapshotter.h"

namespace ranker::app {

class ServiceMetrics {
 public:
  // `metrics` is borrowed and must outlive this object.
  explicit ServiceMetrics(api::Metrics* metrics);

  void OnPublish(const PublishedModel& model, const ingest::RejectCounters& log_rejects,
                 const ingest::RejectCounters& http_rejects);
  // Lag per assigned partition (partitions no longer assigned are dropped),
  // source errors, commits, and the model's age at `now_ms`.
  void OnScrape(const ingest::SourceCounters* source, uint64_t commits, uint64_t commit_failures,
                int64_t now_ms);
  // Rejected events by reason (the log's and POST /v1/events'); also run at
  // scrape time, so rejects that trigger no publication still show.
  void OnRejects(const ingest::RejectCounters& log_rejects,
                 const ingest::RejectCounters& http_rejects);
  // Snapshot families (only registered values move; all zero without snapshots).
  void OnSnapshotScrape(const SnapshotStats& stats);

 private:
  // Bound and pooled input features of the published model.
  void OnInputs(const learner::InputBindings& b);
  static void SetCounter(prometheus::Counter* counter, double value);
  void OnGateHealth(const std::string& task, const learner::GateHealth& health);

  prometheus::Family<prometheus::Counter>* rejected_;
  prometheus::Family<prometheus::Counter>* join_;
  prometheus::Family<prometheus::Gauge>* progressive_;
  prometheus::Family<prometheus::Gauge>* gates_;
  prometheus::Family<prometheus::Gauge>* gate_entropy_;
  prometheus::Family<prometheus::Gauge>* gate_collapsed_;
  prometheus::Family<prometheus::Gauge>* utilisation_;
  prometheus::Family<prometheus::Gauge>* lag_;
  prometheus::Family<prometheus::Counter>* commits_;
  prometheus::Counter* consumed_;
  prometheus::Counter* trained_;
  prometheus::Counter* source_errors_;
  prometheus::Counter* source_offset_resets_;
  prometheus::Counter* source_offsets_lost_;
  prometheus::Gauge* source_fenced_;
  prometheus::Gauge* pending_;
  prometheus::Family<prometheus::Gauge>* feedback_delay_;  // {quantile}
  prometheus::Gauge* version_;
  prometheus::Gauge* published_at_;
  prometheus::Gauge* age_;
  prometheus::Gauge* clone_seconds_;
  prometheus::Family<prometheus::Gauge>* inputs_;
  prometheus::Family<prometheus::Gauge>* pooled_;
  prometheus::Gauge* publish_seconds_;
  prometheus::Gauge* publish_rows_;
  prometheus::Gauge* embedding_rows_;
  prometheus::Counter* embedding_evicted_;
  prometheus::Family<prometheus::Counter>* snapshots_;
  prometheus::Counter* snapshot_corrupt_;
  prometheus::Counter* snapshot_isa_;
  prometheus::Gauge* snapshot_write_;
  prometheus::Gauge* snapshot_retain_;
  prometheus::Gauge* snapshot_capture_;
  prometheus::Gauge* snapshot_bytes_;
  prometheus::Gauge* snapshot_rows_;
  prometheus::Gauge* snapshot_id_;
  prometheus::Gauge* snapshot_time_;

  std::mutex mu_;
  std::map<ingest::TopicPartition, prometheus::Gauge*> lag_series_;  // GUARDED_BY(mu_)
  int64_t published_at_ms_ = 0;                                      // GUARDED_BY(mu_)
};

}  // namespace ranker::app
