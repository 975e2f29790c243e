//===- OnnxOpRegistry.h - How ONNX ops lower to MLIR -------------*- C++ -*-===//
//
// The interface between the ONNX importer's core (lib/Import/OnnxImporter.cpp)
// and the op lowerings, which live one file per op family:
//
//   lib/Import/OnnxElementwise.cpp   void registerOnnxElementwiseOps(OnnxOpRegistry &)
//   lib/Import/OnnxLinalg.cpp        void registerOnnxLinalgOps(OnnxOpRegistry &)
//   lib/Import/OnnxControlFlow.cpp   void registerOnnxControlFlowOps(OnnxOpRegistry &)
//   lib/Import/OnnxReduce.cpp        void registerOnnxReduceOps(OnnxOpRegistry &)
//   lib/Import/OnnxNN.cpp            void registerOnnxNNOps(OnnxOpRegistry &)
//   lib/Import/OnnxIndexing.cpp      void registerOnnxIndexingOps(OnnxOpRegistry &)
//   lib/Import/OnnxLoss.cpp          void registerOnnxLossOps(OnnxOpRegistry &)
//   lib/Import/OnnxResize.cpp        void registerOnnxResizeOps(OnnxOpRegistry &)
//   lib/Import/OnnxQuantize.cpp      void registerOnnxQuantizeOps(OnnxOpRegistry &)
//   lib/Import/OnnxRecurrent.cpp     void registerOnnxRecurrentOps(OnnxOpRegistry &)
//   lib/Import/OnnxSignal.cpp        void registerOnnxSignalOps(OnnxOpRegistry &)
//   lib/Import/OnnxTraining.cpp      void registerOnnxTrainingOps(OnnxOpRegistry &)
//   lib/Import/OnnxText.cpp          void registerOnnxTextOps(OnnxOpRegistry &)
//
// Adding a family: write lib/Import/Onnx<Family>.cpp defining
// `void registerOnnx<Family>Ops(quantc::OnnxOpRegistry &)`, add one line
// `QUANTC_ONNX_OP_FAMILY(<Family>)` to lib/Import/OnnxOpFamilies.def and the
// file to lib/Import/CMakeLists.txt. Nothing else in the core changes.
//
// A lowering gets an OnnxNodeContext: the node, its opset, its inputs as
// static-shaped tensor Values (and as host constants where they are known at
// import time), attribute getters, the result types ONNX shape inference
// found, a builder, and `emitError`. It builds upstream linalg / tensor /
// arith / math ops and calls `setOutput` once per output. An op may also have
// a folder that evaluates it on host constants: the importer calls it instead
// of the lowering when every input is a known constant, so that shape
// computations (Shape -> Gather -> Concat -> Reshape) become static shapes.
//
// Every value in the imported function has a static shape. Unsigned ONNX
// integers are signless integers in MLIR (arith wants signless); the context
// tracks each value's ONNX element type, so a lowering asks `isUnsigned(i)`.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_IMPORT_ONNXOPREGISTRY_H
#define QUANTC_IMPORT_ONNXOPREGISTRY_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onnx {
class NodeProto;
class GraphProto;
class TensorProto;
} // namespace onnx

namespace quantc {

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

/// ONNX's TensorProto.DataType codes. The float8 / 4-bit codes are newer than
/// the onnx.proto of the libonnx quantc builds on, so they are named here by
/// number.
enum class OnnxDType : int32_t {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
  Float8E4M3FN = 17,
  Float8E4M3FNUZ = 18,
  Float8E5M2 = 19,
  Float8E5M2FNUZ = 20,
  UInt4 = 21,
  Int4 = 22,
  Float4E2M1 = 23,
};

/// "float32", "uint8", ... (numpy's names); "type code N" for unknown codes.
std::string onnxDTypeName(OnnxDType dtype);
/// The MLIR element type that stores `dtype` (signless for every integer),
/// or null when quantc does not support it.
mlir::Type onnxDTypeToMlir(OnnxDType dtype, mlir::MLIRContext *context);
/// Bytes per element in ONNX raw_data and in MLIR storage (bool: 1); 0 for
/// unsupported and sub-byte types.
int onnxDTypeSize(OnnxDType dtype);
bool isOnnxFloat(OnnxDType dtype);   // float64/32/16, bfloat16, float8
bool isOnnxInteger(OnnxDType dtype); // signed and unsigned, not bool
bool isOnnxUnsigned(OnnxDType dtype); // uint8/16/32/64 (bool is not)
/// The signed ONNX type for a signless MLIR element type (i1 -> bool).
OnnxDType onnxDTypeFromMlir(mlir::Type type);

//===----------------------------------------------------------------------===//
// Host constants
//===----------------------------------------------------------------------===//

/// A tensor whose value the importer knows (an initializer, a Constant node,
/// or a folded shape computation). Integers and bools are held as int64
/// (uint64 as its bit pattern), floats as double rounded to the element type.
struct KnownTensor {
  OnnxDType dtype = OnnxDType::Undefined;
  llvm::SmallVector<int64_t> shape;
  std::vector<int64_t> ints;  // integer and bool dtypes
  std::vector<double> floats; // floating-point dtypes

  bool isFloat() const { return isOnnxFloat(dtype); }
  int64_t numElements() const;
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  double getDouble(int64_t index) const;
  int64_t getInt(int64_t index) const;

  /// A tensor of `dtype` whose element i is `value(i)` converted like ONNX
  /// Cast (integers wrap, floats round to the element type, to bool is != 0).
  static KnownTensor fromInts(OnnxDType dtype, llvm::ArrayRef<int64_t> shape,
                              llvm::ArrayRef<int64_t> values);
  static KnownTensor fromDoubles(OnnxDType dtype, llvm::ArrayRef<int64_t> shape,
                                 llvm::ArrayRef<double> values);
  /// This tensor converted to `dtype` (ONNX Cast semantics).
  KnownTensor castTo(OnnxDType dtype) const;
  /// Element `index` of a tensor of this dtype, from another value, rounded
  /// or wrapped into the element type.
  static int64_t wrapInt(OnnxDType dtype, int64_t value);
  static double roundFloat(OnnxDType dtype, double value);
};

//===----------------------------------------------------------------------===//
// The node context
//===----------------------------------------------------------------------===//

class OnnxGraphImporter; // lib/Import/OnnxImporter.cpp

/// What ONNX shape inference says about a value: its element type (Undefined
/// if unknown) and its shape (nullopt if even the rank is unknown; dims it
/// could not infer are ShapedType::kDynamic).
struct OnnxInferredType {
  OnnxDType dtype = OnnxDType::Undefined;
  std::optional<llvm::SmallVector<int64_t>> shape;
};

/// Everything a lowering needs about one node. Created by the importer per
/// node; lowerings never store it.
///
/// Attribute getters with a default return it when the attribute is absent;
/// the `require*` getters report a missing attribute. An attribute of the
/// wrong kind (INTS where INT is expected) is reported through emitError and
/// the default is returned, so a lowering may read all attributes first and
/// check `failed()` once before building IR.
class OnnxNodeContext {
public:
  OnnxNodeContext(OnnxGraphImporter &importer, const onnx::NodeProto &node,
                  int64_t opset);

  // --- The node ----------------------------------------------------------
  const onnx::NodeProto &node() const { return nodeProto; }
  llvm::StringRef opType() const;
  llvm::StringRef domain() const;
  /// The node's name, or its first output's name when it has none.
  llvm::StringRef name() const;
  /// The opset version the model imports for the node's domain.
  int64_t opset() const { return opsetVersion; }

  mlir::OpBuilder &builder();
  mlir::Location loc() const;
  mlir::MLIRContext *getContext();

  // --- Inputs ------------------------------------------------------------
  /// Number of inputs listed, optional ones ("") included.
  unsigned numInputs() const;
  /// Whether input `index` is listed and not the empty (omitted) name.
  bool hasInput(unsigned index) const;
  llvm::StringRef inputName(unsigned index) const;
  /// Input `index` as a static-shaped ranked tensor. A known constant is
  /// materialized (arith.constant) on first use.
  mlir::Value input(unsigned index);
  mlir::RankedTensorType inputType(unsigned index);
  llvm::ArrayRef<int64_t> inputShape(unsigned index);
  int64_t inputRank(unsigned index) { return inputShape(index).size(); }
  OnnxDType inputDType(unsigned index);
  bool isUnsigned(unsigned index) { return isOnnxUnsigned(inputDType(index)); }
  /// The value of input `index` if the importer knows it (initializer,
  /// Constant, folded) and it has at most `maxElements` elements; else null.
  /// A lowering may compute on it instead of emitting IR. A graph input the
  /// caller specialized (OnnxImportOptions::specializedInputs) counts only
  /// inside a folder and in the constant* queries below, so that the
  /// function still computes from its arguments.
  const KnownTensor *knownInput(unsigned index,
                                int64_t maxElements = kDefaultMaxKnown);
  /// The integer input `index` as int64s if it is a known (or specialized)
  /// constant; else nullopt (no error: the caller decides whether that is
  /// one). For inputs an op needs at import time (shapes, axes, bounds).
  std::optional<llvm::SmallVector<int64_t>> constantInts(unsigned index);
  /// Like constantInts, but reports "input N ('name') must be a constant
  /// known at import time (`what`)" when it is not.
  mlir::FailureOr<llvm::SmallVector<int64_t>>
  requireConstantInts(unsigned index, llvm::StringRef what);
  /// Every element of a known (or specialized) input of any dtype as
  /// double (Resize's scales and roi); nullopt if not known.
  std::optional<llvm::SmallVector<double>> constantDoubles(unsigned index);
  /// A scalar or one-element known (or specialized) input as double;
  /// nullopt if not known.
  std::optional<double> constantScalar(unsigned index);

  // --- Outputs -----------------------------------------------------------
  unsigned numOutputs() const;
  bool hasOutput(unsigned index) const;
  llvm::StringRef outputName(unsigned index) const;
  /// What ONNX shape inference found for output `index`.
  OnnxInferredType inferredOutput(unsigned index) const;
  /// Binds output `index` to `value` (a static-shaped ranked tensor). Its
  /// ONNX element type is `dtype` if given, else the inferred one, else the
  /// signed type of the MLIR element type. The importer checks the value
  /// against shape inference and rejects a mismatch as an internal error.
  void setOutput(unsigned index, mlir::Value value,
                 OnnxDType dtype = OnnxDType::Undefined);
  /// Binds output `index` to a value known at import time (Shape of a
  /// static tensor, say): later nodes see it through knownInput, and it is
  /// materialized only where a lowering asks for it as a Value.
  void setKnownOutput(unsigned index, KnownTensor tensor);
  /// Binds output `index` to the TENSOR attribute `attrName` (Constant's
  /// `value`), copied once into a dense resource like an initializer.
  mlir::LogicalResult setOutputFromTensorAttr(unsigned index,
                                              llvm::StringRef attrName);

  // --- Attributes --------------------------------------------------------
  bool hasAttr(llvm::StringRef name) const;
  int64_t attrInt(llvm::StringRef name, int64_t defaultValue);
  float attrFloat(llvm::StringRef name, float defaultValue);
  std::string attrString(llvm::StringRef name, llvm::StringRef defaultValue);
  llvm::SmallVector<int64_t> attrInts(llvm::StringRef name,
                                      llvm::ArrayRef<int64_t> defaultValue = {});
  llvm::SmallVector<float> attrFloats(llvm::StringRef name,
                                      llvm::ArrayRef<float> defaultValue = {});
  std::optional<int64_t> optionalAttrInt(llvm::StringRef name);
  std::optional<float> optionalAttrFloat(llvm::StringRef name);
  std::optional<llvm::SmallVector<int64_t>> optionalAttrInts(llvm::StringRef name);
  int64_t requireAttrInt(llvm::StringRef name);
  /// A TENSOR attribute (Constant's `value`) decoded as a host constant.
  std::optional<KnownTensor> attrTensor(llvm::StringRef name);
  /// A GRAPH attribute (If's then_branch, Loop's body), or null.
  const onnx::GraphProto *attrGraph(llvm::StringRef name);

  // --- Errors ------------------------------------------------------------
  /// Records `MODEL.onnx: node 'NAME' (OpType, opset N): message` (the first
  /// error wins) and returns failure(), so `return ctx.emitError(...)`.
  mlir::LogicalResult emitError(const llvm::Twine &message);
  bool failed() const { return hasFailed; }

  // --- Subgraphs (If / Loop / Scan) --------------------------------------
  /// Imports `graph`'s nodes at the builder's insertion point, with the
  /// enclosing scopes' values visible and graph input i bound to `inputs[i]`
  /// (its ONNX type taken from the graph input, or `inputDTypes[i]` if
  /// given). Returns the graph's output values in `outputs` and their ONNX
  /// types in `outputDTypes`. A control-flow lowering creates the region
  /// (scf.if, scf.for, ...), sets the insertion point inside it, calls this,
  /// and yields `outputs`. Known-constant outer values stay known inside.
  /// A non-null `knownInputs[i]` binds graph input i to that host value
  /// instead (inputs[i] is then ignored and may be null): an unrolled Loop
  /// passes its iteration number so, and the body's shape logic folds.
  mlir::LogicalResult importSubgraph(
      const onnx::GraphProto &graph, mlir::ValueRange inputs,
      llvm::SmallVectorImpl<mlir::Value> &outputs,
      llvm::SmallVectorImpl<OnnxDType> &outputDTypes,
      llvm::ArrayRef<std::shared_ptr<const KnownTensor>> knownInputs = {});

  /// Known constants larger than this are not decoded to the host by default.
  static constexpr int64_t kDefaultMaxKnown = 1 << 16;

  // Used by the importer.
  struct Output {
    mlir::Value value;
    OnnxDType dtype = OnnxDType::Undefined;
    mlir::ElementsAttr constant;             // setOutputFromTensorAttr
    std::shared_ptr<const KnownTensor> known; // setKnownOutput
    bool isSet() const { return value || constant || known; }
  };
  llvm::ArrayRef<Output> outputs() const { return boundOutputs; }
  /// Unbinds every output (for a folder that runs a lowering which only
  /// binds known outputs, then returns them as fold results).
  void resetOutputs() { boundOutputs.assign(boundOutputs.size(), Output()); }
  const std::string &errorMessage() const { return firstError; }

private:
  const void *findAttr(llvm::StringRef name, int expectedKind);
  const KnownTensor *constantInput(unsigned index);

public:
  /// Set by the importer while a folder runs (specialized inputs count).
  bool folding = false;

private:

  OnnxGraphImporter &importer;
  const onnx::NodeProto &nodeProto;
  int64_t opsetVersion;
  llvm::SmallVector<Output> boundOutputs;
  bool hasFailed = false;
  std::string firstError;
};

//===----------------------------------------------------------------------===//
// The registry
//===----------------------------------------------------------------------===//

/// Builds the IR for one node (setOutput for each output) or fails with
/// ctx.emitError.
using OnnxLowerFn = std::function<mlir::LogicalResult(OnnxNodeContext &)>;
/// Evaluates one node on host constants; called only when every present input
/// is known (ctx.knownInput(i) is non-null). Returns one KnownTensor per
/// output, or failure() without an error to fall back to the lowering.
using OnnxFoldFn = std::function<mlir::LogicalResult(
    OnnxNodeContext &, llvm::SmallVectorImpl<KnownTensor> &)>;

struct OnnxOpLowering {
  OnnxLowerFn lower;
  OnnxFoldFn fold; // optional
  /// The opset range the lowering implements, inclusive. A node outside it
  /// is rejected as unsupported (name, op type, opset) instead of being
  /// lowered with semantics that changed.
  int64_t minOpset = 1;
  int64_t maxOpset = 1000;
};

class OnnxOpRegistry {
public:
  /// Registers `opType` of the default ONNX domain ("" / "ai.onnx").
  void add(llvm::StringRef opType, OnnxLowerFn lower, OnnxFoldFn fold = nullptr,
           int64_t minOpset = 1, int64_t maxOpset = 1000);
  /// Registers an op of another domain ("com.microsoft", "ai.onnx.ml", ...).
  void addInDomain(llvm::StringRef domain, llvm::StringRef opType,
                   OnnxOpLowering lowering);

  /// The lowering for `opType` in `domain` (any opset), or null.
  const OnnxOpLowering *lookup(llvm::StringRef domain,
                               llvm::StringRef opType) const;
  /// Every registered op of the default domain, sorted (for --help/docs).
  std::vector<std::string> opTypes() const;

  /// The registry with every family in lib/Import/OnnxOpFamilies.def.
  static const OnnxOpRegistry &get();

private:
  llvm::StringMap<OnnxOpLowering> lowerings; // key: "domain::OpType"
};

// One registration function per op family (lib/Import/OnnxOpFamilies.def).
#define QUANTC_ONNX_OP_FAMILY(Family)                                          \
  void registerOnnx##Family##Ops(OnnxOpRegistry &registry);
#include "quantc/Import/OnnxOpFamilies.def"
#undef QUANTC_ONNX_OP_FAMILY

} // namespace quantc

#endif // QUANTC_IMPORT_ONNXOPREGISTRY_H
