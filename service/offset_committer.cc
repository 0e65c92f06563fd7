#include "service/offset_committer.h"

#include <algorithm>
#include <chrono>

namespace ranker::app {
namespace {
constexpr int kRetryMs = 500;
}  // namespace

OffsetCommitter::OffsetCommitter(ingest::EventSource* source)
    : source_(source), thread_([this] { Run(); }) {}

OffsetCommitter::~OffsetCommitter() { Stop(); }

void OffsetCommitter::Offer(const ingest::OffsetMap& offsets) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [tp, next] : offsets) pending_[tp] = next;
  cv_.notify_one();
}

Status OffsetCommitter::CommitRevoked(const ingest::OffsetMap& offsets) {
  std::lock_guard<std::mutex> commit(commit_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [tp, next] : offsets) pending_.erase(tp);
  }
  if (offsets.empty()) return Status::OK();
  Status s = source_->CommitOffsets(offsets);
  Record(s);
  return s;
}

Status OffsetCommitter::CommitNow() {
  std::lock_guard<std::mutex> commit(commit_mu_);
  return CommitPendingLocked();
}

Status OffsetCommitter::CommitPendingLocked() {
  ingest::OffsetMap batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return Status::OK();
  const std::vector<ingest::TopicPartition> assigned = source_->Assignment();
  std::erase_if(batch, [&](const auto& entry) {
    return std::find(assigned.begin(), assigned.end(), entry.first) == assigned.end();
  });
  if (batch.empty()) return Status::OK();
  Status s = source_->CommitOffsets(batch);
  Record(s);
  if (!s.ok()) {
    // Retried with the next commit unless a newer offset arrives meanwhile.
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [tp, next] : batch) pending_.emplace(tp, next);
  }
  return s;
}

void OffsetCommitter::Record(const Status& s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (s.ok()) {
    ++commits_;
  } else {
    ++failures_;
    last_error_ = s.ToString();
  }
}

void OffsetCommitter::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (stop_) return;
    }
    Status s;
    {
      std::lock_guard<std::mutex> commit(commit_mu_);
      s = CommitPendingLocked();
    }
    if (!s.ok()) {  // brokers unreachable: back off instead of spinning
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(kRetryMs), [&] { return stop_; });
    }
  }
}

void OffsetCommitter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t OffsetCommitter::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

uint64_t OffsetCommitter::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

std::string OffsetCommitter::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

}  // namespace ranker::app
