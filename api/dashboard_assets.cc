#include "api/dashboard_assets.h"

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "base/hash.h"

namespace ranker::api {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
}};

// The assets with their types and versions, built once. The strings the
// views point to live in the same static object.
struct Catalog {
  std::vector<std::string> versions;
  std::vector<DashboardAsset> assets;

  Catalog() {
    const auto files = internal::EmbeddedDashboardFiles();
    versions.reserve(files.size());
    for (const internal::EmbeddedFile& f : files) {
      Digest64 digest;
      digest.Update(f.bytes.data(), f.bytes.size());
      char buf[17];
      versions.emplace_back(Digest64::Hex(digest.value(), buf));
    }
    for (size_t i = 0; i < files.size(); ++i) {
      assets.push_back(
          {files[i].name, ContentTypeForName(files[i].name), files[i].bytes, versions[i]});
    }
  }
};

const Catalog& GetCatalog() {
  static const Catalog catalog;
  return catalog;
}

}  // namespace

std::span<const DashboardAsset> DashboardAssets() { return GetCatalog().assets; }

const DashboardAsset* FindDashboardAsset(std::string_view name) {
  for (const DashboardAsset& asset : GetCatalog().assets) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

std::string_view ContentTypeForName(std::string_view name) {
  for (const auto& [ext, type] : kTypes) {
    if (name.size() > ext.size() && name.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

}  // namespace ranker::api
