#include "base/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "base/thread.h"

namespace ranker {

// One ParallelFor. Shared by the caller and the helpers it queued; a helper
// that starts after the caller has claimed every index touches only this
// (kept alive by its shared_ptr), never `fn`.
struct WorkerPool::Loop {
  const std::function<void(int)>* fn = nullptr;
  int n = 0;
  std::atomic<int> next{0};    // the next index to claim
  std::atomic<int> active{0};  // threads inside Help()
  Mutex mu;
  CondVar idle;  // signalled when `active` falls to 0

  // Runs unclaimed indices until none is left; the caller and each helper
  // alike. A thread is counted in `active` before it claims, so a caller
  // that has left Help() (every index claimed) and then sees `active` at 0
  // knows that no fn(i) still runs and none will start.
  void Help() {
    active.fetch_add(1);
    for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) (*fn)(i);
    if (active.fetch_sub(1) == 1) {
      MutexLock lock(&mu);
      idle.SignalAll();
    }
  }
};

WorkerPool::WorkerPool(int helpers, std::string name) {
  threads_.reserve(static_cast<size_t>(std::max(0, helpers)));
  for (int i = 0; i < helpers; ++i) {
    threads_.emplace_back([this, name] {
      SetThreadName(name.c_str());
      Work();
    });
  }
}

WorkerPool::~WorkerPool() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  queued_.SignalAll();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::Work() {
  for (;;) {
    std::shared_ptr<Loop> loop;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) queued_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping
      loop = std::move(queue_.front());
      queue_.pop_front();
    }
    loop->Help();
  }
}

void WorkerPool::ParallelFor(int n, const std::function<void(int)>& fn) {
  const int asks = std::min(n - 1, helpers());
  if (asks <= 0) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  auto loop = std::make_shared<Loop>();
  loop->fn = &fn;
  loop->n = n;
  {
    MutexLock lock(&mu_);
    for (int i = 0; i < asks; ++i) queue_.push_back(loop);
  }
  if (asks == 1) {
    queued_.Signal();
  } else {
    queued_.SignalAll();
  }
  loop->Help();
  MutexLock lock(&loop->mu);
  while (loop->active.load() != 0) loop->idle.Wait(&loop->mu);
}

}  // namespace ranker
