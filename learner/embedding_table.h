// Embedding rows of categorical values, keyed by the 64-bit
// base::FeatureKey(field, value): no modulo buckets, so distinct values
// never share a row (barring a 64-bit collision). Each row stores its
// weights and its optimizer state side by side, plus the newest event time
// a training example used it (its last-seen time). The rows live in a
// persistent hash trie (learner/row_trie.h): copying a table is O(1) in its
// rows and the copy shares them; the learner's later writes copy only the
// trie nodes they touch, so a published copy stays unchanged while it lives
// and costs memory only for what changed since.
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
//    clock - ttl are removed, in ascending key order: their keys go to
//    removed_keys() and evicted_rows() counts them. A value seen again
//    starts over from its initial weights. Without timestamps the clock
//    never moves and nothing expires. A sweep costs O(expired rows + rows
//    seen again since their entry), not O(table): a min-heap holds one
//    (last-seen, key) entry per row, re-pushed lazily when popped.
// All of it (counters, clock, sweep time, last-seen times) is state: in
// Digest(), Serialize(), ExportRow() and SerializeMeta(), so a save/restore
// continues bit-identically; nothing depends on row insertion order.
//
// Digest: an order-independent sum (mod 2^64) of one XXH3 hash per row
// (key, last-seen, weights, optimizer state), kept up to date at O(rows
// changed): each write subtracts the row's old hash once, and the rows
// written since are hashed again at the next fold (FoldDigest(), run at the
// end of each training step while its rows are in cache, and by Digest()
// and every copy for writes outside training steps). Then the row count and the meta state.
//
// Thread-safety: const methods may run concurrently on a table no one
// writes, EXCEPT that Digest(), FoldDigest() and copying fold pending
// writes: call them on the writer's thread (a copy is always folded, so
// on a copy they only read). Distinct tables (a copy and its source) may be
// used from distinct threads: one trainer writes its table while scorers
// read published copies, without locks.
#pragma once

#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "learner/count_min_sketch.h"
#include "learner/options.h"
#include "learner/row_trie.h"
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

class EmbeddingTable {
 public:
  // state_width optimizer values per row, each initialised to state_init.
  EmbeddingTable(int dim, int state_width, Real state_init, uint64_t seed, double init_scale,
                 const RowPolicy& policy = {});
  // A copy shares every row with `other` (O(1) in the rows; the meta state
  // and the admission sketch are copied) and is clean: no dirty or removed
  // keys. Folds `other`'s digest first (see the thread-safety note).
  EmbeddingTable(const EmbeddingTable& other);
  EmbeddingTable& operator=(const EmbeddingTable& other);
  EmbeddingTable(EmbeddingTable&&) noexcept = default;
  EmbeddingTable& operator=(EmbeddingTable&&) noexcept = default;

  int dim() const { return dim_; }
  int state_width() const { return state_width_; }
  size_t size() const { return rows_.size(); }
  const RowPolicy& policy() const { return policy_; }
  bool admission() const { return policy_.admit_after > 1; }

  // The weights [dim] of `key`, or nullptr when it has no row. Valid until
  // the next write to this table (Mutable, ImportRow, EndStep, Clear,
  // assignment); on a copy no one writes, as long as the copy lives.
  const Real* Find(uint64_t key) const;
  // Find() of n keys at once, out[i] for keys[i]: the cache misses of
  // distinct keys overlap (RowTrie::FindMany), for a request's candidates.
  void FindMany(const uint64_t* keys, size_t n, const Real** out) const;
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
  // time ts_ms (-1 unknown) refreshes its last-seen time. The span is valid
  // until the next write to this table (the next Mutable() may move it:
  // use it before asking for another row).
  std::span<Real> Mutable(uint64_t key, int64_t ts_ms);
  std::span<Real> Mutable(uint64_t key) { return Mutable(key, -1); }
  // After a training step's Mutable() calls: counts the probation
  // sightings, advances the clock and, when due, removes expired rows.
  void EndStep(const StepSightings& step);

  // Dirty tracking has independent channels, each with its own dirty
  // period: 0 = snapshots (the default), 1 = the model topic
  // (the model broadcaster). A change marks a row dirty in every channel;
  // ClearDirty(c) ends channel c's period only. Kept beside the rows (a
  // key set per channel), so clearing costs O(dirty keys) and copies no
  // rows.
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
  // ClearDirty(channel), handing the period's dirty and removed keys over
  // (moved out, not copied).
  void TakeDirty(int channel, std::vector<uint64_t>* keys, std::vector<uint64_t>* removed);

  // One row as self-contained bytes (its weights, optimizer state and
  // last-seen time; the layout is this class's own): appends to `out`.
  // False if `key` has no row.
  bool ExportRow(uint64_t key, std::string* out) const;
  // Creates or overwrites the row of `key` from ExportRow() bytes, without
  // marking it dirty. Corruption if the bytes do not fit this table.
  Status ImportRow(uint64_t key, std::string_view bytes);
  // Restores many rows at once (a snapshot's, into a table without rows):
  // Add() checks each row as ImportRow() does and buffers it; Finish()
  // builds the trie in one pass (RowTrie::Builder: each leaf allocated
  // once at its final size, in hash order) and hashes each row for the
  // digest while it is in cache. The table then equals one that
  // ImportRow()ed the same rows (rows, lookups, Digest(), expiry), and
  // nothing in it changes before Finish() succeeds. 4.5x less CPU than
  // ImportRow() row by row at 1M-3M rows (bench/bench_restore.cc).
  class BulkImport {
   public:
    explicit BulkImport(EmbeddingTable* table);  // borrowed until Finish()
    // Corruption naming the key when `bytes` are not an ExportRow() row of
    // this table's width (as ImportRow()); the import then fails.
    Status Add(uint64_t key, std::string_view bytes);
    // Builds the rows into the table. Errors: the first Add() error;
    // Corruption naming a key added twice; FailedPrecondition if the
    // table has rows.
    Status Finish();
    size_t size() const { return rows_.size(); }

   private:
    EmbeddingTable* const table_;
    RowTrie::Builder rows_;
    Status failed_;
  };

  // Replaces this table's rows by `from`'s, shared (O(1), as a copy's): the
  // meta state stays this table's. For followers that apply a delta onto
  // the previous version. Folds `from`'s digest (see thread-safety).
  // REQUIRES: same dim and state width.
  void ShareRows(const EmbeddingTable& from);
  // Removes the row of `key` if it has one, without marking anything dirty
  // or removed (a follower applying the leader's removals). True if it had.
  bool DropRow(uint64_t key);

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

  // All keys, ascending (O(n log n): for full images and tests).
  std::vector<uint64_t> SortedKeys() const;
  // Calls f(key) for every row, in no particular order.
  void ForEachKey(const std::function<void(uint64_t)>& f) const;
  // Adds the row count, the row-hash sum and the meta state (see the file
  // comment): O(rows changed since the last fold).
  void Digest(Digest64* d) const;
  // The digest of the snapshot format before the row-hash sum: every row
  // (key, weights, state, last-seen) in ascending key order, then the meta
  // state. O(n log n): only to verify snapshots written in that format.
  void LegacyDigest(Digest64* d) const;
  // Brings the row-hash sum up to date; returns how many rows it rehashed
  // (rows written or removed since the last fold).
  size_t FoldDigest() const;
  // Rows rehashed by folds so far (a row written in several training steps
  // counts once per step): the difference between two publications is
  // what the later one carried.
  uint64_t rows_folded() const { return rows_folded_; }
  // Distinct rows written or removed (folded) since the previous call, and
  // starts a new period: what one publication carried (a row written in
  // several steps counts once). O(those rows). Writer's thread.
  size_t TakeChangedRowCount() const;
  // The per-row hash that the digest sums, of `key`'s row (0 without one).
  uint64_t RowHash(uint64_t key) const;
  // Rows in ascending key order, then the meta state (restores identically
  // regardless of the insertion order). Dirty flags are not saved; a
  // restored table is clean.
  void Serialize(std::string* out) const;
  Status Deserialize(Decoder* in);

  // The trie's nodes and bytes (this version's; shared nodes included).
  RowTrie::Stats TrieStats() const { return rows_.ComputeStats(); }

 private:
  size_t stride() const { return static_cast<size_t>(dim_ + state_width_); }
  uint64_t HashOf(uint64_t key, RowTrie::ConstRow row) const;
  RowTrie::Row CreateRow(uint64_t key);
  void InitRow(uint64_t key, RowTrie::Row row);
  // The first write to `key`'s row since the last fold takes its old hash
  // out of the sum. REQUIRES: called before the row changes.
  void Touch(uint64_t key);
  void MarkDirty(uint64_t key);
  void ClearMarks(int channel, const std::vector<uint64_t>& keys) const;
  void RemoveRow(uint64_t key);
  void Expire();
  std::vector<uint64_t> ExpiredKeys(int64_t cutoff);
  void PushExpiry(int64_t last_seen, uint64_t key);
  void BuildExpiryHeap();
  void ForgetRemoved(uint64_t key);
  void MarkRemoved(uint64_t key);

  int dim_;
  int state_width_;
  Real state_init_;
  uint64_t seed_;
  double init_scale_;
  RowPolicy policy_;
  RowTrie rows_;
  // Per key changed since a mark was last cleared: bit c = dirty on
  // channel c, kTouched = written since the last fold of the digest.
  static constexpr uint8_t kTouched = 1u << kDirtyChannels;
  // Folded since the last TakeChangedRowCount() (listed in changed_).
  static constexpr uint8_t kChanged = 1u << (kDirtyChannels + 1);
  mutable boost::unordered_flat_map<uint64_t, uint8_t> marks_;
  // One dirty channel's changed and removed keys.
  struct DirtySet {
    std::vector<uint64_t> keys;
    std::vector<uint64_t> removed;
    boost::unordered_flat_map<uint64_t, size_t> removed_index;  // key -> removed index
  };
  std::array<DirtySet, kDirtyChannels> dirty_;
  // The digest's row part: the sum of the row hashes as of the last fold,
  // and the keys touched since (their marks carry kTouched).
  mutable uint64_t row_sum_ = 0;
  mutable std::vector<uint64_t> touched_;
  mutable uint64_t rows_folded_ = 0;
  mutable std::vector<uint64_t> changed_;  // their marks carry kChanged
  // Expiry (ttl_ms > 0): a min-heap of (last-seen, key), at least one entry
  // per row and never later than the row's last-seen time. A copy builds
  // its own at its first sweep.
  std::vector<std::pair<int64_t, uint64_t>> expiry_heap_;
  bool expiry_heap_ready_ = true;
  // Meta state.
  CountMinSketch sketch_;  // empty with admission off
  int64_t clock_ms_ = -1;
  int64_t next_sweep_ms_ = 0;
  uint64_t evicted_rows_ = 0;
  uint64_t admitted_rows_ = 0;
  uint64_t rejected_sightings_ = 0;
};

}  // namespace ranker::learner
