//===- FormatCodegen.cpp - IR for the format arithmetic ------------------===//

#include "quantc/Transforms/FormatCodegen.h"

#include <cmath>

namespace quantc {

using namespace mlir;

ElementInfo describeElement(const ElementType &e) {
  ElementInfo info{e, quantc::elementMaxFinite(e)};
  if (e.kind == ElementKind::Float) {
    info.emin = 1 - e.bias;
    // The magnitude bits of the largest finite value (computed here rather
    // than by encodeElement, whose codes are 8 bits: scale types reuse this
    // for f16/bf16).
    int32_t allOnes = (1 << (e.bits - 1)) - 1;
    if (e.special == SpecialValues::FiniteOnly)
      info.maxMagnitudeCode = allOnes;
    else if (e.special == SpecialValues::FiniteAndNaN)
      info.maxMagnitudeCode = allOnes - 1;
    else
      info.maxMagnitudeCode = allOnes - (1 << e.mantissaBits);
  }
  return info;
}

/// The code (in the low bits of an i32) of the f32 value `v` in element `e`:
/// round to nearest even, saturating as the format says.
Value emitEncodeElement(Emitter &em, Value v, const ElementInfo &info) {
  const ElementType &e = info.type;
  if (e.kind == ElementKind::Int) {
    int64_t hi = e.isSigned ? (int64_t(1) << (e.bits - 1)) - 1
                            : (int64_t(1) << e.bits) - 1;
    int64_t lo = e.isSigned ? -hi : 0;
    Value scaled = e.fractionBits
                       ? em.fmul(v, em.f32c(std::ldexp(1.0f, e.fractionBits)))
                       : v;
    Value rounded = math::RoundEvenOp::create(em.b, scaled);
    // Clamp in float first so that the integer conversion cannot overflow;
    // NaN (only inside NaN blocks, whose codes are zeroed) clamps to lo.
    Value clamped = arith::MaximumFOp::create(
        em.b, arith::MinimumFOp::create(em.b, rounded, em.f32c(float(hi))),
        em.f32c(float(lo)));
    Value isNan = em.fcmp(arith::CmpFPredicate::UNO, v, v);
    clamped = em.select(isNan, em.f32c(0.0f), clamped);
    Value code = arith::FPToSIOp::create(em.b, em.i32(), clamped);
    return em.band(code, em.i32c((1 << e.bits) - 1));
  }

  const int m = e.mantissaBits;
  const int signShift = e.bits - 1;
  Value bits = em.bitsOf(v);
  Value sign = em.shl(em.lshr(bits, em.i32c(31)), em.i32c(signShift));
  Value a = em.fabs(v);

  // In-range values: e = max(floor(log2 a), emin), r = roundeven(a * 2^(m-e)).
  Value exponent = em.smax(em.floorLog2(a), em.i32c(info.emin));
  const bool wide = e.exponentBits >= 8;
  Value q = em.scaleByPow2(a, em.sub(em.i32c(m), exponent), wide);
  Value r = math::RoundEvenOp::create(em.b, q);
  Value rInt = arith::FPToSIOp::create(em.b, em.i32(), r);
  Value value = em.scaleByPow2(r, em.sub(exponent, em.i32c(m)), wide);
  // r can round up into the next binade (r == 2^(m+1)).
  Value carried = em.icmp(arith::CmpIPredicate::sge, rInt, em.i32c(2 << m));
  Value finalExp = em.select(carried, em.add(exponent, em.i32c(1)), exponent);
  // The significand: 2^m..2^(m+1)-1 for normals, below 2^m for subnormals.
  Value mant = em.select(carried, em.i32c(1 << m), rInt);
  Value isSubnormal = em.icmp(arith::CmpIPredicate::slt, mant, em.i32c(1 << m));
  Value expField = em.select(isSubnormal, em.i32c(0),
                             em.add(finalExp, em.i32c(e.bias)));
  Value mantField = em.select(isSubnormal, mant, em.sub(mant, em.i32c(1 << m)));
  Value magnitude = em.bor(em.shl(expField, em.i32c(m)), mantField);

  // Out of range: saturate, or Inf / NaN where the format has them.
  Value maxCode = em.i32c(info.maxMagnitudeCode);
  Value overflowCode = maxCode;
  if (!e.saturate && e.special == SpecialValues::IEEE)
    overflowCode = em.i32c(((1 << (e.bits - 1 - m)) - 1) << m);
  else if (!e.saturate && e.special == SpecialValues::FiniteAndNaN)
    overflowCode = em.i32c((1 << (e.bits - 1)) - 1);
  Value maxValue = em.f32c(static_cast<float>(info.maxFinite));
  Value overflows = em.fcmp(arith::CmpFPredicate::OGT, value, maxValue);
  if (e.saturate) // also catches Inf and values too large to scale exactly
    overflows = arith::OrIOp::create(
        em.b, overflows, em.fcmp(arith::CmpFPredicate::OGE, a, maxValue));
  magnitude = em.select(overflows, overflowCode, magnitude);

  // NaN: whatever the format library encodes NaN as (its NaN code, or +0).
  Value isNan = em.fcmp(arith::CmpFPredicate::UNO, v, v);
  Value code = em.bor(sign, magnitude);
  // Wider-than-8-bit types only occur as scales, which are never NaN here.
  int32_t nanFull =
      e.bits <= 8 ? quantc::encodeElement(std::nanf(""), e) : int32_t(0);
  return em.select(isNan, em.i32c(nanFull), code);
}

/// The f32 value of an element code held in the low bits of an i32.
Value emitDecodeElement(Emitter &em, Value code,
                               const ElementInfo &info) {
  const ElementType &e = info.type;
  if (e.kind == ElementKind::Int) {
    Value shift = em.i32c(32 - e.bits);
    Value extended = e.isSigned ? em.ashr(em.shl(code, shift), shift) : code;
    Value value = arith::SIToFPOp::create(em.b, em.f32(), extended);
    if (e.fractionBits)
      value = em.fmul(value, em.f32c(std::ldexp(1.0f, -e.fractionBits)));
    return value;
  }
  const int m = e.mantissaBits;
  const int expBits = e.exponentBits;
  Value sign = em.band(em.lshr(code, em.i32c(e.bits - 1)), em.i32c(1));
  Value expField = em.band(em.lshr(code, em.i32c(m)), em.i32c((1 << expBits) - 1));
  Value mant = em.band(code, em.i32c((1 << m) - 1));
  Value isSubnormal = em.icmp(arith::CmpIPredicate::eq, expField, em.i32c(0));
  // value = significand * 2^(exponent - m), both exact in f32.
  Value significand = em.select(isSubnormal, mant, em.add(mant, em.i32c(1 << m)));
  Value exponent = em.select(isSubnormal, em.i32c(info.emin),
                             em.sub(expField, em.i32c(e.bias)));
  Value magnitude =
      em.scaleByPow2(arith::SIToFPOp::create(em.b, em.f32(), significand),
                     em.sub(exponent, em.i32c(m)), expBits >= 8);
  Value allOnesExp =
      em.icmp(arith::CmpIPredicate::eq, expField, em.i32c((1 << expBits) - 1));
  if (e.special == SpecialValues::IEEE) {
    Value isInf = arith::AndIOp::create(em.b, 
        allOnesExp, em.icmp(arith::CmpIPredicate::eq, mant, em.i32c(0)));
    magnitude = em.select(
        allOnesExp,
        em.select(isInf, em.f32c(INFINITY), em.f32c(std::nanf(""))),
        magnitude);
  } else if (e.special == SpecialValues::FiniteAndNaN) {
    Value isNan = arith::AndIOp::create(em.b, 
        allOnesExp,
        em.icmp(arith::CmpIPredicate::eq, mant, em.i32c((1 << m) - 1)));
    magnitude = em.select(isNan, em.f32c(std::nanf("")), magnitude);
  }
  Value negative = em.icmp(arith::CmpIPredicate::ne, sign, em.i32c(0));
  return em.select(negative, arith::NegFOp::create(em.b, magnitude), magnitude);
}


/// The element types used to round and store f16 / bf16 / e4m3 scales.
ElementType scaleElementType(ScaleType t) {
  switch (t) {
  case ScaleType::F16: {
    ElementType e = ElementType::minifloat(5, 10);
    e.special = SpecialValues::IEEE;
    return e;
  }
  case ScaleType::BF16: {
    ElementType e = ElementType::minifloat(8, 7);
    e.special = SpecialValues::IEEE;
    return e;
  }
  default:
    return ElementType::minifloat(4, 3);
  }
}


/// Decodes stored scale bits back to the f32 value elements are multiplied by.
Value emitDecodeScale(Emitter &em, ScaleType type, Value bits,
                             Value tensorScale) {
  switch (type) {
  case ScaleType::E8M0: {
    Value isNan = em.icmp(arith::CmpIPredicate::eq, bits, em.i32c(0xff));
    Value isMin = em.icmp(arith::CmpIPredicate::eq, bits, em.i32c(0));
    Value value = em.select(isMin, em.floatOf(em.i32c(0x00400000)),
                            em.floatOf(em.shl(bits, em.i32c(23))));
    return em.select(isNan, em.f32c(std::nanf("")), value);
  }
  case ScaleType::F32:
    return em.floatOf(bits);
  default: {
    Value value =
        emitDecodeElement(em, bits, describeElement(scaleElementType(type)));
    return tensorScale ? em.fmul(value, tensorScale) : value;
  }
  }
}

} // namespace quantc
