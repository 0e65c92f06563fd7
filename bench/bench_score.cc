// Serving latency: scoring 500 candidates for one request with the standard
// model (request-level features once, candidate columns per candidate);
// BM_Score/500/H with H pool helpers sharing the candidate blocks
// (http.score_threads = H + 1). Wall time (UseRealTime): a helper's CPU is
// not the caller's.
#include <benchmark/benchmark.h>

#include "bench/synthetic.h"
#include "learner/model.h"
#include "learner/scorer.h"

namespace ranker::learner {
namespace {

std::unique_ptr<Model> TrainedModel() {
  auto model = Model::Create(ModelOptions(), OptimizerOptions());
  if (!model.ok()) return nullptr;
  const std::vector<Example> examples = bench::MakeExamples(20000, 7);
  for (size_t i = 0; i + 256 <= examples.size(); i += 256) {
    (*model)->TrainStep(std::span(examples).subspan(i, 256));
  }
  return std::move(*model);
}

void BM_Score(benchmark::State& state) {
  const std::unique_ptr<Model> model = TrainedModel();
  if (model == nullptr) {
    state.SkipWithError("model creation failed");
    return;
  }
  WorkerPool pool(static_cast<int>(state.range(1)), "bench-score");
  const Scorer scorer(*model, &pool);
  Rng rng(99);
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<ScoreRequest> requests(16);
  std::vector<std::vector<Example>> candidates(16);
  for (size_t r = 0; r < requests.size(); ++r) {
    requests[r].shared = bench::MakeUser(&rng).features;
    for (size_t i = 0; i < n; ++i) candidates[r].push_back(bench::MakeCandidate(&rng));
  }
  ScoreResult result;
  size_t r = 0;
  for (auto _ : state) {
    scorer.Score(requests[r], candidates[r], &result);
    benchmark::DoNotOptimize(result.scores.data());
    r = (r + 1) % requests.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_Score)->Args({500, 0})->Args({500, 1})->MinTime(2.0)->UseRealTime()->Unit(
    benchmark::kMicrosecond);

// The unsplit reference path, for comparison.
void BM_ScoreExamplesUnsplit(benchmark::State& state) {
  const std::unique_ptr<Model> model = TrainedModel();
  const Scorer scorer(*model);
  const std::vector<Example> examples = bench::MakeExamples(500, 5);
  ScoreResult result;
  for (auto _ : state) {
    scorer.ScoreExamples(examples, &result);
    benchmark::DoNotOptimize(result.scores.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 500));
}
BENCHMARK(BM_ScoreExamplesUnsplit)->MinTime(2.0)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ranker::learner

BENCHMARK_MAIN();
