// The position-bias tower (Zhao et al. 2019, "Recommending What Video to
// Watch Next"): a shallow network on (position, device) whose output is
// ADDED to the logit of ModelOptions::position_task during training only,
// so the main network learns relevance net of where the item was shown. At
// serving the position is missing and the tower is left out.
//
// Input: one-hot(position index) ++ one-hot(device index), where
//   position index: 0 = missing/dropped, else min(position, max_position);
//   device index:   0 = missing (""), 1..max_devices = devices in order of
//                   first sight in training, max_devices + 1 = "other"
//                   (devices seen after max_devices were bound).
// Then Dense(position_tower_hidden, ReLU) -> Dense(1).
//
// The parameters are caller-owned (MlpParams); this class owns the device
// bindings, which are model state. Not thread-safe for writes (Commit,
// Deserialize); const methods may run concurrently.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "learner/net/mlp.h"
#include "learner/options.h"

namespace ranker::learner {

// PositionTower::Bias(): contract §3 position_bias.
struct PositionBiasReport {
  std::vector<int> positions;  // 1..max_position
  // [i]: tower(position i+1) - tower(position 1), averaged over the device
  // indices seen in training (the missing-device index counts when seen).
  std::vector<double> click_logit_offset;
  // The same per device seen: name ("" = missing, "*other*" = overflow).
  std::vector<std::string> devices;
  std::vector<std::vector<double>> per_device;
};

class PositionTower {
 public:
  // REQUIRES: options.Validate().ok().
  explicit PositionTower(const ModelOptions& options);

  int input_width() const { return max_position_ + 1 + max_devices_ + 2; }
  MlpParams Init(Rng* rng) const { return mlp_.Init(rng); }
  MlpParams Zeros() const { return mlp_.Zeros(); }

  int PositionIndex(int32_t position) const;
  // The index of `device`. Unbound devices: with `pending` (training) they
  // are bound tentatively (appended to *pending while room remains; see
  // Commit); without (read-only), they map to "other" when all indices are
  // taken and to the missing index otherwise.
  int DeviceIndex(std::string_view device, std::vector<std::string>* pending) const;
  // Makes the tentative bindings of a batch permanent and records which
  // device indices were trained on (for Bias()).
  void Commit(const std::vector<std::string>& pending, std::span<const int> device_indices);

  // x = [B x input_width()] one-hot rows. REQUIRES: equal sizes.
  void BuildInput(std::span<const int> positions, std::span<const int> devices, Matrix* x) const;
  const Matrix& Forward(const MlpParams& p, const ConstMatrixRef& x, MlpCache* cache) const {
    return mlp_.Forward(p, x, cache);
  }
  // ADDS parameter gradients into *grad. dy is [B x 1].
  void Backward(const MlpParams& p, MlpCache* cache, const ConstMatrixRef& dy,
                MlpParams* grad) const {
    mlp_.Backward(p, cache, dy, grad, nullptr);
  }

  PositionBiasReport Bias(const MlpParams& p) const;

  // Device bindings and seen flags (not the parameters).
  void Digest(Digest64* d) const;
  void Serialize(std::string* out) const;
  Status Deserialize(Decoder* in);

 private:
  std::string DeviceName(int index) const;

  int max_position_;
  int max_devices_;
  Mlp mlp_;
  std::vector<std::string> devices_;  // index - 1 -> name
  std::unordered_map<std::string, int> index_;
  std::vector<uint8_t> seen_;  // per device index: trained on
};

}  // namespace ranker::learner
