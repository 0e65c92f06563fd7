// The service configuration: every module's Options struct in one place, and
// the key table that maps dotted keys ("model.architecture") to their fields.
//
// Precedence, lowest first: in-class defaults, the YAML file (--config),
// RANKER_* environment variables (RANKER_MODEL_ARCHITECTURE for
// model.architecture), then --set key=value flags. Unknown keys are errors
// that name the key, except under `kafka.`, which pass through to librdkafka
// verbatim. Options become module structs only here, in app/.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "app/service_options.h"
#include "base/status.h"
#include "ingest/event_decoder.h"
#include "learner/joiner.h"
#include "learner/options.h"

namespace ranker::app {

struct Config {
  learner::ModelOptions model;
  learner::OptimizerOptions optimizer;
  learner::TrainerOptions train;
  learner::JoinerOptions join;
  ingest::DecoderOptions ingest;
  // kafka.* keys, passed to librdkafka as they are ("kafka.bootstrap.servers"
  // becomes "bootstrap.servers").
  std::map<std::string, std::string> kafka;
  // The service (serve/demo): ingest.brokers/topic/group_id/..., service.*,
  // http.*, rank.*.
  ServiceOptions service;

  // Cross-module checks (e.g. the joiner's tasks exist) plus each Validate().
  Status Validate() const;
};

// One documented key of the table.
struct ConfigKeyInfo {
  std::string key;
  std::string default_value;  // as text, as it would be written in YAML
  std::string help;
};

// Every key with its default and help text, in table order. The README's key
// reference is generated from this (`ranker config --keys`), so it cannot drift.
std::vector<ConfigKeyInfo> ListConfigKeys();

// Sets one key from its text form. InvalidArgument names the key and value.
Status SetConfigValue(Config* config, std::string_view key, std::string_view value);

// The current value of a key as text (NotFound for unknown keys).
StatusOr<std::string> GetConfigValue(const Config& config, std::string_view key);

// Applies a YAML document (nested maps flatten to dotted keys).
Status ApplyYaml(Config* config, std::string_view yaml_text, std::string_view source_name);

struct ConfigSources {
  std::string file;               // "" = none
  std::vector<std::string> sets;  // "key=value"
  bool use_environment = true;    // read RANKER_* variables
};

// Builds and validates the configuration from all sources.
StatusOr<Config> LoadConfig(const ConfigSources& sources);

// The effective configuration as YAML-ish "key: value" lines.
std::string DumpConfig(const Config& config);

}  // namespace ranker::app
