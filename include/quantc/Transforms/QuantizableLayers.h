//===- QuantizableLayers.h - Find the layers quantization applies to -*- C++ -*-===//
//
// A quantizable layer (docs/quantization-pipeline.md) is a contraction or a
// convolution with one constant operand, its weight; the other operand is its
// activation. The weight may reach the layer through ops that only move or
// replicate elements (linalg.transpose, linalg.broadcast, tensor.collapse_shape,
// tensor.expand_shape and tensor.reshape), as the ONNX importer emits them for Gemm's transB
// or MatMul's batch broadcasting: a *layout chain*. Quantization along the
// reduction axis commutes with such a chain as long as the reduction axis
// maps to one dimension of the same size in the source, so the weight's
// qc.fake_quant sits directly on the constant.
//
// qc-quantize, qc-fold-weights (and the accuracy passes that need to find the
// weight and the activation of a layer) share these helpers.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TRANSFORMS_QUANTIZABLELAYERS_H
#define QUANTC_TRANSFORMS_QUANTIZABLELAYERS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Value.h"

#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// The name of the layer an op belongs to: the NameLoc's name (inside fused
/// or call-site locations too), else the location printed as text.
std::string layerName(mlir::Operation *op);

/// `value` traced up its layout chain. `dims[i]` is the source dimension that
/// the i-th traced dimension of `value` comes from, or -1 for a dimension a
/// linalg.broadcast added (every index reads the same source elements).
struct LayoutTrace {
  mlir::Value source;
  llvm::SmallVector<int64_t> dims;
  /// The chain, from the op that reads `source` to the op that defines
  /// `value` (empty when `value` is the source).
  llvm::SmallVector<mlir::Operation *> ops;
};

/// Follows `value` up through transpose / broadcast / reshapes while each of
/// `dims` (dimensions of `value`) keeps mapping to one source dimension with
/// the same coordinates (or to a broadcast). A run of reshapes (collapse,
/// expand, tensor.reshape) is traced as one row-major reshape, so the
/// importer's collapse-to-1-D-then-expand keeps its dimensions. Stops at the
/// first other op; never fails, the trace may be empty.
LayoutTrace traceLayoutChain(mlir::Value value, llvm::ArrayRef<int64_t> dims);

/// True when `value` is an arith.constant of a float tensor.
bool isFloatConstant(mlir::Value value);

enum class LayerKind { Contraction, Convolution };

/// A quantizable layer: which input is the weight, which the activation, and
/// the reduction axis of each (the axis their formats quantize along).
struct QuantizableLayer {
  mlir::linalg::LinalgOp op;
  LayerKind kind = LayerKind::Contraction;
  std::string name;
  unsigned weightInput = 1;
  unsigned activationInput = 0;
  /// The reduction axis in the weight and activation operands.
  int64_t weightAxis = 0;
  int64_t activationAxis = 0;
  /// Its size, K.
  int64_t reductionSize = 0;
  /// The weight traced to its source (a constant, or the constant's
  /// qc.fake_quant once quantized); trace.dims[0] is the reduction axis.
  LayoutTrace weight;
};

/// Matches `op` as a quantizable layer whose weight traces to a float
/// constant or to the result of an op accepted by `isWeightSource`. Returns
/// nullopt and sets `whyNot` when `op` is a contraction/convolution that
/// cannot be quantized (two constant operands, several reduction dims, ...);
/// leaves `whyNot` empty for ops that are not layers at all.
std::optional<QuantizableLayer>
matchQuantizableLayer(mlir::linalg::LinalgOp op, std::string &whyNot,
                      llvm::function_ref<bool(mlir::Value)> isWeightSource =
                          isFloatConstant);

/// A quantized weight: a qc.fake_quant of a float constant (what qc-quantize
/// puts on the weights of the layers a recipe quantizes).
bool isQuantizedWeight(mlir::Value value);

/// A weight an accuracy pass quantized already: qc.dequantize of a
/// qc.constant in the canonical layout (qc-gptq's codes and scales), which
/// qc-fold-weights ships as it is.
bool isPackedWeight(mlir::Value value);

/// A quantized layer and the key of its activation statistics.
struct QuantizedLayer {
  QuantizableLayer layer;
  /// quantc::activationStatsKey(name), with "#2", "#3", ... appended to the
  /// name for later layers of the same name, in program order.
  std::string statsKey;
  /// The float activation the layer's activation quantizer sees: the operand
  /// of its qc.fake_quant, or the activation operand itself (weight-only).
  mlir::Value activation;
};

/// Every layer under `root` whose weight is quantized (isQuantizedWeight), in
/// program order. qc-instrument names its observations with these keys and
/// every pass that reads calibration statistics finds them with this, so the
/// two always agree.
///
/// With `includePacked`, layers whose weight is a packed weight
/// (isPackedWeight) count too: after qc-gptq every layer keeps the key it
/// had before (the passes that run after it, and the report, find the same
/// statistics).
std::vector<QuantizedLayer> findQuantizedLayers(mlir::Operation *root,
                                                bool includePacked = false);

/// The values the model computes with for a quantized weight source, in its
/// shape and C order: a fake-quantized constant quantized by the format
/// library, a packed weight decoded. Nullopt (with `error`) for anything
/// else.
std::optional<std::vector<float>> quantizedWeightValues(mlir::Value source,
                                                        std::string &error);

/// The weight `layer` reads, in its weight operand's shape and C order, from
/// `sourceValues` (layer.weight.source's values, its shape, C order): the
/// layout chain applied. Nullopt when the chain does not carry every
/// dimension of the operand to one dimension of the source.
std::optional<std::vector<float>>
weightOperandValues(const QuantizableLayer &layer,
                    llvm::ArrayRef<float> sourceValues);

/// A float constant's elements as f32 (dense or dense_resource; f32, f16,
/// bf16), nullopt for anything else.
std::optional<std::vector<float>> readFloatElements(mlir::Attribute attr);

/// An f32 constant holding `values` that replaces `original` (may be null):
/// dense_resource above 16 elements, like the importer's weights (so the IR
/// stays readable), named after the original's resource + "_" + `suffix`;
/// dense below.
mlir::ElementsAttr makeF32Constant(mlir::RankedTensorType type,
                                   llvm::ArrayRef<float> values,
                                   mlir::Attribute original,
                                   llvm::StringRef suffix);

/// `axis` of a tensor of `rank` in the spelling formats use: -1 for the last
/// dimension (the aliases' default), the non-negative index otherwise.
int formatAxis(int64_t axis, int64_t rank);

} // namespace quantc

#endif // QUANTC_TRANSFORMS_QUANTIZABLELAYERS_H
