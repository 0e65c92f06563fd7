#include "sim/census.h"

#include <array>
#include <memory>

#include "sim/event_json.h"
#include "sim/line_reader.h"

namespace ranker::sim {
namespace {

constexpr size_t kColumns = 42;
constexpr size_t kMaritalColumn = 7;
constexpr size_t kWeightColumn = 24;
constexpr size_t kIncomeColumn = 41;
constexpr std::array<const char*, kColumns> kNames = {"age",
                                                      "class_worker",
                                                      "det_ind_code",
                                                      "det_occ_code",
                                                      "education",
                                                      "wage_per_hour",
                                                      "hs_college",
                                                      "marital_stat",
                                                      "major_ind_code",
                                                      "major_occ_code",
                                                      "race",
                                                      "hisp_origin",
                                                      "sex",
                                                      "union_member",
                                                      "unemp_reason",
                                                      "full_or_part_emp",
                                                      "capital_gains",
                                                      "capital_losses",
                                                      "stock_dividends",
                                                      "tax_filer_stat",
                                                      "region_prev_res",
                                                      "state_prev_res",
                                                      "det_hh_fam_stat",
                                                      "det_hh_summ",
                                                      "instance_weight",
                                                      "mig_chg_msa",
                                                      "mig_chg_reg",
                                                      "mig_move_reg",
                                                      "mig_same",
                                                      "mig_prev_sunbelt",
                                                      "num_emp",
                                                      "fam_under_18",
                                                      "country_father",
                                                      "country_mother",
                                                      "country_self",
                                                      "citizenship",
                                                      "own_or_self",
                                                      "vet_question",
                                                      "vet_benefits",
                                                      "weeks_worked",
                                                      "year",
                                                      "income_50k"};

bool IsContinuous(size_t column) {
  switch (column) {
    case 0:
    case 5:
    case 16:
    case 17:
    case 18:
    case 30:
    case 39:
      return true;
    default:
      return false;
  }
}

Status RowError(int64_t row, std::string_view what) {
  return Status::Corruption("census row " + std::to_string(row) + ": " + std::string(what));
}

StatusOr<double> IncomeLabel(std::string_view v, int64_t row) {
  if (!v.empty() && v.back() == '.') v.remove_suffix(1);
  v = TrimSpaces(v);
  if (v == "50000+") return 1.0;
  if (v == "- 50000") return 0.0;
  return RowError(row, "income_50k must be '50000+' or '- 50000', got '" + std::string(v) + "'");
}

}  // namespace

std::span<const std::string> CensusLabelNames() {
  static const std::string kLabels[] = {"income", "marital"};
  return kLabels;
}

StatusOr<learner::Event> CensusRowToEvent(std::string_view line, int64_t row) {
  const std::vector<std::string_view> fields = SplitFields(line, ',');
  if (fields.size() != kColumns) {
    return RowError(row, "expected 42 columns, got " + std::to_string(fields.size()));
  }
  learner::Event event;
  event.type = learner::EventType::kExample;
  learner::Example& ex = event.example;
  ex.request_id = "census-" + std::to_string(row);
  ex.item_id = "census";
  for (size_t c = 0; c < kColumns; ++c) {
    if (c == kMaritalColumn || c == kWeightColumn || c == kIncomeColumn) continue;
    const std::string_view value = TrimSpaces(fields[c]);
    if (!IsContinuous(c)) {
      ex.categorical.push_back({std::string("user.") + kNames[c], std::string(value)});
      continue;
    }
    double x = 0;
    if (!ParseDouble(value, &x)) return RowError(row, std::string(kNames[c]) + " is not a number");
    ex.dense.push_back({kNames[c], x});
  }
  StatusOr<double> income = IncomeLabel(fields[kIncomeColumn], row);
  if (!income.ok()) return income.status();
  ex.labels = {*income, TrimSpaces(fields[kMaritalColumn]) == "Never married" ? 1.0 : 0.0};
  return event;
}

StatusOr<CensusStats> ConvertCensus(const std::string& path, std::ostream& out) {
  StatusOr<std::unique_ptr<LineReader>> reader = LineReader::Open(path);
  if (!reader.ok()) return reader.status();
  CensusStats stats;
  std::string line;
  while ((*reader)->Next(&line)) {
    if (TrimSpaces(line).empty()) continue;
    StatusOr<learner::Event> event = CensusRowToEvent(line, stats.rows);
    if (!event.ok()) return event.status();
    out << EncodeEventJson(*event, CensusLabelNames()) << '\n';
    stats.rows += 1;
    stats.income_positive += event->example.labels[0] == 1.0;
    stats.marital_positive += event->example.labels[1] == 1.0;
  }
  RANKER_RETURN_IF_ERROR((*reader)->status());
  if (!out) return Status::IOError("census: writing the output stream failed");
  return stats;
}

}  // namespace ranker::sim
