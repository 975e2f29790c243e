//===- FormatTest.cpp - Bit-exact tests of the format library -------------===//
//
// Hand-computed vectors for every element type, scale type and granularity
// quantc defines; the comments show the arithmetic so a failure can be
// checked on paper.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Format.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

using namespace quantc;

namespace {

float bitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint32_t floatToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

Format parseOrDie(const std::string &spec) {
  std::string error;
  std::optional<Format> f = parseFormat(spec, error);
  EXPECT_TRUE(f.has_value()) << spec << ": " << error;
  return f.value_or(Format{});
}

QuantizedTensor quantizeOrDie(const std::vector<float> &data,
                              const std::vector<int64_t> &shape,
                              const Format &format) {
  std::string error;
  std::optional<QuantizedTensor> q =
      quantize(data.data(), shape, format, error);
  EXPECT_TRUE(q.has_value()) << error;
  return q.value_or(QuantizedTensor{});
}

const ElementType kE2M1 = ElementType::minifloat(2, 1);
const ElementType kE2M3 = ElementType::minifloat(2, 3);
const ElementType kE3M2 = ElementType::minifloat(3, 2);
const ElementType kE4M3 = ElementType::minifloat(4, 3);
const ElementType kE5M2 = ElementType::minifloat(5, 2);

ElementType nonSaturating(ElementType e) {
  e.saturate = false;
  return e;
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

} // namespace

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

TEST(FormatElement, MinifloatDefaults) {
  EXPECT_EQ(kE2M1.bits, 4);
  EXPECT_EQ(kE2M1.bias, 1);
  EXPECT_EQ(kE2M1.special, SpecialValues::FiniteOnly);
  EXPECT_EQ(kE4M3.bias, 7);
  EXPECT_EQ(kE4M3.special, SpecialValues::FiniteAndNaN);
  EXPECT_EQ(kE5M2.bias, 15);
  EXPECT_EQ(kE5M2.special, SpecialValues::IEEE);
  EXPECT_EQ(ElementType::minifloat(3, 4).special, SpecialValues::FiniteOnly);
  EXPECT_TRUE(kE2M1.saturate);
}

TEST(FormatElement, MaxFiniteAndMaxExponent) {
  EXPECT_EQ(elementMaxFinite(kE2M1), 6.0);
  EXPECT_EQ(elementMaxFinite(kE2M3), 7.5);
  EXPECT_EQ(elementMaxFinite(kE3M2), 28.0);
  EXPECT_EQ(elementMaxFinite(kE4M3), 448.0);
  EXPECT_EQ(elementMaxFinite(kE5M2), 57344.0);
  EXPECT_EQ(elementMaxFinite(ElementType::integer(8, true, 6)), 127.0 / 64);
  EXPECT_EQ(elementMaxFinite(ElementType::integer(8)), 127.0);
  EXPECT_EQ(elementMaxFinite(ElementType::integer(4)), 7.0);
  EXPECT_EQ(elementMaxFinite(ElementType::integer(8, false)), 255.0);
  EXPECT_EQ(elementMaxExponent(kE2M1), 2);
  EXPECT_EQ(elementMaxExponent(kE2M3), 2);
  EXPECT_EQ(elementMaxExponent(kE3M2), 4);
  EXPECT_EQ(elementMaxExponent(kE4M3), 8);
  EXPECT_EQ(elementMaxExponent(kE5M2), 15);
  EXPECT_EQ(elementMaxExponent(ElementType::integer(8, true, 6)), 0);
  EXPECT_EQ(elementMaxExponent(ElementType::integer(4)), 2);
}

TEST(FormatElement, E2M1DecodesEveryCode) {
  const float magnitudes[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int code = 0; code < 8; ++code) {
    EXPECT_EQ(decodeElement(code, kE2M1), magnitudes[code]) << code;
    EXPECT_EQ(decodeElement(code | 8, kE2M1), -magnitudes[code]) << code;
  }
  EXPECT_TRUE(std::signbit(decodeElement(0x8, kE2M1)));
}

TEST(FormatElement, E2M1RoundsTiesToEven) {
  // Codes: 0:0 1:0.5 2:1 3:1.5 4:2 5:3 6:4 7:6.
  EXPECT_EQ(encodeElement(2.5f, kE2M1), 4);  // 2 | 3 -> 2 (mantissa 0)
  EXPECT_EQ(encodeElement(3.5f, kE2M1), 6);  // 3 | 4 -> 4
  EXPECT_EQ(encodeElement(5.0f, kE2M1), 6);  // 4 | 6 -> 4
  EXPECT_EQ(encodeElement(0.25f, kE2M1), 0); // 0 | 0.5 -> 0
  EXPECT_EQ(encodeElement(0.75f, kE2M1), 2); // 0.5 | 1 -> 1
  EXPECT_EQ(encodeElement(1.25f, kE2M1), 2); // 1 | 1.5 -> 1
  EXPECT_EQ(encodeElement(1.75f, kE2M1), 4); // 1.5 | 2 -> 2
  EXPECT_EQ(encodeElement(5.01f, kE2M1), 7);
  EXPECT_EQ(encodeElement(-2.5f, kE2M1), 0xC);
  EXPECT_EQ(encodeElement(0.2499f, kE2M1), 0);
  EXPECT_EQ(encodeElement(0.2501f, kE2M1), 1);
}

TEST(FormatElement, Saturation) {
  EXPECT_EQ(encodeElement(7.0f, kE2M1), 7);
  EXPECT_EQ(encodeElement(100.0f, kE2M1), 7);
  EXPECT_EQ(encodeElement(kInf, kE2M1), 7);
  EXPECT_EQ(encodeElement(-kInf, kE2M1), 0xF);
  // FiniteOnly formats saturate even when asked not to: there is no Inf.
  EXPECT_EQ(encodeElement(100.0f, nonSaturating(kE2M1)), 7);

  EXPECT_EQ(encodeElement(500.0f, kE4M3), 0x7E);
  EXPECT_EQ(decodeElement(0x7E, kE4M3), 448.0f);
  EXPECT_EQ(encodeElement(464.0f, kE4M3), 0x7E); // 448 | 480: tie -> 448
  EXPECT_EQ(encodeElement(500.0f, nonSaturating(kE4M3)), 0x7F); // NaN
  EXPECT_EQ(encodeElement(-500.0f, nonSaturating(kE4M3)), 0xFF);

  EXPECT_EQ(encodeElement(1e6f, kE5M2), 0x7B);
  EXPECT_EQ(decodeElement(0x7B, kE5M2), 57344.0f);
  EXPECT_EQ(encodeElement(1e6f, nonSaturating(kE5M2)), 0x7C);
  EXPECT_EQ(encodeElement(-1e6f, nonSaturating(kE5M2)), 0xFC);
  // 61440 is the tie between 57344 and 65536: RNE rounds up, past the max.
  EXPECT_EQ(encodeElement(61440.0f, nonSaturating(kE5M2)), 0x7C);
  EXPECT_EQ(encodeElement(61440.0f, kE5M2), 0x7B);
  // Non-saturating overflow is decided after rounding.
  EXPECT_EQ(encodeElement(61439.0f, nonSaturating(kE5M2)), 0x7B);
  EXPECT_EQ(encodeElement(460.0f, nonSaturating(kE4M3)), 0x7E);
  EXPECT_EQ(encodeElement(464.0f, nonSaturating(kE4M3)), 0x7E);
  EXPECT_EQ(encodeElement(465.0f, nonSaturating(kE4M3)), 0x7F);
  EXPECT_EQ(encodeElement(kInf, nonSaturating(kE5M2)), 0x7C);
}

TEST(FormatElement, Subnormals) {
  // e4m3: emin = -6, subnormal step 2^-9.
  EXPECT_EQ(encodeElement(std::ldexp(1.0f, -9), kE4M3), 0x01);
  EXPECT_EQ(decodeElement(0x01, kE4M3), std::ldexp(1.0f, -9));
  EXPECT_EQ(encodeElement(std::ldexp(1.0f, -10), kE4M3), 0x00); // tie -> 0
  EXPECT_EQ(encodeElement(std::ldexp(3.0f, -10), kE4M3), 0x02); // tie -> 2
  EXPECT_EQ(encodeElement(std::ldexp(1.0f, -6), kE4M3), 0x08);  // min normal
  EXPECT_EQ(decodeElement(0x07, kE4M3), std::ldexp(7.0f, -9));
  // e2m3: bias 1, emin 0, subnormals m/8.
  EXPECT_EQ(encodeElement(0.125f, kE2M3), 0x01);
  EXPECT_EQ(decodeElement(0x07, kE2M3), 0.875f);
  EXPECT_EQ(decodeElement(0x1F, kE2M3), 7.5f);
  // e3m2: bias 3, emin -2, subnormals m/16.
  EXPECT_EQ(encodeElement(0.0625f, kE3M2), 0x01);
  EXPECT_EQ(decodeElement(0x1F, kE3M2), 28.0f);
  // f32 subnormal inputs round to zero.
  EXPECT_EQ(encodeElement(1e-40f, kE4M3), 0x00);
}

TEST(FormatElement, SignedZeroAndSpecials) {
  EXPECT_EQ(encodeElement(-0.0f, kE2M1), 0x8);
  EXPECT_EQ(encodeElement(-0.0f, kE4M3), 0x80);
  EXPECT_EQ(encodeElement(-0.0f, ElementType::integer(8)), 0);
  EXPECT_EQ(encodeElement(kNaN, kE2M1), 0);
  EXPECT_EQ(encodeElement(kNaN, kE4M3), 0x7F);
  EXPECT_EQ(encodeElement(kNaN, kE5M2), 0x7E);
  EXPECT_EQ(encodeElement(-kNaN, kE4M3), 0xFF);
  EXPECT_EQ(encodeElement(kNaN, ElementType::integer(8)), 0);
  EXPECT_TRUE(std::isnan(decodeElement(0x7F, kE4M3)));
  EXPECT_TRUE(std::isnan(decodeElement(0xFF, kE4M3)));
  EXPECT_TRUE(std::isnan(decodeElement(0x7D, kE5M2)));
  EXPECT_EQ(decodeElement(0x7C, kE5M2), kInf);
  EXPECT_EQ(decodeElement(0xFC, kE5M2), -kInf);
}

// Every finite code of every minifloat decodes and re-encodes to itself, and
// the midpoint between neighbours rounds to the even one.
TEST(FormatElement, EveryMinifloatCodeRoundTrips) {
  for (int bits = 3; bits <= 8; ++bits)
    for (int x = 1; x < bits; ++x)
      for (SpecialValues special :
           {SpecialValues::FiniteOnly, SpecialValues::FiniteAndNaN,
            SpecialValues::IEEE}) {
        ElementType e = ElementType::minifloat(x, bits - 1 - x);
        e.special = special;
        if (special == SpecialValues::IEEE && (x < 2 || e.mantissaBits < 1))
          continue;
        double maxFinite = elementMaxFinite(e);
        int magnitudes = 1 << (bits - 1);
        for (int code = 0; code < (1 << bits); ++code) {
          float v = decodeElement(code, e);
          if (std::isnan(v) || std::isinf(v))
            continue;
          EXPECT_EQ(encodeElement(v, e), code)
              << "e" << x << "m" << e.mantissaBits << " code " << code;
        }
        for (int c = 0; c + 1 < magnitudes; ++c) {
          float lo = decodeElement(c, e), hi = decodeElement(c + 1, e);
          if (!(hi <= maxFinite))
            break;
          float mid = (lo + hi) / 2;
          int expected;
          if (e.mantissaBits >= 1)
            expected = (c % 2 == 0) ? c : c + 1;
          else // one significand per binade: ties go up, except 0 | min
            expected = c == 0 ? 0 : c + 1;
          EXPECT_EQ(encodeElement(mid, e), expected)
              << "e" << x << "m" << e.mantissaBits << " between " << lo
              << " and " << hi;
        }
      }
}

TEST(FormatElement, Integers) {
  ElementType int8 = ElementType::integer(8);
  EXPECT_EQ(encodeElement(127.4f, int8), 127);
  EXPECT_EQ(encodeElement(-200.0f, int8), 0x81); // symmetric: -127, not -128
  EXPECT_EQ(encodeElement(2.5f, int8), 2);
  EXPECT_EQ(encodeElement(3.5f, int8), 4);
  EXPECT_EQ(encodeElement(-3.5f, int8), 0xFC);
  EXPECT_EQ(decodeElement(0x80, int8), -128.0f); // decodes, never produced
  EXPECT_EQ(encodeElement(-128.0f, int8), 0x81);
  ElementType int4 = ElementType::integer(4);
  EXPECT_EQ(encodeElement(-8.0f, int4), 0x9);
  EXPECT_EQ(decodeElement(0x9, int4), -7.0f);
  EXPECT_EQ(encodeElement(kInf, int4), 0x7);
  ElementType uint8 = ElementType::integer(8, false);
  EXPECT_EQ(encodeElement(-3.0f, uint8), 0);
  EXPECT_EQ(encodeElement(300.0f, uint8), 255);
  EXPECT_EQ(decodeElement(255, uint8), 255.0f);
  // MXINT8: 1.6 fixed point.
  ElementType mxint8 = ElementType::integer(8, true, 6);
  EXPECT_EQ(encodeElement(1.0f, mxint8), 64);
  EXPECT_EQ(encodeElement(0.5f, mxint8), 32);
  EXPECT_EQ(encodeElement(1.99f, mxint8), 127);
  EXPECT_EQ(encodeElement(-2.0f, mxint8), 0x81);
  EXPECT_EQ(encodeElement(1.0f / 128, mxint8), 0); // 0.5 -> 0
  EXPECT_EQ(encodeElement(3.0f / 128, mxint8), 2); // 1.5 -> 2
  EXPECT_EQ(decodeElement(0x81, mxint8), -127.0f / 64);
  for (int bits = 2; bits <= 8; ++bits)
    for (bool isSigned : {true, false}) {
      ElementType e = ElementType::integer(bits, isSigned);
      for (int code = 0; code < (1 << bits); ++code) {
        if (isSigned && code == (1 << (bits - 1)))
          continue; // -2^(b-1) is outside the symmetric range
        EXPECT_EQ(encodeElement(decodeElement(code, e), e), code);
      }
    }
}

//===----------------------------------------------------------------------===//
// Scale types
//===----------------------------------------------------------------------===//

TEST(FormatScale, HalfPrecision) {
  EXPECT_EQ(scaleBits(ScaleType::F16), 16);
  EXPECT_EQ(encodeScale(1.0f, ScaleType::F16), 0x3C00u);
  EXPECT_EQ(encodeScale(65504.0f, ScaleType::F16), 0x7BFFu);
  EXPECT_EQ(encodeScale(65519.0f, ScaleType::F16), 0x7BFFu);
  EXPECT_EQ(encodeScale(65520.0f, ScaleType::F16), 0x7C00u); // tie -> Inf
  EXPECT_EQ(encodeScale(std::ldexp(1.0f, -24), ScaleType::F16), 0x0001u);
  EXPECT_EQ(encodeScale(std::ldexp(1.0f, -25), ScaleType::F16), 0x0000u);
  EXPECT_EQ(encodeScale(std::ldexp(1.5f, -25), ScaleType::F16), 0x0001u);
  EXPECT_EQ(encodeScale(std::ldexp(3.0f, -25), ScaleType::F16), 0x0002u);
  EXPECT_EQ(encodeScale(std::ldexp(1023.5f, -24), ScaleType::F16), 0x0400u);
  EXPECT_EQ(encodeScale(0.1f, ScaleType::F16), 0x2E66u);
  EXPECT_EQ(encodeScale(-2.0f, ScaleType::F16), 0xC000u);
  EXPECT_EQ(encodeScale(kNaN, ScaleType::F16) & 0x7E00u, 0x7E00u);
  // Every half decodes and re-encodes to itself.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float v = decodeScale(h, ScaleType::F16);
    if (std::isnan(v))
      continue;
    ASSERT_EQ(encodeScale(v, ScaleType::F16), h) << std::hex << h;
  }
}

TEST(FormatScale, BFloat16) {
  EXPECT_EQ(encodeScale(1.0f, ScaleType::BF16), 0x3F80u);
  EXPECT_EQ(encodeScale(bitsToFloat(0x3F808000), ScaleType::BF16), 0x3F80u);
  EXPECT_EQ(encodeScale(bitsToFloat(0x3F818000), ScaleType::BF16), 0x3F82u);
  EXPECT_EQ(encodeScale(bitsToFloat(0x3F808001), ScaleType::BF16), 0x3F81u);
  EXPECT_EQ(encodeScale(FLT_MAX, ScaleType::BF16), 0x7F80u);
  EXPECT_EQ(decodeScale(0x4040, ScaleType::BF16), 3.0f);
  for (uint32_t b = 0; b < 0x10000; ++b) {
    float v = decodeScale(b, ScaleType::BF16);
    if (std::isnan(v))
      continue;
    ASSERT_EQ(encodeScale(v, ScaleType::BF16), b) << std::hex << b;
  }
}

TEST(FormatScale, E8M0AndE4M3) {
  EXPECT_EQ(scaleBits(ScaleType::E8M0), 8);
  EXPECT_EQ(encodeScale(1.0f, ScaleType::E8M0), 127u);
  EXPECT_EQ(encodeScale(std::ldexp(1.0f, -127), ScaleType::E8M0), 0u);
  EXPECT_EQ(encodeScale(std::ldexp(1.0f, 127), ScaleType::E8M0), 254u);
  EXPECT_EQ(encodeScale(3.0f, ScaleType::E8M0), 128u); // rounds down
  EXPECT_EQ(encodeScale(kNaN, ScaleType::E8M0), 0xFFu);
  EXPECT_EQ(decodeScale(0, ScaleType::E8M0), std::ldexp(1.0f, -127));
  EXPECT_EQ(decodeScale(130, ScaleType::E8M0), 8.0f);
  EXPECT_TRUE(std::isnan(decodeScale(0xFF, ScaleType::E8M0)));
  EXPECT_EQ(encodeScale(448.0f, ScaleType::E4M3), 0x7Eu);
  EXPECT_EQ(encodeScale(1000.0f, ScaleType::E4M3), 0x7Eu); // saturates
  EXPECT_EQ(encodeScale(1.3f, ScaleType::E4M3), 0x3Au);    // 1.25
  EXPECT_EQ(decodeScale(0x38, ScaleType::E4M3), 1.0f);
  EXPECT_TRUE(std::isnan(decodeScale(0x7F, ScaleType::E4M3)));
  EXPECT_EQ(encodeScale(0.1f, ScaleType::F32), floatToBits(0.1f));
}

//===----------------------------------------------------------------------===//
// MX formats (E8M0 scales)
//===----------------------------------------------------------------------===//

namespace {

/// A [1, 32] block whose amax is `amax`, with a few smaller values.
std::vector<float> blockWithAmax(float amax) {
  std::vector<float> data(32, 0.0f);
  data[0] = amax;
  data[1] = -1.0f;
  data[2] = 0.5f;
  data[3] = 2.5f;
  return data;
}

uint32_t mxScaleByte(const std::string &spec, float amax) {
  std::vector<float> data(32, 0.0f);
  data[0] = amax;
  data[1] = -amax / 2;
  data[2] = amax / 4;
  QuantizedTensor q = quantizeOrDie(data, {1, 32}, parseOrDie(spec));
  EXPECT_EQ(q.scales.size(), 1u);
  return q.scales.empty() ? 0 : q.scales[0];
}

} // namespace

TEST(FormatMX, SharedExponentForEveryScaleRounding) {
  // mxfp4: emax 2, maxSig 1.5.
  struct Case {
    float amax;
    int floor, ceil, nearest;
  } cases[] = {
      // amax 4: E = 2, sig 1. nearest: round(log2(4/6)) = round(-0.58) = -1.
      {4.0f, 0, 0, -1},
      // amax 6: sig 1.5 = maxSig: no clipping, every rounding keeps 2^0.
      {6.0f, 0, 0, 0},
      // amax 7: sig 1.75 > 1.5 -> ceil steps up; 2*1.75^2 >= 2.25, nearest 0.
      {7.0f, 0, 1, 0},
      // amax 8: E = 3, sig 1; nearest round(log2(8/6)) = round(0.415) = 0.
      {8.0f, 1, 1, 0},
      {12.0f, 1, 1, 1},
      // amax 0.75: E = -1, sig 1.5; log2(0.75 / 6) = -3 exactly.
      {0.75f, -3, -3, -3},
  };
  for (const Case &c : cases) {
    EXPECT_EQ(mxScaleByte("mxfp4", c.amax), uint32_t(127 + c.floor)) << c.amax;
    EXPECT_EQ(mxScaleByte("mxfp4, scale_rounding = ceil", c.amax),
              uint32_t(127 + c.ceil))
        << c.amax;
    EXPECT_EQ(mxScaleByte("mxfp4, scale_rounding = nearest", c.amax),
              uint32_t(127 + c.nearest))
        << c.amax;
  }
  // With int2 elements (max 1, maxSig 1) nearest can round up:
  // amax 1.5: 1.5^2 = 2.25 >= 2 -> +1; amax 1.4: 1.96 < 2 -> 0.
  EXPECT_EQ(
      mxScaleByte("mxfp4, element = int2, scale_rounding = nearest", 1.5f),
      128u);
  EXPECT_EQ(
      mxScaleByte("mxfp4, element = int2, scale_rounding = nearest", 1.4f),
      127u);
  EXPECT_EQ(mxScaleByte("mxfp4, element = int2, scale_rounding = ceil", 1.4f),
            128u);
  EXPECT_EQ(mxScaleByte("mxfp4, element = int2", 1.4f), 127u);
  // mxfp8_e4m3: emax 8; amax 448 -> 2^0, amax 1 -> 2^-8.
  EXPECT_EQ(mxScaleByte("mxfp8_e4m3", 448.0f), 127u);
  EXPECT_EQ(mxScaleByte("mxfp8_e4m3", 1.0f), 119u);
  EXPECT_EQ(mxScaleByte("mxfp8_e5m2", 1.0f), 112u);
  EXPECT_EQ(mxScaleByte("mxfp6_e3m2", 1.0f), 123u);
}

TEST(FormatMX, Mxfp4Values) {
  // amax 7, floor: scale 2^0, 7 clips to 6. Ceil: scale 2, 7/2 = 3.5 -> 4.
  std::vector<float> data = blockWithAmax(7.0f);
  std::string error;
  auto floorOut =
      fakeQuantize(data.data(), {1, 32}, parseOrDie("mxfp4"), error);
  ASSERT_TRUE(floorOut) << error;
  EXPECT_EQ((*floorOut)[0], 6.0f);
  EXPECT_EQ((*floorOut)[1], -1.0f);
  EXPECT_EQ((*floorOut)[2], 0.5f);
  EXPECT_EQ((*floorOut)[3], 2.0f); // 2.5 -> 2 (tie to even)
  auto ceilOut = fakeQuantize(
      data.data(), {1, 32}, parseOrDie("mxfp4, scale_rounding = ceil"), error);
  ASSERT_TRUE(ceilOut) << error;
  EXPECT_EQ((*ceilOut)[0], 8.0f);  // 3.5 -> 4, x2
  EXPECT_EQ((*ceilOut)[1], -1.0f); // 0.5 x2
  EXPECT_EQ((*ceilOut)[2], 0.0f);  // 0.25 -> 0
  EXPECT_EQ((*ceilOut)[3], 2.0f);  // 1.25 -> 1, x2
  QuantizedTensor q = quantizeOrDie(data, {1, 32}, parseOrDie("mxfp4"));
  EXPECT_EQ(q.codes[0], 7);
  EXPECT_EQ(q.codes[1], 0xA);
  EXPECT_EQ(q.codes[2], 1);
  EXPECT_EQ(q.codes[3], 4);
}

TEST(FormatMX, NaNAndInfPoisonOnlyTheirBlock) {
  for (float poison : {kNaN, kInf, -kInf}) {
    std::vector<float> data(64);
    for (int i = 0; i < 64; ++i) // e2m1 values x 2^-2
      data[i] = 0.25f * decodeElement(i % 8, kE2M1);
    data[5] = poison;
    QuantizedTensor q = quantizeOrDie(data, {1, 64}, parseOrDie("mxfp4"));
    ASSERT_EQ(q.scales.size(), 2u);
    EXPECT_EQ(q.scales[0], 0xFFu);
    for (int i = 0; i < 32; ++i)
      EXPECT_EQ(q.codes[i], 0) << i;
    // Block 1: amax 1.5, E = 0 -> 2^(0 - 2).
    EXPECT_EQ(q.scales[1], 125u);
    std::vector<float> out = dequantize(q);
    for (int i = 0; i < 32; ++i)
      EXPECT_TRUE(std::isnan(out[i])) << i;
    for (int i = 32; i < 64; ++i)
      EXPECT_EQ(out[i], data[i]) << i; // exactly representable
  }
  // f32 / e4m3 scales mark the block with their own NaN.
  std::vector<float> data = {1.0f, kNaN, 3.0f, 4.0f};
  QuantizedTensor q8 = quantizeOrDie(data, {2, 2}, parseOrDie("int8"));
  EXPECT_TRUE(std::isnan(bitsToFloat(q8.scales[0])));
  EXPECT_EQ(bitsToFloat(q8.scales[1]), 4.0f / 127);
  std::vector<float> nv(32, 1.0f);
  nv[20] = kInf;
  QuantizedTensor qnv = quantizeOrDie(nv, {1, 32}, parseOrDie("nvfp4"));
  EXPECT_EQ(qnv.scales[1], 0x7Fu);
  EXPECT_EQ(qnv.tensorScale, 1.0f / 2688); // the Inf is not in the amax
  EXPECT_TRUE(std::isnan(dequantize(qnv)[16]));
  EXPECT_EQ(dequantize(qnv)[0], 1.0f);
}

TEST(FormatMX, ZeroBlock) {
  std::vector<float> data(32, 0.0f);
  data[7] = -0.0f;
  QuantizedTensor q = quantizeOrDie(data, {32}, parseOrDie("mxfp4"));
  EXPECT_EQ(q.scales[0], 0u); // 2^-127
  EXPECT_EQ(decodeScale(q.scales[0], ScaleType::E8M0), std::ldexp(1.0f, -127));
  EXPECT_EQ(q.codes[7], 0x8);
  std::vector<float> out = dequantize(q);
  for (float v : out)
    EXPECT_EQ(v, 0.0f);
  EXPECT_TRUE(std::signbit(out[7]));
}

TEST(FormatMX, Mxint8) {
  std::vector<float> data(64, 0.0f);
  data[0] = 1.0f;  // block 0: amax 1 -> E = 0 - emax 0 -> 2^0
  data[1] = 0.5f;  // -> code 32
  data[2] = -1.0f; // -> -64
  data[32] = 3.0f; // block 1: amax 3 -> E = 1 -> 2^1; 1.5 -> 96
  data[33] = 0.01f;
  QuantizedTensor q = quantizeOrDie(data, {2, 32}, parseOrDie("mxint8"));
  EXPECT_EQ(q.scales[0], 127u);
  EXPECT_EQ(q.scales[1], 128u);
  EXPECT_EQ(q.codes[0], 64);
  EXPECT_EQ(q.codes[1], 32);
  EXPECT_EQ(q.codes[2], 0xC0);
  EXPECT_EQ(q.codes[32], 96);
  EXPECT_EQ(q.codes[33], 0); // 0.005 * 64 = 0.32 -> 0
  std::vector<float> out = dequantize(q);
  EXPECT_EQ(out[32], 3.0f);
  EXPECT_EQ(out[2], -1.0f);
}

//===----------------------------------------------------------------------===//
// NV formats (E4M3 block scale + f32 tensor scale)
//===----------------------------------------------------------------------===//

TEST(FormatNV, Nvfp4HandWorked) {
  // Three blocks of 16. Tensor amax 5376 -> s2 = 5376 / (6 * 448) = 2.
  std::vector<float> data(48, 0.0f);
  // Block 0: amax 5376 -> sb = 5376/6/2 = 448 (0x7E), effective 896.
  data[0] = 5376.0f; // 6 -> code 7
  data[1] = 1000.0f; // 1000/896 = 1.116 -> 1 (code 2) -> 896
  // Block 1: amax 3 -> sb = 0.5/2 = 0.25 (0x28), effective 0.5.
  data[16] = 3.0f;  // 6 -> 7
  data[17] = 1.0f;  // 2 -> 4
  data[18] = -0.3f; // 0.6 -> 0.5 -> code 0x9 -> -0.25
  // Block 2: amax 15.6 -> sb = 2.6/2 = 1.3 -> E4M3 1.25 (0x3A), effective 2.5.
  data[32] = 15.6f; // 6.24 -> 6 -> 15
  data[33] = 5.0f;  // 2 -> 5
  QuantizedTensor q = quantizeOrDie(data, {1, 48}, parseOrDie("nvfp4"));
  EXPECT_EQ(q.tensorScale, 2.0f);
  ASSERT_EQ(q.scales.size(), 3u);
  EXPECT_EQ(q.scales[0], 0x7Eu);
  EXPECT_EQ(q.scales[1], 0x28u);
  EXPECT_EQ(q.scales[2], 0x3Au);
  EXPECT_EQ(q.codes[0], 7);
  EXPECT_EQ(q.codes[1], 2);
  EXPECT_EQ(q.codes[16], 7);
  EXPECT_EQ(q.codes[17], 4);
  EXPECT_EQ(q.codes[18], 0x9);
  EXPECT_EQ(q.codes[32], 7);
  EXPECT_EQ(q.codes[33], 4);
  std::vector<float> out = dequantize(q);
  EXPECT_EQ(out[0], 5376.0f);
  EXPECT_EQ(out[1], 896.0f);
  EXPECT_EQ(out[16], 3.0f);
  EXPECT_EQ(out[17], 1.0f);
  EXPECT_EQ(out[18], -0.25f);
  EXPECT_EQ(out[32], 15.0f);
  EXPECT_EQ(out[33], 5.0f);
}

TEST(FormatNV, Nvfp4BlockScaleClampsAndGeneralS2) {
  // Tensor amax 10: s2 = 10 / 2688 (f32). Block 0 reaches sb ~ 448.
  std::vector<float> data(32, 0.0f);
  data[0] = 10.0f;
  data[16] = 1e-6f; // sb = 1e-6/6/s2 ~ 4.5e-5 < 2^-9: clamps to 2^-9
  QuantizedTensor q = quantizeOrDie(data, {2, 16}, parseOrDie("nvfp4"));
  EXPECT_EQ(q.tensorScale, 10.0f / 2688.0f);
  EXPECT_EQ(q.scales[0], 0x7Eu);
  EXPECT_EQ(q.codes[0], 7);
  EXPECT_EQ(q.scales[1], 0x01u);
  // 1e-6 / (2^-9 * s2) = 0.0717 -> 0.
  EXPECT_EQ(q.codes[16], 0);
  // All-zero tensor: s2 = 1, every block scale clamps to 2^-9.
  std::vector<float> zeros(16, 0.0f);
  QuantizedTensor qz = quantizeOrDie(zeros, {16}, parseOrDie("nvfp4"));
  EXPECT_EQ(qz.tensorScale, 1.0f);
  EXPECT_EQ(qz.scales[0], 0x01u);
  EXPECT_EQ(dequantize(qz), zeros);
}

TEST(FormatNV, E4M3ScaleWithoutSecondLevel) {
  // sb = amax / 6 directly: 6 -> 1.0 (0x38); a zero block clamps to 2^-9.
  std::vector<float> data(32, 0.0f);
  data[0] = 6.0f;
  data[1] = 2.5f;
  QuantizedTensor q =
      quantizeOrDie(data, {32}, parseOrDie("e2m1_g16, scale = e4m3"));
  EXPECT_EQ(q.tensorScale, 1.0f);
  EXPECT_EQ(q.scales, (std::vector<uint32_t>{0x38, 0x01}));
  EXPECT_EQ(dequantize(q)[1], 2.0f);
  EXPECT_EQ(pack(q).size(), 16u + 2u); // no tensor scale
}

TEST(FormatNV, Nvint4) {
  // Tensor amax 6272 -> s2 = 6272 / (7 * 448) = 2.
  std::vector<float> data(32, 0.0f);
  data[0] = 6272.0f; // sb 448, effective 896 -> 7
  data[16] = 7.0f;   // sb = 1/2 = 0.5 (0x30), effective 1 -> 7
  data[17] = -3.5f;  // -> -4 (tie to even)
  data[18] = 2.5f;   // -> 2
  QuantizedTensor q = quantizeOrDie(data, {32}, parseOrDie("nvint4"));
  EXPECT_EQ(q.tensorScale, 2.0f);
  EXPECT_EQ(q.scales[0], 0x7Eu);
  EXPECT_EQ(q.scales[1], 0x30u);
  EXPECT_EQ(q.codes[0], 7);
  EXPECT_EQ(q.codes[16], 7);
  EXPECT_EQ(q.codes[17], 0xC);
  EXPECT_EQ(q.codes[18], 2);
  std::vector<float> out = dequantize(q);
  EXPECT_EQ(out[0], 6272.0f);
  EXPECT_EQ(out[17], -4.0f);
  EXPECT_EQ(out[18], 2.0f);
}

//===----------------------------------------------------------------------===//
// Integer and minifloat formats with f32 scales
//===----------------------------------------------------------------------===//

TEST(FormatInt, Int8PerAxis) {
  // Row 0: amax 127 -> scale 1. Row 1: amax 254 -> scale 2.
  std::vector<float> data = {127.0f, -3.5f, 2.5f, 0.4f,
                             254.0f, -1.0f, 3.0f, 100.0f};
  QuantizedTensor q = quantizeOrDie(data, {2, 4}, parseOrDie("int8"));
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_EQ(bitsToFloat(q.scales[0]), 1.0f);
  EXPECT_EQ(bitsToFloat(q.scales[1]), 2.0f);
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{127, 0xFC, 2, 0, 127, 0, 2, 50}));
  EXPECT_EQ(dequantize(q), (std::vector<float>{127, -4, 2, 0, 254, 0, 4, 100}));
  // Per-axis along axis 0: one scale per column.
  QuantizedTensor q0 =
      quantizeOrDie(data, {2, 4}, parseOrDie("int8, axis = 0"));
  ASSERT_EQ(q0.scales.size(), 4u);
  EXPECT_EQ(bitsToFloat(q0.scales[0]), 2.0f);
  EXPECT_EQ(bitsToFloat(q0.scales[3]), 100.0f / 127);
  // A zero row gets scale 1.
  std::vector<float> zeros(4, 0.0f);
  QuantizedTensor qz = quantizeOrDie(zeros, {1, 4}, parseOrDie("int8"));
  EXPECT_EQ(bitsToFloat(qz.scales[0]), 1.0f);
}

TEST(FormatInt, Int4Groups) {
  std::vector<float> data(64, 0.0f);
  data[0] = 7.0f;   // block 0: scale 1
  data[1] = -6.5f;  // -> -6
  data[32] = 14.0f; // block 1: scale 2
  data[33] = 5.0f;  // 2.5 -> 2 -> 4
  QuantizedTensor q = quantizeOrDie(data, {1, 64}, parseOrDie("int4_g32"));
  EXPECT_EQ(bitsToFloat(q.scales[0]), 1.0f);
  EXPECT_EQ(bitsToFloat(q.scales[1]), 2.0f);
  EXPECT_EQ(q.codes[1], 0xA);
  std::vector<float> out = dequantize(q);
  EXPECT_EQ(out[1], -6.0f);
  EXPECT_EQ(out[33], 4.0f);
  // clip 0.5: block 1's amax 14 -> 7, scale 1; 14 saturates at 7.
  QuantizedTensor qc =
      quantizeOrDie(data, {1, 64}, parseOrDie("int4_g32, clip = 0.5"));
  EXPECT_EQ(bitsToFloat(qc.scales[1]), 1.0f);
  EXPECT_EQ(dequantize(qc)[32], 7.0f);
  // f16 and bf16 scales are rounded before use: amax 1 -> 1/7.
  QuantizedTensor qh =
      quantizeOrDie(data, {1, 64}, parseOrDie("int4_g32, scale = f16"));
  EXPECT_EQ(qh.scales[1], 0x4000u); // 2.0
  std::vector<float> third(32, 0.0f);
  third[0] = 1.0f;
  QuantizedTensor qb =
      quantizeOrDie(third, {32}, parseOrDie("int4_g32, scale = bf16"));
  EXPECT_EQ(qb.scales[0], 0x3E12u); // bf16(1/7 = 0.142857) = 0.142578125
  EXPECT_EQ(dequantize(qb)[0], 7.0f * 0.142578125f);
}

TEST(FormatInt, AsymmetricUint8) {
  // lo -100, hi 155: scale 255/255 = 1, zero point 100.
  std::vector<float> data = {-100.0f, 0.0f, 155.0f, 20.5f, 21.5f, 300.0f};
  QuantizedTensor q = quantizeOrDie({-100.0f, 0.0f, 155.0f, 20.5f}, {1, 4},
                                    parseOrDie("uint8"));
  EXPECT_EQ(bitsToFloat(q.scales[0]), 1.0f);
  ASSERT_EQ(q.zeroPoints.size(), 1u);
  EXPECT_EQ(q.zeroPoints[0], 100);
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{0, 100, 255, 120})); // 20.5 -> 20
  EXPECT_EQ(dequantize(q), (std::vector<float>{-100, 0, 155, 20}));
  // lo -10, hi 500: scale 2, zero point round(5) = 5.
  QuantizedTensor q2 = quantizeOrDie({-10.0f, 500.0f, 3.0f, 5.0f}, {4},
                                     parseOrDie("uint8, granularity = tensor"));
  EXPECT_EQ(bitsToFloat(q2.scales[0]), 2.0f);
  EXPECT_EQ(q2.zeroPoints[0], 5);
  EXPECT_EQ(q2.codes, (std::vector<uint8_t>{0, 255, 7, 7})); // 1.5->2, 2.5->2
  // All positive: the range is widened to include 0, zero point 0.
  QuantizedTensor q3 = quantizeOrDie({2.0f, 255.0f}, {2}, parseOrDie("uint8"));
  EXPECT_EQ(q3.zeroPoints[0], 0);
  EXPECT_EQ(q3.codes, (std::vector<uint8_t>{2, 255}));
  // uint4: lo -3, hi 12 -> scale 1, zero point 3.
  QuantizedTensor q4 =
      quantizeOrDie({-3.0f, 12.0f, 0.0f}, {3}, parseOrDie("uint4"));
  EXPECT_EQ(q4.zeroPoints[0], 3);
  EXPECT_EQ(q4.codes, (std::vector<uint8_t>{0, 15, 3}));
}

TEST(FormatMinifloat, E3M2PerAxis) {
  // Row 0: amax 28 -> scale 1. Row 1: amax 56 -> scale 2.
  std::vector<float> data = {28.0f, 0.3f, -5.0f, 56.0f, -9.0f, 1.0f};
  QuantizedTensor q = quantizeOrDie(data, {2, 3}, parseOrDie("e3m2"));
  EXPECT_EQ(bitsToFloat(q.scales[0]), 1.0f);
  EXPECT_EQ(bitsToFloat(q.scales[1]), 2.0f);
  // 0.3: e = -2 (= emin), 0.3 * 16 = 4.8 -> 5 -> 0.3125.
  // -9/2 = -4.5: step 1 at e = 2, tie 4 | 5 -> 4.
  EXPECT_EQ(dequantize(q), (std::vector<float>{28, 0.3125f, -5, 56, -8, 1}));
  // Non-saturating e5m2 with clipping: the clipped-away values become Inf.
  QuantizedTensor q5 = quantizeOrDie(
      {1000.0f, 10.0f}, {2}, parseOrDie("e5m2, saturate = false, clip = 0.5"));
  EXPECT_EQ(q5.codes[0], 0x7C);
  EXPECT_EQ(dequantize(q5)[0], kInf);
}

TEST(FormatGranularity, Block2DTiles) {
  // 4x4 in 2x2 tiles: tile (r/2, c/2) has amax 127 * (tile index + 1).
  std::vector<float> data(16, 0.0f);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      data[r * 4 + c] = ((r / 2) * 2 + (c / 2) + 1) *
                        ((r % 2 == 1 && c % 2 == 1) ? 127.0f : 1.0f);
  Format f = parseOrDie("int8, block = 2, block2 = 2");
  EXPECT_EQ(f.granularity, Granularity::Block2D);
  QuantizedTensor q = quantizeOrDie(data, {4, 4}, f);
  ASSERT_EQ(q.scales.size(), 4u);
  for (int t = 0; t < 4; ++t)
    EXPECT_EQ(bitsToFloat(q.scales[t]), float(t + 1)) << t;
  EXPECT_EQ(dequantize(q), data);
  std::string error;
  EXPECT_EQ(*scaleShape({3, 32, 64}, parseOrDie("nvfp4, block2 = 16"), error),
            (std::vector<int64_t>{3, 2, 4}));
}

TEST(FormatGranularity, ScaleShapes) {
  std::string error;
  EXPECT_EQ(*scaleShape({4, 64}, parseOrDie("mxfp4"), error),
            (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(*scaleShape({4, 64}, parseOrDie("int8"), error),
            (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(
      *scaleShape({4, 64}, parseOrDie("int8, granularity = tensor"), error),
      (std::vector<int64_t>{}));
  EXPECT_EQ(*scaleShape({64, 3}, parseOrDie("mxfp4, axis = 0"), error),
            (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(*scaleShape({2, 64, 3}, parseOrDie("mxfp4, axis = -2"), error),
            (std::vector<int64_t>{2, 2, 3}));
  EXPECT_FALSE(scaleShape({4, 64}, parseOrDie("mxfp4, axis = 2"), error));
  EXPECT_EQ(error, "axis 2 is out of range for a rank-2 tensor");
  EXPECT_FALSE(scaleShape({4, 100}, parseOrDie("mxfp4"), error));
  EXPECT_EQ(error,
            "dimension 1 of size 100 is not divisible by the block size 32");
  EXPECT_FALSE(
      scaleShape({64}, parseOrDie("int8, block = 16, block2 = 16"), error));
  EXPECT_NE(error.find("rank"), std::string::npos);
  std::vector<float> data(400, 1.0f);
  EXPECT_FALSE(quantize(data.data(), {4, 100}, parseOrDie("mxfp4"), error));
  EXPECT_EQ(error,
            "dimension 1 of size 100 is not divisible by the block size 32");
  EXPECT_FALSE(packedSizeInBytes({4, 100}, parseOrDie("mxfp4"), error));
  // Per-tensor scales a rank-0 tensor.
  QuantizedTensor q =
      quantizeOrDie({3.0f}, {}, parseOrDie("int8, granularity = tensor"));
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{127}));
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

TEST(FormatPack, NibbleOrderAndLayout) {
  QuantizedTensor q;
  q.shape = {1, 32};
  q.format = parseOrDie("mxfp4");
  q.codes.assign(32, 0);
  q.codes[0] = 1;
  q.codes[1] = 2;
  q.codes[2] = 3;
  q.codes[3] = 4;
  q.codes[31] = 0xF;
  q.scales = {0x85};
  std::vector<uint8_t> bytes = pack(q);
  ASSERT_EQ(bytes.size(), 17u);
  EXPECT_EQ(bytes[0], 0x21); // element 0 in the low nibble
  EXPECT_EQ(bytes[1], 0x43);
  EXPECT_EQ(bytes[15], 0xF0);
  EXPECT_EQ(bytes[16], 0x85);
  std::string error;
  auto back = unpack(bytes.data(), bytes.size(), q.shape, q.format, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->codes, q.codes);
  EXPECT_EQ(back->scales, q.scales);
  EXPECT_FALSE(unpack(bytes.data(), 16, q.shape, q.format, error));
  EXPECT_NE(error.find("needs 17 bytes, got 16"), std::string::npos) << error;
}

TEST(FormatPack, SixAndThreeBitStreams) {
  QuantizedTensor q6;
  q6.shape = {4};
  q6.format = parseOrDie("e3m2, granularity = tensor");
  q6.codes = {0x3F, 0x01, 0x2A, 0x15};
  q6.scales = {floatToBits(1.5f)};
  std::vector<uint8_t> b6 = pack(q6);
  ASSERT_EQ(b6.size(), 3u + 4u);
  EXPECT_EQ(b6[0], 0x7F); // 111111 | 01 (low bits of element 1)
  EXPECT_EQ(b6[1], 0xA0); // 0000 (rest of element 1) | 1010
  EXPECT_EQ(b6[2], 0x56); // 10 | 010101
  EXPECT_EQ(b6[3], 0x00); // 1.5f = 0x3FC00000, little-endian
  EXPECT_EQ(b6[6], 0x3F);
  EXPECT_EQ(b6[5], 0xC0);
  std::string error;
  auto back6 = unpack(b6.data(), b6.size(), q6.shape, q6.format, error);
  ASSERT_TRUE(back6) << error;
  EXPECT_EQ(back6->codes, q6.codes);
  EXPECT_EQ(back6->scales, q6.scales);

  QuantizedTensor q3;
  q3.shape = {8};
  q3.format = parseOrDie("int3, granularity = tensor, scale = f16");
  q3.codes = {7, 0, 5, 2, 3, 1, 6, 4};
  q3.scales = {0x3C00};
  std::vector<uint8_t> b3 = pack(q3);
  // sum code_i << 3i = 0x98B547
  ASSERT_EQ(b3.size(), 3u + 2u);
  EXPECT_EQ(b3[0], 0x47);
  EXPECT_EQ(b3[1], 0xB5);
  EXPECT_EQ(b3[2], 0x98);
  EXPECT_EQ(b3[3], 0x00);
  EXPECT_EQ(b3[4], 0x3C);
  auto back3 = unpack(b3.data(), b3.size(), q3.shape, q3.format, error);
  ASSERT_TRUE(back3) << error;
  EXPECT_EQ(back3->codes, q3.codes);
}

TEST(FormatPack, EveryAliasRoundTrips) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> data(4 * 128);
  for (float &x : data)
    x = normal(rng);
  for (const std::string &name : namedFormats()) {
    Format f = parseOrDie(name);
    std::string error;
    std::optional<QuantizedTensor> q =
        quantize(data.data(), {4, 128}, f, error);
    ASSERT_TRUE(q) << name << ": " << error;
    std::vector<uint8_t> bytes = pack(*q);
    EXPECT_EQ(int64_t(bytes.size()), *packedSizeInBytes({4, 128}, f, error))
        << name;
    auto back = unpack(bytes.data(), bytes.size(), {4, 128}, f, error);
    ASSERT_TRUE(back) << name << ": " << error;
    EXPECT_EQ(back->codes, q->codes) << name;
    EXPECT_EQ(back->scales, q->scales) << name;
    EXPECT_EQ(back->zeroPoints, q->zeroPoints) << name;
    EXPECT_EQ(back->tensorScale, q->tensorScale) << name;
    std::vector<float> a = dequantize(*q), b = dequantize(*back);
    ASSERT_EQ(a.size(), data.size()) << name;
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
        << name;
  }
}

TEST(FormatPack, BitsPerElement) {
  EXPECT_EQ(bitsPerElement({1, 32}, parseOrDie("mxfp4")), 4.25);
  EXPECT_EQ(bitsPerElement({1, 32}, parseOrDie("mxfp8_e4m3")), 8.25);
  EXPECT_EQ(bitsPerElement({1, 16}, parseOrDie("nvfp4")), 6.5); // 8+1+4 bytes
  EXPECT_EQ(bitsPerElement({128, 4096}, parseOrDie("nvfp4")),
            4.5 + 32.0 / (128 * 4096));
  EXPECT_EQ(bitsPerElement({4, 4096}, parseOrDie("int8")), 8.0 + 32.0 / 4096);
  EXPECT_EQ(bitsPerElement({4, 4096}, parseOrDie("uint8")), 8.0 + 40.0 / 4096);
  EXPECT_EQ(bitsPerElement({1, 128}, parseOrDie("int4_g32")), 5.0);
  EXPECT_TRUE(std::isnan(bitsPerElement({1, 100}, parseOrDie("mxfp4"))));
}

//===----------------------------------------------------------------------===//
// Spec parsing and printing
//===----------------------------------------------------------------------===//

TEST(FormatSpec, AliasFields) {
  Format mxfp4 = parseOrDie("mxfp4");
  EXPECT_EQ(mxfp4.element, kE2M1);
  EXPECT_EQ(mxfp4.granularity, Granularity::Block);
  EXPECT_EQ(mxfp4.blockSize, 32);
  EXPECT_EQ(mxfp4.axis, -1);
  EXPECT_EQ(mxfp4.scaleType, ScaleType::E8M0);
  EXPECT_EQ(mxfp4.scaleRounding, ScaleRounding::Floor);
  EXPECT_EQ(parseOrDie("mxint8").element, ElementType::integer(8, true, 6));
  Format nvfp4 = parseOrDie("nvfp4");
  EXPECT_EQ(nvfp4.blockSize, 16);
  EXPECT_EQ(nvfp4.scaleType, ScaleType::E4M3);
  EXPECT_TRUE(nvfp4.secondLevelScale);
  EXPECT_EQ(parseOrDie("nvint4").element, ElementType::integer(4));
  Format int8 = parseOrDie("int8");
  EXPECT_EQ(int8.granularity, Granularity::PerAxis);
  EXPECT_EQ(int8.scaleType, ScaleType::F32);
  EXPECT_TRUE(int8.symmetric);
  Format g128 = parseOrDie("int4_g128");
  EXPECT_EQ(g128.granularity, Granularity::Block);
  EXPECT_EQ(g128.blockSize, 128);
  Format e3m2 = parseOrDie("e3m2");
  EXPECT_EQ(e3m2.element, kE3M2);
  EXPECT_EQ(e3m2.granularity, Granularity::PerAxis);
  Format g = parseOrDie("int8_g32");
  EXPECT_EQ(g.blockSize, 32);
  EXPECT_EQ(g.scaleType, ScaleType::F32);
  EXPECT_EQ(parseOrDie("mxfp4_g16").scaleType, ScaleType::E8M0);
  EXPECT_EQ(parseOrDie("e2m1_g32").blockSize, 32);
  EXPECT_FALSE(parseOrDie("uint8").symmetric);
  Format spaced = parseOrDie("  mxfp4 ,scale_rounding=ceil ");
  EXPECT_EQ(spaced.scaleRounding, ScaleRounding::Ceil);
  // Every eXmY with 3 to 8 bits is an alias.
  int minifloats = 0;
  for (const std::string &name : namedFormats())
    minifloats += name[0] == 'e';
  EXPECT_EQ(minifloats, 2 + 3 + 4 + 5 + 6 + 7);
}

TEST(FormatSpec, EveryAliasPrintsAsItself) {
  for (const std::string &name : namedFormats()) {
    Format f = parseOrDie(name);
    EXPECT_EQ(verifyFormat(f), "") << name;
    EXPECT_EQ(printFormat(f), name);
  }
}

TEST(FormatSpec, OverridesRoundTrip) {
  const char *specs[] = {
      "mxfp4, scale_rounding = ceil",
      "mxfp4, scale_rounding = nearest",
      "mxfp4, clip = 0.9",
      "mxfp4, axis = 0",
      "int8_g32",
      "e2m1_g32",
      "mxfp4_g16",
      "nvfp4, block2 = 16",
      "int8, granularity = tensor",
      "int8, scale = bf16",
      "uint8, scale = f16",
      "uint4_g64",
      "mxfp8_e4m3, saturate = false",
      "e4m3, special = finite",
      "e4m3, bias = 8",
      "mxfp8_e5m2, special = nan, saturate = false",
      "e4m3, block = 16, scale = e8m0",
      "e2m1, block = 16, scale = e4m3",
      "mxfp4, element = int4",
      "mxint8, element = int8_frac4",
      "int8, block = 16, block2 = 32",
      "int4, granularity = tensor, clip = 0.123456789",
      "nvint4, block = 32",
      "e5m2, axis = 1, clip = 0.001",
      "int8, element = uint8, symmetric = true",
  };
  for (const char *spec : specs) {
    Format f = parseOrDie(spec);
    std::string printed = printFormat(f);
    std::string error;
    std::optional<Format> back = parseFormat(printed, error);
    ASSERT_TRUE(back) << spec << " -> " << printed << ": " << error;
    EXPECT_EQ(*back, f) << spec << " -> " << printed;
    EXPECT_EQ(printFormat(*back), printed);
    for (char c : printed)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                  c == ',' || c == ' ' || c == '=' || c == '.' || c == '-')
          << printed;
  }
  EXPECT_EQ(printFormat(parseOrDie("mxfp4, scale_rounding = ceil")),
            "mxfp4, scale_rounding = ceil");
  EXPECT_EQ(printFormat(parseOrDie("int8, block = 32")), "int8_g32");
  EXPECT_EQ(printFormat(parseOrDie("int4, block = 128")), "int4_g128");
  EXPECT_EQ(printFormat(parseOrDie("e2m1, block = 32, scale = e8m0")), "mxfp4");
  EXPECT_EQ(printFormat(parseOrDie("mxfp4, clip = 0.9")), "mxfp4, clip = 0.9");
  EXPECT_EQ(printFormat(parseOrDie("nvfp4, block2 = 16")),
            "nvfp4, block2 = 16");
  EXPECT_EQ(printFormat(parseOrDie("e4m3, special = nan, bias = 7")), "e4m3");
  EXPECT_EQ(printFormat(parseOrDie("e5m2, clip = 0.001")),
            "e5m2, clip = 0.001");
}

// Many combinations of options: every legal one prints to a spec that
// parses back to the same format.
TEST(FormatSpec, GeneratedCombinationsRoundTrip) {
  const char *options[] = {
      "",
      ", scale_rounding = ceil",
      ", granularity = tensor",
      ", granularity = axis",
      ", block = 64",
      ", block = 8, block2 = 4",
      ", scale = f16",
      ", scale = e8m0",
      ", scale = e4m3",
      ", scale = e4m3, second_level_scale = true",
      ", second_level_scale = false, scale = bf16",
      ", clip = 0.75",
      ", saturate = false",
      ", axis = -2",
      ", symmetric = true",
  };
  int legal = 0;
  for (const std::string &name : namedFormats())
    for (const char *a : options)
      for (const char *b : options) {
        std::string spec = name + a + b;
        std::string error;
        std::optional<Format> f = parseFormat(spec, error);
        if (!f) {
          EXPECT_EQ(error.find('\n'), std::string::npos);
          EXPECT_FALSE(error.empty());
          continue;
        }
        ++legal;
        std::string printed = printFormat(*f);
        std::optional<Format> back = parseFormat(printed, error);
        ASSERT_TRUE(back) << spec << " -> " << printed << ": " << error;
        EXPECT_EQ(*back, *f) << spec << " -> " << printed;
      }
  EXPECT_GT(legal, 1000);
}

TEST(FormatSpec, BadSpecsAreRejected) {
  struct Case {
    const char *spec;
    const char *message;
  } cases[] = {
      {"mxfp3", "unknown format 'mxfp3' (known: mxfp4, "},
      {"", "empty format spec"},
      {"e9m0", "unknown format 'e9m0'"},
      {"int9", "unknown format 'int9'"},
      {"int4_g0", "unknown format 'int4_g0'"},
      {"mxfp4, foo = 1", "unknown format option 'foo' (known: element, "},
      {"mxfp4, scale = e5m2", "invalid value 'e5m2' for format option 'scale'"},
      {"mxfp4, block = 0", "invalid value '0' for format option 'block'"},
      {"mxfp4, block = x", "invalid value 'x' for format option 'block'"},
      {"mxfp4, clip = 1.5", "invalid value '1.5' for format option 'clip'"},
      {"mxfp4, clip = 0", "invalid value '0' for format option 'clip'"},
      {"mxfp4, symmetric = maybe", "expected true or false"},
      {"mxfp4, scale_rounding", "expected 'key = value'"},
      {"mxfp4,", "expected 'key = value'"},
      {", block = 3", "must start with a format name"},
      {"mxfp4, element = e4m4", "has 9 bits"},
      {"mxfp4, element = fp4",
       "invalid value 'fp4' for format option 'element'"},
      {"int8, symmetric = false", "needs an unsigned integer element"},
      {"uint8, scale = e8m0", "asymmetric quantization needs an f32"},
      {"nvfp4, scale = f32", "second_level_scale needs an e4m3 block scale"},
      {"int8, scale_rounding = ceil", "applies only to power-of-two (e8m0)"},
      {"int8, saturate = false", "always saturates"},
      {"int8, bias = 3", "has no exponent, mantissa or bias"},
      {"e3m0, special = ieee", "special = ieee needs"},
      {"e4m3, bias = 2000", "invalid value '2000'"},
      {"e4m3, bias = 130", "bias 130 of e4m3 is out of range [-112, 127]"},
      {"mxfp4, granularity = tensor, axis = 0", "has no axis"},
      {"int8, granularity = block", "needs a positive block size"},
      {"int8, granularity = sideways",
       "expected tensor, axis, block or block2d"},
  };
  for (const Case &c : cases) {
    std::string error;
    EXPECT_FALSE(parseFormat(c.spec, error)) << c.spec;
    EXPECT_NE(error.find(c.message), std::string::npos)
        << c.spec << " gave: " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST(FormatSpec, VerifyCatchesHandBuiltFormats) {
  Format f = parseOrDie("mxfp4");
  EXPECT_EQ(verifyFormat(f), "");
  Format noBlock = f;
  noBlock.blockSize = 0;
  EXPECT_NE(verifyFormat(noBlock), "");
  Format wide = f;
  wide.element = ElementType::integer(9);
  EXPECT_NE(verifyFormat(wide), "");
  Format noExponent = f;
  noExponent.element = ElementType::minifloat(0, 3);
  EXPECT_NE(verifyFormat(noExponent), "");
  Format asym = f;
  asym.symmetric = false;
  EXPECT_NE(verifyFormat(asym), "");
  Format clip = f;
  clip.clipRatio = 0.0f;
  EXPECT_NE(verifyFormat(clip), "");
  clip.clipRatio = kNaN;
  EXPECT_NE(verifyFormat(clip), "");
  Format second = f;
  second.secondLevelScale = true;
  EXPECT_NE(verifyFormat(second), "");
  std::string error;
  std::vector<float> data(32, 1.0f);
  EXPECT_FALSE(quantize(data.data(), {32}, noBlock, error));
  EXPECT_NE(error.find("block"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// End to end
//===----------------------------------------------------------------------===//

TEST(FormatTensor, FakeQuantizeAndMalformedInput) {
  std::vector<float> data = {0.1f, -0.7f, 3.3f, 2.0f};
  std::string error;
  Format f = parseOrDie("e2m3");
  auto fake = fakeQuantize(data.data(), {1, 4}, f, error);
  ASSERT_TRUE(fake) << error;
  EXPECT_EQ(*fake, dequantize(quantizeOrDie(data, {1, 4}, f)));
  QuantizedTensor q = quantizeOrDie(data, {1, 4}, f);
  q.codes.pop_back();
  EXPECT_TRUE(dequantize(q).empty());
}

TEST(FormatQsnr, Basics) {
  float ref[2] = {1.0f, 0.0f};
  float same[2] = {1.0f, 0.0f};
  float off[2] = {0.5f, 0.0f};
  EXPECT_EQ(qsnrDecibels(ref, same, 2),
            std::numeric_limits<double>::infinity());
  EXPECT_NEAR(qsnrDecibels(ref, off, 2), 6.0206, 1e-4); // -10 log10(0.25)
}

// QSNR of each format on standard-normal rows of 4096 against the values of
// "INT v.s. FP" (REFERENCES.md): a sanity check of the whole pipeline.
TEST(FormatQsnr, MatchesPublishedValuesOnGaussianData) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::vector<int64_t> shape = {32, 4096};
  std::vector<float> data(32 * 4096);
  for (float &x : data)
    x = normal(rng);
  struct Expected {
    const char *format;
    double qsnr;
  } expected[] = {
      {"mxint8", 41.7},     {"mxfp8_e4m3", 30.6}, {"mxfp6_e2m3", 30.9},
      {"mxfp6_e3m2", 25.4}, {"mxfp4", 18.8},      {"nvfp4", 20.4},
      {"nvint4", 21.3},     {"int4_g32", 20.3},
  };
  for (const Expected &e : expected) {
    std::string error;
    auto out = fakeQuantize(data.data(), shape, parseOrDie(e.format), error);
    ASSERT_TRUE(out) << error;
    double qsnr = qsnrDecibels(data.data(), out->data(), data.size());
    EXPECT_NEAR(qsnr, e.qsnr, 0.3) << e.format;
    std::printf("  %-12s QSNR %.2f dB (published %.1f)\n", e.format, qsnr,
                e.qsnr);
  }
}

TEST(Format, StaticAmaxFixesThePerTensorScale) {
  // int4 per tensor with a calibrated amax of 14: scale 2 whatever the data;
  // 20 saturates at 7 * 2, 5 -> 2.5 -> 2 (RNE) -> 4.
  std::vector<float> data = {20.0f, 5.0f, -3.0f, 0.0f};
  Format f = parseOrDie("int4, granularity = tensor, amax = 14.0");
  QuantizedTensor q = quantizeOrDie(data, {4}, f);
  EXPECT_EQ(bitsToFloat(q.scales[0]), 2.0f);
  EXPECT_EQ(dequantize(q), (std::vector<float>{14.0f, 4.0f, -4.0f, 0.0f}));
  // The clip ratio multiplies the static amax: 14 * 0.5 -> scale 1.
  QuantizedTensor qc = quantizeOrDie(
      data, {4}, parseOrDie("int4, granularity = tensor, amax = 14.0, clip = 0.5"));
  EXPECT_EQ(bitsToFloat(qc.scales[0]), 1.0f);
  // NVFP4: the static amax sets s2 = amax / (6 * 448).
  std::vector<float> block(16, 1.0f);
  QuantizedTensor qn = quantizeOrDie(block, {16}, parseOrDie("nvfp4, amax = 2688.0"));
  EXPECT_EQ(qn.tensorScale, 1.0f);
  EXPECT_EQ(printFormat(f), "int4, granularity = tensor, amax = 14.0");
  // Only where it fixes a per-tensor scale.
  std::string error;
  EXPECT_FALSE(parseFormat("int4_g32, amax = 3.0", error));
  EXPECT_NE(error.find("static amax"), std::string::npos) << error;
  EXPECT_FALSE(parseFormat("int8, granularity = tensor, amax = -1.0", error));
}
