//===- OnnxImporter.h - ONNX model -> MLIR (func + linalg) -------*- C++ -*-===//
//
// quantc's ONNX front end. A model is loaded with Debian's libonnx (protobuf
// parsing, the ONNX checker, shape inference), its external data files are
// read relative to the model, and its graph becomes one `func.func @main` in
// a builtin module:
//
//   func.func @main(%x: tensor<1x3x8x8xf32> {qc.name = "x"})
//       -> (tensor<1x10xf32> {qc.name = "logits"})
//
// with one argument per graph input that is not an initializer and one
// result per graph output, in graph order. Weights are arith.constant of
// dense resource blobs (copied once from the model); every tensor has a
// static shape (`OnnxImportOptions::inputShapes` fixes dynamic input dims).
// Unsigned integers are signless in the IR; their arguments and results
// carry `qc.dtype = "uint8"` (numpy's name) so that drivers read and write
// them with the right sign.
//
// Errors are one line: `MODEL.onnx: problem`, or for a node
// `MODEL.onnx: node 'NAME' (OpType, opset N): problem`.
//
// The op lowerings are in lib/Import/Onnx<Family>.cpp; see OnnxOpRegistry.h.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_IMPORT_ONNXIMPORTER_H
#define QUANTC_IMPORT_ONNXIMPORTER_H

#include "quantc/Import/OnnxOpRegistry.h"
#include "quantc/Runtime/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace quantc {

struct OnnxImportOptions {
  /// Shapes for graph inputs by name (`--input-shape x=1x3x224x224`). A shape
  /// must have the input's rank and agree with its static dims; it fixes the
  /// dynamic ones.
  llvm::StringMap<llvm::SmallVector<int64_t>> inputShapes;
  /// Values of graph inputs fixed at import time. quant-run passes the small
  /// inputs it was given, so that a lowering that needs a constant (the
  /// `shape` input of Reshape, Range's bounds, as in the ONNX node tests)
  /// finds one. Only such lowerings use them; everything else still
  /// computes from the argument, which stays in the signature. The imported
  /// function is then only valid for these values.
  llvm::StringMap<KnownTensor> specializedInputs;
  /// Values of graph inputs the user fixes (quant-compile --input-value):
  /// constants at import, so everything computed from them folds (an If on
  /// them inlines the taken branch). The argument stays in the signature,
  /// unused where folded; the function is only valid for these values.
  llvm::StringMap<KnownTensor> fixedInputs;
  /// The symbol name of the imported function.
  std::string functionName = "main";
};

/// A graph input or output as the caller of the imported function sees it.
struct OnnxTensorInfo {
  std::string name;
  std::string dtype; // numpy name: "float32", "uint8", ...
  /// Dims; -1 where the model leaves them dynamic. nullopt: rank unknown.
  std::optional<std::vector<int64_t>> shape;
};

/// A loaded and checked ONNX model.
class OnnxModel {
public:
  ~OnnxModel();

  /// Reads `path` (protobuf), runs the ONNX checker and records where
  /// external data lives. On failure returns null and sets `error` (one line
  /// naming the file).
  static std::unique_ptr<OnnxModel> load(llvm::StringRef path,
                                         std::string &error);

  /// The graph inputs that are not initializers, in graph order: the
  /// arguments of the imported function.
  const std::vector<OnnxTensorInfo> &inputs() const;
  /// The graph outputs, in order: the results of the imported function.
  const std::vector<OnnxTensorInfo> &outputs() const;
  /// The path the model was loaded from.
  llvm::StringRef path() const;

  /// Runs shape inference with the given input shapes and imports the graph
  /// into a new module. May be called once. On failure returns null and sets
  /// `error`.
  mlir::OwningOpRef<mlir::ModuleOp> import(mlir::MLIRContext &context,
                                           const OnnxImportOptions &options,
                                           std::string &error);

private:
  OnnxModel();
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Loads and imports in one step.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxModel(llvm::StringRef path, mlir::MLIRContext &context,
                const OnnxImportOptions &options, std::string &error);

/// The dialects imported IR uses (func, arith, math, linalg, tensor, scf).
void registerOnnxImportDialects(mlir::DialectRegistry &registry);

/// Parses `NAME=D0xD1x...` (a scalar: `NAME=` with no dims) into `options`.
/// Returns false and sets `error` on a malformed spec.
bool parseInputShapeSpec(llvm::StringRef spec, OnnxImportOptions &options,
                         std::string &error);

/// A host tensor (from a .npy or .pb file) as a KnownTensor, for
/// OnnxImportOptions::specializedInputs; nullopt for unsupported dtypes.
std::optional<KnownTensor> knownTensorFromHost(const HostTensor &tensor);

/// Reads a serialized ONNX TensorProto (the test data's input_0.pb) as a host
/// tensor. `name` receives the tensor's name (may be empty). External data is
/// read relative to the file's directory.
std::optional<HostTensor> readOnnxTensorFile(const std::string &path,
                                             std::string &name,
                                             std::string &error);

} // namespace quantc

#endif // QUANTC_IMPORT_ONNXIMPORTER_H
