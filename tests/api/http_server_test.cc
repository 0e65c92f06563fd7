// The Beast server over real loopback sockets (port 0), driven by a raw
// client so that tests control every byte. No sleeps: waits are bounded
// reads, and blocking handlers are released through a Gate.
#include "api/http_server.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "api/handlers.h"
#include "tests/api/test_client.h"

namespace ranker::api {
namespace {

using testing::GetRequest;
using testing::HttpReply;
using testing::PostRequest;
using testing::TestClient;

// Lets a test hold a handler inside its call and know when it got there.
class Gate {
 public:
  void Arrive() {
    std::unique_lock<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  bool WaitArrived(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(2), [&] { return arrived_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool open_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    options_.port = 0;
    options_.read_timeout_ms = 1000;
    options_.idle_timeout_ms = 1000;
    options_.drain_timeout_ms = 2000;
    router_.Add(Method::kGet, "/ping", [](const Request&) { return JsonResponse("\"pong\""); });
    router_.Add(Method::kPost, "/echo",
                [](const Request& r) {
                  return JsonResponse("{\"len\":" + std::to_string(r.body.size()) + "}");
                },
                {.requires_body = true});
    router_.Add(Method::kGet, "/block", [this](const Request&) {
      gate_.Arrive();
      return JsonResponse("\"released\"");
    });
    router_.Add(Method::kPost, "/admin", [](const Request&) { return JsonResponse("\"ok\""); },
                {.admin = true});
    router_.Add(Method::kGet, "/metrics", MetricsHandler(&metrics_));
    router_.Add(Method::kGet, "/thread", [](const Request&) { return JsonResponse(ThreadName()); });
    router_.Add(Method::kGet, "/offloaded/thread",
                [](const Request&) { return JsonResponse(ThreadName()); }, {.offload = true});
    router_.Add(Method::kGet, "/offloaded/block",
                [this](const Request&) {
                  gate_.Arrive();
                  return JsonResponse("\"released\"");
                },
                {.offload = true});
  }
  // The name of the thread running the handler, as a JSON string.
  static std::string ThreadName() {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    return "\"" + std::string(name) + "\"";
  }
  ~HttpServerTest() override {
    gate_.Open();
    if (server_) server_->Stop();
  }

  void StartServer() {
    server_ = std::make_unique<HttpServer>(options_, &router_, &metrics_);
    const Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_NE(server_->port(), 0);
  }

  uint16_t port() const { return server_->port(); }

  // Starts the server, holds a request in `block_path`'s handler, and checks
  // that another connection's /ping is answered meanwhile.
  void ExpectPingAnsweredWhileBlockedIn(const char* block_path) {
    StartServer();
    TestClient blocked(port());
    ASSERT_TRUE(blocked.Send(GetRequest(block_path)));
    ASSERT_TRUE(gate_.WaitArrived(1));
    TestClient other(port());
    auto r = other.RoundTrip(GetRequest("/ping"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "\"pong\"");
    gate_.Open();
    auto released = blocked.Read();
    ASSERT_TRUE(released.has_value());
    EXPECT_EQ(released->body, "\"released\"");
  }

  HttpServerOptions options_;
  Router router_;
  Metrics metrics_;
  Gate gate_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  TestClient c(port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 3; ++i) {
    auto r = c.RoundTrip(GetRequest("/ping"));
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "\"pong\"");
    EXPECT_EQ(r->Header("content-type"), "application/json");
    EXPECT_NE(testing::Lower(r->Header("connection")), "close");
  }
  const std::string body(300, 'x');
  auto echo = c.RoundTrip(PostRequest("/echo", body));
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->body, "{\"len\":300}");
}

TEST_F(HttpServerTest, HandlersRunOnTheIoThreadUnlessOffloaded) {
  StartServer();
  TestClient c(port());
  auto inline_reply = c.RoundTrip(GetRequest("/thread"));
  auto offloaded = c.RoundTrip(GetRequest("/offloaded/thread"));
  ASSERT_TRUE(inline_reply.has_value() && offloaded.has_value());
  EXPECT_EQ(inline_reply->body, "\"ranker-http\"");
  EXPECT_EQ(offloaded->body, "\"ranker-handler\"");
}

TEST_F(HttpServerTest, WithoutInlineHandlersEveryHandlerRunsOnThePool) {
  options_.inline_handlers = false;
  StartServer();
  TestClient c(port());
  for (const char* path : {"/thread", "/offloaded/thread"}) {
    auto r = c.RoundTrip(GetRequest(path));
    ASSERT_TRUE(r.has_value()) << path;
    EXPECT_EQ(r->body, "\"ranker-handler\"") << path;
  }
}

TEST_F(HttpServerTest, ABlockedInlineHandlerLeavesTheOtherIoThreadServing) {
  options_.threads = 2;
  ExpectPingAnsweredWhileBlockedIn("/block");
}

TEST_F(HttpServerTest, AnOffloadedHandlerNeverHoldsTheOnlyIoThread) {
  options_.threads = 1;
  ExpectPingAnsweredWhileBlockedIn("/offloaded/block");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestClient c(port());
  ASSERT_TRUE(
      c.Send(PostRequest("/echo", "12345") + GetRequest("/ping") + PostRequest("/echo", "1")));
  auto a = c.Read();
  auto b = c.Read();
  auto d = c.Read();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->body, "{\"len\":5}");
  EXPECT_EQ(b->body, "\"pong\"");
  EXPECT_EQ(d->body, "{\"len\":1}");
}

TEST_F(HttpServerTest, RouterErrorsKeepTheConnection) {
  StartServer();
  TestClient c(port());
  auto missing = c.RoundTrip(GetRequest("/nope"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  auto wrong = c.RoundTrip(GetRequest("/echo"));
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->Header("allow"), "POST");
  auto no_length = c.RoundTrip("POST /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(no_length.has_value());
  EXPECT_EQ(no_length->status, 411);
  auto ok = c.RoundTrip(GetRequest("/ping"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, ChunkedBodyIsDecoded) {
  StartServer();
  TestClient c(port());
  auto r = c.RoundTrip(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"len\":7}");
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimAnswer) {
  StartServer();
  TestClient c(port());
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto interim = c.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  auto r = c.RoundTrip("abc");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "{\"len\":3}");
}

TEST_F(HttpServerTest, BodyOverLimitIs413AndCloses) {
  options_.max_body_bytes = 1024;
  StartServer();
  TestClient c(port());
  auto r = c.RoundTrip(PostRequest("/echo", std::string(1025, 'x')));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(testing::Lower(r->Header("connection")), "close");
  EXPECT_TRUE(c.WaitClosed(2000));
  TestClient at_limit(port());
  auto ok = at_limit.RoundTrip(PostRequest("/echo", std::string(1024, 'x')));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  options_.max_body_bytes = 8;
  StartServer();
  TestClient c(port());
  auto r = c.RoundTrip(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
}

TEST_F(HttpServerTest, HugeHeaderIs431) {
  options_.max_header_bytes = 4096;
  StartServer();
  TestClient c(port());
  auto r = c.RoundTrip(GetRequest("/ping", "X-Big: " + std::string(6000, 'a') + "\r\n"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.WaitClosed(2000));
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  StartServer();
  TestClient c(port());
  auto r = c.RoundTrip("GET /ping HTTP/1.1\r\nBad Header\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.WaitClosed(2000));
}

TEST_F(HttpServerTest, TruncatedBodyThenCloseLeavesServerUp) {
  StartServer();
  {
    TestClient c(port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly-ten!!"));
  }
  TestClient next(port());
  auto r = next.RoundTrip(GetRequest("/ping"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, SlowClientIsCutAtReadTimeout) {
  options_.read_timeout_ms = 200;
  options_.idle_timeout_ms = 5000;
  StartServer();
  TestClient c(port());
  ASSERT_TRUE(c.RoundTrip(GetRequest("/ping")).has_value());  // now an idle keep-alive
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send("GET /ping HTTP/1.1\r\nHost:"));  // half a request, then stall
  EXPECT_TRUE(c.WaitClosed(1500));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(150));
  server_->Stop();  // the timed-out read's handler has run once Stop() returns
  EXPECT_NE(metrics_.Render().find("ranker_http_request_errors_total{reason=\"timeout\"} 1"),
            std::string::npos);
}

TEST_F(HttpServerTest, SilentConnectionIsCutAtReadTimeout) {
  options_.read_timeout_ms = 200;
  StartServer();
  TestClient c(port());
  EXPECT_TRUE(c.WaitClosed(1500));
}

TEST_F(HttpServerTest, IdleKeepAliveIsClosedAtIdleTimeout) {
  options_.idle_timeout_ms = 200;
  StartServer();
  TestClient c(port());
  ASSERT_TRUE(c.RoundTrip(GetRequest("/ping")).has_value());
  EXPECT_TRUE(c.WaitClosed(1500));
}

TEST_F(HttpServerTest, ConnectionsBeyondMaxGet503) {
  options_.max_connections = 2;
  StartServer();
  TestClient a(port()), b(port());
  ASSERT_TRUE(a.RoundTrip(GetRequest("/ping")).has_value());  // both accepted and counted
  ASSERT_TRUE(b.RoundTrip(GetRequest("/ping")).has_value());
  TestClient c(port());
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_FALSE(r->Header("retry-after").empty());
  EXPECT_TRUE(c.WaitClosed(2000));
  EXPECT_NE(metrics_.Render().find("ranker_http_connections_rejected_total 1"), std::string::npos);
  // Once the server has closed a connection its slot is free: the close is
  // counted before the peer can see it.
  auto last = a.RoundTrip(GetRequest("/ping", "Connection: close\r\n"));
  ASSERT_TRUE(last.has_value());
  ASSERT_TRUE(a.WaitClosed(2000));
  TestClient d(port());
  auto ok = d.RoundTrip(GetRequest("/ping"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, RequestsBeyondInflightLimitAreShed) {
  options_.max_inflight_requests = 1;
  options_.overload_status = 429;
  StartServer();
  TestClient blocked(port());
  ASSERT_TRUE(blocked.Send(GetRequest("/block")));
  ASSERT_TRUE(gate_.WaitArrived(1));
  TestClient other(port());
  auto shed = other.RoundTrip(GetRequest("/ping"));
  ASSERT_TRUE(shed.has_value());
  EXPECT_EQ(shed->status, 429);
  EXPECT_EQ(shed->Header("retry-after"), "1");
  gate_.Open();
  auto released = blocked.Read();
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(released->status, 200);
  auto again = other.RoundTrip(GetRequest("/ping"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServerTest, ConcurrentClients) {
  options_.threads = 2;
  StartServer();
  constexpr int kThreads = 4;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TestClient c(port());
      for (int i = 0; i < kRequests; ++i) {
        const std::string body(static_cast<size_t>(t * 100 + i), 'b');
        auto r = c.RoundTrip(PostRequest("/echo", body));
        if (r && r->body == "{\"len\":" + std::to_string(body.size()) + "}") ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

TEST_F(HttpServerTest, StopDrainsInflightRequests) {
  StartServer();
  TestClient busy(port());
  TestClient idle(port());
  ASSERT_TRUE(idle.RoundTrip(GetRequest("/ping")).has_value());
  ASSERT_TRUE(busy.Send(GetRequest("/block")));
  ASSERT_TRUE(gate_.WaitArrived(1));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->Stop();
    stopped = true;
  });
  EXPECT_TRUE(idle.WaitClosed(1500));  // idle keep-alive: closed at once
  EXPECT_FALSE(stopped.load());        // the blocked request holds Stop()
  gate_.Open();
  auto r = busy.Read();
  stopper.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "\"released\"");
  EXPECT_EQ(testing::Lower(r->Header("connection")), "close");
  EXPECT_TRUE(stopped.load());
  TestClient after(port());
  EXPECT_FALSE(after.connected() && after.RoundTrip(GetRequest("/ping"), 300).has_value());
}

TEST_F(HttpServerTest, AdminRouteAnswersLoopbackPeer) {
  StartServer();
  TestClient c(port());
  auto r = c.RoundTrip(PostRequest("/admin", ""));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, MetricsRenderLatencyHistogram) {
  StartServer();
  TestClient c(port());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.RoundTrip(GetRequest("/ping")).has_value());
  ASSERT_TRUE(c.RoundTrip(GetRequest("/nope")).has_value());
  auto r = c.RoundTrip(GetRequest("/metrics"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type").rfind("text/plain", 0), 0u);
  const std::string& text = r->body;
  EXPECT_NE(text.find("# TYPE ranker_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("ranker_http_request_duration_seconds_count{method=\"GET\",route=\"/ping\","
                      "status=\"200\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ranker_http_request_duration_seconds_bucket{method=\"GET\",route=\"/ping\","
                      "status=\"200\",le=\"+Inf\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("ranker_http_requests_total{method=\"GET\",route=\"unmatched\","
                      "status=\"404\"} 1"),
            std::string::npos);
}

TEST(HttpServerStart, BadOptionsAndAddressesFail) {
  Router router;
  Metrics metrics;
  HttpServerOptions bad;
  bad.threads = 0;
  EXPECT_EQ(HttpServer(bad, &router, &metrics).Start().code(), Status::Code::kInvalidArgument);
  HttpServerOptions addr;
  addr.address = "not-an-ip";
  addr.port = 0;
  const Status st = HttpServer(addr, &router, &metrics).Start();
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("http.address"), std::string::npos);

  HttpServerOptions first;
  first.port = 0;
  HttpServer a(first, &router, &metrics);
  ASSERT_TRUE(a.Start().ok());
  HttpServerOptions second;
  second.port = a.port();
  EXPECT_EQ(HttpServer(second, &router, &metrics).Start().code(), Status::Code::kIOError);
}

TEST(HttpServerOptionsTest, Validate) {
  EXPECT_TRUE(HttpServerOptions{}.Validate().ok());
  HttpServerOptions o;
  o.overload_status = 500;
  EXPECT_NE(o.Validate().message().find("http.overload_status"), std::string::npos);
  o = {};
  o.max_header_bytes = 100;
  EXPECT_NE(o.Validate().message().find("http.max_header_bytes"), std::string::npos);
  o = {};
  o.read_timeout_ms = 0;
  EXPECT_NE(o.Validate().message().find("http.read_timeout_ms"), std::string::npos);
}

}  // namespace
}  // namespace ranker::api
