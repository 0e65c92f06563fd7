#include "learner/input_layout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ranker::learner {
namespace {

constexpr double kVarianceFloor = 1e-8;
constexpr double kClip = 10;

void PutStrings(std::string* out, const std::vector<std::string>& v) {
  PutFixed32(out, static_cast<uint32_t>(v.size()));
  for (const std::string& s : v) PutString(out, s);
}

Status GetStrings(Decoder* in, size_t max, std::vector<std::string>* v) {
  uint32_t n = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed32(&n));
  if (n > max) return Status::Corruption("input layout: more bindings than slots");
  v->resize(n);
  for (std::string& s : *v) RANKER_RETURN_IF_ERROR(in->GetString(&s));
  return Status::OK();
}

// The memo entry of `name`, or nullptr (a linear scan: a request's
// candidates carry a handful of distinct names).
BatchInput::NameSlot* Memo(std::vector<BatchInput::NameSlot>* memo, const std::string& name) {
  for (BatchInput::NameSlot& m : *memo) {
    if (m.name == name) return &m;
  }
  return nullptr;
}
constexpr size_t kMemoNames = 32;  // more distinct names are looked up each time

void WarnPooled(const char* kind, const std::string& name, int slot, int slots,
                const char* option) {
  std::fprintf(stderr,
               "ranker: %s feature '%s' has no input slot of its own (all %d of %s are "
               "bound): it is summed into slot %d; raise %s to give it one\n",
               kind, name.c_str(), slots, option, slot, option);
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void SortByName(std::vector<InputBindings::Feature>* v) {
  std::sort(v->begin(), v->end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

void DigestString(Digest64* d, const std::string& s) {
  d->UpdateU64(s.size());
  d->Update(s.data(), s.size());
}

}  // namespace

void DenseStat::Add(double v) {
  ++count;
  const double delta = v - mean;
  mean += delta / static_cast<double>(count);
  m2 += delta * (v - mean);
}

double DenseStat::Standardise(double v) const {
  const double var = count > 0 ? m2 / static_cast<double>(count) : 1.0;
  const double z = (v - mean) / std::sqrt(var + kVarianceFloor);
  return std::clamp(z, -kClip, kClip);
}

InputLayout::InputLayout(const ModelOptions& options)
    : cat_slots_(options.categorical_slots),
      dim_(options.embedding_dim),
      dense_slots_(options.dense_slots) {
  if (cat_slots_ >= 3) {
    for (const char* f : {"user_id", "item_id", "context.device"}) {
      field_slot_.emplace(f, static_cast<int>(fields_.size()));
      fields_.emplace_back(f);
    }
  }
}

int InputLayout::SlotOf(const std::string& field) const {
  const auto it = field_slot_.find(field);
  return it == field_slot_.end() ? -1 : it->second;
}

int InputLayout::DenseSlotOf(const std::string& name) const {
  const auto it = std::find(dense_names_.begin(), dense_names_.end(), name);
  return it == dense_names_.end() ? -1 : static_cast<int>(it - dense_names_.begin());
}

int InputLayout::CategoricalSlot(const std::string& field, Mode mode, BatchInput* in) const {
  const int bound = SlotOf(field);
  if (bound >= 0) return bound;
  const int used = static_cast<int>(fields_.size());
  if (mode == Mode::kTrain) {
    const auto it = std::find(in->new_fields.begin(), in->new_fields.end(), field);
    if (it != in->new_fields.end()) return used + static_cast<int>(it - in->new_fields.begin());
    if (used + static_cast<int>(in->new_fields.size()) < cat_slots_) {
      in->new_fields.push_back(field);
      return used + static_cast<int>(in->new_fields.size()) - 1;
    }
    if (!pooled_fields_.contains(field) && !Contains(in->new_pooled, field)) {
      in->new_pooled.push_back(field);
    }
  } else if (used < cat_slots_) {
    return -1;
  }
  return static_cast<int>(Hash64(field) % static_cast<uint64_t>(cat_slots_));
}

int InputLayout::DenseSlot(const std::string& name, Mode mode, BatchInput* in) const {
  if (dense_slots_ == 0) return -1;
  const int bound = DenseSlotOf(name);
  if (bound >= 0) return bound;
  const int used = static_cast<int>(dense_names_.size());
  if (mode == Mode::kTrain) {
    const auto it = std::find(in->new_dense.begin(), in->new_dense.end(), name);
    if (it != in->new_dense.end()) return used + static_cast<int>(it - in->new_dense.begin());
    if (used + static_cast<int>(in->new_dense.size()) < dense_slots_) {
      in->new_dense.push_back(name);
      return used + static_cast<int>(in->new_dense.size()) - 1;
    }
  } else if (used < dense_slots_) {
    return -1;
  }
  return static_cast<int>(Hash64(name) % static_cast<uint64_t>(dense_slots_));
}

void InputLayout::Begin(Eigen::Index rows, BatchInput* in) const {
  in->x.setZero(rows, input_width());
  in->keys.clear();
  in->uses.clear();
  in->key_index.clear();
  in->new_fields.clear();
  in->new_dense.clear();
  in->new_pooled.clear();
  in->stats.clear();
  in->slot_used.assign(cat_slots_ + dense_slots_, 0);
  in->categorical_names.clear();
  in->dense_names.clear();
}

void InputLayout::AddCategorical(int example, const CategoricalFeature& f, Mode mode,
                                 BatchInput* in) const {
  int slot;
  if (mode == Mode::kServe) {  // the layout is fixed: a name's slot is too
    const BatchInput::NameSlot* m = Memo(&in->categorical_names, f.field);
    if (m != nullptr) {
      slot = m->slot;
    } else {
      slot = CategoricalSlot(f.field, mode, in);
      if (in->categorical_names.size() < kMemoNames)
        in->categorical_names.push_back({f.field, slot});
    }
  } else {
    slot = CategoricalSlot(f.field, mode, in);
  }
  if (slot < 0) return;
  const uint64_t key = FeatureKey(f.field, f.value);
  const auto [it, inserted] = in->key_index.emplace(key, static_cast<int32_t>(in->keys.size()));
  if (inserted) in->keys.push_back(key);
  in->uses.push_back({example, slot, it->second});
  in->slot_used[slot] = 1;
}

void InputLayout::AddDense(int example, const DenseFeature& f, Mode mode, BatchInput* in) const {
  if (mode == Mode::kServe) {  // fixed layout and statistics: memoised per name
    const BatchInput::NameSlot* m = Memo(&in->dense_names, f.name);
    BatchInput::NameSlot found;
    if (m == nullptr) {
      found.name = f.name;
      found.slot = DenseSlot(f.name, mode, in);
      const auto it = stats_.find(f.name);
      found.stat = it == stats_.end() ? nullptr : &it->second;
      m = &found;
      if (in->dense_names.size() < kMemoNames) {
        in->dense_names.push_back(std::move(found));
        m = &in->dense_names.back();
      }
    }
    if (m->slot < 0 || m->stat == nullptr) return;  // never seen in training
    in->x(example, cat_slots_ * dim_ + m->slot) += static_cast<Real>(m->stat->Standardise(f.value));
    in->slot_used[cat_slots_ + m->slot] = 1;
    return;
  }
  const int slot = DenseSlot(f.name, mode, in);
  if (slot < 0) return;
  const auto pending = in->stats.find(f.name);
  const DenseStat* stat = pending != in->stats.end() ? &pending->second : nullptr;
  if (stat == nullptr) {
    const auto it = stats_.find(f.name);
    if (it == stats_.end()) return;  // serving: never seen in training
    stat = &it->second;
  }
  in->x(example, cat_slots_ * dim_ + slot) += static_cast<Real>(stat->Standardise(f.value));
  in->slot_used[cat_slots_ + slot] = 1;
}

// Training: the batch's values enter the running statistics before any of
// them is standardised.
void InputLayout::UpdateStats(std::span<const Example> batch, BatchInput* in) const {
  for (const Example& e : batch) {
    for (const DenseFeature& f : e.dense) {
      auto [it, inserted] = in->stats.try_emplace(f.name);
      if (inserted) {
        const auto old = stats_.find(f.name);
        if (old != stats_.end()) it->second = old->second;
      }
      it->second.Add(f.value);
    }
  }
}

// Training: the sightings of the batch; with admission on, drops the keys
// the table does not admit (and their uses) into in->sightings.probation.
void InputLayout::Admit(std::span<const Example> batch, const EmbeddingTable& table,
                        BatchInput* in) const {
  const size_t n = in->keys.size();
  in->key_ts.assign(n, -1);
  in->key_uses.assign(n, 0);
  in->sightings.probation.clear();
  in->sightings.newest_ts_ms = -1;
  for (const Example& e : batch) {
    in->sightings.newest_ts_ms = std::max(in->sightings.newest_ts_ms, e.ts_ms);
  }
  for (const BatchInput::Use& u : in->uses) {
    ++in->key_uses[u.key];
    in->key_ts[u.key] = std::max(in->key_ts[u.key], batch[u.example].ts_ms);
  }
  if (!table.admission()) return;
  std::vector<uint32_t>& kept_as = in->key_uses;  // reused: old key -> new key
  size_t kept = 0;
  for (size_t k = 0; k < n; ++k) {
    const uint64_t key = in->keys[k];
    if (table.Find(key) == nullptr && !table.Admits(key, in->key_uses[k])) {
      in->sightings.probation.emplace_back(key, in->key_uses[k]);
      kept_as[k] = UINT32_MAX;
      continue;
    }
    in->keys[kept] = key;
    in->key_ts[kept] = in->key_ts[k];
    kept_as[k] = static_cast<uint32_t>(kept++);
  }
  if (kept == n) return;
  in->keys.resize(kept);
  in->key_ts.resize(kept);
  std::erase_if(in->uses, [&](const BatchInput::Use& u) { return kept_as[u.key] == UINT32_MAX; });
  for (BatchInput::Use& u : in->uses) u.key = static_cast<int32_t>(kept_as[u.key]);
}

// Looks up the distinct keys once each and adds their rows into x.
// Training sees a row about to be created with its initial weights.
void InputLayout::Finish(const EmbeddingTable& table, Mode mode, BatchInput* in) const {
  in->rows.resize(static_cast<Eigen::Index>(in->keys.size()), dim_);
  // The rows are looked up in chunks (FindMany), so that the cache misses
  // of a big table's paths overlap instead of adding up key after key.
  constexpr size_t kChunk = 64;
  const Real* found[kChunk];
  for (size_t first = 0; first < in->keys.size(); first += kChunk) {
    const size_t m = std::min(kChunk, in->keys.size() - first);
    table.FindMany(in->keys.data() + first, m, found);
    for (size_t i = 0; i < m; ++i) {
      const size_t k = first + i;
      Real* out = in->rows.row(static_cast<Eigen::Index>(k)).data();
      if (found[i] != nullptr) {
        std::copy(found[i], found[i] + dim_, out);
      } else if (mode == Mode::kTrain) {
        table.InitialWeights(in->keys[k], out);
      } else {
        table.Lookup(in->keys[k], out);
      }
    }
  }
  for (const BatchInput::Use& u : in->uses) {
    in->x.row(u.example).segment(u.slot * dim_, dim_) += in->rows.row(u.key);
  }
}

void InputLayout::Build(std::span<const Example> batch, const EmbeddingTable& table, Mode mode,
                        BatchInput* in) const {
  Begin(static_cast<Eigen::Index>(batch.size()), in);
  if (mode == Mode::kTrain) UpdateStats(batch, in);
  for (size_t b = 0; b < batch.size(); ++b) {
    const int example = static_cast<int>(b);
    for (const CategoricalFeature& f : batch[b].categorical) {
      AddCategorical(example, f, mode, in);
    }
    for (const DenseFeature& f : batch[b].dense) AddDense(example, f, mode, in);
  }
  if (mode == Mode::kTrain) Admit(batch, table, in);
  Finish(table, mode, in);
}

void InputLayout::BuildRow(std::span<const CategoricalFeature> categorical,
                           std::span<const DenseFeature> dense, const EmbeddingTable& table,
                           BatchInput* in) const {
  Begin(1, in);
  for (const CategoricalFeature& f : categorical) AddCategorical(0, f, Mode::kServe, in);
  for (const DenseFeature& f : dense) AddDense(0, f, Mode::kServe, in);
  Finish(table, Mode::kServe, in);
}

void InputLayout::Commit(const BatchInput& in) {
  for (const std::string& f : in.new_fields) {
    field_slot_.emplace(f, static_cast<int>(fields_.size()));
    fields_.push_back(f);
  }
  for (const std::string& n : in.new_dense) dense_names_.push_back(n);
  for (const std::string& f : in.new_pooled) {
    pooled_fields_.insert(f);
    WarnPooled("categorical", f, static_cast<int>(Hash64(f) % static_cast<uint64_t>(cat_slots_)),
               cat_slots_, "model.categorical_slots");
  }
  for (const auto& [name, stat] : in.stats) {
    const bool first_sight = stats_.emplace(name, stat).second;
    if (!first_sight) {
      stats_[name] = stat;
    } else if (dense_slots_ > 0 && DenseSlotOf(name) < 0) {
      WarnPooled("dense", name,
                 static_cast<int>(Hash64(name) % static_cast<uint64_t>(dense_slots_)), dense_slots_,
                 "model.dense_slots");
    }
  }
}

InputBindings InputLayout::Inputs() const {
  InputBindings b;
  b.categorical_slots = cat_slots_;
  b.dense_slots = dense_slots_;
  for (size_t i = 0; i < fields_.size(); ++i) {
    b.categorical_bound.push_back({fields_[i], static_cast<int>(i)});
  }
  for (const std::string& f : pooled_fields_) {
    b.categorical_pooled.push_back(
        {f, static_cast<int>(Hash64(f) % static_cast<uint64_t>(cat_slots_))});
  }
  for (size_t i = 0; i < dense_names_.size(); ++i) {
    b.dense_bound.push_back({dense_names_[i], static_cast<int>(i)});
  }
  for (const auto& [name, stat] : stats_) {
    if (DenseSlotOf(name) >= 0 || dense_slots_ == 0) continue;
    b.dense_pooled.push_back(
        {name, static_cast<int>(Hash64(name) % static_cast<uint64_t>(dense_slots_))});
  }
  SortByName(&b.categorical_bound);
  SortByName(&b.categorical_pooled);
  SortByName(&b.dense_bound);
  SortByName(&b.dense_pooled);
  return b;
}

void InputLayout::RowGradients(const BatchInput& in, const Matrix& dx, Matrix* grads) const {
  grads->setZero(static_cast<Eigen::Index>(in.keys.size()), dim_);
  for (const BatchInput::Use& u : in.uses) {
    grads->row(u.key) += dx.row(u.example).segment(u.slot * dim_, dim_);
  }
}

void InputLayout::Digest(Digest64* d) const {
  d->UpdateU64(fields_.size());
  for (const std::string& f : fields_) DigestString(d, f);
  d->UpdateU64(dense_names_.size());
  for (const std::string& n : dense_names_) DigestString(d, n);
  std::vector<const std::string*> names;
  for (const auto& [name, stat] : stats_) names.push_back(&name);
  std::sort(names.begin(), names.end(), [](auto* a, auto* b) { return *a < *b; });
  d->UpdateU64(names.size());
  for (const std::string* name : names) {
    const DenseStat& s = stats_.at(*name);
    DigestString(d, *name);
    d->UpdateU64(s.count);
    d->Update(&s.mean, sizeof(s.mean));
    d->Update(&s.m2, sizeof(s.m2));
  }
}

void InputLayout::Serialize(std::string* out) const {
  PutStrings(out, fields_);
  PutStrings(out, dense_names_);
  std::vector<std::string> names;
  for (const auto& [name, stat] : stats_) names.push_back(name);
  std::sort(names.begin(), names.end());
  PutFixed64(out, names.size());
  for (const std::string& name : names) {
    const DenseStat& s = stats_.at(name);
    PutString(out, name);
    PutFixed64(out, s.count);
    PutDouble(out, s.mean);
    PutDouble(out, s.m2);
  }
}

Status InputLayout::Deserialize(Decoder* in) {
  RANKER_RETURN_IF_ERROR(GetStrings(in, cat_slots_, &fields_));
  RANKER_RETURN_IF_ERROR(GetStrings(in, dense_slots_, &dense_names_));
  field_slot_.clear();
  pooled_fields_.clear();
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (!field_slot_.emplace(fields_[i], static_cast<int>(i)).second) {
      return Status::Corruption("input layout: field '" + fields_[i] + "' bound twice");
    }
  }
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  if (n > in->remaining() / 28) return Status::Corruption("input layout: stats count");
  stats_.clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string name;
    DenseStat s;
    RANKER_RETURN_IF_ERROR(in->GetString(&name));
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&s.count));
    RANKER_RETURN_IF_ERROR(in->GetDouble(&s.mean));
    RANKER_RETURN_IF_ERROR(in->GetDouble(&s.m2));
    stats_[name] = s;
  }
  return Status::OK();
}

void FindSharedSlots(const BatchInput& in, int cat_slots, int dim, int32_t share_ratio,
                     std::vector<SharedSlot>* slots, std::vector<int32_t>* count,
                     std::vector<int32_t>* index, std::vector<int32_t>* local) {
  const size_t keys = in.keys.size();
  const int32_t batch = static_cast<int32_t>(in.x.rows());
  local->assign(static_cast<size_t>(cat_slots) * keys, -1);  // [slot * keys + key]: row index
  count->assign(cat_slots, 0);
  for (const BatchInput::Use& u : in.uses) {
    int32_t& l = (*local)[static_cast<size_t>(u.slot) * keys + u.key];
    if (l < 0) l = (*count)[u.slot]++;
  }
  slots->resize(0);
  index->assign(cat_slots, -1);
  for (int s = 0; s < cat_slots; ++s) {
    const int32_t n = (*count)[s];
    if (n == 0 || n * share_ratio > batch) continue;
    (*index)[s] = static_cast<int32_t>(slots->size());
    SharedSlot& slot = slots->emplace_back();
    slot.column = s * dim;
    slot.rows.resize(n, dim);
    slot.ids.resize(n);
    slot.uses.clear();
  }
  for (const BatchInput::Use& u : in.uses) {
    if ((*index)[u.slot] < 0) continue;
    SharedSlot& slot = (*slots)[(*index)[u.slot]];
    const int32_t l = (*local)[static_cast<size_t>(u.slot) * keys + u.key];
    slot.rows.row(l) = in.rows.row(u.key);
    slot.ids[l] = u.key;
    slot.uses.emplace_back(u.example, l);
  }
}

}  // namespace ranker::learner
