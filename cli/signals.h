// SIGINT/SIGTERM handling of the long-running commands (serve, broker,
// demo, simulate --brokers): the signals are blocked in every thread and
// taken synchronously by the main thread, so no handler runs in a random
// thread and shutdown is an ordinary, orderly code path.
#pragma once

#include <chrono>

namespace ranker::app {

// Blocks SIGINT and SIGTERM in the calling thread; threads started
// afterwards inherit the mask. REQUIRES: called before any thread starts
// (librdkafka's included), i.e. first thing in a command.
void BlockTerminationSignals();

// Waits up to `timeout` for SIGINT or SIGTERM; true if one arrived.
// REQUIRES: BlockTerminationSignals() ran on this thread.
bool WaitForTermination(std::chrono::milliseconds timeout);

}  // namespace ranker::app
