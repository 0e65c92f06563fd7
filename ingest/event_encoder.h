// Writes learner::Event values as contract §1 JSON: the inverse of
// EventDecoder, used by the simulator, producers and tests. The output is
// one line of compact JSON (no newline) that the decoder reads back to an
// equal Event, provided the Event is valid (as the decoder would produce):
// categorical fields namespaced "user_id", "item_id", "user.<k>",
// "item.<k>", "context.<k>"; every number finite; strings valid UTF-8.
//
// Field order on output: type, event_id, request_id, item_id, user_id,
// position, ts_ms, watch_seconds, user{}, item{}, context{}, dense{},
// labels{}, then the optional extra member. Absent values are omitted
// (position 0, ts_ms -1, "" ids, kNoLabel labels). A watermark event is
// {"type":"watermark","event_id"?,"ts_ms"} only. Click and watch events
// carry only their own fields. Example::device is written as
// context.device when no "context.device" categorical is present.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "learner/event.h"

namespace ranker::ingest {

// Thread-safe (immutable after construction).
class EventEncoder {
 public:
  // `tasks` names Example::labels by index (ModelOptions::tasks order).
  explicit EventEncoder(std::vector<std::string> tasks = {"click", "watch"});

  // extra_name/extra_json: one more top-level member, e.g. "truth" and
  // {"relevance":0.3}, for data the contract does not define (the decoder
  // ignores it). Omitted when extra_name is empty.
  // REQUIRES: extra_json is one valid JSON value; extra_name is not a
  // contract field; event.example.labels.size() <= tasks.size().
  std::string Encode(const learner::Event& event, std::string_view extra_name = {},
                     std::string_view extra_json = {}) const;

  // As Encode, appending to *out (reuses its capacity in loops).
  void EncodeTo(const learner::Event& event, std::string* out, std::string_view extra_name = {},
                std::string_view extra_json = {}) const;

 private:
  const std::vector<std::string> tasks_;
};

// EventEncoder with the default tasks (click, watch).
std::string EncodeEvent(const learner::Event& event, std::string_view extra_name = {},
                        std::string_view extra_json = {});

// Appends s as a JSON string literal (quoted, escaped) to *out.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace ranker::ingest
