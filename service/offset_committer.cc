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
  MutexLock lock(&mu_);
  for (const auto& [tp, next] : offsets) pending_[tp] = next;
  cv_.Signal();
}

Status OffsetCommitter::CommitRevoked(const ingest::OffsetMap& offsets) {
  MutexLock commit(&commit_mu_);
  {
    MutexLock lock(&mu_);
    for (const auto& [tp, next] : offsets) pending_.erase(tp);
  }
  if (offsets.empty()) return Status::OK();
  Status s = source_->CommitOffsets(offsets);
  Record(s);
  return s;
}

Status OffsetCommitter::CommitNow() {
  MutexLock commit(&commit_mu_);
  return CommitPendingLocked();
}

Status OffsetCommitter::CommitPendingLocked() {
  ingest::OffsetMap batch;
  {
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
    for (const auto& [tp, next] : batch) pending_.emplace(tp, next);
  }
  return s;
}

void OffsetCommitter::Record(const Status& s) {
  MutexLock lock(&mu_);
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
      MutexLock lock(&mu_);
      while (!stop_ && pending_.empty()) cv_.Wait(&mu_);
      if (stop_) return;
    }
    Status s;
    {
      MutexLock commit(&commit_mu_);
      s = CommitPendingLocked();
    }
    if (!s.ok()) {  // brokers unreachable: back off instead of spinning
      MutexLock lock(&mu_);
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRetryMs);
      while (!stop_ && cv_.WaitUntil(&mu_, until)) {
      }
    }
  }
}

void OffsetCommitter::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t OffsetCommitter::commits() const {
  MutexLock lock(&mu_);
  return commits_;
}

uint64_t OffsetCommitter::failures() const {
  MutexLock lock(&mu_);
  return failures_;
}

std::string OffsetCommitter::last_error() const {
  MutexLock lock(&mu_);
  return last_error_;
}

}  // namespace ranker::app
