// `ranker simulate`: the simulated world's events as NDJSON (contract §4),
// each impression with its ground truth in truth{}; or, with --brokers,
// produced to a Kafka topic keyed by request_id, paced at --rate events/s.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "cli/sim_producer.h"
#include "sim/mmoe_synthetic.h"
#include "sim/simulator.h"

namespace ranker::app {
namespace {

const char kUsage[] =
    "ranker simulate --events N --seed S [--out F] [--conflict C] [--epsilon E] "
    "[--users U] [--items I] [--ctr P] [--delay-tail S] [--start-ms MS|now]\n"
    "       ranker simulate --brokers H:P [--topic T] [--rate R] [--events N] [--seed S] ...\n"
    "       ranker simulate --mmoe-synthetic --correlation P --events N [--seed S] [--dim D] "
    "[--out F]";

std::vector<FlagSpec> SimulateFlags() {
  return {
      {"events", true, "number of events to write (impressions, clicks, watches)"},
      {"seed", true, "seed of the world and the stream (default 1)"},
      {"out", true, "output file (default: standard output)"},
      {"conflict", true, "0..1: how unrelated watch time is to click attraction (default 0.5)"},
      {"epsilon", true, "fraction of randomly shuffled slates (default 0.1)"},
      {"users", true, "number of users (default 5000)"},
      {"items", true, "number of items (default 2000)"},
      {"ctr", true, "target click-through rate of logged slates (default 0.05)"},
      {"delay-tail", true,
       "log-sd of a long tail of click delays (lognormal, median 5 s, uncapped; 1.5 puts ~5% "
       "beyond 60 s); default 0: delays capped inside the 60 s window"},
      {"start-ms", true,
       "event time of the first request, ms since the epoch, or `now` (default 1700000000000)"},
      {"brokers", true, "produce to Kafka at these bootstrap servers instead of writing NDJSON"},
      {"topic", true, "topic to produce to (default ranker.events)"},
      {"rate", true, "events per second when producing (default 0 = as fast as possible)"},
      {"set", true, "with --brokers: a kafka.* producer property, e.g. kafka.acks=1 (repeatable)"},
      {"mmoe-synthetic", false,
       "write Ma et al. 2018's synthetic two-regression-task stream instead (example events, "
       "labels y1 y2, dense x0..x<dim-1>; train with tasks=y1:regression:1:1:none,"
       "y2:regression:1:1:none and model.dense_slots=dim)"},
      {"correlation", true, "with --mmoe-synthetic: the tasks' correlation p in [-1, 1]"},
      {"dim", true, "with --mmoe-synthetic: dense inputs per example (default 100)"},
      {"help", false, "show this help"},
  };
}

// --start-ms: a number, or `now` (a long-running producer whose event time
// must stay ahead of what a restarted learner has already seen).
Status ApplyStartMs(const Flags& flags, sim::SimOptions* o) {
  if (flags.Get("start-ms") == "now") {
    o->start_ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return Status::OK();
  }
  StatusOr<int64_t> start = flags.GetInt("start-ms", o->start_ts_ms);
  if (!start.ok()) return start.status();
  if (*start < 0) return Status::InvalidArgument("--start-ms: must be >= 0 or `now`");
  o->start_ts_ms = *start;
  return Status::OK();
}

// Applies the optional world flags to *options.
Status ApplySimFlags(const Flags& flags, sim::SimOptions* o) {
  RANKER_RETURN_IF_ERROR(ApplyStartMs(flags, o));
  StatusOr<int64_t> seed = flags.GetInt("seed", 1);
  StatusOr<double> conflict = flags.GetDouble("conflict", o->conflict);
  StatusOr<double> epsilon = flags.GetDouble("epsilon", o->epsilon);
  StatusOr<int64_t> users = flags.GetInt("users", o->users);
  StatusOr<int64_t> items = flags.GetInt("items", o->items);
  StatusOr<double> ctr = flags.GetDouble("ctr", o->target_ctr);
  StatusOr<double> tail = flags.GetDouble("delay-tail", o->click_delay_tail_sigma);
  for (const Status* s : {&seed.status(), &conflict.status(), &epsilon.status(), &users.status(),
                          &items.status(), &ctr.status(), &tail.status()}) {
    if (!s->ok()) return *s;
  }
  o->seed = static_cast<uint64_t>(*seed);
  o->conflict = *conflict;
  o->epsilon = *epsilon;
  o->users = static_cast<int>(*users);
  o->items = static_cast<int>(*items);
  o->target_ctr = *ctr;
  o->click_delay_tail_sigma = *tail;
  return o->Validate();
}

// Produces until --events are out (or forever without --events) or
// SIGINT/SIGTERM; flushes before returning.
int ProduceToKafka(const Flags& flags, const sim::SimOptions& sim_options, int64_t events) {
  ingest::KafkaProducerOptions po;
  po.brokers = flags.Get("brokers");
  // Event JSON compresses ~4x: a broker keeps 4x the backlog in the same
  // bytes (the mock cluster keeps only 5 MB per partition). --set
  // kafka.compression.type=none turns it off.
  po.kafka["compression.type"] = "lz4";
  for (const std::string& kv : flags.All("set")) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || kv.rfind("kafka.", 0) != 0) {
      std::fprintf(stderr, "ranker simulate: --set %s: expected kafka.<property>=value\n",
                   kv.c_str());
      return 2;
    }
    po.kafka[kv.substr(6, eq - 6)] = kv.substr(eq + 1);
  }
  StatusOr<double> rate = flags.GetDouble("rate", 0);
  if (!rate.ok() || *rate < 0) {
    std::fprintf(stderr, "ranker simulate: --rate must be a number >= 0\n");
    return 2;
  }
  StatusOr<std::unique_ptr<ingest::KafkaProducer>> producer = ingest::KafkaProducer::Create(po);
  if (!producer.ok()) {
    std::fprintf(stderr, "ranker simulate: %s\n", producer.status().message().c_str());
    return 2;
  }
  SimProducerOptions options;
  options.sim = sim_options;
  options.topic = flags.Get("topic", "ranker.events");
  options.rate = *rate;
  options.max_events = events;
  std::atomic<bool> stop{false}, done{false};
  std::atomic<int64_t> produced{0};
  Status status;
  std::thread worker([&] {
    status = ProduceSimulated(options, producer->get(), stop, &produced);
    done.store(true);
  });
  while (!done.load()) {
    if (WaitForTermination(std::chrono::milliseconds(100))) stop.store(true);
  }
  worker.join();
  const Status flushed = (*producer)->Flush(std::chrono::milliseconds(30000));
  const ingest::ProducerCounters c = (*producer)->Counters();
  std::fprintf(stderr, "ranker simulate: produced %lld events (%llu delivered, %llu failed)\n",
               static_cast<long long>(produced.load()),
               static_cast<unsigned long long>(c.delivered),
               static_cast<unsigned long long>(c.failed));
  if (!status.ok() || !flushed.ok() || c.failed > 0) {
    std::fprintf(stderr, "ranker simulate: %s\n",
                 (!status.ok()    ? status
                  : !flushed.ok() ? flushed
                                  : Status::IOError(c.last_error))
                     .message()
                     .c_str());
    return 1;
  }
  return 0;
}

// --mmoe-synthetic: the stream of sim/mmoe_synthetic.h.
int WriteSynthetic(const Flags& flags, int64_t events, std::ostream& out) {
  sim::SyntheticOptions o;
  o.rows = events;
  StatusOr<double> correlation = flags.GetDouble("correlation", o.correlation);
  StatusOr<int64_t> dim = flags.GetInt("dim", o.dim);
  StatusOr<int64_t> seed = flags.GetInt("seed", 1);
  Status s = !correlation.ok() ? correlation.status() : !dim.ok() ? dim.status() : seed.status();
  if (s.ok()) {
    o.correlation = *correlation;
    o.dim = static_cast<int>(*dim);
    o.seed = static_cast<uint64_t>(*seed);
    s = sim::WriteSyntheticNdjson(o, out);
  }
  if (!s.ok()) std::fprintf(stderr, "ranker simulate: %s\n", s.message().c_str());
  return s.ok() ? 0 : (s.code() == Status::Code::kInvalidArgument ? 2 : 1);
}

}  // namespace

int RunSimulate(int argc, char** argv) {
  const std::vector<FlagSpec> specs = SimulateFlags();
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, kUsage, specs, &flags, &code)) return code;
  StatusOr<int64_t> events = flags.GetInt("events", -1);
  const bool to_kafka = flags.Has("brokers");
  if (to_kafka) BlockTerminationSignals();  // before the producer's threads
  if (!events.ok() || (*events < 0 && !to_kafka)) {
    std::fprintf(stderr, "ranker simulate: --events N (N >= 0) is required\nusage: %s\n", kUsage);
    return 2;
  }
  sim::SimOptions options;
  if (Status s = ApplySimFlags(flags, &options); !s.ok()) {
    std::fprintf(stderr, "ranker simulate: %s\n", s.message().c_str());
    return 2;
  }
  if (to_kafka) return ProduceToKafka(flags, options, *events);
  std::ofstream file;
  if (flags.Has("out")) {
    file.open(flags.Get("out"), std::ios::binary | std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "ranker simulate: --out %s: cannot open\n", flags.Get("out").c_str());
      return 1;
    }
  }
  std::ios::sync_with_stdio(false);
  if (flags.Has("mmoe-synthetic")) {
    return WriteSynthetic(flags, *events, flags.Has("out") ? file : std::cout);
  }
  Status s = sim::WriteNdjson(options, *events, flags.Has("out") ? file : std::cout);
  if (!s.ok()) {
    std::fprintf(stderr, "ranker simulate: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace ranker::app
