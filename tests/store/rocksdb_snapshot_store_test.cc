// RocksDbSnapshotStore beyond the shared contract: what it stores (only
// deltas, garbage collected) and how it meets damaged data, written through a
// raw RocksDB handle as a disk or a stray process would.
#include "store/rocksdb_snapshot_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <functional>
#include <memory>

#include "store/in_memory_snapshot_store.h"
#include "store/rocksdb_format.h"
#include "tests/store/store_test_util.h"

namespace ranker::store {
namespace {

using testing::Header;
using testing::RowBytes;

std::vector<Row> RowsFor(uint64_t first, uint64_t last, uint64_t generation) {
  std::vector<Row> rows;
  for (uint64_t k = first; k <= last; ++k) rows.emplace_back(k, RowBytes(k, generation));
  return rows;
}

std::unique_ptr<RocksDbSnapshotStore> MustOpen(const std::string& dir) {
  auto store = RocksDbSnapshotStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

uint64_t RowVersions(const RocksDbSnapshotStore& store) {
  StatusOr<uint64_t> n = store.CountRowVersions();
  EXPECT_TRUE(n.ok());
  return n.ok() ? *n : 0;
}

TEST(RocksDbSnapshotStore, StoresOnlyChangedRowsAndCollectsOldVersions) {
  testing::TempDir dir;
  auto store = MustOpen(dir.path());
  Snapshot full = Header(1, 0);
  full.changed_rows = RowsFor(1, 1000, 1);
  ASSERT_TRUE(store->Put(full).ok());
  EXPECT_EQ(RowVersions(*store), 1000u);
  Snapshot delta = Header(2, 1);
  delta.changed_rows = RowsFor(1, 10, 2);
  delta.removed_rows = {500, 501};
  ASSERT_TRUE(store->Put(delta).ok());
  EXPECT_EQ(RowVersions(*store), 1000u + 10 + 2);  // 2 removal records
  ASSERT_TRUE(store->Retain(1).ok());
  // The 10 superseded versions, the 2 removed rows and their removal records go.
  EXPECT_EQ(RowVersions(*store), 1000u - 2);
  StatusOr<Snapshot> got = store->Get(2);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->changed_rows.size(), 998u);
  EXPECT_EQ(got->changed_rows[0], Row(1, RowBytes(1, 2)));
  EXPECT_EQ(got->changed_rows[20], Row(21, RowBytes(21, 1)));

  Snapshot replace = Header(3, 0);
  replace.changed_rows = RowsFor(5000, 5004, 3);
  ASSERT_TRUE(store->Put(replace).ok());
  ASSERT_TRUE(store->Retain(1).ok());
  EXPECT_EQ(RowVersions(*store), 5u);
}

TEST(RocksDbSnapshotStore, RejectsADirectoryOfAnotherLayout) {
  testing::TempDir dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put({}, std::string(format::kLayoutKey), "something else").ok());
  }
  auto store = RocksDbSnapshotStore::Open(dir.path());
  EXPECT_EQ(store.status().code(), Status::Code::kCorruption);
}

TEST(RocksDbSnapshotStore, RejectsAForeignDatabase) {
  testing::TempDir dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put({}, "user-key", "value").ok());
  }
  auto store = RocksDbSnapshotStore::Open(dir.path());
  EXPECT_EQ(store.status().code(), Status::Code::kCorruption);
}

TEST(RocksDbSnapshotStore, OptionsAreValidated) {
  RocksDbStoreOptions options;
  options.write_buffer_bytes = 10;
  EXPECT_EQ(options.Validate().code(), Status::Code::kInvalidArgument);
  testing::TempDir dir;
  EXPECT_FALSE(RocksDbSnapshotStore::Open(dir.path(), options).ok());
}

// ---- Corruption ---------------------------------------------------------

enum class Target { kManifest, kDense, kRow, kRemoval };
enum class Damage { kFlipBit, kTruncate, kDelete, kStale };

struct Case {
  const char* name;
  Target target;
  Damage damage;
  bool manifest_unreadable;  // List() flags the record itself
};

// Snapshots 1 (full: rows 1..50), 2 (rows 1..5 changed), 3 (rows 1..5
// changed again, row 10 removed); the case damages what 3 wrote.
class RocksDbCorruption : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    store_ = MustOpen(dir_.path());
    Snapshot s1 = Header(1, 0);
    s1.changed_rows = RowsFor(1, 50, 1);
    Snapshot s2 = Header(2, 1);
    s2.changed_rows = RowsFor(1, 5, 2);
    Snapshot s3 = Header(3, 2);
    s3.changed_rows = RowsFor(1, 5, 3);
    s3.removed_rows = {10};
    for (const Snapshot* s : {&s1, &s2, &s3}) ASSERT_TRUE(store_->Put(*s).ok());
  }

  // Closes the store, applies `mutate` to the raw DB, reopens the store.
  void Raw(const std::function<void(rocksdb::DB*)>& mutate) {
    store_.reset();
    {
      rocksdb::DB* raw = nullptr;
      ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path(), &raw).ok());
      std::unique_ptr<rocksdb::DB> db(raw);
      mutate(db.get());
    }
    store_ = MustOpen(dir_.path());
  }

  static std::string KeyOf(Target t, uint64_t id) {
    switch (t) {
      case Target::kManifest:
        return format::ManifestKey(id);
      case Target::kDense:
        return format::DenseKey(id);
      case Target::kRow:
        return format::RowKey(3, id);
      case Target::kRemoval:
        return format::RowKey(10, id);
    }
    return {};
  }

  static void Damage(rocksdb::DB* db, Target t, enum Damage d) {
    const std::string key = KeyOf(t, 3);
    std::string value;
    ASSERT_TRUE(db->Get({}, key, &value).ok());
    switch (d) {
      case Damage::kFlipBit:
        value[value.size() / 2] ^= 0x10;
        break;
      case Damage::kTruncate:
        value.resize(value.size() - 1);
        break;
      case Damage::kDelete:
        ASSERT_TRUE(db->Delete({}, key).ok());
        return;
      case Damage::kStale:
        ASSERT_TRUE(db->Get({}, KeyOf(t, 2), &value).ok());
        break;
    }
    ASSERT_TRUE(db->Put({}, key, value).ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<RocksDbSnapshotStore> store_;
};

TEST_P(RocksDbCorruption, DetectedNeverLoadedAndSkippedByLatest) {
  const Case& c = GetParam();
  Raw([&](rocksdb::DB* db) { Damage(db, c.target, c.damage); });
  StatusOr<Snapshot> three = store_->Get(3);
  EXPECT_EQ(three.status().code(), Status::Code::kCorruption) << three.status().ToString();
  EXPECT_NE(three.status().message().find("snapshot 3"), std::string::npos)
      << three.status().message();
  EXPECT_TRUE(store_->Get(2).ok());
  EXPECT_TRUE(store_->Get(1).ok());

  Status skipped;
  StatusOr<Snapshot> latest = store_->Latest(&skipped);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->id, 2u);
  EXPECT_EQ(skipped.code(), Status::Code::kCorruption);
  EXPECT_NE(skipped.message().find("snapshot 3"), std::string::npos) << skipped.message();
  EXPECT_EQ(store_->corrupt_skipped(), 1u);

  const std::vector<SnapshotInfo> list = store_->List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, 3u);
  EXPECT_EQ(!list[0].error.empty(), c.manifest_unreadable) << list[0].error;
  EXPECT_TRUE(list[1].error.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Damages, RocksDbCorruption,
    ::testing::Values(Case{"ManifestBitFlip", Target::kManifest, Damage::kFlipBit, true},
                      Case{"ManifestTruncated", Target::kManifest, Damage::kTruncate, true},
                      Case{"ManifestOfAnotherSnapshot", Target::kManifest, Damage::kStale, true},
                      Case{"DenseBitFlip", Target::kDense, Damage::kFlipBit, false},
                      Case{"DenseTruncated", Target::kDense, Damage::kTruncate, false},
                      Case{"DenseMissing", Target::kDense, Damage::kDelete, false},
                      Case{"DenseOfAnotherSnapshot", Target::kDense, Damage::kStale, false},
                      Case{"RowBitFlip", Target::kRow, Damage::kFlipBit, false},
                      Case{"RowTruncated", Target::kRow, Damage::kTruncate, false},
                      Case{"RowMissing", Target::kRow, Damage::kDelete, false},
                      Case{"RowOfAnotherSnapshot", Target::kRow, Damage::kStale, false},
                      Case{"RemovalBitFlip", Target::kRemoval, Damage::kFlipBit, false},
                      Case{"RemovalMissing", Target::kRemoval, Damage::kDelete, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(RocksDbCorruption, ARowSharedByAllMakesEverySnapshotCorrupt) {
  // Row 40 was written by 1 and is seen by 1, 2 and 3.
  Raw([](rocksdb::DB* db) {
    const std::string key = format::RowKey(40, 1);
    std::string value;
    ASSERT_TRUE(db->Get({}, key, &value).ok());
    value.back() ^= 1;
    ASSERT_TRUE(db->Put({}, key, value).ok());
  });
  Status skipped;
  StatusOr<Snapshot> latest = store_->Latest(&skipped);
  EXPECT_EQ(latest.status().code(), Status::Code::kCorruption);
  for (const char* id : {"snapshot 3", "snapshot 2", "snapshot 1"}) {
    EXPECT_NE(latest.status().message().find(id), std::string::npos) << latest.status().message();
  }
  EXPECT_EQ(store_->corrupt_skipped(), 3u);
}

TEST_F(RocksDbCorruption, AnOldRowVersionOnlyAffectsItsSnapshot) {
  // Row 2 version 1 is superseded in 2 and 3.
  Raw([](rocksdb::DB* db) { ASSERT_TRUE(db->Put({}, format::RowKey(2, 1), "L").ok()); });
  EXPECT_EQ(store_->Get(1).status().code(), Status::Code::kCorruption);
  EXPECT_TRUE(store_->Get(2).ok());
  Status skipped;
  StatusOr<Snapshot> latest = store_->Latest(&skipped);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->id, 3u);
  EXPECT_TRUE(skipped.ok());
  EXPECT_EQ(store_->corrupt_skipped(), 0u);
}

TEST_F(RocksDbCorruption, RetainDropsUnreadableRecordsAndKeepsValidOnes) {
  Raw([](rocksdb::DB* db) { ASSERT_TRUE(db->Put({}, format::ManifestKey(3), "junk").ok()); });
  ASSERT_TRUE(store_->Retain(1).ok());
  const std::vector<SnapshotInfo> list = store_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, 2u);
  StatusOr<Snapshot> two = store_->Get(2);
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->changed_rows.size(), 50u);
  EXPECT_EQ(two->changed_rows[0].second, RowBytes(1, 2));
}

// The in-memory store meets damage the same way.
TEST(InMemoryCorruption, FlippedOrTruncatedEncodingIsDetected) {
  for (bool truncate : {false, true}) {
    InMemorySnapshotStore store;
    Snapshot s1 = Header(1, 0);
    s1.changed_rows = RowsFor(1, 5, 1);
    ASSERT_TRUE(store.Put(s1).ok());
    ASSERT_TRUE(store.Put(Header(2, 1)).ok());
    std::string* encoded = store.MutableEncodingForTest(2);
    ASSERT_NE(encoded, nullptr);
    if (truncate) {
      encoded->resize(encoded->size() - 3);
    } else {
      (*encoded)[encoded->size() / 2] ^= 4;
    }
    StatusOr<Snapshot> two = store.Get(2);
    EXPECT_EQ(two.status().code(), Status::Code::kCorruption);
    EXPECT_NE(two.status().message().find("snapshot 2"), std::string::npos);
    Status skipped;
    StatusOr<Snapshot> latest = store.Latest(&skipped);
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ(latest->id, 1u);
    EXPECT_NE(skipped.message().find("snapshot 2"), std::string::npos);
    EXPECT_EQ(store.corrupt_skipped(), 1u);
    EXPECT_EQ(store.Put(Header(3, 2)).code(), Status::Code::kCorruption);
  }
}

}  // namespace
}  // namespace ranker::store
