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

#include "CudaDevice.h"
#include "quantc/Conversion/Pipelines.h"
#include "quantc/Import/OnnxImporter.h"
#include "quantc/Import/OnnxOpRegistry.h"
#include "quantc/Runtime/JitSymbols.h"
#include "quantc/Runtime/Npy.h"
#include "quantc/Runtime/ThreadPool.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
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

static cl::opt<bool> printIrAfterLowering(
    "print-ir-after-lowering",
    cl::desc("Print the LLVM-dialect module that is compiled to stdout"),
    cl::cat(quantRunCategory));

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

/// One tensor argument or result of the entry function, as quant-run
/// exchanges it with a .npy file.
struct TensorSlot {
  std::string name;
  RankedTensorType type;
  DType dtype;
};

/// The .npy element type that holds `type` bit-exactly, if quant-run supports it.
static std::optional<DType> dtypeForElementType(Type type) {
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isF64())
    return DType::F64;
  auto intType = dyn_cast<IntegerType>(type);
  if (!intType)
    return std::nullopt;
  if (intType.getWidth() == 1)
    return DType::Bool;
  if (intType.isUnsigned())
    return intType.getWidth() == 8 ? std::optional(DType::U8) : std::nullopt;
  switch (intType.getWidth()) {
  case 8:
    return DType::I8;
  case 16:
    return DType::I16;
  case 32:
    return DType::I32;
  case 64:
    return DType::I64;
  default:
    return std::nullopt;
  }
}

static std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  return "[" +
         llvm::join(llvm::map_range(shape,
                                    [](int64_t d) { return std::to_string(d); }),
                    ", ") +
         "]";
}

static std::string typeToString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

/// Checks that `type` is a tensor quant-run can exchange and builds its slot;
/// on failure returns an error message that names `what` ("argument 'x'").
static std::optional<TensorSlot> makeSlot(std::string name, Type type,
                                          const std::string &what,
                                          std::string &error) {
  auto tensorType = dyn_cast<RankedTensorType>(type);
  if (!tensorType) {
    error = what + " has type " + typeToString(type) +
            "; quant-run exchanges ranked tensors only";
    return std::nullopt;
  }
  if (!tensorType.hasStaticShape()) {
    error = what + " has dynamic shape " + typeToString(type) +
            "; specialise it";
    return std::nullopt;
  }
  std::optional<DType> dtype = dtypeForElementType(tensorType.getElementType());
  if (!dtype) {
    error = what + " has element type " +
            typeToString(tensorType.getElementType()) +
            "; quant-run supports f32, f16, f64, i1, i8, i16, i32, i64, ui8";
    return std::nullopt;
  }
  return TensorSlot{std::move(name), tensorType, *dtype};
}

static std::string nameFromAttr(DictionaryAttr attrs, std::string fallback) {
  if (attrs)
    if (auto name = attrs.getAs<StringAttr>("qc.name"))
      return name.str();
  return fallback;
}

/// The arguments and results of the entry function, named and checked.
struct Signature {
  std::vector<TensorSlot> arguments;
  std::vector<TensorSlot> results;
};

static std::optional<Signature> readSignature(func::FuncOp func,
                                              std::string &error) {
  Signature signature;
  std::string funcName = "'" + func.getSymName().str() + "'";
  llvm::StringSet<> seen;
  for (auto [index, type] : llvm::enumerate(func.getArgumentTypes())) {
    std::string name =
        nameFromAttr(func.getArgAttrDict(index), "arg" + std::to_string(index));
    if (!seen.insert(name).second) {
      error = "function " + funcName + " has two arguments named '" + name + "'";
      return std::nullopt;
    }
    auto slot = makeSlot(name, type, "argument '" + name + "' of " + funcName,
                         error);
    if (!slot)
      return std::nullopt;
    signature.arguments.push_back(std::move(*slot));
  }
  for (auto [index, type] : llvm::enumerate(func.getResultTypes())) {
    std::string name =
        nameFromAttr(func.getResultAttrDict(index), std::to_string(index));
    auto slot =
        makeSlot(name, type, "result '" + name + "' of " + funcName, error);
    if (!slot)
      return std::nullopt;
    // Signless i8 holding unsigned values (ONNX uint8) is written as uint8.
    if (DictionaryAttr attrs = func.getResultAttrDict(index))
      if (auto dtype = attrs.getAs<StringAttr>("qc.dtype"))
        if (dtype.getValue() == "uint8" && slot->dtype == DType::I8)
          slot->dtype = DType::U8;
    signature.results.push_back(std::move(*slot));
  }
  return signature;
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
assignInputFiles(const Signature &signature, llvm::StringRef funcName,
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
                                      [](const TensorSlot &slot) {
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
                                           const TensorSlot &argument,
                                           llvm::StringRef funcName,
                                           std::string &error) {
  std::optional<HostTensor> tensor = readTensorFile(file, error);
  if (!tensor)
    return std::nullopt; // the reader's message already names the file.
  llvm::ArrayRef<int64_t> expectedShape = argument.type.getShape();
  // A signless i8 argument holds bytes whose sign MLIR does not fix (packed
  // formats, for one): uint8 files fit it as well as int8 ones.
  bool bytesFit = argument.dtype == DType::I8 && tensor->dtype == DType::U8 &&
                  argument.type.getElementType().isSignlessInteger(8);
  if ((tensor->dtype != argument.dtype && !bytesFit) ||
      llvm::ArrayRef<int64_t>(tensor->shape) != expectedShape) {
    error = file + ": argument '" + argument.name + "' of '" + funcName.str() +
            "' expects " + quantc::dtypeName(argument.dtype) + " " +
            formatShape(expectedShape) + " (" + typeToString(argument.type) +
            ") but the file holds " + quantc::dtypeName(tensor->dtype) + " " +
            formatShape(tensor->shape);
    return std::nullopt;
  }
  return tensor;
}

//===----------------------------------------------------------------------===//
// Calling the compiled function
//===----------------------------------------------------------------------===//

/// A strided memref descriptor as the LLVM lowering lays it out for any rank:
/// {allocated ptr, aligned ptr, offset, sizes[rank], strides[rank]}, all
/// 64-bit on the hosts quantc supports.
class MemRefDescriptor {
public:
  explicit MemRefDescriptor(HostTensor &tensor) {
    static_assert(sizeof(void *) == sizeof(int64_t),
                  "memref descriptors assume 64-bit pointers");
    size_t rank = tensor.shape.size();
    fields.resize(3 + 2 * rank);
    auto pointer = reinterpret_cast<int64_t>(tensor.bytes.data());
    fields[0] = pointer;
    fields[1] = pointer;
    fields[2] = 0;
    int64_t stride = 1;
    for (size_t dim = rank; dim-- > 0;) {
      fields[3 + dim] = tensor.shape[dim];
      fields[3 + rank + dim] = stride;
      stride *= tensor.shape[dim];
    }
  }
  void *data() { return fields.data(); }

private:
  std::vector<int64_t> fields;
};

static HostTensor makeResultBuffer(const TensorSlot &result) {
  HostTensor tensor;
  tensor.dtype = result.dtype;
  tensor.shape.assign(result.type.getShape().begin(),
                      result.type.getShape().end());
  tensor.bytes.assign(tensor.numElements() * quantc::dtypeSize(result.dtype), 0);
  return tensor;
}

/// Marks the entry function for the JIT: a C-compatible wrapper taking
/// descriptor pointers, and read-only arguments, so that bufferization copies
/// instead of writing into the caller's input buffers (which --benchmark
/// reuses). The argument and result attributes (qc.name, ...) have been read
/// by then; they are dropped because the translation to LLVM IR warns about
/// every attribute it does not know.
static void prepareEntryFunction(func::FuncOp func) {
  MLIRContext *context = func.getContext();
  func.removeArgAttrsAttr();
  func.removeResAttrsAttr();
  func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                UnitAttr::get(context));
  func.setPublic();
  for (unsigned index = 0; index < func.getNumArguments(); ++index)
    func.setArgAttr(index, "bufferization.writable",
                    BoolAttr::get(context, false));
}

/// The first operation the lowering left outside the LLVM dialect, if any.
/// Conversion to LLVM is partial, so an op it has no pattern for stays behind
/// together with casts around it; name the op rather than the cast, which is
/// what the translation to LLVM IR would otherwise complain about.
static Operation *findUnloweredOp(ModuleOp module) {
  Operation *firstCast = nullptr;
  Operation *firstOther = nullptr;
  module.walk([&](Operation *op) {
    if (op == module.getOperation() || isa<LLVM::LLVMDialect>(op->getDialect()))
      return WalkResult::advance();
    if (isa<UnrealizedConversionCastOp>(op)) {
      if (!firstCast)
        firstCast = op;
      return WalkResult::advance();
    }
    firstOther = op;
    return WalkResult::interrupt();
  });
  return firstOther ? firstOther : firstCast;
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

/// The entry function, or an error listing the functions there are.
static func::FuncOp findEntryFunction(ModuleOp module, std::string &error) {
  auto func = module.lookupSymbol<func::FuncOp>(entryName);
  if (func && func.isExternal()) {
    error = "function '" + entryName + "' is only a declaration (no body)";
    return nullptr;
  }
  if (!func) {
    std::vector<std::string> names;
    for (auto candidate : module.getOps<func::FuncOp>())
      if (!candidate.isExternal())
        names.push_back(candidate.getSymName().str());
    error = "no function '" + entryName + "' (functions: " +
            (names.empty() ? "none" : llvm::join(names, ", ")) + ")";
    return nullptr;
  }
  return func;
}

/// Keeps only the entry and what it calls, so that another function of the
/// file that does not lower yet cannot stop this one from running, and
/// expands qc ops: the function is then called with the byte tensors that
/// `!qc.packed` arguments and results become. Returns the signature it is
/// called with.
static std::optional<Signature> prepareModule(ModuleOp module,
                                              func::FuncOp func,
                                              std::string &error) {
  llvm::SmallVector<bool> resultIsPacked;
  for (Type type : func.getResultTypes())
    resultIsPacked.push_back(!isa<TensorType>(type) &&
                             type.getDialect().getNamespace() == "qc");
  for (auto other : module.getOps<func::FuncOp>())
    if (other != func)
      other.setPrivate();
  PassManager expansion(module.getContext());
  expansion.addPass(createSymbolDCEPass());
  quantrun::addDevicePasses(expansion);
  quantc::buildQcCpuExpansionPipeline(expansion);
  if (failed(expansion.run(module))) {
    error = "expanding the qc ops of '" + entryName + "' failed (see above)";
    return std::nullopt;
  }
  func = module.lookupSymbol<func::FuncOp>(entryName);

  std::optional<Signature> signature = readSignature(func, error);
  if (!signature)
    return std::nullopt;
  // Packed results are bytes: write them as uint8, as quant-tensor does.
  for (auto [result, isPacked] : llvm::zip(signature->results, resultIsPacked))
    if (isPacked && result.dtype == DType::I8)
      result.dtype = DType::U8;

  // Two results whose names map to one file would overwrite each other.
  llvm::StringMap<std::string> resultByFile;
  for (const TensorSlot &result : signature->results) {
    auto [it, inserted] =
        resultByFile.try_emplace(resultFileName(result.name), result.name);
    if (!inserted) {
      error = "results '" + it->second + "' and '" + result.name +
              "' would both be written to " + it->first().str();
      return std::nullopt;
    }
  }
  return signature;
}

/// JIT-compiles the lowered module and calls the entry on `buffers` (the
/// arguments, then the results) once, or --benchmark times after a warm-up.
static llvm::Error compileAndCall(ModuleOp module,
                                  std::vector<HostTensor> &buffers) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  // A target machine for this host, with its CPU features: without one the
  // LLVM optimizer knows no vector registers and vectorizes nothing.
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto targetMachine = machineBuilder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto optimize = makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0,
                                            targetMachine->get());
  // memref.copy of non-contiguous views lowers to a call into the runner
  // utilities; load them so that such copies resolve.
  llvm::SmallVector<llvm::StringRef, 1> sharedLibs;
  if (llvm::sys::fs::exists(QUANTC_MLIR_C_RUNNER_UTILS))
    sharedLibs.push_back(QUANTC_MLIR_C_RUNNER_UTILS);
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = optimize;
  engineOptions.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  engineOptions.sharedLibPaths = sharedLibs;
  auto engine =
      ExecutionEngine::create(module, engineOptions, std::move(*targetMachine));
  if (!engine)
    return llvm::createStringError("JIT compilation failed: " +
                                   llvm::toString(engine.takeError()));
  quantc::registerKernelRuntimeSymbols(**engine);
  quantrun::registerDeviceSymbols(**engine);
  (*engine)->initialize();
  if (llvm::Error error = quantrun::takeDeviceError())
    return error;

  std::vector<MemRefDescriptor> descriptors(buffers.begin(), buffers.end());
  std::vector<void *> descriptorPointers;
  for (MemRefDescriptor &descriptor : descriptors)
    descriptorPointers.push_back(descriptor.data());
  // The packed calling convention takes, per argument, the address of the
  // value the C wrapper expects: here a pointer to the descriptor.
  std::vector<void *> packedArguments;
  for (void *&pointer : descriptorPointers)
    packedArguments.push_back(&pointer);

  std::string wrapperName = "_mlir_ciface_" + entryName;
  auto callOnce = [&]() -> llvm::Error {
    if (llvm::Error error = (*engine)->invokePacked(wrapperName, packedArguments))
      return llvm::createStringError("cannot call '" + entryName +
                                     "': " + llvm::toString(std::move(error)));
    if (llvm::Error error = quantrun::takeDeviceError())
      return error;
    return llvm::Error::success();
  };
  if (llvm::Error error = callOnce())
    return error;
  if (benchmarkRuns == 0)
    return llvm::Error::success();

  std::vector<double> microseconds;
  for (unsigned run = 0; run < benchmarkRuns; ++run) {
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error error = callOnce())
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
static bool writeResults(const std::vector<TensorSlot> &results,
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
  Signature names;
  for (const quantc::OnnxTensorInfo &input : model->inputs())
    names.arguments.push_back(TensorSlot{input.name, nullptr, DType::F32});
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

static int runQuantRun() {
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

  std::string error;
  func::FuncOp func = findEntryFunction(*module, error);
  if (!func)
    return reportError(inputFilename, error);
  std::optional<Signature> signature = prepareModule(*module, func, error);
  if (!signature)
    return reportError(inputFilename, error);
  func = module->lookupSymbol<func::FuncOp>(entryName);

  // Inputs are read and checked before the (slower) compilation.
  std::optional<std::vector<std::string>> inputFiles =
      assignInputFiles(*signature, entryName, inputDefaults, error);
  if (!inputFiles)
    return reportError(inputFilename, error);
  std::vector<HostTensor> buffers;
  for (auto [file, argument] : llvm::zip(*inputFiles, signature->arguments)) {
    std::optional<HostTensor> tensor =
        readInput(file, argument, entryName, error);
    if (!tensor) {
      llvm::errs() << "quant-run: error: " << error << "\n";
      return 1;
    }
    buffers.push_back(std::move(*tensor));
  }
  size_t firstResult = buffers.size();
  for (const TensorSlot &result : signature->results)
    buffers.push_back(makeResultBuffer(result));

  prepareEntryFunction(func);
  PassManager pm(&context);
  quantrun::buildHostLowering(pm);
  if (failed(pm.run(*module)))
    return reportError(inputFilename, "lowering '" + entryName +
                                          "' to LLVM failed (see above)");
  if (printIrAfterLowering) {
    module->print(llvm::outs());
    llvm::outs() << "\n";
  }
  if (Operation *leftover = findUnloweredOp(*module)) {
    leftover->emitError() << "'" << leftover->getName()
                          << "' is not lowered to LLVM by the CPU pipeline";
    return reportError(inputFilename, "cannot compile '" + entryName +
                                          "': an operation is not lowered to "
                                          "LLVM (see above)");
  }

  if (llvm::Error callError = compileAndCall(*module, buffers))
    return reportError(inputFilename, llvm::toString(std::move(callError)));

  if (!writeResults(signature->results,
                    llvm::ArrayRef(buffers).drop_front(firstResult), error)) {
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
  }
  cl::ParseCommandLineOptions(static_cast<int>(arguments.size()),
                              arguments.data(), kOverview);
  return runQuantRun();
}
