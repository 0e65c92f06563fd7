// Restoring N embedding rows into the standard model's table, as a snapshot
// restore streams them (keys ascending, ExportRow() bytes): row by row
// (EmbeddingTable::ImportRow, the path before bulk loading) against the bulk
// import (EmbeddingTable::BulkImport: buffered, then the trie built once
// with each leaf allocated at its final size). The table side only: the
// store's RocksDB iteration and row check come on top (bench_snapshot.cc).
// Both paths end with the same Digest (checked once per size).
//
//   ranker_bench_restore --benchmark_filter='/1000000|/3000000'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "base/random.h"
#include "learner/model.h"

namespace ranker::learner {
namespace {

// N rows of random keys, ascending, as one flat buffer of ExportRow() bytes.
struct Rows {
  std::vector<uint64_t> keys;
  std::string bytes;
  size_t row_bytes = 0;
  std::string_view Row(size_t i) const { return {bytes.data() + i * row_bytes, row_bytes}; }
};

const Rows& RowsOf(size_t n, int stride) {
  static std::unique_ptr<Rows> cached;
  if (cached != nullptr && cached->keys.size() == n) return *cached;
  cached.reset();
  auto rows = std::make_unique<Rows>();
  Rng rng(n);
  rows->keys.resize(n);
  for (uint64_t& k : rows->keys) k = Mix64(rng.NextU64());
  std::sort(rows->keys.begin(), rows->keys.end());
  rows->keys.erase(std::unique(rows->keys.begin(), rows->keys.end()), rows->keys.end());
  std::vector<Real> values(static_cast<size_t>(stride));
  for (uint64_t key : rows->keys) {
    for (Real& v : values) v = static_cast<Real>(rng.Uniform() - 0.5);
    const size_t before = rows->bytes.size();
    PutArray(&rows->bytes, values.data(), values.size());
    PutFixed64(&rows->bytes, key % 1000000);  // last-seen time
    rows->row_bytes = rows->bytes.size() - before;
  }
  cached = std::move(rows);
  return *cached;
}

std::unique_ptr<Model> EmptyModel() {
  auto model = Model::Create(ModelOptions(), OptimizerOptions());
  return model.ok() ? std::move(model).value() : nullptr;
}

uint64_t DigestOf(const EmbeddingTable& t) {
  Digest64 d;
  t.Digest(&d);
  return d.value();
}

template <bool kBulk>
void BM_Restore(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::unique_ptr<Model> model = EmptyModel();
  const EmbeddingTable& shape = model->embeddings();
  const Rows& rows = RowsOf(n, shape.dim() + shape.state_width());
  uint64_t digest = 0;
  for (auto _ : state) {
    state.PauseTiming();
    model = EmptyModel();  // the previous table is freed outside the timing
    state.ResumeTiming();
    EmbeddingTable* table = model->mutable_embeddings();
    if constexpr (kBulk) {
      EmbeddingTable::BulkImport bulk(table);
      for (size_t i = 0; i < rows.keys.size(); ++i) (void)bulk.Add(rows.keys[i], rows.Row(i));
      if (!bulk.Finish().ok()) state.SkipWithError("bulk import failed");
    } else {
      for (size_t i = 0; i < rows.keys.size(); ++i)
        (void)table->ImportRow(rows.keys[i], rows.Row(i));
    }
    benchmark::DoNotOptimize(table->size());
    state.PauseTiming();
    digest = DigestOf(*table);
    state.ResumeTiming();
  }
  // The two paths must agree: the low 32 bits of the digest, to compare by eye.
  state.counters["digest_lo32"] = static_cast<double>(digest & 0xffffffffu);
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_RestoreRowByRow(benchmark::State& state) { BM_Restore<false>(state); }
void BM_RestoreBulk(benchmark::State& state) { BM_Restore<true>(state); }

// Side by side per size, so the cached rows are built once per size.
BENCHMARK(BM_RestoreRowByRow)->Arg(100000)->Iterations(5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RestoreBulk)->Arg(100000)->Iterations(5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RestoreRowByRow)->Arg(1000000)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RestoreBulk)->Arg(1000000)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RestoreRowByRow)->Arg(3000000)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RestoreBulk)->Arg(3000000)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ranker::learner

BENCHMARK_MAIN();
