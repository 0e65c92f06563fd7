// GET /v1/model, GET /metrics, the probes, the dashboard, and the route
// table.
#include "api/dashboard_handler.h"
#include "api/handlers.h"
#include "api/metrics.h"
#include "app/handlers.h"
#include "app/handlers_snapshots.h"
#include "app/service.h"

namespace ranker::app {

api::Handler ModelHandler(const Service* service) {
  return [service](const api::Request&) {
    const std::shared_ptr<const PublishedModel> published = service->Latest();
    if (published == nullptr) return api::JsonError(503, "unavailable", "no model published yet");
    api::Response r = api::JsonResponse(ModelBody(*published, *service));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  };
}

api::Handler ServiceMetricsHandler(const Service* service) {
  return [service](const api::Request&) {
    api::Response r;
    r.content_type = std::string(api::kPrometheusContentType);
    r.body = service->RenderMetrics();
    return r;
  };
}

void AddServiceRoutes(Service* service, api::Router* router) {
  using api::Method;
  const api::RouteOptions body{.admin = false, .requires_body = true};
  const api::RouteOptions admin{.admin = true, .requires_body = false};
  router->Add(Method::kPost, "/v1/rank", RankHandler(service), body);
  router->Add(Method::kPost, "/v1/events", EventsHandler(service), body);
  router->Add(Method::kGet, "/v1/model", ModelHandler(service));
  router->Add(Method::kGet, "/healthz", api::HealthzHandler());
  router->Add(Method::kGet, "/readyz", api::ReadyzHandler([service] { return service->Ready(); }));
  router->Add(Method::kGet, "/metrics", ServiceMetricsHandler(service));
  router->Add(Method::kGet, "/v1/snapshots", SnapshotsHandler(service));
  router->Add(Method::kPost, "/v1/snapshots", TakeSnapshotHandler(service), admin);
  router->Add(Method::kPost, "/v1/snapshots/{id}/restore", RestoreSnapshotHandler(service), admin);
  api::AddDashboardRoutes(router);
}

}  // namespace ranker::app
