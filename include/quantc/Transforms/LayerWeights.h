//===- LayerWeights.h - A layer's weight as a matrix, and its Hessian -*- C++ -*-===//
//
// What the passes that quantize a weight against calibration data (qc-gptq,
// qc-allocate-bits) share: the quantized layers whose weight is
// `qc.fake_quant(arith.constant W)`, W read as the [N, K] matrix GPTQ works
// on (K the reduction axis, every other dimension of the constant a row, in
// C order), the fake_quant's format restated along that matrix's last axis,
// and the layer input's XᵀX from the calibration statistics
// (CalibrationStats.h, under the key findQuantizedLayers gives the layer, as
// qc-instrument does).
//
// A weight constant read by several layers (each through its own
// fake_quant, as qc-quantize makes them) is one matrix per fake_quant; when
// one fake_quant feeds several layers their Hessians add up (the objective
// is the sum of their output errors).
//
// A convolution's weight [out, in/groups, k...] is the matrix W[out,
// taps·in/groups] of its im2col form, column t·(in/groups) + c for kernel
// tap t (C order of the kernel offsets, in the order of the input's
// dimensions) and input channel c: the formats' blocks along the input
// channels are then runs of consecutive columns, and the Hessian is the
// patch Hessian calibration collects (PatchGeometry in CalibrationStats.h),
// one per group, the rows of group g being out rows g·out/groups onwards.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TRANSFORMS_LAYERWEIGHTS_H
#define QUANTC_TRANSFORMS_LAYERWEIGHTS_H

#include "quantc/Formats/Format.h"
#include "quantc/Formats/Gptq.h"
#include "quantc/Runtime/CalibrationStats.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "qc/QcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// One quantized weight: its fake_quant, the layers it feeds, and the
/// constant as a matrix.
struct LayerWeight {
  mlir::qc::FakeQuantOp fakeQuant;
  mlir::arith::ConstantOp constant;
  /// The layers reading the fake_quant (through their layout chains), with
  /// their statistics keys.
  std::vector<QuantizedLayer> layers;
  /// "a, b" for messages: the names of `layers`.
  std::string name;
  /// The constant's shape and its reduction dimension.
  std::vector<int64_t> sourceShape;
  int64_t reductionDim = 0;
  int64_t rows = 0, columns = 0;
  /// Convolutions: the constant's dimensions of the kernel offsets, in tap
  /// order (columns = taps · sourceShape[reductionDim]), and the groups
  /// (each a block of rows/groups rows with its own Hessian). Empty and 1
  /// for contractions.
  bool convolution = false;
  std::vector<int64_t> tapDims;
  int64_t groups = 1;
  /// [rows, columns], row-major.
  std::vector<float> matrix;
  /// The fake_quant's format along the matrix's last axis.
  Format format;
};

/// A convolution layer's patches: the geometry of its activation operand
/// (what qc-instrument puts on its qc.observe) and, in tap order, the
/// dimensions of the weight operand that hold the kernel offsets.
struct ConvPatches {
  PatchGeometry geometry;
  std::vector<int64_t> weightTapDims;
  int64_t groups = 1;
};

/// The patches of convolution `layer` from its indexing maps (input dims
/// indexed by `o·stride + k·dilation`, a plain input-channel dim, at most
/// one group dim), or nullopt with `whyNot`.
std::optional<ConvPatches> convPatches(const QuantizableLayer &layer,
                                       std::string &whyNot);

/// Collects the weights of `module`'s quantized contractions and
/// convolutions.
/// Layers that cannot be read as a matrix (a 2-D block format whose blocks
/// do not run along [N, K], an unreadable constant) are reported through
/// `skipped` as "name: reason" and left out.
std::vector<LayerWeight>
collectLayerWeights(mlir::ModuleOp module,
                    std::vector<std::string> &skipped);

/// `format` restated for the [rows, columns] matrix of `weight` (the
/// reduction along the last axis), or nullopt with `whyNot` when the format
/// cannot be (2-D blocks not along [N, K]).
std::optional<Format> matrixFormat(const LayerWeight &weight,
                                   const Format &format, std::string &whyNot);

/// The format as the fake_quant on the constant spells it: `matrixFormat`
/// back along the constant's reduction dimension.
Format sourceFormat(const LayerWeight &weight, const Format &format);

/// The summed XᵀX (patch Hessians for a convolution) of the layers
/// `weight` feeds, [groups, columns, columns], or nullopt with `whyNot` ("no
/// statistics for 'layers.0/q_proj:input'", "no XᵀX", "XᵀX is 128x128, the
/// layer reduces over 256", ...).
std::optional<std::vector<double>>
layerHessian(const LayerWeight &weight, const CalibrationStats &stats,
             std::string &whyNot);

/// tr(ΔW·H·ΔWᵀ) summed over the groups of `weight` (hessianWeightedError of
/// each group's rows against its Hessian); `quantized` is [rows, columns].
double layerError(const LayerWeight &weight, const std::vector<double> &hessian,
                  const float *quantized);

/// GPTQ's Hessian factors of each group of `weight`.
std::optional<std::vector<GptqHessian>>
prepareLayerHessian(const LayerWeight &weight,
                    const std::vector<double> &hessian,
                    const GptqOptions &options, std::string &whyNot);

/// GPTQ of `weight`'s matrix in `format` (along its last axis), group by
/// group, one result for the whole matrix (NV tensor scales from the whole
/// weight).
std::optional<GptqResult>
gptqQuantizeLayer(const LayerWeight &weight,
                  const std::vector<GptqHessian> &hessians,
                  const Format &format, std::string &whyNot);

/// Builds `qc.dequantize(qc.constant packed)` of `quantized` ([rows,
/// columns], along the last axis) and the transpose / expand_shape back to
/// the constant's shape, at `builder`'s insertion point; returns the value
/// that replaces the fake_quant. qc-fold-weights takes the packed constant
/// as it is when the layer becomes a qc.matmul, so the codes shipped are
/// exactly these. A convolution's weight is packed in the constant's own
/// shape and the fake_quant's format (its codes and scales moved from the
/// matrix), so it needs no transpose.
mlir::Value buildQuantizedWeight(mlir::OpBuilder &builder,
                                 const LayerWeight &weight,
                                 const QuantizedTensor &quantized);

/// 10·log10(signal / error) (an SQNR), +inf for no error.
double decibels(double signal, double error);

} // namespace quantc

#endif // QUANTC_TRANSFORMS_LAYERWEIGHTS_H
