// Eigen's single-precision GEMM at the standard model's shapes (contract
// §6), on one core: the arithmetic ceiling of the training step and of
// scoring, and the check behind the build's -mtune choice (CMakeLists.txt
// RANKER_TUNE; BENCHMARKS.md "Tuning"). Reports GFLOP/s.
#include <benchmark/benchmark.h>

#include "learner/tensor.h"

namespace ranker::learner {
namespace {

// C[m x n] += A[m x k] * B[k x n], row-major like the learner's matrices.
void BM_Gemm(benchmark::State& state) {
  const Eigen::Index m = state.range(0), k = state.range(1), n = state.range(2);
  const Matrix a = Matrix::Random(m, k), b = Matrix::Random(k, n);
  Matrix c = Matrix::Zero(m, n);
  for (auto _ : state) {
    c.noalias() += a * b;
    benchmark::DoNotOptimize(c.data());
  }
  // A rate counter divides by the run's time: billions of FLOP per second.
  state.counters["GFLOP/s"] = benchmark::Counter(
      2e-9 * static_cast<double>(m * k * n) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemm)
    ->ArgNames({"m", "k", "n"})
    ->Args({256, 56, 1024})     // batch 256: first expert layer, non-shared columns
    ->Args({1024, 256, 56})     // its weight gradient
    ->Args({256, 128, 64})      // an expert's second layer
    ->Args({128, 56, 1024})     // scoring: a block of 128 candidates, first layer
    ->Args({128, 128, 64})      // scoring: an expert's second layer
    ->Args({1024, 1024, 1024})  // large square, for scale
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ranker::learner

BENCHMARK_MAIN();
