// GET /v1/model, GET /metrics, the probes, the dashboard, and the route
// table.
#include <functional>
#include <string>
#include <utility>

#include "api/dashboard_handler.h"
#include "api/handlers.h"
#include "api/metrics.h"
#include "serving/handlers.h"
#include "serving/handlers_snapshots.h"

namespace ranker::app {

api::Handler ModelHandler(const ModelSource* models, const SnapshotAdmin* snapshots) {
  return [models, snapshots](const api::Request&) {
    const std::shared_ptr<const PublishedModel> published = models->Latest();
    if (published == nullptr) return api::JsonError(503, "unavailable", "no model published yet");
    api::Response r = api::JsonResponse(ModelBody(*published, *snapshots));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  };
}

api::Handler MetricsTextHandler(std::function<std::string()> render) {
  return [render = std::move(render)](const api::Request&) {
    api::Response r;
    r.content_type = std::string(api::kPrometheusContentType);
    r.body = render();
    return r;
  };
}

void AddServiceRoutes(const ServingDeps& deps, api::Router* router) {
  using api::Method;
  const api::RouteOptions body{.admin = false, .requires_body = true};
  const api::RouteOptions admin{.admin = true, .requires_body = false};
  // Reads or writes the snapshot store (a restore or a full snapshot takes
  // seconds at 10M rows): never on an I/O thread.
  const api::RouteOptions slow{.offload = true};
  const api::RouteOptions slow_admin{.admin = true, .offload = true};
  router->Add(Method::kPost, "/v1/rank",
              RankHandler(deps.models, deps.rank, deps.new_request_id, deps.score_pool), body);
  router->Add(Method::kPost, "/v1/events", EventsHandler(deps.events), body);
  router->Add(Method::kGet, "/v1/model", ModelHandler(deps.models, deps.snapshots));
  router->Add(Method::kGet, "/v1/models", ModelsHandler(deps.models));
  router->Add(Method::kPost, "/v1/models/{name}/promote", PromoteHandler(deps.promoter), admin);
  router->Add(Method::kGet, "/healthz", api::HealthzHandler());
  router->Add(Method::kGet, "/readyz", api::ReadyzHandler(deps.ready));
  router->Add(Method::kGet, "/metrics", MetricsTextHandler(deps.render_metrics));
  router->Add(Method::kGet, "/v1/snapshots", SnapshotsHandler(deps.snapshots), slow);
  router->Add(Method::kPost, "/v1/snapshots", TakeSnapshotHandler(deps.snapshots), slow_admin);
  router->Add(Method::kPost, "/v1/snapshots/{id}/restore", RestoreSnapshotHandler(deps.snapshots),
              slow_admin);
  api::AddDashboardRoutes(router);
}

}  // namespace ranker::app
