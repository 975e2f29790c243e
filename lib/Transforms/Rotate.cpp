//===- Rotate.cpp - qc-rotate: Hadamard rotation as a compiler transformation ===//
//
// For every quantized layer y = x·W (a contraction with a constant weight,
// QuantizableLayers.h) qc-rotate rotates the channel axis of x by an
// orthonormal Hadamard transform Q and folds Q into the weight's rows
// (W' = Q·W, so x'·W' = x·W exactly), leaving the fake_quant formats on the
// rotated operands. It then lets the rotation travel backwards through the
// ops that commute with it until it meets a producer that can absorb it, so
// that only rotations that cannot be absorbed run online (RotateRegions.h):
//
//   - the residual stream of a transformer is rotated once, in the embedding
//     table's columns, and un-rotated in the rows of every layer reading it
//     (q/k/v, gate/up, the head); o_proj and down_proj write it rotated
//     (their weight columns absorb Q); RMSNorm's gain is folded into the
//     layers after it (W' = diag(γ)·W) so the norm commutes with Q;
//   - o_proj's input is rotated per attention head, through P·V, into
//     v_proj's weight columns;
//   - down_proj's input (an elementwise SwiGLU product) keeps an online
//     qc.hadamard.
//
// mode=auto measures, per quantized layer, the weight's quantization error
// with and without the rotation (through the format library) and keeps the
// rotation only where it is lower; a region of layers that share one
// rotation is kept whole only if every one of its layers gains, otherwise
// its gaining layers are rotated online one by one. Each quantized layer
// gets qc.rotation = "fused" | "online" | "rejected"; a remark sums them up.
//
//===----------------------------------------------------------------------===//

#include "RotateRegions.h"

#include "quantc/Formats/Format.h"
#include "quantc/Formats/Hadamard.h"
#include "quantc/Transforms/Passes.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace mlir::qc {
#define GEN_PASS_DEF_QCROTATE
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace quantc::rotate;

namespace {

//===----------------------------------------------------------------------===//
// Constant arithmetic
//===----------------------------------------------------------------------===//

/// Rotates every aligned chunk of `block` elements along `axis` of a C-order
/// tensor by the format library's Hadamard transform.
void rotateChunks(std::vector<float> &data, ArrayRef<int64_t> shape,
                  int64_t axis, int64_t block, ArrayRef<float> signs) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d)
    inner *= shape[d];
  bool ok = quantc::hadamardTransformAxis(
      data.data(), {outer, shape[axis] / block, block, inner}, 2,
      signs.empty() ? nullptr : signs.data());
  assert(ok && "the region analysis only picks supported sizes");
  (void)ok;
}

/// Multiplies the elements by `scale[i]`, i their index along `axis`.
void scaleAlongAxis(std::vector<float> &data, ArrayRef<int64_t> shape,
                    int64_t axis, ArrayRef<float> scale) {
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d)
    inner *= shape[d];
  int64_t size = shape[axis];
  for (size_t i = 0; i < data.size(); ++i)
    data[i] *= scale[(i / inner) % size];
}

/// The chunk size for a layer's reduction size K: K itself when the format
/// library has a Hadamard transform of that size, else its largest divisor
/// that has one (at least kMinBlock); 0 if there is none.
int64_t chooseBlock(int64_t k) {
  for (int64_t block = k; block >= kMinBlock; --block)
    if (k % block == 0 && isHadamardSize(block))
      return block;
  return 0;
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

/// What happens to one layer's weight constant.
struct WeightPlan {
  std::vector<float> rowScale; // folded norm gains (empty: none)
  int64_t rowBlock = 0;        // input side: rows rotated (R·W)
  int64_t columnBlock = 0;     // output side: columns rotated (W·Rᵀ)
};

struct Summary {
  int fused = 0, online = 0, rejected = 0;
  int onlineOps = 0, cancelledPairs = 0, gains = 0, weightFolds = 0,
      tableFolds = 0;
  std::map<int64_t, int> regionBlocks; // block -> regions kept
};

struct QcRotatePass : mlir::qc::impl::QcRotateBase<QcRotatePass> {
  using QcRotateBase::QcRotateBase;

  void runOnOperation() override {
    if (mode != "on" && mode != "off" && mode != "auto") {
      getOperation().emitError()
          << "qc-rotate: mode must be on, off or auto, not '" << mode << "'";
      return signalPassFailure();
    }
    if (mode == "off")
      return;
    Summary summary;
    for (auto func : getOperation().getOps<func::FuncOp>())
      rotateFunction(func, summary);

    std::string blocks;
    for (auto [block, count] : summary.regionBlocks)
      blocks += llvm::formatv("{0}{1} x {2}", blocks.empty() ? "" : ", ",
                              count, block)
                    .str();
    mlir::emitRemark(getOperation().getLoc())
        << "qc-rotate: " << summary.fused + summary.online + summary.rejected
        << " quantized layer(s): " << summary.fused << " fused, "
        << summary.online << " online, " << summary.rejected
        << " rejected; " << summary.onlineOps << " online qc.hadamard, "
        << summary.weightFolds << " weight and " << summary.tableFolds
        << " table fold(s), " << summary.gains << " norm gain(s) folded"
        << (summary.cancelledPairs
                ? llvm::formatv(", {0} H·H pair(s) cancelled",
                                summary.cancelledPairs)
                      .str()
                : std::string())
        << "; rotation regions: " << (blocks.empty() ? "none" : blocks);
  }

  ArrayRef<float> signsFor(int64_t block) {
    if (!randomSigns)
      return {};
    std::vector<float> &signs = signCache[block];
    if (signs.empty())
      signs = quantc::hadamardRandomSigns(block, static_cast<uint64_t>(seed));
    return signs;
  }

  //===--------------------------------------------------------------------===//
  // Measuring (mode=auto)
  //===--------------------------------------------------------------------===//

  /// Sum of squared quantization errors of `values` in `layer`'s weight
  /// format, each error scaled by `rowScale` along the row axis if given.
  double quantizationError(RotatableLayer &layer,
                           const std::vector<float> &values,
                           ArrayRef<float> rowScale = {}) {
    auto type = cast<RankedTensorType>(layer.weightConstant.getType());
    std::string error;
    std::optional<std::vector<float>> quantized = quantc::fakeQuantize(
        values.data(), type.getShape().vec(),
        layer.weightQuant.getFormat().getValue(), error);
    if (!quantized)
      return std::nan("");
    std::vector<float> diff(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      diff[i] = (*quantized)[i] - values[i];
    if (!rowScale.empty())
      scaleAlongAxis(diff, type.getShape(), layer.weightRowAxis, rowScale);
    double sum = 0;
    for (float d : diff)
      sum += static_cast<double>(d) * d;
    return sum;
  }

  /// How many dB the rotation lowers the weight's quantization error. The
  /// activation is assumed isotropic (no calibration statistics yet), so
  /// the output error of a weight error E is |D·E|², D the norm gains that
  /// the rotation folds into the rows: without the rotation they stay on
  /// the activation, with it they are part of the quantized weight.
  double rotationGainDb(RotatableLayer &layer, int64_t block,
                        const std::vector<float> &rowScale) {
    std::optional<std::vector<float>> weight =
        quantc::readFloatElements(layer.weightConstant.getValue());
    if (!weight)
      return -INFINITY;
    auto shape = cast<RankedTensorType>(layer.weightConstant.getType()).getShape();
    double plain = quantizationError(layer, *weight, rowScale);
    std::vector<float> rotated = *weight;
    if (!rowScale.empty())
      scaleAlongAxis(rotated, shape, layer.weightRowAxis, rowScale);
    rotateChunks(rotated, shape, layer.weightRowAxis, block, signsFor(block));
    double withRotation = quantizationError(layer, rotated);
    // ±100 dB stands for "one of them is exact".
    if (!(withRotation > 0) || !(plain > 0))
      return withRotation == plain ? 0.0 : withRotation > 0 ? -100.0 : 100.0;
    return std::clamp(10.0 * std::log10(plain / withRotation), -100.0, 100.0);
  }

  //===--------------------------------------------------------------------===//
  // Planning
  //===--------------------------------------------------------------------===//

  void rotateFunction(func::FuncOp func, Summary &summary) {
    LayerIndex index(func);
    llvm::MapVector<RotatableLayer *, StringRef> decision;
    DenseMap<RotatableLayer *, double> gainDb;
    std::vector<RotationRegion> kept;
    SmallVector<RotatableLayer *> oneByOne;
    DenseSet<RotatableLayer *> handled;
    DenseSet<Value> claimed;
    bool automatic = mode == "auto";

    for (auto [op, why] : index.skipped())
      if (llvm::any_of(op->getOperands(), [](Value v) {
            return v.getDefiningOp<qc::FakeQuantOp>();
          })) {
        op->setAttr("qc.rotation", StringAttr::get(op->getContext(), "rejected"));
        mlir::emitRemark(op->getLoc()) << "qc-rotate: not rotating '"
                         << quantc::layerName(op) << "': " << why;
        ++summary.rejected;
      }

    for (RotatableLayer *layer : index.layers()) {
      if (!layer->isQuantized() || handled.contains(layer))
        continue;
      handled.insert(layer);
      int64_t block = chooseBlock(layer->reductionSize);
      if (!block) {
        decision[layer] = "rejected";
        mlir::emitRemark(layer->op->getLoc())
            << "qc-rotate: not rotating '" << layer->name << "': K = "
            << layer->reductionSize << " has no Hadamard size";
        continue;
      }
      RotationRegion region =
          buildRotationRegion(index, layer->activation, block);
      SmallVector<RotatableLayer *> members = region.quantizedConsumers();
      if (!llvm::is_contained(members, layer))
        members.insert(members.begin(), layer);
      for (RotatableLayer *member : members)
        handled.insert(member);
      if (region.isFeasible() &&
          llvm::any_of(region.values,
                       [&](Value v) { return claimed.contains(v); }))
        region.infeasible = "it overlaps another rotation region";
      if (!region.isFeasible()) {
        Operation *at = region.failedAt ? region.failedAt
                                        : layer->op.getOperation();
        mlir::emitRemark(at->getLoc()) << "qc-rotate: the rotation of '" << layer->name
                         << "' cannot be fused: " << region.infeasible
                         << "; its layers are rotated online one by one";
        llvm::append_range(oneByOne, members);
        continue;
      }
      if (automatic) {
        bool allGain = true;
        for (RotatableLayer *member : members) {
          double gain =
              rotationGainDb(*member, region.block, region.rowScaleOf(member));
          gainDb[member] = gain;
          allGain &= gain > 0;
        }
        if (!allGain) {
          for (RotatableLayer *member : members) {
            if (gainDb[member] > 0)
              oneByOne.push_back(member);
            else
              decision[member] = "rejected";
          }
          continue;
        }
      }
      for (Value value : region.values)
        claimed.insert(value);
      bool runsOnline = llvm::any_of(region.online, [&](Value v) {
        return !cancellingHadamard(v, region.block);
      });
      for (RotatableLayer *member : members)
        decision[member] = runsOnline ? "online" : "fused";
      kept.push_back(std::move(region));
    }

    SmallVector<std::pair<RotatableLayer *, int64_t>> online;
    for (RotatableLayer *layer : oneByOne) {
      int64_t block = chooseBlock(layer->reductionSize);
      if (automatic) {
        double gain = rotationGainDb(*layer, block, {});
        gainDb[layer] = gain;
        if (!(gain > 0)) {
          decision[layer] = "rejected";
          continue;
        }
      }
      decision[layer] = "online";
      online.emplace_back(layer, block);
    }

    // Rewrite.
    DenseMap<RotatableLayer *, WeightPlan> plans;
    for (RotationRegion &region : kept)
      applyRegion(region, plans, summary);
    applyOneByOne(online, plans, summary);
    for (auto &[layer, plan] : plans)
      rewriteWeight(*layer, plan);
    summary.weightFolds += plans.size();
    eraseDeadOps();

    MLIRContext *ctx = func.getContext();
    for (auto [layer, what] : decision) {
      layer->op->setAttr("qc.rotation", StringAttr::get(ctx, what));
      if (automatic && gainDb.count(layer))
        layer->op->setAttr("qc.rotation_gain_db",
                           FloatAttr::get(Float64Type::get(ctx),
                                          std::round(gainDb[layer] * 1000) /
                                              1000));
      if (what == "fused")
        ++summary.fused;
      else if (what == "online")
        ++summary.online;
      else
        ++summary.rejected;
    }
  }

  //===--------------------------------------------------------------------===//
  // Rewriting
  //===--------------------------------------------------------------------===//

  void applyRegion(RotationRegion &region, DenseMap<RotatableLayer *, WeightPlan> &plans,
                   Summary &summary) {
    int64_t block = region.block;
    ++summary.regionBlocks[block];
    for (RotatableLayer *consumer : region.consumers) {
      WeightPlan &plan = plans[consumer];
      plan.rowBlock = block;
      plan.rowScale = region.rowScaleOf(consumer);
    }
    for (RotatableLayer *producer : region.producers)
      plans[producer].columnBlock = block;
    for (FoldableGain &gain : region.gains) {
      Value x = gain.op.getDpsInputs()[gain.carrierInput];
      gain.op->getResult(0).replaceAllUsesWith(x);
      deadCandidates.insert(gain.op);
      ++summary.gains;
    }
    for (linalg::GenericOp gather : region.tables) {
      tensor::ExtractOp extract;
      gather.getRegion().walk([&](tensor::ExtractOp op) { extract = op; });
      auto table = extract.getTensor().getDefiningOp<arith::ConstantOp>();
      Value rotated = rotatedConstant(table, block);
      extract.getTensorMutable().assign(rotated);
      deadCandidates.insert(table);
      ++summary.tableFolds;
    }
    for (Value value : region.constants) {
      auto constant = value.getDefiningOp<arith::ConstantOp>();
      value.replaceAllUsesWith(rotatedConstant(constant, block));
      deadCandidates.insert(constant);
      ++summary.tableFolds;
    }
    for (Value value : region.online) {
      Value rotated = insertHadamard(value, block, summary);
      if (rotated != value)
        value.replaceUsesWithIf(rotated, [&](OpOperand &use) {
          return !createdOps.contains(use.getOwner());
        });
    }
  }

  void applyOneByOne(ArrayRef<std::pair<RotatableLayer *, int64_t>> layers,
                     DenseMap<RotatableLayer *, WeightPlan> &plans,
                     Summary &summary) {
    DenseSet<RotatableLayer *> rotated;
    for (auto [layer, block] : layers)
      rotated.insert(layer);
    DenseMap<std::pair<Value, int64_t>, Value> hadamards;
    DenseSet<Operation *> quantsDone;
    for (auto [layer, block] : layers) {
      plans[layer].rowBlock = block;
      Value &h = hadamards[{layer->activation, block}];
      if (!h)
        h = insertHadamard(layer->activation, block, summary);
      qc::FakeQuantOp quant = layer->activationQuant;
      if (!quant) {
        layer->op->setOperand(layer->activationInput, h);
        continue;
      }
      if (quantsDone.contains(quant))
        continue;
      bool sharedWithOthers = llvm::any_of(quant->getUsers(), [&](Operation *user) {
        RotatableLayer *reader = nullptr;
        for (auto [l, b] : layers)
          if (l->op.getOperation() == user)
            reader = l;
        return !reader || !rotated.contains(reader);
      });
      if (!sharedWithOthers) {
        quant.getInputMutable().assign(h);
        quantsDone.insert(quant);
        continue;
      }
      OpBuilder b(layer->op);
      auto copy = qc::FakeQuantOp::create(b, quant.getLoc(), h, quant.getFormat());
      layer->op->setOperand(layer->activationInput, copy.getResult());
    }
  }

  /// The qc.hadamard defining `value` if it is the rotation R itself and R
  /// is an involution (unsigned, power-of-two size: Q = Qᵀ), so that
  /// R·value is its input.
  qc::HadamardOp cancellingHadamard(Value value, int64_t block) {
    auto previous = value.getDefiningOp<qc::HadamardOp>();
    if (!previous || randomSigns || previous.getSeed())
      return nullptr;
    auto type = cast<RankedTensorType>(value.getType());
    int64_t last = type.getShape().back();
    if (block != last || previous.getNormalizedAxis() != type.getRank() - 1 ||
        !llvm::isPowerOf2_64(last))
      return nullptr;
    return previous;
  }

  /// An online rotation of `value`'s last axis in chunks of `block`, right
  /// after its definition; an H·H pair cancels instead when `value` is
  /// already the same (involutory: unsigned, power-of-two) rotation.
  Value insertHadamard(Value value, int64_t block, Summary &summary) {
    auto type = cast<RankedTensorType>(value.getType());
    int64_t rank = type.getRank(), last = type.getShape().back();
    if (qc::HadamardOp previous = cancellingHadamard(value, block)) {
      ++summary.cancelledPairs;
      deadCandidates.insert(previous);
      return previous.getInput();
    }
    OpBuilder b(value.getContext());
    if (auto arg = dyn_cast<BlockArgument>(value))
      b.setInsertionPointToStart(arg.getOwner());
    else
      b.setInsertionPointAfter(value.getDefiningOp());
    Location loc = value.getLoc();
    IntegerAttr seedAttr = randomSigns ? b.getI64IntegerAttr(seed) : IntegerAttr();
    ++summary.onlineOps;
    if (block == last) {
      auto h = qc::HadamardOp::create(b, loc, value, rank - 1, seedAttr);
      createdOps.insert(h);
      return h;
    }
    // Chunks smaller than the axis: rotate the last axis of [..., L/b, b].
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = last / block;
    shape.push_back(block);
    SmallVector<ReassociationIndices> groups;
    for (int64_t d = 0; d < rank - 1; ++d)
      groups.push_back({d});
    groups.push_back({rank - 1, rank});
    auto split = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), value,
        groups);
    auto h = qc::HadamardOp::create(b, loc, split, rank, seedAttr);
    auto merged = tensor::CollapseShapeOp::create(b, loc, type, h, groups);
    createdOps.insert(split);
    createdOps.insert(h);
    createdOps.insert(merged);
    return merged;
  }

  /// A copy of `constant` with its last axis rotated in chunks of `block`.
  Value rotatedConstant(arith::ConstantOp constant, int64_t block) {
    auto type = cast<RankedTensorType>(constant.getType());
    std::optional<std::vector<float>> values =
        quantc::readFloatElements(constant.getValue());
    assert(values && "the analysis only admits float constants");
    rotateChunks(*values, type.getShape(), type.getRank() - 1, block,
                 signsFor(block));
    OpBuilder b(constant);
    auto f32Type = RankedTensorType::get(type.getShape(), b.getF32Type());
    Value result = arith::ConstantOp::create(
        b, constant.getLoc(),
        quantc::makeF32Constant(f32Type, *values, constant.getValue(),
                                "rotated"));
    if (f32Type != type)
      result = arith::TruncFOp::create(b, constant.getLoc(), type, result);
    return result;
  }

  /// Replaces `layer`'s weight constant by the planned one; the weight's
  /// fake_quant and layout chain are this layer's own (cloned if shared).
  void rewriteWeight(RotatableLayer &layer, const WeightPlan &plan) {
    arith::ConstantOp old = layer.weightConstant;
    auto type = cast<RankedTensorType>(old.getType());
    std::optional<std::vector<float>> values =
        quantc::readFloatElements(old.getValue());
    assert(values && "LayerIndex only admits f32 constants");
    if (!plan.rowScale.empty())
      scaleAlongAxis(*values, type.getShape(), layer.weightRowAxis,
                     plan.rowScale);
    if (plan.rowBlock)
      rotateChunks(*values, type.getShape(), layer.weightRowAxis, plan.rowBlock,
                   signsFor(plan.rowBlock));
    if (plan.columnBlock)
      rotateChunks(*values, type.getShape(), layer.weightColumnAxis,
                   plan.columnBlock, signsFor(plan.columnBlock));
    OpBuilder b(old);
    Value weight = arith::ConstantOp::create(
        b, old.getLoc(),
        quantc::makeF32Constant(type, *values, old.getValue(), "rotated"));
    deadCandidates.insert(old);

    SmallVector<Operation *> path;
    if (layer.weightQuant)
      path.push_back(layer.weightQuant);
    llvm::append_range(path, layer.weightChain);
    bool exclusive =
        llvm::all_of(path, [](Operation *op) { return op->hasOneUse(); });
    if (exclusive) {
      if (path.empty())
        layer.op->setOperand(layer.weightInput, weight);
      else
        path.front()->setOperand(0, weight);
      return;
    }
    IRMapping mapping;
    mapping.map(old.getResult(), weight);
    b.setInsertionPoint(layer.op);
    for (Operation *op : path) {
      weight = b.clone(*op, mapping)->getResult(0);
      deadCandidates.insert(op);
    }
    layer.op->setOperand(layer.weightInput, weight);
    if (layer.weightQuant)
      layer.weightQuant = weight.getDefiningOp<qc::FakeQuantOp>();
  }

  /// Erases the replaced constants, gains and weight chains, and whatever
  /// only they used.
  void eraseDeadOps() {
    SmallVector<Operation *> worklist(deadCandidates.begin(),
                                      deadCandidates.end());
    deadCandidates.clear();
    DenseSet<Operation *> erased;
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      if (erased.contains(op) || !isOpTriviallyDead(op))
        continue;
      for (Value operand : op->getOperands())
        if (Operation *def = operand.getDefiningOp())
          worklist.push_back(def);
      erased.insert(op);
      op->erase();
    }
  }

  llvm::SetVector<Operation *> deadCandidates;
  DenseSet<Operation *> createdOps;
  std::map<int64_t, std::vector<float>> signCache;
};

} // namespace
