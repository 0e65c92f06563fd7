// SnapshotStore on RocksDB: one DB directory, every Put one synced
// WriteBatch. Embedding rows are stored as versions written only by the
// snapshot that changed them, so a snapshot costs its delta, not the table;
// the layout, visibility rule and checksums are in store/rocksdb_format.h.
//
// Costs: Put = O(delta) writes + one point lookup per changed/removed key;
// Get/Read = one scan of the stored row versions; Delete/Retain = a seek per
// key that the snapshots concerned wrote (rocksdb_internal.h
// GarbageCandidates: with a chain of deltas, those the kept ones wrote),
// plus the deletions; O(table) only for snapshots of stores written before
// the "W" records, or when a manifest is undecodable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "store/snapshot_store.h"

namespace rocksdb {
class DB;
}

namespace ranker::store {

struct RocksDbStoreOptions {
  // fsync the WAL on every write (Put, Delete, Retain). Off only in tests
  // that do not care about power loss.
  bool sync = true;
  // RocksDB memtable size; a full snapshot of a large table fills several.
  size_t write_buffer_bytes = 64u << 20;
  // Bytes of uncompressed blocks cached for reads.
  size_t block_cache_bytes = 64u << 20;
  // Garbage collection scans every row version (the O(table) reference, for
  // tests and benchmarks) instead of the keys the snapshots concerned wrote.
  bool gc_full_scan = false;
  // Bits per row key of the Bloom filter on row keys (kRowPrefix + the
  // 8-byte key, all versions alike), so that a Put's look-up of the version
  // a delta row replaces skips every SST file that has none: a new row costs
  // no block read. 0: no filter (the reference path, for benchmarks).
  // Memory: bits / 8 bytes per stored row version, in the table readers.
  int row_bloom_bits = 10;

  Status Validate() const;
};

class RocksDbSnapshotStore final : public SnapshotStore {
 public:
  // Opens (creating the directory and DB if missing) the store at `path`.
  // Corruption if the directory holds a DB of another layout version.
  static StatusOr<std::unique_ptr<RocksDbSnapshotStore>> Open(
      const std::string& path, const RocksDbStoreOptions& options = {});
  ~RocksDbSnapshotStore() override;  // flushes the memtables, closes the DB

  Status Put(const Snapshot& s) override;
  StatusOr<Snapshot> Get(uint64_t id) const override;
  // Streams the rows from one RocksDB iterator: memory O(one row), not
  // O(table), whatever the snapshot's size.
  Status Read(uint64_t id, SnapshotSink* sink) const override;
  std::vector<SnapshotInfo> List() const override;
  StatusOr<std::vector<uint64_t>> Ids() const override;
  Status Retain(size_t keep_newest = 5) override;
  Status Delete(uint64_t id) override;

  // A RocksDbSnapshotStore of its own in `path`/models/NAME (NAME with
  // bytes other than [A-Za-z0-9_-] hex-escaped as %XX), same options.
  StatusOr<SnapshotStore*> ModelStore(std::string_view name) override;
  std::vector<std::string> ModelStoreNames() const override;

  // Row versions currently stored (live and removals), for tests and
  // reports of how much garbage collection keeps.
  StatusOr<uint64_t> CountRowVersions() const;
  // Row versions garbage collection has looked at, and the times it had to
  // scan all of them (tests, reports).
  uint64_t gc_versions_examined() const { return gc_versions_examined_.load(); }
  uint64_t gc_full_scans() const { return gc_full_scans_.load(); }

 private:
  RocksDbSnapshotStore(std::unique_ptr<rocksdb::DB> db, std::string path,
                       const RocksDbStoreOptions& options, uint64_t max_id);
  // Drops `doomed` (manifest ids) and collects garbage rows for `kept`.
  Status DropLocked(const std::vector<uint64_t>& doomed) RANKER_REQUIRES(mu_);

  const std::unique_ptr<rocksdb::DB> db_;
  const std::string path_;
  const RocksDbStoreOptions options_;
  Mutex mu_;  // serialises writers
  uint64_t max_id_ RANKER_GUARDED_BY(mu_);
  uint64_t written_since_ = 1;  // set once by Open
  std::atomic<uint64_t> gc_versions_examined_{0};
  std::atomic<uint64_t> gc_full_scans_{0};
  mutable Mutex models_mu_;
  std::map<std::string, std::unique_ptr<RocksDbSnapshotStore>, std::less<>> models_
      RANKER_GUARDED_BY(models_mu_);
};

}  // namespace ranker::store
