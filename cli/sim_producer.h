// Produces the simulated world's events to a Kafka topic (`ranker simulate
// --brokers`, `ranker demo`), keyed by request_id so that the events of one
// served list share a partition (contract §1). Paced by a token bucket on
// the wall clock at `rate` events/s, or as fast as the producer accepts
// them when rate is 0.
//
// Thread-safety: one thread runs ProduceSimulated(); `stop` and the
// counters may be read and written from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "base/status.h"
#include "ingest/kafka_producer.h"
#include "sim/sim_options.h"

namespace ranker::app {

struct SimProducerOptions {
  sim::SimOptions sim;
  std::string topic = "ranker.events";
  double rate = 0;          // events per second; 0 = as fast as possible
  int64_t max_events = -1;  // -1 = until stopped
};

// Produces until max_events were produced or `stop` becomes true;
// `*produced` counts them as they go. Retries while the producer's local
// queue is full; other producer errors end the run with that Status.
// REQUIRES: options.sim.Validate() is OK.
Status ProduceSimulated(const SimProducerOptions& options, ingest::KafkaProducer* producer,
                        const std::atomic<bool>& stop, std::atomic<int64_t>* produced);

}  // namespace ranker::app
