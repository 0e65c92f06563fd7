// Garbage collection of RocksDbSnapshotStore reads the keys the snapshots
// concerned wrote, not every row version: it must delete exactly what the
// full scan deletes (checked against the full-scan store on random
// histories with restores from older bases, i.e. branching lineages), and
// look at O(delta) versions, not O(table). Also: model stores (a
// challenger's snapshots) live beside the champion's.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/table_properties.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "base/hash.h"
#include "base/random.h"
#include "store/rocksdb_snapshot_store.h"
#include "tests/store/store_test_util.h"

namespace ranker::store {
namespace {

using testing::Header;
using testing::RowBytes;
using testing::RowMap;

std::unique_ptr<RocksDbSnapshotStore> MustOpen(const std::string& dir, bool full_scan) {
  RocksDbStoreOptions o;
  o.sync = false;
  o.gc_full_scan = full_scan;
  auto store = RocksDbSnapshotStore::Open(dir, o);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

uint64_t Versions(const RocksDbSnapshotStore& s) {
  StatusOr<uint64_t> n = s.CountRowVersions();
  EXPECT_TRUE(n.ok());
  return n.ok() ? *n : 0;
}

TEST(RocksDbGc, DeletesExactlyWhatTheFullScanDeletesOnRandomHistories) {
  testing::TempDir dir;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    auto fast = MustOpen(dir.path() + "/fast" + std::to_string(seed), false);
    auto full = MustOpen(dir.path() + "/full" + std::to_string(seed), true);
    ASSERT_TRUE(fast && full);
    Rng rng(seed);
    std::map<uint64_t, RowMap> rows;  // of every stored snapshot
    uint64_t id = 0;
    for (int step = 0; step < 60; ++step) {
      ++id;
      std::vector<uint64_t> stored;
      for (const SnapshotInfo& info : fast->List()) stored.push_back(info.id);
      Snapshot s = Header(id, 0);
      RowMap now;
      const uint64_t r = rng.NextU64() % 10;
      if (!stored.empty() && r != 0) {
        // Usually on the newest, sometimes on an older one (a restore).
        s.base_id = r < 8 ? stored.front() : stored[rng.NextU64() % stored.size()];
        now = rows[s.base_id];
        for (int i = 0; i < 6; ++i) {
          const uint64_t key = rng.NextU64() % 40;
          if (rng.NextU64() % 4 == 0 && now.contains(key) &&
              std::find(s.removed_rows.begin(), s.removed_rows.end(), key) ==
                  s.removed_rows.end()) {
            bool changed = false;
            for (const Row& row : s.changed_rows) changed = changed || row.first == key;
            if (changed) continue;
            s.removed_rows.push_back(key);
            now.erase(key);
          } else if (std::find(s.removed_rows.begin(), s.removed_rows.end(), key) ==
                     s.removed_rows.end()) {
            bool changed = false;
            for (const Row& row : s.changed_rows) changed = changed || row.first == key;
            if (changed) continue;
            s.changed_rows.emplace_back(key, RowBytes(key, id));
            now[key] = RowBytes(key, id);
          }
        }
      } else {
        for (uint64_t key = 0; key < 30; ++key) {
          s.changed_rows.emplace_back(key, RowBytes(key, id));
          now[key] = RowBytes(key, id);
        }
      }
      ASSERT_TRUE(fast->Put(s).ok());
      ASSERT_TRUE(full->Put(s).ok());
      rows[id] = now;
      if (rng.NextU64() % 3 == 0 && fast->List().size() > 1) {
        const std::vector<SnapshotInfo> list = fast->List();
        const uint64_t victim = list[rng.NextU64() % list.size()].id;
        ASSERT_TRUE(fast->Delete(victim).ok());
        ASSERT_TRUE(full->Delete(victim).ok());
        rows.erase(victim);
      } else {
        const size_t keep = 1 + rng.NextU64() % 5;
        ASSERT_TRUE(fast->Retain(keep).ok());
        ASSERT_TRUE(full->Retain(keep).ok());
      }
      ASSERT_EQ(Versions(*fast), Versions(*full)) << "seed " << seed << " step " << step;
      for (const SnapshotInfo& info : fast->List()) {
        StatusOr<Snapshot> got = fast->Get(info.id);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        EXPECT_EQ(RowMap(got->changed_rows.begin(), got->changed_rows.end()), rows[info.id]);
      }
    }
    EXPECT_EQ(fast->gc_full_scans(), 0u);
  }
}

// A keys-written store holding snapshot 1: rows 0..rows-1.
std::unique_ptr<RocksDbSnapshotStore> StoreWithBase(const std::string& dir, uint64_t rows) {
  auto store = MustOpen(dir, false);
  Snapshot base = Header(1, 0);
  for (uint64_t key = 0; key < rows; ++key) base.changed_rows.emplace_back(key, RowBytes(key, 1));
  EXPECT_TRUE(store->Put(base).ok());
  return store;
}

TEST(RocksDbGc, LooksAtTheDeltasNotTheTable) {
  testing::TempDir dir;
  auto store = StoreWithBase(dir.path(), 5000);
  for (uint64_t id = 2; id <= 20; ++id) {
    Snapshot delta = Header(id, id - 1);
    for (uint64_t i = 0; i < 10; ++i) {
      const uint64_t key = (id * 37 + i * 101) % 5000;
      delta.changed_rows.emplace_back(key, RowBytes(key, id));
    }
    ASSERT_TRUE(store->Put(delta).ok());
    const uint64_t before = store->gc_versions_examined();
    ASSERT_TRUE(store->Retain(3).ok());
    // The keys of the 3 kept deltas and the dropped one, a few versions
    // each: far below the 5000-row table the full scan reads.
    EXPECT_LT(store->gc_versions_examined() - before, 200u) << "at snapshot " << id;
  }
  EXPECT_EQ(store->gc_full_scans(), 0u);
  StatusOr<Snapshot> latest = store->Get(20);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->changed_rows.size(), 5000u);
}

// A chain of deltas (the snapshotter's usual history) under Retain(5):
// dropping the oldest can only make garbage of what the oldest kept delta
// wrote again, so each Retain examines one delta's keys, not the union of
// the four kept deltas' (which it did before: 4x the work at every
// snapshot, ~1 core of RocksDB seeks at 10k events/s and 1M rows).
TEST(RocksDbGc, OnAChainExaminesTheOldestKeptDeltaOnly) {
  testing::TempDir dir;
  auto store = StoreWithBase(dir.path(), 2000);
  constexpr uint64_t kDelta = 100;
  for (uint64_t id = 2; id <= 30; ++id) {
    Snapshot delta = Header(id, id - 1);
    // Half the keys new rows, half rows of the base changed again.
    for (uint64_t i = 0; i < kDelta; ++i) {
      const uint64_t key = i % 2 == 0 ? 100000 + id * kDelta + i : (id * 53 + i * 7) % 2000;
      delta.changed_rows.emplace_back(key, RowBytes(key, id));
    }
    ASSERT_TRUE(store->Put(delta).ok());
    const uint64_t before = store->gc_versions_examined();
    ASSERT_TRUE(store->Retain(5).ok());
    // Each key of the one delta: its versions (at most 2 left once the
    // older ones are gone, 3 while the base's is being replaced).
    EXPECT_LE(store->gc_versions_examined() - before, 3 * kDelta) << "at snapshot " << id;
  }
  EXPECT_EQ(store->gc_full_scans(), 0u);
  StatusOr<Snapshot> latest = store->Get(30);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->changed_rows.size(), 2000u + 29 * kDelta / 2);
}

TEST(RocksDbGc, AStoreWithoutWrittenKeyRecordsFallsBackToTheScan) {
  testing::TempDir dir;
  {
    auto store = MustOpen(dir.path(), false);
    Snapshot s = Header(1, 0);
    s.changed_rows = {{1, RowBytes(1, 1)}, {2, RowBytes(2, 1)}};
    ASSERT_TRUE(store->Put(s).ok());
    Snapshot d = Header(2, 1);
    d.changed_rows = {{1, RowBytes(1, 2)}};
    ASSERT_TRUE(store->Put(d).ok());
  }
  {  // as a build before the records left it
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      if (key == "G" || key[0] == 'W') {
        ASSERT_TRUE(db->Delete({}, key).ok());
      }
    }
  }
  auto store = MustOpen(dir.path(), false);
  Snapshot d = Header(3, 2);
  d.changed_rows = {{2, RowBytes(2, 3)}};
  ASSERT_TRUE(store->Put(d).ok());
  ASSERT_TRUE(store->Retain(1).ok());
  EXPECT_EQ(store->gc_full_scans(), 1u);
  EXPECT_EQ(Versions(*store), 2u);  // key 1 of snapshot 2, key 2 of snapshot 3
  StatusOr<Snapshot> got = store->Get(3);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->changed_rows, (std::vector<Row>{{1, RowBytes(1, 2)}, {2, RowBytes(2, 3)}}));
}

// The row-key Bloom filter (RocksDbStoreOptions::row_bloom_bits) only
// skips SST files: deltas of new, replaced and removed rows over a base on
// disk (and a delta on disk over that) give the same rows, counts and
// digests as without it (Get checks both against the manifest), also for a
// store written without the filter and reopened with it, and the other way.
TEST(RocksDbRowBloom, DeltasOverFilesOnDiskMatchTheUnfilteredStore) {
  testing::TempDir dir;
  const auto open = [&](const std::string& name, int bits) {
    RocksDbStoreOptions o;
    o.sync = false;
    o.row_bloom_bits = bits;
    auto store = RocksDbSnapshotStore::Open(dir.path() + "/" + name, o);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  };
  // Keys spread over the key space, as the model's hashed row keys are.
  const auto key = [](uint64_t i) { return Mix64(i + 1); };
  const std::vector<std::pair<int, int>> bits = {{10, 10}, {0, 0}, {0, 10}, {10, 0}};
  std::vector<std::vector<SnapshotInfo>> lists;
  for (const auto& [first_bits, later_bits] : bits) {
    const std::string name = std::to_string(first_bits) + "_" + std::to_string(later_bits);
    RowMap rows;
    {
      auto store = open(name, first_bits);
      ASSERT_TRUE(store);
      Snapshot full = Header(1, 0);
      for (uint64_t i = 0; i < 3000; ++i) rows[key(i)] = RowBytes(key(i), 1);
      full.changed_rows = testing::ToRows(rows);
      ASSERT_TRUE(store->Put(full).ok());
    }  // closed: flushed into an SST file
    for (uint64_t id = 2; id <= 4; ++id) {
      auto store = open(name, later_bits);
      ASSERT_TRUE(store);
      Snapshot d = Header(id, id - 1);
      Rng rng(id);
      for (int i = 0; i < 300; ++i) {  // replaced rows, some of them from the last delta
        const uint64_t k =
            key(i % 2 == 0 ? rng.NextU64() % 3000 : 3000 + 100 * (id - 1) + rng.NextU64() % 100);
        if (!rows.contains(k)) continue;
        bool seen = false;
        for (const Row& r : d.changed_rows) seen = seen || r.first == k;
        if (!seen) d.changed_rows.emplace_back(k, RowBytes(k, id));
      }
      for (uint64_t i = 0; i < 100; ++i) {  // new rows
        const uint64_t k = key(3000 + 100 * id + i);
        d.changed_rows.emplace_back(k, RowBytes(k, id));
      }
      // A new row above every stored one: its look-up meets the keys after
      // the rows (the store's other records), not another row.
      d.changed_rows.emplace_back(~uint64_t{0} - id, RowBytes(~uint64_t{0} - id, id));
      for (int i = 0; i < 50; ++i) {  // removed rows, and keys the store never had
        const uint64_t k = i % 5 == 0 ? key(1000000 + i) : key(rng.NextU64() % 3000);
        bool seen = false;
        for (const Row& r : d.changed_rows) seen = seen || r.first == k;
        for (uint64_t r : d.removed_rows) seen = seen || r == k;
        if (!seen) d.removed_rows.push_back(k);
      }
      for (const Row& r : d.changed_rows) rows[r.first] = r.second;
      for (uint64_t r : d.removed_rows) rows.erase(r);
      ASSERT_TRUE(store->Put(d).ok()) << name << " " << id;
      StatusOr<Snapshot> got = store->Get(id);  // counts and digest checked against the manifest
      ASSERT_TRUE(got.ok()) << name << " " << id << ": " << got.status().ToString();
      EXPECT_EQ(RowMap(got->changed_rows.begin(), got->changed_rows.end()), rows) << name;
      if (id == 4) lists.push_back(store->List());
    }
  }
  ASSERT_EQ(lists.size(), bits.size());
  for (size_t i = 1; i < lists.size(); ++i) {
    ASSERT_EQ(lists[i].size(), lists[0].size());
    for (size_t j = 0; j < lists[0].size(); ++j) {
      EXPECT_EQ(lists[i][j].rows, lists[0][j].rows) << i << " " << j;
      EXPECT_EQ(lists[i][j].param_checksum, lists[0][j].param_checksum) << i << " " << j;
    }
  }
  // The filtered store's files carry the filter on the row key prefix.
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir.path() + "/10_10", &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::TablePropertiesCollection tables;
  ASSERT_TRUE(db->GetPropertiesOfAllTables(&tables).ok());
  ASSERT_FALSE(tables.empty());
  for (const auto& [file, props] : tables) {
    EXPECT_NE(props->filter_policy_name, "") << file;
    EXPECT_EQ(props->prefix_extractor_name, "rocksdb.FixedPrefix.9") << file;
  }
}

TEST(RocksDbModelStores, EachModelHasItsOwnStoreListedByName) {
  testing::TempDir dir;
  {
    auto store = MustOpen(dir.path(), false);
    StatusOr<SnapshotStore*> a = store->ModelStore("omoe");
    StatusOr<SnapshotStore*> b = store->ModelStore("a b/c");  // escaped as a directory name
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NE(*a, *b);
    Snapshot s = Header(3, 0);
    s.changed_rows = {{7, RowBytes(7, 3)}};
    ASSERT_TRUE((*a)->Put(s).ok());
    EXPECT_EQ(*store->ModelStore("omoe"), *a);  // the same one again
    EXPECT_TRUE(store->Ids()->empty());         // not the champion's
  }
  auto store = MustOpen(dir.path(), false);
  EXPECT_EQ(store->ModelStoreNames(), (std::vector<std::string>{"a b/c", "omoe"}));
  StatusOr<SnapshotStore*> a = store->ModelStore("omoe");
  ASSERT_TRUE(a.ok());
  StatusOr<Snapshot> got = (*a)->Get(3);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->changed_rows, (std::vector<Row>{{7, RowBytes(7, 3)}}));
}

}  // namespace
}  // namespace ranker::store
