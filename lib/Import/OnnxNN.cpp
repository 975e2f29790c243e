//===- OnnxNN.cpp - ONNX convolution, pooling, normalization -> linalg ----===//
//
// Conv (1-D/2-D/3-D, groups incl. depthwise, strides, dilations, pads,
// auto_pad, optional bias) as one linalg.generic over
// (n, g, m, out..., c, k...) on the input reshaped to [N, G, C/G, D...] and
// the weight to [G, M/G, C/G, K...]; padding is a fill plus
// tensor.insert_slice.
//
// MaxPool (float and integer) / AveragePool as a linalg.generic over (n, c, out..., k...) with a
// window-shaped operand that only gives the k loops their bounds (as the
// named linalg pooling ops do). AveragePool divides the window sums by a
// host-computed count per output position, which makes count_include_pad
// and the extra ceil_mode padding (never counted) exact.
// GlobalAveragePool / GlobalMaxPool are reductions over the spatial axes.
//
// BatchNormalization (inference only), InstanceNormalization and
// LayerNormalization are element-wise maps around buildReduction.
//
// Every output shape computed here is checked against ONNX shape inference
// (setOutput); an attribute combination this file does not implement is an
// error naming the attribute.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "llvm/ADT/APInt.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace quantc {
namespace {

/// The spatial geometry of a conv or pool: per spatial dim the kernel,
/// stride, dilation, padding and output size.
struct Window {
  SmallVector<int64_t> kernel, strides, dilations, padsBegin, padsEnd, out;
  /// Padding at the end beyond padsEnd that ceil_mode needs (never counted
  /// by AveragePool).
  SmallVector<int64_t> extraEnd;
};

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Reads strides / dilations / pads / auto_pad / ceil_mode for `spatial`
/// (the input's spatial dims) and `kernel`.
FailureOr<Window> readWindow(OnnxNodeContext &ctx, ArrayRef<int64_t> spatial,
                             ArrayRef<int64_t> kernel, bool hasDilations,
                             bool hasCeilMode) {
  size_t k = spatial.size();
  Window w;
  w.kernel.assign(kernel.begin(), kernel.end());
  w.strides = ctx.attrInts("strides", SmallVector<int64_t>(k, 1));
  w.dilations = hasDilations ? ctx.attrInts("dilations", SmallVector<int64_t>(k, 1))
                             : SmallVector<int64_t>(k, 1);
  SmallVector<int64_t> pads = ctx.attrInts("pads", SmallVector<int64_t>(2 * k, 0));
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  bool ceilMode = hasCeilMode && ctx.attrInt("ceil_mode", 0) != 0;
  if (ctx.failed())
    return failure();
  if (w.kernel.size() != k)
    return ctx.emitError("kernel_shape has " + Twine(w.kernel.size()) +
                         " dims; the input has " + Twine(k) + " spatial dims");
  if (w.strides.size() != k)
    return ctx.emitError("strides must have " + Twine(k) + " values");
  if (w.dilations.size() != k)
    return ctx.emitError("dilations must have " + Twine(k) + " values");
  for (size_t i = 0; i < k; ++i) {
    if (w.strides[i] < 1)
      return ctx.emitError("strides must be positive");
    if (w.dilations[i] < 1)
      return ctx.emitError("dilations must be positive");
    if (w.kernel[i] < 1)
      return ctx.emitError("kernel_shape must be positive");
  }
  w.padsBegin.assign(k, 0);
  w.padsEnd.assign(k, 0);
  w.out.assign(k, 0);
  w.extraEnd.assign(k, 0);
  if (autoPad == "NOTSET") {
    if (pads.size() != 2 * k)
      return ctx.emitError("pads must have " + Twine(2 * k) + " values");
    for (size_t i = 0; i < k; ++i) {
      w.padsBegin[i] = pads[i];
      w.padsEnd[i] = pads[i + k];
      if (pads[i] < 0 || pads[i + k] < 0)
        return ctx.emitError("negative pads are not supported");
    }
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (size_t i = 0; i < k; ++i) {
      int64_t outSize = ceilDiv(spatial[i], w.strides[i]);
      int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
      int64_t total =
          std::max<int64_t>(0, (outSize - 1) * w.strides[i] + extent - spatial[i]);
      int64_t small = total / 2;
      w.padsBegin[i] = autoPad == "SAME_UPPER" ? small : total - small;
      w.padsEnd[i] = total - w.padsBegin[i];
    }
  } else if (autoPad != "VALID") {
    return ctx.emitError("auto_pad '" + autoPad + "' is not supported");
  }
  for (size_t i = 0; i < k; ++i) {
    int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
    int64_t span = spatial[i] + w.padsBegin[i] + w.padsEnd[i] - extent;
    if (span < 0)
      return ctx.emitError("the kernel (kernel_shape, dilations) is larger "
                           "than the padded input");
    int64_t outSize = (ceilMode ? ceilDiv(span, w.strides[i]) : span / w.strides[i]) + 1;
    // A window that starts inside the end padding is dropped.
    if (ceilMode && (outSize - 1) * w.strides[i] >= spatial[i] + w.padsBegin[i])
      --outSize;
    w.out[i] = outSize;
    int64_t needed = (outSize - 1) * w.strides[i] + extent;
    w.extraEnd[i] = std::max<int64_t>(
        0, needed - (spatial[i] + w.padsBegin[i] + w.padsEnd[i]));
  }
  return w;
}

/// Checks the computed output shape against shape inference, naming the
/// attributes that decide it.
LogicalResult checkOutputShape(OnnxNodeContext &ctx, ArrayRef<int64_t> shape) {
  OnnxInferredType inferred = ctx.inferredOutput(0);
  if (!inferred.shape)
    return success();
  if (inferred.shape->size() != shape.size())
    return ctx.emitError("output rank differs from shape inference");
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t d = (*inferred.shape)[i];
    if (d != ShapedType::kDynamic && d != shape[i])
      return ctx.emitError(
          "output dim " + Twine(i) + " is " + Twine(shape[i]) +
          " here but " + Twine(d) +
          " by shape inference (pads / auto_pad / ceil_mode not supported "
          "in this combination)");
  }
  return success();
}

/// `value` padded with `padValue`: lows/highs per dim.
Value padTensor(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> lows,
                ArrayRef<int64_t> highs, Value padValue) {
  auto type = cast<RankedTensorType>(value.getType());
  bool any = false;
  for (size_t i = 0; i < lows.size(); ++i)
    any |= lows[i] != 0 || highs[i] != 0;
  if (!any)
    return value;
  SmallVector<int64_t> shape(type.getShape());
  for (size_t i = 0; i < shape.size(); ++i)
    shape[i] += lows[i] + highs[i];
  Value filled = createFilledTensor(b, loc, shape, padValue);
  SmallVector<OpFoldResult> offsets, sizes, strides;
  for (size_t i = 0; i < shape.size(); ++i) {
    offsets.push_back(b.getIndexAttr(lows[i]));
    sizes.push_back(b.getIndexAttr(type.getShape()[i]));
    strides.push_back(b.getIndexAttr(1));
  }
  return tensor::InsertSliceOp::create(b, loc, value, filled, offsets, sizes,
                                       strides);
}

SmallVector<int64_t> concat(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  SmallVector<int64_t> r(a);
  r.append(b.begin(), b.end());
  return r;
}

//===----------------------------------------------------------------------===//
// Conv
//===----------------------------------------------------------------------===//

} // namespace

/// The convolution of `x` by `w` (+ `bias` per output channel if given) with
/// the node's attributes, in the element type of x: float, or integer with
/// wrapping integer arithmetic (ConvInteger / QLinearConv accumulate in i32).
FailureOr<Value> buildOnnxConv(OnnxNodeContext &ctx, Value x, Value weightIn,
                               Value bias) {
  SmallVector<int64_t> xShape(cast<RankedTensorType>(x.getType()).getShape());
  SmallVector<int64_t> wShape(
      cast<RankedTensorType>(weightIn.getType()).getShape());
  int64_t rank = xShape.size();
  if (rank < 3 || rank > 5 || (int64_t)wShape.size() != rank)
    return ctx.emitError("only 1-D, 2-D and 3-D convolutions are supported");
  int64_t k = rank - 2;
  int64_t group = ctx.attrInt("group", 1);
  SmallVector<int64_t> kernel = ctx.attrInts(
      "kernel_shape", ArrayRef<int64_t>(wShape).drop_front(2));
  if (ctx.failed())
    return failure();
  if (ArrayRef<int64_t>(kernel) != ArrayRef<int64_t>(wShape).drop_front(2))
    return ctx.emitError("kernel_shape differs from the weight's shape");
  int64_t n = xShape[0], c = xShape[1], m = wShape[0];
  if (group < 1 || c % group != 0 || m % group != 0 || wShape[1] * group != c)
    return ctx.emitError("group " + Twine(group) +
                         " does not fit the input/weight channels");
  auto wOr = readWindow(ctx, ArrayRef<int64_t>(xShape).drop_front(2), kernel,
                        /*hasDilations=*/true, /*hasCeilMode=*/false);
  if (mlir::failed(wOr))
    return failure();
  Window w = *wOr;
  SmallVector<int64_t> outShape = concat({n, m}, w.out);
  if (mlir::failed(checkOutputShape(ctx, outShape)))
    return failure();

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  MLIRContext *context = ctx.getContext();
  Type elementType = cast<RankedTensorType>(x.getType()).getElementType();
  Value zero = createScalarConstant(b, loc, elementType, 0.0);
  SmallVector<int64_t> lows(2, 0), highs(2, 0);
  for (int64_t i = 0; i < k; ++i) {
    lows.push_back(w.padsBegin[i]);
    highs.push_back(w.padsEnd[i] + w.extraEnd[i]);
  }
  x = padTensor(b, loc, x, lows, highs, zero);
  SmallVector<int64_t> xPadded(cast<RankedTensorType>(x.getType()).getShape());
  int64_t cg = c / group, mg = m / group;
  x = reshapeTensor(b, loc, x,
                    concat({n, group, cg}, ArrayRef<int64_t>(xPadded).drop_front(2)));
  Value weight =
      reshapeTensor(b, loc, weightIn, concat({group, mg, cg}, kernel));
  SmallVector<int64_t> groupedOut = concat({n, group, mg}, w.out);
  Value init;
  if (bias) {
    SmallVector<int64_t> biasShape = {1, group, mg};
    biasShape.append(k, 1);
    init = broadcastTo(b, loc, reshapeTensor(b, loc, bias, biasShape),
                       groupedOut);
  } else {
    init = createFilledTensor(b, loc, groupedOut, zero);
  }

  // Loops: n, g, m, o_0..o_{k-1}, c, k_0..k_{k-1}.
  int64_t numLoops = 3 + k + 1 + k;
  auto d = [&](int64_t i) { return getAffineDimExpr(i, context); };
  SmallVector<AffineExpr> xExprs = {d(0), d(1), d(3 + k)};
  SmallVector<AffineExpr> wExprs = {d(1), d(2), d(3 + k)};
  SmallVector<AffineExpr> outExprs = {d(0), d(1), d(2)};
  for (int64_t i = 0; i < k; ++i) {
    xExprs.push_back(d(3 + i) * w.strides[i] + d(4 + k + i) * w.dilations[i]);
    wExprs.push_back(d(4 + k + i));
    outExprs.push_back(d(3 + i));
  }
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, xExprs, context),
                                 AffineMap::get(numLoops, 0, wExprs, context),
                                 AffineMap::get(numLoops, 0, outExprs, context)};
  SmallVector<utils::IteratorType> iterators(3 + k, utils::IteratorType::parallel);
  iterators.append(1 + k, utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{x, weight}, ValueRange{init},
      maps, iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value sum;
        if (isa<FloatType>(elementType)) {
          Value prod = arith::MulFOp::create(nb, l, args[0], args[1]);
          sum = arith::AddFOp::create(nb, l, args[2], prod);
        } else {
          Value prod = arith::MulIOp::create(nb, l, args[0], args[1]);
          sum = arith::AddIOp::create(nb, l, args[2], prod);
        }
        linalg::YieldOp::create(nb, l, sum);
      });
  return reshapeTensor(b, loc, generic.getResult(0), outShape);
}

namespace {

LogicalResult lowerConv(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  FailureOr<Value> result = buildOnnxConv(
      ctx, ctx.input(0), ctx.input(1), ctx.hasInput(2) ? ctx.input(2) : Value());
  if (mlir::failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}


/// ConvTranspose: out[n, m, o] = B[m] + sum over c, k of X[n, c, i] *
/// W[c, m, k] where o = i * stride + k * dilation - pad_begin, as one
/// linalg.generic whose body finds i from o and k (skipping positions that
/// are not on the stride grid or outside the input).
LogicalResult lowerConvTranspose(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  SmallVector<int64_t> xShape(ctx.inputShape(0)), wShape(ctx.inputShape(1));
  int64_t rank = xShape.size();
  if (rank < 3 || (int64_t)wShape.size() != rank)
    return ctx.emitError("input and weight must have the same rank >= 3");
  int64_t k = rank - 2;
  int64_t group = ctx.attrInt("group", 1);
  SmallVector<int64_t> kernel = ctx.attrInts(
      "kernel_shape", ArrayRef<int64_t>(wShape).drop_front(2));
  SmallVector<int64_t> strides = ctx.attrInts("strides", SmallVector<int64_t>(k, 1));
  SmallVector<int64_t> dilations =
      ctx.attrInts("dilations", SmallVector<int64_t>(k, 1));
  SmallVector<int64_t> pads = ctx.attrInts("pads", SmallVector<int64_t>(2 * k, 0));
  SmallVector<int64_t> outputPadding =
      ctx.attrInts("output_padding", SmallVector<int64_t>(k, 0));
  std::optional<SmallVector<int64_t>> outputShapeAttr =
      ctx.optionalAttrInts("output_shape");
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  if (ctx.failed())
    return failure();
  if (ArrayRef<int64_t>(kernel) != ArrayRef<int64_t>(wShape).drop_front(2))
    return ctx.emitError("kernel_shape differs from the weight's shape");
  if ((int64_t)strides.size() != k || (int64_t)dilations.size() != k ||
      (int64_t)pads.size() != 2 * k || (int64_t)outputPadding.size() != k)
    return ctx.emitError("strides, dilations, output_padding (" + Twine(k) +
                         " values) or pads (" + Twine(2 * k) +
                         ") have the wrong length");
  int64_t n = xShape[0], c = xShape[1];
  if (group < 1 || c % group != 0 || wShape[0] != c)
    return ctx.emitError("group " + Twine(group) +
                         " does not fit the input/weight channels");
  int64_t cg = c / group, mg = wShape[1], m = mg * group;
  if (autoPad != "NOTSET" && autoPad != "SAME_UPPER" &&
      autoPad != "SAME_LOWER" && autoPad != "VALID")
    return ctx.emitError("auto_pad '" + autoPad + "' is not supported");
  SmallVector<int64_t> out(k), padBegin(k);
  for (int64_t i = 0; i < k; ++i) {
    int64_t full = strides[i] * (xShape[2 + i] - 1) + outputPadding[i] +
                   (kernel[i] - 1) * dilations[i] + 1;
    std::optional<int64_t> target;
    if (outputShapeAttr) {
      ArrayRef<int64_t> shape = *outputShapeAttr;
      if ((int64_t)shape.size() == rank)
        shape = shape.drop_front(2);
      if ((int64_t)shape.size() != k)
        return ctx.emitError("output_shape must have " + Twine(k) + " values");
      target = shape[i];
    } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      target = xShape[2 + i] * strides[i];
    }
    if (target) {
      // ONNX's formula with floor division (total < 0 when output_shape
      // asks for more than the input covers: the extra goes at the end).
      int64_t total = full - *target;
      int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      padBegin[i] = autoPad == "SAME_UPPER" ? half : total - half;
      out[i] = *target;
    } else {
      if (autoPad == "VALID")
        pads[i] = pads[k + i] = 0;
      padBegin[i] = pads[i];
      out[i] = full - pads[i] - pads[k + i];
    }
    if (out[i] <= 0)
      return ctx.emitError("output dim " + Twine(2 + i) + " would be " +
                           Twine(out[i]));
  }
  SmallVector<int64_t> outShape = concat({n, m}, out);
  if (mlir::failed(checkOutputShape(ctx, outShape)))
    return failure();

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  MLIRContext *context = ctx.getContext();
  Value x = reshapeTensor(b, loc, ctx.input(0),
                          concat({n, group, cg}, ArrayRef<int64_t>(xShape).drop_front(2)));
  Type elementType = ctx.inputType(0).getElementType();
  Value zero = createScalarConstant(b, loc, elementType, 0.0);
  Value weight =
      reshapeTensor(b, loc, ctx.input(1), concat({group, cg, mg}, kernel));
  SmallVector<int64_t> groupedOut = concat({n, group, mg}, out);
  Value init;
  if (ctx.hasInput(2)) {
    SmallVector<int64_t> biasShape = {1, group, mg};
    biasShape.append(k, 1);
    init = broadcastTo(b, loc, reshapeTensor(b, loc, ctx.input(2), biasShape),
                       groupedOut);
  } else {
    init = createFilledTensor(b, loc, groupedOut, zero);
  }
  // Loops: n, g, m, o_0..o_{k-1}, c, k_0..k_{k-1}.
  int64_t numLoops = 3 + k + 1 + k;
  auto d = [&](int64_t i) { return getAffineDimExpr(i, context); };
  SmallVector<AffineExpr> wExprs = {d(1), d(3 + k), d(2)};
  SmallVector<AffineExpr> outExprs = {d(0), d(1), d(2)};
  for (int64_t i = 0; i < k; ++i) {
    wExprs.push_back(d(4 + k + i));
    outExprs.push_back(d(3 + i));
  }
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, wExprs, context),
                                 AffineMap::get(numLoops, 0, outExprs, context)};
  SmallVector<utils::IteratorType> iterators(3 + k, utils::IteratorType::parallel);
  iterators.append(1 + k, utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{weight}, ValueRange{init},
      maps, iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        auto index = [&](int64_t dim) -> Value {
          return linalg::IndexOp::create(nb, l, dim);
        };
        auto cst = [&](int64_t v) -> Value {
          return arith::ConstantIndexOp::create(nb, l, v);
        };
        SmallVector<Value> source = {index(0), index(1), index(3 + k)};
        Value valid;
        for (int64_t i = 0; i < k; ++i) {
          // i * stride = o + pad_begin - k * dilation.
          Value scaled = arith::SubIOp::create(
              nb, l, arith::AddIOp::create(nb, l, index(3 + i), cst(padBegin[i])),
              arith::MulIOp::create(nb, l, index(4 + k + i), cst(dilations[i])));
          Value position = arith::DivSIOp::create(nb, l, scaled, cst(strides[i]));
          Value onGrid = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::eq,
              arith::RemSIOp::create(nb, l, scaled, cst(strides[i])), cst(0));
          Value inside = arith::AndIOp::create(
              nb, l,
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, scaled,
                                    cst(0)),
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, position,
                                    cst(xShape[2 + i])));
          Value ok = arith::AndIOp::create(nb, l, onGrid, inside);
          valid = valid ? arith::AndIOp::create(nb, l, valid, ok).getResult() : ok;
          Value clamped = arith::MaxSIOp::create(nb, l, position, cst(0));
          clamped = arith::MinSIOp::create(nb, l, clamped, cst(xShape[2 + i] - 1));
          source.push_back(clamped);
        }
        Value element = tensor::ExtractOp::create(nb, l, x, source);
        element = arith::SelectOp::create(nb, l, valid, element, zero);
        Value prod = arith::MulFOp::create(nb, l, element, args[0]);
        linalg::YieldOp::create(nb, l,
                                arith::AddFOp::create(nb, l, args[1], prod).getResult());
      });
  ctx.setOutput(0, reshapeTensor(b, loc, generic.getResult(0), outShape));
  return success();
}

/// LRN: x / (bias + alpha / size * sum of x^2 over the channel window
/// [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
LogicalResult lowerLRN(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  int64_t size = ctx.requireAttrInt("size");
  float alpha = ctx.attrFloat("alpha", 1e-4f);
  float beta = ctx.attrFloat("beta", 0.75f);
  float bias = ctx.attrFloat("bias", 1.0f);
  if (ctx.failed())
    return failure();
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  if (shape.size() < 3 || size < 1)
    return ctx.emitError("needs an input of rank >= 3 and size >= 1");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Type elementType = ctx.inputType(0).getElementType();
  int64_t channels = shape[1];
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  Value result = buildIndexedTensor(
      b, loc, shape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        auto cst = [&](int64_t v) -> Value {
          return arith::ConstantIndexOp::create(nb, l, v);
        };
        Value lo = arith::MaxSIOp::create(
            nb, l, arith::SubIOp::create(nb, l, coords[1], cst(before)), cst(0));
        Value hi = arith::MinSIOp::create(
            nb, l, arith::AddIOp::create(nb, l, coords[1], cst(after + 1)),
            cst(channels));
        Value zero = createScalarConstant(nb, l, elementType, 0.0);
        auto loop = scf::ForOp::create(
            nb, l, lo, hi, cst(1), ValueRange{zero},
            [&](OpBuilder &lb, Location ll, Value c, ValueRange acc) {
              SmallVector<Value> at(coords.begin(), coords.end());
              at[1] = c;
              Value v = tensor::ExtractOp::create(lb, ll, x, at);
              Value sq = arith::MulFOp::create(lb, ll, v, v);
              scf::YieldOp::create(lb, ll,
                                   arith::AddFOp::create(lb, ll, acc[0], sq).getResult());
            });
        Value scaled = arith::MulFOp::create(
            nb, l, loop.getResult(0),
            createScalarConstant(nb, l, elementType, alpha / size));
        Value base = arith::AddFOp::create(
            nb, l, scaled, createScalarConstant(nb, l, elementType, bias));
        Value denominator = math::PowFOp::create(
            nb, l, base, createScalarConstant(nb, l, elementType, beta));
        Value element = tensor::ExtractOp::create(nb, l, x, coords);
        return arith::DivFOp::create(nb, l, element, denominator);
      });
  ctx.setOutput(0, result);
  return success();
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

LogicalResult lowerPool(OnnxNodeContext &ctx, bool isMax) {
  OnnxDType dtype = ctx.inputDType(0);
  bool isFloat = isOnnxFloat(dtype);
  bool isUnsigned = isOnnxUnsigned(dtype);
  if (!(isFloat || (isMax && isOnnxInteger(dtype))))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported");
  SmallVector<int64_t> xShape(ctx.inputShape(0));
  int64_t rank = xShape.size();
  if (rank < 3)
    return ctx.emitError("the input must have at least one spatial dim");
  int64_t k = rank - 2;
  if (!ctx.hasAttr("kernel_shape"))
    return ctx.emitError("kernel_shape is required");
  SmallVector<int64_t> kernel = ctx.attrInts("kernel_shape");
  bool hasDilations = isMax ? ctx.opset() >= 10 : ctx.opset() >= 19;
  bool countIncludePad = !isMax && ctx.attrInt("count_include_pad", 0) != 0;
  // storage_order = 1: Indices count the spatial dims column-major.
  bool columnMajor = isMax && ctx.attrInt("storage_order", 0) != 0;
  if (ctx.failed())
    return failure();
  auto wOr = readWindow(ctx, ArrayRef<int64_t>(xShape).drop_front(2), kernel,
                        hasDilations, /*hasCeilMode=*/ctx.opset() >= 10);
  if (mlir::failed(wOr))
    return failure();
  Window w = *wOr;
  SmallVector<int64_t> outShape = concat({xShape[0], xShape[1]}, w.out);
  if (mlir::failed(checkOutputShape(ctx, outShape)))
    return failure();

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  MLIRContext *context = ctx.getContext();
  Value x = ctx.input(0);
  Type elementType = cast<RankedTensorType>(x.getType()).getElementType();
  double inf = std::numeric_limits<double>::infinity();
  Value padValue;
  if (isFloat) {
    padValue = createScalarConstant(b, loc, elementType, isMax ? -inf : 0.0);
  } else { // integer MaxPool: pad with the type's minimum
    unsigned width = elementType.getIntOrFloatBitWidth();
    padValue = arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(elementType,
                                 isUnsigned ? APInt::getMinValue(width)
                                            : APInt::getSignedMinValue(width)));
  }
  SmallVector<int64_t> lows(2, 0), highs(2, 0);
  for (int64_t i = 0; i < k; ++i) {
    lows.push_back(w.padsBegin[i]);
    highs.push_back(w.padsEnd[i] + w.extraEnd[i]);
  }
  x = padTensor(b, loc, x, lows, highs, padValue);
  Value window = createEmptyTensor(b, loc, kernel, elementType);
  Value init = createFilledTensor(b, loc, outShape, padValue);

  int64_t numLoops = 2 + 2 * k;
  auto d = [&](int64_t i) { return getAffineDimExpr(i, context); };
  SmallVector<AffineExpr> xExprs = {d(0), d(1)}, wExprs, outExprs = {d(0), d(1)};
  for (int64_t i = 0; i < k; ++i) {
    xExprs.push_back(d(2 + i) * w.strides[i] + d(2 + k + i) * w.dilations[i]);
    wExprs.push_back(d(2 + k + i));
    outExprs.push_back(d(2 + i));
  }
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, xExprs, context),
                                 AffineMap::get(numLoops, 0, wExprs, context),
                                 AffineMap::get(numLoops, 0, outExprs, context)};
  SmallVector<utils::IteratorType> iterators(2 + k, utils::IteratorType::parallel);
  iterators.append(k, utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{x, window}, ValueRange{init},
      maps, iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value r;
        if (!isMax)
          r = arith::AddFOp::create(nb, l, args[0], args[2]);
        else if (isFloat)
          r = arith::MaximumFOp::create(nb, l, args[0], args[2]);
        else if (isUnsigned)
          r = arith::MaxUIOp::create(nb, l, args[0], args[2]);
        else
          r = arith::MaxSIOp::create(nb, l, args[0], args[2]);
        linalg::YieldOp::create(nb, l, r);
      });
  Value result = generic.getResult(0);
  if (isMax && ctx.numOutputs() > 1 && ctx.hasOutput(1)) {
    // Indices: the flat index into X (spatial dims row-major, or
    // column-major for storage_order = 1) of each window's first maximum,
    // found by a second reduction carrying (max, index).
    Value indexInit = createFilledTensor(
        b, loc, outShape, createIntConstant(b, loc, b.getI64Type(), 0));
    Value valueInit = createFilledTensor(b, loc, outShape, padValue);
    SmallVector<AffineMap> argMaps = {maps[0], maps[1], maps[2], maps[2]};
    auto argGeneric = linalg::GenericOp::create(
        b, loc, TypeRange{valueInit.getType(), indexInit.getType()},
        ValueRange{x, window}, ValueRange{valueInit, indexInit}, argMaps,
        iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
          auto idx = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(nb, l, v);
          };
          Value flat = linalg::IndexOp::create(nb, l, 0);
          flat = arith::AddIOp::create(
              nb, l, arith::MulIOp::create(nb, l, flat, idx(xShape[1])),
              linalg::IndexOp::create(nb, l, 1));
          for (int64_t step = 0; step < k; ++step) {
            int64_t i = columnMajor ? k - 1 - step : step;
            Value pos = arith::AddIOp::create(
                nb, l,
                arith::MulIOp::create(nb, l, linalg::IndexOp::create(nb, l, 2 + i),
                                      idx(w.strides[i])),
                arith::MulIOp::create(nb, l,
                                      linalg::IndexOp::create(nb, l, 2 + k + i),
                                      idx(w.dilations[i])));
            pos = arith::SubIOp::create(nb, l, pos, idx(w.padsBegin[i]));
            flat = arith::AddIOp::create(
                nb, l, arith::MulIOp::create(nb, l, flat, idx(xShape[2 + i])), pos);
          }
          Value greater =
              isFloat ? arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                              args[0], args[2])
                            .getResult()
                      : arith::CmpIOp::create(nb, l,
                                              isUnsigned ? arith::CmpIPredicate::ugt
                                                         : arith::CmpIPredicate::sgt,
                                              args[0], args[2])
                            .getResult();
          Value flatI64 = arith::IndexCastOp::create(nb, l, nb.getI64Type(), flat);
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::SelectOp::create(nb, l, greater, args[0], args[2]),
                         arith::SelectOp::create(nb, l, greater, flatI64, args[3])});
        });
    ctx.setOutput(1, argGeneric.getResult(1), OnnxDType::Int64);
  }
  if (!isMax) {
    // Per-dim window counts (the window is a box), multiplied out on the host.
    std::vector<double> counts(1, 1.0);
    for (int64_t i = 0; i < k; ++i) {
      int64_t size = xShape[2 + i];
      int64_t lo = countIncludePad ? -w.padsBegin[i] : 0;
      int64_t hi = countIncludePad ? size + w.padsEnd[i] : size;
      std::vector<double> next;
      next.reserve(counts.size() * w.out[i]);
      for (double prev : counts)
        for (int64_t o = 0; o < w.out[i]; ++o) {
          int64_t cnt = 0;
          for (int64_t j = 0; j < w.kernel[i]; ++j) {
            int64_t pos = o * w.strides[i] + j * w.dilations[i] - w.padsBegin[i];
            cnt += pos >= lo && pos < hi;
          }
          next.push_back(prev * cnt);
        }
      counts = std::move(next);
    }
    for (double cnt : counts)
      if (cnt == 0)
        return ctx.emitError("a window lies entirely in the padding (pads)");
    KnownTensor countTensor =
        KnownTensor::fromDoubles(dtype, w.out, counts);
    Value count = materializeKnownTensor(b, loc, countTensor);
    result = buildElementwise(
        b, loc, ValueRange{result, count}, outShape, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::DivFOp::create(nb, l, args[0], args[1]);
        });
  }
  ctx.setOutput(0, result);
  return success();
}

/// MaxUnpool: zeros of the unpooled shape (or `output_shape`), with X[j]
/// written at the flat index I[j] (MaxPool's Indices), in X's order.
LogicalResult lowerMaxUnpool(OnnxNodeContext &ctx) {
  SmallVector<int64_t> xShape(ctx.inputShape(0));
  int64_t rank = xShape.size();
  if (rank < 3 || ctx.inputShape(1) != ArrayRef<int64_t>(xShape))
    return ctx.emitError("X and I must have the same shape [N, C, D...]");
  if (ctx.inputDType(1) != OnnxDType::Int64)
    return ctx.emitError("I must be int64");
  int64_t k = rank - 2;
  SmallVector<int64_t> kernel = ctx.attrInts("kernel_shape");
  SmallVector<int64_t> strides = ctx.attrInts("strides", SmallVector<int64_t>(k, 1));
  SmallVector<int64_t> pads = ctx.attrInts("pads", SmallVector<int64_t>(2 * k, 0));
  if (ctx.failed())
    return failure();
  if ((int64_t)kernel.size() != k || (int64_t)strides.size() != k ||
      (int64_t)pads.size() != 2 * k)
    return ctx.emitError("kernel_shape, strides or pads has the wrong length");
  SmallVector<int64_t> outShape = {xShape[0], xShape[1]};
  for (int64_t i = 0; i < k; ++i)
    outShape.push_back((xShape[2 + i] - 1) * strides[i] - pads[i] - pads[k + i] +
                       kernel[i]);
  // Indices count in the default unpooled shape; a larger output_shape
  // pads that shape at the end (as ONNX's test data does).
  SmallVector<int64_t> indexShape(outShape);
  if (ctx.hasInput(2)) {
    FailureOr<SmallVector<int64_t>> shape =
        ctx.requireConstantInts(2, "output_shape");
    if (mlir::failed(shape))
      return failure();
    if ((int64_t)shape->size() != rank)
      return ctx.emitError("output_shape must have " + Twine(rank) + " values");
    outShape = *shape;
    for (int64_t d = 0; d < rank; ++d)
      if (outShape[d] < indexShape[d])
        return ctx.emitError("output_shape is smaller than the unpooled shape");
  }
  int64_t total = numElementsOf(outShape);
  int64_t indexTotal = numElementsOf(indexShape);
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Type elementType = ctx.inputType(0).getElementType();
  Value zeros = createFilledTensor(b, loc, {total},
                                   createScalarConstant(b, loc, elementType, 0.0));
  Value x = ctx.input(0), indices = ctx.input(1);
  SmallVector<Value> lower, upper, steps;
  for (int64_t dim : xShape) {
    lower.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    upper.push_back(arith::ConstantIndexOp::create(b, loc, dim));
    steps.push_back(arith::ConstantIndexOp::create(b, loc, 1));
  }
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lower, upper, steps, ValueRange{zeros},
      [&](OpBuilder &nb, Location l, ValueRange ivs,
          ValueRange args) -> scf::ValueVector {
        Value index = tensor::ExtractOp::create(nb, l, indices, ivs);
        Value flat = wrapAndClampIndex(nb, l, index, indexTotal);
        if (indexShape != outShape) {
          // Decode in the unpooled shape, encode in the output shape.
          Value encoded = arith::ConstantIndexOp::create(nb, l, 0);
          Value rest = flat;
          SmallVector<Value> coords(rank);
          for (int64_t d = rank - 1; d >= 0; --d) {
            Value size = arith::ConstantIndexOp::create(nb, l, indexShape[d]);
            coords[d] = arith::RemUIOp::create(nb, l, rest, size);
            rest = arith::DivUIOp::create(nb, l, rest, size);
          }
          for (int64_t d = 0; d < rank; ++d)
            encoded = arith::AddIOp::create(
                nb, l,
                arith::MulIOp::create(
                    nb, l, encoded,
                    arith::ConstantIndexOp::create(nb, l, outShape[d])),
                coords[d]);
          flat = encoded;
        }
        Value value = tensor::ExtractOp::create(nb, l, x, ivs);
        return {tensor::InsertOp::create(nb, l, value, args[0], ValueRange{flat})};
      });
  ctx.setOutput(0, reshapeTensor(b, loc, nest.results[0], outShape));
  return success();
}

LogicalResult lowerGlobalPool(OnnxNodeContext &ctx, bool isMax) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  SmallVector<int64_t> shape(ctx.inputShape(0));
  int64_t rank = shape.size();
  if (rank < 2)
    return ctx.emitError("the input must have rank >= 2");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Type elementType = cast<RankedTensorType>(x.getType()).getElementType();
  SmallVector<int64_t> axes;
  int64_t count = 1;
  for (int64_t i = 2; i < rank; ++i) {
    axes.push_back(i);
    count *= shape[i];
  }
  double inf = std::numeric_limits<double>::infinity();
  Value result = buildReduction(
      b, loc, x, axes, /*keepDims=*/true,
      b.getFloatAttr(elementType, isMax ? -inf : 0.0),
      [isMax](OpBuilder &nb, Location l, Value e, Value acc) -> Value {
        if (isMax)
          return arith::MaximumFOp::create(nb, l, e, acc);
        return arith::AddFOp::create(nb, l, e, acc);
      });
  if (!isMax) {
    SmallVector<int64_t> outShape(cast<RankedTensorType>(result.getType()).getShape());
    result = buildElementwise(
        b, loc, result, outShape, elementType,
        [count](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value c = createScalarConstant(nb, l, args[0].getType(), (double)count);
          return arith::DivFOp::create(nb, l, args[0], c);
        });
  }
  ctx.setOutput(0, result);
  return success();
}

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

/// Mean of `x` over `axes`, keeping them as size 1.
Value meanOver(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> axes) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  int64_t count = 1;
  for (int64_t a : axes)
    count *= type.getShape()[a];
  Value sum = buildReduction(
      b, loc, x, axes, /*keepDims=*/true, b.getFloatAttr(elementType, 0.0),
      [](OpBuilder &nb, Location l, Value e, Value acc) -> Value {
        return arith::AddFOp::create(nb, l, e, acc);
      });
  SmallVector<int64_t> shape(cast<RankedTensorType>(sum.getType()).getShape());
  return buildElementwise(
      b, loc, sum, shape, elementType,
      [count](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value c = createScalarConstant(nb, l, args[0].getType(), (double)count);
        return arith::DivFOp::create(nb, l, args[0], c);
      });
}

/// Per-channel [C] parameter reshaped to [C, 1, ...] (`trailing` ones) so
/// that it broadcasts against [N, C, D...].
Value channelParam(OnnxNodeContext &ctx, unsigned index, int64_t trailing) {
  SmallVector<int64_t> shape(ctx.inputShape(index));
  shape.append(trailing, 1);
  return reshapeTensor(ctx.builder(), ctx.loc(), ctx.input(index), shape);
}

LogicalResult lowerBatchNorm(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  // Opset 14+ training_mode: normalize with the batch statistics and
  // return the updated running mean / variance. Earlier opsets' extra
  // outputs (saved mean / variance for the gradient) are not supported.
  bool training = ctx.attrInt("training_mode", 0) != 0;
  if (ctx.attrInt("spatial", 1) != 1)
    return ctx.emitError("spatial = 0 is not supported");
  for (unsigned i = 1; i < ctx.numOutputs(); ++i)
    if (ctx.hasOutput(i) && (!training || i > 2 || ctx.opset() < 14))
      return ctx.emitError("output " + Twine(i) +
                           " (training statistics) is not supported");
  float epsilon = ctx.attrFloat("epsilon", 1e-5f);
  float momentum = ctx.attrFloat("momentum", 0.9f);
  if (ctx.failed())
    return failure();
  SmallVector<int64_t> shape(ctx.inputShape(0));
  int64_t rank = shape.size();
  if (rank < 2)
    return ctx.emitError("the input must have rank >= 2");
  for (unsigned i = 1; i <= 4; ++i)
    if (ctx.inputShape(i) != ArrayRef<int64_t>{shape[1]})
      return ctx.emitError("scale/B/mean/var must have shape [C]");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Type elementType = cast<RankedTensorType>(x.getType()).getElementType();
  SmallVector<Value> operands = {x};
  for (unsigned i = 1; i <= 4; ++i)
    operands.push_back(channelParam(ctx, i, rank - 2));
  if (ctx.inputType(1).getElementType() != elementType ||
      ctx.inputType(3).getElementType() != elementType)
    return ctx.emitError("mixed element types are not supported");
  if (training) {
    // Batch mean and (population) variance over every axis but 1.
    SmallVector<int64_t> axes = {0};
    for (int64_t d = 2; d < rank; ++d)
      axes.push_back(d);
    Value mean = meanOver(b, loc, x, axes);
    SmallVector<int64_t> statShape(cast<RankedTensorType>(mean.getType()).getShape());
    Value squared = buildElementwise(
        b, loc, {x, mean}, shape, elementType,
        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value d = arith::SubFOp::create(nb, l, a[0], a[1]);
          return arith::MulFOp::create(nb, l, d, d);
        });
    Value var = meanOver(b, loc, squared, axes);
    auto running = [&](unsigned index, Value batch) {
      Value old = reshapeTensor(b, loc, ctx.input(index), statShape);
      Value updated = buildElementwise(
          b, loc, {old, batch}, statShape, elementType,
          [momentum](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Type t = a[0].getType();
            Value keep = arith::MulFOp::create(
                nb, l, a[0], createScalarConstant(nb, l, t, momentum));
            Value take = arith::MulFOp::create(
                nb, l, a[1], createScalarConstant(nb, l, t, 1.0 - momentum));
            return arith::AddFOp::create(nb, l, keep, take);
          });
      return reshapeTensor(b, loc, updated, {shape[1]});
    };
    if (ctx.hasOutput(1))
      ctx.setOutput(1, running(3, mean));
    if (ctx.hasOutput(2))
      ctx.setOutput(2, running(4, var));
    operands[3] = mean;
    operands[4] = var;
  }
  Value result = buildElementwise(
      b, loc, operands, shape, elementType,
      [epsilon](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value eps = createScalarConstant(nb, l, a[0].getType(), epsilon);
        Value var = arith::AddFOp::create(nb, l, a[4], eps);
        Value inv = math::RsqrtOp::create(nb, l, var);
        Value centered = arith::SubFOp::create(nb, l, a[0], a[3]);
        Value scaled = arith::MulFOp::create(
            nb, l, arith::MulFOp::create(nb, l, centered, inv), a[1]);
        return arith::AddFOp::create(nb, l, scaled, a[2]);
      });
  ctx.setOutput(0, result);
  return success();
}

/// (x - mean) * rsqrt(var + eps) over `axes`; also returns mean and the
/// inverse standard deviation (keepDims shapes).
Value normalize(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> axes,
                double epsilon, Value *meanOut = nullptr,
                Value *invStdOut = nullptr) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  SmallVector<int64_t> shape(type.getShape());
  Value mean = meanOver(b, loc, x, axes);
  Value centered = buildElementwise(
      b, loc, ValueRange{x, mean}, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return arith::SubFOp::create(nb, l, a[0], a[1]);
      });
  Value squared = buildElementwise(
      b, loc, centered, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return arith::MulFOp::create(nb, l, a[0], a[0]);
      });
  Value var = meanOver(b, loc, squared, axes);
  SmallVector<int64_t> keptShape(cast<RankedTensorType>(var.getType()).getShape());
  Value invStd = buildElementwise(
      b, loc, var, keptShape, elementType,
      [epsilon](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value eps = createScalarConstant(nb, l, a[0].getType(), epsilon);
        return math::RsqrtOp::create(nb, l, arith::AddFOp::create(nb, l, a[0], eps));
      });
  if (meanOut)
    *meanOut = mean;
  if (invStdOut)
    *invStdOut = invStd;
  return buildElementwise(
      b, loc, ValueRange{centered, invStd}, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return arith::MulFOp::create(nb, l, a[0], a[1]);
      });
}

Value scaleShift(OpBuilder &b, Location loc, Value normalized, Value scale,
                 Value bias) {
  auto type = cast<RankedTensorType>(normalized.getType());
  SmallVector<Value> operands = {normalized, scale};
  if (bias)
    operands.push_back(bias);
  return buildElementwise(
      b, loc, operands, type.getShape(), type.getElementType(),
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value r = arith::MulFOp::create(nb, l, a[0], a[1]);
        if (a.size() > 2)
          r = arith::AddFOp::create(nb, l, r, a[2]);
        return r;
      });
}

/// MeanVarianceNormalization: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)
/// over `axes` (default 0, 2, 3), as ONNX's function body defines it.
LogicalResult lowerMeanVarianceNorm(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  SmallVector<int64_t> axesAttr = ctx.attrInts("axes", {0, 2, 3});
  if (ctx.failed())
    return failure();
  SmallVector<int64_t> shape(ctx.inputShape(0));
  FailureOr<SmallVector<int64_t>> axes =
      normalizeAxes(ctx, axesAttr, shape.size());
  if (mlir::failed(axes))
    return failure();
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Type elementType = ctx.inputType(0).getElementType();
  Value mean = meanOver(b, loc, x, *axes);
  Value squares = buildElementwise(
      b, loc, x, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return arith::MulFOp::create(nb, l, a[0], a[0]);
      });
  Value meanOfSquares = meanOver(b, loc, squares, *axes);
  Value result = buildElementwise(
      b, loc, {x, mean, meanOfSquares}, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Type t = a[0].getType();
        Value variance = arith::SubFOp::create(
            nb, l, a[2], arith::MulFOp::create(nb, l, a[1], a[1]));
        Value std = arith::AddFOp::create(nb, l, math::SqrtOp::create(nb, l, variance),
                                          createScalarConstant(nb, l, t, 1e-9));
        return arith::DivFOp::create(
            nb, l, arith::SubFOp::create(nb, l, a[0], a[1]), std);
      });
  ctx.setOutput(0, result);
  return success();
}

LogicalResult lowerInstanceNorm(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  float epsilon = ctx.attrFloat("epsilon", 1e-5f);
  if (ctx.failed())
    return failure();
  SmallVector<int64_t> shape(ctx.inputShape(0));
  int64_t rank = shape.size();
  if (rank < 3)
    return ctx.emitError("the input must have rank >= 3");
  for (unsigned i = 1; i <= 2; ++i)
    if (ctx.inputShape(i) != ArrayRef<int64_t>{shape[1]})
      return ctx.emitError("scale/B must have shape [C]");
  SmallVector<int64_t> axes;
  for (int64_t i = 2; i < rank; ++i)
    axes.push_back(i);
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value normalized = normalize(b, loc, ctx.input(0), axes, epsilon);
  Value result = scaleShift(b, loc, normalized, channelParam(ctx, 1, rank - 2),
                            channelParam(ctx, 2, rank - 2));
  ctx.setOutput(0, result);
  return success();
}

LogicalResult lowerLayerNorm(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  float epsilon = ctx.attrFloat("epsilon", 1e-5f);
  int64_t axisAttr = ctx.attrInt("axis", -1);
  int64_t stashType = ctx.attrInt("stash_type", 1);
  if (ctx.failed())
    return failure();
  if (stashType != 1)
    return ctx.emitError("stash_type " + Twine(stashType) +
                         " is not supported (only 1, float32)");
  SmallVector<int64_t> shape(ctx.inputShape(0));
  int64_t rank = shape.size();
  auto axisOr = normalizeAxis(ctx, axisAttr, rank);
  if (mlir::failed(axisOr))
    return failure();
  SmallVector<int64_t> axes;
  for (int64_t i = *axisOr; i < rank; ++i)
    axes.push_back(i);
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  // Computed in float32 (stash_type).
  Value x32 = convertTensor(b, loc, x, dtype, OnnxDType::Float);
  Value mean, invStd;
  Value normalized = normalize(b, loc, x32, axes, epsilon, &mean, &invStd);
  normalized = convertTensor(b, loc, normalized, OnnxDType::Float, dtype);
  Value bias = ctx.hasInput(2) ? ctx.input(2) : Value();
  Value result = scaleShift(b, loc, normalized, ctx.input(1), bias);
  ctx.setOutput(0, result);
  if (ctx.numOutputs() > 1 && ctx.hasOutput(1))
    ctx.setOutput(1, mean, OnnxDType::Float);
  if (ctx.numOutputs() > 2 && ctx.hasOutput(2))
    ctx.setOutput(2, invStd, OnnxDType::Float);
  return success();
}

} // namespace

void registerOnnxNNOps(OnnxOpRegistry &registry) {
  registry.add("Conv", lowerConv);
  registry.add("ConvTranspose", lowerConvTranspose);
  registry.add("LRN", lowerLRN);
  registry.add("MaxUnpool", lowerMaxUnpool, nullptr, 9);
  registry.add("MaxPool",
               [](OnnxNodeContext &ctx) { return lowerPool(ctx, true); });
  registry.add("AveragePool",
               [](OnnxNodeContext &ctx) { return lowerPool(ctx, false); });
  registry.add("GlobalMaxPool",
               [](OnnxNodeContext &ctx) { return lowerGlobalPool(ctx, true); });
  registry.add("GlobalAveragePool",
               [](OnnxNodeContext &ctx) { return lowerGlobalPool(ctx, false); });
  registry.add("BatchNormalization", lowerBatchNorm, nullptr, /*minOpset=*/6);
  registry.add("InstanceNormalization", lowerInstanceNorm, nullptr, 6);
  registry.add("MeanVarianceNormalization", lowerMeanVarianceNorm, nullptr, 9);
  registry.add("LayerNormalization", lowerLayerNorm, nullptr, 17);
}

} // namespace quantc
