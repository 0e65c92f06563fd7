// A SnapshotStore in memory, for tests of the modules that take snapshots
// (app, api) and as the reference model of the contract suite: it does the
// obvious thing (materialises each snapshot's full row set at Put and keeps
// one EncodeSnapshot() blob per id), so the RocksDB store's incremental
// layout is checked against a model with no cleverness in it.
// Thread-safe (one mutex). Nothing survives the object.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "store/snapshot_store.h"

namespace ranker::store {

class InMemorySnapshotStore final : public SnapshotStore {
 public:
  InMemorySnapshotStore() = default;

  Status Put(const Snapshot& s) override;
  StatusOr<Snapshot> Get(uint64_t id) const override;
  std::vector<SnapshotInfo> List() const override;
  StatusOr<std::vector<uint64_t>> Ids() const override;
  Status Retain(size_t keep_newest = 5) override;
  Status Delete(uint64_t id) override;
  // Another InMemorySnapshotStore per name.
  StatusOr<SnapshotStore*> ModelStore(std::string_view name) override;
  std::vector<std::string> ModelStoreNames() const override;

  // Test hook: the stored encoding of snapshot `id` (nullptr if absent), to
  // flip bits in or truncate. The pointer is valid until the next writer call.
  std::string* MutableEncodingForTest(uint64_t id);

 private:
  struct Entry {
    std::string encoded;  // EncodeSnapshot() of the full snapshot
    SnapshotInfo info;    // sizes as reported by List()
  };
  StatusOr<Snapshot> DecodeLocked(uint64_t id) const RANKER_REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<uint64_t, Entry> entries_ RANKER_GUARDED_BY(mu_);
  uint64_t max_id_ RANKER_GUARDED_BY(mu_) = 0;  // ids are never reused
  std::map<std::string, std::unique_ptr<InMemorySnapshotStore>, std::less<>> models_
      RANKER_GUARDED_BY(mu_);
};

}  // namespace ranker::store
