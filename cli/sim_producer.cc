#include "cli/sim_producer.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "sim/event_json.h"
#include "sim/simulator.h"

namespace ranker::app {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Waits until the token bucket (`rate` tokens/s, a burst of 1/20 s) has a
// token for event number `n`, or `stop`.
void Pace(double rate, int64_t n, SteadyClock::time_point start, const std::atomic<bool>& stop) {
  if (rate <= 0) return;
  const double burst = std::max(1.0, rate / 20);
  const auto due = start + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>((n - burst) / rate));
  while (!stop.load() && SteadyClock::now() < due) {
    std::this_thread::sleep_until(
        std::min(due, SteadyClock::now() + std::chrono::milliseconds(50)));
  }
}

Status ProduceOne(ingest::KafkaProducer* producer, const std::string& topic, const sim::SimEvent& e,
                  const std::atomic<bool>& stop) {
  const std::string payload = sim::EncodeEventJson(e);
  while (true) {
    Status s = producer->Produce(topic, e.event.example.request_id, payload);
    if (s.code() != Status::Code::kResourceExhausted) return s;
    if (stop.load()) return Status::OK();  // stopping: the event is dropped
  }
}

}  // namespace

Status ProduceSimulated(const SimProducerOptions& options, ingest::KafkaProducer* producer,
                        const std::atomic<bool>& stop, std::atomic<int64_t>* produced) {
  sim::Simulator simulator(options.sim);
  std::vector<sim::SimEvent> batch;
  const SteadyClock::time_point start = SteadyClock::now();
  int64_t n = 0;
  while (!stop.load() && (options.max_events < 0 || n < options.max_events)) {
    batch.clear();
    simulator.NextRequest(&batch);
    for (const sim::SimEvent& e : batch) {
      if (stop.load() || (options.max_events >= 0 && n >= options.max_events)) break;
      Pace(options.rate, n, start, stop);
      if (stop.load()) break;
      RANKER_RETURN_IF_ERROR(ProduceOne(producer, options.topic, e, stop));
      ++n;
      produced->store(n);
    }
  }
  return Status::OK();
}

}  // namespace ranker::app
