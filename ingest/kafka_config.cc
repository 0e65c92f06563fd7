#include "ingest/kafka_config.h"

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <cstdio>

#include "base/thread.h"

namespace ranker::ingest {
namespace {

void* NiceOpaque(int nice) { return reinterpret_cast<void*>(static_cast<intptr_t>(nice)); }
int NiceOf(void* opaque) { return static_cast<int>(reinterpret_cast<intptr_t>(opaque)); }

// librdkafka's own threads: may not call into librdkafka.
rd_kafka_resp_err_t OnThreadStart(rd_kafka_t*, rd_kafka_thread_type_t, const char* name,
                                  void* opaque) {
  const Status s = SetThreadNice(NiceOf(opaque));
  if (!s.ok()) std::fprintf(stderr, "ranker: %s thread priority: %s\n", name, s.ToString().c_str());
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t*, void* opaque, char*, size_t) {
  return rd_kafka_interceptor_add_on_thread_start(rk, "ranker-nice", OnThreadStart, opaque);
}

rd_kafka_resp_err_t AddNiceInterceptors(rd_kafka_conf_t* conf, void* opaque);

// librdkafka does not copy interceptors with a configuration (the C++
// client's create() duplicates it): each copy gets them again.
rd_kafka_resp_err_t OnConfDup(rd_kafka_conf_t* new_conf, const rd_kafka_conf_t*, size_t,
                              const char**, void* opaque) {
  return AddNiceInterceptors(new_conf, opaque);
}

rd_kafka_resp_err_t AddNiceInterceptors(rd_kafka_conf_t* conf, void* opaque) {
  rd_kafka_resp_err_t err =
      rd_kafka_conf_interceptor_add_on_new(conf, "ranker-nice", OnNew, opaque);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  return rd_kafka_conf_interceptor_add_on_conf_dup(conf, "ranker-nice", OnConfDup, opaque);
}

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
                                                       const KafkaProperties& overrides,
                                                       int thread_nice) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (thread_nice < 0 || thread_nice > 19) {
    return Status::InvalidArgument("thread_nice: must be in [0, 19]");
  }
  if (thread_nice > 0 && AddNiceInterceptors(conf->c_ptr_global(), NiceOpaque(thread_nice)) !=
                             RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Internal("kafka: cannot add the thread-priority interceptor");
  }
  for (const auto& [key, value] : defaults) {
    RANKER_RETURN_IF_ERROR(Apply(conf.get(), key, value));
  }
  for (const auto& [key, value] : overrides) {
    RANKER_RETURN_IF_ERROR(Apply(conf.get(), key, value));
  }
  return conf;
}

}  // namespace ranker::ingest
