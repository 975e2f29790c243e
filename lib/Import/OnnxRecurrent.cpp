//===- OnnxRecurrent.cpp - ONNX RNN / GRU / LSTM -> scf.for + linalg ------===//
//
// The three recurrent layers, forward, reverse or bidirectional, with
// layout 0 ([seq, batch, ...]) and 1 ([batch, seq, ...]), biases, initial
// states, LSTM peepholes, GRU's linear_before_reset, `clip` and the
// activation functions ONNX lists (with activation_alpha / beta).
//
// Per direction: the input projection X·Wᵀ (+ both biases where they add)
// for every time step is one matmul before the loop; an scf.for over the
// steps carries H (and C) and the stacked Y, and does the recurrent matmul
// H·Rᵀ and the gate maths of one step. sequence_lens must be known at
// import time and equal to the sequence length (shorter sequences, which
// stop updating their state early, are rejected).
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "onnx/onnx_pb.h"

using namespace mlir;

namespace quantc {
namespace {

enum class CellKind { Rnn, Gru, Lstm };

struct Activation {
  std::string name;
  float alpha = 0, beta = 0;
};

/// Sets the defaults ONNX gives each activation's alpha / beta.
bool resolveActivation(Activation &a, bool hasAlpha, bool hasBeta) {
  static const struct {
    const char *name;
    float alpha, beta;
  } known[] = {{"Relu", 0, 0},          {"Tanh", 0, 0},
               {"Sigmoid", 0, 0},       {"Affine", 1, 0},
               {"LeakyRelu", 0.01f, 0}, {"ThresholdedRelu", 1, 0},
               {"ScaledTanh", 1, 1},    {"HardSigmoid", 0.2f, 0.5f},
               {"Elu", 1, 0},           {"Softsign", 0, 0},
               {"Softplus", 0, 0}};
  for (const auto &k : known)
    if (a.name == k.name) {
      if (!hasAlpha)
        a.alpha = k.alpha;
      if (!hasBeta)
        a.beta = k.beta;
      return true;
    }
  return false;
}

Value applyActivation(OpBuilder &b, Location loc, Value x,
                      const Activation &a) {
  Type type = x.getType();
  auto cst = [&](double v) { return createScalarConstant(b, loc, type, v); };
  const std::string &n = a.name;
  if (n == "Tanh")
    return math::TanhOp::create(b, loc, x);
  if (n == "Sigmoid") {
    // 1 / (1 + exp(-x))
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    return arith::DivFOp::create(b, loc, cst(1.0),
                                 arith::AddFOp::create(b, loc, cst(1.0), e));
  }
  if (n == "Relu")
    return arith::MaximumFOp::create(b, loc, x, cst(0.0));
  if (n == "Affine")
    return arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, cst(a.alpha)), cst(a.beta));
  if (n == "LeakyRelu") {
    Value neg = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                      cst(0.0));
    return arith::SelectOp::create(
        b, loc, neg, arith::MulFOp::create(b, loc, x, cst(a.alpha)), x);
  }
  if (n == "ThresholdedRelu") {
    Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                        cst(a.alpha));
    return arith::SelectOp::create(b, loc, above, x, cst(0.0));
  }
  if (n == "ScaledTanh")
    return arith::MulFOp::create(
        b, loc, cst(a.alpha),
        math::TanhOp::create(b, loc, arith::MulFOp::create(b, loc, x, cst(a.beta))));
  if (n == "HardSigmoid") {
    Value y = arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, cst(a.alpha)), cst(a.beta));
    y = arith::MaximumFOp::create(b, loc, y, cst(0.0));
    return arith::MinimumFOp::create(b, loc, y, cst(1.0));
  }
  if (n == "Elu") {
    Value neg = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                      cst(0.0));
    Value em1 = arith::SubFOp::create(b, loc, math::ExpOp::create(b, loc, x),
                                      cst(1.0));
    return arith::SelectOp::create(
        b, loc, neg, arith::MulFOp::create(b, loc, em1, cst(a.alpha)), x);
  }
  if (n == "Softsign")
    return arith::DivFOp::create(
        b, loc, x,
        arith::AddFOp::create(b, loc, cst(1.0), math::AbsFOp::create(b, loc, x)));
  // Softplus: log(1 + exp(x))
  return math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, x));
}

/// A static-size slice of `value` at `offsets` (values or constants).
Value sliceOf(OpBuilder &b, Location loc, Value value,
              ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes) {
  SmallVector<OpFoldResult> sizeAttrs, strides;
  for (int64_t s : sizes) {
    sizeAttrs.push_back(b.getIndexAttr(s));
    strides.push_back(b.getIndexAttr(1));
  }
  return tensor::ExtractSliceOp::create(b, loc, value, offsets, sizeAttrs,
                                        strides);
}

Value insertInto(OpBuilder &b, Location loc, Value part, Value into,
                 ArrayRef<OpFoldResult> offsets) {
  auto type = cast<RankedTensorType>(part.getType());
  SmallVector<OpFoldResult> sizeAttrs, strides;
  for (int64_t s : type.getShape()) {
    sizeAttrs.push_back(b.getIndexAttr(s));
    strides.push_back(b.getIndexAttr(1));
  }
  return tensor::InsertSliceOp::create(b, loc, part, into, offsets, sizeAttrs,
                                       strides);
}

class RecurrentLowering {
public:
  RecurrentLowering(OnnxNodeContext &ctx, CellKind kind)
      : ctx(ctx), kind(kind), b(ctx.builder()), loc(ctx.loc()) {}

  LogicalResult lower();

private:
  int64_t numGates() const {
    return kind == CellKind::Lstm ? 4 : kind == CellKind::Gru ? 3 : 1;
  }
  LogicalResult readAttributes();
  /// Element-wise over [batch, hidden] tensors.
  Value map(ValueRange inputs,
            function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    return buildElementwise(b, loc, inputs, {batch, hidden}, elementType,
                            body);
  }
  Value activate(Value x, unsigned which) {
    const Activation &a = activations[which];
    float clip = clipValue;
    bool hasClip = this->hasClip;
    return map({x}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
      Value v = args[0];
      if (hasClip) {
        Type type = v.getType();
        v = arith::MaximumFOp::create(nb, l, v,
                                      createScalarConstant(nb, l, type, -clip));
        v = arith::MinimumFOp::create(nb, l, v,
                                      createScalarConstant(nb, l, type, clip));
      }
      return applyActivation(nb, l, v, a);
    });
  }
  Value add(Value x, Value y) {
    return map({x, y}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
      return arith::AddFOp::create(nb, l, args[0], args[1]);
    });
  }
  Value mul(Value x, Value y) {
    return map({x, y}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
      return arith::MulFOp::create(nb, l, args[0], args[1]);
    });
  }
  /// Gate `g` ([batch, hidden]) of a [batch, G*hidden] tensor.
  Value gate(Value all, int64_t g) {
    return sliceOf(b, loc, all, {b.getIndexAttr(0), b.getIndexAttr(g * hidden)},
                   {batch, hidden});
  }
  /// Row `d` of a [D, n...] parameter, without the leading dim.
  Value direction(Value param, int64_t d) {
    auto type = cast<RankedTensorType>(param.getType());
    SmallVector<int64_t> sizes(type.getShape());
    sizes[0] = 1;
    SmallVector<OpFoldResult> offsets(sizes.size(), b.getIndexAttr(0));
    offsets[0] = b.getIndexAttr(d);
    Value slice = sliceOf(b, loc, param, offsets, sizes);
    return reshapeTensor(b, loc, slice, ArrayRef<int64_t>(sizes).drop_front());
  }
  FailureOr<Value> matmul(Value lhs, Value rhs) {
    return buildNumpyMatMul(ctx, lhs, rhs);
  }
  LogicalResult runDirection(int64_t d, bool reverse, Value &y, Value &h,
                             Value &c);

  OnnxNodeContext &ctx;
  CellKind kind;
  OpBuilder &b;
  Location loc;
  Type elementType;
  OnnxDType dtype;
  int64_t seq = 0, batch = 0, inputSize = 0, hidden = 0, dirs = 1;
  int64_t layout = 0;
  std::string directionName;
  SmallVector<Activation> activations;
  bool hasClip = false;
  float clipValue = 0;
  bool linearBeforeReset = false;
  Value x;        // [seq, batch, input]
  Value initialH; // [D, batch, hidden] or null
  Value initialC;
};

LogicalResult RecurrentLowering::readAttributes() {
  hidden = ctx.requireAttrInt("hidden_size");
  directionName = ctx.attrString("direction", "forward");
  layout = ctx.attrInt("layout", 0);
  std::optional<float> clip = ctx.optionalAttrFloat("clip");
  SmallVector<float> alphas = ctx.attrFloats("activation_alpha");
  SmallVector<float> betas = ctx.attrFloats("activation_beta");
  SmallVector<std::string> names;
  for (const onnx::AttributeProto &attr : ctx.node().attribute())
    if (attr.name() == "activations")
      for (const std::string &name : attr.strings())
        names.push_back(name);
  linearBeforeReset = ctx.attrInt("linear_before_reset", 0) != 0;
  if (kind == CellKind::Lstm && ctx.attrInt("input_forget", 0) != 0)
    return ctx.emitError("input_forget = 1 is not supported");
  if (ctx.failed())
    return failure();
  if (hidden < 1)
    return ctx.emitError("hidden_size must be >= 1");
  if (directionName == "bidirectional")
    dirs = 2;
  else if (directionName != "forward" && directionName != "reverse")
    return ctx.emitError("direction '" + directionName + "' is not supported");
  if (layout != 0 && layout != 1)
    return ctx.emitError("layout must be 0 or 1");
  if (clip) {
    hasClip = true;
    clipValue = *clip;
  }
  unsigned perDirection = kind == CellKind::Lstm ? 3 : kind == CellKind::Gru ? 2 : 1;
  if (names.empty()) {
    SmallVector<std::string> defaults =
        kind == CellKind::Lstm  ? SmallVector<std::string>{"Sigmoid", "Tanh", "Tanh"}
        : kind == CellKind::Gru ? SmallVector<std::string>{"Sigmoid", "Tanh"}
                                : SmallVector<std::string>{"Tanh"};
    for (int64_t d = 0; d < dirs; ++d)
      names.append(defaults.begin(), defaults.end());
    alphas.clear();
    betas.clear();
  }
  if ((int64_t)names.size() != perDirection * dirs)
    return ctx.emitError("activations has " + Twine(names.size()) +
                         " names, expected " + Twine(perDirection * dirs));
  for (auto [i, name] : llvm::enumerate(names)) {
    Activation a;
    a.name = name;
    bool hasAlpha = i < alphas.size(), hasBeta = i < betas.size();
    if (hasAlpha)
      a.alpha = alphas[i];
    if (hasBeta)
      a.beta = betas[i];
    if (!resolveActivation(a, hasAlpha, hasBeta))
      return ctx.emitError("activation '" + name + "' is not supported");
    activations.push_back(a);
  }
  return success();
}

/// One direction's loop: fills y [seq, batch, hidden] and the final h, c.
LogicalResult RecurrentLowering::runDirection(int64_t d, bool reverse,
                                              Value &y, Value &h, Value &c) {
  int64_t gates = numGates();
  unsigned firstActivation =
      d * (kind == CellKind::Lstm ? 3 : kind == CellKind::Gru ? 2 : 1);
  Value w = direction(ctx.input(1), d); // [G*H, I]
  Value r = direction(ctx.input(2), d); // [G*H, H]
  Value wT = transposeTensor(b, loc, w, {1, 0});
  Value rT = transposeTensor(b, loc, r, {1, 0});
  // Input projection of every step: [seq*batch, G*H] (+ biases).
  FailureOr<Value> projected =
      matmul(reshapeTensor(b, loc, x, {seq * batch, inputSize}), wT);
  if (failed(projected))
    return failure();
  Value rBias; // [G*H]: the recurrent bias, added per step where it must be
  if (ctx.hasInput(3)) {
    Value bias = direction(ctx.input(3), d); // [2*G*H]
    Value wb = sliceOf(b, loc, bias, {b.getIndexAttr(0)}, {gates * hidden});
    Value rb = sliceOf(b, loc, bias, {b.getIndexAttr(gates * hidden)},
                       {gates * hidden});
    if (kind == CellKind::Gru) {
      rBias = rb; // GRU's h gate needs Rbh inside the reset product
    } else {
      wb = buildElementwise(b, loc, {wb, rb}, {gates * hidden}, elementType,
                            [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                              return arith::AddFOp::create(nb, l, args[0], args[1]);
                            });
    }
    *projected = buildElementwise(
        b, loc, {*projected, wb}, {seq * batch, gates * hidden}, elementType,
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::AddFOp::create(nb, l, args[0], args[1]);
        });
  }
  Value xw = reshapeTensor(b, loc, *projected, {seq, batch, gates * hidden});
  Value peephole;
  if (kind == CellKind::Lstm && ctx.hasInput(7))
    peephole = direction(ctx.input(7), d); // [3*H]: i, o, f
  Value zero = createScalarConstant(b, loc, elementType, 0.0);
  Value h0 = initialH ? direction(initialH, d)
                      : createFilledTensor(b, loc, {batch, hidden}, zero);
  Value c0 = kind != CellKind::Lstm ? Value()
             : initialC ? direction(initialC, d)
                        : createFilledTensor(b, loc, {batch, hidden}, zero);
  Value y0 = createFilledTensor(b, loc, {seq, batch, hidden}, zero);
  SmallVector<Value> inits = {h0, y0};
  if (c0)
    inits.push_back(c0);
  Value lower = arith::ConstantIndexOp::create(b, loc, 0);
  Value upper = arith::ConstantIndexOp::create(b, loc, seq);
  Value step = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(b, loc, lower, upper, step, inits);
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body = loop.getBody();
    b.setInsertionPointToStart(body);
    Value t = loop.getInductionVar();
    if (reverse)
      t = arith::SubIOp::create(
          b, loc, arith::ConstantIndexOp::create(b, loc, seq - 1), t);
    Value hPrev = body->getArgument(1);
    Value yAcc = body->getArgument(2);
    Value cPrev = c0 ? body->getArgument(3) : Value();
    Value xt = reshapeTensor(
        b, loc,
        sliceOf(b, loc, xw, {t, b.getIndexAttr(0), b.getIndexAttr(0)},
                {1, batch, gates * hidden}),
        {batch, gates * hidden});
    FailureOr<Value> hr = matmul(hPrev, rT); // [batch, G*H]
    if (failed(hr))
      return failure();
    auto biasGate = [&](int64_t g) -> Value {
      Value slice = sliceOf(b, loc, rBias, {b.getIndexAttr(g * hidden)}, {hidden});
      return slice;
    };
    Value hNext, cNext;
    if (kind == CellKind::Rnn) {
      hNext = activate(add(xt, *hr), firstActivation);
    } else if (kind == CellKind::Gru) {
      // Gates z, r, h.
      Value zPre = add(gate(xt, 0), gate(*hr, 0));
      Value rPre = add(gate(xt, 1), gate(*hr, 1));
      if (rBias) {
        zPre = add(zPre, biasGate(0));
        rPre = add(rPre, biasGate(1));
      }
      Value z = activate(zPre, firstActivation);
      Value rg = activate(rPre, firstActivation);
      Value candidatePre;
      if (linearBeforeReset) {
        Value recurrent = gate(*hr, 2);
        if (rBias)
          recurrent = add(recurrent, biasGate(2));
        candidatePre = add(gate(xt, 2), mul(rg, recurrent));
      } else {
        Value rh = mul(rg, hPrev);
        Value rhT = sliceOf(b, loc, rT, {b.getIndexAttr(0), b.getIndexAttr(2 * hidden)},
                            {hidden, hidden});
        FailureOr<Value> recurrent = matmul(rh, rhT);
        if (failed(recurrent))
          return failure();
        candidatePre = add(gate(xt, 2), *recurrent);
        if (rBias)
          candidatePre = add(candidatePre, biasGate(2));
      }
      Value candidate = activate(candidatePre, firstActivation + 1);
      // H = (1 - z) * h~ + z * H_prev
      hNext = map({z, candidate, hPrev},
                  [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    Value one = createScalarConstant(nb, l, args[0].getType(), 1.0);
                    Value keep = arith::SubFOp::create(nb, l, one, args[0]);
                    return arith::AddFOp::create(
                        nb, l, arith::MulFOp::create(nb, l, keep, args[1]),
                        arith::MulFOp::create(nb, l, args[0], args[2]));
                  });
    } else {
      // Gates i, o, f, c; peepholes i, o, f.
      Value pre[4];
      for (int64_t g = 0; g < 4; ++g)
        pre[g] = add(gate(xt, g), gate(*hr, g));
      auto peep = [&](int64_t p, Value state) -> Value {
        Value weights = sliceOf(b, loc, peephole, {b.getIndexAttr(p * hidden)},
                                {hidden});
        return mul(state, weights);
      };
      if (peephole) {
        pre[0] = add(pre[0], peep(0, cPrev));
        pre[2] = add(pre[2], peep(2, cPrev));
      }
      Value i = activate(pre[0], firstActivation);
      Value f = activate(pre[2], firstActivation);
      Value candidate = activate(pre[3], firstActivation + 1);
      cNext = add(mul(f, cPrev), mul(i, candidate));
      if (peephole)
        pre[1] = add(pre[1], peep(1, cNext));
      Value o = activate(pre[1], firstActivation);
      hNext = mul(o, activate(cNext, firstActivation + 2));
    }
    Value yNext = insertInto(
        b, loc, reshapeTensor(b, loc, hNext, {1, batch, hidden}), yAcc,
        {t, b.getIndexAttr(0), b.getIndexAttr(0)});
    // One-shot bufferization needs each yielded state in its iter_arg's
    // buffer: copy the new state over the old one (read above, not after).
    auto overwrite = [&](Value next, Value previous) -> Value {
      return linalg::CopyOp::create(b, loc, next, previous).getResult(0);
    };
    SmallVector<Value> yields = {overwrite(hNext, hPrev), yNext};
    if (cNext)
      yields.push_back(overwrite(cNext, cPrev));
    scf::YieldOp::create(b, loc, yields);
  }
  h = loop.getResult(0);
  y = loop.getResult(1);
  c = c0 ? loop.getResult(2) : Value();
  return success();
}

LogicalResult RecurrentLowering::lower() {
  dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("element type " + onnxDTypeName(dtype) +
                         " is not supported (floating-point types only)");
  if (failed(readAttributes()))
    return failure();
  elementType = ctx.inputType(0).getElementType();
  ArrayRef<int64_t> xShape = ctx.inputShape(0);
  if (xShape.size() != 3)
    return ctx.emitError("X must have rank 3");
  x = ctx.input(0);
  if (layout == 1)
    x = transposeTensor(b, loc, x, {1, 0, 2});
  ArrayRef<int64_t> seqShape = cast<RankedTensorType>(x.getType()).getShape();
  seq = seqShape[0];
  batch = seqShape[1];
  inputSize = seqShape[2];
  int64_t gates = numGates();
  if (ctx.inputShape(1) != ArrayRef<int64_t>{dirs, gates * hidden, inputSize} ||
      ctx.inputShape(2) != ArrayRef<int64_t>{dirs, gates * hidden, hidden})
    return ctx.emitError("W or R does not have the shape [num_directions, " +
                         Twine(gates) + " * hidden_size, ...]");
  if (ctx.hasInput(3) && ctx.inputShape(3) != ArrayRef<int64_t>{dirs, 2 * gates * hidden})
    return ctx.emitError("B must have shape [num_directions, " +
                         Twine(2 * gates) + " * hidden_size]");
  if (ctx.hasInput(4)) {
    FailureOr<SmallVector<int64_t>> lengths =
        ctx.requireConstantInts(4, "sequence_lens");
    if (failed(lengths))
      return failure();
    for (int64_t length : *lengths)
      if (length != seq)
        return ctx.emitError("sequence_lens shorter than the sequence (" +
                             Twine(length) + " < " + Twine(seq) +
                             ") are not supported");
  }
  auto stateInput = [&](unsigned index) -> FailureOr<Value> {
    if (!ctx.hasInput(index))
      return Value();
    Value state = ctx.input(index);
    if (layout == 1)
      state = transposeTensor(b, loc, state, {1, 0, 2});
    if (cast<RankedTensorType>(state.getType()).getShape() !=
        ArrayRef<int64_t>{dirs, batch, hidden})
      return ctx.emitError("input " + Twine(index) +
                           " (an initial state) has the wrong shape");
    return state;
  };
  FailureOr<Value> h0 = stateInput(5);
  if (failed(h0))
    return failure();
  initialH = *h0;
  if (kind == CellKind::Lstm) {
    FailureOr<Value> c0 = stateInput(6);
    if (failed(c0))
      return failure();
    initialC = *c0;
    if (ctx.hasInput(7) && ctx.inputShape(7) != ArrayRef<int64_t>{dirs, 3 * hidden})
      return ctx.emitError("P must have shape [num_directions, 3 * hidden_size]");
  }

  SmallVector<Value> ys, hs, cs;
  for (int64_t d = 0; d < dirs; ++d) {
    bool reverse = directionName == "reverse" || d == 1;
    Value y, h, c;
    if (failed(runDirection(d, reverse, y, h, c)))
      return failure();
    ys.push_back(reshapeTensor(b, loc, y, {seq, 1, batch, hidden}));
    hs.push_back(reshapeTensor(b, loc, h, {1, batch, hidden}));
    if (c)
      cs.push_back(reshapeTensor(b, loc, c, {1, batch, hidden}));
  }
  auto join = [&](ArrayRef<Value> parts, int64_t axis) -> Value {
    if (parts.size() == 1)
      return parts[0];
    return tensor::ConcatOp::create(b, loc, axis, parts);
  };
  Value y = join(ys, 1); // [seq, D, batch, hidden]
  Value yh = join(hs, 0); // [D, batch, hidden]
  Value yc = cs.empty() ? Value() : join(cs, 0);
  if (layout == 1) {
    y = transposeTensor(b, loc, y, {2, 0, 1, 3});
    yh = transposeTensor(b, loc, yh, {1, 0, 2});
    if (yc)
      yc = transposeTensor(b, loc, yc, {1, 0, 2});
  }
  if (ctx.hasOutput(0))
    ctx.setOutput(0, y, dtype);
  if (ctx.hasOutput(1))
    ctx.setOutput(1, yh, dtype);
  if (kind == CellKind::Lstm && ctx.hasOutput(2))
    ctx.setOutput(2, yc, dtype);
  return success();
}

} // namespace

void registerOnnxRecurrentOps(OnnxOpRegistry &registry) {
  registry.add("RNN", [](OnnxNodeContext &ctx) {
    return RecurrentLowering(ctx, CellKind::Rnn).lower();
  }, nullptr, 7);
  registry.add("GRU", [](OnnxNodeContext &ctx) {
    return RecurrentLowering(ctx, CellKind::Gru).lower();
  }, nullptr, 7);
  registry.add("LSTM", [](OnnxNodeContext &ctx) {
    return RecurrentLowering(ctx, CellKind::Lstm).lower();
  }, nullptr, 7);
}

} // namespace quantc
