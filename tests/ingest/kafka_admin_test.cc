// KafkaAdmin: options checked without a broker; topics created with their
// configs and log bounds read on the real broker (RANKER_TEST_BROKER=real).
#include "ingest/kafka_admin.h"

#include <gtest/gtest.h>

#include <string>

#include "ingest/kafka_producer.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/ingest/test_broker.h"

namespace ranker::ingest {
namespace {

using namespace ranker::ingest::testing;  // NOLINT

TEST(KafkaAdminOptions, RejectsBadSettingsNamingThem) {
  KafkaAdminOptions o;
  o.brokers = "";
  EXPECT_NE(KafkaAdmin::Create(o).status().message().find("brokers"), std::string::npos);
  o.brokers = "127.0.0.1:1";
  o.timeout_ms = 0;
  EXPECT_NE(KafkaAdmin::Create(o).status().message().find("timeout_ms"), std::string::npos);
  o.timeout_ms = 1000;
  o.kafka = {{"no.such.property", "1"}};
  auto admin = KafkaAdmin::Create(o);
  ASSERT_FALSE(admin.ok());
  EXPECT_NE(admin.status().message().find("kafka.no.such.property"), std::string::npos);
  o.kafka = {};
  EXPECT_TRUE(KafkaAdmin::Create(o).ok());  // does not contact the broker
}

TEST(RealKafkaAdmin, CreatesTopicsWithConfigsAndReadsLogBounds) {
  if (!RealBrokerSelected()) GTEST_SKIP() << "real broker only (RANKER_TEST_BROKER=real)";
  TestBroker broker;
  const std::string topic = broker.Topic("admin");
  ASSERT_TRUE(broker.admin()->CreateTopic(topic, 2, {{"cleanup.policy", "compact"}}).ok());
  const Status again = broker.admin()->CreateTopic(topic, 2);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("TOPIC_ALREADY_EXISTS"), std::string::npos) << again.ToString();
  const Status bad = broker.admin()->CreateTopic(broker.Topic("bad"), 1, {{"no.such", "1"}});
  EXPECT_FALSE(bad.ok());

  KafkaProducerOptions po;
  po.brokers = broker.bootstrap();
  po.log_to_stderr = KafkaLogs();
  auto producer = KafkaProducer::Create(po);
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*producer)->Produce(topic, "k", "v", {}, 1).ok());
  ASSERT_TRUE((*producer)->Flush(milliseconds(10000)).ok());
  auto bounds = broker.admin()->Bounds({topic, 1});
  ASSERT_TRUE(bounds.ok()) << bounds.status().ToString();
  EXPECT_EQ(bounds->start, 0);
  EXPECT_EQ(bounds->end, 5);
  EXPECT_FALSE(broker.admin()->Bounds({topic, 7}).ok());
}

}  // namespace
}  // namespace ranker::ingest
