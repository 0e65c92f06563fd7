// KafkaProducer, DeadLetterSink, the mock cluster wrapper and the error
// conversion. Reads back with a plain librdkafka consumer on an explicit
// assignment (no group join, so no 3 s wait).
#include "ingest/kafka_producer.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "ingest/kafka_dead_letter.h"
#include "ingest/kafka_errors.h"
#include "ingest/kafka_mock_cluster.h"
#include "tests/ingest/kafka_test_util.h"

namespace ranker::ingest {
namespace {

using namespace ranker::ingest::testing;  // NOLINT

std::unique_ptr<KafkaMockCluster> NewCluster() {
  auto cluster = KafkaMockCluster::Create();
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  return std::move(cluster).value();
}

std::unique_ptr<KafkaProducer> NewProducer(const std::string& bootstrap) {
  KafkaProducerOptions o;
  o.brokers = bootstrap;
  o.kafka = {{"linger.ms", "1"}, {"reconnect.backoff.max.ms", "200"}};
  o.log_to_stderr = KafkaLogs();
  auto producer = KafkaProducer::Create(o);
  EXPECT_TRUE(producer.ok()) << producer.status().ToString();
  return std::move(producer).value();
}

struct Read {
  std::string key, payload;
  std::map<std::string, std::string> headers;
};

// Reads `n` messages of partition 0 from the beginning, without a group.
// (Copies them out: librdkafka's destroy waits for every Message to go.)
std::vector<Read> ReadPartition0(const std::string& bootstrap, const std::string& topic, size_t n) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", "reader", err);
  conf->set("fetch.wait.max.ms", "20", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  EXPECT_NE(consumer, nullptr) << err;
  std::vector<RdKafka::TopicPartition*> tps = {
      RdKafka::TopicPartition::create(topic, 0, RdKafka::Topic::OFFSET_BEGINNING)};
  EXPECT_EQ(consumer->assign(tps), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(tps);
  std::vector<Read> out;
  const auto deadline = Clock::now() + milliseconds(10000);
  while (out.size() < n && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(50));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    Read r;
    if (m->key() != nullptr) r.key = *m->key();
    r.payload.assign(static_cast<const char*>(m->payload()), m->len());
    if (m->headers() != nullptr) {
      for (const auto& h : m->headers()->get_all()) {
        r.headers[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
      }
    }
    out.push_back(std::move(r));
  }
  consumer->close();
  return out;
}

TEST(KafkaProducer, DeliversWithHeadersAndCountsDeliveries) {
  auto cluster = NewCluster();
  ASSERT_TRUE(cluster->CreateTopic("p", 1).ok());
  auto producer = NewProducer(cluster->bootstrap());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(producer
                    ->Produce("p", "k" + std::to_string(i), "v" + std::to_string(i),
                              {{"h", std::to_string(i)}})
                    .ok());
  }
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());
  ProducerCounters c = producer->Counters();
  EXPECT_EQ(c.produced, 20u);
  EXPECT_EQ(c.delivered, 20u);
  EXPECT_EQ(c.failed, 0u);
  auto got = ReadPartition0(cluster->bootstrap(), "p", 20);
  ASSERT_EQ(got.size(), 20u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, "k" + std::to_string(i));
    EXPECT_EQ(got[i].payload, "v" + std::to_string(i));
    EXPECT_EQ(got[i].headers["h"], std::to_string(i));
  }
}

TEST(KafkaProducer, FlushReportsUnavailableWhileBrokersAreDown) {
  auto cluster = NewCluster();
  ASSERT_TRUE(cluster->CreateTopic("down", 1).ok());
  auto producer = NewProducer(cluster->bootstrap());
  ASSERT_TRUE(cluster->SetAllBrokersDown().ok());
  ASSERT_TRUE(producer->Produce("down", "k", "v").ok());
  Status s = producer->Flush(milliseconds(300));
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  ASSERT_TRUE(cluster->SetAllBrokersUp().ok());
  EXPECT_TRUE(producer->Flush(milliseconds(10000)).ok());
  EXPECT_EQ(producer->Counters().delivered, 1u);
}

TEST(KafkaProducer, RejectsBadSettingsNamingThem) {
  KafkaProducerOptions o;
  o.kafka = {{"acks", "banana"}};
  auto p = KafkaProducer::Create(o);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(p.status().message().find("kafka.acks"), std::string::npos) << p.status().ToString();
}

TEST(DeadLetterSink, CopiesPayloadWithReasonAndOriginHeaders) {
  auto cluster = NewCluster();
  ASSERT_TRUE(cluster->CreateTopic("ranker.dead_letter", 1).ok());
  auto producer = NewProducer(cluster->bootstrap());
  DeadLetterSink sink(producer.get(), "ranker.dead_letter");
  SourceMessage bad;
  bad.topic = "ranker.events";
  bad.partition = 2;
  bad.offset = 41;
  bad.key = "req-7";
  bad.payload = "{\"type\":\"impression\",";
  ASSERT_TRUE(sink.Send(bad, "not_json", "unexpected end of input").ok());
  SourceMessage from_http;  // not from a log: no origin headers
  from_http.topic = "";
  from_http.partition = -1;
  from_http.offset = -1;
  from_http.payload = "[]";
  ASSERT_TRUE(sink.Send(from_http, "wrong_type", "expected an object").ok());
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());

  auto got = ReadPartition0(cluster->bootstrap(), "ranker.dead_letter", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "req-7");
  EXPECT_EQ(got[0].payload, bad.payload);
  auto& h = got[0].headers;
  EXPECT_EQ(h["ranker-reject-reason"], "not_json");
  EXPECT_EQ(h["ranker-reject-message"], "unexpected end of input");
  EXPECT_EQ(h["ranker-source-topic"], "ranker.events");
  EXPECT_EQ(h["ranker-source-partition"], "2");
  EXPECT_EQ(h["ranker-source-offset"], "41");
  auto& h2 = got[1].headers;
  EXPECT_EQ(h2["ranker-reject-reason"], "wrong_type");
  EXPECT_FALSE(h2.contains("ranker-source-topic"));
  EXPECT_FALSE(h2.contains("ranker-source-offset"));
}

TEST(KafkaMockCluster, ValidatesTopicsAndBrokers) {
  auto cluster = NewCluster();
  EXPECT_EQ(cluster->bootstrap().rfind("127.0.0.1:", 0), 0u) << cluster->bootstrap();
  EXPECT_EQ(cluster->num_brokers(), 1);
  EXPECT_EQ(cluster->CreateTopic("t", 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cluster->CreateTopic("t", 3, 2).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(cluster->CreateTopic("t", 3).ok());
  EXPECT_EQ(cluster->CreateTopic("t", 3).code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(cluster->SetBrokerDown(42).ok());
  EXPECT_TRUE(cluster->SetBrokerRttMs(1, 5).ok());
  KafkaMockClusterOptions o;
  o.num_brokers = 0;
  EXPECT_EQ(KafkaMockCluster::Create(o).status().code(), Status::Code::kInvalidArgument);
}

TEST(KafkaErrors, ConvertsCodesByHowToReact) {
  EXPECT_TRUE(KafkaStatus(RdKafka::ERR_NO_ERROR, "x").ok());
  Status s = KafkaStatus(RdKafka::ERR__TRANSPORT, "fetch t[0]");
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.message().rfind("fetch t[0]: ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("_TRANSPORT"), std::string::npos) << s.message();
  EXPECT_EQ(KafkaStatus(RdKafka::ERR__QUEUE_FULL, "p").code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(KafkaStatus(RdKafka::ERR__INVALID_ARG, "p").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(KafkaStatus(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "p").code(), Status::Code::kNotFound);
  EXPECT_EQ(KafkaStatus(RdKafka::ERR_ILLEGAL_GENERATION, "p").code(),
            Status::Code::kFailedPrecondition);
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "p").code(),
            Status::Code::kUnavailable);
  EXPECT_TRUE(IsTransientKafkaError(RdKafka::ERR_NOT_COORDINATOR));
  EXPECT_FALSE(IsTransientKafkaError(RdKafka::ERR__INVALID_ARG));
}

}  // namespace
}  // namespace ranker::ingest
