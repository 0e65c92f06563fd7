#include "learner/net/position_tower.h"

#include <algorithm>

namespace ranker::learner {

PositionTower::PositionTower(const ModelOptions& options)
    : max_position_(options.max_position),
      max_devices_(options.max_devices),
      mlp_({options.max_position + 1 + options.max_devices + 2, options.position_tower_hidden, 1},
           /*relu_last=*/false),
      seen_(options.max_devices + 2, 0) {}

int PositionTower::PositionIndex(int32_t position) const {
  if (position <= 0) return 0;
  return std::min(position, max_position_);
}

int PositionTower::DeviceIndex(std::string_view device, std::vector<std::string>* pending) const {
  if (device.empty()) return 0;
  const auto it = index_.find(std::string(device));
  if (it != index_.end()) return it->second;
  const int other = max_devices_ + 1;
  const int bound = static_cast<int>(devices_.size());
  if (pending == nullptr) return bound == max_devices_ ? other : 0;
  for (size_t i = 0; i < pending->size(); ++i) {
    if ((*pending)[i] == device) return bound + 1 + static_cast<int>(i);
  }
  if (bound + static_cast<int>(pending->size()) >= max_devices_) return other;
  pending->emplace_back(device);
  return bound + static_cast<int>(pending->size());
}

void PositionTower::Commit(const std::vector<std::string>& pending,
                           std::span<const int> device_indices) {
  for (const std::string& d : pending) {
    devices_.push_back(d);
    index_.emplace(d, static_cast<int>(devices_.size()));
  }
  for (int i : device_indices) seen_[i] = 1;
}

void PositionTower::BuildInput(std::span<const int> positions, std::span<const int> devices,
                               Matrix* x) const {
  x->setZero(static_cast<Eigen::Index>(positions.size()), input_width());
  for (size_t b = 0; b < positions.size(); ++b) {
    (*x)(b, positions[b]) = 1;
    (*x)(b, max_position_ + 1 + devices[b]) = 1;
  }
}

std::string PositionTower::DeviceName(int index) const {
  if (index == 0) return "";
  if (index == max_devices_ + 1) return "*other*";
  return devices_[index - 1];
}

PositionBiasReport PositionTower::Bias(const MlpParams& p) const {
  std::vector<int> devices;
  for (int d = 0; d < static_cast<int>(seen_.size()); ++d) {
    if (seen_[d]) devices.push_back(d);
  }
  if (devices.empty()) devices.push_back(0);
  // One row per (device, position 1..max_position).
  std::vector<int> pos_idx, dev_idx;
  for (int d : devices) {
    for (int i = 1; i <= max_position_; ++i) {
      pos_idx.push_back(i);
      dev_idx.push_back(d);
    }
  }
  Matrix x;
  BuildInput(pos_idx, dev_idx, &x);
  MlpCache cache;
  const Matrix& y = Forward(p, x, &cache);
  PositionBiasReport r;
  r.click_logit_offset.assign(max_position_, 0.0);
  for (int i = 1; i <= max_position_; ++i) r.positions.push_back(i);
  for (size_t k = 0; k < devices.size(); ++k) {
    r.devices.push_back(DeviceName(devices[k]));
    std::vector<double>& per = r.per_device.emplace_back();
    const Eigen::Index base = static_cast<Eigen::Index>(k) * max_position_;
    for (int i = 0; i < max_position_; ++i) {
      per.push_back(static_cast<double>(y(base + i, 0)) - static_cast<double>(y(base, 0)));
      r.click_logit_offset[i] += per.back() / static_cast<double>(devices.size());
    }
  }
  return r;
}

void PositionTower::Digest(Digest64* d) const {
  d->UpdateU64(devices_.size());
  for (const std::string& name : devices_) {
    d->UpdateU64(name.size());
    d->Update(name.data(), name.size());
  }
  d->Update(seen_.data(), seen_.size());
}

void PositionTower::Serialize(std::string* out) const {
  PutFixed32(out, static_cast<uint32_t>(devices_.size()));
  for (const std::string& name : devices_) PutString(out, name);
  PutArray(out, seen_.data(), seen_.size());
}

Status PositionTower::Deserialize(Decoder* in) {
  uint32_t n = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed32(&n));
  if (n > static_cast<uint32_t>(max_devices_)) {
    return Status::Corruption("position tower: more devices than model.max_devices");
  }
  devices_.clear();
  index_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    RANKER_RETURN_IF_ERROR(in->GetString(&name));
    devices_.push_back(name);
    if (!index_.emplace(name, static_cast<int>(i) + 1).second) {
      return Status::Corruption("position tower: duplicate device '" + name + "'");
    }
  }
  return in->GetInto(seen_.data(), seen_.size());
}

}  // namespace ranker::learner
