//===- Clip.cpp - qc-clip -------------------------------------------------===//
//
// Chooses clipping ratios for quantized tensors. For a constant weight the
// search is exact and cheap: every candidate ratio is applied through the
// format library and the one with the least squared error wins (a coarse
// grid, then a finer one around the best). The ratio is written into the
// `clip` field of the qc.fake_quant's format, so every later stage (folding,
// kernels, reports) quantizes with it.
//
// Activations are clipped from calibration statistics (`stats=DIR`, written
// by quant-compile --calib): the chosen amax becomes the format's static
// `amax`, so an activation format with a per-tensor scale (int8 per tensor)
// or a second-level scale (NVFP4/NVINT4) gets its scale fixed at compile time.
// Methods, over the |x| histogram: minmax (the largest |x| seen), percentile,
// mse (least squared quantization error of the histogram's bin centres,
// through the format library) and entropy (least KL divergence between the
// histogram and its quantized version, as in TensorRT). Formats whose
// activation scales are per block or per row stay dynamic: there is no
// per-tensor scale to fix, and the pass says so.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "quantc/Formats/Format.h"
#include "quantc/Runtime/CalibrationStats.h"
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

//===----------------------------------------------------------------------===//
// Activations: an amax from the histogram
//===----------------------------------------------------------------------===//

/// Squared error of quantizing the histogram (bin centres weighted by their
/// counts) with `format` and the static amax `amax`.
double histogramError(const quantc::TensorStats &stats,
                      const std::vector<float> &centres,
                      const std::vector<double> &counts,
                      quantc::Format format, float amax) {
  format.granularity = quantc::Granularity::PerTensor;
  format.secondLevelScale = false;
  format.staticAmax = amax;
  format.clipRatio = 1.0f;
  std::string error;
  std::optional<std::vector<float>> q = quantc::fakeQuantize(
      centres.data(), {static_cast<int64_t>(centres.size())}, format, error);
  if (!q)
    return INFINITY;
  double sum = 0;
  for (size_t i = 0; i < centres.size(); ++i) {
    double d = static_cast<double>(centres[i]) - (*q)[i];
    sum += counts[i] * d * d;
  }
  return sum;
}

/// The amax minimizing histogramError: 128 candidates amax*k/128, then a
/// finer grid of 1/1024 around the best.
double mseAmax(const quantc::TensorStats &stats, const quantc::Format &format) {
  std::vector<float> centres;
  std::vector<double> counts;
  double width = stats.histogramRange / quantc::kHistogramBins;
  for (int i = 0; i < quantc::kHistogramBins; ++i)
    if (stats.histogram[i]) {
      centres.push_back(static_cast<float>((i + 0.5) * width));
      counts.push_back(static_cast<double>(stats.histogram[i]));
    }
  double best = stats.amax, bestError = INFINITY;
  auto consider = [&](double candidate) {
    if (!(candidate > 0) || candidate > stats.amax)
      return;
    double error = histogramError(stats, centres, counts, format,
                                  static_cast<float>(candidate));
    if (error < bestError) {
      bestError = error;
      best = candidate;
    }
  };
  for (int k = 128; k >= 1; --k)
    consider(stats.amax * k / 128);
  double coarse = best;
  for (int k = -8; k <= 8; ++k)
    consider(coarse + stats.amax * k / 1024);
  return best;
}

/// Levels of the non-negative half of the element grid (int8: 128).
int positiveLevels(const quantc::ElementType &e) {
  if (e.kind == quantc::ElementKind::Int)
    return 1 << (e.bits - 1);
  return 1 << (e.bits - 1); // codes with the sign bit clear
}

/// TensorRT-style entropy calibration: the threshold (a bin edge) whose
/// clipped histogram P and its `levels`-level quantization Q are closest in
/// KL divergence.
double entropyAmax(const quantc::TensorStats &stats, int levels) {
  const auto &h = stats.histogram;
  int bins = quantc::kHistogramBins;
  int last = bins;
  while (last > 0 && h[last - 1] == 0)
    --last;
  if (last <= levels)
    return stats.amax;
  double width = stats.histogramRange / bins;
  double bestKl = INFINITY;
  int bestEdge = last;
  std::vector<double> p, q;
  for (int edge = levels; edge <= last; ++edge) {
    p.assign(h.begin(), h.begin() + edge);
    double outliers = 0;
    for (int i = edge; i < bins; ++i)
      outliers += h[i];
    p[edge - 1] += outliers;
    // Q: the first `edge` bins (without the outliers) merged into `levels`
    // groups, each group's count spread over the bins where P is non-zero.
    q.assign(edge, 0.0);
    for (int g = 0; g < levels; ++g) {
      int begin = static_cast<int>(static_cast<int64_t>(g) * edge / levels);
      int end = static_cast<int>(static_cast<int64_t>(g + 1) * edge / levels);
      double total = 0;
      int nonEmpty = 0;
      for (int i = begin; i < end; ++i) {
        total += h[i];
        nonEmpty += p[i] != 0;
      }
      for (int i = begin; i < end; ++i)
        if (p[i] != 0)
          q[i] = total / nonEmpty;
    }
    double pSum = 0, qSum = 0;
    for (int i = 0; i < edge; ++i) {
      pSum += p[i];
      qSum += q[i];
    }
    double kl = 0;
    for (int i = 0; i < edge; ++i) {
      if (p[i] == 0)
        continue;
      double pi = p[i] / pSum;
      double qi = q[i] / qSum;
      kl += qi > 0 ? pi * std::log(pi / qi) : pi * 1e3; // unrepresented mass
    }
    if (kl < bestKl) {
      bestKl = kl;
      bestEdge = edge;
    }
  }
  return std::min(stats.amax, bestEdge * width);
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
    static constexpr StringRef methods[] = {"minmax", "percentile", "mse",
                                            "entropy"};
    if (!llvm::is_contained(methods, activations)) {
      getOperation().emitError()
          << "qc-clip: unknown activations mode '" << activations
          << "' (known: minmax, percentile, mse, entropy)";
      return signalPassFailure();
    }
    if (!(percentile > 0 && percentile <= 100)) {
      getOperation().emitError() << "qc-clip: percentile " << percentile
                                 << " is outside (0, 100]";
      return signalPassFailure();
    }
    if (statsFile.empty()) {
      if (activations != "minmax") {
        getOperation().emitError()
            << "qc-clip: activations=" << activations
            << " needs calibration statistics (stats=DIR, from quant-compile "
               "--calib)";
        return signalPassFailure();
      }
    } else if (failed(clipActivations())) {
      return signalPassFailure();
    }
    weightsPass();
  }

  /// Static amax of every quantized layer's activation format.
  LogicalResult clipActivations() {
    std::string error;
    std::optional<quantc::CalibrationStats> stats =
        quantc::CalibrationStats::read(statsFile, error);
    if (!stats) {
      getOperation().emitError() << "qc-clip: " << error;
      return failure();
    }
    for (quantc::QuantizedLayer &quantized :
         quantc::findQuantizedLayers(getOperation())) {
      quantc::QuantizableLayer &layer = quantized.layer;
      Value input = layer.op.getDpsInputs()[layer.activationInput];
      auto quant = input.getDefiningOp<FakeQuantOp>();
      if (!quant)
        continue; // weight-only
      quantc::Format format = quant.getFormat().getValue();
      bool perTensor = (format.granularity == quantc::Granularity::PerTensor &&
                        format.symmetric) ||
                       format.secondLevelScale;
      if (!perTensor) {
        if (activations != "minmax")
          layer.op->emitWarning()
              << "qc-clip: layer '" << layer.name << "': activation format <"
              << quantc::printFormat(format)
              << "> has a scale per block or row, computed when the model "
                 "runs; activations="
              << activations << " applies to per-tensor scales only";
        continue;
      }
      const quantc::TensorStats *tensor = stats->lookup(quantized.statsKey);
      if (!tensor || tensor->rows == 0) {
        layer.op->emitWarning()
            << "qc-clip: layer '" << layer.name << "': no calibration "
            << "statistics under '" << quantized.statsKey
            << "'; its activation scale stays dynamic";
        continue;
      }
      if (!(tensor->amax > 0))
        continue; // all zeros: nothing to fix
      double amax = tensor->amax;
      std::string method = activations;
      bool histogramMethod = method == "mse" || method == "entropy";
      if (histogramMethod && format.secondLevelScale) {
        // The error of NVFP4 depends on block amaxes the histogram does not
        // hold; its static s2 comes from the percentile or minmax.
        layer.op->emitWarning()
            << "qc-clip: layer '" << layer.name << "': activations=" << method
            << " models per-tensor scales; <" << quantc::printFormat(format)
            << "> has block scales under its static second-level scale, "
               "which gets the minmax amax";
        method = "minmax";
      }
      if (method == "percentile")
        amax = tensor->percentile(percentile / 100.0);
      else if (method == "mse")
        amax = mseAmax(*tensor, format);
      else if (method == "entropy")
        amax = entropyAmax(*tensor, positiveLevels(format.element));
      if (!(amax > 0) || !std::isfinite(amax))
        continue;
      Builder b(layer.op->getContext());
      layer.op->setAttr("qc.act_amax_minmax", b.getF64FloatAttr(tensor->amax));
      format.staticAmax = static_cast<float>(amax);
      quant.setFormatAttr(FormatAttr::get(layer.op->getContext(), format));
    }
    return success();
  }

  void weightsPass() {
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
