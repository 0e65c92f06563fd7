// Pieces shared by the service commands (serve, demo): the --http flag and
// the one-line progress report printed while the service runs.
#pragma once

#include <cstdint>
#include <string>

#include "service/service.h"
#include "settings/config.h"

namespace ranker::app {

// "ADDR:PORT" ("127.0.0.1:8080", "[::1]:0", ":8080" = every IPv4 address)
// into http.address / http.port. InvalidArgument naming --http.
Status ApplyHttpFlag(const std::string& value, Config* config);

// "http://ADDR:PORT/" of a started service.
std::string ServiceUrl(const Service& service);

// Successive progress lines: events/s since the previous line, window AUC
// (or RMSE) per task, model version and age, total consumer lag.
class ProgressReporter {
 public:
  explicit ProgressReporter(const Service* service) : service_(service) {}
  std::string Line(int64_t now_ms);

 private:
  const Service* service_;
  int64_t last_ms_ = -1;
  int64_t last_events_ = 0;
};

}  // namespace ranker::app
