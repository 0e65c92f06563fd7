#include "api/handlers.h"

#include <utility>

#include "api/json_writer.h"

namespace ranker::api {

Handler HealthzHandler() {
  return [](const Request&) { return JsonResponse(R"({"status":"ok"})"); };
}

Handler ReadyzHandler(ReadinessFn ready) {
  return [ready = std::move(ready)](const Request&) {
    const Status status = ready();
    if (status.ok()) return JsonResponse(R"({"status":"ready"})");
    JsonWriter w;
    w.BeginObject();
    w.Key("status");
    w.String("not_ready");
    w.Key("reason");
    w.String(status.message());
    w.EndObject();
    Response r = JsonResponse(std::move(w).Take(), 503);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  };
}

Handler MetricsHandler(const Metrics* metrics) {
  return [metrics](const Request&) {
    Response r;
    r.content_type = std::string(kPrometheusContentType);
    r.body = metrics->Render();
    return r;
  };
}

Handler IndexPlaceholderHandler() {
  return [](const Request&) {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ranker</title></head>"
        "<body><h1>ranker</h1><p>The dashboard is not built yet. Endpoints: "
        "<a href=\"/v1/model\">/v1/model</a>, <a href=\"/v1/snapshots\">/v1/snapshots</a>, "
        "<a href=\"/metrics\">/metrics</a>, <a href=\"/readyz\">/readyz</a>.</p></body></html>";
    return r;
  };
}

}  // namespace ranker::api
