//===- FillPadBorders.cpp - fill only what a padding copy leaves ----------===//
//
// A padded tensor bufferizes to a fill of the whole buffer followed by a copy
// of the unpadded tensor into its interior; the fill of the interior is
// overwritten at once. See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace quantc {
#define GEN_PASS_DEF_FILLPADBORDERS
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

/// The interior subview that a copy overwrites right after `fill`, or null.
memref::SubViewOp findOverwrittenInterior(linalg::FillOp fill) {
  Value buffer = fill.getDpsInitOperand(0)->get();
  auto type = dyn_cast<MemRefType>(buffer.getType());
  if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity() ||
      !buffer.getDefiningOp<memref::AllocOp>())
    return {};
  memref::SubViewOp interior;
  Operation *copy = nullptr;
  for (Operation *user : buffer.getUsers()) {
    if (user == fill.getOperation())
      continue;
    if (user->getBlock() != fill->getBlock())
      return {};
    if (user->isBeforeInBlock(fill))
      return {};
    auto subview = dyn_cast<memref::SubViewOp>(user);
    if (!subview || interior)
      continue;
    if (!subview.getResult().hasOneUse())
      continue;
    Operation *writer = *subview.getResult().getUsers().begin();
    bool copiesInto =
        (isa<memref::CopyOp>(writer) &&
         cast<memref::CopyOp>(writer).getTarget() == subview.getResult()) ||
        (isa<linalg::CopyOp>(writer) &&
         cast<linalg::CopyOp>(writer).getDpsInitOperand(0)->get() ==
             subview.getResult());
    if (!copiesInto || writer->getBlock() != fill->getBlock())
      continue;
    interior = subview;
    copy = writer;
  }
  if (!interior)
    return {};
  // No other use of the buffer between the fill and the copy.
  for (Operation *user : buffer.getUsers())
    if (user != fill.getOperation() && user != interior.getOperation() &&
        !copy->isBeforeInBlock(user))
      return {};
  // The copy must not read the buffer (a view of it would be one of the
  // uses rejected above).
  Value source = isa<memref::CopyOp>(copy)
                     ? cast<memref::CopyOp>(copy).getSource()
                     : cast<linalg::CopyOp>(copy).getDpsInputOperand(0)->get();
  if (source == buffer)
    return {};
  if (!interior.hasUnitStride() ||
      llvm::any_of(interior.getStaticOffsets(), ShapedType::isDynamic) ||
      llvm::any_of(interior.getStaticSizes(), ShapedType::isDynamic) ||
      interior.getSourceType().getRank() != interior.getType().getRank())
    return {};
  return interior;
}

struct FillPadBordersPass
    : quantc::impl::FillPadBordersBase<FillPadBordersPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::FillOp, memref::SubViewOp>> work;
    getOperation()->walk([&](linalg::FillOp fill) {
      if (fill.hasPureBufferSemantics())
        if (memref::SubViewOp interior = findOverwrittenInterior(fill))
          work.push_back({fill, interior});
    });
    IRRewriter rewriter(&getContext());
    for (auto [fill, interior] : work) {
      Value buffer = fill.getDpsInitOperand(0)->get();
      ArrayRef<int64_t> shape = cast<MemRefType>(buffer.getType()).getShape();
      ArrayRef<int64_t> offsets = interior.getStaticOffsets();
      ArrayRef<int64_t> sizes = interior.getStaticSizes();
      rewriter.setInsertionPoint(fill);
      Value value = fill.getDpsInputOperand(0)->get();
      // Slab d: the dimensions before d restricted to the interior, d to
      // the part before or after it, the dimensions after d whole. The slabs
      // cover the buffer minus the interior exactly once.
      for (size_t d = 0; d < shape.size(); ++d) {
        int64_t after = offsets[d] + sizes[d];
        for (auto [start, length] :
             {std::pair{int64_t(0), offsets[d]},
              std::pair{after, shape[d] - after}}) {
          if (length <= 0)
            continue;
          SmallVector<int64_t> slabOffsets, slabSizes;
          for (size_t j = 0; j < shape.size(); ++j) {
            if (j < d) {
              slabOffsets.push_back(offsets[j]);
              slabSizes.push_back(sizes[j]);
            } else if (j == d) {
              slabOffsets.push_back(start);
              slabSizes.push_back(length);
            } else {
              slabOffsets.push_back(0);
              slabSizes.push_back(shape[j]);
            }
          }
          SmallVector<int64_t> strides(shape.size(), 1);
          Value slab = memref::SubViewOp::create(rewriter, fill.getLoc(),
                                                 buffer, slabOffsets,
                                                 slabSizes, strides);
          linalg::FillOp::create(rewriter, fill.getLoc(), value, slab);
        }
      }
      rewriter.eraseOp(fill);
    }
  }
};

} // namespace
