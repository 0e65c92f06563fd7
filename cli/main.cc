// ranker: a streaming online-learning ranker. One binary, many commands.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"serve", ranker::app::RunServe, "consume events from Kafka, learn, serve the HTTP API"},
    {"demo", ranker::app::RunDemo, "broker + simulated world + learner + dashboard in one process"},
    {"broker", ranker::app::RunBroker, "a standalone in-memory Kafka-protocol broker"},
    {"simulate", ranker::app::RunSimulate,
     "write the simulated world's events as NDJSON (or produce them to Kafka)"},
    {"replay", ranker::app::RunReplay, "train through the joiner and learner from NDJSON"},
    {"convert", ranker::app::RunConvert, "convert Census-Income or Open Bandit data to NDJSON"},
    {"config", ranker::app::RunConfig, "list config keys and defaults; check a config"},
};

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: ranker COMMAND [flags]   (ranker COMMAND --help)\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::string_view(argv[1]) == c.name) return c.run(argc, argv);
  }
  std::fprintf(stderr, "ranker: unknown command '%s'\n", argv[1]);
  PrintUsage(stderr);
  return 2;
}
