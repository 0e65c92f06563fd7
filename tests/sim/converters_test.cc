#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "sim/census.h"
#include "sim/open_bandit.h"

namespace ranker::sim {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// Three rows of the real file (the first with its label changed to 50000+).
constexpr const char* kCensusRows =
    "38, Private, 6, 36, 1st 2nd 3rd or 4th grade, 0, Not in universe, Married-civilian spouse "
    "present, Manufacturing-durable goods, Machine operators assmblrs & inspctrs, White, Mexican "
    "(Mexicano), Female, Not in universe, Not in universe, Full-time schedules, 0, 0, 0, Joint one "
    "under 65 & one 65+, Not in universe, Not in universe, Spouse of householder, Spouse of "
    "householder, 1032.38, ?, ?, ?, Not in universe under 1 year old, ?, 4, Not in universe, "
    "Mexico, Mexico, Mexico, Foreign born- Not a citizen of U S , 0, Not in universe, 2, 12, 95, "
    "50000+.\n"
    "44, Self-employed-not incorporated, 37, 12, Associates degree-occup /vocational, 0, Not in "
    "universe, Married-civilian spouse present, Business and repair services, Professional "
    "specialty, White, All other, Female, Not in universe, Not in universe, PT for econ reasons "
    "usually PT, 0, 0, 2500, Joint both under 65, Not in universe, Not in universe, Spouse of "
    "householder, Spouse of householder, 1462.33, ?, ?, ?, Not in universe under 1 year old, ?, 1, "
    "Not in universe, United-States, United-States, United-States, Native- Born in the United "
    "States, 0, Not in universe, 2, 26, 95, - 50000.\n"
    "2, Not in universe, 0, 0, Children, 0, Not in universe, Never married, Not in universe or "
    "children, Not in universe, White, Mexican-American, Male, Not in universe, Not in universe, "
    "Children or Armed Forces, 0, 0, 0, Nonfiler, Not in universe, Not in universe, Child <18 "
    "never "
    "marr not in subfamily, Child under 18 never married, 1601.75, ?, ?, ?, Not in universe under "
    "1 "
    "year old, ?, 0, Both parents present, United-States, United-States, United-States, Native- "
    "Born in the United States, 0, Not in universe, 0, 0, 95, - 50000.\n";

// Discards output; counts lines.
class CountingBuf : public std::streambuf {
 public:
  int64_t lines = 0;

 protected:
  int overflow(int c) override {
    lines += c == '\n';
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) lines += s[i] == '\n';
    return n;
  }
};

class ConvertersTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / "sim_conv_";
    dir_ += testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string WriteGz(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
              static_cast<int>(text.size()));
    gzclose(f);
    return path;
  }

  fs::path dir_;
};

std::vector<json::object> ParseLines(const std::string& ndjson) {
  std::vector<json::object> out;
  std::istringstream in(ndjson);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line).as_object());
  return out;
}

TEST_F(ConvertersTest, CensusRowsBecomeExamples) {
  const std::string path = WriteGz("census.gz", kCensusRows);
  std::ostringstream out;
  StatusOr<CensusStats> stats = ConvertCensus(path, out);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->rows, 3);
  EXPECT_EQ(stats->income_positive, 1);
  EXPECT_EQ(stats->marital_positive, 1);
  const std::vector<json::object> rows = ParseLines(out.str());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("type"), "example");
  EXPECT_EQ(rows[0].at("request_id"), "census-0");
  EXPECT_EQ(rows[0].at("item_id"), "census");
  EXPECT_EQ(rows[0].at("labels"), (json::object{{"income", 1}, {"marital", 0}}));
  EXPECT_EQ(rows[2].at("labels"), (json::object{{"income", 0}, {"marital", 1}}));
  const json::object& user = rows[0].at("user").as_object();
  const json::object& dense = rows[0].at("dense").as_object();
  EXPECT_EQ(user.size(), 32u);  // 42 columns - 7 continuous - 2 labels - weight
  EXPECT_EQ(dense.size(), 7u);
  EXPECT_EQ(user.at("citizenship"), "Foreign born- Not a citizen of U S");
  EXPECT_EQ(user.at("mig_chg_msa"), "?");
  EXPECT_EQ(dense.at("age").to_number<double>(), 38);
  EXPECT_EQ(rows[1].at("dense").at("stock_dividends").to_number<double>(), 2500);
  for (const char* hidden : {"marital_stat", "income_50k", "instance_weight"}) {
    EXPECT_FALSE(user.contains(hidden)) << hidden;
    EXPECT_FALSE(dense.contains(hidden)) << hidden;
  }
}

TEST_F(ConvertersTest, CensusReadsPlainTextAndNamesBadRows) {
  std::ostringstream out;
  StatusOr<CensusStats> plain = ConvertCensus(WriteFile("plain.txt", kCensusRows), out);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->rows, 3);
  std::string rows = kCensusRows;
  rows.erase(rows.rfind(", 95,"), 4);  // the last row loses its year column
  StatusOr<CensusStats> bad = ConvertCensus(WriteFile("bad.txt", rows), out);
  ASSERT_EQ(bad.status().code(), Status::Code::kCorruption);
  EXPECT_NE(bad.status().message().find("row 2"), std::string::npos);
  EXPECT_EQ(ConvertCensus((dir_ / "missing.gz").string(), out).status().code(),
            Status::Code::kIOError);
}

TEST(ObdTimestamp, ParsesToEpochMilliseconds) {
  int64_t ts = 0;
  ASSERT_TRUE(ParseObdTimestamp("2019-11-24 00:03:13.442536+00:00", &ts));
  EXPECT_EQ(ts, 1574553793442);  // from Python's datetime
  ASSERT_TRUE(ParseObdTimestamp("2019-11-24 09:03:13+09:00", &ts));
  EXPECT_EQ(ts, 1574553793000);
  ASSERT_TRUE(ParseObdTimestamp("2000-02-29 23:59:59.999", &ts));
  EXPECT_EQ(ts, 951868799999);
  EXPECT_FALSE(ParseObdTimestamp("2019-13-01 00:00:00", &ts));
  EXPECT_FALSE(ParseObdTimestamp("2019-11-24 00:03", &ts));
  EXPECT_FALSE(ParseObdTimestamp("2019-11-24 00:03:13+0000", &ts));
}

constexpr const char* kObdHeader =
    ",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,"
    "user_feature_2,user_feature_3,user-item_affinity_0,user-item_affinity_1\n";
constexpr const char* kItems =
    ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n"
    "0,0,-0.5,a1,b1,c1\n"
    "1,1,0.25,a2,b2,c2\n";

TEST_F(ConvertersTest, OpenBanditMergesCampaignsByTime) {
  const std::string men =
      WriteFile("men.csv", std::string(kObdHeader) +
                               "0,2019-11-24 00:00:01.000+00:00,1,3,1,0.5,u0,u1,u2,u3,0.0,7.5\n"
                               "1,2019-11-24 00:00:05.000+00:00,0,1,0,0.5,v0,v1,v2,v3,2.0,0.0\n");
  const std::string women =
      WriteFile("women.csv", std::string(kObdHeader) +
                                 "0,2019-11-24 00:00:03.000+00:00,0,2,0,0.5,w0,w1,w2,w3,0.0,0.0\n");
  const std::string items = WriteFile("items.csv", kItems);
  const std::vector<ObdCampaign> campaigns = {{"men", men, items}, {"women", women, items}};
  std::ostringstream out;
  StatusOr<ObdStats> stats = ConvertOpenBandit(campaigns, out);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->rows, 3);
  EXPECT_EQ(stats->clicks, 1);
  const std::vector<json::object> rows = ParseLines(out.str());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("request_id"), "men-0");
  EXPECT_EQ(rows[1].at("request_id"), "women-0");
  EXPECT_EQ(rows[2].at("request_id"), "men-1");
  EXPECT_EQ(rows[0].at("item_id"), "men-1");
  EXPECT_EQ(rows[0].at("position"), 3);
  EXPECT_EQ(rows[0].at("labels"), (json::object{{"click", 1}}));
  EXPECT_EQ(rows[0].at("ts_ms"), 1574553601000);
  EXPECT_EQ(rows[0].at("user").at("user_feature_2"), "u2");
  EXPECT_EQ(
      rows[0].at("item"),
      (json::object{{"item_feature_1", "a2"}, {"item_feature_2", "b2"}, {"item_feature_3", "c2"}}));
  EXPECT_EQ(rows[0].at("context"), (json::object{{"device", "web"}}));
  // The affinity of the row's own item, and that item's feature_0.
  EXPECT_EQ(rows[0].at("dense"), (json::object{{"item_feature_0", 0.25}, {"affinity", 7.5}}));
  EXPECT_EQ(rows[2].at("dense"), (json::object{{"item_feature_0", -0.5}, {"affinity", 2.0}}));
}

// --group-displays: the rows of one display (same campaign, same timestamp)
// share a request id; other rows, and another campaign at the same time, not.
TEST_F(ConvertersTest, OpenBanditGroupsTheRowsOfADisplay) {
  const std::string men =
      WriteFile("men.csv", std::string(kObdHeader) +
                               "0,2019-11-24 00:00:01.000+00:00,1,1,0,0.5,u0,u1,u2,u3,0.0,7.5\n"
                               "1,2019-11-24 00:00:01.000+00:00,0,2,1,0.5,u0,u1,u2,u3,2.0,0.0\n"
                               "2,2019-11-24 00:00:05.000+00:00,0,1,0,0.5,v0,v1,v2,v3,2.0,0.0\n");
  const std::string women =
      WriteFile("women.csv", std::string(kObdHeader) +
                                 "0,2019-11-24 00:00:01.000+00:00,0,3,0,0.5,w0,w1,w2,w3,0.0,0.0\n");
  const std::string items = WriteFile("items.csv", kItems);
  const std::vector<ObdCampaign> campaigns = {{"men", men, items}, {"women", women, items}};
  std::ostringstream grouped, plain;
  StatusOr<ObdStats> g = ConvertOpenBandit(campaigns, grouped, ObdOptions{.group_displays = true});
  StatusOr<ObdStats> p = ConvertOpenBandit(campaigns, plain);
  ASSERT_TRUE(g.ok() && p.ok());
  EXPECT_EQ(g->rows, 4);
  EXPECT_EQ(g->requests, 3);  // men's display of two rows, men's single row, women's row
  EXPECT_EQ(p->requests, 4);
  const std::vector<json::object> rows = ParseLines(grouped.str());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].at("request_id"), rows[1].at("request_id"));
  EXPECT_EQ(rows[0].at("request_id"), "men-2019-11-24 00:00:01.000+00:00");
  EXPECT_NE(rows[2].at("request_id"), rows[0].at("request_id"));  // women's, same time
  EXPECT_NE(rows[3].at("request_id"), rows[0].at("request_id"));
}

TEST_F(ConvertersTest, OpenBanditRejectsUnknownItems) {
  const std::string csv = WriteFile(
      "men.csv", std::string(kObdHeader) + "0,2019-11-24 00:00:01+00:00,5,1,0,0.5,a,b,c,d,0,0\n");
  const std::vector<ObdCampaign> campaigns = {{"men", csv, WriteFile("items.csv", kItems)}};
  StatusOr<std::vector<learner::Event>> events = ReadOpenBandit(campaigns);
  ASSERT_EQ(events.status().code(), Status::Code::kCorruption);
  EXPECT_NE(events.status().message().find("line 2"), std::string::npos);
}

// The real data sets, when the shared data folder is present.
const fs::path kData = fs::path(RANKER_SOURCE_DIR) / ".." / "shared" / "data";

TEST(RealData, CensusTestSplit) {
  const fs::path path = kData / "census_income_kdd" / "census-income.test.gz";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not present";
  CountingBuf buf;
  std::ostream out(&buf);
  StatusOr<CensusStats> stats = ConvertCensus(path.string(), out);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  // Counts from the data set's PROVENANCE.md.
  EXPECT_EQ(stats->rows, 99762);
  EXPECT_EQ(stats->income_positive, 6186);
  EXPECT_EQ(stats->marital_positive, 43143);
  EXPECT_EQ(buf.lines, 99762);
}

TEST(RealData, OpenBanditRandomCampaigns) {
  const fs::path dir = kData / "open_bandit_dataset";
  if (!fs::exists(dir / "random")) GTEST_SKIP() << dir << " not present";
  const std::vector<ObdCampaign> campaigns = ObdRandomCampaigns(dir.string());
  for (const ObdCampaign& c : campaigns) {
    StatusOr<std::vector<learner::Event>> events = ReadOpenBandit(std::span(&c, 1));
    ASSERT_TRUE(events.ok()) << events.status().ToString();
    EXPECT_EQ(events->size(), 10000u) << c.name;
    int clicks = 0;
    for (const learner::Event& e : *events) clicks += e.example.labels[0] == 1.0;
    EXPECT_EQ(clicks, 46) << c.name;  // PROVENANCE.md
  }
  StatusOr<std::vector<learner::Event>> all = ReadOpenBandit(campaigns);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 20000u);
  std::set<std::string> ids;
  for (size_t i = 0; i < all->size(); ++i) {
    if (i > 0) {
      EXPECT_LE((*all)[i - 1].example.ts_ms, (*all)[i].example.ts_ms);
    }
    ids.insert((*all)[i].example.request_id);
  }
  EXPECT_EQ(ids.size(), 20000u);
  // This sample keeps few displays whole: most rows are alone at their time.
  std::ostringstream out;
  StatusOr<ObdStats> grouped =
      ConvertOpenBandit(campaigns, out, ObdOptions{.group_displays = true});
  ASSERT_TRUE(grouped.ok());
  EXPECT_LT(grouped->requests, 20000);
  EXPECT_GT(grouped->requests, 19000);
}

}  // namespace
}  // namespace ranker::sim
