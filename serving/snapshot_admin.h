// The snapshot routes' view of snapshots: list, take, restore, and the
// newest one for GET /v1/model. Implementation: app::Service (its
// Snapshotter and learner); tests use a fake.
//
// Thread-safety: every method from any thread; TakeSnapshot() and
// RestoreSnapshot() block until the learner has done it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/snapshot.h"

namespace ranker::app {

// The answer of a restore: what the scorers serve right after it.
struct RestoredSnapshot {
  uint64_t model_version = 0;  // the version published from the snapshot
  std::string param_checksum;  // of the model right after the restore
};

class SnapshotAdmin {
 public:
  virtual ~SnapshotAdmin() = default;
  // False when snapshots are off (no snapshot.dir).
  virtual bool snapshots_enabled() const = 0;
  // The retained snapshots, newest first (empty when off).
  virtual std::vector<store::SnapshotInfo> ListSnapshots() const = 0;
  // The newest snapshot written or restored; nullopt when none or off.
  virtual std::optional<store::SnapshotInfo> LastSnapshot() const = 0;
  // A snapshot now, written. FailedPrecondition when snapshots are off.
  virtual StatusOr<store::SnapshotInfo> TakeSnapshot() = 0;
  // Learner and scorers rolled back to snapshot `id`. NotFound/Corruption
  // from the store; FailedPrecondition when off or not learning.
  virtual StatusOr<RestoredSnapshot> RestoreSnapshot(uint64_t id) = 0;
};

}  // namespace ranker::app
