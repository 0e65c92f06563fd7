// Embedding rows of categorical values, keyed by the 64-bit
// base::FeatureKey(field, value): no modulo buckets, so distinct values
// never share a row (barring a 64-bit collision). Each row stores its
// weights and its optimizer state side by side, in fixed-size chunks (the
// table grows without copying old rows), plus the newest event time a
// training example used it (its last-seen time).
//
// Initialisation: a row's initial weights are a pure function of (key,
// seed): U(-init_scale, +init_scale) from Rng(HashCombine(key, seed)). The
// trainer creates the row on its first update; the scorer looks an unseen
// key up WITHOUT inserting and gets the same initial weights, so a value
// seen for the first time is scored in serving exactly as training would
// see it.
//
// Bounded memory (RowPolicy, both off by default):
//  - Admission (admit_after = N > 1): a value without a row gets one only
//    in the training step that brings its sightings to N (Admits()); until
//    then training leaves it out (zero vector, no update) and Lookup()
//    gives ZEROS for every key without a row, so serving agrees. Sightings
//    of values on probation are counted in a count-min sketch (4 rows of
//    saturating 16-bit counters, admit_sketch_bytes in all; the estimate is
//    the minimum of a value's 4 counters, never below its true count). When
//    a value is admitted its counts leave the sketch (min(estimate, N-1) is
//    taken from each of its counters), so after its row expires it counts
//    from zero again. Approximations, all from hash collisions: a value may
//    be admitted a few sightings early; one sharing counters with an
//    admitted value may lose up to N-1 counts (admitted late). Every
//    `width` probation sightings all counters are halved (TinyLFU aging),
//    so the sketch never fills up on an endless stream: sightings spread
//    over much more than that may never add up to N.
//  - Expiry (ttl_ms > 0): the table's clock is the newest Example::ts_ms
//    trained on; a training use refreshes a row's last-seen time (ts -1 =
//    unknown: no refresh; a row created so starts at the clock). Each time
//    the clock passes the next sweep time (clock + max(1, ttl/4) after the
//    last sweep: event time only, never wall-clock), rows last seen before
//    clock - ttl are removed: their keys go to removed_keys() and
//    evicted_rows() counts them. A value seen again starts over from its
//    initial weights. Without timestamps the clock never moves and nothing
//    expires.
// All of it (counters, clock, sweep time, last-seen times) is state: in
// Digest(), Serialize(), ExportRow() and SerializeMeta(), so a save/restore
// continues bit-identically; nothing depends on row insertion order.
//
// Thread-safety: const methods may run concurrently; anything else needs
// exclusive access (one trainer writes; scorers read a published copy).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "learner/options.h"
#include "learner/tensor.h"

namespace ranker::learner {

// Admission and expiry settings (see the file comment); from ModelOptions.
struct RowPolicy {
  int admit_after = 0;                   // <= 1: off
  int64_t admit_sketch_bytes = 1 << 20;  // used only with admission on
  int64_t ttl_ms = 0;                    // 0: off
  static RowPolicy Of(const ModelOptions& o) {
    return {o.embedding_admit_after, o.embedding_admit_sketch_bytes, o.embedding_ttl_ms};
  }
};

// What a training step tells the table besides its row updates (filled by
// InputLayout::Build in training, applied by EmbeddingTable::EndStep).
struct StepSightings {
  // Values without a row that were not admitted: (key, sightings).
  std::vector<std::pair<uint64_t, uint32_t>> probation;
  int64_t newest_ts_ms = -1;  // newest Example::ts_ms of the batch, -1 none
};

// Approximate counts of keys in fixed memory: 4 rows of `width` saturating
// 16-bit counters (a count-min sketch). A key's estimate is the minimum of
// its 4 counters: never below its true count, above it on collisions.
class CountMinSketch {
 public:
  CountMinSketch() = default;  // empty: counts nothing, estimates 0
  explicit CountMinSketch(int64_t bytes);
  bool empty() const { return cells_.empty(); }
  size_t width() const { return width_; }
  uint32_t Estimate(uint64_t key) const;
  // Adds n to each counter of `key` (saturating); every `width` additions
  // all counters are halved.
  void Add(uint64_t key, uint32_t n);
  // Takes min(n, counter) from each counter of `key`.
  void Subtract(uint64_t key, uint32_t n);
  void Digest(Digest64* d) const;
  void Serialize(std::string* out) const;
  // InvalidArgument when the saved sketch has another (non-zero) size.
  Status Deserialize(Decoder* in);

 private:
  static constexpr int kDepth = 4;
  size_t Cell(uint64_t key, int r) const;
  std::vector<uint16_t> cells_;  // kDepth x width_
  size_t width_ = 0;
  uint64_t since_aging_ = 0;  // additions since the counters were last halved
};

class EmbeddingTable {
 public:
  // state_width optimizer values per row, each initialised to state_init.
  EmbeddingTable(int dim, int state_width, Real state_init, uint64_t seed, double init_scale,
                 const RowPolicy& policy = {});

  int dim() const { return dim_; }
  int state_width() const { return state_width_; }
  size_t size() const { return keys_.size(); }
  const RowPolicy& policy() const { return policy_; }
  bool admission() const { return policy_.admit_after > 1; }

  // The weights [dim] of `key`, or nullptr when it has no row. Valid until
  // the next EndStep(), ImportRow() or Clear() (expiry moves rows).
  const Real* Find(uint64_t key) const;
  // Writes the weights of `key` into out[0, dim): its row; without one, its
  // initial weights, or zeros with admission on (the table is not changed).
  void Lookup(uint64_t key, Real* out) const;
  // Writes the deterministic initial weights of `key` into out[0, dim).
  void InitialWeights(uint64_t key, Real* out) const;

  // Whether `key`, without a row, gets one in a training step that sees it
  // `sightings` times: its count so far plus sightings reaches admit_after.
  // Always true with admission off.
  bool Admits(uint64_t key, uint32_t sightings) const;

  // The row of `key` (weights, then state_width() optimizer values),
  // created with its initial weights and state when absent (an admission:
  // its counts leave the sketch). Marks it dirty. A training use at event
  // time ts_ms (-1 unknown) refreshes its last-seen time.
  std::span<Real> Mutable(uint64_t key, int64_t ts_ms);
  std::span<Real> Mutable(uint64_t key) { return Mutable(key, -1); }
  // After a training step's Mutable() calls: counts the probation
  // sightings, advances the clock and, when due, removes expired rows.
  void EndStep(const StepSightings& step);

  // Dirty tracking has independent channels, each with its own dirty
  // period: 0 = snapshots (the default), 1 = the model topic
  // (app/model_broadcaster.h). A change marks a row dirty in every channel;
  // ClearDirty(c) ends channel c's period only.
  static constexpr int kDirtyChannels = 2;
  // Keys of the rows created or changed since the last ClearDirty(channel),
  // in the order they first became dirty (for incremental snapshots).
  const std::vector<uint64_t>& dirty_keys(int channel = 0) const { return dirty_[channel].keys; }
  // Keys of the rows removed since the last ClearDirty(channel) and not
  // created again since (disjoint from dirty_keys(channel)), in no
  // particular order.
  const std::vector<uint64_t>& removed_keys(int channel = 0) const {
    return dirty_[channel].removed;
  }
  void ClearDirty(int channel = 0);

  // One row as self-contained bytes (its weights, optimizer state and
  // last-seen time; the layout is this class's own): appends to `out`.
  // False if `key` has no row.
  bool ExportRow(uint64_t key, std::string* out) const;
  // Creates or overwrites the row of `key` from ExportRow() bytes, without
  // marking it dirty. Corruption if the bytes do not fit this table.
  Status ImportRow(uint64_t key, std::string_view bytes);

  // The table's state other than its rows (clock, sweep time, counters,
  // admission sketch), for snapshots that store rows one by one.
  void SerializeMeta(std::string* out) const;
  Status DeserializeMeta(Decoder* in);
  // Drops every row and the meta state (before importing a snapshot).
  void Clear();

  // The newest event time trained on (-1: none yet).
  int64_t clock_ms() const { return clock_ms_; }
  // The last-seen time of `key`'s row (-1 unknown), or -1 without a row.
  int64_t LastSeen(uint64_t key) const;
  // Cumulative (survive save/restore): rows removed by expiry; rows
  // created by training (with admission: admitted values); sightings of
  // values left out by admission.
  uint64_t evicted_rows() const { return evicted_rows_; }
  uint64_t admitted_rows() const { return admitted_rows_; }
  uint64_t rejected_sightings() const { return rejected_sightings_; }

  // All keys, ascending.
  std::vector<uint64_t> SortedKeys() const;
  // Digests every row (key, weights, state, last-seen) in ascending key
  // order, then the meta state, so the result does not depend on insertion
  // or hash-table order.
  void Digest(Digest64* d) const;
  // Rows in ascending key order, then the meta state (restores identically
  // regardless of the insertion order). Dirty flags are not saved; a
  // restored table is clean.
  void Serialize(std::string* out) const;
  Status Deserialize(Decoder* in);

 private:
  static constexpr size_t kRowsPerChunk = 4096;
  size_t stride() const { return static_cast<size_t>(dim_ + state_width_); }
  Real* RowPtr(size_t row);
  const Real* RowPtr(size_t row) const;
  size_t AppendRow(uint64_t key);
  // The index slot holding `key`, or the empty slot where it would go.
  // REQUIRES: !slots_.empty().
  size_t SlotOf(uint64_t key) const;
  // The row of `key`, or kNoRow.
  uint32_t RowOf(uint64_t key) const;
  void IndexInsert(uint64_t key, uint32_t row);
  void IndexErase(size_t slot);
  void Reindex(size_t num_slots);
  void RemoveRow(uint64_t key);
  void Expire();
  void ForgetRemoved(uint64_t key);
  void MarkRemoved(uint64_t key);

  // The key -> row index: open addressing with linear probing over a
  // power-of-two array at most half full (a lookup touches one or two
  // cache lines; std::unordered_map chases a node per lookup). Keys are
  // well-mixed 64-bit hashes, so their low bits pick the slot. Deletion
  // shifts later entries of the probe run back (no tombstones).
  static constexpr uint32_t kNoRow = UINT32_MAX;
  struct Slot {
    uint64_t key = 0;
    uint32_t row = kNoRow;
  };
  std::vector<Slot> slots_;

  int dim_;
  int state_width_;
  Real state_init_;
  uint64_t seed_;
  double init_scale_;
  RowPolicy policy_;
  // Rows are dense: removal moves the last row into the hole.
  std::vector<uint64_t> keys_;             // row -> key
  std::vector<std::vector<Real>> chunks_;  // kRowsPerChunk rows each
  std::vector<int64_t> last_seen_;         // row -> last-seen event time
  std::vector<uint8_t> dirty_bits_;        // row -> bit c: dirty since ClearDirty(c)
  // One dirty channel's changed and removed keys.
  struct DirtySet {
    std::vector<uint64_t> keys;
    std::vector<uint64_t> removed;
    std::unordered_map<uint64_t, size_t> removed_index;  // key -> removed index
  };
  std::array<DirtySet, kDirtyChannels> dirty_;
  // Meta state.
  CountMinSketch sketch_;  // empty with admission off
  int64_t clock_ms_ = -1;
  int64_t next_sweep_ms_ = 0;
  uint64_t evicted_rows_ = 0;
  uint64_t admitted_rows_ = 0;
  uint64_t rejected_sightings_ = 0;
};

}  // namespace ranker::learner
