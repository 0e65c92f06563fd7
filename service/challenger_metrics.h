// /metrics series of the challengers, each with a `model` label (the
// champion's own series stay as they are): progressive metrics, examples
// trained, gate entropy and collapse, the challenger thread's lag and its
// backpressure on the learner. Refreshed at each scrape from the
// challengers' latest published versions.
//
// Thread-safety: Scrape() from any thread (prometheus-cpp's gauges are).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "service/challengers.h"

namespace ranker::app {

class ChallengerMetrics {
 public:
  // Registers the families on `registry` (borrowed for the object's life).
  explicit ChallengerMetrics(prometheus::Registry* registry);
  void Scrape(const ChallengerSet& set);

 private:
  prometheus::Family<prometheus::Gauge>* progressive_;   // {model, task, metric}
  prometheus::Family<prometheus::Gauge>* trained_;       // {model}
  prometheus::Family<prometheus::Gauge>* version_;       // {model}
  prometheus::Family<prometheus::Gauge>* gate_entropy_;  // {model, task}
  prometheus::Family<prometheus::Gauge>* collapsed_;     // {model, task}
  prometheus::Gauge* lag_;
  prometheus::Gauge* backpressure_;
};

}  // namespace ranker::app
