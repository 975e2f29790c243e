//===- CalibrationStatsTest.cpp - Calibration statistics, hand-computed ---===//

#include "quantc/Runtime/CalibrationStats.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace quantc;

TEST(CalibrationStats, ScalarsAndChannelsOverTwoObservations) {
  TensorStats stats;
  // rows x channels = 2 x 3, then 1 x 3.
  std::vector<float> first = {1.0f, -2.0f, 0.5f, 3.0f, 4.0f, -0.5f};
  std::vector<float> second = {-5.0f, 0.0f, 1.0f};
  stats.accumulate(first.data(), 2, 3, /*withXtx=*/true);
  stats.accumulate(second.data(), 1, 3, /*withXtx=*/true);
  EXPECT_EQ(stats.observations, 2);
  EXPECT_EQ(stats.rows, 3);
  EXPECT_EQ(stats.channels, 3);
  EXPECT_EQ(stats.min, -5.0);
  EXPECT_EQ(stats.max, 4.0);
  EXPECT_EQ(stats.amax, 5.0);
  EXPECT_EQ(stats.channelAmax, (std::vector<double>{5.0, 4.0, 1.0}));
  EXPECT_DOUBLE_EQ(stats.channelMean[0], (1.0 + 3.0 - 5.0) / 3);
  EXPECT_DOUBLE_EQ(stats.channelMean[1], (-2.0 + 4.0 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(stats.channelMean[2], (0.5 - 0.5 + 1.0) / 3);
  EXPECT_DOUBLE_EQ(stats.channelMeanSquare[0], (1.0 + 9.0 + 25.0) / 3);
  EXPECT_DOUBLE_EQ(stats.channelMeanSquare[1], (4.0 + 16.0 + 0.0) / 3);
  // XᵀX = Σ rows xᵀx, by hand.
  std::vector<double> expected = {
      1 + 9 + 25,   -2 + 12 + 0, 0.5 - 1.5 - 5,
      -2 + 12 + 0,  4 + 16 + 0,  -1 - 2 + 0,
      0.5 - 1.5 - 5, -1 - 2 + 0, 0.25 + 0.25 + 1};
  EXPECT_EQ(stats.xtx, expected);
}

TEST(CalibrationStats, HistogramDoublesItsRangeWithoutMovingCounts) {
  TensorStats stats;
  std::vector<float> small = {0.75f, -0.25f};
  stats.accumulate(small.data(), 1, 2, false);
  // amax 0.75 -> range 1: 0.75 lands in bin 1536, 0.25 in bin 512.
  EXPECT_EQ(stats.histogramRange, 1.0);
  EXPECT_EQ(stats.histogram[1536], 1u);
  EXPECT_EQ(stats.histogram[512], 1u);
  std::vector<float> large = {3.0f, 0.0f};
  stats.accumulate(large.data(), 1, 2, false);
  // Range 4 after two doublings: old bins 1536 -> 384, 512 -> 128; 3.0 lands
  // in bin 1536, 0 in bin 0.
  EXPECT_EQ(stats.histogramRange, 4.0);
  EXPECT_EQ(stats.histogram[384], 1u);
  EXPECT_EQ(stats.histogram[128], 1u);
  EXPECT_EQ(stats.histogram[1536], 1u);
  EXPECT_EQ(stats.histogram[0], 1u);
  uint64_t total = 0;
  for (uint64_t c : stats.histogram)
    total += c;
  EXPECT_EQ(total, 4u);
  // Half of the four values are at or below bin 128's upper edge.
  EXPECT_DOUBLE_EQ(stats.percentile(0.5), 129 * 4.0 / 2048);
  EXPECT_DOUBLE_EQ(stats.percentile(1.0), 3.0); // capped at amax
}

TEST(CalibrationStats, NonFiniteValuesAreNotCounted) {
  TensorStats stats;
  std::vector<float> values = {1.0f, __builtin_inff(), __builtin_nanf(""), -2.0f};
  stats.accumulate(values.data(), 2, 2, true);
  EXPECT_EQ(stats.amax, 2.0);
  EXPECT_EQ(stats.channelAmax, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(stats.xtx, (std::vector<double>{1.0, 0.0, 0.0, 4.0}));
}

TEST(CalibrationStats, DirectoryRoundTrip) {
  CalibrationStats stats;
  stats.samples = 2;
  std::vector<float> values = {1.0f, -2.0f, 0.5f, 3.0f};
  stats.getOrCreate("layers.0/q_proj:input").accumulate(values.data(), 2, 2, true);
  stats.getOrCreate("head:input").accumulate(values.data(), 1, 4, false);
  std::string dir = ::testing::TempDir() + "/quantc-calib-roundtrip";
  std::string error;
  ASSERT_TRUE(stats.write(dir, error)) << error;
  std::optional<CalibrationStats> back = CalibrationStats::read(dir, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->samples, 2);
  for (const char *name : {"layers.0/q_proj:input", "head:input"}) {
    const TensorStats *a = stats.lookup(name);
    const TensorStats *b = back->lookup(name);
    ASSERT_TRUE(b) << name;
    EXPECT_EQ(a->rows, b->rows);
    EXPECT_EQ(a->channels, b->channels);
    EXPECT_EQ(a->amax, b->amax);
    EXPECT_EQ(a->channelAmax, b->channelAmax);
    EXPECT_EQ(a->channelMean, b->channelMean);
    EXPECT_EQ(a->channelMeanSquare, b->channelMeanSquare);
    EXPECT_EQ(a->histogram, b->histogram);
    EXPECT_EQ(a->histogramRange, b->histogramRange);
    EXPECT_EQ(a->xtx, b->xtx);
  }
  EXPECT_FALSE(back->lookup("missing"));
}

TEST(CalibrationStats, ReadErrorsNameTheFile) {
  std::string error;
  EXPECT_FALSE(CalibrationStats::read("/nonexistent-quantc-dir", error));
  EXPECT_NE(error.find("/nonexistent-quantc-dir/stats.json"), std::string::npos)
      << error;
}
