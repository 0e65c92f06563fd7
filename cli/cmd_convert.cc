// `ranker convert`: the real data sets of ../shared/data as NDJSON `example`
// events, read in place (never copied into the repo).
//   ranker convert census [--in F] [--out F]   (tasks income, marital)
//   ranker convert obd [--in DIR] [--out F] [--group-displays]
//                                              (task click, positions 1..3;
//                                              one request per display)
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "sim/census.h"
#include "sim/open_bandit.h"

namespace ranker::app {
namespace {

const char kUsage[] = "ranker convert census|obd [--in PATH] [--out F] [--group-displays]";
const char kCensusDefault[] = "../shared/data/census_income_kdd/census-income.test.gz";
const char kObdDefault[] = "../shared/data/open_bandit_dataset";

int Fail(const Status& s) {
  std::fprintf(stderr, "ranker convert: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int RunConvert(int argc, char** argv) {
  const std::vector<FlagSpec> specs = {
      {"in", true,
       std::string("input: census gz file (default ") + kCensusDefault +
           ") or the Open Bandit folder (default " + kObdDefault + ")"},
      {"out", true, "output NDJSON file (default: standard output)"},
      {"group-displays", false,
       "obd: the rows of one display (same campaign and timestamp) share one request_id, so a "
       "listwise loss sees them as one list"},
      {"help", false, "show this help"},
  };
  Flags flags;
  int code = 0;
  if (!ParseCommandFlags(argc, argv, kUsage, specs, &flags, &code)) return code;
  if (flags.positional().size() != 1) {
    std::fprintf(stderr, "ranker convert: name one data set: census or obd\nusage: %s\n", kUsage);
    return 2;
  }
  const std::string which = flags.positional()[0];
  std::ofstream file;
  if (flags.Has("out")) {
    file.open(flags.Get("out"), std::ios::binary | std::ios::trunc);
    if (!file) return Fail(Status::IOError(flags.Get("out") + ": cannot open"));
  }
  std::ostream& out = flags.Has("out") ? file : std::cout;
  if (which == "census") {
    StatusOr<sim::CensusStats> st = sim::ConvertCensus(flags.Get("in", kCensusDefault), out);
    if (!st.ok()) return Fail(st.status());
    std::fprintf(stderr, "census: %lld rows, income>50K %lld, never married %lld\n",
                 static_cast<long long>(st->rows), static_cast<long long>(st->income_positive),
                 static_cast<long long>(st->marital_positive));
  } else if (which == "obd") {
    std::vector<sim::ObdCampaign> campaigns = sim::ObdRandomCampaigns(flags.Get("in", kObdDefault));
    sim::ObdOptions options;
    options.group_displays = flags.Has("group-displays");
    StatusOr<sim::ObdStats> st = sim::ConvertOpenBandit(campaigns, out, options);
    if (!st.ok()) return Fail(st.status());
    std::fprintf(stderr, "obd: %lld rows, %lld clicks, %lld requests\n",
                 static_cast<long long>(st->rows), static_cast<long long>(st->clicks),
                 static_cast<long long>(st->requests));
  } else {
    std::fprintf(stderr, "ranker convert: unknown data set '%s' (census or obd)\n", which.c_str());
    return 2;
  }
  out.flush();
  return out ? 0 : Fail(Status::IOError("write failed"));
}

}  // namespace ranker::app
