#include "service/service_config.h"

namespace ranker::app {

Status Config::Validate() const {
  RANKER_RETURN_IF_ERROR(pipeline().Validate());
  RANKER_RETURN_IF_ERROR(service.Validate());
  return Status::OK();
}

}  // namespace ranker::app
