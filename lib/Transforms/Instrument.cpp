//===- Instrument.cpp - qc-instrument ----------------------------------------------------===//
//
// Not implemented yet: see include/quantc/Transforms/Passes.td and
// docs/quantization-pipeline.md. The pass fails loudly rather than doing
// nothing silently.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCINSTRUMENT
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

namespace {
struct QcInstrumentPass : mlir::qc::impl::QcInstrumentBase<QcInstrumentPass> {
  using QcInstrumentBase::QcInstrumentBase;
  void runOnOperation() override {
    getOperation().emitError() << "qc-instrument is not implemented yet";
    signalPassFailure();
  }
};
} // namespace
