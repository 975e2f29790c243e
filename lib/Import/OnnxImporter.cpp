//===- OnnxImporter.cpp - ONNX model -> func.func of linalg/tensor/arith --===//
//
// The core of the front end: loading and checking a model with libonnx,
// fixing input shapes and running ONNX shape inference, the value table
// (ONNX names -> MLIR values, element types and import-time constants), the
// per-node driver (fold on known constants, else lower through the op
// registry, then check the result against shape inference), subgraph
// import, and the node context lowerings see.
//
// Op lowerings are not here: see OnnxOpRegistry.h and lib/Import/Onnx*.cpp.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxImporter.h"

#include "OnnxTensorData.h"
#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "onnx/checker.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <exception>
#include <map>

using namespace mlir;

namespace onnx::checker {
// Exported by libonnx 1.12 (it is what check_model(path) calls after
// setting the model's folder) but not declared in its header. The importer
// calls it so that external data is checked relative to the model, without
// parsing the model a second time.
void check_model(const ModelProto &model, CheckerContext &context);
} // namespace onnx::checker

namespace quantc {

/// The ONNX opsets the importer accepts for the default domain. Ops whose
/// semantics differ in old opsets (the binary ops' `broadcast` attribute
/// before 7, ...) say so with their own minimum in the registry; a model
/// using only ops unchanged since opset 1 legitimately declares opset 1.
constexpr int64_t kMinOnnxOpset = 1;
constexpr int64_t kMaxOnnxOpset = 21;

/// Known constants with more elements than this are not folded on the host.
constexpr int64_t kMaxFoldElements = OnnxNodeContext::kDefaultMaxKnown;

/// Tensors with at most this many elements become dense attributes (readable
/// in the IR); larger ones dense resource blobs.
constexpr int64_t kMaxDenseElements = 16;

static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += i ? "x" : "";
    text += ShapedType::isDynamic(shape[i]) ? "?" : std::to_string(shape[i]);
  }
  return text + "]";
}

static std::string typeToString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

static bool isDefaultDomain(llvm::StringRef domain) {
  return domain.empty() || domain == "ai.onnx";
}

//===----------------------------------------------------------------------===//
// Value table
//===----------------------------------------------------------------------===//

/// One ONNX value name as the importer knows it.
struct ValueInfo {
  Value value; // null until a constant is materialized
  OnnxDType dtype = OnnxDType::Undefined;
  SmallVector<int64_t> shape;
  ElementsAttr constant;                    // initializer, Constant node
  std::shared_ptr<const KnownTensor> known; // decoded / folded host value
  /// `known` is a graph input's value the caller fixed for this import
  /// (OnnxImportOptions::specializedInputs): lowerings that need a constant
  /// (Reshape's shape, Range's bounds) may use it, but ops are not folded on
  /// it, so that the function still computes from its arguments.
  bool specializedOnly = false;

  bool isKnown() const { return constant || known; }
  int64_t numElements() const { return numElementsOf(shape); }
};

/// The names one graph defines; subgraphs see their parents' names.
struct Scope {
  llvm::StringMap<ValueInfo> values;
  llvm::StringMap<const onnx::TypeProto *> inferred;
  Scope *parent = nullptr;
};

//===----------------------------------------------------------------------===//
// The graph importer
//===----------------------------------------------------------------------===//

class OnnxGraphImporter {
public:
  OnnxGraphImporter(MLIRContext &context, std::string modelPath,
                    std::string baseDir, std::map<std::string, int64_t> opsets)
      : context(context), builder(&context), constantBuilder(&context),
        modelPath(std::move(modelPath)), baseDir(std::move(baseDir)),
        opsets(std::move(opsets)) {}

  OwningOpRef<ModuleOp> importMainGraph(onnx::GraphProto &graph,
                                        const OnnxImportOptions &options);

  // Used by OnnxNodeContext.
  ValueInfo *lookup(llvm::StringRef name) {
    for (Scope *scope = currentScope; scope; scope = scope->parent) {
      auto it = scope->values.find(name);
      if (it != scope->values.end())
        return &it->second;
    }
    return nullptr;
  }
  const onnx::TypeProto *lookupInferred(llvm::StringRef name) {
    for (Scope *scope = currentScope; scope; scope = scope->parent) {
      auto it = scope->inferred.find(name);
      if (it != scope->inferred.end())
        return it->second;
    }
    return nullptr;
  }
  Value materialize(ValueInfo &info);
  const KnownTensor *getKnown(ValueInfo &info, int64_t maxElements,
                              bool allowSpecialized = true);
  FailureOr<ElementsAttr> createConstantAttr(onnx::TensorProto &tensor,
                                             const std::string &what,
                                             std::string &error);
  LogicalResult importSubgraph(OnnxNodeContext &ctx,
                               const onnx::GraphProto &graph, ValueRange inputs,
                               SmallVectorImpl<Value> &outputs,
                               SmallVectorImpl<OnnxDType> &outputDTypes,
                               ArrayRef<std::shared_ptr<const KnownTensor>>
                                   knownInputs = {});
  std::string nodeErrorPrefix(const onnx::NodeProto &node, int64_t opset) const;
  Location nodeLocation(const onnx::NodeProto &node);

  MLIRContext &context;
  OpBuilder builder;
  /// Inserts materialized constants at the top of the entry block, where
  /// they dominate every use, subgraph regions included.
  OpBuilder constantBuilder;
  Block *entryBlock = nullptr;
  Operation *lastConstant = nullptr;
  std::string modelPath;
  std::string baseDir;
  std::map<std::string, int64_t> opsets;
  Scope *currentScope = nullptr;
  std::string error;
  unsigned resourceCounter = 0;

private:
  LogicalResult addInitializers(onnx::GraphProto &graph, Scope &scope);
  void recordInferredTypes(const onnx::GraphProto &graph, Scope &scope);
  LogicalResult importNodes(const onnx::GraphProto &graph);
  LogicalResult importNode(const onnx::NodeProto &node);
  LogicalResult bindOutputs(OnnxNodeContext &ctx);
  LogicalResult fail(const std::string &message) {
    setError(message);
    return failure();
  }
  void setError(const std::string &message) {
    if (error.empty())
      error = modelPath + ": " + message;
  }
};

std::string OnnxGraphImporter::nodeErrorPrefix(const onnx::NodeProto &node,
                                               int64_t opset) const {
  std::string name = !node.name().empty()    ? node.name()
                     : node.output_size() > 0 ? node.output(0)
                                              : std::string();
  std::string opType = node.op_type();
  if (!isDefaultDomain(node.domain()))
    opType = node.domain() + "." + opType;
  return modelPath + ": node '" + name + "' (" + opType + ", opset " +
         std::to_string(opset) + "): ";
}

Location OnnxGraphImporter::nodeLocation(const onnx::NodeProto &node) {
  std::string name = !node.name().empty()    ? node.name()
                     : node.output_size() > 0 ? node.output(0)
                                              : node.op_type();
  return NameLoc::get(StringAttr::get(&context, name),
                      FileLineColLoc::get(&context, modelPath, 0, 0));
}

/// A resource key from a tensor name: MLIR prints keys as identifiers.
static std::string resourceKey(llvm::StringRef name, unsigned counter) {
  std::string key;
  for (char c : name)
    key += (llvm::isAlnum(c) || c == '_' || c == '.') ? c : '_';
  if (key.empty() || llvm::isDigit(key[0]))
    key = "t" + std::to_string(counter) + "_" + key;
  return key;
}

FailureOr<ElementsAttr>
OnnxGraphImporter::createConstantAttr(onnx::TensorProto &tensor,
                                      const std::string &what,
                                      std::string &message) {
  SmallVector<int64_t> shape;
  if (!getTensorProtoShape(tensor, shape, what, message))
    return failure();
  auto dtype = static_cast<OnnxDType>(tensor.data_type());
  Type elementType = onnxDTypeToMlir(dtype, &context);
  auto type = RankedTensorType::get(shape, elementType);
  int64_t count = numElementsOf(shape);
  size_t bytes = static_cast<size_t>(count) * onnxDTypeSize(dtype);

  if (!validateTensorProtoData(tensor, baseDir, bytes, what, message))
    return failure();

  // Small and bool tensors: a dense attribute, readable in the IR (i1 dense
  // storage is bit-packed, unlike ONNX's byte per bool).
  if (count <= kMaxDenseElements || dtype == OnnxDType::Bool) {
    std::vector<char> data(bytes);
    if (!readTensorProtoData(tensor, baseDir, data, what, message))
      return failure();
    KnownTensor known = decodeKnownTensor(dtype, shape, data);
    return knownTensorToAttr(&context, known);
  }

  // Large tensors: copied once, straight into the blob the IR refers to.
  AsmResourceBlob blob =
      HeapAsmResourceBlob::allocate(bytes, alignof(int64_t), /*mutable=*/true);
  if (!readTensorProtoData(tensor, baseDir, blob.getMutableData(), what,
                           message))
    return failure();
  // The model's copy is no longer needed.
  tensor.clear_raw_data();
  tensor.clear_float_data();
  tensor.clear_int32_data();
  tensor.clear_int64_data();
  tensor.clear_double_data();
  tensor.clear_uint64_data();
  return ElementsAttr(DenseResourceElementsAttr::get(
      type, resourceKey(tensor.name(), resourceCounter++), std::move(blob)));
}

Value OnnxGraphImporter::materialize(ValueInfo &info) {
  if (info.value)
    return info.value;
  ElementsAttr attr = info.constant;
  if (!attr)
    attr = knownTensorToAttr(&context, *info.known);
  // Constants go to the top of the entry block, in order of first use.
  if (lastConstant)
    constantBuilder.setInsertionPointAfter(lastConstant);
  else
    constantBuilder.setInsertionPointToStart(entryBlock);
  lastConstant = arith::ConstantOp::create(
      constantBuilder, UnknownLoc::get(&context), cast<TypedAttr>(attr));
  info.value = lastConstant->getResult(0);
  return info.value;
}

const KnownTensor *OnnxGraphImporter::getKnown(ValueInfo &info,
                                               int64_t maxElements,
                                               bool allowSpecialized) {
  if (!info.isKnown() || info.numElements() > maxElements ||
      (info.specializedOnly && !allowSpecialized))
    return nullptr;
  if (!info.known) {
    ElementsAttr attr = info.constant;
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
      ArrayRef<char> data = resource.getData();
      info.known = std::make_shared<KnownTensor>(
          decodeKnownTensor(info.dtype, info.shape, data));
    } else {
      auto dense = cast<DenseElementsAttr>(attr);
      KnownTensor tensor;
      tensor.dtype = info.dtype;
      tensor.shape = info.shape;
      if (isOnnxFloat(info.dtype)) {
        for (APFloat value : dense.getValues<APFloat>()) {
          bool losesInfo = false;
          value.convert(llvm::APFloat::IEEEdouble(),
                        llvm::APFloat::rmNearestTiesToEven, &losesInfo);
          tensor.floats.push_back(value.convertToDouble());
        }
      } else {
        bool isUnsigned = isOnnxUnsigned(info.dtype);
        for (const APInt &value : dense.getValues<APInt>())
          tensor.ints.push_back(value.getBitWidth() == 1 || isUnsigned
                                    ? static_cast<int64_t>(value.getZExtValue())
                                    : value.getSExtValue());
      }
      info.known = std::make_shared<KnownTensor>(std::move(tensor));
    }
  }
  return info.known.get();
}

/// Reads a TypeProto into an element type and a shape with kDynamic holes.
static OnnxInferredType inferredFromTypeProto(const onnx::TypeProto *type) {
  OnnxInferredType result;
  if (!type || !type->has_tensor_type())
    return result;
  const auto &tensorType = type->tensor_type();
  result.dtype = static_cast<OnnxDType>(tensorType.elem_type());
  if (!tensorType.has_shape())
    return result;
  SmallVector<int64_t> shape;
  for (const auto &dim : tensorType.shape().dim())
    shape.push_back(dim.has_dim_value() && dim.dim_value() >= 0
                        ? dim.dim_value()
                        : ShapedType::kDynamic);
  result.shape = std::move(shape);
  return result;
}

void OnnxGraphImporter::recordInferredTypes(const onnx::GraphProto &graph,
                                            Scope &scope) {
  for (const auto &info : graph.value_info())
    scope.inferred[info.name()] = &info.type();
  for (const auto &info : graph.output())
    scope.inferred[info.name()] = &info.type();
}

LogicalResult OnnxGraphImporter::addInitializers(onnx::GraphProto &graph,
                                                 Scope &scope) {
  for (onnx::TensorProto &tensor : *graph.mutable_initializer()) {
    std::string what = "initializer '" + tensor.name() + "'";
    std::string message;
    FailureOr<ElementsAttr> attr = createConstantAttr(tensor, what, message);
    if (failed(attr))
      return fail(message);
    ValueInfo info;
    info.constant = *attr;
    info.dtype = static_cast<OnnxDType>(tensor.data_type());
    auto type = cast<RankedTensorType>(attr->getType());
    info.shape.assign(type.getShape().begin(), type.getShape().end());
    scope.values[tensor.name()] = std::move(info);
  }
  if (graph.sparse_initializer_size() > 0)
    return fail("sparse initializers are not supported yet ('" +
                graph.sparse_initializer(0).values().name() + "')");
  return success();
}

LogicalResult OnnxGraphImporter::importNodes(const onnx::GraphProto &graph) {
  for (const onnx::NodeProto &node : graph.node())
    if (failed(importNode(node)))
      return failure();
  return success();
}

LogicalResult OnnxGraphImporter::importNode(const onnx::NodeProto &node) {
  std::string domain = isDefaultDomain(node.domain()) ? "" : node.domain();
  auto opsetIt = opsets.find(domain);
  int64_t opset = opsetIt == opsets.end() ? 0 : opsetIt->second;
  OnnxNodeContext ctx(*this, node, opset);
  auto finish = [&](LogicalResult result) {
    if (failed(result) || ctx.failed()) {
      if (error.empty())
        error = ctx.errorMessage().empty()
                    ? nodeErrorPrefix(node, opset) + "lowering failed"
                    : ctx.errorMessage();
      return failure();
    }
    return success();
  };

  if (opsetIt == opsets.end())
    return finish(ctx.emitError("the model imports no opset for domain '" +
                                node.domain() + "'"));
  for (int i = 0; i < node.input_size(); ++i)
    if (!node.input(i).empty() && !lookup(node.input(i)))
      return finish(ctx.emitError(
          "input '" + node.input(i) +
          "' is not a graph input, an initializer or the output of an "
          "earlier node (is the graph cyclic or not topologically sorted?)"));
  for (int i = 0; i < node.output_size(); ++i)
    if (!node.output(i).empty() &&
        currentScope->values.count(node.output(i)))
      return finish(ctx.emitError("output '" + node.output(i) +
                                  "' is already defined (ONNX values are "
                                  "assigned once)"));

  const OnnxOpLowering *lowering =
      OnnxOpRegistry::get().lookup(domain, node.op_type());
  if (!lowering)
    return finish(ctx.emitError("unsupported operator: quantc has no "
                                "lowering for " +
                                (domain.empty() ? "" : domain + ".") +
                                node.op_type() + " yet"));
  if (opset < lowering->minOpset || opset > lowering->maxOpset)
    return finish(ctx.emitError(
        "unsupported operator version: quantc lowers " + node.op_type() +
        (lowering->maxOpset >= kMaxOnnxOpset
             ? " from opset " + std::to_string(lowering->minOpset)
             : " for opsets " + std::to_string(lowering->minOpset) + " to " +
                   std::to_string(lowering->maxOpset))));

  // Fold on the host when every input is known: shape computations become
  // constants, so that later nodes see static shapes. When some inputs are
  // only known through specialization, the fold's results are kept as
  // shadows of the lowered values instead: lowerings that need constants
  // downstream find them, and the function still computes from its inputs.
  SmallVector<KnownTensor> shadows;
  if (lowering->fold) {
    bool allKnown = true, anySpecialized = false;
    for (unsigned i = 0; i < ctx.numInputs() && allKnown; ++i) {
      if (!ctx.hasInput(i))
        continue;
      ValueInfo &info = *lookup(node.input(i));
      allKnown = getKnown(info, kMaxFoldElements) != nullptr;
      anySpecialized |= info.specializedOnly;
    }
    if (allKnown) {
      SmallVector<KnownTensor> results;
      ctx.folding = true;
      LogicalResult folded = lowering->fold(ctx, results);
      ctx.folding = false;
      if (succeeded(folded)) {
        if (ctx.failed())
          return finish(failure());
        bool small = results.size() == ctx.numOutputs() &&
                     llvm::all_of(results, [](const KnownTensor &t) {
                       return t.numElements() <= kMaxFoldElements;
                     });
        if (small && !anySpecialized) {
          for (auto [index, result] : llvm::enumerate(results))
            if (ctx.hasOutput(index))
              ctx.setKnownOutput(index, std::move(result));
          return finish(bindOutputs(ctx));
        }
        if (small)
          shadows = std::move(results);
      } else if (ctx.failed()) {
        return finish(failure());
      }
    }
  }

  OpBuilder::InsertionGuard guard(builder);
  if (failed(lowering->lower(ctx)) || ctx.failed())
    return finish(failure());
  if (failed(bindOutputs(ctx)))
    return finish(failure());
  for (auto [index, shadow] : llvm::enumerate(shadows)) {
    if (!ctx.hasOutput(index))
      continue;
    ValueInfo &info = currentScope->values[node.output(index)];
    if (info.isKnown() || shadow.dtype != info.dtype ||
        ArrayRef<int64_t>(shadow.shape) != ArrayRef<int64_t>(info.shape))
      continue;
    info.known = std::make_shared<const KnownTensor>(std::move(shadow));
    info.specializedOnly = true;
  }
  return finish(success());
}

/// Checks every output the lowering produced against ONNX shape inference
/// and enters it in the value table. A disagreement is a bug in a lowering:
/// it is reported instead of producing a wrong answer.
LogicalResult OnnxGraphImporter::bindOutputs(OnnxNodeContext &ctx) {
  const onnx::NodeProto &node = ctx.node();
  for (unsigned index = 0; index < ctx.numOutputs(); ++index) {
    if (!ctx.hasOutput(index))
      continue;
    const OnnxNodeContext::Output &output = ctx.outputs()[index];
    if (!output.isSet())
      return ctx.emitError("internal error: the lowering produced no value "
                           "for output " +
                           std::to_string(index) + " ('" + node.output(index) +
                           "')");
    ValueInfo info;
    info.dtype = output.dtype;
    if (output.value) {
      auto type = dyn_cast<RankedTensorType>(output.value.getType());
      if (!type || !type.hasStaticShape())
        return ctx.emitError(
            "internal error: output '" + node.output(index) +
            "' is not a static-shaped tensor: " +
            typeToString(output.value.getType()));
      info.value = output.value;
      info.shape.assign(type.getShape().begin(), type.getShape().end());
    } else if (output.constant) {
      info.constant = output.constant;
      auto type = cast<RankedTensorType>(output.constant.getType());
      info.shape.assign(type.getShape().begin(), type.getShape().end());
    } else {
      info.known = output.known;
      info.shape = output.known->shape;
      info.dtype = output.known->dtype;
    }

    OnnxInferredType inferred = ctx.inferredOutput(index);
    std::string produced =
        onnxDTypeName(info.dtype) + " " + formatShape(info.shape);
    if (inferred.dtype != OnnxDType::Undefined && inferred.dtype != info.dtype)
      return ctx.emitError("internal error: output '" + node.output(index) +
                           "' is " + produced +
                           " but ONNX shape inference says " +
                           onnxDTypeName(inferred.dtype));
    if (inferred.shape) {
      bool agrees = inferred.shape->size() == info.shape.size();
      for (size_t d = 0; agrees && d < info.shape.size(); ++d)
        agrees = ShapedType::isDynamic((*inferred.shape)[d]) ||
                 (*inferred.shape)[d] == info.shape[d];
      if (!agrees)
        return ctx.emitError("internal error: output '" + node.output(index) +
                             "' has shape " + formatShape(info.shape) +
                             " but ONNX shape inference says " +
                             formatShape(*inferred.shape));
    }
    for (int64_t dim : info.shape)
      if (dim > kMaxOnnxDim)
        return ctx.emitError("output '" + node.output(index) +
                             "' would have dimension " + std::to_string(dim) +
                             " (dims must lie in [0, 2^31))");
    currentScope->values[node.output(index)] = std::move(info);
  }
  return success();
}

LogicalResult OnnxGraphImporter::importSubgraph(
    OnnxNodeContext &ctx, const onnx::GraphProto &graph, ValueRange inputs,
    SmallVectorImpl<Value> &outputs, SmallVectorImpl<OnnxDType> &outputDTypes,
    ArrayRef<std::shared_ptr<const KnownTensor>> knownInputs) {
  if (static_cast<int>(inputs.size()) != graph.input_size())
    return ctx.emitError("subgraph '" + graph.name() + "' takes " +
                         std::to_string(graph.input_size()) +
                         " inputs but is given " +
                         std::to_string(inputs.size()));
  Scope scope;
  scope.parent = currentScope;
  // The subgraph's initializers are copied into blobs like the main graph's;
  // the GraphProto is const to lowerings, so copy the (small) graph first.
  onnx::GraphProto mutableGraph = graph;
  if (failed(addInitializers(mutableGraph, scope)))
    return failure();
  recordInferredTypes(mutableGraph, scope);
  for (auto [index, input] : llvm::enumerate(inputs)) {
    ValueInfo info;
    if (index < knownInputs.size() && knownInputs[index]) {
      // A value known at import time (a Loop's iteration number when the
      // loop is unrolled): materialized where a lowering needs a Value.
      info.known = knownInputs[index];
      info.shape.assign(info.known->shape.begin(), info.known->shape.end());
      info.dtype = info.known->dtype;
      scope.values[mutableGraph.input(index).name()] = std::move(info);
      continue;
    }
    info.value = input;
    auto type = cast<RankedTensorType>(input.getType());
    info.shape.assign(type.getShape().begin(), type.getShape().end());
    OnnxInferredType declared =
        inferredFromTypeProto(&mutableGraph.input(index).type());
    info.dtype = declared.dtype != OnnxDType::Undefined
                     ? declared.dtype
                     : onnxDTypeFromMlir(type.getElementType());
    scope.values[mutableGraph.input(index).name()] = std::move(info);
  }
  Scope *saved = currentScope;
  currentScope = &scope;
  llvm::scope_exit restore([&] { currentScope = saved; });
  if (failed(importNodes(mutableGraph)))
    return failure();
  for (const auto &output : mutableGraph.output()) {
    ValueInfo *info = lookup(output.name());
    if (!info)
      return ctx.emitError("subgraph output '" + output.name() +
                           "' is not defined in the subgraph");
    outputs.push_back(materialize(*info));
    outputDTypes.push_back(info->dtype);
  }
  return success();
}

OwningOpRef<ModuleOp>
OnnxGraphImporter::importMainGraph(onnx::GraphProto &graph,
                                   const OnnxImportOptions &options) {
  Location loc = FileLineColLoc::get(&context, modelPath, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Scope scope;
  currentScope = &scope;
  if (failed(addInitializers(graph, scope)))
    return nullptr;
  recordInferredTypes(graph, scope);

  // Arguments: the graph inputs that are not initializers.
  SmallVector<Type> argumentTypes;
  SmallVector<const onnx::ValueInfoProto *> arguments;
  for (const auto &input : graph.input()) {
    if (scope.values.count(input.name()))
      continue; // an initializer (IR version < 4 lists them as inputs)
    OnnxInferredType type = inferredFromTypeProto(&input.type());
    if (!input.type().has_tensor_type()) {
      setError("graph input '" + input.name() +
           "' is not a tensor (sequences, maps and optionals are not "
           "supported yet)");
      return nullptr;
    }
    Type elementType = onnxDTypeToMlir(type.dtype, &context);
    if (!elementType) {
      setError("graph input '" + input.name() + "' has element type " +
           onnxDTypeName(type.dtype) + ", which quantc does not support yet");
      return nullptr;
    }
    if (!type.shape) {
      setError("graph input '" + input.name() +
           "' has no shape; give one with --input-shape " + input.name() +
           "=DIMS");
      return nullptr;
    }
    argumentTypes.push_back(RankedTensorType::get(*type.shape, elementType));
    arguments.push_back(&input);
  }

  builder.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(builder, loc, options.functionName,
                                   builder.getFunctionType(argumentTypes, {}));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToEnd(entry);
  entryBlock = entry;
  for (auto [index, input] : llvm::enumerate(arguments)) {
    ValueInfo info;
    info.value = entry->getArgument(index);
    OnnxInferredType type = inferredFromTypeProto(&input->type());
    info.dtype = type.dtype;
    info.shape = *type.shape;
    auto specialized = options.specializedInputs.find(input->name());
    bool fixed = options.fixedInputs.count(input->name());
    if (fixed)
      specialized = options.fixedInputs.find(input->name());
    if (fixed || specialized != options.specializedInputs.end()) {
      const KnownTensor &value = specialized->getValue();
      if (value.dtype != info.dtype ||
          ArrayRef<int64_t>(value.shape) != ArrayRef<int64_t>(info.shape)) {
        setError("the value given for input '" + input->name() + "' is " +
                 onnxDTypeName(value.dtype) + " " + formatShape(value.shape) +
                 " but the input is " + onnxDTypeName(info.dtype) + " " +
                 formatShape(info.shape));
        return nullptr;
      }
      info.known = std::make_shared<KnownTensor>(value);
      info.specializedOnly = !fixed;
    }
    scope.values[input->name()] = std::move(info);
    func.setArgAttr(index, "qc.name", builder.getStringAttr(input->name()));
    if (isOnnxUnsigned(type.dtype))
      func.setArgAttr(index, "qc.dtype",
                      builder.getStringAttr(onnxDTypeName(type.dtype)));
  }

  if (failed(importNodes(graph)))
    return nullptr;

  SmallVector<Value> results;
  SmallVector<OnnxDType> resultDTypes;
  for (const auto &output : graph.output()) {
    ValueInfo *info = lookup(output.name());
    if (!info) {
      setError("graph output '" + output.name() +
           "' is not produced by any node, input or initializer");
      return nullptr;
    }
    results.push_back(materialize(*info));
    resultDTypes.push_back(info->dtype);
  }
  func::ReturnOp::create(builder, loc, results);
  func.setType(builder.getFunctionType(argumentTypes,
                                       ValueRange(results).getTypes()));
  for (auto [index, output] : llvm::enumerate(graph.output())) {
    func.setResultAttr(index, "qc.name", builder.getStringAttr(output.name()));
    if (isOnnxUnsigned(resultDTypes[index]))
      func.setResultAttr(index, "qc.dtype",
                         builder.getStringAttr(onnxDTypeName(resultDTypes[index])));
  }

  // A lowering that built invalid IR is a bug; report it on one line rather
  // than handing the IR on.
  std::string diagnostics;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      if (diagnostics.empty()) {
        llvm::raw_string_ostream os(diagnostics);
        os << diag.getLocation() << ": " << diag.str();
      }
      return success();
    });
    if (failed(verify(*module))) {
      setError("internal error: the imported IR does not verify: " + diagnostics);
      return nullptr;
    }
  }
  return module;
}

//===----------------------------------------------------------------------===//
// OnnxNodeContext
//===----------------------------------------------------------------------===//

OnnxNodeContext::OnnxNodeContext(OnnxGraphImporter &importer,
                                 const onnx::NodeProto &node, int64_t opset)
    : importer(importer), nodeProto(node), opsetVersion(opset) {
  boundOutputs.resize(node.output_size());
}

llvm::StringRef OnnxNodeContext::opType() const { return nodeProto.op_type(); }
llvm::StringRef OnnxNodeContext::domain() const { return nodeProto.domain(); }

llvm::StringRef OnnxNodeContext::name() const {
  if (!nodeProto.name().empty())
    return nodeProto.name();
  if (nodeProto.output_size() > 0)
    return nodeProto.output(0);
  return "";
}

OpBuilder &OnnxNodeContext::builder() { return importer.builder; }
Location OnnxNodeContext::loc() const {
  return importer.nodeLocation(nodeProto);
}
MLIRContext *OnnxNodeContext::getContext() { return &importer.context; }

unsigned OnnxNodeContext::numInputs() const { return nodeProto.input_size(); }
bool OnnxNodeContext::hasInput(unsigned index) const {
  return index < numInputs() && !nodeProto.input(index).empty();
}
llvm::StringRef OnnxNodeContext::inputName(unsigned index) const {
  return index < numInputs() ? llvm::StringRef(nodeProto.input(index)) : "";
}

Value OnnxNodeContext::input(unsigned index) {
  if (!hasInput(index))
    return nullptr;
  return importer.materialize(*importer.lookup(nodeProto.input(index)));
}

RankedTensorType OnnxNodeContext::inputType(unsigned index) {
  if (!hasInput(index))
    return nullptr;
  ValueInfo *info = importer.lookup(nodeProto.input(index));
  return RankedTensorType::get(info->shape,
                               onnxDTypeToMlir(info->dtype, getContext()));
}

llvm::ArrayRef<int64_t> OnnxNodeContext::inputShape(unsigned index) {
  if (!hasInput(index))
    return {};
  return importer.lookup(nodeProto.input(index))->shape;
}

OnnxDType OnnxNodeContext::inputDType(unsigned index) {
  if (!hasInput(index))
    return OnnxDType::Undefined;
  return importer.lookup(nodeProto.input(index))->dtype;
}

const KnownTensor *OnnxNodeContext::knownInput(unsigned index,
                                               int64_t maxElements) {
  if (!hasInput(index))
    return nullptr;
  return importer.getKnown(*importer.lookup(nodeProto.input(index)),
                           maxElements, /*allowSpecialized=*/folding);
}

const KnownTensor *OnnxNodeContext::constantInput(unsigned index) {
  if (!hasInput(index))
    return nullptr;
  return importer.getKnown(*importer.lookup(nodeProto.input(index)),
                           kDefaultMaxKnown, /*allowSpecialized=*/true);
}

std::optional<SmallVector<int64_t>>
OnnxNodeContext::constantInts(unsigned index) {
  const KnownTensor *known = constantInput(index);
  if (!known || known->isFloat())
    return std::nullopt;
  return SmallVector<int64_t>(known->ints.begin(), known->ints.end());
}

FailureOr<SmallVector<int64_t>>
OnnxNodeContext::requireConstantInts(unsigned index, llvm::StringRef what) {
  if (std::optional<SmallVector<int64_t>> values = constantInts(index))
    return *values;
  if (!hasInput(index))
    return emitError("input " + std::to_string(index) + " (" + what +
                     ") is required");
  return emitError("input " + std::to_string(index) + " ('" +
                   inputName(index) + "', " + what +
                   ") must be an integer constant known at import time");
}

std::optional<SmallVector<double>>
OnnxNodeContext::constantDoubles(unsigned index) {
  const KnownTensor *known = constantInput(index);
  if (!known)
    return std::nullopt;
  SmallVector<double> values;
  for (int64_t i = 0, e = known->numElements(); i < e; ++i)
    values.push_back(known->getDouble(i));
  return values;
}

std::optional<double> OnnxNodeContext::constantScalar(unsigned index) {
  const KnownTensor *known = constantInput(index);
  if (!known || known->numElements() != 1)
    return std::nullopt;
  return known->getDouble(0);
}

unsigned OnnxNodeContext::numOutputs() const { return nodeProto.output_size(); }
bool OnnxNodeContext::hasOutput(unsigned index) const {
  return index < numOutputs() && !nodeProto.output(index).empty();
}
llvm::StringRef OnnxNodeContext::outputName(unsigned index) const {
  return index < numOutputs() ? llvm::StringRef(nodeProto.output(index)) : "";
}

OnnxInferredType OnnxNodeContext::inferredOutput(unsigned index) const {
  if (!hasOutput(index))
    return {};
  return inferredFromTypeProto(
      importer.lookupInferred(nodeProto.output(index)));
}

void OnnxNodeContext::setOutput(unsigned index, Value value, OnnxDType dtype) {
  if (index >= boundOutputs.size())
    return;
  if (dtype == OnnxDType::Undefined) {
    Type elementType = cast<ShapedType>(value.getType()).getElementType();
    OnnxDType inferred = inferredOutput(index).dtype;
    dtype = inferred != OnnxDType::Undefined &&
                    onnxDTypeToMlir(inferred, getContext()) == elementType
                ? inferred
                : onnxDTypeFromMlir(elementType);
  }
  boundOutputs[index] = Output{value, dtype, nullptr, nullptr};
}

void OnnxNodeContext::setKnownOutput(unsigned index, KnownTensor tensor) {
  if (index >= boundOutputs.size())
    return;
  OnnxDType dtype = tensor.dtype;
  boundOutputs[index] = Output{
      nullptr, dtype, nullptr,
      std::make_shared<const KnownTensor>(std::move(tensor))};
}

LogicalResult OnnxNodeContext::setOutputFromTensorAttr(unsigned index,
                                                       llvm::StringRef name) {
  const auto *attr =
      static_cast<const onnx::AttributeProto *>(findAttr(name, 4 /*TENSOR*/));
  if (!attr)
    return emitError("attribute '" + name + "' is required");
  // The attribute's data is copied once into the constant; the NodeProto
  // itself stays untouched (it is const to the importer).
  onnx::TensorProto tensor = attr->t();
  std::string message;
  FailureOr<ElementsAttr> constant = importer.createConstantAttr(
      tensor, "attribute '" + name.str() + "'", message);
  if (mlir::failed(constant))
    return emitError(message);
  boundOutputs[index] = Output{
      nullptr, static_cast<OnnxDType>(tensor.data_type()), *constant, nullptr};
  return success();
}

LogicalResult OnnxNodeContext::emitError(const llvm::Twine &message) {
  if (!hasFailed) {
    hasFailed = true;
    firstError =
        importer.nodeErrorPrefix(nodeProto, opsetVersion) + message.str();
  }
  return failure();
}

static const char *attributeKindName(int kind) {
  switch (kind) {
  case onnx::AttributeProto::FLOAT:
    return "FLOAT";
  case onnx::AttributeProto::INT:
    return "INT";
  case onnx::AttributeProto::STRING:
    return "STRING";
  case onnx::AttributeProto::TENSOR:
    return "TENSOR";
  case onnx::AttributeProto::GRAPH:
    return "GRAPH";
  case onnx::AttributeProto::FLOATS:
    return "FLOATS";
  case onnx::AttributeProto::INTS:
    return "INTS";
  case onnx::AttributeProto::STRINGS:
    return "STRINGS";
  case onnx::AttributeProto::TENSORS:
    return "TENSORS";
  case onnx::AttributeProto::GRAPHS:
    return "GRAPHS";
  case onnx::AttributeProto::SPARSE_TENSOR:
    return "SPARSE_TENSOR";
  default:
    return "UNDEFINED";
  }
}

const void *OnnxNodeContext::findAttr(llvm::StringRef name, int expectedKind) {
  for (const onnx::AttributeProto &attr : nodeProto.attribute()) {
    if (attr.name() != name)
      continue;
    if (attr.type() != expectedKind) {
      (void)emitError("attribute '" + name + "' is " + attributeKindName(attr.type()) +
                ", expected " + attributeKindName(expectedKind));
      return nullptr;
    }
    return &attr;
  }
  return nullptr;
}

bool OnnxNodeContext::hasAttr(llvm::StringRef name) const {
  return llvm::any_of(nodeProto.attribute(),
                      [&](const auto &attr) { return attr.name() == name; });
}

int64_t OnnxNodeContext::attrInt(llvm::StringRef name, int64_t defaultValue) {
  return optionalAttrInt(name).value_or(defaultValue);
}

std::optional<int64_t> OnnxNodeContext::optionalAttrInt(llvm::StringRef name) {
  if (auto *attr = static_cast<const onnx::AttributeProto *>(
          findAttr(name, onnx::AttributeProto::INT)))
    return attr->i();
  return std::nullopt;
}

int64_t OnnxNodeContext::requireAttrInt(llvm::StringRef name) {
  if (std::optional<int64_t> value = optionalAttrInt(name))
    return *value;
  if (!hasAttr(name))
    (void)emitError("attribute '" + name + "' is required");
  return 0;
}

float OnnxNodeContext::attrFloat(llvm::StringRef name, float defaultValue) {
  return optionalAttrFloat(name).value_or(defaultValue);
}

std::optional<float> OnnxNodeContext::optionalAttrFloat(llvm::StringRef name) {
  if (auto *attr = static_cast<const onnx::AttributeProto *>(
          findAttr(name, onnx::AttributeProto::FLOAT)))
    return attr->f();
  return std::nullopt;
}

std::string OnnxNodeContext::attrString(llvm::StringRef name,
                                        llvm::StringRef defaultValue) {
  if (auto *attr = static_cast<const onnx::AttributeProto *>(
          findAttr(name, onnx::AttributeProto::STRING)))
    return attr->s();
  return defaultValue.str();
}

SmallVector<int64_t> OnnxNodeContext::attrInts(llvm::StringRef name,
                                               ArrayRef<int64_t> defaultValue) {
  if (std::optional<SmallVector<int64_t>> values = optionalAttrInts(name))
    return *values;
  return SmallVector<int64_t>(defaultValue.begin(), defaultValue.end());
}

std::optional<SmallVector<int64_t>>
OnnxNodeContext::optionalAttrInts(llvm::StringRef name) {
  if (auto *attr = static_cast<const onnx::AttributeProto *>(
          findAttr(name, onnx::AttributeProto::INTS)))
    return SmallVector<int64_t>(attr->ints().begin(), attr->ints().end());
  return std::nullopt;
}

SmallVector<float> OnnxNodeContext::attrFloats(llvm::StringRef name,
                                               ArrayRef<float> defaultValue) {
  if (auto *attr = static_cast<const onnx::AttributeProto *>(
          findAttr(name, onnx::AttributeProto::FLOATS)))
    return SmallVector<float>(attr->floats().begin(), attr->floats().end());
  return SmallVector<float>(defaultValue.begin(), defaultValue.end());
}

std::optional<KnownTensor> OnnxNodeContext::attrTensor(llvm::StringRef name) {
  const auto *attr = static_cast<const onnx::AttributeProto *>(
      findAttr(name, onnx::AttributeProto::TENSOR));
  if (!attr)
    return std::nullopt;
  std::string what = "attribute '" + name.str() + "'";
  std::string message;
  SmallVector<int64_t> shape;
  if (!getTensorProtoShape(attr->t(), shape, what, message)) {
    (void)emitError(message);
    return std::nullopt;
  }
  auto dtype = static_cast<OnnxDType>(attr->t().data_type());
  size_t bytes = numElementsOf(shape) * onnxDTypeSize(dtype);
  if (!validateTensorProtoData(attr->t(), importer.baseDir, bytes, what,
                               message)) {
    (void)emitError(message);
    return std::nullopt;
  }
  std::vector<char> data(bytes);
  if (!readTensorProtoData(attr->t(), importer.baseDir, data, what, message)) {
    (void)emitError(message);
    return std::nullopt;
  }
  return decodeKnownTensor(dtype, shape, data);
}

const onnx::GraphProto *OnnxNodeContext::attrGraph(llvm::StringRef name) {
  if (auto *attr = static_cast<const onnx::AttributeProto *>(
          findAttr(name, onnx::AttributeProto::GRAPH)))
    return &attr->g();
  return nullptr;
}

LogicalResult OnnxNodeContext::importSubgraph(
    const onnx::GraphProto &graph, ValueRange inputs,
    SmallVectorImpl<Value> &outputs, SmallVectorImpl<OnnxDType> &outputDTypes,
    ArrayRef<std::shared_ptr<const KnownTensor>> knownInputs) {
  return importer.importSubgraph(*this, graph, inputs, outputs, outputDTypes,
                                 knownInputs);
}

//===----------------------------------------------------------------------===//
// OnnxModel
//===----------------------------------------------------------------------===//

struct OnnxModel::Impl {
  std::string path;
  std::string baseDir;
  onnx::ModelProto model;
  std::vector<OnnxTensorInfo> inputs;
  std::vector<OnnxTensorInfo> outputs;
  std::map<std::string, int64_t> opsets;
  bool knownToLibonnx = true; // every opset within what libonnx knows
  bool imported = false;
};

OnnxModel::OnnxModel() : impl(std::make_unique<Impl>()) {}
OnnxModel::~OnnxModel() = default;

const std::vector<OnnxTensorInfo> &OnnxModel::inputs() const {
  return impl->inputs;
}
const std::vector<OnnxTensorInfo> &OnnxModel::outputs() const {
  return impl->outputs;
}
llvm::StringRef OnnxModel::path() const { return impl->path; }

static OnnxTensorInfo tensorInfo(const onnx::ValueInfoProto &value) {
  OnnxTensorInfo info;
  info.name = value.name();
  OnnxInferredType type = inferredFromTypeProto(&value.type());
  info.dtype = value.type().has_tensor_type() ? onnxDTypeName(type.dtype)
                                              : std::string("non-tensor");
  if (type.shape) {
    std::vector<int64_t> shape;
    for (int64_t dim : *type.shape)
      shape.push_back(ShapedType::isDynamic(dim) ? -1 : dim);
    info.shape = std::move(shape);
  }
  return info;
}

std::unique_ptr<OnnxModel> OnnxModel::load(llvm::StringRef path,
                                           std::string &error) {
  std::unique_ptr<OnnxModel> result(new OnnxModel());
  Impl &impl = *result->impl;
  impl.path = path.str();
  impl.baseDir = llvm::sys::path::parent_path(path).str();
  if (impl.baseDir.empty())
    impl.baseDir = ".";

  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = impl.path + ": cannot open (" + buffer.getError().message() + ")";
    return nullptr;
  }
  if ((*buffer)->getBufferSize() > static_cast<size_t>(INT32_MAX)) {
    error = impl.path +
            ": the model file is over 2 GiB; store its weights as external "
            "data";
    return nullptr;
  }
  if (!impl.model.ParseFromArray((*buffer)->getBufferStart(),
                                 static_cast<int>((*buffer)->getBufferSize()))) {
    error = impl.path + ": not a valid ONNX model (protobuf parsing failed; "
                        "is the file truncated?)";
    return nullptr;
  }
  buffer->reset();
  if (!impl.model.has_graph()) {
    error = impl.path + ": not a valid ONNX model (no graph)";
    return nullptr;
  }

  for (const auto &opset : impl.model.opset_import()) {
    std::string domain = isDefaultDomain(opset.domain()) ? "" : opset.domain();
    impl.opsets[domain] = opset.version();
  }
  const auto &known =
      onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto &[domain, version] : impl.opsets) {
    auto it = known.find(domain.empty() ? onnx::ONNX_DOMAIN : domain);
    if (it == known.end() || version > it->second.second)
      impl.knownToLibonnx = false;
  }
  auto defaultOpset = impl.opsets.find("");
  if (defaultOpset != impl.opsets.end() &&
      (defaultOpset->second < kMinOnnxOpset ||
       defaultOpset->second > kMaxOnnxOpset)) {
    error = impl.path + ": opset " + std::to_string(defaultOpset->second) +
            " is not supported (quantc imports opsets " +
            std::to_string(kMinOnnxOpset) + " to " +
            std::to_string(kMaxOnnxOpset) + ")";
    return nullptr;
  }

  // External data must stay inside the model's folder; checked before the
  // ONNX checker, which would read whatever file a location names.
  for (const onnx::TensorProto &tensor : impl.model.graph().initializer()) {
    std::string message;
    if (!checkExternalDataLocation(tensor, "initializer '" + tensor.name() + "'",
                                   message)) {
      error = impl.path + ": " + message;
      return nullptr;
    }
  }

  // The checker knows the schemas of the opsets libonnx ships; models of
  // newer opsets are checked by the importer itself as it goes (undefined
  // inputs, reassigned outputs, types against the lowerings).
  if (impl.knownToLibonnx) {
    try {
      onnx::checker::CheckerContext checkerContext;
      checkerContext.set_model_dir(impl.baseDir);
      onnx::checker::check_model(impl.model, checkerContext);
    } catch (const std::exception &e) {
      error = impl.path + ": invalid ONNX model: " +
              llvm::StringRef(e.what()).trim().str();
      std::replace(error.begin(), error.end(), '\n', ' ');
      return nullptr;
    }
  }

  const onnx::GraphProto &graph = impl.model.graph();
  llvm::StringSet<> initializers;
  for (const auto &tensor : graph.initializer())
    initializers.insert(tensor.name());
  for (const auto &input : graph.input())
    if (!initializers.count(input.name()))
      impl.inputs.push_back(tensorInfo(input));
  for (const auto &output : graph.output())
    impl.outputs.push_back(tensorInfo(output));
  return result;
}

/// Writes the shape the options give (or the static one the model has) into
/// each graph input, so that shape inference starts from static shapes.
static bool fixInputShapes(onnx::GraphProto &graph,
                           const std::vector<OnnxTensorInfo> &inputs,
                           const OnnxImportOptions &options,
                           const std::string &path, std::string &error) {
  llvm::StringSet<> inputNames;
  for (const OnnxTensorInfo &input : inputs)
    inputNames.insert(input.name);
  for (const auto &entry : options.inputShapes) {
    if (!inputNames.count(entry.getKey())) {
      std::vector<std::string> names;
      for (const OnnxTensorInfo &input : inputs)
        names.push_back(input.name);
      error = path + ": --input-shape names '" + entry.getKey().str() +
              "', which is not a graph input (inputs: " +
              (names.empty() ? "none" : llvm::join(names, ", ")) + ")";
      return false;
    }
  }

  for (onnx::ValueInfoProto &input : *graph.mutable_input()) {
    if (!inputNames.count(input.name()) || !input.type().has_tensor_type())
      continue;
    auto *tensorType = input.mutable_type()->mutable_tensor_type();
    auto given = options.inputShapes.find(input.name());
    if (given != options.inputShapes.end()) {
      ArrayRef<int64_t> dims = given->getValue();
      if (tensorType->has_shape() &&
          tensorType->shape().dim_size() != static_cast<int>(dims.size())) {
        error = path + ": --input-shape gives input '" + input.name() +
                "' rank " + std::to_string(dims.size()) + " but the model " +
                "declares rank " + std::to_string(tensorType->shape().dim_size());
        return false;
      }
      if (tensorType->has_shape()) {
        for (int d = 0; d < tensorType->shape().dim_size(); ++d) {
          const auto &dim = tensorType->shape().dim(d);
          if (dim.has_dim_value() && dim.dim_value() != dims[d]) {
            error = path + ": --input-shape gives input '" + input.name() +
                    "' dimension " + std::to_string(d) + " = " +
                    std::to_string(dims[d]) + " but the model fixes it to " +
                    std::to_string(dim.dim_value());
            return false;
          }
        }
      }
      auto *shape = tensorType->mutable_shape();
      shape->clear_dim();
      for (int64_t dim : dims)
        shape->add_dim()->set_dim_value(dim);
      continue;
    }
    if (!tensorType->has_shape()) {
      error = path + ": graph input '" + input.name() +
              "' has no shape; give it with --input-shape " + input.name() +
              "=DIMS";
      return false;
    }
    for (int d = 0; d < tensorType->shape().dim_size(); ++d) {
      const auto &dim = tensorType->shape().dim(d);
      if (!dim.has_dim_value() || dim.dim_value() < 0) {
        std::string symbol =
            dim.has_dim_param() ? " ('" + dim.dim_param() + "')" : "";
        error = path + ": graph input '" + input.name() + "' dimension " +
                std::to_string(d) + symbol +
                " is dynamic; fix it with --input-shape " + input.name() +
                "=DIMS";
        return false;
      }
      if (dim.dim_value() > kMaxOnnxDim) {
        error = path + ": graph input '" + input.name() + "' dimension " +
                std::to_string(d) + " is " + std::to_string(dim.dim_value()) +
                " (dims must lie in [0, 2^31))";
        return false;
      }
    }
  }
  return true;
}

OwningOpRef<ModuleOp> OnnxModel::import(MLIRContext &context,
                                        const OnnxImportOptions &options,
                                        std::string &error) {
  if (impl->imported) {
    error = impl->path + ": internal error: a model is imported once";
    return nullptr;
  }
  impl->imported = true;
  onnx::GraphProto &graph = *impl->model.mutable_graph();
  if (!fixInputShapes(graph, impl->inputs, options, impl->path, error))
    return nullptr;

  // Shape inference fills value_info for every intermediate value; the
  // importer checks each lowering's result type against it. Strict mode
  // turns an inconsistent model (wrong rank, mismatched types) into an
  // error naming the node instead of a guess. For opsets newer than libonnx
  // knows it would apply older schemas (ReduceMean-13 to a ReduceMean-18
  // node, ...) and infer wrong shapes, so it is skipped: the lowerings
  // compute every shape themselves, and the model's declared output types
  // are still checked.
  if (impl->knownToLibonnx) {
    try {
      onnx::ShapeInferenceOptions inferenceOptions(/*check_type_val=*/true,
                                                   /*strict_mode_val=*/1,
                                                   /*data_prop_val=*/true);
      onnx::shape_inference::InferShapes(
          impl->model, onnx::OpSchemaRegistry::Instance(), inferenceOptions);
    } catch (const std::exception &e) {
      error = impl->path + ": shape inference failed: " +
              llvm::StringRef(e.what()).trim().str();
      std::replace(error.begin(), error.end(), '\n', ' ');
      return nullptr;
    }
  }

  context.loadDialect<arith::ArithDialect, func::FuncDialect,
                      linalg::LinalgDialect, math::MathDialect,
                      scf::SCFDialect, tensor::TensorDialect>();
  OnnxGraphImporter importer(context, impl->path, impl->baseDir,
                             impl->opsets);
  OwningOpRef<ModuleOp> module = importer.importMainGraph(graph, options);
  if (!module) {
    error = importer.error.empty() ? impl->path + ": import failed"
                                   : importer.error;
    return nullptr;
  }
  return module;
}

OwningOpRef<ModuleOp> importOnnxModel(llvm::StringRef path,
                                      MLIRContext &context,
                                      const OnnxImportOptions &options,
                                      std::string &error) {
  std::unique_ptr<OnnxModel> model = OnnxModel::load(path, error);
  if (!model)
    return nullptr;
  return model->import(context, options, error);
}

void registerOnnxImportDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, func::FuncDialect, linalg::LinalgDialect,
                  math::MathDialect, scf::SCFDialect, tensor::TensorDialect>();
}

bool parseInputShapeSpec(llvm::StringRef spec, OnnxImportOptions &options,
                         std::string &error) {
  size_t equals = spec.rfind('=');
  if (equals == llvm::StringRef::npos || equals == 0) {
    error = "--input-shape '" + spec.str() +
            "' is not NAME=DIMS (e.g. x=1x3x224x224)";
    return false;
  }
  llvm::StringRef name = spec.take_front(equals);
  llvm::StringRef dimsText = spec.drop_front(equals + 1).trim();
  SmallVector<int64_t> dims;
  if (!dimsText.empty()) {
    SmallVector<llvm::StringRef> parts;
    dimsText.split(parts, 'x');
    for (llvm::StringRef part : parts) {
      int64_t dim = 0;
      if (part.trim().getAsInteger(10, dim) || dim < 0 || dim > kMaxOnnxDim) {
        error = "--input-shape '" + spec.str() + "': '" + part.str() +
                "' is not a dimension (a whole number below 2^31)";
        return false;
      }
      dims.push_back(dim);
    }
  }
  if (options.inputShapes.count(name)) {
    error = "--input-shape gives '" + name.str() + "' twice";
    return false;
  }
  options.inputShapes[name] = std::move(dims);
  return true;
}

} // namespace quantc
