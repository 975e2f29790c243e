//===- FoldWeights.cpp - qc-fold-weights ----------------------------------------------------===//
//
// Not implemented yet: see include/quantc/Transforms/Passes.td and
// docs/quantization-pipeline.md. The pass fails loudly rather than doing
// nothing silently.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCFOLDWEIGHTS
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

namespace {
struct QcFoldWeightsPass : mlir::qc::impl::QcFoldWeightsBase<QcFoldWeightsPass> {
  using QcFoldWeightsBase::QcFoldWeightsBase;
  void runOnOperation() override {
    getOperation().emitError() << "qc-fold-weights is not implemented yet";
    signalPassFailure();
  }
};
} // namespace
