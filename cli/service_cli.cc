#include "cli/service_cli.h"

#include <charconv>
#include <cstdio>

namespace ranker::app {

Status ApplyHttpFlag(const std::string& value, Config* config) {
  const size_t colon = value.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--http: expected ADDR:PORT, got '" + value + "'");
  }
  std::string address = value.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  if (address.empty()) address = "0.0.0.0";
  const std::string port_text = value.substr(colon + 1);
  int port = -1;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return Status::InvalidArgument("--http: port must be in [0, 65535], got '" + port_text + "'");
  }
  config->service.http.address = address;
  config->service.http.port = static_cast<uint16_t>(port);
  return Status::OK();
}

std::string ServiceUrl(const Service& service) {
  std::string host = service.config().service.http.address;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(service.http_port()) + "/";
}

std::string ProgressReporter::Line(int64_t now_ms) {
  const std::shared_ptr<const PublishedModel> m = service_->Latest();
  if (m == nullptr) return "no model yet";
  const double seconds = last_ms_ < 0 ? 0 : (now_ms - last_ms_) / 1000.0;
  const double rate = seconds > 0 ? (m->events_consumed - last_events_) / seconds : 0;
  last_ms_ = now_ms;
  last_events_ = m->events_consumed;
  int64_t lag = 0;
  for (const auto& [tp, state] : service_->source_counters().partitions) {
    if (state.lag > 0) lag += state.lag;
  }
  char buf[256];
  std::snprintf(
      buf, sizeof(buf), "events %lld (%.0f/s)  examples %lld  v%llu (%lld ms old)  lag %lld |",
      static_cast<long long>(m->events_consumed), rate, static_cast<long long>(m->examples_trained),
      static_cast<unsigned long long>(m->version),
      static_cast<long long>(now_ms - m->published_at_ms), static_cast<long long>(lag));
  std::string line = buf;
  for (const learner::TaskMetrics& t : m->metrics.tasks) {
    if (t.kind == learner::TaskKind::kBinary) {
      std::snprintf(buf, sizeof(buf), " %s auc %.4f", t.name.c_str(), t.window_auc);
    } else {
      std::snprintf(buf, sizeof(buf), " %s rmse %.4f", t.name.c_str(), t.window_rmse);
    }
    line += buf;
  }
  return line;
}

}  // namespace ranker::app
