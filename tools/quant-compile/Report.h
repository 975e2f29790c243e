//===- Report.h - quant-compile --report ---------------------------*- C++ -*-===//
//
// What quant-compile decided and measured, for people (Markdown, a PNG plot
// through python3-matplotlib) and for scripts (JSON next to it):
//
//   per layer   weight and activation formats, bits per weight with scales,
//               weight QSNR (the weights compiled, after clipping, GPTQ and
//               bias correction, vs float), the layer's output SQNR on the
//               calibration data
//               (the quantized model's layer output vs the float model's:
//               the error accumulated up to and including it), the rotation
//               decision (fused / online / rejected), a static activation
//               amax when calibration set one;
//   model       output SQNR vs float on the calibration data, weight bytes
//               float vs packed, compile time per stage.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TOOLS_QUANT_COMPILE_REPORT_H
#define QUANTC_TOOLS_QUANT_COMPILE_REPORT_H

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace quantc {

struct LayerReport {
  std::string name;
  std::string weightFormat;
  std::string activationFormat; // empty: float activations
  std::vector<int64_t> weightShape;
  double bitsPerWeight = 0;
  int64_t floatBytes = 0, packedBytes = 0;
  double weightQsnr = 0;
  std::optional<double> outputSqnr;
  std::string rotation; // fused | online | rejected | "" (none)
  std::optional<double> staticAmax;
};

/// The output SQNRs a fidelity run measured (Calibration.h).
struct Fidelity {
  int64_t samples = 0;
  /// By layer name.
  std::map<std::string, double> layerOutputSqnr;
  /// Per model output, in order.
  std::vector<std::pair<std::string, double>> modelOutputSqnr;
};

/// A quantized layer's name in reports: its name, with the "#2" of a second
/// layer of the same name (the statistics key without ":input").
std::string reportName(const struct QuantizedLayer &layer);

class Report {
public:
  std::string model, recipe, calibration;
  void addStageTime(const std::string &stage, double seconds) {
    stages.emplace_back(stage, seconds);
  }
  /// Reads the quantized layers of `module` before qc-fold-weights, as it
  /// will be compiled (fake-quantized or packed weights), and measures each
  /// weight's QSNR against the float weight of the same layer in
  /// `floatModel` (a copy taken before any pass changed a weight).
  void collectLayers(mlir::ModuleOp floatModel, mlir::ModuleOp module);
  void setFidelity(const Fidelity &fidelity);

  /// Writes `path` (Markdown), path with .json, and a PNG with .png when
  /// python3-matplotlib is there (`plotNote` says why not otherwise).
  bool write(const std::string &path, std::string &error,
             std::string &plotNote) const;

private:
  std::vector<LayerReport> layers;
  std::vector<std::pair<std::string, double>> stages;
  std::optional<Fidelity> fidelity;
};

} // namespace quantc

#endif // QUANTC_TOOLS_QUANT_COMPILE_REPORT_H
