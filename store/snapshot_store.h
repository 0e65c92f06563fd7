// The seam between the service and durable snapshot storage.
// Implementations: RocksDbSnapshotStore (store/rocksdb_snapshot_store.h) and
// InMemorySnapshotStore (store/in_memory_snapshot_store.h), held to the same
// contract by one TEST_P suite (tests/store/snapshot_store_contract_test.cc).
//
// Contract, for every implementation:
//  - Put is atomic and durable when OK: after a crash either the whole
//    snapshot (manifest, dense state, rows) is there or none of it.
//  - Put stores only what the snapshot carries (a delta against base_id);
//    Get(id) resolves and returns the full row set as of id, sorted by key,
//    with base_id == 0 and removed_rows empty.
//  - Every read is verified against checksums; damaged data is never
//    returned: Get answers Corruption naming the snapshot id.
//  - Deleting snapshots (Delete, Retain) never changes what Get returns for
//    the snapshots that remain, whatever their bases were.
//  - Ids are never reused: Put requires id > every id ever Put.
//
// Thread-safety: all methods may be called concurrently; writers (Put,
// Delete, Retain) are serialised internally and readers see either the state
// before or after each of them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/snapshot.h"

namespace ranker::store {

// Receives a snapshot that SnapshotStore::Read streams: the snapshot without
// its rows first, then the rows one at a time, so a reader of millions of
// rows never holds them all (a restore builds its table as they arrive).
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // `head` is the full snapshot but its rows (changed_rows and removed_rows
  // empty; base_id 0); its dense state is verified. Called again when
  // ReadLatest gives up on a corrupt snapshot and moves to an older one: each
  // call starts over, and what the rows before it built must be dropped.
  virtual Status Begin(Snapshot head) = 0;
  // One live row, keys ascending. `bytes` is valid during the call only.
  virtual Status Row(uint64_t key, std::string_view bytes) = 0;
};

// Collects a streamed snapshot back into one Snapshot (what Get returns).
class CollectingSink final : public SnapshotSink {
 public:
  explicit CollectingSink(Snapshot* out) : out_(out) {}  // borrowed for the sink's life
  Status Begin(Snapshot head) override;
  Status Row(uint64_t key, std::string_view bytes) override;

 private:
  Snapshot* const out_;
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  // Stores `s` (see Snapshot for the delta rules). Errors:
  // InvalidArgument (id not above every id ever Put, bad delta),
  // FailedPrecondition (base_id not stored), Corruption (the base's record
  // is unreadable; damage deeper in the base may instead surface at Get of
  // the new snapshot), IOError. Nothing is stored unless OK.
  virtual Status Put(const Snapshot& s) = 0;

  // The full snapshot `id`. NotFound if not stored (never Put, or dropped);
  // Corruption naming the id if any of its bytes fail verification.
  virtual StatusOr<Snapshot> Get(uint64_t id) const = 0;

  // Streams the full snapshot `id` into `sink` (Begin, then every live row,
  // ascending). The rows are verified one by one as they are delivered; the
  // whole row set (count and digest) only at the end, so a sink must not
  // act on what it received unless Read returns OK. Errors as Get's, plus
  // any error of the sink, returned as is (and reading stops there).
  // This default Get()s the snapshot and replays it; stores that can read
  // row by row override it.
  virtual Status Read(uint64_t id, SnapshotSink* sink) const;

  // Every stored snapshot, newest first, without loading dense state or rows.
  // A record that cannot be decoded appears with SnapshotInfo::error set.
  virtual std::vector<SnapshotInfo> List() const = 0;

  // Ids of the stored snapshots, newest first (IOError if unreadable).
  virtual StatusOr<std::vector<uint64_t>> Ids() const = 0;

  // Keeps the `keep_newest` newest snapshots whose records decode, drops the
  // rest (undecodable records included) and the rows only they used.
  // InvalidArgument if keep_newest == 0.
  virtual Status Retain(size_t keep_newest = 5) = 0;

  // Drops one snapshot (and rows no remaining snapshot uses). NotFound if absent.
  virtual Status Delete(uint64_t id) = 0;

  // The newest snapshot that loads and verifies. Corrupt newer ones are
  // skipped: each adds one to corrupt_skipped(), and if `skipped` is given it
  // receives a Corruption status listing them ("snapshot 7: ...; ...") (OK
  // when none). NotFound when the store is empty; Corruption listing all when
  // none verifies; any other error (IOError) is returned as is.
  StatusOr<Snapshot> Latest(Status* skipped = nullptr) const;

  // Latest() streamed: Read()s the newest snapshot that verifies into
  // `sink`, skipping (and counting) corrupt ones as Latest() does; the sink
  // then sees Begin() once per snapshot tried. An error of the sink ends
  // the search and is returned as is.
  Status ReadLatest(SnapshotSink* sink, Status* skipped = nullptr) const;

  // The store of another model's snapshots (a challenger's, README "Champion
  // and challengers"), created on first use and owned by this store: the
  // same contract, written under the same ids as this store's snapshots
  // (the snapshotter writes them before the champion's, so a snapshot
  // exists once the champion's is stored). The pointer lives as long as
  // this store. Unimplemented by stores that hold one model only.
  virtual StatusOr<SnapshotStore*> ModelStore(std::string_view name);
  // Names of the model stores that exist (opened or on disk), sorted.
  virtual std::vector<std::string> ModelStoreNames() const { return {}; }

  // Corrupt snapshots Latest() has skipped so far (a metric).
  uint64_t corrupt_skipped() const { return corrupt_skipped_.load(std::memory_order_relaxed); }

 private:
  mutable std::atomic<uint64_t> corrupt_skipped_{0};
};

}  // namespace ranker::store
