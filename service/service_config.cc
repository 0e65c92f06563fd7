#include "service/service_config.h"

#include <set>
#include <string>
#include <utility>

namespace ranker::app {
namespace {

// A challenger's options against the champion's: a unique name, valid
// options, and the same tasks in the same order (the joined examples carry
// one label per champion task, and the joiner is shared).
Status ValidateChallenger(const Config& c, size_t i, std::set<std::string>* names) {
  const ChallengerConfig& ch = c.challengers[i];
  const std::string at = "challengers[" + std::to_string(i) + "]";
  if (ch.name.empty()) return Status::InvalidArgument(at + ".name: a challenger needs a name");
  if (ch.name == "champion" || ch.name == "main") {
    return Status::InvalidArgument(at + ".name: '" + ch.name +
                                   "' is reserved ('main' is the config's own model, "
                                   "'champion' whichever model serves by default)");
  }
  if (!names->insert(ch.name).second) {
    return Status::InvalidArgument(at + ".name: duplicate challenger name '" + ch.name + "'");
  }
  Status s = ch.pipeline.Validate();
  if (!s.ok()) return Status::InvalidArgument(at + "." + s.message());
  const auto& mine = ch.pipeline.model.tasks;
  const auto& champion = c.model.tasks;
  bool same = mine.size() == champion.size();
  for (size_t t = 0; same && t < mine.size(); ++t) {
    same = mine[t].name == champion[t].name && mine[t].kind == champion[t].kind;
  }
  if (!same) {
    return Status::InvalidArgument(at +
                                   ".tasks: a challenger keeps the champion's task names and "
                                   "kinds, in order (it may change weights, transforms and loss)");
  }
  return Status::OK();
}

}  // namespace

std::vector<Status> Config::Errors() const {
  std::vector<Status> errors;
  for (Status s : {model.Validate(), optimizer.Validate(), train.Validate(), join.Validate(),
                   ingest.Validate(), service.Validate()}) {
    if (!s.ok()) errors.push_back(std::move(s));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < challengers.size(); ++i) {
    if (Status s = ValidateChallenger(*this, i, &names); !s.ok()) errors.push_back(std::move(s));
  }
  // The cross-module checks assume each module is sound on its own.
  if (errors.empty()) {
    if (Status s = pipeline().Validate(); !s.ok()) errors.push_back(std::move(s));
  }
  return errors;
}

Status Config::Validate() const {
  const std::vector<Status> errors = Errors();
  if (errors.empty()) return Status::OK();
  if (errors.size() == 1) return errors.front();
  std::string all;
  for (const Status& e : errors) all += (all.empty() ? "" : "\n") + e.message();
  return Status::InvalidArgument(all);
}

}  // namespace ranker::app
