#include "sim/event_json.h"

#include <boost/json.hpp>
#include <string_view>

namespace ranker::sim {
namespace {

namespace json = boost::json;
using learner::EventType;

// Puts a "<map>.<key>" feature into the object `map` of `out`.
void PutNamespaced(json::object& out, std::string_view map, std::string_view key,
                   std::string_view value) {
  json::value& m = out[map];
  if (!m.is_object()) m = json::object();
  m.as_object()[key] = value;
}

void PutCategorical(const learner::Example& ex, json::object& out) {
  bool has_device = false;
  for (const learner::CategoricalFeature& f : ex.categorical) {
    const std::string_view field = f.field;
    if (field == "user_id") {
      out["user_id"] = f.value;
      continue;
    }
    const size_t dot = field.find('.');
    if (dot == std::string_view::npos) continue;  // item_id, or not a §1 field
    const std::string_view map = field.substr(0, dot);
    if (map != "user" && map != "item" && map != "context") continue;
    if (field == "context.device") has_device = true;
    PutNamespaced(out, map, field.substr(dot + 1), f.value);
  }
  if (!has_device && !ex.device.empty()) PutNamespaced(out, "context", "device", ex.device);
}

void PutFeatures(const learner::Example& ex, json::object& out) {
  if (ex.position > 0) out["position"] = ex.position;
  PutCategorical(ex, out);
  if (!ex.dense.empty()) {
    json::object dense;
    for (const learner::DenseFeature& d : ex.dense) dense[d.name] = d.value;
    out["dense"] = std::move(dense);
  }
}

void PutLabels(const learner::Example& ex, std::span<const std::string> names, json::object& out) {
  json::object labels;
  for (size_t t = 0; t < ex.labels.size() && t < names.size(); ++t) {
    if (!learner::HasLabel(ex.labels[t])) continue;
    const double v = ex.labels[t];
    // Integral labels (0/1 clicks) are written as integers.
    if (v == static_cast<double>(static_cast<int64_t>(v))) {
      labels[names[t]] = static_cast<int64_t>(v);
    } else {
      labels[names[t]] = v;
    }
  }
  out["labels"] = std::move(labels);
}

json::object TruthObject(const Truth& t) {
  return {{"examination", t.examination},
          {"attraction", t.attraction},
          {"click_probability", t.click_probability},
          {"expected_watch_seconds", t.expected_watch_seconds}};
}

}  // namespace

std::string EncodeEventJson(const learner::Event& event, std::span<const std::string> label_names,
                            const Truth* truth) {
  const learner::Example& ex = event.example;
  json::object out;
  out["type"] = learner::EventTypeName(event.type);
  if (event.type != EventType::kWatermark) {
    if (!ex.request_id.empty()) out["request_id"] = ex.request_id;
    out["item_id"] = ex.item_id;
  }
  if (ex.ts_ms >= 0) out["ts_ms"] = ex.ts_ms;
  if (!event.event_id.empty()) out["event_id"] = event.event_id;
  switch (event.type) {
    case EventType::kImpression:
      PutFeatures(ex, out);
      break;
    case EventType::kExample:
      PutFeatures(ex, out);
      PutLabels(ex, label_names, out);
      break;
    case EventType::kWatch:
      out["watch_seconds"] = event.watch_seconds;
      break;
    case EventType::kClick:
    case EventType::kWatermark:
      break;
  }
  if (truth != nullptr) out["truth"] = TruthObject(*truth);
  return json::serialize(out);
}

}  // namespace ranker::sim
