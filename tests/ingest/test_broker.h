// The Kafka cluster a Kafka test runs against, chosen by the environment:
//  - RANKER_TEST_BROKER unset or "mock": librdkafka's mock cluster, a fresh
//    one per TestBroker (in process, loopback TCP);
//  - RANKER_TEST_BROKER=real: a real Apache Kafka broker (scripts/kafka.sh,
//    KRaft, Java). The first TestBroker of the process starts one in a temp
//    dir, stopped at exit;
//  - RANKER_TEST_KAFKA_DIR=DIR: the real broker already running from DIR
//    (ctest starts one per run, the kafka_real fixture, and passes this).
//    Tests share it, so names are made unique per TestBroker: Topic(),
//    Group() ("ranker.events" -> "ranker.events.<pid>.<n>").
// A TestBroker made with exclusive=true owns a real broker of its own, for
// tests that kill and restart it (Down()/Up()).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "ingest/kafka_admin.h"
#include "ingest/kafka_mock_cluster.h"

namespace ranker::ingest::testing {

// True when the Kafka tests run against the real broker.
inline bool RealBrokerSelected() {
  const char* b = std::getenv("RANKER_TEST_BROKER");
  return (b != nullptr && std::string(b) == "real") ||
         std::getenv("RANKER_TEST_KAFKA_DIR") != nullptr;
}

// Runs `cmd` in a shell; its standard output (trailing newline removed),
// or "" and a test failure if it exits non-zero.
inline std::string RunScript(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[256];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return rc == 0 ? out : "";
}

// The first line of `path` ("" if unreadable).
inline std::string FirstLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// One real broker process in `dir` (scripts/kafka.sh start DIR 0); stopped
// and its directory removed on destruction if this object started it.
class RealBrokerProcess {
 public:
  // owned = false: the broker already running from `dir` (started by
  // someone else, left running); otherwise starts one there.
  explicit RealBrokerProcess(std::filesystem::path dir, bool owned) : dir_(std::move(dir)) {
    owned_ = owned;
    if (!owned_ && std::filesystem::exists(dir_ / "bootstrap")) {
      bootstrap_ = FirstLine(dir_ / "bootstrap");
    } else {
      owned_ = true;
      Start();
    }
  }
  ~RealBrokerProcess() {
    if (!owned_) return;
    RunScript(Script() + " stop " + dir_.string());
    std::filesystem::remove_all(dir_);
  }
  const std::string& bootstrap() const { return bootstrap_; }
  std::string sasl_bootstrap() const { return FirstLine(dir_ / "sasl.bootstrap"); }
  // SIGKILL: no controlled shutdown, the log is recovered on the next start.
  void Kill() { RunScript("kill -9 $(cat " + (dir_ / "kafka.pid").string() + ")"); }
  // Starts (again) with the data and ports of `dir`.
  void Start() {
    bootstrap_ = RunScript("RANKER_KAFKA_PARENT_PID=" + std::to_string(::getpid()) + " " +
                           Script() + " start " + dir_.string() + " 0");
  }

 private:
  static std::string Script() { return std::string(RANKER_SOURCE_DIR) + "/scripts/kafka.sh"; }

  std::filesystem::path dir_;
  bool owned_ = false;
  std::string bootstrap_;
};

inline std::filesystem::path NewBrokerDir() {
  static int n = 0;
  return std::filesystem::temp_directory_path() /
         ("ranker-kafka-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
}

// The process-wide shared real broker.
inline RealBrokerProcess* SharedRealBroker() {
  static RealBrokerProcess* broker = [] {
    const char* dir = std::getenv("RANKER_TEST_KAFKA_DIR");
    return dir != nullptr ? new RealBrokerProcess(dir, false)
                          : new RealBrokerProcess(NewBrokerDir(), true);
  }();
  static const bool registered = [] {
    return std::atexit([] { delete SharedRealBroker(); }) == 0;
  }();
  (void)registered;
  return broker;
}

class TestBroker {
 public:
  // `exclusive`: a real broker of its own (for Down()/Up()).
  explicit TestBroker(bool exclusive = false) : real_(RealBrokerSelected()) {
    static int n = 0;
    if (!real_) {
      auto cluster = KafkaMockCluster::Create();
      EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
      mock_ = std::move(cluster).value();
      bootstrap_ = mock_->bootstrap();
      return;
    }
    suffix_.append(".").append(std::to_string(::getpid())).append(".").append(std::to_string(n++));
    if (exclusive) own_ = std::make_unique<RealBrokerProcess>(NewBrokerDir(), true);
    bootstrap_ = process()->bootstrap();
    KafkaAdminOptions o;
    o.brokers = bootstrap_;
    auto admin = KafkaAdmin::Create(o);
    EXPECT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(admin).value();
  }

  bool real() const { return real_; }
  const std::string& bootstrap() const { return bootstrap_; }
  // The SASL_PLAINTEXT listener (user "ranker", password "ranker-secret");
  // "" on the mock.
  std::string sasl_bootstrap() const { return real_ ? process()->sasl_bootstrap() : ""; }
  // This broker's name for the topic or group `base`.
  std::string Topic(const std::string& base) const { return base + suffix_; }
  std::string Group(const std::string& base) const { return base + suffix_; }

  // Creates Topic(base). `configs` are topic configs (real broker only).
  void CreateTopic(const std::string& base, int partitions,
                   const std::map<std::string, std::string>& configs = {}) {
    CreateExactTopic(Topic(base), partitions, configs);
  }
  // Creates `name` as it is (the caller made it unique).
  void CreateExactTopic(const std::string& name, int partitions,
                        const std::map<std::string, std::string>& configs = {}) {
    const Status s = real_ ? admin_->CreateTopic(name, partitions, configs)
                           : mock_->CreateTopic(name, partitions);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Mock: every broker down/up. Real (exclusive only): SIGKILL, and a
  // restart with the data.
  void Down() {
    if (!real_) {
      ASSERT_TRUE(mock_->SetAllBrokersDown().ok());
    } else {
      ASSERT_NE(own_, nullptr) << "Down() needs an exclusive real broker";
      own_->Kill();
    }
  }
  void Up() {
    if (!real_) {
      ASSERT_TRUE(mock_->SetAllBrokersUp().ok());
    } else {
      ASSERT_NE(own_, nullptr) << "Up() needs an exclusive real broker";
      own_->Start();
      // Clients keep the address they were given: the restart must keep it.
      ASSERT_EQ(own_->bootstrap(), bootstrap_) << "the broker came back on another port";
    }
  }
  KafkaMockCluster* mock() const { return mock_.get(); }
  KafkaAdmin* admin() const { return admin_.get(); }

 private:
  RealBrokerProcess* process() const { return own_ ? own_.get() : SharedRealBroker(); }

  const bool real_;
  std::string bootstrap_;
  std::string suffix_;
  std::unique_ptr<KafkaMockCluster> mock_;
  std::unique_ptr<RealBrokerProcess> own_;
  std::unique_ptr<KafkaAdmin> admin_;
};

}  // namespace ranker::ingest::testing
