// Internal to store/: the RocksDB-facing pieces of RocksDbSnapshotStore that
// deal with row versions (visibility, verification, garbage collection) and
// the one conversion from rocksdb::Status. Includes RocksDB: never include
// this from a public header.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/rocksdb_format.h"
#include "store/snapshot.h"
#include "store/snapshot_store.h"

namespace ranker::store::internal {

// The one place where rocksdb::Status becomes Status; `what` names the
// record or operation.
Status FromRocks(const rocksdb::Status& s, std::string_view what);

// ReadOptions iterating only the keys that start with `prefix`, at `snap`
// (nullptr: the current state), in total order (past the Bloom filter's
// prefixes). Not copyable: ro points into it.
struct PrefixRead {
  PrefixRead(char prefix, const rocksdb::Snapshot* snap);
  PrefixRead(const PrefixRead&) = delete;
  PrefixRead& operator=(const PrefixRead&) = delete;
  std::string first, limit;
  rocksdb::Slice limit_slice;
  rocksdb::ReadOptions ro;
};

// ReadOptions for iterators that Seek one row's versions at a time
// (format::RowKey(key, v), then Next while the key is the same): in prefix
// mode, so that the row-key Bloom filter skips the SST files without the
// row, and the iterator stops at the row's last version. No upper bound
// (one would keep RocksDB from using the filter): without the filter
// (RocksDbStoreOptions::row_bloom_bits 0) the iterator runs on past the
// rows, and its users stop at the first key that is not a row's
// (format::IsRowKey).
rocksdb::ReadOptions RowVersionsRead();

// Streams the live rows `lineage` sees into `sink` (ascending keys),
// checking each against its RowHash; counts them into *count and sums their
// hashes into *digest. Corruption names the row and version. An error of the
// sink stops the scan and is returned as is, with *sink_failed set.
Status ScanVisibleRows(rocksdb::DB* db, const rocksdb::Snapshot* snap,
                       const format::Lineage& lineage, SnapshotSink* sink, uint64_t* count,
                       uint64_t* digest, bool* sink_failed);

// For a Put of delta `s` on a base seen through `base`: subtracts from
// *live / *digest the base rows that `s` replaces or removes, and lists in
// *removed_live the removed keys that were live in the base.
Status SubtractReplaced(rocksdb::DB* db, const Snapshot& s, const format::Lineage& base,
                        uint64_t* live, uint64_t* digest, std::vector<uint64_t>* removed_live);

// Adds to *batch the deletion of every row version that none of `kept` sees,
// and of removal records that no longer hide anything: a scan of every row
// version (the reference, and the way for stores older than "W" records).
// Adds the versions looked at to *examined.
Status CollectGarbage(rocksdb::DB* db, const std::vector<format::Lineage>& kept,
                      rocksdb::WriteBatch* batch, uint64_t* examined);

// The snapshot ids whose written keys hold every version that dropping
// `dropped` (lineages of the snapshots going) can make garbage while `kept`
// remain: the ids no kept lineage holds, and for each dropped x either the
// ids of one kept y0 holding all of x that are not in x (the fewest such: a
// version x saw as newest is still newest in y0 unless y0 wrote its key
// again), or, when no kept lineage holds all of x, for each kept y the ids
// of y not in x above the oldest id they share (a version x saw as newest is
// hidden in y only by a newer one of y's that x does not see).
format::Lineage GarbageCandidates(const std::vector<format::Lineage>& dropped,
                                  const std::vector<format::Lineage>& kept);

// CollectGarbage restricted to the keys that the snapshots in `candidates`
// wrote ("W" records): O(those keys), not O(table). Also deletes the "W"
// records of the ids in `unreachable` (no kept lineage holds them).
Status CollectGarbageOf(rocksdb::DB* db, const format::Lineage& candidates,
                        const format::Lineage& unreachable,
                        const std::vector<format::Lineage>& kept, rocksdb::WriteBatch* batch,
                        uint64_t* examined);

// Adds to *batch the "W" records of snapshot `id` writing `keys`.
void AddWritten(uint64_t id, const std::vector<uint64_t>& keys, rocksdb::WriteBatch* batch);

}  // namespace ranker::store::internal
