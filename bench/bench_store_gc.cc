// BM_RetainAfterDelta: garbage collection cost of RocksDbSnapshotStore::Retain against the table
// size: a full snapshot of --rows rows, then a chain of deltas of 1000
// changed rows each, Retain(5) after each (as the service does). The time
// is of Retain alone (manual timing). gc=1 is the keys-written path
// (rocksdb_rows.cc CollectGarbageOf), gc=0 the full scan of every row
// version it replaced (RocksDbStoreOptions::gc_full_scan). Run side by
// side: bench/snapshot_bench.sh does not cover it.
// BM_PutDelta: a delta Put's cost against the table size, with and without
// the row-key Bloom filter (RocksDbStoreOptions::row_bloom_bits): a delta of
// 10k rows, `new` percent of them rows the store has never seen (the rest
// replace stored rows), each looked up for the version it replaces
// (SubtractReplaced). The time is of Put alone; Retain(5) follows, untimed.
//   build-test/bench/ranker_bench_store_gc --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>

#include "base/hash.h"
#include "base/random.h"
#include "store/rocksdb_snapshot_store.h"

namespace ranker::store {
namespace {

std::string Bytes(uint64_t key, uint64_t gen, size_t size = 64) {
  std::string b(size, '\0');
  Rng rng(key * 1000003u + gen);
  for (char& c : b) c = static_cast<char>(rng.NextU64());
  return b;
}

// A store at `dir` holding snapshot 1 (full): for k < rows, row key(k)
// with Bytes(k, 1, row_bytes). nullptr (and the state's error) on failure.
template <typename KeyFn>
std::unique_ptr<RocksDbSnapshotStore> StoreWithBase(const std::filesystem::path& dir,
                                                    const RocksDbStoreOptions& o, uint64_t rows,
                                                    KeyFn key, size_t row_bytes,
                                                    benchmark::State& state) {
  std::filesystem::remove_all(dir);
  auto store = std::move(RocksDbSnapshotStore::Open(dir.string(), o)).value();
  Snapshot full;
  full.id = 1;
  full.dense_state = "dense";
  for (uint64_t k = 0; k < rows; ++k)
    full.changed_rows.emplace_back(key(k), Bytes(k, 1, row_bytes));
  if (!store->Put(full).ok()) state.SkipWithError("put failed");
  return store;
}

// The header of the delta that follows snapshot `id`.
Snapshot DeltaAfter(uint64_t id) {
  Snapshot delta;
  delta.id = id + 1;
  delta.base_id = id;
  delta.dense_state = "dense";
  return delta;
}

void BM_RetainAfterDelta(benchmark::State& state) {
  const uint64_t rows = static_cast<uint64_t>(state.range(0));
  const bool keys_written = state.range(1) != 0;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("ranker_bench_gc_" + std::to_string(::getpid()) + "_" +
                                     std::to_string(rows) + "_" + std::to_string(keys_written));
  {
    RocksDbStoreOptions o;
    o.sync = false;
    o.gc_full_scan = !keys_written;
    auto store = StoreWithBase(
        dir, o, rows, [](uint64_t k) { return k; }, 64, state);
    Rng rng(7);
    uint64_t id = 1;
    for (auto _ : state) {
      Snapshot delta = DeltaAfter(id);
      std::vector<bool> used(rows, false);
      while (delta.changed_rows.size() < 1000) {
        const uint64_t k = rng.NextU64() % rows;
        if (used[k]) continue;
        used[k] = true;
        delta.changed_rows.emplace_back(k, Bytes(k, delta.id));
      }
      if (!store->Put(delta).ok()) state.SkipWithError("put failed");
      id = delta.id;
      const auto start = std::chrono::steady_clock::now();
      if (!store->Retain(5).ok()) state.SkipWithError("retain failed");
      state.SetIterationTime(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    state.counters["versions_examined_per_retain"] =
        static_cast<double>(store->gc_versions_examined()) /
        static_cast<double>(state.iterations());
    state.counters["full_scans"] = static_cast<double>(store->gc_full_scans());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RetainAfterDelta)
    ->ArgNames({"rows", "gc"})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Args({1000000, 0})
    ->Args({1000000, 1})
    ->Iterations(20)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_PutDelta(benchmark::State& state) {
  const uint64_t rows = static_cast<uint64_t>(state.range(0));
  const int new_percent = static_cast<int>(state.range(1));
  const int bloom_bits = static_cast<int>(state.range(2));
  constexpr size_t kDeltaRows = 10000;
  constexpr size_t kRowBytes = 144;  // the standard row: 128 B of weights and state, and more
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("ranker_bench_put_" + std::to_string(::getpid()) + "_" + std::to_string(rows) + "_" +
       std::to_string(new_percent) + "_" + std::to_string(bloom_bits));
  {
    RocksDbStoreOptions o;
    o.sync = false;
    o.row_bloom_bits = bloom_bits;
    // Row keys are hashes (as the model's are): stored ones even, new ones
    // odd, both spread over the whole key space.
    const auto stored = [](uint64_t k) { return Mix64(k) & ~uint64_t{1}; };
    auto store = StoreWithBase(dir, o, rows, stored, kRowBytes, state);
    Rng rng(7);
    uint64_t id = 1;
    for (auto _ : state) {
      Snapshot delta = DeltaAfter(id);
      for (size_t i = 0; i < kDeltaRows; ++i) {
        const bool is_new = static_cast<int>(rng.NextU64() % 100) < new_percent;
        const uint64_t k = is_new ? rng.NextU64() | 1 : stored(rng.NextU64() % rows);
        delta.changed_rows.emplace_back(k, Bytes(k, delta.id, kRowBytes));
      }
      std::sort(delta.changed_rows.begin(), delta.changed_rows.end());
      delta.changed_rows.erase(
          std::unique(delta.changed_rows.begin(), delta.changed_rows.end(),
                      [](const auto& a, const auto& b) { return a.first == b.first; }),
          delta.changed_rows.end());
      const auto start = std::chrono::steady_clock::now();
      if (!store->Put(delta).ok()) state.SkipWithError("put failed");
      state.SetIterationTime(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      id = delta.id;
      if (!store->Retain(5).ok()) state.SkipWithError("retain failed");
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kDeltaRows));
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_PutDelta)
    ->ArgNames({"rows", "new", "bloom"})
    ->ArgsProduct({{1000000, 3000000}, {100, 0}, {0, 10}})
    ->Iterations(20)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ranker::store

BENCHMARK_MAIN();
