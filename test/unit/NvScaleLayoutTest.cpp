//===- NvScaleLayoutTest.cpp - The nv_sf128x4 packed layout ---------------===//
//
// nv_sf128x4 (Layout.h): the scale bytes equal a literal transcription of
// the reshapes that define NVIDIA's 128x4 scale-factor tiles
// (view(N/128, 128, S/4, 4).permute(0, 2, 1, 3).reshape(-1, 4, 32, 4)
// .transpose(1, 2)), the codes equal the canonical ones, padding is zero,
// round trips are exact, and formats the layout cannot hold are refused.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace quantc;

namespace {

QuantizedTensor randomTensor(const std::vector<int64_t> &shape,
                             const std::string &spec, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> data(shape[0] * shape[1]);
  for (float &x : data)
    x = normal(rng) * std::ldexp(1.0f, int(rng() % 12) - 6);
  std::string error;
  std::optional<Format> format = parseFormat(spec, error);
  EXPECT_TRUE(format.has_value()) << error;
  std::optional<QuantizedTensor> q =
      quantize(data.data(), shape, format.value_or(Format{}), error);
  EXPECT_TRUE(q.has_value()) << error;
  return q.value_or(QuantizedTensor{});
}

void checkLayout(const std::string &spec, int64_t n, int64_t k) {
  SCOPED_TRACE(spec + " " + std::to_string(n) + "x" + std::to_string(k));
  QuantizedTensor q = randomTensor({n, k}, spec, 5);
  std::vector<uint8_t> bytes = packLayout(q, "nv_sf128x4");
  std::vector<uint8_t> canonical = pack(q);
  const int64_t s = k / q.format.blockSize;
  const int64_t rowTiles = (n + 127) / 128, columnTiles = (s + 3) / 4;
  const int64_t codeBytes = (n * k * q.format.element.bits + 7) / 8;
  const int64_t scaleStart = (codeBytes + 15) / 16 * 16;
  const int64_t expectedSize = scaleStart + rowTiles * columnTiles * 512 +
                               (q.format.secondLevelScale ? 4 : 0);
  ASSERT_EQ(int64_t(bytes.size()), expectedSize);
  std::string error;
  EXPECT_EQ(layoutSizeInBytes("nv_sf128x4", {n, k}, q.format, error),
            expectedSize);
  // Codes: the canonical bit stream, then zero padding.
  EXPECT_EQ(0, std::memcmp(bytes.data(), canonical.data(), codeBytes));
  for (int64_t i = codeBytes; i < scaleStart; ++i)
    EXPECT_EQ(bytes[i], 0) << i;
  // Scales: the tiles in the order of the reshapes, padding zero.
  int64_t offset = scaleStart;
  for (int64_t rb = 0; rb < rowTiles; ++rb)
    for (int64_t cb = 0; cb < columnTiles; ++cb)
      for (int64_t lane = 0; lane < 32; ++lane)
        for (int64_t quarter = 0; quarter < 4; ++quarter)
          for (int64_t c = 0; c < 4; ++c, ++offset) {
            int64_t row = rb * 128 + quarter * 32 + lane, col = cb * 4 + c;
            uint8_t expected =
                row < n && col < s ? uint8_t(q.scales[row * s + col]) : 0;
            ASSERT_EQ(bytes[offset], expected)
                << "row " << row << " scale " << col;
          }
  if (q.format.secondLevelScale) {
    float tensorScale;
    std::memcpy(&tensorScale, &bytes[offset], 4);
    EXPECT_EQ(tensorScale, q.tensorScale);
    offset += 4;
  }
  EXPECT_EQ(offset, expectedSize);
  // Round trip.
  std::optional<QuantizedTensor> back = unpackLayout(
      bytes.data(), bytes.size(), "nv_sf128x4", {n, k}, q.format, error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(back->codes, q.codes);
  EXPECT_EQ(back->scales, q.scales);
  EXPECT_EQ(back->tensorScale, q.tensorScale);
}

TEST(NvScaleLayout, TilesMatchTheReshapes) {
  checkLayout("nvfp4", 200, 96);      // row and scale-column tails
  checkLayout("nvfp4", 256, 256);     // whole tiles
  checkLayout("mxfp4", 130, 64);      // E8M0, 2 scales per row
  checkLayout("mxfp8_e4m3", 1, 160);  // one row, 5 scales
  checkLayout("mxfp6_e3m2", 129, 96); // 6-bit codes
}

TEST(NvScaleLayout, RefusesWhatItCannotHold) {
  std::string error;
  std::optional<Format> perRow = parseFormat("int8", error);
  ASSERT_TRUE(perRow.has_value());
  EXPECT_NE(verifyLayout("nv_sf128x4", {64, 64}, *perRow), "");
  std::optional<Format> f16Scales = parseFormat("int4_g32, scale = f16", error);
  ASSERT_TRUE(f16Scales.has_value()) << error;
  EXPECT_NE(verifyLayout("nv_sf128x4", {64, 64}, *f16Scales), "");
  std::optional<Format> nvfp4 = parseFormat("nvfp4", error);
  EXPECT_EQ(verifyLayout("nv_sf128x4", {64, 64}, *nvfp4), "");
  EXPECT_NE(verifyLayout("nv_sf128x4", {4, 64, 64}, *nvfp4), "");
}

} // namespace
