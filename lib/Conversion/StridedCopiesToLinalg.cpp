//===- StridedCopiesToLinalg.cpp - strided memref.copy as linalg.copy -----===//
//
// memref.copy between buffers that are not both contiguous lowers to a call
// of MLIR's generic runtime copy (memrefCopy), which walks element by element
// through the strides; see the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace quantc {
#define GEN_PASS_DEF_STRIDEDCOPIESTOLINALG
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

struct StridedCopiesToLinalgPass
    : quantc::impl::StridedCopiesToLinalgBase<StridedCopiesToLinalgPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp copy) {
      auto source = dyn_cast<MemRefType>(copy.getSource().getType());
      auto target = dyn_cast<MemRefType>(copy.getTarget().getType());
      if (!source || !target || !source.hasStaticShape() ||
          !target.hasStaticShape() || source.getRank() == 0)
        return;
      // Contiguous copies become one memcpy, which is already fast.
      if (memref::isStaticShapeAndContiguousRowMajor(source) &&
          memref::isStaticShapeAndContiguousRowMajor(target))
        return;
      copies.push_back(copy);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(),
                                                  copy.getTarget());
    }
  }
};

} // namespace
