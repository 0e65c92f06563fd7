// SnapshotStore on RocksDB: one DB directory, every Put one synced
// WriteBatch. Embedding rows are stored as versions written only by the
// snapshot that changed them, so a snapshot costs its delta, not the table;
// the layout, visibility rule and checksums are in store/rocksdb_format.h.
//
// Costs: Put = O(delta) writes + one point lookup per changed/removed key;
// Get/Read = one scan of the stored row versions; Delete/Retain = one scan of the
// row versions (garbage collection) plus the deletions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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

  // Row versions currently stored (live and removals), for tests and
  // reports of how much garbage collection keeps.
  StatusOr<uint64_t> CountRowVersions() const;

 private:
  RocksDbSnapshotStore(std::unique_ptr<rocksdb::DB> db, const RocksDbStoreOptions& options,
                       uint64_t max_id);
  // Drops `doomed` (manifest ids) and collects garbage rows for `kept`.
  Status DropLocked(const std::vector<uint64_t>& doomed) RANKER_REQUIRES(mu_);

  const std::unique_ptr<rocksdb::DB> db_;
  const RocksDbStoreOptions options_;
  Mutex mu_;  // serialises writers
  uint64_t max_id_ RANKER_GUARDED_BY(mu_);
};

}  // namespace ranker::store
