//===- BiasCorrect.cpp - qc-bias-correct: remove the mean output shift ----===//
//
// A quantized layer y = W·x (+ b) computes Q(W)·x, whose mean over the
// calibration data is off by
//
//   δ = (Q(W) − W)·E[x]
//
// per output channel (the weight's parallel dimensions: N of a matmul, the
// group and output channel of a convolution), E[x] the mean of each input
// channel (CalibrationStats `channel_mean` under the layer's key). For a
// convolution every kernel tap of a channel is taken to read that channel's
// mean over the padded input the layer reads: exact on average over the
// output positions, a little too much at the border (where taps read padding
// zeros) and too little inside. δ is subtracted from the bias the layer
// adds, found in one of two forms:
//
//   %b = linalg.generic/broadcast (constant C)  // init of the layer (Conv)
//   %y = linalg.conv/generic ... outs(%b)
//
//   %y = linalg.matmul ... outs(%zero)          // MatMul + Add, Gemm's C
//   %z = linalg.generic ins(%y (reshaped), C) { addf }
//
// C reaches the op through a layout chain (QuantizableLayers.h); it is
// rebuilt as C − δ (broadcast along its other dimensions), so a constant
// other ops read stays as it is. C must vary along every parallel weight
// dimension of size > 1; a bias shared across output channels cannot take
// a per-channel correction, and the layer is left alone with a warning.
//
// Q(W) is what the model will compute with: the fake-quantized constant
// (format, clip ratio) or qc-gptq's stored codes (quantizedWeightValues).
// W·E[x] needs the float weight, which qc-clip (per-group clipping clamps a
// copy) and qc-gptq (replaces the fake_quant) do not keep: `record=true`,
// run before them, stores W·E[x] on each layer (`qc.float_output_mean`, f64
// per parallel index) and changes nothing else; the correcting run reads it
// and drops it. Without a record the fake_quant's constant is W.
//
// The activation quantizer's shift E[Q(x) − x] is not corrected: round to
// nearest even is unbiased for values inside the range, and the shift of
// the clipped tail is not per channel in the statistics (one |x| histogram
// per tensor).
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "quantc/Formats/Format.h"
#include "quantc/Runtime/CalibrationStats.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

namespace mlir::qc {
#define GEN_PASS_DEF_QCBIASCORRECT
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

constexpr llvm::StringLiteral kFloatOutputMean = "qc.float_output_mean";

/// The dimensions of a layer's weight operand that its output has: the
/// parallel loops the weight is indexed by. δ has one value per index of
/// these, in row-major order.
struct OutputChannels {
  /// Weight operand dimensions and their loops in the layer.
  SmallVector<int64_t> weightDims;
  SmallVector<unsigned> loops;
  SmallVector<int64_t> sizes;
  int64_t count = 1;

  std::optional<int64_t> indexOfLoop(unsigned loop) const {
    for (auto [i, l] : llvm::enumerate(loops))
      if (l == loop)
        return i;
    return std::nullopt;
  }
};

std::optional<OutputChannels>
outputChannels(quantc::QuantizableLayer &layer) {
  SmallVector<AffineMap> maps = layer.op.getIndexingMapsArray();
  AffineMap weightMap = maps[layer.weightInput];
  if (!weightMap.isProjectedPermutation() ||
      !maps.back().isProjectedPermutation())
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators =
      layer.op.getIteratorTypesArray();
  auto shape = cast<RankedTensorType>(
                   layer.op.getDpsInputs()[layer.weightInput].getType())
                   .getShape();
  OutputChannels channels;
  for (unsigned d = 0; d < weightMap.getNumResults(); ++d) {
    unsigned loop = weightMap.getDimPosition(d);
    if (iterators[loop] != utils::IteratorType::parallel)
      continue;
    channels.weightDims.push_back(d);
    channels.loops.push_back(loop);
    channels.sizes.push_back(shape[d]);
    channels.count *= shape[d];
  }
  return channels;
}

/// W·E[x] per output channel: `weight` in the layer's weight operand shape,
/// summed over its reduction dimensions (the input channel, and a
/// convolution's kernel taps) against the input channel's mean.
std::vector<double> expectedOutput(quantc::QuantizableLayer &layer,
                                   const OutputChannels &channels,
                                   ArrayRef<float> weight,
                                   ArrayRef<double> mean) {
  auto shape = cast<RankedTensorType>(
                   layer.op.getDpsInputs()[layer.weightInput].getType())
                   .getShape();
  int64_t rank = shape.size();
  std::vector<double> out(channels.count, 0.0);
  SmallVector<int64_t> coords(rank, 0);
  for (float w : weight) {
    int64_t p = 0;
    for (auto [i, d] : llvm::enumerate(channels.weightDims))
      p = p * channels.sizes[i] + coords[d];
    out[p] += static_cast<double>(w) * mean[coords[layer.weightAxis]];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++coords[d] < shape[d])
        break;
      coords[d] = 0;
    }
  }
  return out;
}

/// A bias constant the layer's output gets added: where it is read, the
/// layout chain to it, and for each of its dimensions the output channel
/// dimension (index into OutputChannels) it follows, or -1.
struct BiasSite {
  arith::ConstantOp constant;
  SmallVector<Operation *> chain;
  Operation *user = nullptr;
  unsigned operandNumber = 0;
  SmallVector<int64_t> channelOfDim;
};

SmallVector<int64_t> allDims(Value value) {
  SmallVector<int64_t> dims;
  for (int64_t d = 0, e = cast<RankedTensorType>(value.getType()).getRank();
       d < e; ++d)
    dims.push_back(d);
  return dims;
}

/// Input `inputIndex` of `user` as a bias: a float constant through a layout
/// chain, each of whose dimensions follows a loop of `user` that
/// `layerLoopOf` maps to a loop of the layer (or to none).
std::optional<BiasSite>
constantBias(linalg::LinalgOp user, unsigned inputIndex,
             llvm::function_ref<std::optional<unsigned>(unsigned)> layerLoopOf,
             const OutputChannels &channels, std::string &whyNot) {
  Value operand = user.getDpsInputs()[inputIndex];
  quantc::LayoutTrace trace = quantc::traceLayoutChain(operand, allDims(operand));
  if (!quantc::isFloatConstant(trace.source))
    return std::nullopt;
  // Constant-0 results (a broadcast spelled `-> (0)`) follow no loop.
  AffineMap map = user.getIndexingMapsArray()[inputIndex];
  if (!map.isProjectedPermutation(/*allowZeroInResults=*/true))
    return std::nullopt;
  auto constantType = cast<RankedTensorType>(trace.source.getType());
  BiasSite site;
  site.constant = trace.source.getDefiningOp<arith::ConstantOp>();
  site.chain.assign(trace.ops.begin(), trace.ops.end());
  site.user = user;
  site.operandNumber = user.getDpsInputOperand(inputIndex)->getOperandNumber();
  site.channelOfDim.assign(constantType.getRank(), -1);
  for (unsigned i = 0; i < map.getNumResults(); ++i) {
    int64_t dim = trace.dims[i];
    if (dim < 0 || !isa<AffineDimExpr>(map.getResult(i)))
      continue;
    if (std::optional<unsigned> loop = layerLoopOf(map.getDimPosition(i)))
      if (std::optional<int64_t> channel = channels.indexOfLoop(*loop))
        site.channelOfDim[dim] = *channel;
  }
  for (auto [dim, size] : llvm::enumerate(constantType.getShape()))
    if (size != 1 && !llvm::is_contained(trace.dims, static_cast<int64_t>(dim))) {
      whyNot = "its bias reaches it reshaped";
      return std::nullopt;
    }
  for (auto [channel, size] : llvm::enumerate(channels.sizes))
    if (size != 1 &&
        !llvm::is_contained(site.channelOfDim, static_cast<int64_t>(channel))) {
      whyNot = "its bias is shared across output channels";
      return std::nullopt;
    }
  return site;
}

/// Whether `op` copies its one input into its output (linalg.broadcast, or
/// a generic whose body yields the input).
bool isBroadcastCopy(linalg::LinalgOp op) {
  if (isa<linalg::BroadcastOp>(op))
    return op.hasPureTensorSemantics();
  auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || !generic.hasPureTensorSemantics() ||
      generic.getNumReductionLoops() != 0)
    return false;
  Block &body = generic.getRegion().front();
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  return yield && &body.front() == yield.getOperation() &&
         yield.getNumOperands() == 1 &&
         yield.getOperand(0) == body.getArgument(0);
}

/// The layer's loop of each dimension of its result.
unsigned layerLoopOfResultDim(quantc::QuantizableLayer &layer,
                              unsigned dim) {
  return layer.op.getIndexingMapsArray().back().getDimPosition(dim);
}

/// A bias in the layer's init: the init is a broadcast of a constant.
std::optional<BiasSite> initBias(quantc::QuantizableLayer &layer,
                                 const OutputChannels &channels,
                                 std::string &whyNot) {
  Value init = layer.op.getDpsInits()[0];
  auto broadcast = init.getDefiningOp<linalg::LinalgOp>();
  if (!broadcast || !init.hasOneUse() || !isBroadcastCopy(broadcast))
    return std::nullopt;
  AffineMap outputMap = broadcast.getIndexingMapsArray().back();
  if (!outputMap.isPermutation())
    return std::nullopt;
  MLIRContext *ctx = layer.op.getContext();
  return constantBias(
      broadcast, 0,
      [&](unsigned loop) -> std::optional<unsigned> {
        std::optional<unsigned> dim =
            outputMap.getResultPosition(getAffineDimExpr(loop, ctx));
        if (!dim)
          return std::nullopt;
        return layerLoopOfResultDim(layer, *dim);
      },
      channels, whyNot);
}

bool isLayoutOp(Operation *op) {
  return isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, tensor::ReshapeOp,
             linalg::TransposeOp>(op);
}

/// A bias added right after the layer: its result, through layout ops that
/// nothing else reads, is one input of an elementwise addf whose other input
/// is a constant.
std::optional<BiasSite> addedBias(quantc::QuantizableLayer &layer,
                                  const OutputChannels &channels,
                                  std::string &whyNot) {
  Value result = layer.op->getResult(0);
  Value value = result;
  while (value.hasOneUse() && isLayoutOp(*value.getUsers().begin()) &&
         value.getUses().begin()->getOperandNumber() == 0)
    value = value.getUsers().begin()->getResult(0);
  if (!value.hasOneUse())
    return std::nullopt;
  auto add = dyn_cast<linalg::GenericOp>(*value.getUsers().begin());
  if (!add || add.getNumDpsInputs() != 2 || add.getNumDpsInits() != 1 ||
      !add.hasPureTensorSemantics() || add.getNumReductionLoops() != 0)
    return std::nullopt;
  OpOperand &use = *value.getUses().begin();
  if (!add.isDpsInput(&use))
    return std::nullopt;
  unsigned layerInput = use.getOperandNumber();
  Block &body = add.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto sum = yield.getNumOperands() == 1
                 ? yield.getOperand(0).getDefiningOp<arith::AddFOp>()
                 : nullptr;
  if (!sum || &body.front() != sum.getOperation() ||
      sum->getNextNode() != yield.getOperation())
    return std::nullopt;
  Value a = body.getArgument(0), b = body.getArgument(1);
  if (!((sum.getLhs() == a && sum.getRhs() == b) ||
        (sum.getLhs() == b && sum.getRhs() == a)))
    return std::nullopt;

  // Each dimension of the value the add reads, traced back to the layer's
  // result on its own: a reshape that splits rows ([64, N] -> [4, 16, N])
  // keeps the output channel dimension, which is all the correction needs.
  SmallVector<int64_t> resultDimOf;
  for (int64_t dim : allDims(value)) {
    quantc::LayoutTrace trace = quantc::traceLayoutChain(value, {dim});
    resultDimOf.push_back(trace.source == result ? trace.dims[0] : -1);
  }
  AffineMap layerMap = add.getIndexingMapsArray()[layerInput];
  if (!layerMap.isProjectedPermutation())
    return std::nullopt;
  MLIRContext *ctx = layer.op.getContext();
  return constantBias(
      add, 1 - layerInput,
      [&](unsigned loop) -> std::optional<unsigned> {
        std::optional<unsigned> dim =
            layerMap.getResultPosition(getAffineDimExpr(loop, ctx));
        if (!dim || resultDimOf[*dim] < 0)
          return std::nullopt;
        return layerLoopOfResultDim(layer, resultDimOf[*dim]);
      },
      channels, whyNot);
}

/// Rebuilds the site's constant as C − shift (shift per output channel) and
/// the chain to its reader; the old ones go when nothing else reads them.
bool subtractFromBias(BiasSite &site, const OutputChannels &channels,
                      ArrayRef<double> shift) {
  std::optional<std::vector<float>> values =
      quantc::readFloatElements(site.constant.getValue());
  if (!values)
    return false;
  auto type = cast<RankedTensorType>(site.constant.getType());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = shape.size();
  // Row-major stride of each output channel dimension in `shift`.
  SmallVector<int64_t> channelStride(channels.sizes.size(), 1);
  for (int64_t i = static_cast<int64_t>(channels.sizes.size()) - 2; i >= 0; --i)
    channelStride[i] = channelStride[i + 1] * channels.sizes[i + 1];
  SmallVector<int64_t> coords(rank, 0);
  for (float &value : *values) {
    int64_t p = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (site.channelOfDim[d] >= 0)
        p += coords[d] * channelStride[site.channelOfDim[d]];
    value = static_cast<float>(value - shift[p]);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++coords[d] < shape[d])
        break;
      coords[d] = 0;
    }
  }
  OpBuilder b(site.user);
  Value corrected = arith::ConstantOp::create(
      b, site.constant.getLoc(), type, qc::makeFloatConstant(type, *values));
  IRMapping mapping;
  mapping.map(site.constant.getResult(), corrected);
  for (Operation *op : site.chain)
    corrected = b.clone(*op, mapping)->getResult(0);
  site.user->setOperand(site.operandNumber, corrected);
  for (Operation *op : llvm::reverse(site.chain))
    if (op->use_empty())
      op->erase();
  if (site.constant->use_empty())
    site.constant->erase();
  return true;
}

/// y -> y − shift (per output channel) for a layer without a bias: an
/// elementwise add of a constant right after it.
bool addBiasAfter(quantc::QuantizableLayer &layer,
                  const OutputChannels &channels, ArrayRef<double> shift) {
  Value result = layer.op->getResult(0);
  auto resultType = cast<RankedTensorType>(result.getType());
  if (!resultType.getElementType().isF32())
    return false;
  MLIRContext *ctx = layer.op.getContext();
  // The constant has the result's output channel dimensions, in the
  // result's order.
  SmallVector<int64_t> biasShape, channelOfBiasDim;
  SmallVector<AffineExpr> biasExprs;
  for (int64_t d = 0; d < resultType.getRank(); ++d)
    if (std::optional<int64_t> channel =
            channels.indexOfLoop(layerLoopOfResultDim(layer, d))) {
      biasShape.push_back(resultType.getDimSize(d));
      channelOfBiasDim.push_back(*channel);
      biasExprs.push_back(getAffineDimExpr(d, ctx));
    }
  SmallVector<int64_t> channelStride(channels.sizes.size(), 1);
  for (int64_t i = static_cast<int64_t>(channels.sizes.size()) - 2; i >= 0; --i)
    channelStride[i] = channelStride[i + 1] * channels.sizes[i + 1];
  int64_t count = 1;
  for (int64_t size : biasShape)
    count *= size;
  std::vector<float> bias(count);
  SmallVector<int64_t> coords(biasShape.size(), 0);
  for (float &value : bias) {
    int64_t p = 0;
    for (auto [i, channel] : llvm::enumerate(channelOfBiasDim))
      p += coords[i] * channelStride[channel];
    value = static_cast<float>(-shift[p]);
    for (int64_t d = static_cast<int64_t>(biasShape.size()) - 1; d >= 0; --d) {
      if (++coords[d] < biasShape[d])
        break;
      coords[d] = 0;
    }
  }

  OpBuilder b(ctx);
  b.setInsertionPointAfter(layer.op);
  Location loc = layer.op->getLoc();
  auto biasType = RankedTensorType::get(biasShape, b.getF32Type());
  Value constant = arith::ConstantOp::create(
      b, loc, biasType, DenseElementsAttr::get(biasType, ArrayRef<float>(bias)));
  Value init = tensor::EmptyOp::create(b, loc, resultType.getShape(),
                                       resultType.getElementType());
  int64_t rank = resultType.getRank();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  SmallVector<AffineMap> maps = {identity,
                                 AffineMap::get(rank, 0, biasExprs, ctx),
                                 identity};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto add = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, ValueRange{result, constant},
      ValueRange{init}, maps, iterators,
      [](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value sum = arith::AddFOp::create(nested, nestedLoc, args[0], args[1]);
        linalg::YieldOp::create(nested, nestedLoc, sum);
      });
  result.replaceAllUsesExcept(add.getResult(0), add);
  return true;
}

struct QcBiasCorrectPass
    : mlir::qc::impl::QcBiasCorrectBase<QcBiasCorrectPass> {
  using QcBiasCorrectBase::QcBiasCorrectBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (statsDir.empty()) {
      module.emitError() << "qc-bias-correct: stats=DIR is required (the "
                            "calibration statistics directory with each "
                            "layer input's channel means)";
      return signalPassFailure();
    }
    std::string error;
    std::optional<quantc::CalibrationStats> stats =
        quantc::CalibrationStats::read(statsDir, error);
    if (!stats) {
      module.emitError() << "qc-bias-correct: " << error;
      return signalPassFailure();
    }

    int corrected = 0, added = 0;
    double largestShift = 0;
    std::vector<std::string> withoutBias;
    for (quantc::QuantizedLayer &quantized :
         quantc::findQuantizedLayers(module, /*includePacked=*/true)) {
      quantc::QuantizableLayer &layer = quantized.layer;
      Operation *op = layer.op.getOperation();
      auto warn = [&](const llvm::Twine &why) {
        op->emitWarning() << "qc-bias-correct: layer '" << layer.name
                          << "' is not corrected: " << why;
      };
      const quantc::TensorStats *tensor = stats->lookup(quantized.statsKey);
      if (!tensor || tensor->rows == 0 ||
          static_cast<int64_t>(tensor->channelMean.size()) !=
              layer.reductionSize) {
        if (!record)
          warn(!tensor || tensor->rows == 0
                   ? "no calibration statistics under '" + quantized.statsKey +
                         "'"
                   : "the statistics under '" + quantized.statsKey + "' have " +
                         std::to_string(tensor->channelMean.size()) +
                         " channel means, the layer reduces over " +
                         std::to_string(layer.reductionSize));
        continue;
      }
      const std::vector<double> &mean = tensor->channelMean;
      std::optional<OutputChannels> channels = outputChannels(layer);
      if (!channels) {
        if (!record)
          warn("its weight or output is not indexed by plain loop dimensions");
        continue;
      }

      // The float expected output W·E[x]: recorded, or from the constant.
      std::optional<std::vector<double>> floatMean;
      if (auto recorded = op->getAttrOfType<DenseF64ArrayAttr>(kFloatOutputMean))
        if (static_cast<int64_t>(recorded.size()) == channels->count)
          floatMean.emplace(recorded.asArrayRef().begin(),
                            recorded.asArrayRef().end());
      if (!floatMean) {
        auto quant = layer.weight.source.getDefiningOp<FakeQuantOp>();
        auto constant =
            quant ? quant.getInput().getDefiningOp<arith::ConstantOp>()
                  : nullptr;
        std::optional<std::vector<float>> values =
            constant ? quantc::readFloatElements(constant.getValue())
                     : std::nullopt;
        std::optional<std::vector<float>> weight =
            values ? quantc::weightOperandValues(layer, *values) : std::nullopt;
        if (!weight) {
          if (!record)
            warn(quant ? "its weight cannot be read through its layout chain"
                       : "its float weight is gone (qc-gptq replaced it); run "
                         "qc-bias-correct{record=true} before qc-gptq");
          continue;
        }
        floatMean = expectedOutput(layer, *channels, *weight, mean);
      }
      if (record) {
        op->setAttr(kFloatOutputMean,
                    DenseF64ArrayAttr::get(op->getContext(), *floatMean));
        continue;
      }

      std::optional<std::vector<float>> source =
          quantc::quantizedWeightValues(layer.weight.source, error);
      std::optional<std::vector<float>> quantizedWeight =
          source ? quantc::weightOperandValues(layer, *source) : std::nullopt;
      if (!quantizedWeight) {
        warn(source ? "its weight cannot be read through its layout chain"
                    : error);
        continue;
      }
      std::vector<double> shift =
          expectedOutput(layer, *channels, *quantizedWeight, mean);
      double layerShift = 0;
      for (size_t i = 0; i < shift.size(); ++i) {
        shift[i] -= (*floatMean)[i];
        layerShift = std::max(layerShift, std::fabs(shift[i]));
      }
      if (!std::isfinite(layerShift)) {
        warn("its mean output shift is not finite");
        continue;
      }

      std::string whyNot;
      std::optional<BiasSite> site = initBias(layer, *channels, whyNot);
      if (!site && whyNot.empty())
        site = addedBias(layer, *channels, whyNot);
      if (site) {
        if (!subtractFromBias(*site, *channels, shift)) {
          warn("its bias constant cannot be read");
          continue;
        }
        ++corrected;
      } else if (!whyNot.empty()) {
        warn(whyNot);
        continue;
      } else if (addBias && addBiasAfter(layer, *channels, shift)) {
        ++added;
      } else {
        withoutBias.push_back(layer.name);
        continue;
      }
      largestShift = std::max(largestShift, layerShift);
    }

    if (record)
      return;
    module.walk([](Operation *op) { op->removeAttr(kFloatOutputMean); });
    InFlightDiagnostic remark = mlir::emitRemark(module.getLoc());
    remark << "qc-bias-correct: corrected the bias of " << corrected
           << " layer(s)";
    if (addBias)
      remark << ", added one to " << added;
    if (corrected + added)
      remark << " (largest mean output shift removed: "
             << llvm::formatv("{0:F4}", largestShift).str() << ")";
    if (!withoutBias.empty()) {
      remark << "; " << withoutBias.size()
             << " layer(s) without a bias left as they are (add-bias=true "
                "gives them one): ";
      size_t shown = std::min<size_t>(withoutBias.size(), 4);
      remark << llvm::join(ArrayRef<std::string>(withoutBias).take_front(shown),
                           ", ");
      if (shown < withoutBias.size())
        remark << ", ...";
    }
  }
};

} // namespace
