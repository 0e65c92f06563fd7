// The model-backed HTTP handlers of contract §3. Each is a pure function
// Request -> Response (tests call them without a socket) and thread-safe.
// They see the service only through the narrow interfaces serving declares:
// the model to score with (ModelSource), where events go (EventSink), and
// snapshot admin (SnapshotAdmin). app::Service implements all three.
//
//   POST /v1/rank            RankHandler
//   POST /v1/events          EventsHandler
//   GET  /v1/model           ModelHandler (the published version's report)
//   GET  /v1/models          ModelsHandler (champion and challengers)
//   POST /v1/models/{name}/promote  PromoteHandler (admin)
//   GET  /metrics            MetricsTextHandler
//   GET  /healthz, /readyz   api/handlers.h, readiness from ServingDeps::ready
//   GET  /, /assets/{name}   the dashboard (api/dashboard_handler.h)
//   GET  /v1/snapshots       SnapshotsHandler (retained snapshots, newest first)
//   POST /v1/snapshots       TakeSnapshotHandler (admin)
//   POST /v1/snapshots/{id}/restore  RestoreSnapshotHandler (admin)
//
// Lifetimes: every borrowed pointer must outlive the handlers.
#pragma once

#include <functional>
#include <string>

#include "api/http_types.h"
#include "api/rank_request.h"
#include "api/router.h"
#include "base/status.h"
#include "base/worker_pool.h"
#include "serving/event_sink.h"
#include "serving/model_source.h"
#include "serving/snapshot_admin.h"

namespace ranker::app {

// What the routes borrow. `models` and `snapshots` may not be null.
struct ServingDeps {
  const ModelSource* models = nullptr;
  // null: this replica takes no events (a follower): POST /v1/events is 409.
  EventSink* events = nullptr;
  SnapshotAdmin* snapshots = nullptr;
  // null: no challengers; POST /v1/models/{name}/promote is 404.
  ModelPromoter* promoter = nullptr;
  api::RankRequestLimits rank;
  // Helpers that share a /v1/rank request's candidate blocks; null: none.
  WorkerPool* score_pool = nullptr;
  // A new request id for /v1/rank calls that bring none.
  std::function<std::string()> new_request_id;
  // The Prometheus text of GET /metrics.
  std::function<std::string()> render_metrics;
  // GET /readyz: OK when ready to serve.
  std::function<Status()> ready;
};

// With a `pool`, a request's candidate blocks are spread over the handler's
// thread and the pool's free helpers (learner::Scorer); null: the handler
// scores alone. The scores are the same either way.
api::Handler RankHandler(const ModelSource* models, const api::RankRequestLimits& limits,
                         std::function<std::string()> new_request_id, WorkerPool* pool = nullptr);
api::Handler EventsHandler(EventSink* sink);
// GET /v1/models: every model of the set with its report, champion flagged.
api::Handler ModelsHandler(const ModelSource* models);
// POST /v1/models/{name}/promote (admin).
api::Handler PromoteHandler(ModelPromoter* promoter);
api::Handler ModelHandler(const ModelSource* models, const SnapshotAdmin* snapshots);
api::Handler MetricsTextHandler(std::function<std::string()> render);
api::Handler SnapshotsHandler(const SnapshotAdmin* snapshots);
api::Handler TakeSnapshotHandler(SnapshotAdmin* snapshots);
api::Handler RestoreSnapshotHandler(SnapshotAdmin* snapshots);

// Registers every route above on `router`.
void AddServiceRoutes(const ServingDeps& deps, api::Router* router);

}  // namespace ranker::app
