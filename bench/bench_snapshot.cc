// Snapshot cost at ~1M embedding rows and serving latency during snapshots
// (issue #5), on the service's own path: a LearningPipeline of the standard
// model (config/bench.yaml = the defaults) and the Snapshotter on RocksDB in
// a temporary directory, synced. Not a Google Benchmark: it measures phases
// of one long-lived state, once each (run it several times for medians).
//
// Phases: (1) fill: the trainer learns synthetic examples whose user_id and
// item_id are all distinct (2 new rows per example) until the table holds
// --rows rows; (2) a scorer thread scores 500-candidate requests in a loop
// against a published Clone() of the model, recording every latency; the
// main (learner) thread then marks windows: idle, one full snapshot
// (Capture + writer's Put + Retain, until Wait returns), and --deltas delta
// snapshots, each after training --delta_examples examples on existing ids
// (training: a window of its own, the learner's normal load); a second
// idle window ends it; (3) restore: Load(last) + RestoreInto a fresh
// pipeline, checksum compared.
//
// Usage: ranker_bench_snapshot [--rows N] [--delta_examples N] [--deltas N]
//          [--idle_seconds S] [--config FILE] [--dir DIR]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/synthetic.h"
#include "cli/flags.h"
#include "learner/scorer.h"
#include "service/pipeline.h"
#include "service/snapshotter.h"
#include "settings/config.h"

namespace ranker::bench {
namespace {

using Steady = std::chrono::steady_clock;

// Command-line settings.
struct Flags {
  size_t rows = 1000000;         // embedding rows to reach before snapshotting
  size_t delta_examples = 5000;  // examples per delta (2 id rows each + shared)
  int deltas = 5;
  double idle_seconds = 3;  // each idle window
  std::string config;       // "" = built-in defaults (= config/bench.yaml)
  std::string dir;          // "" = a fresh directory under /tmp, removed after
};

const std::vector<app::FlagSpec> kFlagSpecs = {
    {"rows", true, "embedding rows to reach (default 1000000)"},
    {"delta_examples", true, "examples trained before each delta (default 5000)"},
    {"deltas", true, "delta snapshots (default 5)"},
    {"idle_seconds", true, "length of each idle window (default 3)"},
    {"config", true, "YAML config (default: built-in = config/bench.yaml)"},
    {"dir", true, "RocksDB directory (default: a temporary one, removed after)"},
};

StatusOr<Flags> ParseFlags(int argc, char** argv) {
  StatusOr<app::Flags> parsed = app::Flags::Parse(argc, argv, 1, kFlagSpecs);
  if (!parsed.ok()) return parsed.status();
  Flags f;
  StatusOr<int64_t> rows = parsed->GetInt("rows", static_cast<int64_t>(f.rows));
  StatusOr<int64_t> delta =
      parsed->GetInt("delta_examples", static_cast<int64_t>(f.delta_examples));
  StatusOr<int64_t> deltas = parsed->GetInt("deltas", f.deltas);
  StatusOr<double> idle = parsed->GetDouble("idle_seconds", f.idle_seconds);
  for (const Status& s : {rows.status(), delta.status(), deltas.status(), idle.status()}) {
    if (!s.ok()) return s;
  }
  if (*rows <= 0 || *delta <= 0 || *deltas <= 0 || *idle <= 0) {
    return Status::InvalidArgument(
        "--rows, --delta_examples, --deltas, --idle_seconds: must be > 0");
  }
  f.rows = static_cast<size_t>(*rows);
  f.delta_examples = static_cast<size_t>(*delta);
  f.deltas = static_cast<int>(*deltas);
  f.idle_seconds = *idle;
  f.config = parsed->Get("config");
  f.dir = parsed->Get("dir");
  return f;
}

double MsBetween(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + ts.tv_nsec * 1e-6;
}

// A field of /proc/self/status ("VmRSS", "VmHWM") in MB.
double ProcStatusMb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::atof(line.c_str() + prefix.size()) / 1024.0;
  }
  return 0;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

std::string UserId(uint64_t n) { return Id("fu", n); }
std::string ItemId(uint64_t n) { return Id("fi", n); }

// A synthetic example (bench/synthetic.h) with the given user and item ids;
// categorical[0] is user_id, categorical[5] item_id.
learner::Example ExampleFor(Rng* rng, uint64_t user, uint64_t item) {
  learner::Example e = MakeExample(rng);
  e.categorical[0].value = UserId(user);
  e.item_id = ItemId(item);
  e.categorical[5].value = e.item_id;
  return e;
}

// Trains until the table holds `rows` rows; returns the examples trained.
uint64_t Fill(app::LearningPipeline* pipeline, size_t rows) {
  Rng rng(11);
  learner::Trainer* trainer = pipeline->mutable_trainer();
  uint64_t n = 0;
  while (trainer->model().embedding_rows() < rows) {
    for (int i = 0; i < 1024; ++i, ++n) trainer->Add(ExampleFor(&rng, n, n));
  }
  trainer->Flush();
  return n;
}

// Trains `count` examples on ids drawn from the first `filled` (existing rows).
void TrainDelta(app::LearningPipeline* pipeline, uint64_t filled, size_t count, Rng* rng) {
  learner::Trainer* trainer = pipeline->mutable_trainer();
  for (size_t i = 0; i < count; ++i) {
    trainer->Add(ExampleFor(rng, rng->Below(filled), rng->Below(filled)));
  }
  trainer->Flush();
}

// One scored request: when it started and how long it took.
struct Sample {
  Steady::time_point start;
  double us;
};

// Scores 500-candidate requests back to back on a thread of its own against
// a model nobody mutates; every latency is kept. samples() only after Stop().
class ServingLoop {
 public:
  ServingLoop(const learner::Model& model, uint64_t filled) : scorer_(model) {
    Rng rng(99);
    for (int r = 0; r < 16; ++r) {
      User u = MakeUser(&rng);
      u.features[0].value = UserId(rng.Below(filled));
      requests_.push_back({u.features, {}, {}});
      candidates_.emplace_back();
      for (int i = 0; i < 500; ++i) {
        learner::Example c = MakeCandidate(&rng);
        c.item_id = ItemId(rng.Below(filled));
        c.categorical[0].value = c.item_id;
        candidates_.back().push_back(std::move(c));
      }
    }
    samples_.reserve(1 << 20);
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    thread_.join();
  }
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  void Run() {
    learner::ScoreResult result;
    for (size_t r = 0; !stop_; r = (r + 1) % requests_.size()) {
      const Steady::time_point t0 = Steady::now();
      scorer_.Score(requests_[r], candidates_[r], &result);
      const double us = std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
      samples_.push_back({t0, us});
    }
  }

  const learner::Scorer scorer_;
  std::vector<learner::ScoreRequest> requests_;
  std::vector<std::vector<learner::Example>> candidates_;
  std::vector<Sample> samples_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Window {
  std::string kind;
  Steady::time_point start, end;
};

struct Latency {
  size_t count = 0;
  double p50 = 0, p99 = 0, max = 0, seconds = 0;
};

// Nearest-rank percentiles of the requests that started inside any window
// of `kind`.
Latency LatencyOf(const std::vector<Sample>& samples, const std::vector<Window>& windows,
                  const std::string& kind) {
  std::vector<double> us;
  Latency l;
  for (const Window& w : windows) {
    if (w.kind != kind) continue;
    l.seconds += MsBetween(w.start, w.end) / 1e3;
    for (const Sample& s : samples) {
      if (s.start >= w.start && s.start < w.end) us.push_back(s.us);
    }
  }
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  auto rank = [&](double q) { return us[static_cast<size_t>(std::ceil(q * us.size())) - 1]; };
  l.count = us.size();
  l.p50 = rank(0.5);
  l.p99 = rank(0.99);
  l.max = us.back();
  return l;
}

// One snapshot's figures.
struct SnapFigures {
  double capture_ms = 0, capture_cpu_ms = 0, write_ms = 0, total_ms = 0;
  uint64_t bytes = 0, rows = 0;
};

// Captures on this (the learner) thread and waits for the write; the
// window covers both.
SnapFigures TakeSnapshot(app::Snapshotter* snap, app::LearningPipeline* pipeline, uint64_t version,
                         std::vector<Window>* windows, const std::string& kind) {
  const ingest::OffsetMap offsets = {
      {ingest::TopicPartition{"ranker.events", 0}, static_cast<int64_t>(version)}};
  const Steady::time_point t0 = Steady::now();
  const double cpu0 = ThreadCpuMs();
  const uint64_t id = snap->Capture(pipeline, offsets, version);
  const double cpu1 = ThreadCpuMs();
  StatusOr<store::SnapshotInfo> info = snap->Wait(id, std::chrono::minutes(10));
  const Steady::time_point t1 = Steady::now();
  windows->push_back({kind, t0, t1});
  if (!info.ok()) {
    std::fprintf(stderr, "snapshot %llu: %s\n", static_cast<unsigned long long>(id),
                 info.status().ToString().c_str());
    std::exit(1);
  }
  const app::SnapshotStats st = snap->stats();
  return {st.last_capture_ms, cpu1 - cpu0,   st.last_write_ms,
          MsBetween(t0, t1),  st.last_bytes, st.last_rows};
}

void IdleWindow(double seconds, std::vector<Window>* windows, const std::string& kind) {
  const Steady::time_point t0 = Steady::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  windows->push_back({kind, t0, Steady::now()});
}

void PrintSnap(const char* what, const SnapFigures& f) {
  std::printf(
      "%-18s capture %8.1f ms (thread cpu %8.1f ms), write %8.1f ms, wall %8.1f ms, "
      "%7.1f MB, %8llu rows\n",
      what, f.capture_ms, f.capture_cpu_ms, f.write_ms, f.total_ms, f.bytes / 1e6,
      static_cast<unsigned long long>(f.rows));
}

SnapFigures MedianOf(std::vector<SnapFigures> v) {
  auto med = [&](auto field) {
    std::sort(v.begin(), v.end(),
              [&](const auto& a, const auto& b) { return a.*field < b.*field; });
    return v[v.size() / 2].*field;
  };
  SnapFigures m;
  m.capture_ms = med(&SnapFigures::capture_ms);
  m.capture_cpu_ms = med(&SnapFigures::capture_cpu_ms);
  m.write_ms = med(&SnapFigures::write_ms);
  m.total_ms = med(&SnapFigures::total_ms);
  m.bytes = med(&SnapFigures::bytes);
  m.rows = med(&SnapFigures::rows);
  return m;
}

void PrintLatency(const std::vector<Sample>& samples, const std::vector<Window>& windows) {
  const Latency idle = LatencyOf(samples, windows, "idle");
  std::printf(
      "\n| window | requests | seconds | p50 µs | p99 µs | max µs | p50 / idle | "
      "p99 / idle |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const char* kind : {"idle", "training", "full", "delta", "idle-after"}) {
    const Latency l = LatencyOf(samples, windows, kind);
    std::printf("| %s | %zu | %.1f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", kind, l.count,
                l.seconds, l.p50, l.p99, l.max, l.p50 / idle.p50, l.p99 / idle.p99);
  }
}

// Wall and thread-CPU ms of f(), printed as one part of a capture.
template <typename F>
void TimePart(const char* what, F&& f) {
  const Steady::time_point t0 = Steady::now();
  const double cpu0 = ThreadCpuMs();
  f();
  std::printf("  %-34s %8.1f ms (thread cpu %8.1f ms)\n", what, MsBetween(t0, Steady::now()),
              ThreadCpuMs() - cpu0);
}

// What a capture spends its time on, part by part, through the same public
// calls Snapshotter::Capture makes (nothing is queued or cleared).
void CaptureBreakdown(const app::LearningPipeline& pipeline) {
  const learner::Model& model = pipeline.trainer().model();
  const learner::EmbeddingTable& table = model.embeddings();
  std::printf("capture parts (%zu rows):\n", table.size());
  std::string out;
  TimePart("Model::ParamChecksumHex", [&] { out = model.ParamChecksumHex(); });
  TimePart("Model::SerializeState", [&] { model.SerializeState(&out); });
  TimePart("LearningPipeline::SerializeState", [&] { pipeline.SerializeState(&out); });
  std::vector<uint64_t> keys;
  TimePart("EmbeddingTable::SortedKeys", [&] { keys = table.SortedKeys(); });
  std::vector<std::pair<uint64_t, std::string>> rows;
  rows.reserve(keys.size());
  TimePart("ExportRow x all rows", [&] {
    for (uint64_t key : keys) {
      std::string bytes;
      if (table.ExportRow(key, &bytes)) rows.emplace_back(key, std::move(bytes));
    }
  });
}

// Load(id) + RestoreInto a fresh pipeline; exits unless the checksum matches.
void MeasureRestore(app::Snapshotter* snap, const app::Config& config, uint64_t id,
                    const std::string& want_checksum) {
  Steady::time_point t0 = Steady::now();
  StatusOr<store::Snapshot> s = snap->Load(id);
  const double load_ms = MsBetween(t0, Steady::now());
  StatusOr<std::unique_ptr<app::LearningPipeline>> fresh =
      app::LearningPipeline::Create(config.pipeline());
  if (!s.ok() || !fresh.ok()) {
    std::fprintf(stderr, "restore: %s\n",
                 (s.ok() ? fresh.status() : s.status()).ToString().c_str());
    std::exit(1);
  }
  t0 = Steady::now();
  const Status restored = app::Snapshotter::RestoreInto(*s, fresh->get());
  const double restore_ms = MsBetween(t0, Steady::now());
  const std::string got = (*fresh)->trainer().model().ParamChecksumHex();
  if (!restored.ok() || got != want_checksum) {
    std::fprintf(stderr, "restore failed: %s\n", restored.ToString().c_str());
    std::exit(1);
  }
  std::printf(
      "restore of snapshot %llu (%zu rows): Load %.1f ms, RestoreInto %.1f ms, "
      "checksum ok; RSS %.0f MB\n",
      static_cast<unsigned long long>(id), s->changed_rows.size(), load_ms, restore_ms,
      ProcStatusMb("VmRSS"));
}

std::string MakeDir(const Flags& flags) {
  if (!flags.dir.empty()) return flags.dir;
  std::string templ = (std::filesystem::temp_directory_path() / "ranker-snapbench.XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) std::exit(1);
  return templ;
}

// Phases 2 and 3 of the file comment, with `pipeline` already filled.
void MeasureSnapshots(const Flags& flags, const app::Config& config,
                      app::LearningPipeline* pipeline, uint64_t filled, const std::string& dir) {
  Steady::time_point t0 = Steady::now();
  const std::unique_ptr<learner::Model> published = pipeline->trainer().model().Clone();
  std::printf("Clone() (publication copy): %.1f ms; RSS %.0f MB\n", MsBetween(t0, Steady::now()),
              ProcStatusMb("VmRSS"));
  app::SnapshotOptions options;
  options.dir = dir;
  options.sync = true;
  StatusOr<std::unique_ptr<app::Snapshotter>> snap = app::Snapshotter::Open(options, SystemClock());
  if (!snap.ok()) {
    std::fprintf(stderr, "open: %s\n", snap.status().ToString().c_str());
    std::exit(1);
  }
  ServingLoop serving(*published, filled);
  std::vector<Window> windows;
  serving.Start();
  IdleWindow(flags.idle_seconds, &windows, "idle");
  const SnapFigures full = TakeSnapshot(snap->get(), pipeline, 1, &windows, "full");
  PrintSnap("full snapshot", full);
  std::printf("store dir after full: %.1f MB\n", DirBytes(dir) / 1e6);
  std::vector<SnapFigures> deltas;
  Rng rng(23);
  for (int d = 0; d < flags.deltas; ++d) {
    const Steady::time_point t1 = Steady::now();
    TrainDelta(pipeline, filled, flags.delta_examples, &rng);
    windows.push_back({"training", t1, Steady::now()});
    deltas.push_back(TakeSnapshot(snap->get(), pipeline, 2 + d, &windows, "delta"));
    PrintSnap("delta snapshot", deltas.back());
  }
  PrintSnap("delta (median)", MedianOf(deltas));
  std::printf("store dir after deltas: %.1f MB; RSS %.0f MB, peak %.0f MB\n", DirBytes(dir) / 1e6,
              ProcStatusMb("VmRSS"), ProcStatusMb("VmHWM"));
  IdleWindow(flags.idle_seconds, &windows, "idle-after");
  serving.Stop();
  PrintLatency(serving.samples(), windows);
  std::printf("\n");
  CaptureBreakdown(*pipeline);
  MeasureRestore(snap->get(), config, 1 + flags.deltas,
                 pipeline->trainer().model().ParamChecksumHex());
}

int Main(int argc, char** argv) {
  StatusOr<Flags> parsed = ParseFlags(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\nusage: %s [flags]\n%s", parsed.status().ToString().c_str(), argv[0],
                 app::Flags::Usage(kFlagSpecs).c_str());
    return 2;
  }
  const Flags flags = *parsed;
  StatusOr<app::Config> config = app::LoadConfig({flags.config, {}, false});
  if (!config.ok()) {
    std::fprintf(stderr, "config: %s\n", config.status().ToString().c_str());
    return 1;
  }
  StatusOr<std::unique_ptr<app::LearningPipeline>> pipeline =
      app::LearningPipeline::Create(config->pipeline());
  if (!pipeline.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", pipeline.status().ToString().c_str());
    return 1;
  }
  const Steady::time_point t0 = Steady::now();
  const uint64_t filled = Fill(pipeline->get(), flags.rows);
  std::printf("fill: %llu examples -> %zu rows in %.1f s; RSS %.0f MB\n",
              static_cast<unsigned long long>(filled),
              (*pipeline)->trainer().model().embedding_rows(), MsBetween(t0, Steady::now()) / 1e3,
              ProcStatusMb("VmRSS"));
  const std::string dir = MakeDir(flags);
  MeasureSnapshots(flags, *config, pipeline->get(), filled, dir);
  if (flags.dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace ranker::bench

int main(int argc, char** argv) { return ranker::bench::Main(argc, argv); }
