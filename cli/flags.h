// A minimal command-line reader shared by the `ranker` subcommands:
// --name value, --name=value, boolean --name, and positional arguments.
// Repeated flags (--set) accumulate.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace ranker::app {

struct FlagSpec {
  std::string name;  // without dashes
  bool takes_value;  // false: a boolean switch
  std::string help;
};

class Flags {
 public:
  // Parses argv[first..argc). Unknown flags are errors naming the flag.
  static StatusOr<Flags> Parse(int argc, char** argv, int first,
                               const std::vector<FlagSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given, or `def`.
  std::string Get(const std::string& name, const std::string& def = "") const;
  StatusOr<int64_t> GetInt(const std::string& name, int64_t def) const;
  StatusOr<double> GetDouble(const std::string& name, double def) const;
  const std::vector<std::string>& All(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  static std::string Usage(const std::vector<FlagSpec>& specs);

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

}  // namespace ranker::app
