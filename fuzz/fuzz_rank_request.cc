// libFuzzer target for the POST /v1/rank body parser: any byte string must
// either parse into a RankRequest that honours the parser's guarantees
// (finite numbers, non-empty ids, limits) or fail with InvalidArgument /
// ResourceExhausted; never crash, hang or allocate without bound.
// Build (clang, from the repository root):
//   clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I.
//     fuzz/fuzz_rank_request.cc api/rank_request.cc api/json_writer.cc
//     base/status.cc -lboost_json -o fuzz_rank_request
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "api/rank_request.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckNumbers(const std::vector<ranker::api::NumberFeature>& features) {
  for (const auto& f : features) Check(std::isfinite(f.value));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ranker::api::RankRequestLimits limits;
  limits.max_candidates = 64;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  ranker::StatusOr<ranker::api::RankRequest> r = ranker::api::ParseRankRequest(body, limits);
  if (!r.ok()) {
    const auto code = r.status().code();
    Check(code == ranker::Status::Code::kInvalidArgument ||
          code == ranker::Status::Code::kResourceExhausted);
    Check(!r.status().message().empty());
    return 0;
  }
  Check(r->candidates.size() <= limits.max_candidates);
  Check(!r->k || *r->k >= 1);
  CheckNumbers(r->dense);
  CheckNumbers(r->weights);
  for (const auto& c : r->candidates) {
    Check(!c.item_id.text.empty());
    CheckNumbers(c.dense);
  }
  // Rendering an answer from the parsed ids must not crash either.
  std::vector<ranker::api::ScoredItem> items;
  for (const auto& c : r->candidates) items.push_back({c.item_id, 0.5, {}});
  ranker::api::SelectTopK(&items, r->k);
  (void)ranker::api::RenderRankResponse(ranker::api::JsonId{"fuzz", false}, 1, items);
  return 0;
}
