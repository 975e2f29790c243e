//===- OnnxElementwise.cpp - Element-wise ONNX ops -> linalg.generic ------===//
//
// Arithmetic, math functions, activations, comparisons, logic, Where, Cast,
// Identity and Dropout (inference). Each becomes one linalg.generic with
// numpy broadcasting (buildElementwise); transcendental functions of 16-bit
// and 8-bit floats are computed in f32 and rounded back, as numpy does.
//
// Ops used in shape computations (arithmetic, comparisons, logic, Where,
// Cast, Identity, Floor/Ceil/Round/Sqrt) also fold on host constants.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace quantc {
namespace {

/// Binary ops broadcast like numpy since opset 7; before, a `broadcast`
/// attribute chose legacy semantics that no lowering here implements.
constexpr int64_t kNumpyBroadcastOpset = 7;

using ScalarFn = std::function<Value(OpBuilder &, Location, Value)>;
using BinaryScalarFn = std::function<Value(OpBuilder &, Location, Value, Value)>;

Value constantLike(OpBuilder &b, Location loc, Value like, double value) {
  return createScalarConstant(b, loc, like.getType(), value);
}

bool isNarrowFloat(Type type) {
  auto floatType = dyn_cast<FloatType>(type);
  return floatType && floatType.getWidth() < 32;
}

/// Runs `fn` on `x` in f32 when x is a 16- or 8-bit float, rounding back.
Value computeWide(OpBuilder &b, Location loc, Value x, const ScalarFn &fn) {
  Type type = x.getType();
  if (!isNarrowFloat(type))
    return fn(b, loc, x);
  Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
  return arith::TruncFOp::create(b, loc, type, fn(b, loc, wide));
}

std::string dtypeText(OnnxDType dtype) { return onnxDTypeName(dtype); }

//===----------------------------------------------------------------------===//
// Host evaluation (folding)
//===----------------------------------------------------------------------===//

/// Evaluates an element-wise function with numpy broadcasting on host
/// constants. `floatFn` runs when the computation type is floating point
/// (on doubles), `intFn` otherwise (on int64s).
using HostFloatFn = std::function<double(ArrayRef<double>)>;
using HostIntFn = std::function<int64_t(ArrayRef<int64_t>)>;

LogicalResult hostElementwise(OnnxNodeContext &ctx,
                              ArrayRef<const KnownTensor *> inputs,
                              OnnxDType resultDType, bool computeInFloat,
                              const HostFloatFn &floatFn,
                              const HostIntFn &intFn,
                              SmallVectorImpl<KnownTensor> &results) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (const KnownTensor *input : inputs)
    shapes.push_back(input->shape);
  std::optional<SmallVector<int64_t>> shape = broadcastShapes(shapes);
  if (!shape)
    return failure(); // the lowering reports it
  if ((computeInFloat && !floatFn) || (!computeInFloat && !intFn))
    return failure();
  int64_t count = numElementsOf(*shape);
  int64_t rank = shape->size();
  std::vector<double> floats;
  std::vector<int64_t> ints;
  SmallVector<int64_t> index(rank, 0);
  SmallVector<double> floatArgs(inputs.size());
  SmallVector<int64_t> intArgs(inputs.size());
  for (int64_t linear = 0; linear < count; ++linear) {
    int64_t rest = linear;
    for (int64_t d = rank - 1; d >= 0; --d) {
      index[d] = (*shape)[d] ? rest % (*shape)[d] : 0;
      rest = (*shape)[d] ? rest / (*shape)[d] : 0;
    }
    for (auto [i, input] : llvm::enumerate(inputs)) {
      int64_t offset = rank - input->rank();
      int64_t element = 0;
      for (int64_t d = 0; d < input->rank(); ++d)
        element = element * input->shape[d] +
                  (input->shape[d] == 1 ? 0 : index[offset + d]);
      if (computeInFloat)
        floatArgs[i] = input->getDouble(element);
      else
        intArgs[i] = input->getInt(element);
    }
    if (computeInFloat)
      floats.push_back(floatFn(floatArgs));
    else
      ints.push_back(intFn(intArgs));
  }
  if (computeInFloat)
    results.push_back(KnownTensor::fromDoubles(resultDType, *shape, floats));
  else
    results.push_back(KnownTensor::fromInts(resultDType, *shape, ints));
  return success();
}

/// A folder for an op whose result has its first input's type.
OnnxFoldFn makeSameTypeFold(HostFloatFn floatFn, HostIntFn intFn) {
  return [floatFn, intFn](OnnxNodeContext &ctx,
                          SmallVectorImpl<KnownTensor> &results) {
    SmallVector<const KnownTensor *> inputs;
    for (unsigned i = 0; i < ctx.numInputs(); ++i)
      if (ctx.hasInput(i))
        inputs.push_back(ctx.knownInput(i));
    if (inputs.empty())
      return failure();
    OnnxDType dtype = inputs[0]->dtype;
    for (const KnownTensor *input : inputs)
      if (input->dtype != dtype)
        return failure();
    return hostElementwise(ctx, inputs, dtype, isOnnxFloat(dtype), floatFn,
                           intFn, results);
  };
}

/// A folder for a comparison: bool result, compared in the input type.
OnnxFoldFn makeCompareFold(std::function<bool(double, double)> floatFn,
                           std::function<bool(int64_t, int64_t, bool)> intFn) {
  return [floatFn, intFn](OnnxNodeContext &ctx,
                          SmallVectorImpl<KnownTensor> &results) {
    const KnownTensor *lhs = ctx.knownInput(0);
    const KnownTensor *rhs = ctx.knownInput(1);
    if (lhs->dtype != rhs->dtype)
      return failure();
    bool isUnsigned = isOnnxUnsigned(lhs->dtype);
    bool isFloat = lhs->isFloat();
    // Comparisons produce bools; compute as ints holding 0/1.
    if (isFloat) {
      return hostElementwise(
          ctx, {lhs, rhs}, OnnxDType::Bool, /*computeInFloat=*/true,
          [&](ArrayRef<double> a) { return floatFn(a[0], a[1]) ? 1.0 : 0.0; },
          nullptr, results);
    }
    return hostElementwise(
        ctx, {lhs, rhs}, OnnxDType::Bool, /*computeInFloat=*/false, nullptr,
        [&](ArrayRef<int64_t> a) -> int64_t {
          return intFn(a[0], a[1], isUnsigned);
        },
        results);
  };
}

//===----------------------------------------------------------------------===//
// Lowering shapes
//===----------------------------------------------------------------------===//

/// Checks that inputs [first, last) share one element type; returns it.
FailureOr<OnnxDType> commonDType(OnnxNodeContext &ctx, unsigned first,
                                 unsigned last) {
  OnnxDType dtype = OnnxDType::Undefined;
  for (unsigned i = first; i < last; ++i) {
    if (!ctx.hasInput(i))
      continue;
    OnnxDType current = ctx.inputDType(i);
    if (dtype == OnnxDType::Undefined)
      dtype = current;
    else if (current != dtype)
      return ctx.emitError("inputs have different element types (" +
                           dtypeText(dtype) + " and " + dtypeText(current) +
                           ")");
  }
  if (dtype == OnnxDType::Undefined)
    return ctx.emitError("the op has no inputs");
  if (!onnxDTypeToMlir(dtype, ctx.getContext()))
    return ctx.emitError("element type " + dtypeText(dtype) +
                         " is not supported");
  return dtype;
}

LogicalResult unsupportedType(OnnxNodeContext &ctx, OnnxDType dtype,
                              llvm::StringRef supported) {
  return ctx.emitError("element type " + dtypeText(dtype) +
                       " is not supported (" + supported + ")");
}

/// A unary op on floats: `fn` gets the element (in f32 for narrow floats).
LogicalResult lowerFloatUnary(OnnxNodeContext &ctx, const ScalarFn &fn) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return unsupportedType(ctx, dtype, "floating-point types only");
  Value x = ctx.input(0);
  Value result = buildElementwise(
      ctx.builder(), ctx.loc(), x, ctx.inputShape(0),
      ctx.inputType(0).getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return computeWide(b, loc, args[0], fn);
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

/// A unary op on numbers: `floatFn` for floats (in f32 when narrow),
/// `intFn(b, loc, x, isUnsigned)` for integers.
LogicalResult
lowerNumericUnary(OnnxNodeContext &ctx, const ScalarFn &floatFn,
                  std::function<Value(OpBuilder &, Location, Value, bool)> intFn) {
  OnnxDType dtype = ctx.inputDType(0);
  bool isFloat = isOnnxFloat(dtype);
  if (!isFloat && !(isOnnxInteger(dtype) && intFn))
    return unsupportedType(ctx, dtype,
                           intFn ? "numeric types only"
                                 : "floating-point types only");
  bool isUnsigned = isOnnxUnsigned(dtype);
  Value result = buildElementwise(
      ctx.builder(), ctx.loc(), ctx.input(0), ctx.inputShape(0),
      ctx.inputType(0).getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        if (isFloat)
          return computeWide(b, loc, args[0], floatFn);
        return intFn(b, loc, args[0], isUnsigned);
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

/// A binary op whose inputs and result share one numeric type.
LogicalResult lowerNumericBinary(
    OnnxNodeContext &ctx, const BinaryScalarFn &floatFn,
    std::function<Value(OpBuilder &, Location, Value, Value, bool)> intFn) {
  FailureOr<OnnxDType> dtype = commonDType(ctx, 0, 2);
  if (failed(dtype))
    return failure();
  bool isFloat = isOnnxFloat(*dtype);
  if (!isFloat && !(isOnnxInteger(*dtype) && intFn))
    return unsupportedType(ctx, *dtype,
                           intFn ? "numeric types only"
                                 : "floating-point types only");
  bool isUnsigned = isOnnxUnsigned(*dtype);
  Value result = buildBroadcastElementwise(
      ctx, {ctx.input(0), ctx.input(1)}, ctx.inputType(0).getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        if (isFloat)
          return floatFn(b, loc, args[0], args[1]);
        return intFn(b, loc, args[0], args[1], isUnsigned);
      });
  if (!result)
    return failure();
  ctx.setOutput(0, result, *dtype);
  return success();
}

/// Sum / Min / Max / Mean: any number of inputs, folded left to right.
LogicalResult lowerVariadic(
    OnnxNodeContext &ctx, const BinaryScalarFn &floatFn,
    std::function<Value(OpBuilder &, Location, Value, Value, bool)> intFn,
    bool mean = false) {
  FailureOr<OnnxDType> dtype = commonDType(ctx, 0, ctx.numInputs());
  if (failed(dtype))
    return failure();
  bool isFloat = isOnnxFloat(*dtype);
  if (!isFloat && !(isOnnxInteger(*dtype) && intFn))
    return unsupportedType(ctx, *dtype,
                           intFn ? "numeric types only"
                                 : "floating-point types only");
  bool isUnsigned = isOnnxUnsigned(*dtype);
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < ctx.numInputs(); ++i)
    if (ctx.hasInput(i))
      inputs.push_back(ctx.input(i));
  size_t count = inputs.size();
  Value result = buildBroadcastElementwise(
      ctx, inputs, ctx.inputType(0).getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value acc = args[0];
        for (Value arg : args.drop_front())
          acc = isFloat ? floatFn(b, loc, acc, arg)
                        : intFn(b, loc, acc, arg, isUnsigned);
        if (mean) {
          Value n = constantLike(b, loc, acc, static_cast<double>(count));
          acc = arith::DivFOp::create(b, loc, acc, n);
        }
        return acc;
      });
  if (!result)
    return failure();
  ctx.setOutput(0, result, *dtype);
  return success();
}

/// A comparison with a bool result.
LogicalResult lowerCompare(OnnxNodeContext &ctx, arith::CmpFPredicate floatPred,
                           arith::CmpIPredicate signedPred,
                           arith::CmpIPredicate unsignedPred) {
  FailureOr<OnnxDType> dtype = commonDType(ctx, 0, 2);
  if (failed(dtype))
    return failure();
  bool isFloat = isOnnxFloat(*dtype);
  bool isUnsigned = isOnnxUnsigned(*dtype) || *dtype == OnnxDType::Bool;
  Value result = buildBroadcastElementwise(
      ctx, {ctx.input(0), ctx.input(1)}, ctx.builder().getI1Type(),
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        if (isFloat)
          return arith::CmpFOp::create(b, loc, floatPred, args[0], args[1]);
        return arith::CmpIOp::create(b, loc,
                                     isUnsigned ? unsignedPred : signedPred,
                                     args[0], args[1]);
      });
  if (!result)
    return failure();
  ctx.setOutput(0, result, OnnxDType::Bool);
  return success();
}

/// And / Or / Xor on bools (and the Bitwise* ops on integers).
LogicalResult lowerLogical(OnnxNodeContext &ctx, const BinaryScalarFn &fn,
                           bool bitwise) {
  FailureOr<OnnxDType> dtype = commonDType(ctx, 0, 2);
  if (failed(dtype))
    return failure();
  if (bitwise ? !isOnnxInteger(*dtype) : *dtype != OnnxDType::Bool)
    return unsupportedType(ctx, *dtype,
                           bitwise ? "integer types only" : "bool only");
  Value result = buildBroadcastElementwise(
      ctx, {ctx.input(0), ctx.input(1)}, ctx.inputType(0).getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return fn(b, loc, args[0], args[1]);
      });
  if (!result)
    return failure();
  ctx.setOutput(0, result, *dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// Scalar building blocks
//===----------------------------------------------------------------------===//

Value maxFloat(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MaximumFOp::create(b, loc, x, y);
}
Value minFloat(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MinimumFOp::create(b, loc, x, y);
}
Value maxInt(OpBuilder &b, Location loc, Value x, Value y, bool isUnsigned) {
  if (isUnsigned)
    return arith::MaxUIOp::create(b, loc, x, y);
  return arith::MaxSIOp::create(b, loc, x, y);
}
Value minInt(OpBuilder &b, Location loc, Value x, Value y, bool isUnsigned) {
  if (isUnsigned)
    return arith::MinUIOp::create(b, loc, x, y);
  return arith::MinSIOp::create(b, loc, x, y);
}

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = constantLike(b, loc, x, 1.0);
  Value negated = arith::NegFOp::create(b, loc, x);
  Value exp = math::ExpOp::create(b, loc, negated);
  Value denominator = arith::AddFOp::create(b, loc, one, exp);
  return arith::DivFOp::create(b, loc, one, denominator);
}

/// clamp(alpha * x + beta, 0, 1)
Value hardSigmoid(OpBuilder &b, Location loc, Value x, double alpha,
                  double beta) {
  Value scaled = arith::MulFOp::create(b, loc, x, constantLike(b, loc, x, alpha));
  Value shifted =
      arith::AddFOp::create(b, loc, scaled, constantLike(b, loc, x, beta));
  Value low = maxFloat(b, loc, shifted, constantLike(b, loc, x, 0.0));
  return minFloat(b, loc, low, constantLike(b, loc, x, 1.0));
}

Value isNegative(OpBuilder &b, Location loc, Value x) {
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                               constantLike(b, loc, x, 0.0));
}

//===----------------------------------------------------------------------===//
// Host functions for folders
//===----------------------------------------------------------------------===//

int64_t hostDivide(int64_t a, int64_t b) {
  if (b == 0)
    return 0;
  if (a == std::numeric_limits<int64_t>::min() && b == -1)
    return a;
  return a / b;
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void registerArithmetic(OnnxOpRegistry &registry) {
  registry.add(
      "Add",
      [](OnnxNodeContext &ctx) {
        return lowerNumericBinary(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::AddFOp::create(b, loc, x, y);
            },
            [](OpBuilder &b, Location loc, Value x, Value y, bool) -> Value {
              return arith::AddIOp::create(b, loc, x, y);
            });
      },
      makeSameTypeFold([](ArrayRef<double> a) { return a[0] + a[1]; },
                       [](ArrayRef<int64_t> a) {
                         return static_cast<int64_t>(
                             static_cast<uint64_t>(a[0]) +
                             static_cast<uint64_t>(a[1]));
                       }),
      kNumpyBroadcastOpset);
  registry.add(
      "Sub",
      [](OnnxNodeContext &ctx) {
        return lowerNumericBinary(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::SubFOp::create(b, loc, x, y);
            },
            [](OpBuilder &b, Location loc, Value x, Value y, bool) -> Value {
              return arith::SubIOp::create(b, loc, x, y);
            });
      },
      makeSameTypeFold([](ArrayRef<double> a) { return a[0] - a[1]; },
                       [](ArrayRef<int64_t> a) {
                         return static_cast<int64_t>(
                             static_cast<uint64_t>(a[0]) -
                             static_cast<uint64_t>(a[1]));
                       }),
      kNumpyBroadcastOpset);
  registry.add(
      "Mul",
      [](OnnxNodeContext &ctx) {
        return lowerNumericBinary(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::MulFOp::create(b, loc, x, y);
            },
            [](OpBuilder &b, Location loc, Value x, Value y, bool) -> Value {
              return arith::MulIOp::create(b, loc, x, y);
            });
      },
      makeSameTypeFold([](ArrayRef<double> a) { return a[0] * a[1]; },
                       [](ArrayRef<int64_t> a) {
                         return static_cast<int64_t>(
                             static_cast<uint64_t>(a[0]) *
                             static_cast<uint64_t>(a[1]));
                       }),
      kNumpyBroadcastOpset);
  // Integer Div truncates toward zero (C, and ONNX Runtime).
  registry.add(
      "Div",
      [](OnnxNodeContext &ctx) {
        return lowerNumericBinary(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::DivFOp::create(b, loc, x, y);
            },
            [](OpBuilder &b, Location loc, Value x, Value y,
               bool isUnsigned) -> Value {
              if (isUnsigned)
                return arith::DivUIOp::create(b, loc, x, y);
              return arith::DivSIOp::create(b, loc, x, y);
            });
      },
      [](OnnxNodeContext &ctx, SmallVectorImpl<KnownTensor> &results) {
        // Unsigned 64-bit division differs from the signed host division.
        if (ctx.inputDType(0) == OnnxDType::UInt64)
          return failure();
        return makeSameTypeFold(
            [](ArrayRef<double> a) { return a[0] / a[1]; },
            [](ArrayRef<int64_t> a) { return hostDivide(a[0], a[1]); })(
            ctx, results);
      },
      kNumpyBroadcastOpset);

  // Mod: fmod=1 is C's fmod (sign of the dividend); fmod=0 (integers only)
  // is Python's % (sign of the divisor).
  registry.add("Mod", [](OnnxNodeContext &ctx) {
    int64_t fmod = ctx.attrInt("fmod", 0);
    OnnxDType dtype = ctx.inputDType(0);
    if (isOnnxFloat(dtype) && fmod != 1)
      return ctx.emitError("fmod must be 1 for floating-point inputs");
    return lowerNumericBinary(
        ctx,
        [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
          return computeWide(b, loc, x, [&](OpBuilder &b2, Location l, Value xw) {
            Value yw = isNarrowFloat(y.getType())
                           ? Value(arith::ExtFOp::create(b2, l, b2.getF32Type(), y))
                           : y;
            return Value(arith::RemFOp::create(b2, l, xw, yw));
          });
        },
        [fmod](OpBuilder &b, Location loc, Value x, Value y,
               bool isUnsigned) -> Value {
          if (isUnsigned)
            return arith::RemUIOp::create(b, loc, x, y);
          Value rem = arith::RemSIOp::create(b, loc, x, y);
          if (fmod == 1)
            return rem;
          // Python: add the divisor when the remainder is non-zero and its
          // sign differs from the divisor's.
          Value zero = createIntConstant(b, loc, x.getType(), 0);
          Value nonZero = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ne, rem, zero);
          Value remNegative = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::slt, rem, zero);
          Value divisorNegative = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::slt, y, zero);
          Value signsDiffer =
              arith::XOrIOp::create(b, loc, remNegative, divisorNegative);
          Value adjust = arith::AndIOp::create(b, loc, nonZero, signsDiffer);
          Value adjusted = arith::AddIOp::create(b, loc, rem, y);
          return arith::SelectOp::create(b, loc, adjust, adjusted, rem);
        });
  });

  // Pow(X: T, Y: T1) -> T. Float bases: powf in the base's type (f32 for
  // narrow floats). Integer bases: computed in f64 (exact for the integer
  // results that fit), then truncated like the reference's astype.
  registry.add("Pow", [](OnnxNodeContext &ctx) {
    OnnxDType baseType = ctx.inputDType(0);
    OnnxDType exponentType = ctx.inputDType(1);
    bool baseFloat = isOnnxFloat(baseType);
    if (!baseFloat && !isOnnxInteger(baseType))
      return unsupportedType(ctx, baseType, "numeric bases only");
    if (!isOnnxFloat(exponentType) && !isOnnxInteger(exponentType))
      return unsupportedType(ctx, exponentType, "numeric exponents only");
    OnnxDType computeType = baseFloat && !isNarrowFloat(ctx.inputType(0)
                                                            .getElementType())
                                ? baseType
                            : baseFloat ? OnnxDType::Float
                                        : OnnxDType::Double;
    Value result = buildBroadcastElementwise(
        ctx, {ctx.input(0), ctx.input(1)}, ctx.inputType(0).getElementType(),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value base = convertScalar(b, loc, args[0], baseType, computeType);
          Value exponent =
              convertScalar(b, loc, args[1], exponentType, computeType);
          Value power = math::PowFOp::create(b, loc, base, exponent);
          return convertScalar(b, loc, power, computeType, baseType);
        });
    if (!result)
      return failure();
    ctx.setOutput(0, result, baseType);
    return success();
  },
      nullptr, kNumpyBroadcastOpset);

  registry.add(
      "Neg",
      [](OnnxNodeContext &ctx) {
        return lowerNumericUnary(
            ctx,
            [](OpBuilder &b, Location loc, Value x) -> Value {
              return arith::NegFOp::create(b, loc, x);
            },
            [](OpBuilder &b, Location loc, Value x, bool) -> Value {
              Value zero = createIntConstant(b, loc, x.getType(), 0);
              return arith::SubIOp::create(b, loc, zero, x);
            });
      },
      makeSameTypeFold([](ArrayRef<double> a) { return -a[0]; },
                       [](ArrayRef<int64_t> a) {
                         return static_cast<int64_t>(
                             0 - static_cast<uint64_t>(a[0]));
                       }));
  registry.add(
      "Abs",
      [](OnnxNodeContext &ctx) {
        return lowerNumericUnary(
            ctx,
            [](OpBuilder &b, Location loc, Value x) -> Value {
              return math::AbsFOp::create(b, loc, x);
            },
            [](OpBuilder &b, Location loc, Value x, bool isUnsigned) -> Value {
              if (isUnsigned)
                return x;
              return math::AbsIOp::create(b, loc, x);
            });
      },
      makeSameTypeFold([](ArrayRef<double> a) { return std::fabs(a[0]); },
                       [](ArrayRef<int64_t> a) {
                         return a[0] < 0 ? -a[0] : a[0];
                       }));
  registry.add("Sign", [](OnnxNodeContext &ctx) {
    return lowerNumericUnary(
        ctx,
        [](OpBuilder &b, Location loc, Value x) -> Value {
          Value zero = constantLike(b, loc, x, 0.0);
          Value one = constantLike(b, loc, x, 1.0);
          Value minusOne = constantLike(b, loc, x, -1.0);
          Value positive =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
          Value negative =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
          Value result = arith::SelectOp::create(b, loc, negative, minusOne,
                                                 zero);
          result = arith::SelectOp::create(b, loc, positive, one, result);
          // NaN stays NaN (numpy.sign).
          Value isNan =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
          return arith::SelectOp::create(b, loc, isNan, x, result);
        },
        [](OpBuilder &b, Location loc, Value x, bool isUnsigned) -> Value {
          Type type = x.getType();
          Value zero = createIntConstant(b, loc, type, 0);
          Value one = createIntConstant(b, loc, type, 1);
          Value minusOne = createIntConstant(b, loc, type, -1);
          Value positive = arith::CmpIOp::create(
              b, loc,
              isUnsigned ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt,
              x, zero);
          Value result = one;
          if (!isUnsigned) {
            Value negative = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::slt, x, zero);
            result = arith::SelectOp::create(b, loc, negative, minusOne, zero);
            return arith::SelectOp::create(b, loc, positive, one, result);
          }
          return arith::SelectOp::create(b, loc, positive, one, zero);
        });
  });

  registry.add(
      "Sum",
      [](OnnxNodeContext &ctx) {
        return lowerVariadic(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::AddFOp::create(b, loc, x, y);
            },
            [](OpBuilder &b, Location loc, Value x, Value y, bool) -> Value {
              return arith::AddIOp::create(b, loc, x, y);
            });
      },
      makeSameTypeFold(
          [](ArrayRef<double> a) {
            double sum = 0;
            for (double v : a)
              sum += v;
            return sum;
          },
          [](ArrayRef<int64_t> a) {
            uint64_t sum = 0;
            for (int64_t v : a)
              sum += static_cast<uint64_t>(v);
            return static_cast<int64_t>(sum);
          }));
  registry.add("Mean", [](OnnxNodeContext &ctx) {
    return lowerVariadic(
        ctx,
        [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
          return arith::AddFOp::create(b, loc, x, y);
        },
        nullptr, /*mean=*/true);
  });
  registry.add(
      "Max",
      [](OnnxNodeContext &ctx) {
        return lowerVariadic(ctx, maxFloat, maxInt);
      },
      [](OnnxNodeContext &ctx, SmallVectorImpl<KnownTensor> &results) {
        if (ctx.inputDType(0) == OnnxDType::UInt64)
          return failure();
        return makeSameTypeFold(
            [](ArrayRef<double> a) {
              double m = a[0];
              for (double v : a)
                m = (std::isnan(v) || v > m) ? v : m;
              return m;
            },
            [](ArrayRef<int64_t> a) {
              int64_t m = a[0];
              for (int64_t v : a)
                m = std::max(m, v);
              return m;
            })(ctx, results);
      });
  registry.add(
      "Min",
      [](OnnxNodeContext &ctx) {
        return lowerVariadic(ctx, minFloat, minInt);
      },
      [](OnnxNodeContext &ctx, SmallVectorImpl<KnownTensor> &results) {
        if (ctx.inputDType(0) == OnnxDType::UInt64)
          return failure();
        return makeSameTypeFold(
            [](ArrayRef<double> a) {
              double m = a[0];
              for (double v : a)
                m = (std::isnan(v) || v < m) ? v : m;
              return m;
            },
            [](ArrayRef<int64_t> a) {
              int64_t m = a[0];
              for (int64_t v : a)
                m = std::min(m, v);
              return m;
            })(ctx, results);
      });

  registry.add("BitShift", [](OnnxNodeContext &ctx) {
    std::string direction = ctx.attrString("direction", "");
    if (direction != "LEFT" && direction != "RIGHT")
      return ctx.emitError("direction must be LEFT or RIGHT, not '" +
                           direction + "'");
    if (!isOnnxUnsigned(ctx.inputDType(0)))
      return unsupportedType(ctx, ctx.inputDType(0), "unsigned types only");
    bool left = direction == "LEFT";
    return lowerNumericBinary(
        ctx, nullptr,
        [left](OpBuilder &b, Location loc, Value x, Value y, bool) -> Value {
          if (left)
            return arith::ShLIOp::create(b, loc, x, y);
          return arith::ShRUIOp::create(b, loc, x, y);
        });
  });
}

void registerMath(OnnxOpRegistry &registry) {
  auto addFloatMath = [&](llvm::StringRef name, ScalarFn fn,
                          HostFloatFn hostFn = nullptr) {
    OnnxFoldFn fold = hostFn ? makeSameTypeFold(hostFn, nullptr) : nullptr;
    registry.add(
        name,
        [fn](OnnxNodeContext &ctx) { return lowerFloatUnary(ctx, fn); },
        fold);
  };
  addFloatMath(
      "Sqrt",
      [](OpBuilder &b, Location loc, Value x) -> Value {
        return math::SqrtOp::create(b, loc, x);
      },
      [](ArrayRef<double> a) { return std::sqrt(a[0]); });
  addFloatMath("Exp", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::ExpOp::create(b, loc, x);
  });
  addFloatMath("Log", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::LogOp::create(b, loc, x);
  });
  addFloatMath("Reciprocal", [](OpBuilder &b, Location loc, Value x) -> Value {
    return arith::DivFOp::create(b, loc, constantLike(b, loc, x, 1.0), x);
  });
  addFloatMath(
      "Floor",
      [](OpBuilder &b, Location loc, Value x) -> Value {
        return math::FloorOp::create(b, loc, x);
      },
      [](ArrayRef<double> a) { return std::floor(a[0]); });
  addFloatMath(
      "Ceil",
      [](OpBuilder &b, Location loc, Value x) -> Value {
        return math::CeilOp::create(b, loc, x);
      },
      [](ArrayRef<double> a) { return std::ceil(a[0]); });
  // Round halves to even, as numpy.round.
  addFloatMath(
      "Round",
      [](OpBuilder &b, Location loc, Value x) -> Value {
        return math::RoundEvenOp::create(b, loc, x);
      },
      [](ArrayRef<double> a) { return std::nearbyint(a[0]); });
  addFloatMath("Tanh", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::TanhOp::create(b, loc, x);
  });
  addFloatMath("Erf", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::ErfOp::create(b, loc, x);
  });
  addFloatMath("Sin", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::SinOp::create(b, loc, x);
  });
  addFloatMath("Cos", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::CosOp::create(b, loc, x);
  });
  addFloatMath("Tan", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::TanOp::create(b, loc, x);
  });
  addFloatMath("Asin", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::AsinOp::create(b, loc, x);
  });
  addFloatMath("Acos", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::AcosOp::create(b, loc, x);
  });
  addFloatMath("Atan", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::AtanOp::create(b, loc, x);
  });
  addFloatMath("Sinh", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::SinhOp::create(b, loc, x);
  });
  addFloatMath("Cosh", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::CoshOp::create(b, loc, x);
  });
  addFloatMath("Asinh", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::AsinhOp::create(b, loc, x);
  });
  addFloatMath("Acosh", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::AcoshOp::create(b, loc, x);
  });
  addFloatMath("Atanh", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::AtanhOp::create(b, loc, x);
  });

  // IsNaN / IsInf: float in, bool out.
  registry.add("IsNaN", [](OnnxNodeContext &ctx) {
    OnnxDType dtype = ctx.inputDType(0);
    if (!isOnnxFloat(dtype))
      return unsupportedType(ctx, dtype, "floating-point types only");
    Value result = buildElementwise(
        ctx.builder(), ctx.loc(), ctx.input(0), ctx.inputShape(0),
        ctx.builder().getI1Type(),
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO,
                                       args[0], args[0]);
        });
    ctx.setOutput(0, result, OnnxDType::Bool);
    return success();
  });
  registry.add("IsInf", [](OnnxNodeContext &ctx) {
    OnnxDType dtype = ctx.inputDType(0);
    if (!isOnnxFloat(dtype))
      return unsupportedType(ctx, dtype, "floating-point types only");
    bool negative = ctx.attrInt("detect_negative", 1) != 0;
    bool positive = ctx.attrInt("detect_positive", 1) != 0;
    Value result = buildElementwise(
        ctx.builder(), ctx.loc(), ctx.input(0), ctx.inputShape(0),
        ctx.builder().getI1Type(),
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value x = args[0];
          double inf = std::numeric_limits<double>::infinity();
          Value isPosInf = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OEQ, x, constantLike(b, loc, x, inf));
          Value isNegInf =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x,
                                    constantLike(b, loc, x, -inf));
          Value none = createIntConstant(b, loc, b.getI1Type(), 0);
          Value result = positive ? isPosInf : none;
          if (negative)
            result = arith::OrIOp::create(b, loc, result, isNegInf);
          return result;
        });
    ctx.setOutput(0, result, OnnxDType::Bool);
    return success();
  });
}

void registerActivations(OnnxOpRegistry &registry) {
  registry.add("Relu", [](OnnxNodeContext &ctx) {
    return lowerNumericUnary(
        ctx,
        [](OpBuilder &b, Location loc, Value x) -> Value {
          return maxFloat(b, loc, x, constantLike(b, loc, x, 0.0));
        },
        [](OpBuilder &b, Location loc, Value x, bool isUnsigned) -> Value {
          return maxInt(b, loc, x, createIntConstant(b, loc, x.getType(), 0),
                        isUnsigned);
        });
  }, makeSameTypeFold(
      // Folded so that shape logic through it (Range's expanded body:
      // Ceil -> Relu -> Loop trip count) stays known.
      [](ArrayRef<double> a) { return a[0] > 0 ? a[0] : 0.0; },
      [](ArrayRef<int64_t> a) -> int64_t { return a[0] > 0 ? a[0] : 0; }));
  registry.add("LeakyRelu", [](OnnxNodeContext &ctx) {
    double alpha = ctx.attrFloat("alpha", 0.01f);
    return lowerFloatUnary(ctx, [alpha](OpBuilder &b, Location loc, Value x) {
      Value scaled =
          arith::MulFOp::create(b, loc, x, constantLike(b, loc, x, alpha));
      return Value(
          arith::SelectOp::create(b, loc, isNegative(b, loc, x), scaled, x));
    });
  });
  registry.add("ThresholdedRelu", [](OnnxNodeContext &ctx) {
    double alpha = ctx.attrFloat("alpha", 1.0f);
    return lowerFloatUnary(ctx, [alpha](OpBuilder &b, Location loc, Value x) {
      Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                          constantLike(b, loc, x, alpha));
      return Value(arith::SelectOp::create(b, loc, above, x,
                                           constantLike(b, loc, x, 0.0)));
    });
  });
  registry.add("Sigmoid", [](OnnxNodeContext &ctx) {
    return lowerFloatUnary(ctx, sigmoid);
  });
  registry.add("HardSigmoid", [](OnnxNodeContext &ctx) {
    double alpha = ctx.attrFloat("alpha", 0.2f);
    double beta = ctx.attrFloat("beta", 0.5f);
    return lowerFloatUnary(ctx, [=](OpBuilder &b, Location loc, Value x) {
      return hardSigmoid(b, loc, x, alpha, beta);
    });
  });
  registry.add("HardSwish", [](OnnxNodeContext &ctx) {
    return lowerFloatUnary(ctx, [](OpBuilder &b, Location loc, Value x) {
      Value gate = hardSigmoid(b, loc, x, 1.0 / 6.0, 0.5);
      return Value(arith::MulFOp::create(b, loc, x, gate));
    });
  });
  // Softplus: log(1 + exp(x)), as max(x, 0) + log1p(exp(-|x|)) so that
  // large inputs do not overflow.
  registry.add("Softplus", [](OnnxNodeContext &ctx) {
    return lowerFloatUnary(ctx, [](OpBuilder &b, Location loc, Value x) {
      Value zero = constantLike(b, loc, x, 0.0);
      Value positive = maxFloat(b, loc, x, zero);
      Value magnitude = math::AbsFOp::create(b, loc, x);
      Value exp = math::ExpOp::create(
          b, loc, arith::NegFOp::create(b, loc, magnitude));
      Value log = math::Log1pOp::create(b, loc, exp);
      return Value(arith::AddFOp::create(b, loc, positive, log));
    });
  });
  registry.add("Softsign", [](OnnxNodeContext &ctx) {
    return lowerFloatUnary(ctx, [](OpBuilder &b, Location loc, Value x) {
      Value magnitude = math::AbsFOp::create(b, loc, x);
      Value denominator = arith::AddFOp::create(
          b, loc, magnitude, constantLike(b, loc, x, 1.0));
      return Value(arith::DivFOp::create(b, loc, x, denominator));
    });
  });
  registry.add("Elu", [](OnnxNodeContext &ctx) {
    double alpha = ctx.attrFloat("alpha", 1.0f);
    return lowerFloatUnary(ctx, [alpha](OpBuilder &b, Location loc, Value x) {
      Value expm1 = arith::SubFOp::create(b, loc, math::ExpOp::create(b, loc, x),
                                          constantLike(b, loc, x, 1.0));
      Value scaled =
          arith::MulFOp::create(b, loc, expm1, constantLike(b, loc, x, alpha));
      return Value(
          arith::SelectOp::create(b, loc, isNegative(b, loc, x), scaled, x));
    });
  });
  registry.add("Selu", [](OnnxNodeContext &ctx) {
    double alpha = ctx.attrFloat("alpha", 1.67326319217681884765625f);
    double gamma = ctx.attrFloat("gamma", 1.05070102214813232421875f);
    return lowerFloatUnary(ctx, [=](OpBuilder &b, Location loc, Value x) {
      Value exp = math::ExpOp::create(b, loc, x);
      Value negative = arith::SubFOp::create(
          b, loc, arith::MulFOp::create(b, loc, exp, constantLike(b, loc, x, alpha)),
          constantLike(b, loc, x, alpha));
      Value nonPositive = arith::CmpFOp::create(
          b, loc, arith::CmpFPredicate::OLE, x, constantLike(b, loc, x, 0.0));
      Value selected = arith::SelectOp::create(b, loc, nonPositive, negative, x);
      return Value(
          arith::MulFOp::create(b, loc, selected, constantLike(b, loc, x, gamma)));
    });
  });
  registry.add("Celu", [](OnnxNodeContext &ctx) {
    double alpha = ctx.attrFloat("alpha", 1.0f);
    return lowerFloatUnary(ctx, [alpha](OpBuilder &b, Location loc, Value x) {
      // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
      Value zero = constantLike(b, loc, x, 0.0);
      Value alphaValue = constantLike(b, loc, x, alpha);
      Value exp = math::ExpOp::create(
          b, loc, arith::DivFOp::create(b, loc, x, alphaValue));
      Value expm1 =
          arith::SubFOp::create(b, loc, exp, constantLike(b, loc, x, 1.0));
      Value negative = minFloat(
          b, loc, zero, arith::MulFOp::create(b, loc, alphaValue, expm1));
      return Value(
          arith::AddFOp::create(b, loc, maxFloat(b, loc, zero, x), negative));
    });
  });
  registry.add("Gelu", [](OnnxNodeContext &ctx) {
    std::string approximate = ctx.attrString("approximate", "none");
    if (approximate != "none" && approximate != "tanh")
      return ctx.emitError("approximate must be 'none' or 'tanh', not '" +
                           approximate + "'");
    bool useTanh = approximate == "tanh";
    return lowerFloatUnary(ctx, [useTanh](OpBuilder &b, Location loc, Value x) {
      Value half = constantLike(b, loc, x, 0.5);
      Value one = constantLike(b, loc, x, 1.0);
      Value inner;
      if (useTanh) {
        // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
        Value cube = arith::MulFOp::create(
            b, loc, x, arith::MulFOp::create(b, loc, x, x));
        Value sum = arith::AddFOp::create(
            b, loc, x,
            arith::MulFOp::create(b, loc, cube,
                                  constantLike(b, loc, x, 0.044715)));
        inner = math::TanhOp::create(
            b, loc,
            arith::MulFOp::create(
                b, loc, sum,
                constantLike(b, loc, x, 0.7978845608028654)));
      } else {
        inner = math::ErfOp::create(
            b, loc,
            arith::MulFOp::create(b, loc, x,
                                  constantLike(b, loc, x, 0.7071067811865476)));
      }
      Value gate = arith::AddFOp::create(b, loc, one, inner);
      return Value(arith::MulFOp::create(
          b, loc, arith::MulFOp::create(b, loc, half, x), gate));
    });
  });
  registry.add("Shrink", [](OnnxNodeContext &ctx) {
    double bias = ctx.attrFloat("bias", 0.0f);
    double lambd = ctx.attrFloat("lambd", 0.5f);
    OnnxDType dtype = ctx.inputDType(0);
    if (!isOnnxFloat(dtype) && !isOnnxInteger(dtype))
      return unsupportedType(ctx, dtype, "numeric types only");
    // Computed in f64 for integers, whose bias and lambd are floats.
    OnnxDType computeType = isOnnxFloat(dtype) ? dtype : OnnxDType::Double;
    Value result = buildElementwise(
        ctx.builder(), ctx.loc(), ctx.input(0), ctx.inputShape(0),
        ctx.inputType(0).getElementType(),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value x = convertScalar(b, loc, args[0], dtype, computeType);
          Value y = computeWide(b, loc, x, [&](OpBuilder &b2, Location l,
                                               Value v) -> Value {
            Value low = arith::CmpFOp::create(b2, l, arith::CmpFPredicate::OLT,
                                              v, constantLike(b2, l, v, -lambd));
            Value high = arith::CmpFOp::create(b2, l, arith::CmpFPredicate::OGT,
                                               v, constantLike(b2, l, v, lambd));
            Value plus =
                arith::AddFOp::create(b2, l, v, constantLike(b2, l, v, bias));
            Value minus =
                arith::SubFOp::create(b2, l, v, constantLike(b2, l, v, bias));
            Value zero = constantLike(b2, l, v, 0.0);
            Value r = arith::SelectOp::create(b2, l, high, minus, zero);
            return arith::SelectOp::create(b2, l, low, plus, r);
          });
          return convertScalar(b, loc, y, computeType, dtype);
        });
    ctx.setOutput(0, result, dtype);
    return success();
  });

  // PRelu: slope broadcasts (unidirectionally) to X.
  registry.add(
      "PRelu",
      [](OnnxNodeContext &ctx) {
        FailureOr<OnnxDType> dtype = commonDType(ctx, 0, 2);
        if (failed(dtype))
          return failure();
        std::optional<SmallVector<int64_t>> shape =
            broadcastShapes({ctx.inputShape(0), ctx.inputShape(1)});
        if (!shape || ArrayRef<int64_t>(*shape) != ctx.inputShape(0))
          return ctx.emitError("slope does not broadcast to the input's shape");
        return lowerNumericBinary(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value slope) -> Value {
              Value scaled = arith::MulFOp::create(b, loc, x, slope);
              return arith::SelectOp::create(b, loc, isNegative(b, loc, x),
                                             scaled, x);
            },
            [](OpBuilder &b, Location loc, Value x, Value slope,
               bool isUnsigned) -> Value {
              if (isUnsigned)
                return x;
              Value negative = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::slt, x,
                  createIntConstant(b, loc, x.getType(), 0));
              Value scaled = arith::MulIOp::create(b, loc, x, slope);
              return arith::SelectOp::create(b, loc, negative, scaled, x);
            });
      },
      nullptr, kNumpyBroadcastOpset);

  // Clip: bounds are attributes before opset 11, optional inputs since.
  registry.add("Clip", [](OnnxNodeContext &ctx) {
    OnnxDType dtype = ctx.inputDType(0);
    bool isFloat = isOnnxFloat(dtype);
    if (!isFloat && !isOnnxInteger(dtype))
      return unsupportedType(ctx, dtype, "numeric types only");
    Type elementType = ctx.inputType(0).getElementType();
    OpBuilder &b = ctx.builder();
    Location loc = ctx.loc();
    SmallVector<Value> inputs = {ctx.input(0)};
    bool hasMin = false, hasMax = false;
    if (ctx.opset() < 11) {
      double low = ctx.attrFloat("min", -std::numeric_limits<float>::max());
      double high = ctx.attrFloat("max", std::numeric_limits<float>::max());
      inputs.push_back(createFilledTensor(
          b, loc, {}, createScalarConstant(b, loc, elementType, low)));
      inputs.push_back(createFilledTensor(
          b, loc, {}, createScalarConstant(b, loc, elementType, high)));
      hasMin = hasMax = true;
    } else {
      for (unsigned i = 1; i < 3; ++i) {
        if (!ctx.hasInput(i))
          continue;
        if (ctx.inputDType(i) != dtype)
          return ctx.emitError("bound " + std::to_string(i) +
                               " has element type " +
                               dtypeText(ctx.inputDType(i)) + ", not " +
                               dtypeText(dtype));
        if (numElementsOf(ctx.inputShape(i)) != 1)
          return ctx.emitError("bound " + std::to_string(i) +
                               " must be a scalar");
        inputs.push_back(reshapeTensor(b, loc, ctx.input(i), {}));
        (i == 1 ? hasMin : hasMax) = true;
      }
    }
    bool isUnsigned = isOnnxUnsigned(dtype);
    Value result = buildElementwise(
        b, loc, inputs, ctx.inputShape(0), elementType,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value x = args[0];
          unsigned next = 1;
          if (hasMin) {
            Value low = args[next++];
            x = isFloat ? maxFloat(nb, l, x, low)
                        : maxInt(nb, l, x, low, isUnsigned);
          }
          if (hasMax) {
            Value high = args[next++];
            x = isFloat ? minFloat(nb, l, x, high)
                        : minInt(nb, l, x, high, isUnsigned);
          }
          return x;
        });
    ctx.setOutput(0, result, dtype);
    return success();
  });
}

void registerComparisonsAndLogic(OnnxOpRegistry &registry) {
  registry.add(
      "Equal",
      [](OnnxNodeContext &ctx) {
        return lowerCompare(ctx, arith::CmpFPredicate::OEQ,
                            arith::CmpIPredicate::eq, arith::CmpIPredicate::eq);
      },
      makeCompareFold([](double a, double b) { return a == b; },
                      [](int64_t a, int64_t b, bool) { return a == b; }),
      kNumpyBroadcastOpset);
  registry.add(
      "Less",
      [](OnnxNodeContext &ctx) {
        return lowerCompare(ctx, arith::CmpFPredicate::OLT,
                            arith::CmpIPredicate::slt,
                            arith::CmpIPredicate::ult);
      },
      makeCompareFold([](double a, double b) { return a < b; },
                      [](int64_t a, int64_t b, bool u) {
                        return u ? static_cast<uint64_t>(a) <
                                       static_cast<uint64_t>(b)
                                 : a < b;
                      }),
      kNumpyBroadcastOpset);
  registry.add(
      "LessOrEqual",
      [](OnnxNodeContext &ctx) {
        return lowerCompare(ctx, arith::CmpFPredicate::OLE,
                            arith::CmpIPredicate::sle,
                            arith::CmpIPredicate::ule);
      },
      makeCompareFold([](double a, double b) { return a <= b; },
                      [](int64_t a, int64_t b, bool u) {
                        return u ? static_cast<uint64_t>(a) <=
                                       static_cast<uint64_t>(b)
                                 : a <= b;
                      }));
  registry.add(
      "Greater",
      [](OnnxNodeContext &ctx) {
        return lowerCompare(ctx, arith::CmpFPredicate::OGT,
                            arith::CmpIPredicate::sgt,
                            arith::CmpIPredicate::ugt);
      },
      makeCompareFold([](double a, double b) { return a > b; },
                      [](int64_t a, int64_t b, bool u) {
                        return u ? static_cast<uint64_t>(a) >
                                       static_cast<uint64_t>(b)
                                 : a > b;
                      }),
      kNumpyBroadcastOpset);
  registry.add(
      "GreaterOrEqual",
      [](OnnxNodeContext &ctx) {
        return lowerCompare(ctx, arith::CmpFPredicate::OGE,
                            arith::CmpIPredicate::sge,
                            arith::CmpIPredicate::uge);
      },
      makeCompareFold([](double a, double b) { return a >= b; },
                      [](int64_t a, int64_t b, bool u) {
                        return u ? static_cast<uint64_t>(a) >=
                                       static_cast<uint64_t>(b)
                                 : a >= b;
                      }));

  auto boolFold = [](std::function<int64_t(int64_t, int64_t)> fn) {
    return makeSameTypeFold(nullptr, [fn](ArrayRef<int64_t> a) {
      return fn(a[0], a[1]);
    });
  };
  registry.add(
      "And",
      [](OnnxNodeContext &ctx) {
        return lowerLogical(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::AndIOp::create(b, loc, x, y);
            },
            /*bitwise=*/false);
      },
      boolFold([](int64_t a, int64_t b) { return a & b; }),
      kNumpyBroadcastOpset);
  registry.add(
      "Or",
      [](OnnxNodeContext &ctx) {
        return lowerLogical(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::OrIOp::create(b, loc, x, y);
            },
            /*bitwise=*/false);
      },
      boolFold([](int64_t a, int64_t b) { return a | b; }),
      kNumpyBroadcastOpset);
  registry.add(
      "Xor",
      [](OnnxNodeContext &ctx) {
        return lowerLogical(
            ctx,
            [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
              return arith::XOrIOp::create(b, loc, x, y);
            },
            /*bitwise=*/false);
      },
      boolFold([](int64_t a, int64_t b) { return a ^ b; }),
      kNumpyBroadcastOpset);
  registry.add("BitwiseAnd", [](OnnxNodeContext &ctx) {
    return lowerLogical(
        ctx,
        [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
          return arith::AndIOp::create(b, loc, x, y);
        },
        /*bitwise=*/true);
  });
  registry.add("BitwiseOr", [](OnnxNodeContext &ctx) {
    return lowerLogical(
        ctx,
        [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
          return arith::OrIOp::create(b, loc, x, y);
        },
        /*bitwise=*/true);
  });
  registry.add("BitwiseXor", [](OnnxNodeContext &ctx) {
    return lowerLogical(
        ctx,
        [](OpBuilder &b, Location loc, Value x, Value y) -> Value {
          return arith::XOrIOp::create(b, loc, x, y);
        },
        /*bitwise=*/true);
  });
  auto lowerNot = [](OnnxNodeContext &ctx, bool bitwise) {
    OnnxDType dtype = ctx.inputDType(0);
    if (bitwise ? !isOnnxInteger(dtype) : dtype != OnnxDType::Bool)
      return unsupportedType(ctx, dtype,
                             bitwise ? "integer types only" : "bool only");
    Value result = buildElementwise(
        ctx.builder(), ctx.loc(), ctx.input(0), ctx.inputShape(0),
        ctx.inputType(0).getElementType(),
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value ones = createIntConstant(b, loc, args[0].getType(), -1);
          return arith::XOrIOp::create(b, loc, args[0], ones);
        });
    ctx.setOutput(0, result, dtype);
    return success();
  };
  registry.add(
      "Not", [lowerNot](OnnxNodeContext &ctx) { return lowerNot(ctx, false); },
      makeSameTypeFold(nullptr, [](ArrayRef<int64_t> a) -> int64_t {
        return a[0] ? 0 : 1;
      }));
  registry.add("BitwiseNot", [lowerNot](OnnxNodeContext &ctx) {
    return lowerNot(ctx, true);
  });

  registry.add(
      "Where",
      [](OnnxNodeContext &ctx) {
        if (ctx.inputDType(0) != OnnxDType::Bool)
          return ctx.emitError("condition has element type " +
                               dtypeText(ctx.inputDType(0)) + ", not bool");
        FailureOr<OnnxDType> dtype = commonDType(ctx, 1, 3);
        if (failed(dtype))
          return failure();
        Value result = buildBroadcastElementwise(
            ctx, {ctx.input(0), ctx.input(1), ctx.input(2)},
            ctx.inputType(1).getElementType(),
            [](OpBuilder &b, Location loc, ValueRange args) -> Value {
              return arith::SelectOp::create(b, loc, args[0], args[1],
                                             args[2]);
            });
        if (!result)
          return failure();
        ctx.setOutput(0, result, *dtype);
        return success();
      },
      [](OnnxNodeContext &ctx, SmallVectorImpl<KnownTensor> &results) {
        const KnownTensor *cond = ctx.knownInput(0);
        const KnownTensor *x = ctx.knownInput(1);
        const KnownTensor *y = ctx.knownInput(2);
        if (x->dtype != y->dtype)
          return failure();
        // The condition is read as a number in either computation.
        return hostElementwise(
            ctx, {cond, x, y}, x->dtype, x->isFloat(),
            [](ArrayRef<double> a) { return a[0] != 0 ? a[1] : a[2]; },
            [](ArrayRef<int64_t> a) { return a[0] != 0 ? a[1] : a[2]; },
            results);
      });
}

/// Cast / CastLike to `to`.
LogicalResult lowerCastTo(OnnxNodeContext &ctx, OnnxDType to) {
  OnnxDType from = ctx.inputDType(0);
  if (!onnxDTypeToMlir(to, ctx.getContext()))
    return ctx.emitError("cast to " + dtypeText(to) + " is not supported");
  if (!onnxDTypeToMlir(from, ctx.getContext()))
    return ctx.emitError("cast from " + dtypeText(from) + " is not supported");
  Value result =
      convertTensor(ctx.builder(), ctx.loc(), ctx.input(0), from, to);
  ctx.setOutput(0, result, to);
  return success();
}

LogicalResult foldCastTo(OnnxNodeContext &ctx, OnnxDType to,
                         SmallVectorImpl<KnownTensor> &results) {
  if (!onnxDTypeToMlir(to, ctx.getContext()))
    return failure();
  results.push_back(ctx.knownInput(0)->castTo(to));
  return success();
}

void registerCastsAndCopies(OnnxOpRegistry &registry) {
  registry.add(
      "Cast",
      [](OnnxNodeContext &ctx) {
        return lowerCastTo(ctx, static_cast<OnnxDType>(ctx.requireAttrInt("to")));
      },
      [](OnnxNodeContext &ctx, SmallVectorImpl<KnownTensor> &results) {
        return foldCastTo(ctx, static_cast<OnnxDType>(ctx.requireAttrInt("to")),
                          results);
      });
  registry.add(
      "CastLike",
      [](OnnxNodeContext &ctx) {
        return lowerCastTo(ctx, ctx.inputDType(1));
      },
      [](OnnxNodeContext &ctx, SmallVectorImpl<KnownTensor> &results) {
        return foldCastTo(ctx, ctx.knownInput(1)->dtype, results);
      });

  auto identityFold = [](OnnxNodeContext &ctx,
                         SmallVectorImpl<KnownTensor> &results) {
    results.push_back(*ctx.knownInput(0));
    return success();
  };
  registry.add(
      "Identity",
      [](OnnxNodeContext &ctx) {
        ctx.setOutput(0, ctx.input(0), ctx.inputDType(0));
        return success();
      },
      identityFold);

  // Dropout at inference (or in training with ratio 0, which drops
  // nothing): the identity, and an all-true mask.
  registry.add(
      "Dropout",
      [](OnnxNodeContext &ctx) {
        if (ctx.opset() >= 12 && ctx.hasInput(2)) {
          std::optional<double> training = ctx.constantScalar(2);
          if (!training)
            return ctx.emitError("training_mode must be a constant known at "
                                 "import time");
          std::optional<double> ratio =
              ctx.hasInput(1) ? ctx.constantScalar(1) : std::optional(0.5);
          if (*training != 0 && (!ratio || *ratio != 0))
            return ctx.emitError(
                "training_mode = true (random dropout) is not supported");
        }
        if (ctx.opset() < 7 && ctx.attrInt("is_test", 0) == 0)
          return ctx.emitError("is_test = 0 (training) is not supported");
        ctx.setOutput(0, ctx.input(0), ctx.inputDType(0));
        if (ctx.hasOutput(1)) {
          // The mask is bool since opset 10, the input's type before.
          OpBuilder &b = ctx.builder();
          OnnxDType maskType =
              ctx.opset() >= 10 ? OnnxDType::Bool : ctx.inputDType(0);
          Value one = createScalarConstant(
              b, ctx.loc(), onnxDTypeToMlir(maskType, ctx.getContext()), 1.0);
          ctx.setOutput(
              1, createFilledTensor(b, ctx.loc(), ctx.inputShape(0), one),
              maskType);
        }
        return success();
      });
}

} // namespace

void registerOnnxElementwiseOps(OnnxOpRegistry &registry) {
  registerArithmetic(registry);
  registerMath(registry);
  registerActivations(registry);
  registerComparisonsAndLogic(registry);
  registerCastsAndCopies(registry);
}

} // namespace quantc
