#include "store/snapshot_store.h"

#include <string>

namespace ranker::store {

StatusOr<Snapshot> SnapshotStore::Latest(Status* skipped) const {
  if (skipped != nullptr) *skipped = Status::OK();
  StatusOr<std::vector<uint64_t>> ids = Ids();
  if (!ids.ok()) return ids.status();
  if (ids->empty()) return Status::NotFound("no snapshot stored");
  std::string report;
  for (uint64_t id : *ids) {
    StatusOr<Snapshot> s = Get(id);
    if (s.ok()) {
      if (skipped != nullptr && !report.empty()) *skipped = Status::Corruption(report);
      return s;
    }
    // NotFound: dropped by a concurrent Retain/Delete since Ids(); try older.
    if (s.status().code() == Status::Code::kNotFound) continue;
    if (s.status().code() != Status::Code::kCorruption) return s.status();
    corrupt_skipped_.fetch_add(1, std::memory_order_relaxed);
    if (!report.empty()) report += "; ";
    report += s.status().message();
  }
  if (report.empty()) return Status::NotFound("no snapshot stored");
  if (skipped != nullptr) *skipped = Status::Corruption(report);
  return Status::Corruption("no valid snapshot: " + report);
}

}  // namespace ranker::store
