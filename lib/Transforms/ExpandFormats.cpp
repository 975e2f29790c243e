//===- ExpandFormats.cpp - qc-expand-formats ------------------------------===//
//
// Lowers the format ops to loops of scalar arith/math on tensors that compute
// what the format library computes, bit for bit:
//
//   * A tensor is viewed as [P, Q, R] (C order) with blocks of [bp, bq, br];
//     blocks along an axis are [1, B, 1], per-axis slices [1, Q, 1], 2-D tiles
//     [1, B, B2] over the last two dims, the whole tensor [1, N, 1]. The scale
//     grid's C order then matches the library's scale order.
//   * Element encoding works on the f32 bits (exponent extraction, exact
//     power-of-two scaling, roundeven) for every ExMy and integer element, so
//     no f8/f6/f4 conversion is left for -convert-to-llvm to skip.
//   * !qc.packed values become their canonical byte tensors.
//
//===----------------------------------------------------------------------===//

#include "qc/QcDialect.h"
#include "quantc/Formats/Format.h"
#include "quantc/Formats/Hadamard.h"
#include "quantc/Transforms/FormatCodegen.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

namespace mlir::qc {
#define GEN_PASS_DEF_QCEXPANDFORMATS
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;
using quantc::ElementKind;
using quantc::ElementType;
using quantc::Granularity;
using quantc::ScaleRounding;
using quantc::ScaleType;
using quantc::SpecialValues;
// The shared format arithmetic (quantc/Transforms/FormatCodegen.h).
using quantc::describeElement;
using quantc::ElementInfo;
using quantc::emitDecodeElement;
using quantc::emitDecodeScale;
using quantc::emitEncodeElement;
using quantc::Emitter;
using quantc::scaleElementType;
using quantc::emitCodeInBlock;
using quantc::emitValueInBlock;

namespace {

//===----------------------------------------------------------------------===//
// Loops and the block view
//===----------------------------------------------------------------------===//

/// scf.for from 0 to `ub` (step 1) carrying `init`; `body` returns the yields.
static ValueRange
forLoop(ImplicitLocOpBuilder &b, Value ub, ValueRange init,
        function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value,
                                        ValueRange)>
            body) {
  Value zero = arith::ConstantIndexOp::create(b, 0);
  Value one = arith::ConstantIndexOp::create(b, 1);
  auto loop = scf::ForOp::create(
      b, zero, ub, one, init,
      [&](OpBuilder &nested, Location loc, Value iv, ValueRange args) {
        ImplicitLocOpBuilder inner(loc, nested);
        SmallVector<Value> yields = body(inner, iv, args);
        scf::YieldOp::create(inner, yields);
      });
  return loop.getResults();
}

/// The tensor seen as [P, Q, R] with blocks [bp, bq, br] (see file comment).
struct BlockView {
  int64_t dims[3];
  int64_t block[3];
  int64_t grid(int i) const { return dims[i] / block[i]; }
  int64_t numElements() const { return dims[0] * dims[1] * dims[2]; }
  int64_t blockElements() const { return block[0] * block[1] * block[2]; }
  int64_t numBlocks() const { return grid(0) * grid(1) * grid(2); }
};

static BlockView makeBlockView(ArrayRef<int64_t> shape,
                               const quantc::Format &format) {
  int64_t rank = shape.size();
  auto product = [&](int64_t from, int64_t to) {
    int64_t p = 1;
    for (int64_t i = from; i < to; ++i)
      p *= shape[i];
    return p;
  };
  int64_t n = product(0, rank);
  switch (format.granularity) {
  case Granularity::PerTensor:
    return {{1, n, 1}, {1, n, 1}};
  case Granularity::Block2D:
    return {{product(0, rank - 2), shape[rank - 2], shape[rank - 1]},
            {1, format.blockSize, format.blockSize2}};
  case Granularity::PerAxis:
  case Granularity::Block: {
    int64_t axis = *normalizeAxis(format.axis, rank);
    BlockView view{{product(0, axis), shape[axis], product(axis + 1, rank)},
                   {1, shape[axis], 1}};
    if (format.granularity == Granularity::Block)
      view.block[1] = format.blockSize;
    return view;
  }
  }
  llvm_unreachable("unknown granularity");
}

/// Calls `body(linearIndex, args)` for every element of the block at grid
/// position `cell` (three index values), threading `init` through.
static ValueRange forEachInBlock(
    ImplicitLocOpBuilder &b, const BlockView &view, ArrayRef<Value> cell,
    ValueRange init,
    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value, ValueRange)>
        body) {
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  return forLoop(b, c(view.block[0]), init, [&](ImplicitLocOpBuilder &b0,
                                                Value i0, ValueRange a0) {
    return SmallVector<Value>(forLoop(
        b0, arith::ConstantIndexOp::create(b0, view.block[1]), a0,
        [&](ImplicitLocOpBuilder &b1, Value i1, ValueRange a1) {
          return SmallVector<Value>(forLoop(
              b1, arith::ConstantIndexOp::create(b1, view.block[2]), a1,
              [&](ImplicitLocOpBuilder &b2, Value i2, ValueRange a2) {
                auto k = [&](int64_t v) {
                  return arith::ConstantIndexOp::create(b2, v);
                };
                auto madd = [&](Value x, int64_t s, Value y) {
                  return arith::AddIOp::create(
                      b2, arith::MulIOp::create(b2, x, k(s)), y);
                };
                Value p = madd(cell[0], view.block[0], i0);
                Value q = madd(cell[1], view.block[1], i1);
                Value r = madd(cell[2], view.block[2], i2);
                Value linear =
                    madd(madd(p, view.dims[1], q), view.dims[2], r);
                return body(b2, linear, a2);
              }));
        }));
  });
}

/// Calls `body(cell, scaleIndex, args)` for every block of the view.
static ValueRange forEachBlock(
    ImplicitLocOpBuilder &b, const BlockView &view, ValueRange init,
    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, ArrayRef<Value>,
                                    Value, ValueRange)>
        body) {
  return forLoop(
      b, arith::ConstantIndexOp::create(b, view.grid(0)), init,
      [&](ImplicitLocOpBuilder &b0, Value g0, ValueRange a0) {
        return SmallVector<Value>(forLoop(
            b0, arith::ConstantIndexOp::create(b0, view.grid(1)), a0,
            [&](ImplicitLocOpBuilder &b1, Value g1, ValueRange a1) {
              return SmallVector<Value>(forLoop(
                  b1, arith::ConstantIndexOp::create(b1, view.grid(2)), a1,
                  [&](ImplicitLocOpBuilder &b2, Value g2, ValueRange a2) {
                    auto k = [&](int64_t v) {
                      return arith::ConstantIndexOp::create(b2, v);
                    };
                    Value scaleIndex = arith::AddIOp::create(
                        b2,
                        arith::MulIOp::create(
                            b2,
                            arith::AddIOp::create(
                                b2, arith::MulIOp::create(b2, g0, k(view.grid(1))),
                                g1),
                            k(view.grid(2))),
                        g2);
                    Value cell[3] = {g0, g1, g2};
                    return body(b2, cell, scaleIndex, a2);
                  }));
            }));
      });
}

/// Collapses a static tensor to 1-D (C order).
static Value flatten(ImplicitLocOpBuilder &b, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (type.getRank() == 1)
    return tensor;
  ReassociationIndices all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  return tensor::CollapseShapeOp::create(b, tensor,
                                         ArrayRef<ReassociationIndices>{all});
}

/// Expands a 1-D tensor back to `type`'s shape.
static Value unflatten(ImplicitLocOpBuilder &b, Value flat,
                       RankedTensorType type) {
  if (type.getRank() == 1)
    return flat;
  ReassociationIndices all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  return tensor::ExpandShapeOp::create(b, type, flat,
                                       ArrayRef<ReassociationIndices>{all});
}

/// Reads element `i` of a flat float tensor as f32.
static Value loadF32(ImplicitLocOpBuilder &b, Value flat, Value i) {
  Value v = tensor::ExtractOp::create(b, flat, ValueRange{i});
  if (!v.getType().isF32())
    v = arith::ExtFOp::create(b, b.getF32Type(), v);
  return v;
}

/// Writes f32 `v` into element `i` of a flat float tensor (RNE narrowing).
static Value storeFloat(ImplicitLocOpBuilder &b, Value v, Value flat, Value i) {
  Type elementType = cast<RankedTensorType>(flat.getType()).getElementType();
  if (elementType != v.getType())
    v = arith::TruncFOp::create(b, elementType, v);
  return tensor::InsertOp::create(b, v, flat, ValueRange{i});
}

static Value emptyFlat(ImplicitLocOpBuilder &b, int64_t n, Type elementType) {
  return tensor::EmptyOp::create(b, ArrayRef<int64_t>{n}, elementType);
}

static Value zeroBytes(ImplicitLocOpBuilder &b, int64_t n) {
  auto type = RankedTensorType::get({n}, b.getI8Type());
  return arith::ConstantOp::create(
      b, DenseElementsAttr::get(type, b.getI8IntegerAttr(0)));
}

//===----------------------------------------------------------------------===//
// Byte layout
//===----------------------------------------------------------------------===//

/// Offsets of the parts of the canonical packed layout.
struct PackedLayout {
  int64_t codeBytes;
  int64_t scaleOffset;
  int64_t scaleBytes; // per scale
  int64_t zeroPointOffset;
  int64_t tensorScaleOffset;
  int64_t totalBytes;
};

static PackedLayout describeLayout(const BlockView &view,
                                   const quantc::Format &format,
                                   int64_t totalBytes) {
  PackedLayout layout;
  layout.codeBytes = (view.numElements() * format.element.bits + 7) / 8;
  layout.scaleOffset = layout.codeBytes;
  layout.scaleBytes = quantc::scaleBits(format.scaleType) / 8;
  layout.zeroPointOffset =
      layout.scaleOffset + view.numBlocks() * layout.scaleBytes;
  layout.tensorScaleOffset =
      layout.zeroPointOffset + (format.symmetric ? 0 : view.numBlocks());
  layout.totalBytes = totalBytes;
  return layout;
}

/// ORs the `bits`-bit code into the LSB-first bit stream at element `index`.
static Value emitStoreCode(Emitter &em, Value bytes, Value index, Value code,
                           int bits) {
  ImplicitLocOpBuilder &b = em.b;
  Value bitOffset = em.mul(em.indexToI32(index), em.i32c(bits));
  Value byteIndex = em.i32ToIndex(em.lshr(bitOffset, em.i32c(3)));
  Value shift = em.band(bitOffset, em.i32c(7));
  Value word = em.shl(code, shift);
  auto orInto = [&](ImplicitLocOpBuilder &bb, Value tensor, Value at,
                    Value part) -> Value {
    Value old = tensor::ExtractOp::create(bb, tensor, ValueRange{at});
    Value merged = arith::OrIOp::create(
        bb, old, arith::TruncIOp::create(bb, bb.getI8Type(), part));
    return tensor::InsertOp::create(bb, merged, tensor, ValueRange{at});
  };
  bytes = orInto(b, bytes, byteIndex, word);
  if (8 % bits == 0)
    return bytes; // codes never straddle a byte
  Value spills = em.icmp(arith::CmpIPredicate::sgt,
                         em.add(shift, em.i32c(bits)), em.i32c(8));
  auto ifOp = scf::IfOp::create(b, TypeRange{bytes.getType()}, spills,
                                /*withElseRegion=*/true);
  {
    ImplicitLocOpBuilder thenB(b.getLoc(),
                               ifOp.getThenBodyBuilder());
    Value next = arith::AddIOp::create(
        thenB, byteIndex, arith::ConstantIndexOp::create(thenB, 1));
    Value high = arith::ShRUIOp::create(
        thenB, word, arith::ConstantOp::create(thenB, thenB.getI32IntegerAttr(8)));
    scf::YieldOp::create(thenB, orInto(thenB, bytes, next, high));
  }
  {
    ImplicitLocOpBuilder elseB(b.getLoc(), ifOp.getElseBodyBuilder());
    scf::YieldOp::create(elseB, bytes);
  }
  return ifOp.getResult(0);
}

/// Reads the `bits`-bit code of element `index` from the bit stream.
static Value emitLoadCode(Emitter &em, Value bytes, Value index, int bits) {
  int64_t size = cast<RankedTensorType>(bytes.getType()).getDimSize(0);
  Value bitOffset = em.mul(em.indexToI32(index), em.i32c(bits));
  Value byteIndex = em.i32ToIndex(em.lshr(bitOffset, em.i32c(3)));
  Value shift = em.band(bitOffset, em.i32c(7));
  Value word = em.byteToI32(
      tensor::ExtractOp::create(em.b, bytes, ValueRange{byteIndex}));
  if (8 % bits != 0) {
    // The following byte always exists in the layout unless this is the very
    // last byte; clamp the index and mask the contribution away then.
    Value next = arith::MinSIOp::create(
        em.b, arith::AddIOp::create(em.b, byteIndex, em.idx(1)),
        em.idx(size - 1));
    Value high = em.byteToI32(tensor::ExtractOp::create(em.b, bytes, ValueRange{next}));
    word = em.bor(word, em.shl(high, em.i32c(8)));
  }
  return em.band(em.lshr(word, shift), em.i32c((1 << bits) - 1));
}

/// Stores `count` little-endian bytes of the i32 `value` at byte `offset`.
static Value emitStoreLittleEndian(Emitter &em, Value bytes, Value offset,
                                   Value value, int count) {
  for (int i = 0; i < count; ++i) {
    Value byte = em.toI8(em.lshr(value, em.i32c(8 * i)));
    Value at = arith::AddIOp::create(em.b, offset, em.idx(i));
    bytes = tensor::InsertOp::create(em.b, byte, bytes, ValueRange{at});
  }
  return bytes;
}

static Value emitLoadLittleEndian(Emitter &em, Value bytes, Value offset,
                                  int count) {
  Value value = em.i32c(0);
  for (int i = 0; i < count; ++i) {
    Value at = arith::AddIOp::create(em.b, offset, em.idx(i));
    Value byte = em.byteToI32(tensor::ExtractOp::create(em.b, bytes, ValueRange{at}));
    value = em.bor(value, em.shl(byte, em.i32c(8 * i)));
  }
  return value;
}

//===----------------------------------------------------------------------===//
// Quantization kernels
//===----------------------------------------------------------------------===//

/// max |x| over all finite elements: the NVFP4 per-tensor amax.
static Value emitFiniteTensorAmax(Emitter &em, Value flat, int64_t n) {
  return forLoop(em.b, em.idx(n), ValueRange{em.f32c(0.0f)},
                 [&](ImplicitLocOpBuilder &b, Value i, ValueRange args) {
                   Emitter e(b);
                   Value a = e.fabs(loadF32(b, flat, i));
                   Value finite = arith::XOrIOp::create(
                       b, e.isNonFinite(a),
                       arith::ConstantOp::create(b, b.getBoolAttr(true)));
                   Value candidate = e.select(finite, a, e.f32c(0.0f));
                   return SmallVector<Value>{
                       arith::MaxNumFOp::create(b, args[0], candidate)};
                 })[0];
}

/// The second-level scale s2 of the whole tensor (see emitTensorScale).
static Value emitTensorScale(Emitter &em, Value flat, int64_t n,
                             const quantc::Format &format,
                             const ElementInfo &element) {
  Value amax = format.staticAmax > 0.0f ? Value()
                                        : emitFiniteTensorAmax(em, flat, n);
  return quantc::emitTensorScale(em, format, element, amax);
}

static quantc::BlockQuantization emitScaleOfBlock(Emitter &em, const BlockView &view,
                                   ArrayRef<Value> cell, Value flat,
                                   const quantc::Format &format,
                                   const ElementInfo &element,
                                   Value tensorScale) {
  ImplicitLocOpBuilder &b = em.b;
  // amax, NaN/Inf seen, and min(min x, 0) / max(max x, 0) for asymmetric.
  Value zero = em.f32c(0.0f);
  Value falseV = arith::ConstantOp::create(b, b.getBoolAttr(false));
  ValueRange stats = forEachInBlock(
      b, view, cell, ValueRange{zero, falseV, zero, zero},
      [&](ImplicitLocOpBuilder &ib, Value i, ValueRange args) {
        Emitter e(ib);
        Value x = loadF32(ib, flat, i);
        Value a = e.fabs(x);
        return SmallVector<Value>{
            arith::MaxNumFOp::create(ib, args[0], a),
            arith::OrIOp::create(ib, args[1], e.isNonFinite(a)),
            arith::MinNumFOp::create(ib, args[2], x),
            arith::MaxNumFOp::create(ib, args[3], x)};
      });
  return quantc::emitBlockQuantization(
      em, format, element, {stats[0], stats[1], stats[2], stats[3]},
      tensorScale);
}


/// qc.fake_quant of `input` (a float tensor of `type`) in `format`.
static Value emitFakeQuant(ImplicitLocOpBuilder &b, Value input,
                           RankedTensorType type, const quantc::Format &format) {
  Emitter em(b);
  BlockView view = makeBlockView(type.getShape(), format);
  ElementInfo element = describeElement(format.element);
  Value flat = flatten(b, input);
  Value tensorScale = format.secondLevelScale
                          ? emitTensorScale(em, flat, view.numElements(), format, element)
                          : Value();
  Value out = emptyFlat(b, view.numElements(), type.getElementType());
  out = forEachBlock(
      b, view, ValueRange{out},
      [&](ImplicitLocOpBuilder &bb, ArrayRef<Value> cell, Value,
          ValueRange args) {
        Emitter e(bb);
        quantc::BlockQuantization block = emitScaleOfBlock(e, view, cell, flat, format,
                                            element, tensorScale);
        return SmallVector<Value>(forEachInBlock(
            bb, view, cell, args,
            [&](ImplicitLocOpBuilder &ib, Value i, ValueRange inner) {
              Emitter ie(ib);
              Value code = emitCodeInBlock(ie, loadF32(ib, flat, i), block,
                                           format, element);
              Value value = emitValueInBlock(ie, code, block.scale.value,
                                             block.zeroPoint, format, element);
              return SmallVector<Value>{storeFloat(ib, value, inner[0], i)};
            }));
      })[0];
  return unflatten(b, out, type);
}

struct FakeQuantLowering : OpConversionPattern<FakeQuantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FakeQuantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    rewriter.replaceOp(op, emitFakeQuant(b, adaptor.getInput(),
                                         cast<RankedTensorType>(op.getType()),
                                         op.getFormat().getValue()));
    return success();
  }
};

struct QuantizeLowering : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto packedType = cast<PackedType>(op.getType());
    const quantc::Format &format = packedType.getFormat().getValue();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter em(b);
    BlockView view = makeBlockView(packedType.getShape(), format);
    ElementInfo element = describeElement(format.element);
    PackedLayout layout =
        describeLayout(view, format, packedType.getSizeInBytes());
    Value flat = flatten(b, adaptor.getInput());
    Value tensorScale = format.secondLevelScale
                            ? emitTensorScale(em, flat, view.numElements(), format, element)
                            : Value();
    Value bytes = zeroBytes(b, layout.totalBytes);
    bytes = forEachBlock(
        b, view, ValueRange{bytes},
        [&](ImplicitLocOpBuilder &bb, ArrayRef<Value> cell, Value scaleIndex,
            ValueRange args) {
          Emitter e(bb);
          quantc::BlockQuantization block = emitScaleOfBlock(e, view, cell, flat, format,
                                              element, tensorScale);
          Value offset = arith::AddIOp::create(
              bb, e.idx(layout.scaleOffset),
              arith::MulIOp::create(bb, scaleIndex, e.idx(layout.scaleBytes)));
          Value withScale = emitStoreLittleEndian(e, args[0], offset,
                                                  block.scale.bits,
                                                  layout.scaleBytes);
          if (block.zeroPoint)
            withScale = emitStoreLittleEndian(
                e, withScale,
                arith::AddIOp::create(bb, e.idx(layout.zeroPointOffset),
                                      scaleIndex),
                block.zeroPoint, 1);
          return SmallVector<Value>(forEachInBlock(
              bb, view, cell, ValueRange{withScale},
              [&](ImplicitLocOpBuilder &ib, Value i, ValueRange inner) {
                Emitter ie(ib);
                Value code = emitCodeInBlock(ie, loadF32(ib, flat, i), block,
                                             format, element);
                return SmallVector<Value>{emitStoreCode(
                    ie, inner[0], i, code, format.element.bits)};
              }));
        })[0];
    if (tensorScale)
      bytes = emitStoreLittleEndian(em, bytes, em.idx(layout.tensorScaleOffset),
                                    em.bitsOf(tensorScale), 4);
    rewriter.replaceOp(op, bytes);
    return success();
  }
};

/// Decodes the canonical bytes of `packedType` into a float tensor of `type`.
static Value emitDequantize(ImplicitLocOpBuilder &b, Value bytes,
                            PackedType packedType, RankedTensorType type) {
  const quantc::Format &format = packedType.getFormat().getValue();
  Emitter em(b);
  BlockView view = makeBlockView(packedType.getShape(), format);
  ElementInfo element = describeElement(format.element);
  PackedLayout layout =
      describeLayout(view, format, packedType.getSizeInBytes());
  Value tensorScale =
      format.secondLevelScale
          ? em.floatOf(emitLoadLittleEndian(
                em, bytes, em.idx(layout.tensorScaleOffset), 4))
          : Value();
  Value out = emptyFlat(b, view.numElements(), type.getElementType());
  out = forEachBlock(
      b, view, ValueRange{out},
      [&](ImplicitLocOpBuilder &bb, ArrayRef<Value> cell, Value scaleIndex,
          ValueRange args) {
        Emitter e(bb);
        Value offset = arith::AddIOp::create(
            bb, e.idx(layout.scaleOffset),
            arith::MulIOp::create(bb, scaleIndex, e.idx(layout.scaleBytes)));
        Value scale = emitDecodeScale(
            e, format.scaleType,
            emitLoadLittleEndian(e, bytes, offset, layout.scaleBytes),
            tensorScale);
        Value zeroPoint;
        if (!format.symmetric)
          zeroPoint = emitLoadLittleEndian(
              e, bytes,
              arith::AddIOp::create(bb, e.idx(layout.zeroPointOffset),
                                    scaleIndex),
              1);
        return SmallVector<Value>(forEachInBlock(
            bb, view, cell, args,
            [&](ImplicitLocOpBuilder &ib, Value i, ValueRange inner) {
              Emitter ie(ib);
              Value code = emitLoadCode(ie, bytes, i, format.element.bits);
              Value value = emitValueInBlock(ie, code, scale, zeroPoint,
                                             format, element);
              return SmallVector<Value>{storeFloat(ib, value, inner[0], i)};
            }));
      })[0];
  return unflatten(b, out, type);
}

struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    rewriter.replaceOp(
        op, emitDequantize(b, adaptor.getInput(),
                           cast<PackedType>(op.getInput().getType()),
                           cast<RankedTensorType>(op.getType())));
    return success();
  }
};

/// The reference lowering of qc.matmul: dequantize the weights, fake-quantize
/// the activations when `act` is set, and contract over K in f32, summing
/// k = 0, 1, ... in order. Target kernels (qc-lower-cpu / qc-lower-gpu)
/// replace it; this is what they are checked against.
struct MatmulLowering : OpConversionPattern<MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    auto weightType = cast<PackedType>(op.getWeight().getType());
    Type f32 = b.getF32Type();
    int64_t n = weightType.getShape()[0], k = weightType.getShape()[1];
    int64_t m = inputType.getNumElements() / k;

    Value weight = emitDequantize(b, adaptor.getWeight(), weightType,
                                  RankedTensorType::get({n, k}, f32));
    Value input = adaptor.getInput();
    if (std::optional<FormatAttr> act = op.getAct())
      input = emitFakeQuant(b, input, inputType, act->getValue());
    // [..., K] -> [M, K]
    SmallVector<ReassociationIndices> toMatrix(2);
    for (int64_t i = 0; i + 1 < inputType.getRank(); ++i)
      toMatrix[0].push_back(i);
    toMatrix[1].push_back(inputType.getRank() - 1);
    if (inputType.getRank() == 1)
      input = tensor::ExpandShapeOp::create(
          b, RankedTensorType::get({1, k}, inputType.getElementType()), input,
          ArrayRef<ReassociationIndices>{{0, 1}});
    else if (inputType.getRank() > 2)
      input = tensor::CollapseShapeOp::create(b, input, toMatrix);

    MLIRContext *ctx = b.getContext();
    AffineExpr dm, dn, dk;
    bindDims(ctx, dm, dn, dk);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {dm, dk}, ctx),
                                   AffineMap::get(3, 0, {dn, dk}, ctx),
                                   AffineMap::get(3, 0, {dm, dn}, ctx)};
    Value init = linalg::FillOp::create(
                     b, ValueRange{arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f))},
                     ValueRange{tensor::EmptyOp::create(b, ArrayRef<int64_t>{m, n}, f32)})
                     .getResult(0);
    Value product =
        linalg::GenericOp::create(
            b, TypeRange{init.getType()}, ValueRange{input, weight},
            ValueRange{init}, maps,
            ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                          utils::IteratorType::parallel,
                                          utils::IteratorType::reduction},
            [&](OpBuilder &nb, Location loc, ValueRange args) {
              Value x = args[0];
              if (x.getType() != nb.getF32Type())
                x = arith::ExtFOp::create(nb, loc, nb.getF32Type(), x);
              Value sum = arith::AddFOp::create(
                  nb, loc, args[2], arith::MulFOp::create(nb, loc, x, args[1]));
              linalg::YieldOp::create(nb, loc, sum);
            })
            .getResult(0);
    if (resultType.getElementType() != f32) {
      Type elementType = resultType.getElementType();
      auto identity = AffineMap::getMultiDimIdentityMap(2, ctx);
      product =
          linalg::GenericOp::create(
              b, TypeRange{RankedTensorType::get({m, n}, elementType)},
              ValueRange{product},
              ValueRange{tensor::EmptyOp::create(b, ArrayRef<int64_t>{m, n},
                                                 elementType)},
              ArrayRef<AffineMap>{identity, identity},
              ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                            utils::IteratorType::parallel},
              [&](OpBuilder &nb, Location loc, ValueRange args) {
                linalg::YieldOp::create(
                    nb, loc,
                    arith::TruncFOp::create(nb, loc, elementType, args[0])
                        .getResult());
              })
              .getResult(0);
    }
    // [M, N] -> [..., N]
    if (resultType.getRank() != 2)
      product = tensor::ExpandShapeOp::create(
          b, resultType, product,
          resultType.getRank() == 1 ? SmallVector<ReassociationIndices>{{0, 1}}
                                    : toMatrix);
    rewriter.replaceOp(op, product);
    return success();
  }
};

struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, cast<TypedAttr>(op.getValue()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Hadamard
//===----------------------------------------------------------------------===//

struct HadamardLowering : OpConversionPattern<HadamardOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(HadamardOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    int64_t axis = op.getNormalizedAxis();
    int64_t n = type.getDimSize(axis);
    quantc::HadamardSize size = *quantc::decomposeHadamardSize(n);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter em(b);
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i)
      outer *= type.getDimSize(i);
    for (int64_t i = axis + 1; i < type.getRank(); ++i)
      inner *= type.getDimSize(i);

    Value flat = flatten(b, adaptor.getInput());
    Value signs;
    if (std::optional<int64_t> seed = op.getSeed()) {
      std::vector<float> s =
          quantc::hadamardRandomSigns(n, static_cast<uint64_t>(*seed));
      signs = arith::ConstantOp::create(
          b, DenseElementsAttr::get(RankedTensorType::get({n}, b.getF32Type()),
                                    ArrayRef<float>(s)));
    }
    Value baseMatrix;
    int64_t m = size.base;
    if (m > 1) {
      std::vector<int8_t> h = quantc::hadamardBaseMatrix(static_cast<int>(m));
      std::vector<float> hf(h.begin(), h.end());
      baseMatrix = arith::ConstantOp::create(
          b, DenseElementsAttr::get(
                 RankedTensorType::get({m * m}, b.getF32Type()),
                 ArrayRef<float>(hf)));
    }
    float invSqrt = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
    int64_t log2Pow = llvm::Log2_64(size.powerOfTwo);

    // Linear index of element j of line (p, r).
    auto lineIndex = [&](ImplicitLocOpBuilder &lb, Value p, Value r, Value j) {
      auto k = [&](int64_t v) { return arith::ConstantIndexOp::create(lb, v); };
      Value pj = arith::AddIOp::create(lb, arith::MulIOp::create(lb, p, k(n)), j);
      return arith::AddIOp::create(lb, arith::MulIOp::create(lb, pj, k(inner)),
                                   r);
    };

    Value out = emptyFlat(b, outer * n * inner, type.getElementType());
    out = forLoop(b, em.idx(outer), ValueRange{out}, [&](ImplicitLocOpBuilder &b0,
                                                          Value p, ValueRange a0) {
      return SmallVector<Value>(forLoop(
          b0, arith::ConstantIndexOp::create(b0, inner), a0,
          [&](ImplicitLocOpBuilder &lb, Value r, ValueRange a1) {
            Emitter le(lb);
            // 1. Gather the line, applying the random signs.
            Value line = emptyFlat(lb, n, lb.getF32Type());
            line = forLoop(lb, le.idx(n), ValueRange{line},
                           [&](ImplicitLocOpBuilder &ib, Value j, ValueRange a) {
                             Value x = loadF32(ib, flat, lineIndex(ib, p, r, j));
                             if (signs)
                               x = arith::MulFOp::create(
                                   ib, x,
                                   tensor::ExtractOp::create(ib, signs, ValueRange{j}));
                             return SmallVector<Value>{tensor::InsertOp::create(
                                 ib, x, a[0], ValueRange{j})};
                           })[0];
            // 2. H_m on every chunk of m consecutive elements.
            if (baseMatrix) {
              Value mixed = emptyFlat(lb, n, lb.getF32Type());
              mixed = forLoop(
                  lb, le.idx(size.powerOfTwo), ValueRange{mixed},
                  [&](ImplicitLocOpBuilder &cb, Value chunk, ValueRange ca) {
                    Emitter ce(cb);
                    Value base = arith::MulIOp::create(cb, chunk, ce.idx(m));
                    return SmallVector<Value>(forLoop(
                        cb, ce.idx(m), ca,
                        [&](ImplicitLocOpBuilder &rb, Value row, ValueRange ra) {
                          Emitter re(rb);
                          Value rowBase = arith::MulIOp::create(rb, row, re.idx(m));
                          Value sum = forLoop(
                              rb, re.idx(m), ValueRange{re.f32c(0.0f)},
                              [&](ImplicitLocOpBuilder &jb, Value j, ValueRange ja) {
                                Value h = tensor::ExtractOp::create(
                                    jb, baseMatrix,
                                    ValueRange{arith::AddIOp::create(jb, rowBase, j)});
                                Value x = tensor::ExtractOp::create(
                                    jb, line,
                                    ValueRange{arith::AddIOp::create(jb, base, j)});
                                return SmallVector<Value>{arith::AddFOp::create(
                                    jb, ja[0], arith::MulFOp::create(jb, h, x))};
                              })[0];
                          return SmallVector<Value>{tensor::InsertOp::create(
                              rb, sum, ra[0],
                              ValueRange{arith::AddIOp::create(rb, base, row)})};
                        }));
                  })[0];
              line = mixed;
            }
            // 3. Walsh-Hadamard butterflies across the 2^k chunks.
            for (int64_t level = 0; level < log2Pow; ++level) {
              int64_t h = int64_t(1) << level;
              line = forLoop(
                  lb, le.idx(size.powerOfTwo / (2 * h)), ValueRange{line},
                  [&](ImplicitLocOpBuilder &gb, Value group, ValueRange ga) {
                    Emitter ge(gb);
                    Value first = arith::MulIOp::create(gb, group, ge.idx(2 * h));
                    return SmallVector<Value>(forLoop(
                        gb, ge.idx(h * m), ga,
                        [&](ImplicitLocOpBuilder &pb, Value t, ValueRange pa) {
                          Emitter pe(pb);
                          Value i0 = arith::AddIOp::create(
                              pb, arith::MulIOp::create(pb, first, pe.idx(m)), t);
                          Value i1 = arith::AddIOp::create(pb, i0, pe.idx(h * m));
                          Value u = tensor::ExtractOp::create(pb, pa[0], ValueRange{i0});
                          Value v = tensor::ExtractOp::create(pb, pa[0], ValueRange{i1});
                          Value t0 = tensor::InsertOp::create(
                              pb, pe.fadd(u, v), pa[0], ValueRange{i0});
                          return SmallVector<Value>{tensor::InsertOp::create(
                              pb, pe.fsub(u, v), t0, ValueRange{i1})};
                        }));
                  })[0];
            }
            // 4. Normalize and scatter back.
            return SmallVector<Value>(forLoop(
                lb, le.idx(n), a1,
                [&](ImplicitLocOpBuilder &sb, Value j, ValueRange sa) {
                  Emitter se(sb);
                  Value x = tensor::ExtractOp::create(sb, line, ValueRange{j});
                  Value y = se.fmul(x, se.f32c(invSqrt));
                  return SmallVector<Value>{
                      storeFloat(sb, y, sa[0], lineIndex(sb, p, r, j))};
                }));
          }));
    })[0];
    rewriter.replaceOp(op, unflatten(b, out, type));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct QcExpandFormatsPass
    : mlir::qc::impl::QcExpandFormatsBase<QcExpandFormatsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // The byte arithmetic here is the canonical layout's; target layouts are
    // produced and consumed by their own lowering (qc-lower-cpu/-gpu).
    WalkResult layouts = getOperation().walk([](Operation *op) {
      if (!isa<QuantizeOp, DequantizeOp, MatmulOp, ConstantOp>(op))
        return WalkResult::advance();
      for (Type type : llvm::concat<Type>(op->getOperandTypes(),
                                          op->getResultTypes()))
        if (auto packed = dyn_cast<PackedType>(type);
            packed && packed.getLayoutName() != "canonical") {
          // A qc.quantize into a target layout folds to packed bytes when
          // its input is constant and the layout can hold the values; one
          // left here did not.
          if (isa<QuantizeOp>(op)) {
            op->emitOpError()
                << "into packed layout '" << packed.getLayoutName()
                << "' was not packed at compile time: target layouts need a "
                   "constant input the layout can hold (x86_n16k8_s32: E4M3 "
                   "scales of one 32 of K at most about 2^4 apart, no NaN); "
                   "quantize into 'canonical' and let qc-lower-cpu choose "
                   "the layout";
            return WalkResult::interrupt();
          }
          op->emitOpError() << "has packed layout '" << packed.getLayoutName()
                            << "', which qc-expand-formats does not lower "
                               "(only 'canonical'; target layouts are lowered "
                               "by their target's pass)";
          return WalkResult::interrupt();
        }
      return WalkResult::advance();
    });
    if (layouts.wasInterrupted())
      return signalPassFailure();
    TypeConverter converter;
    converter.addConversion([](Type type) { return type; });
    converter.addConversion(
        [](PackedType type) -> Type { return type.getStorageType(); });
    auto castMaterialization = [](OpBuilder &b, Type type, ValueRange inputs,
                                  Location loc) -> Value {
      return UnrealizedConversionCastOp::create(b, loc, type, inputs)
          .getResult(0);
    };
    converter.addSourceMaterialization(castMaterialization);
    converter.addTargetMaterialization(castMaterialization);

    ConversionTarget target(*ctx);
    target.addLegalDialect<arith::ArithDialect, math::MathDialect,
                           scf::SCFDialect, tensor::TensorDialect>();
    target.addIllegalOp<QuantizeOp, DequantizeOp, FakeQuantOp, HadamardOp,
                        ConstantOp>();
    target.addLegalOp<ObserveOp>();
    target.addIllegalOp<MatmulOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
      return converter.isSignatureLegal(op.getFunctionType()) &&
             converter.isLegal(&op.getBody());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    RewritePatternSet patterns(ctx);
    patterns.add<FakeQuantLowering, QuantizeLowering, DequantizeLowering,
                 ConstantLowering, HadamardLowering, MatmulLowering>(converter,
                                                                    ctx);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
