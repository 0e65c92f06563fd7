#include "service/challenger_metrics.h"

#include <string>

namespace ranker::app {
namespace {

prometheus::Family<prometheus::Gauge>* Gauges(prometheus::Registry* r, const char* name,
                                              const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(*r);
}

}  // namespace

ChallengerMetrics::ChallengerMetrics(prometheus::Registry* r)
    : progressive_(Gauges(r, "ranker_challenger_progressive_metric",
                          "Progressive (prequential) metrics per challenger model and task")),
      trained_(Gauges(r, "ranker_challenger_examples_trained",
                      "Examples a challenger's latest version has trained on")),
      version_(Gauges(r, "ranker_challenger_model_version",
                      "The champion publication a challenger's latest version matches")),
      gate_entropy_(Gauges(r, "ranker_challenger_gate_entropy",
                           "Normalised entropy (0..1) of a challenger's mean gate per task")),
      collapsed_(Gauges(r, "ranker_challenger_gate_collapsed",
                        "1 when a challenger's gate collapsed onto one expert")),
      lag_(&Gauges(r, "ranker_challenger_lag_examples",
                   "Examples the learner offered the challengers and they have not trained")
                ->Add({})),
      backpressure_(&Gauges(r, "ranker_challenger_backpressure_waits",
                            "Hand-offs where the learner waited for the challenger thread")
                         ->Add({})) {}

void ChallengerMetrics::Scrape(const ChallengerSet& set) {
  lag_->Set(static_cast<double>(set.lag()));
  backpressure_->Set(static_cast<double>(set.backpressure_waits()));
  for (size_t i = 0; i < set.size(); ++i) {
    const std::shared_ptr<const PublishedModel> m = set.Latest(i);
    if (m == nullptr) continue;
    const std::string& model = set.name(i);
    trained_->Add({{"model", model}}).Set(static_cast<double>(m->examples_trained));
    version_->Add({{"model", model}}).Set(static_cast<double>(m->version));
    const learner::MetricsReport& r = m->metrics;
    for (size_t t = 0; t < r.tasks.size(); ++t) {
      const learner::TaskMetrics& tm = r.tasks[t];
      auto set_metric = [&](const char* metric, double v) {
        progressive_->Add({{"model", model}, {"task", tm.name}, {"metric", metric}}).Set(v);
      };
      if (tm.kind == learner::TaskKind::kBinary) {
        set_metric("auc", tm.auc);
        set_metric(tm.listwise ? "list_cross_entropy" : "logloss",
                   tm.listwise ? tm.list_cross_entropy : tm.logloss);
      } else {
        set_metric("rmse", tm.rmse);
      }
      set_metric("count", static_cast<double>(tm.count));
      if (t < r.gate_health.size() && t < r.gates.size() && !r.gates[t].empty()) {
        gate_entropy_->Add({{"model", model}, {"task", tm.name}}).Set(r.gate_health[t].entropy);
        collapsed_->Add({{"model", model}, {"task", tm.name}})
            .Set(r.gate_health[t].collapsed ? 1 : 0);
      }
    }
  }
}

}  // namespace ranker::app
