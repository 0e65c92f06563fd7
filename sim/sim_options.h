// Options of the simulated world (`ranker simulate`, `ranker demo`): its size,
// the examination (position-bias) curves per device, the logging policy, the
// click and watch functions and the timing of engagements. Plain struct with
// in-class defaults; app/ fills it from flags/YAML and calls Validate().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace ranker::sim {

// A device class and its examination curve:
// exam(pos) = factor * (1 / pos)^eta, monotone decreasing in pos.
struct DeviceSpec {
  std::string name;
  double share = 1.0;   // relative frequency of requests from this device
  double eta = 1.0;     // steepness of the position curve (> 0)
  double factor = 1.0;  // examination at position 1, in (0, 1]
};

struct SimOptions {
  // Seed of the world (latents, features) and of the event stream.
  uint64_t seed = 1;

  // World size. Users and items have latent vectors of latent_dim; each item
  // belongs to one of `creators` creators whose latent it shares in part.
  int users = 5000;
  int items = 2000;
  int creators = 200;
  int latent_dim = 8;
  // Zipf exponents of how often a user requests / an item is a candidate.
  double user_activity_exponent = 0.8;
  double item_popularity_exponent = 0.8;

  // Requests: `candidates` distinct items drawn by popularity, of which the
  // logging policy shows `slate_size` at positions 1..slate_size.
  int slate_size = 10;
  int candidates = 100;
  std::vector<DeviceSpec> devices = {
      {"mobile", 0.6, 0.9, 1.0},
      {"desktop", 0.3, 0.6, 0.9},
      {"tablet", 0.1, 0.75, 0.95},
  };
  // Logging policy: with probability `epsilon` a request's slate is a random
  // draw of its candidates in random order; otherwise candidates are ranked
  // by their true attraction logit plus N(0, ranking_noise^2).
  double epsilon = 0.1;
  double ranking_noise = 1.0;

  // Click function: attraction(u, i) = sigmoid(b + affinity_scale * <u, i> +
  // item_bias_i), item_bias ~ N(0, item_bias_std^2); b is calibrated so the
  // expected CTR of the logged slates is `target_ctr`. Keep it low (0.02-0.1)
  // so that logit(exam * attr) - logit(attr) stays close to log(exam).
  double target_ctr = 0.05;
  double affinity_scale = 1.5;
  double item_bias_std = 0.5;

  // Watch function of clicked items: expected seconds =
  // exp(watch_mu + watch_sigma * ((1 - conflict) * <u, i> + conflict * <u, w_i>))
  // with w_i an independent item vector; observed = expected * lognormal noise
  // of log-sd watch_noise_sigma and mean 1. conflict in [0, 1]: 0 = users
  // watch what attracts them, 1 = watch time is unrelated to attraction.
  double conflict = 0.5;
  double watch_mu = 3.0;  // exp(3) ~ 20 s
  double watch_sigma = 0.8;
  double watch_noise_sigma = 0.5;

  // Event time: requests arrive as a Poisson process from start_ts_ms.
  double requests_per_second = 20;
  int64_t start_ts_ms = 1'700'000'000'000;
  // Engagement timing. Clicks follow the impression after 0.2 s + Exp(mean
  // click_delay_mean_s); watch events follow their click after 0.2 s +
  // Exp(watch_delay_mean_s); both are capped inside join_window_ms. Each
  // click/watch independently arrives late with probability late_fraction:
  // between 1 s and 1 s + late_max_s after the window closed.
  int64_t join_window_ms = 60'000;
  double click_delay_mean_s = 5;
  double watch_delay_mean_s = 10;
  double late_fraction = 0.02;
  double late_max_s = 60;
  // A long tail of click delays (issue 16: the bias of a short window):
  // when > 0, a click follows its impression after 0.2 s + a lognormal
  // delay of median click_delay_mean_s and log-sd click_delay_tail_sigma,
  // uncapped, so some land beyond any window (1.5: ~5% beyond 60 s with
  // the 5 s median); its watch follows after the usual delay, uncapped.
  // 0 (default): the capped exponential delays above.
  double click_delay_tail_sigma = 0;

  Status Validate() const;
  // Examination probability of `position` (1-based) on device `device`
  // (index into `devices`). REQUIRES: Validate() is OK, position >= 1.
  double Examination(int position, int device) const;
};

}  // namespace ranker::sim
