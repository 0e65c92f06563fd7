// `ranker broker`: librdkafka's in-memory mock cluster as a standalone
// Kafka-protocol broker for development and tests (contract §4). Prints its
// bootstrap address on stdout (one line) and runs until SIGINT/SIGTERM.
//
// --port P: librdkafka 2.0.2's mock binds kernel-chosen ports only, so a
// fixed port is a TCP forwarder on 127.0.0.1:P to the mock broker.
// Clients bootstrap through it, then follow the brokers' advertised
// 127.0.0.1:<random> addresses (so they must run on this host).
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "cli/tcp_forwarder.h"
#include "ingest/kafka_mock_cluster.h"

namespace ranker::app {
namespace {

const char kUsage[] = "ranker broker [--port P] [--partitions N] [--topic T] [--brokers B]";

int Fail(const Status& s, int code) {
  std::fprintf(stderr, "ranker broker: %s\n", s.message().c_str());
  return code;
}

// "127.0.0.1:1234" -> port of the first broker.
StatusOr<uint16_t> FirstBrokerPort(const std::string& bootstrap) {
  const std::string first = bootstrap.substr(0, bootstrap.find(','));
  const size_t colon = first.rfind(':');
  if (colon == std::string::npos) return Status::Internal("bootstrap '" + bootstrap + "'");
  return static_cast<uint16_t>(std::stoi(first.substr(colon + 1)));
}

}  // namespace

int RunBroker(int argc, char** argv) {
  BlockTerminationSignals();
  const std::vector<FlagSpec> specs = {
      {"port", true, "fixed bootstrap port on 127.0.0.1 (a forwarder to the mock broker)"},
      {"partitions", true, "partitions of the events topic (default 3)"},
      {"topic", true, "the events topic to create (default ranker.events)"},
      {"brokers", true, "number of mock brokers (default 1)"},
      {"help", false, "show this help"},
  };
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, kUsage, specs, &flags, &code)) return code;
  StatusOr<int64_t> port = flags.GetInt("port", 0);
  StatusOr<int64_t> partitions = flags.GetInt("partitions", 3);
  StatusOr<int64_t> brokers = flags.GetInt("brokers", 1);
  for (const Status* s : {&port.status(), &partitions.status(), &brokers.status()}) {
    if (!s->ok()) return Fail(*s, 2);
  }
  if (*port < 0 || *port > 65535) return Fail(Status::InvalidArgument("--port: out of range"), 2);
  ingest::KafkaMockClusterOptions options;
  options.num_brokers = static_cast<int>(*brokers);
  StatusOr<std::unique_ptr<ingest::KafkaMockCluster>> cluster =
      ingest::KafkaMockCluster::Create(options);
  if (!cluster.ok()) return Fail(cluster.status(), 2);
  const std::string topic = flags.Get("topic", "ranker.events");
  if (Status s = (*cluster)->CreateTopic(topic, static_cast<int>(*partitions)); !s.ok()) {
    return Fail(s, 2);
  }
  std::unique_ptr<TcpForwarder> forwarder;
  std::string address = (*cluster)->bootstrap();
  if (flags.Has("port")) {
    StatusOr<uint16_t> target = FirstBrokerPort(address);
    if (!target.ok()) return Fail(target.status(), 1);
    auto created = TcpForwarder::Create(static_cast<uint16_t>(*port), "127.0.0.1", *target);
    if (!created.ok()) return Fail(created.status(), 1);
    forwarder = std::move(created).value();
    address = "127.0.0.1:" + std::to_string(forwarder->port());
  }
  std::printf("%s\n", address.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "ranker broker: topic %s with %lld partitions; Ctrl-C stops\n",
               topic.c_str(), static_cast<long long>(*partitions));
  while (!WaitForTermination(std::chrono::milliseconds(1000))) {
  }
  return 0;
}

}  // namespace ranker::app
