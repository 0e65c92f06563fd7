// The key table that maps dotted keys ("model.architecture") to the fields of
// the service configuration (app::Config, service/service_config.h: every
// module's Options struct in one place), and the sources it is read from.
//
// Precedence, lowest first: in-class defaults, the YAML file (--config),
// RANKER_* environment variables (RANKER_MODEL_ARCHITECTURE for
// model.architecture), then --set key=value flags. Unknown keys are errors
// that name the key, except under `kafka.`, which pass through to librdkafka
// verbatim. Options become module structs only here, in settings/.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "service/service_config.h"

namespace ranker::app {

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

// Each key a YAML document set, with its 1-based line.
using YamlKeyLines = std::map<std::string, int>;

// Applies a YAML document (nested maps flatten to dotted keys). Applies every
// key it can and reports every one it cannot: InvalidArgument with one line
// per error, "source:line: key: why", in file order. `lines`, when given,
// receives the line of each key (LoadConfig locates Validate() errors by it).
Status ApplyYaml(Config* config, std::string_view yaml_text, std::string_view source_name,
                 YamlKeyLines* lines = nullptr);

struct ConfigSources {
  std::string file;               // "" = none
  std::vector<std::string> sets;  // "key=value"
  bool use_environment = true;    // read RANKER_* variables
};

// Sets what follows from other keys: the decoder's task names, and
// TaskSpec::fake_negative_weighting of the click task in immediate join
// mode. LoadConfig calls it; a Config built in code calls it before use.
void DeriveOptions(Config* config);

// Fills each challenger's options: the champion's learning options (model,
// optimizer, train; the joiner is shared) with its overrides applied.
// InvalidArgument names "challengers[i].<key>". LoadConfig calls it after
// DeriveOptions; a Config built in code calls it before Validate().
Status ResolveChallengers(Config* config);

// Builds and validates the configuration from all sources. Reports every
// error at once: InvalidArgument with one line per error (the file's, each
// "file:line: ..."; the environment's; --set's; then the first Validate()
// error, located at its key's line when the file set that key).
StatusOr<Config> LoadConfig(const ConfigSources& sources);

// The effective configuration as YAML-ish "key: value" lines.
std::string DumpConfig(const Config& config);

}  // namespace ranker::app
