//===- Tcgen05LayoutTest.cpp - Bit layouts of the sm_100a tcgen05 GEMM ----===//
//
// The host-checkable parts of qc_tcgen05_block_scale_gemm (no sm_100 device
// runs it anywhere we test): the instruction and shared-memory descriptor
// fields against hand-computed words, the code-tile staging against the
// descriptor's core-matrix addressing, and the scale-tile staging against the
// format library's nv_sf128x4 packing (itself checked against NVIDIA's
// defining reshapes in NvScaleLayoutTest.cpp) and against the TMEM scale
// layout tcgen05.cp .32x128b.warpx4 produces.
//
//===----------------------------------------------------------------------===//

#include "../../lib/Conversion/QcToGPU/Tcgen05Layout.h"

#include "quantc/Formats/Layout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

using namespace quantc;
using namespace quantc::gpukernels::tcgen05;

namespace {

TEST(Tcgen05Layout, InstructionDescriptorFields) {
  // MXFP8 E4M3 x E4M3, M = N = 128, UE8M0, scale IDs 0: N >> 3 = 16 at bit
  // 17 (0x200000), UE8M0 at bit 23 (0x800000), M >> 4 = 8 at bit 24.
  EXPECT_EQ(blockScaleInstructionDescriptor(OperandType::E4M3,
                                            OperandType::E4M3, true, 128, 128,
                                            0, 0),
            0x08A00000u);
  // E5M2 activations (atype bits 7-9), E4M3 weights, scale IDs 3 (A: bits
  // 29-30, B: bits 4-5).
  EXPECT_EQ(blockScaleInstructionDescriptor(OperandType::E5M2,
                                            OperandType::E4M3, true, 128, 128,
                                            3, 3),
            0x08A00000u | 0x80u | (3u << 29) | (3u << 4));
  // E5M2 weights: btype bits 10-12.
  EXPECT_EQ(blockScaleInstructionDescriptor(OperandType::E4M3,
                                            OperandType::E5M2, true, 128, 128,
                                            0, 0),
            0x08A00400u);
  // NVFP4 (kind::mxf4nvf4: E2M1 = 1 for both), UE4M3: bit 23 clear.
  EXPECT_EQ(blockScaleInstructionDescriptor(OperandType::E2M1Packed,
                                            OperandType::E2M1Packed, false,
                                            128, 128, 0, 0),
            0x08200480u);
  // N = 256 fills the 6-bit N field (32 << 17) without touching bit 23.
  EXPECT_EQ(blockScaleInstructionDescriptor(OperandType::E4M3,
                                            OperandType::E4M3, false, 128, 256,
                                            0, 0),
            0x08400000u);
  // K-major A and B (bits 15, 16), no negation (13, 14), dense (2), K = the
  // kind's (31): always clear.
  for (uint32_t id = 0; id < 4; ++id) {
    uint32_t d = blockScaleInstructionDescriptor(
        OperandType::E5M2, OperandType::E5M2, true, 128, 128, id, id);
    EXPECT_EQ(d & ((1u << 2) | (1u << 13) | (1u << 14) | (1u << 15) |
                   (1u << 16) | (1u << 31)),
              0u);
    EXPECT_EQ((d >> 29) & 3u, id);
    EXPECT_EQ((d >> 4) & 3u, id);
  }
}

TEST(Tcgen05Layout, SharedDescriptorFields) {
  // Start 0x12340 (>> 4 = 0x1234), LBO 128 (8), SBO 1024 (64), version 1 at
  // bit 46, base offset / LBO mode / swizzle 0.
  EXPECT_EQ(sharedDescriptor(0x12340, 128, 1024), 0x0000404000081234ull);
  // The scale tiles: LBO unused, SBO 128 (8 rows of 16 bytes).
  EXPECT_EQ(sharedDescriptorConstant(0, 128), (8ull << 32) | (1ull << 46));
  // Addresses wrap into the 14-bit field only above 256 KiB (never: the
  // kernel uses < 228 KiB of shared memory).
  EXPECT_EQ(sharedDescriptor(0x3FFF0, 0, 0) & 0x3FFF, 0x3FFFull);
}

TEST(Tcgen05Layout, CodeTileMatchesDescriptorAddressing) {
  // The staging writes chunk c (row (c / 64) 8 + c % 8, K chunk (c / 8) % 8)
  // at byte 16 c; the MMA reads core matrix (row group G, K chunk C) at
  // start + LBO C + SBO G, row r % 8 at + 16 (r % 8).
  const int64_t rowBytes = 128, lbo = 128, sbo = 8 * rowBytes;
  std::set<int64_t> seen;
  for (int64_t c = 0; c < 128 * rowBytes / 16; ++c) {
    int64_t row = (c / (8 * (rowBytes / 16))) * 8 + c % 8;
    int64_t chunk = (c / 8) % (rowBytes / 16);
    EXPECT_EQ(codeTileByte(row, chunk, rowBytes), 16 * c);
    EXPECT_EQ(codeTileByte(row, chunk, rowBytes),
              lbo * chunk + sbo * (row / 8) + 16 * (row % 8));
    seen.insert(16 * c);
  }
  EXPECT_EQ(seen.size(), size_t(128 * rowBytes / 16));
  // MMA j (32 bytes of K: core-matrix columns 2j, 2j + 1) starts at 256 j.
  for (int64_t j = 0; j < 4; ++j)
    EXPECT_EQ(codeTileByte(0, 2 * j, rowBytes), 256 * j);
}

TEST(Tcgen05Layout, ScaleTileIsNvSf128x4) {
  // A weight of 256 rows x 16 scales (2 x 4 tiles of 128 x 4): the byte the
  // kernel's staging writes scale (r, s) to, inside tile (r / 128, s / 4),
  // is where nv_sf128x4 keeps it.
  for (const char *spec : {"mxfp8_e4m3", "mxfp4", "nvfp4"}) {
    SCOPED_TRACE(spec);
    std::string error;
    std::optional<Format> format = parseFormat(spec, error);
    ASSERT_TRUE(format) << error;
    const int64_t n = 256, s = 16, k = s * format->blockSize;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> data(n * k);
    for (float &x : data)
      x = normal(rng) * std::ldexp(1.0f, int(rng() % 16) - 8);
    std::optional<QuantizedTensor> q = quantize(data.data(), {n, k}, *format,
                                                error);
    ASSERT_TRUE(q) << error;
    std::vector<uint8_t> bytes = packLayout(*q, "nv_sf128x4");
    const int64_t codeBytes = n * k * format->element.bits / 8;
    const int64_t scaleStart = (codeBytes + 15) / 16 * 16;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < s; ++c) {
        int64_t tile = (r / 128) * (s / 4) + c / 4;
        EXPECT_EQ(bytes[scaleStart + tile * 512 + scaleTileByte(r % 128, c % 4)],
                  uint8_t(q->scales[r * s + c]))
            << r << " " << c;
      }
  }
}

TEST(Tcgen05Layout, ScaleTileLandsWhereTheMmaReadsIt) {
  // tcgen05.cp .32x128b.warpx4: shared row i (16 bytes) goes to lane i of
  // every lane quarter, bytes 4c .. 4c + 3 to column c. The MMA reads the
  // scales of A row r (B column r) at lane r % 32 of its quarter, column
  // r / 32, bytes from sf_id on, in K order.
  std::vector<int> tile(512, -1);
  for (int64_t r = 0; r < 128; ++r)
    for (int64_t c = 0; c < 4; ++c) {
      int64_t byte = scaleTileByte(r, c);
      ASSERT_GE(byte, 0);
      ASSERT_LT(byte, 512);
      EXPECT_EQ(tile[byte], -1) << "two scales at byte " << byte;
      tile[byte] = int(4 * r + c);
    }
  for (int quarter = 0; quarter < 4; ++quarter)
    for (int64_t r = 0; r < 128; ++r)
      for (int64_t sf = 0; sf < 4; ++sf) {
        int64_t lane = 32 * quarter + r % 32, column = r / 32;
        int64_t sharedByte = (lane % 32) * 16 + 4 * column + sf;
        EXPECT_EQ(tile[sharedByte], int(4 * r + sf));
      }
}

} // namespace
