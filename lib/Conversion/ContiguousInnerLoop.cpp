//===- ContiguousInnerLoop.cpp - output's last dimension innermost --------===//
//
// Reorders the loops of linalg reductions (matmul, convolution) so that the
// innermost loop walks the output's last, contiguous dimension and LLVM can
// vectorize it; see the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace quantc {
#define GEN_PASS_DEF_CONTIGUOUSINNERLOOP
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

/// Whether `expr` walks dimension `dim` with unit stride: `dim` itself or
/// `dim + e` with `e` independent of `dim` (a convolution's `ow + kw`).
static bool isUnitStrideIn(AffineExpr expr, unsigned dim) {
  if (auto dimExpr = dyn_cast<AffineDimExpr>(expr))
    return dimExpr.getPosition() == dim;
  auto sum = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!sum || sum.getKind() != AffineExprKind::Add)
    return false;
  AffineExpr lhs = sum.getLHS(), rhs = sum.getRHS();
  return (isUnitStrideIn(lhs, dim) && !rhs.isFunctionOfDim(dim)) ||
         (isUnitStrideIn(rhs, dim) && !lhs.isFunctionOfDim(dim));
}

/// The loop order ContiguousInnerLoopPass gives `op`, as the old loop index
/// of each new position, or nothing to keep the order it has.
static std::optional<SmallVector<unsigned>>
contiguousInnerLoopOrder(linalg::LinalgOp op) {
  unsigned numLoops = op.getNumLoops();
  if (numLoops < 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  if (!linalg::isReductionIterator(op.getIteratorTypesArray().back()))
    return std::nullopt;
  AffineMap outputMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outputMap.getNumResults() == 0)
    return std::nullopt;
  auto innerDim = dyn_cast<AffineDimExpr>(outputMap.getResults().back());
  if (!innerDim)
    return std::nullopt;
  unsigned inner = innerDim.getPosition();
  // Every operand that the new inner loop moves through must be walked along
  // its last, contiguous dimension; otherwise the reordering would trade a
  // dot product for strided accesses.
  for (AffineMap map : op.getIndexingMapsArray()) {
    for (auto [position, expr] : llvm::enumerate(map.getResults())) {
      if (!expr.isFunctionOfDim(inner))
        continue;
      if (position + 1 != map.getNumResults() || !isUnitStrideIn(expr, inner))
        return std::nullopt;
    }
  }
  SmallVector<unsigned> order;
  for (unsigned dim = 0; dim < numLoops; ++dim)
    if (dim != inner)
      order.push_back(dim);
  order.push_back(inner);
  return order;
}

namespace {

/// Reorders the loops of linalg ops whose innermost loop is a reduction so
/// that the innermost loop walks the output's last (contiguous) dimension.
struct ContiguousInnerLoopPass
    : quantc::impl::ContiguousInnerLoopBase<ContiguousInnerLoopPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation()->walk(
        [&](linalg::LinalgOp op) { candidates.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      std::optional<SmallVector<unsigned>> order = contiguousInnerLoopOrder(op);
      if (!order)
        continue;
      rewriter.setInsertionPoint(op);
      auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
      if (!generic) {
        FailureOr<linalg::GenericOp> generalized =
            linalg::generalizeNamedOp(rewriter, op);
        if (failed(generalized))
          continue;
        generic = *generalized;
      }
      (void)linalg::interchangeGenericOp(rewriter, generic, *order);
    }
  }
};

} // namespace
