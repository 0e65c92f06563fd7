// RowTrie: a persistent hash trie. Every write leaves copies unchanged;
// splits and removals keep every row against a std::map oracle; eras free
// what no copy holds, and copies that write take over or detach.
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

// Nodes freed as versions go, in order, and held while a slow reader keeps
// an old one: the process's live node count against the trie's own.
TEST(RowTrieReclamation, DroppedVersionsFreeWhatOnlyTheyHeld) {
  const size_t before = RowTrie::LiveNodes();
  {
    RowTrie t(2);
    Rng rng(3);
    for (uint64_t k = 0; k < 5000; ++k) Put(&t, k, 0, 0);
    auto own_nodes = [&] {
      const RowTrie::Stats s = t.ComputeStats();
      return s.inner_nodes + s.leaves;
    };
    EXPECT_EQ(RowTrie::LiveNodes() - before, own_nodes());
    std::vector<RowTrie> versions;
    for (int round = 0; round < 50; ++round) {
      for (int i = 0; i < 200; ++i) Put(&t, rng.Below(5000), static_cast<Real>(round), round);
      versions.emplace_back(t);
      if (versions.size() > 2) versions.erase(versions.begin());
    }
    // Two versions alive: the writer's nodes plus what changed since the
    // older one (at most two rounds of paths), far below 50 rounds' worth.
    const size_t held = RowTrie::LiveNodes() - before - own_nodes();
    EXPECT_GT(held, 0u);
    EXPECT_LT(held, 2 * 200 * 6u);

    // A slow reader: everything replaced after it stays, then goes with it.
    auto slow = std::make_unique<RowTrie>(t);
    for (int round = 0; round < 10; ++round) {
      for (int i = 0; i < 200; ++i) Put(&t, rng.Below(5000), static_cast<Real>(round), round);
      versions.emplace_back(t);
      versions.erase(versions.begin());
    }
    const size_t with_slow = RowTrie::LiveNodes() - before - own_nodes();
    EXPECT_GT(with_slow, held);
    slow.reset();
    versions.clear();
    EXPECT_EQ(RowTrie::LiveNodes() - before, own_nodes());
  }
  EXPECT_EQ(RowTrie::LiveNodes(), before);  // the writer's death frees the rest
}

// Releasing the oldest copy may end a long chain of eras at once: they end
// in a loop, not by recursion (which would overflow the stack here).
TEST(RowTrieReclamation, ASlowReadersReleaseEndsAChainOfErasWithoutRecursing) {
  const size_t before = RowTrie::LiveNodes();
  {
    RowTrie t(1);
    Put(&t, 1, 0, 0);
    auto slow = std::make_unique<RowTrie>(t);
    for (int i = 1; i <= 200000; ++i) {
      Put(&t, 1, static_cast<Real>(i), i);
      RowTrie version(t);  // an era per copy, each holding the next
    }
    EXPECT_EQ(*slow->Find(1).last_seen, 0);
    EXPECT_GT(RowTrie::LiveNodes() - before, 100000u);  // all held by the slow reader
    slow.reset();
    EXPECT_EQ(RowTrie::LiveNodes() - before, 1u);  // the writer's own leaf
  }
  EXPECT_EQ(RowTrie::LiveNodes(), before);
}

// A copy of the newest rows that writes takes over as the writer (a
// follower's next version); the former writer is then a copy, and a copy of
// older rows that writes detaches. Every trie keeps its own rows.
TEST(RowTrieLineage, CopiesThatWriteTakeOverOrDetachAndAllStayCorrect) {
  const size_t before = RowTrie::LiveNodes();
  {
    RowTrie a(2);
    Oracle oa;
    for (uint64_t k = 0; k < 3000; ++k) {
      Put(&a, k, 1, 1);
      oa[k] = {1, 1};
    }
    // A chain of takeovers: each next copies the previous and writes.
    std::vector<std::pair<RowTrie, Oracle>> chain;
    chain.emplace_back(a, oa);
    for (int v = 2; v < 8; ++v) {
      RowTrie next(chain.back().first);
      Oracle on = chain.back().second;
      for (uint64_t k = 0; k < 3000; k += v) {
        Put(&next, k, static_cast<Real>(v), v);
        on[k] = {static_cast<Real>(v), v};
      }
      next.Erase(static_cast<uint64_t>(v));
      on.erase(static_cast<uint64_t>(v));
      chain.emplace_back(std::move(next), std::move(on));
      if (chain.size() > 3) chain.erase(chain.begin());
    }
    // `a` was a writer whose rows are old now: it detaches on its write.
    Put(&a, 7, 100, 100);
    oa[7] = {100, 100};
    // So does an older version of the chain.
    Put(&chain.front().first, 11, 200, 200);
    chain.front().second[11] = {200, 200};
    ExpectEqual(a, oa);
    for (const auto& [t, oracle] : chain) ExpectEqual(t, oracle);
    // The newest writes on, after its own copy was taken.
    RowTrie frozen(chain.back().first);
    const Oracle frozen_rows = chain.back().second;
    Put(&chain.back().first, 13, 300, 300);
    chain.back().second[13] = {300, 300};
    ExpectEqual(frozen, frozen_rows);
    ExpectEqual(chain.back().first, chain.back().second);
  }
  EXPECT_EQ(RowTrie::LiveNodes(), before);
}

// A takeover costs the paths it writes; a detach costs the table.
TEST(RowTrieLineage, ATakeoverCopiesOnlyThePathsItWrites) {
  const size_t before = RowTrie::LiveNodes();
  RowTrie a(2);
  for (uint64_t k = 0; k < 3000; ++k) Put(&a, k, 1, 1);
  const size_t table = RowTrie::LiveNodes() - before;
  const int depth = a.ComputeStats().max_depth;
  RowTrie next(a);
  Put(&next, 1, 2, 2);  // the newest rows: a path copy, a's nodes stay shared
  EXPECT_LE(RowTrie::LiveNodes() - before, table + depth + 1);
  Put(&a, 2, 3, 3);  // now older rows than next's: a deep copy of its own
  EXPECT_GE(RowTrie::LiveNodes() - before, 2 * table);
  EXPECT_EQ(*next.Find(1).last_seen, 2);
  EXPECT_EQ(*next.Find(2).last_seen, 1);
  EXPECT_EQ(*a.Find(1).last_seen, 1);
  EXPECT_EQ(*a.Find(2).last_seen, 3);
}

// A writer that dies while copies live leaves them their rows; a copy of
// its last rows may take over.
TEST(RowTrieLineage, AWritersCopiesOutliveItAndOneTakesOver) {
  const size_t before = RowTrie::LiveNodes();
  {
    Oracle oracle;
    std::unique_ptr<RowTrie> w = std::make_unique<RowTrie>(3);
    for (uint64_t k = 0; k < 2000; ++k) {
      Put(w.get(), k, 1, 1);
      oracle[k] = {1, 1};
    }
    RowTrie old_copy(*w);
    const Oracle old_rows = oracle;
    for (uint64_t k = 0; k < 2000; k += 3) {
      Put(w.get(), k, 2, 2);
      oracle[k] = {2, 2};
    }
    RowTrie last_copy(*w);
    w.reset();  // died without writing after its last copy
    ExpectEqual(old_copy, old_rows);
    ExpectEqual(last_copy, oracle);
    Put(&last_copy, 5000, 3, 3);  // takes over the dead writer's rows
    oracle[5000] = {3, 3};
    ExpectEqual(last_copy, oracle);
    ExpectEqual(old_copy, old_rows);

    // And one that dies after writing past its last copy.
    auto w2 = std::make_unique<RowTrie>(last_copy);
    Put(w2.get(), 1, 9, 9);  // last_copy wrote since: w2 detaches
    RowTrie w2_copy(*w2);
    Put(w2.get(), 2, 9, 9);
    w2.reset();
    Oracle w2_rows = oracle;
    w2_rows[1] = {9, 9};
    ExpectEqual(w2_copy, w2_rows);
  }
  EXPECT_EQ(RowTrie::LiveNodes(), before);
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
      const std::shared_ptr<const RowTrie> held = published.load();
      // A copy of the copy, taken and dropped on this thread.
      const auto v = std::make_shared<const RowTrie>(*held);
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
