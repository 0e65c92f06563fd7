// Commits the offsets of published model versions to the consumer group, on
// a thread of its own, so that consumer-lag tools tell the truth without the
// learner ever waiting for the group coordinator (a commit blocks for as
// long as the brokers are unreachable).
//
// Offers coalesce: only the newest offset per partition is committed. Only
// partitions currently assigned are committed. CommitRevoked() commits
// synchronously (from the rebalance callback) and forgets the partitions, so
// a later, stale offer cannot move a partition's committed offset back after
// it comes back to this member.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "ingest/event_source.h"

namespace ranker::app {

class OffsetCommitter {
 public:
  // `source` is borrowed and must outlive Stop(). Starts the thread.
  explicit OffsetCommitter(ingest::EventSource* source);
  ~OffsetCommitter();  // Stop()s
  OffsetCommitter(const OffsetCommitter&) = delete;
  OffsetCommitter& operator=(const OffsetCommitter&) = delete;

  // Queues `offsets` (next offsets) for the next commit.
  void Offer(const ingest::OffsetMap& offsets);

  // Commits `offsets` (the learner's latest for partitions being revoked)
  // now and forgets whatever was queued for those partitions.
  Status CommitRevoked(const ingest::OffsetMap& offsets);

  // Commits whatever is queued, now (the final commit of a drain).
  Status CommitNow();

  // Ends the thread (without a last commit: call CommitNow() first).
  void Stop();

  uint64_t commits() const;
  uint64_t failures() const;
  std::string last_error() const;

 private:
  void Run();
  // Commits the assigned part of pending_.
  Status CommitPendingLocked() RANKER_REQUIRES(commit_mu_);
  void Record(const Status& s);

  ingest::EventSource* const source_;
  // Serialises commits with each other and with CommitRevoked; held across
  // the (blocking) commit call. Acquired before mu_.
  Mutex commit_mu_ RANKER_ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_;
  CondVar cv_;
  ingest::OffsetMap pending_ RANKER_GUARDED_BY(mu_);
  bool stop_ RANKER_GUARDED_BY(mu_) = false;
  uint64_t commits_ RANKER_GUARDED_BY(mu_) = 0;
  uint64_t failures_ RANKER_GUARDED_BY(mu_) = 0;
  std::string last_error_ RANKER_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace ranker::app
