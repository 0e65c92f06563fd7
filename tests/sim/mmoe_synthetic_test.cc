#include "sim/mmoe_synthetic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace ranker::sim {
namespace {

// The labels y1, y2 of every line (the encoder writes "y1":v,"y2":v).
void Labels(const std::string& ndjson, std::vector<double>* y1, std::vector<double>* y2) {
  std::istringstream in(ndjson);
  std::string line;
  while (std::getline(in, line)) {
    y1->push_back(std::stod(line.substr(line.find("\"y1\":") + 5)));
    y2->push_back(std::stod(line.substr(line.find("\"y2\":") + 5)));
  }
}

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / a.size(), mb += b[i] / b.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

double LabelCorrelation(double p) {
  SyntheticOptions o;
  o.rows = 3000;
  o.correlation = p;
  o.dim = 20;
  std::ostringstream out;
  EXPECT_TRUE(WriteSyntheticNdjson(o, out).ok());
  std::vector<double> y1, y2;
  Labels(out.str(), &y1, &y2);
  EXPECT_EQ(y1.size(), 3000u);
  return Pearson(y1, y2);
}

TEST(MmoeSynthetic, CorrelationKnobDrivesTheLabelCorrelation) {
  const double same = LabelCorrelation(1.0), half = LabelCorrelation(0.5),
               none = LabelCorrelation(0.0);
  EXPECT_GT(same, 0.95);
  EXPECT_LT(std::abs(none), 0.1);
  EXPECT_GT(half, none + 0.2);
  EXPECT_LT(half, same - 0.2);
}

TEST(MmoeSynthetic, SameSeedSameStreamAndBadOptionsNameTheFlag) {
  SyntheticOptions o;
  o.rows = 5;
  o.dim = 3;
  std::ostringstream a, b;
  ASSERT_TRUE(WriteSyntheticNdjson(o, a).ok());
  ASSERT_TRUE(WriteSyntheticNdjson(o, b).ok());
  EXPECT_EQ(a.str(), b.str());
  EXPECT_NE(a.str().find(R"("dense":{"x0":)"), std::string::npos) << a.str();
  o.correlation = 1.5;
  EXPECT_NE(o.Validate().message().find("--correlation"), std::string::npos);
}

}  // namespace
}  // namespace ranker::sim
