// A blocking multi-producer multi-consumer queue with a hard capacity: Push
// waits while full (backpressure), Pop waits while empty. Close() wakes
// everyone: Push then fails and Pop drains what is left, then fails.
#pragma once

#include <chrono>
#include <deque>
#include <optional>

#include "base/mutex.h"

namespace ranker {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  // False if the queue was closed (the item is dropped).
  bool Push(T item) {
    MutexLock lock(&mu_);
    while (!closed_ && items_.size() >= capacity_) not_full_.Wait(&mu_);
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.Signal();
    return true;
  }

  // Nullopt once the queue is closed and drained.
  std::optional<T> Pop() {
    MutexLock lock(&mu_);
    while (!closed_ && items_.empty()) not_empty_.Wait(&mu_);
    return TakeLocked();
  }

  // Nullopt on timeout, or once closed and drained.
  std::optional<T> PopFor(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(&mu_);
    while (!closed_ && items_.empty()) {
      if (!not_empty_.WaitUntil(&mu_, deadline)) break;
    }
    return TakeLocked();
  }

  void Close() {
    MutexLock lock(&mu_);
    closed_ = true;
    not_empty_.SignalAll();
    not_full_.SignalAll();
  }

  size_t size() const {
    MutexLock lock(&mu_);
    return items_.size();
  }

 private:
  std::optional<T> TakeLocked() RANKER_REQUIRES(mu_) {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.Signal();
    return item;
  }

  const size_t capacity_;
  mutable Mutex mu_;
  CondVar not_empty_, not_full_;
  std::deque<T> items_ RANKER_GUARDED_BY(mu_);
  bool closed_ RANKER_GUARDED_BY(mu_) = false;
};

}  // namespace ranker
