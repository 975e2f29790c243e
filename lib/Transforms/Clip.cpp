//===- Clip.cpp - qc-clip -------------------------------------------------===//
//
// Chooses clipping ratios for quantized tensors. For a constant weight the
// search is exact and cheap: every candidate ratio is applied through the
// format library and the one with the least squared error wins (a coarse
// grid, then a finer one around the best). The ratio is written into the
// `clip` field of the qc.fake_quant's format, so every later stage (folding,
// kernels, reports) quantizes with it.
//
// Activation clipping needs calibration statistics (qc-instrument and the
// calibration run); until they exist, anything but minmax is an error rather
// than a silent no-op.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "quantc/Formats/Format.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <cmath>

namespace mlir::qc {
#define GEN_PASS_DEF_QCCLIP
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// The f32 values of a constant float tensor (dense or resource, f32/f16/
/// bf16), or nullopt.
std::optional<std::vector<float>> constantValues(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  if (!constant)
    return std::nullopt;
  return quantc::readFloatElements(constant.getValue());
}

/// Sum of squared quantization errors of `x` under `format`, in double.
double squaredError(const std::vector<float> &x,
                    const std::vector<int64_t> &shape,
                    const quantc::Format &format) {
  std::string error;
  std::optional<std::vector<float>> q =
      quantc::fakeQuantize(x.data(), shape, format, error);
  if (!q)
    return INFINITY;
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = static_cast<double>(x[i]) - (*q)[i];
    sum += d * d;
  }
  return sum;
}

/// The clip ratio in (0, 1] minimizing the squared error: 0.50..1.00 in steps
/// of 0.05, then +-0.04 in steps of 0.01 around the best. Ties keep the
/// larger ratio (less clipping).
float searchClipRatio(const std::vector<float> &x,
                      const std::vector<int64_t> &shape,
                      quantc::Format format, double &bestError,
                      double &minmaxError) {
  auto errorAt = [&](float ratio) {
    format.clipRatio = ratio;
    return squaredError(x, shape, format);
  };
  minmaxError = errorAt(1.0f);
  float best = 1.0f;
  bestError = minmaxError;
  auto consider = [&](float ratio) {
    if (ratio <= 0.0f || ratio > 1.0f)
      return;
    double error = errorAt(ratio);
    if (error < bestError) {
      bestError = error;
      best = ratio;
    }
  };
  for (int step = 19; step >= 10; --step)
    consider(step * 0.05f);
  float coarse = best;
  for (int step = -4; step <= 4; ++step)
    if (step != 0)
      consider(coarse + step * 0.01f);
  return best;
}

double qsnr(double signal, double error) {
  return error == 0 ? INFINITY : 10.0 * std::log10(signal / error);
}

struct QcClipPass : mlir::qc::impl::QcClipBase<QcClipPass> {
  using QcClipBase::QcClipBase;

  void runOnOperation() override {
    if (weights != "mse" && weights != "minmax") {
      getOperation().emitError()
          << "qc-clip: unknown weights mode '" << weights
          << "' (known: minmax, mse)";
      return signalPassFailure();
    }
    if (activations != "minmax") {
      getOperation().emitError()
          << "qc-clip: activations=" << activations
          << " needs calibration statistics, which quantc cannot collect "
             "yet (qc-instrument); use activations=minmax";
      return signalPassFailure();
    }
    if (weights == "minmax")
      return;

    getOperation().walk([&](FakeQuantOp op) {
      const quantc::Format &format = op.getFormat().getValue();
      if (format.clipRatio != 1.0f)
        return; // chosen explicitly
      std::optional<std::vector<float>> values = constantValues(op.getInput());
      if (!values)
        return; // activations: see above
      std::vector<int64_t> shape(
          cast<RankedTensorType>(op.getType()).getShape());
      double bestError, minmaxError;
      float ratio =
          searchClipRatio(*values, shape, format, bestError, minmaxError);
      double signal = 0;
      for (float v : *values)
        signal += static_cast<double>(v) * v;
      // Record the measurement for reports, whatever the decision.
      op->setAttr("qc.weight_qsnr_minmax",
                  FloatAttr::get(Float64Type::get(op.getContext()),
                                 qsnr(signal, minmaxError)));
      op->setAttr("qc.weight_qsnr",
                  FloatAttr::get(Float64Type::get(op.getContext()),
                                 qsnr(signal, bestError)));
      if (ratio == 1.0f)
        return;
      quantc::Format clipped = format;
      clipped.clipRatio = ratio;
      op.setFormatAttr(FormatAttr::get(op.getContext(), clipped));
    });
  }
};

} // namespace
