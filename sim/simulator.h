// The simulated world's event stream: requests from users on devices, slates
// chosen by a logging policy, impressions with ground truth, and the clicks
// and watch events they cause, all in event-time (ts_ms) order. Used by
// `ranker simulate` (WriteNdjson) and `ranker demo` (Simulator directly).
//
// Determinism: the same SimOptions give the same events, byte for byte.
// Thread-safety: none; one thread drives a Simulator.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "base/random.h"
#include "base/status.h"
#include "sim/event_json.h"
#include "sim/sim_options.h"
#include "sim/world.h"

namespace ranker::sim {

// One request before ranking: who asks, when, from which device, and the
// candidate items (indices into the World, distinct).
struct SimRequest {
  std::string request_id;  // "r<n>", n = 1, 2, ...
  int64_t ts_ms = 0;
  int user = 0;
  int device = 0;  // index into SimOptions::devices
  std::vector<int> candidates;
};

class Simulator {
 public:
  // REQUIRES: options.Validate() is OK. Builds the world and calibrates its
  // attraction bias so the logged slates' expected CTR is options.target_ctr
  // (as close as the examination curves allow).
  explicit Simulator(SimOptions options);

  // Generates the next request, ranks it with the logging policy, and
  // appends to *out every event due up to the request's time: pending clicks
  // and watches with ts_ms <= its time, then its impressions. The
  // concatenation of all calls is ordered by ts_ms.
  void NextRequest(std::vector<SimEvent>* out);
  // Appends every still-pending click/watch (end of stream).
  void Flush(std::vector<SimEvent>* out);

  // Closed-loop use (another ranker chooses the slate): NextCandidates()
  // draws a request; CandidateExample() is what a ranker may see of a
  // candidate (no position, no labels); Serve() shows `slate` (items from
  // request.candidates, best first; at most slate_size are shown) and appends
  // the due events as NextRequest() does. REQUIRES: requests are served in
  // the order they were drawn.
  SimRequest NextCandidates();
  learner::Example CandidateExample(const SimRequest& request, int item) const;
  void Serve(const SimRequest& request, std::span<const int> slate, std::vector<SimEvent>* out);
  // The logging policy's slate for `request` (see SimOptions::epsilon).
  std::vector<int> LoggingPolicy(const SimRequest& request);

  const World& world() const { return world_; }
  const SimOptions& options() const { return options_; }

 private:
  struct Pending {
    int64_t ts_ms;
    uint64_t seq;
    SimEvent event;
  };
  // Heap order: the front is the earliest (ts_ms, seq).
  static bool Later(const Pending& a, const Pending& b) {
    return a.ts_ms != b.ts_ms ? a.ts_ms > b.ts_ms : a.seq > b.seq;
  }
  SimRequest DrawRequest(Rng* rng, double* clock_ms);
  std::vector<int> RankSlate(const SimRequest& request, Rng* rng) const;
  void CalibrateBias();
  void Engage(const SimRequest& request, int item, double expected_watch);
  int64_t DelayMs(double mean_s, int64_t cap_ms);
  // 0.2 s + a lognormal delay of median `median_s` and log-sd `sigma`, uncapped.
  int64_t TailDelayMs(double median_s, double sigma);
  void Schedule(int64_t ts_ms, SimEvent event);
  void EmitDue(int64_t until_ts_ms, std::vector<SimEvent>* out);
  void Emit(SimEvent event, std::vector<SimEvent>* out);

  const SimOptions options_;
  World world_;
  Rng rng_;
  double clock_ms_;  // event time of the last request, unrounded
  uint64_t requests_ = 0;
  uint64_t seq_ = 0;
  uint64_t emitted_ = 0;
  std::vector<Pending> pending_;  // min-heap on (ts_ms, seq)
  std::vector<char> seen_;        // scratch of NextCandidates, one per item
};

// Writes the first `n_events` events of the world of `options` to `out`, one
// contract-§1 JSON object per line, impressions with their "truth" object.
// InvalidArgument if the options are invalid or n_events < 0; IOError if
// the stream fails.
Status WriteNdjson(const SimOptions& options, int64_t n_events, std::ostream& out);

}  // namespace ranker::sim
