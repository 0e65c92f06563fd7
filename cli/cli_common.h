// Helpers shared by the subcommands: the common config flags and error exits.
#pragma once

#include <string>
#include <vector>

#include "cli/flags.h"
#include "settings/config.h"

namespace ranker::app {

// --config F, --set k=v (repeatable), --help.
std::vector<FlagSpec> ConfigFlagSpecs();

// Parses flags (printing usage on --help or error); returns nullopt-like
// false with *exit_code set when the command should stop.
bool ParseCommandFlags(int argc, char** argv, const char* usage_line,
                       const std::vector<FlagSpec>& specs, Flags* flags, int* exit_code);

// Loads the configuration from --config/--set/RANKER_*; prints the error.
bool LoadConfigFromFlags(const Flags& flags, Config* config);

}  // namespace ranker::app
