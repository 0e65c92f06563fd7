#include "ingest/event_encoder.h"

#include <boost/json/serialize.hpp>
#include <cassert>
#include <charconv>
#include <cmath>

namespace ranker::ingest {
namespace {

using learner::Event;
using learner::EventType;
using learner::Example;

// Shortest text that reads back to the same double ("3", "0.1", "1e+300").
// Negative zero is written as 0: JSON's "-0" is an integer token, which
// reads back as +0, so "-0" would not survive a round trip (found by fuzzing).
void AppendNumber(double v, std::string* out) {
  assert(std::isfinite(v));
  if (v == 0) v = 0.0;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

// Appends `,"key":` (no comma before the first member).
void AppendKey(std::string_view key, std::string* out) {
  if (out->back() != '{') out->push_back(',');
  AppendJsonString(key, out);
  out->push_back(':');
}

void AppendStringMember(std::string_view key, std::string_view value, std::string* out) {
  AppendKey(key, out);
  AppendJsonString(value, out);
}

// Writes `"name":{k:v,...}` from the categoricals whose field is "name.k";
// also `device` into context{} when no context.device categorical exists.
void AppendCategoricalObject(std::string_view name, const Example& ex, std::string* out) {
  const size_t start = out->size();
  bool has_device = false;
  for (const learner::CategoricalFeature& f : ex.categorical) {
    const std::string_view field = f.field;
    if (field.size() <= name.size() || field.substr(0, name.size()) != name ||
        field[name.size()] != '.') {
      continue;
    }
    if (out->size() == start) {
      AppendKey(name, out);
      out->push_back('{');
    }
    const std::string_view key = field.substr(name.size() + 1);
    has_device |= key == "device";
    AppendStringMember(key, f.value, out);
  }
  if (name == "context" && !has_device && !ex.device.empty()) {
    if (out->size() == start) {
      AppendKey(name, out);
      out->push_back('{');
    }
    AppendStringMember("device", ex.device, out);
  }
  if (out->size() != start) out->push_back('}');
}

void AppendDense(const Example& ex, std::string* out) {
  if (ex.dense.empty()) return;
  AppendKey("dense", out);
  out->push_back('{');
  for (const learner::DenseFeature& f : ex.dense) {
    AppendKey(f.name, out);
    AppendNumber(f.value, out);
  }
  out->push_back('}');
}

void AppendLabels(const Example& ex, const std::vector<std::string>& tasks, std::string* out) {
  assert(ex.labels.size() <= tasks.size());
  AppendKey("labels", out);
  out->push_back('{');
  for (size_t t = 0; t < ex.labels.size() && t < tasks.size(); ++t) {
    if (!learner::HasLabel(ex.labels[t])) continue;
    AppendKey(tasks[t], out);
    AppendNumber(ex.labels[t], out);
  }
  out->push_back('}');
}

// user_id and position: the scalar fields of impressions and examples.
void AppendFeatureScalars(const Example& ex, std::string* out) {
  for (const learner::CategoricalFeature& f : ex.categorical) {
    if (f.field == "user_id") AppendStringMember("user_id", f.value, out);
  }
  if (ex.position > 0) {
    AppendKey("position", out);
    AppendInt(ex.position, out);
  }
}

void AppendFeatureMaps(const Event& event, const std::vector<std::string>& tasks,
                       std::string* out) {
  const Example& ex = event.example;
  AppendCategoricalObject("user", ex, out);
  AppendCategoricalObject("item", ex, out);
  AppendCategoricalObject("context", ex, out);
  AppendDense(ex, out);
  if (event.type == EventType::kExample) AppendLabels(ex, tasks, out);
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  out->append(boost::json::serialize(boost::json::string_view(s.data(), s.size())));
}

EventEncoder::EventEncoder(std::vector<std::string> tasks) : tasks_(std::move(tasks)) {}

std::string EventEncoder::Encode(const Event& event, std::string_view extra_name,
                                 std::string_view extra_json) const {
  std::string out;
  out.reserve(256);
  EncodeTo(event, &out, extra_name, extra_json);
  return out;
}

void EventEncoder::EncodeTo(const Event& event, std::string* out, std::string_view extra_name,
                            std::string_view extra_json) const {
  const Example& ex = event.example;
  out->append("{\"type\":");
  AppendJsonString(learner::EventTypeName(event.type), out);
  if (!event.event_id.empty()) AppendStringMember("event_id", event.event_id, out);
  if (event.type != EventType::kWatermark) {
    if (!ex.request_id.empty()) AppendStringMember("request_id", ex.request_id, out);
    AppendStringMember("item_id", ex.item_id, out);
  }
  const bool has_features =
      event.type == EventType::kImpression || event.type == EventType::kExample;
  if (has_features) AppendFeatureScalars(ex, out);
  if (ex.ts_ms >= 0) {
    AppendKey("ts_ms", out);
    AppendInt(ex.ts_ms, out);
  }
  if (event.type == EventType::kWatch) {
    AppendKey("watch_seconds", out);
    AppendNumber(event.watch_seconds, out);
  }
  if (has_features) AppendFeatureMaps(event, tasks_, out);
  if (!extra_name.empty()) {
    AppendKey(extra_name, out);
    out->append(extra_json);
  }
  out->push_back('}');
}

std::string EncodeEvent(const Event& event, std::string_view extra_name,
                        std::string_view extra_json) {
  static const EventEncoder kEncoder;
  return kEncoder.Encode(event, extra_name, extra_json);
}

}  // namespace ranker::ingest
