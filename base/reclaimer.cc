#include "base/reclaimer.h"

#include <chrono>

#include "base/thread.h"

namespace ranker {

Reclaimer::Reclaimer(std::string name, int nice)
    : thread_([this, name = std::move(name), nice] { Run(name, nice); }) {}

Reclaimer::~Reclaimer() {
  {
    MutexLock lock(&state_->mu);
    state_->stopped = true;
  }
  state_->queued.SignalAll();
  thread_.join();
}

void Reclaimer::Queue(State* state, std::shared_ptr<const void> p) {
  {
    MutexLock lock(&state->mu);
    if (!state->stopped) {
      state->queue.push_back(std::move(p));
      state->queued.Signal();
      return;
    }
  }
  p.reset();  // no thread any more: freed here, outside the lock
}

void Reclaimer::Run(const std::string& name, int nice) {
  SetUpBackgroundThread(name.c_str(), nice);
  for (;;) {
    std::shared_ptr<const void> p;
    {
      MutexLock lock(&state_->mu);
      while (state_->queue.empty() && !state_->stopped) state_->queued.Wait(&state_->mu);
      if (state_->queue.empty()) return;  // stopped, and everything freed
      p = std::move(state_->queue.front());
      state_->queue.pop_front();
    }
    const auto start = std::chrono::steady_clock::now();
    p.reset();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MutexLock lock(&state_->mu);
    ++state_->stats.freed;
    state_->stats.seconds += seconds;
    state_->stats.last_seconds = seconds;
  }
}

Reclaimer::Stats Reclaimer::stats() const {
  MutexLock lock(&state_->mu);
  return state_->stats;
}

}  // namespace ranker
