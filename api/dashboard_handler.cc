#include "api/dashboard_handler.h"

#include <cassert>
#include <string_view>

#include "api/dashboard_assets.h"

namespace ranker::api {
namespace {

constexpr std::string_view kAssetPrefix = "/assets/";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidate = "no-cache";
constexpr std::string_view kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// `"/assets/<name>` followed by `suffix`.
std::string QuotedAssetUrl(std::string_view name, std::string_view suffix) {
  std::string url = "\"";
  url.append(kAssetPrefix).append(name).append(suffix);
  return url;
}

// Replaces every quoted "/assets/<name>" in `html` by the versioned URL.
std::string VersionAssetUrls(std::string html) {
  for (const DashboardAsset& asset : DashboardAssets()) {
    const std::string plain = QuotedAssetUrl(asset.name, "\"");
    const std::string versioned = QuotedAssetUrl(asset.name, "?v=").append(asset.version) + "\"";
    for (size_t at = html.find(plain); at != std::string::npos;
         at = html.find(plain, at + versioned.size())) {
      html.replace(at, plain.size(), versioned);
    }
  }
  return html;
}

Response Asset(std::string_view content_type, std::string body, std::string_view cache) {
  Response r;
  r.content_type = std::string(content_type);
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", std::string(cache));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace

const std::string& DashboardIndexHtml() {
  static const std::string html = [] {
    const DashboardAsset* index = FindDashboardAsset("index.html");
    assert(index != nullptr && "index.html is embedded by api/CMakeLists.txt");
    return VersionAssetUrls(std::string(index->bytes));
  }();
  return html;
}

Handler DashboardIndexHandler() {
  return [](const Request&) {
    Response r = Asset(ContentTypeForName("index.html"), DashboardIndexHtml(), kRevalidate);
    r.headers.emplace_back("Content-Security-Policy", std::string(kPolicy));
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    return r;
  };
}

Handler DashboardAssetHandler() {
  return [](const Request& request) {
    const std::string* name = request.PathParam("name");
    // The page itself is served at "/" only, with its headers.
    const DashboardAsset* asset =
        name && *name != "index.html" ? FindDashboardAsset(*name) : nullptr;
    if (asset == nullptr) return JsonError(404, "not_found", "no asset " + request.path);
    const bool current = QueryParam(request.query, "v") == asset->version;
    return Asset(asset->content_type, std::string(asset->bytes),
                 current ? kImmutable : kRevalidate);
  };
}

void AddDashboardRoutes(Router* router) {
  router->Add(Method::kGet, "/", DashboardIndexHandler());
  router->Add(Method::kGet, std::string(kAssetPrefix) + "{name}", DashboardAssetHandler());
}

}  // namespace ranker::api
