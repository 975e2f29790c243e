//===- Format.cpp - Low-bit number formats, bit-exact ---------------------===//
//
// The reference semantics of every quantc format. The MLIR lowering and the
// kernels reproduce this arithmetic bit for bit, so the order of every f32
// operation below is part of the definition (see DESIGN.md "The format
// library"). Everything is plain f32 arithmetic in the default rounding mode;
// no operation may be contracted into an FMA.
//
// Decisions not spelled out in Format.h:
//  * Legal formats are canonical: fields that the granularity or the scale
//    type does not use keep their default (blockSize 0 outside Block/Block2D,
//    axis -1 for per-tensor and 2-D blocks, scale_rounding floor unless the
//    scale is e8m0, integer elements have no bias/special/saturate override),
//    so two legal formats that quantize alike compare equal.
//  * Narrow scale types (f32/f16/bf16/e4m3) clamp the computed scale to
//    [smallest positive, largest finite] of the type before rounding, so a
//    block never gets a zero or infinite scale.
//  * NaN inputs encode to the NaN code with the input's sign where the
//    element has a NaN, else to +0. Without saturation only values that
//    *round* past the largest finite value become Inf/NaN (IEEE, OCP).
//  * An e4m3 block scale without a second-level scale is amax / elementMax
//    clamped to [2^-9, 448]; asymmetric formats apply the clip ratio to both
//    ends of [min, max]; NVFP4's s2 falls back to 1 when it is 0 (a zero
//    tensor, or one so small that the division underflows).
//  * Options apply left to right: `element` resets bias/special/saturate to
//    the element's defaults, `block` switches to block granularity,
//    `block2` to block2d, `granularity = tensor|axis` drops block sizes.
//    Element values: eXmY, int<b>, uint<b>, int<b>_frac<k> (MXINT8's is
//    int8_frac6). Unsigned integer aliases (uint8, ...) are asymmetric.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Format.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

// The arithmetic order is the specification: never fuse a*b+c.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace quantc {

namespace {

//===----------------------------------------------------------------------===//
// Bit helpers
//===----------------------------------------------------------------------===//

uint32_t floatToBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// floor(log2(|x|)) read off the f32 exponent field. Zero and f32 subnormals
/// give -127: callers clamp there, and reading the field keeps the lowering
/// (a shift and a mask) trivially identical.
int floorLog2FromExponentBits(float x) {
  return static_cast<int>((floatToBits(x) >> 23) & 0xFF) - 127;
}

/// x * 2^k. Equal to std::ldexp (both give the correctly rounded product),
/// but a plain multiply when 2^k is a normal f32: ldexp's libm call
/// dominated quantize().
float scaleByPowerOfTwo(float x, int k) {
  if (k >= -126 && k <= 127)
    return x * bitsToFloat(static_cast<uint32_t>(k + 127) << 23);
  return std::ldexp(x, k);
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

//===----------------------------------------------------------------------===//
// Minifloat code layout
//===----------------------------------------------------------------------===//

uint32_t signBit(const ElementType &e) { return 1u << (e.bits - 1); }
uint32_t magnitudeMask(const ElementType &e) { return signBit(e) - 1; }
uint32_t mantissaMask(const ElementType &e) {
  return (1u << e.mantissaBits) - 1;
}
uint32_t exponentAllOnes(const ElementType &e) {
  return (1u << e.exponentBits) - 1;
}
int minNormalExponent(const ElementType &e) { return 1 - e.bias; }

/// Magnitude (sign bit clear) of the largest finite code.
uint32_t maxFiniteMagnitude(const ElementType &e) {
  switch (e.special) {
  case SpecialValues::FiniteOnly:
    return magnitudeMask(e);
  case SpecialValues::FiniteAndNaN:
    // Only the all-ones magnitude is NaN.
    return magnitudeMask(e) - 1;
  case SpecialValues::IEEE:
    return ((exponentAllOnes(e) - 1) << e.mantissaBits) | mantissaMask(e);
  }
  return magnitudeMask(e);
}

/// Magnitude of the NaN code (only for FiniteAndNaN and IEEE).
uint32_t nanMagnitude(const ElementType &e) {
  if (e.special == SpecialValues::FiniteAndNaN)
    return magnitudeMask(e);
  // IEEE: exponent all ones with the top mantissa bit set (a quiet NaN).
  return (exponentAllOnes(e) << e.mantissaBits) | (1u << (e.mantissaBits - 1));
}

uint32_t infinityMagnitude(const ElementType &e) {
  return exponentAllOnes(e) << e.mantissaBits;
}

float decodeMinifloat(uint32_t code, const ElementType &e) {
  code &= (1u << e.bits) - 1;
  bool negative = (code & signBit(e)) != 0;
  uint32_t magnitude = code & magnitudeMask(e);
  if (e.special == SpecialValues::FiniteAndNaN && magnitude == magnitudeMask(e))
    return kNaN;
  uint32_t field = magnitude >> e.mantissaBits;
  uint32_t mantissa = magnitude & mantissaMask(e);
  if (e.special == SpecialValues::IEEE && field == exponentAllOnes(e)) {
    if (mantissa != 0)
      return kNaN;
    return negative ? -kInf : kInf;
  }
  float value;
  if (field == 0) // subnormal: 0.m * 2^emin
    value = scaleByPowerOfTwo(static_cast<float>(mantissa),
                              minNormalExponent(e) - e.mantissaBits);
  else
    value =
        scaleByPowerOfTwo(static_cast<float>((1u << e.mantissaBits) + mantissa),
                          static_cast<int>(field) - e.bias - e.mantissaBits);
  return negative ? -value : value;
}

/// Code for a magnitude beyond the largest finite value.
uint32_t overflowMagnitude(const ElementType &e) {
  if (e.saturate || e.special == SpecialValues::FiniteOnly)
    return maxFiniteMagnitude(e);
  if (e.special == SpecialValues::IEEE)
    return infinityMagnitude(e);
  return nanMagnitude(e);
}

/// Round-to-nearest-even of a magnitude `a` (finite, <= maxFinite) to the
/// minifloat grid. The grid step at `a` is 2^(e - M) with e the exponent of
/// `a` clamped to emin, so scaling by 2^(M - e) makes the step 1 and
/// nearbyint does the rounding; both scalings are exact powers of two.
uint32_t roundToMinifloatMagnitude(float a, const ElementType &e,
                                   float maxFinite, bool &overflow) {
  const int m = e.mantissaBits;
  int exponent = std::max(floorLog2FromExponentBits(a), minNormalExponent(e));
  float scaled = scaleByPowerOfTwo(a, m - exponent);
  float rounded = std::nearbyint(scaled);
  float value = scaleByPowerOfTwo(rounded, exponent - m);
  overflow = value > maxFinite; // rounding up can pass the largest value
  if (overflow)
    return 0;
  uint32_t integer = static_cast<uint32_t>(rounded);
  if (integer < (1u << m)) // subnormal: only reachable when exponent == emin
    return integer;
  if (integer >= (2u << m)) { // the rounding carried into the next binade
    integer >>= 1;
    exponent += 1;
  }
  uint32_t field = static_cast<uint32_t>(exponent + e.bias);
  return (field << m) | (integer - (1u << m));
}

uint8_t encodeMinifloat(float value, const ElementType &e) {
  uint32_t sign = (floatToBits(value) >> 31) ? signBit(e) : 0;
  float a = std::fabs(value);
  if (std::isnan(a)) {
    if (e.special == SpecialValues::FiniteOnly)
      return 0;
    return static_cast<uint8_t>(sign | nanMagnitude(e));
  }
  float maxFinite = decodeMinifloat(maxFiniteMagnitude(e), e);
  // Saturating: anything above the largest value clamps to it. Otherwise
  // only what *rounds* above it overflows (IEEE / OCP non-saturating mode:
  // e5m2 61439 is still 57344), which the rounding below detects.
  if (std::isinf(a) || (e.saturate && a > maxFinite))
    return static_cast<uint8_t>(sign | overflowMagnitude(e));
  bool overflow = false;
  uint32_t magnitude = roundToMinifloatMagnitude(a, e, maxFinite, overflow);
  if (overflow)
    magnitude = overflowMagnitude(e);
  return static_cast<uint8_t>(sign | magnitude);
}

//===----------------------------------------------------------------------===//
// Integer codes
//===----------------------------------------------------------------------===//

/// Code range of an integer element. Signed integers are symmetric:
/// -(2^(b-1)-1)..2^(b-1)-1, so that negation never overflows and the grid has
/// no bias (INT v.s. FP, 2025).
void integerCodeRange(const ElementType &e, int &lo, int &hi) {
  if (e.isSigned) {
    hi = (1 << (e.bits - 1)) - 1;
    lo = -hi;
  } else {
    lo = 0;
    hi = (1 << e.bits) - 1;
  }
}

uint8_t encodeInteger(float value, const ElementType &e) {
  if (std::isnan(value))
    return 0;
  int lo, hi;
  integerCodeRange(e, lo, hi);
  float rounded = std::nearbyint(scaleByPowerOfTwo(value, e.fractionBits));
  rounded = std::min(std::max(rounded, static_cast<float>(lo)),
                     static_cast<float>(hi));
  int code = static_cast<int>(rounded);
  return static_cast<uint8_t>(static_cast<unsigned>(code) &
                              ((1u << e.bits) - 1));
}

float decodeInteger(uint32_t code, const ElementType &e) {
  int value = static_cast<int>(code & ((1u << e.bits) - 1));
  if (e.isSigned && (value & (1 << (e.bits - 1))))
    value -= 1 << e.bits;
  return scaleByPowerOfTwo(static_cast<float>(value), -e.fractionBits);
}

//===----------------------------------------------------------------------===//
// Scale types
//===----------------------------------------------------------------------===//

const ElementType &e4m3ScaleElement() {
  static const ElementType e = ElementType::minifloat(4, 3);
  return e;
}

/// f32 -> IEEE binary16, round to nearest even, overflow to Inf.
uint16_t floatToHalfBits(float value) {
  uint32_t bits = floatToBits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  uint32_t a = bits & 0x7FFFFFFF;
  if (a > 0x7F800000)
    return sign | 0x7E00;
  int exponent = static_cast<int>(a >> 23) - 127;
  uint32_t mantissa = a & 0x7FFFFF;
  if (exponent > 15) // >= 65536 (and Inf)
    return sign | 0x7C00;
  if (exponent >= -14) {
    uint32_t half =
        (static_cast<uint32_t>(exponent + 15) << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1FFF;
    // A carry out of the mantissa correctly bumps the exponent (up to Inf).
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
      ++half;
    return static_cast<uint16_t>(sign | half);
  }
  if (exponent < -25) // below half the smallest subnormal (f32 subnormals too)
    return sign;
  // Subnormal result: count units of 2^-24.
  uint32_t significand = mantissa | 0x800000;
  int shift = -exponent - 1; // 14..24
  uint32_t half = significand >> shift;
  uint32_t rest = significand & ((1u << shift) - 1);
  uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half & 1)))
    ++half;
  return static_cast<uint16_t>(sign | half);
}

float halfBitsToFloat(uint32_t half) {
  bool negative = (half & 0x8000) != 0;
  uint32_t exponent = (half >> 10) & 0x1F;
  uint32_t mantissa = half & 0x3FF;
  float value;
  if (exponent == 0x1F)
    value = mantissa ? kNaN : kInf;
  else if (exponent == 0)
    value = std::ldexp(static_cast<float>(mantissa), -24);
  else
    value = std::ldexp(static_cast<float>(1024 + mantissa),
                       static_cast<int>(exponent) - 25);
  return negative ? -value : value;
}

/// f32 -> bfloat16, round to nearest even, overflow to Inf.
uint16_t floatToBFloat16Bits(float value) {
  uint32_t bits = floatToBits(value);
  if ((bits & 0x7FFFFFFF) > 0x7F800000)
    return static_cast<uint16_t>((bits >> 16) | 0x0040);
  uint32_t lsb = (bits >> 16) & 1;
  return static_cast<uint16_t>((bits + 0x7FFF + lsb) >> 16);
}

/// Raw bits of the NaN scale that marks a block holding NaN or Inf.
uint32_t nanScaleBits(ScaleType t) {
  switch (t) {
  case ScaleType::F32:
    return 0x7FC00000;
  case ScaleType::F16:
    return 0x7E00;
  case ScaleType::BF16:
    return 0x7FC0;
  case ScaleType::E8M0:
    return 0xFF;
  case ScaleType::E4M3:
    return 0x7F;
  }
  return 0;
}

/// The positive range a computed (non power-of-two) scale is clamped to.
void scaleTypeRange(ScaleType t, float &minPositive, float &maxFinite) {
  switch (t) {
  case ScaleType::F32:
  case ScaleType::E8M0:
    minPositive = std::numeric_limits<float>::denorm_min();
    maxFinite = FLT_MAX;
    return;
  case ScaleType::F16:
    minPositive = std::ldexp(1.0f, -24);
    maxFinite = 65504.0f;
    return;
  case ScaleType::BF16:
    minPositive = std::ldexp(1.0f, -133);
    maxFinite = bitsToFloat(0x7F7F0000);
    return;
  case ScaleType::E4M3:
    // ModelOpt's NVFP4 clamp: the smallest E4M3 subnormal to the largest.
    minPositive = std::ldexp(1.0f, -9);
    maxFinite = 448.0f;
    return;
  }
}

float clampToScaleRange(float scale, ScaleType t) {
  float minPositive, maxFinite;
  scaleTypeRange(t, minPositive, maxFinite);
  return std::min(std::max(scale, minPositive), maxFinite);
}

} // namespace

//===----------------------------------------------------------------------===//
// ElementType / Format basics
//===----------------------------------------------------------------------===//

ElementType ElementType::integer(int bits, bool isSigned, int fractionBits) {
  ElementType e;
  e.kind = ElementKind::Int;
  e.bits = bits;
  e.isSigned = isSigned;
  e.fractionBits = fractionBits;
  return e;
}

ElementType ElementType::minifloat(int exponentBits, int mantissaBits) {
  ElementType e;
  e.kind = ElementKind::Float;
  e.bits = 1 + exponentBits + mantissaBits;
  e.isSigned = true;
  e.exponentBits = exponentBits;
  e.mantissaBits = mantissaBits;
  e.bias = exponentBits >= 1 && exponentBits <= 30
               ? (1 << (exponentBits - 1)) - 1
               : 0;
  if (exponentBits == 4 && mantissaBits == 3)
    e.special = SpecialValues::FiniteAndNaN;
  else if (exponentBits == 5 && mantissaBits == 2)
    e.special = SpecialValues::IEEE;
  else
    e.special = SpecialValues::FiniteOnly;
  return e;
}

bool ElementType::operator==(const ElementType &o) const {
  return kind == o.kind && bits == o.bits && isSigned == o.isSigned &&
         fractionBits == o.fractionBits && exponentBits == o.exponentBits &&
         mantissaBits == o.mantissaBits && bias == o.bias &&
         special == o.special && saturate == o.saturate;
}

bool Format::operator==(const Format &o) const {
  return element == o.element && granularity == o.granularity &&
         axis == o.axis && blockSize == o.blockSize &&
         blockSize2 == o.blockSize2 && scaleType == o.scaleType &&
         scaleRounding == o.scaleRounding &&
         secondLevelScale == o.secondLevelScale && symmetric == o.symmetric &&
         clipRatio == o.clipRatio && staticAmax == o.staticAmax;
}

//===----------------------------------------------------------------------===//
// Element codes
//===----------------------------------------------------------------------===//

double elementMaxFinite(const ElementType &e) {
  if (e.kind == ElementKind::Int) {
    int lo, hi;
    integerCodeRange(e, lo, hi);
    return std::ldexp(static_cast<double>(hi), -e.fractionBits);
  }
  return decodeMinifloat(maxFiniteMagnitude(e), e);
}

int elementMaxExponent(const ElementType &e) {
  int exponent;
  std::frexp(elementMaxFinite(e), &exponent); // mantissa in [0.5, 1)
  return exponent - 1;
}

uint8_t encodeElement(float value, const ElementType &e) {
  if (e.kind == ElementKind::Int)
    return encodeInteger(value, e);
  return encodeMinifloat(value, e);
}

float decodeElement(uint8_t code, const ElementType &e) {
  if (e.kind == ElementKind::Int)
    return decodeInteger(code, e);
  return decodeMinifloat(code, e);
}

int scaleBits(ScaleType t) {
  switch (t) {
  case ScaleType::F32:
    return 32;
  case ScaleType::F16:
  case ScaleType::BF16:
    return 16;
  case ScaleType::E8M0:
  case ScaleType::E4M3:
    return 8;
  }
  return 32;
}

uint32_t encodeScale(float value, ScaleType t) {
  switch (t) {
  case ScaleType::F32:
    return floatToBits(value);
  case ScaleType::F16:
    return floatToHalfBits(value);
  case ScaleType::BF16:
    return floatToBFloat16Bits(value);
  case ScaleType::E8M0: {
    // The exponent of |value| (rounded down), clamped to the E8M0 range;
    // exact for the powers of two quantize() produces.
    if (!std::isfinite(value))
      return 0xFF;
    int exponent = std::min(floorLog2FromExponentBits(value), 127);
    return static_cast<uint32_t>(std::max(exponent, -127) + 127);
  }
  case ScaleType::E4M3:
    return encodeMinifloat(value, e4m3ScaleElement());
  }
  return 0;
}

float decodeScale(uint32_t bits, ScaleType t) {
  switch (t) {
  case ScaleType::F32:
    return bitsToFloat(bits);
  case ScaleType::F16:
    return halfBitsToFloat(bits & 0xFFFF);
  case ScaleType::BF16:
    return bitsToFloat((bits & 0xFFFF) << 16);
  case ScaleType::E8M0:
    if ((bits & 0xFF) == 0xFF)
      return kNaN;
    return std::ldexp(1.0f, static_cast<int>(bits & 0xFF) - 127);
  case ScaleType::E4M3:
    return decodeMinifloat(bits & 0xFF, e4m3ScaleElement());
  }
  return kNaN;
}

//===----------------------------------------------------------------------===//
// Names, aliases and the spec parser
//===----------------------------------------------------------------------===//

namespace {

struct NamedFormat {
  std::string name;
  Format format;
};

Format mxFormat(const ElementType &e) {
  Format f;
  f.element = e;
  f.granularity = Granularity::Block;
  f.blockSize = 32;
  f.scaleType = ScaleType::E8M0;
  return f;
}

Format nvFormat(const ElementType &e) {
  Format f;
  f.element = e;
  f.granularity = Granularity::Block;
  f.blockSize = 16;
  f.scaleType = ScaleType::E4M3;
  f.secondLevelScale = true;
  return f;
}

Format perAxisFormat(const ElementType &e, bool symmetric = true) {
  Format f;
  f.element = e;
  f.granularity = Granularity::PerAxis;
  f.scaleType = ScaleType::F32;
  f.symmetric = symmetric;
  return f;
}

Format blockFormat(const ElementType &e, int blockSize) {
  Format f = perAxisFormat(e);
  f.granularity = Granularity::Block;
  f.blockSize = blockSize;
  return f;
}

/// Every alias, in the order printFormat prefers them on ties.
const std::vector<NamedFormat> &aliasTable() {
  static const std::vector<NamedFormat> table = [] {
    std::vector<NamedFormat> t;
    t.push_back({"mxfp4", mxFormat(ElementType::minifloat(2, 1))});
    t.push_back({"mxfp6_e2m3", mxFormat(ElementType::minifloat(2, 3))});
    t.push_back({"mxfp6_e3m2", mxFormat(ElementType::minifloat(3, 2))});
    t.push_back({"mxfp8_e4m3", mxFormat(ElementType::minifloat(4, 3))});
    t.push_back({"mxfp8_e5m2", mxFormat(ElementType::minifloat(5, 2))});
    // MXINT8 elements are 1.6 fixed point: code c means c / 64.
    t.push_back({"mxint8", mxFormat(ElementType::integer(8, true, 6))});
    t.push_back({"nvfp4", nvFormat(ElementType::minifloat(2, 1))});
    t.push_back({"nvint4", nvFormat(ElementType::integer(4))});
    t.push_back({"int8", perAxisFormat(ElementType::integer(8))});
    t.push_back({"int4", perAxisFormat(ElementType::integer(4))});
    t.push_back({"int4_g32", blockFormat(ElementType::integer(4), 32)});
    t.push_back({"int4_g128", blockFormat(ElementType::integer(4), 128)});
    for (int bits : {2, 3, 5, 6, 7})
      t.push_back({"int" + std::to_string(bits),
                   perAxisFormat(ElementType::integer(bits))});
    // Unsigned integers are the asymmetric (zero point) formats.
    for (int bits : {8, 4, 2, 3, 5, 6, 7})
      t.push_back({"uint" + std::to_string(bits),
                   perAxisFormat(ElementType::integer(bits, false), false)});
    for (int bits = 3; bits <= 8; ++bits)
      for (int x = 1; x <= bits - 1; ++x) {
        int y = bits - 1 - x;
        t.push_back({"e" + std::to_string(x) + "m" + std::to_string(y),
                     perAxisFormat(ElementType::minifloat(x, y))});
      }
    return t;
  }();
  return table;
}

const char *kKnownAliases =
    "mxfp4, mxfp6_e2m3, mxfp6_e3m2, mxfp8_e4m3, mxfp8_e5m2, mxint8, nvfp4, "
    "nvint4, int2..int8, uint2..uint8, int4_g32, int4_g128, eXmY (3 to 8 "
    "bits), each with an optional _g<N> block suffix";

const char *kKnownKeys =
    "element, block, block2, granularity, axis, scale, scale_rounding, "
    "second_level_scale, symmetric, clip, amax, saturate, special, bias";

std::string trim(const std::string &s) {
  size_t begin = s.find_first_not_of(" \t\n\r");
  if (begin == std::string::npos)
    return "";
  size_t end = s.find_last_not_of(" \t\n\r");
  return s.substr(begin, end - begin + 1);
}

bool parseInteger(const std::string &text, long long &value) {
  if (text.empty())
    return false;
  const char *begin = text.data();
  const char *end = begin + text.size();
  auto result = std::from_chars(begin, end, value);
  return result.ec == std::errc() && result.ptr == end;
}

/// Parses a non-negative decimal number of at most 3 digits at text[pos].
bool parseSmallNumber(const std::string &text, size_t &pos, int &value) {
  size_t start = pos;
  value = 0;
  while (pos < text.size() && pos - start < 3 && text[pos] >= '0' &&
         text[pos] <= '9')
    value = value * 10 + (text[pos++] - '0');
  return pos > start &&
         (pos == text.size() || text[pos] < '0' || text[pos] > '9');
}

/// Element names: eXmY, int<b>, uint<b>, optionally int<b>_frac<k>.
std::optional<ElementType> parseElementName(const std::string &name) {
  size_t pos = 0;
  if (name.size() >= 4 && name[0] == 'e') {
    int x, y;
    pos = 1;
    if (!parseSmallNumber(name, pos, x) || pos >= name.size() ||
        name[pos] != 'm')
      return std::nullopt;
    ++pos;
    if (!parseSmallNumber(name, pos, y) || pos != name.size())
      return std::nullopt;
    if (x < 1 || x > 8 || y > 8)
      return std::nullopt;
    return ElementType::minifloat(x, y);
  }
  bool isSigned = true;
  if (name.compare(0, 4, "uint") == 0) {
    isSigned = false;
    pos = 4;
  } else if (name.compare(0, 3, "int") == 0) {
    pos = 3;
  } else {
    return std::nullopt;
  }
  int bits, fractionBits = 0;
  if (!parseSmallNumber(name, pos, bits) || bits < 1 || bits > 16)
    return std::nullopt;
  if (pos != name.size()) {
    if (name.compare(pos, 5, "_frac") != 0)
      return std::nullopt;
    pos += 5;
    if (!parseSmallNumber(name, pos, fractionBits) || pos != name.size() ||
        fractionBits > 16)
      return std::nullopt;
  }
  return ElementType::integer(bits, isSigned, fractionBits);
}

std::string elementName(const ElementType &e) {
  if (e.kind == ElementKind::Float)
    return "e" + std::to_string(e.exponentBits) + "m" +
           std::to_string(e.mantissaBits);
  std::string name = (e.isSigned ? "int" : "uint") + std::to_string(e.bits);
  if (e.fractionBits != 0)
    name += "_frac" + std::to_string(e.fractionBits);
  return name;
}

/// The fields the `element` option sets; bias/special/saturate have keys.
bool sameElementBase(const ElementType &a, const ElementType &b) {
  return a.kind == b.kind && a.bits == b.bits && a.isSigned == b.isSigned &&
         a.fractionBits == b.fractionBits && a.exponentBits == b.exponentBits &&
         a.mantissaBits == b.mantissaBits;
}

} // namespace

const char *granularityName(Granularity g) {
  switch (g) {
  case Granularity::PerTensor:
    return "tensor";
  case Granularity::PerAxis:
    return "axis";
  case Granularity::Block:
    return "block";
  case Granularity::Block2D:
    return "block2d";
  }
  return "?";
}

const char *scaleTypeName(ScaleType t) {
  switch (t) {
  case ScaleType::F32:
    return "f32";
  case ScaleType::F16:
    return "f16";
  case ScaleType::BF16:
    return "bf16";
  case ScaleType::E8M0:
    return "e8m0";
  case ScaleType::E4M3:
    return "e4m3";
  }
  return "?";
}

const char *scaleRoundingName(ScaleRounding r) {
  switch (r) {
  case ScaleRounding::Floor:
    return "floor";
  case ScaleRounding::Ceil:
    return "ceil";
  case ScaleRounding::Nearest:
    return "nearest";
  }
  return "?";
}

namespace {

const char *specialName(SpecialValues s) {
  switch (s) {
  case SpecialValues::FiniteOnly:
    return "finite";
  case SpecialValues::FiniteAndNaN:
    return "nan";
  case SpecialValues::IEEE:
    return "ieee";
  }
  return "?";
}

const char *boolName(bool b) { return b ? "true" : "false"; }

/// The shortest decimal with a '.' and no exponent (an MLIR float literal)
/// that reads back as exactly `value`.
std::string printExactFloat(float value) {
  char buffer[128];
  for (int digits = 1; digits <= 60; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*f", digits,
                  static_cast<double>(value));
    if (std::strtof(buffer, nullptr) == value)
      break;
  }
  return buffer;
}

/// Looks `name` up as an alias or an alias with a _g<N> block suffix.
std::optional<Format> lookUpAlias(const std::string &name) {
  for (const NamedFormat &alias : aliasTable())
    if (alias.name == name)
      return alias.format;
  size_t suffix = name.rfind("_g");
  if (suffix == std::string::npos || suffix == 0)
    return std::nullopt;
  long long blockSize;
  if (!parseInteger(name.substr(suffix + 2), blockSize) || blockSize <= 0 ||
      blockSize > (1 << 30))
    return std::nullopt;
  std::optional<Format> base = lookUpAlias(name.substr(0, suffix));
  if (!base)
    return std::nullopt;
  std::string unused;
  applyFormatOption(*base, "block", std::to_string(blockSize), unused);
  return base;
}

} // namespace

std::vector<std::string> namedFormats() {
  std::vector<std::string> names;
  for (const NamedFormat &alias : aliasTable())
    names.push_back(alias.name);
  return names;
}

bool applyFormatOption(Format &format, const std::string &key,
                       const std::string &value, std::string &error) {
  auto invalid = [&](const char *expected) {
    error = "invalid value '" + value + "' for format option '" + key +
            "' (expected " + expected + ")";
    return false;
  };
  auto parseBool = [&](bool &out) {
    if (value == "true")
      out = true;
    else if (value == "false")
      out = false;
    else
      return invalid("true or false");
    return true;
  };
  auto parseBoundedInt = [&](long long lo, long long hi, int &out,
                             const char *expected) {
    long long parsed;
    if (!parseInteger(value, parsed) || parsed < lo || parsed > hi)
      return invalid(expected);
    out = static_cast<int>(parsed);
    return true;
  };

  if (key == "element") {
    std::optional<ElementType> element = parseElementName(value);
    if (!element)
      return invalid("eXmY, int<N>, uint<N> or int<N>_frac<K>");
    format.element = *element;
    return true;
  }
  if (key == "block") {
    int blockSize;
    if (!parseBoundedInt(1, 1 << 30, blockSize, "a positive integer"))
      return false;
    format.blockSize = blockSize;
    if (format.granularity != Granularity::Block2D)
      format.granularity = Granularity::Block;
    return true;
  }
  if (key == "block2") {
    int blockSize2;
    if (!parseBoundedInt(1, 1 << 30, blockSize2, "a positive integer"))
      return false;
    format.blockSize2 = blockSize2;
    format.granularity = Granularity::Block2D;
    return true;
  }
  if (key == "granularity") {
    // Keep the format canonical: a granularity drops the block sizes it
    // does not use.
    if (value == "tensor" || value == "axis") {
      format.granularity =
          value == "tensor" ? Granularity::PerTensor : Granularity::PerAxis;
      format.blockSize = 0;
      format.blockSize2 = 0;
    } else if (value == "block") {
      format.granularity = Granularity::Block;
      format.blockSize2 = 0;
    } else if (value == "block2d") {
      format.granularity = Granularity::Block2D;
    } else {
      return invalid("tensor, axis, block or block2d");
    }
    return true;
  }
  if (key == "axis")
    return parseBoundedInt(-64, 63, format.axis, "an integer in [-64, 63]");
  if (key == "scale") {
    static const ScaleType all[] = {ScaleType::F32, ScaleType::F16,
                                    ScaleType::BF16, ScaleType::E8M0,
                                    ScaleType::E4M3};
    for (ScaleType t : all)
      if (value == scaleTypeName(t)) {
        format.scaleType = t;
        return true;
      }
    return invalid("f32, f16, bf16, e8m0 or e4m3");
  }
  if (key == "scale_rounding") {
    static const ScaleRounding all[] = {
        ScaleRounding::Floor, ScaleRounding::Ceil, ScaleRounding::Nearest};
    for (ScaleRounding r : all)
      if (value == scaleRoundingName(r)) {
        format.scaleRounding = r;
        return true;
      }
    return invalid("floor, ceil or nearest");
  }
  if (key == "second_level_scale")
    return parseBool(format.secondLevelScale);
  if (key == "symmetric")
    return parseBool(format.symmetric);
  if (key == "clip") {
    char *end = nullptr;
    float clip = value.empty() ? 0.0f : std::strtof(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() ||
        !(clip > 0.0f && clip <= 1.0f))
      return invalid("a number in (0, 1]");
    format.clipRatio = clip;
    return true;
  }
  if (key == "amax") {
    char *end = nullptr;
    float amax = value.empty() ? 0.0f : std::strtof(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() ||
        !(amax > 0.0f && std::isfinite(amax)))
      return invalid("a positive finite number");
    format.staticAmax = amax;
    return true;
  }
  if (key == "saturate")
    return parseBool(format.element.saturate);
  if (key == "special") {
    static const SpecialValues all[] = {SpecialValues::FiniteOnly,
                                        SpecialValues::FiniteAndNaN,
                                        SpecialValues::IEEE};
    for (SpecialValues s : all)
      if (value == specialName(s)) {
        format.element.special = s;
        return true;
      }
    return invalid("finite, nan or ieee");
  }
  if (key == "bias")
    return parseBoundedInt(-1000, 1000, format.element.bias,
                           "an integer in [-1000, 1000]");
  error = "unknown format option '" + key + "' (known: " + kKnownKeys + ")";
  return false;
}

std::optional<Format> parseFormat(const std::string &spec, std::string &error) {
  // Split at commas: the alias, then "key = value" options applied left to
  // right (a later option overrides an earlier one).
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t comma = spec.find(',', start);
    parts.push_back(trim(spec.substr(start, comma - start)));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  if (parts[0].empty()) {
    error = parts.size() == 1
                ? "empty format spec"
                : "format spec '" + spec + "' must start with a format name";
    return std::nullopt;
  }
  std::optional<Format> format = lookUpAlias(parts[0]);
  if (!format) {
    error = "unknown format '" + parts[0] + "' (known: " + kKnownAliases + ")";
    return std::nullopt;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    size_t equals = parts[i].find('=');
    std::string key = trim(parts[i].substr(
        0, equals == std::string::npos ? parts[i].size() : equals));
    std::string value =
        equals == std::string::npos ? "" : trim(parts[i].substr(equals + 1));
    if (equals == std::string::npos || key.empty() || value.empty()) {
      error = "expected 'key = value' in format spec '" + spec + "', got '" +
              parts[i] + "'";
      return std::nullopt;
    }
    if (!applyFormatOption(*format, key, value, error))
      return std::nullopt;
  }
  std::string problem = verifyFormat(*format);
  if (!problem.empty()) {
    error = "format '" + trim(spec) + "': " + problem;
    return std::nullopt;
  }
  return format;
}

namespace {

using FormatOptions = std::vector<std::pair<std::string, std::string>>;

/// The options that turn `start` into `target`, in the fixed key order, each
/// emitted only when its field still differs. The order matters: `element`
/// resets bias/special/saturate, `block`/`block2` set the granularity, and
/// `granularity` clears the block sizes it does not use.
FormatOptions optionsFromTo(const Format &start, const Format &target,
                            bool &reached) {
  Format working = start;
  FormatOptions options;
  auto emit = [&](const std::string &key, const std::string &value) {
    std::string unused;
    applyFormatOption(working, key, value, unused);
    options.emplace_back(key, value);
  };
  const ElementType &e = target.element;
  if (!sameElementBase(working.element, e))
    emit("element", elementName(e));
  if (target.blockSize > 0 && working.blockSize != target.blockSize)
    emit("block", std::to_string(target.blockSize));
  if (target.blockSize2 > 0 && working.blockSize2 != target.blockSize2)
    emit("block2", std::to_string(target.blockSize2));
  if (working.granularity != target.granularity)
    emit("granularity", granularityName(target.granularity));
  if (working.axis != target.axis)
    emit("axis", std::to_string(target.axis));
  if (working.scaleType != target.scaleType)
    emit("scale", scaleTypeName(target.scaleType));
  if (working.scaleRounding != target.scaleRounding)
    emit("scale_rounding", scaleRoundingName(target.scaleRounding));
  if (working.secondLevelScale != target.secondLevelScale)
    emit("second_level_scale", boolName(target.secondLevelScale));
  if (working.symmetric != target.symmetric)
    emit("symmetric", boolName(target.symmetric));
  if (working.clipRatio != target.clipRatio)
    emit("clip", printExactFloat(target.clipRatio));
  if (working.staticAmax != target.staticAmax)
    emit("amax", printExactFloat(target.staticAmax));
  if (working.element.saturate != e.saturate)
    emit("saturate", boolName(e.saturate));
  if (working.element.special != e.special)
    emit("special", specialName(e.special));
  if (working.element.bias != e.bias)
    emit("bias", std::to_string(e.bias));
  reached = working == target;
  return options;
}

} // namespace

std::string printFormat(const Format &format) {
  // Try every alias (and, for block formats, every alias with the _g<N>
  // suffix of the format's block size) and keep the one needing the fewest
  // options; earlier aliases win ties, so an exact alias always wins.
  std::string bestName;
  FormatOptions bestOptions;
  bool found = false;
  auto consider = [&](const std::string &name, const Format &start) {
    bool reached = false;
    FormatOptions options = optionsFromTo(start, format, reached);
    if (!reached)
      return;
    if (!found || options.size() < bestOptions.size()) {
      bestName = name;
      bestOptions = std::move(options);
      found = true;
    }
  };
  for (const NamedFormat &alias : aliasTable())
    consider(alias.name, alias.format);
  if (format.blockSize > 0)
    for (const NamedFormat &alias : aliasTable()) {
      if (alias.name.find("_g") != std::string::npos)
        continue;
      std::string name = alias.name + "_g" + std::to_string(format.blockSize);
      if (std::optional<Format> start = lookUpAlias(name))
        consider(name, *start);
    }
  if (!found) {
    // Only illegal (non-canonical) formats get here; print a best effort.
    bool reached;
    bestName = aliasTable().front().name;
    bestOptions = optionsFromTo(aliasTable().front().format, format, reached);
  }
  std::string text = bestName;
  for (const auto &[key, value] : bestOptions)
    text += ", " + key + " = " + value;
  return text;
}

std::string verifyFormat(const Format &f) {
  const ElementType &e = f.element;
  std::string name = elementName(e);
  if (e.bits < 2 || e.bits > 8)
    return "element " + name + " has " + std::to_string(e.bits) +
           " bits; formats have 2 to 8 bits per element";
  if (e.kind == ElementKind::Float) {
    if (e.exponentBits < 1 || e.mantissaBits < 0)
      return "minifloat element " + name + " needs at least one exponent bit";
    if (e.bits != 1 + e.exponentBits + e.mantissaBits || !e.isSigned ||
        e.fractionBits != 0)
      return "minifloat element " + name +
             " must have 1 + exponent + mantissa bits, a sign and no "
             "fraction bits";
    if (e.bits < 3)
      return "minifloat element " + name + " has " + std::to_string(e.bits) +
             " bits; minifloats have 3 to 8";
    // Keep every code and every rounding step a normal f32 operation.
    int minBias = (1 << e.exponentBits) - 128;
    if (e.bias < minBias || e.bias > 127)
      return "bias " + std::to_string(e.bias) + " of " + name +
             " is out of range [" + std::to_string(minBias) + ", 127]";
    if (e.special == SpecialValues::IEEE &&
        (e.exponentBits < 2 || e.mantissaBits < 1))
      return "special = ieee needs at least 2 exponent and 1 mantissa bits, "
             "got " +
             name;
  } else {
    if (e.exponentBits != 0 || e.mantissaBits != 0 || e.bias != 0)
      return "integer element " + name + " has no exponent, mantissa or bias";
    if (e.special != SpecialValues::FiniteOnly)
      return "integer element " + name + " has no special values";
    if (!e.saturate)
      return "integer element " + name + " always saturates";
    if (e.fractionBits < 0 || e.fractionBits > e.bits)
      return "integer element " + name + " has " +
             std::to_string(e.fractionBits) + " fraction bits; at most " +
             std::to_string(e.bits) + " allowed";
  }

  switch (f.granularity) {
  case Granularity::PerTensor:
  case Granularity::PerAxis:
    if (f.blockSize != 0 || f.blockSize2 != 0)
      return std::string("granularity ") + granularityName(f.granularity) +
             " takes no block size";
    break;
  case Granularity::Block:
    if (f.blockSize <= 0)
      return "block granularity needs a positive block size";
    if (f.blockSize2 != 0)
      return "block granularity takes no second block size (use block2d)";
    break;
  case Granularity::Block2D:
    if (f.blockSize <= 0 || f.blockSize2 <= 0)
      return "block2d granularity needs positive block and block2 sizes";
    break;
  }
  if (f.axis < -64 || f.axis > 63)
    return "axis " + std::to_string(f.axis) + " is outside [-64, 63]";
  if ((f.granularity == Granularity::PerTensor ||
       f.granularity == Granularity::Block2D) &&
      f.axis != -1)
    return std::string("granularity ") + granularityName(f.granularity) +
           " has no axis (got axis = " + std::to_string(f.axis) + ")";

  if (f.scaleType != ScaleType::E8M0 && f.scaleRounding != ScaleRounding::Floor)
    return std::string("scale_rounding = ") +
           scaleRoundingName(f.scaleRounding) +
           " applies only to power-of-two (e8m0) scales, not " +
           scaleTypeName(f.scaleType);
  if (f.secondLevelScale && f.scaleType != ScaleType::E4M3)
    return std::string("second_level_scale needs an e4m3 block scale, not ") +
           scaleTypeName(f.scaleType);
  if (!f.symmetric) {
    if (e.kind != ElementKind::Int || e.isSigned || e.fractionBits != 0)
      return "asymmetric quantization (symmetric = false) needs an unsigned "
             "integer element such as uint8, got " +
             name;
    if (f.scaleType == ScaleType::E8M0 || f.scaleType == ScaleType::E4M3)
      return std::string("asymmetric quantization needs an f32, f16 or bf16 "
                         "scale, not ") +
             scaleTypeName(f.scaleType);
  }
  if (!(f.clipRatio > 0.0f && f.clipRatio <= 1.0f))
    return "clip ratio " + printExactFloat(f.clipRatio) + " is outside (0, 1]";
  if (!(f.staticAmax >= 0.0f && std::isfinite(f.staticAmax)))
    return "amax " + printExactFloat(f.staticAmax) +
           " must be a positive finite number";
  if (f.staticAmax > 0.0f &&
      !((f.granularity == Granularity::PerTensor && f.symmetric) ||
        f.secondLevelScale))
    return std::string("a static amax needs a symmetric per-tensor format or "
                       "a second-level scale (it fixes the per-tensor "
                       "scale), not granularity = ") +
           granularityName(f.granularity);
  return "";
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

namespace {

/// How elements map to scales: element (i_0, ..., i_n) uses the scale at
/// (i_0 / divisor_0, ..., i_n / divisor_n) of a grid with the tensor's rank.
struct ScaleLayout {
  std::vector<int64_t> dims;     // the tensor shape (rank >= 1)
  std::vector<int64_t> divisors; // per dim, >= 1
  std::vector<int64_t> gridDims; // dims / divisors
  int64_t numElements = 1;
  int64_t numScales = 1;
};

std::optional<ScaleLayout> buildScaleLayout(const std::vector<int64_t> &shape,
                                            const Format &format,
                                            std::string &error) {
  ScaleLayout layout;
  int rank = static_cast<int>(shape.size());
  for (int d = 0; d < rank; ++d)
    if (shape[d] < 0) {
      error = "dimension " + std::to_string(d) + " has negative size " +
              std::to_string(shape[d]);
      return std::nullopt;
    }
  layout.dims = shape.empty() ? std::vector<int64_t>{1} : shape;
  layout.divisors.assign(layout.dims.size(), 1);
  auto requireDivisible = [&](int d, int64_t block) {
    if (layout.dims[d] % block != 0) {
      error = "dimension " + std::to_string(d) + " of size " +
              std::to_string(layout.dims[d]) +
              " is not divisible by the block size " + std::to_string(block);
      return false;
    }
    layout.divisors[d] = block;
    return true;
  };
  switch (format.granularity) {
  case Granularity::PerTensor:
    for (size_t d = 0; d < layout.dims.size(); ++d)
      layout.divisors[d] = std::max<int64_t>(layout.dims[d], 1);
    break;
  case Granularity::PerAxis:
  case Granularity::Block: {
    int axis = format.axis < 0 ? format.axis + rank : format.axis;
    if (axis < 0 || axis >= rank) {
      error = "axis " + std::to_string(format.axis) +
              " is out of range for a rank-" + std::to_string(rank) + " tensor";
      return std::nullopt;
    }
    if (format.granularity == Granularity::PerAxis)
      layout.divisors[axis] = std::max<int64_t>(layout.dims[axis], 1);
    else if (!requireDivisible(axis, format.blockSize))
      return std::nullopt;
    break;
  }
  case Granularity::Block2D:
    if (rank < 2) {
      error = "a 2-D block format needs a tensor of rank 2 or more, got "
              "rank " +
              std::to_string(rank);
      return std::nullopt;
    }
    if (!requireDivisible(rank - 2, format.blockSize) ||
        !requireDivisible(rank - 1, format.blockSize2))
      return std::nullopt;
    break;
  }
  for (size_t d = 0; d < layout.dims.size(); ++d) {
    layout.gridDims.push_back(layout.dims[d] / layout.divisors[d]);
    layout.numElements *= layout.dims[d];
    layout.numScales *= layout.gridDims.back();
  }
  if (format.granularity == Granularity::PerTensor)
    layout.numScales = 1;
  return layout;
}

/// Calls fn(elementIndex, scaleIndex) for every element in C order.
template <typename Fn> void forEachElement(const ScaleLayout &layout, Fn fn) {
  if (layout.numElements == 0)
    return;
  size_t rank = layout.dims.size();
  // Strides of the scale grid.
  std::vector<int64_t> gridStrides(rank, 1);
  for (size_t d = rank - 1; d > 0; --d)
    gridStrides[d - 1] = gridStrides[d] * layout.gridDims[d];
  int64_t inner = layout.dims[rank - 1];
  int64_t innerDivisor = layout.divisors[rank - 1];
  int64_t innerStride = gridStrides[rank - 1];
  std::vector<int64_t> coords(rank, 0); // the outer coordinates
  int64_t numRows = layout.numElements / inner;
  int64_t element = 0;
  for (int64_t row = 0; row < numRows; ++row) {
    int64_t base = 0;
    for (size_t d = 0; d + 1 < rank; ++d)
      base += coords[d] / layout.divisors[d] * gridStrides[d];
    for (int64_t j = 0; j < inner; ++j)
      fn(element++, base + j / innerDivisor * innerStride);
    for (size_t d = rank - 1; d > 0; --d) {
      if (++coords[d - 1] < layout.dims[d - 1])
        break;
      coords[d - 1] = 0;
    }
  }
}

/// OCP MX shared exponent of a block: floor(log2(amax)) - emax_elem, with
/// the ceil / nearest variants; clamped to the E8M0 range [-127, 127].
int computeSharedExponent(float amax, const ElementType &e,
                          ScaleRounding rounding) {
  if (amax == 0.0f)
    return -127;
  int exponent = floorLog2FromExponentBits(amax);
  int elementMaxExp = elementMaxExponent(e);
  int shared = exponent - elementMaxExp;
  if (rounding != ScaleRounding::Floor) {
    // Compare the significands of amax and of the element maximum, both in
    // [1, 2): ceil steps up when amax would clip, nearest rounds the ratio's
    // log2 (sig/maxSig >= sqrt(2) up, < 1/sqrt(2) down) without a log.
    float significand = scaleByPowerOfTwo(amax, -exponent);
    double maxSignificand =
        elementMaxFinite(e) / std::ldexp(1.0, elementMaxExp);
    double sigSquared = static_cast<double>(significand) * significand;
    double maxSquared = maxSignificand * maxSignificand;
    if (rounding == ScaleRounding::Ceil) {
      if (significand > maxSignificand)
        shared += 1;
    } else {
      if (sigSquared >= 2.0 * maxSquared)
        shared += 1;
      if (2.0 * sigSquared < maxSquared)
        shared -= 1;
    }
  }
  return std::min(std::max(shared, -127), 127);
}

/// Per-block statistics gathered in the first pass over the tensor.
struct BlockStatistics {
  float amax = 0.0f;
  float min = 0.0f; // min(min x, 0)
  float max = 0.0f; // max(max x, 0)
  bool nonFinite = false;
};

/// The second-level (per-tensor) scale of NVFP4-style formats: it maps the
/// tensor's finite amax onto elementMax * 448, the largest E4M3 block scale.
float computeSecondLevelScale(float tensorAmax, const ElementType &e) {
  float maxFinite = static_cast<float>(elementMaxFinite(e));
  float s2 = tensorAmax / (maxFinite * 448.0f);
  // A zero tensor, or one so tiny that s2 underflows, keeps s2 = 1.
  return s2 == 0.0f ? 1.0f : s2;
}

struct BlockScale {
  uint32_t raw = 0;
  float effective = 1.0f; // what codes are divided by / multiplied with
  uint8_t zeroPoint = 0;
};

/// Scale of a symmetric block whose values are all finite.
BlockScale computeSymmetricScale(float amax, const Format &f, float s2) {
  BlockScale scale;
  const ElementType &e = f.element;
  float maxFinite = static_cast<float>(elementMaxFinite(e));
  switch (f.scaleType) {
  case ScaleType::E8M0: {
    int exponent = computeSharedExponent(amax, e, f.scaleRounding);
    scale.raw = static_cast<uint32_t>(exponent + 127);
    scale.effective = scaleByPowerOfTwo(1.0f, exponent);
    return scale;
  }
  case ScaleType::E4M3: {
    float blockScale = amax / maxFinite;
    if (f.secondLevelScale)
      blockScale = blockScale / s2;
    blockScale = clampToScaleRange(blockScale, ScaleType::E4M3);
    scale.raw = encodeScale(blockScale, ScaleType::E4M3);
    scale.effective = decodeScale(scale.raw, ScaleType::E4M3);
    if (f.secondLevelScale)
      scale.effective = scale.effective * s2;
    return scale;
  }
  case ScaleType::F32:
  case ScaleType::F16:
  case ScaleType::BF16: {
    float s =
        amax == 0.0f ? 1.0f : clampToScaleRange(amax / maxFinite, f.scaleType);
    // Elements are quantized with the scale as stored, not the exact one.
    scale.raw = encodeScale(s, f.scaleType);
    scale.effective = decodeScale(scale.raw, f.scaleType);
    return scale;
  }
  }
  return scale;
}

/// Scale and zero point of an asymmetric block: [min, max] (widened to hold
/// 0, so that 0 is exact) maps onto the codes 0..2^b-1.
BlockScale computeAsymmetricScale(float lo, float hi, const Format &f) {
  BlockScale scale;
  float maxCode = static_cast<float>((1 << f.element.bits) - 1);
  float range = hi - lo;
  float s =
      range == 0.0f ? 1.0f : clampToScaleRange(range / maxCode, f.scaleType);
  scale.raw = encodeScale(s, f.scaleType);
  scale.effective = decodeScale(scale.raw, f.scaleType);
  float zeroPoint = std::nearbyint(-lo / scale.effective);
  zeroPoint = std::min(std::max(zeroPoint, 0.0f), maxCode);
  scale.zeroPoint = static_cast<uint8_t>(zeroPoint);
  return scale;
}

uint8_t encodeAsymmetric(float x, float scale, uint8_t zeroPoint, int bits) {
  float maxCode = static_cast<float>((1 << bits) - 1);
  float code = std::nearbyint(x / scale) + static_cast<float>(zeroPoint);
  code = std::min(std::max(code, 0.0f), maxCode);
  return static_cast<uint8_t>(code);
}

/// The scale every code of a block is multiplied with when decoding.
float effectiveScale(const QuantizedTensor &q, uint32_t raw) {
  float scale = decodeScale(raw, q.format.scaleType);
  if (q.format.secondLevelScale)
    scale = scale * q.tensorScale;
  return scale;
}

int64_t scaleBytes(const Format &f) { return scaleBits(f.scaleType) / 8; }

/// Packed size for a layout that already passed the shape checks.
int64_t packedSize(const ScaleLayout &layout, const Format &f) {
  int64_t codeBytes = (layout.numElements * f.element.bits + 7) / 8;
  int64_t size = codeBytes + layout.numScales * scaleBytes(f);
  if (!f.symmetric)
    size += layout.numScales;
  if (f.secondLevelScale)
    size += 4;
  return size;
}

std::optional<ScaleLayout>
checkFormatAndShape(const std::vector<int64_t> &shape, const Format &format,
                    std::string &error) {
  std::string problem = verifyFormat(format);
  if (!problem.empty()) {
    error = "illegal format '" + printFormat(format) + "': " + problem;
    return std::nullopt;
  }
  return buildScaleLayout(shape, format, error);
}

} // namespace

std::optional<std::vector<int64_t>>
scaleShape(const std::vector<int64_t> &shape, const Format &format,
           std::string &error) {
  std::optional<ScaleLayout> layout = buildScaleLayout(shape, format, error);
  if (!layout)
    return std::nullopt;
  if (format.granularity == Granularity::PerTensor)
    return std::vector<int64_t>{};
  return layout->gridDims;
}

std::optional<QuantizedTensor>
chooseScales(const float *data, const std::vector<int64_t> &shape,
             const Format &format, std::optional<float> tensorScale,
             std::string &error) {
  std::optional<ScaleLayout> layout = checkFormatAndShape(shape, format, error);
  if (!layout)
    return std::nullopt;
  const ElementType &e = format.element;

  // Pass 1: per-block amax, range and non-finite flags; the tensor amax over
  // finite values only (one Inf must not zero out every other block).
  std::vector<BlockStatistics> stats(layout->numScales);
  float tensorAmax = 0.0f;
  forEachElement(*layout, [&](int64_t i, int64_t s) {
    float x = data[i];
    BlockStatistics &block = stats[s];
    if (!std::isfinite(x)) {
      block.nonFinite = true;
      return;
    }
    float a = std::fabs(x);
    block.amax = std::max(block.amax, a);
    block.min = std::min(block.min, x);
    block.max = std::max(block.max, x);
    tensorAmax = std::max(tensorAmax, a);
  });

  QuantizedTensor q;
  q.shape = shape;
  q.format = format;
  if (format.staticAmax > 0.0f)
    tensorAmax = format.staticAmax;
  if (format.secondLevelScale)
    q.tensorScale = tensorScale ? *tensorScale
                                : computeSecondLevelScale(tensorAmax, e);

  // Pass 2: one scale per block.
  q.scales.resize(layout->numScales);
  if (!format.symmetric)
    q.zeroPoints.resize(layout->numScales);
  for (int64_t s = 0; s < layout->numScales; ++s) {
    const BlockStatistics &block = stats[s];
    if (block.nonFinite) {
      q.scales[s] = nanScaleBits(format.scaleType);
      continue;
    }
    BlockScale scale;
    if (format.symmetric) {
      float amax = block.amax;
      if (format.staticAmax > 0.0f && !format.secondLevelScale)
        amax = format.staticAmax; // per tensor: the one block is the tensor
      if (format.clipRatio != 1.0f)
        amax = amax * format.clipRatio;
      scale = computeSymmetricScale(amax, format, q.tensorScale);
    } else {
      float lo = block.min, hi = block.max;
      if (format.clipRatio != 1.0f) {
        lo = lo * format.clipRatio;
        hi = hi * format.clipRatio;
      }
      scale = computeAsymmetricScale(lo, hi, format);
      q.zeroPoints[s] = scale.zeroPoint;
    }
    q.scales[s] = scale.raw;
  }
  return q;
}

float blockScaleValue(const QuantizedTensor &q, int64_t scaleIndex) {
  return effectiveScale(q, q.scales[scaleIndex]);
}

uint8_t encodeInBlock(float value, float scale, uint8_t zeroPoint,
                      const Format &format) {
  if (format.symmetric)
    return encodeElement(value / scale, format.element);
  return encodeAsymmetric(value, scale, zeroPoint, format.element.bits);
}

float decodeInBlock(uint8_t code, float scale, uint8_t zeroPoint,
                    const Format &format) {
  if (format.symmetric)
    return decodeElement(code, format.element) * scale;
  return static_cast<float>(static_cast<int>(code) -
                            static_cast<int>(zeroPoint)) *
         scale;
}

std::optional<QuantizedTensor> quantize(const float *data,
                                        const std::vector<int64_t> &shape,
                                        const Format &format,
                                        std::string &error) {
  std::optional<QuantizedTensor> q =
      chooseScales(data, shape, format, std::nullopt, error);
  if (!q)
    return std::nullopt;
  std::optional<ScaleLayout> layout = buildScaleLayout(shape, format, error);
  // The scale every code is divided by, as the decoder multiplies with it
  // (what computeSymmetricScale / computeAsymmetricScale call `effective`).
  std::vector<float> scales(layout->numScales);
  std::vector<uint8_t> zeroPoints(layout->numScales, 0);
  for (int64_t s = 0; s < layout->numScales; ++s) {
    scales[s] = blockScaleValue(*q, s);
    if (!format.symmetric)
      zeroPoints[s] = q->zeroPoints[s];
  }

  // Pass 3: the codes. A NaN block keeps code 0 everywhere; its NaN scale
  // makes every decoded value NaN.
  q->codes.assign(layout->numElements, 0);
  forEachElement(*layout, [&](int64_t i, int64_t s) {
    if (std::isnan(scales[s]))
      return;
    q->codes[i] = encodeInBlock(data[i], scales[s], zeroPoints[s], format);
  });
  return q;
}

std::vector<float> dequantize(const QuantizedTensor &q) {
  std::string error;
  std::optional<ScaleLayout> layout =
      checkFormatAndShape(q.shape, q.format, error);
  if (!layout || static_cast<int64_t>(q.codes.size()) != layout->numElements ||
      static_cast<int64_t>(q.scales.size()) != layout->numScales ||
      (!q.format.symmetric &&
       static_cast<int64_t>(q.zeroPoints.size()) != layout->numScales))
    return {}; // a malformed QuantizedTensor decodes to nothing
  std::vector<float> scales(layout->numScales);
  for (int64_t s = 0; s < layout->numScales; ++s)
    scales[s] = effectiveScale(q, q.scales[s]);
  std::vector<float> out(layout->numElements);
  forEachElement(*layout, [&](int64_t i, int64_t s) {
    out[i] = decodeInBlock(q.codes[i], scales[s],
                           q.format.symmetric ? 0 : q.zeroPoints[s], q.format);
  });
  return out;
}

std::optional<std::vector<float>>
fakeQuantize(const float *data, const std::vector<int64_t> &shape,
             const Format &format, std::string &error) {
  std::optional<QuantizedTensor> q = quantize(data, shape, format, error);
  if (!q)
    return std::nullopt;
  return dequantize(*q);
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

std::vector<uint8_t> pack(const QuantizedTensor &q) {
  std::string error;
  std::optional<ScaleLayout> layout =
      checkFormatAndShape(q.shape, q.format, error);
  if (!layout)
    return {};
  const int bits = q.format.element.bits;
  const uint32_t mask = (1u << bits) - 1;
  std::vector<uint8_t> bytes(packedSize(*layout, q.format), 0);
  // Codes: an LSB-first bit stream; a code may straddle two bytes.
  for (int64_t i = 0; i < layout->numElements; ++i) {
    int64_t bit = i * bits;
    uint32_t code =
        (i < static_cast<int64_t>(q.codes.size()) ? q.codes[i] : 0) & mask;
    uint32_t window = code << (bit % 8);
    bytes[bit / 8] |= static_cast<uint8_t>(window);
    if (window > 0xFF)
      bytes[bit / 8 + 1] |= static_cast<uint8_t>(window >> 8);
  }
  size_t offset = (layout->numElements * bits + 7) / 8;
  const int64_t perScale = scaleBytes(q.format);
  for (int64_t s = 0; s < layout->numScales; ++s) {
    uint32_t raw = s < static_cast<int64_t>(q.scales.size()) ? q.scales[s] : 0;
    for (int64_t b = 0; b < perScale; ++b)
      bytes[offset++] = static_cast<uint8_t>(raw >> (8 * b));
  }
  if (!q.format.symmetric)
    for (int64_t s = 0; s < layout->numScales; ++s)
      bytes[offset++] =
          s < static_cast<int64_t>(q.zeroPoints.size()) ? q.zeroPoints[s] : 0;
  if (q.format.secondLevelScale) {
    uint32_t raw = floatToBits(q.tensorScale);
    for (int b = 0; b < 4; ++b)
      bytes[offset++] = static_cast<uint8_t>(raw >> (8 * b));
  }
  return bytes;
}

std::optional<QuantizedTensor> unpack(const uint8_t *bytes, size_t size,
                                      const std::vector<int64_t> &shape,
                                      const Format &format,
                                      std::string &error) {
  std::optional<ScaleLayout> layout = checkFormatAndShape(shape, format, error);
  if (!layout)
    return std::nullopt;
  int64_t expected = packedSize(*layout, format);
  if (static_cast<int64_t>(size) != expected) {
    error = "packed " + printFormat(format) + " data needs " +
            std::to_string(expected) + " bytes, got " + std::to_string(size);
    return std::nullopt;
  }
  QuantizedTensor q;
  q.shape = shape;
  q.format = format;
  const int bits = format.element.bits;
  const uint32_t mask = (1u << bits) - 1;
  q.codes.resize(layout->numElements);
  for (int64_t i = 0; i < layout->numElements; ++i) {
    int64_t bit = i * bits;
    uint32_t window = bytes[bit / 8];
    if (bit % 8 + bits > 8)
      window |= static_cast<uint32_t>(bytes[bit / 8 + 1]) << 8;
    q.codes[i] = static_cast<uint8_t>((window >> (bit % 8)) & mask);
  }
  size_t offset = (layout->numElements * bits + 7) / 8;
  const int64_t perScale = scaleBytes(format);
  q.scales.resize(layout->numScales);
  for (int64_t s = 0; s < layout->numScales; ++s) {
    uint32_t raw = 0;
    for (int64_t b = 0; b < perScale; ++b)
      raw |= static_cast<uint32_t>(bytes[offset++]) << (8 * b);
    q.scales[s] = raw;
  }
  if (!format.symmetric) {
    q.zeroPoints.assign(bytes + offset, bytes + offset + layout->numScales);
    offset += layout->numScales;
  }
  if (format.secondLevelScale) {
    uint32_t raw = 0;
    for (int b = 0; b < 4; ++b)
      raw |= static_cast<uint32_t>(bytes[offset++]) << (8 * b);
    q.tensorScale = bitsToFloat(raw);
  }
  return q;
}

std::optional<int64_t> packedSizeInBytes(const std::vector<int64_t> &shape,
                                         const Format &format,
                                         std::string &error) {
  std::optional<ScaleLayout> layout = checkFormatAndShape(shape, format, error);
  if (!layout)
    return std::nullopt;
  return packedSize(*layout, format);
}

double bitsPerElement(const std::vector<int64_t> &shape, const Format &format) {
  std::string error;
  std::optional<ScaleLayout> layout = checkFormatAndShape(shape, format, error);
  // NaN marks an illegal shape/format or an empty tensor.
  if (!layout || layout->numElements == 0)
    return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(packedSize(*layout, format)) * 8.0 /
         static_cast<double>(layout->numElements);
}

double qsnrDecibels(const float *reference, const float *approx, int64_t n) {
  double signal = 0.0, noise = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double x = reference[i];
    double d = x - static_cast<double>(approx[i]);
    signal += x * x;
    noise += d * d;
  }
  if (noise == 0.0)
    return std::numeric_limits<double>::infinity();
  return -10.0 * std::log10(noise / signal);
}

} // namespace quantc
