#include "ingest/kafka_fetch_queue.h"

#include <algorithm>
#include <string>
#include <utility>

namespace ranker::ingest {

FetchQueue::FetchQueue(size_t max_messages, size_t max_bytes, double resume_fraction)
    : max_messages_(max_messages), max_bytes_(max_bytes), resume_fraction_(resume_fraction) {}

void FetchQueue::Assign(const TopicPartition& tp, int64_t start_offset) {
  MutexLock lock(&mu_);
  if (auto it = parts_.find(tp); it != parts_.end()) {
    while (!it->second.queue.empty()) TakeFront(&it->second);
  }
  Partition part;
  if (start_offset >= 0) {
    part.next_offset = start_offset;
    part.last_queued = start_offset - 1;
  }
  parts_[tp] = std::move(part);
  MaybeLiftBackpressure();
}

void FetchQueue::Purge(const std::vector<TopicPartition>& tps) {
  MutexLock lock(&mu_);
  for (const auto& tp : tps) {
    auto it = parts_.find(tp);
    if (it == parts_.end()) continue;
    while (!it->second.queue.empty()) TakeFront(&it->second);
  }
  MaybeLiftBackpressure();
}

bool FetchQueue::Reset(const TopicPartition& tp, int64_t next_offset) {
  MutexLock lock(&mu_);
  auto it = parts_.find(tp);
  if (it == parts_.end()) return false;
  Partition& part = it->second;
  while (!part.queue.empty()) TakeFront(&part);
  part.next_offset = next_offset >= 0 ? next_offset : -1;
  part.last_queued = next_offset >= 0 ? next_offset - 1 : -1;
  MaybeLiftBackpressure();
  return true;
}

void FetchQueue::Unassign(const std::vector<TopicPartition>& tps) {
  Purge(tps);
  MutexLock lock(&mu_);
  for (const auto& tp : tps) parts_.erase(tp);
}

Status FetchQueue::CheckAssigned(const std::vector<TopicPartition>& tps) const {
  MutexLock lock(&mu_);
  for (const auto& tp : tps) {
    if (closed_ || !parts_.contains(tp)) {
      return Status::FailedPrecondition("partition " + tp.topic + "[" +
                                        std::to_string(tp.partition) +
                                        "] is not assigned to this member");
    }
  }
  return Status::OK();
}

std::vector<TopicPartition> FetchQueue::Assignment() const {
  MutexLock lock(&mu_);
  std::vector<TopicPartition> tps;
  for (const auto& entry : parts_) tps.push_back(entry.first);
  return tps;
}

void FetchQueue::Push(SourceMessage message) {
  MutexLock lock(&mu_);
  auto it = parts_.find(message.tp());
  if (it == parts_.end()) return;  // fetched before a revoke: not ours now
  Partition& part = it->second;
  if (message.offset <= part.last_queued) {
    ++counters_.duplicates_dropped;
    return;
  }
  // The offset this partition should deliver next, if known: a message
  // beyond it means the log lost what lay between (retention deleted it
  // before it was read, and the client reset its position).
  const int64_t expected = part.last_queued >= 0 ? part.last_queued + 1 : part.next_offset;
  if (expected >= 0 && message.offset > expected) {
    counters_.offsets_lost += static_cast<uint64_t>(message.offset - expected);
  }
  part.last_queued = message.offset;
  queued_messages_ += 1;
  queued_bytes_ += message.key.size() + message.payload.size();
  part.queue.push_back(std::move(message));
  if (!backpressure_ && (queued_messages_ >= max_messages_ || queued_bytes_ >= max_bytes_)) {
    backpressure_ = true;
    ++counters_.pauses;
  }
  cv_.SignalAll();
}

std::vector<SourceMessage> FetchQueue::Pop(size_t max, std::chrono::milliseconds timeout) {
  std::vector<SourceMessage> out;
  MutexLock lock(&mu_);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!Poppable()) {
    if (!cv_.WaitUntil(&mu_, until) && !Poppable()) return out;
  }
  if (closed_) return out;
  // Round-robin, one message at a time, so a busy partition cannot starve
  // the others.
  std::vector<Partition*> ready;
  for (auto& entry : parts_) {
    if (!entry.second.owner_paused && !entry.second.queue.empty()) {
      ready.push_back(&entry.second);
    }
  }
  const size_t start = rr_cursor_++;
  bool progress = true;
  while (out.size() < max && progress) {
    progress = false;
    for (size_t i = 0; i < ready.size() && out.size() < max; ++i) {
      Partition* part = ready[(start + i) % ready.size()];
      if (part->queue.empty()) continue;
      out.push_back(TakeFront(part));
      part->next_offset = out.back().offset + 1;
      ++counters_.consumed;
      counters_.consumed_bytes += out.back().key.size() + out.back().payload.size();
      progress = true;
    }
  }
  MaybeLiftBackpressure();
  return out;
}

void FetchQueue::SetOwnerPaused(const std::vector<TopicPartition>& tps, bool paused) {
  MutexLock lock(&mu_);
  for (const auto& tp : tps) {
    if (auto it = parts_.find(tp); it != parts_.end()) it->second.owner_paused = paused;
  }
  cv_.SignalAll();
}

void FetchQueue::TakeFetchChanges(std::vector<TopicPartition>* pause,
                                  std::vector<TopicPartition>* resume) {
  MutexLock lock(&mu_);
  for (auto& [tp, part] : parts_) {
    const bool want = backpressure_ || part.owner_paused;
    if (want == part.fetch_paused) continue;
    part.fetch_paused = want;
    (want ? pause : resume)->push_back(tp);
  }
}

void FetchQueue::SetHighWatermark(const TopicPartition& tp, int64_t high) {
  MutexLock lock(&mu_);
  if (auto it = parts_.find(tp); it != parts_.end() && high >= 0) {
    it->second.high_watermark = high;
  }
}

void FetchQueue::SetPositionIfIdle(const TopicPartition& tp, int64_t position) {
  MutexLock lock(&mu_);
  auto it = parts_.find(tp);
  if (it == parts_.end() || position < 0) return;
  if (it->second.next_offset < 0 && it->second.queue.empty()) it->second.next_offset = position;
}

void FetchQueue::FillCounters(SourceCounters* c) const {
  MutexLock lock(&mu_);
  c->consumed = counters_.consumed;
  c->consumed_bytes = counters_.consumed_bytes;
  c->pauses = counters_.pauses;
  c->resumes = counters_.resumes;
  c->duplicates_dropped = counters_.duplicates_dropped;
  c->offsets_lost = counters_.offsets_lost;
  c->queued_messages = queued_messages_;
  c->queued_bytes = queued_bytes_;
  c->partitions.clear();
  for (const auto& [tp, part] : parts_) {
    SourceCounters::PartitionState& s = c->partitions[tp];
    s.next_offset = part.next_offset;
    s.high_watermark = part.high_watermark;
    if (s.next_offset >= 0 && s.high_watermark >= 0) {
      s.lag = std::max<int64_t>(0, s.high_watermark - s.next_offset);
    }
  }
}

void FetchQueue::Close() {
  MutexLock lock(&mu_);
  closed_ = true;
  parts_.clear();
  queued_messages_ = queued_bytes_ = 0;
  cv_.SignalAll();
}

bool FetchQueue::Poppable() const {
  if (closed_) return true;
  return std::any_of(parts_.begin(), parts_.end(), [](const auto& entry) {
    return !entry.second.owner_paused && !entry.second.queue.empty();
  });
}

SourceMessage FetchQueue::TakeFront(Partition* part) {
  SourceMessage m = std::move(part->queue.front());
  part->queue.pop_front();
  queued_messages_ -= 1;
  queued_bytes_ -= m.key.size() + m.payload.size();
  return m;
}

void FetchQueue::MaybeLiftBackpressure() {
  const auto over = [](size_t n, size_t bound, double fraction) {
    return static_cast<double>(n) > fraction * static_cast<double>(bound);
  };
  if (backpressure_ && !over(queued_messages_, max_messages_, resume_fraction_) &&
      !over(queued_bytes_, max_bytes_, resume_fraction_)) {
    backpressure_ = false;
    ++counters_.resumes;
  }
}

}  // namespace ranker::ingest
