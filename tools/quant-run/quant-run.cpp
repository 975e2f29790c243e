//===- quant-run.cpp - Run an ONNX model or an MLIR function on inputs ----===//
//
// quant-run lowers a function of float tensor IR to LLVM with the same
// pipeline every quantc driver uses (quantc/Conversion/Pipelines.h), JITs it,
// feeds it .npy inputs and writes its results as .npy files. Given an ONNX
// model it imports it first (quantc/Import/OnnxImporter.h) and also reads
// ONNX TensorProto (.pb) inputs, as in the ONNX test data. Lit tests use it
// to check numerics, the ONNX conformance runner runs every node test
// through it, and people use it to try a stage of the compiler on real data
// without writing a harness.
//
//===----------------------------------------------------------------------===//

#include "CompiledLibrary.h"
#include "CudaDevice.h"
#include "quantc/Conversion/Pipelines.h"
#include "quantc/Import/OnnxImporter.h"
#include "quantc/Import/OnnxOpRegistry.h"
#include "quantc/Runtime/Jit.h"
#include "quantc/Runtime/Npy.h"
#include "quantc/Runtime/ThreadPool.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

using namespace mlir;
using quantc::DType;
using quantc::HostTensor;

namespace cl = llvm::cl;

//===----------------------------------------------------------------------===//
// Command line
//===----------------------------------------------------------------------===//

static const char *const kOverview = R"(run an ONNX model or one function of an MLIR file on .npy inputs

  quant-run model.mlir --entry NAME --input x=x.npy --input w=w.npy \
            --output-dir out/ [--benchmark N] [--print-ir-after-lowering]
  quant-run model.onnx [--input NAME=FILE.npy|FILE.pb ...] [--input-dir D] \
            [--input-shape NAME=DIMS ...] --output-dir out/
  quant-run model.so [--input NAME=FILE.npy|FILE.pb ...] [--input-dir D] \
            --output-dir out/ [--benchmark N]

The function is lowered to LLVM with quantc's CPU pipeline (the one
`quant-opt --quantc-lower-to-llvm` runs), compiled in memory and called once.

Inputs: one .npy file per function argument. An argument is named by its
`qc.name` attribute (func.func @f(%a: tensor<4xf32> {qc.name = "x"})), or
else by its position: arg0, arg1, ... `--input NAME=FILE.npy` binds by name;
`--input FILE.npy` binds, in order, to the arguments not named elsewhere.
Each file must hold exactly the argument's static shape and element type:
  f32: float32   f16: float16   f64: float64   i1: bool
  i8: int8   i16: int16   i32: int32   i64: int64   ui8: uint8
A signless i8 argument also takes uint8 (bytes). qc ops are expanded first:
a `!qc.packed` argument or result is its byte tensor (tensor<Nxi8>), read
from int8 or uint8 and written as uint8, the layout quant-tensor uses.

Outputs: result i is written to DIR/NAME.npy, where NAME is the result's
`qc.name` attribute (func.func @f(...) -> (tensor<4xf32> {qc.name = "y"}))
or else its index: 0.npy, 1.npy, ... Characters other than letters, digits,
'.', '-' and '_' in a name become '_'. DIR is created if missing. Nothing is
written unless the whole run succeeds.

Threads: qc.matmul kernels split their columns over `--threads N` threads
(the caller included; default QUANTC_NUM_THREADS, else every CPU this process
may use). Results do not depend on the number of threads.

ONNX models (*.onnx) are imported first, as `quant-translate --import-onnx`
does, into a function `main` whose arguments are the graph inputs that are
not initializers and whose results are the graph outputs, all named. Inputs
may also be ONNX TensorProto files (*.pb); `--input-dir D` binds
D/input_0.pb, D/input_1.pb, ... to those graph inputs in order, as in the
ONNX test data. Dynamic input dims are taken from the given files (or from
--input-shape), and lowerings that need a constant input (Reshape's shape,
Range's bounds) may take the given value of a small input. Unsigned results
(`qc.dtype = "uint8"`) are written as uint8.

Compiled models (*.so, from `quant-compile -o model.so`) are loaded with
dlopen and run through their C API (quantc_model.h): inputs and outputs as
the library declares them, bound and written as for ONNX models (--input,
--input-dir, --output-dir); --threads sets the library's own thread pool.

Errors are one line, `quant-run: error: FILE: problem`, and exit code 1;
MLIR's own diagnostics (file:line:col) come first where there are any.
)";

static cl::OptionCategory quantRunCategory("quant-run options");

static cl::opt<std::string> inputFilename(cl::Positional, cl::Required,
                                          cl::desc("<input.mlir|model.onnx>"),
                                          cl::cat(quantRunCategory));

static cl::opt<std::string>
    entryName("entry", cl::value_desc("name"),
              cl::desc("The func.func to run (its symbol name, without '@'); "
                       "required for MLIR files, 'main' for ONNX models"),
              cl::cat(quantRunCategory));

static cl::list<std::string>
    inputSpecs("input", cl::value_desc("[name=]file.npy"),
               cl::desc("An argument value: NAME=FILE.npy binds by argument "
                        "name, FILE.npy binds in order (repeatable; ONNX "
                        "TensorProto .pb files too)"),
               cl::cat(quantRunCategory));

static cl::opt<std::string>
    inputDir("input-dir", cl::value_desc("dir"),
             cl::desc("ONNX models: bind DIR/input_<i>.pb to the i-th graph "
                      "input that is not an initializer"),
             cl::cat(quantRunCategory));

static cl::list<std::string> inputShapeSpecs(
    "input-shape", cl::value_desc("name=DIMS"),
    cl::desc("ONNX models: fix the shape of a graph input, e.g. "
             "x=1x3x224x224 (repeatable; by default the given file's shape)"),
    cl::cat(quantRunCategory));

static cl::opt<std::string>
    outputDir("output-dir", cl::Required, cl::value_desc("dir"),
              cl::desc("Directory that receives one NAME.npy per result"),
              cl::cat(quantRunCategory));

static cl::opt<unsigned>
    benchmarkRuns("benchmark", cl::init(0), cl::value_desc("N"),
                  cl::desc("Time N calls after one warm-up call and print "
                           "'median: X us  min: Y us' (outputs are still "
                           "written once)"),
                  cl::cat(quantRunCategory));

static cl::opt<bool> fpContract(
    "fp-contract", cl::init(true), cl::value_desc("true|false"),
    cl::desc("Float matmuls and convolutions multiply and add with one "
             "rounding (FMA) where the CPU has FMA (default true); false: a "
             "multiply and an add, the same bits as the scalar loops and as "
             "CPUs without FMA"),
    cl::cat(quantRunCategory));

static cl::opt<bool> printIrAfterLowering(
    "print-ir-after-lowering",
    cl::desc("Print the LLVM-dialect module that is compiled to stdout"),
    cl::cat(quantRunCategory));

/// --threads (taken out of the arguments in main), 0 if not given.
static int requestedThreads = 0;

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

/// Prints the one-line error every quant-run failure produces. Returns the
/// exit code so that callers can `return reportError(...)`.
static int reportError(llvm::StringRef file, const llvm::Twine &problem) {
  llvm::errs() << "quant-run: error: " << file << ": " << problem << "\n";
  return 1;
}

//===----------------------------------------------------------------------===//
// Function signature
//===----------------------------------------------------------------------===//

using quantc::EntrySignature;
using quantc::TensorSpec;

static std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  return "[" +
         llvm::join(llvm::map_range(shape,
                                    [](int64_t d) { return std::to_string(d); }),
                    ", ") +
         "]";
}

/// The file a result is written to: its name with anything that is not safe
/// in a file name replaced, so that an ONNX-style name like "attn/qkv" cannot
/// escape the output directory.
static std::string resultFileName(llvm::StringRef name) {
  std::string file;
  for (char c : name)
    file += (llvm::isAlnum(c) || c == '.' || c == '-' || c == '_') ? c : '_';
  if (file.empty() || file == "." || file == "..")
    file = "_" + file;
  return file + ".npy";
}

//===----------------------------------------------------------------------===//
// Inputs
//===----------------------------------------------------------------------===//

/// Splits the --input values into a file per argument. NAME=FILE binds by
/// name when NAME is an argument; a value with '=' whose prefix looks like a
/// name but is none is reported as unknown (typo protection) rather than
/// being read as a file called "x=..."; anything else is positional.
static std::optional<std::vector<std::string>>
assignInputFiles(const EntrySignature &signature, llvm::StringRef funcName,
                 const std::vector<std::string> &defaults, std::string &error) {
  std::vector<std::string> files(signature.arguments.size());
  auto argumentIndex = [&](llvm::StringRef name) -> std::optional<size_t> {
    for (auto [index, slot] : llvm::enumerate(signature.arguments))
      if (slot.name == name)
        return index;
    return std::nullopt;
  };
  auto argumentNames = [&] {
    if (signature.arguments.empty())
      return std::string("none");
    return llvm::join(llvm::map_range(signature.arguments,
                                      [](const TensorSpec &slot) {
                                        return slot.name;
                                      }),
                      ", ");
  };

  std::vector<std::string> positional;
  for (const std::string &spec : inputSpecs) {
    auto [name, file] = llvm::StringRef(spec).split('=');
    if (file.empty() || spec.find('=') == std::string::npos) {
      positional.push_back(spec);
      continue;
    }
    std::optional<size_t> index = argumentIndex(name);
    if (!index) {
      bool looksLikePath = name.contains('/') || name.contains('.');
      if (looksLikePath) {
        positional.push_back(spec);
        continue;
      }
      error = "function '" + funcName.str() + "' has no argument '" +
              name.str() + "' (arguments: " + argumentNames() + ")";
      return std::nullopt;
    }
    if (!files[*index].empty()) {
      error = "argument '" + name.str() + "' is given twice (" + files[*index] +
              " and " + file.str() + ")";
      return std::nullopt;
    }
    files[*index] = file.str();
  }

  size_t next = 0;
  for (const std::string &file : positional) {
    while (next < files.size() && !files[next].empty())
      ++next;
    if (next == files.size()) {
      error = "too many inputs: function '" + funcName.str() + "' takes " +
              std::to_string(files.size()) + " argument(s) (" +
              argumentNames() + ")";
      return std::nullopt;
    }
    files[next] = file;
  }

  // Arguments named nowhere else take their default (--input-dir).
  for (size_t index = 0; index < files.size() && index < defaults.size();
       ++index)
    if (files[index].empty())
      files[index] = defaults[index];

  for (auto [index, slot] : llvm::enumerate(signature.arguments)) {
    if (files[index].empty()) {
      error = "no input for argument '" + slot.name + "' of '" +
              funcName.str() + "' (pass --input " + slot.name + "=FILE.npy)";
      return std::nullopt;
    }
  }
  return files;
}

/// Reads an input file: an ONNX TensorProto for *.pb, else .npy.
static std::optional<HostTensor> readTensorFile(const std::string &file,
                                                std::string &error) {
  if (llvm::StringRef(file).ends_with(".pb")) {
    std::string name;
    return quantc::readOnnxTensorFile(file, name, error);
  }
  return quantc::readNpy(file, error);
}

/// Reads `file` and checks it against the argument it feeds.
static std::optional<HostTensor> readInput(const std::string &file,
                                           const TensorSpec &argument,
                                           llvm::StringRef funcName,
                                           std::string &error) {
  std::optional<HostTensor> tensor = readTensorFile(file, error);
  if (!tensor)
    return std::nullopt; // the reader's message already names the file.
  // A signless i8 argument holds bytes whose sign MLIR does not fix (packed
  // formats, for one): uint8 files fit it as well as int8 ones.
  if (!argument.accepts(*tensor)) {
    error = file + ": argument '" + argument.name + "' of '" + funcName.str() +
            "' expects " + argument.describe() + " but the file holds " +
            quantc::dtypeName(tensor->dtype) + " " + formatShape(tensor->shape);
    return std::nullopt;
  }
  return tensor;
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

/// Checks the signature that prepareEntry read: two results whose names map
/// to one file would overwrite each other.
static bool checkResultFiles(const EntrySignature &signature,
                             std::string &error) {
  llvm::StringMap<std::string> resultByFile;
  for (const TensorSpec &result : signature.results) {
    auto [it, inserted] =
        resultByFile.try_emplace(resultFileName(result.name), result.name);
    if (!inserted) {
      error = "results '" + it->second + "' and '" + result.name +
              "' would both be written to " + it->first().str();
      return false;
    }
  }
  return true;
}

/// A compiled function's run(): JIT or compiled library.
using RunFunction = llvm::function_ref<llvm::Error(
    llvm::ArrayRef<HostTensor>, std::vector<HostTensor> &)>;

/// Calls the compiled function once, or with --benchmark N one warm-up call
/// and N timed calls, printing their median and minimum.
static llvm::Error callFunction(RunFunction run,
                                llvm::ArrayRef<HostTensor> inputs,
                                std::vector<HostTensor> &outputs) {
  if (llvm::Error error = run(inputs, outputs))
    return error;
  if (benchmarkRuns == 0)
    return llvm::Error::success();

  std::vector<double> microseconds;
  for (unsigned repetition = 0; repetition < benchmarkRuns; ++repetition) {
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error error = run(inputs, outputs))
      return error;
    auto stop = std::chrono::steady_clock::now();
    microseconds.push_back(
        std::chrono::duration<double, std::micro>(stop - start).count());
  }
  std::sort(microseconds.begin(), microseconds.end());
  size_t middle = microseconds.size() / 2;
  double median = microseconds.size() % 2
                      ? microseconds[middle]
                      : (microseconds[middle - 1] + microseconds[middle]) / 2;
  llvm::outs() << llvm::format("median: %.1f us  min: %.1f us\n", median,
                               microseconds.front());
  return llvm::Error::success();
}

/// Writes every result to --output-dir. Each write is atomic; if a later one
/// fails, the earlier ones are removed, so that the directory never holds
/// the results of half a run. `error` names the file that failed.
static bool writeResults(const std::vector<TensorSpec> &results,
                         llvm::ArrayRef<HostTensor> resultBuffers,
                         std::string &error) {
  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
    error = outputDir + ": cannot create the output directory (" +
            ec.message() + ")";
    return false;
  }
  std::vector<std::string> written;
  for (auto [result, buffer] : llvm::zip(results, resultBuffers)) {
    llvm::SmallString<256> path(outputDir);
    llvm::sys::path::append(path, resultFileName(result.name));
    if (!quantc::writeNpy(path.str().str(), buffer, error)) {
      for (const std::string &file : written)
        llvm::sys::fs::remove(file);
      return false;
    }
    written.push_back(path.str().str());
  }
  return true;
}

/// Inputs up to this many elements are offered to the importer as fixed
/// values, for the lowerings that need constants (shapes, axes, bounds).
constexpr int64_t kMaxSpecializedElements = 64;

/// Imports the ONNX model named on the command line, with input shapes (and
/// small input values) taken from the input files. `defaults` receives the
/// --input-dir file of each graph input. Errors are reported here.
static OwningOpRef<ModuleOp>
importOnnxModel(MLIRContext &context, std::vector<std::string> &defaults) {
  std::string error;
  std::unique_ptr<quantc::OnnxModel> model =
      quantc::OnnxModel::load(inputFilename, error);
  if (!model) {
    llvm::errs() << "quant-run: error: " << error << "\n";
    return nullptr;
  }
  EntrySignature names;
  for (const quantc::OnnxTensorInfo &input : model->inputs()) {
    TensorSpec argument;
    argument.name = input.name;
    names.arguments.push_back(std::move(argument));
  }
  if (!inputDir.empty()) {
    for (size_t index = 0; index < model->inputs().size(); ++index) {
      llvm::SmallString<256> path(inputDir);
      llvm::sys::path::append(path, "input_" + std::to_string(index) + ".pb");
      defaults.push_back(path.str().str());
    }
  }
  std::optional<std::vector<std::string>> inputFiles =
      assignInputFiles(names, entryName, defaults, error);
  if (!inputFiles) {
    reportError(inputFilename, error);
    return nullptr;
  }

  quantc::OnnxImportOptions options;
  options.functionName = entryName;
  for (const std::string &spec : inputShapeSpecs) {
    if (!quantc::parseInputShapeSpec(spec, options, error)) {
      reportError(inputFilename, error);
      return nullptr;
    }
  }
  for (auto [file, input] : llvm::zip(*inputFiles, model->inputs())) {
    std::optional<HostTensor> tensor = readTensorFile(file, error);
    if (!tensor) {
      llvm::errs() << "quant-run: error: " << error << "\n";
      return nullptr;
    }
    // Dynamic dims come from the file unless --input-shape gives them.
    bool dynamic = !input.shape || llvm::is_contained(*input.shape, -1);
    if (dynamic && !options.inputShapes.count(input.name))
      options.inputShapes[input.name] =
          llvm::SmallVector<int64_t>(tensor->shape.begin(), tensor->shape.end());
    if (tensor->numElements() <= kMaxSpecializedElements)
      if (std::optional<quantc::KnownTensor> known =
              quantc::knownTensorFromHost(*tensor))
        if (quantc::onnxDTypeName(known->dtype) == input.dtype)
          options.specializedInputs[input.name] = std::move(*known);
  }
  OwningOpRef<ModuleOp> module = model->import(context, options, error);
  if (!module)
    llvm::errs() << "quant-run: error: " << error << "\n";
  return module;
}

/// Reads the inputs `signature` declares from --input / --input-dir files,
/// checked against it; errors are reported here.
static std::optional<std::vector<HostTensor>>
readInputs(const EntrySignature &signature,
           const std::vector<std::string> &defaults) {
  std::string error;
  std::optional<std::vector<std::string>> inputFiles =
      assignInputFiles(signature, entryName, defaults, error);
  if (!inputFiles) {
    reportError(inputFilename, error);
    return std::nullopt;
  }
  std::vector<HostTensor> inputs;
  for (auto [file, argument] : llvm::zip(*inputFiles, signature.arguments)) {
    std::optional<HostTensor> tensor =
        readInput(file, argument, entryName, error);
    if (!tensor) {
      llvm::errs() << "quant-run: error: " << error << "\n";
      return std::nullopt;
    }
    inputs.push_back(std::move(*tensor));
  }
  return inputs;
}

/// quant-run MODEL.so: a model compiled by quant-compile, through its C API.
static int runCompiledLibrary() {
  if (entryName.empty())
    entryName = "main";
  if (entryName != "main")
    return reportError(inputFilename, "a compiled model has one entry; "
                                      "--entry does not apply");
  if (!inputShapeSpecs.empty() || printIrAfterLowering)
    return reportError(inputFilename, "--input-shape and "
                                      "--print-ir-after-lowering do not apply "
                                      "to a compiled model");
  if (quantrun::runsOnCuda())
    return reportError(inputFilename, "a compiled model runs on the CPU; "
                                      "--device cuda does not apply");
  auto library = quantrun::CompiledLibrary::load(inputFilename);
  if (!library) {
    llvm::errs() << "quant-run: error: "
                 << llvm::toString(library.takeError()) << "\n";
    return 1;
  }
  if (requestedThreads > 0)
    if (llvm::Error error = (*library)->setNumThreads(requestedThreads))
      return reportError(inputFilename, llvm::toString(std::move(error)));
  const EntrySignature &signature = (*library)->signature();
  std::string error;
  if (!checkResultFiles(signature, error))
    return reportError(inputFilename, error);
  std::vector<std::string> defaults;
  if (!inputDir.empty()) {
    for (size_t index = 0; index < signature.arguments.size(); ++index) {
      llvm::SmallString<256> path(inputDir);
      llvm::sys::path::append(path, "input_" + std::to_string(index) + ".pb");
      defaults.push_back(path.str().str());
    }
  }
  std::optional<std::vector<HostTensor>> inputs = readInputs(signature, defaults);
  if (!inputs)
    return 1;
  std::vector<HostTensor> outputs;
  auto run = [&](llvm::ArrayRef<HostTensor> in, std::vector<HostTensor> &out) {
    return (*library)->run(in, out);
  };
  if (llvm::Error callError = callFunction(run, *inputs, outputs))
    return reportError(inputFilename, llvm::toString(std::move(callError)));
  if (!writeResults(signature.results, outputs, error)) {
    llvm::errs() << "quant-run: error: " << error << "\n";
    return 1;
  }
  return 0;
}

static int runQuantRun() {
  if (llvm::StringRef(inputFilename).ends_with(".so"))
    return runCompiledLibrary();
  DialectRegistry registry;
  quantc::registerQuantcDialects(registry);
  quantrun::registerDeviceDialects(registry);
  // A GPU run fails here, before any work, on a machine without a GPU.
  std::string deviceError;
  if (!quantrun::openDevice(deviceError))
    return reportError(inputFilename, deviceError);
  MLIRContext context(registry);

  // Parse and pass errors print as file:line:col diagnostics.
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  SourceMgrDiagnosticHandler diagnosticHandler(*sourceMgr, &context);
  OwningOpRef<ModuleOp> module;
  std::vector<std::string> inputDefaults; // --input-dir, ONNX models only
  if (llvm::StringRef(inputFilename).ends_with(".onnx")) {
    if (entryName.empty())
      entryName = "main";
    module = importOnnxModel(context, inputDefaults);
    if (!module)
      return 1;
  } else {
    if (entryName.empty())
      return reportError(inputFilename,
                         "--entry NAME is required to run an MLIR file");
    if (!inputDir.empty() || !inputShapeSpecs.empty())
      return reportError(inputFilename, "--input-dir and --input-shape apply "
                                        "to ONNX models only");
    auto fileBuffer = llvm::MemoryBuffer::getFileOrSTDIN(inputFilename);
    if (std::error_code ec = fileBuffer.getError())
      return reportError(inputFilename, "cannot read (" + ec.message() + ")");
    sourceMgr->AddNewSourceBuffer(std::move(*fileBuffer), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return reportError(inputFilename, "cannot parse the MLIR module");
  }

  quantc::JitOptions options;
  options.entry = entryName;
  options.caller = "quant-run";
  options.beforeQcExpansion = quantrun::addDevicePasses;
  options.buildLowering = [](mlir::OpPassManager &pm) {
    quantrun::buildHostLowering(pm, fpContract);
  };
  options.takeRuntimeError = quantrun::takeDeviceError;
  options.extraSymbols = quantrun::deviceSymbols();
  if (printIrAfterLowering)
    options.printLoweredModule = &llvm::outs();

  std::string error;
  llvm::Expected<EntrySignature> signature =
      quantc::prepareEntry(*module, options);
  if (!signature)
    return reportError(inputFilename, llvm::toString(signature.takeError()));
  if (!checkResultFiles(*signature, error))
    return reportError(inputFilename, error);

  // Inputs are read and checked before the (slower) compilation.
  std::optional<std::vector<HostTensor>> inputs =
      readInputs(*signature, inputDefaults);
  if (!inputs)
    return 1;

  if (llvm::Error lowerError =
          quantc::lowerEntryToLLVM(*module, *signature, options))
    return reportError(inputFilename, llvm::toString(std::move(lowerError)));
  auto function =
      quantc::JitFunction::compileLowered(*module, *signature, options);
  if (!function)
    return reportError(inputFilename, llvm::toString(function.takeError()));
  std::vector<HostTensor> outputs;
  auto run = [&](llvm::ArrayRef<HostTensor> in, std::vector<HostTensor> &out) {
    return (*function)->run(in, out);
  };
  if (llvm::Error callError = callFunction(run, *inputs, outputs))
    return reportError(inputFilename, llvm::toString(std::move(callError)));

  if (!writeResults(signature->results, outputs, error)) {
    llvm::errs() << "quant-run: error: " << error << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions({&quantRunCategory, &quantrun::deviceCategory()});
  // --threads is taken out before LLVM parses the rest: libLLVM already
  // registers a global option of that name.
  std::vector<char *> arguments;
  for (int i = 0; i < argc; ++i) {
    llvm::StringRef argument(argv[i]);
    llvm::StringRef value;
    if (argument == "--threads" || argument == "-threads") {
      if (i + 1 == argc)
        return reportError("--threads", "expects a number of threads");
      value = argv[++i];
    } else if (argument.consume_front("--threads=") ||
               argument.consume_front("-threads=")) {
      value = argument;
    } else {
      arguments.push_back(argv[i]);
      continue;
    }
    int threads;
    if (value.getAsInteger(10, threads) || threads < 1)
      return reportError("--threads", "expects a positive number, got '" +
                                          value + "'");
    quantc_set_num_threads(threads);
    requestedThreads = threads;
  }
  cl::ParseCommandLineOptions(static_cast<int>(arguments.size()),
                              arguments.data(), kOverview);
  return runQuantRun();
}
