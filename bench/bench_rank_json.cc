// The JSON share of POST /v1/rank: parsing and validating a 500-candidate
// request body (api::ParseRankRequest) and rendering the 500 scored items
// (api::RenderRankResponse), to set beside BM_Score/500 (bench_score.cc) and
// the HTTP latency measured by bench/wrk_rank.sh. The body has the shape of
// the standard model's requests (bench/synthetic.h): user_id, 3 user{},
// context.device, 500 candidates with item_id, 2 item{} and 8 dense{}.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include "api/rank_request.h"
#include "bench/synthetic.h"

namespace ranker::api {
namespace {

constexpr size_t kCandidates = 500;

// Splits "user.country" into ("user", "country").
std::pair<std::string, std::string> Split(const std::string& field) {
  const size_t dot = field.find('.');
  return {field.substr(0, dot), dot == std::string::npos ? "" : field.substr(dot + 1)};
}

boost::json::object CandidateJson(const learner::Example& c) {
  boost::json::object item, dense;
  for (const learner::CategoricalFeature& f : c.categorical) {
    const auto [map, name] = Split(f.field);
    if (map == "item") item[name] = f.value;
  }
  for (const learner::DenseFeature& d : c.dense) dense[d.name] = d.value;
  return {{"item_id", c.item_id}, {"item", std::move(item)}, {"dense", std::move(dense)}};
}

std::string RequestBody(size_t n, uint64_t seed) {
  Rng rng(seed);
  boost::json::object body, user, context;
  for (const learner::CategoricalFeature& f : bench::MakeUser(&rng).features) {
    const auto [map, name] = Split(f.field);
    if (map == "user_id") body["user_id"] = f.value;
    if (map == "user") user[name] = f.value;
    if (map == "context") context[name] = f.value;
  }
  body["user"] = std::move(user);
  body["context"] = std::move(context);
  boost::json::array candidates;
  for (size_t i = 0; i < n; ++i) candidates.push_back(CandidateJson(bench::MakeCandidate(&rng)));
  body["candidates"] = std::move(candidates);
  return boost::json::serialize(body);
}

void BM_ParseRankRequest(benchmark::State& state) {
  const std::string body = RequestBody(kCandidates, 3);
  for (auto _ : state) {
    StatusOr<RankRequest> r = ParseRankRequest(body);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(r->candidates.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_ParseRankRequest)->MinTime(1.0)->Unit(benchmark::kMicrosecond);

// The bare Boost.JSON DOM parse of the same body: the floor under
// BM_ParseRankRequest (the rest is validation and copying into RankRequest).
void BM_ParseJsonDom(benchmark::State& state) {
  const std::string body = RequestBody(kCandidates, 3);
  for (auto _ : state) {
    boost::json::value v = boost::json::parse(body);
    benchmark::DoNotOptimize(&v);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseJsonDom)->MinTime(1.0)->Unit(benchmark::kMicrosecond);

// 500 items with the default tasks' fields (p_click, watch_seconds, click,
// watch), all of them rendered (no k).
void BM_RenderRankResponse(benchmark::State& state) {
  Rng rng(5);
  std::vector<ScoredItem> items(kCandidates);
  for (ScoredItem& it : items) {
    it.item_id = {bench::Id("i", rng.Below(200000)), false};
    it.score = rng.Uniform();
    const double p = rng.Uniform(), w = 30 * rng.Uniform();
    it.fields = {{"p_click", p}, {"watch_seconds", w}, {"click", p}, {"watch", w}};
  }
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string out = RenderRankResponse({"req-1", false}, 42, items);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["body_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderRankResponse)->MinTime(1.0)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ranker::api

BENCHMARK_MAIN();
