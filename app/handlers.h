// The model-backed HTTP handlers of contract §3, on a Service. Each is a
// pure function Request -> Response (tests call them through
// Service::Handle() without a socket) and thread-safe.
//
//   POST /v1/rank            RankHandler
//   POST /v1/events          EventsHandler
//   GET  /v1/model           ModelHandler (the published version's report)
//   GET  /metrics            ServiceMetricsHandler
//   GET  /healthz, /readyz   api/handlers.h, readiness from Service::Ready()
//   GET  /, /assets/{name}   the dashboard (api/dashboard_handler.h)
//   GET  /v1/snapshots       SnapshotsHandler (retained snapshots, newest first)
//   POST /v1/snapshots       TakeSnapshotHandler (admin)
//   POST /v1/snapshots/{id}/restore  RestoreSnapshotHandler (admin)
//
// Lifetimes: `service` is borrowed and must outlive the handlers.
#pragma once

#include "api/http_types.h"
#include "api/router.h"

namespace ranker::app {

class Service;

api::Handler RankHandler(const Service* service);
api::Handler EventsHandler(Service* service);
api::Handler ModelHandler(const Service* service);
api::Handler ServiceMetricsHandler(const Service* service);
api::Handler SnapshotsHandler(const Service* service);
api::Handler TakeSnapshotHandler(Service* service);
api::Handler RestoreSnapshotHandler(Service* service);

// Registers every route above on `router`.
void AddServiceRoutes(Service* service, api::Router* router);

}  // namespace ranker::app
