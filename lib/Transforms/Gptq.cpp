//===- Gptq.cpp - qc-gptq: error-compensating rounding of weights ---------===//
//
// For each quantized weight (LayerWeights.h) with calibration statistics:
//
//   %w  = arith.constant ... : tensor<KxNxf32>
//   %wq = qc.fake_quant %w as <int4_g32, axis = 0>
//
// becomes
//
//   %p  = qc.constant dense<...> : tensor<Bxi8> : !qc.packed<NxK, int4_g32>
//   %d  = qc.dequantize %p : !qc.packed<NxK, int4_g32> -> tensor<NxKxf32>
//   %wq = linalg.transpose ins(%d) ... permutation = [1, 0]
//
// A convolution's weight [out, in, kh, kw] is GPTQ'd as the matrix
// [out, kh·kw·in] against the Hessian of its input patches (one per group),
// and packed back in its own shape and format:
//
//   %p  = qc.constant ... : !qc.packed<OxIxKHxKW, <nvfp4, axis = 1>>
//   %wq = qc.dequantize %p : ... -> tensor<OxIxKHxKWxf32>
//
// holding the codes and scales GPTQ chose (quantc/Formats/Gptq.h), so that
// qc-fold-weights packs nothing again: a block scale GPTQ fixed before the
// block's later columns moved is not what quantize() would derive from the
// final values. The layers keep reading the same [K, N] tensor.
//
// What is measured on the way goes on the layers: qc.rounding = "gptq" and
// the layer output SQNR predicted on the calibration data,
// 10·log10(tr(W·H·Wᵀ) / tr(ΔW·H·ΔWᵀ)), for GPTQ and for round-to-nearest.
// GPTQ minimizes a damped objective; where it does not beat round-to-
// nearest on the undamped H (tiny calibration sets), the layer keeps
// round-to-nearest, with a remark.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "quantc/Formats/Gptq.h"
#include "quantc/Transforms/LayerWeights.h"

#include "llvm/Support/FormatVariadic.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCGPTQ
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

struct QcGptqPass : mlir::qc::impl::QcGptqBase<QcGptqPass> {
  using QcGptqBase::QcGptqBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (statsDir.empty()) {
      module.emitError() << "qc-gptq: stats=DIR is required (the calibration "
                            "statistics directory with each layer's XᵀX)";
      return signalPassFailure();
    }
    std::string error;
    std::optional<quantc::CalibrationStats> stats =
        quantc::CalibrationStats::read(statsDir, error);
    if (!stats) {
      module.emitError() << "qc-gptq: " << error;
      return signalPassFailure();
    }
    quantc::GptqOptions options;
    options.dampening = damp;
    options.blockSize = blockSize;
    options.actOrder = actOrder;

    std::vector<std::string> skipped;
    std::vector<quantc::LayerWeight> weights =
        quantc::collectLayerWeights(module, skipped);
    for (const std::string &why : skipped)
      mlir::emitWarning(module.getLoc())
          << "qc-gptq: layer " << why << "; it keeps round-to-nearest";

    int rounded = 0, kept = 0;
    double gainSum = 0;
    for (quantc::LayerWeight &weight : weights) {
      std::string whyNot;
      Location loc = weight.layers.front().layer.op->getLoc();
      std::optional<std::vector<double>> hessian =
          quantc::layerHessian(weight, *stats, whyNot);
      if (!hessian) {
        mlir::emitWarning(loc) << "qc-gptq: layer '" << weight.name
                               << "' keeps round-to-nearest: " << whyNot;
        ++kept;
        continue;
      }
      std::optional<std::vector<quantc::GptqHessian>> prepared =
          quantc::prepareLayerHessian(weight, *hessian, options, whyNot);
      std::optional<quantc::GptqResult> result;
      if (prepared)
        result = quantc::gptqQuantizeLayer(weight, *prepared, weight.format,
                                           whyNot);
      if (!result) {
        mlir::emitWarning(loc) << "qc-gptq: layer '" << weight.name
                               << "' keeps round-to-nearest: " << whyNot;
        ++kept;
        continue;
      }
      std::optional<std::vector<float>> nearest = quantc::fakeQuantize(
          weight.matrix.data(), {weight.rows, weight.columns}, weight.format,
          error);
      if (!nearest) {
        weight.fakeQuant.emitError() << "qc-gptq: " << error;
        return signalPassFailure();
      }
      std::vector<float> zeros(weight.matrix.size(), 0.0f);
      double signal = quantc::layerError(weight, *hessian, zeros.data());
      double gptqError =
          quantc::layerError(weight, *hessian, result->dequantized.data());
      double nearestError = quantc::layerError(weight, *hessian, nearest->data());
      double gptqSqnr = quantc::decibels(signal, gptqError);
      double nearestSqnr = quantc::decibels(signal, nearestError);

      MLIRContext *ctx = module.getContext();
      auto f64 = [&](double v) {
        return FloatAttr::get(Float64Type::get(ctx), v);
      };
      bool useGptq = gptqError < nearestError;
      for (quantc::QuantizedLayer &layer : weight.layers) {
        Operation *op = layer.layer.op.getOperation();
        // The fake_quant goes away: what earlier passes recorded on it
        // (qc.weight_qsnr, ...) moves to the layer, as qc-fold-weights does.
        if (useGptq)
          for (NamedAttribute attr : weight.fakeQuant->getDiscardableAttrs())
            if (!op->hasAttr(attr.getName()))
              op->setAttr(attr.getName(), attr.getValue());
        op->setAttr("qc.rounding",
                    StringAttr::get(ctx, useGptq ? "gptq" : "rtn"));
        op->setAttr("qc.layer_sqnr", f64(useGptq ? gptqSqnr : nearestSqnr));
        op->setAttr("qc.layer_sqnr_rtn", f64(nearestSqnr));
      }
      if (!useGptq) {
        mlir::emitRemark(loc)
            << "qc-gptq: layer '" << weight.name
            << "' keeps round-to-nearest: GPTQ does not lower its output "
               "error on the calibration data ("
            << llvm::formatv("{0:F2} dB vs {1:F2} dB", gptqSqnr, nearestSqnr)
                   .str()
            << ")";
        ++kept;
        continue;
      }

      OpBuilder b(weight.fakeQuant);
      Value replacement =
          quantc::buildQuantizedWeight(b, weight, result->quantized);
      weight.fakeQuant.getResult().replaceAllUsesWith(replacement);
      weight.fakeQuant.erase();
      if (weight.constant->use_empty())
        weight.constant.erase();
      ++rounded;
      gainSum += gptqSqnr - nearestSqnr;
    }

    if (rounded)
      mlir::emitRemark(module.getLoc())
          << "qc-gptq: " << rounded << " layer(s) rounded with GPTQ, "
          << kept << " kept round-to-nearest; layer output SQNR on the "
          << "calibration data +"
          << llvm::formatv("{0:F2}", gainSum / rounded).str()
          << " dB on average";
    else
      mlir::emitRemark(module.getLoc())
          << "qc-gptq: no layer rounded with GPTQ (" << kept
          << " kept round-to-nearest)";
  }
};

} // namespace
