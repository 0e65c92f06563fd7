#include "service/service_counters.h"

namespace ranker::app {
namespace {

class Families {
 public:
  // A family of one unlabelled counter.
  void Add(const char* name, const char* help, uint64_t value) {
    Family(name, help).metric.push_back(Sample({}, value));
  }
  // A family with one counter per (label value, total).
  void Add(const char* name, const char* help, const char* label,
           const std::vector<std::pair<std::string, uint64_t>>& values) {
    prometheus::MetricFamily& f = Family(name, help);
    for (const auto& [value, total] : values) f.metric.push_back(Sample({{label, value}}, total));
  }

  std::vector<prometheus::MetricFamily> Take() { return std::move(families_); }

 private:
  prometheus::MetricFamily& Family(const char* name, const char* help) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = prometheus::MetricType::Counter;
    families_.push_back(std::move(f));
    return families_.back();
  }

  static prometheus::ClientMetric Sample(std::vector<prometheus::ClientMetric::Label> labels,
                                         uint64_t value) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = static_cast<double>(value);
    return m;
  }

  std::vector<prometheus::MetricFamily> families_;
};

}  // namespace

std::vector<prometheus::MetricFamily> ServiceCounters::Collect() const {
  const CounterTotals t = read_();
  Families f;
  f.Add("ranker_events_consumed_total", "Events taken by the learner (accepted and rejected)",
        t.events_consumed);
  f.Add("ranker_examples_trained_total", "Examples whose training step was applied",
        t.examples_trained);
  f.Add("ranker_events_rejected_total",
        "Events rejected, by reason (from the log and POST /v1/events)", "reason", t.rejected);
  f.Add("ranker_join_events_total",
        "Joiner outcomes (impressions, clicks, joined_clicks, late_engagements...)", "outcome",
        t.join);
  f.Add("ranker_embedding_evicted_rows_total",
        "Embedding rows removed by expiry (model.embedding_ttl_ms)", t.embedding_evicted);
  f.Add("ranker_snapshots_total", "Snapshots written to the store, by result", "result",
        {{"ok", t.snapshots_ok}, {"failed", t.snapshots_failed}});
  f.Add("ranker_snapshot_corrupt_skipped_total", "Corrupt snapshots passed over when loading",
        t.snapshot_corrupt_skipped);
  f.Add("ranker_snapshot_isa_mismatch_total",
        "Snapshots restored from a build for other instruction sets (they do not continue "
        "bit-identically)",
        t.snapshot_isa_mismatch);
  f.Add("ranker_consumer_errors_total",
        "Broker and client errors seen by the consumer (never fatal)", t.consumer_errors);
  f.Add("ranker_consumer_offset_resets_total",
        "Fetch positions reset because retention had deleted them (events lost)",
        t.consumer_offset_resets);
  f.Add("ranker_consumer_offsets_lost_total",
        "Messages skipped by those resets (the offset gap): events never learned",
        t.consumer_offsets_lost);
  f.Add("ranker_offset_commits_total", "Offset commits to the consumer group, by result", "result",
        {{"ok", t.commits_ok}, {"failed", t.commits_failed}});
  return f.Take();
}

}  // namespace ranker::app
