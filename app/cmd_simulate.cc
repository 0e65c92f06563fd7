// `ranker simulate`: the simulated world's events as NDJSON (contract §4),
// each impression with its ground truth in truth{}.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "app/cli_common.h"
#include "app/commands.h"
#include "sim/simulator.h"

namespace ranker::app {
namespace {

const char kUsage[] =
    "ranker simulate --events N --seed S [--out F] [--conflict C] [--epsilon E] "
    "[--users U] [--items I] [--ctr P]";

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
      {"help", false, "show this help"},
  };
}

// Applies the optional world flags to *options.
Status ApplySimFlags(const Flags& flags, sim::SimOptions* o) {
  StatusOr<int64_t> seed = flags.GetInt("seed", 1);
  StatusOr<double> conflict = flags.GetDouble("conflict", o->conflict);
  StatusOr<double> epsilon = flags.GetDouble("epsilon", o->epsilon);
  StatusOr<int64_t> users = flags.GetInt("users", o->users);
  StatusOr<int64_t> items = flags.GetInt("items", o->items);
  StatusOr<double> ctr = flags.GetDouble("ctr", o->target_ctr);
  for (const Status* s : {&seed.status(), &conflict.status(), &epsilon.status(), &users.status(),
                          &items.status(), &ctr.status()}) {
    if (!s->ok()) return *s;
  }
  o->seed = static_cast<uint64_t>(*seed);
  o->conflict = *conflict;
  o->epsilon = *epsilon;
  o->users = static_cast<int>(*users);
  o->items = static_cast<int>(*items);
  o->target_ctr = *ctr;
  return o->Validate();
}

}  // namespace

int RunSimulate(int argc, char** argv) {
  const std::vector<FlagSpec> specs = SimulateFlags();
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, kUsage, specs, &flags, &code)) return code;
  StatusOr<int64_t> events = flags.GetInt("events", -1);
  if (!events.ok() || *events < 0) {
    std::fprintf(stderr, "ranker simulate: --events N (N >= 0) is required\nusage: %s\n", kUsage);
    return 2;
  }
  sim::SimOptions options;
  if (Status s = ApplySimFlags(flags, &options); !s.ok()) {
    std::fprintf(stderr, "ranker simulate: %s\n", s.message().c_str());
    return 2;
  }
  std::ofstream file;
  if (flags.Has("out")) {
    file.open(flags.Get("out"), std::ios::binary | std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "ranker simulate: --out %s: cannot open\n", flags.Get("out").c_str());
      return 1;
    }
  }
  std::ios::sync_with_stdio(false);
  Status s = sim::WriteNdjson(options, *events, flags.Has("out") ? file : std::cout);
  if (!s.ok()) {
    std::fprintf(stderr, "ranker simulate: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace ranker::app
