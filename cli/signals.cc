#include "cli/signals.h"

#include <signal.h>

#include <cerrno>
#include <ctime>

namespace ranker::app {
namespace {

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  const sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool WaitForTermination(std::chrono::milliseconds timeout) {
  const sigset_t set = TerminationSet();
  timespec ts;
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1000) * 1000000L;
  while (true) {
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) return true;
    if (sig < 0 && errno == EINTR) continue;  // another signal; wait again
    return false;                             // EAGAIN: timed out
  }
}

}  // namespace ranker::app
