#include "learner/feedback_delay.h"

#include <algorithm>
#include <cmath>

#include "base/coding.h"

namespace ranker::learner {
namespace {

// The nearest-rank quantile q of sorted values.
double Quantile(const std::vector<int64_t>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::max<size_t>(rank, 1) - 1]);
}

}  // namespace

void FeedbackDelay::Add(int64_t delay_ms) {
  ++count_;
  if (recent_.size() < kCapacity) {
    recent_.push_back(delay_ms);
    return;
  }
  recent_[head_] = delay_ms;
  head_ = (head_ + 1) % kCapacity;
}

FeedbackDelay::Summary FeedbackDelay::Summarize() const {
  Summary s;
  s.count = count_;
  if (recent_.empty()) return s;
  std::vector<int64_t> sorted = recent_;
  std::sort(sorted.begin(), sorted.end());
  s.p50_ms = Quantile(sorted, 0.5);
  s.p99_ms = Quantile(sorted, 0.99);
  return s;
}

void FeedbackDelay::Serialize(std::string* dst) const {
  PutFixed64(dst, static_cast<uint64_t>(count_));
  PutFixed64(dst, head_);
  PutArray(dst, recent_.data(), recent_.size());
}

Status FeedbackDelay::Deserialize(std::string_view src) {
  Decoder d(src, "feedback delay");
  uint64_t count = 0, head = 0;
  std::vector<int64_t> recent;
  recent.reserve(1);
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&count));
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&head));
  RANKER_RETURN_IF_ERROR(d.GetArray(&recent));
  if (!d.done() || recent.size() > kCapacity || (head != 0 && head >= recent.size()) ||
      count < recent.size()) {
    return Status::Corruption("feedback delay: inconsistent state");
  }
  recent_ = std::move(recent);
  head_ = head;
  count_ = static_cast<int64_t>(count);
  return Status::OK();
}

}  // namespace ranker::learner
