//===- Instrument.cpp - qc-instrument -------------------------------------===//
//
// Puts a `qc.observe` on the activation input of every quantized layer (one
// whose weight is a qc.fake_quant of a constant), so that a calibration run
// collects what the accuracy passes need: amax and the |x| histogram for
// activation clipping and static scales, per-channel amax and means for
// SmoothQuant and bias correction, and XᵀX for GPTQ and bit allocation.
//
// A convolution's Hessian is over its input patches (im2col): its observe
// carries the patch geometry (kernel, strides, dilations, group axis; see
// PatchGeometry in CalibrationStats.h), read from the convolution's
// indexing maps. A convolution whose geometry cannot be read gets no
// Hessian, and GPTQ then says so for that layer.
//
// The observed tensor is the float activation the layer's activation
// quantizer sees: the operand of its qc.fake_quant when it has one (after
// qc-rotate, the rotated activation), the operand itself for weight-only
// recipes. Statistics are keyed by the layer's name
// (quantc::activationStatsKey), which is how qc-clip, qc-gptq, ... find them
// again in the uninstrumented module.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "quantc/Transforms/LayerWeights.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCINSTRUMENT
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

struct QcInstrumentPass : mlir::qc::impl::QcInstrumentBase<QcInstrumentPass> {
  using QcInstrumentBase::QcInstrumentBase;

  /// Whether the layer's XᵀX (a columns² f64 matrix per group: K for a
  /// contraction, kh·kw·in/groups for a convolution's patches) stays within
  /// hessian-max-mib; a warning says which layer goes without otherwise.
  bool hessianFits(const quantc::QuantizedLayer &quantized,
                   RankedTensorType type,
                   const std::optional<quantc::ConvPatches> &patches) {
    int64_t axis = quantized.layer.activationAxis;
    if (axis < 0 || axis >= type.getRank())
      return true; // the statistics reject it with their own message
    int64_t channels = type.getDimSize(axis);
    if (ShapedType::isDynamic(channels))
      return true; // the statistics reject it with their own message
    int64_t groups = patches ? std::max<int64_t>(patches->groups, 1) : 1;
    double columns = patches ? static_cast<double>(channels / groups) *
                                   patches->geometry.taps()
                             : static_cast<double>(channels);
    double mib = groups * columns * columns * 8.0 / (1 << 20);
    if (mib <= static_cast<double>(hessianMaxMib))
      return true;
    emitWarning(quantized.layer.op->getLoc())
        << "qc-instrument: layer '" << quantized.layer.name
        << "': its input Hessian would take " << llvm::formatv("{0:F1}", mib)
        << " MiB (more than hessian-max-mib="
        << static_cast<int64_t>(hessianMaxMib)
        << "); not collected, so GPTQ keeps round-to-nearest for it";
    return false;
  }

  void runOnOperation() override {
    for (quantc::QuantizedLayer &quantized :
         quantc::findQuantizedLayers(getOperation())) {
      const quantc::QuantizableLayer &layer = quantized.layer;
      auto type = dyn_cast<RankedTensorType>(quantized.activation.getType());
      if (!type)
        continue;
      SmallVector<StringRef> stats = {"amax", "channel_amax", "histogram"};
      std::optional<quantc::ConvPatches> patches;
      if (hessian && layer.kind == quantc::LayerKind::Convolution) {
        std::string whyNot;
        patches = quantc::convPatches(layer, whyNot);
      }
      if (hessian &&
          (layer.kind == quantc::LayerKind::Contraction || patches) &&
          hessianFits(quantized, type, patches))
        stats.push_back("hessian");
      OpBuilder b(layer.op);
      auto observe = ObserveOp::create(
          b, layer.op->getLoc(), b.getStringAttr(quantized.statsKey),
          quantized.activation, b.getStrArrayAttr(stats),
          b.getI64IntegerAttr(
              quantc::formatAxis(layer.activationAxis, type.getRank())));
      if (patches) {
        const quantc::PatchGeometry &geometry = patches->geometry;
        observe.setKernel(geometry.kernel);
        observe.setStrides(geometry.strides);
        observe.setDilations(geometry.dilations);
        if (geometry.groupAxis >= 0)
          observe.setGroupAxis(geometry.groupAxis);
      }
    }
  }
};

} // namespace
