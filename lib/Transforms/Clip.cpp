//===- Clip.cpp - qc-clip ----------------------------------------------------===//
//
// Not implemented yet: see include/quantc/Transforms/Passes.td and
// docs/quantization-pipeline.md. The pass fails loudly rather than doing
// nothing silently.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCCLIP
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

namespace {
struct QcClipPass : mlir::qc::impl::QcClipBase<QcClipPass> {
  using QcClipBase::QcClipBase;
  void runOnOperation() override {
    getOperation().emitError() << "qc-clip is not implemented yet";
    signalPassFailure();
  }
};
} // namespace
