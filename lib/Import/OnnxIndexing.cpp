//===- OnnxIndexing.cpp - ONNX ops that move elements by index -> linalg --===//
//
// Ops whose output elements are input elements picked by position: the
// element-wise gathers (GatherElements, GatherND), scatters (ScatterElements,
// ScatterND), masks and layout changes (Trilu, EyeLike, Tile, DepthToSpace,
// SpaceToDepth, OneHot, ReverseSequence), Split, CumSum, Hardmax and TopK.
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


//===----------------------------------------------------------------------===//
// Split / Tile / DepthToSpace / SpaceToDepth / Pad
//===----------------------------------------------------------------------===//

/// Split along `axis` into the sizes of the `split` input (opset 13+) or
/// attribute (before), else into `num_outputs` (opset 18) or as many equal
/// parts as outputs (the last one smaller if the size does not divide).
LogicalResult lowerSplit(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  FailureOr<int64_t> axis = normalizeAxis(ctx, ctx.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  int64_t size = shape[*axis];
  int64_t outputs = ctx.numOutputs();
  SmallVector<int64_t> sizes;
  if (ctx.opset() >= 13 && ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> split =
        ctx.requireConstantInts(1, "split sizes");
    if (failed(split))
      return failure();
    sizes = *split;
  } else if (ctx.opset() < 13 && ctx.hasAttr("split")) {
    sizes = ctx.attrInts("split");
  } else {
    int64_t parts = ctx.attrInt("num_outputs", outputs);
    if (parts != outputs)
      return ctx.emitError("num_outputs = " + std::to_string(parts) +
                           " but the node has " + std::to_string(outputs) +
                           " outputs");
    int64_t chunk = (size + parts - 1) / parts;
    if (ctx.opset() < 18 && size % parts != 0)
      return ctx.emitError("axis size " + std::to_string(size) +
                           " does not split into " + std::to_string(parts) +
                           " equal parts");
    for (int64_t i = 0, left = size; i < parts; ++i, left -= chunk)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, left)));
  }
  if (ctx.failed())
    return failure();
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0)
      return ctx.emitError("split sizes must be >= 0");
    total += s;
  }
  if ((int64_t)sizes.size() != outputs || total != size)
    return ctx.emitError("split sizes (" + std::to_string(sizes.size()) +
                         " of them, total " + std::to_string(total) +
                         ") do not match " + std::to_string(outputs) +
                         " outputs over an axis of size " +
                         std::to_string(size));
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value input = ctx.input(0);
  int64_t offset = 0;
  for (int64_t i = 0; i < outputs; ++i) {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    SmallVector<OpFoldResult> extents, strides(rank, b.getIndexAttr(1));
    for (int64_t d = 0; d < rank; ++d)
      extents.push_back(b.getIndexAttr(d == *axis ? sizes[i] : shape[d]));
    offsets[*axis] = b.getIndexAttr(offset);
    offset += sizes[i];
    if (!ctx.hasOutput(i))
      continue;
    // An empty part is not a slice MLIR accepts at offset == size.
    Value part =
        sizes[i] == 0
            ? createEmptyTensor(b, loc,
                                cast<RankedTensorType>(
                                    tensor::ExtractSliceOp::inferResultType(
                                        ctx.inputType(0), extents))
                                    .getShape(),
                                ctx.inputType(0).getElementType())
            : tensor::ExtractSliceOp::create(b, loc, input, offsets, extents,
                                             strides)
                  .getResult();
    ctx.setOutput(i, part, ctx.inputDType(0));
  }
  return success();
}

/// out[i] = in[i mod shape] over a shape multiplied by `repeats`.
LogicalResult lowerTile(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  FailureOr<SmallVector<int64_t>> repeats = ctx.requireConstantInts(1, "repeats");
  if (failed(repeats))
    return failure();
  if (repeats->size() != shape.size())
    return ctx.emitError("repeats has " + std::to_string(repeats->size()) +
                         " values for an input of rank " +
                         std::to_string(shape.size()));
  SmallVector<int64_t> outShape;
  for (auto [dim, repeat] : llvm::zip(shape, *repeats)) {
    if (repeat < 0)
      return ctx.emitError("repeats must be >= 0");
    outShape.push_back(dim * repeat);
  }
  OpBuilder &b = ctx.builder();
  Value input = ctx.input(0);
  Value result = buildIndexedTensor(
      b, ctx.loc(), outShape, ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        SmallVector<Value> source;
        for (auto [coord, dim] : llvm::zip(coords, shape))
          source.push_back(
              arith::RemUIOp::create(nb, l, coord, constantIndex(nb, l, dim)));
        return tensor::ExtractOp::create(nb, l, input, source);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

/// DepthToSpace (DCR or CRD) and SpaceToDepth on [N, C, H, W].
LogicalResult lowerDepthSpace(OnnxNodeContext &ctx, bool toSpace) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  if (shape.size() != 4)
    return ctx.emitError("input must have rank 4 ([N, C, H, W])");
  int64_t bs = ctx.requireAttrInt("blocksize");
  std::string mode = ctx.attrString("mode", "DCR");
  if (ctx.failed())
    return failure();
  if (bs < 1)
    return ctx.emitError("blocksize must be >= 1");
  if (mode != "DCR" && mode != "CRD")
    return ctx.emitError("mode '" + mode + "' is not DCR or CRD");
  bool crd = toSpace && mode == "CRD";
  int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  SmallVector<int64_t> outShape;
  if (toSpace) {
    if (c % (bs * bs))
      return ctx.emitError("channels must be divisible by blocksize^2");
    outShape = {n, c / (bs * bs), h * bs, w * bs};
  } else {
    if (h % bs || w % bs)
      return ctx.emitError("height and width must be divisible by blocksize");
    outShape = {n, c * bs * bs, h / bs, w / bs};
  }
  OpBuilder &b = ctx.builder();
  Value input = ctx.input(0);
  Value result = buildIndexedTensor(
      b, ctx.loc(), outShape, ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value bsv = constantIndex(nb, l, bs);
        auto mul = [&](Value x, Value y) -> Value {
          return arith::MulIOp::create(nb, l, x, y);
        };
        auto add = [&](Value x, Value y) -> Value {
          return arith::AddIOp::create(nb, l, x, y);
        };
        auto div = [&](Value x, Value y) -> Value {
          return arith::DivUIOp::create(nb, l, x, y);
        };
        auto rem = [&](Value x, Value y) -> Value {
          return arith::RemUIOp::create(nb, l, x, y);
        };
        Value src[4];
        src[0] = coords[0];
        if (toSpace) {
          Value bh = rem(coords[2], bsv), bw = rem(coords[3], bsv);
          Value block = add(mul(bh, bsv), bw);
          Value cOut = constantIndex(nb, l, outShape[1]);
          src[1] = crd ? add(mul(coords[1], constantIndex(nb, l, bs * bs)), block)
                       : add(mul(block, cOut), coords[1]);
          src[2] = div(coords[2], bsv);
          src[3] = div(coords[3], bsv);
        } else {
          Value cIn = constantIndex(nb, l, c);
          Value block = div(coords[1], cIn);
          src[1] = rem(coords[1], cIn);
          src[2] = add(mul(coords[2], bsv), div(block, bsv));
          src[3] = add(mul(coords[3], bsv), rem(block, bsv));
        }
        return tensor::ExtractOp::create(nb, l, input, ValueRange(src));
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

/// Pad: constant (also negative pads, which crop), edge, reflect and wrap.
LogicalResult lowerPad(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  std::string mode = ctx.attrString("mode", "constant");
  SmallVector<int64_t> pads;
  if (ctx.opset() < 11) {
    pads = ctx.attrInts(ctx.opset() < 2 ? "paddings" : "pads");
  } else {
    FailureOr<SmallVector<int64_t>> padInput = ctx.requireConstantInts(1, "pads");
    if (failed(padInput))
      return failure();
    pads = *padInput;
  }
  if (ctx.failed())
    return failure();
  if (mode != "constant" && mode != "edge" && mode != "reflect" &&
      mode != "wrap")
    return ctx.emitError("mode '" + mode + "' is not supported");
  // Opset 18's `axes` input: pads only for these axes.
  SmallVector<int64_t> axes;
  if (ctx.opset() >= 18 && ctx.hasInput(3)) {
    FailureOr<SmallVector<int64_t>> axesInput = ctx.requireConstantInts(3, "axes");
    if (failed(axesInput))
      return failure();
    for (int64_t axis : *axesInput) {
      FailureOr<int64_t> normalized = normalizeAxis(ctx, axis, rank);
      if (failed(normalized))
        return failure();
      axes.push_back(*normalized);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  }
  int64_t count = axes.size();
  if ((int64_t)pads.size() != 2 * count)
    return ctx.emitError("pads has " + std::to_string(pads.size()) +
                         " values, expected " + std::to_string(2 * count));
  SmallVector<int64_t> before(rank, 0), after(rank, 0);
  for (int64_t i = 0; i < count; ++i) {
    before[axes[i]] = pads[i];
    after[axes[i]] = pads[count + i];
  }
  SmallVector<int64_t> outShape;
  for (int64_t d = 0; d < rank; ++d) {
    outShape.push_back(shape[d] + before[d] + after[d]);
    if (outShape.back() < 0)
      return ctx.emitError("pads make dimension " + std::to_string(d) +
                           " negative");
    if (mode != "constant" && shape[d] == 0 && outShape.back() > 0)
      return ctx.emitError("mode '" + mode + "' cannot pad an empty axis");
    if (mode == "reflect" && (before[d] >= shape[d] || after[d] >= shape[d]) &&
        (before[d] > 0 || after[d] > 0))
      return ctx.emitError("reflect pads must be smaller than the axis size");
    // Beyond one period ONNX's reference (numpy's wrap) is not periodic.
    if (mode == "wrap" && (before[d] > shape[d] || after[d] > shape[d]))
      return ctx.emitError("wrap pads larger than the axis size are not "
                           "supported");
  }
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Type elementType = ctx.inputType(0).getElementType();
  Value padValue;
  if (mode == "constant") {
    if (ctx.opset() < 11) {
      padValue = createScalarConstant(b, loc, elementType, ctx.attrFloat("value", 0.0f));
    } else if (ctx.hasInput(2)) {
      padValue = tensor::ExtractOp::create(
          b, loc, reshapeTensor(b, loc, ctx.input(2), {}), ValueRange{});
    } else {
      padValue = createScalarConstant(b, loc, elementType, 0.0);
    }
  }
  Value input = ctx.input(0);
  Value result = buildIndexedTensor(
      b, loc, outShape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value inside;
        SmallVector<Value> source;
        for (int64_t d = 0; d < rank; ++d) {
          Value coord = coords[d];
          if (before[d] == 0 && after[d] <= 0) {
            source.push_back(coord);
            continue;
          }
          Value size = constantIndex(nb, l, shape[d]);
          Value zero = constantIndex(nb, l, 0);
          Value src = arith::SubIOp::create(nb, l, coord,
                                            constantIndex(nb, l, before[d]));
          if (mode == "constant") {
            Value ge = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                             src, zero);
            Value lt = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                             src, size);
            Value ok = arith::AndIOp::create(nb, l, ge, lt);
            inside = inside ? arith::AndIOp::create(nb, l, inside, ok).getResult()
                            : ok;
            src = arith::MaxSIOp::create(nb, l, src, zero);
            src = arith::MinSIOp::create(
                nb, l, src, constantIndex(nb, l, std::max<int64_t>(0, shape[d] - 1)));
          } else if (mode == "edge") {
            src = arith::MaxSIOp::create(nb, l, src, zero);
            src = arith::MinSIOp::create(nb, l, src,
                                         constantIndex(nb, l, shape[d] - 1));
          } else if (mode == "reflect") {
            // -i -> i; n - 1 + i -> n - 1 - i (pads are < n, one bounce).
            Value negated = arith::SubIOp::create(nb, l, zero, src);
            src = arith::MaxSIOp::create(nb, l, src, negated);
            Value mirrored = arith::SubIOp::create(
                nb, l, constantIndex(nb, l, 2 * (shape[d] - 1)), src);
            src = arith::MinSIOp::create(nb, l, src, mirrored);
            if (shape[d] == 1)
              src = zero;
          } else { // wrap
            Value shifted = arith::AddIOp::create(
                nb, l, src,
                constantIndex(nb, l, shape[d] * (1 + before[d] / shape[d])));
            src = arith::RemUIOp::create(nb, l, shifted, size);
          }
          source.push_back(src);
        }
        Value element = tensor::ExtractOp::create(nb, l, input, source);
        if (inside)
          element = arith::SelectOp::create(nb, l, inside, element, padValue);
        return element;
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

//===----------------------------------------------------------------------===//
// CumSum / Hardmax / TopK
//===----------------------------------------------------------------------===//

Value addScalars(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::AddFOp::create(b, loc, x, y);
  return arith::AddIOp::create(b, loc, x, y);
}

/// out[i] = sum of in[j] along `axis` for j <= i (j < i if exclusive; j >= i,
/// j > i if reverse), each element summed in order by its own loop.
LogicalResult lowerCumSum(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  FailureOr<SmallVector<int64_t>> axisInput = ctx.requireConstantInts(1, "axis");
  if (failed(axisInput))
    return failure();
  if (axisInput->size() != 1)
    return ctx.emitError("axis must be one integer");
  FailureOr<int64_t> axis = normalizeAxis(ctx, (*axisInput)[0], rank);
  if (failed(axis))
    return failure();
  bool exclusive = ctx.attrInt("exclusive", 0) != 0;
  bool reverse = ctx.attrInt("reverse", 0) != 0;
  OpBuilder &b = ctx.builder();
  Value input = ctx.input(0);
  Type elementType = ctx.inputType(0).getElementType();
  int64_t size = shape[*axis];
  Value result = buildIndexedTensor(
      b, ctx.loc(), shape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value i = coords[*axis];
        Value one = constantIndex(nb, l, 1);
        Value lower, upper;
        if (reverse) {
          lower = exclusive ? arith::AddIOp::create(nb, l, i, one).getResult() : i;
          upper = constantIndex(nb, l, size);
        } else {
          lower = constantIndex(nb, l, 0);
          upper = exclusive ? i : arith::AddIOp::create(nb, l, i, one).getResult();
        }
        Value zero = createScalarConstant(nb, l, elementType, 0.0);
        auto loop = scf::ForOp::create(
            nb, l, lower, upper, one, ValueRange{zero},
            [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
              SmallVector<Value> source(coords.begin(), coords.end());
              source[*axis] = j;
              Value x = tensor::ExtractOp::create(lb, ll, input, source);
              scf::YieldOp::create(lb, ll, addScalars(lb, ll, acc[0], x));
            });
        return loop.getResult(0);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

/// Whether `x` ranks before `y` in a descending (largest) or ascending order.
Value ranksBefore(OpBuilder &b, Location loc, Value x, Value y, bool largest,
                  bool isUnsigned) {
  if (isa<FloatType>(x.getType()))
    return arith::CmpFOp::create(
        b, loc, largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT,
        x, y);
  arith::CmpIPredicate predicate =
      largest ? (isUnsigned ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt)
              : (isUnsigned ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt);
  return arith::CmpIOp::create(b, loc, predicate, x, y);
}

/// One-hot of the first maximum along `axis` (before opset 13: over the
/// flattened trailing block from `axis`, default 1).
LogicalResult lowerHardmax(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  if (rank == 0)
    return ctx.emitError("input must have rank >= 1");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value input = ctx.input(0);
  int64_t axis;
  if (ctx.opset() < 13) {
    int64_t a = ctx.attrInt("axis", 1);
    if (a < -rank || a > rank)
      return ctx.emitError("axis " + std::to_string(a) + " is out of range");
    if (a < 0)
      a += rank;
    input = reshapeTensor(b, loc, input,
                          {numElementsOf(shape.take_front(a)),
                           numElementsOf(shape.drop_front(a))});
    axis = 1;
  } else {
    FailureOr<int64_t> a = normalizeAxis(ctx, ctx.attrInt("axis", -1), rank);
    if (failed(a))
      return failure();
    axis = *a;
  }
  auto type = cast<RankedTensorType>(input.getType());
  Type elementType = type.getElementType();
  int64_t size = type.getShape()[axis];
  bool isUnsigned = ctx.isUnsigned(0);
  Value result = buildIndexedTensor(
      b, loc, type.getShape(), elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        // The element is the answer iff no earlier element is >= it and no
        // later one is > it.
        Value i = coords[axis];
        SmallVector<Value> self(coords.begin(), coords.end());
        Value x = tensor::ExtractOp::create(nb, l, input, self);
        Value trueValue = arith::ConstantIntOp::create(nb, l, 1, 1);
        auto loop = scf::ForOp::create(
            nb, l, constantIndex(nb, l, 0), constantIndex(nb, l, size),
            constantIndex(nb, l, 1), ValueRange{trueValue},
            [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
              SmallVector<Value> other(coords.begin(), coords.end());
              other[axis] = j;
              Value y = tensor::ExtractOp::create(lb, ll, input, other);
              Value earlier = arith::CmpIOp::create(
                  lb, ll, arith::CmpIPredicate::ult, j, i);
              Value greater = ranksBefore(lb, ll, y, x, true, isUnsigned);
              Value notLess = arith::XOrIOp::create(
                  lb, ll, ranksBefore(lb, ll, y, x, false, isUnsigned),
                  arith::ConstantIntOp::create(lb, ll, 1, 1));
              Value beats = arith::SelectOp::create(lb, ll, earlier, notLess,
                                                    greater);
              Value keep = arith::XOrIOp::create(
                  lb, ll, beats, arith::ConstantIntOp::create(lb, ll, 1, 1));
              scf::YieldOp::create(lb, ll,
                                   arith::AndIOp::create(lb, ll, acc[0], keep)
                                       .getResult());
            });
        return arith::SelectOp::create(
            nb, l, loop.getResult(0), createScalarConstant(nb, l, elementType, 1.0),
            createScalarConstant(nb, l, elementType, 0.0));
      });
  ctx.setOutput(0, reshapeTensor(b, loc, result, shape), ctx.inputDType(0));
  return success();
}

/// The k largest (or smallest) elements along `axis`, sorted, and their
/// indices; ties go to the lower index. Output r is the element whose rank
/// (the number of elements before it in that order) is r: quadratic in the
/// axis size, meant for the small k/axis of shape logic, not large sorts.
LogicalResult lowerTopK(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  if (rank == 0)
    return ctx.emitError("input must have rank >= 1");
  FailureOr<int64_t> axis = normalizeAxis(ctx, ctx.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  int64_t k;
  if (ctx.opset() < 10) {
    k = ctx.requireAttrInt("k");
  } else {
    FailureOr<SmallVector<int64_t>> kInput = ctx.requireConstantInts(1, "k");
    if (failed(kInput))
      return failure();
    if (kInput->size() != 1)
      return ctx.emitError("k must be one integer");
    k = (*kInput)[0];
  }
  bool largest = ctx.attrInt("largest", 1) != 0;
  if (ctx.failed())
    return failure();
  int64_t size = shape[*axis];
  if (k < 0 || k > size)
    return ctx.emitError("k = " + std::to_string(k) +
                         " is out of range for an axis of size " +
                         std::to_string(size));
  SmallVector<int64_t> outShape(shape);
  outShape[*axis] = k;
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value input = ctx.input(0);
  Type elementType = ctx.inputType(0).getElementType();
  bool isUnsigned = ctx.isUnsigned(0);
  Type i64 = b.getI64Type();
  // The index of the element of rank r, for each output position.
  Value indices = buildIndexedTensor(
      b, loc, outShape, i64,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value r = coords[*axis];
        Value zero = constantIndex(nb, l, 0);
        Value one = constantIndex(nb, l, 1);
        Value end = constantIndex(nb, l, size);
        auto outer = scf::ForOp::create(
            nb, l, zero, end, one, ValueRange{zero},
            [&](OpBuilder &ob, Location ol, Value i, ValueRange found) {
              SmallVector<Value> at(coords.begin(), coords.end());
              at[*axis] = i;
              Value x = tensor::ExtractOp::create(ob, ol, input, at);
              auto inner = scf::ForOp::create(
                  ob, ol, zero, end, one, ValueRange{zero},
                  [&](OpBuilder &ib, Location il, Value j, ValueRange count) {
                    SmallVector<Value> other(coords.begin(), coords.end());
                    other[*axis] = j;
                    Value y = tensor::ExtractOp::create(ib, il, input, other);
                    Value before = ranksBefore(ib, il, y, x, largest, isUnsigned);
                    Value tie = arith::AndIOp::create(
                        ib, il,
                        arith::XOrIOp::create(
                            ib, il, ranksBefore(ib, il, x, y, largest, isUnsigned),
                            arith::ConstantIntOp::create(ib, il, 1, 1)),
                        arith::CmpIOp::create(ib, il, arith::CmpIPredicate::ult,
                                              j, i));
                    Value counts = arith::OrIOp::create(ib, il, before, tie);
                    Value next = arith::AddIOp::create(ib, il, count[0], one);
                    scf::YieldOp::create(
                        ib, il,
                        arith::SelectOp::create(ib, il, counts, next, count[0])
                            .getResult());
                  });
              Value match = arith::CmpIOp::create(
                  ob, ol, arith::CmpIPredicate::eq, inner.getResult(0), r);
              scf::YieldOp::create(
                  ob, ol,
                  arith::SelectOp::create(ob, ol, match, i, found[0]).getResult());
            });
        return arith::IndexCastOp::create(nb, l, i64, outer.getResult(0));
      });
  Value values = buildIndexedTensor(
      b, loc, outShape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        SmallVector<Value> at(coords.begin(), coords.end());
        Value index = tensor::ExtractOp::create(nb, l, indices, coords);
        at[*axis] = arith::IndexCastOp::create(nb, l, nb.getIndexType(), index);
        return tensor::ExtractOp::create(nb, l, input, at);
      });
  ctx.setOutput(0, values, ctx.inputDType(0));
  if (ctx.hasOutput(1))
    ctx.setOutput(1, indices, OnnxDType::Int64);
  return success();
}

//===----------------------------------------------------------------------===//
// ScatterElements / ScatterND
//===----------------------------------------------------------------------===//

enum class ScatterReduction { None, Add, Mul, Max, Min };

FailureOr<ScatterReduction> scatterReduction(OnnxNodeContext &ctx) {
  std::string name = ctx.attrString("reduction", "none");
  if (ctx.failed())
    return failure();
  if (name == "none")
    return ScatterReduction::None;
  if (name == "add")
    return ScatterReduction::Add;
  if (name == "mul")
    return ScatterReduction::Mul;
  if (name == "max")
    return ScatterReduction::Max;
  if (name == "min")
    return ScatterReduction::Min;
  (void)ctx.emitError("reduction '" + name + "' is not supported");
  return failure();
}

Value combineScatter(OpBuilder &b, Location loc, ScatterReduction reduction,
                     Value old, Value update, bool isUnsigned) {
  bool isFloat = isa<FloatType>(old.getType());
  switch (reduction) {
  case ScatterReduction::None:
    return update;
  case ScatterReduction::Add:
    return addScalars(b, loc, old, update);
  case ScatterReduction::Mul:
    if (isFloat)
      return arith::MulFOp::create(b, loc, old, update);
    return arith::MulIOp::create(b, loc, old, update);
  case ScatterReduction::Max:
    if (isFloat)
      return arith::MaximumFOp::create(b, loc, old, update);
    if (isUnsigned)
      return arith::MaxUIOp::create(b, loc, old, update);
    return arith::MaxSIOp::create(b, loc, old, update);
  case ScatterReduction::Min:
    if (isFloat)
      return arith::MinimumFOp::create(b, loc, old, update);
    if (isUnsigned)
      return arith::MinUIOp::create(b, loc, old, update);
    return arith::MinSIOp::create(b, loc, old, update);
  }
  return update;
}

/// Loops over `shape` in row-major order, threading `tensor` through
/// `body(coords, tensor) -> tensor`.
Value buildScatterLoops(
    OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Value tensor,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
  SmallVector<Value> lower, upper, steps;
  for (int64_t dim : shape) {
    lower.push_back(constantIndex(b, loc, 0));
    upper.push_back(constantIndex(b, loc, dim));
    steps.push_back(constantIndex(b, loc, 1));
  }
  if (shape.empty())
    return body(b, loc, {}, tensor);
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lower, upper, steps, ValueRange{tensor},
      [&](OpBuilder &nb, Location l, ValueRange ivs,
          ValueRange args) -> scf::ValueVector {
        return {body(nb, l, ivs, args[0])};
      });
  return nest.results[0];
}

/// ScatterElements (and the older Scatter): out = data, then for every
/// update position u, out[u with `axis` = indices[u]] (op)= updates[u].
LogicalResult lowerScatterElements(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> dataShape = ctx.inputShape(0);
  ArrayRef<int64_t> indexShape = ctx.inputShape(1);
  int64_t rank = dataShape.size();
  if (rank == 0 || (int64_t)indexShape.size() != rank ||
      ctx.inputShape(2) != indexShape)
    return ctx.emitError("data, indices and updates must have the same rank "
                         ">= 1, indices and updates the same shape");
  FailureOr<int64_t> axis = normalizeAxis(ctx, ctx.attrInt("axis", 0), rank);
  FailureOr<ScatterReduction> reduction = scatterReduction(ctx);
  if (failed(axis) || failed(reduction) ||
      failed(requireIndexInput(ctx, 1, "indices")))
    return failure();
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value indices = ctx.input(1);
  Value updates = ctx.input(2);
  bool isUnsigned = ctx.isUnsigned(0);
  Value result = buildScatterLoops(
      b, loc, indexShape, ctx.input(0),
      [&](OpBuilder &nb, Location l, ValueRange ivs, Value out) -> Value {
        Value index = tensor::ExtractOp::create(nb, l, indices, ivs);
        SmallVector<Value> target(ivs.begin(), ivs.end());
        target[*axis] = wrapAndClampIndex(nb, l, index, dataShape[*axis]);
        Value update = tensor::ExtractOp::create(nb, l, updates, ivs);
        Value old = tensor::ExtractOp::create(nb, l, out, target);
        Value value = combineScatter(nb, l, *reduction, old, update, isUnsigned);
        return tensor::InsertOp::create(nb, l, value, out, target);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

/// ScatterND: out = data, then out[indices[u..., :], v...] (op)= updates[u...,
/// v...] in row-major order of the update positions.
LogicalResult lowerScatterND(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> dataShape = ctx.inputShape(0);
  ArrayRef<int64_t> indexShape = ctx.inputShape(1);
  ArrayRef<int64_t> updateShape = ctx.inputShape(2);
  int64_t r = dataShape.size(), q = indexShape.size();
  FailureOr<ScatterReduction> reduction = scatterReduction(ctx);
  if (failed(reduction) || failed(requireIndexInput(ctx, 1, "indices")))
    return failure();
  if (r < 1 || q < 1)
    return ctx.emitError("data and indices must have rank >= 1");
  int64_t depth = indexShape.back();
  SmallVector<int64_t> expected(indexShape.drop_back());
  if (depth > r)
    return ctx.emitError("indices.shape[-1] is larger than rank(data)");
  expected.append(dataShape.begin() + depth, dataShape.end());
  if (updateShape != ArrayRef<int64_t>(expected))
    return ctx.emitError("updates must have shape indices.shape[:-1] + "
                         "data.shape[indices.shape[-1]:]");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value indices = ctx.input(1);
  Value updates = ctx.input(2);
  bool isUnsigned = ctx.isUnsigned(0);
  Value result = buildScatterLoops(
      b, loc, updateShape, ctx.input(0),
      [&](OpBuilder &nb, Location l, ValueRange ivs, Value out) -> Value {
        SmallVector<Value> target;
        SmallVector<Value> indexCoords(ivs.take_front(q - 1));
        indexCoords.push_back(Value());
        for (int64_t k = 0; k < depth; ++k) {
          indexCoords.back() = constantIndex(nb, l, k);
          Value index = tensor::ExtractOp::create(nb, l, indices, indexCoords);
          target.push_back(wrapAndClampIndex(nb, l, index, dataShape[k]));
        }
        llvm::append_range(target, ivs.drop_front(q - 1));
        Value update = tensor::ExtractOp::create(nb, l, updates, ivs);
        Value old = tensor::ExtractOp::create(nb, l, out, target);
        Value value = combineScatter(nb, l, *reduction, old, update, isUnsigned);
        return tensor::InsertOp::create(nb, l, value, out, target);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

//===----------------------------------------------------------------------===//
// OneHot / ReverseSequence
//===----------------------------------------------------------------------===//

/// OneHot: `depth` (known at import time, like a shape) inserted at `axis`;
/// values[1] where the (integer-truncated, negative-wrapped) index equals
/// the position, values[0] elsewhere.
LogicalResult lowerOneHot(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> indexShape = ctx.inputShape(0);
  std::optional<double> depthValue = ctx.constantScalar(1);
  if (!depthValue)
    return ctx.emitError("input 1 (depth) must be a scalar known at import time");
  int64_t depth = static_cast<int64_t>(*depthValue);
  if (depth < 1)
    return ctx.emitError("depth must be >= 1");
  if (numElementsOf(ctx.inputShape(2)) != 2)
    return ctx.emitError("values must hold two elements [off, on]");
  int64_t outRank = indexShape.size() + 1;
  FailureOr<int64_t> axis = normalizeAxis(ctx, ctx.attrInt("axis", -1), outRank);
  if (failed(axis))
    return failure();
  OnnxDType indexDType = ctx.inputDType(0);
  SmallVector<int64_t> shape(indexShape);
  shape.insert(shape.begin() + *axis, depth);
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value indices = ctx.input(0);
  Value values = reshapeTensor(b, loc, ctx.input(2), {2});
  Type valueType = ctx.inputType(2).getElementType();
  Value result = buildIndexedTensor(
      b, loc, shape, valueType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        SmallVector<Value> at;
        for (int64_t d = 0; d < outRank; ++d)
          if (d != *axis)
            at.push_back(coords[d]);
        Value index = tensor::ExtractOp::create(nb, l, indices, at);
        index = convertScalar(nb, l, index, indexDType, OnnxDType::Int64);
        Value depthValue = createIntConstant(nb, l, nb.getI64Type(), depth);
        Value negative = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::slt, index,
            createIntConstant(nb, l, nb.getI64Type(), 0));
        index = arith::SelectOp::create(
            nb, l, negative, arith::AddIOp::create(nb, l, index, depthValue),
            index);
        Value position = arith::IndexCastOp::create(nb, l, nb.getI64Type(),
                                                    coords[*axis]);
        Value hot = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                          index, position);
        Value which = arith::SelectOp::create(nb, l, hot, constantIndex(nb, l, 1),
                                              constantIndex(nb, l, 0));
        return tensor::ExtractOp::create(nb, l, values, ValueRange{which});
      });
  ctx.setOutput(0, result, ctx.inputDType(2));
  return success();
}

/// ReverseSequence: along time_axis, the first sequence_lens[b] elements of
/// each batch entry b reversed, the rest copied.
LogicalResult lowerReverseSequence(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t timeAxis = ctx.attrInt("time_axis", 0);
  int64_t batchAxis = ctx.attrInt("batch_axis", 1);
  if (ctx.failed())
    return failure();
  if (shape.size() < 2 || !((timeAxis == 0 && batchAxis == 1) ||
                            (timeAxis == 1 && batchAxis == 0)))
    return ctx.emitError("time_axis and batch_axis must be 0 and 1 (either "
                         "way) of an input of rank >= 2");
  if (failed(requireIndexInput(ctx, 1, "sequence_lens")) ||
      ctx.inputShape(1) != ArrayRef<int64_t>{shape[batchAxis]})
    return ctx.emitError("sequence_lens must be int64 of shape [batch]");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value input = ctx.input(0);
  Value lengths = ctx.input(1);
  int64_t maxLength = shape[timeAxis];
  Value result = buildIndexedTensor(
      b, loc, shape, ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value t = coords[timeAxis];
        Value length = tensor::ExtractOp::create(nb, l, lengths,
                                                 ValueRange{coords[batchAxis]});
        length = arith::IndexCastOp::create(nb, l, nb.getIndexType(), length);
        length = arith::MinSIOp::create(nb, l, length, constantIndex(nb, l, maxLength));
        Value inside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, t,
                                             length);
        Value mirrored = arith::SubIOp::create(
            nb, l, arith::SubIOp::create(nb, l, length, constantIndex(nb, l, 1)), t);
        SmallVector<Value> at(coords.begin(), coords.end());
        at[timeAxis] = arith::SelectOp::create(nb, l, inside, mirrored, t);
        return tensor::ExtractOp::create(nb, l, input, at);
      });
  ctx.setOutput(0, result, ctx.inputDType(0));
  return success();
}

} // namespace

void registerOnnxIndexingOps(OnnxOpRegistry &registry) {
  registry.add("GatherElements", lowerGatherElements, nullptr, 11);
  registry.add("GatherND", lowerGatherND, nullptr, 11);
  registry.add("Trilu", lowerTrilu, nullptr, 14);
  registry.add("EyeLike", lowerEyeLike, nullptr, 9);
  registry.add("Split", lowerSplit, nullptr, 2);
  registry.add("Tile", lowerTile, nullptr, 6);
  registry.add("DepthToSpace", [](OnnxNodeContext &ctx) {
    return lowerDepthSpace(ctx, /*toSpace=*/true);
  });
  registry.add("SpaceToDepth", [](OnnxNodeContext &ctx) {
    return lowerDepthSpace(ctx, /*toSpace=*/false);
  });
  registry.add("Pad", lowerPad, nullptr, 2);
  registry.add("CumSum", lowerCumSum, nullptr, 11);
  registry.add("Hardmax", lowerHardmax);
  registry.add("TopK", lowerTopK);
  registry.add("ScatterElements", lowerScatterElements, nullptr, 11);
  registry.add("Scatter", lowerScatterElements, nullptr, 9, 10);
  registry.add("ScatterND", lowerScatterND, nullptr, 11);
  registry.add("OneHot", lowerOneHot, nullptr, 9);
  registry.add("ReverseSequence", lowerReverseSequence, nullptr, 10);
}

} // namespace quantc
