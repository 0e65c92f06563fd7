// The EventSource contract, run against the in-memory fake and against
// KafkaSource on librdkafka's mock cluster (loopback TCP), so the fake cannot
// drift from the real thing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "ingest/kafka_mock_cluster.h"
#include "ingest/kafka_producer.h"
#include "ingest/kafka_source.h"
#include "tests/fakes/fake_event_source.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/ingest/test_broker.h"

namespace ranker::ingest {
namespace {

using namespace ranker::ingest::testing;  // NOLINT

constexpr int kPartitions = 3;
constexpr milliseconds kJoin{15000};  // first join on the mock takes ~3 s

class Harness {
 public:
  virtual ~Harness() = default;
  virtual void CreateTopic(const std::string& topic, int partitions) = 0;
  virtual void Produce(const std::string& topic, const std::string& key,
                       const std::string& payload) = 0;
  virtual void Flush() = 0;  // everything produced is readable after this
  virtual std::unique_ptr<EventSource> NewSource(const std::string& topic,
                                                 const std::string& group) = 0;
};

class FakeHarness : public Harness {
 public:
  void CreateTopic(const std::string& topic, int partitions) override {
    log_.CreateTopic(topic, partitions);
  }
  void Produce(const std::string& topic, const std::string& key,
               const std::string& payload) override {
    log_.Produce(topic, key, payload);
  }
  void Flush() override {}
  std::unique_ptr<EventSource> NewSource(const std::string& topic,
                                         const std::string& group) override {
    return log_.NewSource({topic}, group);
  }

 private:
  fakes::FakeLog log_;
};

// One broker for the whole suite (tests use distinct topics and groups):
// creating and destroying a mock cluster costs ~1 s. The mock, or the real
// broker with RANKER_TEST_BROKER=real (tests/ingest/test_broker.h).
testing::TestBroker* SharedCluster() {
  static testing::TestBroker* cluster = new testing::TestBroker();
  return cluster;
}

class KafkaHarness : public Harness {
 public:
  KafkaHarness() : cluster_(SharedCluster()) {
    KafkaProducerOptions po;
    po.brokers = cluster_->bootstrap();
    po.kafka = {{"linger.ms", "1"}};
    po.log_to_stderr = KafkaLogs();
    auto producer = KafkaProducer::Create(po);
    EXPECT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(producer).value();
  }
  void CreateTopic(const std::string& topic, int partitions) override {
    cluster_->CreateExactTopic(topic, partitions);
  }
  void Produce(const std::string& topic, const std::string& key,
               const std::string& payload) override {
    ASSERT_TRUE(producer_->Produce(topic, key, payload).ok());
  }
  void Flush() override {
    ASSERT_TRUE(producer_->Flush(milliseconds(10000)).ok());
    ASSERT_EQ(producer_->Counters().failed, 0u);
  }
  std::unique_ptr<EventSource> NewSource(const std::string& topic,
                                         const std::string& group) override {
    auto source = KafkaSource::Create(
        MockSourceOptions(cluster_->bootstrap(), topic, cluster_->Group(group)));
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return std::move(source).value();
  }

 private:
  testing::TestBroker* const cluster_;  // lives for the whole process
  std::unique_ptr<KafkaProducer> producer_;
};

using HarnessFactory = std::unique_ptr<Harness> (*)();
std::unique_ptr<Harness> MakeFake() { return std::make_unique<FakeHarness>(); }
std::unique_ptr<Harness> MakeKafka() { return std::make_unique<KafkaHarness>(); }

class EventSourceContract : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override {
    h_ = GetParam()();
    h_->CreateTopic(topic_, kPartitions);
  }

  // Produces messages [from, to) keyed "req-<i>" with payload "event-<i>".
  void ProduceRange(int from, int to) {
    for (int i = from; i < to; ++i) {
      h_->Produce(topic_, "req-" + std::to_string(i), "event-" + std::to_string(i));
    }
    h_->Flush();
  }

  std::unique_ptr<EventSource> StartMember(const std::string& group, RecordingListener* l,
                                           size_t expect_partitions = kPartitions) {
    auto source = h_->NewSource(topic_, group);
    EXPECT_TRUE(source->Start(l).ok());
    EXPECT_TRUE(WaitFor([&] { return l->NumAssigned() == expect_partitions; }, kJoin))
        << "assignment did not arrive";
    return source;
  }

  static void ExpectPayloadsMatchKeys(const std::vector<SourceMessage>& messages) {
    for (const auto& m : messages) {
      ASSERT_EQ(m.key.substr(0, 4), "req-");
      EXPECT_EQ(m.payload, "event-" + m.key.substr(4));
    }
  }

  std::unique_ptr<Harness> h_;
  const std::string topic_ = NextTopic();

 private:
  static std::string NextTopic() {
    static int n = 0;
    // Unique across processes too (ctest runs tests in parallel processes
    // that share the real broker).
    return "ranker.events." + std::to_string(::getpid()) + "." + std::to_string(n++);
  }
};

// One member, start to close. (One test rather than several: each group
// join on the mock cluster costs ~3 s.)
//  - every message arrives once, in offset order per partition;
//  - a paused partition is held back, not dropped, and flows after Resume;
//  - only assigned partitions can be committed;
//  - Close() revokes while the partitions are still committable, then Pop()
//    and CommitOffsets() stop working.
TEST_P(EventSourceContract, SingleMemberLifecycle) {
  constexpr int kN = 300, kMore = 30;
  ProduceRange(0, kN);
  RecordingListener listener;
  std::vector<TopicPartition> revoked;
  EventSource* raw = nullptr;
  Status commit_in_revoke = Status::Internal("not called");
  listener.SetOnRevoke([&](const std::vector<TopicPartition>& tps) {
    revoked = tps;
    commit_in_revoke = raw->CommitOffsets({{tps.front(), 0}});
  });
  auto source = StartMember("g-life", &listener);
  raw = source.get();
  ASSERT_EQ(source->Assignment().size(), static_cast<size_t>(kPartitions));

  const TopicPartition p0{topic_, 0};
  source->Pause({p0, TopicPartition{"no.such.topic", 0}});
  auto all = Drain(source.get(), kN, milliseconds(600));
  for (const auto& m : all) ASSERT_NE(m.tp(), p0) << "paused partition delivered";
  ProduceRange(kN, kN + kMore);
  for (auto& m : Drain(source.get(), kN + kMore, milliseconds(300))) {
    ASSERT_NE(m.tp(), p0) << "paused partition delivered";
    all.push_back(std::move(m));
  }
  source->Resume({p0});
  const size_t held = kN + kMore - all.size();
  ASSERT_GT(held, 0u);
  for (auto& m : Drain(source.get(), held, milliseconds(10000))) {
    EXPECT_EQ(m.tp(), p0);
    all.push_back(std::move(m));
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kN + kMore));
  EXPECT_TRUE(source->Pop(10, milliseconds(100)).empty()) << "a message came twice";
  ExpectContiguous(all);
  ExpectPayloadsMatchKeys(all);
  std::set<std::string> keys;
  for (const auto& m : all) keys.insert(m.key);
  EXPECT_EQ(keys.size(), static_cast<size_t>(kN + kMore));
  EXPECT_EQ(OffsetsByPartition(all).size(), static_cast<size_t>(kPartitions));
  EXPECT_EQ(source->Counters().consumed, static_cast<uint64_t>(kN + kMore));

  Status s = source->CommitOffsets({{p0, 1}, {TopicPartition{topic_, 7}, 1}});
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find(topic_ + "[7]"), std::string::npos) << s.ToString();

  ASSERT_TRUE(source->Close().ok());
  EXPECT_EQ(revoked.size(), static_cast<size_t>(kPartitions));
  EXPECT_TRUE(commit_in_revoke.ok()) << commit_in_revoke.ToString();
  EXPECT_TRUE(source->Assignment().empty());
  EXPECT_TRUE(source->Pop(10, milliseconds(50)).empty());
  EXPECT_EQ(source->CommitOffsets({{p0, 1}}).code(), Status::Code::kFailedPrecondition);
  EXPECT_TRUE(source->Close().ok());  // idempotent
}

// Committed offsets carry over to the next member of the group; offsets the
// owner supplies on assign (from its snapshot) win over them, backwards too.
TEST_P(EventSourceContract, NewMemberResumesAtCommittedOrOwnerOffsets) {
  ProduceRange(0, 90);
  std::map<TopicPartition, int64_t> committed;
  {
    RecordingListener listener;
    auto first = StartMember("g-resume", &listener);
    auto got = Drain(first.get(), 90, milliseconds(10000));
    ASSERT_EQ(got.size(), 90u);
    for (const auto& [tp, offsets] : OffsetsByPartition(got)) {
      committed[tp] = offsets.back() + 1;
    }
    ASSERT_EQ(committed.size(), static_cast<size_t>(kPartitions));
    ASSERT_TRUE(first->CommitOffsets(committed).ok());
    ASSERT_TRUE(first->Close().ok());
  }
  ProduceRange(90, 150);
  const TopicPartition p0{topic_, 0};
  ASSERT_GE(committed[p0], 2);
  std::map<TopicPartition, int64_t> expected_start = committed;
  expected_start[p0] = committed[p0] - 2;  // the owner rewinds p0 by two
  RecordingListener listener;
  listener.SetStart({{p0, expected_start[p0]}});
  auto second = StartMember("g-resume", &listener);
  auto got = Drain(second.get(), 62, milliseconds(10000));
  ASSERT_EQ(got.size(), 62u);
  EXPECT_TRUE(second->Pop(10, milliseconds(100)).empty()) << "a message came twice";
  ExpectContiguous(got, expected_start);
  auto by = OffsetsByPartition(got);
  ASSERT_TRUE(by.contains(p0));
  EXPECT_EQ(by[p0].front(), committed[p0] - 2);
  for (const auto& m : got) {
    if (m.tp() != p0) {
      EXPECT_GE(std::stoi(m.key.substr(4)), 90) << m.key;
    }
  }
}

// Seek() moves assigned partitions: Pop() then hands each out from the given
// offset (kOffsetBeginning: the first) and nothing from before; a seek
// naming an unassigned partition is FailedPrecondition and moves nothing.
TEST_P(EventSourceContract, SeekMovesAssignedPartitionsOnly) {
  ProduceRange(0, 60);
  RecordingListener listener;
  auto source = StartMember("g-seek", &listener);
  const std::vector<SourceMessage> got = Drain(source.get(), 60, milliseconds(10000));
  ASSERT_EQ(got.size(), 60u);
  const TopicPartition p0{topic_, 0}, p1{topic_, 1};
  auto by = OffsetsByPartition(got);
  ASSERT_GE(by[p0].size(), 2u);
  ASSERT_GE(by[p1].size(), 1u);

  const Status bad = source->Seek({{p0, 0}, {TopicPartition{topic_, 9}, 0}});
  EXPECT_EQ(bad.code(), Status::Code::kFailedPrecondition) << bad.ToString();
  EXPECT_TRUE(source->Pop(10, milliseconds(200)).empty()) << "a refused seek moved something";

  ASSERT_TRUE(source->Seek({{p0, 1}, {p1, kOffsetBeginning}}).ok());
  const size_t expect = by[p0].size() - 1 + by[p1].size();
  const std::vector<SourceMessage> again = Drain(source.get(), expect, milliseconds(10000));
  EXPECT_EQ(again.size(), expect);
  ExpectContiguous(again, {{p0, 1}, {p1, 0}});
  EXPECT_TRUE(source->Pop(10, milliseconds(200)).empty()) << "a message came twice";
  EXPECT_TRUE(source->Close().ok());
}

// A member of a two-member group that records what it learned and keeps the
// offsets in a shared "snapshot" (as the service does): saved on revoke,
// supplied on assign. Its own thread pops while messages flow.
class Member : public RebalanceListener {
 public:
  Member(Harness* h, const std::string& topic, std::map<TopicPartition, int64_t>* snapshot,
         std::mutex* snapshot_mu)
      : snapshot_(snapshot), snapshot_mu_(snapshot_mu), source_(h->NewSource(topic, "g-rb")) {}
  // A test that fails an ASSERT returns while the popping thread runs: stop
  // it here, so the failure is reported instead of std::terminate.
  ~Member() override {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  void Start() {
    ASSERT_TRUE(source_->Start(this).ok());
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (revoking_.load()) {  // let OnRevoked have the owner lock
          std::this_thread::yield();
          continue;
        }
        std::lock_guard<std::mutex> lock(owner_mu_);
        for (auto& m : source_->Pop(16, milliseconds(10))) {
          next_[m.tp()] = m.offset + 1;
          seen_.push_back(std::move(m));
        }
      }
    });
  }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    ASSERT_TRUE(source_->Close().ok());
  }

  OffsetMap OnAssigned(const std::vector<TopicPartition>& tps) override {
    std::lock_guard<std::mutex> lock(*snapshot_mu_);
    ++assigns_;
    OffsetMap start;
    for (const auto& tp : tps) {
      if (auto it = snapshot_->find(tp); it != snapshot_->end()) start[tp] = it->second;
    }
    return start;
  }
  void OnRevoked(const std::vector<TopicPartition>& tps) override {
    revoking_.store(true);
    std::lock_guard<std::mutex> owner(owner_mu_);  // waits for the batch in hand
    std::lock_guard<std::mutex> lock(*snapshot_mu_);
    for (const auto& tp : tps) {
      if (auto it = next_.find(tp); it != next_.end()) (*snapshot_)[tp] = it->second;
      next_.erase(tp);
    }
    revoking_.store(false);
  }

  size_t assigned() const { return source_->Assignment().size(); }
  int assigns() const {
    std::lock_guard<std::mutex> lock(*snapshot_mu_);
    return assigns_;
  }
  std::vector<SourceMessage> seen() {
    std::lock_guard<std::mutex> lock(owner_mu_);
    return seen_;
  }

 private:
  std::map<TopicPartition, int64_t>* const snapshot_;
  std::mutex* const snapshot_mu_;
  std::unique_ptr<EventSource> source_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> revoking_{false};
  std::mutex owner_mu_;
  std::map<TopicPartition, int64_t> next_;  // GUARDED_BY(owner_mu_)
  std::vector<SourceMessage> seen_;         // GUARDED_BY(owner_mu_)
  int assigns_ = 0;                         // GUARDED_BY(*snapshot_mu_)
};

TEST_P(EventSourceContract, RebalanceHandsPartitionsOverExactlyOnce) {
  std::map<TopicPartition, int64_t> snapshot;
  std::mutex snapshot_mu;
  Member a(h_.get(), topic_, &snapshot, &snapshot_mu);
  Member b(h_.get(), topic_, &snapshot, &snapshot_mu);
  int produced = 0;
  auto produce_some = [&](int n) {
    ProduceRange(produced, produced + n);
    produced += n;
  };
  produce_some(100);
  a.Start();
  ASSERT_TRUE(WaitFor([&] { return a.assigned() == kPartitions; }, kJoin));
  produce_some(100);
  b.Start();  // joins while a is consuming
  ASSERT_TRUE(WaitFor([&] { return b.assigned() > 0 && a.assigned() > 0; }, kJoin))
      << "the second member never got partitions";
  EXPECT_EQ(a.assigned() + b.assigned(), static_cast<size_t>(kPartitions));
  produce_some(100);
  ASSERT_TRUE(WaitFor([&] { return !b.seen().empty(); }, milliseconds(10000)))
      << "b consumed nothing while it was a member";
  b.Stop();  // leaves while a is consuming
  ASSERT_TRUE(WaitFor([&] { return a.assigned() == kPartitions; }, kJoin));
  produce_some(100);
  ASSERT_TRUE(
      WaitFor([&] { return a.seen().size() + b.seen().size() >= static_cast<size_t>(produced); },
              milliseconds(10000)));
  a.Stop();
  std::vector<SourceMessage> all = a.seen();
  const auto from_b = b.seen();
  all.insert(all.end(), from_b.begin(), from_b.end());
  std::map<std::pair<TopicPartition, int64_t>, int> count;
  for (const auto& m : all) ++count[{m.tp(), m.offset}];
  for (const auto& [where, n] : count) {
    EXPECT_EQ(n, 1) << where.first.topic << "[" << where.first.partition << "]@" << where.second;
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(produced));
  EXPECT_GE(a.assigns(), 3);  // initial, after b joined, after b left
}

INSTANTIATE_TEST_SUITE_P(Fake, EventSourceContract, ::testing::Values(&MakeFake));
INSTANTIATE_TEST_SUITE_P(Kafka, EventSourceContract, ::testing::Values(&MakeKafka));

}  // namespace
}  // namespace ranker::ingest
