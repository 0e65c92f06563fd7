#include "service/service_config.h"

#include <string>
#include <utility>

namespace ranker::app {

std::vector<Status> Config::Errors() const {
  std::vector<Status> errors;
  for (Status s : {model.Validate(), optimizer.Validate(), train.Validate(), join.Validate(),
                   ingest.Validate(), service.Validate()}) {
    if (!s.ok()) errors.push_back(std::move(s));
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
