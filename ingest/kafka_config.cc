#include "ingest/kafka_config.h"

namespace ranker::ingest {
namespace {

Status Apply(RdKafka::Conf* conf, const std::string& key, const std::string& value) {
  std::string errstr;
  switch (conf->set(key, value, errstr)) {
    case RdKafka::Conf::CONF_OK:
      return Status::OK();
    case RdKafka::Conf::CONF_UNKNOWN:
      return Status::InvalidArgument("kafka." + key + ": unknown librdkafka property");
    case RdKafka::Conf::CONF_INVALID:
      break;
  }
  return Status::InvalidArgument("kafka." + key + ": invalid value \"" + value + "\": " + errstr);
}

}  // namespace

StatusOr<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(const KafkaProperties& defaults,
                                                       const KafkaProperties& overrides) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [key, value] : defaults) {
    RANKER_RETURN_IF_ERROR(Apply(conf.get(), key, value));
  }
  for (const auto& [key, value] : overrides) {
    RANKER_RETURN_IF_ERROR(Apply(conf.get(), key, value));
  }
  return conf;
}

}  // namespace ranker::ingest
