#include "service/service_metrics.h"

#include <vector>

namespace ranker::app {
namespace {

template <typename Builder>
auto& Register(Builder builder, const char* name, const char* help, prometheus::Registry& r) {
  return builder.Name(name).Help(help).Register(r);
}

}  // namespace

ServiceMetrics::ServiceMetrics(api::Metrics* metrics) {
  prometheus::Registry& r = metrics->registry();
  using prometheus::BuildGauge;
  pending_ =
      &Register(BuildGauge(), "ranker_join_pending", "Impressions waiting for their join window", r)
           .Add({});
  feedback_delay_ = &Register(BuildGauge(), "ranker_feedback_delay_ms",
                              "Event time from an engagement to the training step that first used "
                              "it, over the recent engagements, by quantile",
                              r);
  feedback_publish_delay_ =
      &Register(BuildGauge(), "ranker_feedback_publish_delay_ms",
                "Wall time from consuming a click to the first published model version that "
                "learned from it, over the recent clicks, by quantile",
                r);
  progressive_ = &Register(BuildGauge(), "ranker_progressive_metric",
                           "Prequential metrics per task (auc, logloss, rmse, window_*, count)", r);
  gates_ = &Register(BuildGauge(), "ranker_gate_weight",
                     "Mean gate weight per task and expert over the recent window", r);
  gate_entropy_ = &Register(BuildGauge(), "ranker_gate_entropy",
                            "Normalised gate entropy per task over the recent window (0..1): "
                            "kind=mean of the mean weights, kind=example mean per example",
                            r);
  gate_collapsed_ = &Register(BuildGauge(), "ranker_gate_collapsed",
                              "1 when a task's gate entropy (kind=mean) is below "
                              "train.gate_collapse_entropy: routing collapsed onto few experts",
                              r);
  utilisation_ = &Register(BuildGauge(), "ranker_expert_utilisation",
                           "Share of recent examples whose largest gate weight is the expert's", r);
  version_ = &Register(BuildGauge(), "ranker_model_version",
                       "Version of the model served (+1 per publication)", r)
                  .Add({});
  published_at_ = &Register(BuildGauge(), "ranker_model_published_timestamp_seconds",
                            "Wall-clock time the served version was published", r)
                       .Add({});
  age_ = &Register(BuildGauge(), "ranker_model_age_seconds",
                   "Age of the served version when scraped", r)
              .Add({});
  clone_seconds_ = &Register(BuildGauge(), "ranker_model_publish_clone_seconds",
                             "Time the last publication took to copy the model", r)
                        .Add({});
  publish_seconds_ = &Register(BuildGauge(), "ranker_model_publish_seconds",
                               "Time the last publication took on the learner thread", r)
                          .Add({});
  publish_rows_ = &Register(BuildGauge(), "ranker_model_publish_rows",
                            "Embedding rows written or removed since the previous publication "
                            "(what the last publication carried; the rest is shared)",
                            r)
                       .Add({});
  lag_ = &Register(BuildGauge(), "ranker_consumer_lag_messages",
                   "Messages of a partition not yet consumed (high watermark - next offset)", r);
  source_fenced_ = &Register(BuildGauge(), "ranker_consumer_fenced",
                             "1 once another consumer with this group.instance.id fenced this one "
                             "(it consumes no more)",
                             r)
                        .Add({});
  inputs_ = &Register(BuildGauge(), "ranker_model_input_features",
                      "Input features by kind (categorical, dense) and binding (bound: a slot "
                      "of its own; pooled: summed into a hashed slot)",
                      r);
  pooled_ =
      &Register(BuildGauge(), "ranker_model_input_pooled",
                "1 per pooled input feature, by kind, name and the slot it is summed into", r);
  embedding_rows_ =
      &Register(BuildGauge(), "ranker_embedding_rows", "Embedding rows of the served model", r)
           .Add({});
  snapshot_write_ = &Register(BuildGauge(), "ranker_snapshot_write_seconds",
                              "Time the last snapshot took to write (and apply retention)", r)
                         .Add({});
  snapshot_retain_ = &Register(BuildGauge(), "ranker_snapshot_retain_seconds",
                               "Of the last write: the time retention took (dropping old "
                               "snapshots and the row versions only they used)",
                               r)
                          .Add({});
  snapshot_trim_ = &Register(BuildGauge(), "ranker_snapshot_heap_trim_seconds",
                             "Of the last write: handing the heap's free pages back to the "
                             "operating system (malloc_trim) after it",
                             r)
                        .Add({});
  snapshot_capture_ = &Register(BuildGauge(), "ranker_snapshot_capture_seconds",
                                "Time the learner paused to capture the last snapshot", r)
                           .Add({});
  snapshot_bytes_ = &Register(BuildGauge(), "ranker_snapshot_bytes",
                              "Payload bytes of the last snapshot (dense state + changed rows)", r)
                         .Add({});
  snapshot_rows_ = &Register(BuildGauge(), "ranker_snapshot_rows",
                             "Embedding rows the last snapshot wrote or removed", r)
                        .Add({});
  snapshot_id_ =
      &Register(BuildGauge(), "ranker_snapshot_last_id", "Id of the last snapshot written", r)
           .Add({});
  snapshot_time_ = &Register(BuildGauge(), "ranker_snapshot_last_timestamp_seconds",
                             "Creation time of the last snapshot written", r)
                        .Add({});
  versions_freed_ = &Register(BuildGauge(), "ranker_model_versions_freed",
                              "Replaced model versions freed by the reclaimer thread (off the "
                              "request handlers)",
                              r)
                         .Add({});
  version_free_seconds_ = &Register(BuildGauge(), "ranker_model_version_free_seconds",
                                    "Time the reclaimer thread took to free the last version "
                                    "(the trie nodes it alone held)",
                                    r)
                               .Add({});
  versions_free_seconds_ = &Register(BuildGauge(), "ranker_model_versions_free_seconds",
                                     "Time the reclaimer thread spent freeing versions, in all", r)
                                .Add({});
}

void ServiceMetrics::OnReclaimerScrape(const Reclaimer::Stats& stats) {
  versions_freed_->Set(static_cast<double>(stats.freed));
  version_free_seconds_->Set(stats.last_seconds);
  versions_free_seconds_->Set(stats.seconds);
}

void ServiceMetrics::OnSnapshotScrape(const SnapshotStats& stats) {
  snapshot_write_->Set(stats.last_write_ms / 1000.0);
  snapshot_retain_->Set(stats.last_retain_ms / 1000.0);
  snapshot_trim_->Set(stats.last_trim_ms / 1000.0);
  snapshot_capture_->Set(stats.last_capture_ms / 1000.0);
  snapshot_bytes_->Set(static_cast<double>(stats.last_bytes));
  snapshot_rows_->Set(static_cast<double>(stats.last_rows));
  snapshot_id_->Set(static_cast<double>(stats.last.id));
  snapshot_time_->Set(static_cast<double>(stats.last.created_ms) / 1000.0);
}

void ServiceMetrics::OnPublish(const PublishedModel& m) {
  const learner::JoinerStats& j = m.join;
  pending_->Set(static_cast<double>(j.pending));
  feedback_delay_->Add({{"quantile", "0.5"}}).Set(m.feedback_delay.p50_ms);
  feedback_delay_->Add({{"quantile", "0.99"}}).Set(m.feedback_delay.p99_ms);
  feedback_publish_delay_->Add({{"quantile", "0.5"}}).Set(m.feedback_publish_delay.p50_ms);
  feedback_publish_delay_->Add({{"quantile", "0.99"}}).Set(m.feedback_publish_delay.p99_ms);
  for (size_t t = 0; t < m.metrics.tasks.size(); ++t) {
    const learner::TaskMetrics& tm = m.metrics.tasks[t];
    auto set = [&](const char* metric, double v) {
      progressive_->Add({{"task", tm.name}, {"metric", metric}}).Set(v);
    };
    if (tm.listwise) {
      set("auc", tm.auc);
      set("window_auc", tm.window_auc);
      set("list_cross_entropy", tm.list_cross_entropy);
    } else if (tm.kind == learner::TaskKind::kBinary) {
      set("auc", tm.auc);
      set("logloss", tm.logloss);
      set("window_auc", tm.window_auc);
      set("window_logloss", tm.window_logloss);
    } else {
      set("rmse", tm.rmse);
      set("window_rmse", tm.window_rmse);
    }
    set("count", static_cast<double>(tm.count));
    if (t >= m.metrics.gates.size()) continue;
    for (size_t e = 0; e < m.metrics.gates[t].size(); ++e) {
      gates_->Add({{"task", tm.name}, {"expert", std::to_string(e)}}).Set(m.metrics.gates[t][e]);
    }
    if (m.metrics.gates[t].empty() || t >= m.metrics.gate_health.size()) continue;
    OnGateHealth(tm.name, m.metrics.gate_health[t]);
  }
  if (m.model != nullptr) OnInputs(m.model->layout().Inputs());
  if (m.model != nullptr) embedding_rows_->Set(static_cast<double>(m.model->embedding_rows()));
  version_->Set(static_cast<double>(m.version));
  published_at_->Set(static_cast<double>(m.published_at_ms) / 1000.0);
  clone_seconds_->Set(m.clone_ms / 1000.0);
  publish_seconds_->Set(m.publish_ms / 1000.0);
  publish_rows_->Set(static_cast<double>(m.publish_rows));
  MutexLock lock(&mu_);
  published_at_ms_ = m.published_at_ms;
}

void ServiceMetrics::OnInputs(const learner::InputBindings& b) {
  const auto count = [&](const char* kind, const char* binding, size_t n) {
    inputs_->Add({{"kind", kind}, {"binding", binding}}).Set(static_cast<double>(n));
  };
  count("categorical", "bound", b.categorical_bound.size());
  count("categorical", "pooled", b.categorical_pooled.size());
  count("dense", "bound", b.dense_bound.size());
  count("dense", "pooled", b.dense_pooled.size());
  const auto pooled = [&](const char* kind, const auto& features) {
    for (const auto& f : features) {
      pooled_->Add({{"kind", kind}, {"name", f.name}, {"slot", std::to_string(f.slot)}}).Set(1);
    }
  };
  pooled("categorical", b.categorical_pooled);
  pooled("dense", b.dense_pooled);
}

void ServiceMetrics::OnGateHealth(const std::string& task, const learner::GateHealth& h) {
  gate_entropy_->Add({{"task", task}, {"kind", "mean"}}).Set(h.entropy);
  gate_entropy_->Add({{"task", task}, {"kind", "example"}}).Set(h.example_entropy);
  gate_collapsed_->Add({{"task", task}}).Set(h.collapsed ? 1 : 0);
  for (size_t e = 0; e < h.top_share.size(); ++e) {
    utilisation_->Add({{"task", task}, {"expert", std::to_string(e)}}).Set(h.top_share[e]);
  }
}

void ServiceMetrics::OnScrape(const ingest::SourceCounters* source, int64_t now_ms) {
  MutexLock lock(&mu_);
  if (published_at_ms_ > 0) age_->Set(static_cast<double>(now_ms - published_at_ms_) / 1000.0);
  if (source == nullptr) return;
  source_fenced_->Set(source->fenced ? 1.0 : 0.0);
  for (auto it = lag_series_.begin(); it != lag_series_.end();) {
    if (source->partitions.count(it->first) == 0) {
      lag_->Remove(it->second);
      it = lag_series_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [tp, state] : source->partitions) {
    if (state.lag < 0) continue;  // no high watermark yet: unknown, not exported
    prometheus::Gauge*& g = lag_series_[tp];
    if (g == nullptr) {
      g = &lag_->Add({{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}});
    }
    g->Set(static_cast<double>(state.lag));
  }
}

}  // namespace ranker::app
