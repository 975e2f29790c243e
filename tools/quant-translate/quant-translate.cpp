//===- quant-translate.cpp - ONNX models to quantc's MLIR -----------------===//
//
// quant-translate --import-onnx model.onnx [--input-shape x=1x3x224x224] -o out.mlir
//
// Imports an ONNX model into the float MLIR the rest of quantc works on (see
// quantc/Import/OnnxImporter.h). Every error is one line and exit code 1;
// the output file is written atomically, so a failed run leaves none.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxImporter.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;
namespace cl = llvm::cl;

static const char *const kOverview = R"(translate ONNX models into quantc's MLIR

  quant-translate --import-onnx model.onnx [--input-shape x=1x3x224x224 ...] -o model.mlir

The model is checked with the ONNX checker, shapes are inferred, external
data files are read from beside the model, and the graph becomes
`func.func @main` over linalg / tensor / arith / math on static shapes:
one argument per graph input that is not an initializer and one result per
graph output, each named by a {qc.name = "..."} attribute (the names
quant-run binds inputs and names outputs by). Weights are dense resources.

Dynamic input dimensions must be fixed with --input-shape NAME=DIMS (DIMS
like 1x3x224x224; a scalar is NAME=). Shape computations on constants
(Shape -> Gather -> Concat -> Reshape, ConstantOfShape, Range) are folded.

An op quantc cannot lower yet is an error naming the node, op type and
opset: `model.onnx: node 'n' (Foo, opset 17): unsupported operator ...`.
Errors are one line, `quant-translate: error: ...`, exit code 1, and no
output file is written. --list-ops prints the supported ONNX ops.
)";

static cl::OptionCategory translateCategory("quant-translate options");

static cl::opt<std::string>
    inputFilename(cl::Positional, cl::desc("<model.onnx>"),
                  cl::cat(translateCategory));

static cl::opt<bool>
    importOnnx("import-onnx",
               cl::desc("Import the positional ONNX model (the only "
                        "translation there is so far)"),
               cl::cat(translateCategory));

static cl::opt<std::string> outputFilename("o", cl::init("-"),
                                           cl::value_desc("file"),
                                           cl::desc("Output file ('-' for "
                                                    "stdout, the default)"),
                                           cl::cat(translateCategory));

static cl::list<std::string> inputShapes(
    "input-shape", cl::value_desc("name=DIMS"),
    cl::desc("Fix the shape of a graph input, e.g. x=1x3x224x224 "
             "(repeatable)"),
    cl::cat(translateCategory));

static cl::opt<std::string>
    functionName("function-name", cl::init("main"), cl::value_desc("name"),
                 cl::desc("Symbol name of the imported function"),
                 cl::cat(translateCategory));

static cl::opt<bool> listOps("list-ops",
                             cl::desc("Print the ONNX ops quantc lowers and "
                                      "exit"),
                             cl::cat(translateCategory));

static int reportError(const llvm::Twine &message) {
  llvm::errs() << "quant-translate: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(translateCategory);
  cl::ParseCommandLineOptions(argc, argv, kOverview);

  if (listOps) {
    for (const std::string &op : quantc::OnnxOpRegistry::get().opTypes())
      llvm::outs() << op << "\n";
    return 0;
  }
  if (!importOnnx)
    return reportError("choose a translation (--import-onnx)");
  if (inputFilename.empty())
    return reportError("no input model (quant-translate --import-onnx "
                       "MODEL.onnx -o OUT.mlir)");

  quantc::OnnxImportOptions options;
  options.functionName = functionName;
  std::string error;
  for (const std::string &spec : inputShapes)
    if (!quantc::parseInputShapeSpec(spec, options, error))
      return reportError(error);

  DialectRegistry registry;
  quantc::registerOnnxImportDialects(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module =
      quantc::importOnnxModel(inputFilename, context, options, error);
  if (!module)
    return reportError(error);

  // Written through a temporary file that replaces the output only once
  // complete.
  if (llvm::Error writeError = llvm::writeToOutput(
          outputFilename, [&](llvm::raw_ostream &os) -> llvm::Error {
            module->print(os);
            os << "\n";
            return llvm::Error::success();
          }))
    return reportError(outputFilename + ": cannot write (" +
                       llvm::toString(std::move(writeError)) + ")");
  return 0;
}
