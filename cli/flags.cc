#include "cli/flags.h"

#include <charconv>

namespace ranker::app {

StatusOr<Flags> Flags::Parse(int argc, char** argv, int first, const std::vector<FlagSpec>& specs) {
  Flags flags;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-" || arg.rfind("--", 0) != 0) {
      flags.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) return Status::InvalidArgument("unknown flag --" + name);
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= argc) return Status::InvalidArgument("flag --" + name + " needs a value");
      value = argv[++i];
    } else if (!spec->takes_value) {
      value = inline_value ? value : "true";
    }
    flags.values_[name].push_back(value);
  }
  return flags;
}

std::string Flags::Get(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second.back();
}

StatusOr<int64_t> Flags::GetInt(const std::string& name, int64_t def) const {
  if (!Has(name)) return def;
  const std::string v = Get(name);
  int64_t out;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return Status::InvalidArgument("--" + name + ": expected an integer, got '" + v + "'");
  }
  return out;
}

StatusOr<double> Flags::GetDouble(const std::string& name, double def) const {
  if (!Has(name)) return def;
  const std::string v = Get(name);
  double out;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return Status::InvalidArgument("--" + name + ": expected a number, got '" + v + "'");
  }
  return out;
}

const std::vector<std::string>& Flags::All(const std::string& name) const {
  static const std::vector<std::string> kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

std::string Flags::Usage(const std::vector<FlagSpec>& specs) {
  std::string out;
  for (const FlagSpec& s : specs) {
    out += "  --" + s.name + (s.takes_value ? " VALUE" : "") + "\n      " + s.help + "\n";
  }
  return out;
}

}  // namespace ranker::app
