//===- OnnxSignal.cpp - ONNX signal-processing ops ------------------------===//
//
// The window generators HannWindow, HammingWindow and BlackmanWindow and
// MelWeightMatrix (opset 17): their sizes are inputs known at import time,
// so the result is computed on the host in double precision and becomes a
// constant of `output_datatype`.
//
// DFT and STFT: a direct O(n^2) transform, one output element (real or
// imaginary part of one bin) per linalg.generic element, summed in f64 with
// twiddles from 2*pi*((k*m) mod n)/n so that large k*m lose no precision.
// Fine for the short transforms of feature extraction; not an FFT.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;

namespace quantc {
namespace {

/// w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size if
/// periodic, else size - 1.
LogicalResult lowerCosineWindow(OnnxNodeContext &ctx, double a0, double a1,
                                double a2) {
  std::optional<double> sizeValue = ctx.constantScalar(0);
  if (!sizeValue)
    return ctx.emitError("input 0 (size) must be a scalar known at import time");
  int64_t size = static_cast<int64_t>(*sizeValue);
  bool periodic = ctx.attrInt("periodic", 1) != 0;
  auto dtype = static_cast<OnnxDType>(
      ctx.attrInt("output_datatype", static_cast<int64_t>(OnnxDType::Float)));
  if (ctx.failed())
    return failure();
  if (size < 0 || size >= (int64_t(1) << 31))
    return ctx.emitError("size " + std::to_string(size) + " is out of range");
  if (!onnxDTypeToMlir(dtype, ctx.getContext()) || onnxDTypeSize(dtype) == 0)
    return ctx.emitError("output_datatype " + onnxDTypeName(dtype) +
                         " is not supported");
  double period = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> values;
  for (int64_t n = 0; n < size; ++n) {
    double phase = period > 0 ? 2 * M_PI * n / period : 0.0;
    values.push_back(a0 - a1 * std::cos(phase) + a2 * std::cos(2 * phase));
  }
  KnownTensor window = KnownTensor::fromDoubles(dtype, {size}, values);
  ctx.setOutput(0, materializeKnownTensor(ctx.builder(), ctx.loc(), window),
                dtype);
  return success();
}

/// MelWeightMatrix as ONNX's reference computes it (the mel scale's bin
/// edges rounded down to DFT bins, triangles between them).
LogicalResult lowerMelWeightMatrix(OnnxNodeContext &ctx) {
  std::optional<double> bins = ctx.constantScalar(0), dftLength = ctx.constantScalar(1),
                        sampleRate = ctx.constantScalar(2), lower = ctx.constantScalar(3),
                        upper = ctx.constantScalar(4);
  if (!bins || !dftLength || !sampleRate || !lower || !upper)
    return ctx.emitError("every input must be a scalar known at import time");
  auto dtype = static_cast<OnnxDType>(
      ctx.attrInt("output_datatype", static_cast<int64_t>(OnnxDType::Float)));
  if (ctx.failed())
    return failure();
  int64_t numMel = static_cast<int64_t>(*bins);
  int64_t length = static_cast<int64_t>(*dftLength);
  if (numMel < 1 || length < 1 || *sampleRate <= 0 || numMel > (1 << 16) ||
      length > (1 << 24))
    return ctx.emitError("num_mel_bins, dft_length or sample_rate is out of range");
  if (!onnxDTypeToMlir(dtype, ctx.getContext()) || onnxDTypeSize(dtype) == 0)
    return ctx.emitError("output_datatype " + onnxDTypeName(dtype) +
                         " is not supported");
  int64_t spectrogramBins = length / 2 + 1;
  // The edges in float32 like the reference's float32 inputs.
  float lowMel = 2595.0f * std::log10(1.0f + static_cast<float>(*lower) / 700.0f);
  float highMel = 2595.0f * std::log10(1.0f + static_cast<float>(*upper) / 700.0f);
  float melStep = (highMel - lowMel) / static_cast<float>(numMel + 2);
  std::vector<int64_t> edges;
  for (int64_t i = 0; i < numMel + 2; ++i) {
    double mel = static_cast<double>(i) * melStep + lowMel;
    double hertz = 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
    edges.push_back(static_cast<int64_t>(
        std::floor((length + 1) * hertz / *sampleRate)));
  }
  std::vector<double> values(spectrogramBins * numMel, 0.0);
  auto at = [&](int64_t j, int64_t i) -> double * {
    if (j < 0 || j >= spectrogramBins)
      return nullptr;
    return &values[j * numMel + i];
  };
  for (int64_t i = 0; i < numMel; ++i) {
    int64_t left = edges[i], center = edges[i + 1], right = edges[i + 2];
    if (center == left) {
      if (double *v = at(center, i))
        *v = 1.0;
    } else {
      for (int64_t j = left; j <= center; ++j)
        if (double *v = at(j, i))
          *v = static_cast<double>(j - left) / static_cast<double>(center - left);
    }
    if (right > center)
      for (int64_t j = center; j < right; ++j)
        if (double *v = at(j, i))
          *v = static_cast<double>(right - j) / static_cast<double>(right - center);
  }
  KnownTensor matrix =
      KnownTensor::fromDoubles(dtype, {spectrogramBins, numMel}, values);
  ctx.setOutput(0, materializeKnownTensor(ctx.builder(), ctx.loc(), matrix), dtype);
  return success();
}

/// Reads the complex sample m (an index) as f64 (real, imaginary).
using SampleFn = function_ref<std::pair<Value, Value>(OpBuilder &, Location,
                                                      Value m)>;

/// sum over m in [0, count) of sample(m) * exp(-+2 pi i k m / n), the real
/// (part 0) or imaginary (part 1) part, in f64.
Value dftSum(OpBuilder &b, Location loc, Value k, Value part, int64_t n,
             int64_t count, bool inverse, SampleFn sample) {
  Type f64 = b.getF64Type();
  auto cst = [&](double v) { return createScalarConstant(b, loc, f64, v); };
  auto idx = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(b, loc, v); };
  Value zero = cst(0.0);
  auto loop = scf::ForOp::create(
      b, loc, idx(0), idx(count), idx(1), ValueRange{zero, zero},
      [&](OpBuilder &lb, Location l, Value m, ValueRange acc) {
        auto [re, im] = sample(lb, l, m);
        Value km = arith::RemUIOp::create(
            lb, l, arith::MulIOp::create(lb, l, k, m),
            arith::ConstantIndexOp::create(lb, l, n));
        Value kmFloat = arith::UIToFPOp::create(
            lb, l, f64, arith::IndexCastOp::create(lb, l, lb.getI64Type(), km));
        Value theta = arith::MulFOp::create(
            lb, l, kmFloat, createScalarConstant(lb, l, f64, 2 * M_PI / n));
        Value cos = math::CosOp::create(lb, l, theta);
        Value sin = math::SinOp::create(lb, l, theta);
        if (!inverse)
          sin = arith::NegFOp::create(lb, l, sin);
        // (re + i im)(cos + i sin)
        Value outRe = arith::SubFOp::create(
            lb, l, arith::MulFOp::create(lb, l, re, cos),
            arith::MulFOp::create(lb, l, im, sin));
        Value outIm = arith::AddFOp::create(
            lb, l, arith::MulFOp::create(lb, l, im, cos),
            arith::MulFOp::create(lb, l, re, sin));
        scf::YieldOp::create(lb, l,
                             ValueRange{arith::AddFOp::create(lb, l, acc[0], outRe),
                                        arith::AddFOp::create(lb, l, acc[1], outIm)});
      });
  Value isImaginary = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            part, idx(1));
  Value result = arith::SelectOp::create(b, loc, isImaginary, loop.getResult(1),
                                         loop.getResult(0));
  if (inverse)
    result = arith::DivFOp::create(b, loc, result, cst(static_cast<double>(n)));
  return result;
}

LogicalResult lowerDFT(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("the signal must be floating-point");
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  int64_t rank = shape.size();
  if (rank < 3 || (shape.back() != 1 && shape.back() != 2))
    return ctx.emitError("the signal must be [batch, dims..., 1 or 2]");
  int64_t axis = ctx.attrInt("axis", 1);
  bool inverse = ctx.attrInt("inverse", 0) != 0;
  bool onesided = ctx.attrInt("onesided", 0) != 0;
  if (ctx.failed())
    return failure();
  if (axis < 0)
    axis += rank;
  if (axis < 1 || axis >= rank - 1)
    return ctx.emitError("axis must name a signal dimension");
  int64_t size = shape[axis], n = size;
  if (ctx.hasInput(1)) {
    std::optional<double> length = ctx.constantScalar(1);
    if (!length)
      return ctx.emitError("dft_length must be known at import time");
    n = static_cast<int64_t>(*length);
  }
  if (n < 1)
    return ctx.emitError("dft_length must be >= 1");
  if (onesided && inverse)
    return ctx.emitError("onesided inverse transforms are not supported");
  SmallVector<int64_t> outShape(shape);
  outShape[axis] = onesided ? n / 2 + 1 : n;
  outShape.back() = 2;
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Type elementType = ctx.inputType(0).getElementType();
  bool complexInput = shape.back() == 2;
  Value result = buildIndexedTensor(
      b, loc, outShape, elementType,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        auto sample = [&](OpBuilder &sb, Location sl, Value m) {
          SmallVector<Value> at(coords.begin(), coords.end());
          at[axis] = m;
          at.back() = arith::ConstantIndexOp::create(sb, sl, 0);
          Value re = convertScalar(sb, sl, tensor::ExtractOp::create(sb, sl, x, at),
                                   dtype, OnnxDType::Double);
          Value im = createScalarConstant(sb, sl, sb.getF64Type(), 0.0);
          if (complexInput) {
            at.back() = arith::ConstantIndexOp::create(sb, sl, 1);
            im = convertScalar(sb, sl, tensor::ExtractOp::create(sb, sl, x, at),
                               dtype, OnnxDType::Double);
          }
          return std::make_pair(re, im);
        };
        Value sum = dftSum(nb, l, coords[axis], coords.back(), n,
                           std::min(n, size), inverse, sample);
        return convertScalar(nb, l, sum, OnnxDType::Double, dtype);
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

LogicalResult lowerSTFT(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (!isOnnxFloat(dtype))
    return ctx.emitError("the signal must be floating-point");
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  if (shape.size() != 3 || (shape[2] != 1 && shape[2] != 2))
    return ctx.emitError("the signal must be [batch, length, 1 or 2]");
  bool onesided = ctx.attrInt("onesided", 1) != 0;
  std::optional<double> step = ctx.constantScalar(1);
  if (ctx.failed())
    return failure();
  if (!step || *step < 1)
    return ctx.emitError("frame_step must be a positive scalar known at import time");
  int64_t frameStep = static_cast<int64_t>(*step);
  bool hasWindow = ctx.hasInput(2);
  int64_t frameLength = -1;
  if (ctx.hasInput(3)) {
    std::optional<double> length = ctx.constantScalar(3);
    if (!length)
      return ctx.emitError("frame_length must be known at import time");
    frameLength = static_cast<int64_t>(*length);
  }
  if (hasWindow) {
    if (ctx.inputRank(2) != 1)
      return ctx.emitError("the window must be 1-D");
    int64_t windowLength = ctx.inputShape(2)[0];
    if (frameLength >= 0 && frameLength != windowLength)
      return ctx.emitError("frame_length differs from the window's length");
    frameLength = windowLength;
  }
  if (frameLength < 1 || frameLength > shape[1])
    return ctx.emitError("frame_length (or the window) must be in [1, signal length]");
  if (onesided && shape[2] == 2)
    return ctx.emitError("onesided output of a complex signal is not supported");
  int64_t frames = (shape[1] - frameLength) / frameStep + 1;
  SmallVector<int64_t> outShape = {shape[0], frames,
                                   onesided ? frameLength / 2 + 1 : frameLength, 2};
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value x = ctx.input(0);
  Value window = hasWindow ? ctx.input(2) : Value();
  OnnxDType windowDType = hasWindow ? ctx.inputDType(2) : dtype;
  bool complexInput = shape[2] == 2;
  Value result = buildIndexedTensor(
      b, loc, outShape, ctx.inputType(0).getElementType(),
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        Value start = arith::MulIOp::create(
            nb, l, coords[1], arith::ConstantIndexOp::create(nb, l, frameStep));
        auto sample = [&](OpBuilder &sb, Location sl, Value m) {
          Value t = arith::AddIOp::create(sb, sl, start, m);
          Value zero = arith::ConstantIndexOp::create(sb, sl, 0);
          auto read = [&](Value channel) {
            return convertScalar(
                sb, sl,
                tensor::ExtractOp::create(sb, sl, x, ValueRange{coords[0], t, channel}),
                dtype, OnnxDType::Double);
          };
          Value re = read(zero);
          Value im = complexInput ? read(arith::ConstantIndexOp::create(sb, sl, 1))
                                  : createScalarConstant(sb, sl, sb.getF64Type(), 0.0);
          if (window) {
            Value w = convertScalar(
                sb, sl, tensor::ExtractOp::create(sb, sl, window, ValueRange{m}),
                windowDType, OnnxDType::Double);
            re = arith::MulFOp::create(sb, sl, re, w);
            im = arith::MulFOp::create(sb, sl, im, w);
          }
          return std::make_pair(re, im);
        };
        Value sum = dftSum(nb, l, coords[2], coords[3], frameLength, frameLength,
                           /*inverse=*/false, sample);
        return convertScalar(nb, l, sum, OnnxDType::Double, dtype);
      });
  ctx.setOutput(0, result, dtype);
  return success();
}

} // namespace

void registerOnnxSignalOps(OnnxOpRegistry &registry) {
  registry.add("HannWindow", [](OnnxNodeContext &ctx) {
    return lowerCosineWindow(ctx, 0.5, 0.5, 0.0);
  }, nullptr, 17);
  registry.add("HammingWindow", [](OnnxNodeContext &ctx) {
    return lowerCosineWindow(ctx, 25.0 / 46.0, 21.0 / 46.0, 0.0);
  }, nullptr, 17);
  registry.add("BlackmanWindow", [](OnnxNodeContext &ctx) {
    return lowerCosineWindow(ctx, 0.42, 0.5, 0.08);
  }, nullptr, 17);
  registry.add("MelWeightMatrix", lowerMelWeightMatrix, nullptr, 17);
  registry.add("DFT", lowerDFT, nullptr, 17, 19);
  registry.add("STFT", lowerSTFT, nullptr, 17);
}

} // namespace quantc
