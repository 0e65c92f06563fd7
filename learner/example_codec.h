// A binary encoding of one Example, shared by every state that holds
// examples (the joiner's pending impressions, the trainer's partial batch).
#pragma once

#include <string>

#include "base/coding.h"
#include "base/status.h"
#include "learner/event.h"

namespace ranker::learner {

// Appends `e` to `dst`.
void EncodeExample(const Example& e, std::string* dst);
// Reads one example written by EncodeExample; Corruption on damaged input
// (counts are checked against the remaining bytes before allocating).
Status DecodeExample(Decoder* d, Example* e);

}  // namespace ranker::learner
