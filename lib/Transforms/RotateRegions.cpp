//===- RotateRegions.cpp - qc-rotate's analysis: where a rotation can go --===//
//
// See RotateRegions.h. The matchers here recognise the ops the ONNX importer
// emits (linalg.generic for elementwise ops, reductions and Gather,
// linalg.matmul / batch_matmul for MatMul, tensor.collapse_shape /
// expand_shape for reshapes, linalg.transpose) by what they compute, not by
// where they came from.
//
//===----------------------------------------------------------------------===//

#include "RotateRegions.h"

#include "quantc/Formats/Hadamard.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <numeric>

using namespace mlir;

namespace quantc::rotate {

bool isHadamardSize(int64_t n) {
  return n > 0 && decomposeHadamardSize(n).has_value();
}

//===----------------------------------------------------------------------===//
// Small matchers
//===----------------------------------------------------------------------===//

static int64_t lastDimOf(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getRank() == 0 || !type.hasStaticShape())
    return ShapedType::kDynamic;
  return type.getShape().back();
}

/// True if `value` is a linalg.fill of the constant 0.0.
static bool isZeroFilled(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  auto constant = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto zero = constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
  return zero && zero.getValue().isZero();
}

/// A splat float constant's value, looking through reshapes.
static std::optional<double> splatValue(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(def)) {
      value = def->getOperand(0);
      continue;
    }
    auto constant = dyn_cast<arith::ConstantOp>(def);
    if (!constant)
      return std::nullopt;
    if (auto scalar = dyn_cast<FloatAttr>(constant.getValue()))
      return scalar.getValueAsDouble();
    auto dense = dyn_cast<DenseFPElementsAttr>(constant.getValue());
    if (!dense || !dense.isSplat())
      return std::nullopt;
    return dense.getSplatValue<APFloat>().convertToDouble();
  }
  return std::nullopt;
}

/// The values of a float constant, looking through reshapes (which keep the
/// C-order of the elements).
static std::optional<std::vector<float>> constantValues(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(def)) {
      value = def->getOperand(0);
      continue;
    }
    if (auto constant = dyn_cast<arith::ConstantOp>(def))
      return readFloatElements(constant.getValue());
    return std::nullopt;
  }
  return std::nullopt;
}

/// A transpose that keeps the last axis last moves whole lines of it.
static bool keepsLastAxis(linalg::TransposeOp transpose) {
  ArrayRef<int64_t> permutation = transpose.getPermutation();
  return transpose.hasPureTensorSemantics() && !permutation.empty() &&
         permutation.back() == static_cast<int64_t>(permutation.size()) - 1;
}

/// linalg.matmul / batch_matmul with the default indexing maps and a zero
/// accumulator: the result's last axis is the right operand's last axis.
static bool isPlainMatmul(Operation *op) {
  if (auto matmul = dyn_cast<linalg::MatmulOp>(op))
    return !matmul.hasUserDefinedMaps() && matmul.hasPureTensorSemantics() &&
           isZeroFilled(matmul.getDpsInits()[0]);
  if (auto batch = dyn_cast<linalg::BatchMatmulOp>(op))
    return !batch.hasUserDefinedMaps() && batch.hasPureTensorSemantics() &&
           isZeroFilled(batch.getDpsInits()[0]);
  return false;
}

//===----------------------------------------------------------------------===//
// Elementwise linalg.generic ops
//===----------------------------------------------------------------------===//

/// One result computed elementwise: every loop parallel, the output indexed
/// by the identity, its initial value unread.
static bool isElementwise(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      !op.hasPureTensorSemantics() ||
      op.getNumLoops() != op.getNumParallelLoops() || op.getNumLoops() == 0)
    return false;
  OpOperand *init = op.getDpsInitOperand(0);
  return op.getMatchingIndexingMap(init).isIdentity() &&
         !op.payloadUsesValueFromOperand(init);
}

enum class InputRole {
  /// Its last axis is the loop's last dimension, which indexes nothing else:
  /// a rotation of its channel axis is a rotation of the result's.
  Carrier,
  /// Independent of the channel: one value per row (rms(x), a scalar).
  RowScalar,
  /// Anything else (a per-channel constant, a table over rows and channels).
  Other,
};

static InputRole roleOf(linalg::GenericOp op, OpOperand *input) {
  AffineMap map = op.getMatchingIndexingMap(input);
  unsigned last = op.getNumLoops() - 1;
  if (!map.isFunctionOfDim(last))
    return InputRole::RowScalar;
  auto lastExpr = dyn_cast<AffineDimExpr>(map.getResults().back());
  if (!lastExpr || lastExpr.getPosition() != last)
    return InputRole::Other;
  for (AffineExpr expr : map.getResults().drop_back())
    if (expr.isFunctionOfDim(last))
      return InputRole::Other;
  if (lastDimOf(input->get()) != lastDimOf(op->getResult(0)))
    return InputRole::Other;
  return InputRole::Carrier;
}

namespace {
enum class Term { Scalar, Linear, Other };
} // namespace

/// If the payload's yielded value is a linear combination of Carrier inputs
/// with RowScalar coefficients (x + y, x / s, x * s, -x, ...), returns the
/// inputs it reads as carriers; an op of this kind commutes with any
/// transform of the channel axis.
static std::optional<SmallVector<OpOperand *>>
linearCarriers(linalg::GenericOp op) {
  if (!isElementwise(op))
    return std::nullopt;
  Block &body = op.getRegion().front();
  unsigned last = op.getNumLoops() - 1;
  DenseMap<Value, Term> terms;
  SmallVector<OpOperand *> carriers;
  for (OpOperand *input : op.getDpsInputOperands()) {
    InputRole role = roleOf(op, input);
    Value arg = body.getArgument(input->getOperandNumber());
    terms[arg] = role == InputRole::Carrier     ? Term::Linear
                 : role == InputRole::RowScalar ? Term::Scalar
                                                : Term::Other;
    if (role == InputRole::Carrier && !arg.use_empty())
      carriers.push_back(input);
  }
  auto termOf = [&](Value v) {
    auto it = terms.find(v);
    if (it != terms.end())
      return it->second;
    // Captured from above the generic: the same for every element.
    return op.getRegion().isAncestor(v.getParentRegion()) ? Term::Other
                                                          : Term::Scalar;
  };
  for (Operation &inner : body.without_terminator()) {
    Term term = Term::Other;
    auto operand = [&](unsigned i) { return termOf(inner.getOperand(i)); };
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      term = index.getDim() == last ? Term::Other : Term::Scalar;
    } else if (isa<arith::AddFOp, arith::SubFOp>(inner)) {
      if (operand(0) == Term::Linear && operand(1) == Term::Linear)
        term = Term::Linear;
      else if (operand(0) == Term::Scalar && operand(1) == Term::Scalar)
        term = Term::Scalar;
    } else if (isa<arith::MulFOp>(inner)) {
      Term a = operand(0), b = operand(1);
      if ((a == Term::Linear && b == Term::Scalar) ||
          (a == Term::Scalar && b == Term::Linear))
        term = Term::Linear;
      else if (a == Term::Scalar && b == Term::Scalar)
        term = Term::Scalar;
    } else if (isa<arith::DivFOp>(inner)) {
      Term a = operand(0), b = operand(1);
      if (a == Term::Linear && b == Term::Scalar)
        term = Term::Linear;
      else if (a == Term::Scalar && b == Term::Scalar)
        term = Term::Scalar;
    } else if (isa<arith::NegFOp>(inner)) {
      term = operand(0);
    } else if (inner.getNumRegions() == 0 && isPure(&inner) &&
               llvm::all_of(inner.getOperands(), [&](Value v) {
                 return termOf(v) == Term::Scalar;
               })) {
      term = Term::Scalar;
    }
    for (Value result : inner.getResults())
      terms[result] = term;
  }
  Value yielded = body.getTerminator()->getOperand(0);
  if (termOf(yielded) != Term::Linear)
    return std::nullopt;
  return carriers;
}

/// y = x * γ with γ a constant vector indexed by the channel alone: returns
/// the carrier input (x) and γ.
static std::optional<std::pair<unsigned, std::vector<float>>>
matchGain(linalg::GenericOp op) {
  if (!isElementwise(op) || op.getNumDpsInputs() != 2)
    return std::nullopt;
  Block &body = op.getRegion().front();
  auto mul = body.getTerminator()->getOperand(0).getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  unsigned last = op.getNumLoops() - 1;
  for (unsigned carrier = 0; carrier < 2; ++carrier) {
    OpOperand *x = op.getDpsInputOperand(carrier);
    OpOperand *g = op.getDpsInputOperand(1 - carrier);
    AffineMap gMap = op.getMatchingIndexingMap(g);
    if (roleOf(op, x) != InputRole::Carrier || gMap.getNumResults() != 1 ||
        gMap.getResult(0) != getAffineDimExpr(last, op.getContext()))
      continue;
    Value xArg = body.getArgument(x->getOperandNumber());
    Value gArg = body.getArgument(g->getOperandNumber());
    if (!((mul.getLhs() == xArg && mul.getRhs() == gArg) ||
          (mul.getLhs() == gArg && mul.getRhs() == xArg)))
      continue;
    std::optional<std::vector<float>> gamma = constantValues(g->get());
    if (!gamma ||
        static_cast<int64_t>(gamma->size()) != lastDimOf(op->getResult(0)))
      continue;
    return std::make_pair(carrier, std::move(*gamma));
  }
  return std::nullopt;
}

/// The element squared: x * x or powf(x, 2).
static bool isSquareOf(linalg::GenericOp op, OpOperand &use) {
  if (!isElementwise(op) || !op.isDpsInput(&use) ||
      !op.getMatchingIndexingMap(&use).isIdentity())
    return false;
  Block &body = op.getRegion().front();
  Value x = body.getArgument(use.getOperandNumber());
  Operation *yielded = body.getTerminator()->getOperand(0).getDefiningOp();
  if (auto mul = dyn_cast_or_null<arith::MulFOp>(yielded))
    return mul.getLhs() == x && mul.getRhs() == x;
  auto pow = dyn_cast_or_null<math::PowFOp>(yielded);
  if (!pow || pow.getLhs() != x)
    return false;
  Value exponent = pow.getRhs();
  if (auto arg = dyn_cast<BlockArgument>(exponent)) {
    if (arg.getOwner() != &body || arg.getArgNumber() >= op.getNumDpsInputs())
      return false;
    OpOperand *input = op.getDpsInputOperand(arg.getArgNumber());
    return roleOf(op, input) == InputRole::RowScalar &&
           splatValue(input->get()) == 2.0;
  }
  auto constant = exponent.getDefiningOp<arith::ConstantOp>();
  auto value = constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
  return value && value.getValueAsDouble() == 2.0;
}

/// A sum over the last axis (and maybe others) of `value`, each term maybe
/// scaled by a constant (a mean): invariant under a rotation of the last axis
/// applied to the squares' inputs.
static bool isChannelSum(Operation *op, Value value) {
  if (auto reduce = dyn_cast<linalg::ReduceOp>(op)) {
    auto type = cast<RankedTensorType>(value.getType());
    if (reduce.getNumDpsInputs() != 1 || reduce.getInputs()[0] != value ||
        !llvm::is_contained(reduce.getDimensions(), type.getRank() - 1))
      return false;
    Block &body = reduce.getCombiner().front();
    auto add = body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
    return add && ((add.getLhs() == body.getArgument(0) &&
                    add.getRhs() == body.getArgument(1)) ||
                   (add.getLhs() == body.getArgument(1) &&
                    add.getRhs() == body.getArgument(0)));
  }
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || !generic.hasPureTensorSemantics() ||
      generic.getDpsInputOperand(0)->get() != value)
    return false;
  unsigned last = generic.getNumLoops() - 1;
  if (!generic.getMatchingIndexingMap(generic.getDpsInputOperand(0))
           .isIdentity() ||
      generic.getIteratorTypesArray()[last] != utils::IteratorType::reduction ||
      generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
          .isFunctionOfDim(last))
    return false;
  Block &body = generic.getRegion().front();
  Value in = body.getArgument(0), acc = body.getArgument(1);
  auto add = body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value term = add.getLhs() == acc ? add.getRhs()
               : add.getRhs() == acc ? add.getLhs()
                                     : Value();
  if (!term)
    return false;
  if (term == in)
    return true;
  // in * c or in / c with c a constant: the mean's 1/N folded into the sum.
  Operation *scale = term.getDefiningOp();
  if (!isa_and_nonnull<arith::MulFOp, arith::DivFOp>(scale) ||
      scale->getOperand(0) != in)
    return false;
  return scale->getOperand(1).getDefiningOp<arith::ConstantOp>() != nullptr;
}

/// A Gather from a constant table along any axis but the last: returns the
/// table when the result's last axis reads the table's last axis.
static arith::ConstantOp matchTableGather(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      !op.hasPureTensorSemantics() ||
      op.getNumLoops() != op.getNumParallelLoops() || op.getNumLoops() == 0 ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return nullptr;
  Block &body = op.getRegion().front();
  auto extract =
      body.getTerminator()->getOperand(0).getDefiningOp<tensor::ExtractOp>();
  if (!extract || extract.getIndices().empty())
    return nullptr;
  auto table = extract.getTensor().getDefiningOp<arith::ConstantOp>();
  if (!table || op.getRegion().isAncestor(table->getParentRegion()))
    return nullptr;
  unsigned last = op.getNumLoops() - 1;
  auto channel = extract.getIndices().back().getDefiningOp<linalg::IndexOp>();
  if (!channel || channel.getDim() != last ||
      lastDimOf(extract.getTensor()) != lastDimOf(op->getResult(0)))
    return nullptr;
  // The channel index must choose the table's column and nothing else.
  bool onlyColumn = true;
  body.walk([&](linalg::IndexOp index) {
    if (index.getDim() != last)
      return;
    for (OpOperand &use : index->getUses())
      if (use.getOwner() != extract.getOperation() ||
          use.getOperandNumber() != extract->getNumOperands() - 1)
        onlyColumn = false;
  });
  return onlyColumn ? table : nullptr;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

static bool isWeightSource(Value value) {
  if (auto quant = value.getDefiningOp<qc::FakeQuantOp>())
    return isFloatConstant(quant.getInput());
  return isFloatConstant(value);
}

static std::optional<int64_t> resultPosition(AffineMap map, unsigned loopDim) {
  for (auto [position, expr] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr);
        dim && dim.getPosition() == loopDim)
      return position;
  return std::nullopt;
}

LayerIndex::LayerIndex(func::FuncOp func) {
  func.walk([&](linalg::LinalgOp op) {
    if (!linalg::isaContractionOpInterface(op))
      return;
    std::string whyNot;
    std::optional<QuantizableLayer> match =
        matchQuantizableLayer(op, whyNot, isWeightSource);
    if (!match)
      return;
    auto skip = [&](StringRef why) {
      skippedLayers.emplace_back(op.getOperation(), why.str());
    };
    auto layer = std::make_unique<RotatableLayer>();
    layer->op = op;
    layer->name = match->name;
    layer->activationInput = match->activationInput;
    layer->weightInput = match->weightInput;
    layer->reductionSize = match->reductionSize;
    Value activation = op.getDpsInputs()[match->activationInput];
    auto activationType = cast<RankedTensorType>(activation.getType());
    if (match->activationAxis != activationType.getRank() - 1)
      return skip("its activation's reduction axis is not the last axis");
    layer->activation = activation;
    if (auto quant = activation.getDefiningOp<qc::FakeQuantOp>()) {
      layer->activationQuant = quant;
      layer->activation = quant.getInput();
    }
    Value source = match->weight.source;
    if (auto quant = source.getDefiningOp<qc::FakeQuantOp>()) {
      layer->weightQuant = quant;
      source = quant.getInput();
    }
    layer->weightConstant = source.getDefiningOp<arith::ConstantOp>();
    if (!cast<RankedTensorType>(source.getType()).getElementType().isF32())
      return skip("its weight is not f32");
    layer->weightChain.assign(match->weight.ops.begin(),
                              match->weight.ops.end());
    layer->weightRowAxis = match->weight.dims.front();

    // The output side: the loop of the result's last axis, in the weight.
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap resultMap = maps.back();
    Value weightOperand = op.getDpsInputs()[match->weightInput];
    if (resultMap.getNumResults() > 0) {
      if (auto lastExpr = dyn_cast<AffineDimExpr>(resultMap.getResults().back())) {
        unsigned loop = lastExpr.getPosition();
        std::optional<int64_t> inWeight =
            resultPosition(maps[match->weightInput], loop);
        if (inWeight && !maps[match->activationInput].isFunctionOfDim(loop)) {
          LayoutTrace trace = traceLayoutChain(weightOperand, {*inWeight});
          if (trace.source == match->weight.source && trace.dims.front() >= 0 &&
              trace.dims.front() != layer->weightRowAxis)
            layer->weightColumnAxis = trace.dims.front();
        }
      }
    }
    RotatableLayer *raw = layer.get();
    byOp[op.getOperation()] = std::move(layer);
    order.push_back(raw);
  });
}

SmallVector<RotatableLayer *>
LayerIndex::activationReaders(OpOperand &use) const {
  Operation *owner = use.getOwner();
  if (RotatableLayer *layer = lookup(owner)) {
    if (!layer->activationQuant &&
        use.getOperandNumber() == layer->activationInput)
      return {layer};
    return {};
  }
  auto quant = dyn_cast<qc::FakeQuantOp>(owner);
  if (!quant)
    return {};
  SmallVector<RotatableLayer *> readers;
  for (OpOperand &quantUse : quant->getUses()) {
    RotatableLayer *layer = lookup(quantUse.getOwner());
    if (!layer || layer->activationQuant != quant ||
        quantUse.getOperandNumber() != layer->activationInput)
      return {};
    if (!llvm::is_contained(readers, layer))
      readers.push_back(layer);
  }
  return readers;
}

//===----------------------------------------------------------------------===//
// Regions
//===----------------------------------------------------------------------===//

SmallVector<RotatableLayer *> RotationRegion::quantizedConsumers() const {
  SmallVector<RotatableLayer *> result;
  for (RotatableLayer *layer : consumers)
    if (layer->isQuantized())
      result.push_back(layer);
  return result;
}

std::vector<float> RotationRegion::rowScaleOf(RotatableLayer *layer) const {
  std::vector<float> scale;
  for (const FoldableGain &gain : gains) {
    if (!llvm::is_contained(gain.readers, layer))
      continue;
    if (scale.empty())
      scale.assign(gain.gamma.size(), 1.0f);
    for (size_t i = 0; i < scale.size(); ++i)
      scale[i] *= gain.gamma[i];
  }
  return scale;
}

namespace {

/// One attempt at growing a region with a fixed chunk size.
class RegionGrower {
public:
  RegionGrower(const LayerIndex &layers, int64_t block) : layers(layers) {
    region.block = block;
  }

  void grow(Value seed) {
    if (!fits(seed)) {
      fail(nullptr, "the seed's channel axis is not a multiple of the block");
      return;
    }
    add(seed);
    while (!worklist.empty() && region.isFeasible()) {
      Value value = worklist.pop_back_val();
      visitProducer(value);
      visitUsers(value);
    }
  }

  RotationRegion region;
  /// A smaller chunk size that would let the region through a reshape.
  std::optional<int64_t> smallerBlock;
  Operation *failedAt = nullptr;

private:
  /// Whether `value` can carry the region's rotation; proposes a smaller
  /// chunk when a reshape splits the channel axis into smaller pieces.
  bool fits(Value value) {
    int64_t last = lastDimOf(value);
    if (ShapedType::isDynamic(last) ||
        !isa<FloatType>(cast<ShapedType>(value.getType()).getElementType()))
      return false;
    if (last % region.block == 0)
      return true;
    int64_t common = std::gcd(last, region.block);
    if (common >= kMinBlock && isHadamardSize(common))
      smallerBlock = smallerBlock ? std::min(*smallerBlock, common) : common;
    return false;
  }

  void add(Value value) {
    if (region.values.insert(value))
      worklist.push_back(value);
  }

  void fail(Operation *op, const Twine &why) {
    if (!region.isFeasible())
      return;
    region.infeasible = why.str();
    failedAt = op;
  }

  /// Joins `inputs` if they all fit, else leaves `value` to an online
  /// rotation.
  void joinOrRunOnline(Value value, ArrayRef<Value> inputs) {
    bool allFit = true;
    for (Value input : inputs)
      allFit &= fits(input);
    if (!allFit) {
      region.online.insert(value);
      return;
    }
    for (Value input : inputs)
      add(input);
  }

  const FoldableGain *foldableGain(linalg::GenericOp op) {
    auto it = gainCache.find(op);
    if (it != gainCache.end())
      return it->second ? &*it->second : nullptr;
    std::optional<FoldableGain> gain = matchFoldableGain(op);
    auto &slot = gainCache[op];
    slot = std::move(gain);
    return slot ? &*slot : nullptr;
  }

  /// A gain whose result reaches only layers' activations, through layout
  /// ops that keep the channel index.
  std::optional<FoldableGain> matchFoldableGain(linalg::GenericOp op) {
    std::optional<std::pair<unsigned, std::vector<float>>> gain = matchGain(op);
    if (!gain)
      return std::nullopt;
    FoldableGain result;
    result.op = op;
    result.carrierInput = gain->first;
    result.gamma = std::move(gain->second);
    int64_t channels = static_cast<int64_t>(result.gamma.size());
    SmallVector<Value> pending = {op->getResult(0)};
    while (!pending.empty()) {
      Value value = pending.pop_back_val();
      for (OpOperand &use : value.getUses()) {
        Operation *user = use.getOwner();
        SmallVector<RotatableLayer *> readers = layers.activationReaders(use);
        if (!readers.empty()) {
          for (RotatableLayer *reader : readers) {
            if (reader->reductionSize != channels)
              return std::nullopt;
            if (!llvm::is_contained(result.readers, reader))
              result.readers.push_back(reader);
          }
          continue;
        }
        auto transpose = dyn_cast<linalg::TransposeOp>(user);
        if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user) ||
            (transpose && keepsLastAxis(transpose) &&
             use.get() == transpose.getInput())) {
          Value next = user->getResult(0);
          int64_t last = lastDimOf(next);
          if (ShapedType::isDynamic(last) || last % channels != 0)
            return std::nullopt;
          pending.push_back(next);
          continue;
        }
        return std::nullopt;
      }
    }
    if (result.readers.empty())
      return std::nullopt;
    return result;
  }

  void addGain(const FoldableGain &gain) {
    for (const FoldableGain &known : region.gains)
      if (known.op == gain.op)
        return;
    region.gains.push_back(gain);
  }

  /// Backwards: what produces `value`, and can it produce R·value?
  void visitProducer(Value value) {
    Operation *def = value.getDefiningOp();
    if (!def) { // a function argument
      region.online.insert(value);
      return;
    }
    if (isa<arith::ConstantOp>(def)) {
      region.constants.insert(value);
      return;
    }
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(def))
      return joinOrRunOnline(value, def->getOperand(0));
    if (auto transpose = dyn_cast<linalg::TransposeOp>(def)) {
      if (keepsLastAxis(transpose))
        return joinOrRunOnline(value, transpose.getInput());
      region.online.insert(value);
      return;
    }
    if (RotatableLayer *layer = layers.lookup(def)) {
      if (layer->weightColumnAxis >= 0 &&
          isZeroFilled(layer->op.getDpsInits()[0]))
        region.producers.insert(layer);
      else
        region.online.insert(value);
      return;
    }
    if (isPlainMatmul(def)) // P·V: rotate V's channels instead
      return joinOrRunOnline(value, def->getOperand(1));
    if (auto generic = dyn_cast<linalg::GenericOp>(def)) {
      if (const FoldableGain *gain = foldableGain(generic)) {
        Value carrier = generic.getDpsInputs()[gain->carrierInput];
        if (fits(carrier)) {
          addGain(*gain);
          add(carrier);
          return;
        }
      } else if (std::optional<SmallVector<OpOperand *>> carriers =
                     linearCarriers(generic)) {
        SmallVector<Value> inputs;
        for (OpOperand *carrier : *carriers)
          inputs.push_back(carrier->get());
        return joinOrRunOnline(value, inputs);
      } else if (matchTableGather(generic)) {
        region.tables.insert(generic);
        return;
      }
    }
    region.online.insert(value);
  }

  /// Forwards: every user must take R·value.
  void visitUsers(Value value) {
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      SmallVector<RotatableLayer *> readers = layers.activationReaders(use);
      if (!readers.empty()) {
        for (RotatableLayer *reader : readers)
          region.consumers.insert(reader);
        continue;
      }
      SmallVector<Value> joined;
      if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user)) {
        joined.push_back(user->getResult(0));
      } else if (auto transpose = dyn_cast<linalg::TransposeOp>(user);
                 transpose && keepsLastAxis(transpose) &&
                 use.get() == transpose.getInput() &&
                 use.getOperandNumber() == 0) {
        joined.push_back(transpose->getResult(0));
      } else if (isPlainMatmul(user) && use.getOperandNumber() == 1 &&
                 !layers.lookup(user)) {
        joined.push_back(user->getResult(0));
      } else if (isa<qc::ObserveOp>(user)) {
        continue; // calibration sees what the layers see
      } else if (auto generic = dyn_cast<linalg::GenericOp>(user)) {
        std::optional<SmallVector<OpOperand *>> carriers;
        if (const FoldableGain *gain = foldableGain(generic);
            gain && use.getOperandNumber() == gain->carrierInput) {
          addGain(*gain);
          joined.push_back(generic->getResult(0));
        } else if ((carriers = linearCarriers(generic)) &&
                   llvm::is_contained(*carriers, &use)) {
          joined.push_back(generic->getResult(0));
          for (OpOperand *carrier : *carriers)
            joined.push_back(carrier->get());
        } else if (isSquareOf(generic, use) &&
                   llvm::all_of(generic->getUses(), [&](OpOperand &sumUse) {
                     return isChannelSum(sumUse.getOwner(),
                                         generic->getResult(0));
                   })) {
          continue; // sum(x²) over the channels is rotation invariant
        }
      }
      if (joined.empty()) {
        fail(user, "'" + user->getName().getStringRef() +
                       "' needs the un-rotated value");
        return;
      }
      for (Value next : joined) {
        if (!fits(next)) {
          fail(user, "'" + user->getName().getStringRef() +
                         "' splits the rotated chunks of the channel axis");
          return;
        }
        add(next);
      }
    }
  }

  const LayerIndex &layers;
  SmallVector<Value> worklist;
  DenseMap<Operation *, std::optional<FoldableGain>> gainCache;
};

} // namespace

RotationRegion buildRotationRegion(const LayerIndex &layers, Value seed,
                                   int64_t block) {
  while (true) {
    RegionGrower grower(layers, block);
    grower.grow(seed);
    if (grower.smallerBlock && *grower.smallerBlock < block) {
      block = *grower.smallerBlock;
      continue;
    }
    RotationRegion region = std::move(grower.region);
    region.failedAt = grower.failedAt;
    return region;
  }
}

} // namespace quantc::rotate
