// In-memory twin of the Kafka side of ingest: FakeLog holds partitioned
// topics and consumer groups; FakeEventSource is a group member implementing
// ingest::EventSource. Header-only, for tests. The contract suite
// (tests/ingest/kafka_contract_test.cc) runs against it and KafkaSource, so
// the two behave alike wherever the EventSource contract speaks.
//
// Group semantics: EAGER round-robin. A member joining (Start) or leaving
// (Close) rebalances synchronously on the calling thread: every member's
// listener gets OnRevoked for its whole assignment, then OnAssigned for its
// new one. Thread-safe.
#pragma once

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/hash.h"
#include "ingest/event_source.h"

namespace ranker::fakes {

class FakeEventSource;

class FakeLog {
 public:
  // REQUIRES: partitions >= 1 and the topic does not exist yet.
  void CreateTopic(const std::string& topic, int partitions) {
    std::lock_guard<std::mutex> lock(mu_);
    assert(partitions >= 1 && !topics_.contains(topic));
    topics_[topic].resize(static_cast<size_t>(partitions));
  }

  // Appends to the partition `Hash64(key) % partitions`; returns the offset.
  int64_t Produce(const std::string& topic, const std::string& key, const std::string& payload,
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& parts = topics_.at(topic);
    const auto p = static_cast<int32_t>(Hash64(key) % parts.size());
    ingest::SourceMessage m;
    m.topic = topic;
    m.partition = p;
    m.offset = static_cast<int64_t>(parts[p].size());
    m.key = key;
    m.payload = payload;
    m.timestamp_ms = 0;
    m.headers = std::move(headers);
    parts[p].push_back(std::move(m));
    cv_.notify_all();
    return parts[p].back().offset;
  }

  int64_t EndOffset(const ingest::TopicPartition& tp) const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(topics_.at(tp.topic).at(tp.partition).size());
  }

  std::optional<int64_t> Committed(const std::string& group,
                                   const ingest::TopicPartition& tp) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto g = groups_.find(group);
    if (g == groups_.end()) return std::nullopt;
    auto it = g->second.committed.find(tp);
    if (it == g->second.committed.end()) return std::nullopt;
    return it->second;
  }

  // The member is borrowed-free: it references this log, which must outlive it.
  std::unique_ptr<FakeEventSource> NewSource(std::vector<std::string> topics, std::string group);

 private:
  friend class FakeEventSource;
  struct Group {
    std::vector<FakeEventSource*> members;  // join order
    std::map<ingest::TopicPartition, int64_t> committed;
  };

  // Revokes everything, then deals the partitions round-robin.
  // REQUIRES: rebalance_mu_ held, mu_ not held.
  void Rebalance(const std::string& group);

  mutable std::mutex rebalance_mu_;  // serialises group changes; before mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;  // data appended, assignment changed, member closed
  std::map<std::string, std::vector<std::vector<ingest::SourceMessage>>> topics_;
  std::map<std::string, Group> groups_;
};

class FakeEventSource final : public ingest::EventSource {
 public:
  FakeEventSource(FakeLog* log, std::vector<std::string> topics, std::string group)
      : log_(log), topics_(std::move(topics)), group_(std::move(group)) {}
  ~FakeEventSource() override { (void)Close(); }

  Status Start(ingest::RebalanceListener* listener) override {
    std::lock_guard<std::mutex> rb(log_->rebalance_mu_);
    {
      std::lock_guard<std::mutex> lock(log_->mu_);
      assert(!started_);
      if (closed_) return Status::FailedPrecondition("fake source: Start() after Close()");
      started_ = true;
      listener_ = listener;
      log_->groups_[group_].members.push_back(this);
    }
    log_->Rebalance(group_);
    return Status::OK();
  }

  std::vector<ingest::SourceMessage> Pop(size_t max, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(log_->mu_);
    std::vector<ingest::SourceMessage> out;
    if (!log_->cv_.wait_for(lock, timeout, [&] { return closed_ || ReadyLocked(); }) || closed_) {
      return out;
    }
    bool progress = true;
    while (out.size() < max && progress) {  // round-robin, one at a time
      progress = false;
      for (auto& [tp, pos] : assigned_) {
        const auto& log = log_->topics_.at(tp.topic).at(tp.partition);
        if (out.size() >= max || pos.paused || pos.revoking ||
            pos.next >= static_cast<int64_t>(log.size())) {
          continue;
        }
        out.push_back(log[pos.next++]);
        ++counters_.consumed;
        counters_.consumed_bytes += out.back().key.size() + out.back().payload.size();
        progress = true;
      }
    }
    return out;
  }

  Status CommitOffsets(const ingest::OffsetMap& next_offsets) override {
    std::lock_guard<std::mutex> lock(log_->mu_);
    for (const auto& [tp, offset] : next_offsets) {
      if (!assigned_.contains(tp)) {
        return Status::FailedPrecondition("commit: partition " + tp.topic + "[" +
                                          std::to_string(tp.partition) +
                                          "] is not assigned to this member");
      }
    }
    for (const auto& [tp, offset] : next_offsets) log_->groups_[group_].committed[tp] = offset;
    return Status::OK();
  }

  void Pause(const std::vector<ingest::TopicPartition>& partitions) override {
    SetPaused(partitions, true);
  }
  void Resume(const std::vector<ingest::TopicPartition>& partitions) override {
    SetPaused(partitions, false);
  }

  Status Seek(const ingest::OffsetMap& next_offsets) override {
    std::lock_guard<std::mutex> lock(log_->mu_);
    for (const auto& [tp, offset] : next_offsets) {
      if (!assigned_.contains(tp)) {
        return Status::FailedPrecondition("seek: partition " + tp.topic + "[" +
                                          std::to_string(tp.partition) +
                                          "] is not assigned to this member");
      }
    }
    for (const auto& [tp, offset] : next_offsets) assigned_[tp].next = std::max<int64_t>(offset, 0);
    return Status::OK();
  }

  std::vector<ingest::TopicPartition> Assignment() const override {
    std::lock_guard<std::mutex> lock(log_->mu_);
    std::vector<ingest::TopicPartition> tps;
    for (const auto& entry : assigned_) tps.push_back(entry.first);
    return tps;
  }

  ingest::SourceCounters Counters() const override {
    std::lock_guard<std::mutex> lock(log_->mu_);
    ingest::SourceCounters c = counters_;
    for (const auto& [tp, pos] : assigned_) {
      auto& s = c.partitions[tp];
      s.next_offset = pos.next;
      s.high_watermark = static_cast<int64_t>(log_->topics_.at(tp.topic).at(tp.partition).size());
      s.lag = s.high_watermark - s.next_offset;
    }
    return c;
  }

  Status Close() override {
    std::lock_guard<std::mutex> rb(log_->rebalance_mu_);
    bool was_member;
    {
      std::lock_guard<std::mutex> lock(log_->mu_);
      if (closed_) return Status::OK();
      was_member = started_;
    }
    if (was_member) {
      RevokeAll();
      std::lock_guard<std::mutex> lock(log_->mu_);
      auto& members = log_->groups_[group_].members;
      members.erase(std::find(members.begin(), members.end(), this));
    }
    {
      std::lock_guard<std::mutex> lock(log_->mu_);
      closed_ = true;
      log_->cv_.notify_all();
    }
    if (was_member) log_->Rebalance(group_);
    return Status::OK();
  }

 private:
  friend class FakeLog;
  struct Position {
    int64_t next = 0;
    bool paused = false;
    bool revoking = false;  // OnRevoked is running: deliver nothing more
  };

  bool ReadyLocked() const {
    for (const auto& [tp, pos] : assigned_) {
      if (!pos.paused && !pos.revoking &&
          pos.next < static_cast<int64_t>(log_->topics_.at(tp.topic).at(tp.partition).size())) {
        return true;
      }
    }
    return false;
  }

  void SetPaused(const std::vector<ingest::TopicPartition>& partitions, bool paused) {
    std::lock_guard<std::mutex> lock(log_->mu_);
    for (const auto& tp : partitions) {
      if (auto it = assigned_.find(tp); it != assigned_.end()) it->second.paused = paused;
    }
    log_->cv_.notify_all();
  }

  // REQUIRES: log_->rebalance_mu_ held, log_->mu_ not held.
  // Delivery from the partitions stops before OnRevoked runs, as with a real
  // consumer: the offsets the listener saves there are final.
  void RevokeAll() {
    std::vector<ingest::TopicPartition> tps;
    {
      std::lock_guard<std::mutex> lock(log_->mu_);
      for (auto& [tp, pos] : assigned_) {
        pos.revoking = true;
        tps.push_back(tp);
      }
    }
    if (tps.empty()) return;
    listener_->OnRevoked(tps);
    std::lock_guard<std::mutex> lock(log_->mu_);
    assigned_.clear();
    ++counters_.rebalances;
  }

  // REQUIRES: log_->rebalance_mu_ held, log_->mu_ not held.
  void Assign(const std::vector<ingest::TopicPartition>& tps) {
    if (tps.empty()) return;
    const ingest::OffsetMap start = listener_->OnAssigned(tps);
    std::lock_guard<std::mutex> lock(log_->mu_);
    const auto& committed = log_->groups_[group_].committed;
    for (const auto& tp : tps) {
      Position pos;
      if (auto s = start.find(tp); s != start.end()) {
        pos.next = std::max<int64_t>(s->second, 0);  // kOffsetBeginning: 0
      } else if (auto c = committed.find(tp); c != committed.end()) {
        pos.next = c->second;
      }
      assigned_[tp] = pos;
    }
    ++counters_.rebalances;
    log_->cv_.notify_all();
  }

  FakeLog* const log_;
  const std::vector<std::string> topics_;
  const std::string group_;
  ingest::RebalanceListener* listener_ = nullptr;
  // All GUARDED_BY(log_->mu_):
  bool started_ = false;
  bool closed_ = false;
  std::map<ingest::TopicPartition, Position> assigned_;
  ingest::SourceCounters counters_;
};

inline std::unique_ptr<FakeEventSource> FakeLog::NewSource(std::vector<std::string> topics,
                                                           std::string group) {
  return std::make_unique<FakeEventSource>(this, std::move(topics), std::move(group));
}

inline void FakeLog::Rebalance(const std::string& group) {
  std::vector<FakeEventSource*> members;
  {
    std::lock_guard<std::mutex> lock(mu_);
    members = groups_[group].members;
  }
  for (FakeEventSource* m : members) m->RevokeAll();
  if (members.empty()) return;
  std::vector<std::vector<ingest::TopicPartition>> deal(members.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ingest::TopicPartition> all;
    for (const auto& topic : members.front()->topics_) {
      auto it = topics_.find(topic);
      if (it == topics_.end()) continue;
      for (size_t p = 0; p < it->second.size(); ++p) {
        all.push_back({topic, static_cast<int32_t>(p)});
      }
    }
    for (size_t i = 0; i < all.size(); ++i) deal[i % members.size()].push_back(all[i]);
  }
  for (size_t i = 0; i < members.size(); ++i) members[i]->Assign(deal[i]);
}

}  // namespace ranker::fakes
