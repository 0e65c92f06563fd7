// The online joiner (contract §1, §7): pairs click/watch engagements with
// the impression of the same (request_id, item_id) and turns each impression
// into training examples as its tasks' labels mature.
//
// Time is event time. The watermark is the largest ts_ms seen so far (0
// before any), moved by every event that carries one, `watermark` events
// included; an event without ts_ms (-1) is taken to happen at the watermark
// (its Example keeps ts_ms = -1). On each Add the joiner first advances the
// watermark and closes what is due, then handles the event.
//
// Maturity, per task. The click task matures at t + click window, the watch
// task at t + watch window (t: the impression's time; each window defaults
// to window_ms, see task_window_ms). An engagement joins its task only while
// that task is open, so an engagement whose own ts_ms closes the window is
// late. Window mode: when a task matures the impression is emitted with that
// task's label and every other task masked (kNoLabel); tasks maturing at the
// same time share one example, so with equal windows each impression is one
// example with all its labels. Each task trains once per impression.
//
// Immediate mode (binary click task only; after a warm-up, see
// immediate_warmup_ms, in which impressions are handled as in window
// mode): the impression is emitted at once with click = 0 (the label known then, watch masked), and
// the first click that joins within the click window is emitted at once as a duplicate with click =
// 1: the input of fake-negative weighting (Ktena et al., RecSys 2019), which the model applies to
// that task's loss (TaskSpec). Watch still matures on its own window. Progressive metrics stay
// comparable with window mode: the impression's first example keeps its predictions
// (Evaluation::kScoreOnly) and, as each task matures, a labels-only record
// (not trained on) brings the matured labels; the corrections and the late
// watch example are not scored.
//
// Lists (group_requests, for listwise losses): the impressions of one
// request mature together, every open task at once, when the first of them
// is due, and come out contiguously in arrival order with
// Example::group = GroupOf(request_id); passthrough examples carry it too.
//
// Output order is deterministic: by maturity deadline, ties by arrival;
// immediate examples and passthrough `example` events when they arrive.
// Eviction (the pending bound is hit) matures every open task of the pending
// impression with the earliest deadline at once, so none is ever lost.
//
// Memory is bounded: at most max_pending pending impressions and
// late_memory remembered closed keys (64-bit hashes; a collision could only
// make an orphan count as late).
//
// Thread-safety: none; one owner (the learner thread).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "join/recent_keys.h"
#include "learner/event.h"
#include "learner/options.h"

namespace ranker {
class Decoder;
}

namespace ranker::learner {

enum class JoinMode {
  kWindow,     // a task trains when its window closes (default)
  kImmediate,  // the click task trains at once and is corrected (FNW)
};

struct JoinerOptions {
  // Join window in event time, milliseconds (every task's by default).
  int64_t window_ms = 60000;
  JoinMode mode = JoinMode::kWindow;
  // Per-task windows (tasks[].window_ms): task name -> window, >= 0.
  // Tasks not listed use window_ms.
  std::map<std::string, int64_t> task_window_ms;
  // Wall time without any event after which the service moves event time
  // on by the wall time that passes (appending `watermark` events to its
  // input). 0 disables. Not used by the Joiner itself.
  int64_t idle_flush_ms = 5000;
  // Hard bound on pending impressions; beyond it the earliest-deadline one
  // is matured early (counted as evicted).
  size_t max_pending = 1000000;
  // Tasks whose labels the joiner sets: click -> 0/1, watch -> summed seconds.
  // A name that is not a configured task is simply not labelled.
  std::string click_task = "click";
  std::string watch_task = "watch";
  // Keep a request's impressions together (a listwise task needs whole
  // lists); not with kImmediate.
  bool group_requests = false;
  // Immediate mode's warm-up, in event time from the first impression:
  // impressions shown before its end are learned as in window mode (their
  // click label when the click window closes, no duplicate); later ones at
  // once. A correction with a duplicated stream starts from a model that
  // has learned from complete labels, as Ktena et al. (2019) apply
  // fake-negative weighting to a pre-trained model: from a cold start,
  // the first seconds train negatives whose clicks are still in flight,
  // and Adagrad, which sums its whole history, kept that bias for minutes
  // (issue 16). The default, two default click windows, met the issue's
  // targets with the long tail of delays too (one did not quite). 0 =
  // immediate from the first impression. Snapshots carry the end, so a
  // restarted learner does not warm up again.
  int64_t immediate_warmup_ms = 120000;
  // Immediate mode: the delayed-feedback correction of the click task
  // (join.correction; DeriveOptions copies it to the task's TaskSpec). The
  // joiner's part is DEFER's (Gu et al., KDD 2021): when the click window
  // of an impression that was never clicked closes, it is emitted again as
  // a real negative (click = 0), so every impression trains that task twice.
  DelayedFeedback correction = DelayedFeedback::kFakeNegativeWeighting;
  // How many recently closed keys are remembered to tell late engagements
  // from orphans (0: every engagement for a closed impression is an orphan).
  size_t late_memory = 100000;

  Status Validate() const;
  // The window of task `name`.
  int64_t WindowOf(const std::string& name) const;
};

// Counters (monotone) and one gauge (pending).
struct JoinerStats {
  int64_t impressions = 0;            // impression events received
  int64_t clicks = 0;                 // click events received
  int64_t watches = 0;                // watch events received
  int64_t joined_clicks = 0;          // clicks that found their open impression
  int64_t joined_watches = 0;         // watches that found their open impression
  int64_t examples_emitted = 0;       // joined examples emitted (passthrough excluded)
  int64_t passthrough = 0;            // `example` events passed straight through
  int64_t duplicate_impressions = 0;  // impression for a key already pending (ignored)
  int64_t late_engagements = 0;       // engagement after its task closed (recent key)
  int64_t orphan_engagements = 0;     // engagement for a key never seen (or forgotten)
  int64_t evicted = 0;                // impressions matured early by max_pending
  int64_t pending = 0;                // gauge: impressions with a task still open
  int64_t watermarks = 0;             // `watermark` events received
  int64_t corrections = 0;            // immediate mode: positive duplicates emitted
};

class Joiner {
 public:
  // `task_names`: ModelOptions::tasks names, in order; emitted examples have
  // one label per task (kNoLabel for tasks other than click/watch, and for
  // the tasks that are not maturing in that example).
  // REQUIRES: options.Validate().ok().
  Joiner(JoinerOptions options, std::vector<std::string> task_names);
  // Consumes one event; appends every example that became ready to *out.
  // The rvalue overload moves the impression's features instead of copying.
  void Add(const Event& event, std::vector<Example>* out);
  void Add(Event&& event, std::vector<Example>* out);

  // Matures every open task (end of a replay), in deadline order.
  void Flush(std::vector<Example>* out);

  const JoinerStats& stats() const { return stats_; }
  int64_t watermark_ms() const { return watermark_ms_; }
  const JoinerOptions& options() const { return options_; }
  // The Example::group of a request's examples: a nonzero hash of its id.
  static uint64_t GroupOf(std::string_view request_id);

  // Binary state (magic + format version 3): pending impressions with
  // their joined engagements, watermark, the end of immediate mode's
  // warm-up, the remembered closed keys and the stats. Versions 1 (one
  // window, no per-task state) and 2 (no warm-up: restored as over) still
  // restore.
  // Options are not stored: the restoring Joiner's options apply (windows
  // are recomputed from each impression's time; a smaller max_pending
  // evicts on the next impression). On error the object is unchanged. A
  // round trip gives identical future output.
  void Serialize(std::string* dst) const;
  Status Deserialize(std::string_view src);

 private:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  // Task slots of a pending impression (bit i of Pending::open).
  static constexpr int kClick = 0;
  static constexpr int kWatch = 1;
  struct Pending {
    Example example;
    int64_t time_ms = 0;  // the impression's event time
    uint64_t seq = 0;     // arrival number: the tie-break of equal deadlines
    uint32_t open = 0;    // task slots not yet matured
    bool clicked = false;
    int64_t click_ts_ms = -1;  // the first joined click's time
    double watch_seconds = 0;
    std::vector<int64_t> watch_ts_ms;  // joined watches' times
    uint64_t key_hash = 0;
    uint64_t group = 0;       // GroupOf(request_id) with group_requests (the
                              // example may be moved out before Unlink)
    uint32_t next = kNoSlot;  // next slot with the same key_hash (collisions)
  };
  // An entry of the deadline min-heap: slots `tasks` of the impression in
  // `slot` mature at deadline_ms. Stale once that impression is gone
  // (seq differs) or those tasks matured (evicted).
  struct QueueEntry {
    int64_t deadline_ms;
    uint64_t seq;
    uint32_t slot;
    uint32_t tasks;
  };

  static uint64_t KeyHash(std::string_view request_id, std::string_view item_id);
  uint32_t Find(uint64_t key_hash, std::string_view request_id, std::string_view item_id) const;
  void Insert(uint64_t key_hash, Pending p);
  void Unlink(uint32_t slot);
  int64_t Deadline(const Pending& p, int task) const;
  void CloseDue(std::vector<Example>* out);
  // Pops the earliest queue entry and matures its tasks (all open ones when
  // `all`); a stale entry is dropped.
  void CloseFront(bool all, std::vector<Example>* out);
  void Mature(uint32_t slot, uint32_t tasks, std::vector<Example>* out);
  // Matures every open task of every pending impression of slot's request.
  void MatureRequest(uint32_t slot, std::vector<Example>* out);
  Example LabelsRecord(const Pending& p, uint32_t tasks) const;
  // The example of `tasks`' labels; moves the features out unless `copy_features`.
  Example Emit(Pending* p, uint32_t tasks, bool copy_features) const;
  void AddImpression(Event&& event, std::vector<Example>* out);
  void AddEngagement(const Event& event, std::vector<Example>* out);
  void JoinClick(Pending* p, int64_t ts, std::vector<Example>* out);
  static void EncodePending(const Pending& p, std::string* dst);
  Status DecodePending(Decoder* d, uint32_t version, Pending* p) const;
  // Decodes everything after magic + version. REQUIRES: *this is new.
  Status DecodeState(Decoder* d, uint32_t version);

  const JoinerOptions options_;
  const std::vector<std::string> task_names_;
  int label_[2] = {-1, -1};     // label index of the click / watch task, -1 if none
  int64_t window_[2] = {0, 0};  // maturity window of the click / watch slot
  uint32_t enabled_ = 0;        // slots an impression opens
  bool immediate_ = false;      // the click slot trains at once (after the warm-up)
  // Whether impression p trains its click task at once: immediate mode,
  // shown at or after the warm-up's end.
  bool Immediate(const Pending& p) const { return immediate_ && p.time_ms >= warmup_end_ms_; }

  int64_t watermark_ms_ = 0;
  uint64_t next_seq_ = 0;
  // The end of immediate mode's warm-up (event time): unknown (max) until
  // the first impression sets it.
  int64_t warmup_end_ms_ = std::numeric_limits<int64_t>::max();
  // Pending impressions live in slots_ (free ones listed in free_slots_),
  // found through index_: key hash -> first slot of a chain compared by the
  // exact strings, so a 64-bit collision costs a string compare, not a join.
  std::vector<Pending> slots_;
  std::vector<uint32_t> free_slots_;
  std::unordered_map<uint64_t, uint32_t> index_;
  // group_requests only: GroupOf(request_id) -> its pending slots.
  std::unordered_map<uint64_t, std::vector<uint32_t>> requests_;
  std::vector<QueueEntry> queue_;  // min-heap by (deadline_ms, seq)
  RecentKeys closed_;
  JoinerStats stats_;
};

}  // namespace ranker::learner
