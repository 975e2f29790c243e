//===- OnnxIndexing.cpp - ONNX ops that move elements by index -> linalg --===//
//
// Ops whose output elements are input elements picked by position: the
// element-wise gathers (GatherElements, GatherND), scatters (ScatterElements,
// ScatterND), masks and layout changes (Trilu, EyeLike, Tile, DepthToSpace,
// SpaceToDepth), Split, CumSum, Hardmax and TopK.
//
// Most are one linalg.generic over the output (buildIndexedTensor) whose body
// computes the source coordinates and reads them with tensor.extract. Index
// inputs ONNX leaves undefined when out of range are wrapped (negative
// values count from the end) and clamped, so that no read leaves the tensor.
// Scatters are scf.for loops of tensor.insert in update order, which is the
// order ONNX's reduction = none leaves the result of duplicate indices in.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"

#include <limits>

using namespace mlir;

namespace quantc {
namespace {

bool isIndexDType(OnnxDType dtype) {
  return dtype == OnnxDType::Int32 || dtype == OnnxDType::Int64;
}

LogicalResult requireIndexInput(OnnxNodeContext &ctx, unsigned index,
                                StringRef what) {
  if (isIndexDType(ctx.inputDType(index)))
    return success();
  return ctx.emitError(Twine(what) + " must be int32 or int64, not " +
                       onnxDTypeName(ctx.inputDType(index)));
}

Value constantIndex(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

//===----------------------------------------------------------------------===//
// GatherElements / GatherND
//===----------------------------------------------------------------------===//

/// out[i] = data[i with coordinate `axis` replaced by indices[i]].
LogicalResult lowerGatherElements(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> dataShape = ctx.inputShape(0);
  ArrayRef<int64_t> indexShape = ctx.inputShape(1);
  int64_t rank = dataShape.size();
  if (rank == 0 || (int64_t)indexShape.size() != rank)
    return ctx.emitError("data and indices must have the same rank >= 1");
  FailureOr<int64_t> axis = normalizeAxis(ctx, ctx.attrInt("axis", 0), rank);
  if (failed(axis) || failed(requireIndexInput(ctx, 1, "indices")))
    return failure();
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value data = ctx.input(0);
  Value indices = ctx.input(1);
  int64_t axisSize = dataShape[*axis];
  Value result = buildIndexedTensor(
      b, loc, indexShape, ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value index = tensor::ExtractOp::create(nb, l, indices, coords);
        SmallVector<Value> source(coords.begin(), coords.end());
        source[*axis] = wrapAndClampIndex(nb, l, index, axisSize);
        return tensor::ExtractOp::create(nb, l, data, source);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

/// out[b..., i...] = data[b..., indices[b..., i..., :], rest...] with
/// `batch_dims` leading batch dimensions.
LogicalResult lowerGatherND(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> dataShape = ctx.inputShape(0);
  ArrayRef<int64_t> indexShape = ctx.inputShape(1);
  int64_t r = dataShape.size(), q = indexShape.size();
  int64_t batchDims = ctx.attrInt("batch_dims", 0);
  if (failed(requireIndexInput(ctx, 1, "indices")))
    return failure();
  if (r < 1 || q < 1 || batchDims < 0 || batchDims >= std::min(r, q))
    return ctx.emitError("needs rank(data) >= 1, rank(indices) >= 1 and "
                         "batch_dims < both ranks");
  int64_t depth = indexShape.back();
  if (depth < 1 || depth > r - batchDims)
    return ctx.emitError("indices.shape[-1] = " + std::to_string(depth) +
                         " must be in [1, rank(data) - batch_dims]");
  for (int64_t d = 0; d < batchDims; ++d)
    if (dataShape[d] != indexShape[d])
      return ctx.emitError("batch dimensions of data and indices differ");
  SmallVector<int64_t> shape(indexShape.drop_back());
  shape.append(dataShape.begin() + batchDims + depth, dataShape.end());
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value data = ctx.input(0);
  Value indices = ctx.input(1);
  Value result = buildIndexedTensor(
      b, loc, shape, ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        SmallVector<Value> source(coords.begin(), coords.begin() + batchDims);
        SmallVector<Value> indexCoords(coords.take_front(q - 1));
        indexCoords.push_back(Value());
        for (int64_t k = 0; k < depth; ++k) {
          indexCoords.back() = constantIndex(nb, l, k);
          Value index = tensor::ExtractOp::create(nb, l, indices, indexCoords);
          source.push_back(
              wrapAndClampIndex(nb, l, index, dataShape[batchDims + k]));
        }
        llvm::append_range(source, coords.drop_front(q - 1));
        return tensor::ExtractOp::create(nb, l, data, source);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

//===----------------------------------------------------------------------===//
// Trilu / EyeLike
//===----------------------------------------------------------------------===//

/// Keeps the elements on and above (upper) or below (lower) diagonal k of
/// the last two dimensions; k is an optional scalar input, known or not.
LogicalResult lowerTrilu(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  if (rank < 2)
    return ctx.emitError("input must have rank >= 2");
  bool upper = ctx.attrInt("upper", 1) != 0;
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value k;
  if (ctx.hasInput(1)) {
    if (failed(requireIndexInput(ctx, 1, "k")) ||
        numElementsOf(ctx.inputShape(1)) != 1)
      return ctx.emitError("k must be one int64");
    Value kTensor = reshapeTensor(b, loc, ctx.input(1), {});
    k = tensor::ExtractOp::create(b, loc, kTensor, ValueRange{});
    k = arith::IndexCastOp::create(b, loc, b.getIndexType(), k);
  } else {
    k = constantIndex(b, loc, 0);
  }
  Value input = ctx.input(0);
  Type elementType = ctx.inputType(0).getElementType();
  Value result = buildIndexedTensor(
      b, loc, shape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value row = coords[rank - 2], col = coords[rank - 1];
        Value offset = arith::SubIOp::create(nb, l, col, row);
        Value keep = arith::CmpIOp::create(
            nb, l, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
            offset, k);
        Value element = tensor::ExtractOp::create(nb, l, input, coords);
        Value zero = createScalarConstant(nb, l, elementType, 0.0);
        return arith::SelectOp::create(nb, l, keep, element, zero);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

/// A 2-D tensor of the input's shape with ones on diagonal k.
LogicalResult lowerEyeLike(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  if (shape.size() != 2)
    return ctx.emitError("input must have rank 2");
  OnnxDType dtype = ctx.inputDType(0);
  if (ctx.hasAttr("dtype"))
    dtype = static_cast<OnnxDType>(ctx.attrInt("dtype", 1));
  Type elementType = onnxDTypeToMlir(dtype, ctx.getContext());
  if (!elementType)
    return ctx.emitError("dtype " + onnxDTypeName(dtype) + " is not supported");
  int64_t k = ctx.attrInt("k", 0);
  OpBuilder &b = ctx.builder();
  Value result = buildIndexedTensor(
      b, ctx.loc(), shape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value offset = arith::SubIOp::create(nb, l, coords[1], coords[0]);
        Value onDiagonal = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::eq, offset, constantIndex(nb, l, k));
        return arith::SelectOp::create(
            nb, l, onDiagonal, createScalarConstant(nb, l, elementType, 1.0),
            createScalarConstant(nb, l, elementType, 0.0));
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

} // namespace

void registerOnnxIndexingOps(OnnxOpRegistry &registry) {
  registry.add("GatherElements", lowerGatherElements, nullptr, 11);
  registry.add("GatherND", lowerGatherND, nullptr, 11);
  registry.add("Trilu", lowerTrilu, nullptr, 14);
  registry.add("EyeLike", lowerEyeLike, nullptr, 9);
}

} // namespace quantc
