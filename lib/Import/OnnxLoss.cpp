//===- OnnxLoss.cpp - ONNX loss functions -> linalg -----------------------===//
//
// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (log-softmax over
// the class axis, then the same negative log likelihood).
//
// For input [N, C, d...] and target [N, d...]: each position takes
// w = weight[target] (1 without weights; 0 where target == ignore_index)
// and loss = -input[n, target, d...] * w. reduction = none returns the
// losses, sum their sum, mean sum(loss) / sum(w) when there are weights or
// an ignore_index, else their plain mean (ONNX's reference does the same).
// Targets ONNX leaves undefined (out of [0, C) and not ignored) are clamped.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"

using namespace mlir;

namespace quantc {
namespace {

/// The loss of `logProb` [N, C, d...] (already log-probabilities) against
/// the node's target (input 1) and optional weight (input 2).
LogicalResult buildNegativeLogLikelihood(OnnxNodeContext &ctx, Value logProb,
                                         OnnxDType dtype) {
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  auto inputType = cast<RankedTensorType>(logProb.getType());
  ArrayRef<int64_t> inputShape = inputType.getShape();
  Type elementType = inputType.getElementType();
  int64_t rank = inputShape.size();
  if (rank < 2)
    return ctx.emitError("input must have rank >= 2 ([N, C, d...])");
  ArrayRef<int64_t> targetShape = ctx.inputShape(1);
  SmallVector<int64_t> expected = {inputShape[0]};
  expected.append(inputShape.begin() + 2, inputShape.end());
  if (targetShape != ArrayRef<int64_t>(expected))
    return ctx.emitError("target must have shape [N, d...] of the input");
  OnnxDType targetDType = ctx.inputDType(1);
  if (targetDType != OnnxDType::Int32 && targetDType != OnnxDType::Int64)
    return ctx.emitError("target must be int32 or int64");
  int64_t classes = inputShape[1];
  bool hasWeight = ctx.hasInput(2);
  if (hasWeight && ctx.inputShape(2) != ArrayRef<int64_t>{classes})
    return ctx.emitError("weight must have shape [C]");
  std::optional<int64_t> ignoreIndex = ctx.optionalAttrInt("ignore_index");
  std::string reduction = ctx.attrString("reduction", "mean");
  if (ctx.failed())
    return failure();
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return ctx.emitError("reduction '" + reduction +
                         "' is not one of none, sum, mean");

  Value target = ctx.input(1);
  Value weight = hasWeight ? ctx.input(2) : Value();
  Type targetType = ctx.inputType(1).getElementType();
  int64_t targetRank = targetShape.size();
  MLIRContext *context = b.getContext();
  SmallVector<AffineMap> maps(3,
                              AffineMap::getMultiDimIdentityMap(targetRank, context));
  SmallVector<utils::IteratorType> iterators(targetRank,
                                             utils::IteratorType::parallel);
  Value lossInit = createEmptyTensor(b, loc, targetShape, elementType);
  Value weightInit = createEmptyTensor(b, loc, targetShape, elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{lossInit.getType(), weightInit.getType()},
      ValueRange{target}, ValueRange{lossInit, weightInit}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value label = args[0];
        Value cls = wrapAndClampIndex(nb, l, label, classes);
        // wrapAndClampIndex wraps negatives; a negative label is undefined
        // in ONNX unless ignored, so either reading is acceptable.
        Value w = hasWeight ? tensor::ExtractOp::create(nb, l, weight,
                                                        ValueRange{cls})
                                  .getResult()
                            : createScalarConstant(nb, l, elementType, 1.0);
        Value zero = createScalarConstant(nb, l, elementType, 0.0);
        if (ignoreIndex) {
          Value ignored = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::eq, label,
              createIntConstant(nb, l, targetType, *ignoreIndex));
          w = arith::SelectOp::create(nb, l, ignored, zero, w);
        }
        SmallVector<Value> source = {linalg::IndexOp::create(nb, l, 0), cls};
        for (int64_t d = 1; d < targetRank; ++d)
          source.push_back(linalg::IndexOp::create(nb, l, d));
        Value x = tensor::ExtractOp::create(nb, l, logProb, source);
        Value loss = arith::MulFOp::create(nb, l, x, w);
        loss = arith::SubFOp::create(nb, l, zero, loss);
        linalg::YieldOp::create(nb, l, ValueRange{loss, w});
      });
  Value loss = generic.getResult(0);
  Value weights = generic.getResult(1);
  if (reduction == "none") {
    ctx.setOutput(0, loss, dtype);
    return success();
  }
  SmallVector<int64_t> allAxes;
  for (int64_t d = 0; d < targetRank; ++d)
    allAxes.push_back(d);
  auto add = [](OpBuilder &nb, Location l, Value x, Value acc) -> Value {
    return arith::AddFOp::create(nb, l, x, acc);
  };
  TypedAttr zeroAttr = b.getFloatAttr(elementType, 0.0);
  Value sum = buildReduction(b, loc, loss, allAxes, false, zeroAttr, add);
  if (reduction == "mean") {
    Value denominator;
    if (hasWeight || ignoreIndex) {
      denominator = buildReduction(b, loc, weights, allAxes, false, zeroAttr, add);
    } else {
      denominator = createFilledTensor(
          b, loc, {},
          createScalarConstant(b, loc, elementType,
                               (double)numElementsOf(targetShape)));
    }
    sum = buildElementwise(b, loc, {sum, denominator}, {}, elementType,
                           [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                             return arith::DivFOp::create(nb, l, args[0], args[1]);
                           });
  }
  ctx.setOutput(0, sum, dtype);
  return success();
}

LogicalResult checkFloatInput(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  return success();
}

LogicalResult lowerNegativeLogLikelihoodLoss(OnnxNodeContext &ctx) {
  if (failed(checkFloatInput(ctx)))
    return failure();
  return buildNegativeLogLikelihood(ctx, ctx.input(0), ctx.inputDType(0));
}

LogicalResult lowerSoftmaxCrossEntropyLoss(OnnxNodeContext &ctx) {
  if (failed(checkFloatInput(ctx)))
    return failure();
  if (ctx.inputRank(0) < 2)
    return ctx.emitError("scores must have rank >= 2 ([N, C, d...])");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  OnnxDType dtype = ctx.inputDType(0);
  Value logProb = buildSoftmax(b, loc, ctx.input(0), /*axis=*/1,
                               /*logarithmic=*/true);
  if (failed(buildNegativeLogLikelihood(ctx, logProb, dtype)))
    return failure();
  if (ctx.hasOutput(1))
    ctx.setOutput(1, logProb, dtype);
  return success();
}

} // namespace

void registerOnnxLossOps(OnnxOpRegistry &registry) {
  registry.add("NegativeLogLikelihoodLoss", lowerNegativeLogLikelihoodLoss,
               nullptr, 12);
  registry.add("SoftmaxCrossEntropyLoss", lowerSoftmaxCrossEntropyLoss,
               nullptr, 12);
}

} // namespace quantc
