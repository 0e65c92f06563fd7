// `ranker serve`: consume, learn, serve (contract §4). Runs until SIGINT or
// SIGTERM, then drains (Service::Stop) and exits 0.
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/service_cli.h"
#include "cli/signals.h"
#include "replication/service_replication.h"
#include "service/service.h"

namespace ranker::app {
namespace {

const char kUsage[] =
    "ranker serve [--config F] [--set k=v]... [--brokers H:P,..] [--data-dir D] [--http ADDR:PORT] "
    "[--role leader|follower]";

// --brokers, --http and --data-dir on top of the loaded config.
Status ApplyServeFlags(const Flags& flags, Config* config) {
  if (flags.Has("brokers")) config->service.brokers = flags.Get("brokers");
  if (flags.Has("role")) config->service.role = flags.Get("role");
  if (flags.Has("http")) RANKER_RETURN_IF_ERROR(ApplyHttpFlag(flags.Get("http"), config));
  if (flags.Has("data-dir")) {
    std::error_code ec;
    std::filesystem::create_directories(flags.Get("data-dir"), ec);
    if (ec) return Status::IOError("--data-dir " + flags.Get("data-dir") + ": " + ec.message());
    config->service.snapshot.dir = flags.Get("data-dir");
  }
  return config->Validate();
}

}  // namespace

int RunServe(int argc, char** argv) {
  BlockTerminationSignals();
  std::vector<FlagSpec> specs = ConfigFlagSpecs();
  specs.push_back(
      {"brokers", true, "Kafka bootstrap servers (ingest.brokers); none: POST /v1/events only"});
  specs.push_back(
      {"data-dir", true, "directory of the RocksDB snapshots (snapshot.dir; created if missing)"});
  specs.push_back({"role", true,
                   "leader (learn, publish the model topic) or follower (serve the model topic; "
                   "service.role)"});
  specs.push_back(
      {"http", true, "listen address ADDR:PORT (default 127.0.0.1:8080; port 0 = any)"});
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, kUsage, specs, &flags, &code)) return code;
  Config config;
  if (!LoadConfigFromFlags(flags, &config)) return 2;
  if (Status s = ApplyServeFlags(flags, &config); !s.ok()) {
    std::fprintf(stderr, "ranker serve: %s\n", s.message().c_str());
    return 2;
  }
  StatusOr<std::unique_ptr<Service>> service =
      Service::Create(config, SystemClock(), ModelTopicReplication());
  if (!service.ok()) {
    std::fprintf(stderr, "ranker serve: %s\n", service.status().message().c_str());
    return 2;
  }
  if (Status s = (*service)->Start(); !s.ok()) {
    std::fprintf(stderr, "ranker serve: %s\n", s.message().c_str());
    return 1;
  }
  if (config.service.http_enabled) std::printf("listening on %s\n", ServiceUrl(**service).c_str());
  if (config.service.follower()) {
    std::printf("following %s @ %s\n", config.service.model_topic.name.c_str(),
                config.service.brokers.c_str());
  } else {
    std::printf("learning from %s\n",
                config.service.brokers.empty()
                    ? "POST /v1/events (no broker)"
                    : (config.service.topic + " @ " + config.service.brokers).c_str());
  }
  std::fflush(stdout);
  while (!WaitForTermination(std::chrono::milliseconds(1000))) {
  }
  std::fprintf(stderr, "ranker serve: stopping (draining the queue, final publish, commit)\n");
  (*service)->Stop();
  const auto last = (*service)->Latest();
  if (last != nullptr) {
    std::fprintf(stderr, "ranker serve: stopped at model version %llu, %lld events consumed\n",
                 static_cast<unsigned long long>(last->version),
                 static_cast<long long>(last->events_consumed));
  }
  return 0;
}

}  // namespace ranker::app
