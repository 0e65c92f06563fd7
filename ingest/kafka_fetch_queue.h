// The bounded queue between KafkaSource's consumer thread and the owner's
// Pop(): one FIFO per assigned partition, a capacity in messages and in
// bytes, owner pauses, and the backpressure state with its low watermark.
// It decides WHICH partitions librdkafka should fetch; KafkaSource applies
// that. Kept apart from librdkafka so its rules are testable alone.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <vector>

#include "base/mutex.h"
#include "ingest/event_source.h"

namespace ranker::ingest {

class FetchQueue {
 public:
  // Fetching pauses once either count reaches its bound and resumes when
  // both are at or below `resume_fraction` of their bounds.
  FetchQueue(size_t max_messages, size_t max_bytes, double resume_fraction);

  // Starts tracking `tp` (replacing any previous state). `start_offset` is
  // the offset the owner asked for, or -1 if unknown.
  void Assign(const TopicPartition& tp, int64_t start_offset);
  // Drops the queued messages of `tps`; they stay assigned.
  void Purge(const std::vector<TopicPartition>& tps);
  // Drops the queued messages of `tp` and expects `next_offset` next
  // (-1 or another logical offset: unknown), keeping its pause state.
  // False if `tp` is not assigned.
  bool Reset(const TopicPartition& tp, int64_t next_offset);
  void Unassign(const std::vector<TopicPartition>& tps);
  // OK, or FailedPrecondition naming the first partition not assigned.
  Status CheckAssigned(const std::vector<TopicPartition>& tps) const;
  std::vector<TopicPartition> Assignment() const;

  // Queues a fetched message. Messages of unassigned partitions and offsets
  // at or below one already queued (librdkafka re-fetches after a resume)
  // are dropped. An offset beyond the next one expected (the start offset
  // or the last queued + 1) counts the offsets between as lost. May
  // overshoot the bounds; fetching then pauses.
  void Push(SourceMessage message);
  // As EventSource::Pop().
  std::vector<SourceMessage> Pop(size_t max, std::chrono::milliseconds timeout);

  void SetOwnerPaused(const std::vector<TopicPartition>& tps, bool paused);
  // The partitions whose librdkafka fetch state must change now, to be
  // applied by the one caller (the consumer thread); records them as done.
  void TakeFetchChanges(std::vector<TopicPartition>* pause, std::vector<TopicPartition>* resume);

  void SetHighWatermark(const TopicPartition& tp, int64_t high);
  // Sets the next offset of `tp` from the fetch position if nothing was
  // popped and nothing is queued (then the position is what Pop() gives next).
  void SetPositionIfIdle(const TopicPartition& tp, int64_t position);

  // Fills consumed, consumed_bytes, pauses, resumes, duplicates_dropped,
  // offsets_lost, queued_* and partitions.
  void FillCounters(SourceCounters* counters) const;

  // Pop() returns empty from now on and wakes any waiter; drops everything.
  void Close();

 private:
  struct Partition {
    std::deque<SourceMessage> queue;
    int64_t last_queued = -1;  // highest offset queued
    int64_t next_offset = -1;  // next offset Pop() hands out; -1 unknown
    int64_t high_watermark = -1;
    bool owner_paused = false;
    bool fetch_paused = false;  // as last reported by TakeFetchChanges()
  };

  bool Poppable() const RANKER_REQUIRES(mu_);
  SourceMessage TakeFront(Partition* part) RANKER_REQUIRES(mu_);
  void MaybeLiftBackpressure() RANKER_REQUIRES(mu_);

  const size_t max_messages_;
  const size_t max_bytes_;
  const double resume_fraction_;

  mutable Mutex mu_;
  CondVar cv_;  // became poppable, or closed
  std::map<TopicPartition, Partition> parts_ RANKER_GUARDED_BY(mu_);
  size_t queued_messages_ RANKER_GUARDED_BY(mu_) = 0;
  size_t queued_bytes_ RANKER_GUARDED_BY(mu_) = 0;
  bool backpressure_ RANKER_GUARDED_BY(mu_) = false;
  bool closed_ RANKER_GUARDED_BY(mu_) = false;
  size_t rr_cursor_ RANKER_GUARDED_BY(mu_) = 0;
  SourceCounters counters_ RANKER_GUARDED_BY(mu_);  // the fields above
};

}  // namespace ranker::ingest
