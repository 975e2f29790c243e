//===- OnnxQuantize.cpp - ONNX linear quantization ops -> arith/linalg ----===//
//
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
// QLinearMatMul, ConvInteger and QLinearConv on plain arith / linalg: codes
// are 8-bit integers (uint8 or int8, the zero point's type), scales f32,
// per tensor or per axis; integer products accumulate in i32.
//
// These are the ONNX QDQ and integer-op forms of uniform quantization. They
// lower to arithmetic that matches ONNX bit for bit (x / scale rounded half
// to even, saturated); folding QDQ pairs around a matmul into `qc` ops with
// an `int8`-style #qc.format is a later step that the quantization passes,
// not the importer, should take.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace quantc {
namespace {

bool isCodeDType(OnnxDType dtype) {
  return dtype == OnnxDType::UInt8 || dtype == OnnxDType::Int8;
}

/// `param` (a scale or zero point: a scalar, or 1-D of the size of `axis`)
/// reshaped to broadcast against a tensor of `shape`.
FailureOr<Value> perAxisParameter(OnnxNodeContext &ctx, unsigned index,
                                  ArrayRef<int64_t> shape, int64_t axisAttr,
                                  StringRef what) {
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value value = ctx.input(index);
  ArrayRef<int64_t> paramShape = ctx.inputShape(index);
  int64_t count = numElementsOf(paramShape);
  if (count == 1)
    return reshapeTensor(b, loc, value, {});
  int64_t rank = shape.size();
  FailureOr<int64_t> axis = normalizeAxis(ctx, axisAttr, rank);
  if (failed(axis))
    return failure();
  if (paramShape.size() != 1 || paramShape[0] != shape[*axis])
    return ctx.emitError(Twine(what) + " must be a scalar or have " +
                         Twine(shape[*axis]) + " values (axis " + Twine(*axis) +
                         ")");
  SmallVector<int64_t> broadcastShape(rank - *axis, 1);
  broadcastShape[0] = shape[*axis];
  return reshapeTensor(b, loc, value, broadcastShape);
}

/// round_half_even(x / scale) + zero_point, saturated to the code type.
Value quantizeScalar(OpBuilder &b, Location loc, Value x, Value scale,
                     Value zeroPoint, OnnxDType codeDType) {
  Type f32 = b.getF32Type();
  Value q = arith::DivFOp::create(b, loc, x, scale);
  q = math::RoundEvenOp::create(b, loc, q);
  if (zeroPoint)
    q = arith::AddFOp::create(
        b, loc, q, convertScalar(b, loc, zeroPoint, codeDType, OnnxDType::Float));
  bool isUnsigned = codeDType == OnnxDType::UInt8;
  q = arith::MaximumFOp::create(
      b, loc, q, createScalarConstant(b, loc, f32, isUnsigned ? 0.0 : -128.0));
  q = arith::MinimumFOp::create(
      b, loc, q, createScalarConstant(b, loc, f32, isUnsigned ? 255.0 : 127.0));
  return convertScalar(b, loc, q, OnnxDType::Float, codeDType);
}

LogicalResult lowerQuantizeLinear(OnnxNodeContext &ctx) {
  OnnxDType xType = ctx.inputDType(0);
  if (xType != OnnxDType::Float && xType != OnnxDType::Int32)
    return ctx.emitError("input must be float32 or int32, not " +
                         onnxDTypeName(xType));
  OnnxDType codeDType = ctx.hasInput(2) ? ctx.inputDType(2) : OnnxDType::UInt8;
  if (!isCodeDType(codeDType))
    return ctx.emitError("output type " + onnxDTypeName(codeDType) +
                         " is not supported (uint8 and int8 only)");
  if (ctx.inputDType(1) != OnnxDType::Float)
    return ctx.emitError("y_scale must be float32");
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t axis = ctx.attrInt("axis", 1);
  FailureOr<Value> scale = perAxisParameter(ctx, 1, shape, axis, "y_scale");
  if (failed(scale))
    return failure();
  SmallVector<Value> inputs = {ctx.input(0), *scale};
  if (ctx.hasInput(2)) {
    FailureOr<Value> zeroPoint =
        perAxisParameter(ctx, 2, shape, axis, "y_zero_point");
    if (failed(zeroPoint))
      return failure();
    inputs.push_back(*zeroPoint);
  }
  OpBuilder &b = ctx.builder();
  Type codeType = onnxDTypeToMlir(codeDType, ctx.getContext());
  Value result = buildElementwise(
      b, ctx.loc(), inputs, shape, codeType,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value x = convertScalar(nb, l, args[0], xType, OnnxDType::Float);
        return quantizeScalar(nb, l, x, args[1],
                              args.size() > 2 ? args[2] : Value(), codeDType);
      });
  ctx.setOutput(0, result, codeDType);
  return success();
}

LogicalResult lowerDequantizeLinear(OnnxNodeContext &ctx) {
  OnnxDType codeDType = ctx.inputDType(0);
  if (!isCodeDType(codeDType) && codeDType != OnnxDType::Int32)
    return ctx.emitError("input type " + onnxDTypeName(codeDType) +
                         " is not supported (uint8, int8, int32)");
  if (ctx.inputDType(1) != OnnxDType::Float)
    return ctx.emitError("x_scale must be float32");
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t axis = ctx.attrInt("axis", 1);
  FailureOr<Value> scale = perAxisParameter(ctx, 1, shape, axis, "x_scale");
  if (failed(scale))
    return failure();
  SmallVector<Value> inputs = {ctx.input(0), *scale};
  if (ctx.hasInput(2)) {
    if (ctx.inputDType(2) != codeDType)
      return ctx.emitError("x_zero_point must have the type of x");
    FailureOr<Value> zeroPoint =
        perAxisParameter(ctx, 2, shape, axis, "x_zero_point");
    if (failed(zeroPoint))
      return failure();
    inputs.push_back(*zeroPoint);
  }
  OpBuilder &b = ctx.builder();
  Value result = buildElementwise(
      b, ctx.loc(), inputs, shape, b.getF32Type(),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        // (x - zero_point) exactly in i64, then to f32, times the scale.
        Value x = convertScalar(nb, l, args[0], codeDType, OnnxDType::Int64);
        if (args.size() > 2)
          x = arith::SubIOp::create(
              nb, l, x,
              convertScalar(nb, l, args[2], codeDType, OnnxDType::Int64));
        Value real = convertScalar(nb, l, x, OnnxDType::Int64, OnnxDType::Float);
        return arith::MulFOp::create(nb, l, real, args[1]);
      });
  ctx.setOutput(0, result, OnnxDType::Float);
  return success();
}

/// uint8 codes of x over [min(0, min x), max(0, max x)], with the scale and
/// zero point it chose.
LogicalResult lowerDynamicQuantizeLinear(OnnxNodeContext &ctx) {
  if (ctx.inputDType(0) != OnnxDType::Float)
    return ctx.emitError("input must be float32");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  Type f32 = b.getF32Type();
  SmallVector<int64_t> axes;
  for (int64_t d = 0, e = shape.size(); d < e; ++d)
    axes.push_back(d);
  Value x = ctx.input(0);
  // The range always includes 0, so the reductions start from it.
  Value high = buildReduction(
      b, loc, x, axes, false, b.getF32FloatAttr(0.0f),
      [](OpBuilder &nb, Location l, Value v, Value acc) -> Value {
        return arith::MaximumFOp::create(nb, l, v, acc);
      });
  Value low = buildReduction(
      b, loc, x, axes, false, b.getF32FloatAttr(0.0f),
      [](OpBuilder &nb, Location l, Value v, Value acc) -> Value {
        return arith::MinimumFOp::create(nb, l, v, acc);
      });
  Value scale = buildElementwise(
      b, loc, {high, low}, {}, f32,
      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value range = arith::SubFOp::create(nb, l, args[0], args[1]);
        return arith::DivFOp::create(
            nb, l, range, createScalarConstant(nb, l, nb.getF32Type(), 255.0));
      });
  Type u8 = b.getIntegerType(8);
  Value zeroPoint = buildElementwise(
      b, loc, {low, scale}, {}, u8,
      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value negLow = arith::SubFOp::create(
            nb, l, createScalarConstant(nb, l, nb.getF32Type(), 0.0), args[0]);
        return quantizeScalar(nb, l, negLow, args[1], Value(), OnnxDType::UInt8);
      });
  Value codes = buildElementwise(
      b, loc, {x, scale, zeroPoint}, shape, u8,
      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return quantizeScalar(nb, l, args[0], args[1], args[2],
                              OnnxDType::UInt8);
      });
  ctx.setOutput(0, codes, OnnxDType::UInt8);
  if (ctx.hasOutput(1))
    ctx.setOutput(1, scale, OnnxDType::Float);
  if (ctx.hasOutput(2))
    ctx.setOutput(2, zeroPoint, OnnxDType::UInt8);
  return success();
}

/// Codes input `index` minus its zero point (input `zpIndex`, optional:
/// a scalar, or per row of A / per column of B) as int32.
FailureOr<Value> centeredCodes(OnnxNodeContext &ctx, unsigned index,
                               unsigned zpIndex, bool isLhs) {
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  OnnxDType dtype = ctx.inputDType(index);
  if (!isCodeDType(dtype))
    return ctx.emitError("input " + Twine(index) + " must be uint8 or int8, not " +
                         onnxDTypeName(dtype));
  ArrayRef<int64_t> shape = ctx.inputShape(index);
  if (shape.empty())
    return ctx.emitError("input " + Twine(index) + " must have rank >= 1");
  SmallVector<Value> inputs = {ctx.input(index)};
  if (ctx.hasInput(zpIndex)) {
    if (ctx.inputDType(zpIndex) != dtype)
      return ctx.emitError("zero point " + Twine(zpIndex) +
                           " must have the type of its input");
    ArrayRef<int64_t> zpShape = ctx.inputShape(zpIndex);
    int64_t count = numElementsOf(zpShape);
    Value zp = ctx.input(zpIndex);
    if (count == 1) {
      zp = reshapeTensor(b, loc, zp, {});
    } else if (isLhs && shape.size() >= 2 && count == shape[shape.size() - 2]) {
      zp = reshapeTensor(b, loc, zp, {count, 1}); // per row of A
    } else if (!isLhs && count == shape.back()) {
      zp = reshapeTensor(b, loc, zp, {count}); // per column of B
    } else {
      return ctx.emitError("zero point " + Twine(zpIndex) +
                           " must be a scalar or per row of A / column of B");
    }
    inputs.push_back(zp);
  }
  return buildElementwise(
      b, loc, inputs, shape, b.getI32Type(),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value x = convertScalar(nb, l, args[0], dtype, OnnxDType::Int32);
        if (args.size() > 1)
          x = arith::SubIOp::create(
              nb, l, x, convertScalar(nb, l, args[1], dtype, OnnxDType::Int32));
        return x;
      });
}

LogicalResult lowerMatMulInteger(OnnxNodeContext &ctx) {
  FailureOr<Value> lhs = centeredCodes(ctx, 0, 2, /*isLhs=*/true);
  if (failed(lhs))
    return failure();
  FailureOr<Value> rhs = centeredCodes(ctx, 1, 3, /*isLhs=*/false);
  if (failed(rhs))
    return failure();
  FailureOr<Value> product = buildNumpyMatMul(ctx, *lhs, *rhs);
  if (failed(product))
    return failure();
  ctx.setOutput(0, *product, OnnxDType::Int32);
  return success();
}

/// The int32 product requantized: round(acc * a_scale * b_scale / y_scale)
/// + y_zero_point, saturated (per-tensor scales).
LogicalResult lowerQLinearMatMul(OnnxNodeContext &ctx) {
  for (unsigned index : {1u, 4u, 6u})
    if (numElementsOf(ctx.inputShape(index)) != 1 ||
        ctx.inputDType(index) != OnnxDType::Float)
      return ctx.emitError("input " + Twine(index) +
                           " (a scale) must be one float32 (per-tensor "
                           "quantization only)");
  for (unsigned index : {2u, 5u, 7u})
    if (numElementsOf(ctx.inputShape(index)) != 1)
      return ctx.emitError("input " + Twine(index) +
                           " (a zero point) must be a scalar");
  FailureOr<Value> lhs = centeredCodes(ctx, 0, 2, /*isLhs=*/true);
  if (failed(lhs))
    return failure();
  FailureOr<Value> rhs = centeredCodes(ctx, 3, 5, /*isLhs=*/false);
  if (failed(rhs))
    return failure();
  FailureOr<Value> product = buildNumpyMatMul(ctx, *lhs, *rhs);
  if (failed(product))
    return failure();
  OnnxDType codeDType = ctx.inputDType(7);
  if (!isCodeDType(codeDType))
    return ctx.emitError("y_zero_point must be uint8 or int8");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  auto scalar = [&](unsigned index) {
    return reshapeTensor(b, loc, ctx.input(index), {});
  };
  ArrayRef<int64_t> shape = cast<RankedTensorType>(product->getType()).getShape();
  Value result = buildElementwise(
      b, loc, {*product, scalar(1), scalar(4), scalar(6), scalar(7)}, shape,
      onnxDTypeToMlir(codeDType, ctx.getContext()),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value multiplier = arith::MulFOp::create(nb, l, args[1], args[2]);
        multiplier = arith::DivFOp::create(nb, l, multiplier, args[3]);
        Value acc = convertScalar(nb, l, args[0], OnnxDType::Int32,
                                  OnnxDType::Float);
        Value real = arith::MulFOp::create(nb, l, acc, multiplier);
        Value one = createScalarConstant(nb, l, nb.getF32Type(), 1.0);
        return quantizeScalar(nb, l, real, one, args[4], codeDType);
      });
  ctx.setOutput(0, result, codeDType);
  return success();
}

/// Codes input `index` minus its zero point (input `zpIndex`, optional: a
/// scalar, or per slice of axis 0, the output channel of a conv weight) as
/// int32.
FailureOr<Value> centeredConvCodes(OnnxNodeContext &ctx, unsigned index,
                                   unsigned zpIndex) {
  OnnxDType dtype = ctx.inputDType(index);
  if (!isCodeDType(dtype))
    return ctx.emitError("input " + Twine(index) + " must be uint8 or int8, not " +
                         onnxDTypeName(dtype));
  ArrayRef<int64_t> shape = ctx.inputShape(index);
  SmallVector<Value> inputs = {ctx.input(index)};
  if (ctx.hasInput(zpIndex)) {
    if (ctx.inputDType(zpIndex) != dtype)
      return ctx.emitError("zero point " + Twine(zpIndex) +
                           " must have the type of its input");
    FailureOr<Value> zp =
        perAxisParameter(ctx, zpIndex, shape, 0, "the zero point");
    if (failed(zp))
      return failure();
    inputs.push_back(*zp);
  }
  OpBuilder &b = ctx.builder();
  return buildElementwise(
      b, ctx.loc(), inputs, shape, b.getI32Type(),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value x = convertScalar(nb, l, args[0], dtype, OnnxDType::Int32);
        if (args.size() > 1)
          x = arith::SubIOp::create(
              nb, l, x, convertScalar(nb, l, args[1], dtype, OnnxDType::Int32));
        return x;
      });
}

LogicalResult lowerConvInteger(OnnxNodeContext &ctx) {
  if (ctx.hasInput(2) && numElementsOf(ctx.inputShape(2)) != 1)
    return ctx.emitError("x_zero_point must be a scalar");
  FailureOr<Value> x = centeredConvCodes(ctx, 0, 2);
  if (failed(x))
    return failure();
  FailureOr<Value> w = centeredConvCodes(ctx, 1, 3);
  if (failed(w))
    return failure();
  FailureOr<Value> result = buildOnnxConv(ctx, *x, *w, Value());
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result, OnnxDType::Int32);
  return success();
}

/// The int32 convolution (+ the int32 bias) requantized with
/// x_scale * w_scale[m] / y_scale.
LogicalResult lowerQLinearConv(OnnxNodeContext &ctx) {
  for (unsigned index : {1u, 6u})
    if (numElementsOf(ctx.inputShape(index)) != 1)
      return ctx.emitError("input " + Twine(index) + " (a scale) must be a scalar");
  for (unsigned index : {1u, 4u, 6u})
    if (ctx.inputDType(index) != OnnxDType::Float)
      return ctx.emitError("input " + Twine(index) + " (a scale) must be float32");
  if (numElementsOf(ctx.inputShape(2)) != 1 ||
      numElementsOf(ctx.inputShape(7)) != 1)
    return ctx.emitError("x_zero_point and y_zero_point must be scalars");
  OnnxDType codeDType = ctx.inputDType(7);
  if (!isCodeDType(codeDType))
    return ctx.emitError("y_zero_point must be uint8 or int8");
  FailureOr<Value> x = centeredConvCodes(ctx, 0, 2);
  if (failed(x))
    return failure();
  FailureOr<Value> w = centeredConvCodes(ctx, 3, 5);
  if (failed(w))
    return failure();
  if (ctx.hasInput(8) && ctx.inputDType(8) != OnnxDType::Int32)
    return ctx.emitError("the bias must be int32");
  FailureOr<Value> acc =
      buildOnnxConv(ctx, *x, *w, ctx.hasInput(8) ? ctx.input(8) : Value());
  if (failed(acc))
    return failure();
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  ArrayRef<int64_t> shape = cast<RankedTensorType>(acc->getType()).getShape();
  // w_scale per output channel (axis 1 of the result).
  Value wScale = ctx.input(4);
  int64_t wCount = numElementsOf(ctx.inputShape(4));
  if (wCount == 1) {
    wScale = reshapeTensor(b, loc, wScale, {});
  } else {
    if (shape.size() < 2 || wCount != shape[1])
      return ctx.emitError("w_scale must be a scalar or per output channel");
    SmallVector<int64_t> perChannel(shape.size() - 1, 1);
    perChannel[0] = wCount;
    wScale = reshapeTensor(b, loc, wScale, perChannel);
  }
  auto scalar = [&](unsigned index) {
    return reshapeTensor(b, loc, ctx.input(index), {});
  };
  Value result = buildElementwise(
      b, loc, {*acc, scalar(1), wScale, scalar(6), scalar(7)}, shape,
      onnxDTypeToMlir(codeDType, ctx.getContext()),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value multiplier = arith::MulFOp::create(nb, l, args[1], args[2]);
        multiplier = arith::DivFOp::create(nb, l, multiplier, args[3]);
        Value real = arith::MulFOp::create(
            nb, l,
            convertScalar(nb, l, args[0], OnnxDType::Int32, OnnxDType::Float),
            multiplier);
        Value one = createScalarConstant(nb, l, nb.getF32Type(), 1.0);
        return quantizeScalar(nb, l, real, one, args[4], codeDType);
      });
  ctx.setOutput(0, result, codeDType);
  return success();
}

} // namespace

void registerOnnxQuantizeOps(OnnxOpRegistry &registry) {
  registry.add("QuantizeLinear", lowerQuantizeLinear, nullptr, 10, 18);
  registry.add("DequantizeLinear", lowerDequantizeLinear, nullptr, 10, 18);
  registry.add("DynamicQuantizeLinear", lowerDynamicQuantizeLinear, nullptr, 11);
  registry.add("MatMulInteger", lowerMatMulInteger, nullptr, 10);
  registry.add("QLinearMatMul", lowerQLinearMatMul, nullptr, 10);
  registry.add("ConvInteger", lowerConvInteger, nullptr, 10);
  registry.add("QLinearConv", lowerQLinearConv, nullptr, 10);
}

} // namespace quantc
