//===- Smooth.cpp - qc-smooth: SmoothQuant and cross-layer equalization ---===//
//
// Per-channel scales that move quantization difficulty between an activation
// and the weights that read it, without changing the float function:
//
//   x' = x / s   folded into the ops that produce x (a norm's gain, and its
//                bias; or the output channels of the linear layer before,
//                its bias included)
//   W' = diag(s) W   folded into the input channels of every quantized layer
//                that reads x
//
// Consumers are grouped by the activation they read: the layers whose
// activation operands trace (through layout ops: reshapes, transposes) to
// the same value and channel dimension share one s (q, k and v share their
// norm). A group is smoothed only when every use of that value belongs to the
// group and the ops that produce it absorb a per-channel scale exactly:
//
//   - x * c, x / c with c a constant that varies along the channel: c / s,
//     c * s (the end of the walk: a norm's gain);
//   - x + c, x - c: c / s, and the walk continues into x (a bias);
//   - a positively homogeneous elementwise op, f(x / s) = f(x) / s for
//     s > 0: ReLU, leaky ReLU and PReLU (the slope is per channel, not
//     scaled), a multiply by a constant that does not vary along the
//     channel, a copy;
//   - a * b of two computed tensors: one of them absorbs s (SwiGLU: the up
//     projection's output channels take it, the gate's SiLU is left alone);
//   - a contraction or convolution with a constant weight (quantized or
//     not): the weight's output channel / s, and its init (a bias
//     broadcast, or a zero fill) the same way as an add;
//   - layout ops that keep the channel dimension whole.
// Everything on the way must have no other reader. Otherwise the group is
// skipped with a remark naming the op that stops it.
//
// SmoothQuant (Xiao et al. 2023): s_j = max|X_j|^α / max|W_j|^(1-α), max|W_j|
// over all the group's weights, from the calibration statistics of the
// unsmoothed model (per-channel amax). With bias=true (MPTQ-ViT's
// SmoothQuant with bias) the activation is first centred per channel,
// z_j = (max_j + min_j) / 2: x' = (x - z) / s, s from the half range
// (max_j - min_j) / 2; the shift is a per-channel add inserted right after
// the producer (an RMSNorm has no bias to fold it into), and each consumer
// gets z·W added to its output (a contraction whose weight has one output
// dimension; convolutions, whose zero padding does not commute with a
// shift, and other layers are smoothed without the shift).
//
// Cross-layer equalization (Nagel et al. 2019, data-free, equalize=true):
// for the groups whose producer is a linear layer, s_i = sqrt(r1_i / r2_i)
// with r1_i the range (max |w|) of the producer's output channel i and r2_i
// that of the consumers' input channel i, so that both become
// sqrt(r1_i · r2_i). It runs before SmoothQuant, whose statistics are
// corrected for it (the activation amax of a channel is divided by its s).
//
// Smoothing changes the activations the later passes calibrate on: the
// driver calibrates again after this pass (quant-compile). The pass runs
// before qc-rotate: the scales are per channel of the original basis, and
// rotating the smoothed activation spreads what smoothing leaves.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "quantc/Runtime/CalibrationStats.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace mlir::qc {
#define GEN_PASS_DEF_QCSMOOTH
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// A constant that absorbs a per-channel factor along one of its dimensions:
/// `use` reads it through `trace` (layout ops, and the weight's qc.fake_quant
/// when it is a quantized weight; `trace.source` is the constant or that
/// fake_quant).
struct ConstantEdit {
  OpOperand *use = nullptr;
  quantc::LayoutTrace trace;
  /// The dimension of the constant the factor runs along.
  int64_t dim = 0;
  /// c * f (true) or c / f (false).
  bool multiply = false;
};

/// How the producer of a smoothed activation absorbs x / s.
struct Producer {
  std::vector<ConstantEdit> edits;
  /// The op where the walk ended (the norm's multiply, the linear layer).
  Operation *terminal = nullptr;
  /// The index in `edits` of a linear producer's weight (for equalization).
  int linearWeight = -1;
};

arith::ConstantOp constantOf(Value source) {
  if (auto quant = source.getDefiningOp<qc::FakeQuantOp>())
    source = quant.getInput();
  return source.getDefiningOp<arith::ConstantOp>();
}

/// A constant (or a quantized weight) with f32 elements.
bool isF32ConstantSource(Value source) {
  arith::ConstantOp constant = constantOf(source);
  if (!constant)
    return false;
  auto type = dyn_cast<RankedTensorType>(constant.getType());
  return type && type.hasStaticShape() && type.getElementType().isF32();
}

bool isLayoutOp(Operation *op) {
  return isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, tensor::ReshapeOp,
             linalg::TransposeOp, linalg::BroadcastOp>(op);
}

std::string describe(Operation *op) {
  return "'" + op->getName().getStringRef().str() + "' (" +
         quantc::layerName(op) + ")";
}

/// Whether `value` is a float zero (a constant, or a linalg.fill of one).
bool isZeroConstant(Value value) {
  FloatAttr attr;
  if (auto constant = value.getDefiningOp<arith::ConstantOp>())
    attr = dyn_cast<FloatAttr>(constant.getValue());
  return attr && attr.getValue().isZero();
}

bool isZeroFill(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  return fill && isZeroConstant(fill.getInputs()[0]);
}

/// The result position of loop dimension `loopDim` in `map`.
std::optional<int64_t> positionOf(AffineMap map, unsigned loopDim) {
  for (auto [position, expr] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr);
        dim && dim.getPosition() == loopDim)
      return position;
  return std::nullopt;
}

/// Whether the generic body computes, from block argument `data`, a
/// positively homogeneous function, f(x / s) = f(x) / s for s > 0, the
/// other arguments (`fixed`) being read unchanged: max/min with zero, a
/// product with a fixed value, select on the sign.
bool isPositivelyHomogeneous(Value value, BlockArgument data,
                             const llvm::SmallDenseSet<Value> &fixed) {
  if (value == data)
    return true;
  Operation *op = value.getDefiningOp();
  if (!op)
    return false;
  if (isa<arith::MaximumFOp, arith::MinimumFOp, arith::MaxNumFOp,
          arith::MinNumFOp>(op))
    return (isPositivelyHomogeneous(op->getOperand(0), data, fixed) &&
            isZeroConstant(op->getOperand(1))) ||
           (isPositivelyHomogeneous(op->getOperand(1), data, fixed) &&
            isZeroConstant(op->getOperand(0)));
  if (isa<arith::MulFOp>(op)) {
    auto isFixed = [&](Value v) {
      return fixed.contains(v) || v.getDefiningOp<arith::ConstantOp>();
    };
    return (isPositivelyHomogeneous(op->getOperand(0), data, fixed) &&
            isFixed(op->getOperand(1))) ||
           (isPositivelyHomogeneous(op->getOperand(1), data, fixed) &&
            isFixed(op->getOperand(0)));
  }
  if (auto select = dyn_cast<arith::SelectOp>(op)) {
    // The condition must be the sign of x (unchanged by x / s).
    auto compare = select.getCondition().getDefiningOp<arith::CmpFOp>();
    if (!compare || compare.getLhs() != data ||
        !isZeroConstant(compare.getRhs()))
      return false;
    return isPositivelyHomogeneous(select.getTrueValue(), data, fixed) &&
           isPositivelyHomogeneous(select.getFalseValue(), data, fixed);
  }
  return false;
}

/// Walks up from a value whose channel dimension `dim` is to be divided by
/// s, collecting the constants that absorb it. See the file comment.
class ProducerWalk {
public:
  explicit ProducerWalk(Producer &producer) : producer(producer) {}

  /// `value` itself may have several readers (the caller checked them);
  /// every value further up must have one.
  bool walk(Value value, int64_t dim, std::string &whyNot);

private:
  bool walkSingleUse(Value value, int64_t dim, std::string &whyNot) {
    if (!value.hasOneUse()) {
      whyNot = value.getDefiningOp()
                   ? describe(value.getDefiningOp()) + " is also read elsewhere"
                   : "a function argument";
      return false;
    }
    return walk(value, dim, whyNot);
  }
  bool walkLinear(linalg::LinalgOp op, int64_t dim, std::string &whyNot);
  bool walkGeneric(linalg::GenericOp op, int64_t dim, std::string &whyNot);
  /// Records an edit of the constant `operand` reads, along its dim `dim`.
  bool editConstant(OpOperand &operand, int64_t dim, bool multiply,
                    std::string &whyNot);

  Producer &producer;
};

bool ProducerWalk::editConstant(OpOperand &operand, int64_t dim,
                                bool multiply, std::string &whyNot) {
  quantc::LayoutTrace trace = quantc::traceLayoutChain(operand.get(), {dim});
  if (!isF32ConstantSource(trace.source)) {
    whyNot = "the operand of " + describe(operand.getOwner()) +
             " is not an f32 constant";
    return false;
  }
  if (trace.dims.front() < 0) {
    whyNot = "the constant of " + describe(operand.getOwner()) +
             " does not vary along the channel";
    return false;
  }
  producer.edits.push_back({&operand, trace, trace.dims.front(), multiply});
  return true;
}

bool ProducerWalk::walk(Value value, int64_t dim, std::string &whyNot) {
  Operation *def = value.getDefiningOp();
  if (!def) {
    whyNot = "it is a function argument";
    return false;
  }
  if (isLayoutOp(def)) {
    quantc::LayoutTrace trace = quantc::traceLayoutChain(value, {dim});
    if (trace.ops.empty() || trace.dims.front() < 0) {
      whyNot = describe(def) + " does not keep the channel dimension whole";
      return false;
    }
    for (Operation *op : llvm::drop_end(trace.ops))
      if (!op->getResult(0).hasOneUse()) {
        whyNot = describe(op) + " is also read elsewhere";
        return false;
      }
    return walkSingleUse(trace.source, trace.dims.front(), whyNot);
  }
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(def))
    if (linalg::isaContractionOpInterface(linalgOp) ||
        linalg::isaConvolutionOpInterface(linalgOp))
      return walkLinear(linalgOp, dim, whyNot);
  if (auto generic = dyn_cast<linalg::GenericOp>(def))
    return walkGeneric(generic, dim, whyNot);
  whyNot = describe(def) + " does not commute with a per-channel scale";
  return false;
}

bool ProducerWalk::walkLinear(linalg::LinalgOp op, int64_t dim,
                              std::string &whyNot) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics()) {
    whyNot = describe(op) + " is not a two-operand linear layer";
    return false;
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto outputDim = dyn_cast<AffineDimExpr>(maps[2].getResult(dim));
  if (!outputDim) {
    whyNot = describe(op) + ": the channel is not a loop dimension";
    return false;
  }
  unsigned loop = outputDim.getPosition();
  // The operand that carries the output channel absorbs the scale: the
  // constant weight of a linear layer (the end of the walk), or the one
  // computed operand that has it (attention's V).
  int weightInput = -1;
  for (unsigned i = 0; i < 2; ++i)
    if (isF32ConstantSource(
            quantc::traceLayoutChain(op.getDpsInputs()[i], {}).source))
      weightInput = i;
  // A weight that carries the channel takes the scale (a depthwise
  // convolution's input carries it too); else the one input that does.
  SmallVector<unsigned> carriers;
  for (unsigned i = 0; i < 2; ++i)
    if (positionOf(maps[i], loop))
      carriers.push_back(i);
  if (weightInput >= 0 && llvm::is_contained(carriers, unsigned(weightInput)))
    carriers.assign(1, weightInput);
  if (carriers.size() != 1) {
    whyNot = describe(op) + ": the channel is not an output dimension of "
                            "exactly one operand";
    return false;
  }
  unsigned carrier = carriers.front();
  int64_t position = *positionOf(maps[carrier], loop);
  OpOperand &operand = op->getOpOperand(carrier);
  if (static_cast<int>(carrier) == weightInput) {
    if (!editConstant(operand, position, /*multiply=*/false, whyNot))
      return false;
    producer.linearWeight = producer.edits.size() - 1;
  } else if (!walkSingleUse(operand.get(), position, whyNot)) {
    return false;
  }
  // The init is accumulated into: a zero fill, or a bias that scales too.
  Value init = op.getDpsInits()[0];
  if (!isZeroFill(init) && !walkSingleUse(init, dim, whyNot))
    return false;
  if (static_cast<int>(carrier) == weightInput)
    producer.terminal = op;
  return true;
}

bool ProducerWalk::walkGeneric(linalg::GenericOp op, int64_t dim,
                               std::string &whyNot) {
  auto fail = [&](const Twine &why) {
    whyNot = (describe(op) + " " + why).str();
    return false;
  };
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op.getNumReductionLoops() != 0 ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return fail("is not elementwise");
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Value result = yield.getOperand(0);
  unsigned inputs = op.getNumDpsInputs();
  // Per input: the position of the channel, whether it is constant.
  SmallVector<std::optional<int64_t>> positions;
  SmallVector<bool> constant;
  for (OpOperand *input : op.getDpsInputOperands()) {
    positions.push_back(
        positionOf(op.getMatchingIndexingMap(input), static_cast<unsigned>(dim)));
    constant.push_back(isF32ConstantSource(
        quantc::traceLayoutChain(input->get(), {}).source));
  }
  auto inputOf = [&](Value v) -> int {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != &body ||
        arg.getArgNumber() >= inputs)
      return -1;
    return arg.getArgNumber();
  };
  auto walkInput = [&](int i) {
    if (!positions[i])
      return fail("broadcasts its input along the channel");
    return walkSingleUse(op.getDpsInputs()[i], *positions[i], whyNot);
  };
  // A copy (a broadcast of a bias, an identity).
  if (int i = inputOf(result); i >= 0) {
    if (!constant[i])
      return walkInput(i);
    if (!positions[i])
      return fail("copies a constant that does not vary along the channel");
    return editConstant(op->getOpOperand(i), *positions[i], false, whyNot);
  }
  Operation *computed = result.getDefiningOp();
  if (!computed || computed->getBlock() != &body)
    return fail("yields a value from outside its body");
  // One binary op on two inputs.
  if (&body.front() == computed &&
      isa<arith::MulFOp, arith::DivFOp, arith::AddFOp, arith::SubFOp>(
          computed)) {
    int a = inputOf(computed->getOperand(0));
    int b = inputOf(computed->getOperand(1));
    if (a >= 0 && b >= 0 && a != b) {
      bool isMul = isa<arith::MulFOp>(computed);
      bool isDiv = isa<arith::DivFOp>(computed);
      bool constA = constant[a] && positions[a];
      bool constB = constant[b] && positions[b];
      if (isMul || isDiv) {
        // x * c (either order) and x / c: c absorbs s, the walk ends.
        if (constB && !constant[a]) {
          producer.terminal = op;
          return editConstant(op->getOpOperand(b), *positions[b], isDiv,
                              whyNot);
        }
        if (isMul && constA && !constant[b]) {
          producer.terminal = op;
          return editConstant(op->getOpOperand(a), *positions[a], false,
                              whyNot);
        }
        // x * c with c the same on every channel: homogeneous in x.
        if (constant[b] && !positions[b] && !constant[a])
          return walkInput(a);
        if (isMul && constant[a] && !positions[a] && !constant[b])
          return walkInput(b);
        if (isMul && !constant[a] && !constant[b]) {
          // a * b: either factor may take s (SwiGLU: the up projection).
          Producer saved = producer;
          if (walkInput(b))
            return true;
          std::string first = whyNot;
          producer = saved;
          if (walkInput(a))
            return true;
          whyNot = first;
          return false;
        }
        return fail("scales by a value that cannot absorb a per-channel "
                    "factor");
      }
      // x + c, x - c, c - x: c / s, and x / s.
      if (constA || constB) {
        int c = constB ? b : a;
        int x = constB ? a : b;
        if (constant[x])
          return fail("adds two constants");
        return editConstant(op->getOpOperand(c), *positions[c], false,
                            whyNot) &&
               walkInput(x);
      }
      if (!constant[a] && !constant[b])
        return walkInput(a) && walkInput(b);
      return fail("adds a constant that does not vary along the channel");
    }
  }
  // ReLU, leaky ReLU, PReLU, ...: homogeneous in one computed input, the
  // others constant.
  int data = -1;
  llvm::SmallDenseSet<Value> fixed;
  for (unsigned i = 0; i < inputs; ++i) {
    if (constant[i]) {
      fixed.insert(body.getArgument(i));
    } else if (data < 0) {
      data = i;
    } else {
      return fail("combines several computed tensors");
    }
  }
  if (data >= 0 && isPositivelyHomogeneous(result, body.getArgument(data), fixed))
    return walkInput(data);
  return fail("does not commute with a per-channel scale");
}

/// Multiplies (or divides) the elements of a C-order tensor by
/// `factors[i]`, i their index along `axis`.
void scaleAlongAxis(std::vector<float> &data, ArrayRef<int64_t> shape,
                    int64_t axis, ArrayRef<double> factors, bool multiply) {
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d)
    inner *= shape[d];
  int64_t size = shape[axis];
  for (size_t i = 0; i < data.size(); ++i) {
    double f = factors[(i / inner) % size];
    data[i] = static_cast<float>(multiply ? data[i] * f : data[i] / f);
  }
}

/// max |c| of the slices of `values` along `axis`.
std::vector<double> sliceAmax(const std::vector<float> &values,
                              ArrayRef<int64_t> shape, int64_t axis) {
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d)
    inner *= shape[d];
  int64_t size = shape[axis];
  std::vector<double> amax(size, 0.0);
  for (size_t i = 0; i < values.size(); ++i) {
    double &slot = amax[(i / inner) % size];
    slot = std::max(slot, static_cast<double>(std::fabs(values[i])));
  }
  return amax;
}

/// The values of the constant behind an edit, and its shape.
std::vector<float> editValues(const ConstantEdit &edit,
                              SmallVector<int64_t> &shape) {
  arith::ConstantOp constant = constantOf(edit.trace.source);
  auto type = cast<RankedTensorType>(constant.getType());
  shape.assign(type.getShape().begin(), type.getShape().end());
  return quantc::readFloatElements(constant.getValue()).value_or(
      std::vector<float>());
}

/// max |c| along the edit's dimension.
std::vector<double> editAmax(const ConstantEdit &edit) {
  SmallVector<int64_t> shape;
  std::vector<float> values = editValues(edit, shape);
  return sliceAmax(values, shape, edit.dim);
}

/// Applies `edit` with `factors`: a new constant (the old one may have other
/// readers), the fake_quant and layout ops between it and the use cloned
/// onto it. The replaced ops are collected in `replaced` for clean-up.
void applyEdit(const ConstantEdit &edit, ArrayRef<double> factors,
               llvm::SetVector<Operation *> &replaced) {
  Value source = edit.trace.source;
  auto quant = source.getDefiningOp<qc::FakeQuantOp>();
  arith::ConstantOp constant = constantOf(source);
  auto type = cast<RankedTensorType>(constant.getType());
  std::vector<float> values =
      *quantc::readFloatElements(constant.getValue());
  scaleAlongAxis(values, type.getShape(), edit.dim, factors, edit.multiply);
  OpBuilder b(constant);
  Value current = arith::ConstantOp::create(
      b, constant.getLoc(),
      quantc::makeF32Constant(type, values, constant.getValue(), "smoothed"));
  replaced.insert(constant);
  auto cloneOnto = [&](Operation *op) {
    b.setInsertionPoint(op);
    IRMapping mapping;
    mapping.map(op->getOperand(0), current);
    current = b.clone(*op, mapping)->getResult(0);
    replaced.insert(op);
  };
  if (quant)
    cloneOnto(quant);
  for (Operation *op : edit.trace.ops)
    cloneOnto(op);
  edit.use->set(current);
}

/// Consumers that read one activation.
struct Group {
  Value source;
  int64_t dim = 0;
  std::vector<quantc::QuantizedLayer> layers;
  /// Per layer: the weight edit that scales its input channels by s.
  std::vector<ConstantEdit> weights;
  std::string names() const {
    std::vector<std::string> list;
    for (const quantc::QuantizedLayer &layer : layers)
      list.push_back("'" + layer.layer.name + "'");
    return llvm::join(list, ", ");
  }
  std::string key() const {
    std::vector<std::string> keys;
    for (const quantc::QuantizedLayer &layer : layers)
      keys.push_back(layer.statsKey);
    return llvm::join(keys, "\n");
  }
  int64_t channels() const {
    return cast<RankedTensorType>(source.getType()).getDimSize(dim);
  }
};

/// The quantized layers of `module` grouped by the activation they read, in
/// program order of their first layer.
std::vector<Group> findGroups(ModuleOp module) {
  std::vector<Group> groups;
  std::map<std::pair<void *, int64_t>, size_t> index;
  for (quantc::QuantizedLayer &layer : quantc::findQuantizedLayers(module)) {
    quantc::LayoutTrace trace = quantc::traceLayoutChain(
        layer.activation, {layer.layer.activationAxis});
    if (trace.dims.front() < 0)
      continue; // the activation's channel does not exist upstream
    auto key = std::make_pair(trace.source.getAsOpaquePointer(),
                              trace.dims.front());
    auto [it, inserted] = index.try_emplace(key, groups.size());
    if (inserted) {
      groups.emplace_back();
      groups.back().source = trace.source;
      groups.back().dim = trace.dims.front();
    }
    Group &group = groups[it->second];
    ConstantEdit weight;
    weight.use = &layer.layer.op->getOpOperand(layer.layer.weightInput);
    weight.trace = layer.layer.weight;
    weight.dim = layer.layer.weight.dims.front();
    weight.multiply = true;
    group.weights.push_back(weight);
    group.layers.push_back(layer);
  }
  return groups;
}

/// Whether every reader of the group's activation is one of its layers
/// (through their layout chains and activation fake_quants).
bool onlyGroupReads(const Group &group, std::string &whyNot) {
  llvm::SmallPtrSet<Operation *, 16> allowed;
  std::vector<Value> values = {group.source};
  for (const quantc::QuantizedLayer &layer : group.layers) {
    allowed.insert(layer.layer.op);
    quantc::LayoutTrace trace = quantc::traceLayoutChain(
        layer.activation, {layer.layer.activationAxis});
    for (Operation *op : trace.ops) {
      allowed.insert(op);
      values.push_back(op->getResult(0));
    }
    Value operand = layer.layer.op->getOperand(layer.layer.activationInput);
    if (auto quant = operand.getDefiningOp<qc::FakeQuantOp>()) {
      allowed.insert(quant);
      values.push_back(quant.getResult());
    }
  }
  for (Value value : values)
    for (Operation *user : value.getUsers())
      if (!allowed.contains(user)) {
        whyNot = "its input is also read by " + describe(user);
        return false;
      }
  return true;
}

/// Whether weight `edit` of a layer can take a factor along its input
/// channels: an f32 constant.
bool weightIsEditable(const ConstantEdit &edit) {
  return isF32ConstantSource(edit.trace.source);
}

/// A number in three significant digits.
std::string number(double value) {
  return llvm::formatv("{0}", llvm::format("%.3g", value)).str();
}

std::string range(ArrayRef<double> factors) {
  auto [low, high] = std::minmax_element(factors.begin(), factors.end());
  return "[" + number(*low) + ", " + number(*high) + "]";
}

struct QcSmoothPass : mlir::qc::impl::QcSmoothBase<QcSmoothPass> {
  using QcSmoothBase::QcSmoothBase;

  void runOnOperation() override;

private:
  /// The group whose layers have these statistics keys, found again in the
  /// current IR (edits replace constants and fake_quants).
  std::optional<Group> regroup(const std::string &key) {
    for (Group &group : findGroups(getOperation()))
      if (group.key() == key)
        return group;
    return std::nullopt;
  }

  bool analyze(Group &group, Producer &producer, std::string &whyNot) {
    for (const ConstantEdit &weight : group.weights)
      if (!weightIsEditable(weight)) {
        whyNot = "a weight is not an f32 constant";
        return false;
      }
    if (!onlyGroupReads(group, whyNot))
      return false;
    return ProducerWalk(producer).walk(group.source, group.dim, whyNot);
  }

  void equalize(const std::string &key);
  void smooth(const std::string &key, const quantc::CalibrationStats &stats);
  void insertShift(Group &group, ArrayRef<double> shift,
                   ArrayRef<double> factors);

  llvm::SetVector<Operation *> replaced;
  /// Per statistics key: the factors the activation was divided by so far
  /// (equalization before smoothing).
  std::map<std::string, std::vector<double>> divided;
  int smoothed = 0, equalized = 0, skipped = 0, shifted = 0;
};

void QcSmoothPass::equalize(const std::string &key) {
  std::optional<Group> group = regroup(key);
  if (!group)
    return;
  Producer producer;
  std::string whyNot;
  if (!analyze(*group, producer, whyNot) || producer.linearWeight < 0)
    return; // not a linear -> linear pair: nothing to equalize
  int64_t channels = group->channels();
  std::vector<double> r1 = editAmax(producer.edits[producer.linearWeight]);
  std::vector<double> r2(channels, 0.0);
  for (const ConstantEdit &weight : group->weights) {
    std::vector<double> amax = editAmax(weight);
    for (int64_t i = 0; i < channels; ++i)
      r2[i] = std::max(r2[i], amax[i]);
  }
  std::vector<double> s(channels, 1.0);
  for (int64_t i = 0; i < channels; ++i)
    if (r1[i] > 0 && r2[i] > 0)
      s[i] = std::clamp(std::sqrt(r1[i] / r2[i]), 1e-4, 1e4);
  for (const ConstantEdit &edit : producer.edits)
    applyEdit(edit, s, replaced);
  for (const ConstantEdit &edit : group->weights)
    applyEdit(edit, s, replaced);
  for (const quantc::QuantizedLayer &layer : group->layers) {
    std::vector<double> &factors = divided[layer.statsKey];
    if (factors.empty())
      factors.assign(channels, 1.0);
    for (int64_t i = 0; i < channels; ++i)
      factors[i] *= s[i];
  }
  ++equalized;
  mlir::emitRemark(group->layers.front().layer.op->getLoc())
      << "qc-smooth: equalized " << group->names() << " with "
      << describe(producer.terminal) << ", s in " << range(s);
}

void QcSmoothPass::insertShift(Group &group, ArrayRef<double> shift,
                               ArrayRef<double> factors) {
  // x' = x_scaled - z / s, right after the producer.
  Value source = group.source;
  auto type = cast<RankedTensorType>(source.getType());
  int64_t rank = type.getRank();
  OpBuilder b(source.getContext());
  b.setInsertionPointAfterValue(source);
  Location loc = source.getLoc();
  std::vector<float> offset(shift.size());
  for (size_t i = 0; i < shift.size(); ++i)
    offset[i] = static_cast<float>(shift[i] / factors[i]);
  auto offsetType =
      RankedTensorType::get({static_cast<int64_t>(offset.size())}, b.getF32Type());
  Value offsetConstant = arith::ConstantOp::create(
      b, loc,
      quantc::makeF32Constant(offsetType, offset, Attribute(), "smoothed"));
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), b.getF32Type());
  MLIRContext *ctx = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap channel = AffineMap::get(rank, 0, getAffineDimExpr(group.dim, ctx));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto centred = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{source, offsetConstant},
      ValueRange{empty}, ArrayRef<AffineMap>{identity, channel, identity},
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(
            nb, l, arith::SubFOp::create(nb, l, args[0], args[1]).getResult());
      });
  source.replaceAllUsesExcept(centred.getResult(0), centred);
}

/// For the bias variant: the output channel of a contraction's weight
/// (position in its result, dimension in the weight constant), when the
/// weight has exactly one dimension besides the reduction.
std::optional<std::pair<int64_t, int64_t>>
biasChannel(const quantc::QuantizedLayer &layer, const ConstantEdit &weight) {
  if (layer.layer.kind != quantc::LayerKind::Contraction)
    return std::nullopt;
  linalg::LinalgOp op = layer.layer.op;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap weightMap = maps[layer.layer.weightInput];
  std::optional<int64_t> outputPosition, weightPosition;
  for (auto [position, expr] : llvm::enumerate(weightMap.getResults())) {
    if (static_cast<int64_t>(position) == layer.layer.weightAxis)
      continue;
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim || outputPosition)
      return std::nullopt;
    outputPosition = positionOf(maps[2], dim.getPosition());
    weightPosition = position;
  }
  if (!outputPosition)
    return std::nullopt;
  quantc::LayoutTrace trace = quantc::traceLayoutChain(
      op.getDpsInputs()[layer.layer.weightInput], {*weightPosition});
  if (trace.source != weight.trace.source || trace.dims.front() < 0)
    return std::nullopt;
  // Every other dimension of the constant has size 1.
  arith::ConstantOp constant = constantOf(weight.trace.source);
  auto shape = cast<RankedTensorType>(constant.getType()).getShape();
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    if (d != weight.dim && d != trace.dims.front() && shape[d] != 1)
      return std::nullopt;
  return std::make_pair(*outputPosition, trace.dims.front());
}

/// Adds `bias` (one value per output channel, at `position` of the result)
/// to the result of `op`.
void addOutputBias(linalg::LinalgOp op, int64_t position,
                   ArrayRef<float> bias) {
  Value result = op->getResult(0);
  auto type = cast<RankedTensorType>(result.getType());
  int64_t rank = type.getRank();
  OpBuilder b(op);
  b.setInsertionPointAfter(op);
  Location loc = op.getLoc();
  auto biasType =
      RankedTensorType::get({static_cast<int64_t>(bias.size())}, b.getF32Type());
  Value biasConstant = arith::ConstantOp::create(
      b, loc, quantc::makeF32Constant(biasType, bias, Attribute(), "smoothed"));
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), b.getF32Type());
  MLIRContext *ctx = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap channel = AffineMap::get(rank, 0, getAffineDimExpr(position, ctx));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto biased = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{result, biasConstant},
      ValueRange{empty}, ArrayRef<AffineMap>{identity, channel, identity},
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(
            nb, l, arith::AddFOp::create(nb, l, args[0], args[1]).getResult());
      });
  result.replaceAllUsesExcept(biased.getResult(0), biased);
}

void QcSmoothPass::smooth(const std::string &key,
                          const quantc::CalibrationStats &stats) {
  std::optional<Group> group = regroup(key);
  if (!group)
    return;
  Location loc = group->layers.front().layer.op->getLoc();
  auto skip = [&](const Twine &why) {
    ++skipped;
    mlir::emitRemark(loc) << "qc-smooth: not smoothing " << group->names()
                          << ": " << why;
  };
  if (llvm::none_of(group->layers, [](const quantc::QuantizedLayer &layer) {
        return layer.layer.op->getOperand(layer.layer.activationInput)
            .getDefiningOp<qc::FakeQuantOp>();
      }))
    return skip("its activations are not quantized");
  Producer producer;
  std::string whyNot;
  if (!analyze(*group, producer, whyNot))
    return skip(whyNot);

  // The activation's per-channel statistics (the layers share them).
  int64_t channels = group->channels();
  std::vector<double> xLow(channels, 0.0), xHigh(channels, 0.0);
  bool haveMinMax = true;
  for (const quantc::QuantizedLayer &layer : group->layers) {
    const quantc::TensorStats *tensor = stats.lookup(layer.statsKey);
    if (!tensor || tensor->channels != channels ||
        static_cast<int64_t>(tensor->channelAmax.size()) != channels)
      return skip("no per-channel statistics under '" + layer.statsKey + "'");
    std::vector<double> divisor = divided.count(layer.statsKey)
                                      ? divided[layer.statsKey]
                                      : std::vector<double>(channels, 1.0);
    bool minMax = static_cast<int64_t>(tensor->channelMin.size()) == channels &&
                  static_cast<int64_t>(tensor->channelMax.size()) == channels;
    haveMinMax &= minMax;
    for (int64_t i = 0; i < channels; ++i) {
      double low = minMax ? tensor->channelMin[i] : -tensor->channelAmax[i];
      double high = minMax ? tensor->channelMax[i] : tensor->channelAmax[i];
      xLow[i] = std::min(xLow[i], low / divisor[i]);
      xHigh[i] = std::max(xHigh[i], high / divisor[i]);
    }
  }
  std::vector<double> shift(channels, 0.0), xRange(channels);
  bool withShift = bias;
  std::vector<std::optional<std::pair<int64_t, int64_t>>> outputs;
  if (withShift) {
    std::string why;
    if (!haveMinMax)
      why = "the statistics have no per-channel min/max";
    for (size_t i = 0; i < group->layers.size() && why.empty(); ++i) {
      outputs.push_back(biasChannel(group->layers[i], group->weights[i]));
      if (!outputs.back())
        why = "'" + group->layers[i].layer.name +
              "' is not a contraction with one output dimension";
    }
    if (!why.empty()) {
      withShift = false;
      mlir::emitRemark(loc) << "qc-smooth: " << group->names()
                            << " smoothed without the shift: " << why;
    }
  }
  for (int64_t i = 0; i < channels; ++i) {
    if (withShift) {
      shift[i] = (xHigh[i] + xLow[i]) / 2;
      xRange[i] = (xHigh[i] - xLow[i]) / 2;
    } else {
      xRange[i] = std::max(std::fabs(xLow[i]), std::fabs(xHigh[i]));
    }
  }
  std::vector<double> wRange(channels, 0.0);
  for (const ConstantEdit &weight : group->weights) {
    std::vector<double> amax = editAmax(weight);
    for (int64_t i = 0; i < channels; ++i)
      wRange[i] = std::max(wRange[i], amax[i]);
  }
  std::vector<double> s(channels, 1.0);
  for (int64_t i = 0; i < channels; ++i)
    if (xRange[i] > 0 && wRange[i] > 0)
      s[i] = std::clamp(std::pow(xRange[i], double(alpha)) /
                            std::pow(wRange[i], 1.0 - alpha),
                        1e-4, 1e4);

  // The shift's compensation z·W uses the weights as they are now.
  if (withShift) {
    for (size_t l = 0; l < group->layers.size(); ++l) {
      auto [position, outDim] = *outputs[l];
      SmallVector<int64_t> shape;
      std::vector<float> w = editValues(group->weights[l], shape);
      int64_t inDim = group->weights[l].dim;
      std::vector<float> bias(shape[outDim], 0.0f);
      std::vector<double> sum(shape[outDim], 0.0);
      // Strides of the two dimensions (the others have size 1).
      auto stride = [&](int64_t dim) {
        int64_t product = 1;
        for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d)
          product *= shape[d];
        return product;
      };
      int64_t inStride = stride(inDim), outStride = stride(outDim);
      for (int64_t k = 0; k < shape[inDim]; ++k)
        for (int64_t n = 0; n < shape[outDim]; ++n)
          sum[n] += shift[k] * w[k * inStride + n * outStride];
      for (int64_t n = 0; n < shape[outDim]; ++n)
        bias[n] = static_cast<float>(sum[n]);
      addOutputBias(group->layers[l].layer.op, position, bias);
    }
  }
  for (const ConstantEdit &edit : producer.edits)
    applyEdit(edit, s, replaced);
  for (const ConstantEdit &edit : group->weights)
    applyEdit(edit, s, replaced);
  if (withShift) {
    insertShift(*group, shift, s);
    ++shifted;
  }
  ++smoothed;
  for (const quantc::QuantizedLayer &layer : group->layers)
    layer.layer.op->setAttr(
        "qc.smooth",
        StringAttr::get(&getContext(),
                        "alpha " + number(alpha) +
                            (withShift ? ", shifted" : "")));
  mlir::emitRemark(loc) << "qc-smooth: smoothed " << group->names()
                        << " into "
                        << (producer.terminal ? describe(producer.terminal)
                                              : std::string("its producer"))
                        << " (alpha " << number(alpha) << ", s in "
                        << range(s) << (withShift ? ", shifted" : "") << ")";
}

void QcSmoothPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (!(alpha >= 0 && alpha <= 1)) {
    module.emitError() << "qc-smooth: alpha must lie in [0, 1], not " << alpha;
    return signalPassFailure();
  }
  std::optional<quantc::CalibrationStats> stats;
  if (smoothQuant) {
    if (statsDir.empty()) {
      module.emitError()
          << "qc-smooth: stats=DIR is required for SmoothQuant (the "
             "calibration statistics of the unsmoothed model; "
             "smooth=false equalize=true needs none)";
      return signalPassFailure();
    }
    std::string error;
    stats = quantc::CalibrationStats::read(statsDir, error);
    if (!stats) {
      module.emitError() << "qc-smooth: " << error;
      return signalPassFailure();
    }
  }
  std::vector<std::string> keys;
  for (const Group &group : findGroups(module))
    keys.push_back(group.key());
  if (equalizeLayers)
    for (const std::string &key : keys)
      equalize(key);
  if (smoothQuant)
    for (const std::string &key : keys)
      smooth(key, *stats);

  // The replaced constants, fake_quants and layout ops nothing reads now.
  bool erased = true;
  while (erased) {
    erased = false;
    for (Operation *op : llvm::make_early_inc_range(replaced))
      if (op->use_empty()) {
        replaced.remove(op);
        op->erase();
        erased = true;
      }
  }
  mlir::emitRemark(module.getLoc())
      << "qc-smooth: " << keys.size() << " activation(s) read by quantized "
      << "layers: " << equalized << " equalized, " << smoothed
      << " smoothed" << (shifted ? llvm::formatv(" ({0} shifted)", shifted).str()
                                 : std::string())
      << ", " << skipped << " not smoothed";
}

} // namespace
