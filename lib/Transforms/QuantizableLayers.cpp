//===- QuantizableLayers.cpp - Find the layers quantization applies to ----===//

#include "quantc/Transforms/QuantizableLayers.h"

#include "quantc/Formats/Format.h"
#include "quantc/Runtime/CalibrationStats.h"
#include "qc/QcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;

namespace quantc {

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

static std::optional<std::string> nameOf(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations())
      if (std::optional<std::string> name = nameOf(inner))
        return name;
    return std::nullopt;
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return nameOf(callSite.getCallee());
  return std::nullopt;
}

std::string layerName(Operation *op) {
  if (std::optional<std::string> name = nameOf(op->getLoc()))
    return *name;
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto fileLoc = dyn_cast<FileLineColLoc>(op->getLoc())) {
    os << llvm::sys::path::filename(fileLoc.getFilename().getValue()) << ":"
       << fileLoc.getLine() << ":" << fileLoc.getColumn();
    return text;
  }
  op->getLoc().print(os);
  return text;
}

//===----------------------------------------------------------------------===//
// Layout chains
//===----------------------------------------------------------------------===//

/// Maps `dims` of `op`'s result to dims of its input; false if one of them
/// does not map to a single source dimension of the same size.
static bool mapThroughLayoutOp(Operation *op, ArrayRef<int64_t> dims,
                               Value &input, SmallVector<int64_t> &mapped) {
  mapped.clear();
  if (auto transpose = dyn_cast<linalg::TransposeOp>(op)) {
    if (!transpose.hasPureTensorSemantics())
      return false;
    input = transpose.getInput();
    ArrayRef<int64_t> permutation = transpose.getPermutation();
    for (int64_t dim : dims)
      mapped.push_back(dim < 0 ? -1 : permutation[dim]);
    return true;
  }
  if (auto broadcast = dyn_cast<linalg::BroadcastOp>(op)) {
    if (!broadcast.hasPureTensorSemantics())
      return false;
    input = broadcast.getInput();
    ArrayRef<int64_t> added = broadcast.getDimensions();
    for (int64_t dim : dims) {
      if (dim < 0 || llvm::is_contained(added, dim)) {
        mapped.push_back(-1);
        continue;
      }
      int64_t before = llvm::count_if(added, [&](int64_t a) { return a < dim; });
      mapped.push_back(dim - before);
    }
    return true;
  }
  return false;
}

/// Whether `op` only reinterprets the shape of its operand (row-major).
static bool isReshape(Operation *op) {
  return isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, tensor::ReshapeOp>(
      op);
}

/// Maps `dims` of a row-major reshape's result (`to`) to dims of its source
/// (`from`): a dimension keeps its coordinates when a source dimension has the
/// same size and the same number of elements before it (hence the same
/// stride). Size-1 dims without such a partner map to -1 (one index only).
static bool mapThroughReshape(ArrayRef<int64_t> from, ArrayRef<int64_t> to,
                              ArrayRef<int64_t> dims,
                              SmallVector<int64_t> &mapped) {
  mapped.clear();
  auto prefix = [](ArrayRef<int64_t> shape, int64_t dim) {
    int64_t product = 1;
    for (int64_t i = 0; i < dim; ++i)
      product *= shape[i];
    return product;
  };
  for (int64_t dim : dims) {
    if (dim < 0) {
      mapped.push_back(-1);
      continue;
    }
    std::optional<int64_t> match;
    for (int64_t i = 0, e = from.size(); i < e && !match; ++i)
      if (from[i] == to[dim] && prefix(from, i) == prefix(to, dim))
        match = i;
    if (!match && to[dim] != 1)
      return false;
    mapped.push_back(match.value_or(-1));
  }
  return true;
}

/// A run of reshapes ending in `op` (the importer reshapes through a 1-D
/// collapse and an expand), traced as one reshape: the longest run whose
/// composition keeps `dims`. Returns the number of ops consumed (0: none).
static unsigned mapThroughReshapes(Operation *op, ArrayRef<int64_t> dims,
                                   Value &input, SmallVector<int64_t> &mapped) {
  SmallVector<Operation *> run;
  for (Operation *current = op; current && isReshape(current);
       current = current->getOperand(0).getDefiningOp())
    run.push_back(current);
  auto resultShape =
      cast<RankedTensorType>(op->getResult(0).getType()).getShape();
  for (unsigned length = run.size(); length > 0; --length) {
    Value source = run[length - 1]->getOperand(0);
    auto sourceType = dyn_cast<RankedTensorType>(source.getType());
    if (!sourceType || !sourceType.hasStaticShape())
      continue;
    if (mapThroughReshape(sourceType.getShape(), resultShape, dims, mapped)) {
      input = source;
      return length;
    }
  }
  return 0;
}

LayoutTrace traceLayoutChain(Value value, ArrayRef<int64_t> dims) {
  LayoutTrace trace;
  trace.source = value;
  trace.dims.assign(dims.begin(), dims.end());
  while (Operation *def = trace.source.getDefiningOp()) {
    Value input;
    SmallVector<int64_t> mapped;
    if (isReshape(def) &&
        cast<RankedTensorType>(def->getResult(0).getType()).hasStaticShape()) {
      unsigned consumed = mapThroughReshapes(def, trace.dims, input, mapped);
      if (!consumed)
        break;
      Operation *op = def;
      for (unsigned i = 0; i < consumed; ++i) {
        trace.ops.insert(trace.ops.begin(), op);
        op = op->getOperand(0).getDefiningOp();
      }
      trace.source = input;
      trace.dims = std::move(mapped);
      continue;
    }
    if (!mapThroughLayoutOp(def, trace.dims, input, mapped))
      break;
    trace.ops.insert(trace.ops.begin(), def);
    trace.source = input;
    trace.dims = std::move(mapped);
  }
  return trace;
}
bool isFloatConstant(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  if (!constant)
    return false;
  auto type = dyn_cast<RankedTensorType>(constant.getType());
  return type && isa<Float32Type, Float16Type, BFloat16Type>(
                     type.getElementType());
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

static bool isQuantizableFloatTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.hasStaticShape() &&
         isa<Float32Type, Float16Type, BFloat16Type>(tensor.getElementType());
}

/// The result position of loop dimension `loopDim` in `map`, if it appears
/// there as a plain dimension.
static std::optional<int64_t> resultPosition(AffineMap map, unsigned loopDim) {
  for (auto [position, expr] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr);
        dim && dim.getPosition() == loopDim)
      return position;
  return std::nullopt;
}

std::optional<QuantizableLayer>
matchQuantizableLayer(linalg::LinalgOp op, std::string &whyNot,
                      llvm::function_ref<bool(Value)> isWeightSource) {
  whyNot.clear();
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics())
    return std::nullopt;
  Operation *operation = op.getOperation();
  LayerKind kind;
  SmallVector<unsigned, 2> reductionLoops;
  if (linalg::isaContractionOpInterface(op)) {
    FailureOr<linalg::ContractionDimensions> dims =
        linalg::inferContractionDims(op);
    if (failed(dims))
      return std::nullopt;
    kind = LayerKind::Contraction;
    reductionLoops = dims->k;
  } else if (linalg::isaConvolutionOpInterface(op)) {
    FailureOr<linalg::ConvolutionDimensions> dims =
        linalg::inferConvolutionDims(op);
    if (failed(dims))
      return std::nullopt;
    kind = LayerKind::Convolution;
    reductionLoops = dims->inputChannel;
  } else {
    return std::nullopt;
  }

  // Which input is constant: follow each through its layout chain.
  SmallVector<unsigned> constantInputs;
  for (unsigned i = 0; i < 2; ++i)
    if (isWeightSource(traceLayoutChain(op.getDpsInputs()[i], {}).source))
      constantInputs.push_back(i);
  if (constantInputs.empty())
    return std::nullopt; // activations x activations (attention): no layer
  QuantizableLayer layer;
  layer.op = op;
  layer.kind = kind;
  layer.name = layerName(operation);
  if (constantInputs.size() == 2) {
    whyNot = "both operands are constants";
    return std::nullopt;
  }
  layer.weightInput = constantInputs.front();
  layer.activationInput = 1 - layer.weightInput;
  if (kind == LayerKind::Convolution && layer.weightInput != 1) {
    whyNot = "the convolution's input, not its filter, is the constant";
    return std::nullopt;
  }
  for (Value operand : operation->getOperands())
    if (!isQuantizableFloatTensor(operand.getType())) {
      whyNot = "operands must be static f32/f16/bf16 tensors";
      return std::nullopt;
    }
  if (reductionLoops.size() != 1) {
    whyNot = kind == LayerKind::Convolution
                 ? "it has no single input-channel reduction (depthwise?)"
                 : "it has " + std::to_string(reductionLoops.size()) +
                       " reduction dimensions; one is supported";
    return std::nullopt;
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  std::optional<int64_t> weightAxis =
      resultPosition(maps[layer.weightInput], reductionLoops.front());
  std::optional<int64_t> activationAxis =
      resultPosition(maps[layer.activationInput], reductionLoops.front());
  if (!weightAxis || !activationAxis) {
    whyNot = "its reduction dimension is not a plain dimension of both operands";
    return std::nullopt;
  }
  layer.weightAxis = *weightAxis;
  layer.activationAxis = *activationAxis;
  Value weight = op.getDpsInputs()[layer.weightInput];
  layer.reductionSize =
      cast<RankedTensorType>(weight.getType()).getDimSize(*weightAxis);
  if (layer.reductionSize == 1) {
    whyNot = kind == LayerKind::Convolution
                 ? "it reduces over one input channel per group (depthwise)"
                 : "its reduction dimension has size 1";
    return std::nullopt;
  }
  layer.weight = traceLayoutChain(weight, {*weightAxis});
  if (!isWeightSource(layer.weight.source) || layer.weight.dims.front() < 0) {
    whyNot = "the weight's reduction dimension is reshaped on its way from "
             "the constant";
    return std::nullopt;
  }
  return layer;
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

static float toF32(const APFloat &value) {
  APFloat converted = value;
  bool losesInfo;
  converted.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                    &losesInfo);
  return converted.convertToFloat();
}

std::optional<std::vector<float>> readFloatElements(Attribute attr) {
  auto elements = dyn_cast_or_null<ElementsAttr>(attr);
  if (!elements)
    return std::nullopt;
  auto elementType = dyn_cast<FloatType>(elements.getElementType());
  if (!elementType || !isa<Float32Type, Float16Type, BFloat16Type>(elementType))
    return std::nullopt;
  int64_t count = elements.getNumElements();
  std::vector<float> values;
  values.reserve(count);
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    unsigned width = elementType.getWidth() / 8;
    if (static_cast<int64_t>(data.size()) != count * width)
      return std::nullopt;
    if (elementType.isF32()) {
      values.resize(count);
      std::memcpy(values.data(), data.data(), data.size());
      return values;
    }
    for (int64_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, data.data() + i * 2, 2);
      values.push_back(
          toF32(APFloat(elementType.getFloatSemantics(), APInt(16, bits))));
    }
    return values;
  }
  if (auto f32Values = elements.tryGetValues<float>()) {
    values.assign(f32Values->begin(), f32Values->end());
    return values;
  }
  auto apValues = elements.tryGetValues<APFloat>();
  if (!apValues)
    return std::nullopt;
  for (APFloat value : *apValues)
    values.push_back(toF32(value));
  return values;
}

bool isQuantizedWeight(Value value) {
  auto quant = value.getDefiningOp<qc::FakeQuantOp>();
  return quant && isFloatConstant(quant.getInput());
}

bool isPackedWeight(Value value) {
  auto dequantize = value.getDefiningOp<qc::DequantizeOp>();
  return dequantize && dequantize.getInput().getDefiningOp<qc::ConstantOp>() &&
         !cast<qc::PackedType>(dequantize.getInput().getType()).getLayout();
}

std::vector<QuantizedLayer> findQuantizedLayers(Operation *root,
                                                bool includePacked) {
  std::vector<QuantizedLayer> layers;
  llvm::StringSet<> used;
  auto isWeight = [&](Value value) {
    return isQuantizedWeight(value) || (includePacked && isPackedWeight(value));
  };
  root->walk([&](linalg::LinalgOp op) {
    std::string whyNot;
    std::optional<QuantizableLayer> layer =
        matchQuantizableLayer(op, whyNot, isWeight);
    if (!layer)
      return;
    // An ONNX node lowered to several contractions: distinct keys.
    std::string key = activationStatsKey(layer->name);
    for (int suffix = 2; used.contains(key); ++suffix)
      key = activationStatsKey(layer->name + "#" + std::to_string(suffix));
    used.insert(key);
    Value activation = op.getDpsInputs()[layer->activationInput];
    if (auto quant = activation.getDefiningOp<qc::FakeQuantOp>())
      activation = quant.getInput();
    layers.push_back({*layer, key, activation});
  });
  return layers;
}

std::optional<std::vector<float>> quantizedWeightValues(Value source,
                                                        std::string &error) {
  if (auto quant = source.getDefiningOp<qc::FakeQuantOp>()) {
    auto constant = quant.getInput().getDefiningOp<arith::ConstantOp>();
    std::optional<std::vector<float>> values =
        constant ? readFloatElements(constant.getValue()) : std::nullopt;
    if (!values) {
      error = "the weight constant cannot be read";
      return std::nullopt;
    }
    std::vector<int64_t> shape(
        cast<RankedTensorType>(quant.getType()).getShape());
    return fakeQuantize(values->data(), shape, quant.getFormat().getValue(),
                        error);
  }
  if (isPackedWeight(source)) {
    auto decode = source.getDefiningOp<qc::DequantizeOp>();
    auto packedType = cast<qc::PackedType>(decode.getInput().getType());
    auto bytes = dyn_cast<DenseElementsAttr>(
        decode.getInput().getDefiningOp<qc::ConstantOp>().getValue());
    if (!bytes) {
      error = "the packed weight constant cannot be read";
      return std::nullopt;
    }
    ArrayRef<char> raw = bytes.getRawData();
    std::optional<QuantizedTensor> quantized =
        unpack(reinterpret_cast<const uint8_t *>(raw.data()), raw.size(),
               packedType.getShape().vec(), packedType.getFormat().getValue(),
               error);
    if (!quantized)
      return std::nullopt;
    return dequantize(*quantized);
  }
  error = "not a quantized weight";
  return std::nullopt;
}

std::optional<std::vector<float>>
weightOperandValues(const QuantizableLayer &layer,
                    ArrayRef<float> sourceValues) {
  linalg::LinalgOp op = layer.op;
  Value operand = op.getDpsInputs()[layer.weightInput];
  auto operandType = cast<RankedTensorType>(operand.getType());
  int64_t rank = operandType.getRank();
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < rank; ++d)
    all.push_back(d);
  LayoutTrace trace = traceLayoutChain(operand, all);
  auto sourceType = dyn_cast<RankedTensorType>(trace.source.getType());
  if (trace.source != layer.weight.source || !sourceType ||
      sourceType.getNumElements() != static_cast<int64_t>(sourceValues.size()))
    return std::nullopt;
  // Source strides; a source dimension no operand dimension reads must have
  // one index only.
  ArrayRef<int64_t> sourceShape = sourceType.getShape();
  SmallVector<int64_t> strides(sourceShape.size(), 1);
  for (int64_t d = static_cast<int64_t>(sourceShape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * sourceShape[d + 1];
  for (auto [d, size] : llvm::enumerate(sourceShape))
    if (size != 1 && !llvm::is_contained(trace.dims, static_cast<int64_t>(d)))
      return std::nullopt;
  ArrayRef<int64_t> shape = operandType.getShape();
  std::vector<float> values(operandType.getNumElements());
  SmallVector<int64_t> coords(rank, 0);
  for (float &value : values) {
    int64_t index = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (trace.dims[d] >= 0)
        index += coords[d] * strides[trace.dims[d]];
    value = sourceValues[index];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++coords[d] < shape[d])
        break;
      coords[d] = 0;
    }
  }
  return values;
}

ElementsAttr makeF32Constant(RankedTensorType type, ArrayRef<float> values,
                             Attribute original, StringRef suffix) {
  if (values.size() <= 16)
    return DenseElementsAttr::get(type, values);
  std::string name = ("qc_" + suffix).str();
  if (auto resource = dyn_cast_if_present<DenseResourceElementsAttr>(original))
    name = (resource.getRawHandle().getKey() + "_" + suffix).str();
  return DenseResourceElementsAttr::get(
      type, name, HeapAsmResourceBlob::allocateAndCopyInferAlign(values));
}

int formatAxis(int64_t axis, int64_t rank) {
  return axis == rank - 1 ? -1 : static_cast<int>(axis);
}

} // namespace quantc
