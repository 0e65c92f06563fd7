// The input layer: turns Examples into the input matrix X [B x width]:
// categorical_slots embedding slots of embedding_dim, then dense_slots
// standardised dense values.
//
// Slot binding (model state, serialised and checksummed): fields are not
// registered in config, they are bound on first sight IN TRAINING.
//  - Categorical: with categorical_slots >= 3, slots 0, 1, 2 are reserved
//    for user_id, item_id and context.device; every other field takes the
//    next free slot in order of first appearance. Once all slots are bound,
//    a new field is sum-pooled into slot Hash64(field) % categorical_slots
//    (shared with whatever is bound there). Several values of one field in
//    an example are sum-pooled too. A missing field leaves a zero vector.
//  - Dense: bound to dense slots on first sight; overflow features are
//    summed into slot Hash64(name) % dense_slots. Each dense feature
//    (bound or not) is standardised online: z = (v - mean) / sqrt(var +
//    1e-8), clipped to [-10, 10], with running (Welford) mean and variance
//    updated in training only, with the batch's values BEFORE it is
//    standardised (a first value maps to 0, never to a huge raw number).
//    A missing dense feature is 0 (its mean).
// Pooling is reported, never silent: the first training batch that pools a
// feature name writes one line on stderr naming it, its slot and the option
// to raise, and Inputs() lists every bound and pooled feature (GET /v1/model,
// replay --json, /metrics). Pooled categorical names are observed, not
// model state: not digested or serialised (a restored model lists them again
// once training sees them; pooled dense names come back with their stats).
// Serving never binds: a field not yet bound is ignored while free slots
// remain (the model has never trained on it) and pooled into its hashed
// slot once none remain (as training would); unseen dense features are
// ignored.
//
// Build() never changes the layout: its tentative bindings and statistics
// live in the BatchInput until Commit(), so a skipped (non-finite) step
// leaves no trace. Const methods are thread-safe; Commit and Deserialize
// need exclusive access.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "learner/embedding_table.h"
#include "learner/event.h"
#include "learner/net/expert_stack.h"
#include "learner/options.h"
#include "learner/tensor.h"

namespace ranker::learner {

// Online mean/variance (Welford) of one dense feature.
struct DenseStat {
  uint64_t count = 0;
  double mean = 0;
  double m2 = 0;
  void Add(double v);
  double Standardise(double v) const;
};

// One batch's input and what routes dL/dX back to embedding rows.
// Caller-owned, reused across batches.
struct BatchInput {
  Matrix x;                    // [B x input_width]
  std::vector<uint64_t> keys;  // distinct embedding keys, first-use order
  Matrix rows;                 // [keys x dim]: their current weights
  struct Use {
    int32_t example;
    int32_t slot;
    int32_t key;  // index into keys
  };
  std::vector<Use> uses;  // every categorical value of the batch
  // Training only: per key, the newest Example::ts_ms of its uses (-1
  // unknown), and the sightings for EmbeddingTable::EndStep. With
  // admission on, values not admitted are left out of keys and uses.
  std::vector<int64_t> key_ts;
  StepSightings sightings;
  // Per input slot (categorical then dense): used by some example.
  std::vector<uint8_t> slot_used;
  // Tentative layout changes (training); applied by InputLayout::Commit.
  std::vector<std::string> new_fields;
  std::vector<std::string> new_dense;
  std::vector<std::string> new_pooled;  // categorical fields first pooled here
  std::unordered_map<std::string, DenseStat> stats;
  // Scratch. Open addressing: clearing it frees nothing node by node (a
  // std::unordered_map of a 500-candidate request spent ~0.2 ms there).
  boost::unordered_flat_map<uint64_t, int32_t> key_index;
  std::vector<uint32_t> key_uses;  // scratch
  // Serving scratch: the slots (and dense statistics) of the feature names
  // met so far in this Build, so 500 candidates with the same names cost a
  // few string compares each instead of several hash look-ups.
  struct NameSlot {
    std::string name;
    int slot = -1;
    const DenseStat* stat = nullptr;
  };
  std::vector<NameSlot> categorical_names, dense_names;
};

// Which features have an input slot of their own and which are summed into
// a hashed one (Inputs()). Each list is sorted by name.
struct InputBindings {
  struct Feature {
    std::string name;
    int slot = 0;  // categorical or dense slot index
  };
  int categorical_slots = 0;
  int dense_slots = 0;
  std::vector<Feature> categorical_bound, categorical_pooled;
  std::vector<Feature> dense_bound, dense_pooled;
};

class InputLayout {
 public:
  enum class Mode { kTrain, kServe };

  // REQUIRES: options.Validate().ok().
  explicit InputLayout(const ModelOptions& options);

  int input_width() const { return cat_slots_ * dim_ + dense_slots_; }
  int embedding_dim() const { return dim_; }

  // Fills *in from the batch (rows from `table`; unseen keys with their
  // deterministic initial weights, except that serving gives zeros and
  // training leaves out values not admitted when the table's admission is
  // on: see learner/embedding_table.h).
  void Build(std::span<const Example> batch, const EmbeddingTable& table, Mode mode,
             BatchInput* in) const;
  // One serving row from loose features (a request's shared user/context
  // features).
  void BuildRow(std::span<const CategoricalFeature> categorical,
                std::span<const DenseFeature> dense, const EmbeddingTable& table,
                BatchInput* in) const;
  // Applies the tentative bindings and statistics of a training Build.
  void Commit(const BatchInput& in);
  // grads [keys x dim]: dL/d(row) of each distinct key, summed over its uses.
  void RowGradients(const BatchInput& in, const Matrix& dx, Matrix* grads) const;

  // Bound and pooled features as of the last Commit.
  InputBindings Inputs() const;

  // The slot of a bound field, or -1.
  int SlotOf(const std::string& field) const;
  int DenseSlotOf(const std::string& name) const;

  void Digest(Digest64* d) const;
  void Serialize(std::string* out) const;
  Status Deserialize(Decoder* in);

 private:
  void Begin(Eigen::Index rows, BatchInput* in) const;
  void AddCategorical(int example, const CategoricalFeature& f, Mode mode, BatchInput* in) const;
  void AddDense(int example, const DenseFeature& f, Mode mode, BatchInput* in) const;
  void UpdateStats(std::span<const Example> batch, BatchInput* in) const;
  void Admit(std::span<const Example> batch, const EmbeddingTable& table, BatchInput* in) const;
  void Finish(const EmbeddingTable& table, Mode mode, BatchInput* in) const;
  int CategoricalSlot(const std::string& field, Mode mode, BatchInput* in) const;
  int DenseSlot(const std::string& name, Mode mode, BatchInput* in) const;

  int cat_slots_;
  int dim_;
  int dense_slots_;
  std::vector<std::string> fields_;  // slot -> field
  std::unordered_map<std::string, int> field_slot_;
  std::vector<std::string> dense_names_;              // dense slot -> name
  std::unordered_map<std::string, DenseStat> stats_;  // every dense feature seen
  std::set<std::string> pooled_fields_;               // categorical fields trained pooled
};

// The categorical slots of `in` with at most one distinct row per
// `share_ratio` examples (a country, a device, an item category), as
// SharedSlots in *slots: their distinct rows, ids (indices into in.keys)
// and uses in example order. On return, (*count)[s] is the number of
// distinct rows of slot s and (*index)[s] its position in *slots, or -1
// when it is not shared. *local is scratch.
void FindSharedSlots(const BatchInput& in, int cat_slots, int dim, int32_t share_ratio,
                     std::vector<SharedSlot>* slots, std::vector<int32_t>* count,
                     std::vector<int32_t>* index, std::vector<int32_t>* local);

}  // namespace ranker::learner
