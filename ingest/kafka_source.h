// The real EventSource: a librdkafka KafkaConsumer in a consumer group.
//
// A consumer thread polls librdkafka and fills a bounded queue (capacity in
// messages and in bytes) that the owner's thread drains with Pop(). When the
// queue is full the source pauses every assigned partition (backpressure) and
// resumes them once the queue is below the low watermark; librdkafka restarts
// a resumed partition at the offset after the last message it handed over,
// and the source drops any re-fetched offset it already queued, so nothing is
// skipped or duplicated.
//
// Offsets are never committed behind the owner's back (enable.auto.commit is
// forced off): the owner commits with CommitOffsets() or, for exactly-once
// learning, keeps the offsets in its own snapshot and supplies them from
// RebalanceListener::OnAssigned().
//
// Both EAGER (range, roundrobin) and COOPERATIVE (cooperative-sticky)
// assignment protocols are handled; choose with
// kafka["partition.assignment.strategy"].
//
// Broker and network errors are counted (Counters().errors), optionally
// logged, and never fatal: librdkafka reconnects by itself. The exception is
// a fatal client error, notably a static member (kafka["group.instance.id"])
// fenced by a newer consumer with the same id: it is always logged, shows in
// Counters().fatal_error / fenced, and the source consumes nothing more.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "ingest/event_source.h"
#include "ingest/kafka_fetch_queue.h"

namespace RdKafka {
class KafkaConsumer;
class Message;
class TopicPartition;
}  // namespace RdKafka

namespace ranker::ingest {

struct KafkaSourceOptions {
  // bootstrap.servers (kafka["bootstrap.servers"] overrides it).
  std::string brokers = "localhost:9092";
  // Topics to subscribe to; co-partitioned topics may be listed together.
  std::vector<std::string> topics = {"ranker.events"};
  // group.id (kafka["group.id"] overrides it).
  std::string group_id = "ranker";
  // librdkafka properties passed through verbatim (config keys `kafka.*`
  // without the prefix): security.protocol, sasl.*, ssl.*,
  // session.timeout.ms, partition.assignment.strategy, ... Applied after the
  // source's defaults (auto.offset.reset=earliest, enable.partition.eof=
  // false), so they win; enable.auto.commit may only be "false".
  std::map<std::string, std::string> kafka;
  // Bounds of the queue between the consumer thread and Pop(). A message is
  // queued even if it overshoots (one fetch at most), then fetching pauses.
  size_t queue_max_messages = 10000;
  size_t queue_max_bytes = size_t{64} << 20;
  // Fetching resumes when both counts are at or below this fraction of their
  // bounds.
  double resume_fraction = 0.5;
  // Longest the consumer thread blocks in librdkafka: bounds the latency of
  // Pause()/Resume(), backpressure and Close().
  int poll_timeout_ms = 50;
  // Longest Seek() waits for the consumer thread to apply it.
  int seek_timeout_ms = 10000;
  // How often the per-partition high watermarks in Counters() are refreshed
  // (from librdkafka's cached fetch state: no extra broker requests).
  int watermark_refresh_ms = 1000;
  // Write librdkafka errors and warnings to stderr (they are counted anyway).
  bool log_to_stderr = true;
  // When set, the consumer thread decodes each message as it queues it
  // (SourceMessage::decoded), off the owner's thread: the learner then only
  // learns, as `ranker replay` does with its reader thread. The queue's byte
  // bound counts the payloads, not their decoded form. Must equal the
  // owner's decoder options (the service passes its pipeline's).
  std::optional<DecoderOptions> decode;

  Status Validate() const;
};

class KafkaSource final : public EventSource {
 public:
  // InvalidArgument naming the option or the `kafka.<key>` that librdkafka
  // rejected. Does not contact the brokers.
  static StatusOr<std::unique_ptr<KafkaSource>> Create(const KafkaSourceOptions& options);
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // EventSource. The listener runs on the consumer thread.
  Status Start(RebalanceListener* listener) override;
  std::vector<SourceMessage> Pop(size_t max, std::chrono::milliseconds timeout) override;
  // Blocks until the group coordinator answers (librdkafka's commitSync has
  // no timeout of its own; it fails after socket.timeout.ms when brokers are
  // unreachable).
  Status CommitOffsets(const OffsetMap& next_offsets) override;
  void Pause(const std::vector<TopicPartition>& partitions) override;
  void Resume(const std::vector<TopicPartition>& partitions) override;
  // Applied by the consumer thread between two consume() calls: librdkafka
  // then drops what it fetched from the old position, and the queue drops
  // what it holds. Waits up to seek_timeout_ms for that thread to take it
  // (it may be inside a rebalance callback); one not taken by then is
  // withdrawn (Unavailable, nothing moves), one taken is waited for.
  Status Seek(const OffsetMap& next_offsets) override;
  std::vector<TopicPartition> Assignment() const override;
  SourceCounters Counters() const override;
  Status Close() override;

 private:
  class Callbacks;

  KafkaSource(const KafkaSourceOptions& options, std::unique_ptr<Callbacks> callbacks);
  void Run();
  void Handle(RdKafka::Message& message);
  void ApplyFetchChanges();
  void WakeFetchers(const std::vector<RdKafka::TopicPartition*>& resumed);
  void RefreshWatermarks();
  void ApplySeeks();
  void OnAssign(std::vector<RdKafka::TopicPartition*>& partitions, bool cooperative);
  void OnRevoke(std::vector<RdKafka::TopicPartition*>& partitions, bool cooperative);
  void OnError(const std::string& what, bool count);
  void OnFatal();
  void OnOffsetReset();

  const KafkaSourceOptions options_;
  std::unique_ptr<Callbacks> callbacks_;  // outlives consumer_
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  FetchQueue queue_;
  const std::optional<EventDecoder> decoder_;  // options_.decode
  RebalanceListener* listener_ = nullptr;      // borrowed until Close()
  std::thread thread_;                         // the consumer thread
  std::atomic<bool> stop_{false};
  Mutex close_mu_;  // serialises Start()/Close()
  bool started_ RANKER_GUARDED_BY(close_mu_) = false;
  bool closed_ RANKER_GUARDED_BY(close_mu_) = false;

  mutable Mutex mu_;
  uint64_t errors_ RANKER_GUARDED_BY(mu_) = 0;
  uint64_t rebalances_ RANKER_GUARDED_BY(mu_) = 0;
  uint64_t offset_resets_ RANKER_GUARDED_BY(mu_) = 0;
  std::string last_error_ RANKER_GUARDED_BY(mu_);
  std::string fatal_error_ RANKER_GUARDED_BY(mu_);
  bool fenced_ RANKER_GUARDED_BY(mu_) = false;
  Status close_status_ RANKER_GUARDED_BY(mu_);  // of librdkafka's close()
  // Seek() requests for the consumer thread: `seek_taken_` is the last
  // request it took to apply, `seek_done_` the last it applied (or that its
  // caller withdrew before it was taken).
  OffsetMap seeks_ RANKER_GUARDED_BY(mu_);
  uint64_t seek_requests_ RANKER_GUARDED_BY(mu_) = 0;
  uint64_t seek_taken_ RANKER_GUARDED_BY(mu_) = 0;
  uint64_t seek_done_ RANKER_GUARDED_BY(mu_) = 0;
  Status seek_status_ RANKER_GUARDED_BY(mu_);  // of the last applied batch
  CondVar seek_cv_;
};

}  // namespace ranker::ingest
