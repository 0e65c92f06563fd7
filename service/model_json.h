// The model report of contract §3 (`GET /v1/model`, `replay --json`) as JSON:
// version, checksum, architecture, counts, progressive metrics per task,
// gate weights per task and expert, the learned position-bias curve, and
// the joiner's and decoder's counters.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "service/pipeline.h"

namespace ranker::app {

// `with_checksum` false leaves "param_checksum" out (a digest of every row:
// the service computes it off the learner thread, on first request).
boost::json::object ModelReportJson(const LearningPipeline& pipeline, bool with_checksum = true);
// The same from a metrics report already taken (the publisher's: Report()
// walks the metrics windows, once per publication is enough).
boost::json::object ModelReportJson(const LearningPipeline& pipeline,
                                    const learner::MetricsReport& report, bool with_checksum);

// One model's share of the report (a challenger's in `replay --json`
// "challengers" and GET /v1/models): architecture, param_checksum when
// asked, counts, progressive metrics, gates and gate health.
boost::json::object TrainerReportJson(const learner::Trainer& trainer, bool with_checksum = true);

// Human-readable progressive metrics, one line per task ("click auc=0.73 ...").
std::string MetricsSummary(const learner::MetricsReport& report, bool window);

}  // namespace ranker::app
