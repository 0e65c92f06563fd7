// Measurements, not checks (DISABLED_: run with
//   ranker_integration_tests --gtest_also_run_disabled_tests --gtest_filter='Bench*'):
//  - throughput: events/s and examples/s of the service learning from the
//    in-process mock cluster (or the real broker, RANKER_TEST_BROKER=real)
//    vs `ranker replay` on the same events;
//  - freshness: at ~10,000 events/s, the time from Produce() to the first
//    published model version whose offsets cover the event (p50/p99), and
//    the time a publication spends copying the model.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "base/hash.h"
#include "tests/integration/kafka_service_util.h"
#include "tests/integration/subprocess.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT
using Steady = std::chrono::steady_clock;

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

TEST(Bench, DISABLED_ServiceThroughputVersusReplay) {
  // 12 partitions: librdkafka 2.0.2's mock keeps only ~5 MB per partition
  // (older messages are deleted), and the whole backlog is produced first.
  const int64_t n = 60000;
  const std::vector<Keyed> events = SimulatedEvents(n, 21);
  const std::string path = ::testing::TempDir() + "/ranker_bench_events.ndjson";
  {
    std::ofstream out(path, std::ios::trunc);
    for (const Keyed& e : events) out << e.payload << "\n";
  }
  ranker::testing::Subprocess replay(
      {RANKER_BIN, "replay", "--json", "--progress-seconds", "0", path});
  std::optional<std::string> json = replay.ReadLine(std::chrono::milliseconds(300000));
  ASSERT_TRUE(json.has_value());
  ASSERT_EQ(replay.Wait(std::chrono::milliseconds(10000)), 0);
  const boost::json::value r = boost::json::parse(*json);
  const double replay_wall = r.at("wall_seconds").to_number<double>();
  const double replay_examples = r.at("examples_trained").to_number<double>();

  auto cluster = NewCluster(12);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  auto service = StartService(KafkaConfig(*cluster, {"service.publish_interval_ms=100"}));
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) > 0; }, std::chrono::milliseconds(60000)));
  const Steady::time_point t0 = Steady::now();
  const int64_t e0 = Consumed(*service), x0 = service->Latest()->examples_trained;
  const bool all =
      WaitFor([&] { return Consumed(*service) == n; }, std::chrono::milliseconds(60000));
  if (!all) {
    const ingest::SourceCounters c = service->source_counters();
    std::printf("stalled at %lld: pauses %llu resumes %llu queued %llu dups %llu errors %llu %s\n",
                (long long)Consumed(*service), (unsigned long long)c.pauses,
                (unsigned long long)c.resumes, (unsigned long long)c.queued_messages,
                (unsigned long long)c.duplicates_dropped, (unsigned long long)c.errors,
                c.last_error.c_str());
    for (const auto& [tp, st] : c.partitions)
      std::printf("  p%d next %lld high %lld lag %lld\n", tp.partition, (long long)st.next_offset,
                  (long long)st.high_watermark, (long long)st.lag);
  }
  ASSERT_TRUE(all);
  const double wall = Ms(Steady::now() - t0) / 1000;
  const double events_s = (n - e0) / wall,
               examples_s = (service->Latest()->examples_trained - x0) / wall;
  std::printf("replay: %.0f events/s, %.0f examples/s (%.2f s)\n", n / replay_wall,
              replay_examples / replay_wall, replay_wall);
  std::printf(
      "service (Kafka, %s broker, 12 partitions): %.0f events/s, %.0f examples/s (%.2f s)\n",
      ingest::testing::RealBrokerSelected() ? "real" : "mock", events_s, examples_s, wall);
  std::printf("ratio service/replay (events/s): %.2f\n", events_s / (n / replay_wall));
  service->Stop();
}

// Partition of a key, as this test's producer chooses it (so that the
// offset of every produced event is known: one producer, in order).
int32_t PartitionOf(const std::string& key, int partitions) {
  return static_cast<int32_t>(Hash64(key) % static_cast<uint64_t>(partitions));
}

TEST(Bench, DISABLED_FreshnessAt10kEventsPerSecond) {
  const int kPartitions = 3;
  const double rate = 10000;
  const int64_t n = 100000;
  const std::vector<Keyed> events = SimulatedEvents(n, 22);
  auto cluster = NewCluster(kPartitions);
  auto producer = NewProducer(cluster->bootstrap());
  auto service = StartService(KafkaConfig(*cluster, {"service.publish_interval_ms=100"}));
  ASSERT_TRUE(WaitFor([&] { return service->source_counters().partitions.size() == kPartitions; }));

  // Watcher: the time each version was first seen, with its offsets.
  struct Seen {
    Steady::time_point at;
    ingest::OffsetMap offsets;
    double clone_ms;
  };
  std::vector<Seen> versions;
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    uint64_t last = 0;
    while (!stop.load()) {
      auto m = service->Latest();
      if (m->version != last) {
        versions.push_back({Steady::now(), m->offsets, m->clone_ms});
        last = m->version;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<Steady::time_point> produced_at(n);
  std::vector<std::pair<int32_t, int64_t>> where(n);
  std::vector<int64_t> next(kPartitions, 0);
  const Steady::time_point start = Steady::now();
  for (int64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(start +
                                  std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate)));
    const int32_t p = PartitionOf(events[i].key, kPartitions);
    produced_at[i] = Steady::now();
    where[i] = {p, next[p]++};
    ASSERT_TRUE(
        producer->Produce(cluster->Topic(kTopic), events[i].key, events[i].payload, {}, p).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == n; }));
  stop.store(true);
  watcher.join();
  std::vector<double> fresh;
  for (int64_t i = n / 10; i < n; ++i) {  // skip the warm-up
    for (const Seen& v : versions) {
      auto it = v.offsets.find({cluster->Topic(kTopic), where[i].first});
      if (v.at >= produced_at[i] && it != v.offsets.end() && it->second > where[i].second) {
        fresh.push_back(Ms(v.at - produced_at[i]));
        break;
      }
    }
  }
  std::vector<double> clones;
  for (const Seen& v : versions) clones.push_back(v.clone_ms);
  std::printf("freshness at %.0f events/s over %zu events: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              rate, fresh.size(), Percentile(fresh, 0.5), Percentile(fresh, 0.99),
              Percentile(fresh, 1.0));
  std::printf("versions %zu, Clone(): p50 %.2f ms, max %.2f ms, embedding rows %zu\n",
              versions.size(), Percentile(clones, 0.5), Percentile(clones, 1.0),
              service->Latest()->model->embedding_rows());
  service->Stop();
}

}  // namespace
}  // namespace ranker::app
