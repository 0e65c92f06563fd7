// Serving replicas that follow the learner through the model topic, on
// librdkafka's mock cluster or the real broker (RANKER_TEST_BROKER=real; the
// compacted model topic is real-only): one leader learns simulated events, followers
// (service.role=follower, in process) rebuild its model from the topic and
// must end with the leader's param_checksum and rank exactly as it does; a
// follower started after the stream catches up from the topic's beginning;
// a leader rolled back to a snapshot is followed through its checkpoint;
// every challenger is followed on its own topic, and a promote on the
// leader switches the followers' default model.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "ingest/kafka_source.h"
#include "tests/integration/kafka_service_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

constexpr char kModelTopic[] = "ranker.model";

// A small model (the mock keeps only ~5 MB per partition) and a short join
// window, so examples are trained within the test.
std::vector<std::string> Small(std::vector<std::string> more = {}) {
  std::vector<std::string> sets = {"model.expert_hidden=16,8", "model.num_experts=2",
                                   "join.window_ms=2000", "model_topic.interval_ms=50"};
  sets.insert(sets.end(), more.begin(), more.end());
  return sets;
}

Config LeaderConfig(const TestBroker& cluster, std::vector<std::string> more = {}) {
  return KafkaConfig(cluster, Small(std::move(more)));
}

Config FollowerConfig(const TestBroker& cluster) {
  return KafkaConfig(cluster, Small({"service.role=follower"}));
}

// The follower serves the leader's latest version, bit for bit.
int reader_groups = 0;  // distinct reader groups

bool Follows(const Service& follower, const Service& leader) {
  const auto f = follower.Latest();
  const auto l = leader.Latest();
  return f != nullptr && l != nullptr && f->version == l->version &&
         f->model->ParamChecksumHex() == l->model->ParamChecksumHex();
}

const char kRankBody[] =
    R"({"request_id":"same","user_id":"u1","context":{"device":"mobile"},)"
    R"("candidates":[{"item_id":"i1"},{"item_id":"i2"},{"item_id":"i3"},{"item_id":"i4"}]})";

TEST(Follower, TwoFollowersAndALateOneServeTheLeadersModel) {
  auto cluster = NewCluster(1, {kModelTopic});
  const std::vector<Keyed> events = SimulatedEvents(3000, 7);
  auto producer = NewProducer(cluster->bootstrap());
  auto f1 = StartService(FollowerConfig(*cluster));
  auto f2 = StartService(FollowerConfig(*cluster));
  auto leader = StartService(LeaderConfig(*cluster));
  ASSERT_TRUE(f1 && f2 && leader);
  ASSERT_NE(FollowerOf(*f1), nullptr);
  ASSERT_NE(FollowerOf(*f2), nullptr);
  ASSERT_NE(BroadcasterOf(*leader), nullptr);
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*leader) == 3000; }));
  ASSERT_GT(leader->Latest()->examples_trained, 0);

  ASSERT_TRUE(WaitFor([&] { return Follows(*f1, *leader) && Follows(*f2, *leader); }))
      << Checksum(*f1) << " " << Checksum(*f2) << " leader " << Checksum(*leader);
  EXPECT_EQ(FollowerOf(*f1)->counters().commits_rejected, 0u);
  EXPECT_EQ(FollowerOf(*f2)->counters().commits_rejected, 0u);
  EXPECT_GT(BroadcasterOf(*leader)->counters().bytes, 0u);

  const api::Response want = leader->Handle(Request(api::Method::kPost, "/v1/rank", kRankBody));
  ASSERT_EQ(want.status, 200) << want.body;
  for (const Service* f : {f1.get(), f2.get()}) {
    const api::Response got = f->Handle(Request(api::Method::kPost, "/v1/rank", kRankBody));
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, want.body);
    const api::Response model = f->Handle(Request(api::Method::kGet, "/v1/model"));
    EXPECT_NE(model.body.find(R"("role":"follower")"), std::string::npos) << model.body;
    EXPECT_NE(model.body.find(Checksum(*leader)), std::string::npos);
    EXPECT_EQ(f->Handle(Request(api::Method::kGet, "/readyz")).status, 200);
  }
  const api::Response events_on_follower =
      f1->Handle(Request(api::Method::kPost, "/v1/events", events[0].payload));
  EXPECT_EQ(events_on_follower.status, 409) << events_on_follower.body;
  EXPECT_NE(events_on_follower.body.find("follower"), std::string::npos);
  const std::string metrics = f1->RenderMetrics();
  EXPECT_NE(metrics.find("ranker_follower_version_lag 0"), std::string::npos);
  EXPECT_NE(leader->RenderMetrics().find("ranker_model_topic_bytes_total"), std::string::npos);

  // A follower started after the stream ended catches up from the topic.
  auto late = StartService(FollowerConfig(*cluster));
  ASSERT_NE(late, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Follows(*late, *leader); })) << Checksum(*late);
  EXPECT_EQ(late->Handle(Request(api::Method::kPost, "/v1/rank", kRankBody)).body, want.body);

  // The leader's final broadcast at shutdown is followed too.
  leader->Stop();
  ASSERT_TRUE(WaitFor([&] { return Follows(*f1, *leader); }));
}

// Produces the first 1500 of `events` (3000), waits until `leader` consumed
// them, snapshots it, then produces the rest.
StatusOr<store::SnapshotInfo> SnapshotHalfway(ingest::KafkaProducer* producer, TestBroker& cluster,
                                              const std::vector<Keyed>& events, Service* leader) {
  const std::string topic = cluster.Topic(kTopic);
  Produce(producer, topic, events, 0, 1500);
  if (!producer->Flush(kLongWait).ok() || !WaitFor([&] { return Consumed(*leader) == 1500; })) {
    return Status::Unavailable("the leader did not consume the first 1500 events");
  }
  StatusOr<store::SnapshotInfo> snap = leader->TakeSnapshot();
  Produce(producer, topic, events, 1500, events.size());
  if (!producer->Flush(kLongWait).ok()) return Status::Unavailable("flush of the second half");
  return snap;
}

TEST(Follower, ALeaderRolledBackToASnapshotIsFollowedThroughItsCheckpoint) {
  auto cluster = NewCluster(1, {kModelTopic});
  const std::vector<Keyed> events = SimulatedEvents(3000, 22);
  auto producer = NewProducer(cluster->bootstrap());
  TempDir dir;
  auto follower = StartService(FollowerConfig(*cluster));
  auto leader =
      StartService(LeaderConfig(*cluster, {"snapshot.dir=" + dir.path(), "snapshot.sync=false",
                                           "snapshot.interval_ms=100000"}));
  ASSERT_TRUE(follower && leader);
  ASSERT_NE(FollowerOf(*follower), nullptr);
  StatusOr<store::SnapshotInfo> snap =
      SnapshotHalfway(producer.get(), *cluster, events, leader.get());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Consumed(*leader) == 3000; }));
  ASSERT_TRUE(WaitFor([&] { return Follows(*follower, *leader); }));
  const std::string at_end = Checksum(*leader);
  const uint64_t checkpoints = FollowerOf(*follower)->counters().checkpoints_applied;

  StatusOr<RestoredSnapshot> restored = leader->RestoreSnapshot(snap->id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->param_checksum, snap->param_checksum);
  // The rollback goes out as a full checkpoint (rows learned after the
  // snapshot dropped), and the relearned events follow as deltas.
  ASSERT_TRUE(WaitFor([&] {
    return FollowerOf(*follower)->counters().checkpoints_applied > checkpoints &&
           Consumed(*leader) == 3000 && Follows(*follower, *leader);
  })) << Checksum(*follower);
  EXPECT_EQ(Checksum(*follower), at_end);
  EXPECT_GE(follower->Latest()->version, restored->model_version);
  EXPECT_EQ(FollowerOf(*follower)->counters().commits_rejected, 0u);
}

const char kTwoChallengers[] =
    "challengers=omoe;model.architecture=omoe;model.num_experts=3|"
    "fast;optimizer.learning_rate=0.2";

// `name`'s version and parameters are the same on both.
bool SameModel(const Service& follower, const Service& leader, std::string_view name) {
  const auto f = follower.Named(name);
  const auto l = leader.Named(name);
  return f != nullptr && l != nullptr && f->version == l->version &&
         f->ParamChecksum() == l->ParamChecksum();
}

std::string RankWith(const std::string& model) {
  return R"({"model":")" + model + "\"," + std::string(kRankBody).substr(1);
}

// A cluster with the model topic and the topics of kTwoChallengers' models.
std::unique_ptr<TestBroker> ChallengerCluster() {
  auto cluster = NewCluster(1, {kModelTopic});
  for (const char* name : {"omoe", "fast"}) {
    cluster->CreateExactTopic(ChallengerTopic(cluster->Topic(kModelTopic), name), 1);
  }
  return cluster;
}

TEST(Follower, FollowsEveryChallengerAndSwitchesWithTheLeadersPromotion) {
  auto cluster = ChallengerCluster();
  const std::vector<Keyed> events = SimulatedEvents(3000, 31);
  auto producer = NewProducer(cluster->bootstrap());
  auto follower =
      StartService(KafkaConfig(*cluster, Small({"service.role=follower", kTwoChallengers})));
  auto leader = StartService(LeaderConfig(*cluster, {kTwoChallengers}));
  ASSERT_TRUE(follower && leader);
  ASSERT_NE(leader->challengers(), nullptr);
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*leader) == 3000; }));
  ASSERT_TRUE(WaitFor([&] { return leader->challengers()->lag() == 0; }));

  // Each challenger reaches the leader's param_checksum on the follower.
  auto all_followed = [&](const Service& f) {
    return Follows(f, *leader) && SameModel(f, *leader, "omoe") && SameModel(f, *leader, "fast");
  };
  ASSERT_TRUE(WaitFor([&] { return all_followed(*follower); }))
      << Checksum(*follower) << " leader " << Checksum(*leader);
  EXPECT_GT(follower->Named("fast")->examples_trained, 0);
  EXPECT_NE(follower->Named("omoe")->ParamChecksum(), follower->Named("main")->ParamChecksum());
  EXPECT_NE(follower->Named("fast")->ParamChecksum(), follower->Named("main")->ParamChecksum());
  EXPECT_EQ(FollowerOf(*follower)->counters().commits_rejected, 0u);
  for (const char* name : {"omoe", "fast"}) {
    ASSERT_NE(FollowerOf(*follower, name), nullptr);
    EXPECT_EQ(FollowerOf(*follower, name)->counters().commits_rejected, 0u) << name;
    EXPECT_GT(FollowerOf(*follower, name)->counters().commits_applied, 0u) << name;
  }
  EXPECT_EQ(FollowerOf(*follower, "nope"), nullptr);
  const api::Response models = follower->Handle(Request(api::Method::kGet, "/v1/models"));
  ASSERT_EQ(models.status, 200);
  for (const char* want : {R"("omoe")", R"("fast")", R"("champion":"main")"}) {
    EXPECT_NE(models.body.find(want), std::string::npos) << want << " in " << models.body;
  }
  for (const char* name : {"omoe", "fast"}) {
    const api::Response want =
        leader->Handle(Request(api::Method::kPost, "/v1/rank", RankWith(name)));
    ASSERT_EQ(want.status, 200) << want.body;
    const api::Response got =
        follower->Handle(Request(api::Method::kPost, "/v1/rank", RankWith(name)));
    EXPECT_EQ(got.body, want.body) << name;
  }
  EXPECT_EQ(follower->Handle(Request(api::Method::kPost, "/v1/rank", RankWith("nope"))).status,
            404);

  // Promote on the leader: the follower's default model becomes "omoe".
  EXPECT_EQ(follower->Handle(Request(api::Method::kPost, "/v1/models/omoe/promote")).status, 409);
  ASSERT_EQ(leader->Handle(Request(api::Method::kPost, "/v1/models/omoe/promote")).status, 200);
  ASSERT_TRUE(WaitFor([&] { return follower->champion() == "omoe"; })) << follower->champion();
  const api::Response by_default =
      follower->Handle(Request(api::Method::kPost, "/v1/rank", kRankBody));
  EXPECT_EQ(by_default.body,
            leader->Handle(Request(api::Method::kPost, "/v1/rank", kRankBody)).body);
  EXPECT_EQ(by_default.body,
            follower->Handle(Request(api::Method::kPost, "/v1/rank", RankWith("omoe"))).body);
  EXPECT_NE(by_default.body,
            follower->Handle(Request(api::Method::kPost, "/v1/rank", RankWith("main"))).body);

  // A follower started now reads every topic from its beginning, champion included.
  auto late =
      StartService(KafkaConfig(*cluster, Small({"service.role=follower", kTwoChallengers})));
  ASSERT_NE(late, nullptr);
  ASSERT_TRUE(WaitFor([&] { return all_followed(*late) && late->champion() == "omoe"; }))
      << late->champion();

  // Promoting back is followed too.
  ASSERT_EQ(leader->Handle(Request(api::Method::kPost, "/v1/models/main/promote")).status, 200);
  ASSERT_TRUE(
      WaitFor([&] { return follower->champion() == "main" && late->champion() == "main"; }));
}

// A rollback replaces every challenger's model too: each challenger's topic
// then carries a full checkpoint, and the follower ends on every leader model.
TEST(Follower, ChallengersRolledBackToASnapshotAreFollowed) {
  auto cluster = ChallengerCluster();
  const std::vector<Keyed> events = SimulatedEvents(3000, 23);
  auto producer = NewProducer(cluster->bootstrap());
  TempDir dir;
  auto follower =
      StartService(KafkaConfig(*cluster, Small({"service.role=follower", kTwoChallengers})));
  auto leader =
      StartService(LeaderConfig(*cluster, {kTwoChallengers, "snapshot.dir=" + dir.path(),
                                           "snapshot.sync=false", "snapshot.interval_ms=100000"}));
  ASSERT_TRUE(follower && leader);
  auto all_followed = [&] {
    return leader->challengers()->lag() == 0 && Follows(*follower, *leader) &&
           SameModel(*follower, *leader, "omoe") && SameModel(*follower, *leader, "fast");
  };
  StatusOr<store::SnapshotInfo> snap =
      SnapshotHalfway(producer.get(), *cluster, events, leader.get());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Consumed(*leader) == 3000 && all_followed(); }));
  const std::string omoe_at_end = follower->Named("omoe")->ParamChecksum();

  StatusOr<RestoredSnapshot> restored = leader->RestoreSnapshot(snap->id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  // The relearned events follow as deltas on top of each checkpoint.
  ASSERT_TRUE(WaitFor([&] {
    return Consumed(*leader) == 3000 && all_followed() &&
           follower->Latest()->version >= restored->model_version;
  })) << Checksum(*follower);
  EXPECT_EQ(follower->Named("omoe")->ParamChecksum(), omoe_at_end);
  EXPECT_EQ(FollowerOf(*follower)->counters().commits_rejected, 0u);
  for (const char* name : {"omoe", "fast"}) {
    ASSERT_NE(FollowerOf(*follower, name), nullptr);
    const FollowerCounters c = FollowerOf(*follower, name)->counters();
    EXPECT_EQ(c.commits_rejected, 0u) << name << ": " << c.last_error;
    EXPECT_GE(c.checkpoints_applied, 2u) << name;  // the first and the rollback's
  }
}

// Real broker only: the model topic is compacted (a segment rolls on the
// first append 200 ms after it began; the cleaner runs every second), so
// older row updates are gone by the time a follower starts; it still
// reaches the leader's checksum from what compaction kept (the newest value
// of every key).
TEST(Follower, ALateFollowerReadsACompactedModelTopic) {
  if (!ingest::testing::RealBrokerSelected()) GTEST_SKIP() << "real broker only";
  auto cluster = NewCluster(1);
  cluster->CreateTopic(kModelTopic, 1,
                       {{"cleanup.policy", "compact"},
                        {"segment.ms", "200"},
                        {"min.cleanable.dirty.ratio", "0.01"},
                        {"delete.retention.ms", "0"}});
  const std::vector<Keyed> events = SimulatedEvents(10000, 9);
  auto producer = NewProducer(cluster->bootstrap());
  auto leader = StartService(LeaderConfig(*cluster));
  ASSERT_NE(leader, nullptr);
  // Events go in 500 at a time until the cleaner has compacted something
  // (segments roll only on appends), then the rest.
  size_t produced = 0;
  auto produce_more = [&](size_t n) {
    const size_t to = std::min(events.size(), produced + n);
    Produce(producer.get(), cluster->Topic(kTopic), events, produced, to);
    EXPECT_TRUE(producer->Flush(kLongWait).ok());
    produced = to;
    EXPECT_TRUE(WaitFor([&] { return Consumed(*leader) == static_cast<int64_t>(to); }));
  };

  // Compacted: fewer records left in the model topic than were written.
  const std::string model_topic = cluster->Topic(kModelTopic);
  auto count_records = [&] {
    ingest::KafkaSourceOptions o;
    o.brokers = cluster->bootstrap();
    o.topics = {model_topic};
    o.group_id = cluster->Group("compaction-reader-" + std::to_string(reader_groups++));
    o.kafka = {{"session.timeout.ms", "6000"}, {"fetch.wait.max.ms", "10"}};
    o.log_to_stderr = false;
    auto reader = ingest::KafkaSource::Create(o);
    EXPECT_TRUE(reader.ok());
    struct NoOp : ingest::RebalanceListener {
      ingest::OffsetMap OnAssigned(const std::vector<ingest::TopicPartition>&) override {
        return {};
      }
      void OnRevoked(const std::vector<ingest::TopicPartition>&) override {}
    } listener;
    EXPECT_TRUE((*reader)->Start(&listener).ok());
    const auto end = cluster->admin()->Bounds({model_topic, 0});
    int64_t records = 0, last = -1;
    WaitFor([&] {
      for (const auto& m : (*reader)->Pop(256, std::chrono::milliseconds(20))) {
        ++records;
        last = m.offset;
      }
      return end.ok() && last + 1 >= end->end;
    });
    EXPECT_TRUE((*reader)->Close().ok());
    return std::make_pair(records, end.ok() ? end->end : -1);
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        produce_more(500);
        const auto [records, written] = count_records();
        return records > 0 && records < written;
      },
      std::chrono::seconds(90)))
      << "the model topic was not compacted";
  produce_more(events.size());

  auto late = StartService(FollowerConfig(*cluster));
  ASSERT_NE(late, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Follows(*late, *leader); })) << Checksum(*late);
  EXPECT_EQ(FollowerOf(*late)->counters().commits_rejected, 0u);
  leader->Stop();
  late->Stop();
}

}  // namespace
}  // namespace ranker::app
