// Durable snapshots of the learner (contract §4, §5): captures the whole
// learning state at a consistent point on the learner thread, writes it to a
// SnapshotStore (RocksDB) on a thread of its own, keeps the newest N, and
// loads snapshots back for startup and rollback.
//
// A snapshot = the model without its embedding rows, the pipeline's state
// (joiner pending impressions, trainer partial batch, progressive metrics,
// counts), the next offset per topic-partition, plus the rows: all of them
// the first time (and after a failed write), afterwards only those changed
// or removed since the previous capture (a delta the store resolves).
// Everything consumed up to the offsets is reflected in the snapshot, and
// nothing after them: restoring it and reading on from the offsets learns
// every event exactly once.
//
// The learner's pause is O(dense part + rows changed): the capture takes a
// copy of the model that shares its rows (Model::Clone) and the dirty key
// lists (moved out); the writer thread serialises that immutable copy,
// exports its rows and computes its param_checksum. While it does, the copy
// holds the rows the learner changes meanwhile (path-copied trie nodes).
//
// Every model (README "Champion and challengers"): the champion's snapshot
// is the one above; each challenger's (its model state, trainer state and
// rows, deltas too, under the same id and base) goes to the store's
// ModelStore(name), written BEFORE the champion's, so a snapshot exists
// once the champion's is stored. The champion's state (version 3) names
// the model serving by default and the challengers the snapshot holds.
// Challengers are captured on their own thread at the hand-off boundary
// (ChallengerSet::Capture), so the snapshot's offsets are exactly what
// every model has trained; the writer waits for that capture.
//
// State version 3 adds the models record; 2 records the incremental
// param_checksum; version 1 (the releases before it) is restored and
// verified against the legacy key-ordered digest. Versions 1 and 2 restore
// the champion only (challengers start fresh).
//
// Thread-safety: Capture(), Due() and Rebase() from the learner thread;
// everything else from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "ingest/event_source.h"
#include "service/challengers.h"
#include "service/model_publisher.h"
#include "service/pipeline.h"
#include "service/service_options.h"
#include "store/snapshot_store.h"

namespace ranker::app {

// Counters for /metrics and /v1/model.
struct SnapshotStats {
  uint64_t written = 0;
  uint64_t failed = 0;
  uint64_t corrupt_skipped = 0;  // corrupt snapshots passed over when loading
  // Restores of snapshots written by a build for other instruction sets
  // (store::Snapshot::isa): they load, but do not continue bit-identically.
  uint64_t isa_mismatch = 0;
  double last_capture_ms = 0;  // learner-thread pause of the last capture
  double last_write_ms = 0;    // store write (+ retention) of the last snapshot
  double last_retain_ms = 0;   // of which retention (Retain: a scan of the row versions)
  double last_trim_ms = 0;     // and handing freed heap pages back (TrimHeap)
  uint64_t last_bytes = 0;     // payload bytes of the last written snapshot
  uint64_t last_rows = 0;      // changed + removed rows it carried
  store::SnapshotInfo last;    // the last written or restored (id 0: none)
  std::string last_error;
};

class Snapshotter {
 public:
  // Opens (creating) the RocksDB store in options.dir.
  static StatusOr<std::unique_ptr<Snapshotter>> Open(const SnapshotOptions& options,
                                                     const Clock* clock);
  // Over any store (tests use the in-memory one). `clock` is borrowed.
  Snapshotter(std::unique_ptr<store::SnapshotStore> store, const SnapshotOptions& options,
              const Clock* clock);
  ~Snapshotter();  // writes what is queued, then stops
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // The newest snapshot that verifies (NotFound: none stored). Corrupt newer
  // ones are skipped, logged to stderr and counted. Holds every row in
  // memory: startup and rollback use ReadLatest()/Read() instead.
  StatusOr<store::Snapshot> LoadLatest();
  StatusOr<store::Snapshot> Load(uint64_t id) const;
  std::vector<store::SnapshotInfo> List() const;

  // A snapshot read back and verified (param_checksum included), not yet
  // in a pipeline.
  struct Loaded {
    store::Snapshot head;  // the snapshot without its rows
    uint64_t rows = 0;     // rows restored into `model`
    std::unique_ptr<learner::Model> model;
    std::string pipeline_state;  // for LearningPipeline::Restore
    // State version 3: the model serving by default, and the challengers
    // the snapshot holds (empty before).
    std::string champion;
    std::vector<std::string> models;
    // Those of `models` the ChallengerSet still names, read back.
    std::vector<RestoredChallenger> challengers;
  };
  // Snapshot `id` (or the newest that verifies, skipping corrupt ones as
  // LoadLatest does) streamed from the store into a new model of `config`'s
  // shape, row by row: the rows are never held twice, so the peak memory of
  // a restore stays near the restored model's. Errors as RestoreInto's, and
  // the store's (NotFound: no such snapshot / none stored).
  StatusOr<Loaded> Read(uint64_t id, const PipelineOptions& config) const;
  StatusOr<Loaded> ReadLatest(const PipelineOptions& config);
  // Puts a Loaded snapshot's model and state into `pipeline`, and its
  // challengers into the ChallengerSet (set_challengers; the others start
  // fresh at the snapshot's offsets), and names its champion
  // (set_champion). Nothing changes unless OK. Learner thread.
  Status Apply(Loaded loaded, LearningPipeline* pipeline);

  // The challengers to capture and restore with the champion (borrowed;
  // null: none). Call before any Read or Capture.
  void set_challengers(ChallengerSet* challengers) { challengers_ = challengers; }
  // Which model serves by default: read at each capture, set by Apply()
  // to the snapshot's (a name the config no longer has is passed as is:
  // the callee decides).
  void set_champion(std::function<std::string()> get, std::function<void(const std::string&)> set) {
    get_champion_ = std::move(get);
    set_champion_ = std::move(set);
  }

  // Rebuilds `pipeline` (model and state) from `s`, the champion only.
  // Nothing changes unless OK.
  static Status RestoreInto(const store::Snapshot& s, LearningPipeline* pipeline);
  // After RestoreInto(s) or Apply(): the next capture is a delta against
  // `s` (rows: its live row count, for display). Warns on stderr and counts
  // (stats().isa_mismatch) when s was written by a build for other
  // instruction sets.
  void Rebase(const store::Snapshot& s) { Rebase(s, s.changed_rows.size()); }
  void Rebase(const store::Snapshot& s, uint64_t rows);

  // A periodic snapshot is due: interval_ms since the last capture and no
  // write in flight.
  bool Due() const;
  // Captures the state now (the model's rows become clean) and queues the
  // write; returns the new snapshot's id. The capture's own copy of the
  // model serves the writer thread.
  uint64_t Capture(LearningPipeline* pipeline, const ingest::OffsetMap& offsets,
                   uint64_t model_version);
  // Waits until snapshot `id` is written or failed; its info, or why not.
  StatusOr<store::SnapshotInfo> Wait(uint64_t id, std::chrono::milliseconds timeout);

  // Called on the writer thread with the offsets of each durable snapshot.
  void set_on_durable(std::function<void(const ingest::OffsetMap&)> fn) {
    on_durable_ = std::move(fn);
  }

  SnapshotStats stats() const;
  const SnapshotOptions& options() const { return options_; }

  // The snapshot's offsets in the source's terms, and back.
  static ingest::OffsetMap ToSourceOffsets(const store::OffsetMap& offsets);
  static store::OffsetMap ToStoreOffsets(const ingest::OffsetMap& offsets);

 private:
  struct Pending {
    store::Snapshot snapshot;                              // without the model's state and rows yet
    std::unique_ptr<const learner::Model> model;           // the captured version
    bool full = false;                                     // every row, or:
    std::vector<uint64_t> dirty_keys;                      // rows changed since the base
    std::string champion;                                  // serving by default
    std::vector<std::string> challengers;                  // captured (names)
    std::vector<bool> challenger_full;                     // each: every row (not in the base)
    std::future<std::vector<ChallengerCapture>> captures;  // valid iff challengers
  };
  // Writer thread: the model's state blob, rows and checksum into
  // p->snapshot; the champion's (with its models record), or a challenger's
  // at `version`, `models` appended when given.
  static void Fill(Pending* p);
  static void Fill(Pending* p, uint32_t version, const std::string* models);
  // Writer thread: each challenger's snapshot into its model store.
  Status WriteChallengers(Pending* p);
  // Drops from the model stores the ids the champion's store no longer has.
  void RetainModels();
  // Reads the challengers `loaded` names (and the set still has).
  Status ReadChallengers(Loaded* loaded) const;
  void Run();
  void Write(Pending p);

  const std::unique_ptr<store::SnapshotStore> store_;
  const SnapshotOptions options_;
  const Clock* const clock_;
  std::function<void(const ingest::OffsetMap&)> on_durable_;

  ChallengerSet* challengers_ = nullptr;
  std::function<std::string()> get_champion_;
  std::function<void(const std::string&)> set_champion_;

  // Learner thread only.
  std::set<std::string> base_models_;     // challengers the base snapshot holds
  std::set<std::string> applied_models_;  // restored by Apply(), for Rebase()
  uint64_t next_id_ = 1;
  uint64_t base_id_ = 0;  // 0: the next capture carries every row
  int64_t last_capture_mono_ms_ = 0;

  mutable Mutex mu_;
  CondVar cv_;  // queue changed, or a write ended
  std::deque<Pending> queue_ RANKER_GUARDED_BY(mu_);
  bool writing_ RANKER_GUARDED_BY(mu_) = false;
  bool need_full_ RANKER_GUARDED_BY(mu_) = false;               // a write failed
  std::map<uint64_t, Status> outcomes_ RANKER_GUARDED_BY(mu_);  // recent ids
  SnapshotStats stats_ RANKER_GUARDED_BY(mu_);
  bool stop_ RANKER_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ranker::app
