// A development and test server for the dashboard: the real dashboard routes
// (api/dashboard_handler.h) on the real HttpServer, with a FAKE model report
// at GET /v1/model (each request advances a simulated stream by one "second",
// so charts move however fast the page polls) and a FAKE POST /v1/rank that
// scores candidates from a hash of (user_id, item_id). No learner involved.
//
//   ranker_dashboard_fixture [--port P] [--port-file F] [--max-seconds S]
//
// Prints "listening on http://127.0.0.1:PORT/" and writes PORT to F (when
// given) once serving; exits on SIGINT/SIGTERM or after S seconds (default
// 300), so a forgotten fixture never lingers.
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "api/dashboard_handler.h"
#include "api/handlers.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/router.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/random.h"

namespace ranker::api {
namespace {

namespace json = boost::json;

constexpr int kExperts = 8;
constexpr int kPositions = 10;
const char* const kDevices[] = {"mobile", "desktop", "tablet"};

// 0 at t = 0, approaching 1: how far "learning" has come after t ticks.
double Progress(double t) { return 1.0 - std::exp(-t / 20.0); }

json::array GateWeights(int task, double t) {
  std::vector<double> logits(kExperts);
  double total = 0;
  for (int e = 0; e < kExperts; ++e) {
    const double target = std::sin(1.7 * e + 2.3 * task) * 1.5;
    logits[e] = std::exp(target * Progress(t));
    total += logits[e];
  }
  json::array out;
  for (double l : logits) out.push_back(l / total);
  return out;
}

// exp(offset) ~ 1/position^eta, eta differing per device and learned over time.
json::array BiasCurve(double eta, double t) {
  json::array out;
  for (int p = 1; p <= kPositions; ++p) out.push_back(-eta * std::log(p) * Progress(t));
  return out;
}

// The simulated stream behind GET /v1/model. Thread-safe.
class FakeModel {
 public:
  json::object Next() {
    std::lock_guard<std::mutex> lock(mu_);
    ++tick_;
    events_ += 4000 + rng_.Below(2000);
    examples_ = events_ * 3 / 10;
    rejected_json_ += rng_.Below(3);
    rejected_field_ += rng_.Below(2);
    return Report();
  }

 private:
  json::object Report() {
    const double t = static_cast<double>(tick_), p = Progress(t);
    json::object m;
    m["model_version"] = tick_ * 37;
    m["param_checksum"] = "9f3c2a71d04be5" + std::to_string(10 + tick_ % 90);
    m["architecture"] = "mmoe";
    m["events_consumed"] = events_;
    m["events_rejected"] = rejected_json_ + rejected_field_;
    m["examples_trained"] = examples_;
    m["published_at_ms"] = SystemClock()->NowMs() - 150;
    m["progressive"] = Progressive(p);
    m["gates"] = {{"click", GateWeights(0, t)}, {"watch", GateWeights(1, t)}};
    json::object by_device;
    for (int d = 0; d < 3; ++d) by_device[kDevices[d]] = BiasCurve(0.5 + 0.25 * d, t);
    m["position_bias"] = {{"positions", json::array{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
                          {"click_logit_offset", BiasCurve(0.65, t)},
                          {"by_device", std::move(by_device)}};
    m["join"] = {{"impressions", examples_},         {"clicks", examples_ / 12},
                 {"watches", examples_ / 20},        {"joined_clicks", examples_ / 12 - tick_},
                 {"late_engagements", tick_ * 3},    {"orphan_engagements", tick_},
                 {"pending", 1800 + rng_.Below(400)}};
    m["rejected"] = {{"bad_json", rejected_json_}, {"missing_field", rejected_field_}};
    return m;
  }

  json::object Progressive(double p) {
    const double n = 0.01 * rng_.Normal();
    const uint64_t count = examples_;
    const uint64_t window = std::min<uint64_t>(count, 10000);
    json::object click{{"auc", 0.5 + 0.22 * p},
                       {"logloss", 0.40 - 0.07 * p},
                       {"window_auc", 0.5 + 0.25 * p + n},
                       {"window_logloss", 0.39 - 0.09 * p - n},
                       {"count", count},
                       {"window_count", window}};
    if (tick_ == 1) click["auc"] = nullptr;  // undefined metrics are null
    json::object watch{{"rmse", 1.3 - 0.3 * p},
                       {"window_rmse", 1.25 - 0.4 * p + n},
                       {"count", count},
                       {"window_count", window}};
    return {{"click", std::move(click)}, {"watch", std::move(watch)}};
  }

  std::mutex mu_;
  Rng rng_{42};
  uint64_t tick_ = 0, events_ = 0, examples_ = 0;
  uint64_t rejected_json_ = 0, rejected_field_ = 0;
};

// A fake score in [0, 1) for (user, item).
double Unit(const std::string& user, std::string_view item, uint64_t salt) {
  return static_cast<double>(Hash64(item, HashCombine(Hash64(user), salt)) >> 11) * 0x1.0p-53;
}

Response Rank(const Request& request) {
  if (auto refused = RequireJsonContentType(request)) return *refused;
  json::error_code ec;
  const json::value body = json::parse(request.body, ec);
  if (ec || !body.is_object()) return JsonError(400, "invalid_argument", "body: not a JSON object");
  const json::object& o = body.as_object();
  const json::value* cands = o.if_contains("candidates");
  if (!cands || !cands->is_array() || cands->as_array().empty()) {
    return JsonError(400, "invalid_argument", "candidates: a non-empty array is required");
  }
  const json::value* user = o.if_contains("user_id");
  const std::string user_id = user && user->is_string() ? std::string(user->as_string()) : "";
  struct Item {
    std::string id;
    double p_click, watch, score;
  };
  std::vector<Item> items;
  for (const json::value& c : cands->as_array()) {
    const json::value* id = c.is_object() ? c.as_object().if_contains("item_id") : nullptr;
    if (!id || !id->is_string()) {
      return JsonError(400, "invalid_argument", "candidates[].item_id: a string is required");
    }
    const double p = 0.02 + 0.3 * Unit(user_id, id->as_string(), 1);
    const double w = 40.0 * Unit(user_id, id->as_string(), 2);
    items.push_back({std::string(id->as_string()), p, w, p * std::sqrt(1.0 + w)});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.score > b.score; });
  const json::value* k = o.if_contains("k");
  if (k && (!k->is_int64() || k->as_int64() < 1)) {
    return JsonError(400, "invalid_argument", "k: a positive integer is required");
  }
  if (k) items.resize(std::min<size_t>(items.size(), static_cast<size_t>(k->as_int64())));
  json::array out;
  for (size_t i = 0; i < items.size(); ++i) {
    out.push_back({{"item_id", items[i].id},
                   {"position", i + 1},
                   {"score", items[i].score},
                   {"p_click", items[i].p_click},
                   {"watch_seconds", items[i].watch}});
  }
  return JsonResponse(json::serialize(
      json::object{{"request_id", "fixture-1"}, {"model_version", 37}, {"items", std::move(out)}}));
}

struct Flags {
  int port = 0;
  std::string port_file;
  int max_seconds = 300;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--port")
      flags->port = std::atoi(argv[i + 1]);
    else if (name == "--port-file")
      flags->port_file = argv[i + 1];
    else if (name == "--max-seconds")
      flags->max_seconds = std::atoi(argv[i + 1]);
    else
      return false;
  }
  return argc % 2 == 1 && flags->port >= 0 && flags->port < 65536 && flags->max_seconds > 0;
}

int Run(const Flags& flags) {
  // Block the stop signals before the server's threads start, so that only
  // sigtimedwait() below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  FakeModel model;
  Router router;
  AddDashboardRoutes(&router);
  router.Add(Method::kGet, "/v1/model",
             [&model](const Request&) { return JsonResponse(json::serialize(model.Next())); });
  // GET /v1/models: the champion's report beside two challengers'.
  router.Add(Method::kGet, "/v1/models", [&model](const Request&) {
    json::object main = model.Next();
    main["name"] = "main";
    main["champion"] = true;
    json::array models{main};
    const char* names[] = {"omoe4", "ple"};
    for (const char* name : names) {
      json::object c = main;
      c["name"] = name;
      c["champion"] = false;
      c["architecture"] = std::string(name) == "omoe4" ? "omoe" : "ple";
      c["lag_examples"] = 256;
      models.push_back(std::move(c));
    }
    return JsonResponse(json::serialize(json::object{
        {"champion", "main"}, {"model_version", main["model_version"]}, {"models", models}}));
  });
  router.Add(Method::kPost, "/v1/rank", Rank, {.requires_body = true});
  router.Add(Method::kGet, "/healthz", HealthzHandler());
  Metrics metrics;
  HttpServer server({.port = static_cast<uint16_t>(flags.port)}, &router, &metrics);
  if (Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "dashboard fixture: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("listening on http://127.0.0.1:%u/\n", server.port());
  std::fflush(stdout);
  if (!flags.port_file.empty()) {
    const std::string tmp = flags.port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n";
    std::rename(tmp.c_str(), flags.port_file.c_str());  // readers never see half a file
  }
  const timespec limit{flags.max_seconds, 0};
  sigtimedwait(&stop, nullptr, &limit);
  server.Stop();
  return 0;
}

}  // namespace
}  // namespace ranker::api

int main(int argc, char** argv) {
  ranker::api::Flags flags;
  if (!ranker::api::ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: ranker_dashboard_fixture [--port P] [--port-file F] [--max-seconds S]\n");
    return 2;
  }
  return ranker::api::Run(flags);
}
