//===- VectorizeReductions.cpp - reductions along a contiguous dim -------===//
//
// Rewrites linalg.generic reductions on buffers whose one reduction loop
// walks the inputs' last, contiguous dimension (RMSNorm / LayerNorm means,
// ReduceSum / ReduceMean / ReduceMax over the last axis, LogSoftmax's max
// and sum) into loops over vector accumulators; see the pass description in
// Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

namespace quantc {
#define GEN_PASS_DEF_VECTORIZEREDUCTIONS
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

/// Independent accumulators per row: enough adds in flight to hide the
/// add latency.
constexpr int64_t kAccumulators = 4;

enum class Combiner { Add, Mul, Maximum, Minimum };

/// How one reduction maps onto the vector loop.
struct ReductionPlan {
  unsigned reductionDim = 0;
  SmallVector<unsigned> parallelDims;
  SmallVector<int64_t> loopSizes;
  Combiner combiner = Combiner::Add;
  Operation *combineOp = nullptr;
  /// The body value combined into the output, and whether the combiner takes
  /// it as its first operand.
  Value contribution;
  bool contributionFirst = true;
  /// Per input: whether it is indexed by the reduction loop (a vector load
  /// along its last dimension) or not (a scalar, broadcast).
  SmallVector<bool> inputVaries;
};

bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return !strides.empty() && strides.back() == 1;
}

/// Every result of `map` a loop index or a constant.
bool hasSimpleResults(AffineMap map) {
  return llvm::all_of(map.getResults(), [](AffineExpr expr) {
    return isa<AffineDimExpr, AffineConstantExpr>(expr);
  });
}

std::optional<Combiner> combinerOf(Operation *op) {
  if (isa<arith::AddFOp>(op))
    return Combiner::Add;
  if (isa<arith::MulFOp>(op))
    return Combiner::Mul;
  if (isa<arith::MaximumFOp>(op))
    return Combiner::Maximum;
  if (isa<arith::MinimumFOp>(op))
    return Combiner::Minimum;
  return std::nullopt;
}

/// Whether `op` can be applied lane by lane to vectors: a one-result,
/// region-free elementwise arith / math op on int or float scalars.
bool isVectorizableBodyOp(Operation &op) {
  if (!isa<arith::ArithDialect, math::MathDialect>(op.getDialect()))
    return false;
  if (isa<arith::ConstantOp>(op))
    return isa<IntegerType, FloatType>(op.getResult(0).getType());
  if (op.getNumResults() != 1 || op.getNumRegions() != 0 ||
      !op.hasTrait<OpTrait::Elementwise>())
    return false;
  auto scalar = [](Type type) { return isa<IntegerType, FloatType>(type); };
  return llvm::all_of(op.getOperandTypes(), scalar) &&
         scalar(op.getResult(0).getType());
}

std::optional<ReductionPlan> planReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumDpsInputs() == 0)
    return std::nullopt;
  ReductionPlan plan;
  plan.loopSizes = op.getStaticLoopRanges();
  if (llvm::any_of(plan.loopSizes, ShapedType::isDynamic))
    return std::nullopt;
  std::optional<unsigned> reductionDim;
  for (auto [dim, iterator] : llvm::enumerate(op.getIteratorTypesArray())) {
    if (iterator != utils::IteratorType::reduction) {
      plan.parallelDims.push_back(dim);
      continue;
    }
    if (reductionDim)
      return std::nullopt;
    reductionDim = dim;
  }
  if (!reductionDim)
    return std::nullopt;
  plan.reductionDim = *reductionDim;

  OpOperand *init = op.getDpsInitOperand(0);
  auto outputType = dyn_cast<MemRefType>(init->get().getType());
  if (!outputType || !outputType.getElementType().isF32())
    return std::nullopt;
  AffineMap outputMap = op.getMatchingIndexingMap(init);
  if (!hasSimpleResults(outputMap) ||
      outputMap.isFunctionOfDim(plan.reductionDim))
    return std::nullopt;

  for (OpOperand *input : op.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (!type || input->get() == init->get() ||
        !isa<IntegerType, FloatType>(type.getElementType()))
      return std::nullopt;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!hasSimpleResults(map))
      return std::nullopt;
    bool varies = map.isFunctionOfDim(plan.reductionDim);
    // A vector of i1 is packed bits in memory, a memref of i1 one byte per
    // element: such inputs are only read as scalars.
    if (varies && type.getElementTypeBitWidth() < 8)
      return std::nullopt;
    if (varies) {
      // Only the last index may walk the reduction, with unit stride.
      auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
      if (!last || last.getPosition() != plan.reductionDim ||
          !hasUnitInnerStride(type))
        return std::nullopt;
      for (AffineExpr expr : map.getResults().drop_back())
        if (expr.isFunctionOfDim(plan.reductionDim))
          return std::nullopt;
    }
    plan.inputVaries.push_back(varies);
  }
  // One tensor along the reduction (read once or more at the same place,
  // as Mul(x, x) fused into a sum): a norm or a reduce. Two (a dot product,
  // as qc-expand-formats' reference qc.matmul writes it) are contractions,
  // whose sums stay in order.
  std::optional<std::pair<Value, AffineMap>> walked;
  for (auto [i, input] : llvm::enumerate(op.getDpsInputOperands())) {
    if (!plan.inputVaries[i])
      continue;
    std::pair<Value, AffineMap> read = {input->get(),
                                        op.getMatchingIndexingMap(input)};
    if (walked && *walked != read)
      return std::nullopt;
    walked = read;
  }

  // The body: elementwise ops on the inputs, then yield combine(v, out).
  Block *body = op.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getNumOperands() != 1)
    return std::nullopt;
  Operation *combine = yield.getOperand(0).getDefiningOp();
  if (!combine || combine->getBlock() != body)
    return std::nullopt;
  std::optional<Combiner> combiner = combinerOf(combine);
  if (!combiner)
    return std::nullopt;
  plan.combiner = *combiner;
  plan.combineOp = combine;
  BlockArgument out = body->getArgument(op.getNumDpsInputs());
  if (!out.hasOneUse())
    return std::nullopt;
  if (combine->getOperand(1) == out) {
    plan.contribution = combine->getOperand(0);
    plan.contributionFirst = true;
  } else if (combine->getOperand(0) == out) {
    plan.contribution = combine->getOperand(1);
    plan.contributionFirst = false;
  } else {
    return std::nullopt;
  }
  for (Operation &bodyOp : body->without_terminator())
    if (&bodyOp != combine && !isVectorizableBodyOp(bodyOp))
      return std::nullopt;
  // Values from outside the body: int or float scalars (broadcast).
  WalkResult outside = op.getRegion().walk([&](Operation *bodyOp) {
    for (Value operand : bodyOp->getOperands())
      if (operand.getParentRegion() != &op.getRegion() &&
          !isa<IntegerType, FloatType>(operand.getType()))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (outside.wasInterrupted())
    return std::nullopt;
  return plan;
}

class ReductionLoopBuilder {
public:
  ReductionLoopBuilder(linalg::GenericOp op, const ReductionPlan &plan,
                       int64_t vectorWidth)
      : op(op), plan(plan), width(vectorWidth), b(op.getLoc(), op) {}

  void emit();

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  VectorType vectorOf(Type element) {
    return VectorType::get({width}, element);
  }
  /// The combiner's neutral element, splat.
  Value identity();
  Value combine(Value x, Value y);
  /// Indices of `map` at the loop indices `loops`.
  SmallVector<Value> indicesOf(AffineMap map, ArrayRef<Value> loops);
  /// The body's contribution for the `width` reduction indices starting at
  /// `loops[reductionDim]`; lanes outside `mask` (when given) are undefined.
  Value contributionAt(ArrayRef<Value> loops, Value mask);

  linalg::GenericOp op;
  const ReductionPlan &plan;
  int64_t width;
  ImplicitLocOpBuilder b;
  /// Per input not indexed by the reduction: its value for the current
  /// output element, splat (loaded once per output element).
  SmallVector<Value> rowInvariants;
};

Value ReductionLoopBuilder::identity() {
  float value = 0.0f;
  switch (plan.combiner) {
  case Combiner::Add:
    value = 0.0f;
    break;
  case Combiner::Mul:
    value = 1.0f;
    break;
  case Combiner::Maximum:
    value = -std::numeric_limits<float>::infinity();
    break;
  case Combiner::Minimum:
    value = std::numeric_limits<float>::infinity();
    break;
  }
  return arith::ConstantOp::create(
      b, DenseElementsAttr::get(vectorOf(b.getF32Type()),
                                b.getF32FloatAttr(value)));
}

Value ReductionLoopBuilder::combine(Value x, Value y) {
  switch (plan.combiner) {
  case Combiner::Add:
    return arith::AddFOp::create(b, x, y);
  case Combiner::Mul:
    return arith::MulFOp::create(b, x, y);
  case Combiner::Maximum:
    return arith::MaximumFOp::create(b, x, y);
  case Combiner::Minimum:
    return arith::MinimumFOp::create(b, x, y);
  }
  llvm_unreachable("unknown combiner");
}

SmallVector<Value> ReductionLoopBuilder::indicesOf(AffineMap map,
                                                   ArrayRef<Value> loops) {
  SmallVector<Value> indices;
  for (AffineExpr expr : map.getResults()) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      indices.push_back(loops[dim.getPosition()]);
    else
      indices.push_back(index(cast<AffineConstantExpr>(expr).getValue()));
  }
  return indices;
}

Value ReductionLoopBuilder::contributionAt(ArrayRef<Value> loops, Value mask) {
  Block *body = op.getBody();
  IRMapping mapping;
  for (auto [i, input] : llvm::enumerate(op.getDpsInputOperands())) {
    Value memref = input->get();
    Type element = cast<MemRefType>(memref.getType()).getElementType();
    SmallVector<Value> indices =
        plan.inputVaries[i]
            ? indicesOf(op.getMatchingIndexingMap(input), loops)
            : SmallVector<Value>();
    Value lanes;
    if (!plan.inputVaries[i]) {
      lanes = rowInvariants[i];
    } else if (mask) {
      Value zeros =
          arith::ConstantOp::create(b, b.getZeroAttr(vectorOf(element)));
      lanes = vector::MaskedLoadOp::create(b, vectorOf(element), memref,
                                           indices, mask, zeros);
    } else {
      lanes = vector::LoadOp::create(b, vectorOf(element), memref, indices);
    }
    mapping.map(body->getArgument(i), lanes);
  }
  auto vectorize = [&](Value operand) -> Value {
    if (Value mapped = mapping.lookupOrNull(operand))
      return mapped;
    // Defined outside the body: a constant or a scalar, the same in every
    // lane.
    Value lanes;
    if (auto constant = operand.getDefiningOp<arith::ConstantOp>())
      lanes = arith::ConstantOp::create(
          b, DenseElementsAttr::get(vectorOf(operand.getType()),
                                    constant.getValue()));
    else
      lanes = vector::BroadcastOp::create(b, vectorOf(operand.getType()),
                                          operand);
    mapping.map(operand, lanes);
    return lanes;
  };
  for (Operation &bodyOp : body->without_terminator()) {
    if (&bodyOp == plan.combineOp)
      continue;
    if (auto constant = dyn_cast<arith::ConstantOp>(bodyOp)) {
      mapping.map(constant.getResult(),
                  arith::ConstantOp::create(
                      b, DenseElementsAttr::get(
                             vectorOf(constant.getType()),
                             cast<TypedAttr>(constant.getValue()))));
      continue;
    }
    SmallVector<Value> operands;
    for (Value operand : bodyOp.getOperands())
      operands.push_back(vectorize(operand));
    OperationState state(bodyOp.getLoc(), bodyOp.getName().getStringRef(),
                         operands, {vectorOf(bodyOp.getResult(0).getType())},
                         bodyOp.getAttrs());
    mapping.map(bodyOp.getResult(0), b.create(state)->getResult(0));
  }
  return vectorize(plan.contribution);
}

void ReductionLoopBuilder::emit() {
  // Loops over the parallel dimensions, in the op's order.
  SmallVector<Value> loops(plan.loopSizes.size());
  OpBuilder::InsertionGuard guard(b);
  for (unsigned dim : plan.parallelDims) {
    auto loop =
        scf::ForOp::create(b, index(0), index(plan.loopSizes[dim]), index(1));
    loops[dim] = loop.getInductionVar();
    b.setInsertionPointToStart(loop.getBody());
  }
  rowInvariants.assign(op.getNumDpsInputs(), Value());
  for (auto [i, input] : llvm::enumerate(op.getDpsInputOperands())) {
    if (plan.inputVaries[i])
      continue;
    Type element = cast<MemRefType>(input->get().getType()).getElementType();
    rowInvariants[i] = vector::BroadcastOp::create(
        b, vectorOf(element),
        memref::LoadOp::create(
            b, input->get(),
            indicesOf(op.getMatchingIndexingMap(input), loops)));
  }
  int64_t length = plan.loopSizes[plan.reductionDim];
  int64_t step = width * kAccumulators;
  int64_t unrolledEnd = length / step * step;
  SmallVector<Value> accumulators(kAccumulators, identity());
  if (unrolledEnd > 0) {
    auto loop = scf::ForOp::create(b, index(0), index(unrolledEnd),
                                   index(step), accumulators);
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(loop.getBody());
    Value start = loop.getInductionVar();
    SmallVector<Value> next;
    for (int64_t k = 0; k < kAccumulators; ++k) {
      loops[plan.reductionDim] =
          arith::AddIOp::create(b, start, index(k * width));
      next.push_back(combine(loop.getRegionIterArgs()[k],
                             contributionAt(loops, Value())));
    }
    scf::YieldOp::create(b, next);
    accumulators = SmallVector<Value>(loop.getResults());
  }
  // Whole vectors past the unrolled loop, then the masked tail.
  int64_t k = 0;
  for (int64_t column = unrolledEnd; column < length; column += width, ++k) {
    loops[plan.reductionDim] = index(column);
    Value lanes;
    if (column + width <= length) {
      lanes = contributionAt(loops, Value());
    } else {
      SmallVector<bool> valid(width, false);
      std::fill_n(valid.begin(), length - column, true);
      Value mask = arith::ConstantOp::create(
          b, DenseElementsAttr::get(VectorType::get({width}, b.getI1Type()),
                                    ArrayRef<bool>(valid)));
      lanes = arith::SelectOp::create(b, mask, contributionAt(loops, mask),
                                      identity());
    }
    accumulators[k % kAccumulators] =
        combine(accumulators[k % kAccumulators], lanes);
  }
  // A fixed tree: (a0 . a1) . (a2 . a3), then across lanes.
  Value lanes = combine(combine(accumulators[0], accumulators[1]),
                        combine(accumulators[2], accumulators[3]));
  vector::CombiningKind kind = vector::CombiningKind::ADD;
  switch (plan.combiner) {
  case Combiner::Add:
    kind = vector::CombiningKind::ADD;
    break;
  case Combiner::Mul:
    kind = vector::CombiningKind::MUL;
    break;
  case Combiner::Maximum:
    kind = vector::CombiningKind::MAXIMUMF;
    break;
  case Combiner::Minimum:
    kind = vector::CombiningKind::MINIMUMF;
    break;
  }
  // reassoc: LLVM reduces in a tree of shuffles instead of one lane after
  // another; the tree is fixed at compile time.
  Value reduced =
      vector::ReductionOp::create(b, kind, lanes, arith::FastMathFlags::reassoc);
  OpOperand *init = op.getDpsInitOperand(0);
  SmallVector<Value> outIndices =
      indicesOf(op.getMatchingIndexingMap(init), loops);
  Value before = memref::LoadOp::create(b, init->get(), outIndices);
  Value result = plan.contributionFirst ? combine(reduced, before)
                                        : combine(before, reduced);
  memref::StoreOp::create(b, result, init->get(), outIndices);
}

struct VectorizeReductionsPass
    : quantc::impl::VectorizeReductionsBase<VectorizeReductionsPass> {
  using VectorizeReductionsBase::VectorizeReductionsBase;

  void runOnOperation() override {
    std::vector<std::pair<linalg::GenericOp, ReductionPlan>> work;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (std::optional<ReductionPlan> plan = planReduction(op))
        work.push_back({op, *plan});
    });
    for (auto &[op, plan] : work) {
      ReductionLoopBuilder(op, plan, vectorWidth).emit();
      op->erase();
    }
  }
};

} // namespace
