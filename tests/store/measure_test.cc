// Rough cost of snapshots of the standard model's embedding table: 1,000,000
// rows of 16 floats + 16 floats of optimizer state. Not a test: run with
//   ranker_store_tests --gtest_also_run_disabled_tests --gtest_filter='*Measure*'
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "base/hash.h"
#include "base/random.h"
#include "store/rocksdb_snapshot_store.h"
#include "tests/store/store_test_util.h"

namespace ranker::store {
namespace {

constexpr size_t kRows = 1000000;
constexpr size_t kRowBytes = 32 * sizeof(float);

std::string RandomRow(Rng* rng) {
  std::string bytes(kRowBytes, '\0');
  for (size_t i = 0; i < kRowBytes; i += 8) {
    const uint64_t v = rng->NextU64();
    std::memcpy(bytes.data() + i, &v, 8);
  }
  return bytes;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// Wall seconds of f(); *cpu: the process's CPU seconds meanwhile (RocksDB's
// background threads included), the figure that matters on a shared machine.
template <typename F>
double Seconds(F&& f, double* cpu) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = CpuSeconds();
  f();
  *cpu = CpuSeconds() - c0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(Measure, DISABLED_MillionRowSnapshots) {
  testing::TempDir dir;
  auto opened = RocksDbSnapshotStore::Open(dir.path());
  ASSERT_TRUE(opened.ok());
  RocksDbSnapshotStore& store = **opened;
  Rng rng(7);
  Snapshot full = testing::Header(1, 0);
  full.dense_state.assign(8 << 20, 'd');  // ~ the dense model + optimizer
  for (uint64_t k = 0; k < kRows; ++k) full.changed_rows.emplace_back(Mix64(k), RandomRow(&rng));
  double cpu = 0;
  double t = Seconds([&] { ASSERT_TRUE(store.Put(full).ok()); }, &cpu);
  std::printf("full Put: %.2f s (cpu %.2f s), payload %.1f MB, dir %.1f MB\n", t, cpu,
              PayloadBytes(full) / 1e6, DirBytes(dir.path()) / 1e6);
  for (uint64_t id = 2; id <= 3; ++id) {
    Snapshot delta = testing::Header(id, id - 1);
    delta.dense_state = full.dense_state;
    for (uint64_t k = 0; k < kRows / 100; ++k) {
      delta.changed_rows.emplace_back(Mix64(rng.Below(kRows)), RandomRow(&rng));
    }
    std::sort(delta.changed_rows.begin(), delta.changed_rows.end());
    delta.changed_rows.erase(
        std::unique(delta.changed_rows.begin(), delta.changed_rows.end(),
                    [](const Row& a, const Row& b) { return a.first == b.first; }),
        delta.changed_rows.end());
    t = Seconds([&] { ASSERT_TRUE(store.Put(delta).ok()); }, &cpu);
    std::printf("1%% delta Put: %.3f s (cpu %.3f s), payload %.2f MB, dir %.1f MB\n", t, cpu,
                PayloadBytes(delta) / 1e6, DirBytes(dir.path()) / 1e6);
  }
  StatusOr<Snapshot> got = Status::NotFound("");
  t = Seconds([&] { got = store.Get(3); }, &cpu);
  ASSERT_TRUE(got.ok());
  std::printf("Get (verify + materialise %zu rows): %.2f s (cpu %.2f s)\n",
              got->changed_rows.size(), t, cpu);
  t = Seconds([&] { ASSERT_TRUE(store.Retain(1).ok()); }, &cpu);
  std::printf("Retain(1) (GC scan): %.2f s (cpu %.2f s)\n", t, cpu);
}

}  // namespace
}  // namespace ranker::store
