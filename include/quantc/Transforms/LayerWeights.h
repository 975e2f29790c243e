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
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TRANSFORMS_LAYERWEIGHTS_H
#define QUANTC_TRANSFORMS_LAYERWEIGHTS_H

#include "quantc/Formats/Format.h"
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
  /// [rows, columns], row-major.
  std::vector<float> matrix;
  /// The fake_quant's format along the matrix's last axis.
  Format format;
};

/// Collects the weights of `module`'s quantized contractions (not
/// convolutions: their input statistics are not per reduction channel).
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

/// The summed XᵀX [columns, columns] of the layers `weight` feeds, or
/// nullopt with `whyNot` ("no statistics for 'layers.0/q_proj:input'", "no
/// XᵀX", "XᵀX is 128x128, the layer reduces over 256", ...).
std::optional<std::vector<double>>
layerHessian(const LayerWeight &weight, const CalibrationStats &stats,
             std::string &whyNot);

/// Builds `qc.dequantize(qc.constant packed)` of `quantized` ([rows,
/// columns], along the last axis) and the transpose / expand_shape back to
/// the constant's shape, at `builder`'s insertion point; returns the value
/// that replaces the fake_quant. qc-fold-weights takes the packed constant
/// as it is when the layer becomes a qc.matmul, so the codes shipped are
/// exactly these.
mlir::Value buildQuantizedWeight(mlir::OpBuilder &builder,
                                 const LayerWeight &weight,
                                 const QuantizedTensor &quantized);

/// 10·log10(signal / error) (an SQNR), +inf for no error.
double decibels(double signal, double error);

} // namespace quantc

#endif // QUANTC_TRANSFORMS_LAYERWEIGHTS_H
