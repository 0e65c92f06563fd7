// A small pool of threads that helps its callers with data-parallel loops:
// ParallelFor(n, fn) runs fn(0) .. fn(n - 1), on the calling thread and on
// whichever of the pool's threads are free, and returns when all are done.
//
// The caller takes part and never waits for a helper that has not started:
// indices are claimed one at a time from a shared counter, so when every
// helper is busy elsewhere the caller runs the whole loop itself, at the
// serial cost. The serving path spreads one /v1/rank request's candidate
// blocks over it (learner::Scorer), so that on an idle core a request's
// latency halves while its work, and its result, stay the same.
//
//   WorkerPool pool(1, "ranker-score");      // one helper
//   pool.ParallelFor(4, [&](int i) { Block(i); });
//
// Thread-safety: ParallelFor may be called from many threads at once; fn
// runs concurrently with itself for different indices. An fn that itself
// calls ParallelFor on the same pool is fine (the inner caller helps itself).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"

namespace ranker {

class WorkerPool {
 public:
  // `helpers` threads (0: every loop runs on its caller), named `name`.
  WorkerPool(int helpers, std::string name);
  ~WorkerPool();  // joins the threads; REQUIRES: no ParallelFor running
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void ParallelFor(int n, const std::function<void(int)>& fn);

  int helpers() const { return static_cast<int>(threads_.size()); }

 private:
  struct Loop;
  void Work();

  Mutex mu_;
  CondVar queued_;
  std::deque<std::shared_ptr<Loop>> queue_ RANKER_GUARDED_BY(mu_);
  bool stopping_ RANKER_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ranker
