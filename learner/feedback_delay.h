// Feedback delay (issue 16): for each engagement, the joiner's event time
// (its watermark) at the training step that first used it, minus the
// engagement's ts_ms. Keeps the last `capacity` delays for quantiles and a
// running count; deterministic and serialisable with the trainer's state.
//
// Thread-safety: none (the learner thread; publications copy Summary()).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ranker::learner {

class FeedbackDelay {
 public:
  static constexpr size_t kCapacity = 4096;

  struct Summary {
    int64_t count = 0;  // engagements measured since the start
    double p50_ms = 0;  // over the last kCapacity of them; 0 when none
    double p99_ms = 0;
  };

  void Add(int64_t delay_ms);
  Summary Summarize() const;

  void Serialize(std::string* dst) const;
  Status Deserialize(std::string_view src);  // *this unchanged unless OK

 private:
  std::vector<int64_t> recent_;  // ring, oldest at head_ once full
  size_t head_ = 0;
  int64_t count_ = 0;
};

}  // namespace ranker::learner
