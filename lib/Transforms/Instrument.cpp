//===- Instrument.cpp - qc-instrument -------------------------------------===//
//
// Puts a `qc.observe` on the activation input of every quantized layer (one
// whose weight is a qc.fake_quant of a constant), so that a calibration run
// collects what the accuracy passes need: amax and the |x| histogram for
// activation clipping and static scales, per-channel amax and means for
// SmoothQuant and bias correction, and XᵀX for GPTQ and bit allocation.
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

#include "quantc/Runtime/CalibrationStats.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCINSTRUMENT
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// A weight the recipe quantized: a qc.fake_quant of a float constant.
bool isQuantizedWeight(Value value) {
  auto quant = value.getDefiningOp<FakeQuantOp>();
  return quant && quantc::isFloatConstant(quant.getInput());
}

struct QcInstrumentPass : mlir::qc::impl::QcInstrumentBase<QcInstrumentPass> {
  using QcInstrumentBase::QcInstrumentBase;

  void runOnOperation() override {
    SmallVector<quantc::QuantizableLayer> layers;
    getOperation().walk([&](linalg::LinalgOp op) {
      std::string whyNot;
      if (auto layer =
              quantc::matchQuantizableLayer(op, whyNot, isQuantizedWeight))
        layers.push_back(*layer);
    });

    llvm::StringSet<> used;
    for (quantc::QuantizableLayer &layer : layers) {
      Value activation = layer.op.getDpsInputs()[layer.activationInput];
      if (auto quant = activation.getDefiningOp<FakeQuantOp>())
        activation = quant.getInput();
      if (!isa<RankedTensorType>(activation.getType()))
        continue;
      // Two layers of one name (an ONNX node lowered to several
      // contractions) get distinct keys in program order.
      std::string key = quantc::activationStatsKey(layer.name);
      for (int suffix = 2; used.contains(key); ++suffix)
        key = quantc::activationStatsKey(layer.name + "#" +
                                         std::to_string(suffix));
      used.insert(key);

      SmallVector<StringRef> stats = {"amax", "channel_amax", "histogram"};
      // XᵀX of a convolution's input would need its patches (im2col); only
      // contractions get one.
      if (hessian && layer.kind == quantc::LayerKind::Contraction)
        stats.push_back("hessian");
      OpBuilder b(layer.op);
      auto rank = cast<RankedTensorType>(activation.getType()).getRank();
      int64_t axis = layer.activationAxis == rank - 1 ? -1 : layer.activationAxis;
      ObserveOp::create(b, layer.op->getLoc(), b.getStringAttr(key),
                        activation, b.getStrArrayAttr(stats),
                        b.getI64IntegerAttr(axis));
    }
  }
};

} // namespace
