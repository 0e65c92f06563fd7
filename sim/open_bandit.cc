#include "sim/open_bandit.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "sim/event_json.h"
#include "sim/line_reader.h"

namespace ranker::sim {
namespace {

constexpr const char* kDevice = "web";

struct ItemContext {
  double feature_0 = 0;
  std::string features[3];  // item_feature_1..3
};

// Column positions of a campaign CSV, found by header name.
struct Columns {
  size_t timestamp, item_id, position, click;
  size_t user[4];
  std::map<int64_t, size_t> affinity;  // item_id -> column
};

Status FileError(const std::string& path, int64_t line, std::string_view what) {
  return Status::Corruption(path + " line " + std::to_string(line) + ": " + std::string(what));
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  return pos + n <= s.size() && ParseInt(s.substr(pos, n), out) && s[pos] != '-' && s[pos] != '+' &&
         s[pos] != ' ';
}

// Finds `name` in the header; Corruption if absent.
Status Find(const std::vector<std::string_view>& header, std::string_view name,
            const std::string& path, size_t* out) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) return FileError(path, 1, "missing column '" + std::string(name) + "'");
  *out = static_cast<size_t>(it - header.begin());
  return Status::OK();
}

StatusOr<std::map<int64_t, ItemContext>> ReadItemContext(const std::string& path) {
  StatusOr<std::unique_ptr<LineReader>> reader = LineReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::string line;
  if (!(*reader)->Next(&line)) return FileError(path, 1, "no header");
  const std::vector<std::string_view> header = SplitFields(line, ',');
  size_t cols[5];
  const char* names[5] = {"item_id", "item_feature_0", "item_feature_1", "item_feature_2",
                          "item_feature_3"};
  for (int k = 0; k < 5; ++k) RANKER_RETURN_IF_ERROR(Find(header, names[k], path, &cols[k]));
  std::map<int64_t, ItemContext> items;
  for (int64_t n = 2; (*reader)->Next(&line); ++n) {
    const std::vector<std::string_view> f = SplitFields(line, ',');
    int64_t id = 0;
    ItemContext c;
    if (f.size() != header.size() || !ParseInt(f[cols[0]], &id) ||
        !ParseDouble(f[cols[1]], &c.feature_0)) {
      return FileError(path, n, "malformed item row");
    }
    for (int k = 0; k < 3; ++k) c.features[k] = std::string(f[cols[2 + k]]);
    items[id] = std::move(c);
  }
  RANKER_RETURN_IF_ERROR((*reader)->status());
  return items;
}

Status ParseHeader(const std::vector<std::string_view>& header, const std::string& path,
                   Columns* c) {
  RANKER_RETURN_IF_ERROR(Find(header, "timestamp", path, &c->timestamp));
  RANKER_RETURN_IF_ERROR(Find(header, "item_id", path, &c->item_id));
  RANKER_RETURN_IF_ERROR(Find(header, "position", path, &c->position));
  RANKER_RETURN_IF_ERROR(Find(header, "click", path, &c->click));
  for (int k = 0; k < 4; ++k) {
    RANKER_RETURN_IF_ERROR(Find(header, "user_feature_" + std::to_string(k), path, &c->user[k]));
  }
  constexpr std::string_view kAffinity = "user-item_affinity_";
  for (size_t i = 0; i < header.size(); ++i) {
    int64_t item = 0;
    if (header[i].starts_with(kAffinity) && ParseInt(header[i].substr(kAffinity.size()), &item)) {
      c->affinity[item] = i;
    }
  }
  return Status::OK();
}

// One CSV row (column 0: the row index) as an example event.
StatusOr<learner::Event> RowToEvent(const std::vector<std::string_view>& f, const Columns& c,
                                    const std::map<int64_t, ItemContext>& items,
                                    const std::string& campaign, const ObdOptions& options) {
  int64_t row = 0, item = 0, position = 0, click = 0;
  learner::Event e;
  learner::Example& ex = e.example;
  if (!ParseInt(f[0], &row)) return Status::Corruption("row index is not an integer");
  ex.request_id =
      campaign + "-" + std::string(TrimSpaces(options.group_displays ? f[c.timestamp] : f[0]));
  if (!ParseObdTimestamp(f[c.timestamp], &ex.ts_ms)) return Status::Corruption("bad timestamp");
  if (!ParseInt(f[c.item_id], &item) || !items.contains(item) || !c.affinity.contains(item)) {
    return Status::Corruption("unknown item_id '" + std::string(f[c.item_id]) + "'");
  }
  if (!ParseInt(f[c.position], &position) || position < 1)
    return Status::Corruption("bad position");
  if (!ParseInt(f[c.click], &click) || (click != 0 && click != 1)) {
    return Status::Corruption("click must be 0 or 1");
  }
  double affinity = 0;
  if (!ParseDouble(f[c.affinity.at(item)], &affinity)) return Status::Corruption("bad affinity");
  const ItemContext& ctx = items.at(item);
  e.type = learner::EventType::kExample;
  ex.item_id = campaign + "-" + std::to_string(item);
  ex.position = static_cast<int32_t>(position);
  ex.device = kDevice;
  for (int k = 0; k < 4; ++k) {
    ex.categorical.push_back({"user.user_feature_" + std::to_string(k), std::string(f[c.user[k]])});
  }
  for (int k = 0; k < 3; ++k) {
    ex.categorical.push_back({"item.item_feature_" + std::to_string(k + 1), ctx.features[k]});
  }
  ex.categorical.push_back({"context.device", kDevice});
  ex.dense = {{"item_feature_0", ctx.feature_0}, {"affinity", affinity}};
  ex.labels = {static_cast<double>(click)};
  return e;
}

Status ReadCampaign(const ObdCampaign& campaign, const ObdOptions& options,
                    std::vector<learner::Event>* out) {
  StatusOr<std::map<int64_t, ItemContext>> items = ReadItemContext(campaign.item_context_path);
  if (!items.ok()) return items.status();
  StatusOr<std::unique_ptr<LineReader>> reader = LineReader::Open(campaign.csv_path);
  if (!reader.ok()) return reader.status();
  std::string line;
  if (!(*reader)->Next(&line)) return FileError(campaign.csv_path, 1, "no header");
  const std::vector<std::string_view> header = SplitFields(line, ',');
  Columns cols;
  RANKER_RETURN_IF_ERROR(ParseHeader(header, campaign.csv_path, &cols));
  for (int64_t n = 2; (*reader)->Next(&line); ++n) {
    const std::vector<std::string_view> f = SplitFields(line, ',');
    if (f.size() != header.size()) return FileError(campaign.csv_path, n, "wrong column count");
    StatusOr<learner::Event> e = RowToEvent(f, cols, *items, campaign.name, options);
    if (!e.ok()) return FileError(campaign.csv_path, n, e.status().message());
    out->push_back(std::move(*e));
  }
  return (*reader)->status();
}

}  // namespace

std::vector<ObdCampaign> ObdRandomCampaigns(const std::string& obd_dir) {
  std::vector<ObdCampaign> out;
  for (const char* name : {"men", "women"}) {
    const std::string dir = obd_dir + "/random/" + name + "/";
    out.push_back({name, dir + name + ".csv", dir + "item_context.csv"});
  }
  return out;
}

bool ParseObdTimestamp(std::string_view s, int64_t* ts_ms) {
  s = TrimSpaces(s);
  int64_t y, mo, d, h, mi, sec;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
      s[13] != ':' || s[16] != ':' || !Digits(s, 0, 4, &y) || !Digits(s, 5, 2, &mo) ||
      !Digits(s, 8, 2, &d) || !Digits(s, 11, 2, &h) || !Digits(s, 14, 2, &mi) ||
      !Digits(s, 17, 2, &sec) || mo < 1 || mo > 12 || d < 1 || d > 31) {
    return false;
  }
  size_t p = 19;
  int64_t ms = 0;
  if (p < s.size() && s[p] == '.') {
    size_t q = ++p;
    while (q < s.size() && s[q] >= '0' && s[q] <= '9') ++q;
    if (q == p) return false;
    for (size_t k = 0; k < 3; ++k) ms = ms * 10 + (p + k < q ? s[p + k] - '0' : 0);
    p = q;
  }
  int64_t offset_min = 0;
  if (p < s.size() && s[p] != 'Z') {
    int64_t oh, om;
    if (s.size() != p + 6 || (s[p] != '+' && s[p] != '-') || s[p + 3] != ':' ||
        !Digits(s, p + 1, 2, &oh) || !Digits(s, p + 4, 2, &om)) {
      return false;
    }
    offset_min = (s[p] == '-' ? -1 : 1) * (oh * 60 + om);
  } else if (p < s.size() && p + 1 != s.size()) {
    return false;
  }
  const int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  *ts_ms = secs * 1000 + ms;
  return true;
}

std::span<const std::string> ObdLabelNames() {
  static const std::string kLabels[] = {"click"};
  return kLabels;
}

StatusOr<std::vector<learner::Event>> ReadOpenBandit(std::span<const ObdCampaign> campaigns,
                                                     const ObdOptions& options) {
  std::vector<learner::Event> events;
  for (const ObdCampaign& c : campaigns) RANKER_RETURN_IF_ERROR(ReadCampaign(c, options, &events));
  std::stable_sort(events.begin(), events.end(),
                   [](const auto& a, const auto& b) { return a.example.ts_ms < b.example.ts_ms; });
  return events;
}

StatusOr<ObdStats> ConvertOpenBandit(std::span<const ObdCampaign> campaigns, std::ostream& out,
                                     const ObdOptions& options) {
  StatusOr<std::vector<learner::Event>> events = ReadOpenBandit(campaigns, options);
  if (!events.ok()) return events.status();
  ObdStats stats;
  std::set<std::string_view> requests;
  for (const learner::Event& e : *events) {
    out << EncodeEventJson(e, ObdLabelNames()) << '\n';
    stats.rows += 1;
    stats.clicks += e.example.labels[0] == 1.0;
    requests.insert(e.example.request_id);
  }
  stats.requests = static_cast<int64_t>(requests.size());
  if (!out) return Status::IOError("open bandit: writing the output stream failed");
  return stats;
}

}  // namespace ranker::sim
