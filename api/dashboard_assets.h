// The files of the dashboard page (GET /, contract §3), embedded in the
// binary at build time so that the page needs no network and no files at run
// time: index.html, dashboard.js and dashboard.css from api/dashboard/, and
// Debian's Chart.js (libjs-chart.js) as chart.js. api/CMakeLists.txt runs
// api/dashboard/embed_assets.cmake to turn them into byte arrays.
//
// Thread-safety: everything here is immutable after static initialisation;
// the returned views point into static storage and never dangle.
#pragma once

#include <span>
#include <string_view>

namespace ranker::api {

struct DashboardAsset {
  std::string_view name;          // "index.html", "dashboard.js", "chart.js"...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view bytes;         // the file's bytes, exactly as at build time
  // 16 hex digits digesting `bytes`: a cache-busting version for URLs.
  std::string_view version;
};

// Every embedded file, in build order.
std::span<const DashboardAsset> DashboardAssets();

// The embedded file called `name` (no directory: "chart.js"), or nullptr.
const DashboardAsset* FindDashboardAsset(std::string_view name);

// The media type served for a file name, from its extension:
// "application/octet-stream" for unknown ones.
std::string_view ContentTypeForName(std::string_view name);

namespace internal {

// One file as the build embedded it; defined in the generated
// dashboard_assets_data.cc.
struct EmbeddedFile {
  std::string_view name;
  std::string_view bytes;
};
std::span<const EmbeddedFile> EmbeddedDashboardFiles();

}  // namespace internal
}  // namespace ranker::api
