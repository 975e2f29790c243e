//===- OnnxLowering.cpp - IR building blocks for ONNX op lowerings --------===//

#include "quantc/Import/OnnxLowering.h"

#include "OnnxTensorData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace mlir;

namespace quantc {

int64_t numElementsOf(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

std::optional<SmallVector<int64_t>>
broadcastShapes(ArrayRef<ArrayRef<int64_t>> shapes) {
  size_t rank = 0;
  for (ArrayRef<int64_t> shape : shapes)
    rank = std::max(rank, shape.size());
  SmallVector<int64_t> result(rank, 1);
  for (ArrayRef<int64_t> shape : shapes) {
    size_t offset = rank - shape.size();
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t &out = result[offset + i];
      if (shape[i] == out || shape[i] == 1)
        continue;
      if (out != 1)
        return std::nullopt;
      out = shape[i];
    }
  }
  return result;
}

static std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "x" : "") + std::to_string(shape[i]);
  return text + "]";
}

Value createEmptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                        Type elementType) {
  return tensor::EmptyOp::create(b, loc, shape, elementType);
}

Value createScalarConstant(OpBuilder &b, Location loc, Type elementType,
                           double value) {
  if (auto floatType = dyn_cast<FloatType>(elementType))
    return arith::ConstantOp::create(b, loc, FloatAttr::get(floatType, value));
  return createIntConstant(b, loc, elementType, static_cast<int64_t>(value));
}

Value createIntConstant(OpBuilder &b, Location loc, Type elementType,
                        int64_t value) {
  if (isa<FloatType>(elementType))
    return createScalarConstant(b, loc, elementType,
                                static_cast<double>(value));
  if (elementType.isIndex())
    return arith::ConstantIndexOp::create(b, loc, value);
  auto intType = cast<IntegerType>(elementType);
  APInt bits(intType.getWidth(), static_cast<uint64_t>(value),
             /*isSigned=*/true, /*implicitTrunc=*/true);
  return arith::ConstantOp::create(b, loc, IntegerAttr::get(intType, bits));
}

Value createFilledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                         Value scalar) {
  Value empty = createEmptyTensor(b, loc, shape, scalar.getType());
  return linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{empty})
      .getResult(0);
}

/// Collapses away the dims of `value` whose `keep` flag is false (all of
/// size 1), merging each into a neighbouring kept dim.
static Value collapseDroppedDims(OpBuilder &b, Location loc, Value value,
                                 ArrayRef<bool> keep) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<ReassociationIndices> groups;
  SmallVector<int64_t> shape;
  ReassociationIndices pending; // dropped dims before the first kept one
  for (auto [dim, kept] : llvm::enumerate(keep)) {
    if (kept) {
      groups.emplace_back(pending);
      pending.clear();
      groups.back().push_back(dim);
      shape.push_back(type.getDimSize(dim));
    } else if (!groups.empty()) {
      groups.back().push_back(dim);
    } else {
      pending.push_back(dim);
    }
  }
  // With no kept dim the result is a rank-0 tensor (empty reassociation).
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  return tensor::CollapseShapeOp::create(b, loc, resultType, value, groups);
}

Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                       ArrayRef<int64_t> resultShape, Type resultElementType,
                       ScalarBodyFn body) {
  MLIRContext *context = b.getContext();
  int64_t rank = resultShape.size();
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  for (Value input : inputs) {
    auto type = cast<RankedTensorType>(input.getType());
    int64_t offset = rank - type.getRank();
    SmallVector<bool> keep;
    SmallVector<AffineExpr> exprs;
    for (int64_t dim = 0; dim < type.getRank(); ++dim) {
      bool broadcast =
          type.getDimSize(dim) == 1 && resultShape[offset + dim] != 1;
      keep.push_back(!broadcast);
      if (!broadcast)
        exprs.push_back(getAffineDimExpr(offset + dim, context));
    }
    Value operand = input;
    if (llvm::is_contained(keep, false))
      operand = collapseDroppedDims(b, loc, input, keep);
    operands.push_back(operand);
    maps.push_back(AffineMap::get(rank, 0, exprs, context));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, context));
  Value init = createEmptyTensor(b, loc, resultShape, resultElementType);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, operands, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = body(nested, nestedLoc, args.drop_back());
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  return generic.getResult(0);
}

Value buildBroadcastElementwise(OnnxNodeContext &ctx, ValueRange inputs,
                                Type resultElementType, ScalarBodyFn body) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (Value input : inputs)
    shapes.push_back(cast<RankedTensorType>(input.getType()).getShape());
  std::optional<SmallVector<int64_t>> shape = broadcastShapes(shapes);
  if (!shape) {
    std::string list;
    for (ArrayRef<int64_t> s : shapes)
      list += (list.empty() ? "" : ", ") + shapeText(s);
    (void)ctx.emitError("input shapes " + list + " do not broadcast");
    return nullptr;
  }
  return buildElementwise(ctx.builder(), ctx.loc(), inputs, *shape,
                          resultElementType, body);
}

Value buildIndexedTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                         Type elementType, IndexedBodyFn body) {
  int64_t rank = shape.size();
  Value init = createEmptyTensor(b, loc, shape, elementType);
  SmallVector<AffineMap> maps = {
      AffineMap::getMultiDimIdentityMap(rank, b.getContext())};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location l, ValueRange) {
        SmallVector<Value> coordinates;
        for (int64_t d = 0; d < rank; ++d)
          coordinates.push_back(linalg::IndexOp::create(nb, l, d));
        linalg::YieldOp::create(nb, l, body(nb, l, coordinates));
      });
  return generic.getResult(0);
}

Value wrapAndClampIndex(OpBuilder &b, Location loc, Value index,
                        int64_t size) {
  if (!index.getType().isIndex())
    index = arith::IndexCastOp::create(b, loc, b.getIndexType(), index);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value sizeValue = arith::ConstantIndexOp::create(b, loc, size);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, index, zero);
  Value wrapped = arith::AddIOp::create(b, loc, index, sizeValue);
  index = arith::SelectOp::create(b, loc, negative, wrapped, index);
  index = arith::MaxSIOp::create(b, loc, index, zero);
  Value last = arith::ConstantIndexOp::create(b, loc, std::max<int64_t>(size - 1, 0));
  return arith::MinSIOp::create(b, loc, index, last);
}

Value broadcastTo(OpBuilder &b, Location loc, Value value,
                  ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getShape() == shape)
    return value;
  return buildElementwise(b, loc, value, shape, type.getElementType(),
                          [](OpBuilder &, Location, ValueRange args) {
                            return args[0];
                          });
}

Value reshapeTensor(OpBuilder &b, Location loc, Value value,
                    ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getShape() == shape)
    return value;
  Type elementType = type.getElementType();
  int64_t count = numElementsOf(shape);
  // Through a 1-D tensor of all elements: collapse, then expand.
  Value flat = value;
  if (type.getRank() == 0) {
    flat = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({1}, elementType), value,
        ArrayRef<ReassociationIndices>{});
  } else if (type.getRank() > 1) {
    ReassociationIndices all;
    for (int64_t i = 0; i < type.getRank(); ++i)
      all.push_back(i);
    flat = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({count}, elementType), value,
        ArrayRef<ReassociationIndices>{all});
  }
  if (shape.size() == 1)
    return flat;
  auto resultType = RankedTensorType::get(shape, elementType);
  if (shape.empty())
    return tensor::CollapseShapeOp::create(b, loc, resultType, flat,
                                           ArrayRef<ReassociationIndices>{});
  ReassociationIndices all;
  for (size_t i = 0; i < shape.size(); ++i)
    all.push_back(i);
  return tensor::ExpandShapeOp::create(b, loc, resultType, flat,
                                       ArrayRef<ReassociationIndices>{all});
}

Value transposeTensor(OpBuilder &b, Location loc, Value value,
                      ArrayRef<int64_t> perm) {
  bool identity = true;
  for (auto [i, p] : llvm::enumerate(perm))
    identity &= static_cast<int64_t>(i) == p;
  if (identity)
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  Value init = createEmptyTensor(b, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(b, loc, value, init, perm).getResult()[0];
}

Value buildReduction(OpBuilder &b, Location loc, Value input,
                     ArrayRef<int64_t> axes, bool keepDims, TypedAttr init,
                     CombineFn combine) {
  MLIRContext *context = b.getContext();
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> reducedShape, keptShape;
  SmallVector<AffineExpr> outputExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t dim = 0; dim < rank; ++dim) {
    bool reduced = llvm::is_contained(axes, dim);
    iterators.push_back(reduced ? utils::IteratorType::reduction
                                : utils::IteratorType::parallel);
    keptShape.push_back(reduced ? 1 : type.getDimSize(dim));
    if (!reduced) {
      reducedShape.push_back(type.getDimSize(dim));
      outputExprs.push_back(getAffineDimExpr(dim, context));
    }
  }
  Value initScalar = arith::ConstantOp::create(b, loc, init);
  Value acc = createFilledTensor(b, loc, reducedShape, initScalar);
  SmallVector<AffineMap> maps = {
      AffineMap::getMultiDimIdentityMap(rank, context),
      AffineMap::get(rank, 0, outputExprs, context)};
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{acc.getType()}, ValueRange{input}, ValueRange{acc},
      maps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = combine(nested, nestedLoc, args[0], args[1]);
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  Value result = generic.getResult(0);
  if (keepDims)
    result = reshapeTensor(b, loc, result, keptShape);
  return result;
}

Value convertScalar(OpBuilder &b, Location loc, Value scalar, OnnxDType from,
                    OnnxDType to) {
  Type fromType = scalar.getType();
  Type toType = onnxDTypeToMlir(to, b.getContext());
  if (from == to || (fromType == toType && to != OnnxDType::Bool))
    return scalar;
  if (to == OnnxDType::Bool) {
    if (isa<FloatType>(fromType)) {
      Value zero = createScalarConstant(b, loc, fromType, 0.0);
      // NaN is true, as in C and numpy.
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, scalar,
                                   zero);
    }
    Value zero = createIntConstant(b, loc, fromType, 0);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, scalar,
                                 zero);
  }
  if (auto fromFloat = dyn_cast<FloatType>(fromType)) {
    if (auto toFloat = dyn_cast<FloatType>(toType)) {
      if (fromFloat.getWidth() < toFloat.getWidth())
        return arith::ExtFOp::create(b, loc, toType, scalar);
      if (fromFloat.getWidth() > toFloat.getWidth())
        return arith::TruncFOp::create(b, loc, toType, scalar);
      // f16 <-> bf16: through f32, which holds both exactly.
      Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), scalar);
      return arith::TruncFOp::create(b, loc, toType, wide);
    }
    if (isOnnxUnsigned(to))
      return arith::FPToUIOp::create(b, loc, toType, scalar);
    return arith::FPToSIOp::create(b, loc, toType, scalar);
  }
  bool fromUnsigned = isOnnxUnsigned(from) || from == OnnxDType::Bool;
  if (isa<FloatType>(toType)) {
    if (fromUnsigned)
      return arith::UIToFPOp::create(b, loc, toType, scalar);
    return arith::SIToFPOp::create(b, loc, toType, scalar);
  }
  unsigned fromWidth = fromType.getIntOrFloatBitWidth();
  unsigned toWidth = toType.getIntOrFloatBitWidth();
  if (fromWidth < toWidth)
    return fromUnsigned ? Value(arith::ExtUIOp::create(b, loc, toType, scalar))
                        : Value(arith::ExtSIOp::create(b, loc, toType, scalar));
  if (fromWidth > toWidth)
    return arith::TruncIOp::create(b, loc, toType, scalar);
  return scalar;
}

Value convertTensor(OpBuilder &b, Location loc, Value value, OnnxDType from,
                    OnnxDType to) {
  auto type = cast<RankedTensorType>(value.getType());
  Type toType = onnxDTypeToMlir(to, b.getContext());
  if (from == to || (type.getElementType() == toType && to != OnnxDType::Bool))
    return value;
  return buildElementwise(b, loc, value, type.getShape(), toType,
                          [&](OpBuilder &nested, Location nestedLoc,
                              ValueRange args) {
                            return convertScalar(nested, nestedLoc, args[0],
                                                 from, to);
                          });
}

FailureOr<int64_t> normalizeAxis(OnnxNodeContext &ctx, int64_t axis,
                                 int64_t rank, llvm::StringRef what) {
  if (axis < -rank || axis >= rank || (rank == 0 && axis != 0 && axis != -1))
    return ctx.emitError(what + " " + std::to_string(axis) +
                         " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

FailureOr<SmallVector<int64_t>> normalizeAxes(OnnxNodeContext &ctx,
                                              ArrayRef<int64_t> axes,
                                              int64_t rank,
                                              llvm::StringRef what) {
  SmallVector<int64_t> result;
  for (int64_t axis : axes) {
    if (axis < -rank || axis >= rank)
      return ctx.emitError(what + " value " + std::to_string(axis) +
                           " is out of range for rank " + std::to_string(rank));
    result.push_back(axis < 0 ? axis + rank : axis);
  }
  llvm::sort(result);
  if (std::adjacent_find(result.begin(), result.end()) != result.end())
    return ctx.emitError(what + " has a repeated axis");
  return result;
}

ElementsAttr knownTensorToAttr(MLIRContext *context,
                               const KnownTensor &tensor) {
  Type elementType = onnxDTypeToMlir(tensor.dtype, context);
  auto type = RankedTensorType::get(tensor.shape, elementType);
  if (tensor.dtype == OnnxDType::Bool) {
    SmallVector<bool> values;
    for (int64_t value : tensor.ints)
      values.push_back(value != 0);
    return DenseElementsAttr::get(type, values);
  }
  size_t bytes = tensor.numElements() * onnxDTypeSize(tensor.dtype);
  if (tensor.numElements() <= 16) {
    std::vector<char> data(bytes);
    encodeKnownTensor(tensor, data);
    return DenseElementsAttr::getFromRawBuffer(type, data);
  }
  AsmResourceBlob blob =
      HeapAsmResourceBlob::allocate(bytes, alignof(int64_t), /*mutable=*/true);
  encodeKnownTensor(tensor, blob.getMutableData());
  return DenseResourceElementsAttr::get(type, "folded", std::move(blob));
}

Value materializeKnownTensor(OpBuilder &b, Location loc,
                             const KnownTensor &tensor) {
  return arith::ConstantOp::create(b, loc,
                                   knownTensorToAttr(b.getContext(), tensor));
}

} // namespace quantc
