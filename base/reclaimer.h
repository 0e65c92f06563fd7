// Frees objects on a background thread instead of on whichever thread drops
// the last reference: the readers of published model versions (the /v1/rank
// handlers) never pay for freeing one.
//
// A model version shares its embedding rows with the next one; freeing it
// frees the trie nodes the learner replaced after it (learner/row_trie.h):
// at 10M rows thousands of scattered frees per version, and with a request
// in flight at every publication the handler used to be the thread that
// dropped the last reference.
//
//   Reclaimer reclaimer("ranker-reclaim", /*nice=*/10);
//   std::shared_ptr<const Version> v = reclaimer.Adopt(std::make_shared<Version>(...));
//   // ... readers copy and drop v on any thread; the last drop queues it,
//   // and the reclaimer's thread frees it.
//
// Thread-safety: Adopt from any thread; an adopted pointer is released on
// any thread. After the Reclaimer is destroyed, a last drop frees inline.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "base/mutex.h"

namespace ranker {

class Reclaimer {
 public:
  // The thread is named `name` and runs at `nice` (SetUpBackgroundThread).
  Reclaimer(std::string name, int nice);
  ~Reclaimer();  // frees what is queued, then stops
  Reclaimer(const Reclaimer&) = delete;
  Reclaimer& operator=(const Reclaimer&) = delete;

  // A pointer to the same object whose last release hands `p` (and with it
  // the object, when `p` was its only owner) to the reclaimer's thread.
  template <typename T>
  std::shared_ptr<T> Adopt(std::shared_ptr<T> p) {
    T* raw = p.get();
    return std::shared_ptr<T>(
        raw, [state = state_, p = std::move(p)](T*) mutable { Queue(state.get(), std::move(p)); });
  }

  // Adopt through `reclaimer` when there is one; null: `p` as it is (the
  // last holder frees it).
  template <typename T>
  static std::shared_ptr<T> AdoptBy(Reclaimer* reclaimer, std::shared_ptr<T> p) {
    return reclaimer == nullptr ? p : reclaimer->Adopt(std::move(p));
  }

  // Objects freed by the thread so far, and the thread's time freeing them.
  struct Stats {
    uint64_t freed = 0;
    double seconds = 0;
    double last_seconds = 0;
  };
  Stats stats() const;

 private:
  struct State {
    mutable Mutex mu;
    CondVar queued;
    std::deque<std::shared_ptr<const void>> queue RANKER_GUARDED_BY(mu);
    bool stopped RANKER_GUARDED_BY(mu) = false;
    Stats stats RANKER_GUARDED_BY(mu);
  };
  static void Queue(State* state, std::shared_ptr<const void> p);
  void Run(const std::string& name, int nice);

  const std::shared_ptr<State> state_ = std::make_shared<State>();
  std::thread thread_;
};

}  // namespace ranker
