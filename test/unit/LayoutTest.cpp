//===- LayoutTest.cpp - Tests of the packed byte layouts ------------------===//
//
// Where each code and scale lands in the x86 layouts (hand-placed bytes),
// round trips for every layout and format the CPU kernels use, on shapes with
// column and K tails, and the errors for shapes and formats a layout cannot
// hold.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

using namespace quantc;

namespace {

Format parseOrDie(const std::string &spec) {
  std::string error;
  std::optional<Format> f = parseFormat(spec, error);
  EXPECT_TRUE(f.has_value()) << spec << ": " << error;
  return f.value_or(Format{});
}

QuantizedTensor randomTensor(const std::vector<int64_t> &shape,
                             const std::string &spec, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> data(shape[0] * shape[1]);
  for (float &x : data)
    x = normal(rng);
  std::string error;
  std::optional<QuantizedTensor> q =
      quantize(data.data(), shape, parseOrDie(spec), error);
  EXPECT_TRUE(q.has_value()) << error;
  return q.value_or(QuantizedTensor{});
}

TEST(Layout, KnownLayouts) {
  std::vector<std::string> names = knownLayouts();
  ASSERT_EQ(names.size(), 13u);
  EXPECT_EQ(names[0], "canonical");
  EXPECT_EQ(names[1], "x86_n16k8");
}

/// One tile of 16 x 64 codes in `spec` (two blocks of 32): code (n, k) =
/// (n + k) % 16, raw scale (n, s) = 100 + n + scaleStep * s.
QuantizedTensor handPlacedTile(const std::string &spec, uint32_t scaleStep) {
  QuantizedTensor q;
  q.shape = {16, 64};
  q.format = parseOrDie(spec);
  for (int n = 0; n < 16; ++n)
    for (int k = 0; k < 64; ++k)
      q.codes.push_back(static_cast<uint8_t>((n + k) % 16));
  for (int n = 0; n < 16; ++n)
    for (int s = 0; s < 2; ++s)
      q.scales.push_back(100 + n + scaleStep * s);
  return q;
}

// One mxfp4 tile: code (n, k) = (n + k) % 16, scale (n, s) = 100 + n + s.
TEST(Layout, N16K8BytePlacement) {
  QuantizedTensor q = handPlacedTile("mxfp4", 1);
  std::vector<uint8_t> bytes = packLayout(q, "x86_n16k8");
  // 8 chunks of codes (512 bytes) + 2 x 16 scales, padded to 576.
  ASSERT_EQ(bytes.size(), 576u);
  // Chunk 1 (k 8..15), column 3, byte j = 2: low k 10, high k 14.
  EXPECT_EQ(bytes[64 + 4 * 3 + 2], ((3 + 10) % 16) | (((3 + 14) % 16) << 4));
  // Scales: [s][column] after the codes.
  EXPECT_EQ(bytes[512 + 0 * 16 + 5], 105);
  EXPECT_EQ(bytes[512 + 1 * 16 + 5], 106);
  EXPECT_EQ(bytes[575], 0);

  // The pair layout stores k (0, 2, 1, 3) in bytes 0..3 of a dword.
  std::vector<uint8_t> pairs = packLayout(q, "x86_n16k8p");
  ASSERT_EQ(pairs.size(), 576u);
  EXPECT_EQ(pairs[64 + 4 * 3 + 1], ((3 + 10) % 16) | (((3 + 14) % 16) << 4));
  EXPECT_EQ(pairs[64 + 4 * 3 + 2], ((3 + 9) % 16) | (((3 + 13) % 16) << 4));
}

// INT4 g32 with each block's f32 scales before its 4 chunks: one tile,
// K = 64. Code (n, k) = (n + k) % 16 (as two's complement nibbles), scale
// (n, s) = 100 + n + 7 s as raw f32 bits.
TEST(Layout, N16K8SIBytePlacement) {
  QuantizedTensor q = handPlacedTile("int4_g32", 7);
  std::vector<uint8_t> bytes = packLayout(q, "x86_n16k8_si");
  // Per block: 16 f32 scales (64 bytes) then 4 chunks (256): 2 x 320.
  ASSERT_EQ(bytes.size(), 640u);
  // Chunk 1 (k 8..15), column 3, byte j = 2: low k 10, high k 14.
  EXPECT_EQ(bytes[64 + 64 + 4 * 3 + 2], ((3 + 10) % 16) | (((3 + 14) % 16) << 4));
  // Chunk 5 = block 1's chunk 1 (k 40..47): after block 0's 320 bytes.
  EXPECT_EQ(bytes[320 + 64 + 64 + 4 * 3 + 2],
            ((3 + 42) % 16) | (((3 + 46) % 16) << 4));
  // Block 0's scale of column 5 at 4 * 5, block 1's at 320 + 4 * 5.
  uint32_t s0, s1;
  std::memcpy(&s0, &bytes[4 * 5], 4);
  std::memcpy(&s1, &bytes[320 + 4 * 5], 4);
  EXPECT_EQ(s0, 105u);
  EXPECT_EQ(s1, 112u);
  // The same codes and scales as x86_n16k8, only placed differently.
  std::string error;
  std::optional<LayoutGeometry> g =
      layoutGeometry("x86_n16k8_si", {16, 64}, q.format, error);
  ASSERT_TRUE(g.has_value()) << error;
  EXPECT_EQ(chunkOffsetInTile(*g, 5), 448);
  EXPECT_EQ(scaleOffsetInTile(*g, 1), 320);
}

// The _ob layouts: the plain layout's bytes with every chunk byte XOR 0x88
// (both nibbles' top bits), padding codes included, scales untouched. INT4
// per channel, N = 17 (15 padding columns in tile 1) and K = 12 (4 padding
// k in chunk 1): code (n, k) = (n + k) % 16, so code 0 (value 0) is stored
// as 8, and two's complement -8 (code 8) as 0.
TEST(Layout, OffsetBinaryFlipsEveryCode) {
  QuantizedTensor q;
  q.shape = {17, 12};
  q.format = parseOrDie("int4");
  for (int n = 0; n < 17; ++n) {
    for (int k = 0; k < 12; ++k)
      q.codes.push_back(static_cast<uint8_t>((n + k) % 16));
    q.scales.push_back(0x3F800000u + n); // f32 bits
  }
  std::vector<uint8_t> plain = packLayout(q, "x86_n16k8");
  std::vector<uint8_t> flipped = packLayout(q, "x86_n16k8_ob");
  ASSERT_EQ(plain.size(), flipped.size());
  std::string error;
  std::optional<LayoutGeometry> g =
      layoutGeometry("x86_n16k8_ob", q.shape, q.format, error);
  ASSERT_TRUE(g.has_value()) << error;
  EXPECT_EQ(g->codeXor, 0x88);
  int64_t codeBytes = g->paddedK / g->kPerChunk * g->chunkBytes;
  for (int64_t i = 0; i < static_cast<int64_t>(plain.size()); ++i) {
    bool isCode = i % g->tileBytes < codeBytes;
    EXPECT_EQ(flipped[i], isCode ? plain[i] ^ 0x88 : plain[i]) << "byte " << i;
  }
  // Column 0, k 0 (code 0) and k 4 (code 4): byte 0 = 0x8 | 0xC << 4; a
  // padding column (n = 20 = tile 1 column 4) holds value 0 everywhere.
  EXPECT_EQ(flipped[0], 0xC8);
  EXPECT_EQ(flipped[g->tileBytes + 4 * 4], 0x88);
  // Chunk 1 of column 0: k 8..11 (codes 8..11 -> 0..3) and padding k 12..15.
  EXPECT_EQ(flipped[64 + 0], 0x80);
  EXPECT_EQ(flipped[64 + 3], 0x83);

  // NV scale pairs and inline scales flip the same bytes as their plain
  // layouts' chunks.
  for (auto [base, spec, n, k] :
       {std::tuple<const char *, const char *, int64_t, int64_t>{
            "x86_n16k8_s32", "nvint4", 20, 64},
        {"x86_n16k8_si", "int4_g32", 3, 96}}) {
    SCOPED_TRACE(base);
    QuantizedTensor r = randomTensor({n, k}, spec, 3);
    std::vector<uint8_t> a = packLayout(r, base);
    std::vector<uint8_t> b = packLayout(r, std::string(base) + "_ob");
    std::optional<LayoutGeometry> gb =
        layoutGeometry(base, r.shape, r.format, error);
    ASSERT_TRUE(gb.has_value()) << error;
    ASSERT_EQ(a.size(), b.size());
    std::vector<uint8_t> expected = a;
    for (int64_t tile = 0; tile < gb->numTiles; ++tile)
      for (int64_t chunk = 0; chunk < gb->paddedK / gb->kPerChunk; ++chunk)
        for (int64_t i = 0; i < 64; ++i)
          expected[tile * gb->tileBytes + chunkOffsetInTile(*gb, chunk) + i] ^=
              0x88;
    EXPECT_EQ(b, expected);
  }
}

// Byte scales (MXFP4's E8M0) inline: the 16 columns' scales of 4 blocks
// fill one line before the blocks' 16 chunks, so a tile is per 128 of K
// 64 + 16 x 64 bytes.
TEST(Layout, N16K8SIByteScalesPerLine) {
  std::string error;
  std::optional<LayoutGeometry> g =
      layoutGeometry("x86_n16k8_si", {16, 256}, parseOrDie("mxfp4"), error);
  ASSERT_TRUE(g.has_value()) << error;
  EXPECT_EQ(g->scaleGroupsPerBlock, 4);
  EXPECT_EQ(g->blockStride, 1088);
  EXPECT_EQ(g->tileBytes, 2176);
  EXPECT_EQ(chunkOffsetInTile(*g, 0), 64);
  EXPECT_EQ(chunkOffsetInTile(*g, 15), 1024);
  EXPECT_EQ(chunkOffsetInTile(*g, 16), 1088 + 64);
  EXPECT_EQ(scaleOffsetInTile(*g, 3), 48);
  EXPECT_EQ(scaleOffsetInTile(*g, 4), 1088);
}

// x86_n16k8_sid: the same lines as x86_n16k8_si, but byte 4c + j of a scale
// line is column c's scale of block j, so a 16-dword load at offset j has
// block j's scales in its low bytes. Scale (n, s) = 16 s + n + 1 here.
TEST(Layout, N16K8SIDScalesDwordPerColumn) {
  std::string error;
  QuantizedTensor q = randomTensor({20, 256}, "mxfp4", 5);
  for (int64_t n = 0; n < 20; ++n)
    for (int64_t s = 0; s < 8; ++s)
      q.scales[n * 8 + s] = static_cast<uint32_t>(16 * s + n + 1);
  std::vector<uint8_t> si = packLayout(q, "x86_n16k8_si");
  std::vector<uint8_t> sid = packLayout(q, "x86_n16k8_sid");
  std::optional<LayoutGeometry> g =
      layoutGeometry("x86_n16k8_sid", q.shape, q.format, error);
  ASSERT_TRUE(g.has_value()) << error;
  ASSERT_EQ(si.size(), sid.size());
  EXPECT_EQ(g->scaleColumnStride, 4);
  EXPECT_EQ(g->scaleGroupBytes, 1);
  // Block 1 of column 0 at byte 1, block 0 of column 1 at byte 4; the
  // second group's line (blocks 4..7) one block stride on; tile 1, column 3
  // (n = 19) block 6 at 4 * 3 + 2 of that tile's second line.
  EXPECT_EQ(sid[1], 16 * 1 + 0 + 1);
  EXPECT_EQ(sid[4], 0 + 1 + 1);
  EXPECT_EQ(sid[g->blockStride + 4 * 2 + 3], 16 * 7 + 2 + 1);
  EXPECT_EQ(sid[g->tileBytes + g->blockStride + 4 * 3 + 2], 16 * 6 + 19 + 1);
  // Padding columns have zero scales; the chunks are x86_n16k8_si's.
  EXPECT_EQ(sid[g->tileBytes + 4 * 4], 0);
  for (int64_t tile = 0; tile < g->numTiles; ++tile)
    for (int64_t chunk = 0; chunk < g->paddedK / g->kPerChunk; ++chunk) {
      int64_t at = tile * g->tileBytes + chunkOffsetInTile(*g, chunk);
      ASSERT_TRUE(std::equal(si.begin() + at, si.begin() + at + 64,
                             sid.begin() + at));
    }
  EXPECT_EQ(verifyLayout("x86_n16k8_sid", {4, 128}, parseOrDie("int4_g32")),
            "layout 'x86_n16k8_sid' holds one-byte scales (E8M0, E4M3)");
}

// NVFP4 scales folded in pairs: one tile, K = 64 (two 32s). Code (n, k) =
// (n + k) % 16; the E4M3 scales are chosen: 0x38 = 1.0 (M 8, E -3),
// 0x40 = 2.0 (E -2), 0x30 = 0.5 (E -4), 0 = zero.
TEST(Layout, N16K8S32BytePlacementAndScales) {
  Format f = parseOrDie("nvfp4");
  QuantizedTensor q;
  q.shape = {3, 64};
  q.format = f;
  q.tensorScale = 0.5f;
  for (int n = 0; n < 3; ++n)
    for (int k = 0; k < 64; ++k)
      q.codes.push_back(static_cast<uint8_t>((n + k) % 16));
  // [n][16-block]: pair 0 = blocks 0, 1; pair 1 = blocks 2, 3.
  q.scales = {0x38, 0x40, 0x38, 0x38,  //
              0x30, 0x38, 0x00, 0x38,  //
              0x40, 0x00, 0x00, 0x00};
  std::string error;
  std::optional<LayoutGeometry> g =
      layoutGeometry("x86_n16k8_s32", {3, 64}, f, error);
  ASSERT_TRUE(g.has_value()) << error;
  // One 64 of K: 2 x 32 bytes of multipliers, then 8 chunks of codes (576);
  // then the two f32 factors and the tensor scale.
  EXPECT_EQ(g->codeBytesPerTile, 512);
  EXPECT_EQ(g->tileBytes, 576);
  EXPECT_EQ(g->pairFactorOffset, 576);
  EXPECT_EQ(g->tensorScaleOffset, 584);
  EXPECT_EQ(g->totalBytes, 588);
  std::vector<uint8_t> bytes = packLayout(q, "x86_n16k8_s32");
  ASSERT_EQ(bytes.size(), 588u);
  // Column 1 is column i = 1 of set 0; k 17 = half 1, kk 0, byte 1, low
  // nibble; k 21 its high nibble: chunk 0, dword 2 * 1 + 1.
  EXPECT_EQ(bytes[64 + 4 * 3 + 1], ((1 + 17) % 16) | (((1 + 21) % 16) << 4));
  // Column 2 is column 0 of set 1; k 32 + 8 = pair 1, half 0, kk 1, byte 0:
  // chunk 4 + 2 + 1.
  EXPECT_EQ(bytes[64 + 7 * 64 + 0], ((2 + 40) % 16) | (((2 + 44) % 16) << 4));
  // Pair 0: Emin = -4 (row 1's 0.5), F = 2^-4: 1.0 = 8 * 2^1.
  const std::vector<int> pair0 = {16, 32, 8, 16, 32, 0, 0, 0};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(bytes[i], pair0[i]) << i;
  float factor;
  std::memcpy(&factor, &bytes[576], 4);
  EXPECT_EQ(factor, 0.0625f);
  // Pair 1: Emin = -3, F = 2^-3; zero scales have multiplier 0.
  const std::vector<int> pair1 = {8, 8, 0, 8, 0, 0};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(bytes[32 + i], pair1[i]) << i;
  std::memcpy(&factor, &bytes[580], 4);
  EXPECT_EQ(factor, 0.125f);
  std::optional<QuantizedTensor> back = unpackLayout(
      bytes.data(), bytes.size(), "x86_n16k8_s32", q.shape, f, error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(back->codes, q.codes);
  EXPECT_EQ(back->scales, q.scales);
  EXPECT_EQ(back->tensorScale, 0.5f);

  // Multipliers above 255 do not fold, NaN scales have none: no bytes.
  // Over Emin = -4: 0x57 = 15 * 2^0 needs 15 << 4 = 240 (folds), 0x58 =
  // 8 * 2^1 needs 256 and 0x7E = 448 needs 14 << 9 (no).
  q.scales[0] = 0x57;
  EXPECT_EQ(packLayout(q, "x86_n16k8_s32").size(), 588u);
  q.scales[0] = 0x58;
  EXPECT_TRUE(packLayout(q, "x86_n16k8_s32").empty());
  q.scales[0] = 0x7E;
  EXPECT_TRUE(packLayout(q, "x86_n16k8_s32").empty());
  q.scales[0] = 0x7F;
  EXPECT_TRUE(packLayout(q, "x86_n16k8_s32").empty());

  // K = 96: a full 64 (576 bytes), then the last 32: its multipliers, 32
  // zero bytes and its 4 chunks (320).
  std::optional<LayoutGeometry> tail =
      layoutGeometry("x86_n16k8_s32", {3, 96}, f, error);
  ASSERT_TRUE(tail.has_value()) << error;
  EXPECT_EQ(tail->tileBytes, 896);
  EXPECT_EQ(scaleOffsetInTile(*tail, 1), 32);
  EXPECT_EQ(scaleOffsetInTile(*tail, 2), 576);
  EXPECT_EQ(chunkOffsetInTile(*tail, 7), 64 + 7 * 64);
  EXPECT_EQ(chunkOffsetInTile(*tail, 8), 576 + 64);
}

// MXFP6 dense: code (n, k) = (n + k) % 64 on one tile, K = 32 (8 chunks of
// 48 bytes). Code e = 4i + j of a chunk (column i, k 4g + j) is at bit 6e.
TEST(Layout, N16K4D6BitPlacement) {
  Format f = parseOrDie("mxfp6_e2m3");
  QuantizedTensor q;
  q.shape = {16, 32};
  q.format = f;
  for (int n = 0; n < 16; ++n)
    for (int k = 0; k < 32; ++k)
      q.codes.push_back(static_cast<uint8_t>((n + k) % 64));
  for (int n = 0; n < 16; ++n)
    q.scales.push_back(120 + n);
  std::string error;
  std::optional<LayoutGeometry> g =
      layoutGeometry("x86_n16k4_d6", {16, 32}, f, error);
  ASSERT_TRUE(g.has_value()) << error;
  EXPECT_EQ(g->chunkBytes, 48);
  EXPECT_EQ(g->codeBytesPerTile, 384);
  EXPECT_EQ(g->tileBytes, 448);
  std::vector<uint8_t> bytes = packLayout(q, "x86_n16k4_d6");
  ASSERT_EQ(bytes.size(), 448u);
  // Column 5, k 6: chunk 1, e = 22, bits 132..137 = byte 48 + 16 from bit 4.
  EXPECT_EQ((bytes[48 + 16] >> 4) | ((bytes[48 + 17] & 3) << 4), 11);
  // Column 0, k 0 .. 3: the first 24 bits of chunk 0 (codes 0, 1, 2, 3).
  EXPECT_EQ(bytes[0] | (bytes[1] << 8) | (bytes[2] << 16),
            0 | (1 << 6) | (2 << 12) | (3 << 18));
  // Scales after the codes, one byte per column.
  EXPECT_EQ(bytes[384 + 7], 127);
}

// int8 per channel on 20 x 6: two tiles, K padded to 8, f32 scales.
TEST(Layout, N16K4PaddingAndScales) {
  Format f = parseOrDie("int8");
  QuantizedTensor q = randomTensor({20, 6}, "int8", 1);
  std::string error;
  std::optional<LayoutGeometry> g = layoutGeometry("x86_n16k4", {20, 6}, f, error);
  ASSERT_TRUE(g.has_value()) << error;
  EXPECT_EQ(g->numTiles, 2);
  EXPECT_EQ(g->paddedK, 8);
  EXPECT_EQ(g->scalesPerColumn, 1);
  EXPECT_EQ(g->codeBytesPerTile, 128);
  EXPECT_EQ(g->scaleBytesPerTile, 64);
  EXPECT_EQ(g->tileBytes, 192);
  EXPECT_EQ(g->totalBytes, 384);
  std::vector<uint8_t> bytes = packLayout(q, "x86_n16k4");
  ASSERT_EQ(bytes.size(), 384u);
  // Column 17 = tile 1, column 1; k 5 = chunk 1, byte 1.
  EXPECT_EQ(bytes[192 + 64 + 4 * 1 + 1], q.codes[17 * 6 + 5]);
  // Padding: k 6 and 7 and columns 20..31 are zero codes.
  EXPECT_EQ(bytes[64 + 4 * 2 + 2], 0);
  EXPECT_EQ(bytes[192 + 4 * 5], 0);
  uint32_t raw = 0;
  for (int b = 0; b < 4; ++b)
    raw |= static_cast<uint32_t>(bytes[192 + 128 + 4 * 1 + b]) << (8 * b);
  EXPECT_EQ(raw, q.scales[17]);
}

struct RoundTripCase {
  const char *layout;
  const char *format;
  int64_t n, k;
};

TEST(Layout, RoundTrips) {
  const RoundTripCase cases[] = {
      {"x86_n16k8", "mxfp4", 33, 96},     {"x86_n16k8p", "mxfp4", 16, 64},
      {"x86_n16k8", "nvfp4", 17, 48},     {"x86_n16k8p", "nvfp4", 40, 32},
      {"x86_n16k8", "nvint4", 5, 16},     {"x86_n16k8", "int4_g32", 31, 64},
      {"x86_n16k8", "int4_g128", 16, 256}, {"x86_n16k8", "int4", 9, 12},
      {"x86_n16k4", "int8", 19, 7},       {"x86_n16k4", "mxint8", 18, 64},
      {"x86_n16k4", "mxfp8_e4m3", 3, 32}, {"x86_n16k4", "mxfp8_e5m2", 47, 32},
      {"x86_n16k4", "mxfp6_e2m3", 16, 96}, {"x86_n16k4", "mxfp6_e3m2", 21, 32},
      {"x86_n16k4", "mxfp4", 17, 32},     {"canonical", "nvfp4", 4, 32},
      {"x86_n16k8_s32", "nvfp4", 17, 64}, {"x86_n16k8_s32", "nvint4", 40, 32},
      {"x86_n16k8_s32", "nvfp4", 1, 96},
      {"x86_n16k4_d6", "mxfp6_e2m3", 17, 96}, {"x86_n16k4_d6", "mxfp6_e3m2", 3, 32},
      {"x86_n16k4_d6", "e2m3", 20, 7},
      {"x86_n16k8_si", "int4_g32", 33, 96}, {"x86_n16k8_si", "int4_g128", 17, 256},
      {"x86_n16k8_si", "int4, block = 8", 3, 24},
      {"x86_n16k8_si", "mxfp4", 33, 256}, {"x86_n16k8_si", "nvfp4", 17, 128},
      {"x86_n16k8_ob", "int4", 9, 12},    {"x86_n16k8_ob", "mxfp4", 17, 32},
      {"x86_n16k8_s32_ob", "nvint4", 40, 32},
      {"x86_n16k8_si_ob", "int4_g32", 33, 96},
      {"x86_n16k8_sid", "mxfp4", 33, 256}, {"x86_n16k8_sid", "nvfp4", 17, 128},
      {"x86_n16k8_sid_ob", "nvint4", 5, 64},
  };
  for (const RoundTripCase &c : cases) {
    SCOPED_TRACE(std::string(c.layout) + " " + c.format);
    QuantizedTensor q = randomTensor({c.n, c.k}, c.format, 7);
    std::string error;
    std::optional<int64_t> size =
        layoutSizeInBytes(c.layout, q.shape, q.format, error);
    ASSERT_TRUE(size.has_value()) << error;
    std::vector<uint8_t> bytes = packLayout(q, c.layout);
    ASSERT_EQ(static_cast<int64_t>(bytes.size()), *size);
    std::optional<QuantizedTensor> back =
        unpackLayout(bytes.data(), bytes.size(), c.layout, q.shape, q.format,
                     error);
    ASSERT_TRUE(back.has_value()) << error;
    EXPECT_EQ(back->codes, q.codes);
    EXPECT_EQ(back->scales, q.scales);
    EXPECT_EQ(back->tensorScale, q.tensorScale);
  }
}

TEST(Layout, Errors) {
  EXPECT_EQ(verifyLayout("canonical", {3, 5}, parseOrDie("int8")), "");
  EXPECT_EQ(verifyLayout("x86_n16k8", {4, 64}, parseOrDie("mxfp4")), "");
  EXPECT_EQ(verifyLayout("tiled", {4, 64}, parseOrDie("mxfp4")),
            "unknown packed layout 'tiled' (known: canonical, x86_n16k8, "
            "x86_n16k8p, x86_n16k4, x86_n16k8_s32, x86_n16k4_d6, x86_n16k8_si, "
            "x86_n16k8_ob, x86_n16k8_s32_ob, x86_n16k8_si_ob, x86_n16k8_sid, "
            "x86_n16k8_sid_ob, nv_sf128x4)");
  EXPECT_EQ(verifyLayout("x86_n16k8_si", {4, 64}, parseOrDie("mxfp4")),
            "layout 'x86_n16k8_si' needs K a multiple of 128 (the scales of 4 "
            "blocks fill a 64-byte line), got 64");
  EXPECT_EQ(verifyLayout("x86_n16k8_si", {4, 128}, parseOrDie("mxfp4")), "");
  EXPECT_EQ(verifyLayout("x86_n16k8_si", {4, 64}, parseOrDie("int4")),
            "layout 'x86_n16k8_si' holds blocks along K");
  EXPECT_EQ(verifyLayout("x86_n16k8", {4, 64}, parseOrDie("int8")),
            "layout 'x86_n16k8' holds 4-bit codes, the format has 8");
  EXPECT_EQ(verifyLayout("x86_n16k4", {2, 4, 64}, parseOrDie("int8")),
            "layout 'x86_n16k4' holds weights [N, K] (rank 2), got rank 3");
  EXPECT_EQ(verifyLayout("x86_n16k4", {4, 64}, parseOrDie("int8, axis = 0")),
            "layout 'x86_n16k4' needs the format quantized along K (axis -1)");
  EXPECT_EQ(verifyLayout("x86_n16k4", {4, 64}, parseOrDie("uint8, symmetric = false")),
            "layout 'x86_n16k4' holds symmetric formats only (no zero points)");
  EXPECT_EQ(verifyLayout("x86_n16k8", {4, 12}, parseOrDie("int4, block = 4")),
            "layout 'x86_n16k8' needs blocks that are a multiple of 8, the "
            "format has 4");
  EXPECT_EQ(verifyLayout("x86_n16k8", {4, 60}, parseOrDie("mxfp4")),
            "dimension 1 of size 60 is not divisible by the block size 32");
  std::string error;
  EXPECT_FALSE(unpackLayout(nullptr, 3, "x86_n16k8", {16, 32},
                            parseOrDie("mxfp4"), error));
  EXPECT_EQ(error, "packed mxfp4 data in layout 'x86_n16k8' needs 320 bytes, "
                   "got 3");
}

} // namespace
