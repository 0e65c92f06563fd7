// The service's counters, exported by pull: a prometheus::Collectable that
// reads the current totals when /metrics is scraped. The families:
//   ranker_events_consumed_total                 events the model has taken
//   ranker_examples_trained_total                examples it has trained on
//   ranker_events_rejected_total{reason}         (log + POST /v1/events)
//   ranker_join_events_total{outcome}            joiner outcomes
//   ranker_embedding_evicted_rows_total          rows removed by expiry
//   ranker_snapshots_total{result}               snapshots written (ok, failed)
//   ranker_snapshot_corrupt_skipped_total
//   ranker_snapshot_isa_mismatch_total
//   ranker_consumer_errors_total                 (0 without a broker)
//   ranker_consumer_offset_resets_total
//   ranker_consumer_offsets_lost_total
//   ranker_offset_commits_total{result}
//
// Why pull: the model's counts live in the model's state, which a rollback
// or a restore moves back. Copied into prometheus::Counter objects, which can
// only grow, they stood still after a rollback until the model caught up
// with its old count. Read at scrape time, a total that went down is what
// Prometheus calls a counter reset, which rate() and increase() handle.
//
// Thread-safety: Collect() calls the reader on the scraping thread; the
// reader must be safe to call from any thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ranker::app {

struct CounterTotals {
  uint64_t events_consumed = 0;
  uint64_t examples_trained = 0;
  std::vector<std::pair<std::string, uint64_t>> rejected;  // by reason
  std::vector<std::pair<std::string, uint64_t>> join;      // by outcome
  uint64_t embedding_evicted = 0;
  uint64_t snapshots_ok = 0;
  uint64_t snapshots_failed = 0;
  uint64_t snapshot_corrupt_skipped = 0;
  uint64_t snapshot_isa_mismatch = 0;
  uint64_t consumer_errors = 0;
  uint64_t consumer_offset_resets = 0;
  uint64_t consumer_offsets_lost = 0;
  uint64_t commits_ok = 0;
  uint64_t commits_failed = 0;
};

class ServiceCounters final : public prometheus::Collectable {
 public:
  explicit ServiceCounters(std::function<CounterTotals()> read) : read_(std::move(read)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::function<CounterTotals()> read_;
};

}  // namespace ranker::app
