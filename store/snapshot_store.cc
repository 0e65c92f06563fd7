#include "store/snapshot_store.h"

#include <string>
#include <utility>

namespace ranker::store {
namespace {

// Forwards to another sink and remembers whether an error came from it, so
// that ReadLatest skips only snapshots the store found corrupt.
class TrackingSink final : public SnapshotSink {
 public:
  explicit TrackingSink(SnapshotSink* to) : to_(to) {}
  Status Begin(Snapshot head) override { return Track(to_->Begin(std::move(head))); }
  Status Row(uint64_t key, std::string_view bytes) override { return Track(to_->Row(key, bytes)); }
  bool failed() const { return failed_; }

 private:
  Status Track(Status s) {
    if (!s.ok()) failed_ = true;
    return s;
  }
  SnapshotSink* const to_;
  bool failed_ = false;
};

}  // namespace

Status CollectingSink::Begin(Snapshot head) {
  *out_ = std::move(head);
  return Status::OK();
}

Status CollectingSink::Row(uint64_t key, std::string_view bytes) {
  out_->changed_rows.emplace_back(key, std::string(bytes));
  return Status::OK();
}

StatusOr<SnapshotStore*> SnapshotStore::ModelStore(std::string_view name) {
  return Status::FailedPrecondition("this snapshot store holds one model: no store for model '" +
                                    std::string(name) + "'");
}

Status SnapshotStore::Read(uint64_t id, SnapshotSink* sink) const {
  StatusOr<Snapshot> s = Get(id);
  if (!s.ok()) return s.status();
  std::vector<Row> rows = std::move(s->changed_rows);
  s->changed_rows.clear();
  RANKER_RETURN_IF_ERROR(sink->Begin(std::move(s).value()));
  for (const auto& [key, bytes] : rows) RANKER_RETURN_IF_ERROR(sink->Row(key, bytes));
  return Status::OK();
}

StatusOr<Snapshot> SnapshotStore::Latest(Status* skipped) const {
  Snapshot s;
  CollectingSink sink(&s);
  RANKER_RETURN_IF_ERROR(ReadLatest(&sink, skipped));
  return s;
}

Status SnapshotStore::ReadLatest(SnapshotSink* sink, Status* skipped) const {
  if (skipped != nullptr) *skipped = Status::OK();
  // A concurrent Retain/Delete may drop every id listed before Read reaches
  // it; list again then (a bounded number of times).
  for (int attempt = 0; attempt < 3; ++attempt) {
    StatusOr<std::vector<uint64_t>> ids = Ids();
    if (!ids.ok()) return ids.status();
    if (ids->empty()) break;
    std::string report;
    for (uint64_t id : *ids) {
      TrackingSink tracking(sink);
      const Status s = Read(id, &tracking);
      if (s.ok()) {
        if (skipped != nullptr && !report.empty()) *skipped = Status::Corruption(report);
        return s;
      }
      if (tracking.failed()) return s;
      if (s.code() == Status::Code::kNotFound) continue;  // dropped since Ids()
      if (s.code() != Status::Code::kCorruption) return s;
      corrupt_skipped_.fetch_add(1, std::memory_order_relaxed);
      if (!report.empty()) report += "; ";
      report += s.message();
    }
    if (!report.empty()) {
      if (skipped != nullptr) *skipped = Status::Corruption(report);
      return Status::Corruption("no valid snapshot: " + report);
    }
  }
  return Status::NotFound("no snapshot stored");
}

}  // namespace ranker::store
