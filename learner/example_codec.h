// A binary encoding of one Example, shared by every state that holds
// examples (the joiner's pending impressions, the trainer's partial batch).
#pragma once

#include <string>

#include "base/coding.h"
#include "base/status.h"
#include "learner/event.h"

namespace ranker::learner {

// Format 1: everything but loss_weights, group, feedback_ts_ms, evaluation
// and eval_id. Format 2 (current): all
// of Example. The state that holds examples records the format it wrote
// (through its own version), so older states still decode.
inline constexpr int kExampleFormat = 2;

// Appends `e` to `dst` in the current format.
void EncodeExample(const Example& e, std::string* dst);
// Reads one example written in `format`; Corruption on damaged input
// (counts are checked against the remaining bytes before allocating).
// REQUIRES: 1 <= format <= kExampleFormat.
Status DecodeExample(Decoder* d, Example* e, int format = kExampleFormat);

}  // namespace ranker::learner
