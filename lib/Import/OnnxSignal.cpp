//===- OnnxSignal.cpp - ONNX signal-processing ops ------------------------===//
//
// The window generators HannWindow, HammingWindow and BlackmanWindow
// (opset 17): their length is an input known at import time, so the window
// is computed on the host in double precision and becomes a constant of
// `output_datatype`. DFT, STFT and MelWeightMatrix belong here too.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

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
}

} // namespace quantc
