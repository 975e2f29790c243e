//===- OnnxReduce.cpp - ONNX reductions and ArgMax/ArgMin -> linalg -------===//
//
// ReduceSum / Mean / Max / Min / Prod / L1 / L2 / SumSquare / LogSum /
// LogSumExp on one linalg.generic reduction (buildReduction) with element-wise
// maps before and after it, and ArgMax / ArgMin on a two-output
// linalg.generic (value, index).
//
// Opset differences: `axes` is an attribute before opset 18 (ReduceSum:
// before 13) and an optional second input after, which must be a constant
// known at import time. Empty axes reduce over every axis, unless
// noop_with_empty_axes is set, in which case nothing is reduced (the maps
// still apply: ReduceSumSquare of no axes is x * x). Floats accumulate in the
// input type, in order; ReduceMean is sum / count.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/AffineMap.h"
#include "llvm/ADT/APInt.h"

#include <limits>

using namespace mlir;

namespace quantc {
namespace {

enum class ReduceKind {
  Sum,
  Mean,
  Max,
  Min,
  Prod,
  L1,
  L2,
  SumSquare,
  LogSum,
  LogSumExp
};

bool needsFloat(ReduceKind kind) {
  return kind == ReduceKind::L2 || kind == ReduceKind::LogSum ||
         kind == ReduceKind::LogSumExp;
}

/// The accumulator's initial value: the identity of the combining operation
/// (which is also what ONNX defines as the reduction of an empty set).
TypedAttr reductionInit(OpBuilder &b, ReduceKind kind, Type elementType,
                        bool isUnsigned) {
  bool isMax = kind == ReduceKind::Max;
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    double inf = std::numeric_limits<double>::infinity();
    if (isMax)
      return b.getFloatAttr(floatType, -inf);
    if (kind == ReduceKind::Min)
      return b.getFloatAttr(floatType, inf);
    if (kind == ReduceKind::Prod)
      return b.getFloatAttr(floatType, 1.0);
    return b.getFloatAttr(floatType, 0.0);
  }
  unsigned width = elementType.getIntOrFloatBitWidth();
  if (width == 1) { // bool: max is or, min is and
    return b.getIntegerAttr(elementType,
                            APInt(1, kind == ReduceKind::Min ? 1 : 0));
  }
  if (isMax)
    return b.getIntegerAttr(elementType, isUnsigned
                                             ? APInt::getMinValue(width)
                                             : APInt::getSignedMinValue(width));
  if (kind == ReduceKind::Min)
    return b.getIntegerAttr(elementType, isUnsigned
                                             ? APInt::getMaxValue(width)
                                             : APInt::getSignedMaxValue(width));
  return b.getIntegerAttr(elementType,
                          APInt(width, kind == ReduceKind::Prod ? 1 : 0));
}

Value combineScalars(OpBuilder &b, Location loc, ReduceKind kind, Value x,
                     Value acc, bool isUnsigned) {
  bool isFloat = isa<FloatType>(x.getType());
  bool isBool = !isFloat && x.getType().getIntOrFloatBitWidth() == 1;
  switch (kind) {
  case ReduceKind::Max:
    if (isFloat)
      return arith::MaximumFOp::create(b, loc, x, acc);
    if (isBool)
      return arith::OrIOp::create(b, loc, x, acc);
    if (isUnsigned)
      return arith::MaxUIOp::create(b, loc, x, acc);
    return arith::MaxSIOp::create(b, loc, x, acc);
  case ReduceKind::Min:
    if (isFloat)
      return arith::MinimumFOp::create(b, loc, x, acc);
    if (isBool)
      return arith::AndIOp::create(b, loc, x, acc);
    if (isUnsigned)
      return arith::MinUIOp::create(b, loc, x, acc);
    return arith::MinSIOp::create(b, loc, x, acc);
  case ReduceKind::Prod:
    if (isFloat)
      return arith::MulFOp::create(b, loc, x, acc);
    return arith::MulIOp::create(b, loc, x, acc);
  default: // sums
    if (isFloat)
      return arith::AddFOp::create(b, loc, x, acc);
    return arith::AddIOp::create(b, loc, x, acc);
  }
}

/// The reduction's axes: from the attribute (before `axesInputOpset`) or the
/// optional constant second input. Returns the normalized axes to reduce
/// (empty: reduce nothing).
FailureOr<SmallVector<int64_t>> reductionAxes(OnnxNodeContext &ctx,
                                              int64_t axesInputOpset,
                                              int64_t rank) {
  SmallVector<int64_t> axes;
  bool noop = false;
  if (ctx.opset() >= axesInputOpset) {
    noop = ctx.attrInt("noop_with_empty_axes", 0) != 0;
    if (ctx.hasInput(1)) {
      auto constant = ctx.requireConstantInts(1, "axes");
      if (mlir::failed(constant))
        return failure();
      axes = *constant;
    }
  } else {
    axes = ctx.attrInts("axes");
  }
  if (ctx.failed())
    return failure();
  if (axes.empty()) {
    if (noop)
      return SmallVector<int64_t>();
    SmallVector<int64_t> all;
    for (int64_t d = 0; d < rank; ++d)
      all.push_back(d);
    return all;
  }
  return normalizeAxes(ctx, axes, rank);
}

LogicalResult lowerReduce(OnnxNodeContext &ctx, ReduceKind kind,
                          int64_t axesInputOpset) {
  OnnxDType dtype = ctx.inputDType(0);
  bool isFloat = isOnnxFloat(dtype);
  bool isUnsigned = isOnnxUnsigned(dtype);
  if (dtype == OnnxDType::Bool
          ? !(kind == ReduceKind::Max || kind == ReduceKind::Min)
          : !(isFloat || isOnnxInteger(dtype)))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported");
  if (needsFloat(kind) && !isFloat)
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  SmallVector<int64_t> shape(ctx.inputShape(0));
  int64_t rank = shape.size();
  bool keepDims = ctx.attrInt("keepdims", 1) != 0;
  auto axesOr = reductionAxes(ctx, axesInputOpset, rank);
  if (mlir::failed(axesOr))
    return failure();
  SmallVector<int64_t> axes = *axesOr;

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value input = ctx.input(0);
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();

  SmallVector<int64_t> keptShape = shape, outShape;
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (llvm::is_contained(axes, d)) {
      keptShape[d] = 1;
      count *= shape[d];
      if (keepDims)
        outShape.push_back(1);
    } else {
      outShape.push_back(shape[d]);
    }
  }

  // Maps before the reduction.
  Value shift; // LogSumExp: the (finite) max, in keptShape
  if (kind == ReduceKind::LogSumExp) {
    Value max = buildReduction(
        b, loc, input, axes, /*keepDims=*/true,
        reductionInit(b, ReduceKind::Max, elementType, false),
        [](OpBuilder &nb, Location l, Value x, Value acc) -> Value {
          return arith::MaximumFOp::create(nb, l, x, acc);
        });
    // An infinite max (all -inf, or an empty set) shifts by 0 instead, so
    // that x - max is not NaN.
    shift = buildElementwise(
        b, loc, max, keptShape, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value m = args[0];
          Value absM = math::AbsFOp::create(nb, l, m);
          Value inf = createScalarConstant(
              nb, l, m.getType(), std::numeric_limits<double>::infinity());
          Value isInf = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                              absM, inf);
          Value zero = createScalarConstant(nb, l, m.getType(), 0.0);
          return arith::SelectOp::create(nb, l, isInf, zero, m);
        });
    input = buildElementwise(
        b, loc, {input, shift}, shape, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value diff = arith::SubFOp::create(nb, l, args[0], args[1]);
          return math::ExpOp::create(nb, l, diff);
        });
  } else if (kind == ReduceKind::L1 && !isUnsigned) {
    input = buildElementwise(
        b, loc, input, shape, elementType,
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          if (isFloat)
            return math::AbsFOp::create(nb, l, args[0]);
          return math::AbsIOp::create(nb, l, args[0]);
        });
  } else if (kind == ReduceKind::L2 || kind == ReduceKind::SumSquare) {
    input = buildElementwise(
        b, loc, input, shape, elementType,
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          if (isFloat)
            return arith::MulFOp::create(nb, l, args[0], args[0]);
          return arith::MulIOp::create(nb, l, args[0], args[0]);
        });
  }

  Value result = buildReduction(
      b, loc, input, axes, /*keepDims=*/true,
      reductionInit(b, kind, elementType, isUnsigned),
      [&](OpBuilder &nb, Location l, Value x, Value acc) -> Value {
        return combineScalars(nb, l, kind, x, acc, isUnsigned);
      });

  // Maps after it.
  switch (kind) {
  case ReduceKind::Mean:
    if (count != 1)
      result = buildElementwise(
          b, loc, result, keptShape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
            if (isFloat) {
              Value n = createScalarConstant(nb, l, elementType,
                                             static_cast<double>(count));
              return arith::DivFOp::create(nb, l, args[0], n);
            }
            Value n = createIntConstant(nb, l, elementType, count);
            if (isUnsigned)
              return arith::DivUIOp::create(nb, l, args[0], n);
            return arith::DivSIOp::create(nb, l, args[0], n);
          });
    break;
  case ReduceKind::L2:
    result = buildElementwise(
        b, loc, result, keptShape, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return math::SqrtOp::create(nb, l, args[0]);
        });
    break;
  case ReduceKind::LogSum:
    result = buildElementwise(
        b, loc, result, keptShape, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return math::LogOp::create(nb, l, args[0]);
        });
    break;
  case ReduceKind::LogSumExp:
    result = buildElementwise(
        b, loc, {result, shift}, keptShape, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value log = math::LogOp::create(nb, l, args[0]);
          return arith::AddFOp::create(nb, l, log, args[1]);
        });
    break;
  default:
    break;
  }
  result = reshapeTensor(b, loc, result, outShape);
  ctx.setOutput(0, result, dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// ArgMax / ArgMin
//===----------------------------------------------------------------------===//

LogicalResult lowerArg(OnnxNodeContext &ctx, bool isMax) {
  OnnxDType dtype = ctx.inputDType(0);
  bool isFloat = isOnnxFloat(dtype);
  bool isUnsigned = isOnnxUnsigned(dtype);
  if (!isFloat && !isOnnxInteger(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported");
  SmallVector<int64_t> shape(ctx.inputShape(0));
  int64_t rank = shape.size();
  bool keepDims = ctx.attrInt("keepdims", 1) != 0;
  bool selectLast =
      ctx.opset() >= 12 && ctx.attrInt("select_last_index", 0) != 0;
  int64_t axisAttr = ctx.attrInt("axis", 0);
  if (ctx.failed())
    return failure();
  if (rank == 0)
    return ctx.emitError("input must have rank >= 1");
  auto axisOr = normalizeAxis(ctx, axisAttr, rank);
  if (mlir::failed(axisOr))
    return failure();
  int64_t axis = *axisOr;
  if (shape[axis] == 0)
    return ctx.emitError("cannot take the arg " +
                         std::string(isMax ? "max" : "min") +
                         " of an empty axis");

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  MLIRContext *context = ctx.getContext();
  Value input = ctx.input(0);
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  Type i64 = b.getI64Type();

  SmallVector<int64_t> reducedShape, keptShape(shape), outShape;
  SmallVector<AffineExpr> outputExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    if (d == axis) {
      iterators.push_back(utils::IteratorType::reduction);
      keptShape[d] = 1;
      continue;
    }
    iterators.push_back(utils::IteratorType::parallel);
    reducedShape.push_back(shape[d]);
    outputExprs.push_back(getAffineDimExpr(d, context));
  }
  outShape = keepDims ? keptShape : reducedShape;

  TypedAttr initAttr = reductionInit(
      b, isMax ? ReduceKind::Max : ReduceKind::Min, elementType, isUnsigned);
  Value initValue = createFilledTensor(
      b, loc, reducedShape, arith::ConstantOp::create(b, loc, initAttr));
  Value initIndex =
      createFilledTensor(b, loc, reducedShape, createIntConstant(b, loc, i64, 0));
  AffineMap outMap = AffineMap::get(rank, 0, outputExprs, context);
  SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(rank, context),
                                 outMap, outMap};
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{initValue.getType(), initIndex.getType()},
      ValueRange{input}, ValueRange{initValue, initIndex}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value x = args[0], acc = args[1], accIndex = args[2];
        Value index = linalg::IndexOp::create(nb, l, axis);
        index = arith::IndexCastOp::create(nb, l, i64, index);
        // Take x when it is strictly better (first index) or at least as
        // good (last index). The first NaN wins, as in numpy.
        Value better;
        if (isFloat) {
          arith::CmpFPredicate pred =
              isMax ? (selectLast ? arith::CmpFPredicate::OGE
                                  : arith::CmpFPredicate::OGT)
                    : (selectLast ? arith::CmpFPredicate::OLE
                                  : arith::CmpFPredicate::OLT);
          better = arith::CmpFOp::create(nb, l, pred, x, acc);
          Value xNaN =
              arith::CmpFOp::create(nb, l, arith::CmpFPredicate::UNO, x, x);
          Value accNaN =
              arith::CmpFOp::create(nb, l, arith::CmpFPredicate::UNO, acc, acc);
          Value accNotNaN = arith::XOrIOp::create(
              nb, l, accNaN, createIntConstant(nb, l, nb.getI1Type(), 1));
          Value firstNaN = arith::AndIOp::create(nb, l, xNaN, accNotNaN);
          better = arith::OrIOp::create(nb, l, better, firstNaN);
          // Before any element is seen the accumulator is +-inf; an element
          // equal to it must still take index 0, which it does since the
          // index starts at 0.
        } else {
          arith::CmpIPredicate pred;
          if (isMax)
            pred = selectLast ? (isUnsigned ? arith::CmpIPredicate::uge
                                            : arith::CmpIPredicate::sge)
                              : (isUnsigned ? arith::CmpIPredicate::ugt
                                            : arith::CmpIPredicate::sgt);
          else
            pred = selectLast ? (isUnsigned ? arith::CmpIPredicate::ule
                                            : arith::CmpIPredicate::sle)
                              : (isUnsigned ? arith::CmpIPredicate::ult
                                            : arith::CmpIPredicate::slt);
          better = arith::CmpIOp::create(nb, l, pred, x, acc);
        }
        Value newAcc = arith::SelectOp::create(nb, l, better, x, acc);
        Value newIndex = arith::SelectOp::create(nb, l, better, index, accIndex);
        linalg::YieldOp::create(nb, l, ValueRange{newAcc, newIndex});
      });
  Value result = reshapeTensor(b, loc, generic.getResult(1), outShape);
  ctx.setOutput(0, result, OnnxDType::Int64);
  return success();
}

} // namespace

void registerOnnxReduceOps(OnnxOpRegistry &registry) {
  struct Entry {
    const char *name;
    ReduceKind kind;
    int64_t axesInputOpset;
  };
  static const Entry entries[] = {
      {"ReduceMean", ReduceKind::Mean, 18},
      {"ReduceSum", ReduceKind::Sum, 13},
      {"ReduceMax", ReduceKind::Max, 18},
      {"ReduceMin", ReduceKind::Min, 18},
      {"ReduceProd", ReduceKind::Prod, 18},
      {"ReduceL1", ReduceKind::L1, 18},
      {"ReduceL2", ReduceKind::L2, 18},
      {"ReduceSumSquare", ReduceKind::SumSquare, 18},
      {"ReduceLogSum", ReduceKind::LogSum, 18},
      {"ReduceLogSumExp", ReduceKind::LogSumExp, 18},
  };
  for (const Entry &entry : entries) {
    ReduceKind kind = entry.kind;
    int64_t axesInputOpset = entry.axesInputOpset;
    registry.add(entry.name, [kind, axesInputOpset](OnnxNodeContext &ctx) {
      return lowerReduce(ctx, kind, axesInputOpset);
    });
  }
  registry.add("ArgMax",
               [](OnnxNodeContext &ctx) { return lowerArg(ctx, true); });
  registry.add("ArgMin",
               [](OnnxNodeContext &ctx) { return lowerArg(ctx, false); });
}

} // namespace quantc
