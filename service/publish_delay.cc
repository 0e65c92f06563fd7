#include "service/publish_delay.h"

#include "base/hash.h"

namespace ranker::app {

uint64_t PublishDelay::Key(std::string_view request_id, std::string_view item_id) {
  return HashCombine(Hash64(request_id), Hash64(item_id, 0x17e5));
}

void PublishDelay::Consumed(std::string_view request_id, std::string_view item_id, int64_t now_ms) {
  consumed_.try_emplace(Key(request_id, item_id), now_ms);
}

void PublishDelay::Handed(std::string_view request_id, std::string_view item_id, uint64_t index) {
  auto it = consumed_.find(Key(request_id, item_id));
  if (it == consumed_.end()) return;
  handed_.emplace_back(index, it->second);
  consumed_.erase(it);
}

void PublishDelay::Published(uint64_t taken, int64_t now_ms) {
  while (!handed_.empty() && handed_.front().first < taken) {
    delays_.Add(now_ms - handed_.front().second);
    handed_.pop_front();
  }
}

void PublishDelay::Reset() {
  consumed_.clear();
  handed_.clear();
}

}  // namespace ranker::app
