// RowTrie: a persistent hash trie. Every write leaves copies unchanged;
// splits and removals keep every row against a std::map oracle.
#include "learner/row_trie.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "base/hash.h"
#include "base/random.h"

namespace ranker::learner {
namespace {

using Oracle = std::map<uint64_t, std::pair<Real, int64_t>>;

void Put(RowTrie* t, uint64_t key, Real v, int64_t seen) {
  RowTrie::Row r = t->Mutable(key);
  if (r.values == nullptr) r = t->Insert(key);
  for (int i = 0; i < t->width(); ++i) r.values[i] = v + static_cast<Real>(i);
  *r.last_seen = seen;
}

// Every row of the oracle is in the trie with its values, and no other.
void ExpectEqual(const RowTrie& t, const Oracle& oracle) {
  ASSERT_EQ(t.size(), oracle.size());
  for (const auto& [key, row] : oracle) {
    const RowTrie::ConstRow r = t.Find(key);
    ASSERT_NE(r.values, nullptr) << key;
    for (int i = 0; i < t.width(); ++i) ASSERT_EQ(r.values[i], row.first + static_cast<Real>(i));
    ASSERT_EQ(*r.last_seen, row.second);
  }
  size_t visited = 0;
  t.ForEach([&](uint64_t key, RowTrie::ConstRow) {
    ++visited;
    EXPECT_TRUE(oracle.contains(key));
  });
  EXPECT_EQ(visited, oracle.size());
}

TEST(RowTrie, SplitsUnderManyInsertsAndKeepsEveryRow) {
  RowTrie t(3);
  Oracle oracle;
  for (uint64_t k = 0; k < 20000; ++k) {
    Put(&t, k, static_cast<Real>(k), static_cast<int64_t>(k));  // small keys: Mix64 spreads them
    oracle[k] = {static_cast<Real>(k), static_cast<int64_t>(k)};
  }
  ExpectEqual(t, oracle);
  const RowTrie::Stats s = t.ComputeStats();
  EXPECT_GE(s.max_depth, 3);
  EXPECT_GE(s.leaves, 20000u / RowTrie::kLeafRows);
  EXPECT_EQ(t.Find(20000).values, nullptr);
}

TEST(RowTrie, RandomWritesAndErasesMatchAnOracle) {
  RowTrie t(2);
  Oracle oracle;
  Rng rng(5);
  for (int step = 0; step < 60000; ++step) {
    const uint64_t key = Mix64(rng.Below(3000));
    if (rng.Bernoulli(0.3)) {
      EXPECT_EQ(t.Erase(key), oracle.erase(key) == 1);
    } else {
      const auto v = static_cast<Real>(step);
      Put(&t, key, v, step);
      oracle[key] = {v, step};
    }
  }
  ExpectEqual(t, oracle);
  for (const auto& [key, row] : oracle) ASSERT_TRUE(t.Erase(key));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.ComputeStats().inner_nodes, 0u);  // empty inner nodes go
}

// A copy is a version: the writes after it (changes, inserts that split
// leaves, erases) never show in it, and dropping it frees nothing the
// writer still uses.
TEST(RowTrie, CopiesStayUnchangedUnderLaterWrites) {
  RowTrie t(2);
  Oracle oracle;
  Rng rng(9);
  std::vector<std::pair<RowTrie, Oracle>> versions;
  for (int step = 0; step < 40000; ++step) {
    const uint64_t key = rng.Below(4000);
    if (rng.Bernoulli(0.2)) {
      t.Erase(key);
      oracle.erase(key);
    } else {
      Put(&t, key, static_cast<Real>(step), step);
      oracle[key] = {static_cast<Real>(step), step};
    }
    if (step % 5000 == 0) versions.emplace_back(t, oracle);
    if (step % 15000 == 0 && !versions.empty()) versions.erase(versions.begin());
  }
  ExpectEqual(t, oracle);
  for (const auto& [version, expected] : versions) ExpectEqual(version, expected);
}

// One writer changes its trie and publishes copies; readers check that the
// copy they hold is a consistent version: every row of version v holds v.
// Run under ThreadSanitizer in the sanitizer tree.
TEST(RowTrieConcurrent, ReadersOfCopiesNeverSeeTheWritersChanges) {
  constexpr uint64_t kKeys = 2000;
  RowTrie t(4);
  for (uint64_t k = 0; k < kKeys; ++k) Put(&t, k, 0, 0);
  std::atomic<std::shared_ptr<const RowTrie>> published{std::make_shared<const RowTrie>(t)};
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> reads{0};
  auto reader = [&] {
    while (!done.load(std::memory_order_acquire)) {
      const std::shared_ptr<const RowTrie> v = published.load();
      const Real expect = v->Find(0).values[0];
      for (uint64_t k = 0; k < kKeys; k += 7) {
        const RowTrie::ConstRow r = v->Find(k);
        if (r.values == nullptr || r.values[0] != expect || r.values[3] != expect + 3) ++torn;
      }
      ++reads;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int v = 1; v <= 300; ++v) {
    for (uint64_t k = 0; k < kKeys; ++k) Put(&t, k, static_cast<Real>(v), v);
    published.store(std::make_shared<const RowTrie>(t));
  }
  while (reads.load() < 10) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  r1.join();
  r2.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(published.load()->Find(kKeys - 1).values[0], 300);
}

}  // namespace
}  // namespace ranker::learner
