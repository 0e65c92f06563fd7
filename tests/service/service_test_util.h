// Helpers of the handler tests: an in-process Service (no broker, no
// socket) answering requests through Service::Handle(), and deadline-bound
// waits for the learner thread.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "service/service.h"
#include "settings/config.h"
#include "store/in_memory_snapshot_store.h"
#include "store/snapshot_store.h"
#include "tests/fakes/fake_event_source.h"

namespace ranker::app::testing {

// A SnapshotStore that forwards to one it borrows: the store outlives the
// services that use it, as a directory outlives a process.
class BorrowedStore final : public store::SnapshotStore {
 public:
  explicit BorrowedStore(store::SnapshotStore* inner) : inner_(inner) {}
  Status Put(const store::Snapshot& s) override { return inner_->Put(s); }
  StatusOr<store::Snapshot> Get(uint64_t id) const override { return inner_->Get(id); }
  std::vector<store::SnapshotInfo> List() const override { return inner_->List(); }
  StatusOr<store::SnapshotStore*> ModelStore(std::string_view name) override {
    return inner_->ModelStore(name);
  }
  std::vector<std::string> ModelStoreNames() const override { return inner_->ModelStoreNames(); }
  StatusOr<std::vector<uint64_t>> Ids() const override { return inner_->Ids(); }
  Status Retain(size_t keep_newest) override { return inner_->Retain(keep_newest); }
  Status Delete(uint64_t id) override { return inner_->Delete(id); }

 private:
  store::SnapshotStore* const inner_;
};

// A pre-joined example event (trained at once, no join window) for request
// r<i>: item i<i % 7>, click i % 2, watch i % 4.
inline std::string Example(int i) {
  return R"({"type":"example","request_id":"r)" + std::to_string(i) + R"(","item_id":"i)" +
         std::to_string(i % 7) + R"(","labels":{"click":)" + std::to_string(i % 2) +
         R"(,"watch":)" + std::to_string(i % 4) + "}}";
}

// An NDJSON body of n pre-joined examples for POST /v1/events: item
// i<i % 5>, click i % 2, no request id.
inline std::string ExampleLines(int n) {
  std::string body;
  for (int i = 0; i < n; ++i) {
    body += R"({"type":"example","item_id":"i)" + std::to_string(i % 5) +
            R"(","labels":{"click":)" + std::to_string(i % 2) + "}}\n";
  }
  return body;
}

// Config of a socket-less, broker-less service; `sets` are "key=value".
inline Config TestConfig(const std::vector<std::string>& sets = {}) {
  ConfigSources sources;
  sources.use_environment = false;
  // No idle watermarks unless a test asks (they would add events that a
  // slow machine's idle moments decide).
  sources.sets = {"http.enabled=false", "service.publish_interval_ms=10", "join.idle_flush_ms=0"};
  sources.sets.insert(sources.sets.end(), sets.begin(), sets.end());
  StatusOr<Config> config = LoadConfig(sources);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : Config{};
}

inline std::unique_ptr<Service> StartedService(const Config& config) {
  StatusOr<std::unique_ptr<Service>> s = Service::Create(config);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  EXPECT_TRUE((*s)->Start().ok());
  return std::move(s).value();
}

inline api::Request Post(const std::string& path, std::string body,
                         std::string content_type = "application/json") {
  api::Request r;
  r.method = api::Method::kPost;
  r.SetTarget(path);
  r.content_type = std::move(content_type);
  r.content_length = body.size();
  r.body = std::move(body);
  r.remote_is_loopback = true;
  return r;
}

inline api::Request Get(const std::string& path) {
  api::Request r;
  r.method = api::Method::kGet;
  r.SetTarget(path);
  r.remote_is_loopback = true;
  return r;
}

inline boost::json::object Json(const api::Response& r) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  return v.is_object() ? v.get_object() : boost::json::object{};
}

// Polls `pred` every millisecond until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Waits until the published model has consumed `n` events.
inline bool WaitConsumed(const Service& s, int64_t n) {
  return WaitFor([&] { return s.Latest() && s.Latest()->events_consumed >= n; });
}

// Services over one FakeLog topic (one partition) that snapshot into an
// in-memory store outliving them: a restart without a broker or a disk.
class FakeLogServices {
 protected:
  explicit FakeLogServices(Config config) : config_(std::move(config)) {
    log_.CreateTopic(config_.service.topic, 1);
  }

  // Example(from) .. Example(to - 1), keyed by request id.
  void Produce(int from, int to) {
    for (int i = from; i < to; ++i) {
      log_.Produce(config_.service.topic, "r" + std::to_string(i), Example(i));
    }
  }

  // A started service reading the topic, snapshotting into store_.
  std::unique_ptr<Service> Start() { return Start(config_); }
  // ... of another config (same topic and group): a restart after a change.
  std::unique_ptr<Service> Start(const Config& config) {
    ServiceSeams seams;
    seams.source = log_.NewSource({config.service.topic}, config.service.group_id);
    seams.snapshots = std::make_unique<BorrowedStore>(&store_);
    StatusOr<std::unique_ptr<Service>> s = Service::Create(config, SystemClock(), std::move(seams));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->Start().ok());
    return std::move(s).value();
  }

  const Config config_;
  fakes::FakeLog log_;
  store::InMemorySnapshotStore store_;
};

}  // namespace ranker::app::testing
