#include "ingest/kafka_producer.h"

#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <mutex>

#include "base/mutex.h"
#include "base/thread.h"
#include "ingest/kafka_config.h"
#include "ingest/kafka_errors.h"

namespace ranker::ingest {

// Counts delivery reports and logs delivery errors. Called from
// producer_->poll()/flush() on the poller or a flushing thread.
class KafkaProducer::DeliveryCb final : public RdKafka::DeliveryReportCb, public RdKafka::EventCb {
 public:
  explicit DeliveryCb(bool log) : log_(log) {}

  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      delivered_.fetch_add(1);
      return;
    }
    failed_.fetch_add(1);
    Record(KafkaStatus(message.err(), "deliver to " + message.topic_name()).ToString());
  }

  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      Record(KafkaStatus(event.err(), "kafka producer").ToString() + ": " + event.str(),
             /*keep=*/false);
    } else if (event.type() == RdKafka::Event::EVENT_LOG &&
               event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING && log_) {
      std::fprintf(stderr, "ranker producer: %s: %s\n", event.fac().c_str(), event.str().c_str());
    }
  }

  void Fill(ProducerCounters* c) const {
    c->delivered = delivered_.load();
    c->failed = failed_.load();
    MutexLock lock(&mu_);
    c->last_error = last_error_;
  }

 private:
  void Record(const std::string& what, bool keep = true) {
    if (log_) std::fprintf(stderr, "ranker producer: %s\n", what.c_str());
    if (!keep) return;
    MutexLock lock(&mu_);
    last_error_ = what;
  }

  const bool log_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
  mutable Mutex mu_;
  std::string last_error_ RANKER_GUARDED_BY(mu_);
};

Status KafkaProducerOptions::Validate() const {
  if (brokers.empty() && !kafka.contains("bootstrap.servers")) {
    return Status::InvalidArgument("brokers is empty");
  }
  if (queue_full_timeout_ms < 0) {
    return Status::InvalidArgument("queue_full_timeout_ms must be >= 0");
  }
  return Status::OK();
}

StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const KafkaProducerOptions& options) {
  RANKER_RETURN_IF_ERROR(options.Validate());
  const KafkaProperties defaults = {
      {"bootstrap.servers", options.brokers},
      {"client.id", "ranker"},
      {"acks", "all"},
      {"linger.ms", "5"},
  };
  auto conf = MakeKafkaConf(defaults, options.kafka);
  if (!conf.ok()) return conf.status();
  auto callbacks = std::make_unique<DeliveryCb>(options.log_to_stderr);
  std::string errstr;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(callbacks.get()), errstr) !=
          RdKafka::Conf::CONF_OK ||
      (*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(callbacks.get()), errstr) !=
          RdKafka::Conf::CONF_OK) {
    return Status::Internal("kafka producer callbacks: " + errstr);
  }
  std::unique_ptr<KafkaProducer> producer(new KafkaProducer(options, std::move(callbacks)));
  producer->producer_.reset(RdKafka::Producer::create(conf->get(), errstr));
  if (producer->producer_ == nullptr) {
    return Status::InvalidArgument("kafka producer configuration: " + errstr);
  }
  producer->poller_ = std::thread([p = producer.get()] {
    SetThreadName("ranker-produce");
    p->PollLoop();
  });
  return producer;
}

KafkaProducer::KafkaProducer(const KafkaProducerOptions& options,
                             std::unique_ptr<DeliveryCb> callbacks)
    : options_(options), callbacks_(std::move(callbacks)) {}

KafkaProducer::~KafkaProducer() {
  if (producer_ != nullptr) (void)Flush(std::chrono::seconds(5));
  stop_.store(true);
  if (poller_.joinable()) poller_.join();
}

void KafkaProducer::PollLoop() {
  while (!stop_.load()) producer_->poll(50);
}

Status KafkaProducer::Produce(std::string_view topic, std::string_view key,
                              std::string_view payload, const KafkaHeaders& headers,
                              int32_t partition) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.queue_full_timeout_ms);
  while (true) {
    RdKafka::Headers* rd_headers = nullptr;
    if (!headers.empty()) {
      rd_headers = RdKafka::Headers::create();
      for (const auto& [name, value] : headers) rd_headers->add(name, value);
    }
    RdKafka::ErrorCode err = producer_->produce(
        std::string(topic), partition, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(payload.data()), payload.size(), key.empty() ? nullptr : key.data(),
        key.size(), /*timestamp=*/0, rd_headers, /*msg_opaque=*/nullptr);
    if (err == RdKafka::ERR_NO_ERROR) {  // librdkafka owns rd_headers now
      produced_.fetch_add(1);
      return Status::OK();
    }
    delete rd_headers;
    if (err != RdKafka::ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline) {
      return KafkaStatus(err, "produce to " + std::string(topic));
    }
    producer_->poll(10);  // make room: serve delivery reports
  }
}

Status KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  RdKafka::ErrorCode err = producer_->flush(static_cast<int>(timeout.count()));
  if (err == RdKafka::ERR__TIMED_OUT) {
    return Status::Unavailable("flush: " + std::to_string(producer_->outq_len()) +
                               " message(s) still in flight after " +
                               std::to_string(timeout.count()) + " ms");
  }
  return KafkaStatus(err, "flush");
}

ProducerCounters KafkaProducer::Counters() const {
  ProducerCounters c;
  c.produced = produced_.load();
  callbacks_->Fill(&c);
  return c;
}

}  // namespace ranker::ingest
