// The real `ranker serve` binary scraped by a real Prometheus server
// (Debian's /usr/bin/prometheus, installed by scripts/install-deps.sh): both
// on loopback, Prometheus with a temporary config and TSDB directory and a 1 s
// scrape interval. Events are POSTed to /v1/events; once the model is idle,
// what Prometheus stores must equal what GET /v1/model reports. A missing
// prometheus binary fails the test: it is a declared dependency.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "tests/integration/subprocess.h"

namespace ranker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using std::chrono::milliseconds;
using testing::Subprocess;

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr int kEvents = 400;
constexpr int kPosts = 4;  // kEvents in this many POST /v1/events
constexpr milliseconds kDeadline{15000};

// One HTTP exchange with 127.0.0.1:port through Beast; every step bounded by
// `timeout`. The answer, or nullopt on any error.
std::optional<http::response<http::string_body>> Fetch(uint16_t port, http::verb verb,
                                                       const std::string& target,
                                                       const std::string& body = "",
                                                       milliseconds timeout = milliseconds(3000)) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (verb == http::verb::post) req.set(http::field::content_type, "application/x-ndjson");
  req.body() = body;
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  beast::error_code result = asio::error::would_block;
  const asio::ip::tcp::endpoint to(asio::ip::address_v4::loopback(), port);
  stream.async_connect(to, [&](beast::error_code ec) {
    if (ec) return void(result = ec);
    http::async_write(stream, req, [&](beast::error_code ec, size_t) {
      if (ec) return void(result = ec);
      http::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) { result = ec; });
    });
  });
  ioc.run();
  if (result) return std::nullopt;
  return res;
}

// The JSON body of a 200 answer to GET `target`, or null.
json::value GetJson(uint16_t port, const std::string& target) {
  auto res = Fetch(port, http::verb::get, target);
  if (!res || res->result() != http::status::ok) return nullptr;
  json::error_code ec;
  json::value v = json::parse(res->body(), ec);
  return ec ? json::value(nullptr) : v;
}

// Polls `pred` every 50 ms until it holds or kDeadline passes.
template <typename Pred>
bool Eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

// The port Prometheus bound for 127.0.0.1:0, from its log line
// `msg="Listening on" address=127.0.0.1:P`; 0 when not seen in time.
uint16_t ListeningPort(Subprocess* prometheus) {
  while (std::optional<std::string> line = prometheus->ReadLine(milliseconds(20000))) {
    if (line->find("msg=\"Listening on\"") == std::string::npos) continue;
    const size_t colon = line->rfind(':');
    if (colon == std::string::npos) return 0;
    return static_cast<uint16_t>(std::atoi(line->c_str() + colon + 1));
  }
  return 0;
}

// A directory removed (with what Prometheus left in it) when the test ends.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::path(::testing::TempDir()) /
           ("ranker_prometheus_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path / "tsdb");
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Prometheus's instant-query result vector for `query` (no URL escaping
// needed: bare metric names only), or null when not answered yet.
json::value Query(uint16_t prometheus_port, const std::string& query) {
  json::value v = GetJson(prometheus_port, "/api/v1/query?query=" + query);
  if (!v.is_object() || v.as_object().if_contains("status") == nullptr ||
      v.at("status") != "success") {
    return nullptr;
  }
  return v.at("data").at("result");
}

// The value of the first series in `result` whose labels include every
// (name, value) of `labels`, or nullopt.
std::optional<double> SampleOf(const json::value& result,
                               const std::map<std::string, std::string>& labels = {}) {
  if (!result.is_array()) return std::nullopt;
  for (const json::value& series : result.as_array()) {
    const json::object& metric = series.at("metric").as_object();
    bool match = true;
    for (const auto& [name, value] : labels) {
      match = match && metric.contains(name) && metric.at(name) == value.c_str();
    }
    if (match) return std::stod(std::string(series.at("value").at(1).as_string()));
  }
  return std::nullopt;
}

// kEvents pre-joined examples, split into kPosts NDJSON bodies.
std::vector<std::string> EventBodies() {
  std::vector<std::string> bodies(kPosts);
  for (int i = 0; i < kEvents; ++i) {
    bodies[i % kPosts] += R"({"type":"example","request_id":"r)" + std::to_string(i) +
                          R"(","item_id":"i)" + std::to_string(i % 17) + R"(","labels":{"click":)" +
                          std::to_string(i % 3 == 0) + R"(,"watch":)" + std::to_string(i % 5) +
                          "}}\n";
  }
  return bodies;
}

// Starts `ranker serve` on an ephemeral loopback port; returns the port, 0 on
// failure.
uint16_t StartServe(Subprocess* serve) {
  std::optional<std::string> listening = serve->ReadLine(milliseconds(10000));
  if (!listening) return 0;
  const size_t colon = listening->rfind(':');
  return colon == std::string::npos
             ? 0
             : static_cast<uint16_t>(std::stoi(listening->substr(colon + 1)));
}

std::string PrometheusConfig(uint16_t ranker_port) {
  return "global:\n"
         "  scrape_interval: 1s\n"
         "  scrape_timeout: 900ms\n"
         "scrape_configs:\n"
         "  - job_name: ranker\n"
         "    static_configs:\n"
         "      - targets: ['127.0.0.1:" +
         std::to_string(ranker_port) + "']\n";
}

TEST(PrometheusScrape, PrometheusStoresWhatTheModelEndpointReports) {
  ASSERT_TRUE(std::filesystem::exists(kPrometheus))
      << kPrometheus << " is missing: run scripts/install-deps.sh (Debian package prometheus)";

  Subprocess serve({RANKER_BIN, "serve", "--http", "127.0.0.1:0", "--set", "train.batch_size=1"});
  ASSERT_TRUE(serve.started());
  const uint16_t ranker_port = StartServe(&serve);
  ASSERT_NE(ranker_port, 0) << "ranker serve did not print its address";

  for (const std::string& body : EventBodies()) {
    auto res = Fetch(ranker_port, http::verb::post, "/v1/events", body);
    ASSERT_TRUE(res.has_value());
    ASSERT_EQ(res->result(), http::status::ok) << res->body();
  }
  // Idle once every example is trained: the learner publishes no more.
  json::value model;
  ASSERT_TRUE(Eventually([&] {
    model = GetJson(ranker_port, "/v1/model");
    return model.is_object() && model.at("examples_trained").to_number<int64_t>() == kEvents;
  })) << json::serialize(model);
  ASSERT_EQ(model.at("events_consumed").to_number<int64_t>(), kEvents);
  const double version = model.at("model_version").to_number<double>();
  const double click_count = model.at("progressive").at("click").at("count").to_number<double>();

  TempDir dir;
  std::ofstream(dir.path / "prometheus.yml") << PrometheusConfig(ranker_port);
  // Prometheus binds port 0 itself and logs the port it got (to stderr:
  // through a shell onto the piped stdout).
  Subprocess prometheus({"/bin/sh", "-c",
                         std::string("exec ") + kPrometheus +
                             " --config.file=" + (dir.path / "prometheus.yml").string() +
                             " --storage.tsdb.path=" + (dir.path / "tsdb").string() +
                             " --web.listen-address=127.0.0.1:0 --log.level=info 2>&1"});
  ASSERT_TRUE(prometheus.started());
  const uint16_t prometheus_port = ListeningPort(&prometheus);
  ASSERT_NE(prometheus_port, 0) << "Prometheus did not log the port it listens on";

  // Up, and at least one scrape with the service's families stored.
  ASSERT_TRUE(Eventually([&] {
    return SampleOf(Query(prometheus_port, "up")) == 1.0 &&
           SampleOf(Query(prometheus_port, "ranker_model_version")).has_value();
  })) << "Prometheus on port "
      << prometheus_port << " never reported the ranker target up";

  EXPECT_EQ(SampleOf(Query(prometheus_port, "ranker_model_version")), version);
  EXPECT_EQ(SampleOf(Query(prometheus_port, "ranker_events_consumed_total")), kEvents);
  EXPECT_EQ(SampleOf(Query(prometheus_port, "ranker_examples_trained_total")), kEvents);
  EXPECT_EQ(SampleOf(Query(prometheus_port, "ranker_progressive_metric"),
                     {{"task", "click"}, {"metric", "count"}}),
            click_count);
  const std::optional<double> published =
      SampleOf(Query(prometheus_port, "ranker_model_published_timestamp_seconds"));
  ASSERT_TRUE(published.has_value());
  EXPECT_NEAR(*published * 1000.0, model.at("published_at_ms").to_number<double>(), 1.0);
  EXPECT_EQ(SampleOf(Query(prometheus_port, "ranker_http_requests_total"),
                     {{"route", "/v1/events"}, {"status", "200"}}),
            kPosts);
  EXPECT_GE(SampleOf(Query(prometheus_port, "ranker_model_age_seconds")).value_or(-1), 0.0);

  EXPECT_EQ(prometheus.Stop(SIGTERM, milliseconds(10000)), 0);
  EXPECT_EQ(serve.Stop(SIGTERM, milliseconds(10000)), 0);
}

}  // namespace
}  // namespace ranker
