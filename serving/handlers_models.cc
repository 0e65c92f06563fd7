// GET /v1/models and POST /v1/models/{name}/promote: the champion and its
// challengers (README "Champion and challengers").
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "serving/handlers.h"

namespace ranker::app {

api::Handler ModelsHandler(const ModelSource* models) {
  return [models](const api::Request&) {
    boost::json::array list;
    boost::json::object body;
    for (const ModelSource::Entry& e : models->Models()) {
      boost::json::object one;
      if (e.model != nullptr) {
        boost::json::error_code ec;
        boost::json::value report = boost::json::parse(e.model->report_json, ec);
        if (!ec && report.is_object()) one = std::move(report.get_object());
        one["param_checksum"] = e.model->ParamChecksum();
        one["model_version"] = e.model->version;
      }
      one["name"] = e.name;
      one["champion"] = e.champion;
      one["published"] = e.model != nullptr;
      if (e.champion) body["champion"] = e.name;
      list.push_back(std::move(one));
    }
    const std::shared_ptr<const PublishedModel> champion = models->Named("champion");
    body["model_version"] = champion != nullptr ? champion->version : 0;
    body["models"] = std::move(list);
    api::Response r = api::JsonResponse(boost::json::serialize(body));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  };
}

api::Handler PromoteHandler(ModelPromoter* promoter) {
  return [promoter](const api::Request& request) {
    std::string name;
    for (const auto& [key, value] : request.path_params) {
      if (key == "name") name = std::string(value);
    }
    if (promoter == nullptr) {
      return api::JsonError(404, "unknown_model",
                            "no challengers are configured: nothing to promote");
    }
    Status s = promoter->Promote(name);
    if (!s.ok()) return api::ErrorFromStatus(s);
    boost::json::object body{{"champion", name}};
    return api::JsonResponse(boost::json::serialize(body));
  };
}

}  // namespace ranker::app
