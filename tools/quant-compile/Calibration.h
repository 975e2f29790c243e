//===- Calibration.h - quant-compile's calibration run -----------*- C++ -*-===//
//
// Runs a copy of the quantized module, instrumented (qc-instrument,
// qc-observations-to-results), through the JIT once per calibration sample
// and accumulates the observed activations into CalibrationStats. Samples
// come from a directory (DIR/<sample>/<input name>.npy, samples in name
// order) or are synthetic (synthetic:N, seeded). Memory: the statistics plus
// one sample's inputs and activations, whatever N is.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TOOLS_QUANT_COMPILE_CALIBRATION_H
#define QUANTC_TOOLS_QUANT_COMPILE_CALIBRATION_H

#include "Report.h"

#include "quantc/Runtime/CalibrationStats.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace quantc {

struct CalibrationOptions {
  /// "DIR" or "synthetic:N".
  std::string source;
  /// Collect XᵀX (GPTQ, bit allocation).
  bool hessian = true;
  /// A layer whose XᵀX would be larger (MiB) goes without (qc-instrument's
  /// hessian-max-mib).
  int64_t hessianMaxMib = 2048;
  /// Seed of synthetic samples.
  uint64_t seed = 0;
  int threads = 0;
  /// Where the progress line goes (a bar on a terminal, a line per tenth of
  /// the samples otherwise); null for none.
  llvm::raw_ostream *progress = nullptr;
};

/// Calibrates `module` (left unchanged) and returns the statistics.
llvm::Expected<CalibrationStats> calibrate(mlir::ModuleOp module,
                                           const CalibrationOptions &options);

/// Runs the quantized `module` (before qc-fold-weights: fake-quantized or
/// packed weights, the same numerics as the compiled model) and the float
/// model (`floatModel` with its fake_quants dropped: a copy of the module
/// taken before any pass changed a weight) side by side on the first
/// `maxSamples` calibration samples, and measures each quantized layer's
/// output SQNR (layers matched by report name) and the model outputs' SQNR.
llvm::Expected<Fidelity> measureFidelity(mlir::ModuleOp floatModel,
                                         mlir::ModuleOp module,
                                         const CalibrationOptions &options,
                                         size_t maxSamples);

} // namespace quantc

#endif // QUANTC_TOOLS_QUANT_COMPILE_CALIBRATION_H
