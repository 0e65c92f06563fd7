#include "learner/joiner.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "base/coding.h"
#include "base/hash.h"
#include "learner/example_codec.h"

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x4e4a4b52;  // "RKJN"
constexpr uint32_t kVersion = 1;

// Orders the std heap as a min-heap by (deadline, arrival).
template <typename E>
bool LaterThan(const E& a, const E& b) {
  return a.deadline_ms != b.deadline_ms ? a.deadline_ms > b.deadline_ms : a.seq > b.seq;
}

int IndexOf(const std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

// Decoder::GetArray memcpy()s into out->data(), which is null for an empty,
// never-allocated vector: UB even for zero bytes (UBSan flags it). Giving the
// vector storage first avoids that.
template <typename T>
Status GetVector(Decoder* d, std::vector<T>* out, size_t expected = SIZE_MAX) {
  out->reserve(1);
  return d->GetArray(out, expected);
}

// The stats in a fixed order, for (de)serialisation.
std::vector<int64_t*> StatFields(JoinerStats* s) {
  return {&s->impressions,      &s->clicks,
          &s->watches,          &s->joined_clicks,
          &s->joined_watches,   &s->examples_emitted,
          &s->passthrough,      &s->duplicate_impressions,
          &s->late_engagements, &s->orphan_engagements,
          &s->evicted,          &s->pending};
}

// Reads an element count, rejecting counts the remaining bytes cannot hold
// (each element takes at least `min_bytes`), so corrupt input cannot make us
// allocate wildly.
Status GetCount(Decoder* d, size_t min_bytes, uint64_t* n) {
  RANKER_RETURN_IF_ERROR(d->GetFixed64(n));
  if (*n > d->remaining() / min_bytes) return Status::Corruption("joiner state: bad count");
  return Status::OK();
}

}  // namespace

Status JoinerOptions::Validate() const {
  if (window_ms < 0) return Status::InvalidArgument("join.window_ms must be >= 0");
  if (max_pending < 1) return Status::InvalidArgument("join.max_pending must be >= 1");
  if (!click_task.empty() && click_task == watch_task) {
    return Status::InvalidArgument("join.click_task and join.watch_task must differ");
  }
  return Status::OK();
}

Joiner::Joiner(JoinerOptions options, std::vector<std::string> task_names)
    : options_(std::move(options)),
      task_names_(std::move(task_names)),
      closed_(options_.late_memory) {
  assert(options_.Validate().ok());
  click_label_ = IndexOf(task_names_, options_.click_task);
  watch_label_ = IndexOf(task_names_, options_.watch_task);
}

uint64_t Joiner::KeyHash(std::string_view request_id, std::string_view item_id) {
  return HashCombine(Hash64(request_id), Hash64(item_id, 0x17e5));
}

uint32_t Joiner::Find(uint64_t key_hash, std::string_view request_id,
                      std::string_view item_id) const {
  auto it = index_.find(key_hash);
  if (it == index_.end()) return kNoSlot;
  for (uint32_t s = it->second; s != kNoSlot; s = slots_[s].next) {
    const Example& e = slots_[s].example;
    if (e.request_id == request_id && e.item_id == item_id) return s;
  }
  return kNoSlot;
}

void Joiner::Insert(uint64_t key_hash, Pending p) {
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  auto [it, inserted] = index_.try_emplace(key_hash, slot);
  p.key_hash = key_hash;
  p.next = inserted ? kNoSlot : it->second;  // a collision: chain in front
  it->second = slot;
  queue_.push_back(QueueEntry{p.deadline_ms, p.seq, slot});
  std::push_heap(queue_.begin(), queue_.end(), LaterThan<QueueEntry>);
  slots_[slot] = std::move(p);
  stats_.pending = static_cast<int64_t>(queue_.size());
}

void Joiner::Unlink(uint32_t slot) {
  Pending& p = slots_[slot];
  auto it = index_.find(p.key_hash);
  assert(it != index_.end());
  if (it->second == slot) {
    if (p.next == kNoSlot) {
      index_.erase(it);
    } else {
      it->second = p.next;
    }
  } else {
    uint32_t s = it->second;
    while (slots_[s].next != slot) s = slots_[s].next;
    slots_[s].next = p.next;
  }
  p = Pending();  // releases the example's memory
  free_slots_.push_back(slot);
}

void Joiner::Add(const Event& event, std::vector<Example>* out) { Add(Event(event), out); }

void Joiner::Add(Event&& event, std::vector<Example>* out) {
  if (event.example.ts_ms >= 0) watermark_ms_ = std::max(watermark_ms_, event.example.ts_ms);
  CloseDue(out);
  switch (event.type) {
    case EventType::kImpression:
      AddImpression(std::move(event), out);
      break;
    case EventType::kClick:
    case EventType::kWatch:
      AddEngagement(event);
      break;
    case EventType::kExample:
      ++stats_.passthrough;
      out->push_back(std::move(event.example));
      break;
  }
}

void Joiner::Flush(std::vector<Example>* out) {
  while (!queue_.empty()) CloseFront(out);
}

void Joiner::CloseDue(std::vector<Example>* out) {
  while (!queue_.empty() && queue_.front().deadline_ms <= watermark_ms_) CloseFront(out);
}

void Joiner::CloseFront(std::vector<Example>* out) {
  std::pop_heap(queue_.begin(), queue_.end(), LaterThan<QueueEntry>);
  const uint32_t slot = queue_.back().slot;
  queue_.pop_back();
  Pending& p = slots_[slot];
  Example ex = std::move(p.example);
  ex.labels.assign(task_names_.size(), kNoLabel);
  if (click_label_ >= 0) ex.labels[click_label_] = p.clicked ? 1.0 : 0.0;
  if (watch_label_ >= 0) ex.labels[watch_label_] = p.watch_seconds;
  closed_.Add(p.key_hash);
  Unlink(slot);
  ++stats_.examples_emitted;
  stats_.pending = static_cast<int64_t>(queue_.size());
  out->push_back(std::move(ex));
}

void Joiner::AddImpression(Event&& event, std::vector<Example>* out) {
  ++stats_.impressions;
  const Example& e = event.example;
  const uint64_t key_hash = KeyHash(e.request_id, e.item_id);
  if (Find(key_hash, e.request_id, e.item_id) != kNoSlot) {
    ++stats_.duplicate_impressions;
    return;
  }
  while (queue_.size() >= options_.max_pending) {
    ++stats_.evicted;
    CloseFront(out);
  }
  const int64_t t = e.ts_ms >= 0 ? e.ts_ms : watermark_ms_;
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  Pending p;
  p.deadline_ms = t > kMax - options_.window_ms ? kMax : t + options_.window_ms;
  p.seq = next_seq_++;
  p.example = std::move(event.example);
  Insert(key_hash, std::move(p));
  CloseDue(out);  // an impression already older than the window closes at once
}

void Joiner::AddEngagement(const Event& event) {
  const bool click = event.type == EventType::kClick;
  ++(click ? stats_.clicks : stats_.watches);
  const Example& e = event.example;
  const uint64_t key_hash = KeyHash(e.request_id, e.item_id);
  const uint32_t slot = Find(key_hash, e.request_id, e.item_id);
  if (slot == kNoSlot) {
    const bool late = closed_.Contains(key_hash);
    ++(late ? stats_.late_engagements : stats_.orphan_engagements);
    return;
  }
  if (click) {
    slots_[slot].clicked = true;
    ++stats_.joined_clicks;
  } else {
    slots_[slot].watch_seconds += event.watch_seconds;
    ++stats_.joined_watches;
  }
}

Joiner::RecentKeys::RecentKeys(size_t capacity) : capacity_(capacity) {
  if (capacity_ == 0) return;
  size_t size = 2;
  while (size < 2 * capacity_) size *= 2;
  table_.resize(size);
  fifo_.reserve(capacity_);
}

size_t Joiner::RecentKeys::Probe(uint64_t key) const {
  const size_t mask = table_.size() - 1;
  size_t i = key & mask;
  while (table_[i].key != 0 && table_[i].key != key) i = (i + 1) & mask;
  return i;
}

bool Joiner::RecentKeys::Contains(uint64_t key_hash) const {
  if (capacity_ == 0) return false;
  const uint64_t key = key_hash == 0 ? 1 : key_hash;
  return table_[Probe(key)].key == key;
}

void Joiner::RecentKeys::Add(uint64_t key_hash) {
  if (capacity_ == 0) return;
  const uint64_t key = key_hash == 0 ? 1 : key_hash;
  if (fifo_.size() < capacity_) {
    fifo_.push_back(key);
  } else {
    Remove(fifo_[head_]);
    fifo_[head_] = key;
    head_ = (head_ + 1) % capacity_;
  }
  Cell& c = table_[Probe(key)];
  c.key = key;
  ++c.count;
}

// Linear probing with backward-shift deletion (no tombstones): after emptying
// a cell, later cells of the run move back unless their home lies cyclically
// in (hole, cell].
void Joiner::RecentKeys::Remove(uint64_t key) {
  const size_t mask = table_.size() - 1;
  size_t hole = Probe(key);
  assert(table_[hole].key == key);
  if (--table_[hole].count > 0) return;
  for (size_t j = (hole + 1) & mask; table_[j].key != 0; j = (j + 1) & mask) {
    const size_t home = table_[j].key & mask;
    const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    table_[hole] = table_[j];
    hole = j;
  }
  table_[hole] = Cell();
}

std::vector<uint64_t> Joiner::RecentKeys::OldestFirst() const {
  std::vector<uint64_t> out(fifo_.begin() + static_cast<std::ptrdiff_t>(head_), fifo_.end());
  out.insert(out.end(), fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(head_));
  return out;
}

// ---- Serialisation: pending impressions in (deadline, arrival) order, so the
// bytes are a function of the state, not of hash-map layout.

void Joiner::EncodePending(const Pending& p, std::string* dst) {
  PutFixed64(dst, static_cast<uint64_t>(p.deadline_ms));
  PutFixed64(dst, p.seq);
  PutFixed32(dst, p.clicked ? 1 : 0);
  PutDouble(dst, p.watch_seconds);
  EncodeExample(p.example, dst);
}

Status Joiner::DecodePending(Decoder* d, Pending* p) {
  uint64_t deadline = 0;
  uint32_t clicked = 0;
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&deadline));
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&p->seq));
  RANKER_RETURN_IF_ERROR(d->GetFixed32(&clicked));
  RANKER_RETURN_IF_ERROR(d->GetDouble(&p->watch_seconds));
  if (clicked > 1) return Status::Corruption("joiner state: bad clicked flag");
  p->deadline_ms = static_cast<int64_t>(deadline);
  p->clicked = clicked == 1;
  return DecodeExample(d, &p->example);
}

void Joiner::Serialize(std::string* dst) const {
  PutFixed32(dst, kMagic);
  PutFixed32(dst, kVersion);
  PutFixed64(dst, static_cast<uint64_t>(watermark_ms_));
  PutFixed64(dst, next_seq_);
  JoinerStats stats = stats_;
  for (int64_t* v : StatFields(&stats)) PutFixed64(dst, static_cast<uint64_t>(*v));
  std::vector<QueueEntry> order = queue_;
  std::sort(order.begin(), order.end(),
            [](const QueueEntry& a, const QueueEntry& b) { return LaterThan(b, a); });
  PutFixed64(dst, order.size());
  for (const QueueEntry& q : order) EncodePending(slots_[q.slot], dst);
  const std::vector<uint64_t> fifo = closed_.OldestFirst();
  PutArray(dst, fifo.data(), fifo.size());
}

Status Joiner::Deserialize(std::string_view src) {
  Decoder d(src, "joiner state");
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&magic));
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&version));
  if (magic != kMagic) return Status::Corruption("joiner state: bad magic");
  if (version != kVersion) return Status::Corruption("joiner state: unknown version");
  // Decode into a fresh Joiner, then take its state: *this changes only on success.
  Joiner fresh(options_, task_names_);
  RANKER_RETURN_IF_ERROR(fresh.DecodeState(&d));
  if (!d.done()) return Status::Corruption("joiner state: trailing bytes");
  slots_.swap(fresh.slots_);
  free_slots_.swap(fresh.free_slots_);
  index_.swap(fresh.index_);
  queue_.swap(fresh.queue_);
  std::swap(closed_, fresh.closed_);
  watermark_ms_ = fresh.watermark_ms_;
  next_seq_ = fresh.next_seq_;
  stats_ = fresh.stats_;
  return Status::OK();
}

Status Joiner::DecodeState(Decoder* d) {
  uint64_t watermark = 0, n = 0;
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&watermark));
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&next_seq_));
  watermark_ms_ = static_cast<int64_t>(watermark);
  for (int64_t* v : StatFields(&stats_)) {
    uint64_t u = 0;
    RANKER_RETURN_IF_ERROR(d->GetFixed64(&u));
    *v = static_cast<int64_t>(u);
  }
  RANKER_RETURN_IF_ERROR(GetCount(d, 8, &n));
  for (uint64_t i = 0; i < n; ++i) {
    Pending p;
    RANKER_RETURN_IF_ERROR(DecodePending(d, &p));
    const uint64_t key_hash = KeyHash(p.example.request_id, p.example.item_id);
    if (p.seq >= next_seq_ || Find(key_hash, p.example.request_id, p.example.item_id) != kNoSlot) {
      return Status::Corruption("joiner state: inconsistent pending impression");
    }
    Insert(key_hash, std::move(p));  // also sets stats_.pending
  }
  std::vector<uint64_t> fifo;
  RANKER_RETURN_IF_ERROR(GetVector(d, &fifo));
  for (uint64_t h : fifo) closed_.Add(h);  // keeps the newest late_memory
  return Status::OK();
}

}  // namespace ranker::learner
