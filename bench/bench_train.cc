// Training throughput of the standard model (contract §6: default
// ModelOptions and OptimizerOptions) at batch 1, 32 and 256, on one core.
// items_per_second = examples trained per second.
#include <benchmark/benchmark.h>

#include "bench/synthetic.h"
#include "learner/model.h"

namespace ranker::learner {
namespace {

void BM_TrainStep(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  const std::vector<Example> examples = bench::MakeExamples(std::max<size_t>(batch * 64, 8192), 42);
  auto model = Model::Create(ModelOptions(), OptimizerOptions());
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
BENCHMARK(BM_TrainStep)->Arg(1)->Arg(32)->Arg(256)->MinTime(2.0)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ranker::learner

BENCHMARK_MAIN();
