// POST /v1/rank: parse, score on the latest published version, render.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/rank_request.h"
#include "learner/scorer.h"
#include "serving/handlers.h"

namespace ranker::app {
namespace {

// Request-level features: user_id, user{}, context{} and dense{}.
learner::ScoreRequest SharedFeatures(const api::RankRequest& rank) {
  learner::ScoreRequest out;
  if (rank.user_id) out.shared.push_back({"user_id", rank.user_id->text});
  for (const api::StringFeature& f : rank.user) out.shared.push_back({"user." + f.name, f.value});
  for (const api::StringFeature& f : rank.context) {
    out.shared.push_back({"context." + f.name, f.value});
  }
  for (const api::NumberFeature& f : rank.dense) out.shared_dense.push_back({f.name, f.value});
  return out;
}

std::vector<learner::Example> Candidates(const api::RankRequest& rank) {
  std::vector<learner::Example> out(rank.candidates.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const api::RankCandidate& c = rank.candidates[i];
    learner::Example& ex = out[i];
    // Scoring reads the features only (not Example::item_id).
    ex.categorical.reserve(1 + c.item.size());
    ex.dense.reserve(c.dense.size());
    ex.categorical.push_back({"item_id", c.item_id.text});
    for (const api::StringFeature& f : c.item)
      ex.categorical.push_back({"item." + f.name, f.value});
    for (const api::NumberFeature& f : c.dense) ex.dense.push_back({f.name, f.value});
  }
  return out;
}

// The configured score weights with the request's overrides applied; an
// unknown task name is a 400 naming it.
StatusOr<std::vector<double>> Weights(const learner::Model& model,
                                      const std::vector<api::NumberFeature>& overrides) {
  std::vector<double> weights;
  for (const learner::TaskSpec& t : model.options().tasks) weights.push_back(t.score_weight);
  for (const api::NumberFeature& w : overrides) {
    const int t = model.TaskIndex(w.name);
    if (t < 0) return Status::InvalidArgument("weights." + w.name + ": unknown task");
    weights[t] = w.value;
  }
  return weights;
}

// Output field names per task: "p_click" / "watch_seconds" for the default
// tasks (contract §3), then every task by its name.
std::vector<std::pair<std::string, int>> FieldNames(const learner::Model& model) {
  std::vector<std::pair<std::string, int>> out;
  const std::vector<learner::TaskSpec>& tasks = model.options().tasks;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const bool binary = tasks[t].kind == learner::TaskKind::kBinary;
    if (binary && tasks[t].name == "click") out.emplace_back("p_click", static_cast<int>(t));
    if (!binary && tasks[t].name == "watch") out.emplace_back("watch_seconds", static_cast<int>(t));
  }
  for (size_t t = 0; t < tasks.size(); ++t) out.emplace_back(tasks[t].name, static_cast<int>(t));
  return out;
}

std::vector<api::ScoredItem> Score(const learner::Model& model, WorkerPool* pool,
                                   const api::RankRequest& rank, std::vector<double> weights) {
  std::vector<api::ScoredItem> items;
  if (rank.candidates.empty()) return items;
  learner::ScoreRequest request = SharedFeatures(rank);
  request.weights = std::move(weights);
  const std::vector<learner::Example> candidates = Candidates(rank);
  learner::ScoreResult result;
  learner::Scorer(model, pool).Score(request, candidates, &result);
  const auto fields = FieldNames(model);
  items.resize(candidates.size());
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].item_id = rank.candidates[i].item_id;
    items[i].score = result.scores[i];
    items[i].fields.reserve(fields.size());
    for (const auto& [name, t] : fields) {
      items[i].fields.push_back({name, result.prediction(static_cast<int>(i), t)});
    }
  }
  return items;
}

}  // namespace

api::Handler RankHandler(const ModelSource* models, const api::RankRequestLimits& limits,
                         std::function<std::string()> new_request_id, WorkerPool* pool) {
  return [models, limits, new_request_id = std::move(new_request_id),
          pool](const api::Request& request) {
    if (auto bad = api::RequireJsonContentType(request)) return *bad;
    StatusOr<api::RankRequest> rank = api::ParseRankRequest(request.body, limits);
    if (!rank.ok()) return api::ErrorFromStatus(rank.status());
    const std::shared_ptr<const PublishedModel> published = models->Named(rank->model);
    if (published == nullptr && !rank->model.empty() && models->Latest() != nullptr) {
      bool known = false;
      for (const ModelSource::Entry& e : models->Models()) known = known || e.name == rank->model;
      if (!known) {
        return api::JsonError(404, "unknown_model",
                              "model: no model named '" + rank->model + "' (GET /v1/models)");
      }
    }
    if (published == nullptr) return api::JsonError(503, "unavailable", "no model published yet");
    StatusOr<std::vector<double>> weights = Weights(*published->model, rank->weights);
    if (!weights.ok()) return api::ErrorFromStatus(weights.status());
    std::vector<api::ScoredItem> items =
        Score(*published->model, pool, *rank, std::move(weights).value());
    api::SelectTopK(&items, rank->k);
    const api::JsonId id =
        rank->request_id ? *rank->request_id : api::JsonId{new_request_id(), false};
    return api::JsonResponse(api::RenderRankResponse(id, published->version, items));
  };
}

}  // namespace ranker::app
