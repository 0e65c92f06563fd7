#include "settings/config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "settings/config_keys.h"

namespace ranker::app {
namespace internal {
namespace {

Status SetValue(std::string_view key, std::string_view text, bool* out) {
  return ParseBool(key, text, out);
}
Status SetValue(std::string_view key, std::string_view text, double* out) {
  return ParseDouble(key, text, out);
}
Status SetValue(std::string_view /*key*/, std::string_view text, std::string* out) {
  *out = std::string(text);
  return Status::OK();
}
Status SetValue(std::string_view key, std::string_view text, std::vector<int>* out) {
  return ParseIntList(key, text, out);
}
template <typename Int>
requires std::is_integral_v<Int> Status SetValue(std::string_view key, std::string_view text,
                                                 Int* out) {
  int64_t v;
  RANKER_RETURN_IF_ERROR(ParseInt64(key, text, &v));
  if (std::is_unsigned_v<Int> && v < 0) {
    return Status::InvalidArgument(std::string(key) + ": must be >= 0, got " + std::string(text));
  }
  *out = static_cast<Int>(v);
  return Status::OK();
}

std::string Format(bool v) { return v ? "true" : "false"; }
std::string Format(const std::string& v) { return v; }
std::string Format(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
template <typename Int>
requires std::is_integral_v<Int> std::string Format(Int v) { return std::to_string(v); }
std::string Format(const std::vector<int>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out + "]";
}

// A key bound to a field through `ref`, a captureless accessor.
template <typename T>
KeyEntry Key(std::string key, std::string help, T& (*ref)(Config&)) {
  KeyEntry e{std::move(key), std::move(help), nullptr, nullptr};
  e.set = [ref, k = e.key](Config* c, std::string_view text) {
    return SetValue(k, text, &ref(*c));
  };
  e.get = [ref](const Config& c) { return Format(ref(const_cast<Config&>(c))); };
  return e;
}

// A key whose values are names of an enum.
template <typename E>
KeyEntry EnumKey(std::string key, std::string help, E& (*ref)(Config&),
                 std::vector<std::pair<std::string, E>> names) {
  std::string choices;
  for (const auto& [name, value] : names) choices += (choices.empty() ? "" : "|") + name;
  KeyEntry e{std::move(key), std::move(help) + " (" + choices + ")", nullptr, nullptr};
  e.set = [ref, names, choices, k = e.key](Config* c, std::string_view text) {
    for (const auto& [name, value] : names) {
      if (name == text) {
        ref(*c) = value;
        return Status::OK();
      }
    }
    return Status::InvalidArgument(k + ": expected one of " + choices + ", got '" +
                                   std::string(text) + "'");
  };
  e.get = [ref, names](const Config& c) {
    for (const auto& [name, value] : names) {
      if (value == ref(const_cast<Config&>(c))) return name;
    }
    return std::string("?");
  };
  return e;
}

#define REF(expr)            \
  +[](Config & c) -> auto& { \
    return c.expr;           \
  }

// http.port: 0..65535 (0 = an ephemeral port).
KeyEntry PortKey() {
  KeyEntry e{"http.port", "HTTP listen port (0 = any free port)", nullptr, nullptr};
  e.set = [](Config* c, std::string_view text) {
    int64_t v;
    RANKER_RETURN_IF_ERROR(ParseInt64("http.port", text, &v));
    if (v < 0 || v > 65535) {
      return Status::InvalidArgument("http.port: must be in [0, 65535], got " + std::string(text));
    }
    c->service.http.port = static_cast<uint16_t>(v);
    return Status::OK();
  };
  e.get = [](const Config& c) { return std::to_string(c.service.http.port); };
  return e;
}

// The keys of `serve`/`demo` (service/service_options.h).
void AddServiceKeys(std::vector<KeyEntry>* t) {
  t->push_back(
      Key("ingest.brokers",
          "Kafka bootstrap servers; empty = no Kafka, POST /v1/events only (serve --brokers)",
          REF(service.brokers)));
  t->push_back(Key("ingest.topic", "topic of the events, keyed by request_id", REF(service.topic)));
  t->push_back(Key("ingest.group_id", "consumer group of the learners", REF(service.group_id)));
  t->push_back(Key("ingest.group_instance_id",
                   "static group member id (group.instance.id), one per learner: restarts get "
                   "their partitions back at once; empty = dynamic membership",
                   REF(service.group_instance_id)));
  t->push_back(Key("ingest.dead_letter_topic",
                   "rejected events are copied here with their reason; empty = off",
                   REF(service.dead_letter_topic)));
  t->push_back(Key("ingest.log_kafka_errors", "write librdkafka errors and warnings to stderr",
                   REF(service.log_kafka_errors)));
  t->push_back(Key("ingest.queue_max_messages", "consumer queue bound; fetching pauses beyond it",
                   REF(service.queue_max_messages)));
  t->push_back(
      Key("service.publish_interval_ms",
          "the learner publishes a model version to the scorers at least this often while learning",
          REF(service.publish_interval_ms)));
  t->push_back(Key("service.flush_joiner_on_stop",
                   "on shutdown, close pending impressions and train on them",
                   REF(service.flush_joiner_on_stop)));
  t->push_back(Key("service.learner_nice",
                   "nice (0..19) of the learner and snapshot threads; above the HTTP handlers' 0, "
                   "so ranking wins a busy CPU",
                   REF(service.learner_nice)));
  t->push_back(Key("service.local_queue_max_events",
                   "POST /v1/events queue bound without a broker (503 beyond)",
                   REF(service.local_queue_max_events)));
  t->push_back(Key("snapshot.dir",
                   "RocksDB directory of the snapshots (serve --data-dir); empty = no snapshots",
                   REF(service.snapshot.dir)));
  t->push_back(Key("snapshot.interval_ms", "a snapshot at least this often while learning",
                   REF(service.snapshot.interval_ms)));
  t->push_back(
      Key("snapshot.retain", "snapshots kept (newest first)", REF(service.snapshot.retain)));
  t->push_back(Key("snapshot.on_stop",
                   "snapshot on shutdown after draining (the joiner's pending impressions are "
                   "saved, not flushed)",
                   REF(service.snapshot.on_stop)));
  t->push_back(Key("snapshot.sync", "fsync every snapshot write", REF(service.snapshot.sync)));
  t->push_back(Key("service.role",
                   "leader (learn, publish to the model topic) or follower (serve the model "
                   "topic, never learn)",
                   REF(service.role)));
  t->push_back(Key("model_topic.name",
                   "topic of model updates (leader -> followers); each challenger's is "
                   "`<name>.<challenger>`",
                   REF(service.model_topic.name)));
  t->push_back(Key("model_topic.enabled", "the leader publishes to the model topic (with a broker)",
                   REF(service.model_topic.enabled)));
  t->push_back(Key("model_topic.interval_ms", "at most one model broadcast this often",
                   REF(service.model_topic.interval_ms)));
  t->push_back(Key("model_topic.checkpoint_every", "a full checkpoint every N broadcasts",
                   REF(service.model_topic.checkpoint_every)));
  t->push_back(Key("http.enabled", "serve the HTTP API", REF(service.http_enabled)));
  t->push_back(Key("http.address", "HTTP listen address (serve --http ADDR:PORT)",
                   REF(service.http.address)));
  t->push_back(PortKey());
  t->push_back(Key("http.threads", "HTTP I/O threads (reading, inline handlers, writing)",
                   REF(service.http.threads)));
  t->push_back(Key("http.inline_handlers",
                   "run handlers (ranking) on the I/O thread that read the request; false: on "
                   "the handler threads",
                   REF(service.http.inline_handlers)));
  t->push_back(Key("http.handler_threads",
                   "threads running the handlers that may block (the snapshot routes), "
                   "and every handler without inline_handlers",
                   REF(service.http.handler_threads)));
  t->push_back(
      Key("http.score_threads",
          "threads sharing one /v1/rank request's candidate blocks (1 = its handler alone)",
          REF(service.score_threads)));
  t->push_back(Key("http.max_body_bytes", "larger request bodies are refused (413)",
                   REF(service.http.max_body_bytes)));
  t->push_back(Key("http.max_header_bytes", "larger request headers are refused (431)",
                   REF(service.http.max_header_bytes)));
  t->push_back(Key("http.read_timeout_ms", "deadline to read one request",
                   REF(service.http.read_timeout_ms)));
  t->push_back(Key("http.idle_timeout_ms", "keep-alive wait for the next request",
                   REF(service.http.idle_timeout_ms)));
  t->push_back(Key("http.write_timeout_ms", "deadline to write one response",
                   REF(service.http.write_timeout_ms)));
  t->push_back(Key("http.max_connections", "open connections; beyond: 503 and close",
                   REF(service.http.max_connections)));
  t->push_back(Key("http.max_inflight_requests", "queued or running requests; beyond: shed",
                   REF(service.http.max_inflight_requests)));
  t->push_back(Key("http.overload_status", "status of shed requests (503 or 429)",
                   REF(service.http.overload_status)));
  t->push_back(Key("http.drain_timeout_ms", "shutdown waits this long for requests in flight",
                   REF(service.http.drain_timeout_ms)));
  t->push_back(Key("http.admin_token",
                   "Bearer token of the admin endpoints; empty = loopback peers only",
                   REF(service.admin_token)));
  t->push_back(
      Key("rank.max_candidates", "candidates per POST /v1/rank", REF(service.rank.max_candidates)));
}

// join.task_window_ms: per-task maturity windows, "task:ms,..." (YAML:
// tasks[].window_ms).
KeyEntry TaskWindowsKey() {
  KeyEntry e{"join.task_window_ms",
             "per-task join windows as task:ms, comma-separated (YAML: tasks[].window_ms); "
             "tasks not listed use join.window_ms",
             nullptr, nullptr};
  e.set = [](Config* c, std::string_view text) {
    return ParseTaskWindows("join.task_window_ms", text, &c->join.task_window_ms);
  };
  e.get = [](const Config& c) { return FormatTaskWindows(c.join.task_window_ms); };
  return e;
}

std::vector<KeyEntry> BuildTable() {
  using learner::Architecture;
  using learner::OptimizerKind;
  std::vector<KeyEntry> t;
  KeyEntry tasks{"tasks",
                 "tasks as name:kind[:score_weight[:loss_weight[:transform[:loss]]]], "
                 "comma-separated; kind binary|regression, transform log1p|none, loss "
                 "pointwise|listwise (binary only: softmax over one request's impressions) "
                 "(YAML: a list of maps)",
                 nullptr, nullptr};
  tasks.set = [](Config* c, std::string_view text) {
    return ParseTasks("tasks", text, &c->model.tasks);
  };
  tasks.get = [](const Config& c) { return FormatTasks(c.model.tasks); };
  t.push_back(std::move(tasks));
  t.push_back(EnumKey("model.architecture", "multi-task architecture", REF(model.architecture),
                      {{"mmoe", Architecture::kMmoe},
                       {"shared_bottom", Architecture::kSharedBottom},
                       {"omoe", Architecture::kOmoe},
                       {"independent", Architecture::kIndependent},
                       {"ple", Architecture::kPle}}));
  t.push_back(Key("model.categorical_slots",
                  "embedding slots in the input (fields bind on first sight)",
                  REF(model.categorical_slots)));
  t.push_back(Key("model.embedding_dim", "width of every embedding row", REF(model.embedding_dim)));
  t.push_back(Key("model.dense_slots", "standardised dense inputs", REF(model.dense_slots)));
  t.push_back(Key("model.num_experts", "experts of mmoe/omoe", REF(model.num_experts)));
  t.push_back(Key("model.ple_levels", "extraction levels of ple (1 = CGC)", REF(model.ple_levels)));
  t.push_back(
      Key("model.shared_experts", "shared experts per level of ple", REF(model.shared_experts)));
  t.push_back(
      Key("model.task_experts", "experts of each task per level of ple", REF(model.task_experts)));
  t.push_back(
      Key("model.expert_hidden", "hidden sizes of each expert (ReLU)", REF(model.expert_hidden)));
  t.push_back(
      Key("model.tower_hidden", "hidden sizes of each task tower (ReLU)", REF(model.tower_hidden)));
  t.push_back(Key("model.position_tower",
                  "learn position x device bias, added to the click logit in training only",
                  REF(model.position_tower)));
  t.push_back(
      Key("model.max_position", "positions above are clipped to this", REF(model.max_position)));
  t.push_back(
      Key("model.max_devices", "distinct devices of the position tower", REF(model.max_devices)));
  t.push_back(Key("model.position_tower_hidden", "hidden width of the position tower",
                  REF(model.position_tower_hidden)));
  t.push_back(Key("model.position_dropout",
                  "fraction of training examples whose position is dropped",
                  REF(model.position_dropout)));
  t.push_back(Key("model.position_task", "binary task the position tower adds to",
                  REF(model.position_task)));
  t.push_back(Key("model.seed", "seed of initialisation and dropout", REF(model.seed)));
  t.push_back(Key("model.embedding_init_scale", "embedding rows start in U(-s, s)",
                  REF(model.embedding_init_scale)));
  t.push_back(Key("model.embedding_admit_after",
                  "a value gets its own embedding row on its N-th training sighting; until "
                  "then it counts as missing (0 or 1 = off)",
                  REF(model.embedding_admit_after)));
  t.push_back(Key("model.embedding_admit_sketch_bytes",
                  "memory of the admission counting sketch (count-min; collisions admit early)",
                  REF(model.embedding_admit_sketch_bytes)));
  t.push_back(Key("model.embedding_ttl_ms",
                  "embedding rows unused this long in event time (ts_ms) are removed (0 = off)",
                  REF(model.embedding_ttl_ms)));
  t.push_back(EnumKey("optimizer.kind", "optimizer", REF(optimizer.kind),
                      {{"adagrad", OptimizerKind::kAdagrad}, {"adam", OptimizerKind::kAdam}}));
  t.push_back(Key("optimizer.learning_rate", "learning rate", REF(optimizer.learning_rate)));
  t.push_back(Key("optimizer.adagrad_initial_accumulator", "Adagrad accumulator start",
                  REF(optimizer.adagrad_initial_accumulator)));
  t.push_back(Key("optimizer.adam_beta1", "Adam beta1", REF(optimizer.adam_beta1)));
  t.push_back(Key("optimizer.adam_beta2", "Adam beta2", REF(optimizer.adam_beta2)));
  t.push_back(Key("optimizer.epsilon", "optimizer epsilon", REF(optimizer.epsilon)));
  t.push_back(Key("optimizer.embedding_lr_scale", "learning-rate multiplier of embedding rows",
                  REF(optimizer.embedding_lr_scale)));
  t.push_back(Key("train.batch_size", "examples per training step (1 = pure online SGD)",
                  REF(train.batch_size)));
  t.push_back(Key("train.metrics_window", "examples in the recent progressive-metrics window",
                  REF(train.metrics_window)));
  t.push_back(Key("train.gate_collapse_entropy",
                  "a gate whose normalised entropy of mean weights falls below this is reported "
                  "collapsed (ranker_gate_collapsed)",
                  REF(train.gate_collapse_entropy)));
  t.push_back(Key("join.window_ms", "event-time join window of impressions and engagements",
                  REF(join.window_ms)));
  t.push_back(Key("join.max_pending", "hard bound on pending impressions (oldest closed early)",
                  REF(join.max_pending)));
  t.push_back(Key("join.late_memory", "recently closed keys remembered to tell late from orphan",
                  REF(join.late_memory)));
  t.push_back(EnumKey(
      "join.mode",
      "window: a task trains when its window closes; immediate: the click task "
      "trains at once (after join.immediate_warmup_ms), corrected by join.correction",
      REF(join.mode),
      {{"window", learner::JoinMode::kWindow}, {"immediate", learner::JoinMode::kImmediate}}));
  t.push_back(EnumKey(
      "join.correction",
      "immediate mode's correction of the click task for later clicks: fnw = fake-negative "
      "weighting, pu = positive-unlabeled loss (both Ktena et al. 2019), defer = DEFER with a "
      "zero wait (Gu et al. 2021: a real-negative duplicate when the click window closes)",
      REF(join.correction),
      {{"fnw", learner::DelayedFeedback::kFakeNegativeWeighting},
       {"pu", learner::DelayedFeedback::kPositiveUnlabeled},
       {"defer", learner::DelayedFeedback::kDefer}}));
  t.push_back(Key("join.immediate_warmup_ms",
                  "immediate mode learns impressions shown in this much event time from the "
                  "first one as in window mode (a warm start for the correction); 0 = off",
                  REF(join.immediate_warmup_ms)));
  t.push_back(TaskWindowsKey());
  t.push_back(Key("join.idle_flush_ms",
                  "after this much wall time without events, event time moves on with wall time "
                  "(watermark events in the log); 0 = never",
                  REF(join.idle_flush_ms)));
  t.push_back(Key("join.group_requests",
                  "keep a request's impressions together, one Example::group (listwise losses)",
                  REF(join.group_requests)));
  t.push_back(Key("join.click_task", "task that click events label", REF(join.click_task)));
  t.push_back(Key("join.watch_task", "task that watch events label", REF(join.watch_task)));
  t.push_back(Key("ingest.max_event_bytes", "larger events are rejected (oversize)",
                  REF(ingest.max_event_bytes)));
  t.push_back(Key("ingest.max_features", "categorical + dense features per event",
                  REF(ingest.max_features)));
  t.push_back(
      Key("ingest.max_string_bytes", "longest id or feature value", REF(ingest.max_string_bytes)));
  AddServiceKeys(&t);
  t.push_back(ChallengersKey());
  return t;
}

#undef REF

}  // namespace

const std::vector<KeyEntry>& KeyTable() {
  static const std::vector<KeyEntry> table = BuildTable();
  return table;
}

}  // namespace internal

namespace {

const internal::KeyEntry* FindKey(std::string_view key) {
  for (const internal::KeyEntry& e : internal::KeyTable()) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

// RANKER_MODEL_ARCHITECTURE for model.architecture.
std::string EnvName(std::string_view key) {
  std::string out = "RANKER_";
  for (char c : key) out += (c == '.') ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

}  // namespace

std::vector<ConfigKeyInfo> ListConfigKeys() {
  Config defaults;
  std::vector<ConfigKeyInfo> out;
  for (const internal::KeyEntry& e : internal::KeyTable()) {
    out.push_back({e.key, e.get(defaults), e.help});
  }
  return out;
}

Status SetConfigValue(Config* config, std::string_view key, std::string_view value) {
  if (key.starts_with("kafka.")) {
    config->kafka[std::string(key.substr(6))] = std::string(value);
    return Status::OK();
  }
  const internal::KeyEntry* e = FindKey(key);
  if (e == nullptr) {
    return Status::InvalidArgument("unknown config key '" + std::string(key) +
                                   "' (see `ranker config --keys`)");
  }
  return e->set(config, value);
}

StatusOr<std::string> GetConfigValue(const Config& config, std::string_view key) {
  const internal::KeyEntry* e = FindKey(key);
  if (e == nullptr) return Status::NotFound("unknown config key '" + std::string(key) + "'");
  return e->get(config);
}

namespace {

// A Validate() message starts with the key it names ("model.num_experts must
// be >= 1"): located at that key's line when the file set it.
std::string Locate(const std::string& message, const std::string& file, const YamlKeyLines& lines) {
  std::string key = message.substr(0, message.find_first_of(" :"));
  if (key.starts_with("challengers[")) key = "challengers";  // the list's line
  const auto it = lines.find(key);
  if (it == lines.end()) return message;
  return file + ":" + std::to_string(it->second) + ": " + message;
}

}  // namespace

void DeriveOptions(Config* config) {
  // The decoder maps label names with the task list; keep them in step.
  config->ingest.tasks.clear();
  for (const learner::TaskSpec& t : config->model.tasks) config->ingest.tasks.push_back(t.name);
  // Immediate mode trains the click task on fake negatives and positive
  // duplicates: its loss takes the delayed-feedback correction.
  for (learner::TaskSpec& t : config->model.tasks) {
    const bool corrected =
        config->join.mode == learner::JoinMode::kImmediate && t.name == config->join.click_task;
    t.delayed_feedback = corrected ? config->join.correction : learner::DelayedFeedback::kNone;
    t.fake_negative_weighting =
        corrected && config->join.correction == learner::DelayedFeedback::kFakeNegativeWeighting;
    // A listwise loss needs a request's impressions in one step.
    if (t.loss == learner::ListLoss::kListwise) config->join.group_requests = true;
  }
}

StatusOr<Config> LoadConfig(const ConfigSources& sources) {
  Config config;
  std::vector<std::string> errors;  // every source's, each once
  YamlKeyLines lines;
  if (!sources.file.empty()) {
    std::ifstream in(sources.file);
    if (!in) return Status::IOError("config file '" + sources.file + "': cannot open");
    std::stringstream text;
    text << in.rdbuf();
    Status s = ApplyYaml(&config, text.str(), sources.file, &lines);
    if (!s.ok()) errors.push_back(s.message());
  }
  if (sources.use_environment) {
    for (const internal::KeyEntry& e : internal::KeyTable()) {
      if (const char* v = std::getenv(EnvName(e.key).c_str())) {
        Status s = e.set(&config, v);
        if (!s.ok()) errors.push_back(EnvName(e.key) + ": " + s.message());
      }
    }
  }
  for (const std::string& kv : sources.sets) {
    size_t eq = kv.find('=');
    Status s = eq == std::string::npos || eq == 0
                   ? Status::InvalidArgument("--set '" + kv + "': expected key=value")
                   : SetConfigValue(&config, kv.substr(0, eq), kv.substr(eq + 1));
    if (!s.ok()) errors.push_back(s.message());
  }
  DeriveOptions(&config);
  if (Status s = ResolveChallengers(&config); !s.ok()) {
    errors.push_back(Locate(s.message(), sources.file, lines));
  } else {
    for (const Status& e : config.Errors()) {
      errors.push_back(Locate(e.message(), sources.file, lines));
    }
  }
  if (errors.empty()) return config;
  std::string all;
  for (const std::string& e : errors) all += (all.empty() ? "" : "\n") + e;
  return Status::InvalidArgument(all);
}

std::string DumpConfig(const Config& config) {
  std::string out;
  // Secrets are shown as set or not, never printed.
  auto shown = [](std::string_view key, const std::string& v) {
    const bool secret = key.find("token") != std::string_view::npos ||
                        key.find("password") != std::string_view::npos ||
                        key.find("secret") != std::string_view::npos;
    return secret && !v.empty() ? std::string("(set)") : v;
  };
  for (const internal::KeyEntry& e : internal::KeyTable()) {
    out += e.key + ": " + shown(e.key, e.get(config)) + "\n";
  }
  for (const auto& [k, v] : config.kafka) out += "kafka." + k + ": " + shown(k, v) + "\n";
  return out;
}

}  // namespace ranker::app
