//===- OnnxTraining.cpp - ai.onnx.preview.training optimizers -> arith ----===//
//
// The optimizer update rules of the ai.onnx.preview.training domain:
// Adagrad, Momentum (standard and Nesterov) and Adam. Inputs are the
// learning rate R and step count T (scalars, known at run time only), then
// n tensors X, their gradients G and the optimizer states; the outputs are
// the updated X and states. The per-step scalar (the decayed or bias-
// corrected learning rate) is computed once in f64, the updates element-wise
// in the tensors' type.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace quantc {
namespace {

enum class Optimizer { Adagrad, Momentum, Adam };

/// Input `index` (a one-element tensor) as an f64 scalar.
Value scalarAsF64(OnnxNodeContext &ctx, unsigned index) {
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value value = tensor::ExtractOp::create(
      b, loc, reshapeTensor(b, loc, ctx.input(index), {}), ValueRange{});
  return convertScalar(b, loc, value, ctx.inputDType(index), OnnxDType::Double);
}

LogicalResult lowerOptimizer(OnnxNodeContext &ctx, Optimizer kind) {
  unsigned groups = kind == Optimizer::Adagrad    ? 3
                    : kind == Optimizer::Momentum ? 3
                                                  : 4; // X, G, states...
  unsigned numTensors = ctx.numInputs() - 2;
  if (ctx.numInputs() < 2 + groups || numTensors % groups != 0)
    return ctx.emitError("expects R, T and " + std::to_string(groups) +
                         " groups of n tensors");
  unsigned n = numTensors / groups;
  if (ctx.numOutputs() != (groups - 1) * n)
    return ctx.emitError("expects " + std::to_string((groups - 1) * n) +
                         " outputs");
  if (numElementsOf(ctx.inputShape(0)) != 1 ||
      numElementsOf(ctx.inputShape(1)) != 1)
    return ctx.emitError("R and T must be scalars");
  double normCoefficient = ctx.attrFloat("norm_coefficient", 0.0f);
  double epsilon = ctx.attrFloat("epsilon", 1e-6f);
  double decay = ctx.attrFloat("decay_factor", 0.0f);
  double alpha = ctx.attrFloat("alpha", kind == Optimizer::Adam ? 0.9f : 0.0f);
  double beta = ctx.attrFloat("beta", kind == Optimizer::Adam ? 0.999f : 0.0f);
  double normPost = ctx.attrFloat("norm_coefficient_post", 0.0f);
  std::string mode = ctx.attrString("mode", "standard");
  if (ctx.failed())
    return failure();
  if (kind == Optimizer::Momentum && mode != "standard" && mode != "nesterov")
    return ctx.emitError("mode '" + mode + "' is not standard or nesterov");
  if (kind == Optimizer::Momentum &&
      (!ctx.hasAttr("alpha") || !ctx.hasAttr("beta") ||
       !ctx.hasAttr("norm_coefficient")))
    return ctx.emitError("alpha, beta and norm_coefficient are required");

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Type f64 = b.getF64Type();
  auto cst = [&](double v) { return createScalarConstant(b, loc, f64, v); };
  Value r = scalarAsF64(ctx, 0);
  Value t = scalarAsF64(ctx, 1);
  Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, t,
                                         cst(0.0));
  // The step's scalar: Adagrad's decayed rate, Momentum's gradient
  // coefficient, Adam's bias-corrected rate.
  Value step;
  if (kind == Optimizer::Adagrad) {
    step = arith::DivFOp::create(
        b, loc, r,
        arith::AddFOp::create(b, loc, cst(1.0),
                              arith::MulFOp::create(b, loc, t, cst(decay))));
  } else if (kind == Optimizer::Momentum) {
    step = arith::SelectOp::create(b, loc, positive, cst(beta), cst(1.0));
  } else {
    Value betaPower = math::PowFOp::create(b, loc, cst(beta), t);
    Value alphaPower = math::PowFOp::create(b, loc, cst(alpha), t);
    Value corrected = arith::DivFOp::create(
        b, loc,
        arith::MulFOp::create(
            b, loc, r,
            math::SqrtOp::create(b, loc,
                                 arith::SubFOp::create(b, loc, cst(1.0), betaPower))),
        arith::SubFOp::create(b, loc, cst(1.0), alphaPower));
    step = arith::SelectOp::create(b, loc, positive, corrected, r);
  }

  for (unsigned i = 0; i < n; ++i) {
    Value x = ctx.input(2 + i), g = ctx.input(2 + n + i);
    Value s1 = ctx.input(2 + 2 * n + i);
    Value s2 = kind == Optimizer::Adam ? ctx.input(2 + 3 * n + i) : Value();
    OnnxDType dtype = ctx.inputDType(2 + i);
    if (!isOnnxFloat(dtype))
      return ctx.emitError("X must be floating-point");
    auto type = cast<RankedTensorType>(x.getType());
    Type elementType = type.getElementType();
    ArrayRef<int64_t> shape = type.getShape();
    for (Value other : {g, s1, s2})
      if (other && other.getType() != type)
        return ctx.emitError("X, G and the states of tensor " +
                             std::to_string(i) + " differ in shape or type");
    Value stepTensor = createFilledTensor(
        b, loc, {}, arith::TruncFOp::create(b, loc, elementType, step).getResult());
    Value rTensor =
        kind == Optimizer::Momentum
            ? createFilledTensor(
                  b, loc, {}, arith::TruncFOp::create(b, loc, elementType, r).getResult())
            : Value();
    // G_reg = norm_coefficient * X + G
    auto gRegOf = [&](OpBuilder &nb, Location l, Value xs, Value gs) -> Value {
      Value c = createScalarConstant(nb, l, elementType, normCoefficient);
      return arith::AddFOp::create(nb, l, arith::MulFOp::create(nb, l, c, xs), gs);
    };
    auto c = [&](OpBuilder &nb, Location l, double v) {
      return createScalarConstant(nb, l, elementType, v);
    };
    Value xNew, state1, state2;
    if (kind == Optimizer::Adagrad) {
      state1 = buildElementwise(
          b, loc, {x, g, s1}, shape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Value gr = gRegOf(nb, l, a[0], a[1]);
            return arith::AddFOp::create(nb, l, a[2],
                                         arith::MulFOp::create(nb, l, gr, gr));
          });
      xNew = buildElementwise(
          b, loc, {x, g, state1, stepTensor}, shape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Value gr = gRegOf(nb, l, a[0], a[1]);
            Value root = arith::AddFOp::create(
                nb, l, math::SqrtOp::create(nb, l, a[2]), c(nb, l, epsilon));
            Value update = arith::DivFOp::create(
                nb, l, arith::MulFOp::create(nb, l, a[3], gr), root);
            return arith::SubFOp::create(nb, l, a[0], update);
          });
    } else if (kind == Optimizer::Momentum) {
      state1 = buildElementwise(
          b, loc, {x, g, s1, stepTensor}, shape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Value gr = gRegOf(nb, l, a[0], a[1]);
            return arith::AddFOp::create(
                nb, l, arith::MulFOp::create(nb, l, c(nb, l, alpha), a[2]),
                arith::MulFOp::create(nb, l, a[3], gr));
          });
      bool nesterov = mode == "nesterov";
      xNew = buildElementwise(
          b, loc, {x, g, state1, rTensor}, shape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Value direction = a[2];
            if (nesterov)
              direction = arith::AddFOp::create(
                  nb, l, gRegOf(nb, l, a[0], a[1]),
                  arith::MulFOp::create(nb, l, c(nb, l, alpha), a[2]));
            return arith::SubFOp::create(
                nb, l, a[0], arith::MulFOp::create(nb, l, a[3], direction));
          });
    } else {
      state1 = buildElementwise(
          b, loc, {x, g, s1}, shape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Value gr = gRegOf(nb, l, a[0], a[1]);
            return arith::AddFOp::create(
                nb, l, arith::MulFOp::create(nb, l, c(nb, l, alpha), a[2]),
                arith::MulFOp::create(nb, l, c(nb, l, 1.0 - alpha), gr));
          });
      state2 = buildElementwise(
          b, loc, {x, g, s2}, shape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Value gr = gRegOf(nb, l, a[0], a[1]);
            return arith::AddFOp::create(
                nb, l, arith::MulFOp::create(nb, l, c(nb, l, beta), a[2]),
                arith::MulFOp::create(nb, l, c(nb, l, 1.0 - beta),
                                      arith::MulFOp::create(nb, l, gr, gr)));
          });
      xNew = buildElementwise(
          b, loc, {x, state1, state2, stepTensor}, shape, elementType,
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            Value root = arith::AddFOp::create(
                nb, l, math::SqrtOp::create(nb, l, a[2]), c(nb, l, epsilon));
            Value update = arith::MulFOp::create(
                nb, l, a[3], arith::DivFOp::create(nb, l, a[1], root));
            Value moved = arith::SubFOp::create(nb, l, a[0], update);
            return arith::MulFOp::create(nb, l, c(nb, l, 1.0 - normPost), moved);
          });
    }
    ctx.setOutput(i, xNew, dtype);
    ctx.setOutput(n + i, state1, dtype);
    if (state2)
      ctx.setOutput(2 * n + i, state2, dtype);
  }
  return success();
}

} // namespace

void registerOnnxTrainingOps(OnnxOpRegistry &registry) {
  const char *domain = "ai.onnx.preview.training";
  registry.addInDomain(domain, "Adagrad",
                       {[](OnnxNodeContext &ctx) {
                          return lowerOptimizer(ctx, Optimizer::Adagrad);
                        },
                        nullptr, 1, 1000});
  registry.addInDomain(domain, "Momentum",
                       {[](OnnxNodeContext &ctx) {
                          return lowerOptimizer(ctx, Optimizer::Momentum);
                        },
                        nullptr, 1, 1000});
  registry.addInDomain(domain, "Adam",
                       {[](OnnxNodeContext &ctx) {
                          return lowerOptimizer(ctx, Optimizer::Adam);
                        },
                        nullptr, 1, 1000});
}

} // namespace quantc
