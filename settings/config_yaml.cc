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
