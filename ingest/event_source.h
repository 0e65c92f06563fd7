// The seam between the learner pipeline and the message log it reads: a
// partitioned, offset-addressed source consumed as a member of a group.
// Implementations: KafkaSource (librdkafka), fakes::FakeEventSource (tests).
// One contract suite (tests/ingest/kafka_contract_test.cc) runs against both.
//
// Offsets are always NEXT offsets: the offset of the first message not yet
// processed (Kafka's committed-offset convention).
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "ingest/event_decoder.h"

namespace ranker::ingest {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  auto operator<=>(const TopicPartition&) const = default;
  bool operator==(const TopicPartition&) const = default;
};

// Next offset per partition.
using OffsetMap = std::map<TopicPartition, int64_t>;

// An OnAssigned() start offset: the partition's earliest retained message,
// whatever the group committed (a learner whose snapshot holds nothing of
// the partition must read all of it).
inline constexpr int64_t kOffsetBeginning = -2;

// One message as read from the log. Within a partition, messages are
// delivered in increasing offset order, each at most once per assignment.
struct SourceMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  int64_t timestamp_ms = -1;  // producer/log-append time; -1 = none
  std::vector<std::pair<std::string, std::string>> headers;
  // The payload decoded, when the source was asked to decode
  // (KafkaSourceOptions::decode): done on the source's consumer thread, so
  // the owner's thread (the learner) does not parse JSON. Absent otherwise.
  std::optional<DecodeResult> decoded;

  TopicPartition tp() const { return {topic, partition}; }
};

// What the owner of a source is told when the group moves partitions.
// Callbacks run on a thread of the source (KafkaSource: its consumer thread;
// the fake: whichever thread changed the group), never concurrently with one
// another for one source. They may block (e.g. to let the learner finish its
// current batch) and may call the source's CommitOffsets() and Assignment(),
// but not Start(), Pop() or Close().
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;

  // `partitions` were just given to this member. Returns the next offset to
  // read for those the owner knows (e.g. from a restored snapshot); the
  // others start at the group's committed offset, or at the earliest offset
  // when nothing is committed. Entries for other partitions are ignored.
  virtual OffsetMap OnAssigned(const std::vector<TopicPartition>& partitions) = 0;

  // `partitions` are about to be taken away. While this runs they are still
  // assigned, so the owner can commit what it has processed; the source has
  // already discarded their undelivered messages and Pop() returns none of
  // them afterwards. Commits may fail if the group already lost them (e.g.
  // after a session timeout).
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;
};

// Cumulative counters of a source; every field only grows except the gauges
// (queued_*, paused_partitions and the per-partition map).
struct SourceCounters {
  uint64_t consumed = 0;            // messages handed out by Pop()
  uint64_t consumed_bytes = 0;      // their key + payload bytes
  uint64_t errors = 0;              // broker/client errors seen (never fatal)
  uint64_t rebalances = 0;          // assign + revoke callbacks
  uint64_t pauses = 0;              // backpressure pauses (queue full)
  uint64_t resumes = 0;             // backpressure resumes (below low watermark)
  uint64_t duplicates_dropped = 0;  // re-fetched offsets filtered out
  // Fetch positions that had left the log (retention deleted them before
  // they were consumed: those events are lost) and were reset by the
  // client's auto.offset.reset. A partition whose log start overtakes the
  // reset again counts again.
  uint64_t offset_resets = 0;
  // The messages those resets skipped: the offset gap between where a
  // partition's consumer stood and the first message it got next. (Offsets
  // a compacted or transactional topic leaves out count too; the events
  // topic is neither.) Exactly-once cannot cover these events.
  uint64_t offsets_lost = 0;
  // A fatal consumer error (librdkafka stops consuming for good), e.g.
  // "fenced: ..." when another consumer joined with the same
  // group.instance.id; "" if none. The owner should stop or restart.
  std::string fatal_error;
  bool fenced = false;           // fatal_error is a static-membership fence
  uint64_t queued_messages = 0;  // gauge
  uint64_t queued_bytes = 0;     // gauge
  std::string last_error;        // "" if none
  struct PartitionState {
    int64_t next_offset = -1;     // next offset Pop() will hand out; -1 unknown
    int64_t high_watermark = -1;  // log end offset; -1 unknown
    int64_t lag = -1;             // high_watermark - next_offset; -1 unknown
  };
  std::map<TopicPartition, PartitionState> partitions;  // assigned ones
};

// A group member reading a partitioned log.
// Thread-safety: Pop() is called by one owner thread; CommitOffsets(),
// Pause(), Resume(), Assignment() and Counters() may be called from any
// thread. Close() may be called from any thread except inside a listener
// callback.
class EventSource {
 public:
  virtual ~EventSource() = default;  // Closes if still open.

  // Joins the group and starts reading. `listener` is borrowed until Close()
  // returns and must outlive the source. REQUIRES: called once.
  [[nodiscard]] virtual Status Start(RebalanceListener* listener) = 0;

  // Waits up to `timeout` for at least one message, then returns up to `max`
  // messages of assigned, unpaused partitions (empty on timeout or once
  // closed). Never returns a message twice within one assignment.
  virtual std::vector<SourceMessage> Pop(size_t max, std::chrono::milliseconds timeout) = 0;

  // Commits `next_offsets` for the group, synchronously. FailedPrecondition
  // (naming the partition) if one of them is not assigned to this member;
  // then nothing is committed.
  [[nodiscard]] virtual Status CommitOffsets(const OffsetMap& next_offsets) = 0;

  // After Pause() returns, Pop() returns no message of `partitions` until
  // Resume(); nothing is dropped. Unassigned partitions are ignored; a pause
  // does not survive a revoke.
  virtual void Pause(const std::vector<TopicPartition>& partitions) = 0;
  virtual void Resume(const std::vector<TopicPartition>& partitions) = 0;

  // Moves assigned partitions: once Seek() returns OK, Pop() hands out each
  // of them from the given next offset (kOffsetBeginning: the earliest) and
  // nothing queued from before. FailedPrecondition naming the partition if
  // one is not assigned (then nothing moved); Unavailable if the consumer
  // did not take it in time or the source is closing (then nothing moved,
  // and nothing will). Owner thread (the one that Pop()s).
  [[nodiscard]] virtual Status Seek(const OffsetMap& next_offsets) = 0;

  // The partitions currently assigned to this member.
  virtual std::vector<TopicPartition> Assignment() const = 0;

  virtual SourceCounters Counters() const = 0;

  // Leaves the group: OnRevoked() for the current assignment, then stops.
  // Pop() returns empty afterwards. Idempotent.
  [[nodiscard]] virtual Status Close() = 0;
};

}  // namespace ranker::ingest
