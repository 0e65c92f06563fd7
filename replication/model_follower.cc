#include "replication/model_follower.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <random>
#include <utility>
#include <vector>

#include "base/thread.h"

namespace ranker::app {
namespace {

// A group of its own per follower process: it reads every partition from
// the beginning and never commits, so followers never share or move work.
std::string FollowerGroup(const std::string& group_id) {
  std::random_device rd;
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
  return group_id + "-follower-" + buf;
}

uint64_t EpochOf(const ingest::SourceMessage& m) {
  for (const auto& [name, value] : m.headers) {
    if (name != kEpochHeader) continue;
    uint64_t epoch = 0;
    std::from_chars(value.data(), value.data() + value.size(), epoch);
    return epoch;
  }
  return 0;
}

// The leader's GET /v1/model body with what the follower adds.
std::string FollowerReport(const CommitHeader& h, int64_t applied_ms, size_t rows,
                           PublishedModel* p) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(h.report_json, ec);
  boost::json::object report =
      !ec && v.is_object() ? std::move(v.get_object()) : boost::json::object{};
  if (const boost::json::value* e = report.if_contains("events_consumed"); e && e->is_number()) {
    p->events_consumed = e->to_number<int64_t>();
  }
  if (const boost::json::value* e = report.if_contains("examples_trained"); e && e->is_number()) {
    p->examples_trained = e->to_number<int64_t>();
  }
  report["model_version"] = h.version;
  report["param_checksum"] = h.param_checksum;
  report["role"] = "follower";
  report["published_at_ms"] = applied_ms;
  report["leader"] = {{"model_version", h.version},
                      {"epoch", h.epoch},
                      {"published_at_ms", h.published_at_ms},
                      {"checkpoint", h.full},
                      {"apply_delay_ms", applied_ms - h.published_at_ms},
                      {"embedding_rows", rows}};
  return boost::json::serialize(report);
}

}  // namespace

StatusOr<std::unique_ptr<ModelFollower>> ModelFollower::Create(
    const Config& config, ModelPublisher* publisher, const Clock* clock,
    prometheus::Registry* registry, std::function<void(const PublishedModel&)> on_publish,
    std::function<void(const std::string&)> on_champion) {
  const ServiceOptions& o = config.service;
  ingest::KafkaSourceOptions s;
  s.brokers = o.brokers;
  s.topics = {o.model_topic.name};
  s.group_id = FollowerGroup(o.group_id);
  s.kafka = config.kafka;
  s.log_to_stderr = o.log_kafka_errors;
  StatusOr<std::unique_ptr<ingest::KafkaSource>> source = ingest::KafkaSource::Create(s);
  if (!source.ok()) return source.status();
  std::unique_ptr<ModelFollower> f(new ModelFollower(config, std::move(source).value(), publisher,
                                                     clock, std::move(on_publish),
                                                     std::move(on_champion)));
  f->RegisterMetrics(registry);
  return f;
}

ModelFollower::ModelFollower(const Config& config, std::unique_ptr<ingest::KafkaSource> source,
                             ModelPublisher* publisher, const Clock* clock,
                             std::function<void(const PublishedModel&)> on_publish,
                             std::function<void(const std::string&)> on_champion)
    : config_(config),
      source_(std::move(source)),
      publisher_(publisher),
      clock_(clock),
      on_publish_(std::move(on_publish)),
      on_champion_(std::move(on_champion)) {}

ModelFollower::~ModelFollower() { Stop(); }

void ModelFollower::RegisterMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) return;
  auto& commits = prometheus::BuildCounter()
                      .Name("ranker_follower_commits_total")
                      .Help("Model-topic commits the follower applied or rejected")
                      .Register(*registry);
  applied_metric_ = &commits.Add({{"result", "applied"}});
  rejected_metric_ = &commits.Add({{"result", "rejected"}});
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
  };
  version_lag_metric_ =
      gauge("ranker_follower_version_lag", "Newest leader version read minus the version served");
  lag_messages_metric_ =
      gauge("ranker_follower_lag_messages", "Model-topic messages the follower has not read yet");
  // From the leader's publication (includes waiting for interval_ms) and
  // from the leader's send of the commit (topic + rebuild), wall clocks.
  auto& delay = prometheus::BuildHistogram()
                    .Name("ranker_follower_apply_delay_seconds")
                    .Help(
                        "Leader publication (from=published) or commit send (from=sent) to "
                        "the follower serving the version")
                    .Register(*registry);
  const prometheus::Histogram::BucketBoundaries bounds = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  published_delay_metric_ = &delay.Add({{"from", "published"}}, bounds);
  sent_delay_metric_ = &delay.Add({{"from", "sent"}}, bounds);
}

Status ModelFollower::Start() {
  started_ = true;
  RANKER_RETURN_IF_ERROR(source_->Start(this));
  thread_ = std::thread([this] {
    SetThreadName("ranker-follow");
    Run();
  });
  return Status::OK();
}

void ModelFollower::Stop() {
  if (!started_) return;
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  (void)source_->Close();
}

ingest::OffsetMap ModelFollower::OnAssigned(const std::vector<ingest::TopicPartition>& partitions) {
  ingest::OffsetMap from;
  for (const ingest::TopicPartition& tp : partitions) from[tp] = ingest::kOffsetBeginning;
  return from;
}

void ModelFollower::Run() {
  while (!stop_.load()) {
    for (const ingest::SourceMessage& m : source_->Pop(1024, std::chrono::milliseconds(50))) {
      Handle(m);
    }
  }
}

void ModelFollower::Handle(const ingest::SourceMessage& m) {
  {
    MutexLock lock(&mu_);
    ++counters_.messages;
  }
  if (const std::optional<uint64_t> key = ParseRowKey(m.key)) {
    staged_[*key] = Staged{m.payload, m.payload.empty(), EpochOf(m)};
  } else if (const std::optional<uint32_t> chunk = ParseDenseKey(m.key)) {
    dense_[*chunk] = m.payload;
  } else if (m.key == kCommitKey) {
    StatusOr<CommitHeader> h = DecodeCommit(m.payload);
    if (h.ok()) {
      OnCommit(*h);
    } else {
      Reject(h.status().message());
    }
  }  // other keys: not ours, ignored
}

void ModelFollower::OnCommit(const CommitHeader& h) {
  {
    MutexLock lock(&mu_);
    counters_.newest_version = h.version;
  }
  StatusOr<std::unique_ptr<learner::Model>> model = Build(h);
  // Without a version yet, every row read so far may still be needed: on a
  // compacted topic the rows of older commits come without their commits.
  if (model.ok() || served_ != nullptr) staged_.clear();
  if (!model.ok()) {
    Reject("version " + std::to_string(h.version) + ": " + model.status().message());
    return;
  }
  Publish(h, std::move(model).value());
}

StatusOr<std::unique_ptr<learner::Model>> ModelFollower::Build(const CommitHeader& h) const {
  std::string state;
  for (uint32_t i = 0; i < h.dense_chunks; ++i) {
    const auto it = dense_.find(i);
    if (it == dense_.end())
      return Status::Corruption("dense chunk " + std::to_string(i) + " missing");
    state += it->second;
  }
  // A checkpoint holds every row: start empty and take only its own rows. A
  // delta with no version to apply it to (a late follower) is tried on every
  // row read so far: on a compacted model topic that is the whole model, and
  // the checksum below tells; otherwise it waits for a checkpoint.
  const learner::Model* base = h.full || served_ == nullptr ? nullptr : served_->model.get();
  std::vector<std::pair<uint64_t, std::string>> changed;
  std::vector<uint64_t> removed;
  for (const auto& [key, s] : staged_) {
    if (h.full && s.epoch != h.epoch) continue;
    if (s.removed) {
      removed.push_back(key);
    } else {
      changed.emplace_back(key, s.bytes);
    }
  }
  StatusOr<std::unique_ptr<learner::Model>> model =
      learner::Model::RestoreDelta(state, base, changed, removed, config_.model, config_.optimizer);
  if (!model.ok()) return model.status();
  if ((*model)->ParamChecksumHex() != h.param_checksum) {
    return Status::Corruption("rebuilt parameters do not match the commit's param_checksum " +
                              h.param_checksum + (h.full ? "" : " (waiting for a checkpoint)"));
  }
  return model;
}

void ModelFollower::Publish(const CommitHeader& h, std::unique_ptr<learner::Model> model) {
  auto p = std::make_shared<PublishedModel>();
  const int64_t now = clock_->NowMs();
  p->model = std::move(model);
  p->version = h.version;
  p->published_at_ms = now;
  p->report_json = FollowerReport(h, now, p->model->embedding_rows(), p.get());
  served_ = p;
  publisher_->Install(std::move(p), on_publish_);
  if (on_champion_ && !h.champion.empty()) on_champion_(h.champion);
  {
    MutexLock lock(&mu_);
    ++counters_.commits_applied;
    if (h.full) ++counters_.checkpoints_applied;
    counters_.applied_version = h.version;
    counters_.applied_epoch = h.epoch;
    counters_.last_delay_ms = now - h.published_at_ms;
  }
  if (applied_metric_ != nullptr) applied_metric_->Increment();
  if (published_delay_metric_ != nullptr) {
    published_delay_metric_->Observe((now - h.published_at_ms) / 1000.0);
    sent_delay_metric_->Observe((now - h.sent_at_ms) / 1000.0);
  }
}

void ModelFollower::Reject(const std::string& why) {
  std::fprintf(stderr, "ranker follower: commit rejected: %s\n", why.c_str());
  MutexLock lock(&mu_);
  ++counters_.commits_rejected;
  counters_.last_error = why;
  if (rejected_metric_ != nullptr) rejected_metric_->Increment();
}

FollowerCounters ModelFollower::counters() const {
  FollowerCounters c;
  {
    MutexLock lock(&mu_);
    c = counters_;
  }
  for (const auto& [tp, state] : source_->Counters().partitions) {
    if (state.lag > 0) c.lag_messages += state.lag;
  }
  return c;
}

void ModelFollower::Scrape() const {
  const FollowerCounters c = counters();
  if (version_lag_metric_ != nullptr) {
    version_lag_metric_->Set(c.newest_version > c.applied_version
                                 ? static_cast<double>(c.newest_version - c.applied_version)
                                 : 0.0);
  }
  if (lag_messages_metric_ != nullptr)
    lag_messages_metric_->Set(static_cast<double>(c.lag_messages));
}

}  // namespace ranker::app
