#include "join/joiner.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "base/coding.h"
#include "base/hash.h"
#include "join/recent_keys.h"
#include "learner/example_codec.h"

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x4e4a4b52;  // "RKJN"
// Version 1: one window, examples in format 1. Version 2: per-task
// maturity and immediate mode (open task slots, engagement times), examples
// in format 2.
constexpr uint32_t kVersion = 3;

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

// The stats in a fixed order, for (de)serialisation; format 1 has the
// first 12.
std::vector<int64_t*> StatFields(JoinerStats* s, uint32_t version) {
  std::vector<int64_t*> v = {&s->impressions,      &s->clicks,
                             &s->watches,          &s->joined_clicks,
                             &s->joined_watches,   &s->examples_emitted,
                             &s->passthrough,      &s->duplicate_impressions,
                             &s->late_engagements, &s->orphan_engagements,
                             &s->evicted,          &s->pending};
  if (version >= 2) v.insert(v.end(), {&s->watermarks, &s->corrections});
  return v;
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
  for (const auto& [name, w] : task_window_ms) {
    if (w < 0) return Status::InvalidArgument("tasks[" + name + "].window_ms must be >= 0");
  }
  if (idle_flush_ms < 0) return Status::InvalidArgument("join.idle_flush_ms must be >= 0");
  if (immediate_warmup_ms < 0) {
    return Status::InvalidArgument("join.immediate_warmup_ms must be >= 0");
  }
  if (max_pending < 1) return Status::InvalidArgument("join.max_pending must be >= 1");
  if (group_requests && mode == JoinMode::kImmediate) {
    return Status::InvalidArgument(
        "join.mode: immediate trains impressions one by one; a listwise task needs whole "
        "lists (window mode)");
  }
  if (mode == JoinMode::kImmediate && correction == DelayedFeedback::kNone) {
    return Status::InvalidArgument(
        "join.correction: immediate mode needs a delayed-feedback correction (fnw|pu|defer)");
  }
  if (!click_task.empty() && click_task == watch_task) {
    return Status::InvalidArgument("join.click_task and join.watch_task must differ");
  }
  return Status::OK();
}

int64_t JoinerOptions::WindowOf(const std::string& name) const {
  auto it = task_window_ms.find(name);
  return it == task_window_ms.end() ? window_ms : it->second;
}

Joiner::Joiner(JoinerOptions options, std::vector<std::string> task_names)
    : options_(std::move(options)),
      task_names_(std::move(task_names)),
      closed_(options_.late_memory) {
  assert(options_.Validate().ok());
  label_[kClick] = IndexOf(task_names_, options_.click_task);
  label_[kWatch] = IndexOf(task_names_, options_.watch_task);
  window_[kClick] = options_.WindowOf(options_.click_task);
  window_[kWatch] = options_.WindowOf(options_.watch_task);
  for (int k : {kClick, kWatch}) {
    if (label_[k] >= 0) enabled_ |= 1u << k;
  }
  // Without a labelled task an impression still becomes one (unlabelled)
  // example when the default window closes.
  if (enabled_ == 0) {
    enabled_ = 1u << kClick;
    window_[kClick] = options_.window_ms;
  }
  immediate_ = options_.mode == JoinMode::kImmediate && label_[kClick] >= 0;
}

uint64_t Joiner::KeyHash(std::string_view request_id, std::string_view item_id) {
  return HashCombine(Hash64(request_id), Hash64(item_id, 0x17e5));
}

uint64_t Joiner::GroupOf(std::string_view request_id) {
  const uint64_t h = Hash64(request_id, 0x6a09);
  return h == 0 ? 1 : h;
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

int64_t Joiner::Deadline(const Pending& p, int task) const {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  return p.time_ms > kMax - window_[task] ? kMax : p.time_ms + window_[task];
}

// Queues one heap entry per distinct deadline of the open slots.
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
  const bool click = p.open & (1u << kClick), watch = p.open & (1u << kWatch);
  if (click && watch && Deadline(p, kClick) == Deadline(p, kWatch)) {
    queue_.push_back(QueueEntry{Deadline(p, kClick), p.seq, slot, p.open});
    std::push_heap(queue_.begin(), queue_.end(), LaterThan<QueueEntry>);
  } else {
    for (int k : {kClick, kWatch}) {
      if (!(p.open & (1u << k))) continue;
      queue_.push_back(QueueEntry{Deadline(p, k), p.seq, slot, 1u << k});
      std::push_heap(queue_.begin(), queue_.end(), LaterThan<QueueEntry>);
    }
  }
  if (options_.group_requests) {
    p.group = GroupOf(p.example.request_id);
    requests_[p.group].push_back(slot);
  }
  slots_[slot] = std::move(p);
  ++stats_.pending;
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
  if (options_.group_requests) {
    auto r = requests_.find(p.group);
    assert(r != requests_.end());
    std::erase(r->second, slot);
    if (r->second.empty()) requests_.erase(r);
  }
  p = Pending();  // releases the example's memory; open == 0 marks it free
  free_slots_.push_back(slot);
  --stats_.pending;
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
      AddEngagement(event, out);
      break;
    case EventType::kExample:
      ++stats_.passthrough;
      if (options_.group_requests && !event.example.request_id.empty()) {
        event.example.group = GroupOf(event.example.request_id);
      }
      out->push_back(std::move(event.example));
      break;
    case EventType::kWatermark:
      ++stats_.watermarks;
      break;
  }
}

void Joiner::Flush(std::vector<Example>* out) {
  while (!queue_.empty()) CloseFront(/*all=*/false, out);
}

void Joiner::CloseDue(std::vector<Example>* out) {
  while (!queue_.empty() && queue_.front().deadline_ms <= watermark_ms_) {
    CloseFront(/*all=*/false, out);
  }
}

void Joiner::CloseFront(bool all, std::vector<Example>* out) {
  std::pop_heap(queue_.begin(), queue_.end(), LaterThan<QueueEntry>);
  const QueueEntry q = queue_.back();
  queue_.pop_back();
  const Pending& p = slots_[q.slot];
  if (p.open == 0 || p.seq != q.seq) return;  // the impression is gone
  if (options_.group_requests) return MatureRequest(q.slot, out);
  const uint32_t tasks = all ? p.open : p.open & q.tasks;
  if (tasks != 0) Mature(q.slot, tasks, out);
}

// Emits the labels of `tasks` (the click slot's already went out in
// immediate mode) and forgets the impression once nothing is open.
void Joiner::Mature(uint32_t slot, uint32_t tasks, std::vector<Example>* out) {
  Pending& p = slots_[slot];
  p.open &= ~tasks;
  const bool immediate = Immediate(p);
  if (immediate) out->push_back(LabelsRecord(p, tasks));
  uint32_t emitted = immediate ? tasks & ~(1u << kClick) : tasks;
  // DEFER: a click window that closes without a click trains again, as a
  // real negative.
  if (immediate && options_.correction == DelayedFeedback::kDefer && !p.clicked) {
    emitted |= tasks & (1u << kClick);
  }
  if (emitted != 0) {
    out->push_back(Emit(&p, emitted, /*copy_features=*/p.open != 0));
    if (immediate) out->back().evaluation = Evaluation::kNone;  // scored by the record
    ++stats_.examples_emitted;
  }
  if (p.open != 0) return;
  closed_.Add(p.key_hash);
  Unlink(slot);
}

// Immediate mode: the matured labels of `tasks` for the predictions the
// trainer kept from the impression's first example (not trained on).
Example Joiner::LabelsRecord(const Pending& p, uint32_t tasks) const {
  Example r;
  r.request_id = p.example.request_id;
  r.item_id = p.example.item_id;
  r.ts_ms = p.example.ts_ms;
  r.labels.assign(task_names_.size(), kNoLabel);
  if ((tasks & (1u << kClick)) && label_[kClick] >= 0) {
    r.labels[label_[kClick]] = p.clicked ? 1.0 : 0.0;
  }
  if ((tasks & (1u << kWatch)) && label_[kWatch] >= 0) r.labels[label_[kWatch]] = p.watch_seconds;
  r.evaluation = p.open == 0 ? Evaluation::kFinalLabelsOnly : Evaluation::kLabelsOnly;
  r.eval_id = p.seq + 1;
  return r;
}

void Joiner::MatureRequest(uint32_t slot, std::vector<Example>* out) {
  const std::string request_id = slots_[slot].example.request_id;
  std::vector<uint32_t> members = requests_.at(GroupOf(request_id));  // copied: Mature unlinks
  std::sort(members.begin(), members.end(),
            [&](uint32_t a, uint32_t b) { return slots_[a].seq < slots_[b].seq; });
  for (uint32_t s : members) {
    if (slots_[s].example.request_id == request_id) Mature(s, slots_[s].open, out);
  }
}

Example Joiner::Emit(Pending* pending, uint32_t tasks, bool copy_features) const {
  const Pending& p = *pending;
  Example ex = copy_features ? p.example : std::move(pending->example);
  ex.labels.assign(task_names_.size(), kNoLabel);
  ex.feedback_ts_ms.clear();
  if (options_.group_requests) ex.group = GroupOf(ex.request_id);
  if ((tasks & (1u << kClick)) && label_[kClick] >= 0) {
    ex.labels[label_[kClick]] = p.clicked ? 1.0 : 0.0;
    if (p.clicked && p.click_ts_ms >= 0) ex.feedback_ts_ms.push_back(p.click_ts_ms);
  }
  if ((tasks & (1u << kWatch)) && label_[kWatch] >= 0) ex.labels[label_[kWatch]] = p.watch_seconds;
  return ex;
}

void Joiner::AddImpression(Event&& event, std::vector<Example>* out) {
  ++stats_.impressions;
  const Example& e = event.example;
  const uint64_t key_hash = KeyHash(e.request_id, e.item_id);
  if (Find(key_hash, e.request_id, e.item_id) != kNoSlot) {
    ++stats_.duplicate_impressions;
    return;
  }
  while (stats_.pending >= static_cast<int64_t>(options_.max_pending)) {
    ++stats_.evicted;
    CloseFront(/*all=*/true, out);
  }
  Pending p;
  p.time_ms = e.ts_ms >= 0 ? e.ts_ms : watermark_ms_;
  p.seq = next_seq_++;
  p.open = enabled_;
  p.example = std::move(event.example);
  if (immediate_ && warmup_end_ms_ == std::numeric_limits<int64_t>::max()) {
    const int64_t w = options_.immediate_warmup_ms;
    warmup_end_ms_ = w == 0 ? std::numeric_limits<int64_t>::min()
                     : p.time_ms > std::numeric_limits<int64_t>::max() - 1 - w
                         ? std::numeric_limits<int64_t>::max() - 1
                         : p.time_ms + w;
  }
  if (Immediate(p)) {  // trained at once as a (possibly fake) negative
    out->push_back(Emit(&p, 1u << kClick, /*copy_features=*/true));
    out->back().evaluation = Evaluation::kScoreOnly;
    out->back().eval_id = p.seq + 1;
    ++stats_.examples_emitted;
  }
  Insert(key_hash, std::move(p));
  CloseDue(out);  // an impression already older than its windows matures at once
}

void Joiner::AddEngagement(const Event& event, std::vector<Example>* out) {
  const bool click = event.type == EventType::kClick;
  ++(click ? stats_.clicks : stats_.watches);
  const Example& e = event.example;
  const uint64_t key_hash = KeyHash(e.request_id, e.item_id);
  const uint32_t slot = Find(key_hash, e.request_id, e.item_id);
  const int task = click ? kClick : kWatch;
  // A slot that is not enabled (its task is not configured) joins while the
  // impression is pending at all.
  const bool open =
      slot != kNoSlot && ((slots_[slot].open & (1u << task)) || !(enabled_ & (1u << task)));
  if (!open) {
    const bool late = slot != kNoSlot || closed_.Contains(key_hash);
    ++(late ? stats_.late_engagements : stats_.orphan_engagements);
    return;
  }
  Pending& p = slots_[slot];
  const int64_t ts = e.ts_ms >= 0 ? e.ts_ms : watermark_ms_;
  if (click) {
    JoinClick(&p, ts, out);
  } else {
    p.watch_seconds += event.watch_seconds;
    p.watch_ts_ms.push_back(ts);
    ++stats_.joined_watches;
  }
}

void Joiner::JoinClick(Pending* p, int64_t ts, std::vector<Example>* out) {
  ++stats_.joined_clicks;
  if (p->clicked) return;
  p->clicked = true;
  p->click_ts_ms = ts;
  if (!Immediate(*p)) return;
  Example positive = Emit(p, 1u << kClick, /*copy_features=*/true);
  positive.evaluation = Evaluation::kNone;
  out->push_back(std::move(positive));
  ++stats_.corrections;
}

// ---- Serialisation: pending impressions in arrival order, so the bytes are
// a function of the state, not of hash-map or heap layout.

void Joiner::EncodePending(const Pending& p, std::string* dst) {
  PutFixed64(dst, static_cast<uint64_t>(p.time_ms));
  PutFixed64(dst, p.seq);
  PutFixed32(dst, p.open);
  PutFixed32(dst, p.clicked ? 1 : 0);
  PutFixed64(dst, static_cast<uint64_t>(p.click_ts_ms));
  PutDouble(dst, p.watch_seconds);
  PutArray(dst, p.watch_ts_ms.data(), p.watch_ts_ms.size());
  EncodeExample(p.example, dst);
}

// Version 1 held one deadline per impression (window_ms after its time) and
// no engagement times.
Status Joiner::DecodePending(Decoder* d, uint32_t version, Pending* p) const {
  uint64_t time = 0, click_ts = 0;
  uint32_t clicked = 0;
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&time));
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&p->seq));
  if (version >= 2) RANKER_RETURN_IF_ERROR(d->GetFixed32(&p->open));
  RANKER_RETURN_IF_ERROR(d->GetFixed32(&clicked));
  if (version >= 2) RANKER_RETURN_IF_ERROR(d->GetFixed64(&click_ts));
  RANKER_RETURN_IF_ERROR(d->GetDouble(&p->watch_seconds));
  if (version >= 2) RANKER_RETURN_IF_ERROR(GetVector(d, &p->watch_ts_ms));
  if (clicked > 1) return Status::Corruption("joiner state: bad clicked flag");
  p->time_ms = static_cast<int64_t>(time);
  p->clicked = clicked == 1;
  if (version == 1) {
    p->time_ms -= options_.window_ms;  // the deadline, with this joiner's window
    p->open = enabled_;
    p->click_ts_ms = -1;
  } else {
    p->click_ts_ms = static_cast<int64_t>(click_ts);
    p->open &= enabled_;  // slots of tasks this configuration no longer has
    if (p->open == 0)
      return Status::Corruption("joiner state: pending impression with no open task");
  }
  return DecodeExample(d, &p->example, version == 1 ? 1 : kExampleFormat);
}

void Joiner::Serialize(std::string* dst) const {
  PutFixed32(dst, kMagic);
  PutFixed32(dst, kVersion);
  PutFixed64(dst, static_cast<uint64_t>(watermark_ms_));
  PutFixed64(dst, next_seq_);
  PutFixed64(dst, static_cast<uint64_t>(warmup_end_ms_));
  JoinerStats stats = stats_;
  for (int64_t* v : StatFields(&stats, kVersion)) PutFixed64(dst, static_cast<uint64_t>(*v));
  std::vector<const Pending*> order;
  for (const Pending& p : slots_) {
    if (p.open != 0) order.push_back(&p);
  }
  std::sort(order.begin(), order.end(),
            [](const Pending* a, const Pending* b) { return a->seq < b->seq; });
  PutFixed64(dst, order.size());
  for (const Pending* p : order) EncodePending(*p, dst);
  const std::vector<uint64_t> fifo = closed_.OldestFirst();
  PutArray(dst, fifo.data(), fifo.size());
}

Status Joiner::Deserialize(std::string_view src) {
  Decoder d(src, "joiner state");
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&magic));
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&version));
  if (magic != kMagic) return Status::Corruption("joiner state: bad magic");
  if (version < 1 || version > kVersion) {
    return Status::Corruption("joiner state: unknown format version " + std::to_string(version) +
                              " (this build reads 1 to " + std::to_string(kVersion) + ")");
  }
  // Decode into a fresh Joiner, then take its state: *this changes only on success.
  Joiner fresh(options_, task_names_);
  RANKER_RETURN_IF_ERROR(fresh.DecodeState(&d, version));
  if (!d.done()) return Status::Corruption("joiner state: trailing bytes");
  slots_.swap(fresh.slots_);
  free_slots_.swap(fresh.free_slots_);
  index_.swap(fresh.index_);
  requests_.swap(fresh.requests_);
  queue_.swap(fresh.queue_);
  std::swap(closed_, fresh.closed_);
  watermark_ms_ = fresh.watermark_ms_;
  next_seq_ = fresh.next_seq_;
  warmup_end_ms_ = fresh.warmup_end_ms_;
  stats_ = fresh.stats_;
  return Status::OK();
}

Status Joiner::DecodeState(Decoder* d, uint32_t version) {
  uint64_t watermark = 0, n = 0;
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&watermark));
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&next_seq_));
  watermark_ms_ = static_cast<int64_t>(watermark);
  // Versions 1 and 2 had no warm-up: immediate from the first impression.
  warmup_end_ms_ = std::numeric_limits<int64_t>::min();
  if (version >= 3) {
    uint64_t end = 0;
    RANKER_RETURN_IF_ERROR(d->GetFixed64(&end));
    warmup_end_ms_ = static_cast<int64_t>(end);
  }
  for (int64_t* v : StatFields(&stats_, version)) {
    uint64_t u = 0;
    RANKER_RETURN_IF_ERROR(d->GetFixed64(&u));
    *v = static_cast<int64_t>(u);
  }
  stats_.pending = 0;  // counted again by Insert
  RANKER_RETURN_IF_ERROR(GetCount(d, 8, &n));
  for (uint64_t i = 0; i < n; ++i) {
    Pending p;
    RANKER_RETURN_IF_ERROR(DecodePending(d, version, &p));
    const uint64_t key_hash = KeyHash(p.example.request_id, p.example.item_id);
    if (p.seq >= next_seq_ || Find(key_hash, p.example.request_id, p.example.item_id) != kNoSlot) {
      return Status::Corruption("joiner state: inconsistent pending impression");
    }
    Insert(key_hash, std::move(p));
  }
  std::vector<uint64_t> fifo;
  RANKER_RETURN_IF_ERROR(GetVector(d, &fifo));
  for (uint64_t h : fifo) closed_.Add(h);  // keeps the newest late_memory
  return Status::OK();
}

}  // namespace ranker::learner
