//===- Quantize.cpp - qc-quantize: apply a recipe as fake-quantization ----===//
//
// Every quantizable layer (QuantizableLayers.h) gets
//
//   %w  = arith.constant ...                    the weight, as imported
//   %wq = qc.fake_quant %w as <weight format, axis = K in %w>
//   ... the layout chain to the layer, cloned onto %wq ...
//   %xq = qc.fake_quant %x as <activation format, axis = K in %x>
//   %y  = linalg.matmul ins(%xq, %wq') ...
//
// The weight's fake_quant sits on the constant itself so that the passes
// after this one (rotation, clipping, GPTQ, weight folding) find the float
// weight as the fake_quant's operand. Layers whose reduction dimension the
// format cannot block (K not a multiple of the block size) stay in float with
// a warning that names them: a silent wrong answer is worse than a float
// layer.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"
#include "quantc/Transforms/QuantizableLayers.h"
#include "quantc/Transforms/Recipes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCQUANTIZE
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// `format` quantized along `axis` of a tensor of `shape`; an error message
/// naming `what` when the shape does not fit.
static std::optional<quantc::Format>
formatAlong(quantc::Format format, int64_t axis, ArrayRef<int64_t> shape,
            StringRef what, std::string &whyNot) {
  if (format.granularity != quantc::Granularity::PerTensor &&
      format.granularity != quantc::Granularity::Block2D)
    format.axis = quantc::formatAxis(axis, shape.size());
  std::string error;
  if (!quantc::scaleShape(shape.vec(), format, error)) {
    whyNot = (what + " of shape " + formatShape(shape) +
              " does not fit format '" + quantc::printFormat(format) +
              "': " + error)
                 .str();
    return std::nullopt;
  }
  return format;
}

struct QcQuantizePass : mlir::qc::impl::QcQuantizeBase<QcQuantizePass> {
  using QcQuantizeBase::QcQuantizeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    maybeDead.clear();
    std::string error;
    std::optional<quantc::Recipe> loaded = quantc::loadRecipe(recipe, error);
    if (!loaded) {
      module.emitError() << "qc-quantize: " << error;
      return signalPassFailure();
    }

    SmallVector<linalg::LinalgOp> candidates;
    module.walk([&](linalg::LinalgOp op) {
      if (linalg::isaContractionOpInterface(op) ||
          linalg::isaConvolutionOpInterface(op))
        candidates.push_back(op);
    });

    int quantized = 0, skippedByRecipe = 0, leftInFloat = 0;
    for (linalg::LinalgOp op : candidates) {
      std::string whyNot;
      std::optional<quantc::QuantizableLayer> layer =
          quantc::matchQuantizableLayer(op, whyNot);
      if (!layer) {
        if (!whyNot.empty()) {
          mlir::emitWarning(op->getLoc()) << "layer '" << quantc::layerName(op)
                            << "' left in float: " << whyNot;
          ++leftInFloat;
        }
        continue;
      }
      std::optional<quantc::LayerFormats> formats =
          loaded->formatsFor(layer->name);
      if (!formats) {
        ++skippedByRecipe;
        continue;
      }
      if (failed(quantizeLayer(*layer, *formats, whyNot))) {
        mlir::emitWarning(op->getLoc()) << "layer '" << layer->name
                          << "' left in float: " << whyNot;
        ++leftInFloat;
        continue;
      }
      ++quantized;
    }

    // The original layout chains, if no other layer reads them.
    for (Operation *op : maybeDead)
      if (op->use_empty())
        op->erase();
    mlir::emitRemark(module.getLoc()) << "qc-quantize: recipe '" << loaded->name
                        << "' quantized " << quantized << " layer(s); "
                        << skippedByRecipe << " skipped by the recipe, "
                        << leftInFloat << " left in float";
  }

  /// Wraps the layer's weight constant and activation in qc.fake_quant.
  LogicalResult quantizeLayer(quantc::QuantizableLayer layer,
                              const quantc::LayerFormats &formats,
                              std::string &whyNot) {
    Operation *op = layer.op.getOperation();
    Value weightSource = layer.weight.source;
    auto sourceType = cast<RankedTensorType>(weightSource.getType());
    std::optional<quantc::Format> weightFormat =
        formatAlong(*formats.weights, layer.weight.dims.front(),
                    sourceType.getShape(), "the weight", whyNot);
    if (!weightFormat)
      return failure();
    Value activation = layer.op.getDpsInputs()[layer.activationInput];
    std::optional<quantc::Format> activationFormat;
    if (formats.activations) {
      activationFormat = formatAlong(
          *formats.activations, layer.activationAxis,
          cast<RankedTensorType>(activation.getType()).getShape(),
          "the activation", whyNot);
      if (!activationFormat)
        return failure();
    }

    MLIRContext *ctx = op->getContext();
    Location loc = op->getLoc();
    OpBuilder b(ctx);
    // The weight: fake_quant right after the constant, then this layer's own
    // copy of the layout chain (other users keep the original).
    b.setInsertionPointAfterValue(weightSource);
    Value weight = FakeQuantOp::create(b, loc, weightSource,
                                       FormatAttr::get(ctx, *weightFormat));
    IRMapping mapping;
    mapping.map(weightSource, weight);
    for (Operation *chainOp : layer.weight.ops) {
      b.setInsertionPoint(chainOp);
      weight = b.clone(*chainOp, mapping)->getResult(0);
    }
    op->setOperand(layer.weightInput, weight);
    for (Operation *chainOp : llvm::reverse(layer.weight.ops))
      maybeDead.insert(chainOp);

    if (activationFormat) {
      b.setInsertionPoint(op);
      op->setOperand(layer.activationInput,
                     FakeQuantOp::create(b, loc, activation,
                                         FormatAttr::get(ctx, *activationFormat)));
    }
    return success();
  }

  /// Layout chains replaced by a layer's own copy, erased at the end when no
  /// other layer reads them (in reverse chain order, users first).
  llvm::SetVector<Operation *> maybeDead;
};

} // namespace
