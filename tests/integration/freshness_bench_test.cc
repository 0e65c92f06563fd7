// Measurements, not checks (DISABLED_: run with
//   ranker_integration_tests --gtest_also_run_disabled_tests --gtest_filter='Bench*'):
//  - throughput: events/s and examples/s of the service learning from the
//    in-process mock cluster (or the real broker, RANKER_TEST_BROKER=real)
//    vs `ranker replay` on the same events;
//  - freshness: at ~10,000 events/s, the time from Produce() to the first
//    published model version whose offsets cover the event (p50/p99), and
//    the time a publication spends copying the model.
// Both measure a broker under load for 30 s first (BenchWarmUpSeconds()):
// a broker JVM that has just started spends most of a core compiling for
// tens of seconds, which on 2 cores is the learner's share.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
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

// Partition of a key, as this test's producer chooses it (so that the
// offset of every produced event is known: one producer, in order).
int32_t PartitionOf(const std::string& key, int partitions) {
  return static_cast<int32_t>(Hash64(key) % static_cast<uint64_t>(partitions));
}

// Produces `events` at `rate` per second into `topic` (partition by key),
// recording when each was produced and where it went.
void ProduceAtRate(ingest::KafkaProducer* producer, const std::string& topic, int partitions,
                   const std::vector<Keyed>& events, double rate,
                   std::vector<Steady::time_point>* produced_at = nullptr,
                   std::vector<std::pair<int32_t, int64_t>>* where = nullptr) {
  std::vector<int64_t> next(partitions, 0);
  const Steady::time_point start = Steady::now();
  for (size_t i = 0; i < events.size(); ++i) {
    // One wakeup per 10 events (1 ms at 10k/s), not per event: on 2 cores
    // the harness's wakeups take CPU from the learner it measures.
    if (i % 10 == 0) {
      std::this_thread::sleep_until(
          start + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate)));
    }
    const int32_t p = PartitionOf(events[i].key, partitions);
    if (produced_at != nullptr) (*produced_at)[i] = Steady::now();
    if (where != nullptr) (*where)[i] = {p, next[p]++};
    ASSERT_TRUE(producer->Produce(topic, events[i].key, events[i].payload, {}, p).ok());
  }
}

// A real broker just started runs its produce and fetch paths interpreted
// while the JIT compiles them: measured here (2 cores, Kafka 3.9.0, Java 17)
// the C2 compiler thread alone took ~0.6 core in the first ~30 s and the
// broker ~1.2 cores in all, against ~0.5 warm, so the learner, starved,
// fell behind the 10k events/s offered. A broker in service has run for
// days: the benchmarks measure after BenchWarmUpSeconds() (environment
// RANKER_BENCH_WARMUP_SECONDS, default 30; 0: none) of load: the freshness
// benchmark on both brokers (it measures the end of a longer stream), the
// throughput one on the real broker only (WarmUpRealBroker; the mock has no
// JIT, and its backlog is produced before the clock starts anyway).
// Kafka settings of both benchmarks, on both brokers: the test helpers'
// (fetch.wait.max.ms 10, fetch.min.bytes 1). A fetch that waits for 64 KB or
// 50 ms (tried under load, to cut ~1000 fetches a second) halved the
// throughput benchmark on a quiet machine (ratio 0.41-0.47 against 0.72-0.87,
// session 7) and bought no freshness there (p99 129 against 116 ms): set it
// through RANKER_BENCH_SET to compare. The producer (the events' source, not
// the service) batches for 5 ms (librdkafka's default) instead of 1.
constexpr int kBenchProducerLingerMs = 5;
// RANKER_BENCH_SET adds settings ("key=value,key=value") for experiments.
std::vector<std::string> BenchServiceSets() {
  std::vector<std::string> sets = {"service.publish_interval_ms=100"};
  if (const char* extra = std::getenv("RANKER_BENCH_SET")) {
    std::string rest = extra;
    for (size_t comma; !rest.empty();
         rest = comma == std::string::npos ? "" : rest.substr(comma + 1)) {
      comma = rest.find(',');
      sets.push_back(rest.substr(0, comma));
    }
  }
  return sets;
}

double BenchWarmUpSeconds() {
  const char* env = std::getenv("RANKER_BENCH_WARMUP_SECONDS");
  return env != nullptr ? std::atof(env) : 30;
}

// The throughput benchmark's warm-up: the freshness workload (10k events/s,
// 3 partitions, a service consuming) on a topic and group of its own.
void WarmUpRealBroker(TestBroker* cluster) {
  const double seconds = BenchWarmUpSeconds();
  if (!cluster->real() || seconds <= 0) return;
  const double rate = 10000;
  const int kPartitions = 3;
  cluster->CreateTopic("ranker.warmup", kPartitions);
  auto service = StartService(
      KafkaConfig(*cluster, {"ingest.topic=" + cluster->Topic("ranker.warmup"),
                             "ingest.group_id=" + cluster->Group("warmup"),
                             "model_topic.name=" + cluster->Topic("ranker.warmup.model"),
                             "service.publish_interval_ms=100", "kafka.fetch.wait.max.ms=50",
                             "kafka.fetch.min.bytes=65536"}));
  ASSERT_NE(service, nullptr);
  auto producer = NewProducer(cluster->bootstrap(), kBenchProducerLingerMs);
  const std::vector<Keyed> events = SimulatedEvents(static_cast<int64_t>(seconds * rate), 23);
  const Steady::time_point t0 = Steady::now();
  ProduceAtRate(producer.get(), cluster->Topic("ranker.warmup"), kPartitions, events, rate);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == static_cast<int64_t>(events.size()); },
                      std::chrono::milliseconds(120000)));
  std::printf("warm-up: %zu events through the real broker in %.1f s\n", events.size(),
              Ms(Steady::now() - t0) / 1000);
  service->Stop();
}

// Events of the throughput benchmark: RANKER_BENCH_EVENTS, else 60,000 on
// the mock (librdkafka 2.0.2's mock keeps only ~5 MB per partition, older
// messages are deleted, and the whole backlog is produced first: 12
// partitions hold 60k) and 300,000 on the real broker. 60k events last
// ~1.3 s at 45k events/s, where the two ends' publication granularity
// (100 ms) alone moves the ratio by up to 15%; 300k last ~6 s.
int64_t BenchThroughputEvents() {
  if (const char* env = std::getenv("RANKER_BENCH_EVENTS")) return std::atoll(env);
  return ingest::testing::RealBrokerSelected() ? 300000 : 60000;
}

TEST(Bench, DISABLED_ServiceThroughputVersusReplay) {
  const int64_t n = BenchThroughputEvents();
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
  WarmUpRealBroker(cluster.get());
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  auto service = StartService(KafkaConfig(*cluster, BenchServiceSets()));
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) > 0; }, std::chrono::milliseconds(60000)));
  const Steady::time_point t0 = Steady::now();
  const int64_t e0 = Consumed(*service), x0 = service->Latest()->examples_trained;
  const bool all =
      WaitFor([&] { return Consumed(*service) == n; }, std::chrono::milliseconds(300000));
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
  const ingest::SourceCounters c = service->source_counters();
  std::printf("source: pauses %llu resumes %llu duplicates dropped %llu\n",
              static_cast<unsigned long long>(c.pauses), static_cast<unsigned long long>(c.resumes),
              static_cast<unsigned long long>(c.duplicates_dropped));
  service->Stop();
}

// Freshness is measured over the last 10 s of a stream at 10k events/s that
// first runs for BenchWarmUpSeconds() (default 30), on both brokers, so that
// a real broker just started has its produce and fetch paths compiled (see
// WarmUpRealBroker); the slices of the whole stream are printed too.
TEST(Bench, DISABLED_FreshnessAt10kEventsPerSecond) {
  const int kPartitions = 3;
  const double rate = 10000;
  const double warm_up_s = BenchWarmUpSeconds();
  const int64_t skip = warm_up_s > 0 ? static_cast<int64_t>(warm_up_s * rate) : 10000;
  const int64_t n = skip + static_cast<int64_t>(10 * rate);
  const std::vector<Keyed> events = SimulatedEvents(n, 22);
  auto cluster = NewCluster(kPartitions);
  auto producer = NewProducer(cluster->bootstrap(), kBenchProducerLingerMs);
  auto service = StartService(KafkaConfig(*cluster, BenchServiceSets()));
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
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<Steady::time_point> produced_at(n);
  std::vector<std::pair<int32_t, int64_t>> where(n);
  ProduceAtRate(producer.get(), cluster->Topic(kTopic), kPartitions, events, rate, &produced_at,
                &where);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == n; }, std::chrono::milliseconds(120000)));
  stop.store(true);
  watcher.join();
  // Per event: the first version seen after it was produced whose offsets
  // cover it (versions are in time order and offsets only grow).
  std::vector<double> fresh(n, -1);
  for (int64_t i = 0; i < n; ++i) {
    auto v = std::lower_bound(versions.begin(), versions.end(), produced_at[i],
                              [](const Seen& s, Steady::time_point t) { return s.at < t; });
    for (; v != versions.end(); ++v) {
      auto it = v->offsets.find({cluster->Topic(kTopic), where[i].first});
      if (it != v->offsets.end() && it->second > where[i].second) {
        fresh[i] = Ms(v->at - produced_at[i]);
        break;
      }
    }
  }
  auto slice = [&](int64_t from, int64_t to) {
    std::vector<double> out;
    for (int64_t i = from; i < to; ++i) {
      if (fresh[i] >= 0) out.push_back(fresh[i]);
    }
    return out;
  };
  const int64_t step = static_cast<int64_t>(10 * rate);
  for (int64_t from = 0; from < n; from += step) {
    const std::vector<double> f = slice(from, std::min(n, from + step));
    std::printf("  seconds %3.0f-%3.0f: p50 %7.1f ms, p99 %7.1f ms\n", from / rate,
                std::min(n, from + step) / rate, Percentile(f, 0.5), Percentile(f, 0.99));
  }
  const std::vector<double> measured = slice(skip, n);
  std::printf(
      "freshness at %.0f events/s (%s broker) over the last %zu events (after %.0f s): p50 %.1f "
      "ms, p99 %.1f ms, max %.1f ms\n",
      rate, ingest::testing::RealBrokerSelected() ? "real" : "mock", measured.size(), skip / rate,
      Percentile(measured, 0.5), Percentile(measured, 0.99), Percentile(measured, 1.0));
  std::vector<double> clones;
  for (const Seen& v : versions) clones.push_back(v.clone_ms);
  std::printf("versions %zu, Clone(): p50 %.2f ms, max %.2f ms, embedding rows %zu\n",
              versions.size(), Percentile(clones, 0.5), Percentile(clones, 1.0),
              service->Latest()->model->embedding_rows());
  const ingest::SourceCounters c = service->source_counters();
  std::printf("source: pauses %llu resumes %llu\n", static_cast<unsigned long long>(c.pauses),
              static_cast<unsigned long long>(c.resumes));
  service->Stop();
}

}  // namespace
}  // namespace ranker::app
