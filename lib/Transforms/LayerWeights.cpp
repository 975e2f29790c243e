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

/// The source dimensions other than the reduction one (and a convolution's
/// kernel offsets), in order.
SmallVector<int64_t> rowDims(const LayerWeight &weight) {
  SmallVector<int64_t> dims;
  for (int64_t d = 0, e = weight.sourceShape.size(); d < e; ++d)
    if (d != weight.reductionDim && !llvm::is_contained(weight.tapDims, d))
      dims.push_back(d);
  return dims;
}

/// The [row, column] of the constant's element at `coords` in the matrix.
std::pair<int64_t, int64_t> matrixPosition(const LayerWeight &weight,
                                           ArrayRef<int64_t> rows,
                                           ArrayRef<int64_t> coords) {
  const std::vector<int64_t> &shape = weight.sourceShape;
  int64_t row = 0, tap = 0;
  for (int64_t d : rows)
    row = row * shape[d] + coords[d];
  for (int64_t d : weight.tapDims)
    tap = tap * shape[d] + coords[d];
  return {row, tap * shape[weight.reductionDim] + coords[weight.reductionDim]};
}

/// Calls `f(index, coords)` for every element of `shape` in C order.
void forEachCoordinate(
    const std::vector<int64_t> &shape,
    llvm::function_ref<void(int64_t, ArrayRef<int64_t>)> f) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  SmallVector<int64_t> coords(shape.size(), 0);
  for (int64_t i = 0; i < count; ++i) {
    f(i, coords);
    for (int64_t d = shape.size() - 1; d >= 0; --d) {
      if (++coords[d] < shape[d])
        break;
      coords[d] = 0;
    }
  }
}

/// `loop` and its coefficient if `expr` is `dN` or `dN * c` (or `c * dN`).
bool loopTerm(AffineExpr expr, unsigned &loop, int64_t &coefficient) {
  if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
    loop = dim.getPosition();
    coefficient = 1;
    return true;
  }
  auto mul = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!mul || mul.getKind() != AffineExprKind::Mul)
    return false;
  AffineExpr lhs = mul.getLHS(), rhs = mul.getRHS();
  if (isa<AffineConstantExpr>(lhs))
    std::swap(lhs, rhs);
  auto dim = dyn_cast<AffineDimExpr>(lhs);
  auto constant = dyn_cast<AffineConstantExpr>(rhs);
  if (!dim || !constant || constant.getValue() < 1)
    return false;
  loop = dim.getPosition();
  coefficient = constant.getValue();
  return true;
}

std::optional<int64_t> resultPosition(AffineMap map, unsigned loop) {
  for (auto [position, expr] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr);
        dim && dim.getPosition() == loop)
      return position;
  return std::nullopt;
}

/// Fills the convolution fields of `weight` from its layer's patches; false
/// with `whyNot` when the kernel offsets or the groups cannot be followed to
/// the constant.
bool readConvolution(LayerWeight &weight, const QuantizableLayer &layer,
                     std::string &whyNot) {
  std::optional<ConvPatches> patches = convPatches(layer, whyNot);
  if (!patches)
    return false;
  SmallVector<int64_t> traced = {layer.weightAxis};
  traced.append(patches->weightTapDims.begin(), patches->weightTapDims.end());
  linalg::LinalgOp op = layer.op;
  Value operand = op.getDpsInputs()[layer.weightInput];
  LayoutTrace trace = traceLayoutChain(operand, traced);
  if (trace.source != layer.weight.source ||
      llvm::any_of(trace.dims, [](int64_t d) { return d < 0; })) {
    whyNot = "its kernel dimensions are reshaped on their way from the "
             "constant";
    return false;
  }
  weight.tapDims.assign(trace.dims.begin() + 1, trace.dims.end());
  weight.groups = patches->groups;
  if (weight.groups > 1) {
    // Rows split into groups in order only if the group dimension is the
    // outermost row dimension of a row-major reshape of the constant (the
    // importer's [out, ...] -> [groups, out/groups, ...]).
    auto groupLoop = linalg::inferConvolutionDims(op)->depth.front();
    AffineMap filter = op.getIndexingMapsArray()[layer.weightInput];
    std::optional<int64_t> groupDim = resultPosition(filter, groupLoop);
    bool reshapesOnly = llvm::all_of(trace.ops, [](Operation *op) {
      return isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
                 tensor::ReshapeOp>(op);
    });
    bool outermost = groupDim.has_value();
    for (int64_t d = 0; outermost && d < *groupDim; ++d)
      outermost = llvm::is_contained(traced, d);
    if (!reshapesOnly || !outermost) {
      whyNot = "its groups cannot be followed to the weight constant";
      return false;
    }
  }
  return true;
}

} // namespace

std::optional<ConvPatches> convPatches(const QuantizableLayer &layer,
                                       std::string &whyNot) {
  linalg::LinalgOp op = layer.op;
  FailureOr<linalg::ConvolutionDimensions> dims =
      linalg::inferConvolutionDims(op);
  if (failed(dims) || dims->inputChannel.size() != 1) {
    whyNot = "it is not a convolution with one input-channel dimension";
    return std::nullopt;
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap input = maps[layer.activationInput];
  AffineMap filter = maps[layer.weightInput];
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t rank = input.getNumResults();
  ConvPatches patches;
  PatchGeometry &geometry = patches.geometry;
  geometry.kernel.assign(rank, 1);
  geometry.strides.assign(rank, 1);
  geometry.dilations.assign(rank, 1);
  geometry.channelAxis = layer.activationAxis;
  auto isFilterLoop = [&](unsigned loop) {
    return llvm::is_contained(dims->filterLoop, loop);
  };
  for (int64_t d = 0; d < rank; ++d) {
    AffineExpr expr = input.getResult(d);
    if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
      unsigned loop = dim.getPosition();
      if (loop == dims->inputChannel.front())
        continue;
      if (llvm::is_contained(dims->depth, loop)) {
        if (geometry.groupAxis >= 0) {
          whyNot = "its input has several group dimensions";
          return std::nullopt;
        }
        geometry.groupAxis = d;
        patches.groups = ranges[loop];
        continue;
      }
      if (isFilterLoop(loop)) {
        whyNot = "its input is indexed by a kernel offset alone";
        return std::nullopt;
      }
      continue; // batch, or an output position read one to one
    }
    // output index · stride + kernel offset · dilation
    auto add = dyn_cast<AffineBinaryOpExpr>(expr);
    unsigned position, offset;
    int64_t stride, dilation;
    if (!add || add.getKind() != AffineExprKind::Add ||
        !loopTerm(add.getLHS(), position, stride) ||
        !loopTerm(add.getRHS(), offset, dilation)) {
      whyNot = "its input is indexed by something else than "
               "`position * stride + offset * dilation`";
      return std::nullopt;
    }
    if (isFilterLoop(position)) {
      std::swap(position, offset);
      std::swap(stride, dilation);
    }
    std::optional<int64_t> weightDim = resultPosition(filter, offset);
    if (!isFilterLoop(offset) || isFilterLoop(position) || !weightDim) {
      whyNot = "its input is indexed by something else than "
               "`position * stride + offset * dilation`";
      return std::nullopt;
    }
    geometry.kernel[d] = ranges[offset];
    geometry.strides[d] = stride;
    geometry.dilations[d] = dilation;
    patches.weightTapDims.push_back(*weightDim);
  }
  if (patches.weightTapDims.size() != dims->filterLoop.size()) {
    whyNot = "a kernel offset does not index its input";
    return std::nullopt;
  }
  return patches;
}

std::optional<Format> matrixFormat(const LayerWeight &weight,
                                   const Format &format, std::string &whyNot) {
  Format result = format;
  int64_t rank = weight.sourceShape.size();
  switch (format.granularity) {
  case Granularity::PerTensor:
    if (weight.groups > 1) {
      whyNot = "a grouped convolution's groups cannot share one scale in GPTQ";
      return std::nullopt;
    }
    return result;
  case Granularity::PerAxis:
  case Granularity::Block:
    if (mlir::qc::normalizeAxis(format.axis, rank) != weight.reductionDim) {
      whyNot = "its weight is quantized along another axis than the reduction";
      return std::nullopt;
    }
    result.axis = -1;
    // A convolution's scale per (out, kernel offset) is one per run of input
    // channels: a block of them in the matrix.
    if (weight.convolution && format.granularity == Granularity::PerAxis) {
      result.granularity = Granularity::Block;
      result.blockSize = weight.sourceShape[weight.reductionDim];
    }
    return result;
  case Granularity::Block2D:
    if (weight.convolution) {
      whyNot = "its 2-D weight blocks do not run along the input channels";
      return std::nullopt;
    }
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
  llvm::DenseMap<Operation *, std::string> unreadable;
  for (QuantizedLayer &quantized : findQuantizedLayers(module)) {
    const QuantizableLayer &layer = quantized.layer;
    qc::FakeQuantOp fakeQuant = constantFakeQuant(layer.weight.source);
    LayerWeight &weight = byFakeQuant[fakeQuant];
    bool convolution = layer.kind == LayerKind::Convolution;
    if (!weight.fakeQuant) {
      weight.fakeQuant = fakeQuant;
      weight.constant = fakeQuant.getInput().getDefiningOp<arith::ConstantOp>();
      weight.sourceShape =
          cast<RankedTensorType>(fakeQuant.getType()).getShape().vec();
      weight.reductionDim = layer.weight.dims.front();
      weight.convolution = convolution;
      std::string whyNot;
      if (convolution && !readConvolution(weight, layer, whyNot))
        unreadable.try_emplace(fakeQuant, whyNot);
    } else {
      LayerWeight other;
      other.convolution = convolution;
      std::string unused;
      if (weight.reductionDim != layer.weight.dims.front() ||
          weight.convolution != convolution ||
          (convolution && (!readConvolution(other, layer, unused) ||
                           other.tapDims != weight.tapDims ||
                           other.groups != weight.groups)))
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
    if (auto it = unreadable.find(op); it != unreadable.end()) {
      skipped.push_back(weight.name + ": " + it->second);
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
    // Rows: the other dimensions in C order; columns: the reduction (after
    // the kernel offset, for a convolution).
    const std::vector<int64_t> &shape = weight.sourceShape;
    weight.columns = shape[weight.reductionDim];
    for (int64_t d : weight.tapDims)
      weight.columns *= shape[d];
    weight.rows = weight.columns == 0
                      ? 0
                      : static_cast<int64_t>(values->size()) / weight.columns;
    if (weight.groups > 1 && weight.rows % weight.groups != 0) {
      skipped.push_back(weight.name + ": its rows do not split into groups");
      continue;
    }
    weight.matrix.resize(values->size());
    SmallVector<int64_t> dims = rowDims(weight);
    LayerWeight &w = weight;
    forEachCoordinate(shape, [&](int64_t i, ArrayRef<int64_t> coords) {
      auto [row, column] = matrixPosition(w, dims, coords);
      w.matrix[row * w.columns + column] = (*values)[i];
    });
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
    int64_t columns = tensor->hessianColumns;
    if (columns != k ||
        static_cast<int64_t>(tensor->xtx.size()) !=
            tensor->hessianGroups * k * k) {
      whyNot = "XᵀX of '" + key + "' is " + std::to_string(columns) + "x" +
               std::to_string(columns) + ", the layer reduces over " +
               std::to_string(k);
      return std::nullopt;
    }
    if (tensor->hessianGroups != weight.groups) {
      whyNot = "the statistics of '" + key + "' have " +
               std::to_string(tensor->hessianGroups) +
               " group Hessian(s), the layer " + std::to_string(weight.groups) +
               " group(s)";
      return std::nullopt;
    }
    if (sum.empty())
      sum = tensor->xtx;
    else
      for (size_t i = 0; i < sum.size(); ++i)
        sum[i] += tensor->xtx[i];
  }
  return sum;
}

double layerError(const LayerWeight &weight, const std::vector<double> &hessian,
                  const float *quantized) {
  const int64_t k = weight.columns, rows = weight.rows / weight.groups;
  double total = 0;
  for (int64_t g = 0; g < weight.groups; ++g)
    total += hessianWeightedError(weight.matrix.data() + g * rows * k,
                                  quantized + g * rows * k, rows, k,
                                  hessian.data() + g * k * k);
  return total;
}

std::optional<std::vector<GptqHessian>>
prepareLayerHessian(const LayerWeight &weight,
                    const std::vector<double> &hessian,
                    const GptqOptions &options, std::string &whyNot) {
  const int64_t k = weight.columns;
  std::vector<GptqHessian> groups;
  for (int64_t g = 0; g < weight.groups; ++g) {
    std::optional<GptqHessian> prepared =
        prepareGptqHessian(hessian.data() + g * k * k, k, options, whyNot);
    if (!prepared) {
      if (weight.groups > 1)
        whyNot = "group " + std::to_string(g) + ": " + whyNot;
      return std::nullopt;
    }
    groups.push_back(std::move(*prepared));
  }
  return groups;
}

std::optional<GptqResult>
gptqQuantizeLayer(const LayerWeight &weight,
                  const std::vector<GptqHessian> &hessians,
                  const Format &format, std::string &whyNot) {
  const int64_t k = weight.columns;
  if (weight.groups == 1)
    return gptqQuantize(weight.matrix.data(), weight.rows, k,
                        hessians.front(), format, whyNot);
  // Groups one by one, sharing the whole weight's NV tensor scale; their
  // rows (and rows of scales) concatenate.
  std::optional<QuantizedTensor> whole = chooseScales(
      weight.matrix.data(), {weight.rows, k}, format, std::nullopt, whyNot);
  if (!whole)
    return std::nullopt;
  const int64_t rows = weight.rows / weight.groups;
  GptqResult result;
  for (int64_t g = 0; g < weight.groups; ++g) {
    std::optional<GptqResult> part =
        gptqQuantize(weight.matrix.data() + g * rows * k, rows, k, hessians[g],
                     format, whyNot, whole->tensorScale);
    if (!part)
      return std::nullopt;
    QuantizedTensor &q = result.quantized;
    if (g == 0) {
      q = std::move(part->quantized);
      q.shape = {weight.rows, k};
    } else {
      const QuantizedTensor &p = part->quantized;
      q.codes.insert(q.codes.end(), p.codes.begin(), p.codes.end());
      q.scales.insert(q.scales.end(), p.scales.begin(), p.scales.end());
      q.zeroPoints.insert(q.zeroPoints.end(), p.zeroPoints.begin(),
                          p.zeroPoints.end());
    }
    result.dequantized.insert(result.dequantized.end(),
                              part->dequantized.begin(),
                              part->dequantized.end());
  }
  return result;
}

/// `quantized` ([rows, columns] of a convolution's matrix) in the constant's
/// shape and `format` (its granularity along the input channels): the same
/// codes and scales, moved.
static QuantizedTensor toConstantLayout(const LayerWeight &weight,
                                        const QuantizedTensor &quantized,
                                        const Format &format) {
  QuantizedTensor q;
  q.shape = weight.sourceShape;
  q.format = format;
  q.tensorScale = quantized.tensorScale;
  q.codes.resize(quantized.codes.size());
  q.scales.resize(quantized.scales.size());
  q.zeroPoints.resize(quantized.zeroPoints.size());
  const int64_t channels = weight.sourceShape[weight.reductionDim];
  // Input channels per scale: the block, or the whole run per kernel offset.
  int64_t block = format.granularity == Granularity::Block ? format.blockSize
                                                           : channels;
  int64_t matrixBlock = quantized.format.granularity == Granularity::Block
                            ? quantized.format.blockSize
                            : weight.columns;
  std::vector<int64_t> grid = weight.sourceShape;
  grid[weight.reductionDim] /= block;
  SmallVector<int64_t> dims = rowDims(weight);
  bool perTensor = format.granularity == Granularity::PerTensor;
  forEachCoordinate(weight.sourceShape, [&](int64_t i,
                                            ArrayRef<int64_t> coords) {
    auto [row, column] = matrixPosition(weight, dims, coords);
    q.codes[i] = quantized.codes[row * weight.columns + column];
    if (perTensor)
      return;
    int64_t scale = 0;
    for (size_t d = 0; d < grid.size(); ++d)
      scale = scale * grid[d] +
              (static_cast<int64_t>(d) == weight.reductionDim ? coords[d] / block
                                                              : coords[d]);
    int64_t matrixScale =
        row * (weight.columns / matrixBlock) + column / matrixBlock;
    q.scales[scale] = quantized.scales[matrixScale];
    if (!q.zeroPoints.empty())
      q.zeroPoints[scale] = quantized.zeroPoints[matrixScale];
  });
  if (perTensor) {
    q.scales = quantized.scales;
    q.zeroPoints = quantized.zeroPoints;
  }
  return q;
}

/// qc.constant of `quantized` packed, in `type`.
static Value packedConstant(OpBuilder &b, Location loc, qc::PackedType type,
                            const QuantizedTensor &quantized) {
  std::vector<uint8_t> bytes = pack(quantized);
  return qc::ConstantOp::create(
      b, loc, type,
      DenseElementsAttr::getFromRawBuffer(
          type.getStorageType(),
          ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                         bytes.size())));
}

Value buildQuantizedWeight(OpBuilder &b, const LayerWeight &weight,
                           const QuantizedTensor &quantized) {
  MLIRContext *ctx = b.getContext();
  qc::FakeQuantOp fakeQuant = weight.fakeQuant;
  Location loc = fakeQuant.getLoc();
  if (weight.convolution) {
    Format format = fakeQuant.getFormat().getValue();
    auto packedType =
        qc::PackedType::get(ctx, weight.sourceShape,
                            qc::FormatAttr::get(ctx, format), StringAttr());
    Value packed = packedConstant(b, loc, packedType,
                                  toConstantLayout(weight, quantized, format));
    return qc::DequantizeOp::create(b, loc, fakeQuant.getType(), packed);
  }
  auto packedType = qc::PackedType::get(
      ctx, {weight.rows, weight.columns},
      qc::FormatAttr::get(ctx, quantized.format), StringAttr());
  Value packed = packedConstant(b, loc, packedType, quantized);
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
