// Router, request/response helpers and the model-independent handlers,
// exercised as pure functions (no sockets).
#include "api/router.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "api/handlers.h"
#include "api/http_types.h"
#include "api/metrics.h"

namespace ranker::api {
namespace {

namespace json = boost::json;

Request Make(Method method, std::string target) {
  Request r;
  r.method = method;
  r.SetTarget(std::move(target));
  r.remote_is_loopback = true;
  return r;
}

Handler Text(std::string body) {
  return [body](const Request&) { return JsonResponse(body); };
}

// The "code" of a contract-shaped error body ("" when not that shape).
std::string ErrorCode(const Response& r) {
  json::error_code ec;
  const json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("error")) return "";
  const json::object& err = v.at("error").as_object();
  if (!err.contains("message") || !err.at("message").is_string()) return "";
  return std::string(err.at("code").as_string());
}

std::string ErrorMessage(const Response& r) {
  return std::string(json::parse(r.body).at("error").at("message").as_string());
}

Response Answer(const Router& router, Request req) {
  std::string_view route;
  return router.Dispatch(&req, &route);
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Add(Method::kGet, "/v1/model", Text("model"));
    router_.Add(Method::kGet, "/v1/snapshots", Text("list"));
    router_.Add(Method::kPost, "/v1/snapshots", Text("take"), {.admin = true});
    router_.Add(Method::kPost, "/v1/snapshots/{id}/restore",
                [](const Request& r) { return JsonResponse("restore " + *r.PathParam("id")); },
                {.admin = true});
    router_.Add(Method::kPost, "/v1/rank", Text("rank"), {.requires_body = true});
  }
  Router router_;
};

TEST_F(RouterTest, RoutesByMethodAndPath) {
  EXPECT_EQ(Answer(router_, Make(Method::kGet, "/v1/model")).body, "model");
  EXPECT_EQ(Answer(router_, Make(Method::kGet, "/v1/snapshots?limit=2")).body, "list");
  EXPECT_EQ(Answer(router_, Make(Method::kPost, "/v1/snapshots")).body, "take");
}

TEST_F(RouterTest, OffloadedFollowsTheMatchedRoute) {
  Router router;
  router.Add(Method::kGet, "/fast", [](const Request&) { return JsonResponse("1"); });
  router.Add(Method::kPost, "/slow/{id}", [](const Request&) { return JsonResponse("2"); },
             {.offload = true});
  Request fast, slow, slow_get, none;
  fast.method = Method::kGet;
  fast.SetTarget("/fast");
  slow.method = Method::kPost;
  slow.SetTarget("/slow/7");
  slow_get.method = Method::kGet;  // the path matches, the method does not: a 405
  slow_get.SetTarget("/slow/7");
  none.method = Method::kPost;
  none.SetTarget("/nowhere");
  EXPECT_FALSE(router.Offloaded(fast));
  EXPECT_TRUE(router.Offloaded(slow));
  EXPECT_FALSE(router.Offloaded(slow_get));
  EXPECT_FALSE(router.Offloaded(none));
}

TEST_F(RouterTest, PathParameterIsCaptured) {
  Request req = Make(Method::kPost, "/v1/snapshots/snap-17/restore");
  std::string_view route;
  const Response r = router_.Dispatch(&req, &route);
  EXPECT_EQ(r.body, "restore snap-17");
  EXPECT_EQ(route, "/v1/snapshots/{id}/restore");
  ASSERT_NE(req.PathParam("id"), nullptr);
  EXPECT_EQ(*req.PathParam("id"), "snap-17");
}

TEST_F(RouterTest, UnknownPathIs404) {
  for (const char* path : {"/v2/model", "/v1/model/", "/v1/snapshots//restore", "/"}) {
    Request req = Make(Method::kGet, path);
    std::string_view route;
    const Response r = router_.Dispatch(&req, &route);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(ErrorCode(r), "not_found") << path;
    EXPECT_EQ(route, kUnmatchedRoute);
  }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  const Response r = Answer(router_, Make(Method::kDelete, "/v1/snapshots"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  ASSERT_NE(r.Header("allow"), nullptr);
  EXPECT_EQ(*r.Header("Allow"), "GET, POST");
  const Response g = Answer(router_, Make(Method::kGet, "/v1/rank"));
  EXPECT_EQ(g.status, 405);
  EXPECT_EQ(*g.Header("Allow"), "POST");
}

TEST_F(RouterTest, AdminWithoutTokenAnswersOnlyLoopback) {
  Request remote = Make(Method::kPost, "/v1/snapshots");
  remote.remote_is_loopback = false;
  const Response r = Answer(router_, remote);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "forbidden");
  EXPECT_EQ(Answer(router_, Make(Method::kPost, "/v1/snapshots")).status, 200);
  // Non-admin routes do not care about the peer.
  Request model = Make(Method::kGet, "/v1/model");
  model.remote_is_loopback = false;
  EXPECT_EQ(Answer(router_, model).status, 200);
}

TEST(RouterAdmin, TokenIsRequiredAndChecked) {
  Router router(RouterOptions{.admin_token = "s3cret"});
  router.Add(Method::kPost, "/v1/snapshots", Text("take"), {.admin = true});
  Request req = Make(Method::kPost, "/v1/snapshots");  // loopback is not enough
  Response missing = Answer(router, req);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(ErrorCode(missing), "unauthorized");
  ASSERT_NE(missing.Header("WWW-Authenticate"), nullptr);

  req.authorization = "Basic czNjcmV0";
  EXPECT_EQ(Answer(router, req).status, 401);
  for (const char* wrong : {"Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Bearer "}) {
    req.authorization = wrong;
    const Response r = Answer(router, req);
    EXPECT_EQ(r.status, 403) << wrong;
    EXPECT_EQ(ErrorCode(r), "forbidden");
  }
  req.authorization = "Bearer s3cret";
  EXPECT_EQ(Answer(router, req).status, 200);
  req.authorization = "bearer s3cret";  // the scheme is case-insensitive
  req.remote_is_loopback = false;
  EXPECT_EQ(Answer(router, req).status, 200);
}

TEST(RouterAdmin, ConstantTimeEquals) {
  EXPECT_TRUE(Router::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(Router::ConstantTimeEquals("abd", "abc"));
  EXPECT_FALSE(Router::ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(Router::ConstantTimeEquals("abcd", "abc"));
  EXPECT_FALSE(Router::ConstantTimeEquals(std::string("ab\0", 3), "ab"));
  EXPECT_TRUE(Router::ConstantTimeEquals("", ""));
}

TEST_F(RouterTest, BodyRouteWithoutLengthIs411) {
  Request req = Make(Method::kPost, "/v1/rank");
  const Response r = Answer(router_, req);
  EXPECT_EQ(r.status, 411);
  EXPECT_EQ(ErrorCode(r), "length_required");
  req.content_length = 0;
  EXPECT_EQ(Answer(router_, req).status, 200);
  req.content_length.reset();
  req.chunked = true;
  EXPECT_EQ(Answer(router_, req).status, 200);
}

TEST(RouterErrors, ThrowingHandlerBecomes500) {
  Router router;
  router.Add(Method::kGet, "/boom",
             [](const Request&) -> Response { throw std::runtime_error("kaboom"); });
  const Response r = Answer(router, Make(Method::kGet, "/boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ErrorCode(r), "internal");
  EXPECT_NE(ErrorMessage(r).find("kaboom"), std::string::npos);
}

TEST(RouterErrors, FirstRegisteredMatchWins) {
  Router router;
  router.Add(Method::kGet, "/v1/snapshots/latest", Text("literal"));
  router.Add(Method::kGet, "/v1/snapshots/{id}", Text("param"));
  EXPECT_EQ(Answer(router, Make(Method::kGet, "/v1/snapshots/latest")).body, "literal");
  EXPECT_EQ(Answer(router, Make(Method::kGet, "/v1/snapshots/7")).body, "param");
}

TEST(HttpTypes, JsonErrorEscapesAndHasContractShape) {
  const Response r = JsonError(400, "invalid_argument", "user.\"x\": bad\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  const json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("error").at("code").as_string(), "invalid_argument");
  EXPECT_EQ(v.at("error").at("message").as_string(), "user.\"x\": bad\n");
}

TEST(HttpTypes, ErrorFromStatusMapsCodes) {
  EXPECT_EQ(ErrorFromStatus(Status::InvalidArgument("k")).status, 400);
  EXPECT_EQ(ErrorFromStatus(Status::NotFound("snap")).status, 404);
  EXPECT_EQ(ErrorFromStatus(Status::ResourceExhausted("n")).status, 413);
  EXPECT_EQ(ErrorFromStatus(Status::FailedPrecondition("x")).status, 409);
  EXPECT_EQ(ErrorFromStatus(Status::Unavailable("x")).status, 503);
  const Response r = ErrorFromStatus(Status::Internal("disk"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ErrorMessage(r), "disk");
}

TEST(HttpTypes, RequireJsonContentType) {
  Request req;
  for (const char* ok : {"application/json", "application/json; charset=utf-8",
                         "Application/JSON;charset=UTF-8", " application/json "}) {
    req.content_type = ok;
    EXPECT_FALSE(RequireJsonContentType(req).has_value()) << ok;
  }
  for (const char* bad : {"", "text/plain", "application/jsonx", "application/x-ndjson"}) {
    req.content_type = bad;
    const auto r = RequireJsonContentType(req);
    ASSERT_TRUE(r.has_value()) << bad;
    EXPECT_EQ(r->status, 415);
    EXPECT_EQ(ErrorCode(*r), "unsupported_media_type");
  }
}

TEST(HttpTypes, TargetAndQueryParams) {
  Request req;
  req.SetTarget("/v1/snapshots?limit=3&name=a%20b+c&flag&bad=%zz");
  EXPECT_EQ(req.path, "/v1/snapshots");
  EXPECT_EQ(QueryParam(req.query, "limit"), "3");
  EXPECT_EQ(QueryParam(req.query, "name"), "a b c");
  EXPECT_EQ(QueryParam(req.query, "flag"), "");
  EXPECT_EQ(QueryParam(req.query, "bad"), std::nullopt);
  EXPECT_EQ(QueryParam(req.query, "missing"), std::nullopt);
  EXPECT_EQ(QueryParam("x=%4", "x"), std::nullopt);
  req.SetTarget("/plain");
  EXPECT_EQ(req.path, "/plain");
  EXPECT_EQ(req.query, "");
}

TEST(HttpTypes, MethodNames) {
  EXPECT_EQ(ParseMethod("POST"), Method::kPost);
  EXPECT_EQ(ParseMethod("post"), Method::kOther);
  EXPECT_EQ(ParseMethod("BREW"), Method::kOther);
  EXPECT_EQ(MethodName(Method::kDelete), "DELETE");
}

TEST(Handlers, HealthAndReadiness) {
  const Response health = HealthzHandler()(Request{});
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body).at("status").as_string(), "ok");

  bool ready = false;
  const Handler readyz = ReadyzHandler(
      [&ready]() { return ready ? Status::OK() : Status::Unavailable("model not loaded"); });
  const Response not_ready = readyz(Request{});
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(json::parse(not_ready.body).at("reason").as_string(), "model not loaded");
  ready = true;
  const Response ok = readyz(Request{});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body).at("status").as_string(), "ready");
}

TEST(Handlers, IndexPlaceholderIsHtml) {
  const Response r = IndexPlaceholderHandler()(Request{});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/html", 0), 0u);
  EXPECT_NE(r.body.find("/metrics"), std::string::npos);
}

TEST(Handlers, MetricsHandlerRendersRegistry) {
  Metrics metrics;
  metrics.ObserveRequest("/v1/model", "GET", 200, 0.003);
  const Response r = MetricsHandler(&metrics)(Request{});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kPrometheusContentType);
  EXPECT_NE(r.body.find("ranker_http_requests_total{"), std::string::npos);
}

}  // namespace
}  // namespace ranker::api
