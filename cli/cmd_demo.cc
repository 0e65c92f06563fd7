// `ranker demo`: the embedded default (contract §4). One process holds an
// in-memory Kafka-protocol broker (librdkafka's mock cluster), the simulated
// world producing impressions/clicks/watches into it at a steady rate, the
// service learning from it, and the HTTP API with the dashboard. A progress
// line is printed every second; Ctrl-C stops everything cleanly.
#include <atomic>
#include <cstdio>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/service_cli.h"
#include "cli/signals.h"
#include "cli/sim_producer.h"
#include "ingest/kafka_mock_cluster.h"
#include "replication/service_replication.h"
#include "service/service.h"

namespace ranker::app {
namespace {

const char kUsage[] =
    "ranker demo [--http ADDR:PORT] [--rate R] [--partitions N] [--seed S] [--config F] [--set "
    "k=v]...";

int Fail(const Status& s, int code) {
  std::fprintf(stderr, "ranker demo: %s\n", s.message().c_str());
  return code;
}

struct DemoFlags {
  double rate = 2000;
  int64_t partitions = 3;
  int64_t seed = 1;
};

StatusOr<DemoFlags> ReadDemoFlags(const Flags& flags, Config* config) {
  DemoFlags d;
  StatusOr<double> rate = flags.GetDouble("rate", d.rate);
  StatusOr<int64_t> partitions = flags.GetInt("partitions", d.partitions);
  StatusOr<int64_t> seed = flags.GetInt("seed", d.seed);
  for (const Status* s : {&rate.status(), &partitions.status(), &seed.status()}) {
    if (!s->ok()) return *s;
  }
  if (*rate < 0) return Status::InvalidArgument("--rate: must be >= 0");
  if (*partitions < 1) return Status::InvalidArgument("--partitions: must be >= 1");
  d = {*rate, *partitions, *seed};
  if (flags.Has("http")) RANKER_RETURN_IF_ERROR(ApplyHttpFlag(flags.Get("http"), config));
  return d;
}

// Runs the service until a signal; prints progress every second.
void RunUntilSignal(const Service& service, const std::atomic<int64_t>& produced) {
  ProgressReporter progress(&service);
  while (!WaitForTermination(std::chrono::milliseconds(1000))) {
    std::printf("[demo] produced %lld | %s\n", static_cast<long long>(produced.load()),
                progress.Line(SystemClock()->NowMs()).c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int RunDemo(int argc, char** argv) {
  BlockTerminationSignals();
  std::vector<FlagSpec> specs = ConfigFlagSpecs();
  specs.push_back({"http", true, "listen address ADDR:PORT (default 127.0.0.1:8080)"});
  specs.push_back(
      {"rate", true, "simulated events per second (default 2000; 0 = as fast as possible)"});
  specs.push_back({"partitions", true, "partitions of the events topic (default 3)"});
  specs.push_back({"seed", true, "seed of the simulated world (default 1)"});
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, kUsage, specs, &flags, &code)) return code;
  Config config;
  if (!LoadConfigFromFlags(flags, &config)) return 2;
  StatusOr<DemoFlags> demo = ReadDemoFlags(flags, &config);
  if (!demo.ok()) return Fail(demo.status(), 2);

  StatusOr<std::unique_ptr<ingest::KafkaMockCluster>> cluster = ingest::KafkaMockCluster::Create();
  if (!cluster.ok()) return Fail(cluster.status(), 1);
  const std::string& bootstrap = (*cluster)->bootstrap();
  if (Status s = (*cluster)->CreateTopic(config.service.topic, static_cast<int>(demo->partitions));
      !s.ok()) {
    return Fail(s, 1);
  }
  config.service.brokers = bootstrap;
  // The mock answers fetches only after fetch.wait.max.ms (500 ms by
  // default) when little data is waiting: keep the demo's model fresh.
  config.kafka.emplace("fetch.wait.max.ms", "20");
  StatusOr<std::unique_ptr<Service>> service =
      Service::Create(config, SystemClock(), ModelTopicReplication());
  if (!service.ok()) return Fail(service.status(), 2);
  ingest::KafkaProducerOptions po;
  po.brokers = bootstrap;
  po.kafka["compression.type"] = "lz4";  // as `ranker simulate --brokers` (see there)
  StatusOr<std::unique_ptr<ingest::KafkaProducer>> producer = ingest::KafkaProducer::Create(po);
  if (!producer.ok()) return Fail(producer.status(), 1);
  if (Status s = (*service)->Start(); !s.ok()) return Fail(s, 1);

  std::printf("ranker demo: broker %s, topic %s (%lld partitions), simulating %.0f events/s\n",
              bootstrap.c_str(), config.service.topic.c_str(),
              static_cast<long long>(demo->partitions), demo->rate);
  std::printf("ranker demo: dashboard at %s   (Ctrl-C stops)\n", ServiceUrl(**service).c_str());
  std::fflush(stdout);

  SimProducerOptions sim;
  sim.sim.seed = static_cast<uint64_t>(demo->seed);
  sim.topic = config.service.topic;
  sim.rate = demo->rate;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> produced{0};
  Status sim_status;
  std::thread simulator(
      [&] { sim_status = ProduceSimulated(sim, producer->get(), stop, &produced); });
  RunUntilSignal(**service, produced);
  std::printf("ranker demo: stopping\n");
  stop.store(true);
  simulator.join();
  (void)(*producer)->Flush(std::chrono::milliseconds(2000));
  (*service)->Stop();
  if (!sim_status.ok()) return Fail(sim_status, 1);
  return 0;
}

}  // namespace ranker::app
