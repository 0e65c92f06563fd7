// The body of POST /v1/rank (contract §3), parsed and validated into a
// model-independent struct, and the rendering of its answer. The handler
// that scores (app/) glues them:
//
//   if (auto bad = RequireJsonContentType(req)) return *bad;            // 415
//   StatusOr<RankRequest> rank = ParseRankRequest(req.body, limits);
//   if (!rank.ok()) return ErrorFromStatus(rank.status());              // 400/413
//   std::vector<ScoredItem> items = ...score rank->candidates...;
//   SelectTopK(&items, rank->k);
//   return JsonResponse(RenderRankResponse(request_id, version, items));
//
// Validation errors are InvalidArgument with a message that starts with the
// offending field's path ("candidates[3].item_id: missing"); exceeded limits
// are ResourceExhausted naming the limit. A parsed RankRequest holds only
// finite numbers and non-empty ids. Unknown fields are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ranker::api {

// An id as the client sent it: a JSON string, or an integer kept as its
// decimal text (so "7" and 7 are the same feature value, and the answer
// echoes the type the client used).
struct JsonId {
  std::string text;
  bool is_integer = false;
};

// One entry of a user{}/item{}/context{} map, in the order sent.
struct StringFeature {
  std::string name;
  std::string value;
};

// One entry of a dense{} or weights{} map; value is finite.
struct NumberFeature {
  std::string name;
  double value = 0;
};

struct RankCandidate {
  JsonId item_id;
  std::vector<StringFeature> item;
  std::vector<NumberFeature> dense;
};

struct RankRequest {
  std::optional<JsonId> request_id;  // absent: the handler makes one
  std::optional<JsonId> user_id;     // absent: anonymous
  std::vector<StringFeature> user;
  std::vector<StringFeature> context;
  std::vector<NumberFeature> dense;  // request-level dense{}, shared by candidates
  std::vector<RankCandidate> candidates;
  std::optional<size_t> k;             // >= 1 when set; absent: all
  std::vector<NumberFeature> weights;  // task -> score weight overrides
  // The model to rank with (a challenger's name); empty: the champion.
  std::string model;
};

struct RankRequestLimits {
  size_t max_candidates = 1000;
  size_t max_map_entries = 256;    // per user{}/item{}/context{}/dense{}/weights{}
  size_t max_string_bytes = 1024;  // ids, feature names and values
  Status Validate() const;
};

StatusOr<RankRequest> ParseRankRequest(std::string_view body, const RankRequestLimits& limits = {});

// One scored candidate, as the scorer returns it.
struct ScoredItem {
  JsonId item_id;
  double score = 0;
  // Extra per-item fields in output order: "p_click", "watch_seconds", one
  // per task... Non-finite values render as null.
  std::vector<NumberFeature> fields;
};

// Orders `items` best score first (ties keep their order; NaN scores go
// last) and keeps at most `k` of them.
void SelectTopK(std::vector<ScoredItem>* items, std::optional<size_t> k);

// {"request_id","model_version","items":[{"item_id","position","score",
// ...fields}]} with position = index + 1, in the order given.
std::string RenderRankResponse(const JsonId& request_id, uint64_t model_version,
                               const std::vector<ScoredItem>& items);

}  // namespace ranker::api
