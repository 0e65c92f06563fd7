// Training throughput of the standard model (contract §6: default
// ModelOptions and OptimizerOptions) at batch 1, 32 and 256, on one core;
// and at batch 32 per architecture (BM_TrainStepArch/<arch>/<ple_levels>,
// the standard shape otherwise; ple with its default 4 shared + 2 per task
// experts a level, as many as mmoe's 8). items_per_second = examples
// trained per second.
#include <benchmark/benchmark.h>

#include "bench/synthetic.h"
#include "learner/model.h"

namespace ranker::learner {
namespace {

void Train(benchmark::State& state, const ModelOptions& options, size_t batch) {
  const std::vector<Example> examples = bench::MakeExamples(std::max<size_t>(batch * 64, 8192), 42);
  auto model = Model::Create(options, OptimizerOptions());
  if (!model.ok()) {
    state.SkipWithError(model.status().ToString().c_str());
    return;
  }
  StepResult result;
  size_t offset = 0;
  // Warm-up: size the caches and create the common rows.
  for (int i = 0; i < 8; ++i) {
    (*model)->TrainStep(std::span(examples).subspan(offset, batch), &result);
    offset = (offset + batch) % (examples.size() - batch + 1);
  }
  for (auto _ : state) {
    (*model)->TrainStep(std::span(examples).subspan(offset, batch), &result);
    offset += batch;
    if (offset + batch > examples.size()) offset = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.counters["rows"] = static_cast<double>((*model)->embedding_rows());
}

void BM_TrainStep(benchmark::State& state) {
  Train(state, ModelOptions(), static_cast<size_t>(state.range(0)));
}

void BM_TrainStepArch(benchmark::State& state) {
  ModelOptions o;
  o.architecture = static_cast<Architecture>(state.range(0));
  o.ple_levels = static_cast<int>(state.range(1));
  Train(state, o, 32);
}

BENCHMARK(BM_TrainStepArch)
    ->Args({static_cast<int>(Architecture::kMmoe), 0})
    ->Args({static_cast<int>(Architecture::kOmoe), 0})
    ->Args({static_cast<int>(Architecture::kPle), 1})
    ->Args({static_cast<int>(Architecture::kPle), 2})
    ->MinTime(2.0)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrainStep)->Arg(1)->Arg(32)->Arg(256)->MinTime(2.0)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ranker::learner

BENCHMARK_MAIN();
