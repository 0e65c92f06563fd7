// The dashboard page of contract §3 (GET /): a page for people with live
// charts of the model report (GET /v1/model, polled by the page) and a form
// that calls POST /v1/rank. Everything it loads is embedded in the binary
// (dashboard_assets.h) and served here, so it works with no network:
//
//   GET /                 index.html; its references to the assets carry
//                         their content digest ("/assets/chart.js?v=<hex>")
//   GET /assets/{name}    dashboard.js, dashboard.css, chart.js; 404
//                         (contract error shape) for any other name
//
// Caching: the page is "no-cache" (revalidated, so a new binary's page is
// seen at once); an asset requested with its current digest (?v=) is
// immutable for a year, without it "no-cache". Every answer carries
// X-Content-Type-Options: nosniff, and the page a Content-Security-Policy
// that allows only this origin, so the page cannot reach the network.
//
// The handlers are pure functions of the request and thread-safe.
#pragma once

#include <string>

#include "api/http_types.h"
#include "api/router.h"

namespace ranker::api {

// GET /.
Handler DashboardIndexHandler();

// GET /assets/{name} (reads the router's path parameter "name").
Handler DashboardAssetHandler();

// Registers both routes above on `router` (borrowed for the call only).
void AddDashboardRoutes(Router* router);

// The page as served: index.html with versioned asset references.
const std::string& DashboardIndexHtml();

}  // namespace ranker::api
