#include "ingest/kafka_source.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <utility>

#include <librdkafka/rdkafkacpp.h>

#include "ingest/kafka_config.h"
#include "ingest/kafka_errors.h"

namespace ranker::ingest {
namespace {

using RdPartitions = std::vector<RdKafka::TopicPartition*>;

// Owns a vector of librdkafka TopicPartitions.
struct RdPartitionList {
  RdPartitions list;
  RdPartitionList() = default;
  RdPartitionList(const RdPartitionList&) = delete;
  RdPartitionList& operator=(const RdPartitionList&) = delete;
  ~RdPartitionList() { RdKafka::TopicPartition::destroy(list); }
};

TopicPartition ToTp(const RdKafka::TopicPartition& p) {
  return {p.topic(), p.partition()};
}

std::vector<TopicPartition> ToTps(const RdPartitions& partitions) {
  std::vector<TopicPartition> tps;
  tps.reserve(partitions.size());
  for (const auto* p : partitions) tps.push_back(ToTp(*p));
  return tps;
}

std::string Name(const TopicPartition& tp) {
  return tp.topic + "[" + std::to_string(tp.partition) + "]";
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
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      source_->OnError(KafkaStatus(event.err(), "kafka consumer").ToString() + ": " +
                           event.str(),
                       true);
    } else if (event.type() == RdKafka::Event::EVENT_LOG &&
               (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING ||
                std::getenv("RANKER_TEST_KAFKA_DEBUG") != nullptr)) {
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
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(callbacks.get()),
                   errstr) != RdKafka::Conf::CONF_OK ||
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
    : options_(options), callbacks_(std::move(callbacks)) {
  callbacks_->Bind(this);
}

KafkaSource::~KafkaSource() { (void)Close(); }

Status KafkaSource::Start(RebalanceListener* listener) {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  assert(listener != nullptr && !started_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::FailedPrecondition("kafka source: Start() after Close()");
  }
  listener_ = listener;
  RANKER_RETURN_IF_ERROR(KafkaStatus(consumer_->subscribe(options_.topics), "subscribe"));
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void KafkaSource::Run() {
  auto next_refresh = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    Reconcile();
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
  std::lock_guard<std::mutex> lock(mu_);
  close_status_ = s;
}

void KafkaSource::Handle(RdKafka::Message& message) {
  switch (message.err()) {
    case RdKafka::ERR_NO_ERROR:
      Push(Convert(message));
      return;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return;
    default:
      OnError(KafkaStatus(message.err(), "consume").ToString(), true);
  }
}

void KafkaSource::Push(SourceMessage message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(message.tp());
  if (it == parts_.end()) return;  // fetched before a revoke: not ours now
  Partition& part = it->second;
  if (message.offset <= part.last_queued) {
    ++counters_.duplicates_dropped;
    return;
  }
  part.last_queued = message.offset;
  queued_messages_ += 1;
  queued_bytes_ += message.key.size() + message.payload.size();
  part.queue.push_back(std::move(message));
  if (!backpressure_ && (queued_messages_ >= options_.queue_max_messages ||
                         queued_bytes_ >= options_.queue_max_bytes)) {
    backpressure_ = true;
    ++counters_.pauses;
  }
  cv_.notify_all();
}

// Brings librdkafka's paused set in line with what the owner and the queue
// want. Only this thread pauses or resumes, and it resumes only what it
// paused (resuming an unpaused partition makes librdkafka <= 2.3 re-fetch).
void KafkaSource::Reconcile() {
  RdPartitionList to_pause, to_resume;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [tp, part] : parts_) {
      const bool want = backpressure_ || part.owner_paused;
      if (want == part.fetch_paused) continue;
      part.fetch_paused = want;
      (want ? to_pause : to_resume)
          .list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
    }
  }
  if (!to_pause.list.empty()) {
    Status s = KafkaStatus(consumer_->pause(to_pause.list), "pause");
    if (!s.ok()) OnError(s.ToString(), true);
  }
  if (!to_resume.list.empty()) {
    Status s = KafkaStatus(consumer_->resume(to_resume.list), "resume");
    if (!s.ok()) OnError(s.ToString(), true);
  }
}

// Watermarks come from librdkafka's cached fetch state; a partition with
// nothing popped yet takes its next offset from the fetch position (which is
// what Pop() hands out next while its queue is empty).
void KafkaSource::RefreshWatermarks() {
  RdPartitionList positions;
  for (const auto& tp : Assignment()) {
    positions.list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
  }
  if (positions.list.empty()) return;
  if (consumer_->position(positions.list) != RdKafka::ERR_NO_ERROR) return;
  for (const auto* p : positions.list) {
    int64_t low = -1, high = -1;
    if (consumer_->get_watermark_offsets(p->topic(), p->partition(), &low, &high) !=
        RdKafka::ERR_NO_ERROR) {
      high = -1;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = parts_.find(ToTp(*p));
    if (it == parts_.end()) continue;
    Partition& part = it->second;
    if (high >= 0) part.high_watermark = high;
    if (part.next_offset < 0 && part.queue.empty() && p->offset() >= 0) {
      part.next_offset = p->offset();
    }
  }
}

void KafkaSource::OnAssign(RdPartitions& partitions, bool cooperative) {
  const std::vector<TopicPartition> tps = ToTps(partitions);
  const OffsetMap start = listener_->OnAssigned(tps);
  for (auto* p : partitions) {
    auto it = start.find(ToTp(*p));
    p->set_offset(it != start.end() ? it->second : RdKafka::Topic::OFFSET_INVALID);
  }
  Status s;
  if (cooperative) {
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_assign(partitions));
    if (error) s = KafkaStatus(error->code(), "incremental assign");
  } else {
    s = KafkaStatus(consumer_->assign(partitions), "assign");
  }
  if (!s.ok()) OnError(s.ToString(), true);
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.rebalances;
  for (const auto& tp : tps) {
    Partition part;
    if (auto it = start.find(tp); it != start.end()) {
      part.next_offset = it->second;
      part.last_queued = it->second - 1;
    }
    parts_[tp] = std::move(part);
  }
}

void KafkaSource::OnRevoke(RdPartitions& partitions, bool cooperative) {
  const std::vector<TopicPartition> tps = ToTps(partitions);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& tp : tps) {
      if (auto it = parts_.find(tp); it != parts_.end()) {
        Dequeue(&it->second, it->second.queue.size());
      }
    }
  }
  listener_->OnRevoked(tps);
  Status s;
  if (cooperative) {
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_unassign(partitions));
    if (error) s = KafkaStatus(error->code(), "incremental unassign");
  } else {
    s = KafkaStatus(consumer_->unassign(), "unassign");
  }
  if (!s.ok()) OnError(s.ToString(), true);
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.rebalances;
  for (const auto& tp : tps) parts_.erase(tp);
}

void KafkaSource::OnError(const std::string& what, bool count) {
  if (options_.log_to_stderr) std::fprintf(stderr, "ranker ingest: %s\n", what.c_str());
  if (!count) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.errors;
  counters_.last_error = what;
}

// Drops the first `n` queued messages of `part` from the queue accounting,
// lifting backpressure once below the low watermark.
void KafkaSource::Dequeue(Partition* part, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const SourceMessage& m = part->queue.front();
    queued_messages_ -= 1;
    queued_bytes_ -= m.key.size() + m.payload.size();
    part->queue.pop_front();
  }
  if (backpressure_ && !OverLowWatermark()) {
    backpressure_ = false;
    ++counters_.resumes;
  }
}

bool KafkaSource::OverLowWatermark() const {
  return static_cast<double>(queued_messages_) >
             options_.resume_fraction * static_cast<double>(options_.queue_max_messages) ||
         static_cast<double>(queued_bytes_) >
             options_.resume_fraction * static_cast<double>(options_.queue_max_bytes);
}

bool KafkaSource::Poppable() const {
  if (closed_) return true;
  return std::any_of(parts_.begin(), parts_.end(), [](const auto& entry) {
    return !entry.second.owner_paused && !entry.second.queue.empty();
  });
}

std::vector<SourceMessage> KafkaSource::Pop(size_t max, std::chrono::milliseconds timeout) {
  std::vector<SourceMessage> out;
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return Poppable(); }) || closed_) return out;
  // Round-robin over the partitions, one message at a time, so one busy
  // partition cannot starve the others.
  std::vector<Partition*> ready;
  for (auto& entry : parts_) {
    Partition& part = entry.second;
    if (!part.owner_paused && !part.queue.empty()) ready.push_back(&part);
  }
  std::vector<size_t> taken(ready.size(), 0);
  const size_t start = rr_cursor_++;
  bool progress = true;
  while (out.size() < max && progress) {
    progress = false;
    for (size_t i = 0; i < ready.size() && out.size() < max; ++i) {
      const size_t k = (start + i) % ready.size();
      if (taken[k] >= ready[k]->queue.size()) continue;
      out.push_back(std::move(ready[k]->queue[taken[k]++]));
      progress = true;
    }
  }
  for (size_t k = 0; k < ready.size(); ++k) {
    if (taken[k] == 0) continue;
    ready[k]->next_offset = ready[k]->queue[taken[k] - 1].offset + 1;
    Dequeue(ready[k], taken[k]);
  }
  for (const auto& m : out) {
    ++counters_.consumed;
    counters_.consumed_bytes += m.key.size() + m.payload.size();
  }
  return out;
}

Status KafkaSource::CommitOffsets(const OffsetMap& next_offsets) {
  if (next_offsets.empty()) return Status::OK();
  RdPartitionList list;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [tp, offset] : next_offsets) {
      if (closed_ || !parts_.contains(tp)) {
        return Status::FailedPrecondition("commit: partition " + Name(tp) +
                                          " is not assigned to this member");
      }
      list.list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
    }
  }
  RANKER_RETURN_IF_ERROR(KafkaStatus(consumer_->commitSync(list.list), "commit"));
  for (const auto* p : list.list) {
    RANKER_RETURN_IF_ERROR(KafkaStatus(p->err(), "commit " + Name(ToTp(*p))));
  }
  return Status::OK();
}

void KafkaSource::Pause(const std::vector<TopicPartition>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& tp : partitions) {
    if (auto it = parts_.find(tp); it != parts_.end()) it->second.owner_paused = true;
  }
}

void KafkaSource::Resume(const std::vector<TopicPartition>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& tp : partitions) {
    if (auto it = parts_.find(tp); it != parts_.end()) it->second.owner_paused = false;
  }
  cv_.notify_all();
}

std::vector<TopicPartition> KafkaSource::Assignment() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TopicPartition> tps;
  for (const auto& entry : parts_) tps.push_back(entry.first);
  return tps;
}

SourceCounters KafkaSource::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  SourceCounters c = counters_;
  c.queued_messages = queued_messages_;
  c.queued_bytes = queued_bytes_;
  for (const auto& [tp, part] : parts_) {
    SourceCounters::PartitionState& s = c.partitions[tp];
    s.next_offset = part.next_offset;
    s.high_watermark = part.high_watermark;
    if (s.next_offset >= 0 && s.high_watermark >= 0) {
      s.lag = std::max<int64_t>(0, s.high_watermark - s.next_offset);
    }
  }
  return c;
}

Status KafkaSource::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::OK();
  }
  stop_.store(true);
  Status s;
  if (thread_.joinable()) {
    thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    s = close_status_;
  } else {
    s = KafkaStatus(consumer_->close(), "close");
  }
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  parts_.clear();
  queued_messages_ = queued_bytes_ = 0;
  cv_.notify_all();
  return s;
}

}  // namespace ranker::ingest
