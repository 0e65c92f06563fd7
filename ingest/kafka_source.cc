#include "ingest/kafka_source.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <utility>

#include "base/thread.h"
#include "ingest/kafka_config.h"
#include "ingest/kafka_errors.h"

namespace ranker::ingest {
namespace {

using RdPartitions = std::vector<RdKafka::TopicPartition*>;

// Owns a vector of librdkafka TopicPartitions.
struct RdPartitionList {
  RdPartitions list;
  RdPartitionList() = default;
  RdPartitionList(RdPartitionList&& other) noexcept : list(std::move(other.list)) {
    other.list.clear();
  }
  RdPartitionList& operator=(RdPartitionList&&) = delete;
  ~RdPartitionList() { RdKafka::TopicPartition::destroy(list); }
};

TopicPartition ToTp(const RdKafka::TopicPartition& p) { return {p.topic(), p.partition()}; }

std::vector<TopicPartition> ToTps(const RdPartitions& partitions) {
  std::vector<TopicPartition> tps;
  tps.reserve(partitions.size());
  for (const auto* p : partitions) tps.push_back(ToTp(*p));
  return tps;
}

std::string Name(const TopicPartition& tp) {
  return tp.topic + "[" + std::to_string(tp.partition) + "]";
}

RdPartitionList ToRd(const std::vector<TopicPartition>& tps) {
  RdPartitionList out;
  for (const auto& tp : tps) {
    out.list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
  }
  return out;
}

SourceMessage Convert(RdKafka::Message& m) {
  SourceMessage out;
  out.topic = m.topic_name();
  out.partition = m.partition();
  out.offset = m.offset();
  if (m.key_pointer() != nullptr) {
    out.key.assign(static_cast<const char*>(m.key_pointer()), m.key_len());
  }
  if (m.payload() != nullptr) {
    out.payload.assign(static_cast<const char*>(m.payload()), m.len());
  }
  RdKafka::MessageTimestamp ts = m.timestamp();
  if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
    out.timestamp_ms = ts.timestamp;
  }
  if (RdKafka::Headers* headers = m.headers(); headers != nullptr) {
    for (const auto& h : headers->get_all()) {
      std::string value;
      if (h.value() != nullptr) value.assign(static_cast<const char*>(h.value()), h.value_size());
      out.headers.emplace_back(h.key(), std::move(value));
    }
  }
  return out;
}

}  // namespace

// librdkafka's callbacks, forwarded to the source. Rebalances run on the
// consumer thread (inside consume()); events may come from internal threads.
class KafkaSource::Callbacks final : public RdKafka::RebalanceCb, public RdKafka::EventCb {
 public:
  void Bind(KafkaSource* source) { source_ = source; }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    RdPartitions& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      source_->OnAssign(partitions, cooperative);
    } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      source_->OnRevoke(partitions, cooperative);
    } else {
      source_->OnError(KafkaStatus(err, "rebalance").ToString(), true);
      source_->OnRevoke(partitions, cooperative);
    }
  }

  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR && event.fatal()) {
      source_->OnFatal();
    } else if (event.type() == RdKafka::Event::EVENT_ERROR) {
      source_->OnError(KafkaStatus(event.err(), "kafka consumer").ToString() + ": " + event.str(),
                       true);
    } else if (event.type() == RdKafka::Event::EVENT_LOG &&
               event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
      // librdkafka reports a reset by auto.offset.reset only in this log.
      if (event.fac() == "OFFSET" && event.str().find("Offset out of range") != std::string::npos) {
        source_->OnOffsetReset();
      }
      source_->OnError("kafka consumer log: " + event.fac() + ": " + event.str(), false);
    }
  }

 private:
  KafkaSource* source_ = nullptr;
};

Status KafkaSourceOptions::Validate() const {
  if (brokers.empty() && !kafka.contains("bootstrap.servers")) {
    return Status::InvalidArgument("brokers is empty");
  }
  if (topics.empty()) return Status::InvalidArgument("topics is empty");
  for (const auto& t : topics) {
    if (t.empty()) return Status::InvalidArgument("topics has an empty name");
  }
  if (group_id.empty()) return Status::InvalidArgument("group_id is empty");
  if (queue_max_messages < 1) return Status::InvalidArgument("queue_max_messages must be >= 1");
  if (queue_max_bytes < 1) return Status::InvalidArgument("queue_max_bytes must be >= 1");
  if (!(resume_fraction >= 0 && resume_fraction < 1)) {
    return Status::InvalidArgument("resume_fraction must be in [0, 1)");
  }
  if (poll_timeout_ms < 1 || poll_timeout_ms > 1000) {
    return Status::InvalidArgument("poll_timeout_ms must be in [1, 1000]");
  }
  if (watermark_refresh_ms < 1) return Status::InvalidArgument("watermark_refresh_ms must be >= 1");
  if (decode.has_value()) {
    Status s = decode->Validate();
    if (!s.ok()) return Status::InvalidArgument("decode: " + s.message());
  }
  if (auto it = kafka.find("enable.auto.commit"); it != kafka.end() && it->second != "false") {
    return Status::InvalidArgument(
        "kafka.enable.auto.commit must be false: the owner commits the offsets it has learned");
  }
  return Status::OK();
}

StatusOr<std::unique_ptr<KafkaSource>> KafkaSource::Create(const KafkaSourceOptions& options) {
  RANKER_RETURN_IF_ERROR(options.Validate());
  const KafkaProperties defaults = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id},
      {"client.id", "ranker"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "earliest"},
  };
  auto conf = MakeKafkaConf(defaults, options.kafka);
  if (!conf.ok()) return conf.status();
  auto callbacks = std::make_unique<Callbacks>();
  std::string errstr;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(callbacks.get()), errstr) !=
          RdKafka::Conf::CONF_OK ||
      (*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(callbacks.get()), errstr) !=
          RdKafka::Conf::CONF_OK) {
    return Status::Internal("kafka consumer callbacks: " + errstr);
  }
  std::unique_ptr<KafkaSource> source(new KafkaSource(options, std::move(callbacks)));
  source->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), errstr));
  if (source->consumer_ == nullptr) {
    return Status::InvalidArgument("kafka consumer configuration: " + errstr);
  }
  return source;
}

KafkaSource::KafkaSource(const KafkaSourceOptions& options, std::unique_ptr<Callbacks> callbacks)
    : options_(options),
      callbacks_(std::move(callbacks)),
      queue_(options.queue_max_messages, options.queue_max_bytes, options.resume_fraction),
      decoder_(options.decode) {
  callbacks_->Bind(this);
}

KafkaSource::~KafkaSource() { (void)Close(); }

Status KafkaSource::Start(RebalanceListener* listener) {
  MutexLock close_lock(&close_mu_);
  assert(listener != nullptr && !started_);
  if (closed_) return Status::FailedPrecondition("kafka source: Start() after Close()");
  listener_ = listener;
  RANKER_RETURN_IF_ERROR(KafkaStatus(consumer_->subscribe(options_.topics), "subscribe"));
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void KafkaSource::Run() {
  SetThreadName("ranker-consume");
  auto next_refresh = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    ApplySeeks();
    ApplyFetchChanges();
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(options_.poll_timeout_ms));
    Handle(*message);
    if (std::chrono::steady_clock::now() >= next_refresh) {
      RefreshWatermarks();
      next_refresh = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(options_.watermark_refresh_ms);
    }
  }
  // Leaves the group; the final revoke runs the listener on this thread.
  Status s = KafkaStatus(consumer_->close(), "close");
  MutexLock lock(&mu_);
  close_status_ = s;
}

void KafkaSource::Handle(RdKafka::Message& message) {
  switch (message.err()) {
    case RdKafka::ERR_NO_ERROR: {
      SourceMessage m = Convert(message);
      if (decoder_.has_value()) m.decoded = decoder_->Decode(m.payload);
      queue_.Push(std::move(m));
      return;
    }
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return;
    case RdKafka::ERR__FATAL:  // as a message or an event: reported once
      OnFatal();
      return;
    default:
      OnError(KafkaStatus(message.err(), "consume").ToString(), true);
  }
}

// Brings librdkafka's paused set in line with what the owner and the queue
// want. Only this thread pauses or resumes, and it resumes only what it
// paused (resuming an unpaused partition makes librdkafka <= 2.3 re-fetch).
// librdkafka restarts a resumed partition after the last message it handed
// over; the queue drops any offset it already holds.
void KafkaSource::ApplyFetchChanges() {
  std::vector<TopicPartition> pause, resume;
  queue_.TakeFetchChanges(&pause, &resume);
  if (!pause.empty()) {
    RdPartitionList list = ToRd(pause);
    Status s = KafkaStatus(consumer_->pause(list.list), "pause");
    if (!s.ok()) OnError(s.ToString(), true);
  }
  if (!resume.empty()) {
    RdPartitionList list = ToRd(resume);
    Status s = KafkaStatus(consumer_->resume(list.list), "resume");
    if (!s.ok()) OnError(s.ToString(), true);
    WakeFetchers(list.list);
  }
}

// librdkafka 2.0.2 does not wake a broker thread idling with only paused
// partitions when they are resumed: it notices on its next 1 s tick, which
// starves the owner after every backpressure cycle. Any request queued to
// the leader wakes it, so ask for the watermarks (and keep them); the answer
// need not be awaited long.
void KafkaSource::WakeFetchers(const std::vector<RdKafka::TopicPartition*>& resumed) {
  for (const auto* p : resumed) {
    if (stop_.load()) return;  // closing: with the brokers gone each query can block
    int64_t low = -1, high = -1;
    if (consumer_->query_watermark_offsets(p->topic(), p->partition(), &low, &high,
                                           /*timeout_ms=*/5) == RdKafka::ERR_NO_ERROR) {
      queue_.SetHighWatermark(ToTp(*p), high);
    }
  }
}

// Watermarks come from librdkafka's cached fetch state (no broker request).
void KafkaSource::RefreshWatermarks() {
  RdPartitionList positions = ToRd(queue_.Assignment());
  if (positions.list.empty() || consumer_->position(positions.list) != RdKafka::ERR_NO_ERROR) {
    return;
  }
  for (const auto* p : positions.list) {
    int64_t low = -1, high = -1;
    if (consumer_->get_watermark_offsets(p->topic(), p->partition(), &low, &high) ==
        RdKafka::ERR_NO_ERROR) {
      queue_.SetHighWatermark(ToTp(*p), high);
    }
    queue_.SetPositionIfIdle(ToTp(*p), p->offset());
  }
}

void KafkaSource::OnAssign(RdPartitions& partitions, bool cooperative) {
  const std::vector<TopicPartition> tps = ToTps(partitions);
  const OffsetMap start = listener_->OnAssigned(tps);
  for (auto* p : partitions) {
    auto it = start.find(ToTp(*p));
    p->set_offset(it != start.end() ? it->second : RdKafka::Topic::OFFSET_INVALID);
    queue_.Assign(ToTp(*p), it != start.end() ? it->second : -1);
  }
  Status s;
  if (cooperative) {
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_assign(partitions));
    if (error) s = KafkaStatus(error->code(), "incremental assign");
  } else {
    s = KafkaStatus(consumer_->assign(partitions), "assign");
  }
  if (!s.ok()) OnError(s.ToString(), true);
  MutexLock lock(&mu_);
  ++rebalances_;
}

void KafkaSource::OnRevoke(RdPartitions& partitions, bool cooperative) {
  const std::vector<TopicPartition> tps = ToTps(partitions);
  queue_.Purge(tps);  // still assigned: the listener may commit
  listener_->OnRevoked(tps);
  Status s;
  if (cooperative) {
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_unassign(partitions));
    if (error) s = KafkaStatus(error->code(), "incremental unassign");
  } else {
    s = KafkaStatus(consumer_->unassign(), "unassign");
  }
  if (!s.ok()) OnError(s.ToString(), true);
  queue_.Unassign(tps);
  MutexLock lock(&mu_);
  ++rebalances_;
}

void KafkaSource::OnError(const std::string& what, bool count) {
  if (options_.log_to_stderr) std::fprintf(stderr, "ranker ingest: %s\n", what.c_str());
  if (!count) return;
  MutexLock lock(&mu_);
  ++errors_;
  last_error_ = what;
}

void KafkaSource::OnFatal() {
  {
    MutexLock lock(&mu_);
    if (!fatal_error_.empty()) return;
  }
  std::string reason;
  const RdKafka::ErrorCode code = consumer_->fatal_error(reason);
  const bool fenced = code == RdKafka::ERR_FENCED_INSTANCE_ID;
  std::string what;
  if (fenced) {
    auto id = options_.kafka.find("group.instance.id");
    what = "fenced: another consumer joined the group with this one's group.instance.id (" +
           (id == options_.kafka.end() ? std::string("?") : id->second) +
           "); this one no longer consumes: " + reason;
  } else {
    what = "fatal: " + KafkaStatus(code, "kafka consumer").ToString() + ": " + reason;
  }
  std::fprintf(stderr, "ranker ingest: %s\n", what.c_str());  // always: consuming stopped
  MutexLock lock(&mu_);
  ++errors_;
  last_error_ = what;
  fatal_error_ = what;
  fenced_ = fenced;
}

void KafkaSource::OnOffsetReset() {
  MutexLock lock(&mu_);
  ++offset_resets_;
}

std::vector<SourceMessage> KafkaSource::Pop(size_t max, std::chrono::milliseconds timeout) {
  return queue_.Pop(max, timeout);
}

Status KafkaSource::CommitOffsets(const OffsetMap& next_offsets) {
  if (next_offsets.empty()) return Status::OK();
  std::vector<TopicPartition> tps;
  for (const auto& entry : next_offsets) tps.push_back(entry.first);
  Status assigned = queue_.CheckAssigned(tps);
  if (!assigned.ok()) return Status::FailedPrecondition("commit: " + assigned.message());
  RdPartitionList list;
  for (const auto& [tp, offset] : next_offsets) {
    list.list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  }
  RANKER_RETURN_IF_ERROR(KafkaStatus(consumer_->commitSync(list.list), "commit"));
  for (const auto* p : list.list) {
    RANKER_RETURN_IF_ERROR(KafkaStatus(p->err(), "commit " + Name(ToTp(*p))));
  }
  return Status::OK();
}

void KafkaSource::Pause(const std::vector<TopicPartition>& partitions) {
  queue_.SetOwnerPaused(partitions, true);
}

void KafkaSource::Resume(const std::vector<TopicPartition>& partitions) {
  queue_.SetOwnerPaused(partitions, false);
}

Status KafkaSource::Seek(const OffsetMap& next_offsets) {
  if (next_offsets.empty()) return Status::OK();
  std::vector<TopicPartition> tps;
  for (const auto& entry : next_offsets) tps.push_back(entry.first);
  Status assigned = queue_.CheckAssigned(tps);
  if (!assigned.ok()) return Status::FailedPrecondition("seek: " + assigned.message());
  MutexLock lock(&mu_);
  for (const auto& [tp, offset] : next_offsets) seeks_[tp] = offset;
  const uint64_t ticket = ++seek_requests_;
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.seek_timeout_ms);
  bool applied = seek_done_ >= ticket || stop_.load();
  while (!applied) {
    const bool in_time = seek_cv_.WaitUntil(&mu_, until);
    applied = seek_done_ >= ticket || stop_.load();
    if (!in_time) break;
  }
  if (!applied && seek_taken_ < ticket) {
    // Not taken yet: withdraw it, so that nothing moves after this returns.
    // (Only the owner thread seeks: every pending entry is this call's.)
    seeks_.clear();
    seek_taken_ = seek_done_ = ticket;
    return Status::Unavailable(stop_.load() ? "seek: the source is closing"
                                            : "seek: the consumer thread did not take it within " +
                                                  std::to_string(options_.seek_timeout_ms) +
                                                  " ms; nothing moved");
  }
  // Taken: the consumer thread is applying it; its outcome is the answer.
  while (seek_done_ < ticket) seek_cv_.Wait(&mu_);
  return seek_status_;
}

// Consumer thread: resets the queue's partitions first, so nothing fetched
// from the old position is handed out, then moves librdkafka (which drops
// what it fetched before the seek).
void KafkaSource::ApplySeeks() {
  OffsetMap seeks;
  uint64_t ticket;
  {
    MutexLock lock(&mu_);
    if (seek_done_ == seek_requests_) return;
    seeks.swap(seeks_);
    ticket = seek_taken_ = seek_requests_;
  }
  Status status;
  for (const auto& [tp, offset] : seeks) {
    if (!queue_.Reset(tp, offset)) {
      status = Status::FailedPrecondition("seek: " + Name(tp) + " is no longer assigned");
      continue;
    }
    std::unique_ptr<RdKafka::TopicPartition> p(
        RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
    Status s = KafkaStatus(consumer_->seek(*p, /*timeout_ms=*/5000), "seek " + Name(tp));
    if (!s.ok()) status = s;
  }
  MutexLock lock(&mu_);
  seek_done_ = ticket;
  seek_status_ = status;
  seek_cv_.SignalAll();
}

std::vector<TopicPartition> KafkaSource::Assignment() const { return queue_.Assignment(); }

SourceCounters KafkaSource::Counters() const {
  SourceCounters c;
  queue_.FillCounters(&c);
  MutexLock lock(&mu_);
  c.errors = errors_;
  c.rebalances = rebalances_;
  c.offset_resets = offset_resets_;
  c.last_error = last_error_;
  c.fatal_error = fatal_error_;
  c.fenced = fenced_;
  return c;
}

Status KafkaSource::Close() {
  MutexLock close_lock(&close_mu_);
  if (closed_) return Status::OK();
  closed_ = true;
  stop_.store(true);
  {
    MutexLock lock(&mu_);
    seek_cv_.SignalAll();
  }
  Status s;
  if (thread_.joinable()) {
    thread_.join();
    MutexLock lock(&mu_);
    s = close_status_;
  } else {
    s = KafkaStatus(consumer_->close(), "close");
  }
  queue_.Close();
  return s;
}

}  // namespace ranker::ingest
