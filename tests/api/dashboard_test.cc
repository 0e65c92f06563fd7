// The dashboard's routes as pure functions (no sockets): the page and its
// embedded assets, their types, caching and versions, the bytes against the
// files they were built from, and that nothing points off the origin. The
// page's behaviour in a browser is tests/browser/dashboard_browser_test.sh.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "api/dashboard_assets.h"
#include "api/dashboard_handler.h"
#include "api/router.h"
#include "base/hash.h"

namespace ranker::api {
namespace {

constexpr char kDebianChartJs[] = "/usr/share/javascript/chart.js/chart.min.js";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string SourceFile(const std::string& name) {
  return ReadFile(std::string(RANKER_SOURCE_DIR) + "/api/dashboard/" + name);
}

std::string Hex(uint64_t v) {
  char buf[17];
  return std::string(Digest64::Hex(v, buf));
}

// The first-party files as served.
struct Served {
  std::string path;
  std::string content_type;
};

class DashboardTest : public ::testing::Test {
 protected:
  DashboardTest() { AddDashboardRoutes(&router_); }

  Response Get(const std::string& target, Method method = Method::kGet) const {
    Request r;
    r.method = method;
    r.SetTarget(target);
    std::string_view route;
    return router_.Dispatch(&r, &route);
  }

  Router router_;
};

TEST_F(DashboardTest, IndexIsTheEmbeddedPage) {
  const Response r = Get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<canvas id=\"chart-auc\">"), std::string::npos);
  EXPECT_NE(r.body.find("id=\"rank-form\""), std::string::npos);
  ASSERT_NE(r.Header("cache-control"), nullptr);
  EXPECT_EQ(*r.Header("cache-control"), "no-cache");
  ASSERT_NE(r.Header("content-security-policy"), nullptr);
  EXPECT_NE(r.Header("content-security-policy")->find("default-src 'self'"), std::string::npos);
  // The embedded index.html is the source file, byte for byte.
  ASSERT_NE(FindDashboardAsset("index.html"), nullptr);
  EXPECT_EQ(FindDashboardAsset("index.html")->bytes, SourceFile("index.html"));
}

TEST_F(DashboardTest, PageReferencesEachAssetByItsDigest) {
  const std::string page = Get("/").body;
  for (const std::string name : {"dashboard.js", "dashboard.css", "chart.js"}) {
    SCOPED_TRACE(name);
    const DashboardAsset* asset = FindDashboardAsset(name);
    ASSERT_NE(asset, nullptr);
    Digest64 digest;
    digest.Update(asset->bytes.data(), asset->bytes.size());
    EXPECT_EQ(asset->version, Hex(digest.value()));
    EXPECT_NE(page.find("\"/assets/" + name + "?v=" + Hex(digest.value()) + "\""),
              std::string::npos);
    EXPECT_EQ(page.find("\"/assets/" + name + "\""), std::string::npos);
  }
}

TEST_F(DashboardTest, AssetsAreServedWithTheirTypesAndSourceBytes) {
  const Served cases[] = {{"dashboard.js", "text/javascript; charset=utf-8"},
                          {"dashboard.css", "text/css; charset=utf-8"},
                          {"chart.js", "text/javascript; charset=utf-8"}};
  for (const Served& c : cases) {
    SCOPED_TRACE(c.path);
    const Response r = Get("/assets/" + c.path);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, c.content_type);
    ASSERT_NE(r.Header("x-content-type-options"), nullptr);
    EXPECT_EQ(*r.Header("x-content-type-options"), "nosniff");
    if (c.path != "chart.js") {  // chart.js: ChartJsIsDebiansFile
      EXPECT_EQ(r.body, SourceFile(c.path));
    }
  }
}

TEST_F(DashboardTest, ChartJsIsDebiansFile) {
  const std::string debian = ReadFile(kDebianChartJs);
  ASSERT_FALSE(debian.empty()) << kDebianChartJs << " is missing (package libjs-chart.js)";
  const Response r = Get("/assets/chart.js");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), debian.size());
  EXPECT_TRUE(r.body == debian) << "served chart.js differs from " << kDebianChartJs;
  EXPECT_EQ(r.body.rfind("/*!\n * Chart.js v3", 0), 0u);
}

TEST_F(DashboardTest, VersionedAssetIsImmutableOthersRevalidate) {
  const DashboardAsset* js = FindDashboardAsset("dashboard.js");
  ASSERT_NE(js, nullptr);
  const Response current = Get("/assets/dashboard.js?v=" + std::string(js->version));
  ASSERT_NE(current.Header("cache-control"), nullptr);
  EXPECT_EQ(*current.Header("cache-control"), "public, max-age=31536000, immutable");
  for (const std::string target : {"/assets/dashboard.js", "/assets/dashboard.js?v=0123"}) {
    const Response r = Get(target);
    EXPECT_EQ(r.status, 200);
    ASSERT_NE(r.Header("cache-control"), nullptr);
    EXPECT_EQ(*r.Header("cache-control"), "no-cache") << target;
  }
}

TEST_F(DashboardTest, UnknownAssetsAre404InTheContractShape) {
  for (const std::string target :
       {"/assets/nope.js", "/assets/index.html", "/assets/dashboard.js.map", "/assets/CHART.JS",
        "/assets/chart.js/x", "/assets"}) {
    SCOPED_TRACE(target);
    const Response r = Get(target);
    EXPECT_EQ(r.status, 404);
    const boost::json::value body = boost::json::parse(r.body);
    EXPECT_EQ(body.at("error").at("code").as_string(), "not_found");
  }
  EXPECT_EQ(FindDashboardAsset("nope.js"), nullptr);
  EXPECT_EQ(Get("/", Method::kPost).status, 405);
}

// Drops the license comments ("/*! ... */") that minified libraries keep.
std::string WithoutLicenseComments(std::string text) {
  for (size_t at = text.find("/*!"); at != std::string::npos; at = text.find("/*!", at)) {
    const size_t end = text.find("*/", at);
    if (end == std::string::npos) break;
    text.erase(at, end + 2 - at);
  }
  return text;
}

TEST_F(DashboardTest, NothingPointsOffTheOrigin) {
  for (const std::string target : {"/", "/assets/dashboard.js", "/assets/dashboard.css"}) {
    SCOPED_TRACE(target);
    const std::string body = Get(target).body;
    ASSERT_FALSE(body.empty());
    EXPECT_EQ(body.find("http://"), std::string::npos);
    EXPECT_EQ(body.find("https://"), std::string::npos);
    EXPECT_EQ(body.find("src=\"//"), std::string::npos);
    EXPECT_EQ(body.find("href=\"//"), std::string::npos);
    EXPECT_EQ(body.find("@import"), std::string::npos);
  }
  // Chart.js names its home page and a dependency's only in license comments.
  const std::string chart = WithoutLicenseComments(Get("/assets/chart.js").body);
  EXPECT_GT(chart.size(), 100000u);
  EXPECT_EQ(chart.find("http://"), std::string::npos);
  EXPECT_EQ(chart.find("https://"), std::string::npos);
}

TEST(DashboardAssetsTest, ContentTypesFollowTheExtension) {
  EXPECT_EQ(ContentTypeForName("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeForName("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeForName("a.min.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeForName("a.json"), "application/json");
  EXPECT_EQ(ContentTypeForName("a.jsx"), "application/octet-stream");
  EXPECT_EQ(ContentTypeForName(".js"), "application/octet-stream");
  EXPECT_EQ(ContentTypeForName("js"), "application/octet-stream");
}

TEST(DashboardAssetsTest, EveryEmbeddedFileIsListedOnceWithAType) {
  const auto assets = DashboardAssets();
  ASSERT_EQ(assets.size(), 4u);
  for (const DashboardAsset& a : assets) {
    SCOPED_TRACE(a.name);
    EXPECT_FALSE(a.bytes.empty());
    EXPECT_NE(a.content_type, "application/octet-stream");
    EXPECT_EQ(FindDashboardAsset(a.name), &a);
    EXPECT_EQ(a.version.size(), 16u);
  }
}

}  // namespace
}  // namespace ranker::api
