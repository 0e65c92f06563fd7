// Event builders for the joiner tests.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "learner/event.h"

namespace ranker::learner::testing {

inline Event Imp(std::string req, std::string item, int64_t ts, int position = 1) {
  Event e;
  e.type = EventType::kImpression;
  e.example.request_id = std::move(req);
  e.example.item_id = std::move(item);
  e.example.ts_ms = ts;
  e.example.position = position;
  e.example.categorical = {{"item_id", e.example.item_id}, {"user.country", "de"}};
  e.example.dense = {{"price", 1.5}};
  return e;
}

inline Event Click(std::string req, std::string item, int64_t ts) {
  Event e;
  e.type = EventType::kClick;
  e.example.request_id = std::move(req);
  e.example.item_id = std::move(item);
  e.example.ts_ms = ts;
  return e;
}

inline Event Watch(std::string req, std::string item, double seconds, int64_t ts) {
  Event e = Click(std::move(req), std::move(item), ts);
  e.type = EventType::kWatch;
  e.watch_seconds = seconds;
  return e;
}

inline Event Watermark(int64_t ts) {
  Event e;
  e.type = EventType::kWatermark;
  e.example.ts_ms = ts;
  return e;
}

}  // namespace ranker::learner::testing
