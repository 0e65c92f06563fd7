// `ranker config`: the key reference (generated from the key table, so docs
// cannot drift) and validation of a config file plus overrides.
#include <cstdio>

#include "app/cli_common.h"
#include "app/commands.h"

namespace ranker::app {

int RunConfig(int argc, char** argv) {
  std::vector<FlagSpec> specs = ConfigFlagSpecs();
  specs.push_back({"keys", false, "print every key with its default and meaning (Markdown table)"});
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, "ranker config [--config F] [--set k=v]... [--keys]", specs,
                         &flags, &code)) {
    return code;
  }
  if (flags.Has("keys")) {
    std::printf("| key | default | meaning |\n| --- | --- | --- |\n");
    for (const ConfigKeyInfo& k : ListConfigKeys()) {
      std::printf("| `%s` | `%s` | %s |\n", k.key.c_str(), k.default_value.c_str(), k.help.c_str());
    }
    std::printf(
        "| `kafka.*` | | passed to librdkafka as they are (`kafka.security.protocol`, ...) |\n");
    return 0;
  }
  Config config;
  if (!LoadConfigFromFlags(flags, &config)) return 2;
  std::fputs(DumpConfig(config).c_str(), stdout);
  return 0;
}

}  // namespace ranker::app
