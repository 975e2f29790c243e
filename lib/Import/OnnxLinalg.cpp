//===- OnnxLinalg.cpp - MatMul, Gemm, shape ops and Softmax -> linalg -----===//
//
// MatMul (batched, broadcasting) and Gemm on linalg.matmul / batch_matmul;
// the shape and data-movement ops (Reshape, Transpose, Flatten, Squeeze,
// Unsqueeze, Shape, Size, Concat, Gather, Slice, Expand) on tensor reshapes,
// slices and linalg; the constant makers (Constant, ConstantOfShape, Range);
// Softmax as linalg.softmax (the CPU pipeline's quantc-two-pass-softmax
// lowers it) and LogSoftmax decomposed into max / exp / sum.
//
// The shape ops also fold on host constants, which is how a Shape -> Gather
// -> Concat -> Reshape chain ends up as a static shape.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

using namespace mlir;

namespace quantc {
namespace {

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "x" : "") + std::to_string(shape[i]);
  return text + "]";
}

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// A host tensor of `shape` whose element i is element sources[i] of `input`.
KnownTensor selectElements(const KnownTensor &input, ArrayRef<int64_t> shape,
                           ArrayRef<int64_t> sources) {
  KnownTensor result;
  result.dtype = input.dtype;
  result.shape.assign(shape.begin(), shape.end());
  for (int64_t source : sources) {
    if (input.isFloat())
      result.floats.push_back(input.floats[source]);
    else
      result.ints.push_back(input.ints[source]);
  }
  return result;
}

KnownTensor withShape(const KnownTensor &input, ArrayRef<int64_t> shape) {
  KnownTensor result = input;
  result.shape.assign(shape.begin(), shape.end());
  return result;
}

/// Calls `fn(outIndex, multiIndex)` for every element of `shape`.
template <typename Fn> void forEachIndex(ArrayRef<int64_t> shape, Fn fn) {
  int64_t count = numElementsOf(shape);
  SmallVector<int64_t> index(shape.size(), 0);
  for (int64_t linear = 0; linear < count; ++linear) {
    fn(linear, ArrayRef<int64_t>(index));
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
}

//===----------------------------------------------------------------------===//
// MatMul / Gemm
//===----------------------------------------------------------------------===//

Value zeroFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                 Type elementType) {
  return createFilledTensor(b, loc, shape,
                            createScalarConstant(b, loc, elementType, 0.0));
}

/// [M, K] x [K, N] -> [M, N]
Value matmul2d(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  Value init = zeroFilled(b, loc, {lhsType.getDimSize(0), rhsType.getDimSize(1)},
                          lhsType.getElementType());
  return linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                  ValueRange{lhs, rhs}, ValueRange{init})
      .getResult(0);
}

} // namespace

FailureOr<Value> buildNumpyMatMul(OnnxNodeContext &ctx, Value lhs, Value rhs) {
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  SmallVector<int64_t> lhsShape(cast<RankedTensorType>(lhs.getType()).getShape());
  SmallVector<int64_t> rhsShape(cast<RankedTensorType>(rhs.getType()).getShape());
  SmallVector<int64_t> lhsOriginal(lhsShape), rhsOriginal(rhsShape);
  if (lhsShape.empty() || rhsShape.empty())
    return ctx.emitError("MatMul inputs must have rank >= 1");
  // numpy: a 1-D operand gains a unit dim that the result drops again.
  bool lhsVector = lhsShape.size() == 1, rhsVector = rhsShape.size() == 1;
  if (lhsVector) {
    lhsShape.insert(lhsShape.begin(), 1);
    lhs = reshapeTensor(b, loc, lhs, lhsShape);
  }
  if (rhsVector) {
    rhsShape.push_back(1);
    rhs = reshapeTensor(b, loc, rhs, rhsShape);
  }
  int64_t m = lhsShape[lhsShape.size() - 2], k = lhsShape.back();
  int64_t n = rhsShape.back();
  if (rhsShape[rhsShape.size() - 2] != k)
    return ctx.emitError("inner dimensions differ: " + shapeText(lhsOriginal) +
                         " x " + shapeText(rhsOriginal));
  ArrayRef<int64_t> lhsBatch = ArrayRef<int64_t>(lhsShape).drop_back(2);
  ArrayRef<int64_t> rhsBatch = ArrayRef<int64_t>(rhsShape).drop_back(2);
  std::optional<SmallVector<int64_t>> batch =
      broadcastShapes({lhsBatch, rhsBatch});
  if (!batch)
    return ctx.emitError("batch dimensions do not broadcast: " +
                         shapeText(lhsOriginal) + " x " + shapeText(rhsOriginal));
  int64_t batchCount = numElementsOf(*batch);
  Type elementType = cast<RankedTensorType>(lhs.getType()).getElementType();

  Value result;
  if (numElementsOf(rhsBatch) == 1 && rhsBatch.size() <= batch->size()) {
    // A shared right operand (activations x weights): fold the batch into M
    // and run one 2-D matmul.
    Value lhsFlat = reshapeTensor(
        b, loc, broadcastTo(b, loc, lhs, [&] {
          SmallVector<int64_t> shape(*batch);
          shape.append({m, k});
          return shape;
        }()),
        {batchCount * m, k});
    Value rhs2d = reshapeTensor(b, loc, rhs, {k, n});
    result = matmul2d(b, loc, lhsFlat, rhs2d);
  } else {
    SmallVector<int64_t> lhsFull(*batch), rhsFull(*batch);
    lhsFull.append({m, k});
    rhsFull.append({k, n});
    Value lhs3d = reshapeTensor(b, loc, broadcastTo(b, loc, lhs, lhsFull),
                                {batchCount, m, k});
    Value rhs3d = reshapeTensor(b, loc, broadcastTo(b, loc, rhs, rhsFull),
                                {batchCount, k, n});
    Value init = zeroFilled(b, loc, {batchCount, m, n}, elementType);
    result = linalg::BatchMatmulOp::create(b, loc, TypeRange{init.getType()},
                                           ValueRange{lhs3d, rhs3d},
                                           ValueRange{init})
                 .getResult(0);
  }
  SmallVector<int64_t> resultShape(*batch);
  if (!lhsVector)
    resultShape.push_back(m);
  if (!rhsVector)
    resultShape.push_back(n);
  return reshapeTensor(b, loc, result, resultShape);
}

namespace {

LogicalResult lowerMatMul(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (ctx.inputDType(1) != dtype)
    return ctx.emitError("inputs have different element types (" +
                         onnxDTypeName(dtype) + " and " +
                         onnxDTypeName(ctx.inputDType(1)) + ")");
  if (!isOnnxFloat(dtype) && !isOnnxInteger(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported");
  FailureOr<Value> result = buildNumpyMatMul(ctx, ctx.input(0), ctx.input(1));
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result, dtype);
  return success();
}

/// Einsum: one linalg.generic over every distinct subscript, the output's
/// parallel and the rest reductions; a subscript repeated within an operand
/// reads its diagonal. `...` stands for the same leading dims in every
/// operand (size-1 dims broadcast). Without `->` the output is the
/// ellipsis dims, then the subscripts seen once, in alphabetical order.
LogicalResult lowerEinsum(OnnxNodeContext &ctx) {
  std::string equation = ctx.attrString("equation", "");
  if (ctx.failed())
    return failure();
  std::string text;
  for (char ch : equation)
    if (ch != ' ')
      text.push_back(ch);
  std::string lhsText = text, outText;
  bool explicitOutput = false;
  if (size_t arrow = text.find("->"); arrow != std::string::npos) {
    lhsText = text.substr(0, arrow);
    outText = text.substr(arrow + 2);
    explicitOutput = true;
  }
  SmallVector<std::string> operandTexts;
  for (StringRef part : llvm::split(lhsText, ','))
    operandTexts.push_back(part.str());
  unsigned numOperands = ctx.numInputs();
  if (operandTexts.size() != numOperands)
    return ctx.emitError("equation '" + equation + "' has " +
                         Twine(operandTexts.size()) + " operands, the node " +
                         Twine(numOperands));
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype) && !isOnnxInteger(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported");
  // Letters map to loop dims; the ellipsis to dims named by '0'.. chars.
  int64_t ellipsisRank = 0;
  SmallVector<std::string> operandLabels;
  for (unsigned i = 0; i < numOperands; ++i) {
    if (ctx.inputDType(i) != dtype)
      return ctx.emitError("operands have different element types");
    const std::string &t = operandTexts[i];
    int64_t rank = ctx.inputRank(i);
    size_t dots = t.find("...");
    int64_t letters = (int64_t)t.size() - (dots == std::string::npos ? 0 : 3);
    if (dots == std::string::npos ? letters != rank : letters > rank)
      return ctx.emitError("operand " + Twine(i) + " ('" + t + "') does not fit its rank " +
                           Twine(rank));
    if (dots != std::string::npos)
      ellipsisRank = std::max(ellipsisRank, rank - letters);
  }
  auto expand = [&](const std::string &t, int64_t count) -> std::string {
    size_t dots = t.find("...");
    if (dots == std::string::npos)
      return t;
    std::string e;
    for (int64_t j = ellipsisRank - count; j < ellipsisRank; ++j)
      e.push_back(static_cast<char>('0' + j));
    return t.substr(0, dots) + e + t.substr(dots + 3);
  };
  for (unsigned i = 0; i < numOperands; ++i) {
    const std::string &t = operandTexts[i];
    size_t dots = t.find("...");
    int64_t count = dots == std::string::npos
                        ? 0
                        : ctx.inputRank(i) - ((int64_t)t.size() - 3);
    operandLabels.push_back(expand(t, count));
  }
  for (const std::string &labels : operandLabels)
    for (char ch : labels)
      if (!std::isalpha(static_cast<unsigned char>(ch)) &&
          !(ch >= '0' && ch < '0' + ellipsisRank))
        return ctx.emitError("equation '" + equation + "' is malformed");
  std::string outLabels;
  if (explicitOutput) {
    outLabels = expand(outText, outText.find("...") == std::string::npos
                                    ? 0
                                    : ellipsisRank);
  } else {
    for (int64_t j = 0; j < ellipsisRank; ++j)
      outLabels.push_back(static_cast<char>('0' + j));
    std::map<char, int> counts;
    for (const std::string &labels : operandLabels)
      for (char ch : labels)
        if (std::isalpha(static_cast<unsigned char>(ch)))
          ++counts[ch];
    for (auto [ch, count] : counts)
      if (count == 1)
        outLabels.push_back(ch);
  }
  // Loop dims: output labels first, then the rest in order of appearance.
  std::string loopLabels = outLabels;
  for (const std::string &labels : operandLabels)
    for (char ch : labels)
      if (loopLabels.find(ch) == std::string::npos)
        loopLabels.push_back(ch);
  std::map<char, int64_t> sizes;
  for (unsigned i = 0; i < numOperands; ++i) {
    ArrayRef<int64_t> shape = ctx.inputShape(i);
    for (auto [d, ch] : llvm::enumerate(operandLabels[i])) {
      int64_t size = shape[d];
      auto [it, inserted] = sizes.insert({ch, size});
      if (!inserted && it->second != size) {
        if (it->second == 1)
          it->second = size;
        else if (size != 1)
          return ctx.emitError("subscript '" + Twine(ch) + "' has sizes " +
                               Twine(it->second) + " and " + Twine(size));
      }
    }
  }
  for (char ch : outLabels)
    if (!sizes.count(ch))
      return ctx.emitError("output subscript '" + Twine(ch) +
                           "' is not in any operand");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  MLIRContext *context = b.getContext();
  int64_t numLoops = loopLabels.size();
  SmallVector<AffineMap> maps;
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < numOperands; ++i) {
    SmallVector<AffineExpr> exprs;
    ArrayRef<int64_t> shape = ctx.inputShape(i);
    for (auto [d, ch] : llvm::enumerate(operandLabels[i])) {
      if (shape[d] == 1 && sizes[ch] != 1)
        exprs.push_back(getAffineConstantExpr(0, context)); // broadcast
      else
        exprs.push_back(getAffineDimExpr(loopLabels.find(ch), context));
    }
    maps.push_back(AffineMap::get(numLoops, 0, exprs, context));
    inputs.push_back(ctx.input(i));
  }
  SmallVector<AffineExpr> outExprs;
  SmallVector<int64_t> outShape;
  for (size_t d = 0; d < outLabels.size(); ++d) {
    outExprs.push_back(getAffineDimExpr(d, context));
    outShape.push_back(sizes[outLabels[d]]);
  }
  maps.push_back(AffineMap::get(numLoops, 0, outExprs, context));
  SmallVector<utils::IteratorType> iterators(outLabels.size(),
                                             utils::IteratorType::parallel);
  iterators.append(numLoops - outLabels.size(), utils::IteratorType::reduction);
  Type elementType = ctx.inputType(0).getElementType();
  Value init = zeroFilled(b, loc, outShape, elementType);
  bool isFloat = isa<FloatType>(elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value product = args[0];
        for (unsigned i = 1; i < numOperands; ++i)
          product = isFloat ? arith::MulFOp::create(nb, l, product, args[i])
                                  .getResult()
                            : arith::MulIOp::create(nb, l, product, args[i])
                                  .getResult();
        Value acc = args[numOperands];
        Value sum = isFloat ? arith::AddFOp::create(nb, l, acc, product).getResult()
                            : arith::AddIOp::create(nb, l, acc, product).getResult();
        linalg::YieldOp::create(nb, l, sum);
      });
  ctx.setOutput(0, generic.getResult(0), dtype);
  return success();
}

/// Det of [..., M, M]: Gaussian elimination with partial pivoting, unrolled
/// at import time on f64 scalars, one matrix per linalg.generic element (so
/// M is limited to kMaxDetSize).
constexpr int64_t kMaxDetSize = 8;

LogicalResult lowerDet(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  if (rank < 2 || shape[rank - 1] != shape[rank - 2])
    return ctx.emitError("the input must be [..., M, M]");
  int64_t m = shape.back();
  if (m > kMaxDetSize)
    return ctx.emitError("matrices larger than " + std::to_string(kMaxDetSize) +
                         "x" + std::to_string(kMaxDetSize) +
                         " are not supported");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Value result = buildIndexedTensor(
      b, loc, shape.drop_back(2), ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Type f64 = nb.getF64Type();
        auto cst = [&](double v) { return createScalarConstant(nb, l, f64, v); };
        SmallVector<SmallVector<Value>> a(m, SmallVector<Value>(m));
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < m; ++j) {
            SmallVector<Value> at(coords.begin(), coords.end());
            at.push_back(arith::ConstantIndexOp::create(nb, l, i));
            at.push_back(arith::ConstantIndexOp::create(nb, l, j));
            a[i][j] = convertScalar(nb, l, tensor::ExtractOp::create(nb, l, x, at),
                                    dtype, OnnxDType::Double);
          }
        Value det = cst(1.0);
        for (int64_t k = 0; k < m; ++k) {
          // Compare-and-swap rows below k into row k: the largest |a[i][k]|
          // ends up as the pivot; each swap flips the sign.
          for (int64_t i = k + 1; i < m; ++i) {
            Value larger = arith::CmpFOp::create(
                nb, l, arith::CmpFPredicate::OGT, math::AbsFOp::create(nb, l, a[i][k]),
                math::AbsFOp::create(nb, l, a[k][k]));
            for (int64_t j = k; j < m; ++j) {
              Value top = arith::SelectOp::create(nb, l, larger, a[i][j], a[k][j]);
              Value bottom = arith::SelectOp::create(nb, l, larger, a[k][j], a[i][j]);
              a[k][j] = top;
              a[i][j] = bottom;
            }
            det = arith::SelectOp::create(nb, l, larger,
                                          arith::NegFOp::create(nb, l, det), det);
          }
          Value pivot = a[k][k];
          det = arith::MulFOp::create(nb, l, det, pivot);
          Value zeroPivot = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                                  pivot, cst(0.0));
          for (int64_t i = k + 1; i < m; ++i) {
            Value factor = arith::DivFOp::create(nb, l, a[i][k], pivot);
            factor = arith::SelectOp::create(nb, l, zeroPivot, cst(0.0), factor);
            for (int64_t j = k + 1; j < m; ++j)
              a[i][j] = arith::SubFOp::create(
                  nb, l, a[i][j], arith::MulFOp::create(nb, l, factor, a[k][j]));
          }
        }
        return convertScalar(nb, l, det, OnnxDType::Double, dtype);
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

/// Y = alpha * A' B' + beta * C
LogicalResult lowerGemm(OnnxNodeContext &ctx) {
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  double alpha = ctx.attrFloat("alpha", 1.0f);
  double beta = ctx.attrFloat("beta", 1.0f);
  bool transA = ctx.attrInt("transA", 0) != 0;
  bool transB = ctx.attrInt("transB", 0) != 0;
  if (ctx.failed())
    return failure();
  OnnxDType dtype = ctx.inputDType(0);
  if (ctx.inputDType(1) != dtype ||
      (ctx.hasInput(2) && ctx.inputDType(2) != dtype))
    return ctx.emitError("inputs have different element types");
  if (ctx.inputRank(0) != 2 || ctx.inputRank(1) != 2)
    return ctx.emitError("A and B must be 2-D, not " +
                         shapeText(ctx.inputShape(0)) + " and " +
                         shapeText(ctx.inputShape(1)));
  Value lhs = ctx.input(0), rhs = ctx.input(1);
  if (transA)
    lhs = transposeTensor(b, loc, lhs, {1, 0});
  if (transB)
    rhs = transposeTensor(b, loc, rhs, {1, 0});
  auto lhsShape = cast<RankedTensorType>(lhs.getType()).getShape();
  auto rhsShape = cast<RankedTensorType>(rhs.getType()).getShape();
  if (lhsShape[1] != rhsShape[0])
    return ctx.emitError("inner dimensions differ: A' is " +
                         shapeText(lhsShape) + ", B' is " + shapeText(rhsShape));
  SmallVector<int64_t> shape = {lhsShape[0], rhsShape[1]};
  bool isFloat = isOnnxFloat(dtype);
  if (!isFloat && (alpha != std::trunc(alpha) || beta != std::trunc(beta)))
    return ctx.emitError("alpha and beta must be whole numbers for " +
                         onnxDTypeName(dtype) + " inputs");
  Value product = matmul2d(b, loc, lhs, rhs);
  SmallVector<Value> operands = {product};
  bool hasBias = ctx.hasInput(2) && beta != 0.0;
  if (hasBias) {
    std::optional<SmallVector<int64_t>> broadcast =
        broadcastShapes({ctx.inputShape(2), shape});
    if (!broadcast || ArrayRef<int64_t>(*broadcast) != ArrayRef<int64_t>(shape))
      return ctx.emitError("C of shape " + shapeText(ctx.inputShape(2)) +
                           " does not broadcast to " + shapeText(shape));
    operands.push_back(ctx.input(2));
  }
  if (alpha == 1.0 && !hasBias) {
    ctx.setOutput(0, product, dtype);
    return success();
  }
  Value result = buildElementwise(
      b, loc, operands, shape, ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Type type = args[0].getType();
        auto mul = [&](Value x, double factor) -> Value {
          if (factor == 1.0)
            return x;
          Value f = createScalarConstant(nb, l, type, factor);
          return isFloat ? Value(arith::MulFOp::create(nb, l, x, f))
                         : Value(arith::MulIOp::create(nb, l, x, f));
        };
        Value acc = mul(args[0], alpha);
        if (args.size() > 1) {
          Value bias = mul(args[1], beta);
          acc = isFloat ? Value(arith::AddFOp::create(nb, l, acc, bias))
                        : Value(arith::AddIOp::create(nb, l, acc, bias));
        }
        return acc;
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// Reshape-like ops: a new shape for the same elements
//===----------------------------------------------------------------------===//

/// Binds output 0 to input 0 reshaped to `shape` (on the host when known).
LogicalResult setReshaped(OnnxNodeContext &ctx, ArrayRef<int64_t> shape) {
  if (numElementsOf(shape) != numElementsOf(ctx.inputShape(0)))
    return ctx.emitError("cannot reshape " + shapeText(ctx.inputShape(0)) +
                         " to " + shapeText(shape));
  if (const KnownTensor *known = ctx.knownInput(0)) {
    ctx.setKnownOutput(0, withShape(*known, shape));
    return success();
  }
  ctx.setOutput(0, reshapeTensor(ctx.builder(), ctx.loc(), ctx.input(0), shape),
                ctx.inputDType(0));
  return success();
}

FailureOr<SmallVector<int64_t>> reshapeTarget(OnnxNodeContext &ctx) {
  FailureOr<SmallVector<int64_t>> requested =
      ctx.requireConstantInts(1, "shape");
  if (failed(requested))
    return failure();
  bool allowZero = ctx.attrInt("allowzero", 0) != 0;
  ArrayRef<int64_t> input = ctx.inputShape(0);
  SmallVector<int64_t> shape;
  int64_t inferred = -1;
  int64_t known = 1;
  for (auto [i, dim] : llvm::enumerate(*requested)) {
    if (dim == 0 && !allowZero) {
      if (i >= input.size())
        return ctx.emitError("shape copies dimension " + std::to_string(i) +
                             " (0) but the input has rank " +
                             std::to_string(input.size()));
      dim = input[i];
    }
    if (dim == -1) {
      if (inferred >= 0)
        return ctx.emitError("shape has more than one -1");
      inferred = i;
      shape.push_back(1);
      continue;
    }
    if (dim < 0)
      return ctx.emitError("shape has invalid dimension " +
                           std::to_string(dim));
    shape.push_back(dim);
    known *= dim;
  }
  int64_t total = numElementsOf(input);
  if (inferred >= 0) {
    if (known == 0 || total % known != 0)
      return ctx.emitError("cannot reshape " + shapeText(input) + " to " +
                           shapeText(*requested));
    shape[inferred] = total / known;
  }
  return shape;
}

/// The folder of a reshape-like op: its lowering, which binds a known output
/// when the input is known (as it is whenever a folder runs) and emits no IR.
OnnxFoldFn foldThroughLowering(OnnxLowerFn lower) {
  return [lower](OnnxNodeContext &ctx, SmallVectorImpl<KnownTensor> &results) {
    if (failed(lower(ctx)))
      return failure();
    for (const OnnxNodeContext::Output &output : ctx.outputs()) {
      if (!output.known || output.value)
        return failure();
      results.push_back(*output.known);
    }
    ctx.resetOutputs();
    return success();
  };
}

LogicalResult lowerReshape(OnnxNodeContext &ctx) {
  FailureOr<SmallVector<int64_t>> shape = reshapeTarget(ctx);
  if (failed(shape))
    return failure();
  return setReshaped(ctx, *shape);
}

LogicalResult lowerFlatten(OnnxNodeContext &ctx) {
  int64_t rank = ctx.inputRank(0);
  int64_t axis = ctx.attrInt("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.emitError("axis " + std::to_string(axis) +
                         " is out of range for rank " + std::to_string(rank));
  if (axis < 0)
    axis += rank;
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  return setReshaped(ctx, {numElementsOf(shape.take_front(axis)),
                           numElementsOf(shape.drop_front(axis))});
}

/// The axes of Squeeze / Unsqueeze: an attribute before opset 13, an input
/// since.
FailureOr<std::optional<SmallVector<int64_t>>> squeezeAxes(OnnxNodeContext &ctx) {
  if (ctx.opset() < 13)
    return ctx.optionalAttrInts("axes");
  if (!ctx.hasInput(1))
    return std::optional<SmallVector<int64_t>>();
  FailureOr<SmallVector<int64_t>> axes = ctx.requireConstantInts(1, "axes");
  if (failed(axes))
    return failure();
  return std::optional<SmallVector<int64_t>>(*axes);
}

LogicalResult lowerSqueeze(OnnxNodeContext &ctx) {
  FailureOr<std::optional<SmallVector<int64_t>>> axes = squeezeAxes(ctx);
  if (failed(axes) || ctx.failed())
    return failure();
  ArrayRef<int64_t> input = ctx.inputShape(0);
  SmallVector<int64_t> shape;
  if (!*axes) {
    for (int64_t dim : input)
      if (dim != 1)
        shape.push_back(dim);
    return setReshaped(ctx, shape);
  }
  FailureOr<SmallVector<int64_t>> normalized =
      normalizeAxes(ctx, **axes, input.size());
  if (failed(normalized))
    return failure();
  for (auto [d, dim] : llvm::enumerate(input)) {
    if (!llvm::is_contained(*normalized, static_cast<int64_t>(d))) {
      shape.push_back(dim);
    } else if (dim != 1) {
      return ctx.emitError("cannot squeeze dimension " + std::to_string(d) +
                           " of size " + std::to_string(dim));
    }
  }
  return setReshaped(ctx, shape);
}

LogicalResult lowerUnsqueeze(OnnxNodeContext &ctx) {
  FailureOr<std::optional<SmallVector<int64_t>>> axes = squeezeAxes(ctx);
  if (failed(axes) || ctx.failed())
    return failure();
  if (!*axes)
    return ctx.emitError("axes are required");
  ArrayRef<int64_t> input = ctx.inputShape(0);
  int64_t rank = input.size() + (*axes)->size();
  FailureOr<SmallVector<int64_t>> normalized = normalizeAxes(ctx, **axes, rank);
  if (failed(normalized))
    return failure();
  SmallVector<int64_t> shape;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d)
    shape.push_back(llvm::is_contained(*normalized, d) ? 1 : input[next++]);
  return setReshaped(ctx, shape);
}

//===----------------------------------------------------------------------===//
// Transpose
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<int64_t>> transposePerm(OnnxNodeContext &ctx) {
  int64_t rank = ctx.inputRank(0);
  SmallVector<int64_t> reversed;
  for (int64_t d = rank - 1; d >= 0; --d)
    reversed.push_back(d);
  SmallVector<int64_t> perm = ctx.attrInts("perm", reversed);
  if (static_cast<int64_t>(perm.size()) != rank)
    return ctx.emitError("perm has " + std::to_string(perm.size()) +
                         " entries for rank " + std::to_string(rank));
  SmallVector<bool> seen(rank, false);
  for (int64_t &p : perm) {
    if (p < -rank || p >= rank)
      return ctx.emitError("perm entry " + std::to_string(p) +
                           " is out of range");
    if (p < 0)
      p += rank;
    if (seen[p])
      return ctx.emitError("perm is not a permutation");
    seen[p] = true;
  }
  return perm;
}

LogicalResult lowerTranspose(OnnxNodeContext &ctx) {
  FailureOr<SmallVector<int64_t>> perm = transposePerm(ctx);
  if (failed(perm))
    return failure();
  ctx.setOutput(0, transposeTensor(ctx.builder(), ctx.loc(), ctx.input(0), *perm),
                ctx.inputDType(0));
  return success();
}

LogicalResult foldTranspose(OnnxNodeContext &ctx,
                            SmallVectorImpl<KnownTensor> &results) {
  FailureOr<SmallVector<int64_t>> perm = transposePerm(ctx);
  if (failed(perm))
    return failure();
  const KnownTensor &input = *ctx.knownInput(0);
  SmallVector<int64_t> inStrides = stridesOf(input.shape);
  SmallVector<int64_t> shape;
  for (int64_t p : *perm)
    shape.push_back(input.shape[p]);
  std::vector<int64_t> sources;
  forEachIndex(shape, [&](int64_t, ArrayRef<int64_t> index) {
    int64_t source = 0;
    for (size_t d = 0; d < index.size(); ++d)
      source += index[d] * inStrides[(*perm)[d]];
    sources.push_back(source);
  });
  results.push_back(selectElements(input, shape, sources));
  return success();
}

//===----------------------------------------------------------------------===//
// Shape, Size
//===----------------------------------------------------------------------===//

LogicalResult lowerShape(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  int64_t start = ctx.opset() >= 15 ? ctx.attrInt("start", 0) : 0;
  int64_t end = ctx.opset() >= 15 ? ctx.attrInt("end", rank) : rank;
  auto clampIndex = [&](int64_t index) {
    if (index < 0)
      index += rank;
    return std::clamp<int64_t>(index, 0, rank);
  };
  start = clampIndex(start);
  end = clampIndex(end);
  SmallVector<int64_t> dims;
  for (int64_t d = start; d < end; ++d)
    dims.push_back(shape[d]);
  ctx.setKnownOutput(0, KnownTensor::fromInts(OnnxDType::Int64,
                                              {static_cast<int64_t>(dims.size())},
                                              dims));
  return success();
}

LogicalResult lowerSize(OnnxNodeContext &ctx) {
  ctx.setKnownOutput(0, KnownTensor::fromInts(OnnxDType::Int64, {},
                                              {numElementsOf(ctx.inputShape(0))}));
  return success();
}

//===----------------------------------------------------------------------===//
// Concat
//===----------------------------------------------------------------------===//

struct ConcatPlan {
  int64_t axis;
  SmallVector<int64_t> shape;
};

FailureOr<ConcatPlan> planConcat(OnnxNodeContext &ctx) {
  if (!ctx.hasAttr("axis"))
    return ctx.emitError("attribute 'axis' is required");
  int64_t axis = ctx.requireAttrInt("axis");
  if (ctx.numInputs() == 0)
    return ctx.emitError("Concat needs at least one input");
  int64_t rank = ctx.inputRank(0);
  FailureOr<int64_t> normalized = normalizeAxis(ctx, axis, rank);
  if (failed(normalized))
    return failure();
  ConcatPlan plan{*normalized, SmallVector<int64_t>(ctx.inputShape(0))};
  plan.shape[plan.axis] = 0;
  for (unsigned i = 0; i < ctx.numInputs(); ++i) {
    ArrayRef<int64_t> shape = ctx.inputShape(i);
    if (ctx.inputDType(i) != ctx.inputDType(0))
      return ctx.emitError("inputs have different element types");
    if (static_cast<int64_t>(shape.size()) != rank)
      return ctx.emitError("input " + std::to_string(i) + " has shape " +
                           shapeText(shape) + ", not rank " +
                           std::to_string(rank));
    for (int64_t d = 0; d < rank; ++d)
      if (d != plan.axis && shape[d] != plan.shape[d])
        return ctx.emitError("input " + std::to_string(i) + " has shape " +
                             shapeText(shape) + ", which does not match " +
                             shapeText(ctx.inputShape(0)) + " off the axis");
    plan.shape[plan.axis] += shape[plan.axis];
  }
  return plan;
}

LogicalResult lowerConcat(OnnxNodeContext &ctx) {
  FailureOr<ConcatPlan> plan = planConcat(ctx);
  if (failed(plan))
    return failure();
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value result = createEmptyTensor(b, loc, plan->shape,
                                   ctx.inputType(0).getElementType());
  int64_t offset = 0;
  int64_t rank = plan->shape.size();
  for (unsigned i = 0; i < ctx.numInputs(); ++i) {
    ArrayRef<int64_t> shape = ctx.inputShape(i);
    if (shape[plan->axis] == 0)
      continue;
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    offsets[plan->axis] = b.getIndexAttr(offset);
    SmallVector<OpFoldResult> sizes, strides(rank, b.getIndexAttr(1));
    for (int64_t dim : shape)
      sizes.push_back(b.getIndexAttr(dim));
    result = tensor::InsertSliceOp::create(b, loc, ctx.input(i), result, offsets,
                                           sizes, strides);
    offset += shape[plan->axis];
  }
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

LogicalResult foldConcat(OnnxNodeContext &ctx,
                         SmallVectorImpl<KnownTensor> &results) {
  FailureOr<ConcatPlan> plan = planConcat(ctx);
  if (failed(plan))
    return failure();
  KnownTensor result;
  result.dtype = ctx.inputDType(0);
  result.shape = plan->shape;
  int64_t outer = numElementsOf(ArrayRef<int64_t>(plan->shape).take_front(plan->axis));
  for (int64_t o = 0; o < outer; ++o) {
    for (unsigned i = 0; i < ctx.numInputs(); ++i) {
      const KnownTensor &input = *ctx.knownInput(i);
      int64_t chunk = numElementsOf(ArrayRef<int64_t>(input.shape).drop_front(plan->axis));
      for (int64_t e = o * chunk; e < (o + 1) * chunk; ++e) {
        if (input.isFloat())
          result.floats.push_back(input.floats[e]);
        else
          result.ints.push_back(input.ints[e]);
      }
    }
  }
  results.push_back(std::move(result));
  return success();
}

//===----------------------------------------------------------------------===//
// Gather
//===----------------------------------------------------------------------===//

LogicalResult lowerGather(OnnxNodeContext &ctx) {
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  ArrayRef<int64_t> dataShape = ctx.inputShape(0);
  ArrayRef<int64_t> indexShape = ctx.inputShape(1);
  int64_t rank = dataShape.size();
  if (rank == 0)
    return ctx.emitError("data must have rank >= 1");
  FailureOr<int64_t> axis = normalizeAxis(ctx, ctx.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  OnnxDType indexType = ctx.inputDType(1);
  if (indexType != OnnxDType::Int32 && indexType != OnnxDType::Int64)
    return ctx.emitError("indices must be int32 or int64, not " +
                         onnxDTypeName(indexType));
  int64_t axisSize = dataShape[*axis];
  if (const KnownTensor *indices = ctx.knownInput(1))
    for (int64_t index : indices->ints)
      if (index < -axisSize || index >= axisSize)
        return ctx.emitError("index " + std::to_string(index) +
                             " is out of range for axis of size " +
                             std::to_string(axisSize));

  // out[i0..i(axis-1), j..., k...] = data[i..., idx[j...], k...]
  int64_t q = indexShape.size();
  SmallVector<int64_t> shape(dataShape.take_front(*axis));
  shape.append(indexShape.begin(), indexShape.end());
  shape.append(dataShape.begin() + *axis + 1, dataShape.end());
  int64_t outRank = shape.size();
  MLIRContext *context = b.getContext();
  SmallVector<AffineExpr> indexExprs;
  for (int64_t d = 0; d < q; ++d)
    indexExprs.push_back(getAffineDimExpr(*axis + d, context));
  SmallVector<AffineMap> maps = {
      AffineMap::get(outRank, 0, indexExprs, context),
      AffineMap::getMultiDimIdentityMap(outRank, context)};
  Value data = ctx.input(0);
  Type elementType = ctx.inputType(0).getElementType();
  Value init = createEmptyTensor(b, loc, shape, elementType);
  SmallVector<utils::IteratorType> iterators(outRank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{ctx.input(1)},
      ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        // Negative indices count from the end; out-of-range ones (undefined
        // in ONNX) are clamped so that they cannot read outside the tensor.
        Value index = arith::IndexCastOp::create(nb, l, nb.getIndexType(),
                                                 args[0]);
        Value size = arith::ConstantIndexOp::create(nb, l, axisSize);
        Value zero = arith::ConstantIndexOp::create(nb, l, 0);
        Value negative = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::slt, index, zero);
        Value wrapped = arith::AddIOp::create(nb, l, index, size);
        index = arith::SelectOp::create(nb, l, negative, wrapped, index);
        Value last = arith::ConstantIndexOp::create(nb, l, axisSize - 1);
        index = arith::MaxSIOp::create(nb, l, index, zero);
        index = arith::MinSIOp::create(nb, l, index, last);
        SmallVector<Value> coordinates;
        for (int64_t d = 0; d < *axis; ++d)
          coordinates.push_back(linalg::IndexOp::create(nb, l, d));
        coordinates.push_back(index);
        for (int64_t d = *axis + q; d < outRank; ++d)
          coordinates.push_back(linalg::IndexOp::create(nb, l, d));
        Value element = tensor::ExtractOp::create(nb, l, data, coordinates);
        linalg::YieldOp::create(nb, l, element);
      });
  ctx.setOutput(0, generic.getResult(0), ctx.inputDType(0));
  return success();
}

LogicalResult foldGather(OnnxNodeContext &ctx,
                         SmallVectorImpl<KnownTensor> &results) {
  const KnownTensor &data = *ctx.knownInput(0);
  const KnownTensor &indices = *ctx.knownInput(1);
  int64_t rank = data.rank();
  if (rank == 0 || indices.isFloat())
    return failure();
  int64_t axis = ctx.attrInt("axis", 0);
  if (axis < -rank || axis >= rank)
    return failure(); // the lowering reports it
  if (axis < 0)
    axis += rank;
  int64_t axisSize = data.shape[axis];
  for (int64_t index : indices.ints)
    if (index < -axisSize || index >= axisSize)
      return failure();
  SmallVector<int64_t> shape(data.shape.begin(), data.shape.begin() + axis);
  shape.append(indices.shape.begin(), indices.shape.end());
  shape.append(data.shape.begin() + axis + 1, data.shape.end());
  int64_t outer = numElementsOf(ArrayRef<int64_t>(data.shape).take_front(axis));
  int64_t inner =
      numElementsOf(ArrayRef<int64_t>(data.shape).drop_front(axis + 1));
  std::vector<int64_t> sources;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t index : indices.ints) {
      if (index < 0)
        index += axisSize;
      for (int64_t i = 0; i < inner; ++i)
        sources.push_back((o * axisSize + index) * inner + i);
    }
  results.push_back(selectElements(data, shape, sources));
  return success();
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

struct SlicePlan {
  // Per dim of the input: first element, step, count.
  SmallVector<int64_t> starts, steps, sizes;
};

FailureOr<SlicePlan> planSlice(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  SmallVector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    if (!ctx.hasAttr("starts") || !ctx.hasAttr("ends"))
      return ctx.emitError("attributes 'starts' and 'ends' are required");
    starts = ctx.attrInts("starts");
    ends = ctx.attrInts("ends");
    axes = ctx.attrInts("axes");
  } else {
    FailureOr<SmallVector<int64_t>> s = ctx.requireConstantInts(1, "starts");
    if (failed(s))
      return failure();
    FailureOr<SmallVector<int64_t>> e = ctx.requireConstantInts(2, "ends");
    if (failed(e))
      return failure();
    starts = *s;
    ends = *e;
    if (ctx.hasInput(3)) {
      FailureOr<SmallVector<int64_t>> a = ctx.requireConstantInts(3, "axes");
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (ctx.hasInput(4)) {
      FailureOr<SmallVector<int64_t>> st = ctx.requireConstantInts(4, "steps");
      if (failed(st))
        return failure();
      steps = *st;
    }
  }
  if (ctx.failed())
    return failure();
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return ctx.emitError("starts, ends, axes and steps differ in length");
  SlicePlan plan;
  plan.starts.assign(rank, 0);
  plan.steps.assign(rank, 1);
  plan.sizes.assign(shape.begin(), shape.end());
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t axis = axes[i];
    if (axis < -rank || axis >= rank)
      return ctx.emitError("axis " + std::to_string(axis) +
                           " is out of range for rank " + std::to_string(rank));
    if (axis < 0)
      axis += rank;
    if (seen[axis])
      return ctx.emitError("axis " + std::to_string(axis) + " is repeated");
    seen[axis] = true;
    int64_t dim = shape[axis], step = steps[i];
    if (step == 0)
      return ctx.emitError("steps must not be 0");
    // ONNX's clamping: starts and ends count from the end when negative and
    // clamp to [0, dim] (forward) or [-1, dim - 1] (backward).
    auto adjust = [&](int64_t value) {
      if (value < 0)
        value = value < std::numeric_limits<int64_t>::min() + dim
                    ? std::numeric_limits<int64_t>::min() / 2
                    : value + dim;
      return value;
    };
    int64_t start = adjust(starts[i]), end = adjust(ends[i]);
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
    } else {
      start = std::clamp<int64_t>(start, -1, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
    }
    int64_t count = 0;
    if (step > 0 && end > start)
      count = (end - start + step - 1) / step;
    else if (step < 0 && start > end)
      count = (start - end + (-step) - 1) / (-step);
    plan.starts[axis] = count ? start : 0;
    plan.steps[axis] = step;
    plan.sizes[axis] = count;
  }
  return plan;
}

LogicalResult lowerSlice(OnnxNodeContext &ctx) {
  FailureOr<SlicePlan> plan = planSlice(ctx);
  if (failed(plan))
    return failure();
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  int64_t rank = plan->sizes.size();
  Type elementType = ctx.inputType(0).getElementType();
  bool forward = llvm::all_of(plan->steps, [](int64_t s) { return s > 0; });
  Value result;
  if (forward) {
    SmallVector<OpFoldResult> offsets, sizes, strides;
    for (int64_t d = 0; d < rank; ++d) {
      offsets.push_back(b.getIndexAttr(plan->starts[d]));
      sizes.push_back(b.getIndexAttr(plan->sizes[d]));
      strides.push_back(b.getIndexAttr(plan->steps[d]));
    }
    auto type = RankedTensorType::get(plan->sizes, elementType);
    result = tensor::ExtractSliceOp::create(b, loc, type, ctx.input(0), offsets,
                                            sizes, strides);
  } else {
    // Backward steps: tensor.extract_slice has positive strides only, so
    // read each element at start + i * step.
    Value data = ctx.input(0);
    Value init = createEmptyTensor(b, loc, plan->sizes, elementType);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
        {AffineMap::getMultiDimIdentityMap(rank, b.getContext())}, iterators,
        [&](OpBuilder &nb, Location l, ValueRange) {
          SmallVector<Value> coordinates;
          for (int64_t d = 0; d < rank; ++d) {
            Value i = linalg::IndexOp::create(nb, l, d);
            Value step = arith::ConstantIndexOp::create(nb, l, plan->steps[d]);
            Value start =
                arith::ConstantIndexOp::create(nb, l, plan->starts[d]);
            coordinates.push_back(arith::AddIOp::create(
                nb, l, start, arith::MulIOp::create(nb, l, i, step)));
          }
          linalg::YieldOp::create(
              nb, l, Value(tensor::ExtractOp::create(nb, l, data, coordinates)));
        });
    result = generic.getResult(0);
  }
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

LogicalResult foldSlice(OnnxNodeContext &ctx,
                        SmallVectorImpl<KnownTensor> &results) {
  FailureOr<SlicePlan> plan = planSlice(ctx);
  if (failed(plan))
    return failure();
  const KnownTensor &input = *ctx.knownInput(0);
  SmallVector<int64_t> inStrides = stridesOf(input.shape);
  std::vector<int64_t> sources;
  forEachIndex(plan->sizes, [&](int64_t, ArrayRef<int64_t> index) {
    int64_t source = 0;
    for (size_t d = 0; d < index.size(); ++d)
      source += (plan->starts[d] + index[d] * plan->steps[d]) * inStrides[d];
    sources.push_back(source);
  });
  results.push_back(selectElements(input, plan->sizes, sources));
  return success();
}

//===----------------------------------------------------------------------===//
// Expand
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<int64_t>> expandShape(OnnxNodeContext &ctx) {
  FailureOr<SmallVector<int64_t>> requested = ctx.requireConstantInts(1, "shape");
  if (failed(requested))
    return failure();
  for (int64_t dim : *requested)
    if (dim < 0)
      return ctx.emitError("shape has negative dimension " +
                           std::to_string(dim));
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes({ctx.inputShape(0), *requested});
  if (!shape)
    return ctx.emitError("input of shape " + shapeText(ctx.inputShape(0)) +
                         " does not broadcast to " + shapeText(*requested));
  return *shape;
}

LogicalResult lowerExpand(OnnxNodeContext &ctx) {
  FailureOr<SmallVector<int64_t>> shape = expandShape(ctx);
  if (failed(shape))
    return failure();
  ctx.setOutput(0, broadcastTo(ctx.builder(), ctx.loc(), ctx.input(0), *shape),
                ctx.inputDType(0));
  return success();
}

LogicalResult foldExpand(OnnxNodeContext &ctx,
                         SmallVectorImpl<KnownTensor> &results) {
  FailureOr<SmallVector<int64_t>> shape = expandShape(ctx);
  if (failed(shape) || numElementsOf(*shape) > OnnxNodeContext::kDefaultMaxKnown)
    return failure();
  const KnownTensor &input = *ctx.knownInput(0);
  int64_t offset = shape->size() - input.rank();
  std::vector<int64_t> sources;
  forEachIndex(*shape, [&](int64_t, ArrayRef<int64_t> index) {
    int64_t source = 0;
    for (int64_t d = 0; d < input.rank(); ++d)
      source = source * input.shape[d] +
               (input.shape[d] == 1 ? 0 : index[offset + d]);
    sources.push_back(source);
  });
  results.push_back(selectElements(input, *shape, sources));
  return success();
}

//===----------------------------------------------------------------------===//
// Constant, ConstantOfShape, Range
//===----------------------------------------------------------------------===//

LogicalResult lowerConstant(OnnxNodeContext &ctx) {
  if (ctx.hasAttr("value"))
    return ctx.setOutputFromTensorAttr(0, "value");
  if (ctx.hasAttr("sparse_value"))
    return ctx.emitError("sparse_value constants are not supported yet");
  if (ctx.hasAttr("value_string") || ctx.hasAttr("value_strings"))
    return ctx.emitError("string constants are not supported");
  return ctx.emitError("Constant has no value attribute");
}

LogicalResult foldConstant(OnnxNodeContext &ctx,
                           SmallVectorImpl<KnownTensor> &results) {
  if (std::optional<int64_t> value = ctx.optionalAttrInt("value_int")) {
    results.push_back(KnownTensor::fromInts(OnnxDType::Int64, {}, {*value}));
    return success();
  }
  if (std::optional<SmallVector<int64_t>> values =
          ctx.optionalAttrInts("value_ints")) {
    results.push_back(KnownTensor::fromInts(
        OnnxDType::Int64, {static_cast<int64_t>(values->size())}, *values));
    return success();
  }
  if (std::optional<float> value = ctx.optionalAttrFloat("value_float")) {
    results.push_back(KnownTensor::fromDoubles(OnnxDType::Float, {}, {*value}));
    return success();
  }
  if (ctx.hasAttr("value_floats")) {
    SmallVector<float> values = ctx.attrFloats("value_floats");
    SmallVector<double> doubles(values.begin(), values.end());
    results.push_back(KnownTensor::fromDoubles(
        OnnxDType::Float, {static_cast<int64_t>(values.size())}, doubles));
    return success();
  }
  // `value` tensors are bound by the lowering, copied once into a blob.
  return failure();
}

/// The shape and fill value of ConstantOfShape.
FailureOr<std::pair<SmallVector<int64_t>, KnownTensor>>
constantOfShapePlan(OnnxNodeContext &ctx) {
  FailureOr<SmallVector<int64_t>> shape = ctx.requireConstantInts(0, "shape");
  if (failed(shape))
    return failure();
  for (int64_t dim : *shape)
    if (dim < 0)
      return ctx.emitError("shape has negative dimension " +
                           std::to_string(dim));
  KnownTensor value = KnownTensor::fromDoubles(OnnxDType::Float, {1}, {0.0});
  if (ctx.hasAttr("value")) {
    std::optional<KnownTensor> attr = ctx.attrTensor("value");
    if (!attr)
      return failure();
    if (attr->numElements() != 1)
      return ctx.emitError("value must hold one element");
    value = *attr;
  }
  return std::make_pair(*shape, value);
}

LogicalResult lowerConstantOfShape(OnnxNodeContext &ctx) {
  auto plan = constantOfShapePlan(ctx);
  if (failed(plan))
    return failure();
  auto &[shape, value] = *plan;
  Type elementType = onnxDTypeToMlir(value.dtype, ctx.getContext());
  if (!elementType)
    return ctx.emitError("value has unsupported element type " +
                         onnxDTypeName(value.dtype));
  OpBuilder &b = ctx.builder();
  Value scalar =
      value.isFloat()
          ? createScalarConstant(b, ctx.loc(), elementType, value.floats[0])
          : createIntConstant(b, ctx.loc(), elementType, value.ints[0]);
  ctx.setOutput(0, createFilledTensor(b, ctx.loc(), shape, scalar), value.dtype);
  return success();
}

LogicalResult foldConstantOfShape(OnnxNodeContext &ctx,
                                  SmallVectorImpl<KnownTensor> &results) {
  auto plan = constantOfShapePlan(ctx);
  if (failed(plan))
    return failure();
  auto &[shape, value] = *plan;
  int64_t count = numElementsOf(shape);
  if (count > OnnxNodeContext::kDefaultMaxKnown)
    return failure();
  KnownTensor result;
  result.dtype = value.dtype;
  result.shape = shape;
  if (value.isFloat())
    result.floats.assign(count, value.floats[0]);
  else
    result.ints.assign(count, value.ints[0]);
  results.push_back(std::move(result));
  return success();
}

struct RangePlan {
  OnnxDType dtype;
  double start, delta;
  int64_t count;
};

FailureOr<RangePlan> planRange(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  for (unsigned i = 0; i < 3; ++i) {
    if (ctx.inputDType(i) != dtype)
      return ctx.emitError("start, limit and delta have different types");
    if (!ctx.constantScalar(i))
      return ctx.emitError(
          "input " + std::to_string(i) + " ('" + ctx.inputName(i) +
          "') must be a scalar known at import time (the output's length "
          "depends on it)");
  }
  double start = *ctx.constantScalar(0), limit = *ctx.constantScalar(1),
         delta = *ctx.constantScalar(2);
  if (delta == 0)
    return ctx.emitError("delta must not be 0");
  double count = std::ceil((limit - start) / delta);
  if (!(count > 0))
    count = 0;
  if (count > static_cast<double>((int64_t(1) << 31) - 1))
    return ctx.emitError("the range has too many elements");
  return RangePlan{dtype, start, delta, static_cast<int64_t>(count)};
}

LogicalResult lowerRange(OnnxNodeContext &ctx) {
  FailureOr<RangePlan> plan = planRange(ctx);
  if (failed(plan))
    return failure();
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Type elementType = ctx.inputType(0).getElementType();
  bool isFloat = isa<FloatType>(elementType);
  Value init = createEmptyTensor(b, loc, {plan->count}, elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
      {AffineMap::getMultiDimIdentityMap(1, b.getContext())},
      {utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location l, ValueRange) {
        Value i = linalg::IndexOp::create(nb, l, 0);
        Value asInt = arith::IndexCastOp::create(nb, l, nb.getI64Type(), i);
        Value element;
        if (isFloat) {
          Value asFloat = arith::SIToFPOp::create(nb, l, elementType, asInt);
          Value delta = createScalarConstant(nb, l, elementType, plan->delta);
          Value start = createScalarConstant(nb, l, elementType, plan->start);
          element = arith::AddFOp::create(
              nb, l, start, arith::MulFOp::create(nb, l, asFloat, delta));
        } else {
          Value index = asInt;
          if (elementType.getIntOrFloatBitWidth() < 64)
            index = arith::TruncIOp::create(nb, l, elementType, asInt);
          Value delta = createIntConstant(nb, l, elementType,
                                          static_cast<int64_t>(plan->delta));
          Value start = createIntConstant(nb, l, elementType,
                                          static_cast<int64_t>(plan->start));
          element = arith::AddIOp::create(
              nb, l, start, arith::MulIOp::create(nb, l, index, delta));
        }
        linalg::YieldOp::create(nb, l, element);
      });
  ctx.setOutput(0, generic.getResult(0), plan->dtype);
  return success();
}

LogicalResult foldRange(OnnxNodeContext &ctx,
                        SmallVectorImpl<KnownTensor> &results) {
  FailureOr<RangePlan> plan = planRange(ctx);
  if (failed(plan) || plan->count > OnnxNodeContext::kDefaultMaxKnown)
    return failure();
  if (isOnnxFloat(plan->dtype)) {
    std::vector<double> values;
    for (int64_t i = 0; i < plan->count; ++i)
      values.push_back(plan->start + static_cast<double>(i) * plan->delta);
    results.push_back(
        KnownTensor::fromDoubles(plan->dtype, {plan->count}, values));
  } else {
    std::vector<int64_t> values;
    auto start = static_cast<int64_t>(plan->start);
    auto delta = static_cast<int64_t>(plan->delta);
    for (int64_t i = 0; i < plan->count; ++i)
      values.push_back(start + i * delta);
    results.push_back(KnownTensor::fromInts(plan->dtype, {plan->count}, values));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax / LogSoftmax
//===----------------------------------------------------------------------===//

} // namespace

/// softmax(x) = exp(x - max) / sum(exp(x - max)) along `axis`, as
/// `linalg.softmax` (quantc-two-pass-softmax lowers it);
/// log_softmax(x) = (x - max) - log(sum(exp(x - max))), decomposed.
Value buildSoftmax(OpBuilder &b, Location loc, Value input, int64_t axis,
                   bool logarithmic) {
  auto type = cast<RankedTensorType>(input.getType());
  ArrayRef<int64_t> shape = type.getShape();
  Type elementType = type.getElementType();
  if (!logarithmic) {
    Value init = createEmptyTensor(b, loc, shape, elementType);
    return linalg::SoftmaxOp::create(b, loc, TypeRange{type}, input, init,
                                     b.getI64IntegerAttr(axis))
        .getResult()[0];
  }
  double lowest = -std::numeric_limits<double>::infinity();
  Value max = buildReduction(
      b, loc, input, {axis}, /*keepDims=*/true,
      b.getFloatAttr(elementType, lowest),
      [](OpBuilder &nb, Location l, Value x, Value acc) -> Value {
        return arith::MaximumFOp::create(nb, l, x, acc);
      });
  Value shifted = buildElementwise(
      b, loc, {input, max}, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return arith::SubFOp::create(nb, l, args[0], args[1]);
      });
  Value exp = buildElementwise(
      b, loc, shifted, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return math::ExpOp::create(nb, l, args[0]);
      });
  Value sum = buildReduction(
      b, loc, exp, {axis}, /*keepDims=*/true, b.getFloatAttr(elementType, 0.0),
      [](OpBuilder &nb, Location l, Value x, Value acc) -> Value {
        return arith::AddFOp::create(nb, l, x, acc);
      });
  if (logarithmic)
    return buildElementwise(
        b, loc, {shifted, sum}, shape, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value log = math::LogOp::create(nb, l, args[1]);
          return arith::SubFOp::create(nb, l, args[0], log);
        });
  return buildElementwise(
      b, loc, {exp, sum}, shape, elementType,
      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return arith::DivFOp::create(nb, l, args[0], args[1]);
      });
}

namespace {

LogicalResult lowerSoftmax(OnnxNodeContext &ctx, bool logarithmic) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  if (rank == 0)
    return ctx.emitError("input must have rank >= 1");
  Value input = ctx.input(0);
  // 16- and 8-bit floats: exp and the sum in f32.
  bool narrow = onnxDTypeSize(dtype) < 4;
  if (narrow)
    input = convertTensor(b, loc, input, dtype, OnnxDType::Float);
  Value result;
  if (ctx.opset() < 13) {
    // Before opset 13 the input is coerced to 2-D at `axis` (default 1) and
    // normalized over the whole trailing block.
    int64_t axis = ctx.attrInt("axis", 1);
    if (axis < -rank || axis > rank)
      return ctx.emitError("axis " + std::to_string(axis) +
                           " is out of range for rank " + std::to_string(rank));
    if (axis < 0)
      axis += rank;
    SmallVector<int64_t> flat = {numElementsOf(shape.take_front(axis)),
                                 numElementsOf(shape.drop_front(axis))};
    Value matrix = reshapeTensor(b, loc, input, flat);
    result = reshapeTensor(b, loc, buildSoftmax(b, loc, matrix, 1, logarithmic),
                           shape);
  } else {
    FailureOr<int64_t> axis = normalizeAxis(ctx, ctx.attrInt("axis", -1), rank);
    if (failed(axis))
      return failure();
    result = buildSoftmax(b, loc, input, *axis, logarithmic);
  }
  if (narrow)
    result = convertTensor(b, loc, result, OnnxDType::Float, dtype);
  ctx.setOutput(0, result, dtype);
  return success();
}

} // namespace

void registerOnnxLinalgOps(OnnxOpRegistry &registry) {
  registry.add("MatMul", lowerMatMul);
  registry.add("Gemm", lowerGemm, nullptr, /*minOpset=*/7);
  registry.add("Einsum", lowerEinsum, nullptr, 12);
  registry.add("Det", lowerDet, nullptr, 11);

  // Reshape-like ops fold through their lowerings, which bind a known output
  // when the input is known; shadows of specialized inputs propagate so.
  registry.add("Reshape", lowerReshape, foldThroughLowering(lowerReshape),
               /*minOpset=*/5);
  registry.add("Flatten", lowerFlatten, foldThroughLowering(lowerFlatten));
  registry.add("Squeeze", lowerSqueeze, foldThroughLowering(lowerSqueeze));
  registry.add("Unsqueeze", lowerUnsqueeze,
               foldThroughLowering(lowerUnsqueeze));
  registry.add("Transpose", lowerTranspose, foldTranspose);
  registry.add("Shape", lowerShape);
  registry.add("Size", lowerSize);
  registry.add("Concat", lowerConcat, foldConcat, /*minOpset=*/4);
  registry.add("Gather", lowerGather, foldGather);
  registry.add("Slice", lowerSlice, foldSlice);
  registry.add("Expand", lowerExpand, foldExpand);
  registry.add("Constant", lowerConstant, foldConstant);
  registry.add("ConstantOfShape", lowerConstantOfShape, foldConstantOfShape);
  registry.add("Range", lowerRange, foldRange);
  registry.add("Softmax", [](OnnxNodeContext &ctx) {
    return lowerSoftmax(ctx, /*logarithmic=*/false);
  });
  registry.add("LogSoftmax", [](OnnxNodeContext &ctx) {
    return lowerSoftmax(ctx, /*logarithmic=*/true);
  });
}

} // namespace quantc
