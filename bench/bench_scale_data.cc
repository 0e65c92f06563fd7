// Makes a `ranker serve --data-dir` directory holding one snapshot of the
// standard model with --rows embedding rows, quickly: the rows are created
// directly in the learner's table with random keys (as bench_scale.cc
// grows them; training would take hours at 10M rows), then one full
// snapshot is written through the service's own Snapshotter and RocksDB
// store, with no offsets (a service restoring it reads its topics from the
// start). For bench/scale_service.sh, which starts `ranker serve` on it.
//
// Usage: ranker_bench_scale_data --rows N --data-dir D [--config F]
// Prints the growth and write times, the RSS, and the snapshot's checksum.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "base/hash.h"
#include "cli/flags.h"
#include "service/pipeline.h"
#include "service/snapshotter.h"
#include "settings/config.h"

namespace ranker::bench {
namespace {

using Steady = std::chrono::steady_clock;

double SecondsSince(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

double RssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

// The same keys as bench_scale.cc's grown rows.
uint64_t GrownKey(uint64_t i) { return Mix64(i ^ 0x5ca1eULL); }

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "ranker_bench_scale_data: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  const std::vector<app::FlagSpec> specs = {
      {"rows", true, "embedding rows to create"},
      {"data-dir", true, "snapshot directory to write (created; must hold no snapshot)"},
      {"config", true, "config file (default: built-in defaults = config/bench.yaml)"}};
  StatusOr<app::Flags> flags = app::Flags::Parse(argc, argv, 1, specs);
  if (!flags.ok() || !flags->Has("rows") || !flags->Has("data-dir")) {
    std::fprintf(stderr, "usage: %s --rows N --data-dir D [--config F]\n%s", argv[0],
                 app::Flags::Usage(specs).c_str());
    return 2;
  }
  const uint64_t rows = std::strtoull(flags->Get("rows").c_str(), nullptr, 10);
  StatusOr<app::Config> config =
      app::LoadConfig({flags->Has("config") ? flags->Get("config") : "", {}, false});
  if (!config.ok()) return Fail("config", config.status());
  StatusOr<std::unique_ptr<app::LearningPipeline>> pipeline =
      app::LearningPipeline::Create(config->pipeline());
  if (!pipeline.ok()) return Fail("pipeline", pipeline.status());

  const Steady::time_point t0 = Steady::now();
  learner::EmbeddingTable* table =
      (*pipeline)->mutable_trainer()->mutable_model()->mutable_embeddings();
  for (uint64_t i = 0; i < rows; ++i) table->Mutable(GrownKey(i), 0);
  table->FoldDigest();
  table->ClearDirty(1);
  std::printf("grown %llu rows in %.1f s; RSS %.0f MB\n", static_cast<unsigned long long>(rows),
              SecondsSince(t0), RssMb());

  app::SnapshotOptions options;
  options.dir = flags->Get("data-dir");
  options.sync = true;
  StatusOr<std::unique_ptr<app::Snapshotter>> snapshots =
      app::Snapshotter::Open(options, SystemClock());
  if (!snapshots.ok()) return Fail("open " + options.dir, snapshots.status());
  if (!(*snapshots)->List().empty()) {
    return Fail(options.dir, Status::FailedPrecondition("already holds snapshots"));
  }
  const Steady::time_point t1 = Steady::now();
  const uint64_t id = (*snapshots)->Capture(pipeline->get(), {}, /*model_version=*/0);
  StatusOr<store::SnapshotInfo> info = (*snapshots)->Wait(id, std::chrono::minutes(30));
  if (!info.ok()) return Fail("snapshot", info.status());
  std::printf("snapshot %llu: %llu rows, %.0f MB, written in %.1f s; checksum %s; RSS %.0f MB\n",
              static_cast<unsigned long long>(id),
              static_cast<unsigned long long>(info->changed_rows),
              static_cast<double>(info->bytes) / 1e6, SecondsSince(t1),
              info->param_checksum.c_str(), RssMb());
  return 0;
}

}  // namespace
}  // namespace ranker::bench

int main(int argc, char** argv) { return ranker::bench::Main(argc, argv); }
