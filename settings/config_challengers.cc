// `challengers:`: the key's text form, and applying each challenger's
// overrides on top of the champion's learning options.
#include <string>
#include <vector>

#include "settings/config.h"
#include "settings/config_keys.h"

namespace ranker::app {
namespace internal {
namespace {

// The keys a challenger may override: how a model learns, never how
// examples are made (the joiner and decoder are the champion's).
bool Overridable(std::string_view key) {
  return key == "tasks" || key.starts_with("model.") || key.starts_with("optimizer.") ||
         key.starts_with("train.");
}

bool KnownKey(std::string_view key) {
  for (const KeyEntry& e : KeyTable()) {
    if (e.key == key) return true;
  }
  return false;
}

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(sep, start);
    out.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// One challenger's text, "name;key=value;key=value".
Status ParseChallenger(size_t i, std::string_view text, ChallengerConfig* out) {
  const std::string at = "challengers[" + std::to_string(i) + "]";
  std::vector<std::string> parts = Split(text, ';');
  out->name = parts[0];
  for (size_t p = 1; p < parts.size(); ++p) {
    const size_t eq = parts[p].find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument(at + ": expected key=value, got '" + parts[p] + "'");
    }
    std::string key = parts[p].substr(0, eq);
    if (!Overridable(key)) {
      return Status::InvalidArgument(at + "." + key +
                                     ": a challenger overrides only tasks, model.*, optimizer.* "
                                     "and train.* keys");
    }
    if (!KnownKey(key)) {
      return Status::InvalidArgument(at + "." + key + ": unknown config key '" + key + "'");
    }
    out->overrides.emplace_back(std::move(key), parts[p].substr(eq + 1));
  }
  return Status::OK();
}

}  // namespace

KeyEntry ChallengersKey() {
  KeyEntry e{"challengers",
             "models trained beside the champion on the same examples, as "
             "name;key=value;...|name;... (keys: tasks, model.*, optimizer.*, train.*); "
             "YAML: a list of {name, model: {overrides}} (README \"Champion and challengers\")",
             nullptr, nullptr};
  e.set = [](Config* c, std::string_view text) {
    std::vector<ChallengerConfig> list;
    if (!text.empty()) {
      const std::vector<std::string> items = Split(text, '|');
      for (size_t i = 0; i < items.size(); ++i) {
        ChallengerConfig ch;
        RANKER_RETURN_IF_ERROR(ParseChallenger(i, items[i], &ch));
        list.push_back(std::move(ch));
      }
    }
    c->challengers = std::move(list);
    return Status::OK();
  };
  e.get = [](const Config& c) {
    std::string out;
    for (const ChallengerConfig& ch : c.challengers) {
      if (!out.empty()) out += '|';
      out += ch.name;
      for (const auto& [k, v] : ch.overrides) out += ";" + k + "=" + v;
    }
    return out;
  };
  return e;
}

}  // namespace internal

Status ResolveChallengers(Config* config) {
  for (size_t i = 0; i < config->challengers.size(); ++i) {
    ChallengerConfig& ch = config->challengers[i];
    Config mine;  // the champion's learning keys, then the overrides
    mine.model = config->model;
    mine.optimizer = config->optimizer;
    mine.train = config->train;
    mine.join = config->join;
    mine.ingest = config->ingest;
    for (const auto& [key, value] : ch.overrides) {
      Status s = SetConfigValue(&mine, key, value);
      if (!s.ok()) {
        std::string message = s.message();
        // Parsers name the key first ("model.num_experts: ..."): prefix it.
        if (!message.starts_with(key)) message = key + ": " + message;
        return Status::InvalidArgument("challengers[" + std::to_string(i) + "]." + message);
      }
    }
    DeriveOptions(&mine);
    mine.join = config->join;  // shared: the champion's joiner makes every example
    ch.pipeline = mine.pipeline();
  }
  return Status::OK();
}

}  // namespace ranker::app
