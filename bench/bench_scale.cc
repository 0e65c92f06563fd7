// The model state's cost curve in embedding rows (issue #14): at --rows N
// rows of the standard model (config/bench.yaml = the defaults), what a
// publication, a 1% snapshot capture, a follower's apply, a checksum and a
// 500-candidate scoring cost, the learner's examples/s while publishing,
// and the process's RSS per row. In process, on the learner's own types
// (no HTTP, no Kafka, no RocksDB): the learner-thread and reader-side costs
// that the service adds its transport to. Not a Google Benchmark: one
// long-lived state measured phase by phase.
//
// Phases: (1) grow: rows with random keys are created directly in the
// table (training would take hours at 10M); (2) --rounds rounds of
// --examples training examples at batch --batch (fresh user and item ids
// in half of them: new rows; the rest from the grown table: changed rows)
// each followed by a publication (Model::Clone, rows shared), the previous
// two versions kept alive as readers would; a follower applies each
// round's delta onto its previous version (Model::RestoreDelta); (3)
// scoring of 500 candidates on the last version; (4) a 1% delta: that many
// rows touched, then the snapshot capture's learner-thread part (dirty keys
// moved out + Clone) and the writer-thread export of those rows.
//
// --baseline-rows M adds a second model grown to M rows that trains a
// round of its own after each round of the first (same examples' shape,
// same publication and dirty-key hand-off, no follower), so that the
// learner's rate at N rows and at M rows are measured side by side in one
// process: a shared machine's drift between runs (here up to 30%) hits
// both alike. Printed: both rates and their ratio, overall and the median
// over rounds.
//
// Usage: ranker_bench_scale [--rows N] [--rounds R] [--examples E] [--batch B]
//                           [--baseline-rows M]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/hash.h"
#include "base/random.h"
#include "bench/synthetic.h"
#include "learner/model.h"
#include "learner/scorer.h"

namespace ranker::bench {
namespace {

using Steady = std::chrono::steady_clock;

double MsSince(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

double RssBytes() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

struct Flags {
  size_t rows = 1000000;
  int rounds = 30;
  size_t examples = 1000;  // per round: 100 ms of a 10k events/s stream
  size_t batch = 1;
  size_t baseline_rows = 0;  // a second model, trained in alternation
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (name == "--rows") f.rows = static_cast<size_t>(v);
    if (name == "--rounds") f.rounds = static_cast<int>(v);
    if (name == "--examples") f.examples = static_cast<size_t>(v);
    if (name == "--batch") f.batch = static_cast<size_t>(v);
    if (name == "--baseline-rows") f.baseline_rows = static_cast<size_t>(v);
  }
  return f;
}

// The grown rows' keys: Mix64 of their index (any well-mixed keys do).
uint64_t GrownKey(uint64_t i) { return Mix64(i ^ 0x5ca1eULL); }

void Grow(learner::Model* m, size_t rows) {
  learner::EmbeddingTable* t = m->mutable_embeddings();
  for (uint64_t i = 0; i < rows; ++i) t->Mutable(GrownKey(i), 0);
  t->ClearDirty(0);
  t->ClearDirty(1);
  t->FoldDigest();
  // What the next publication does: the fold's per-row marks and changed
  // keys (~35 B/row for one burst of new rows) are released there, so the
  // growth figure is the table's alone.
  t->TakeChangedRowCount();
}

// Half the examples bring a fresh user and item (2 new rows).
std::vector<learner::Example> RoundExamples(Rng* rng, size_t n, uint64_t* fresh) {
  std::vector<learner::Example> out;
  for (size_t i = 0; i < n; ++i) {
    learner::Example e = MakeExample(rng);
    if (rng->Bernoulli(0.5)) {
      ++*fresh;
      e.categorical[0].value = Id("fu", *fresh);
      e.item_id = Id("fi", *fresh);
      e.categorical[5].value = e.item_id;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Trains ex at batch `batch`; returns the milliseconds.
double TrainRound(learner::Model* m, const std::vector<learner::Example>& ex, size_t batch) {
  const auto t0 = Steady::now();
  for (size_t i = 0; i < ex.size(); i += batch) {
    m->TrainStep(std::span(ex).subspan(i, std::min(batch, ex.size() - i)));
  }
  return MsSince(t0);
}

// One round's delta as a follower receives it: the state blob and rows.
struct Delta {
  std::string state;
  std::vector<std::pair<uint64_t, std::string>> changed;
  std::vector<uint64_t> removed;
};

Delta TakeDelta(learner::Model* m) {
  Delta d;
  std::vector<uint64_t> keys;
  m->mutable_embeddings()->TakeDirty(1, &keys, &d.removed);
  for (uint64_t key : keys) {
    std::string bytes;
    if (m->embeddings().ExportRow(key, &bytes)) d.changed.emplace_back(key, std::move(bytes));
  }
  m->SerializeState(&d.state);
  return d;
}

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  const learner::ModelOptions options;  // the standard model
  const learner::OptimizerOptions optimizer;
  const double rss0 = RssBytes();
  std::unique_ptr<learner::Model> m = learner::Model::Create(options, optimizer).value();
  auto t0 = Steady::now();
  Grow(m.get(), f.rows);
  const double grow_s = MsSince(t0) / 1000;
  const double rss_grown = RssBytes();
  std::printf("rows %zu: grown in %.1f s; RSS %.0f MB, %.0f B/row (process), %.0f B/row (growth)\n",
              f.rows, grow_s, rss_grown / 1e6, rss_grown / static_cast<double>(f.rows),
              (rss_grown - rss0) / static_cast<double>(f.rows));

  Rng rng(7);
  uint64_t fresh = 0;
  std::vector<double> publish_ms, apply_ms, rows_published;
  double train_ms = 0;
  size_t trained = 0;
  std::vector<std::shared_ptr<const learner::Model>> versions;  // held by "readers"
  std::shared_ptr<const learner::Model> follower(m->Clone());
  {
    // An untimed first round: the follower here starts as a copy of the
    // leader, sharing its lineage, so its first delta detaches it (an
    // O(table) deep copy that a follower in its own process, restored from
    // a snapshot, never pays). From then on it has rows of its own.
    const std::vector<learner::Example> ex = RoundExamples(&rng, f.examples, &fresh);
    for (size_t i = 0; i < ex.size(); i += f.batch) {
      m->TrainStep(std::span(ex).subspan(i, std::min(f.batch, ex.size() - i)));
    }
    m->embeddings().FoldDigest();
    versions.push_back(m->Clone());
    const Delta d = TakeDelta(m.get());
    follower = learner::Model::RestoreDelta(d.state, follower.get(), d.changed, d.removed, options,
                                            optimizer)
                   .value();
  }
  // The side-by-side baseline (--baseline-rows).
  std::unique_ptr<learner::Model> base;
  Rng base_rng(7);
  uint64_t base_fresh = 0;
  double base_ms = 0;
  std::vector<double> round_ratio;
  std::vector<std::shared_ptr<const learner::Model>> base_versions;
  if (f.baseline_rows > 0) {
    base = learner::Model::Create(options, optimizer).value();
    Grow(base.get(), f.baseline_rows);
  }
  for (int r = 0; r < f.rounds; ++r) {
    const std::vector<learner::Example> ex = RoundExamples(&rng, f.examples, &fresh);
    // The two models take turns going first (the other's round leaves the
    // caches cold for it).
    double base_round_ms = 0;
    std::vector<learner::Example> bex;
    if (base != nullptr) bex = RoundExamples(&base_rng, f.examples, &base_fresh);
    if (base != nullptr && r % 2 == 1) base_round_ms = TrainRound(base.get(), bex, f.batch);
    const double round_ms = TrainRound(m.get(), ex, f.batch);
    train_ms += round_ms;
    trained += ex.size();
    if (base != nullptr) {
      if (r % 2 == 0) base_round_ms = TrainRound(base.get(), bex, f.batch);
      base_ms += base_round_ms;
      round_ratio.push_back(base_round_ms / round_ms);
      base->embeddings().FoldDigest();
      base_versions.push_back(base->Clone());
      if (base_versions.size() > 2) base_versions.erase(base_versions.begin());
      std::vector<uint64_t> keys, removed;
      base->mutable_embeddings()->TakeDirty(1, &keys, &removed);
    }
    t0 = Steady::now();
    m->embeddings().FoldDigest();
    rows_published.push_back(static_cast<double>(m->embeddings().dirty_keys(1).size()));
    versions.push_back(m->Clone());
    publish_ms.push_back(MsSince(t0));
    if (versions.size() > 2) versions.erase(versions.begin());
    const Delta d = TakeDelta(m.get());
    t0 = Steady::now();
    StatusOr<std::unique_ptr<learner::Model>> next = learner::Model::RestoreDelta(
        d.state, follower.get(), d.changed, d.removed, options, optimizer);
    const bool equal = next.ok() && (*next)->ParamChecksum() == versions.back()->ParamChecksum();
    apply_ms.push_back(MsSince(t0));
    if (!equal) {
      std::fprintf(stderr, "follower diverged at round %d\n", r);
      return 1;
    }
    follower = std::move(next).value();
  }
  std::printf(
      "publication (fold + Clone, learner thread): p50 %.2f ms, p99 %.2f ms; rows per "
      "publication p50 %.0f\n",
      Percentile(publish_ms, 0.5), Percentile(publish_ms, 0.99), Percentile(rows_published, 0.5));
  std::printf("learner: %.0f examples/s (batch %zu, publication excluded)\n",
              1000.0 * static_cast<double>(trained) / train_ms, f.batch);
  if (base != nullptr) {
    const double base_rate = 1000.0 * static_cast<double>(trained) / base_ms;
    const double rate = 1000.0 * static_cast<double>(trained) / train_ms;
    std::printf(
        "learner side by side: %.0f examples/s at %zu rows, %.0f at %zu rows: %.2fx "
        "(median over %zu rounds %.2fx)\n",
        base_rate, f.baseline_rows, rate, f.rows, rate / base_rate, round_ratio.size(),
        Percentile(round_ratio, 0.5));
    base_versions.clear();
    base.reset();
  }
  std::printf("follower apply (RestoreDelta + checksum): p50 %.2f ms, p99 %.2f ms\n",
              Percentile(apply_ms, 0.5), Percentile(apply_ms, 0.99));

  const std::shared_ptr<const learner::Model> served = versions.back();
  t0 = Steady::now();
  const std::string checksum = served->ParamChecksumHex();
  std::printf("param_checksum of a version: %.2f ms\n", MsSince(t0));
  std::vector<double> score_ms;
  const learner::Scorer scorer(*served);
  for (int i = 0; i < 200; ++i) {
    learner::ScoreRequest request;
    request.shared = MakeUser(&rng).features;
    std::vector<learner::Example> candidates;
    for (int c = 0; c < 500; ++c) candidates.push_back(MakeCandidate(&rng));
    learner::ScoreResult result;
    t0 = Steady::now();
    scorer.Score(request, candidates, &result);
    score_ms.push_back(MsSince(t0));
  }
  std::printf("score 500 candidates (in process): p50 %.2f ms, p99 %.2f ms\n",
              Percentile(score_ms, 0.5), Percentile(score_ms, 0.99));

  // A 1% delta snapshot: capture on the learner thread, export on the writer's.
  m->ClearDirtyRows(0);
  for (uint64_t i = 0; i < f.rows / 100; ++i) {
    m->mutable_embeddings()->Mutable(GrownKey(rng.Below(f.rows)), 1)[0] += 1e-3f;
  }
  m->embeddings().FoldDigest();  // what the training steps' EndStep() would have done
  t0 = Steady::now();
  std::vector<uint64_t> keys, removed;
  m->mutable_embeddings()->TakeDirty(0, &keys, &removed);
  const std::unique_ptr<learner::Model> captured = m->Clone();
  const double capture_ms = MsSince(t0);
  t0 = Steady::now();
  std::string state;
  captured->SerializeState(&state);
  size_t bytes = state.size();
  for (uint64_t key : keys) {
    std::string row;
    captured->embeddings().ExportRow(key, &row);
    bytes += row.size();
  }
  std::printf(
      "1%% delta snapshot (%zu rows): capture pause %.2f ms; writer-thread export %.1f ms "
      "(%.1f MB, RocksDB write not included)\n",
      keys.size(), capture_ms, MsSince(t0), static_cast<double>(bytes) / 1e6);
  const double rss_end = RssBytes();
  std::printf(
      "RSS at the end: %.0f MB, %.0f B/row (%zu rows; 3 versions and a follower with its own rows "
      "alive)\n",
      rss_end / 1e6, rss_end / static_cast<double>(m->embedding_rows()), m->embedding_rows());
  std::printf("checksum %s\n", checksum.c_str());
  return 0;
}

}  // namespace
}  // namespace ranker::bench

int main(int argc, char** argv) { return ranker::bench::Main(argc, argv); }
