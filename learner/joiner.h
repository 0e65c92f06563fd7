// The online joiner (contract §1): pairs click/watch engagements with the
// impression of the same (request_id, item_id) inside an event-time window,
// and turns each impression into one training Example when its window closes.
//
// Time is event time. The watermark is the largest ts_ms seen so far (0
// before any); an event without ts_ms (-1) is taken to happen at the
// watermark (its Example keeps ts_ms = -1). An impression at time t is
// pending until the watermark reaches t + window_ms; an engagement joins it
// only while it is pending, so an engagement whose own ts_ms closes the window
// is already late. On each Add the joiner first advances the watermark and
// closes what is due, then handles the event.
//
// Output order is deterministic: examples are emitted by close deadline, ties
// by arrival order; a passthrough `example` event is emitted when it arrives.
// Eviction (the pending bound is hit) closes the pending impression with the
// earliest deadline early, so no impression is ever lost.
//
// Memory is bounded: at most max_pending pending impressions and late_memory
// remembered closed keys. Closed keys are remembered as 64-bit hashes of the
// pair; a hash collision could only make an orphan count as late.
//
// Thread-safety: none; one owner (the trainer's ingest thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "learner/event.h"

namespace ranker {
class Decoder;
}

namespace ranker::learner {

struct JoinerOptions {
  // Join window in event time, milliseconds.
  int64_t window_ms = 60000;
  // Hard bound on pending impressions; beyond it the earliest-deadline one is
  // closed early (counted as evicted).
  size_t max_pending = 1000000;
  // Tasks whose labels the joiner sets: click -> 0/1, watch -> summed seconds.
  // A name that is not a configured task is simply not labelled.
  std::string click_task = "click";
  std::string watch_task = "watch";
  // How many recently closed keys are remembered to tell late engagements
  // from orphans (0: every engagement for a closed impression is an orphan).
  size_t late_memory = 100000;

  Status Validate() const;
};

// Counters (monotone) and one gauge (pending).
struct JoinerStats {
  int64_t impressions = 0;            // impression events received
  int64_t clicks = 0;                 // click events received
  int64_t watches = 0;                // watch events received
  int64_t joined_clicks = 0;          // clicks that found their pending impression
  int64_t joined_watches = 0;         // watches that found their pending impression
  int64_t examples_emitted = 0;       // joined examples emitted (passthrough excluded)
  int64_t passthrough = 0;            // `example` events passed straight through
  int64_t duplicate_impressions = 0;  // impression for a key already pending (ignored)
  int64_t late_engagements = 0;       // engagement for a recently closed key
  int64_t orphan_engagements = 0;     // engagement for a key never seen (or forgotten)
  int64_t evicted = 0;                // impressions closed early by max_pending
  int64_t pending = 0;                // gauge: impressions waiting for their window
};

class Joiner {
 public:
  // `task_names`: ModelOptions::tasks names, in order; emitted examples have
  // one label per task (kNoLabel for tasks other than click/watch).
  // REQUIRES: options.Validate().ok().
  Joiner(JoinerOptions options, std::vector<std::string> task_names);
  // Consumes one event; appends every example that became ready to *out.
  // The rvalue overload moves the impression's features instead of copying.
  void Add(const Event& event, std::vector<Example>* out);
  void Add(Event&& event, std::vector<Example>* out);

  // Closes every pending impression (end of a replay), in deadline order.
  void Flush(std::vector<Example>* out);

  const JoinerStats& stats() const { return stats_; }
  int64_t watermark_ms() const { return watermark_ms_; }

  // Binary state (magic + version): pending impressions, watermark, the
  // remembered closed keys and the stats. Options are not stored: the restoring
  // Joiner's options apply (a smaller max_pending evicts on the next
  // impression). On error the object is unchanged. A round trip gives
  // identical future output.
  void Serialize(std::string* dst) const;
  Status Deserialize(std::string_view src);

 private:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  // The hashes of the last `capacity` closed keys (a key closed twice counts
  // twice), in an open-addressing table: no allocation per key.
  class RecentKeys {
   public:
    explicit RecentKeys(size_t capacity);
    void Add(uint64_t key_hash);  // forgets the oldest beyond capacity
    bool Contains(uint64_t key_hash) const;
    std::vector<uint64_t> OldestFirst() const;

   private:
    struct Cell {
      uint64_t key = 0;  // 0 = empty (hash 0 is stored as 1)
      uint64_t count = 0;
    };
    size_t Probe(uint64_t key) const;  // the key's cell, or the empty cell ending its run
    void Remove(uint64_t key);
    size_t capacity_;
    std::vector<Cell> table_;     // power-of-two size >= 2 * capacity
    std::vector<uint64_t> fifo_;  // ring of the remembered keys
    size_t head_ = 0;             // oldest entry of fifo_ once it is full
  };
  struct Pending {
    Example example;
    int64_t deadline_ms = 0;
    uint64_t seq = 0;  // arrival number: the tie-break of equal deadlines
    bool clicked = false;
    double watch_seconds = 0;
    uint64_t key_hash = 0;
    uint32_t next = kNoSlot;  // next slot with the same key_hash (collisions)
  };
  // An entry of the deadline min-heap.
  struct QueueEntry {
    int64_t deadline_ms;
    uint64_t seq;
    uint32_t slot;
  };

  static uint64_t KeyHash(std::string_view request_id, std::string_view item_id);
  uint32_t Find(uint64_t key_hash, std::string_view request_id, std::string_view item_id) const;
  void Insert(uint64_t key_hash, Pending p);
  void Unlink(uint32_t slot);
  void CloseDue(std::vector<Example>* out);
  void CloseFront(std::vector<Example>* out);
  void AddImpression(Event&& event, std::vector<Example>* out);
  void AddEngagement(const Event& event);
  static void EncodePending(const Pending& p, std::string* dst);
  static Status DecodePending(Decoder* d, Pending* p);
  // Decodes everything after magic + version. REQUIRES: *this is new.
  Status DecodeState(Decoder* d);

  const JoinerOptions options_;
  const std::vector<std::string> task_names_;
  int click_label_ = -1;  // label index of click_task, -1 if not a task
  int watch_label_ = -1;

  int64_t watermark_ms_ = 0;
  uint64_t next_seq_ = 0;
  // Pending impressions live in slots_ (free ones listed in free_slots_),
  // found through index_: key hash -> first slot of a chain compared by the
  // exact strings, so a 64-bit collision costs a string compare, not a join.
  std::vector<Pending> slots_;
  std::vector<uint32_t> free_slots_;
  std::unordered_map<uint64_t, uint32_t> index_;
  std::vector<QueueEntry> queue_;  // min-heap by (deadline_ms, seq); one per pending
  RecentKeys closed_;
  JoinerStats stats_;
};

}  // namespace ranker::learner
