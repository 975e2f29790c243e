//===- LayerWeights.cpp - A layer's weight as a matrix, and its Hessian ---===//

#include "quantc/Transforms/LayerWeights.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

using namespace mlir;

namespace quantc {

namespace {

qc::FakeQuantOp constantFakeQuant(Value value) {
  auto fakeQuant = value.getDefiningOp<qc::FakeQuantOp>();
  if (fakeQuant && isFloatConstant(fakeQuant.getInput()))
    return fakeQuant;
  return nullptr;
}

/// The source dimensions other than the reduction one, in order.
SmallVector<int64_t> rowDims(const LayerWeight &weight) {
  SmallVector<int64_t> dims;
  for (int64_t d = 0, e = weight.sourceShape.size(); d < e; ++d)
    if (d != weight.reductionDim)
      dims.push_back(d);
  return dims;
}

} // namespace

std::optional<Format> matrixFormat(const LayerWeight &weight,
                                   const Format &format, std::string &whyNot) {
  Format result = format;
  int64_t rank = weight.sourceShape.size();
  switch (format.granularity) {
  case Granularity::PerTensor:
    return result;
  case Granularity::PerAxis:
  case Granularity::Block:
    if (mlir::qc::normalizeAxis(format.axis, rank) != weight.reductionDim) {
      whyNot = "its weight is quantized along another axis than the reduction";
      return std::nullopt;
    }
    result.axis = -1;
    return result;
  case Granularity::Block2D:
    if (rank != 2 || weight.reductionDim != 1) {
      whyNot = "its 2-D weight blocks do not run along [N, K]";
      return std::nullopt;
    }
    return result;
  }
  return result;
}

Format sourceFormat(const LayerWeight &weight, const Format &format) {
  Format result = format;
  if (format.granularity == Granularity::PerAxis ||
      format.granularity == Granularity::Block)
    result.axis = formatAxis(weight.reductionDim, weight.sourceShape.size());
  return result;
}

std::vector<LayerWeight>
collectLayerWeights(ModuleOp module, std::vector<std::string> &skipped) {
  llvm::MapVector<Operation *, LayerWeight> byFakeQuant;
  std::vector<Operation *> rejected;
  for (QuantizedLayer &quantized : findQuantizedLayers(module)) {
    const QuantizableLayer &layer = quantized.layer;
    if (layer.kind != LayerKind::Contraction)
      continue;
    qc::FakeQuantOp fakeQuant = constantFakeQuant(layer.weight.source);
    LayerWeight &weight = byFakeQuant[fakeQuant];
    if (!weight.fakeQuant) {
      weight.fakeQuant = fakeQuant;
      weight.constant = fakeQuant.getInput().getDefiningOp<arith::ConstantOp>();
      weight.sourceShape =
          cast<RankedTensorType>(fakeQuant.getType()).getShape().vec();
      weight.reductionDim = layer.weight.dims.front();
    } else if (weight.reductionDim != layer.weight.dims.front()) {
      rejected.push_back(fakeQuant);
    }
    weight.name += (weight.name.empty() ? "" : ", ") + layer.name;
    weight.layers.push_back(quantized);
  }

  std::vector<LayerWeight> weights;
  for (auto &[op, weight] : byFakeQuant) {
    if (llvm::is_contained(rejected, op)) {
      skipped.push_back(weight.name +
                        ": its layers reduce over different axes of one weight");
      continue;
    }
    std::string whyNot;
    std::optional<Format> format =
        matrixFormat(weight, weight.fakeQuant.getFormat().getValue(), whyNot);
    if (!format) {
      skipped.push_back(weight.name + ": " + whyNot);
      continue;
    }
    weight.format = *format;
    std::optional<std::vector<float>> values =
        readFloatElements(weight.constant.getValue());
    if (!values) {
      skipped.push_back(weight.name + ": its weight constant cannot be read");
      continue;
    }
    // Rows: the other dimensions in C order; columns: the reduction.
    const std::vector<int64_t> &shape = weight.sourceShape;
    int64_t rank = shape.size();
    weight.columns = shape[weight.reductionDim];
    weight.rows = weight.columns == 0
                      ? 0
                      : static_cast<int64_t>(values->size()) / weight.columns;
    weight.matrix.resize(values->size());
    SmallVector<int64_t> dims = rowDims(weight);
    SmallVector<int64_t> coords(rank, 0);
    for (size_t i = 0; i < values->size(); ++i) {
      int64_t row = 0;
      for (int64_t d : dims)
        row = row * shape[d] + coords[d];
      weight.matrix[row * weight.columns + coords[weight.reductionDim]] =
          (*values)[i];
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++coords[d] < shape[d])
          break;
        coords[d] = 0;
      }
    }
    weights.push_back(std::move(weight));
  }
  return weights;
}

std::optional<std::vector<double>>
layerHessian(const LayerWeight &weight, const CalibrationStats &stats,
             std::string &whyNot) {
  const int64_t k = weight.columns;
  std::vector<double> sum;
  for (const QuantizedLayer &layer : weight.layers) {
    const std::string &key = layer.statsKey;
    const TensorStats *tensor = stats.lookup(key);
    if (!tensor) {
      whyNot = "no calibration statistics for '" + key + "'";
      return std::nullopt;
    }
    if (tensor->xtx.empty()) {
      whyNot = "the statistics of '" + key + "' have no XᵀX";
      return std::nullopt;
    }
    if (tensor->channels != k ||
        static_cast<int64_t>(tensor->xtx.size()) != k * k) {
      whyNot = "XᵀX of '" + key + "' is " + std::to_string(tensor->channels) +
               "x" + std::to_string(tensor->channels) +
               ", the layer reduces over " + std::to_string(k);
      return std::nullopt;
    }
    if (sum.empty())
      sum = tensor->xtx;
    else
      for (int64_t i = 0; i < k * k; ++i)
        sum[i] += tensor->xtx[i];
  }
  return sum;
}

Value buildQuantizedWeight(OpBuilder &b, const LayerWeight &weight,
                           const QuantizedTensor &quantized) {
  MLIRContext *ctx = b.getContext();
  qc::FakeQuantOp fakeQuant = weight.fakeQuant;
  Location loc = fakeQuant.getLoc();
  auto packedType = qc::PackedType::get(
      ctx, {weight.rows, weight.columns},
      qc::FormatAttr::get(ctx, quantized.format), StringAttr());
  std::vector<uint8_t> bytes = pack(quantized);
  Value packed = qc::ConstantOp::create(
      b, loc, packedType,
      DenseElementsAttr::getFromRawBuffer(
          packedType.getStorageType(),
          ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                         bytes.size())));
  auto sourceType = cast<RankedTensorType>(fakeQuant.getType());
  Type elementType = sourceType.getElementType();
  Value value = qc::DequantizeOp::create(
      b, loc,
      RankedTensorType::get({weight.rows, weight.columns}, elementType),
      packed);

  // [rows, K] -> [row dims..., K] -> the constant's dimension order.
  SmallVector<int64_t> dims = rowDims(weight);
  int64_t rank = weight.sourceShape.size();
  SmallVector<int64_t> rowMajorShape;
  for (int64_t d : dims)
    rowMajorShape.push_back(weight.sourceShape[d]);
  rowMajorShape.push_back(weight.columns);
  if (dims.size() != 1) {
    auto shaped = RankedTensorType::get(rowMajorShape, elementType);
    ReassociationIndices rowGroup;
    for (size_t d = 0; d < dims.size(); ++d)
      rowGroup.push_back(d);
    if (dims.empty()) // a 1-D weight: [1, K] -> [K]
      value = tensor::CollapseShapeOp::create(
          b, loc, shaped, value, ArrayRef<ReassociationIndices>{{0, 1}});
    else
      value = tensor::ExpandShapeOp::create(
          b, loc, shaped, value,
          ArrayRef<ReassociationIndices>{
              rowGroup, {static_cast<int64_t>(dims.size())}});
  }
  if (weight.reductionDim != rank - 1) {
    SmallVector<int64_t> permutation;
    for (int64_t d = 0; d < rank; ++d)
      permutation.push_back(d < weight.reductionDim    ? d
                            : d == weight.reductionDim ? rank - 1
                                                       : d - 1);
    Value init = tensor::EmptyOp::create(b, loc, weight.sourceShape, elementType);
    value = linalg::TransposeOp::create(b, loc, value, init, permutation)
                ->getResult(0);
  }
  return value;
}

double decibels(double signal, double error) {
  if (error == 0.0)
    return INFINITY;
  return 10.0 * std::log10(signal / error);
}

} // namespace quantc
