#include "sim/sim_options.h"

#include <cmath>
#include <set>

namespace ranker::sim {
namespace {

Status Positive(double v, const char* field) {
  if (!(v > 0 && std::isfinite(v))) {
    return Status::InvalidArgument(std::string("sim.") + field + " must be > 0");
  }
  return Status::OK();
}

Status NonNegative(double v, const char* field) {
  if (!(v >= 0 && std::isfinite(v))) {
    return Status::InvalidArgument(std::string("sim.") + field + " must be finite and >= 0");
  }
  return Status::OK();
}

Status InUnit(double v, const char* field) {
  if (!(v >= 0 && v <= 1)) {
    return Status::InvalidArgument(std::string("sim.") + field + " must be in [0, 1]");
  }
  return Status::OK();
}

Status ValidateDevices(const std::vector<DeviceSpec>& devices) {
  if (devices.empty()) return Status::InvalidArgument("sim.devices must not be empty");
  std::set<std::string> names;
  for (const DeviceSpec& d : devices) {
    if (d.name.empty()) return Status::InvalidArgument("sim.devices: a device has an empty name");
    if (!names.insert(d.name).second) {
      return Status::InvalidArgument("sim.devices: duplicate device '" + d.name + "'");
    }
    const std::string f = "devices." + d.name;
    RANKER_RETURN_IF_ERROR(Positive(d.share, (f + ".share").c_str()));
    RANKER_RETURN_IF_ERROR(Positive(d.eta, (f + ".eta").c_str()));
    if (!(d.factor > 0 && d.factor <= 1)) {
      return Status::InvalidArgument("sim." + f + ".factor must be in (0, 1]");
    }
  }
  return Status::OK();
}

Status ValidateSizes(const SimOptions& o) {
  if (o.users < 1) return Status::InvalidArgument("sim.users must be >= 1");
  if (o.items < 1) return Status::InvalidArgument("sim.items must be >= 1");
  if (o.creators < 1 || o.creators > o.items) {
    return Status::InvalidArgument("sim.creators must be in [1, items]");
  }
  if (o.latent_dim < 1) return Status::InvalidArgument("sim.latent_dim must be >= 1");
  if (o.slate_size < 1) return Status::InvalidArgument("sim.slate_size must be >= 1");
  if (o.candidates < o.slate_size || o.candidates > o.items) {
    return Status::InvalidArgument("sim.candidates must be in [slate_size, items]");
  }
  RANKER_RETURN_IF_ERROR(NonNegative(o.user_activity_exponent, "user_activity_exponent"));
  return NonNegative(o.item_popularity_exponent, "item_popularity_exponent");
}

Status ValidateTiming(const SimOptions& o) {
  RANKER_RETURN_IF_ERROR(Positive(o.requests_per_second, "requests_per_second"));
  if (o.start_ts_ms < 0) return Status::InvalidArgument("sim.start_ts_ms must be >= 0");
  if (o.join_window_ms < 2000) return Status::InvalidArgument("sim.join_window_ms must be >= 2000");
  RANKER_RETURN_IF_ERROR(NonNegative(o.click_delay_mean_s, "click_delay_mean_s"));
  RANKER_RETURN_IF_ERROR(NonNegative(o.watch_delay_mean_s, "watch_delay_mean_s"));
  RANKER_RETURN_IF_ERROR(InUnit(o.late_fraction, "late_fraction"));
  RANKER_RETURN_IF_ERROR(NonNegative(o.late_max_s, "late_max_s"));
  return NonNegative(o.click_delay_tail_sigma, "click_delay_tail_sigma");
}

}  // namespace

Status SimOptions::Validate() const {
  RANKER_RETURN_IF_ERROR(ValidateSizes(*this));
  RANKER_RETURN_IF_ERROR(ValidateDevices(devices));
  RANKER_RETURN_IF_ERROR(InUnit(epsilon, "epsilon"));
  RANKER_RETURN_IF_ERROR(NonNegative(ranking_noise, "ranking_noise"));
  if (!(target_ctr > 0 && target_ctr < 0.5)) {
    return Status::InvalidArgument("sim.target_ctr must be in (0, 0.5)");
  }
  RANKER_RETURN_IF_ERROR(NonNegative(affinity_scale, "affinity_scale"));
  RANKER_RETURN_IF_ERROR(NonNegative(item_bias_std, "item_bias_std"));
  RANKER_RETURN_IF_ERROR(InUnit(conflict, "conflict"));
  if (!std::isfinite(watch_mu)) return Status::InvalidArgument("sim.watch_mu must be finite");
  RANKER_RETURN_IF_ERROR(NonNegative(watch_sigma, "watch_sigma"));
  RANKER_RETURN_IF_ERROR(NonNegative(watch_noise_sigma, "watch_noise_sigma"));
  return ValidateTiming(*this);
}

double SimOptions::Examination(int position, int device) const {
  const DeviceSpec& d = devices[static_cast<size_t>(device)];
  return d.factor * std::pow(1.0 / position, d.eta);
}

}  // namespace ranker::sim
