// Turns contract §1 events (one JSON object per Kafka message or NDJSON line)
// into validated learner::Event values. Every bad input is rejected with a
// RejectReason (ingest/reject.h) and a message that names the field; nothing
// invalid ever reaches the joiner or the model.
//
// Accepted input, beyond the contract's table:
//  - `null` is the same as an absent field (a required one is kMissingField;
//    a null entry in user{}/item{}/context{}/dense{}/labels{} is skipped).
//  - Ids (request_id, item_id, user_id, event_id) may be JSON integers, as in
//    many real logs: they become their decimal text (42 -> "42"). Fractional
//    numbers are rejected (kWrongType): their text is not canonical.
//  - user{}/item{}/context{} values are strings; integers and booleans are
//    accepted as their text ("3", "true"); fractions, arrays and objects are
//    kWrongType naming the key ("user.age: ...").
//  - position and ts_ms are integers; an integral number written as a
//    fraction (2.0, 1.7e12) is accepted, 2.5 is not.
//  - Labels of tasks not in DecoderOptions::tasks are ignored unchecked;
//    binary-task labels are only checked for finiteness here.
//  - A `watermark` event (`{"type":"watermark","ts_ms":N}`, ts_ms required)
//    takes only ts_ms and event_id; see join/joiner.h for what it does.
//  - Unknown top-level fields (e.g. the simulator's `truth{}`) are ignored;
//    so are fields a type does not take (user{} on a click).
//  - A repeated key keeps its last value (Boost.JSON's rule).
//  - NaN/Infinity literals (Python's json.dumps writes them) are kNonFinite,
//    not kInvalidJson; so are numbers that overflow a double (1e999).
//
// Decoded form (learner/event.h): Example::categorical holds, in this order,
// "user_id", "item_id", then "user.<k>", "item.<k>", "context.<k>" in the
// order each object lists them; context.device is also Example::device.
// Example::labels is empty for impressions and has one entry per configured
// task (kNoLabel when absent) for examples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"
#include "ingest/reject.h"
#include "learner/event.h"

namespace ranker::ingest {

struct DecoderOptions {
  // Longer payloads are rejected (kOversize) before parsing.
  size_t max_event_bytes = 64 * 1024;
  // Bound on categorical (user_id and item_id included) + dense features.
  size_t max_features = 256;
  // Bound on every id, feature name and feature value.
  size_t max_string_bytes = 1024;
  // Largest accepted position (positions are 1-based).
  int32_t max_position = 10000;
  // Names of the configured tasks, in ModelOptions::tasks order: labels{}
  // entries map to Example::labels indices by these names.
  std::vector<std::string> tasks = {"click", "watch"};

  Status Validate() const;
};

// Why one payload was rejected. `message` names the field, e.g.
// "position: must be an integer in [1, 10000], got -3".
struct DecodeError {
  RejectReason reason = RejectReason::kInvalidJson;
  std::string message;

  // "bad_position: position: must be ...": the reason name, then the message.
  std::string ToString() const;
};

// Either a validated Event or the DecodeError that rejected the payload.
class DecodeResult {
 public:
  DecodeResult(learner::Event event) : v_(std::move(event)) {}  // NOLINT: implicit
  DecodeResult(DecodeError error) : v_(std::move(error)) {}     // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  // REQUIRES: ok().
  const learner::Event& event() const& { return std::get<0>(v_); }
  learner::Event& event() & { return std::get<0>(v_); }
  learner::Event&& event() && { return std::get<0>(std::move(v_)); }
  // REQUIRES: !ok().
  const DecodeError& error() const { return std::get<1>(v_); }

 private:
  std::variant<learner::Event, DecodeError> v_;
};

// Thread-safe: Decode and DecodeBatch are const and share no mutable state
// (each thread parses into its own reused buffer), so one decoder may serve
// every consumer and HTTP thread. Results own their data; the payload is not
// referenced after a call returns.
class EventDecoder {
 public:
  // REQUIRES: options.Validate().ok().
  explicit EventDecoder(DecoderOptions options);

  // Decodes one event (one Kafka message value or NDJSON line).
  DecodeResult Decode(std::string_view payload) const;

  // Decodes a `POST /v1/events` body. json_array == false: NDJSON, one event
  // per line ('\n', optional '\r'); blank lines are skipped and do not take
  // an index. json_array == true: a JSON array of event objects. Result i is
  // the i-th event either way. Only a body that is not a JSON array (in
  // array mode) fails as a whole: InvalidArgument naming "body".
  StatusOr<std::vector<DecodeResult>> DecodeBatch(std::string_view body, bool json_array) const;

  const DecoderOptions& options() const { return options_; }

 private:
  const DecoderOptions options_;
};

}  // namespace ranker::ingest
