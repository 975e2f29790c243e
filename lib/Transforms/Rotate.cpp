//===- Rotate.cpp - qc-rotate ----------------------------------------------------===//
//
// Not implemented yet: see include/quantc/Transforms/Passes.td and
// docs/quantization-pipeline.md. The pass fails loudly rather than doing
// nothing silently.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCROTATE
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

namespace {
struct QcRotatePass : mlir::qc::impl::QcRotateBase<QcRotatePass> {
  using QcRotateBase::QcRotateBase;
  void runOnOperation() override {
    getOperation().emitError() << "qc-rotate is not implemented yet";
    signalPassFailure();
  }
};
} // namespace
