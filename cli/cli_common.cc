#include "cli/cli_common.h"

#include <cstdio>

namespace ranker::app {

std::vector<FlagSpec> ConfigFlagSpecs() {
  return {
      {"config", true, "YAML config file (every key has a default: see `ranker config --keys`)"},
      {"set", true, "override one key: --set model.architecture=omoe (repeatable)"},
      {"help", false, "show this help"},
  };
}

bool ParseCommandFlags(int argc, char** argv, const char* usage_line,
                       const std::vector<FlagSpec>& specs, Flags* flags, int* exit_code) {
  StatusOr<Flags> parsed = Flags::Parse(argc, argv, 2, specs);
  if (!parsed.ok()) {
    std::fprintf(stderr, "ranker %s: %s\nusage: %s\n%s", argv[1], parsed.status().message().c_str(),
                 usage_line, Flags::Usage(specs).c_str());
    *exit_code = 2;
    return false;
  }
  if (parsed->Has("help")) {
    std::printf("usage: %s\n%s", usage_line, Flags::Usage(specs).c_str());
    *exit_code = 0;
    return false;
  }
  *flags = std::move(parsed).value();
  return true;
}

bool LoadConfigFromFlags(const Flags& flags, Config* config) {
  ConfigSources sources;
  sources.file = flags.Get("config");
  sources.sets = flags.All("set");
  StatusOr<Config> loaded = LoadConfig(sources);
  if (!loaded.ok()) {
    // One line per error (LoadConfig reports them all).
    std::string lines = loaded.status().message();
    for (size_t at = lines.find('\n'); at != std::string::npos; at = lines.find('\n', at + 1)) {
      lines.replace(at, 1, "\nranker: config: ");
    }
    std::fprintf(stderr, "ranker: config: %s\n", lines.c_str());
    return false;
  }
  *config = std::move(loaded).value();
  return true;
}

}  // namespace ranker::app
