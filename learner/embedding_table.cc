#include "learner/embedding_table.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <functional>
#include <limits>

#include "base/random.h"

namespace ranker::learner {
namespace {

// 1: rows carry their last-seen time; the meta state its fields below.
constexpr uint32_t kMetaVersion = 1;
// Separates the last-seen time's part of a row hash's seed from the key's.
constexpr uint64_t kLastSeenSalt = 0x1a57c0de5eedULL;

int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

// The expiry heap's order: the earliest last-seen time on top.
constexpr auto kLater = std::greater<std::pair<int64_t, uint64_t>>();

}  // namespace

EmbeddingTable::EmbeddingTable(int dim, int state_width, Real state_init, uint64_t seed,
                               double init_scale, const RowPolicy& policy)
    : dim_(dim),
      state_width_(state_width),
      state_init_(state_init),
      seed_(seed),
      init_scale_(init_scale),
      policy_(policy),
      rows_(dim + state_width) {
  if (admission()) sketch_ = CountMinSketch(policy_.admit_sketch_bytes);
}

EmbeddingTable::EmbeddingTable(const EmbeddingTable& other)
    : dim_(other.dim_),
      state_width_(other.state_width_),
      state_init_(other.state_init_),
      seed_(other.seed_),
      init_scale_(other.init_scale_),
      policy_(other.policy_),
      rows_(other.rows_),
      expiry_heap_ready_(other.policy_.ttl_ms <= 0 || other.size() == 0),
      sketch_(other.sketch_),
      clock_ms_(other.clock_ms_),
      next_sweep_ms_(other.next_sweep_ms_),
      evicted_rows_(other.evicted_rows_),
      admitted_rows_(other.admitted_rows_),
      rejected_sightings_(other.rejected_sightings_) {
  other.FoldDigest();
  row_sum_ = other.row_sum_;
}

EmbeddingTable& EmbeddingTable::operator=(const EmbeddingTable& other) {
  if (this != &other) *this = EmbeddingTable(other);
  return *this;
}

const Real* EmbeddingTable::Find(uint64_t key) const { return rows_.Find(key).values; }

void EmbeddingTable::FindMany(const uint64_t* keys, size_t n, const Real** out) const {
  constexpr size_t kChunk = 64;
  RowTrie::ConstRow rows[kChunk];
  for (size_t first = 0; first < n; first += kChunk) {
    const size_t m = std::min(kChunk, n - first);
    rows_.FindMany(keys + first, m, rows);
    for (size_t i = 0; i < m; ++i) out[first + i] = rows[i].values;
  }
}

void EmbeddingTable::Lookup(uint64_t key, Real* out) const {
  const Real* row = Find(key);
  if (row != nullptr) {
    std::memcpy(out, row, sizeof(Real) * dim_);
  } else if (admission()) {
    std::fill(out, out + dim_, Real(0));
  } else {
    InitialWeights(key, out);
  }
}

void EmbeddingTable::InitialWeights(uint64_t key, Real* out) const {
  Rng rng(HashCombine(key, seed_));
  for (int i = 0; i < dim_; ++i) {
    out[i] = static_cast<Real>((2 * rng.Uniform() - 1) * init_scale_);
  }
}

bool EmbeddingTable::Admits(uint64_t key, uint32_t sightings) const {
  if (!admission()) return true;
  return sketch_.Estimate(key) + sightings >= static_cast<uint32_t>(policy_.admit_after);
}

int64_t EmbeddingTable::LastSeen(uint64_t key) const {
  const RowTrie::ConstRow row = rows_.Find(key);
  return row.values == nullptr ? -1 : *row.last_seen;
}

// XXH3 of the row's values, seeded by its key and last-seen time (Mix64 is
// a bijection: a change of either changes the seed).
uint64_t EmbeddingTable::HashOf(uint64_t key, RowTrie::ConstRow row) const {
  const uint64_t seed = Mix64(key) ^ Mix64(static_cast<uint64_t>(*row.last_seen) ^ kLastSeenSalt);
  return XXH3_64bits_withSeed(row.values, sizeof(Real) * stride(), seed);
}

uint64_t EmbeddingTable::RowHash(uint64_t key) const {
  const RowTrie::ConstRow row = rows_.Find(key);
  return row.values == nullptr ? 0 : HashOf(key, row);
}

void EmbeddingTable::Touch(uint64_t key) {
  uint8_t& mark = marks_[key];
  if (mark & kTouched) return;
  mark |= kTouched;
  touched_.push_back(key);
  const RowTrie::ConstRow row = rows_.Find(key);
  if (row.values != nullptr) row_sum_ -= HashOf(key, row);
}

size_t EmbeddingTable::FoldDigest() const {
  if (touched_.empty()) return 0;  // a copy: nothing to write
  for (uint64_t key : touched_) {
    const auto it = marks_.find(key);
    it->second &= static_cast<uint8_t>(~kTouched);
    if (!(it->second & kChanged)) {
      it->second |= kChanged;
      changed_.push_back(key);
    }
    const RowTrie::ConstRow row = rows_.Find(key);
    if (row.values != nullptr) row_sum_ += HashOf(key, row);
  }
  const size_t n = touched_.size();
  rows_folded_ += n;
  touched_.clear();
  if (touched_.capacity() > (1u << 16)) touched_.shrink_to_fit();
  if (marks_.bucket_count() > 4096 && marks_.size() < marks_.bucket_count() / 16) marks_.rehash(0);
  return n;
}

size_t EmbeddingTable::TakeChangedRowCount() const {
  for (uint64_t key : changed_) {
    const auto it = marks_.find(key);
    if (it == marks_.end()) continue;
    it->second &= static_cast<uint8_t>(~kChanged);
    if (it->second == 0) marks_.erase(it);
  }
  const size_t n = changed_.size();
  changed_.clear();
  if (changed_.capacity() > (1u << 16)) changed_.shrink_to_fit();
  // After a burst of new rows the marks are mostly gone: release them now,
  // not at the next fold.
  if (marks_.bucket_count() > 4096 && marks_.size() < marks_.bucket_count() / 16) marks_.rehash(0);
  return n;
}

void EmbeddingTable::MarkDirty(uint64_t key) {
  constexpr uint8_t kAll = (1u << kDirtyChannels) - 1;
  uint8_t& mark = marks_[key];
  if ((mark & kAll) == kAll) return;
  for (int c = 0; c < kDirtyChannels; ++c) {
    if (!(mark & (1u << c))) dirty_[c].keys.push_back(key);
  }
  mark |= kAll;
}

// The row of `key`, created with its initial weights and state and
// last seen at the clock. REQUIRES: Touch(key) ran; no row yet.
RowTrie::Row EmbeddingTable::CreateRow(uint64_t key) {
  const RowTrie::Row row = rows_.Insert(key);
  InitRow(key, row);
  return row;
}

void EmbeddingTable::InitRow(uint64_t key, RowTrie::Row row) {
  InitialWeights(key, row.values);
  std::fill(row.values + dim_, row.values + stride(), state_init_);
  *row.last_seen = clock_ms_;
  ForgetRemoved(key);
}

void EmbeddingTable::ForgetRemoved(uint64_t key) {
  for (DirtySet& d : dirty_) {
    const auto it = d.removed_index.find(key);
    if (it == d.removed_index.end()) continue;
    const size_t i = it->second;
    d.removed_index.erase(it);
    if (i + 1 != d.removed.size()) {
      d.removed[i] = d.removed.back();
      d.removed_index[d.removed[i]] = i;
    }
    d.removed.pop_back();
  }
}

void EmbeddingTable::MarkRemoved(uint64_t key) {
  for (DirtySet& d : dirty_) {
    d.removed_index.emplace(key, d.removed.size());
    d.removed.push_back(key);
  }
}

// One walk down the trie and one look-up of the key's marks per call: the
// trainer's hot path.
std::span<Real> EmbeddingTable::Mutable(uint64_t key, int64_t ts_ms) {
  bool created = false;
  RowTrie::Row row = rows_.Upsert(key, &created);
  uint8_t& mark = marks_[key];
  if (!(mark & kTouched)) {
    touched_.push_back(key);
    if (!created) row_sum_ -= HashOf(key, {row.values, row.last_seen});
  }
  for (int c = 0; c < kDirtyChannels; ++c) {
    if (!(mark & (1u << c))) dirty_[c].keys.push_back(key);
  }
  mark |= kTouched | ((1u << kDirtyChannels) - 1);  // kChanged kept
  if (created) {
    InitRow(key, row);
    ++admitted_rows_;
    if (admission()) {
      // Its true count is below admit_after: take at most that much out.
      const auto most = static_cast<uint32_t>(policy_.admit_after - 1);
      sketch_.Subtract(key, std::min(sketch_.Estimate(key), most));
    }
  }
  if (ts_ms >= 0) *row.last_seen = std::max(*row.last_seen, ts_ms);
  if (created) PushExpiry(*row.last_seen, key);
  return {row.values, stride()};
}

void EmbeddingTable::EndStep(const StepSightings& step) {
  for (const auto& [key, n] : step.probation) {
    sketch_.Add(key, n);
    rejected_sightings_ += n;
  }
  clock_ms_ = std::max(clock_ms_, step.newest_ts_ms);
  if (policy_.ttl_ms > 0 && clock_ms_ >= 0 && clock_ms_ >= next_sweep_ms_) {
    Expire();
    next_sweep_ms_ = SaturatingAdd(clock_ms_, std::max<int64_t>(1, policy_.ttl_ms / 4));
  }
  FoldDigest();  // while the step's rows are in cache: publications then fold nothing
}

void EmbeddingTable::PushExpiry(int64_t last_seen, uint64_t key) {
  if (policy_.ttl_ms <= 0 || !expiry_heap_ready_) return;
  expiry_heap_.emplace_back(last_seen, key);
  std::push_heap(expiry_heap_.begin(), expiry_heap_.end(), kLater);
}

// O(rows): a copy's first sweep, or after a restore.
void EmbeddingTable::BuildExpiryHeap() {
  expiry_heap_.clear();
  expiry_heap_.reserve(size());
  rows_.ForEach(
      [&](uint64_t key, RowTrie::ConstRow row) { expiry_heap_.emplace_back(*row.last_seen, key); });
  std::make_heap(expiry_heap_.begin(), expiry_heap_.end(), kLater);
  expiry_heap_ready_ = true;
}

// The keys of the rows last seen before `cutoff`, ascending. Pops every
// heap entry before the cutoff: a stale one (row gone) is dropped, one of a
// row seen since is pushed again at its current last-seen time.
std::vector<uint64_t> EmbeddingTable::ExpiredKeys(int64_t cutoff) {
  if (!expiry_heap_ready_) BuildExpiryHeap();
  std::vector<uint64_t> expired;
  while (!expiry_heap_.empty() && expiry_heap_.front().first < cutoff) {
    std::pop_heap(expiry_heap_.begin(), expiry_heap_.end(), kLater);
    const uint64_t key = expiry_heap_.back().second;
    expiry_heap_.pop_back();
    const RowTrie::ConstRow row = rows_.Find(key);
    if (row.values == nullptr) continue;
    if (*row.last_seen < cutoff) {
      expired.push_back(key);
    } else {
      PushExpiry(*row.last_seen, key);
    }
  }
  std::sort(expired.begin(), expired.end());
  expired.erase(std::unique(expired.begin(), expired.end()), expired.end());
  return expired;
}

// Removes the rows last seen before clock - ttl, in ascending key order.
void EmbeddingTable::Expire() {
  const std::vector<uint64_t> expired = ExpiredKeys(clock_ms_ - policy_.ttl_ms);
  if (expired.empty()) return;
  std::array<bool, kDirtyChannels> was_dirty{};
  for (uint64_t key : expired) {
    const auto it = marks_.find(key);
    for (int c = 0; c < kDirtyChannels; ++c) {
      was_dirty[c] = was_dirty[c] || (it != marks_.end() && (it->second & (1u << c)));
    }
    RemoveRow(key);
  }
  for (int c = 0; c < kDirtyChannels; ++c) {
    if (!was_dirty[c]) continue;
    std::erase_if(dirty_[c].keys, [&](uint64_t k) {
      return std::binary_search(expired.begin(), expired.end(), k);
    });
  }
  evicted_rows_ += expired.size();
}

// Removes the row of `key` (it leaves the dirty channels, enters removed).
void EmbeddingTable::RemoveRow(uint64_t key) {
  Touch(key);
  uint8_t& mark = marks_[key];
  mark = kTouched | (mark & kChanged);
  rows_.Erase(key);
  MarkRemoved(key);
}

void EmbeddingTable::ShareRows(const EmbeddingTable& from) {
  assert(from.stride() == stride());
  from.FoldDigest();
  FoldDigest();
  rows_ = from.rows_;
  row_sum_ = from.row_sum_;
  expiry_heap_.clear();
  expiry_heap_ready_ = policy_.ttl_ms <= 0 || size() == 0;
}

bool EmbeddingTable::DropRow(uint64_t key) {
  if (rows_.Find(key).values == nullptr) return false;
  Touch(key);
  return rows_.Erase(key);
}

// Clears channel `channel`'s bit of `keys`; the marks' memory is released
// once they are mostly gone (after a burst of new rows, for example).
void EmbeddingTable::ClearMarks(int channel, const std::vector<uint64_t>& keys) const {
  const auto bit = static_cast<uint8_t>(1u << channel);
  for (uint64_t key : keys) {
    const auto it = marks_.find(key);
    if (it == marks_.end()) continue;
    it->second &= static_cast<uint8_t>(~bit);
    if (it->second == 0) marks_.erase(it);
  }
  if (marks_.bucket_count() > 4096 && marks_.size() < marks_.bucket_count() / 16) marks_.rehash(0);
}

void EmbeddingTable::ClearDirty(int channel) {
  std::vector<uint64_t> keys, removed;
  TakeDirty(channel, &keys, &removed);
}

void EmbeddingTable::TakeDirty(int channel, std::vector<uint64_t>* keys,
                               std::vector<uint64_t>* removed) {
  DirtySet& d = dirty_[channel];
  *keys = std::exchange(d.keys, {});
  *removed = std::exchange(d.removed, {});
  d.removed_index = {};
  ClearMarks(channel, *keys);
}

bool EmbeddingTable::ExportRow(uint64_t key, std::string* out) const {
  const RowTrie::ConstRow row = rows_.Find(key);
  if (row.values == nullptr) return false;
  PutArray(out, row.values, stride());
  PutFixed64(out, static_cast<uint64_t>(*row.last_seen));
  return true;
}

Status EmbeddingTable::ImportRow(uint64_t key, std::string_view bytes) {
  const size_t expected = 2 * sizeof(uint64_t) + sizeof(Real) * stride();
  if (bytes.size() != expected) {
    return Status::Corruption("embedding row " + std::to_string(key) + ": " +
                              std::to_string(bytes.size()) + " bytes, expected " +
                              std::to_string(expected));
  }
  // The size is right, so the decoding below cannot fail: the bytes go
  // straight into the row (a restore imports millions: no allocation and no
  // initial weights per row).
  const auto mark = marks_.find(key);
  const bool touched = mark != marks_.end() && (mark->second & kTouched);
  bool created = false;
  RowTrie::Row row = rows_.Upsert(key, &created);
  if (created) {
    ForgetRemoved(key);
  } else if (!touched) {
    row_sum_ -= HashOf(key, {row.values, row.last_seen});
  }
  const int64_t before = created ? 0 : *row.last_seen;
  uint64_t last_seen = 0;
  Decoder in(bytes, "embedding row");
  RANKER_RETURN_IF_ERROR(in.GetInto(row.values, stride()));
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&last_seen));
  *row.last_seen = static_cast<int64_t>(last_seen);
  // Not touched: the new hash enters the sum now (no mark left behind, so
  // a restore of many rows keeps no per-row bookkeeping).
  if (!touched) row_sum_ += HashOf(key, {row.values, row.last_seen});
  if (created || *row.last_seen < before) PushExpiry(*row.last_seen, key);
  return Status::OK();
}

EmbeddingTable::BulkImport::BulkImport(EmbeddingTable* table)
    : table_(table), rows_(static_cast<int>(table->stride())) {}

Status EmbeddingTable::BulkImport::Add(uint64_t key, std::string_view bytes) {
  if (!failed_.ok()) return failed_;
  const size_t expected = 2 * sizeof(uint64_t) + sizeof(Real) * table_->stride();
  if (bytes.size() != expected) {
    failed_ = Status::Corruption("embedding row " + std::to_string(key) + ": " +
                                 std::to_string(bytes.size()) + " bytes, expected " +
                                 std::to_string(expected));
    return failed_;
  }
  const RowTrie::Row row = rows_.Add(key);
  uint64_t last_seen = 0;
  Decoder in(bytes, "embedding row");
  Status s = in.GetInto(row.values, table_->stride());
  if (s.ok()) s = in.GetFixed64(&last_seen);
  if (!s.ok()) {
    failed_ = Status::Corruption("embedding row " + std::to_string(key) + ": " + s.message());
    return failed_;
  }
  *row.last_seen = static_cast<int64_t>(last_seen);
  return Status::OK();
}

Status EmbeddingTable::BulkImport::Finish() {
  if (!failed_.ok()) return failed_;
  EmbeddingTable& t = *table_;
  if (t.size() != 0) {
    return Status::FailedPrecondition("embedding table: a bulk import needs a table without rows");
  }
  // What ImportRow() would do per created row: its hash enters the sum
  // unless the key was touched since the last fold (a row removed before:
  // the fold hashes it), and it gets an expiry entry.
  const bool check_marks = !t.marks_.empty();
  const bool expiry = t.policy_.ttl_ms > 0 && t.expiry_heap_ready_;
  uint64_t sum = 0;
  std::vector<std::pair<int64_t, uint64_t>> heap;
  if (expiry) heap.reserve(rows_.size());
  uint64_t duplicate = 0;
  RowTrie built(static_cast<int>(t.stride()));
  const bool ok = rows_.Finish(
      &built,
      [&](uint64_t key, RowTrie::ConstRow row) {
        if (expiry) heap.emplace_back(*row.last_seen, key);
        if (check_marks) {
          const auto mark = t.marks_.find(key);
          if (mark != t.marks_.end() && (mark->second & kTouched)) return;
        }
        sum += t.HashOf(key, row);
      },
      &duplicate);
  if (!ok) {
    return Status::Corruption("embedding row " + std::to_string(duplicate) +
                              ": the key comes twice in one import");
  }
  t.rows_ = std::move(built);
  t.row_sum_ += sum;
  if (!t.dirty_[0].removed.empty() || !t.dirty_[1].removed.empty()) {
    t.rows_.ForEach([&](uint64_t key, RowTrie::ConstRow) { t.ForgetRemoved(key); });
  }
  if (expiry) {
    t.expiry_heap_.insert(t.expiry_heap_.end(), heap.begin(), heap.end());
    std::make_heap(t.expiry_heap_.begin(), t.expiry_heap_.end(), kLater);
  }
  return Status::OK();
}

void EmbeddingTable::SerializeMeta(std::string* out) const {
  PutFixed32(out, kMetaVersion);
  PutFixed64(out, static_cast<uint64_t>(clock_ms_));
  PutFixed64(out, static_cast<uint64_t>(next_sweep_ms_));
  PutFixed64(out, evicted_rows_);
  PutFixed64(out, admitted_rows_);
  PutFixed64(out, rejected_sightings_);
  sketch_.Serialize(out);
}

Status EmbeddingTable::DeserializeMeta(Decoder* in) {
  uint32_t version = 0;
  uint64_t clock = 0, next_sweep = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed32(&version));
  if (version != kMetaVersion) {
    return Status::Corruption("embedding table meta: unknown version " + std::to_string(version));
  }
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&clock));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&next_sweep));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&evicted_rows_));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&admitted_rows_));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&rejected_sightings_));
  clock_ms_ = static_cast<int64_t>(clock);
  next_sweep_ms_ = static_cast<int64_t>(next_sweep);
  return sketch_.Deserialize(in);
}

void EmbeddingTable::Clear() {
  *this = EmbeddingTable(dim_, state_width_, state_init_, seed_, init_scale_, policy_);
}

void EmbeddingTable::ForEachKey(const std::function<void(uint64_t)>& f) const {
  rows_.ForEach([&](uint64_t key, RowTrie::ConstRow) { f(key); });
}

std::vector<uint64_t> EmbeddingTable::SortedKeys() const {
  std::vector<uint64_t> keys;
  keys.reserve(size());
  ForEachKey([&](uint64_t key) { keys.push_back(key); });
  std::sort(keys.begin(), keys.end());
  return keys;
}

void EmbeddingTable::Digest(Digest64* d) const {
  FoldDigest();
  d->UpdateU64(size());
  d->UpdateU64(row_sum_);
  std::string meta;
  SerializeMeta(&meta);
  d->Update(meta.data(), meta.size());
}

void EmbeddingTable::LegacyDigest(Digest64* d) const {
  d->UpdateU64(size());
  for (uint64_t key : SortedKeys()) {
    const RowTrie::ConstRow row = rows_.Find(key);
    d->UpdateU64(key);
    d->Update(row.values, sizeof(Real) * stride());
    d->UpdateU64(static_cast<uint64_t>(*row.last_seen));
  }
  std::string meta;
  SerializeMeta(&meta);
  d->Update(meta.data(), meta.size());
}

void EmbeddingTable::Serialize(std::string* out) const {
  PutFixed64(out, size());
  PutFixed32(out, static_cast<uint32_t>(stride()));
  for (uint64_t key : SortedKeys()) {
    PutFixed64(out, key);
    ExportRow(key, out);
  }
  SerializeMeta(out);
}

Status EmbeddingTable::Deserialize(Decoder* in) {
  uint64_t n = 0;
  uint32_t width = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  RANKER_RETURN_IF_ERROR(in->GetFixed32(&width));
  if (width != stride()) return Status::Corruption("embedding table: row width mismatch");
  if (n > in->remaining() / (24 + sizeof(Real) * stride())) {
    return Status::Corruption("embedding table: row count exceeds the data");
  }
  Clear();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t key = 0, last_seen = 0;
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&key));
    if (Find(key) != nullptr) return Status::Corruption("embedding table: duplicate key");
    const RowTrie::Row row = CreateRow(key);
    RANKER_RETURN_IF_ERROR(in->GetInto(row.values, stride()));
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&last_seen));
    *row.last_seen = static_cast<int64_t>(last_seen);
    row_sum_ += HashOf(key, {row.values, row.last_seen});
    PushExpiry(*row.last_seen, key);
  }
  return DeserializeMeta(in);
}

}  // namespace ranker::learner
