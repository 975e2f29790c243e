//===- Quantize.cpp - qc-quantize ----------------------------------------------------===//
//
// Not implemented yet: see include/quantc/Transforms/Passes.td and
// docs/quantization-pipeline.md. The pass fails loudly rather than doing
// nothing silently.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCQUANTIZE
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

namespace {
struct QcQuantizePass : mlir::qc::impl::QcQuantizeBase<QcQuantizePass> {
  using QcQuantizeBase::QcQuantizeBase;
  void runOnOperation() override {
    getOperation().emitError() << "qc-quantize is not implemented yet";
    signalPassFailure();
  }
};
} // namespace
