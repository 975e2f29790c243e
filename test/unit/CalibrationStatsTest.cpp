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

// The im2col Hessian of a convolution input, from patches written by hand.
// x is one 3x3 channel [[1, 2, 3], [4, 5, 6], [7, 8, 9]] as [N, C, H, W];
// the kernel 2x2, stride 1. A patch is [x(i, j), x(i, j+1), x(i+1, j),
// x(i+1, j+1)] (taps in C order of the kernel offsets, one channel).
static PatchGeometry kernel2x2() {
  PatchGeometry geometry;
  geometry.kernel = {1, 1, 2, 2};
  geometry.strides = {1, 1, 1, 1};
  geometry.dilations = {1, 1, 1, 1};
  geometry.channelAxis = 1;
  return geometry;
}

static std::vector<double>
sumOfOuterProducts(const std::vector<std::vector<double>> &patches) {
  size_t n = patches.front().size();
  std::vector<double> h(n * n, 0.0);
  for (const std::vector<double> &p : patches)
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j)
        h[i * n + j] += p[i] * p[j];
  return h;
}

TEST(CalibrationStats, PatchHessianPadZero) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  TensorStats stats;
  stats.accumulatePatchHessian(x.data(), {1, 1, 3, 3}, kernel2x2());
  // Patches (0,0) [1 2 4 5], (0,1) [2 3 5 6], (1,0) [4 5 7 8],
  // (1,1) [5 6 8 9]; Σ p·pᵀ by hand.
  std::vector<double> expected = {46, 58,  82,  94,  //
                                  58, 74,  106, 122, //
                                  82, 106, 154, 178, //
                                  94, 122, 178, 206};
  EXPECT_EQ(stats.hessianGroups, 1);
  EXPECT_EQ(stats.hessianColumns, 4);
  EXPECT_EQ(stats.xtx, expected);
}

TEST(CalibrationStats, PatchHessianPadOne) {
  // Padding 1 is in the tensor the convolution reads (the importer pads
  // before it): the 5x5 zero-bordered x, 16 patches.
  std::vector<float> x = {0, 0, 0, 0, 0, //
                          0, 1, 2, 3, 0, //
                          0, 4, 5, 6, 0, //
                          0, 7, 8, 9, 0, //
                          0, 0, 0, 0, 0};
  TensorStats stats;
  stats.accumulatePatchHessian(x.data(), {1, 1, 5, 5}, kernel2x2());
  std::vector<std::vector<double>> patches = {
      {0, 0, 0, 1}, {0, 0, 1, 2}, {0, 0, 2, 3}, {0, 0, 3, 0},
      {0, 1, 0, 4}, {1, 2, 4, 5}, {2, 3, 5, 6}, {3, 0, 6, 0},
      {0, 4, 0, 7}, {4, 5, 7, 8}, {5, 6, 8, 9}, {6, 0, 9, 0},
      {0, 7, 0, 0}, {7, 8, 0, 0}, {8, 9, 0, 0}, {9, 0, 0, 0}};
  EXPECT_EQ(stats.xtx, sumOfOuterProducts(patches));
  // Every tap sees every element of x once: the diagonal is Σ x² = 285.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(stats.xtx[i * 4 + i], 285.0);
}

TEST(CalibrationStats, PatchHessianStridesChannelsAndGroups) {
  // Two channels along W = 5, kernel 2, stride 2: two positions, patches
  // [c0(w), c1(w), c0(w+1), c1(w+1)] (a tap's channel run is contiguous).
  // c0 = [1 2 3 4 5], c1 = [-1 0 1 0 2]: p = [1 -1 2 0] and [3 1 4 0].
  PatchGeometry strided;
  strided.kernel = {1, 1, 2};
  strided.strides = {1, 1, 2};
  strided.dilations = {1, 1, 1};
  strided.channelAxis = 1;
  std::vector<float> x = {1, 2, 3, 4, 5, -1, 0, 1, 0, 2};
  TensorStats stats;
  stats.accumulatePatchHessian(x.data(), {1, 2, 5}, strided);
  EXPECT_EQ(stats.xtx, (std::vector<double>{10, 2, 14, 0, //
                                            2, 2, 2, 0,   //
                                            14, 2, 20, 0, //
                                            0, 0, 0, 0}));

  // Groups [N, G, C, W] = [1, 2, 1, 3], kernel 2 with dilation 2: one
  // position, p = [x0, x2] per group, one Hessian each.
  PatchGeometry grouped;
  grouped.kernel = {1, 1, 1, 2};
  grouped.strides = {1, 1, 1, 1};
  grouped.dilations = {1, 1, 1, 2};
  grouped.channelAxis = 2;
  grouped.groupAxis = 1;
  std::vector<float> y = {1, 2, 3, 4, 5, 6};
  TensorStats groupStats;
  groupStats.accumulate(y.data(), 6, 1, /*withXtx=*/false); // C = 1
  groupStats.accumulatePatchHessian(y.data(), {1, 2, 1, 3}, grouped);
  groupStats.accumulatePatchHessian(y.data(), {1, 2, 1, 3}, grouped);
  EXPECT_EQ(groupStats.hessianGroups, 2);
  EXPECT_EQ(groupStats.hessianColumns, 2);
  EXPECT_EQ(groupStats.xtx,
            (std::vector<double>{2, 6, 6, 18, 32, 48, 48, 72}));

  // A call whose geometry does not fit is ignored.
  groupStats.accumulatePatchHessian(y.data(), {1, 2, 1, 1}, grouped);
  EXPECT_EQ(groupStats.xtx[0], 2.0);
  EXPECT_NE(grouped.verify({1, 2, 1, 1}), "");

  // The directory keeps the groups: [2, 2, 2] in the .npy.
  CalibrationStats all;
  all.getOrCreate("conv:input") = groupStats;
  std::string dir = ::testing::TempDir() + "/quantc-calib-patches";
  std::string error;
  ASSERT_TRUE(all.write(dir, error)) << error;
  std::optional<CalibrationStats> back = CalibrationStats::read(dir, error);
  ASSERT_TRUE(back) << error;
  const TensorStats *read = back->lookup("conv:input");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->hessianGroups, 2);
  EXPECT_EQ(read->hessianColumns, 2);
  EXPECT_EQ(read->xtx, groupStats.xtx);
}
