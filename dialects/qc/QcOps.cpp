//===- QcOps.cpp - qc op verifiers and folders ----------------------------===//
//
// Folders call the format library, so a folded constant holds exactly the
// bytes and values the runtime lowering computes.
//
//===----------------------------------------------------------------------===//

#include "qc/QcDialect.h"
#include "quantc/Formats/Layout.h"

#include "quantc/Formats/Hadamard.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace mlir::qc;

#define GET_OP_CLASSES
#include "qc/QcOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Constant helpers
//===----------------------------------------------------------------------===//

/// Reads a float constant (f32, f16, bf16; dense or resource) as f32 values.
static std::optional<std::vector<float>> readFloatConstant(Attribute attr) {
  auto elements = dyn_cast_or_null<ElementsAttr>(attr);
  if (!elements || !isa<FloatType>(elements.getElementType()))
    return std::nullopt;
  std::vector<float> values;
  values.reserve(elements.getNumElements());
  if (auto f32Values = elements.tryGetValues<float>()) {
    values.assign(f32Values->begin(), f32Values->end());
    return values;
  }
  auto apValues = elements.tryGetValues<APFloat>();
  if (!apValues)
    return std::nullopt;
  for (APFloat value : *apValues) {
    bool losesInfo;
    value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    values.push_back(value.convertToFloat());
  }
  return values;
}

DenseElementsAttr mlir::qc::makeFloatConstant(RankedTensorType type,
                                              ArrayRef<float> values) {
  auto elementType = cast<FloatType>(type.getElementType());
  if (elementType.isF32())
    return DenseElementsAttr::get(type, values);
  SmallVector<APFloat> converted;
  converted.reserve(values.size());
  for (float value : values) {
    APFloat ap(value);
    bool losesInfo;
    ap.convert(elementType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
               &losesInfo);
    converted.push_back(ap);
  }
  return DenseElementsAttr::get(type, converted);
}

/// Reads the raw bytes of a packed constant.
static std::optional<std::vector<uint8_t>> readByteConstant(Attribute attr) {
  auto elements = dyn_cast_or_null<ElementsAttr>(attr);
  if (!elements || !elements.getElementType().isInteger(8))
    return std::nullopt;
  auto values = elements.tryGetValues<int8_t>();
  if (!values)
    return std::nullopt;
  std::vector<uint8_t> bytes;
  bytes.reserve(elements.getNumElements());
  for (int8_t value : *values)
    bytes.push_back(static_cast<uint8_t>(value));
  return bytes;
}

DenseElementsAttr mlir::qc::makeByteConstant(PackedType type,
                                             ArrayRef<uint8_t> bytes) {
  return DenseElementsAttr::getFromRawBuffer(
      type.getStorageType(),
      ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                     bytes.size()));
}

bool mlir::qc::isConstantQuantized(Operation *weights) {
  if (!weights)
    return false;
  if (auto quantize = dyn_cast<QuantizeOp>(weights)) {
    Attribute input;
    return matchPattern(quantize.getInput(), m_Constant(&input)) &&
           isa<DenseElementsAttr>(input);
  }
  return isa<ConstantOp>(weights);
}

std::optional<quantc::QuantizedTensor>
mlir::qc::readConstantQuantized(Operation *weights, std::string &error) {
  if (!isConstantQuantized(weights)) {
    error = "the weights are not a compile-time constant";
    return std::nullopt;
  }
  auto type = cast<PackedType>(weights->getResult(0).getType());
  const quantc::Format &format = type.getFormat().getValue();
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  if (auto quantize = dyn_cast<QuantizeOp>(weights)) {
    Attribute input;
    matchPattern(quantize.getInput(), m_Constant(&input));
    std::optional<std::vector<float>> values = readFloatConstant(input);
    if (!values) {
      error = "the quantized constant is not a float tensor";
      return std::nullopt;
    }
    return quantc::quantize(values->data(), shape, format, error);
  }
  std::optional<std::vector<uint8_t>> bytes =
      readByteConstant(cast<ConstantOp>(weights).getValue());
  if (!bytes) {
    error = "the constant's value is not a byte tensor";
    return std::nullopt;
  }
  return quantc::unpackLayout(bytes->data(), bytes->size(),
                              type.getLayoutName().str(), shape, format, error);
}

/// Checks that `shape` can be quantized in `format`, naming `what` otherwise.
static LogicalResult verifyShapeFitsFormat(Operation *op, StringRef what,
                                           ArrayRef<int64_t> shape,
                                           const quantc::Format &format) {
  std::string error;
  if (!quantc::scaleShape(shape.vec(), format, error))
    return op->emitOpError() << what << " of shape " << formatShape(shape)
                             << " does not fit format '"
                             << quantc::printFormat(format) << "': " << error;
  return success();
}

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  auto type = cast<PackedType>(getType());
  auto valueType = cast<ShapedType>(getValue().getType());
  if (!valueType.getElementType().isInteger(8) || valueType.getRank() != 1 ||
      valueType.getNumElements() != type.getSizeInBytes())
    return emitOpError() << "value must be " << type.getSizeInBytes()
                         << " bytes (tensor<" << type.getSizeInBytes()
                         << "xi8>) for " << type << ", got " << valueType;
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto resultType = cast<PackedType>(getType());
  if (inputType.getShape() != resultType.getShape())
    return emitOpError() << "input shape " << formatShape(inputType.getShape())
                         << " differs from the packed shape "
                         << formatShape(resultType.getShape());
  return success();
}

OpFoldResult QuantizeOp::fold(FoldAdaptor adaptor) {
  std::optional<std::vector<float>> values =
      readFloatConstant(adaptor.getInput());
  if (!values)
    return {};
  auto type = cast<PackedType>(getType());
  std::string error;
  std::optional<quantc::QuantizedTensor> quantized = quantc::quantize(
      values->data(), type.getShape().vec(), type.getFormat().getValue(), error);
  if (!quantized)
    return {};
  std::vector<uint8_t> bytes =
      quantc::packLayout(*quantized, type.getLayoutName().str());
  if (bytes.empty()) // values the layout cannot hold (x86_n16k8_s32)
    return {};
  return makeByteConstant(type, bytes);
}

LogicalResult DequantizeOp::verify() {
  auto inputType = cast<PackedType>(getInput().getType());
  auto resultType = cast<RankedTensorType>(getType());
  if (inputType.getShape() != resultType.getShape())
    return emitOpError() << "result shape " << formatShape(resultType.getShape())
                         << " differs from the packed shape "
                         << formatShape(inputType.getShape());
  return success();
}

OpFoldResult DequantizeOp::fold(FoldAdaptor adaptor) {
  std::optional<std::vector<uint8_t>> bytes =
      readByteConstant(adaptor.getInput());
  if (!bytes)
    return {};
  auto type = cast<PackedType>(getInput().getType());
  std::string error;
  std::optional<quantc::QuantizedTensor> quantized =
      quantc::unpackLayout(bytes->data(), bytes->size(),
                           type.getLayoutName().str(), type.getShape().vec(),
                           type.getFormat().getValue(), error);
  if (!quantized)
    return {};
  return makeFloatConstant(cast<RankedTensorType>(getType()),
                           quantc::dequantize(*quantized));
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantOp::verify() {
  return verifyShapeFitsFormat(*this, "input",
                               cast<RankedTensorType>(getType()).getShape(),
                               getFormat().getValue());
}

OpFoldResult FakeQuantOp::fold(FoldAdaptor adaptor) {
  // Only constants fold; quantization is never an identity on its input.
  std::optional<std::vector<float>> values =
      readFloatConstant(adaptor.getInput());
  if (!values)
    return {};
  auto type = cast<RankedTensorType>(getType());
  std::string error;
  std::optional<std::vector<float>> result = quantc::fakeQuantize(
      values->data(), type.getShape().vec(), getFormat().getValue(), error);
  if (!result)
    return {};
  return makeFloatConstant(type, *result);
}

//===----------------------------------------------------------------------===//
// MatmulOp
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto weightType = cast<PackedType>(getWeight().getType());
  auto resultType = cast<RankedTensorType>(getType());
  if (weightType.getShape().size() != 2)
    return emitOpError() << "weight must be [N, K], got "
                         << formatShape(weightType.getShape());
  if (inputType.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  int64_t n = weightType.getShape()[0], k = weightType.getShape()[1];
  if (inputType.getShape().back() != k)
    return emitOpError() << "input's last dimension "
                         << inputType.getShape().back()
                         << " differs from the weight's K = " << k;
  const quantc::Format &weightFormat = weightType.getFormat().getValue();
  if (weightFormat.granularity != quantc::Granularity::PerTensor &&
      normalizeAxis(weightFormat.axis, 2) != 1)
    return emitOpError() << "weight format '" << quantc::printFormat(weightFormat)
                         << "' must be quantized along K (axis -1)";
  SmallVector<int64_t> expected(inputType.getShape());
  expected.back() = n;
  if (resultType.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError() << "result shape " << formatShape(resultType.getShape())
                         << " should be " << formatShape(expected);
  if (std::optional<FormatAttr> act = getAct()) {
    const quantc::Format &actFormat = act->getValue();
    if (actFormat.granularity != quantc::Granularity::PerTensor &&
        normalizeAxis(actFormat.axis, inputType.getRank()) !=
            inputType.getRank() - 1)
      return emitOpError() << "activation format '"
                           << quantc::printFormat(actFormat)
                           << "' must be quantized along K (axis -1)";
    if (failed(verifyShapeFitsFormat(*this, "input", inputType.getShape(),
                                     actFormat)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// HadamardOp
//===----------------------------------------------------------------------===//

int64_t HadamardOp::getNormalizedAxis() {
  auto type = cast<RankedTensorType>(getType());
  return *normalizeAxis(getAxis(), type.getRank());
}

LogicalResult HadamardOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  std::optional<int64_t> axis = normalizeAxis(getAxis(), type.getRank());
  if (!axis)
    return emitOpError() << "axis " << getAxis() << " is out of range for rank "
                         << type.getRank();
  int64_t size = type.getDimSize(*axis);
  if (ShapedType::isDynamic(size))
    return emitOpError() << "rotated dimension " << *axis << " must be static";
  if (!quantc::decomposeHadamardSize(size))
    return emitOpError() << "dimension " << *axis << " has size " << size
                         << ", which is not 2^k * m for a known Hadamard order m";
  return success();
}

OpFoldResult HadamardOp::fold(FoldAdaptor adaptor) {
  std::optional<std::vector<float>> values =
      readFloatConstant(adaptor.getInput());
  if (!values)
    return {};
  auto type = cast<RankedTensorType>(getType());
  int64_t axis = getNormalizedAxis();
  std::vector<float> signs;
  if (std::optional<int64_t> seed = getSeed())
    signs = quantc::hadamardRandomSigns(type.getDimSize(axis),
                                        static_cast<uint64_t>(*seed));
  if (!quantc::hadamardTransformAxis(values->data(), type.getShape().vec(),
                                     static_cast<int>(axis),
                                     signs.empty() ? nullptr : signs.data()))
    return {};
  return makeFloatConstant(type, *values);
}

//===----------------------------------------------------------------------===//
// ObserveOp
//===----------------------------------------------------------------------===//

LogicalResult ObserveOp::verify() {
  static constexpr StringRef known[] = {"amax", "channel_amax", "histogram",
                                        "hessian"};
  for (Attribute stat : getStats()) {
    StringRef name = cast<StringAttr>(stat).getValue();
    if (!llvm::is_contained(known, name))
      return emitOpError() << "unknown statistic '" << name
                           << "' (known: amax, channel_amax, histogram, hessian)";
  }
  if (getName().empty())
    return emitOpError() << "needs a non-empty name";
  auto type = cast<RankedTensorType>(getInput().getType());
  int64_t axis = getAxis();
  if (type.getRank() == 0 || axis < -type.getRank() || axis >= type.getRank())
    return emitOpError() << "axis " << axis << " is out of range for "
                         << type;
  // Convolution patches: all three arrays or none, one entry per dimension,
  // kernel 1 along the channel and group axes.
  std::optional<ArrayRef<int64_t>> kernel = getKernel(),
                                   strides = getStrides(),
                                   dilations = getDilations();
  if (!kernel && !strides && !dilations) {
    if (getGroupAxis())
      return emitOpError() << "group_axis needs kernel, strides and dilations";
    return success();
  }
  if (!kernel || !strides || !dilations)
    return emitOpError() << "kernel, strides and dilations go together";
  int64_t rank = type.getRank();
  for (auto [what, values] : {std::pair{"kernel", *kernel},
                              std::pair{"strides", *strides},
                              std::pair{"dilations", *dilations}}) {
    if (static_cast<int64_t>(values.size()) != rank)
      return emitOpError() << what << " has " << values.size()
                           << " entries, the tensor " << rank << " dimensions";
    if (llvm::any_of(values, [](int64_t v) { return v < 1; }))
      return emitOpError() << what << " entries must be positive";
  }
  int64_t channel = axis < 0 ? axis + rank : axis;
  std::optional<int64_t> group = getGroupAxis();
  if (group && (*group < 0 || *group >= rank || *group == channel))
    return emitOpError() << "group_axis " << *group
                         << " must be a dimension other than the channel axis";
  for (int64_t d : {channel, group.value_or(channel)})
    if ((*kernel)[d] != 1 || (*strides)[d] != 1)
      return emitOpError() << "the channel and group axes need kernel 1 and "
                              "stride 1";
  for (int64_t d = 0; d < rank; ++d)
    if (type.getDimSize(d) < ((*kernel)[d] - 1) * (*dilations)[d] + 1)
      return emitOpError() << "dimension " << d << " of size "
                           << type.getDimSize(d)
                           << " is smaller than its dilated kernel";
  return success();
}
