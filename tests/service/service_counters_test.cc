// The service's counters are read when scraped (service/service_counters.h):
// a total that goes down, as the model's counts do after a rollback, shows
// at once instead of standing still until the model catches up.
#include "service/service_counters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <string>

#include "api/metrics.h"

namespace ranker::app {
namespace {

// The value of the series `name` (with its labels, as rendered) in a text
// exposition, or -1 when absent.
double ValueOf(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST(ServiceCounters, ATotalThatGoesDownIsExportedAsItIs) {
  std::atomic<uint64_t> trained{80};
  api::Metrics metrics;
  metrics.AddCollectable(std::make_shared<ServiceCounters>([&] {
    CounterTotals t;
    t.examples_trained = trained.load();
    t.rejected = {{"bad_json", 3}};
    t.commits_ok = 7;
    return t;
  }));
  std::string text = metrics.Render();
  EXPECT_EQ(ValueOf(text, "ranker_examples_trained_total"), 80);
  trained.store(50);  // rolled back to a snapshot taken at 50
  text = metrics.Render();
  EXPECT_EQ(ValueOf(text, "ranker_examples_trained_total"), 50);
  EXPECT_EQ(ValueOf(text, "ranker_events_rejected_total{reason=\"bad_json\"}"), 3);
  EXPECT_EQ(ValueOf(text, "ranker_offset_commits_total{result=\"ok\"}"), 7);
  EXPECT_NE(text.find("# TYPE ranker_examples_trained_total counter"), std::string::npos);
  // The registry's own families are still rendered beside the collectable's.
  EXPECT_NE(text.find("ranker_http_open_connections"), std::string::npos);
}

}  // namespace
}  // namespace ranker::app
