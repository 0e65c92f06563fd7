// The SnapshotStore contract, run against every implementation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <thread>

#include "store/in_memory_snapshot_store.h"
#include "store/rocksdb_snapshot_store.h"
#include "tests/store/store_test_util.h"

namespace ranker::store {
namespace {

using testing::Header;
using testing::RowBytes;
using testing::RowMap;
using testing::ToRows;

struct Backend {
  const char* name;
  // Opens the store kept in `dir`; for the in-memory store, `existing` (the
  // same object) is kept when reopening, since nothing outlives it.
  std::function<std::unique_ptr<SnapshotStore>(const std::string& dir,
                                               std::unique_ptr<SnapshotStore> existing)>
      open;
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

std::unique_ptr<SnapshotStore> OpenInMemory(const std::string&,
                                            std::unique_ptr<SnapshotStore> existing) {
  if (existing) return existing;
  return std::make_unique<InMemorySnapshotStore>();
}

std::unique_ptr<SnapshotStore> OpenRocks(const std::string& dir,
                                         std::unique_ptr<SnapshotStore> existing) {
  existing.reset();  // close before reopening: RocksDB locks the directory
  auto store = RocksDbSnapshotStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

class SnapshotStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_ = GetParam().open(dir_.path(), std::move(store_));
    ASSERT_NE(store_, nullptr);
  }

  // Puts a delta on `base_id` (0: full) and records the expected row set.
  void PutDelta(uint64_t id, uint64_t base_id, const RowMap& changed,
                const std::vector<uint64_t>& removed = {}) {
    Snapshot s = Header(id, base_id);
    s.changed_rows = ToRows(changed);
    s.removed_rows = removed;
    ASSERT_TRUE(store_->Put(s).ok()) << store_->Put(s).ToString();
    RowMap rows = base_id == 0 ? RowMap{} : expected_.at(base_id);
    for (uint64_t key : removed) rows.erase(key);
    for (const auto& [key, bytes] : changed) rows[key] = bytes;
    expected_[id] = rows;
  }

  // Get(id) returns exactly what was Put, with the expected full row set.
  void ExpectSnapshot(uint64_t id) {
    SCOPED_TRACE("snapshot " + std::to_string(id));
    StatusOr<Snapshot> got = store_->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const Snapshot want = Header(id, 0);
    EXPECT_EQ(got->id, id);
    EXPECT_EQ(got->base_id, 0u);
    EXPECT_EQ(got->created_ms, want.created_ms);
    EXPECT_EQ(got->model_version, want.model_version);
    EXPECT_EQ(got->param_checksum, want.param_checksum);
    EXPECT_EQ(got->isa, want.isa);
    EXPECT_EQ(got->offsets, want.offsets);
    EXPECT_EQ(got->dense_state, want.dense_state);
    EXPECT_TRUE(got->removed_rows.empty());
    EXPECT_EQ(got->changed_rows, ToRows(expected_.at(id)));
  }

  void ExpectNotFound(uint64_t id) {
    EXPECT_EQ(store_->Get(id).status().code(), Status::Code::kNotFound) << "snapshot " << id;
  }

  std::vector<uint64_t> ListedIds() {
    std::vector<uint64_t> ids;
    for (const SnapshotInfo& info : store_->List()) ids.push_back(info.id);
    return ids;
  }

  static RowMap Rows(uint64_t first, uint64_t last, uint64_t generation) {
    RowMap rows;
    for (uint64_t k = first; k <= last; ++k) rows[k] = RowBytes(k, generation);
    return rows;
  }

  testing::TempDir dir_;
  std::unique_ptr<SnapshotStore> store_;
  std::map<uint64_t, RowMap> expected_;
};

TEST_P(SnapshotStoreContract, EmptyStore) {
  EXPECT_EQ(store_->Latest().status().code(), Status::Code::kNotFound);
  ExpectNotFound(1);
  EXPECT_TRUE(store_->List().empty());
  EXPECT_EQ(store_->Delete(1).code(), Status::Code::kNotFound);
  EXPECT_TRUE(store_->Retain(5).ok());
}

TEST_P(SnapshotStoreContract, FullSnapshotRoundTrips) {
  PutDelta(7, 0, {{9, "nine"}, {3, "three"}, {5, ""}});
  ExpectSnapshot(7);
  StatusOr<Snapshot> got = store_->Get(7);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->changed_rows.front().first, 3u);  // sorted by key
}

TEST_P(SnapshotStoreContract, IdsIncreaseAndAreNeverReused) {
  PutDelta(2, 0, Rows(1, 3, 0));
  Snapshot again = Header(2, 0);
  EXPECT_EQ(store_->Put(again).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->Put(Header(1, 0)).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(store_->Delete(2).ok());
  EXPECT_EQ(store_->Put(Header(2, 0)).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(store_->Put(Header(3, 0)).ok());
}

TEST_P(SnapshotStoreContract, RejectsMalformedDeltas) {
  PutDelta(1, 0, Rows(1, 3, 0));
  Snapshot dup = Header(2, 1);
  dup.changed_rows = {{4, "a"}, {4, "b"}};
  EXPECT_EQ(store_->Put(dup).code(), Status::Code::kInvalidArgument);
  Snapshot both = Header(2, 1);
  both.changed_rows = {{4, "a"}};
  both.removed_rows = {4};
  EXPECT_EQ(store_->Put(both).code(), Status::Code::kInvalidArgument);
  Snapshot full_with_removal = Header(2, 0);
  full_with_removal.removed_rows = {1};
  EXPECT_EQ(store_->Put(full_with_removal).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->Put(Header(2, 2)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->Put(Header(3, 2)).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(store_->Put(Header(0, 0)).code(), Status::Code::kInvalidArgument);
  // Nothing of the rejected Puts is visible.
  EXPECT_EQ(ListedIds(), std::vector<uint64_t>({1}));
  ExpectSnapshot(1);
}

TEST_P(SnapshotStoreContract, LatestWinsAndListIsNewestFirst) {
  PutDelta(1, 0, Rows(1, 4, 0));
  PutDelta(2, 1, Rows(2, 2, 1), {3});
  PutDelta(5, 2, {});
  StatusOr<Snapshot> latest = store_->Latest();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->id, 5u);
  const std::vector<SnapshotInfo> list = store_->List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(ListedIds(), std::vector<uint64_t>({5, 2, 1}));
  const SnapshotInfo& two = list[1];
  const Snapshot want = Header(2, 1);
  EXPECT_TRUE(two.error.empty());
  EXPECT_EQ(two.base_id, 1u);
  EXPECT_EQ(two.created_ms, want.created_ms);
  EXPECT_EQ(two.model_version, want.model_version);
  EXPECT_EQ(two.param_checksum, want.param_checksum);
  EXPECT_EQ(two.isa, want.isa);
  EXPECT_EQ(two.offsets, want.offsets);
  EXPECT_EQ(two.rows, 3u);  // 4 rows, one removed
  EXPECT_EQ(two.changed_rows, 1u);
  EXPECT_EQ(two.removed_rows, 1u);
  // dense + (8 key bytes + 24 row bytes) + 8 per removed key.
  EXPECT_EQ(two.bytes, want.dense_state.size() + 32 + 8);
  EXPECT_EQ(list[2].rows, 4u);
  EXPECT_EQ(list[2].bytes, Header(1, 0).dense_state.size() + 4 * 32);
}

TEST_P(SnapshotStoreContract, IncrementalRowsResolveToTheFullSet) {
  PutDelta(1, 0, Rows(1, 100, 0));
  RowMap changed = Rows(10, 14, 1);
  changed[500] = RowBytes(500, 1);  // a new row
  PutDelta(2, 1, changed, {20, 21, 9999 /* not in the base: ignored */});
  EXPECT_EQ(expected_.at(2).size(), 100u + 1 - 2);
  ExpectSnapshot(2);
  ExpectSnapshot(1);  // unchanged by the delta
  ASSERT_TRUE(store_->Retain(1).ok());
  ExpectNotFound(1);
  ExpectSnapshot(2);  // still every row, though 1 wrote most of them
}

TEST_P(SnapshotStoreContract, RetainKeepsWhatNewerSnapshotsDependOn) {
  PutDelta(1, 0, Rows(1, 50, 0));
  for (uint64_t id = 2; id <= 8; ++id) {
    PutDelta(id, id - 1, Rows(id * 3, id * 3 + 4, id), {id});
  }
  EXPECT_EQ(store_->Retain(0).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(store_->Retain().ok());  // default: 5
  EXPECT_EQ(ListedIds(), std::vector<uint64_t>({8, 7, 6, 5, 4}));
  for (uint64_t id = 1; id <= 3; ++id) ExpectNotFound(id);
  for (uint64_t id = 4; id <= 8; ++id) ExpectSnapshot(id);
  ASSERT_TRUE(store_->Retain(1).ok());
  EXPECT_EQ(ListedIds(), std::vector<uint64_t>({8}));
  ExpectSnapshot(8);
}

TEST_P(SnapshotStoreContract, DeleteInTheMiddleKeepsOthersIntact) {
  PutDelta(1, 0, Rows(1, 20, 0));
  PutDelta(2, 1, Rows(5, 9, 2), {1, 2});
  PutDelta(3, 2, Rows(8, 12, 3), {5});
  ASSERT_TRUE(store_->Delete(2).ok());
  ExpectNotFound(2);
  EXPECT_EQ(store_->Delete(2).code(), Status::Code::kNotFound);
  ExpectSnapshot(1);
  ExpectSnapshot(3);
  ASSERT_TRUE(store_->Delete(1).ok());
  ExpectSnapshot(3);
  PutDelta(4, 3, Rows(1, 1, 4), {12});
  ExpectSnapshot(4);
}

TEST_P(SnapshotStoreContract, DeltaOnAnOlderBaseIgnoresLaterSnapshots) {
  // As after restoring snapshot 1 while 2 exists: 3's delta is against 1.
  PutDelta(1, 0, Rows(1, 10, 0));
  PutDelta(2, 1, Rows(1, 3, 2), {4, 5});
  PutDelta(3, 1, Rows(3, 3, 3), {6});
  PutDelta(4, 3, Rows(7, 7, 4));
  PutDelta(5, 2, Rows(8, 8, 5));  // and a branch off 2
  for (uint64_t id = 1; id <= 5; ++id) ExpectSnapshot(id);
  ASSERT_TRUE(store_->Delete(1).ok());
  ASSERT_TRUE(store_->Delete(3).ok());
  for (uint64_t id : {2, 4, 5}) ExpectSnapshot(id);
  ASSERT_TRUE(store_->Retain(1).ok());
  ExpectSnapshot(5);
}

TEST_P(SnapshotStoreContract, FullSnapshotReplacesEveryRow) {
  PutDelta(1, 0, Rows(1, 10, 0));
  PutDelta(2, 1, Rows(1, 2, 2), {3});
  PutDelta(3, 0, Rows(20, 22, 3));
  PutDelta(4, 3, Rows(1, 1, 4));
  for (uint64_t id = 1; id <= 4; ++id) ExpectSnapshot(id);
  ASSERT_TRUE(store_->Retain(2).ok());
  ExpectSnapshot(3);
  ExpectSnapshot(4);
}

TEST_P(SnapshotStoreContract, ReopenKeepsEverything) {
  PutDelta(1, 0, Rows(1, 30, 0));
  PutDelta(2, 1, Rows(4, 6, 2), {7});
  PutDelta(3, 2, Rows(8, 8, 3));
  ASSERT_TRUE(store_->Delete(1).ok());
  Reopen();
  EXPECT_EQ(ListedIds(), std::vector<uint64_t>({3, 2}));
  ExpectSnapshot(2);
  ExpectSnapshot(3);
  EXPECT_EQ(store_->Put(Header(3, 2)).code(), Status::Code::kInvalidArgument);
  PutDelta(4, 3, Rows(9, 9, 4));
  Reopen();
  ExpectSnapshot(4);
  StatusOr<Snapshot> latest = store_->Latest();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->id, 4u);
}

// Random Put (full or delta on any stored base) / Delete / Retain sequences,
// checked after every step against the reference row sets.
TEST_P(SnapshotStoreContract, RandomHistoriesMatchTheReference) {
  Rng rng(42);
  uint64_t next_id = 1;
  for (int step = 0; step < 60; ++step) {
    const std::vector<SnapshotInfo> list = store_->List();
    const uint64_t op = rng.Below(10);
    if (list.empty() || op < 6) {
      const uint64_t base = list.empty() || rng.Below(5) == 0 ? 0 : list[rng.Below(list.size())].id;
      RowMap changed;
      for (uint64_t n = rng.Below(12); n > 0; --n) {
        const uint64_t key = rng.Below(40);
        changed[key] = RowBytes(key, next_id);
      }
      std::vector<uint64_t> removed;
      for (uint64_t n = base == 0 ? 0 : rng.Below(4); n > 0; --n) {
        const uint64_t key = rng.Below(40);
        if (!changed.contains(key) &&
            std::find(removed.begin(), removed.end(), key) == removed.end()) {
          removed.push_back(key);
        }
      }
      next_id += 1 + rng.Below(2);  // ids need not be contiguous
      PutDelta(next_id, base, changed, removed);
    } else if (op < 8) {
      ASSERT_TRUE(store_->Delete(list[rng.Below(list.size())].id).ok());
    } else {
      ASSERT_TRUE(store_->Retain(1 + rng.Below(4)).ok());
    }
    for (const SnapshotInfo& info : store_->List()) ExpectSnapshot(info.id);
    if (HasFailure()) FAIL() << "at step " << step;
  }
}

// Readers see whole snapshots while a writer Puts and Retains.
TEST_P(SnapshotStoreContract, LatestIsConsistentDuringWrites) {
  // Snapshot i: row 0 at generation i, rows 1..i at generation k.
  auto rows_of = [](uint64_t id) {
    RowMap rows{{0, RowBytes(0, id)}};
    for (uint64_t k = 1; k <= id; ++k) rows[k] = RowBytes(k, k);
    return rows;
  };
  PutDelta(1, 0, rows_of(1));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread reader([&] {
    while (!done.load() || reads.load() == 0) {
      StatusOr<Snapshot> s = store_->Latest();
      const bool good = s.ok() && s->changed_rows == ToRows(rows_of(s->id)) &&
                        s->dense_state == Header(s->id, 0).dense_state;
      if (!good) bad.fetch_add(1);
      reads.fetch_add(1);
    }
  });
  for (uint64_t id = 2; id <= 25; ++id) {
    PutDelta(id, id - 1, {{0, RowBytes(0, id)}, {id, RowBytes(id, id)}});
    ASSERT_TRUE(store_->Retain(2).ok());
  }
  done.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_EQ(store_->corrupt_skipped(), 0u);
}

// Records what Read() streams; fails with `fail` at row number `fail_at`.
class RecordingSink final : public SnapshotSink {
 public:
  Status Begin(Snapshot head) override {
    ++begins;
    rows_at_begin = head.changed_rows.size() + head.removed_rows.size();
    this->head = std::move(head);
    rows.clear();
    return Status::OK();
  }
  Status Row(uint64_t key, std::string_view bytes) override {
    if (rows.size() == fail_at) return fail;
    rows.emplace_back(key, std::string(bytes));
    return Status::OK();
  }
  int begins = 0;
  size_t rows_at_begin = 0;
  Snapshot head;
  std::vector<::ranker::store::Row> rows;
  size_t fail_at = SIZE_MAX;
  Status fail = Status::Unavailable("sink is full");
};

TEST_P(SnapshotStoreContract, ReadStreamsTheHeadThenEveryRowAscending) {
  PutDelta(1, 0, Rows(1, 50, 1));
  PutDelta(2, 1, Rows(40, 80, 2), {3, 4});
  RecordingSink sink;
  ASSERT_TRUE(store_->Read(2, &sink).ok());
  EXPECT_EQ(sink.begins, 1);
  EXPECT_EQ(sink.rows_at_begin, 0u);  // the head carries no rows
  const Snapshot want = Header(2, 0);
  EXPECT_EQ(sink.head.id, 2u);
  EXPECT_EQ(sink.head.base_id, 0u);
  EXPECT_EQ(sink.head.dense_state, want.dense_state);
  EXPECT_EQ(sink.head.offsets, want.offsets);
  EXPECT_EQ(sink.head.param_checksum, want.param_checksum);
  EXPECT_EQ(sink.rows, ToRows(expected_.at(2)));  // ascending, removals applied
  EXPECT_EQ(store_->Read(9, &sink).code(), Status::Code::kNotFound);
}

// The rows reach the sink while the store reads them: a sink that gives up
// at the fifth row has seen four, and its error (not the store's) comes back.
TEST_P(SnapshotStoreContract, ReadStopsAtTheSinksErrorAndReturnsIt) {
  PutDelta(1, 0, Rows(1, 100, 1));
  RecordingSink sink;
  sink.fail_at = 4;
  const Status s = store_->Read(1, &sink);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(s.message(), "sink is full");
  EXPECT_EQ(sink.rows.size(), 4u);
  // ReadLatest neither counts it as corrupt nor falls back to an older one.
  PutDelta(2, 1, Rows(1, 3, 2));
  RecordingSink latest;
  latest.fail_at = 4;
  EXPECT_EQ(store_->ReadLatest(&latest).code(), Status::Code::kUnavailable);
  EXPECT_EQ(latest.begins, 1);
  EXPECT_EQ(latest.head.id, 2u);
  EXPECT_EQ(store_->corrupt_skipped(), 0u);
  RecordingSink whole;
  ASSERT_TRUE(store_->ReadLatest(&whole).ok());
  EXPECT_EQ(whole.rows, ToRows(expected_.at(2)));
}

INSTANTIATE_TEST_SUITE_P(Stores, SnapshotStoreContract,
                         ::testing::Values(Backend{"InMemory", &OpenInMemory},
                                           Backend{"RocksDb", &OpenRocks}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ranker::store
