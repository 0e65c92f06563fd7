#include "learner/joiner.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "base/coding.h"
#include "base/hash.h"

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

// The stats in a fixed order, for (de)serialisation.
std::vector<int64_t*> StatFields(JoinerStats* s) {
  return {&s->impressions,   &s->clicks,          &s->watches,
          &s->joined_clicks, &s->joined_watches,  &s->examples_emitted,
          &s->passthrough,   &s->duplicate_impressions, &s->late_engagements,
          &s->orphan_engagements, &s->evicted,    &s->pending};
}

void EncodeExample(const Example& e, std::string* dst) {
  PutString(dst, e.request_id);
  PutString(dst, e.item_id);
  PutFixed32(dst, static_cast<uint32_t>(e.position));
  PutString(dst, e.device);
  PutFixed64(dst, static_cast<uint64_t>(e.ts_ms));
  PutFixed64(dst, e.categorical.size());
  for (const CategoricalFeature& f : e.categorical) {
    PutString(dst, f.field);
    PutString(dst, f.value);
  }
  PutFixed64(dst, e.dense.size());
  for (const DenseFeature& f : e.dense) {
    PutString(dst, f.name);
    PutDouble(dst, f.value);
  }
  PutArray(dst, e.labels.data(), e.labels.size());
}

// Reads an element count, rejecting counts the remaining bytes cannot hold
// (each element takes at least `min_bytes`), so corrupt input cannot make us
// allocate wildly.
Status GetCount(Decoder* d, size_t min_bytes, uint64_t* n) {
  RANKER_RETURN_IF_ERROR(d->GetFixed64(n));
  if (*n > d->remaining() / min_bytes) return Status::Corruption("joiner state: bad count");
  return Status::OK();
}

Status DecodeExample(Decoder* d, Example* e) {
  uint32_t position;
  uint64_t ts, n;
  RANKER_RETURN_IF_ERROR(d->GetString(&e->request_id));
  RANKER_RETURN_IF_ERROR(d->GetString(&e->item_id));
  RANKER_RETURN_IF_ERROR(d->GetFixed32(&position));
  RANKER_RETURN_IF_ERROR(d->GetString(&e->device));
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&ts));
  e->position = static_cast<int32_t>(position);
  e->ts_ms = static_cast<int64_t>(ts);
  RANKER_RETURN_IF_ERROR(GetCount(d, 8, &n));
  e->categorical.resize(n);
  for (CategoricalFeature& f : e->categorical) {
    RANKER_RETURN_IF_ERROR(d->GetString(&f.field));
    RANKER_RETURN_IF_ERROR(d->GetString(&f.value));
  }
  RANKER_RETURN_IF_ERROR(GetCount(d, 12, &n));
  e->dense.resize(n);
  for (DenseFeature& f : e->dense) {
    RANKER_RETURN_IF_ERROR(d->GetString(&f.name));
    RANKER_RETURN_IF_ERROR(d->GetDouble(&f.value));
  }
  return d->GetArray(&e->labels);
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
    : options_(std::move(options)), task_names_(std::move(task_names)) {
  assert(options_.Validate().ok());
  click_label_ = IndexOf(task_names_, options_.click_task);
  watch_label_ = IndexOf(task_names_, options_.watch_task);
}

std::string Joiner::KeyOf(std::string_view request_id, std::string_view item_id) {
  std::string key;
  key.reserve(4 + request_id.size() + item_id.size());
  PutString(&key, request_id);  // length prefix: the pair is unambiguous
  key.append(item_id);
  return key;
}

uint64_t Joiner::KeyHash(std::string_view request_id, std::string_view item_id) {
  return HashCombine(Hash64(request_id), Hash64(item_id, 0x17e5));
}

void Joiner::Add(const Event& event, std::vector<Example>* out) { Add(Event(event), out); }

void Joiner::Add(Event&& event, std::vector<Example>* out) {
  if (event.example.ts_ms >= 0) AdvanceWatermark(event.example.ts_ms);
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

void Joiner::AdvanceWatermark(int64_t ts_ms) { watermark_ms_ = std::max(watermark_ms_, ts_ms); }

void Joiner::CloseDue(std::vector<Example>* out) {
  while (!queue_.empty() && queue_.front().deadline_ms <= watermark_ms_) CloseFront(out);
}

void Joiner::CloseFront(std::vector<Example>* out) {
  std::pop_heap(queue_.begin(), queue_.end(), LaterThan<QueueEntry>);
  auto it = pending_.find(*queue_.back().key);
  queue_.pop_back();
  assert(it != pending_.end());
  Pending& p = it->second;
  Example ex = std::move(p.example);
  ex.labels.assign(task_names_.size(), kNoLabel);
  if (click_label_ >= 0) ex.labels[click_label_] = p.clicked ? 1.0 : 0.0;
  if (watch_label_ >= 0) ex.labels[watch_label_] = p.watch_seconds;
  pending_.erase(it);
  Remember(KeyHash(ex.request_id, ex.item_id));
  ++stats_.examples_emitted;
  stats_.pending = static_cast<int64_t>(pending_.size());
  out->push_back(std::move(ex));
}

void Joiner::AddImpression(Event&& event, std::vector<Example>* out) {
  ++stats_.impressions;
  std::string key = KeyOf(event.example.request_id, event.example.item_id);
  if (pending_.contains(key)) {
    ++stats_.duplicate_impressions;
    return;
  }
  while (pending_.size() >= options_.max_pending) {
    ++stats_.evicted;
    CloseFront(out);
  }
  const int64_t t = event.example.ts_ms >= 0 ? event.example.ts_ms : watermark_ms_;
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  Pending p;
  p.deadline_ms = t > kMax - options_.window_ms ? kMax : t + options_.window_ms;
  p.seq = next_seq_++;
  p.example = std::move(event.example);
  Insert(std::move(key), std::move(p));
  CloseDue(out);  // an impression already older than the window closes at once
}

void Joiner::Insert(std::string key, Pending p) {
  const int64_t deadline = p.deadline_ms;
  const uint64_t seq = p.seq;
  auto [it, inserted] = pending_.emplace(std::move(key), std::move(p));
  assert(inserted);
  queue_.push_back(QueueEntry{deadline, seq, &it->first});
  std::push_heap(queue_.begin(), queue_.end(), LaterThan<QueueEntry>);
  stats_.pending = static_cast<int64_t>(pending_.size());
}

void Joiner::AddEngagement(const Event& event) {
  const bool click = event.type == EventType::kClick;
  ++(click ? stats_.clicks : stats_.watches);
  const Example& e = event.example;
  auto it = pending_.find(KeyOf(e.request_id, e.item_id));
  if (it == pending_.end()) {
    const bool late = closed_set_.contains(KeyHash(e.request_id, e.item_id));
    ++(late ? stats_.late_engagements : stats_.orphan_engagements);
    return;
  }
  if (click) {
    it->second.clicked = true;
    ++stats_.joined_clicks;
  } else {
    it->second.watch_seconds += event.watch_seconds;
    ++stats_.joined_watches;
  }
}

void Joiner::Remember(uint64_t key_hash) {
  if (options_.late_memory == 0) return;
  closed_fifo_.push_back(key_hash);
  ++closed_set_[key_hash];
  while (closed_fifo_.size() > options_.late_memory) {
    auto it = closed_set_.find(closed_fifo_.front());
    if (--it->second == 0) closed_set_.erase(it);
    closed_fifo_.pop_front();
  }
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
  uint64_t deadline;
  uint32_t clicked;
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
  for (const QueueEntry& q : order) EncodePending(pending_.at(*q.key), dst);
  const std::vector<uint64_t> fifo(closed_fifo_.begin(), closed_fifo_.end());
  PutArray(dst, fifo.data(), fifo.size());
}

Status Joiner::Deserialize(std::string_view src) {
  Decoder d(src, "joiner state");
  uint32_t magic, version;
  uint64_t watermark, next_seq, n;
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&magic));
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&version));
  if (magic != kMagic) return Status::Corruption("joiner state: bad magic");
  if (version != kVersion) return Status::Corruption("joiner state: unknown version");
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&watermark));
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&next_seq));
  JoinerStats stats;
  for (int64_t* v : StatFields(&stats)) {
    uint64_t u;
    RANKER_RETURN_IF_ERROR(d.GetFixed64(&u));
    *v = static_cast<int64_t>(u);
  }
  // Decode into a fresh Joiner, then take its state: *this changes only on success.
  Joiner fresh(options_, task_names_);
  RANKER_RETURN_IF_ERROR(GetCount(&d, 8, &n));
  for (uint64_t i = 0; i < n; ++i) {
    Pending p;
    RANKER_RETURN_IF_ERROR(DecodePending(&d, &p));
    std::string key = KeyOf(p.example.request_id, p.example.item_id);
    if (p.seq >= next_seq || fresh.pending_.contains(key)) {
      return Status::Corruption("joiner state: inconsistent pending impression");
    }
    fresh.Insert(std::move(key), std::move(p));
  }
  std::vector<uint64_t> fifo;
  RANKER_RETURN_IF_ERROR(d.GetArray(&fifo));
  if (!d.done()) return Status::Corruption("joiner state: trailing bytes");
    // keeps the newest late_memory
  fresh.watermark_ms_ = static_cast<int64_t>(watermark);
  fresh.next_seq_ = next_seq;
  fresh.stats_ = stats;
  fresh.stats_.pending = static_cast<int64_t>(fresh.pending_.size());
  pending_.swap(fresh.pending_);
  queue_.swap(fresh.queue_);
  closed_fifo_.swap(fresh.closed_fifo_);
  closed_set_.swap(fresh.closed_set_);
  watermark_ms_ = fresh.watermark_ms_;
  next_seq_ = fresh.next_seq_;
  stats_ = fresh.stats_;
  return Status::OK();
}

}  // namespace ranker::learner
