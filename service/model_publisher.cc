#include "service/model_publisher.h"

#include <boost/json/serialize.hpp>
#include <chrono>

#include "service/model_json.h"

namespace ranker::app {

std::string OffsetKey(const ingest::TopicPartition& tp) {
  return tp.topic + "/" + std::to_string(tp.partition);
}

std::shared_ptr<const PublishedModel> ModelPublisher::Publish(
    const LearningPipeline& pipeline, const ingest::OffsetMap& offsets, int64_t now_ms,
    const std::function<void(const PublishedModel&)>& before_visible) {
  auto p = std::make_shared<PublishedModel>();
  const auto start = std::chrono::steady_clock::now();
  const learner::Model& model = pipeline.trainer().model();
  p->model = model.Clone();  // folds the rows written since the last fold
  // Distinct rows changed since the previous publication (the learner's own
  // table: Clone's copy starts clean).
  p->publish_rows = pipeline.trainer().model().embeddings().TakeChangedRowCount();
  p->clone_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  p->version = ++versions_;
  p->published_at_ms = now_ms;
  p->offsets = offsets;
  p->metrics = pipeline.trainer().metrics().Report();
  p->join = pipeline.joiner().stats();
  p->feedback_delay = pipeline.trainer().feedback_delay().Summarize();
  p->feedback_publish_delay = pipeline.publish_delay().Summarize();
  p->events_consumed = pipeline.events_consumed();
  p->examples_trained = pipeline.trainer().stats().examples_trained;

  boost::json::object report = ModelReportJson(pipeline, p->metrics, /*with_checksum=*/false);
  report["model_version"] = p->version;
  report["model_steps"] = p->model->steps();
  report["published_at_ms"] = now_ms;
  boost::json::object json_offsets;
  for (const auto& [tp, next] : offsets) json_offsets[OffsetKey(tp)] = next;
  report["offsets"] = std::move(json_offsets);
  report["last_snapshot"] = nullptr;  // the /v1/model handler fills it in (handlers_snapshots.cc)
  report["publish_rows"] = p->publish_rows;
  report["publish_clone_ms"] = p->clone_ms;
  p->report_json = boost::json::serialize(report);
  p->publish_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  std::shared_ptr<const PublishedModel> published = Reclaimer::AdoptBy(reclaimer_, std::move(p));
  if (before_visible) before_visible(*published);
  latest_.store(published);
  return published;
}

void ModelPublisher::Install(std::shared_ptr<PublishedModel> model,
                             const std::function<void(const PublishedModel&)>& before_visible) {
  std::shared_ptr<const PublishedModel> published =
      Reclaimer::AdoptBy(reclaimer_, std::move(model));
  if (before_visible) before_visible(*published);
  latest_.store(published);
}

}  // namespace ranker::app
