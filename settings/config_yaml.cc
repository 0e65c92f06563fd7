// YAML -> dotted keys, with yaml-cpp. Kept apart so only this file sees yaml-cpp.
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "settings/config.h"

namespace ranker::app {
namespace {

Status Where(std::string_view source, const YAML::Node& node, std::string message) {
  const YAML::Mark mark = node.Mark();
  return Status::InvalidArgument(std::string(source) + ":" + std::to_string(mark.line + 1) + ": " +
                                 message);
}

// Every error of one file, each located once, in file order.
struct YamlErrors {
  std::string_view source;
  std::vector<std::string> messages;
  YamlKeyLines* lines;  // key -> line, for errors found later by Validate
  void Add(const YAML::Node& node, const std::string& message) {
    messages.push_back(Where(source, node, message).message());
  }
};

// `tasks:` as a list of maps {name, kind, score_weight, loss_weight, transform,
// loss}.
StatusOr<std::string> TasksToText(const YAML::Node& list, std::string_view source) {
  std::string text;
  for (const YAML::Node& task : list) {
    if (!task.IsMap() || !task["name"] || !task["kind"]) {
      return Where(source, task, "tasks: each task needs name and kind");
    }
    for (const auto& kv : task) {
      const std::string k = kv.first.as<std::string>();
      if (k != "name" && k != "kind" && k != "score_weight" && k != "weight" &&
          k != "loss_weight" && k != "transform" && k != "window_ms" && k != "loss") {
        return Where(source, kv.first, "tasks: unknown task field '" + k + "'");
      }
    }
    auto get = [&](const char* key, const char* def) {
      return task[key] ? task[key].as<std::string>() : std::string(def);
    };
    std::string weight = task["weight"] ? get("weight", "1") : get("score_weight", "1");
    if (!text.empty()) text += ',';
    text += get("name", "") + ":" + get("kind", "") + ":" + weight + ":" + get("loss_weight", "1") +
            ":" + get("transform", "log1p") + ":" + get("loss", "pointwise");
  }
  return text;
}

// tasks[].window_ms as join.task_window_ms text ("click:5000").
std::string TaskWindowsText(const YAML::Node& list) {
  std::string text;
  for (const YAML::Node& task : list) {
    if (!task["window_ms"]) continue;
    if (!text.empty()) text += ',';
    text += task["name"].as<std::string>() + ":" + task["window_ms"].as<std::string>();
  }
  return text;
}

// A scalar, or a list of scalars joined by commas (model.expert_hidden).
StatusOr<std::string> ScalarText(const YAML::Node& value, const std::string& key,
                                 std::string_view source) {
  if (value.IsScalar()) return value.as<std::string>();
  std::string joined;
  if (value.IsSequence()) {
    for (const YAML::Node& item : value) {
      if (!item.IsScalar()) return Where(source, item, key + ": expected a list of scalars");
      joined += (joined.empty() ? "" : ",") + item.as<std::string>();
    }
    return joined;
  }
  return Where(source, value, key + ": expected a value");
}

// One override of a challenger's `model:` map, as a full key: `tasks`,
// nested maps (`optimizer: {learning_rate: ..}`), dotted keys as written,
// the shorthands learning_rate/experts/batch_size, else model.<key>.
std::string OverrideKey(const std::string& prefix, const std::string& k) {
  if (!prefix.empty()) return prefix + "." + k;
  if (k == "tasks" || k.find('.') != std::string::npos) return k;
  if (k == "learning_rate") return "optimizer.learning_rate";
  if (k == "experts") return "model.num_experts";
  if (k == "batch_size") return "train.batch_size";
  return "model." + k;
}

// Appends ";key=value" for every override under `map`.
Status OverridesText(const YAML::Node& map, const std::string& prefix, std::string_view source,
                     std::string* text) {
  for (const auto& kv : map) {
    const std::string k = kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    if (value.IsMap()) {
      RANKER_RETURN_IF_ERROR(
          OverridesText(value, prefix.empty() ? k : prefix + "." + k, source, text));
      continue;
    }
    const std::string key = OverrideKey(prefix, k);
    StatusOr<std::string> v = key == "tasks" && value.IsSequence() ? TasksToText(value, source)
                                                                   : ScalarText(value, key, source);
    if (!v.ok()) return v.status();
    *text += ";" + key + "=" + *v;
  }
  return Status::OK();
}

// `challengers:` as a list of {name, model: {overrides}} (optimizer:,
// train: and tasks: beside model: too), as the key's text form.
StatusOr<std::string> ChallengersToText(const YAML::Node& list, std::string_view source) {
  std::string text;
  size_t i = 0;
  for (const YAML::Node& entry : list) {
    const std::string at = "challengers[" + std::to_string(i++) + "]";
    if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar()) {
      return Where(source, entry, at + ": each challenger needs a name");
    }
    std::string one = entry["name"].as<std::string>();
    for (const auto& kv : entry) {
      const std::string k = kv.first.as<std::string>();
      if (k == "name") continue;
      if (k == "model" && kv.second.IsMap()) {
        RANKER_RETURN_IF_ERROR(OverridesText(kv.second, "", source, &one));
      } else if ((k == "optimizer" || k == "train") && kv.second.IsMap()) {
        RANKER_RETURN_IF_ERROR(OverridesText(kv.second, k, source, &one));
      } else if (k == "tasks" && kv.second.IsSequence()) {
        StatusOr<std::string> tasks = TasksToText(kv.second, source);
        if (!tasks.ok()) return tasks.status();
        one += ";tasks=" + *tasks;
      } else {
        return Where(source, kv.first,
                     at + ": unknown field '" + k +
                         "' (name, model: {overrides}, optimizer:, "
                         "train:, tasks:)");
      }
    }
    if (!text.empty()) text += '|';
    text += one;
  }
  return text;
}

// The value of `key`, as the text SetConfigValue takes; nullopt after
// recording why there is none.
std::optional<std::string> ValueText(const std::string& key, const YAML::Node& value,
                                     YamlErrors* errors) {
  if (key == "tasks" && value.IsSequence()) {
    StatusOr<std::string> text = TasksToText(value, errors->source);
    if (text.ok()) return *text;
    errors->messages.push_back(text.status().message());
    return std::nullopt;
  }
  if (key == "challengers" && value.IsSequence()) {
    StatusOr<std::string> text = ChallengersToText(value, errors->source);
    if (text.ok()) return *text;
    errors->messages.push_back(text.status().message());
    return std::nullopt;
  }
  if (value.IsScalar()) return value.as<std::string>();
  if (!value.IsSequence()) {
    errors->Add(value, key + ": has no value");
    return std::nullopt;
  }
  std::string joined;
  for (const YAML::Node& item : value) {
    if (!item.IsScalar()) {
      errors->Add(item, key + ": expected a list of scalars");
      return std::nullopt;
    }
    joined += (joined.empty() ? "" : ",") + item.as<std::string>();
  }
  return joined;
}

// Applies every key under `node`, recording each error and going on.
void Apply(Config* config, const YAML::Node& node, const std::string& prefix, YamlErrors* errors) {
  for (const auto& kv : node) {
    const std::string key = prefix + kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    if (value.IsMap()) {
      Apply(config, value, key + ".", errors);
      continue;
    }
    if (errors->lines != nullptr) (*errors->lines)[key] = kv.first.Mark().line + 1;
    const std::optional<std::string> text = ValueText(key, value, errors);
    if (!text) continue;
    Status s = SetConfigValue(config, key, *text);
    if (s.ok() && key == "tasks" && value.IsSequence()) {
      s = SetConfigValue(config, "join.task_window_ms", TaskWindowsText(value));
    }
    if (!s.ok()) errors->Add(kv.first, s.message());
  }
}

}  // namespace

Status ApplyYaml(Config* config, std::string_view yaml_text, std::string_view source_name,
                 YamlKeyLines* lines) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source_name) + ": invalid YAML: " + e.what());
  }
  if (root.IsNull()) return Status::OK();
  if (!root.IsMap())
    return Status::InvalidArgument(std::string(source_name) + ": expected a map at the top");
  YamlErrors errors{source_name, {}, lines};
  try {
    Apply(config, root, "", &errors);
  } catch (const YAML::Exception& e) {
    errors.messages.push_back(std::string(source_name) + ": " + e.what());
  }
  if (errors.messages.empty()) return Status::OK();
  std::string all;
  for (const std::string& m : errors.messages) all += (all.empty() ? "" : "\n") + m;
  return Status::InvalidArgument(all);
}

}  // namespace ranker::app
