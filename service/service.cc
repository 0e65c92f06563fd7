#include "service/service.h"

#include <cstdio>
#include <utility>

#include "base/memory.h"
#include "ingest/kafka_source.h"
#include "store/rocksdb_snapshot_store.h"

namespace ranker::app {
namespace {

LearnerLoopOptions LoopOptions(const ServiceOptions& o) {
  LearnerLoopOptions l;
  l.publish_interval_ms = o.publish_interval_ms;
  l.flush_joiner_on_stop = o.flush_joiner_on_stop;
  l.local_queue_max_events = o.local_queue_max_events;
  l.thread_nice = o.learner_nice;
  return l;
}

SnapshotOptions SnapshotterOptions(const ServiceOptions& o) {
  SnapshotOptions s = o.snapshot;
  s.thread_nice = o.learner_nice;
  return s;
}

std::string IdPrefix(const Clock* clock) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "rq-%llx-", static_cast<unsigned long long>(clock->NowMs()));
  return buf;
}

}  // namespace

StatusOr<std::unique_ptr<Service>> Service::Create(const Config& config, const Clock* clock,
                                                   ReplicationFactories replication) {
  RANKER_RETURN_IF_ERROR(config.Validate());
  if (config.service.follower()) return CreateFollower(config, clock, std::move(replication));
  StatusOr<ServiceSeams> seams = RealSeams(config, std::move(replication));
  if (!seams.ok()) return seams.status();
  return Create(config, clock, std::move(seams).value());
}

StatusOr<std::unique_ptr<Service>> Service::Create(const Config& config, const Clock* clock,
                                                   ServiceSeams seams) {
  RANKER_RETURN_IF_ERROR(config.Validate());
  if (config.service.follower()) return CreateFollower(config, clock, std::move(seams.replication));
  StatusOr<std::unique_ptr<LearningPipeline>> pipeline =
      LearningPipeline::Create(config.pipeline());
  if (!pipeline.ok()) return pipeline.status();
  std::unique_ptr<Service> service(new Service(config, clock, std::move(seams.replication)));
  // The challengers first: a snapshot restores them with the champion.
  if (!config.challengers.empty()) {
    ChallengerSetOptions options;
    options.thread_nice = config.service.learner_nice;
    options.reclaimer = service->reclaimer_.get();
    StatusOr<std::unique_ptr<ChallengerSet>> set =
        ChallengerSet::Create(config.challengers, options);
    if (!set.ok()) return set.status();
    service->challengers_ = std::move(set).value();
    service->challenger_metrics_ =
        std::make_unique<ChallengerMetrics>(&service->metrics_->registry());
    (*pipeline)->set_tap(service->challengers_.get());
  }
  ingest::OffsetMap resume;
  if (seams.snapshots != nullptr) {
    RANKER_RETURN_IF_ERROR(
        service->OpenSnapshots(std::move(seams.snapshots), pipeline->get(), &resume));
  }
  if (!config.service.brokers.empty()) RANKER_RETURN_IF_ERROR(service->CreateProducer());
  if (seams.source != nullptr) {
    service->source_ = std::move(seams.source);
    service->committer_ = std::make_unique<OffsetCommitter>(service->source_.get());
  }
  service->CreateLearner(std::move(pipeline).value());
  if (!resume.empty()) service->learner_->ResumeFrom(resume);
  return service;
}

StatusOr<ServiceSeams> Service::RealSeams(const Config& config, ReplicationFactories replication) {
  const ServiceOptions& o = config.service;
  ServiceSeams seams;
  seams.replication = std::move(replication);
  if (o.snapshot.enabled()) {
    store::RocksDbStoreOptions so;
    so.sync = o.snapshot.sync;
    StatusOr<std::unique_ptr<store::RocksDbSnapshotStore>> db =
        store::RocksDbSnapshotStore::Open(o.snapshot.dir, so);
    if (!db.ok()) {
      return Status::IOError("snapshot.dir " + o.snapshot.dir + ": " + db.status().message());
    }
    seams.snapshots = std::move(db).value();
  }
  if (!o.brokers.empty()) {
    ingest::KafkaSourceOptions s;
    s.brokers = o.brokers;
    s.topics = {o.topic};
    s.group_id = o.group_id;
    s.kafka = config.kafka;
    if (!o.group_instance_id.empty()) s.kafka.try_emplace("group.instance.id", o.group_instance_id);
    s.queue_max_messages = o.queue_max_messages;
    s.log_to_stderr = o.log_kafka_errors;
    s.decode = config.ingest;  // the pipeline's decoder: JSON is parsed off the learner thread
    StatusOr<std::unique_ptr<ingest::KafkaSource>> source = ingest::KafkaSource::Create(s);
    if (!source.ok()) return source.status();
    seams.source = std::move(source).value();
  }
  return seams;
}

Status Service::OpenSnapshots(std::unique_ptr<store::SnapshotStore> store,
                              LearningPipeline* pipeline, ingest::OffsetMap* resume) {
  RANKER_RETURN_IF_ERROR(config_.service.snapshot.Validate());
  snapshotter_ =
      std::make_unique<Snapshotter>(std::move(store), SnapshotterOptions(config_.service), clock_);
  snapshotter_->set_challengers(challengers_.get());
  snapshotter_->set_champion(
      [this] {
        MutexLock lock(&champion_mu_);
        return champion_;
      },
      [this](const std::string& name) { RestoreChampion(name); });
  // Streamed: the rows go from the store's iterator into the table, so a
  // 10M-row restore never holds them twice.
  StatusOr<Snapshotter::Loaded> latest = snapshotter_->ReadLatest(pipeline->options());
  if (!latest.ok() && latest.status().code() == Status::Code::kNotFound) return Status::OK();
  // A snapshot of another model shape: a configuration error, said as is.
  if (!latest.ok() && latest.status().code() == Status::Code::kInvalidArgument) {
    return latest.status();
  }
  if (!latest.ok()) {
    // Starting empty would silently drop the model: refuse, and say why.
    return Status::Corruption("snapshot.dir " + config_.service.snapshot.dir +
                              ": no snapshot can be restored (" + latest.status().message() +
                              "); move the directory away to start from an empty model");
  }
  const store::Snapshot head = latest->head;  // Apply() reads its offsets too
  const uint64_t rows = latest->rows;
  RANKER_RETURN_IF_ERROR(snapshotter_->Apply(std::move(latest).value(), pipeline));
  snapshotter_->Rebase(head, rows);
  publisher_.ContinueFrom(head.model_version);
  *resume = Snapshotter::ToSourceOffsets(head.offsets);
  TrimHeap();  // the restore's buffers: freed, but in the RSS until handed back
  std::fprintf(
      stderr, "ranker: restored snapshot %llu (model version %llu, %llu rows, %lld events)\n",
      static_cast<unsigned long long>(head.id), static_cast<unsigned long long>(head.model_version),
      static_cast<unsigned long long>(rows), static_cast<long long>(pipeline->events_consumed()));
  return Status::OK();
}

StatusOr<std::unique_ptr<Service>> Service::CreateFollower(const Config& config, const Clock* clock,
                                                           ReplicationFactories replication) {
  if (!replication.follower) {
    return Status::FailedPrecondition(
        "service.role follower: this build has no model-topic reader");
  }
  std::unique_ptr<Service> service(new Service(config, clock, std::move(replication)));
  Service* s = service.get();
  // The leader's champion, from the main topic's commits: followers switch
  // with it (a name this config lacks leaves 'main' serving).
  StatusOr<std::unique_ptr<ModelFeed>> follower = s->replication_.follower(
      config, &s->publisher_, clock, &s->metrics_->registry(),
      [s](const PublishedModel& m) { s->service_metrics_->OnPublish(m); },
      [s](const std::string& name) { s->SetChampion(s->IsModel(name) ? name : "main"); });
  if (!follower.ok()) return follower.status();
  service->follower_ = std::move(follower).value();
  // Each challenger of the config from its own topic, with its own shape.
  for (const ChallengerConfig& ch : config.challengers) {
    Config one = config;
    one.model = ch.pipeline.model;
    one.optimizer = ch.pipeline.optimizer;
    one.challengers.clear();
    one.service.model_topic.name = ChallengerTopic(config.service.model_topic.name, ch.name);
    FollowedChallenger f;
    f.name = ch.name;
    f.publisher = std::make_unique<ModelPublisher>(s->reclaimer_.get());
    // No registry: the follower families are the champion's.
    StatusOr<std::unique_ptr<ModelFeed>> feed =
        s->replication_.follower(one, f.publisher.get(), clock, nullptr, {}, {});
    if (!feed.ok()) return feed.status();
    f.feed = std::move(feed).value();
    service->followed_.push_back(std::move(f));
  }
  return service;
}

StatusOr<store::SnapshotInfo> Service::TakeSnapshot() {
  if (learner_ == nullptr)
    return Status::FailedPrecondition("service.role is follower: no snapshots");
  StatusOr<uint64_t> id = learner_->RequestSnapshot(std::chrono::seconds(30));
  if (!id.ok()) return id.status();
  return snapshotter_->Wait(*id, std::chrono::minutes(2));
}

StatusOr<RestoredSnapshot> Service::RestoreSnapshot(uint64_t id) {
  if (learner_ == nullptr)
    return Status::FailedPrecondition("service.role is follower: no snapshots");
  StatusOr<LearnerLoop::Restored> restored = learner_->RequestRestore(id, std::chrono::minutes(2));
  if (!restored.ok()) return restored.status();
  return RestoredSnapshot{restored->model_version, restored->param_checksum};
}

std::vector<store::SnapshotInfo> Service::ListSnapshots() const {
  if (snapshotter_ == nullptr) return {};
  return snapshotter_->List();
}

std::optional<store::SnapshotInfo> Service::LastSnapshot() const {
  if (snapshotter_ == nullptr) return std::nullopt;
  const SnapshotStats stats = snapshotter_->stats();
  if (stats.last.id == 0) return std::nullopt;
  return stats.last;
}

ServingDeps Service::Routes() {
  ServingDeps deps;
  deps.models = this;
  deps.events = config_.service.follower() ? nullptr : this;
  deps.snapshots = this;
  deps.promoter = this;  // (built in the constructor: challengers_ is not made yet)
  deps.rank = config_.service.rank;
  deps.score_pool = score_pool_.get();
  deps.new_request_id = [this] { return NewRequestId(); };
  deps.render_metrics = [this] { return RenderMetrics(); };
  deps.ready = [this] { return Ready(); };
  return deps;
}

Service::Service(const Config& config, const Clock* clock, ReplicationFactories replication)
    : config_(config),
      clock_(clock),
      id_prefix_(IdPrefix(clock)),
      replication_(std::move(replication)),
      metrics_(std::make_unique<api::Metrics>()),
      service_metrics_(std::make_unique<ServiceMetrics>(metrics_.get())),
      reclaimer_(std::make_unique<Reclaimer>("ranker-reclaim", config.service.learner_nice)),
      publisher_(reclaimer_.get()) {
  metrics_->AddCollectable(std::make_shared<ServiceCounters>([this] { return CurrentCounters(); }));
  score_pool_ = std::make_unique<WorkerPool>(config.service.score_threads - 1, "ranker-score");
  router_ = std::make_unique<api::Router>(api::RouterOptions{config.service.admin_token});
  AddServiceRoutes(Routes(), router_.get());
  http_ = std::make_unique<api::HttpServer>(config.service.http, router_.get(), metrics_.get());
}

Service::~Service() { Stop(); }

Status Service::CreateProducer() {
  const ServiceOptions& o = config_.service;
  ingest::KafkaProducerOptions p;
  p.brokers = o.brokers;
  p.kafka = config_.kafka;
  p.log_to_stderr = o.log_kafka_errors;
  StatusOr<std::unique_ptr<ingest::KafkaProducer>> producer = ingest::KafkaProducer::Create(p);
  if (!producer.ok()) return producer.status();
  producer_ = std::move(producer).value();
  if (o.model_topic.enabled && replication_.broadcaster) {
    broadcaster_ = replication_.broadcaster(o.model_topic, producer_.get(), &publisher_, clock_,
                                            &metrics_->registry());
    broadcaster_->OnChampion(champion());  // a restored snapshot's
  }
  // Each challenger on its own topic (no registry: the families are the
  // champion's topic's).
  if (o.model_topic.enabled && challengers_ != nullptr && replication_.challenger_broadcaster) {
    for (size_t i = 0; i < challengers_->size(); ++i) {
      ModelTopicOptions topic = o.model_topic;
      topic.name = ChallengerTopic(o.model_topic.name, challengers_->name(i));
      challenger_broadcasters_.push_back(
          replication_.challenger_broadcaster(topic, producer_.get(), clock_));
      challengers_->set_listener(i, challenger_broadcasters_.back().get());
    }
  }
  if (!o.dead_letter_topic.empty()) {
    dead_letters_ = std::make_unique<ingest::DeadLetterSink>(producer_.get(), o.dead_letter_topic);
  }
  return Status::OK();
}

void Service::CreateLearner(std::unique_ptr<LearningPipeline> pipeline) {
  LearnerLoopDeps deps;
  deps.source = source_.get();
  deps.committer = committer_.get();
  deps.dead_letters = dead_letters_.get();
  deps.publisher = &publisher_;
  deps.clock = clock_;
  deps.snapshotter = snapshotter_.get();
  deps.broadcaster = broadcaster_.get();
  deps.producer = producer_.get();
  deps.on_publish = [this](const PublishedModel& m) {
    service_metrics_->OnPublish(m);
    if (challengers_ != nullptr) challengers_->Publish(m.version, m.published_at_ms);
  };
  learner_ = std::make_unique<LearnerLoop>(std::move(pipeline), LoopOptions(config_.service),
                                           std::move(deps));
}

Status Service::Start() {
  started_ = true;
  if (follower_ != nullptr) RANKER_RETURN_IF_ERROR(follower_->Start());
  for (FollowedChallenger& f : followed_) RANKER_RETURN_IF_ERROR(f.feed->Start());
  if (challengers_ != nullptr) challengers_->Start();
  if (learner_ != nullptr) learner_->Start();
  if (source_ != nullptr) RANKER_RETURN_IF_ERROR(source_->Start(learner_.get()));
  if (config_.service.http_enabled) {
    RANKER_RETURN_IF_ERROR(http_->Start());
    http_up_.store(true);
  }
  return Status::OK();
}

void Service::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  if (follower_ != nullptr) follower_->Stop();
  for (FollowedChallenger& f : followed_) f.feed->Stop();
  if (learner_ != nullptr) learner_->Stop();  // drains, publishes and broadcasts the final version
  if (challengers_ != nullptr) challengers_->Stop();  // trains what the learner handed over
  // The challengers' final versions go out before the producer flushes.
  for (const std::unique_ptr<ChallengerListener>& b : challenger_broadcasters_) b->Drain();
  if (committer_ != nullptr) {
    (void)committer_->CommitNow();
    committer_->Stop();
  }
  if (source_ != nullptr) (void)source_->Close();  // revoke commits again, then leaves
  if (producer_ != nullptr) (void)producer_->Flush(std::chrono::milliseconds(5000));
  http_up_.store(false);
  http_->Stop();
}

std::shared_ptr<const PublishedModel> Service::Challenger(std::string_view name) const {
  for (const FollowedChallenger& f : followed_) {
    if (f.name == name) return f.publisher->Latest();
  }
  const int i = challengers_ != nullptr ? challengers_->Find(name) : -1;
  return i >= 0 ? challengers_->Latest(i) : nullptr;
}

const ModelFeed* Service::challenger_follower(std::string_view name) const {
  for (const FollowedChallenger& f : followed_) {
    if (f.name == name) return f.feed.get();
  }
  return nullptr;
}

bool Service::IsModel(std::string_view name) const {
  if (name == "main") return true;
  for (const FollowedChallenger& f : followed_) {
    if (f.name == name) return true;
  }
  return challengers_ != nullptr && challengers_->Find(name) >= 0;
}

std::string Service::champion() const {
  MutexLock lock(&champion_mu_);
  return champion_;
}

void Service::SetChampion(const std::string& name) {
  {
    MutexLock lock(&champion_mu_);
    champion_ = name;
  }
  if (broadcaster_ != nullptr) broadcaster_->OnChampion(name);
}

std::shared_ptr<const PublishedModel> Service::Named(std::string_view name) const {
  if (name.empty() || name == "champion") {
    const std::string wanted = champion();
    // A follower may know the champion before the first version of its
    // topic: 'main' serves meanwhile.
    std::shared_ptr<const PublishedModel> m = wanted == "main" ? nullptr : Challenger(wanted);
    return m != nullptr ? m : Latest();
  }
  if (name == "main") return Latest();
  return Challenger(name);
}

std::vector<ModelSource::Entry> Service::Models() const {
  const std::string champion = this->champion();
  std::vector<Entry> out{{"main", Latest(), champion == "main"}};
  for (size_t i = 0; challengers_ != nullptr && i < challengers_->size(); ++i) {
    const std::string& name = challengers_->name(i);
    out.push_back({name, challengers_->Latest(i), champion == name});
  }
  for (const FollowedChallenger& f : followed_) {
    out.push_back({f.name, f.publisher->Latest(), champion == f.name});
  }
  return out;
}

void Service::RestoreChampion(const std::string& name) {
  const bool known = IsModel(name);
  if (!known) {
    std::fprintf(stderr,
                 "ranker: the snapshot's champion '%s' is not in the config: 'main' serves\n",
                 name.c_str());
  }
  SetChampion(known ? name : "main");
}

Status Service::Promote(std::string_view name) {
  if (follower_ != nullptr) {
    return Status::FailedPrecondition(
        "service.role is follower: promote on the leader (followers switch with it)");
  }
  if (challengers_ == nullptr) {
    return Status::NotFound("no challengers are configured (challengers:): nothing to promote");
  }
  if (!IsModel(name)) {
    return Status::NotFound("no model named '" + std::string(name) + "' (GET /v1/models)");
  }
  SetChampion(std::string(name));
  return Status::OK();
}

api::Response Service::Handle(api::Request request) const {
  std::string_view route;
  return router_->Dispatch(&request, &route);
}

ingest::SourceCounters Service::source_counters() const {
  return source_ != nullptr ? source_->Counters() : ingest::SourceCounters{};
}

Status Service::Submit(std::vector<AcceptedEvent>* events) {
  if (learner_ == nullptr) return Status::FailedPrecondition("service.role is follower");
  if (producer_ == nullptr) {
    std::vector<ingest::DecodeResult> decoded;
    decoded.reserve(events->size());
    for (AcceptedEvent& e : *events) decoded.push_back(std::move(e.decoded));
    return learner_->Enqueue(&decoded);
  }
  for (size_t i = 0; i < events->size(); ++i) {
    const AcceptedEvent& e = (*events)[i];
    Status s = producer_->Produce(config_.service.topic, e.key, e.payload);
    if (!s.ok()) {
      return Status::Unavailable(std::to_string(i) + " of " + std::to_string(events->size()) +
                                 " events were produced, then: " + s.message());
    }
  }
  return Status::OK();
}

void Service::RecordRejected(std::string_view key, std::string_view payload,
                             const ingest::DecodeError& error) {
  http_rejects_.Add(error.reason);
  if (dead_letters_ == nullptr) return;
  ingest::SourceMessage original;
  original.partition = -1;
  original.offset = -1;
  original.key = std::string(key);
  original.payload = std::string(payload);
  (void)dead_letters_->Send(original, ingest::RejectReasonName(error.reason), error.message);
}

Status Service::Ready() const {
  if (config_.service.http_enabled && !http_up_.load()) {
    return Status::Unavailable("HTTP is not serving");
  }
  if (source_ != nullptr) {
    const ingest::SourceCounters c = source_->Counters();
    if (!c.fatal_error.empty()) return Status::Unavailable("kafka consumer " + c.fatal_error);
  }
  if (Latest() == nullptr) {
    return Status::Unavailable(follower_ != nullptr ? "no model applied from the model topic yet"
                                                    : "no model version published yet");
  }
  return Status::OK();
}

std::string Service::RenderMetrics() const {
  const ingest::SourceCounters counters = source_counters();
  if (snapshotter_ != nullptr) service_metrics_->OnSnapshotScrape(snapshotter_->stats());
  service_metrics_->OnReclaimerScrape(reclaimer_->stats());
  if (follower_ != nullptr) follower_->Scrape();
  if (challengers_ != nullptr) challenger_metrics_->Scrape(*challengers_);
  service_metrics_->OnScrape(source_ != nullptr ? &counters : nullptr, clock_->NowMs());
  return metrics_->Render();
}

CounterTotals Service::CurrentCounters() const {
  CounterTotals t;
  if (const std::shared_ptr<const PublishedModel> m = Latest(); m != nullptr) {
    t.events_consumed = static_cast<uint64_t>(m->events_consumed);
    t.examples_trained = static_cast<uint64_t>(m->examples_trained);
    const learner::JoinerStats& j = m->join;
    for (const auto& [outcome, n] : std::initializer_list<std::pair<const char*, int64_t>>{
             {"impressions", j.impressions},
             {"clicks", j.clicks},
             {"watches", j.watches},
             {"joined_clicks", j.joined_clicks},
             {"joined_watches", j.joined_watches},
             {"examples_emitted", j.examples_emitted},
             {"passthrough", j.passthrough},
             {"duplicate_impressions", j.duplicate_impressions},
             {"late_engagements", j.late_engagements},
             {"orphan_engagements", j.orphan_engagements},
             {"evicted", j.evicted},
             {"watermarks", j.watermarks},
             {"corrections", j.corrections}}) {
      t.join.emplace_back(outcome, static_cast<uint64_t>(n));
    }
    if (m->model != nullptr) t.embedding_evicted = m->model->embeddings().evicted_rows();
  }
  // Rejects by reason: the log's (the learner's) and POST /v1/events'.
  static const ingest::RejectCounters kNone;
  const ingest::RejectCounters& log = learner_ != nullptr ? learner_->rejects() : kNone;
  log.ForEach([&](ingest::RejectReason reason, std::string_view name, uint64_t n) {
    t.rejected.emplace_back(std::string(name), n + http_rejects_.Get(reason));
  });
  if (snapshotter_ != nullptr) {
    const SnapshotStats stats = snapshotter_->stats();
    t.snapshots_ok = stats.written;
    t.snapshots_failed = stats.failed;
    t.snapshot_corrupt_skipped = stats.corrupt_skipped;
    t.snapshot_isa_mismatch = stats.isa_mismatch;
  }
  if (source_ != nullptr) {
    const ingest::SourceCounters c = source_->Counters();
    t.consumer_errors = c.errors;
    t.consumer_offset_resets = c.offset_resets;
    t.consumer_offsets_lost = c.offsets_lost;
  }
  if (committer_ != nullptr) {
    t.commits_ok = committer_->commits();
    t.commits_failed = committer_->failures();
  }
  return t;
}

std::string Service::NewRequestId() const {
  return id_prefix_ + std::to_string(request_seq_.fetch_add(1) + 1);
}

}  // namespace ranker::app
