//===- FormatCodegen.cpp - IR for the format arithmetic ------------------===//

#include "quantc/Transforms/FormatCodegen.h"

#include <cmath>
#include <limits>

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


//===----------------------------------------------------------------------===//
// Quantizing a block (qc-expand-formats and the GPU activation quantizer)
//===----------------------------------------------------------------------===//

/// A block's scale: the f32 value elements are divided by and the raw bits

/// Clamps a computed scale to [smallest positive, largest finite] of its type,
/// as the format library does, so no block gets a zero or infinite scale.
Value emitClampToScaleRange(Emitter &em, Value scale, ScaleType type) {
  float minPositive = std::numeric_limits<float>::denorm_min();
  float maxFinite = std::numeric_limits<float>::max();
  if (type == ScaleType::F16) {
    minPositive = std::ldexp(1.0f, -24);
    maxFinite = 65504.0f;
  } else if (type == ScaleType::BF16) {
    minPositive = std::ldexp(1.0f, -133);
    maxFinite = decodeScale(0x7F7F, ScaleType::BF16);
  }
  return arith::MinimumFOp::create(
      em.b, arith::MaximumFOp::create(em.b, scale, em.f32c(minPositive)),
      em.f32c(maxFinite));
}

/// Emits the scale of a block from its amax (already clipped) and whether the
/// block holds a NaN/Inf. `tensorScale` is s2 for second-level formats.
ScaleValue emitBlockScale(Emitter &em, const Format &format,
                                 const ElementInfo &element, Value amax,
                                 Value nonFinite, Value tensorScale) {
  switch (format.scaleType) {
  case ScaleType::E8M0: {
    int emax = elementMaxExponent(element.type);
    double maxSig = element.maxFinite / std::ldexp(1.0, emax);
    Value e = em.floorLog2(amax);
    Value x = em.sub(e, em.i32c(emax));
    if (format.scaleRounding != ScaleRounding::Floor) {
      // The significand of amax in [1, 2) (1 for zero/subnormal amax, whose
      // exponent clamps to -127 anyway).
      Value bits = em.bitsOf(amax);
      Value sig = em.floatOf(em.bor(em.band(bits, em.i32c(0x007fffff)),
                                    em.i32c(0x3f800000)));
      Value isTiny = em.icmp(arith::CmpIPredicate::slt, e, em.i32c(-126));
      sig = em.select(isTiny, em.f32c(1.0f), sig);
      if (format.scaleRounding == ScaleRounding::Ceil) {
        Value up = em.fcmp(arith::CmpFPredicate::OGT, sig,
                           em.f32c(static_cast<float>(maxSig)));
        x = em.add(x, arith::ExtUIOp::create(em.b, em.i32(), up));
      } else {
        Value sig64 = arith::ExtFOp::create(em.b, em.f64(), sig);
        Value sq = arith::MulFOp::create(em.b, sig64, sig64);
        auto f64c = [&](double v) {
          return arith::ConstantOp::create(em.b, em.b.getF64FloatAttr(v));
        };
        Value up = em.fcmp(arith::CmpFPredicate::OGE, sq,
                           f64c(2.0 * maxSig * maxSig));
        Value down = em.fcmp(arith::CmpFPredicate::OLT,
                             arith::MulFOp::create(em.b, f64c(2.0), sq),
                             f64c(maxSig * maxSig));
        x = em.add(x, arith::ExtUIOp::create(em.b, em.i32(), up));
        x = em.sub(x, arith::ExtUIOp::create(em.b, em.i32(), down));
      }
    }
    x = em.smin(em.smax(x, em.i32c(-127)), em.i32c(127));
    Value biased = em.add(x, em.i32c(127));
    // 2^-127 is the f32 subnormal 0x00400000.
    Value isMin = em.icmp(arith::CmpIPredicate::eq, biased, em.i32c(0));
    Value value = em.select(isMin, em.floatOf(em.i32c(0x00400000)),
                            em.floatOf(em.shl(biased, em.i32c(23))));
    return {em.select(nonFinite, em.f32c(std::nanf("")), value),
            em.select(nonFinite, em.i32c(0xff), biased)};
  }
  case ScaleType::E4M3: {
    ElementInfo e4m3 = describeElement(scaleElementType(ScaleType::E4M3));
    Value raw = em.fdiv(em.fdiv(amax, em.f32c(static_cast<float>(element.maxFinite))),
                        tensorScale ? tensorScale : em.f32c(1.0f));
    raw = arith::MinimumFOp::create(
        em.b, arith::MaximumFOp::create(em.b, raw, em.f32c(std::ldexp(1.0f, -9))),
        em.f32c(448.0f));
    Value code = emitEncodeElement(em, raw, e4m3);
    Value value = emitDecodeElement(em, code, e4m3);
    if (tensorScale)
      value = em.fmul(value, tensorScale);
    return {em.select(nonFinite, em.f32c(std::nanf("")), value),
            em.select(nonFinite, em.i32c(0x7f), code)};
  }
  case ScaleType::F32:
  case ScaleType::F16:
  case ScaleType::BF16: {
    Value raw = emitClampToScaleRange(
        em, em.fdiv(amax, em.f32c(static_cast<float>(element.maxFinite))),
        format.scaleType);
    Value isZero = em.fcmp(arith::CmpFPredicate::OEQ, amax, em.f32c(0.0f));
    raw = em.select(isZero, em.f32c(1.0f), raw);
    return emitStoredScale(em, format.scaleType, raw, nonFinite);
  }
  }
  llvm_unreachable("unknown scale type");
}

/// Rounds a computed f32/f16/bf16 scale to its type: the stored bits and the
/// value elements use (NaN for blocks with NaN/Inf).
ScaleValue emitStoredScale(Emitter &em, ScaleType scaleType, Value raw,
                                  Value nonFinite) {
  Value value = raw, bits = em.bitsOf(raw);
  if (scaleType != ScaleType::F32) {
    ElementInfo half = describeElement(scaleElementType(scaleType));
    bits = emitEncodeElement(em, raw, half);
    value = emitDecodeElement(em, bits, half);
  }
  float nan = std::nanf("");
  return {em.select(nonFinite, em.f32c(nan), value),
          em.select(nonFinite, em.i32c(encodeScale(nan, scaleType)),
                    bits)};
}

Value emitTensorScale(Emitter &em, const Format &format,
                      const ElementInfo &element, Value finiteAmax) {
  Value amax = format.staticAmax > 0.0f ? em.f32c(format.staticAmax) : finiteAmax;
  Value s2 = em.fdiv(amax, em.f32c(static_cast<float>(element.maxFinite) * 448.0f));
  // A zero tensor, or one so tiny that s2 underflows, keeps s2 = 1.
  Value isZero = em.fcmp(arith::CmpFPredicate::OEQ, s2, em.f32c(0.0f));
  return em.select(isZero, em.f32c(1.0f), s2);
}

/// The largest code of an unsigned element, as f32.
static float maxUnsignedCode(const Format &format) {
  return static_cast<float>((1 << format.element.bits) - 1);
}

BlockQuantization emitBlockQuantization(Emitter &em, const Format &format,
                                        const ElementInfo &element,
                                        const BlockStats &stats,
                                        Value tensorScale) {
  ImplicitLocOpBuilder &b = em.b;
  Value zero = em.f32c(0.0f);
  Value nonFinite = stats.nonFinite;
  Value clip = em.f32c(format.clipRatio);
  if (format.symmetric) {
    Value amax = stats.amax;
    if (format.staticAmax > 0.0f && !format.secondLevelScale)
      amax = em.f32c(format.staticAmax); // per tensor: the block is the tensor
    if (format.clipRatio != 1.0f)
      amax = em.fmul(amax, clip);
    return {emitBlockScale(em, format, element, amax, nonFinite, tensorScale),
            nonFinite, Value()};
  }
  // Asymmetric: [lo, hi] maps onto the codes 0..2^b-1 with a zero point.
  Value lo = stats.lo, hi = stats.hi;
  if (format.clipRatio != 1.0f) {
    lo = em.fmul(lo, clip);
    hi = em.fmul(hi, clip);
  }
  Value maxCode = em.f32c(maxUnsignedCode(format));
  Value range = em.fsub(hi, lo);
  Value raw = emitClampToScaleRange(em, em.fdiv(range, maxCode), format.scaleType);
  raw = em.select(em.fcmp(arith::CmpFPredicate::OEQ, range, zero),
                  em.f32c(1.0f), raw);
  ScaleValue scale = emitStoredScale(em, format.scaleType, raw, nonFinite);
  Value zp = math::RoundEvenOp::create(
      b, em.fdiv(arith::NegFOp::create(b, lo), scale.value));
  zp = arith::MinimumFOp::create(b, arith::MaximumFOp::create(b, zp, zero),
                                 maxCode);
  Value zpInt = arith::FPToSIOp::create(b, em.i32(), zp);
  zpInt = em.select(nonFinite, em.i32c(0), zpInt);
  return {scale, nonFinite, zpInt};
}

/// The code of element value `x` in a block with `scale`; 0 in NaN blocks.
Value emitCodeInBlock(Emitter &em, Value x, const BlockQuantization &block,
                             const Format &format,
                             const ElementInfo &element) {
  Value code;
  if (format.symmetric) {
    code = emitEncodeElement(em, em.fdiv(x, block.scale.value), element);
  } else {
    Value q = em.fadd(math::RoundEvenOp::create(em.b, em.fdiv(x, block.scale.value)),
                      arith::SIToFPOp::create(em.b, em.f32(), block.zeroPoint));
    q = arith::MinimumFOp::create(
        em.b, arith::MaximumFOp::create(em.b, q, em.f32c(0.0f)),
        em.f32c(maxUnsignedCode(format)));
    code = arith::FPToSIOp::create(em.b, em.i32(), q);
  }
  return em.select(block.nonFinite, em.i32c(0), code);
}

/// The value of `code` in a block with `scale` (and zero point).
Value emitValueInBlock(Emitter &em, Value code, Value scale,
                              Value zeroPoint, const Format &format,
                              const ElementInfo &element) {
  if (format.symmetric)
    return em.fmul(emitDecodeElement(em, code, element), scale);
  Value centered = arith::SIToFPOp::create(em.b, em.f32(), em.sub(code, zeroPoint));
  return em.fmul(centered, scale);
}

} // namespace quantc
