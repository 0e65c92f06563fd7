// Model-independent handlers of contract §3: liveness, readiness, metrics and
// the placeholder for the dashboard page. Each returns a Handler (a pure
// function) to register on the Router; the model-backed handlers live in app/.
#pragma once

#include <functional>

#include "api/http_types.h"
#include "api/metrics.h"
#include "base/status.h"

namespace ranker::api {

// Readiness probe: OK when the service can answer (model loaded, HTTP up);
// otherwise a Status whose message says what is missing. Must be thread-safe
// and cheap: it runs on every GET /readyz.
using ReadinessFn = std::function<Status()>;

// GET /healthz: always 200 {"status":"ok"} while the process serves HTTP.
Handler HealthzHandler();

// GET /readyz: 200 {"status":"ready"}, or 503
// {"status":"not_ready","reason":"..."} when `ready` returns an error.
Handler ReadyzHandler(ReadinessFn ready);

// GET /metrics: metrics->Render() as Prometheus text. `metrics` is borrowed
// and must outlive the handler.
Handler MetricsHandler(const Metrics* metrics);

// GET /: a minimal HTML page linking the JSON endpoints, until the dashboard
// replaces it.
Handler IndexPlaceholderHandler();

}  // namespace ranker::api
