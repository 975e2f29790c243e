//===- CopyRepeatedReturnedBuffers.cpp - one buffer per returned value ----===//
//
// Works around an MLIR 22 crash in buffer-results-to-out-params on
// `return %a, %a`; see the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace quantc {
#define GEN_PASS_DEF_COPYREPEATEDRETURNEDBUFFERS
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

/// Gives every repeated operand of a func.return of memrefs its own copy, so
/// that `return %a, %a` becomes `return %a, %copy`.
struct CopyRepeatedReturnedBuffersPass
    : quantc::impl::CopyRepeatedReturnedBuffersBase<
          CopyRepeatedReturnedBuffersPass> {
  void runOnOperation() override {
    getOperation().walk([](func::ReturnOp returnOp) {
      llvm::SmallPtrSet<Value, 4> returned;
      OpBuilder builder(returnOp);
      for (OpOperand &operand : returnOp->getOpOperands()) {
        auto type = dyn_cast<MemRefType>(operand.get().getType());
        if (!type || returned.insert(operand.get()).second)
          continue;
        // Only statically shaped allocations are hoisted, so only they crash.
        if (!type.hasStaticShape())
          continue;
        Location loc = returnOp.getLoc();
        Value copy = memref::AllocOp::create(builder, loc, type);
        memref::CopyOp::create(builder, loc, operand.get(), copy);
        operand.set(copy);
      }
    });
  }
};

} // namespace
