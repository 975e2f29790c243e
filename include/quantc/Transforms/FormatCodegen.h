//===- FormatCodegen.h - IR for the format arithmetic ------------*- C++ -*-===//
//
// Emits the scalar arith/math IR that encodes and decodes element codes and
// scales exactly as the format library (quantc/Formats/Format.h) does, on
// f32 / i32 values. qc-expand-formats builds its loops around it, and the GPU
// kernels of qc-lower-gpu decode packed weights in registers with it, so both
// targets share one arithmetic.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TRANSFORMS_FORMATCODEGEN_H
#define QUANTC_TRANSFORMS_FORMATCODEGEN_H

#include "quantc/Formats/Format.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace quantc {

using mlir::ImplicitLocOpBuilder;
using mlir::Type;
using mlir::Value;
namespace arith = mlir::arith;
namespace math = mlir::math;

//===----------------------------------------------------------------------===//
// Scalar emitter: the format arithmetic on f32 / i32 values
//===----------------------------------------------------------------------===//

/// Builds scalar arith/math/scf IR with short names for the constants and
/// bit operations the format arithmetic needs.
class Emitter {
public:
  explicit Emitter(ImplicitLocOpBuilder &b) : b(b) {}

  ImplicitLocOpBuilder &b;

  Type f32() { return b.getF32Type(); }
  Type f64() { return b.getF64Type(); }
  Type i32() { return b.getI32Type(); }
  Type i8() { return b.getI8Type(); }

  Value f32c(float v) { return arith::ConstantOp::create(b, b.getF32FloatAttr(v)); }
  Value i32c(int64_t v) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(static_cast<int32_t>(v)));
  }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }

  Value bitsOf(Value f) { return arith::BitcastOp::create(b, i32(), f); }
  Value floatOf(Value i) { return arith::BitcastOp::create(b, f32(), i); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value band(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  Value bor(Value x, Value y) { return arith::OrIOp::create(b, x, y); }
  Value shl(Value x, Value y) { return arith::ShLIOp::create(b, x, y); }
  Value lshr(Value x, Value y) { return arith::ShRUIOp::create(b, x, y); }
  Value ashr(Value x, Value y) { return arith::ShRSIOp::create(b, x, y); }
  Value icmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }
  Value fcmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, p, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value fdiv(Value x, Value y) { return arith::DivFOp::create(b, x, y); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value smax(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }
  Value smin(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value fabs(Value x) { return math::AbsFOp::create(b, x); }
  Value indexToI32(Value i) {
    return arith::IndexCastOp::create(b, i32(), i);
  }
  Value i32ToIndex(Value i) {
    return arith::IndexCastOp::create(b, b.getIndexType(), i);
  }

  /// 2^e as f32 for an i32 exponent in [-126, 127] (exact).
  Value pow2(Value e) { return floatOf(shl(add(e, i32c(127)), i32c(23))); }

  /// x * 2^e, exact whenever the result is representable. Formats with 8
  /// exponent bits (bf16 scales) need exponents beyond [-126, 127]; they
  /// scale in two halves.
  Value scaleByPow2(Value x, Value e, bool wideExponent) {
    if (!wideExponent)
      return fmul(x, pow2(e));
    Value half = ashr(e, i32c(1));
    return fmul(fmul(x, pow2(half)), pow2(sub(e, half)));
  }

  /// floor(log2(|x|)) from the f32 exponent field; -127 for zero and
  /// subnormals (callers clamp to the format's minimum).
  Value floorLog2(Value x) {
    Value biased = band(lshr(bitsOf(x), i32c(23)), i32c(0xff));
    return sub(biased, i32c(127));
  }

  /// True when x is NaN or +-Inf.
  Value isNonFinite(Value x) {
    return icmp(arith::CmpIPredicate::eq, band(bitsOf(x), i32c(0x7f800000)),
                i32c(0x7f800000));
  }

  /// Narrows an i32 to i8.
  Value toI8(Value v) { return arith::TruncIOp::create(b, i8(), v); }
  /// Zero-extends an i8 byte to i32.
  Value byteToI32(Value v) { return arith::ExtUIOp::create(b, i32(), v); }
};

//===----------------------------------------------------------------------===//
// Element encoding and decoding
//===----------------------------------------------------------------------===//

/// Derived constants of an element type.
struct ElementInfo {
  ElementType type;
  double maxFinite;
  int emin = 0; // minifloats: 1 - bias
  int32_t maxMagnitudeCode = 0;
};

ElementInfo describeElement(const ElementType &e);

/// The code (in the low bits of an i32) of the f32 value `v` in element `e`:
/// round to nearest even, saturating as the format says.
Value emitEncodeElement(Emitter &em, Value v, const ElementInfo &info);

/// The f32 value of an element code held in the low bits of an i32.
Value emitDecodeElement(Emitter &em, Value code, const ElementInfo &info);

/// The element types used to round and store f16 / bf16 / e4m3 scales.
ElementType scaleElementType(ScaleType t);

/// Decodes stored scale bits (an i32) back to the f32 value elements are
/// multiplied by; `tensorScale` (may be null) is the NV second-level scale.
Value emitDecodeScale(Emitter &em, ScaleType type, Value bits,
                      Value tensorScale);

//===----------------------------------------------------------------------===//
// Quantizing a block: scale, zero point and codes from the block's statistics
//===----------------------------------------------------------------------===//

/// A block's scale: the f32 value elements are divided by and the raw bits
/// stored in the packed layout.
struct ScaleValue {
  Value value; // f32, NaN for blocks holding NaN/Inf
  Value bits;  // i32, encodeScale of the scale type
};

/// Clamps a computed scale to [smallest positive, largest finite] of its
/// type, as the format library does, so no block gets a zero or infinite
/// scale.
Value emitClampToScaleRange(Emitter &em, Value scale, ScaleType type);

/// Rounds a computed f32/f16/bf16 scale to its type: the stored bits and the
/// value elements use (NaN for blocks with NaN/Inf).
ScaleValue emitStoredScale(Emitter &em, ScaleType scaleType, Value raw,
                           Value nonFinite);

/// The scale of a symmetric block from its amax (already clipped) and
/// whether the block holds a NaN/Inf; `tensorScale` is s2 for second-level
/// formats.
ScaleValue emitBlockScale(Emitter &em, const Format &format,
                          const ElementInfo &element, Value amax,
                          Value nonFinite, Value tensorScale);

/// The second-level scale s2 = amax / (elementMax * 448), 1 for zero
/// tensors, from the tensor's max |x| over finite elements (unused, may be
/// null, when the format has a static amax).
Value emitTensorScale(Emitter &em, const Format &format,
                      const ElementInfo &element, Value finiteAmax);

/// What a block's quantization is computed from: max |x| (maxnum, NaN
/// ignored), whether a NaN/Inf occurs, and min(0, min x) / max(0, max x)
/// (asymmetric formats only; may be null otherwise). Every one is a min/max
/// or OR, so any reduction order gives the same bits.
struct BlockStats {
  Value amax, nonFinite, lo, hi;
};

/// Everything the element loop needs about one block.
struct BlockQuantization {
  ScaleValue scale;
  Value nonFinite;
  Value zeroPoint; // i32, asymmetric formats only
};

BlockQuantization emitBlockQuantization(Emitter &em, const Format &format,
                                        const ElementInfo &element,
                                        const BlockStats &stats,
                                        Value tensorScale);

/// The code of element value `x` in a block; 0 in NaN blocks.
Value emitCodeInBlock(Emitter &em, Value x, const BlockQuantization &block,
                      const Format &format, const ElementInfo &element);

/// The value of `code` in a block with `scale` (and zero point).
Value emitValueInBlock(Emitter &em, Value code, Value scale, Value zeroPoint,
                       const Format &format, const ElementInfo &element);

} // namespace quantc

#endif // QUANTC_TRANSFORMS_FORMATCODEGEN_H
