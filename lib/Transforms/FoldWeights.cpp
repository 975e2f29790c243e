//===- FoldWeights.cpp - qc-fold-weights: quantize and pack weights -------===//
//
// A contraction whose weight is `qc.fake_quant(arith.constant W)` (through a
// layout chain, see QuantizableLayers.h) and whose form is y = x · W over the
// last dimension of x becomes
//
//   %w = qc.constant dense<...> : tensor<Bxi8> : !qc.packed<NxK, fmt>
//   %y = qc.matmul %x, %w [act <fmt>] : tensor<...xKxf32>, !qc.packed<...>
//
// W is read (dense or resource), transposed to [N, K] when the constant is
// [K, N], quantized and packed by the format library along K. A fake_quant on
// the activation becomes qc.matmul's `act`. x of rank > 2 is collapsed to a
// matrix and the result expanded back, so kernels see [M, K] x [N, K].
// Discardable attributes of the layer and of the weight's fake_quant (the
// decisions and measurements of earlier passes) move to the qc.matmul.
//
// A weight that an earlier pass already quantized, `qc.dequantize` of a
// canonical `qc.constant` [N, K] (qc-gptq's codes and scales), is taken as
// it is: its bytes become the qc.matmul's weight unchanged. Re-quantizing
// its dequantized values would not reproduce them (GPTQ fixes a block's
// scale before the block's later columns move).
//
// Numerics: qc.matmul is defined as "dequantize W, fake-quantize x, sum over
// K in order in f32" (its reference lowering), which is what the fake-quant
// graph computes, so the two agree bit for bit. Hence only f32 layers that
// accumulate into a zero fill are rewritten. Everything else that quantizes a
// constant (convolutions, batched weights, transposed outputs) keeps its
// layer; its fake_quant(constant) is folded into the quantized float
// constant here.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCFOLDWEIGHTS
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// The constant weight's fake_quant, if `value` is one.
static FakeQuantOp constantFakeQuant(Value value) {
  auto fakeQuant = value.getDefiningOp<FakeQuantOp>();
  if (fakeQuant && quantc::isFloatConstant(fakeQuant.getInput()))
    return fakeQuant;
  return nullptr;
}

/// `value` as qc.dequantize of a packed constant in the canonical layout: a
/// weight quantized already (qc-gptq).
static DequantizeOp packedConstantDequantize(Value value) {
  auto dequantize = value.getDefiningOp<DequantizeOp>();
  if (!dequantize || !dequantize.getInput().getDefiningOp<qc::ConstantOp>())
    return nullptr;
  if (cast<PackedType>(dequantize.getInput().getType()).getLayout())
    return nullptr;
  return dequantize;
}

static bool isQuantizedWeight(Value value) {
  return constantFakeQuant(value) || packedConstantDequantize(value);
}

struct Sizes {
  int64_t layers = 0;
  int64_t floatBytes = 0;
  int64_t packedBytes = 0;
  int64_t foldedToFloat = 0;
};

struct QcFoldWeightsPass
    : mlir::qc::impl::QcFoldWeightsBase<QcFoldWeightsPass> {
  using QcFoldWeightsBase::QcFoldWeightsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Sizes sizes;
    maybeDead.clear();

    SmallVector<linalg::LinalgOp> layers;
    module.walk([&](linalg::LinalgOp op) {
      if (linalg::isaContractionOpInterface(op))
        layers.push_back(op);
    });
    for (linalg::LinalgOp op : layers) {
      std::string whyNot;
      std::optional<quantc::QuantizableLayer> layer =
          quantc::matchQuantizableLayer(op, whyNot, isQuantizedWeight);
      if (layer && failed(foldIntoMatmul(*layer, sizes)))
        return signalPassFailure();
    }

    // What is left quantizes constants for layers qc.matmul does not cover:
    // fold each into the quantized float constant.
    eraseDeadOps();
    SmallVector<FakeQuantOp> leftovers;
    module.walk([&](FakeQuantOp op) {
      if (!op.use_empty() && constantFakeQuant(op.getResult()))
        leftovers.push_back(op);
    });
    for (FakeQuantOp op : leftovers)
      if (failed(foldToFloatConstant(op, sizes)))
        return signalPassFailure();
    SmallVector<DequantizeOp> quantizedLeftovers;
    module.walk([&](DequantizeOp op) {
      if (!op.use_empty() && packedConstantDequantize(op.getResult()))
        quantizedLeftovers.push_back(op);
    });
    for (DequantizeOp op : quantizedLeftovers)
      if (failed(foldToFloatConstant(op, sizes)))
        return signalPassFailure();

    eraseDeadOps();
    if (sizes.layers) {
      InFlightDiagnostic remark = mlir::emitRemark(module.getLoc());
      remark << "qc-fold-weights: " << sizes.layers
             << " layer(s) into qc.matmul, weights " << sizes.floatBytes
             << " bytes as float -> " << sizes.packedBytes << " bytes packed"
             << llvm::formatv(" ({0:F2}x smaller)",
                              double(sizes.floatBytes) / sizes.packedBytes)
                    .str();
      if (sizes.foldedToFloat)
        remark << "; " << sizes.foldedToFloat
               << " other quantized constant(s) (convolutions, ...) stored as "
                  "their dequantized float values";
    } else if (sizes.foldedToFloat) {
      mlir::emitRemark(module.getLoc())
          << "qc-fold-weights: no layer into qc.matmul; "
          << sizes.foldedToFloat
          << " quantized constant(s) (convolutions, ...) stored as their "
             "dequantized float values";
    }
  }

  /// Rewrites `layer` into qc.matmul when it has the form y = x · W with K
  /// the last dimension of x; leaves it alone otherwise.
  LogicalResult foldIntoMatmul(quantc::QuantizableLayer &layer, Sizes &sizes) {
    linalg::LinalgOp op = layer.op;
    Operation *operation = op.getOperation();
    Value init = op.getDpsInits()[0];
    auto resultType = cast<RankedTensorType>(operation->getResult(0).getType());
    if (!resultType.getElementType().isF32())
      return success();
    for (Value input : op.getDpsInputs())
      if (!cast<RankedTensorType>(input.getType()).getElementType().isF32())
        return success();
    // linalg accumulates into its init; qc.matmul starts from zero.
    auto fill = init.getDefiningOp<linalg::FillOp>();
    if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
      return success();

    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap weightMap = maps[layer.weightInput];
    AffineMap activationMap = maps[layer.activationInput];
    AffineMap resultMap = maps[2];
    auto dimOf = [](AffineExpr e) {
      return cast<AffineDimExpr>(e).getPosition();
    };
    if (!weightMap.isProjectedPermutation() ||
        !activationMap.isProjectedPermutation() ||
        !resultMap.isProjectedPermutation())
      return success();
    unsigned kLoop = dimOf(weightMap.getResult(layer.weightAxis));
    // x: [..., K]; y: x's dims without K, then the weight's N.
    if (layer.activationAxis != activationMap.getNumResults() - 1)
      return success();
    SmallVector<unsigned> nLoops, batchPositions;
    SmallVector<int64_t> tracedDims = {layer.weightAxis};
    for (auto [position, expr] : llvm::enumerate(weightMap.getResults())) {
      unsigned loop = dimOf(expr);
      if (loop == kLoop)
        continue;
      if (activationMap.getResultPosition(expr))
        batchPositions.push_back(position);
      else
        nLoops.push_back(loop);
    }
    if (nLoops.size() != 1)
      return success();
    std::optional<unsigned> nPosition =
        weightMap.getResultPosition(getAffineDimExpr(nLoops[0], op.getContext()));
    tracedDims.push_back(*nPosition);
    tracedDims.append(batchPositions.begin(), batchPositions.end());
    SmallVector<AffineExpr> expected(activationMap.getResults().drop_back());
    expected.push_back(getAffineDimExpr(nLoops[0], op.getContext()));
    if (resultMap.getResults() != ArrayRef<AffineExpr>(expected))
      return success();

    // W[n, k] = source[..., n at dn, ..., k at dk, ...], other source dims 1;
    // batch dims of the weight must be broadcasts.
    Value weight = op.getDpsInputs()[layer.weightInput];
    quantc::LayoutTrace trace = quantc::traceLayoutChain(weight, tracedDims);
    FakeQuantOp fakeQuant = constantFakeQuant(trace.source);
    DequantizeOp quantizedWeight = packedConstantDequantize(trace.source);
    if (!fakeQuant && !quantizedWeight)
      return success();
    Operation *weightOp = fakeQuant ? fakeQuant.getOperation()
                                    : quantizedWeight.getOperation();
    auto sourceType = cast<RankedTensorType>(weightOp->getResult(0).getType());
    ArrayRef<int64_t> sourceShape = sourceType.getShape();
    int64_t dk = trace.dims[0], dn = trace.dims[1];
    if (dk < 0 || dn < 0 || dk == dn)
      return success();
    for (int64_t i = 2, e = trace.dims.size(); i < e; ++i)
      if (trace.dims[i] >= 0 && sourceShape[trace.dims[i]] != 1)
        return success(); // a batched weight: one matrix per batch
    for (auto [dim, size] : llvm::enumerate(sourceShape))
      if (static_cast<int64_t>(dim) != dk && static_cast<int64_t>(dim) != dn &&
          size != 1)
        return success();
    MLIRContext *ctx = op.getContext();
    Location loc = operation->getLoc();
    OpBuilder b(operation);
    int64_t n = sourceShape[dn], k = sourceShape[dk];
    Value packed;
    Operation *constant;
    int64_t packedBytes;
    if (quantizedWeight) {
      // Already [N, K] along K: ship the constant as it is.
      auto packedType = cast<PackedType>(quantizedWeight.getInput().getType());
      quantc::Format format = packedType.getFormat().getValue();
      if (dk != 1 || dn != 0 ||
          (format.granularity != quantc::Granularity::PerTensor &&
           format.granularity != quantc::Granularity::Block2D &&
           normalizeAxis(format.axis, 2) != 1))
        return success();
      packed = quantizedWeight.getInput();
      constant = packed.getDefiningOp();
      packedBytes = packedType.getSizeInBytes();
    } else {
      FailureOr<Value> quantized = quantizeWeight(layer, fakeQuant, dk, dn, b);
      if (failed(quantized))
        return failure();
      if (!*quantized)
        return success();
      packed = *quantized;
      constant = fakeQuant.getInput().getDefiningOp();
      packedBytes = cast<PackedType>(packed.getType()).getSizeInBytes();
    }

    Value x = op.getDpsInputs()[layer.activationInput];
    FormatAttr act;
    if (auto actQuant = x.getDefiningOp<FakeQuantOp>()) {
      quantc::Format actFormat = actQuant.getFormat().getValue();
      int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
      if (actFormat.granularity == quantc::Granularity::Block2D)
        return success(); // not a per-row format qc.matmul can take
      if (actFormat.granularity != quantc::Granularity::PerTensor) {
        if (normalizeAxis(actFormat.axis, rank) != rank - 1)
          return success();
        actFormat.axis = -1;
      }
      act = FormatAttr::get(ctx, actFormat);
      x = actQuant.getInput();
      maybeDead.insert(actQuant);
    }

    auto xType = cast<RankedTensorType>(x.getType());
    Value matrixInput = x;
    SmallVector<ReassociationIndices> toMatrix;
    if (xType.getRank() > 2) {
      toMatrix.resize(2);
      for (int64_t i = 0; i + 1 < xType.getRank(); ++i)
        toMatrix[0].push_back(i);
      toMatrix[1].push_back(xType.getRank() - 1);
      matrixInput = tensor::CollapseShapeOp::create(b, loc, x, toMatrix);
    }
    auto matrixInputType = cast<RankedTensorType>(matrixInput.getType());
    SmallVector<int64_t> productShape(matrixInputType.getShape());
    productShape.back() = n;
    auto matmul =
        MatmulOp::create(b, loc,
                         RankedTensorType::get(productShape,
                                               resultType.getElementType()),
                         matrixInput, packed, act);
    // What earlier passes recorded on the layer and on its weight's
    // fake_quant (qc.rotation, qc.weight_qsnr, ...) stays with the layer.
    for (NamedAttribute attr : operation->getDiscardableAttrs())
      matmul->setAttr(attr.getName(), attr.getValue());
    for (NamedAttribute attr : weightOp->getDiscardableAttrs())
      if (!matmul->hasAttr(attr.getName()))
        matmul->setAttr(attr.getName(), attr.getValue());
    Value product = matmul.getResult();
    if (xType.getRank() > 2)
      product = tensor::ExpandShapeOp::create(b, loc, resultType, product,
                                              toMatrix);

    for (Operation *chainOp : llvm::reverse(layer.weight.ops))
      maybeDead.insert(chainOp);
    maybeDead.insert(weightOp);
    maybeDead.insert(constant);
    maybeDead.insert(fill);
    operation->getResult(0).replaceAllUsesWith(product);
    operation->erase();

    ++sizes.layers;
    sizes.floatBytes +=
        n * k * static_cast<int64_t>(sourceType.getElementTypeBitWidth() / 8);
    sizes.packedBytes += packedBytes;
    return success();
  }

  /// The packed [N, K] constant of fake_quant(constant W), W's dimension
  /// `dk` being K and `dn` being N; a null value when the format does not
  /// run along K as qc.matmul needs.
  FailureOr<Value> quantizeWeight(quantc::QuantizableLayer &layer,
                                  FakeQuantOp fakeQuant, int64_t dk,
                                  int64_t dn, OpBuilder &b) {
    auto sourceType = cast<RankedTensorType>(fakeQuant.getType());
    ArrayRef<int64_t> sourceShape = sourceType.getShape();
    quantc::Format format = fakeQuant.getFormat().getValue();
    int64_t sourceRank = sourceShape.size();
    if (format.granularity == quantc::Granularity::Block2D &&
        (dk != sourceRank - 1 || dn != sourceRank - 2))
      return Value();
    if (format.granularity != quantc::Granularity::PerTensor &&
        format.granularity != quantc::Granularity::Block2D &&
        normalizeAxis(format.axis, sourceRank) != dk)
      return Value(); // quantized along another axis than this layer's K

    auto constant = fakeQuant.getInput().getDefiningOp<arith::ConstantOp>();
    std::optional<std::vector<float>> values =
        quantc::readFloatElements(constant.getValue());
    if (!values)
      return fakeQuant.emitError()
             << "qc-fold-weights: cannot read the weight constant of layer '"
             << layer.name << "'";
    int64_t n = sourceShape[dn], k = sourceShape[dk];
    SmallVector<int64_t> strides(sourceRank, 1);
    for (int64_t i = sourceRank - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * sourceShape[i + 1];
    std::vector<float> matrix(n * k);
    for (int64_t row = 0; row < n; ++row)
      for (int64_t col = 0; col < k; ++col)
        matrix[row * k + col] = (*values)[row * strides[dn] + col * strides[dk]];
    if (format.granularity != quantc::Granularity::PerTensor &&
        format.granularity != quantc::Granularity::Block2D)
      format.axis = -1;
    std::string error;
    std::optional<quantc::QuantizedTensor> quantized =
        quantc::quantize(matrix.data(), {n, k}, format, error);
    if (!quantized)
      return fakeQuant.emitError() << "qc-fold-weights: layer '" << layer.name
                                   << "': " << error;
    std::vector<uint8_t> bytes = quantc::pack(*quantized);

    MLIRContext *ctx = fakeQuant.getContext();
    auto packedType = PackedType::get(ctx, {n, k}, FormatAttr::get(ctx, format),
                                      StringAttr());
    if (static_cast<int64_t>(bytes.size()) != packedType.getSizeInBytes())
      return fakeQuant.emitError()
             << "qc-fold-weights: packed " << bytes.size() << " bytes, "
             << packedType << " needs " << packedType.getSizeInBytes();
    return qc::ConstantOp::create(
               b, layer.op->getLoc(), packedType,
               DenseElementsAttr::getFromRawBuffer(
                   packedType.getStorageType(),
                   ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                                  bytes.size())))
        .getResult();
  }

  /// fake_quant(constant) -> the quantized float constant.
  LogicalResult foldToFloatConstant(FakeQuantOp op, Sizes &sizes) {
    auto constant = op.getInput().getDefiningOp<arith::ConstantOp>();
    std::optional<std::vector<float>> values =
        quantc::readFloatElements(constant.getValue());
    if (!values)
      return op.emitError() << "qc-fold-weights: cannot read the constant";
    auto type = cast<RankedTensorType>(op.getType());
    std::string error;
    std::optional<std::vector<float>> quantized = quantc::fakeQuantize(
        values->data(), type.getShape().vec(), op.getFormat().getValue(), error);
    if (!quantized)
      return op.emitError() << "qc-fold-weights: " << error;
    OpBuilder b(op);
    Value folded = arith::ConstantOp::create(
        b, op.getLoc(), type, qc::makeFloatConstant(type, *quantized));
    op.getResult().replaceAllUsesWith(folded);
    maybeDead.insert(constant);
    maybeDead.remove(op);
    op.erase();
    ++sizes.foldedToFloat;
    return success();
  }

  /// dequantize(packed constant) -> the float constant it decodes to.
  LogicalResult foldToFloatConstant(DequantizeOp op, Sizes &sizes) {
    auto packedType = cast<PackedType>(op.getInput().getType());
    auto constant = op.getInput().getDefiningOp<qc::ConstantOp>();
    auto bytes = dyn_cast<DenseElementsAttr>(constant.getValue());
    if (!bytes)
      return op.emitError() << "qc-fold-weights: cannot read the packed constant";
    ArrayRef<char> raw = bytes.getRawData();
    std::string error;
    std::optional<quantc::QuantizedTensor> quantized = quantc::unpack(
        reinterpret_cast<const uint8_t *>(raw.data()), raw.size(),
        packedType.getShape().vec(), packedType.getFormat().getValue(), error);
    if (!quantized)
      return op.emitError() << "qc-fold-weights: " << error;
    auto type = cast<RankedTensorType>(op.getType());
    OpBuilder b(op);
    Value folded = arith::ConstantOp::create(
        b, op.getLoc(), type,
        qc::makeFloatConstant(type, quantc::dequantize(*quantized)));
    op.getResult().replaceAllUsesWith(folded);
    maybeDead.insert(constant);
    maybeDead.remove(op);
    op.erase();
    ++sizes.foldedToFloat;
    return success();
  }

  /// Erases the replaced ops that nothing reads any more, and then their
  /// producers that become dead in turn.
  void eraseDeadOps() {
    SmallVector<Operation *> worklist(maybeDead.begin(), maybeDead.end());
    maybeDead.clear();
    llvm::DenseSet<Operation *> erased;
    bool changed = true;
    while (changed) {
      changed = false;
      SmallVector<Operation *> next;
      for (Operation *op : worklist) {
        if (erased.contains(op))
          continue;
        if (!isOpTriviallyDead(op)) {
          next.push_back(op);
          continue;
        }
        for (Value operand : op->getOperands())
          if (Operation *def = operand.getDefiningOp())
            next.push_back(def);
        op->erase();
        erased.insert(op);
        changed = true;
      }
      worklist = std::move(next);
    }
  }

  llvm::SetVector<Operation *> maybeDead;
};

} // namespace
