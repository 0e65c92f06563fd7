#include <charconv>
#include <cmath>
#include <sstream>

#include "settings/config_keys.h"

namespace ranker::app::internal {
namespace {

Status Bad(std::string_view key, std::string_view text, std::string_view want) {
  return Status::InvalidArgument(std::string(key) + ": expected " + std::string(want) + ", got '" +
                                 std::string(text) + "'");
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Status ParseBool(std::string_view key, std::string_view text, bool* out) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") {
    *out = true;
  } else if (text == "false" || text == "0" || text == "no" || text == "off") {
    *out = false;
  } else {
    return Bad(key, text, "true or false");
  }
  return Status::OK();
}

Status ParseInt64(std::string_view key, std::string_view text, int64_t* out) {
  text = Trim(text);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec != std::errc() || ptr != text.data() + text.size()) return Bad(key, text, "an integer");
  return Status::OK();
}

Status ParseDouble(std::string_view key, std::string_view text, double* out) {
  text = Trim(text);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(*out)) {
    return Bad(key, text, "a finite number");
  }
  return Status::OK();
}

Status ParseIntList(std::string_view key, std::string_view text, std::vector<int>* out) {
  out->clear();
  text = Trim(text);
  if (!text.empty() && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (Trim(text).empty()) return Status::OK();
  for (std::string_view part : Split(text, ',')) {
    int64_t v;
    RANKER_RETURN_IF_ERROR(ParseInt64(key, part, &v));
    out->push_back(static_cast<int>(v));
  }
  return Status::OK();
}

Status ParseTasks(std::string_view key, std::string_view text,
                  std::vector<learner::TaskSpec>* out) {
  std::vector<learner::TaskSpec> tasks;
  for (std::string_view item : Split(text, ',')) {
    std::vector<std::string_view> f = Split(Trim(item), ':');
    if (f.size() < 2 || f.size() > 6 || f[0].empty()) {
      return Bad(key, item, "name:kind[:score_weight[:loss_weight[:transform[:loss]]]]");
    }
    learner::TaskSpec t;
    t.name = std::string(f[0]);
    if (f[1] == "binary") {
      t.kind = learner::TaskKind::kBinary;
    } else if (f[1] == "regression") {
      t.kind = learner::TaskKind::kRegression;
    } else {
      return Bad(key, f[1], "task kind binary or regression");
    }
    if (f.size() > 2) RANKER_RETURN_IF_ERROR(ParseDouble(key, f[2], &t.score_weight));
    if (f.size() > 3) RANKER_RETURN_IF_ERROR(ParseDouble(key, f[3], &t.loss_weight));
    if (f.size() > 4) {
      if (f[4] == "log1p") {
        t.transform = learner::LabelTransform::kLog1p;
      } else if (f[4] == "none") {
        t.transform = learner::LabelTransform::kNone;
      } else {
        return Bad(key, f[4], "transform log1p or none");
      }
    }
    if (f.size() > 5) {
      if (f[5] == "pointwise") {
        t.loss = learner::ListLoss::kPointwise;
      } else if (f[5] == "listwise") {
        t.loss = learner::ListLoss::kListwise;
      } else {
        return Bad(key, f[5], "loss pointwise or listwise");
      }
    }
    tasks.push_back(std::move(t));
  }
  *out = std::move(tasks);
  return Status::OK();
}

Status ParseTaskWindows(std::string_view key, std::string_view text,
                        std::map<std::string, int64_t>* out) {
  std::map<std::string, int64_t> windows;
  if (Trim(text).empty()) {
    *out = std::move(windows);
    return Status::OK();
  }
  for (std::string_view item : Split(text, ',')) {
    std::vector<std::string_view> f = Split(Trim(item), ':');
    if (f.size() != 2 || Trim(f[0]).empty()) return Bad(key, item, "task:window_ms");
    int64_t ms = 0;
    RANKER_RETURN_IF_ERROR(ParseInt64(key, Trim(f[1]), &ms));
    if (ms < 0) return Bad(key, item, "a window_ms >= 0");
    windows[std::string(Trim(f[0]))] = ms;
  }
  *out = std::move(windows);
  return Status::OK();
}

std::string FormatTaskWindows(const std::map<std::string, int64_t>& windows) {
  std::string out;
  for (const auto& [name, ms] : windows) {
    out += (out.empty() ? "" : ",") + name + ":" + std::to_string(ms);
  }
  return out;
}

std::string FormatTasks(const std::vector<learner::TaskSpec>& tasks) {
  std::ostringstream os;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const learner::TaskSpec& t = tasks[i];
    if (i) os << ',';
    os << t.name << ':' << (t.kind == learner::TaskKind::kBinary ? "binary" : "regression") << ':'
       << t.score_weight << ':' << t.loss_weight << ':'
       << (t.transform == learner::LabelTransform::kLog1p ? "log1p" : "none");
    if (t.loss == learner::ListLoss::kListwise) os << ":listwise";
  }
  return os.str();
}

}  // namespace ranker::app::internal
