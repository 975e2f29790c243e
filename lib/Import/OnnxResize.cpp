//===- OnnxResize.cpp - ONNX Resize / Upsample / GridSample -> linalg -----===//
//
// Resize (opset 10+) and Upsample (opset 7-9): nearest (the four
// nearest_modes), linear and cubic (cubic_coeff_a, exclude_outside)
// interpolation under every coordinate_transformation_mode, with
// tf_crop_and_resize's roi and extrapolation_value.
//
// Shapes are static, so the interpolation is planned at import time, one
// dimension at a time as ONNX's reference does it (the n-D result is the
// 1-D interpolation of 1-D interpolations, i.e. separable): for each output
// coordinate along a dimension, the source coordinate, its taps (the n
// nearest input positions of the edge-padded axis, lower ones first on
// ties) and their weights, in double precision. The tables become constants
// and one linalg.generic sums weight products over the tap combinations.
// A dimension whose weights are all one-hot (nearest, or an identity axis)
// takes one tap, so an NCHW resize costs 4 taps for linear, 16 for cubic.
//
// GridSample (2-D) samples at run-time points, so its coordinates, padding
// and taps are computed per output element in the IR.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <algorithm>
#include <cmath>

using namespace mlir;

namespace quantc {
namespace {

enum class InterpolationMode { Nearest, Linear, Cubic };

struct ResizeOptions {
  InterpolationMode mode = InterpolationMode::Nearest;
  std::string coordinateMode = "half_pixel";
  std::string nearestMode = "round_prefer_floor";
  double cubicA = -0.75;
  bool excludeOutside = false;
  double extrapolationValue = 0.0;
};

/// How one output dimension reads its input dimension.
struct AxisPlan {
  int64_t taps = 1;
  std::vector<int64_t> indices;  // [out][taps], clamped into the input
  std::vector<double> weights;   // [out][taps]
  std::vector<int64_t> outside;  // [out]: 1 where tf_crop_and_resize extrapolates
  bool anyOutside = false;
};

SmallVector<double> interpolationCoefficients(const ResizeOptions &options,
                                              double ratio, bool integral) {
  switch (options.mode) {
  case InterpolationMode::Nearest: {
    if (integral)
      return {0, 1};
    const std::string &m = options.nearestMode;
    bool upper;
    if (m == "round_prefer_ceil")
      upper = ratio >= 0.5;
    else if (m == "floor")
      upper = false;
    else if (m == "ceil")
      upper = true;
    else // round_prefer_floor
      upper = ratio > 0.5;
    return {upper ? 0.0 : 1.0, upper ? 1.0 : 0.0};
  }
  case InterpolationMode::Linear:
    return {1 - ratio, ratio};
  case InterpolationMode::Cubic: {
    double a = options.cubicA, r = ratio, s = 1 - ratio;
    return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
            ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * s - (a + 3)) * s * s + 1,
            ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a};
  }
  }
  return {};
}

/// The plan of one dimension of input size `inSize` resized to `outSize`
/// with `scale` (roiStart/roiEnd for tf_crop_and_resize).
AxisPlan planAxis(const ResizeOptions &options, int64_t inSize,
                  int64_t outSize, double scale, double roiStart,
                  double roiEnd) {
  AxisPlan plan;
  int64_t n = options.mode == InterpolationMode::Cubic ? 4 : 2;
  plan.taps = n;
  // The reference's "output width" is scale * input size, not the rounded
  // output size.
  double outWidth = scale * static_cast<double>(inSize);
  const std::string &mode = options.coordinateMode;
  int64_t pad = (n + 1) / 2;
  int64_t limit = inSize + 2 * pad;
  for (int64_t o = 0; o < outSize; ++o) {
    double x = static_cast<double>(o), source;
    bool outside = false;
    if (mode == "align_corners") {
      source = outWidth == 1 ? 0.0 : x * (inSize - 1) / (outWidth - 1);
    } else if (mode == "asymmetric") {
      source = x / scale;
    } else if (mode == "tf_crop_and_resize") {
      source = outWidth == 1
                   ? (roiEnd - roiStart) * (inSize - 1) / 2
                   : x * (roiEnd - roiStart) * (inSize - 1) / (outWidth - 1);
      source += roiStart * (inSize - 1);
      outside = source < 0 || source > inSize - 1;
    } else if (mode == "pytorch_half_pixel") {
      source = outWidth == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    } else if (mode == "tf_half_pixel_for_nn") {
      source = (x + 0.5) / scale;
    } else { // half_pixel
      source = (x + 0.5) / scale - 0.5;
    }
    plan.outside.push_back(outside);
    plan.anyOutside |= outside;
    double floorSource = std::floor(source);
    bool integral = source == floorSource;
    double ratio = integral ? 1.0 : source - floorSource;
    SmallVector<double> coeffs =
        interpolationCoefficients(options, ratio, integral);
    // The n nearest positions of the edge-padded axis, lower first on ties.
    double padded = source + pad;
    int64_t nearest = std::clamp<int64_t>(std::llround(padded), 0, limit - 1);
    SmallVector<int64_t> candidates;
    for (int64_t i = std::max<int64_t>(0, nearest - n);
         i < std::min<int64_t>(limit, nearest + n + 1); ++i)
      candidates.push_back(i);
    llvm::sort(candidates.begin(), candidates.end(),
                     [&](int64_t a, int64_t b) {
                       double da = std::fabs(padded - a), db = std::fabs(padded - b);
                       return da != db ? da < db : a < b;
                     });
    candidates.resize(n);
    llvm::sort(candidates);
    if (options.excludeOutside) {
      double sum = 0;
      for (int64_t t = 0; t < n; ++t) {
        int64_t index = candidates[t] - pad;
        if (index < 0 || index >= inSize)
          coeffs[t] = 0;
        sum += coeffs[t];
      }
      for (double &c : coeffs)
        c /= sum;
    }
    for (int64_t t = 0; t < n; ++t) {
      plan.indices.push_back(
          std::clamp<int64_t>(candidates[t] - pad, 0, inSize - 1));
      plan.weights.push_back(coeffs[t]);
    }
  }
  // One tap where every row is one-hot.
  bool oneHot = true;
  for (int64_t o = 0; o < outSize && oneHot; ++o) {
    int64_t ones = 0;
    for (int64_t t = 0; t < n; ++t) {
      double w = plan.weights[o * n + t];
      if (w == 1.0)
        ++ones;
      else if (w != 0.0)
        oneHot = false;
    }
    oneHot &= ones == 1;
  }
  if (oneHot) {
    std::vector<int64_t> indices;
    for (int64_t o = 0; o < outSize; ++o)
      for (int64_t t = 0; t < n; ++t)
        if (plan.weights[o * n + t] == 1.0)
          indices.push_back(plan.indices[o * n + t]);
    plan.indices = std::move(indices);
    plan.weights.assign(outSize, 1.0);
    plan.taps = 1;
  }
  return plan;
}

LogicalResult lowerResize(OnnxNodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  OnnxDType dtype = ctx.inputDType(0);
  bool isUpsample = ctx.opType() == "Upsample";
  int64_t opset = ctx.opset();
  ResizeOptions options;
  std::string mode = ctx.attrString("mode", "nearest");
  if (mode == "nearest")
    options.mode = InterpolationMode::Nearest;
  else if (mode == "linear" || mode == "bilinear")
    options.mode = InterpolationMode::Linear;
  else if (mode == "cubic" && !isUpsample && opset >= 11)
    options.mode = InterpolationMode::Cubic;
  else
    return ctx.emitError("mode '" + mode + "' is not supported");
  bool legacy = isUpsample || opset < 11;
  if (legacy) {
    // Upsample and Resize-10: x_in = x_out / scale, nearest rounds down.
    options.coordinateMode = "asymmetric";
    options.nearestMode = "floor";
  } else {
    options.coordinateMode =
        ctx.attrString("coordinate_transformation_mode", "half_pixel");
    options.nearestMode = ctx.attrString("nearest_mode", "round_prefer_floor");
    options.cubicA = ctx.attrFloat("cubic_coeff_a", -0.75f);
    options.excludeOutside = ctx.attrInt("exclude_outside", 0) != 0;
    options.extrapolationValue = ctx.attrFloat("extrapolation_value", 0.0f);
    if (ctx.attrInt("antialias", 0) != 0)
      return ctx.emitError("antialias = 1 is not supported");
    if (ctx.hasAttr("axes"))
      return ctx.emitError("the 'axes' attribute is not supported");
    if (ctx.attrString("keep_aspect_ratio_policy", "stretch") != "stretch")
      return ctx.emitError("keep_aspect_ratio_policy other than 'stretch' is "
                           "not supported");
  }
  if (ctx.failed())
    return failure();
  static const char *const coordinateModes[] = {
      "half_pixel",         "pytorch_half_pixel", "align_corners",
      "asymmetric",         "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  if (!llvm::is_contained(coordinateModes, options.coordinateMode))
    return ctx.emitError("coordinate_transformation_mode '" +
                         options.coordinateMode + "' is not supported");
  static const char *const nearestModes[] = {"round_prefer_floor",
                                             "round_prefer_ceil", "floor",
                                             "ceil"};
  if (!llvm::is_contained(nearestModes, options.nearestMode))
    return ctx.emitError("nearest_mode '" + options.nearestMode +
                         "' is not supported");
  if (options.mode != InterpolationMode::Nearest && !isOnnxFloat(dtype))
    return ctx.emitError("linear and cubic modes need a floating-point "
                         "input, not " + onnxDTypeName(dtype));

  // Scales or sizes: Upsample-7 has a `scales` attribute, Upsample-9 and
  // Resize-10 a scales input (1); Resize-11+ roi (1), scales (2), sizes (3).
  SmallVector<double> scales;
  SmallVector<int64_t> outShape;
  SmallVector<double> roi;
  auto scalesFromInput = [&](unsigned index) -> LogicalResult {
    std::optional<SmallVector<double>> values = ctx.constantDoubles(index);
    if (!values)
      return ctx.emitError("input " + std::to_string(index) +
                           " (scales) must be a constant known at import time");
    scales = *values;
    return success();
  };
  if (isUpsample && opset < 9) {
    for (float s : ctx.attrFloats("scales"))
      scales.push_back(s);
  } else if (legacy) {
    if (failed(scalesFromInput(1)))
      return failure();
  } else {
    bool hasScales = ctx.hasInput(2) && numElementsOf(ctx.inputShape(2)) > 0;
    bool hasSizes = ctx.hasInput(3) && numElementsOf(ctx.inputShape(3)) > 0;
    if (hasScales == hasSizes)
      return ctx.emitError("exactly one of scales and sizes must be given");
    if (hasScales) {
      if (failed(scalesFromInput(2)))
        return failure();
    } else {
      FailureOr<SmallVector<int64_t>> sizes =
          ctx.requireConstantInts(3, "sizes");
      if (failed(sizes))
        return failure();
      if ((int64_t)sizes->size() != rank)
        return ctx.emitError("sizes has " + std::to_string(sizes->size()) +
                             " values for an input of rank " +
                             std::to_string(rank));
      outShape = *sizes;
      for (int64_t d = 0; d < rank; ++d)
        scales.push_back(static_cast<double>(outShape[d]) /
                         static_cast<double>(shape[d]));
    }
    if (options.coordinateMode == "tf_crop_and_resize") {
      std::optional<SmallVector<double>> values =
          ctx.hasInput(1) ? ctx.constantDoubles(1) : std::nullopt;
      if (!values || (int64_t)values->size() != 2 * rank)
        return ctx.emitError("tf_crop_and_resize needs a constant roi of " +
                             std::to_string(2 * rank) + " values");
      roi = *values;
    }
  }
  if (ctx.failed())
    return failure();
  if ((int64_t)scales.size() != rank)
    return ctx.emitError("scales has " + std::to_string(scales.size()) +
                         " values for an input of rank " + std::to_string(rank));
  if (outShape.empty())
    for (int64_t d = 0; d < rank; ++d) {
      if (!(scales[d] > 0))
        return ctx.emitError("scales must be positive");
      outShape.push_back(static_cast<int64_t>(scales[d] * shape[d]));
    }
  for (int64_t d = 0; d < rank; ++d)
    if (shape[d] == 0 || outShape[d] <= 0)
      return ctx.emitError("empty input or output dimensions are not supported");

  SmallVector<AxisPlan> plans;
  for (int64_t d = 0; d < rank; ++d)
    plans.push_back(planAxis(options, shape[d], outShape[d], scales[d],
                             roi.empty() ? 0.0 : roi[d],
                             roi.empty() ? 1.0 : roi[rank + d]));

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Type elementType = ctx.inputType(0).getElementType();
  // Weights in f32 for 16-bit floats (the sum too), else the input type.
  OnnxDType computeDType =
      onnxDTypeSize(dtype) < 4 ? OnnxDType::Float : dtype;
  Type computeType = onnxDTypeToMlir(computeDType, ctx.getContext());
  SmallVector<Value> indexTables(rank), weightTables(rank), outsideTables(rank);
  for (int64_t d = 0; d < rank; ++d) {
    const AxisPlan &plan = plans[d];
    SmallVector<int64_t> tableShape = {outShape[d], plan.taps};
    indexTables[d] = materializeKnownTensor(
        b, loc, KnownTensor::fromInts(OnnxDType::Int64, tableShape, plan.indices));
    if (plan.taps > 1)
      weightTables[d] = materializeKnownTensor(
          b, loc,
          KnownTensor::fromDoubles(computeDType, tableShape, plan.weights));
    if (plan.anyOutside)
      outsideTables[d] = materializeKnownTensor(
          b, loc, KnownTensor::fromInts(OnnxDType::Bool, {outShape[d]},
                                        plan.outside));
  }
  Value input = ctx.input(0);
  Value result = buildIndexedTensor(
      b, loc, outShape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        // Per dimension: tap indices and weights of this output coordinate.
        SmallVector<SmallVector<Value>> tapIndex(rank), tapWeight(rank);
        for (int64_t d = 0; d < rank; ++d)
          for (int64_t t = 0; t < plans[d].taps; ++t) {
            Value tv = arith::ConstantIndexOp::create(nb, l, t);
            Value index = tensor::ExtractOp::create(
                nb, l, indexTables[d], ValueRange{coords[d], tv});
            tapIndex[d].push_back(
                arith::IndexCastOp::create(nb, l, nb.getIndexType(), index));
            if (plans[d].taps > 1)
              tapWeight[d].push_back(tensor::ExtractOp::create(
                  nb, l, weightTables[d], ValueRange{coords[d], tv}));
          }
        Value sum;
        SmallVector<int64_t> tap(rank, 0);
        while (true) {
          SmallVector<Value> source;
          Value weight;
          for (int64_t d = 0; d < rank; ++d) {
            source.push_back(tapIndex[d][tap[d]]);
            if (plans[d].taps > 1)
              weight = weight ? arith::MulFOp::create(nb, l, weight,
                                                      tapWeight[d][tap[d]])
                                    .getResult()
                              : tapWeight[d][tap[d]];
          }
          Value element = tensor::ExtractOp::create(nb, l, input, source);
          if (weight) {
            if (computeType != elementType)
              element = convertScalar(nb, l, element, dtype, computeDType);
            Value term = arith::MulFOp::create(nb, l, weight, element);
            sum = sum ? arith::AddFOp::create(nb, l, sum, term).getResult()
                      : term;
          } else {
            sum = element;
          }
          int64_t d = rank - 1;
          while (d >= 0 && ++tap[d] == plans[d].taps)
            tap[d--] = 0;
          if (d < 0)
            break;
        }
        bool weighted = llvm::any_of(plans, [](const AxisPlan &p) {
          return p.taps > 1;
        });
        if (weighted && computeType != elementType)
          sum = convertScalar(nb, l, sum, computeDType, dtype);
        Value outside;
        for (int64_t d = 0; d < rank; ++d) {
          if (!outsideTables[d])
            continue;
          Value flag = tensor::ExtractOp::create(nb, l, outsideTables[d],
                                                 ValueRange{coords[d]});
          outside = outside ? arith::OrIOp::create(nb, l, outside, flag).getResult()
                            : flag;
        }
        if (outside)
          sum = arith::SelectOp::create(
              nb, l, outside,
              createScalarConstant(nb, l, elementType,
                                   options.extrapolationValue),
              sum);
        return sum;
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

/// GridSample (opset 16, 2-D): out[n, c, h, w] samples X[n, c] at the
/// normalized point grid[n, h, w] = (x, y) in [-1, 1], as PyTorch's
/// grid_sampler_2d does (ONNX's expected outputs come from it): bilinear,
/// nearest (ties to even) or bicubic (A = -0.75), with zeros, border or
/// reflection padding and align_corners.
LogicalResult lowerGridSample(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype) || ctx.inputDType(1) != dtype)
    return ctx.emitError("X and grid must have the same floating-point type");
  ArrayRef<int64_t> xShape = ctx.inputShape(0);
  ArrayRef<int64_t> gridShape = ctx.inputShape(1);
  if (xShape.size() != 4 || gridShape.size() != 4 || gridShape[3] != 2 ||
      gridShape[0] != xShape[0])
    return ctx.emitError("only 2-D sampling is supported: X [N, C, H, W], "
                         "grid [N, H_out, W_out, 2]");
  std::string mode = ctx.attrString("mode", "bilinear");
  std::string padding = ctx.attrString("padding_mode", "zeros");
  bool alignCorners = ctx.attrInt("align_corners", 0) != 0;
  if (ctx.failed())
    return failure();
  if (mode == "linear")
    mode = "bilinear";
  if (mode == "cubic")
    mode = "bicubic";
  if (mode != "bilinear" && mode != "nearest" && mode != "bicubic")
    return ctx.emitError("mode '" + mode + "' is not supported");
  if (padding != "zeros" && padding != "border" && padding != "reflection")
    return ctx.emitError("padding_mode '" + padding + "' is not supported");
  int64_t height = xShape[2], width = xShape[3];
  SmallVector<int64_t> outShape = {xShape[0], xShape[1], gridShape[1],
                                   gridShape[2]};
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Value grid = ctx.input(1);
  Type elementType = ctx.inputType(0).getElementType();
  Value result = buildIndexedTensor(
      b, loc, outShape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        auto c = [&](double v) { return createScalarConstant(nb, l, elementType, v); };
        auto add = [&](Value p, Value q) -> Value { return arith::AddFOp::create(nb, l, p, q); };
        auto sub = [&](Value p, Value q) -> Value { return arith::SubFOp::create(nb, l, p, q); };
        auto mul = [&](Value p, Value q) -> Value { return arith::MulFOp::create(nb, l, p, q); };
        auto clampTo = [&](Value v, double hi) -> Value {
          return arith::MinimumFOp::create(
              nb, l, arith::MaximumFOp::create(nb, l, v, c(0.0)), c(hi));
        };
        // Grid coordinate -> pixel coordinate.
        auto unnormalize = [&](Value g, int64_t size) -> Value {
          if (alignCorners)
            return mul(mul(add(g, c(1.0)), c(0.5)), c(size - 1));
          return mul(sub(mul(add(g, c(1.0)), c(size)), c(1.0)), c(0.5));
        };
        auto reflect = [&](Value v, double twiceLow, double twiceHigh) -> Value {
          if (twiceLow == twiceHigh)
            return c(0.0);
          double low = twiceLow / 2, span = (twiceHigh - twiceLow) / 2;
          Value in = math::AbsFOp::create(nb, l, sub(v, c(low)));
          Value extra = arith::RemFOp::create(nb, l, in, c(span));
          Value flips = math::FloorOp::create(
              nb, l, arith::DivFOp::create(nb, l, in, c(span)));
          Value odd = arith::CmpFOp::create(
              nb, l, arith::CmpFPredicate::ONE,
              arith::RemFOp::create(nb, l, flips, c(2.0)), c(0.0));
          return arith::SelectOp::create(nb, l, odd, add(sub(c(span), extra), c(low)),
                                         add(extra, c(low)));
        };
        // The padding mode applied to a pixel coordinate.
        auto pad = [&](Value v, int64_t size) -> Value {
          if (padding == "border")
            return clampTo(v, size - 1);
          if (padding == "reflection") {
            v = alignCorners ? reflect(v, 0, 2.0 * (size - 1))
                             : reflect(v, -1, 2.0 * size - 1);
            return clampTo(v, size - 1);
          }
          return v;
        };
        // X[n, c, yi, xi] for integer-valued float coordinates, 0 outside.
        auto read = [&](Value xf, Value yf) -> Value {
          Type i64 = nb.getI64Type();
          Value xi = arith::FPToSIOp::create(nb, l, i64, xf);
          Value yi = arith::FPToSIOp::create(nb, l, i64, yf);
          auto inside = [&](Value v, int64_t size) -> Value {
            Value ge = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGE, v, c(0.0));
            Value lt = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OLT, v,
                                             c(static_cast<double>(size)));
            return arith::AndIOp::create(nb, l, ge, lt);
          };
          Value valid = arith::AndIOp::create(nb, l, inside(xf, width),
                                              inside(yf, height));
          Value xIndex = wrapAndClampIndex(nb, l, xi, width);
          Value yIndex = wrapAndClampIndex(nb, l, yi, height);
          Value v = tensor::ExtractOp::create(
              nb, l, x, ValueRange{coords[0], coords[1], yIndex, xIndex});
          return arith::SelectOp::create(nb, l, valid, v, c(0.0));
        };
        Value zeroIndex = arith::ConstantIndexOp::create(nb, l, 0);
        Value oneIndex = arith::ConstantIndexOp::create(nb, l, 1);
        Value gx = tensor::ExtractOp::create(
            nb, l, grid, ValueRange{coords[0], coords[2], coords[3], zeroIndex});
        Value gy = tensor::ExtractOp::create(
            nb, l, grid, ValueRange{coords[0], coords[2], coords[3], oneIndex});
        Value ix = unnormalize(gx, width), iy = unnormalize(gy, height);
        if (mode == "nearest") {
          ix = math::RoundEvenOp::create(nb, l, pad(ix, width));
          iy = math::RoundEvenOp::create(nb, l, pad(iy, height));
          return read(ix, iy);
        }
        if (mode == "bilinear") {
          ix = pad(ix, width);
          iy = pad(iy, height);
          Value x0 = math::FloorOp::create(nb, l, ix);
          Value y0 = math::FloorOp::create(nb, l, iy);
          Value x1 = add(x0, c(1.0)), y1 = add(y0, c(1.0));
          Value wx1 = sub(ix, x0), wx0 = sub(x1, ix);
          Value wy1 = sub(iy, y0), wy0 = sub(y1, iy);
          Value sum = mul(mul(wx0, wy0), read(x0, y0));
          sum = add(sum, mul(mul(wx1, wy0), read(x1, y0)));
          sum = add(sum, mul(mul(wx0, wy1), read(x0, y1)));
          return add(sum, mul(mul(wx1, wy1), read(x1, y1)));
        }
        // Bicubic: 4x4 taps around the unpadded point, padding per tap.
        const double a = -0.75;
        auto near = [&](Value t) -> Value { // |t| <= 1
          return add(mul(mul(sub(mul(c(a + 2), t), c(a + 3)), t), t), c(1.0));
        };
        auto far = [&](Value t) -> Value { // 1 < |t| < 2
          return sub(mul(add(mul(sub(mul(c(a), t), c(5 * a)), t), c(8 * a)), t),
                     c(4 * a));
        };
        auto weights = [&](Value t) -> SmallVector<Value> {
          return {far(add(t, c(1.0))), near(t), near(sub(c(1.0), t)),
                  far(sub(c(2.0), t))};
        };
        Value x0 = math::FloorOp::create(nb, l, ix);
        Value y0 = math::FloorOp::create(nb, l, iy);
        SmallVector<Value> wx = weights(sub(ix, x0)), wy = weights(sub(iy, y0));
        Value sum;
        for (int64_t i = 0; i < 4; ++i) {
          Value row;
          Value ty = pad(add(y0, c(i - 1.0)), height);
          for (int64_t j = 0; j < 4; ++j) {
            Value tx = pad(add(x0, c(j - 1.0)), width);
            Value term = mul(wx[j], read(tx, ty));
            row = row ? add(row, term) : term;
          }
          Value term = mul(wy[i], row);
          sum = sum ? add(sum, term) : term;
        }
        return sum;
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

} // namespace

void registerOnnxResizeOps(OnnxOpRegistry &registry) {
  registry.add("Resize", lowerResize, nullptr, 10);
  registry.add("Upsample", lowerResize, nullptr, 7, 9);
  registry.add("GridSample", lowerGridSample, nullptr, 16);
}

} // namespace quantc
