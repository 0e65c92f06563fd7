// YAML -> dotted keys, with yaml-cpp. Kept apart so only this file sees yaml-cpp.
#include <yaml-cpp/yaml.h>

#include "settings/config.h"

namespace ranker::app {
namespace {

Status Where(std::string_view source, const YAML::Node& node, std::string message) {
  const YAML::Mark mark = node.Mark();
  return Status::InvalidArgument(std::string(source) + ":" + std::to_string(mark.line + 1) + ": " +
                                 message);
}

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
          k != "loss_weight" && k != "transform" && k != "loss") {
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

Status Apply(Config* config, const YAML::Node& node, const std::string& prefix,
             std::string_view source) {
  for (const auto& kv : node) {
    const std::string key = prefix + kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    Status s;
    if (key == "tasks" && value.IsSequence()) {
      StatusOr<std::string> text = TasksToText(value, source);
      if (!text.ok()) return text.status();
      s = SetConfigValue(config, key, *text);
    } else if (value.IsMap()) {
      s = Apply(config, value, key + ".", source);
    } else if (value.IsSequence()) {
      std::string joined;
      for (const YAML::Node& item : value) {
        if (!item.IsScalar()) return Where(source, item, key + ": expected a list of scalars");
        joined += (joined.empty() ? "" : ",") + item.as<std::string>();
      }
      s = SetConfigValue(config, key, joined);
    } else if (value.IsScalar()) {
      s = SetConfigValue(config, key, value.as<std::string>());
    } else {
      return Where(source, value, key + ": has no value");
    }
    if (!s.ok()) return Where(source, kv.first, s.message());
  }
  return Status::OK();
}

}  // namespace

Status ApplyYaml(Config* config, std::string_view yaml_text, std::string_view source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source_name) + ": invalid YAML: " + e.what());
  }
  if (root.IsNull()) return Status::OK();
  if (!root.IsMap())
    return Status::InvalidArgument(std::string(source_name) + ": expected a map at the top");
  try {
    return Apply(config, root, "", source_name);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source_name) + ": " + e.what());
  }
}

}  // namespace ranker::app
