#include "store/snapshot_store.h"

#include <string>

namespace ranker::store {

StatusOr<Snapshot> SnapshotStore::Latest(Status* skipped) const {
  if (skipped != nullptr) *skipped = Status::OK();
  // A concurrent Retain/Delete may drop every id listed before Get reaches
  // it; list again then (a bounded number of times).
  for (int attempt = 0; attempt < 3; ++attempt) {
    StatusOr<std::vector<uint64_t>> ids = Ids();
    if (!ids.ok()) return ids.status();
    if (ids->empty()) break;
    std::string report;
    for (uint64_t id : *ids) {
      StatusOr<Snapshot> s = Get(id);
      if (s.ok()) {
        if (skipped != nullptr && !report.empty()) *skipped = Status::Corruption(report);
        return s;
      }
      if (s.status().code() == Status::Code::kNotFound) continue;  // dropped since Ids()
      if (s.status().code() != Status::Code::kCorruption) return s.status();
      corrupt_skipped_.fetch_add(1, std::memory_order_relaxed);
      if (!report.empty()) report += "; ";
      report += s.status().message();
    }
    if (!report.empty()) {
      if (skipped != nullptr) *skipped = Status::Corruption(report);
      return Status::Corruption("no valid snapshot: " + report);
    }
  }
  return Status::NotFound("no snapshot stored");
}

}  // namespace ranker::store
