// A mutex, its scoped lock and a condition variable that clang's
// thread-safety analysis understands (leveldb's port::Mutex / MutexLock /
// CondVar): fields declared RANKER_GUARDED_BY(mu_) are checked at compile
// time in the clang trees. Thin wrappers over std::mutex and
// std::condition_variable; same cost, same semantics.
//
//   mutable Mutex mu_;
//   CondVar changed_;                       // notified when items_ changes
//   std::deque<T> items_ RANKER_GUARDED_BY(mu_);
//
//   MutexLock lock(&mu_);
//   while (items_.empty()) changed_.Wait(&mu_);   // the condition stays in
//                                                 // the analysed function
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "base/thread_annotations.h"

namespace ranker {

class RANKER_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() RANKER_ACQUIRE() { mu_.lock(); }
  void Unlock() RANKER_RELEASE() { mu_.unlock(); }
  // Documents (and tells the analysis) that the caller holds the lock.
  void AssertHeld() const RANKER_ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `*mu` from construction to destruction. `mu` must outlive it.
class RANKER_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) RANKER_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RANKER_RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable used with a Mutex the caller holds. Waits may wake
// spuriously: test the condition in a loop, in the calling function (where
// the analysis sees the lock held).
class CondVar {
 public:
  // Releases `*mu` while waiting; holds it again on return.
  void Wait(Mutex* mu) RANKER_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // As Wait; false once `deadline` has passed (the lock is held either way).
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex* mu, std::chrono::time_point<Clock, Duration> deadline) RANKER_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool timed_out = cv_.wait_until(lock, deadline) == std::cv_status::timeout;
    lock.release();
    return !timed_out;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace ranker
