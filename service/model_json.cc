#include "service/model_json.h"

#include <boost/json/value_from.hpp>
#include <cmath>
#include <cstdio>

namespace ranker::app {
namespace {

const char* ArchitectureName(learner::Architecture a) {
  switch (a) {
    case learner::Architecture::kMmoe:
      return "mmoe";
    case learner::Architecture::kSharedBottom:
      return "shared_bottom";
    case learner::Architecture::kOmoe:
      return "omoe";
    case learner::Architecture::kIndependent:
      return "independent";
    case learner::Architecture::kPle:
      return "ple";
  }
  return "?";
}

// Undefined metrics (no examples yet, one class only) are NaN: JSON null.
boost::json::value Number(double v) {
  if (std::isfinite(v)) return v;
  return nullptr;
}

boost::json::object TaskJson(const learner::TaskMetrics& m) {
  boost::json::object o;
  if (m.listwise) {
    // Softmax within lists: the list cross-entropy replaces logloss.
    o["auc"] = Number(m.auc);
    o["window_auc"] = Number(m.window_auc);
    o["list_cross_entropy"] = Number(m.list_cross_entropy);
    o["lists"] = m.lists;
    o["positives"] = m.positives;
  } else if (m.kind == learner::TaskKind::kBinary) {
    o["auc"] = Number(m.auc);
    o["logloss"] = Number(m.logloss);
    o["window_auc"] = Number(m.window_auc);
    o["window_logloss"] = Number(m.window_logloss);
    o["positives"] = m.positives;
    o["mean_prediction"] = Number(m.mean_prediction);  // calibration: / (positives / count)
  } else {
    o["rmse"] = Number(m.rmse);
    o["window_rmse"] = Number(m.window_rmse);
  }
  o["count"] = m.count;
  o["window_count"] = m.window_count;
  return o;
}

// Per task with a gate: GateHealth (learner/metrics.h).
boost::json::object GateHealthJson(const learner::MetricsReport& report) {
  boost::json::object out;
  for (size_t t = 0; t < report.tasks.size() && t < report.gate_health.size(); ++t) {
    if (report.gates[t].empty()) continue;
    const learner::GateHealth& h = report.gate_health[t];
    out[report.tasks[t].name] = {{"entropy", Number(h.entropy)},
                                 {"example_entropy", Number(h.example_entropy)},
                                 {"utilisation", boost::json::value_from(h.top_share)},
                                 {"collapsed", h.collapsed}};
  }
  return out;
}

boost::json::object PositionBiasJson(const learner::PositionBiasReport& bias) {
  boost::json::object o;
  o["positions"] = boost::json::value_from(bias.positions);
  o["click_logit_offset"] = boost::json::value_from(bias.click_logit_offset);
  boost::json::object by_device;
  for (size_t d = 0; d < bias.devices.size(); ++d) {
    by_device[bias.devices[d].empty() ? "(none)" : bias.devices[d]] =
        boost::json::value_from(bias.per_device[d]);
  }
  o["by_device"] = std::move(by_device);
  return o;
}

boost::json::object JoinJson(const learner::JoinerStats& s) {
  return {{"impressions", s.impressions},
          {"clicks", s.clicks},
          {"watches", s.watches},
          {"joined_clicks", s.joined_clicks},
          {"joined_watches", s.joined_watches},
          {"examples_emitted", s.examples_emitted},
          {"passthrough", s.passthrough},
          {"duplicate_impressions", s.duplicate_impressions},
          {"late_engagements", s.late_engagements},
          {"orphan_engagements", s.orphan_engagements},
          {"evicted", s.evicted},
          {"pending", s.pending},
          {"watermarks", s.watermarks},
          {"corrections", s.corrections}};
}

boost::json::array FeaturesJson(const std::vector<learner::InputBindings::Feature>& features) {
  boost::json::array out;
  for (const auto& f : features)
    out.push_back(boost::json::object{{"name", f.name}, {"slot", f.slot}});
  return out;
}

// Which features have a slot of their own and which are summed into a
// hashed one (learner/input_layout.h; README "Sizing the input slots").
boost::json::object InputsJson(const learner::InputBindings& b) {
  boost::json::object categorical{{"bound", FeaturesJson(b.categorical_bound)},
                                  {"pooled", FeaturesJson(b.categorical_pooled)}};
  boost::json::object dense{{"bound", FeaturesJson(b.dense_bound)},
                            {"pooled", FeaturesJson(b.dense_pooled)}};
  return {{"categorical_slots", b.categorical_slots},
          {"dense_slots", b.dense_slots},
          {"categorical", std::move(categorical)},
          {"dense", std::move(dense)}};
}

// progressive{task: metrics}, gates{task: mean weights}, gate_health.
void AddMetricsJson(const learner::MetricsReport& report, boost::json::object* out) {
  boost::json::object progressive, gates;
  for (size_t t = 0; t < report.tasks.size(); ++t) {
    progressive[report.tasks[t].name] = TaskJson(report.tasks[t]);
    if (t < report.gates.size() && !report.gates[t].empty()) {
      gates[report.tasks[t].name] = boost::json::value_from(report.gates[t]);
    }
  }
  (*out)["progressive"] = std::move(progressive);
  (*out)["gates"] = std::move(gates);
  (*out)["gate_health"] = GateHealthJson(report);
}

}  // namespace

boost::json::object ModelReportJson(const LearningPipeline& pipeline, bool with_checksum) {
  return ModelReportJson(pipeline, pipeline.trainer().metrics().Report(), with_checksum);
}

boost::json::object ModelReportJson(const LearningPipeline& pipeline,
                                    const learner::MetricsReport& report, bool with_checksum) {
  const learner::Trainer& trainer = pipeline.trainer();
  const learner::Model& model = trainer.model();
  boost::json::object out;
  out["model_version"] = model.steps();
  if (with_checksum) out["param_checksum"] = model.ParamChecksumHex();
  out["architecture"] = ArchitectureName(model.options().architecture);
  out["events_consumed"] = pipeline.events_consumed();
  out["events_rejected"] = pipeline.rejects().Total();
  out["examples_trained"] = trainer.stats().examples_trained;
  out["examples_buffered"] = trainer.buffered();  // joined, waiting for a full batch
  out["steps"] = trainer.stats().steps;
  out["skipped_steps"] = trainer.stats().skipped_steps;
  out["embedding_rows"] = model.embedding_rows();
  // Admission and expiry (model.embedding_admit_after, model.embedding_ttl_ms).
  const learner::EmbeddingTable& table = model.embeddings();
  out["embedding"] = {{"evicted_rows", table.evicted_rows()},
                      {"admitted_rows", table.admitted_rows()},
                      {"rejected_sightings", table.rejected_sightings()}};
  out["parameters"] = model.num_parameters();
  AddMetricsJson(report, &out);
  out["gate_collapse_entropy"] = report.gate_collapse_entropy;
  out["position_bias"] = PositionBiasJson(model.PositionBias());
  out["inputs"] = InputsJson(model.layout().Inputs());
  boost::json::object join = JoinJson(pipeline.joiner().stats());
  join["mode"] =
      pipeline.joiner().options().mode == learner::JoinMode::kImmediate ? "immediate" : "window";
  join["event_time_ms"] = pipeline.joiner().watermark_ms();
  out["join"] = std::move(join);
  // Event time from each engagement to the training step that first used it.
  const learner::FeedbackDelay::Summary delay = trainer.feedback_delay().Summarize();
  out["feedback_delay_ms"] = {{"p50", delay.p50_ms}, {"p99", delay.p99_ms}, {"count", delay.count}};
  // serve: wall time from consuming a click to the first version published with it.
  const learner::FeedbackDelay::Summary wall = pipeline.publish_delay().Summarize();
  out["feedback_publish_delay_ms"] = {
      {"p50", wall.p50_ms}, {"p99", wall.p99_ms}, {"count", wall.count}};
  boost::json::object rejected;
  pipeline.rejects().ForEach([&](ingest::RejectReason, std::string_view name, uint64_t n) {
    if (n > 0) rejected[name] = n;
  });
  out["rejected"] = std::move(rejected);
  return out;
}

boost::json::object TrainerReportJson(const learner::Trainer& trainer, bool with_checksum) {
  const learner::Model& model = trainer.model();
  const learner::MetricsReport report = trainer.metrics().Report();
  boost::json::object out;
  if (with_checksum) out["param_checksum"] = model.ParamChecksumHex();
  out["architecture"] = ArchitectureName(model.options().architecture);
  out["examples_trained"] = trainer.stats().examples_trained;
  out["examples_buffered"] = trainer.buffered();
  out["steps"] = trainer.stats().steps;
  out["skipped_steps"] = trainer.stats().skipped_steps;
  out["embedding_rows"] = model.embedding_rows();
  out["parameters"] = model.num_parameters();
  AddMetricsJson(report, &out);
  return out;
}

std::string MetricsSummary(const learner::MetricsReport& report, bool window) {
  std::string out;
  char buf[160];
  for (const learner::TaskMetrics& m : report.tasks) {
    if (m.listwise) {
      std::snprintf(buf, sizeof(buf), "%s auc=%.4f list_ce=%.4f lists=%lld", m.name.c_str(),
                    window ? m.window_auc : m.auc, m.list_cross_entropy,
                    static_cast<long long>(m.lists));
    } else if (m.kind == learner::TaskKind::kBinary) {
      std::snprintf(buf, sizeof(buf), "%s auc=%.4f logloss=%.4f n=%lld", m.name.c_str(),
                    window ? m.window_auc : m.auc, window ? m.window_logloss : m.logloss,
                    static_cast<long long>(window ? m.window_count : m.count));
    } else {
      std::snprintf(buf, sizeof(buf), "%s rmse=%.4f n=%lld", m.name.c_str(),
                    window ? m.window_rmse : m.rmse,
                    static_cast<long long>(window ? m.window_count : m.count));
    }
    out += buf;
    out += window ? "  " : "\n";
  }
  return out;
}

}  // namespace ranker::app
