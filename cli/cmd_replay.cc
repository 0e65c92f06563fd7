// `ranker replay`: trains through the same joiner and learner as the service
// from NDJSON files (contract §4), as fast as the machine allows. A reader
// thread reads and decodes; the calling thread joins and trains.
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "base/bounded_queue.h"
#include "base/clock.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "service/challengers.h"
#include "service/model_json.h"
#include "service/pipeline.h"
#include "sim/truth_eval.h"
#include "sim/truth_progressive.h"

namespace ranker::app {
namespace {

const char kUsage[] = "ranker replay [--config F] [--set k=v]... [--json] FILE...   (- = stdin)";
constexpr size_t kDecodeBatch = 512;
using Batch = std::vector<ingest::DecodeResult>;

// Reads every file line by line, decodes in batches, pushes to `queue`.
// Returns the first IO error (files are read in order).
Status ReadAll(const std::vector<std::string>& files, const LearningPipeline& pipeline,
               BoundedQueue<Batch>* queue) {
  Batch batch;
  batch.reserve(kDecodeBatch);
  std::string line;
  for (const std::string& path : files) {
    std::ifstream file;
    if (path != "-") {
      file.open(path, std::ios::binary);
      if (!file) return Status::IOError(path + ": cannot open");
    }
    std::istream& in = path == "-" ? std::cin : file;
    while (std::getline(in, line)) {
      if (line.empty() || line == "\r") continue;
      batch.push_back(pipeline.Decode(line));
      if (batch.size() == kDecodeBatch) {
        if (!queue->Push(std::move(batch))) return Status::OK();
        batch = Batch();
        batch.reserve(kDecodeBatch);
      }
    }
    if (in.bad()) return Status::IOError(path + ": read error");
  }
  if (!batch.empty()) queue->Push(std::move(batch));
  return Status::OK();
}

// Replays of simulated streams (impressions with truth{}): the click
// predictions the progressive metrics took, against the ground truth, as
// progressive.<click task>.truth {auc, calibration, mean_truth, clicked,
// count}. Files only (standard input cannot be read twice); a file that is
// not a simulated stream adds nothing.
void AddTruth(const std::vector<std::string>& files, const sim::TruthProgressive& scored,
              const std::string& click_task, boost::json::object* out) {
  std::vector<sim::TruthRecord> records;
  for (const std::string& path : files) {
    if (path == "-") return;
    StatusOr<std::vector<sim::TruthRecord>> r = sim::ReadTruthFile(path);
    if (!r.ok()) return;  // not a simulated stream
    records.insert(records.end(), r->begin(), r->end());
  }
  const sim::TruthReport t = scored.Evaluate(records);
  boost::json::object* progressive = (*out)["progressive"].if_object();
  if (t.count == 0 || progressive == nullptr || !progressive->contains(click_task)) return;
  boost::json::object* task = (*progressive)[click_task].if_object();
  if (task == nullptr) return;
  (*task)["truth"] = {{"auc", t.auc},
                      {"calibration", t.calibration},
                      {"mean_truth", t.mean_truth},
                      {"mean_prediction", t.mean_prediction},
                      {"clicked", t.clicked},
                      {"count", t.count}};
}

void PrintProgress(const LearningPipeline& p, double seconds) {
  const int64_t examples = p.trainer().stats().examples_trained;
  std::fprintf(stderr, "[%6.1fs] events %lld  examples %lld  (%.0f/s)  rejected %llu  | %s\n",
               seconds, static_cast<long long>(p.events_consumed()),
               static_cast<long long>(examples), examples / std::max(seconds, 1e-9),
               static_cast<unsigned long long>(p.rejects().Total()),
               MetricsSummary(p.trainer().metrics().Report(), /*window=*/true).c_str());
}

// replay --json "challengers": {name: {progressive, gates, param_checksum, ...}}.
boost::json::object ChallengersJson(const ChallengerSet& set) {
  boost::json::object out;
  for (size_t i = 0; i < set.size(); ++i) {
    set.Read(i, [&](const learner::Trainer& t) { out[set.name(i)] = TrainerReportJson(t); });
  }
  return out;
}

}  // namespace

int RunReplay(int argc, char** argv) {
  std::vector<FlagSpec> specs = ConfigFlagSpecs();
  specs.push_back({"json", false, "print one JSON object at the end (the GET /v1/model shape)"});
  specs.push_back(
      {"progress-seconds", true, "seconds between progress lines on stderr (0 = off; default 2)"});
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, kUsage, specs, &flags, &code)) return code;
  if (flags.positional().empty()) {
    std::fprintf(stderr, "ranker replay: no input (give FILE... or - for stdin)\nusage: %s\n",
                 kUsage);
    return 2;
  }
  Config config;
  if (!LoadConfigFromFlags(flags, &config)) return 2;
  StatusOr<std::unique_ptr<LearningPipeline>> created = LearningPipeline::Create(config.pipeline());
  if (!created.ok()) {
    std::fprintf(stderr, "ranker replay: %s\n", created.status().message().c_str());
    return 2;
  }
  LearningPipeline& pipeline = **created;
  StatusOr<double> progress = flags.GetDouble("progress-seconds", 2.0);
  if (!progress.ok()) {
    std::fprintf(stderr, "ranker replay: %s\n", progress.status().message().c_str());
    return 2;
  }
  const double progress_s = *progress;
  // Challengers train on their own thread from the champion's examples.
  StatusOr<std::unique_ptr<ChallengerSet>> challengers =
      ChallengerSet::Create(config.challengers, ChallengerSetOptions());
  if (!challengers.ok()) {
    std::fprintf(stderr, "ranker replay: %s\n", challengers.status().message().c_str());
    return 2;
  }
  if ((*challengers)->size() > 0) {
    pipeline.set_tap(challengers->get());
    (*challengers)->Start();
  }

  sim::TruthProgressive truth;
  const std::string click_task = config.join.click_task;
  int click_index = -1;
  for (size_t t = 0; t < config.model.tasks.size(); ++t) {
    if (config.model.tasks[t].name == click_task) click_index = static_cast<int>(t);
  }
  if (flags.Has("json") && click_index >= 0) {
    pipeline.mutable_trainer()->set_score_observer(
        [&](const learner::Example& e, int task, double prediction) {
          if (task == click_index) truth.Scored(e.request_id, e.item_id, prediction);
        });
  }

  const int64_t start_ns = SystemClock()->MonotonicNs();
  auto elapsed = [&] { return (SystemClock()->MonotonicNs() - start_ns) * 1e-9; };
  BoundedQueue<Batch> queue(64);
  Status read_status;
  std::thread reader([&] {
    read_status = ReadAll(flags.positional(), pipeline, &queue);
    queue.Close();
  });
  double next_progress = progress_s;
  while (std::optional<Batch> batch = queue.Pop()) {
    for (ingest::DecodeResult& r : *batch) pipeline.Consume(std::move(r));
    if (progress_s > 0 && elapsed() >= next_progress) {
      PrintProgress(pipeline, elapsed());
      next_progress += progress_s;
    }
  }
  reader.join();
  pipeline.Finish();
  const double champion_wall = elapsed();  // the learner thread's part
  (*challengers)->Sync();
  const double wall = elapsed();
  if (!read_status.ok()) {
    std::fprintf(stderr, "ranker replay: %s\n", read_status.message().c_str());
    return 1;
  }
  const int64_t examples = pipeline.trainer().stats().examples_trained;
  if (flags.Has("json")) {
    boost::json::object out = ModelReportJson(pipeline);
    out["examples_per_second"] = examples / std::max(wall, 1e-9);
    out["wall_seconds"] = wall;
    AddTruth(flags.positional(), truth, click_task, &out);
    if ((*challengers)->size() > 0) {
      out["challengers"] = ChallengersJson(**challengers);
      // The champion's learner finished first; the rest of the wall time is
      // the challengers catching up. Backpressure: hand-offs that waited.
      out["champion_wall_seconds"] = champion_wall;
      out["challenger_backpressure_waits"] = (*challengers)->backpressure_waits();
    }
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    PrintProgress(pipeline, wall);
    std::printf("%s", MetricsSummary(pipeline.trainer().metrics().Report(), false).c_str());
  }
  return 0;
}

}  // namespace ranker::app
