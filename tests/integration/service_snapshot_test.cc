// The service with RocksDB snapshots on librdkafka's mock cluster: a restart
// resumes from the snapshot's offsets and ends bit-identical to a learner
// that never stopped; POST /v1/snapshots and /restore roll learner and
// scorers back and re-read Kafka from the snapshot's offsets.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>

#include "tests/integration/kafka_service_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

// One partition: the order of events, hence the learned state, is fixed.
Config SnapshotConfig(const TestBroker& cluster, const std::string& dir) {
  // A short join window, so that examples are trained within the test.
  return KafkaConfig(cluster, {"snapshot.dir=" + dir, "snapshot.sync=false",
                               "snapshot.interval_ms=100000", "join.window_ms=2000"});
}

// The same events learned in process, without the end-of-stream flush (a
// running service has not flushed its joiner either).
std::string ReplayChecksum(const Config& config, const std::vector<Keyed>& events) {
  auto p = LearningPipeline::Create(config.pipeline());
  EXPECT_TRUE(p.ok());
  for (const Keyed& e : events) (*p)->Ingest(e.payload);
  return (*p)->trainer().model().ParamChecksumHex();
}

TEST(ServiceSnapshots, ARestartResumesFromTheSnapshotAndLearnsEveryEventOnce) {
  auto cluster = NewCluster(1);
  const std::vector<Keyed> events = SimulatedEvents(4000, 21);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, 2000);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  TempDir dir;
  const Config config = SnapshotConfig(*cluster, dir.path());
  uint64_t last_version = 0;
  {
    auto first = StartService(config);
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitFor([&] { return Consumed(*first) == 2000; })) << Consumed(*first);
    first->Stop();  // drains, then the final snapshot
    last_version = first->Latest()->version;
    const SnapshotStats stats = first->snapshotter()->stats();
    EXPECT_EQ(stats.written, 1u);
    EXPECT_EQ(stats.last.offsets.at({cluster->Topic(kTopic), 0}), 2000);
    EXPECT_EQ(stats.last.param_checksum, Checksum(*first));
  }
  Produce(producer.get(), cluster->Topic(kTopic), events, 2000, 4000);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());

  auto second = StartService(config);
  ASSERT_NE(second, nullptr);
  EXPECT_GT(second->Latest()->version, last_version) << "versions keep counting up";
  ASSERT_TRUE(WaitFor([&] { return Consumed(*second) == 4000; })) << Consumed(*second);
  EXPECT_EQ(Checksum(*second), ReplayChecksum(config, events));
  // Nothing was read twice: the source started at the snapshot's offset.
  EXPECT_EQ(second->source_counters().consumed, 2000u);
  const boost::json::object model = Body(second->Handle(Request(api::Method::kGet, "/v1/model")));
  ASSERT_TRUE(model.at("last_snapshot").is_object());
  EXPECT_EQ(model.at("last_snapshot").at("offsets").at("ranker.events/0").as_int64(), 2000);
}

TEST(ServiceSnapshots, RestoreRollsBackAndRelearnsFromTheSnapshotOffsets) {
  auto cluster = NewCluster(1);
  const std::vector<Keyed> events = SimulatedEvents(3000, 22);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, 1500);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  TempDir dir;
  auto service = StartService(SnapshotConfig(*cluster, dir.path()));
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == 1500; }));

  const api::Response taken = service->Handle(Request(api::Method::kPost, "/v1/snapshots"));
  ASSERT_EQ(taken.status, 201) << taken.body;
  const boost::json::object snap = Body(taken);
  const uint64_t id = snap.at("id").to_number<uint64_t>();
  const std::string at_snapshot(snap.at("param_checksum").as_string());
  EXPECT_EQ(snap.at("offsets").at("ranker.events/0").as_int64(), 1500);

  Produce(producer.get(), cluster->Topic(kTopic), events, 1500, 3000);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == 3000; }));
  const std::string at_end = Checksum(*service);
  ASSERT_NE(at_end, at_snapshot);

  const api::Response restored = service->Handle(
      Request(api::Method::kPost, "/v1/snapshots/" + std::to_string(id) + "/restore"));
  ASSERT_EQ(restored.status, 200) << restored.body;
  EXPECT_EQ(std::string(Body(restored).at("param_checksum").as_string()), at_snapshot);
  // Kafka resumes from the snapshot's offsets: the last 1500 are read again
  // and learned again, to the very same state.
  ASSERT_TRUE(WaitFor([&] { return service->source_counters().consumed == 4500; }))
      << service->source_counters().consumed;
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == 3000 && Checksum(*service) == at_end; }))
      << Consumed(*service);

  EXPECT_EQ(service->Handle(Request(api::Method::kPost, "/v1/snapshots/999/restore")).status, 404);
  EXPECT_EQ(service->Handle(Request(api::Method::kPost, "/v1/snapshots/x/restore")).status, 400);
  const boost::json::object list =
      Body(service->Handle(Request(api::Method::kGet, "/v1/snapshots")));
  EXPECT_TRUE(list.at("enabled").as_bool());
  EXPECT_EQ(list.at("snapshots").as_array().size(), 1u);
}

TEST(ServiceSnapshots, WithoutADataDirTheSnapshotRoutesSaySo) {
  auto cluster = NewCluster(1);
  auto service = StartService(KafkaConfig(*cluster));
  ASSERT_NE(service, nullptr);
  const api::Response r = service->Handle(Request(api::Method::kPost, "/v1/snapshots"));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("snapshot.dir"), std::string::npos) << r.body;
  const boost::json::object list =
      Body(service->Handle(Request(api::Method::kGet, "/v1/snapshots")));
  EXPECT_FALSE(list.at("enabled").as_bool());
}

}  // namespace
}  // namespace ranker::app
