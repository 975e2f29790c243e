//===- VectorizeContractions.cpp - register-tiled f32 conv / matmul -------===//
//
// Rewrites f32 linalg contractions on buffers (convolutions of any group
// count, stride and dilation, depthwise convolutions, matmuls) into a
// register-tiled vector loop nest run over quantc's thread pool; see the
// pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AffineExprVisitor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace quantc {
#define GEN_PASS_DEF_VECTORIZECONTRACTIONS
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

/// How one contraction `out[...] += x[...] * w[...]` maps onto the kernel:
/// vectors run along `vectorDim` (the output's last, contiguous dimension,
/// read from `x` with stride `xStride`), `blockDim` (absent from `x`) is held
/// in registers `blockSize` at a time and read from `w` as broadcast scalars,
/// the remaining parallel dimensions are split over threads and the reduction
/// dimensions loop in their original order.
struct ContractionPlan {
  unsigned xOperand = 0, wOperand = 1;
  unsigned vectorDim = 0;
  int64_t xStride = 1;
  std::optional<unsigned> blockDim;
  SmallVector<unsigned> outerDims, reductionDims;
  SmallVector<int64_t> loopSizes;
  int64_t blockSize = 1, vectorsPerRow = 1, vectorWidth = 16;
  /// One llvm.intr.fma per product instead of a multiply and an add.
  bool fma = false;
};

bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return !strides.empty() && strides.back() == 1;
}

/// The coefficient c of `expr` = c * d`dim` + (terms without d`dim`), or
/// nothing when `expr` is not of that form.
std::optional<int64_t> linearCoefficient(AffineExpr expr, unsigned dim,
                                         unsigned numDims) {
  MLIRContext *ctx = expr.getContext();
  AffineExpr rest = expr.replace(getAffineDimExpr(dim, ctx),
                                 getAffineConstantExpr(0, ctx));
  if (rest.isFunctionOfDim(dim))
    return std::nullopt;
  AffineExpr term = simplifyAffineExpr(expr - rest, numDims, 0);
  if (term == getAffineDimExpr(dim, ctx))
    return 1;
  auto product = dyn_cast<AffineBinaryOpExpr>(term);
  if (!product || product.getKind() != AffineExprKind::Mul)
    return std::nullopt;
  auto lhs = dyn_cast<AffineDimExpr>(product.getLHS());
  auto rhs = dyn_cast<AffineConstantExpr>(product.getRHS());
  if (!lhs || !rhs || lhs.getPosition() != dim || rhs.getValue() <= 0)
    return std::nullopt;
  return rhs.getValue();
}

/// Whether the body is `out + a * b` (either operand order) in f32.
bool isMultiplyAccumulate(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  if (body->getNumArguments() != 3 || !llvm::hasNItems(*body, 3))
    return false;
  auto mul = dyn_cast<arith::MulFOp>(body->front());
  auto add = dyn_cast<arith::AddFOp>(mul->getNextNode());
  auto yield = dyn_cast<linalg::YieldOp>(body->getTerminator());
  if (!mul || !add || !yield || yield.getNumOperands() != 1 ||
      yield.getOperand(0) != add.getResult())
    return false;
  Value a = body->getArgument(0), b = body->getArgument(1),
        out = body->getArgument(2);
  bool mulReadsInputs = (mul.getLhs() == a && mul.getRhs() == b) ||
                        (mul.getLhs() == b && mul.getRhs() == a);
  bool addReadsOut = (add.getLhs() == out && add.getRhs() == mul) ||
                     (add.getLhs() == mul && add.getRhs() == out);
  return mulReadsInputs && addReadsOut && mul.getType().isF32();
}

/// Picks `size` accumulator rows no larger than `cap` that waste the fewest
/// rows of a dimension of `extent` (the last block recomputes earlier rows),
/// preferring larger blocks.
int64_t chooseBlock(int64_t extent, int64_t cap) {
  int64_t best = 1, bestCost = INT64_MAX;
  for (int64_t size = std::min(extent, cap); size >= 1; --size) {
    int64_t cost = (extent + size - 1) / size * size;
    // Fewer, larger blocks win unless they waste more work.
    if (cost < bestCost) {
      best = size;
      bestCost = cost;
    }
  }
  return best;
}

std::optional<ContractionPlan> planContraction(linalg::LinalgOp op,
                                               int64_t vectorWidth,
                                               int64_t vectorRegisters) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !isMultiplyAccumulate(op))
    return std::nullopt;
  ContractionPlan plan;
  plan.vectorWidth = vectorWidth;
  plan.loopSizes = op.getStaticLoopRanges();
  unsigned numLoops = op.getNumLoops();
  if (llvm::any_of(plan.loopSizes, ShapedType::isDynamic))
    return std::nullopt;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !type.getElementType().isF32() || !type.hasStaticShape())
      return std::nullopt;
  }

  OpOperand *init = op.getDpsInitOperand(0);
  AffineMap outMap = op.getMatchingIndexingMap(init);
  if (!outMap.isProjectedPermutation() || outMap.getNumResults() == 0 ||
      !hasUnitInnerStride(cast<MemRefType>(init->get().getType())))
    return std::nullopt;
  plan.vectorDim = cast<AffineDimExpr>(outMap.getResults().back()).getPosition();

  // x: the input whose last, unit-stride dimension moves with the vector;
  // w: the input that does not depend on it.
  SmallVector<AffineMap> inputMaps = {
      op.getMatchingIndexingMap(op.getDpsInputOperand(0)),
      op.getMatchingIndexingMap(op.getDpsInputOperand(1))};
  auto dependsOnVector = [&](AffineMap map) {
    return llvm::any_of(map.getResults(), [&](AffineExpr e) {
      return e.isFunctionOfDim(plan.vectorDim);
    });
  };
  if (dependsOnVector(inputMaps[0]) == dependsOnVector(inputMaps[1]))
    return std::nullopt;
  plan.xOperand = dependsOnVector(inputMaps[0]) ? 0 : 1;
  plan.wOperand = 1 - plan.xOperand;
  AffineMap xMap = inputMaps[plan.xOperand], wMap = inputMaps[plan.wOperand];
  if (xMap.getNumResults() == 0 ||
      !hasUnitInnerStride(cast<MemRefType>(
          op.getDpsInputOperand(plan.xOperand)->get().getType())))
    return std::nullopt;
  for (AffineExpr e : xMap.getResults().drop_back())
    if (e.isFunctionOfDim(plan.vectorDim))
      return std::nullopt;
  std::optional<int64_t> stride =
      linearCoefficient(xMap.getResults().back(), plan.vectorDim, numLoops);
  // Strided rows are read whole and deinterleaved with a shuffle; beyond a
  // stride of 4 that reads more than it uses.
  if (!stride || *stride > 4)
    return std::nullopt;
  plan.xStride = *stride;

  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned dim = 0; dim < numLoops; ++dim) {
    bool inOutput = outMap.isFunctionOfDim(dim);
    if (iterators[dim] == utils::IteratorType::reduction) {
      if (inOutput)
        return std::nullopt;
      plan.reductionDims.push_back(dim);
      continue;
    }
    if (!inOutput)
      return std::nullopt;
    if (dim == plan.vectorDim)
      continue;
    // The register block: the largest output dimension that x does not read.
    if (!xMap.isFunctionOfDim(dim) && wMap.isFunctionOfDim(dim) &&
        (!plan.blockDim || plan.loopSizes[dim] > plan.loopSizes[*plan.blockDim]))
      plan.blockDim = dim;
  }
  for (unsigned dim = 0; dim < numLoops; ++dim)
    if (iterators[dim] != utils::IteratorType::reduction &&
        dim != plan.vectorDim && dim != plan.blockDim)
      plan.outerDims.push_back(dim);

  // Accumulators in 3/4 of the vector registers (24 of 32, 12 of 16): up to
  // 4 vectors along the row, as many rows of the block as fit.
  int64_t accumulators = std::max<int64_t>(4, vectorRegisters * 3 / 4);
  int64_t rowLength = plan.loopSizes[plan.vectorDim];
  plan.vectorsPerRow =
      std::clamp<int64_t>((rowLength + vectorWidth - 1) / vectorWidth, 1, 4);
  if (plan.blockDim)
    plan.blockSize = chooseBlock(
        plan.loopSizes[*plan.blockDim],
        std::min<int64_t>(12, accumulators / plan.vectorsPerRow));
  return plan;
}

/// The op that last wrote the whole output before the contraction, when the
/// kernel can start its accumulators from what it wrote instead of reading
/// the output back: a `linalg.fill` of a constant (zero, for convolutions
/// without bias) or a broadcast `linalg.generic` (the bias). The kernel then
/// computes the same values in the same order, and the op is erased, saving
/// a write and a read of the whole output.
struct InitSource {
  Operation *op = nullptr;
  TypedAttr fillValue;
  Value broadcastSource;
  /// The broadcast source's indices as a function of the output's indices.
  AffineMap broadcastMap;
};

InitSource findInitSource(linalg::LinalgOp contraction) {
  Value out = contraction.getDpsInitOperand(0)->get();
  if (!out.getDefiningOp<memref::AllocOp>())
    return {};
  Block *block = contraction->getBlock();
  Operation *writer = nullptr;
  for (Operation *user : out.getUsers()) {
    if (user == contraction.getOperation())
      continue;
    if (user->getBlock() != block)
      return {};
    if (contraction->isBeforeInBlock(user))
      continue;
    // More than one earlier user (a view, a second writer): leave it.
    if (writer)
      return {};
    writer = user;
  }
  if (!writer)
    return {};
  // Nothing in between may write memory (the broadcast's source included).
  for (Operation *between = writer->getNextNode(); between != contraction;
       between = between->getNextNode()) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(between);
    if (!effects || effects.hasEffect<MemoryEffects::Write>() ||
        between->getNumRegions() != 0)
      return {};
  }
  auto outType = cast<MemRefType>(out.getType());
  InitSource source;
  source.op = writer;
  if (auto fill = dyn_cast<linalg::FillOp>(writer)) {
    if (fill.getDpsInitOperand(0)->get() != out)
      return {};
    auto constant =
        fill.getDpsInputOperand(0)->get().getDefiningOp<arith::ConstantOp>();
    if (!constant || !constant.getType().isF32())
      return {};
    source.fillValue = constant.getValue();
    return source;
  }
  auto generic = dyn_cast<linalg::GenericOp>(writer);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 ||
      generic.getDpsInitOperand(0)->get() != out ||
      generic.getNumParallelLoops() != generic.getNumLoops())
    return {};
  AffineMap outMap = generic.getMatchingIndexingMap(generic.getDpsInitOperand(0));
  AffineMap inMap =
      generic.getMatchingIndexingMap(generic.getDpsInputOperand(0));
  Block *body = generic.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (!outMap.isIdentity() || !llvm::hasSingleElement(*body) ||
      yield.getOperand(0) != body->getArgument(0) ||
      inMap.isFunctionOfDim(outType.getRank() - 1))
    return {};
  Value input = generic.getDpsInputOperand(0)->get();
  auto inputType = dyn_cast<MemRefType>(input.getType());
  if (!inputType || !inputType.getElementType().isF32())
    return {};
  source.broadcastSource = input;
  source.broadcastMap = inMap;
  return source;
}

/// The elementwise op that reads the output right after the contraction,
/// when the output is dead after it: the kernel applies its body to the
/// finished tile and stores the result where the op would, so that the
/// output is never written nor read back (a convolution's residual add and
/// ReLU). The op is erased.
struct Epilogue {
  mutable linalg::GenericOp op;
  /// Which of its inputs is the contraction's output.
  unsigned outputInput = 0;
};

/// Whether every op of `body` maps elementwise onto vectors: no regions,
/// scalar operands that are block arguments (not the output's), earlier
/// results or constants.
bool isVectorizableElementwiseBody(Block *body, Value outputArgument) {
  for (Operation &op : body->without_terminator()) {
    if (op.getNumRegions() != 0 || op.getNumResults() != 1)
      return false;
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      if (!constant.getType().isIntOrFloat())
        return false;
      continue;
    }
    if (!op.hasTrait<OpTrait::Vectorizable>() ||
        !op.getResult(0).getType().isIntOrFloat())
      return false;
    for (Value operand : op.getOperands()) {
      if (operand == outputArgument || !operand.getType().isIntOrFloat())
        return false;
      if (operand.getParentBlock() != body &&
          !operand.getDefiningOp<arith::ConstantOp>())
        return false;
    }
  }
  return true;
}

std::optional<Epilogue> findEpilogue(linalg::LinalgOp contraction) {
  Value out = contraction.getDpsInitOperand(0)->get();
  auto outType = cast<MemRefType>(out.getType());
  if (!out.getDefiningOp<memref::AllocOp>())
    return std::nullopt;
  // The next op that touches the output; nothing before it writes memory.
  Operation *consumer = contraction->getNextNode();
  for (; consumer; consumer = consumer->getNextNode()) {
    if (llvm::is_contained(consumer->getOperands(), out))
      break;
    auto effects = dyn_cast<MemoryEffectOpInterface>(consumer);
    if (!effects || effects.hasEffect<MemoryEffects::Write>() ||
        consumer->getNumRegions() != 0)
      return std::nullopt;
  }
  auto generic = dyn_cast_or_null<linalg::GenericOp>(consumer);
  if (!generic || generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return std::nullopt;
  Epilogue epilogue{generic, 0};
  int uses = 0;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (!type || type.getShape() != outType.getShape() ||
        !type.getElementType().isF32() || !hasUnitInnerStride(type))
      return std::nullopt;
    if (input->get() == out) {
      epilogue.outputInput = input->getOperandNumber();
      ++uses;
    }
  }
  Value result = generic.getDpsInitOperand(0)->get();
  auto resultType = cast<MemRefType>(result.getType());
  if (uses != 1 || !result.getDefiningOp<memref::AllocOp>() ||
      resultType.getShape() != outType.getShape() ||
      !resultType.getElementType().isF32() || !hasUnitInnerStride(resultType))
    return std::nullopt;
  Block *body = generic.getBody();
  if (!isVectorizableElementwiseBody(
          body, body->getArgument(generic.getNumDpsInputs())))
    return std::nullopt;
  // The output must be dead afterwards.
  for (Operation *user : out.getUsers()) {
    if (user == contraction.getOperation() || user == consumer ||
        user->isBeforeInBlock(contraction))
      continue;
    if (!isa<memref::DeallocOp>(user))
      return std::nullopt;
  }
  return epilogue;
}

/// Emits the kernel of one contraction as a function
/// `(x, w, out, begin, end)` that computes work items [begin, end).
class ContractionKernelBuilder {
public:
  ContractionKernelBuilder(linalg::LinalgOp op, const ContractionPlan &plan,
                           const InitSource &init,
                           const std::optional<Epilogue> &epilogue,
                           int64_t vectorWidth, func::FuncOp func)
      : op(op), plan(plan), init(init), epilogue(epilogue),
        vectorWidth(vectorWidth), func(func),
        b(op.getLoc(), op.getContext()) {}

  void emit();

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  /// The indices of operand `map` at loop indices `dims`.
  SmallVector<Value> indicesOf(AffineMap map, ArrayRef<Value> dims) {
    SmallVector<Value> indices;
    for (AffineExpr expr : map.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        indices.push_back(dims[dim.getPosition()]);
        continue;
      }
      auto single = AffineMap::get(map.getNumDims(), 0, expr);
      indices.push_back(affine::AffineApplyOp::create(b, single, dims));
    }
    return indices;
  }
  /// A mask enabling the first `count` lanes (clamped to [0, lanes]).
  /// Built as `lane < count` rather than vector.create_mask, which the
  /// CPU pipeline's convert-to-llvm does not lower.
  Value maskOf(int64_t lanes, Value count) {
    auto type = VectorType::get({lanes}, b.getI32Type());
    SmallVector<int32_t> laneIndices;
    for (int64_t i = 0; i < lanes; ++i)
      laneIndices.push_back(static_cast<int32_t>(i));
    Value lane = arith::ConstantOp::create(
        b, DenseIntElementsAttr::get(type, ArrayRef<int32_t>(laneIndices)));
    Value bound = vector::BroadcastOp::create(
        b, type, arith::IndexCastOp::create(b, b.getI32Type(), count));
    return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, lane, bound);
  }
  Value loadX(ArrayRef<Value> dims, Value valid);
  Value initialAccumulator(ArrayRef<Value> dims, Value mask, Value zeros);
  void storeTile(ArrayRef<Value> dims, Value mask, Value tile);
  void emitRow(ArrayRef<Value> dims, Value v0);

  linalg::LinalgOp op;
  const ContractionPlan &plan;
  const InitSource &init;
  const std::optional<Epilogue> &epilogue;
  int64_t vectorWidth;
  func::FuncOp func;
  ImplicitLocOpBuilder b;
  Value x, w, out, broadcastSource;
  /// The epilogue's inputs (the tile in place of the contraction's output)
  /// and result buffer.
  SmallVector<Value> epilogueInputs;
  Value epilogueResult;
  AffineMap xMap, wMap, outMap;
};

/// x at the `valid` (<= vectorWidth) positions of the vector that starts at
/// `dims`; lanes past them read as zero and are never stored.
Value ContractionKernelBuilder::loadX(ArrayRef<Value> dims, Value valid) {
  Type f32 = b.getF32Type();
  SmallVector<Value> indices = indicesOf(xMap, dims);
  int64_t s = plan.xStride;
  Value zero = arith::ConstantOp::create(b, b.getZeroAttr(
                                              VectorType::get({vectorWidth * s}, f32)));
  if (s == 1) {
    auto type = VectorType::get({vectorWidth}, f32);
    return vector::MaskedLoadOp::create(b, type, x, indices,
                                        maskOf(vectorWidth, valid), zero);
  }
  // Lane i reads element i * s: load the (valid - 1) * s + 1 elements that
  // span them and keep every s-th.
  auto wideType = VectorType::get({vectorWidth * s}, f32);
  Value span = arith::AddIOp::create(
      b, arith::MulIOp::create(b, arith::SubIOp::create(b, valid, index(1)),
                               index(s)),
      index(1));
  Value wide = vector::MaskedLoadOp::create(b, wideType, x, indices,
                                            maskOf(vectorWidth * s, span), zero);
  SmallVector<int64_t> lanes;
  for (int64_t i = 0; i < vectorWidth; ++i)
    lanes.push_back(i * s);
  return vector::ShuffleOp::create(b, wide, wide, b.getDenseI64ArrayAttr(lanes));
}

/// The accumulator of the vector at `dims` before the first reduction step:
/// what the output holds, or what the folded fill / broadcast would have
/// written there.
Value ContractionKernelBuilder::initialAccumulator(ArrayRef<Value> dims,
                                                   Value mask, Value zeros) {
  auto vectorType = cast<VectorType>(zeros.getType());
  if (init.fillValue) {
    Value scalar = arith::ConstantOp::create(b, init.fillValue);
    return vector::BroadcastOp::create(b, vectorType, scalar);
  }
  SmallVector<Value> outIndices = indicesOf(outMap, dims);
  if (broadcastSource) {
    Value scalar = memref::LoadOp::create(
        b, broadcastSource, indicesOf(init.broadcastMap, outIndices));
    return vector::BroadcastOp::create(b, vectorType, scalar);
  }
  return vector::MaskedLoadOp::create(b, vectorType, out, outIndices, mask,
                                      zeros);
}

/// Stores one finished vector of the tile at `dims`: as it is, or through
/// the epilogue's body (its other inputs read at the same place).
void ContractionKernelBuilder::storeTile(ArrayRef<Value> dims, Value mask,
                                         Value tile) {
  SmallVector<Value> indices = indicesOf(outMap, dims);
  if (!epilogue) {
    vector::MaskedStoreOp::create(b, out, indices, mask, tile);
    return;
  }
  auto vectorType = cast<VectorType>(tile.getType());
  Value zeros = arith::ConstantOp::create(b, b.getZeroAttr(vectorType));
  auto splat = [&](TypedAttr value) -> Value {
    Value scalar = arith::ConstantOp::create(b, value);
    return vector::BroadcastOp::create(
        b, VectorType::get({vectorWidth}, value.getType()), scalar);
  };
  Block *body = epilogue->op.getBody();
  IRMapping mapping;
  for (auto [i, input] : llvm::enumerate(epilogueInputs))
    mapping.map(body->getArgument(i),
                i == epilogue->outputInput
                    ? tile
                    : vector::MaskedLoadOp::create(b, vectorType, input,
                                                   indices, mask, zeros)
                          .getResult());
  for (Operation &bodyOp : body->without_terminator()) {
    if (auto constant = dyn_cast<arith::ConstantOp>(bodyOp)) {
      mapping.map(constant.getResult(), splat(constant.getValue()));
      continue;
    }
    SmallVector<Value> operands;
    for (Value operand : bodyOp.getOperands()) {
      if (Value mapped = mapping.lookupOrNull(operand)) {
        operands.push_back(mapped);
        continue;
      }
      // A constant defined outside the body.
      operands.push_back(
          splat(operand.getDefiningOp<arith::ConstantOp>().getValue()));
      mapping.map(operand, operands.back());
    }
    OperationState state(bodyOp.getLoc(), bodyOp.getName().getStringRef(),
                         operands,
                         {VectorType::get({vectorWidth},
                                          bodyOp.getResult(0).getType())},
                         bodyOp.getAttrs());
    mapping.map(bodyOp.getResult(0), b.create(state)->getResult(0));
  }
  Value value = mapping.lookup(body->getTerminator()->getOperand(0));
  vector::MaskedStoreOp::create(b, epilogueResult, indices, mask, value);
}

/// One row segment: blockSize x vectorsPerRow accumulators starting at
/// vector position v0, initialised from out, updated over every reduction
/// index in the original order, stored back.
void ContractionKernelBuilder::emitRow(ArrayRef<Value> baseDims, Value v0) {
  Type f32 = b.getF32Type();
  auto vectorType = VectorType::get({vectorWidth}, f32);
  int64_t rowLength = plan.loopSizes[plan.vectorDim];
  int64_t rows = plan.blockSize, columns = plan.vectorsPerRow;

  // Valid lanes of each vector of the row (the last may be partial; none is
  // when whole rows of vectors tile the dimension: constant full masks, plain
  // loads and stores).
  bool wholeVectors = rowLength % (vectorWidth * columns) == 0;
  SmallVector<Value> valid, masks, starts;
  for (int64_t u = 0; u < columns; ++u) {
    Value start = arith::AddIOp::create(b, v0, index(u * vectorWidth));
    starts.push_back(start);
    valid.push_back(wholeVectors
                        ? index(vectorWidth)
                        : arith::SubIOp::create(b, index(rowLength), start)
                              .getResult());
    masks.push_back(maskOf(vectorWidth, valid.back()));
  }
  // Rows past the end of the block dimension recompute its last row: the
  // same values, stored twice.
  SmallVector<Value> blockIndex;
  for (int64_t j = 0; j < rows; ++j) {
    if (!plan.blockDim) {
      blockIndex.push_back(Value());
      continue;
    }
    Value row = arith::AddIOp::create(b, baseDims[*plan.blockDim], index(j));
    blockIndex.push_back(arith::MinUIOp::create(
        b, row, index(plan.loopSizes[*plan.blockDim] - 1)));
  }
  auto dimsAt = [&](int64_t j, Value vectorStart) {
    SmallVector<Value> dims(baseDims.begin(), baseDims.end());
    if (plan.blockDim)
      dims[*plan.blockDim] = blockIndex[j];
    dims[plan.vectorDim] = vectorStart;
    return dims;
  };

  Value zeros = arith::ConstantOp::create(b, b.getZeroAttr(vectorType));
  SmallVector<Value> accumulators;
  for (int64_t j = 0; j < rows; ++j)
    for (int64_t u = 0; u < columns; ++u)
      accumulators.push_back(initialAccumulator(dimsAt(j, starts[u]), masks[u],
                                                zeros));

  // The reduction loops, outermost first, carrying the accumulators.
  std::function<SmallVector<Value>(unsigned, SmallVector<Value>, ValueRange)>
      reduce = [&](unsigned level, SmallVector<Value> dims,
                   ValueRange acc) -> SmallVector<Value> {
    if (level == plan.reductionDims.size()) {
      SmallVector<Value> xs;
      for (int64_t u = 0; u < columns; ++u) {
        SmallVector<Value> at = dims;
        at[plan.vectorDim] = starts[u];
        xs.push_back(loadX(at, valid[u]));
      }
      SmallVector<Value> next(acc.begin(), acc.end());
      for (int64_t j = 0; j < rows; ++j) {
        SmallVector<Value> at = dims;
        if (plan.blockDim)
          at[*plan.blockDim] = blockIndex[j];
        Value scalar = memref::LoadOp::create(b, w, indicesOf(wMap, at));
        Value splat = vector::BroadcastOp::create(b, vectorType, scalar);
        for (int64_t u = 0; u < columns; ++u) {
          Value &acc = next[j * columns + u];
          // llvm.intr.fma, not vector.fma: that becomes llvm.fmuladd, which
          // leaves fusing to the backend.
          acc = plan.fma ? LLVM::FMAOp::create(b, xs[u], splat, acc)
                               .getResult()
                         : arith::AddFOp::create(
                               b, acc, arith::MulFOp::create(b, xs[u], splat))
                               .getResult();
        }
      }
      return next;
    }
    unsigned dim = plan.reductionDims[level];
    auto loop = scf::ForOp::create(
        b, index(0), index(plan.loopSizes[dim]), index(1), acc,
        [&](OpBuilder &nested, Location loc, Value iv, ValueRange iterArgs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          SmallVector<Value> inner = dims;
          inner[dim] = iv;
          scf::YieldOp::create(b, reduce(level + 1, inner, iterArgs));
        });
    return SmallVector<Value>(loop.getResults());
  };
  SmallVector<Value> dims(baseDims.begin(), baseDims.end());
  SmallVector<Value> result = reduce(0, dims, accumulators);

  for (int64_t j = 0; j < rows; ++j)
    for (int64_t u = 0; u < columns; ++u)
      storeTile(dimsAt(j, starts[u]), masks[u], result[j * columns + u]);
}

void ContractionKernelBuilder::emit() {
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  x = entry->getArgument(0);
  w = entry->getArgument(1);
  out = entry->getArgument(2);
  unsigned next = 3;
  if (init.broadcastSource)
    broadcastSource = entry->getArgument(next++);
  if (epilogue) {
    for (unsigned i = 0, e = epilogue->op.getNumDpsInputs(); i < e; ++i)
      epilogueInputs.push_back(i == epilogue->outputInput
                                   ? Value()
                                   : entry->getArgument(next++));
    epilogueResult = entry->getArgument(next++);
  }
  Value begin = entry->getArgument(next), end = entry->getArgument(next + 1);
  xMap = op.getMatchingIndexingMap(op.getDpsInputOperand(plan.xOperand));
  wMap = op.getMatchingIndexingMap(op.getDpsInputOperand(plan.wOperand));
  outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));

  unsigned numLoops = plan.loopSizes.size();
  int64_t blocks = 1;
  if (plan.blockDim)
    blocks = (plan.loopSizes[*plan.blockDim] + plan.blockSize - 1) /
             plan.blockSize;
  scf::ForOp::create(
      b, begin, end, index(1), ValueRange{},
      [&](OpBuilder &nested, Location loc, Value item, ValueRange) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        // item = ((outer0 * size1 + outer1) ... * blocks + block) * segments
        //        + segment
        SmallVector<Value> dims(numLoops, index(0));
        int64_t step = vectorWidth * plan.vectorsPerRow;
        int64_t segments = (plan.loopSizes[plan.vectorDim] + step - 1) / step;
        Value rest = item;
        Value segment = arith::RemUIOp::create(b, rest, index(segments));
        rest = arith::DivUIOp::create(b, rest, index(segments));
        if (plan.blockDim) {
          Value block = arith::RemUIOp::create(b, rest, index(blocks));
          rest = arith::DivUIOp::create(b, rest, index(blocks));
          dims[*plan.blockDim] =
              arith::MulIOp::create(b, block, index(plan.blockSize));
        }
        for (unsigned dim : llvm::reverse(plan.outerDims)) {
          dims[dim] = arith::RemUIOp::create(b, rest, index(plan.loopSizes[dim]));
          rest = arith::DivUIOp::create(b, rest, index(plan.loopSizes[dim]));
        }
        emitRow(dims, arith::MulIOp::create(b, segment, index(step)));
        scf::YieldOp::create(b);
      });
  func::ReturnOp::create(b);
}

/// Number of independent work items of `plan`.
int64_t countWorkItems(const ContractionPlan &plan) {
  int64_t count = 1;
  for (unsigned dim : plan.outerDims)
    count *= plan.loopSizes[dim];
  if (plan.blockDim)
    count *= (plan.loopSizes[*plan.blockDim] + plan.blockSize - 1) /
             plan.blockSize;
  int64_t step = plan.vectorWidth * plan.vectorsPerRow;
  return count * ((plan.loopSizes[plan.vectorDim] + step - 1) / step);
}

struct VectorizeContractionsPass
    : quantc::impl::VectorizeContractionsBase<VectorizeContractionsPass> {
  using VectorizeContractionsBase::VectorizeContractionsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<std::pair<linalg::LinalgOp, ContractionPlan>> work;
    module.walk([&](linalg::LinalgOp op) {
      if (std::optional<ContractionPlan> plan =
              planContraction(op, vectorWidth, vectorRegisters)) {
        plan->fma = fma;
        work.push_back({op, *plan});
      }
    });
    SymbolTable symbols(module);
    unsigned counter = 0;
    for (auto &[op, plan] : work) {
      OpBuilder builder(module.getBodyRegion());
      builder.setInsertionPointToEnd(module.getBody());
      Value x = op.getDpsInputOperand(plan.xOperand)->get();
      Value w = op.getDpsInputOperand(plan.wOperand)->get();
      Value out = op.getDpsInitOperand(0)->get();
      Type indexType = builder.getIndexType();
      InitSource init = findInitSource(op);
      SmallVector<Value> operands = {x, w, out};
      if (init.broadcastSource)
        operands.push_back(init.broadcastSource);
      std::optional<Epilogue> epilogue = findEpilogue(op);
      if (epilogue) {
        for (OpOperand *input : epilogue->op.getDpsInputOperands())
          if (input->getOperandNumber() != epilogue->outputInput)
            operands.push_back(input->get());
        operands.push_back(epilogue->op.getDpsInitOperand(0)->get());
      }
      SmallVector<Type> argumentTypes(ValueRange(operands).getTypes());
      argumentTypes.append({indexType, indexType});
      auto type = builder.getFunctionType(argumentTypes, {});
      auto func = func::FuncOp::create(
          builder, op.getLoc(),
          "__quantc_contraction_" + std::to_string(counter++), type);
      func.setPrivate();
      symbols.insert(func);
      // quantc-launch-parallel-tasks turns calls to it into
      // quantc_parallel_for over [0, end).
      func->setAttr("quantc.parallel_task", builder.getUnitAttr());
      ContractionKernelBuilder(op, plan, init, epilogue, vectorWidth, func)
          .emit();

      // With an epilogue the call replaces it (its result buffer may be
      // allocated after the contraction; nothing in between writes memory).
      builder.setInsertionPoint(epilogue ? epilogue->op.getOperation()
                                         : op.getOperation());
      Value begin = arith::ConstantIndexOp::create(builder, op.getLoc(), 0);
      Value count = arith::ConstantIndexOp::create(builder, op.getLoc(),
                                                   countWorkItems(plan));
      operands.append({begin, count});
      func::CallOp::create(builder, op.getLoc(), func, operands);
      op->erase();
      if (init.op)
        init.op->erase();
      if (epilogue)
        epilogue->op->erase();
    }
  }
};

} // namespace
