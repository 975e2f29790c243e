//===- AotLibrary.cpp - Compile a model ahead of time ---------------------===//

#include "quantc/Target/AotLibrary.h"

#include "quantc/Conversion/GpuChips.h"
#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/QcToCPU.h"
#include "quantc/Runtime/Jit.h"
#include "quantc/Runtime/ModelAbi.h"
#include "quantc/Runtime/quantc_model.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <optional>

using namespace mlir;

namespace quantc {

// The C API's dtype codes are quantc::DType's values.
static_assert(static_cast<int>(DType::F32) == QUANTC_DTYPE_F32 &&
                  static_cast<int>(DType::F16) == QUANTC_DTYPE_F16 &&
                  static_cast<int>(DType::F64) == QUANTC_DTYPE_F64 &&
                  static_cast<int>(DType::I8) == QUANTC_DTYPE_I8 &&
                  static_cast<int>(DType::I16) == QUANTC_DTYPE_I16 &&
                  static_cast<int>(DType::I32) == QUANTC_DTYPE_I32 &&
                  static_cast<int>(DType::I64) == QUANTC_DTYPE_I64 &&
                  static_cast<int>(DType::U8) == QUANTC_DTYPE_U8 &&
                  static_cast<int>(DType::Bool) == QUANTC_DTYPE_BOOL,
              "quantc_dtype and quantc::DType must agree");

//===----------------------------------------------------------------------===//
// Files that appear whole or not at all
//===----------------------------------------------------------------------===//

namespace {

/// An output written under a temporary name in its final directory and
/// renamed over the final name by commit(); removed if never committed.
class PendingFile {
public:
  static llvm::Expected<PendingFile> create(const std::string &path) {
    llvm::SmallString<256> model(path);
    model += ".tmp-%%%%%%%%";
    llvm::SmallString<256> temporary;
    int fd;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueFile(model, fd, temporary))
      return llvm::createStringError(path + ": cannot write (" + ec.message() +
                                     ")");
    llvm::sys::Process::SafelyCloseFileDescriptor(fd);
    return PendingFile(path, temporary.str().str());
  }

  PendingFile(PendingFile &&other)
      : finalPath(std::move(other.finalPath)),
        temporaryPath(std::move(other.temporaryPath)) {
    other.temporaryPath.clear();
  }
  PendingFile(const PendingFile &) = delete;
  ~PendingFile() {
    if (!temporaryPath.empty())
      llvm::sys::fs::remove(temporaryPath);
  }

  const std::string &path() const { return finalPath; }
  const std::string &temporary() const { return temporaryPath; }

  llvm::Error write(llvm::StringRef bytes) {
    std::error_code ec;
    llvm::raw_fd_ostream os(temporaryPath, ec);
    if (!ec) {
      os << bytes;
      os.close();
      ec = os.error();
    }
    if (ec)
      return llvm::createStringError(finalPath + ": cannot write (" +
                                     ec.message() + ")");
    return llvm::Error::success();
  }

  llvm::Error commit() {
    if (std::error_code ec = llvm::sys::fs::rename(temporaryPath, finalPath))
      return llvm::createStringError(finalPath + ": cannot write (" +
                                     ec.message() + ")");
    temporaryPath.clear();
    return llvm::Error::success();
  }

private:
  PendingFile(std::string finalPath, std::string temporaryPath)
      : finalPath(std::move(finalPath)),
        temporaryPath(std::move(temporaryPath)) {}

  std::string finalPath;
  std::string temporaryPath;
};

} // namespace

//===----------------------------------------------------------------------===//
// Names and the header
//===----------------------------------------------------------------------===//

std::string modelNameFromPath(const std::string &path) {
  std::string name;
  for (char c : llvm::sys::path::stem(path))
    name += llvm::isAlnum(c) ? c : '_';
  if (name.empty() || llvm::isDigit(name[0]))
    name = "model_" + name;
  return name;
}

static std::string upperIdentifier(llvm::StringRef text) {
  std::string identifier;
  for (char c : text)
    identifier += llvm::isAlnum(c) ? llvm::toUpper(c) : '_';
  return identifier;
}

/// A C string literal holding `text`.
static std::string cString(llvm::StringRef text) {
  std::string literal = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      literal += '\\';
      literal += c;
    } else if (c < 0x20 || c >= 0x7f) {
      literal += llvm::formatv("\\{0:o3}", c).str();
    } else {
      literal += c;
    }
  }
  return literal + "\"";
}

/// `text` safe inside a C comment.
static std::string commentText(llvm::StringRef text) {
  std::string safe = text.str();
  for (size_t at; (at = safe.find("*/")) != std::string::npos;)
    safe.replace(at, 2, "* /");
  return safe;
}

static const char *cTypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "float";
  case DType::F16:
    return "uint16_t (IEEE half bits)";
  case DType::F64:
    return "double";
  case DType::I8:
    return "int8_t";
  case DType::I16:
    return "int16_t";
  case DType::I32:
    return "int32_t";
  case DType::I64:
    return "int64_t";
  case DType::U8:
    return "uint8_t";
  case DType::Bool:
    return "uint8_t (0 or 1)";
  }
  return "?";
}

static const char *dtypeMacro(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "QUANTC_DTYPE_F32";
  case DType::F16:
    return "QUANTC_DTYPE_F16";
  case DType::F64:
    return "QUANTC_DTYPE_F64";
  case DType::I8:
    return "QUANTC_DTYPE_I8";
  case DType::I16:
    return "QUANTC_DTYPE_I16";
  case DType::I32:
    return "QUANTC_DTYPE_I32";
  case DType::I64:
    return "QUANTC_DTYPE_I64";
  case DType::U8:
    return "QUANTC_DTYPE_U8";
  case DType::Bool:
    return "QUANTC_DTYPE_BOOL";
  }
  return "?";
}

static const char *const kApiHeader =
#include "QuantcModelApiHeader.inc"
    ;

std::string generateModelHeader(const EntrySignature &signature,
                                const AotOptions &options) {
  std::string prefix = upperIdentifier(options.modelName);
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* " << commentText(options.modelName)
     << ".h - generated by quant-compile: the C interface of the model "
     << commentText(options.modelName) << ".\n";
  if (!options.description.empty())
    os << " * From " << commentText(options.description) << ".\n";
  os << " * CPU target: " << commentText(options.cpuTarget) << ".\n";
  if (!options.cudaChips.empty())
    os << " * NVIDIA GPU targets: " << commentText(options.cudaChips)
       << " (the qc.matmuls run on the GPU; quantc_model_create fails\n"
       << " * with QUANTC_ERROR_DEVICE where no device runs one of them).\n";
  os << " *\n"
     << " * Inputs and outputs, in the order quantc_model_run takes them:\n";
  auto list = [&](llvm::StringRef kind, llvm::ArrayRef<TensorSpec> specs) {
    for (auto [index, spec] : llvm::enumerate(specs))
      os << " *   " << kind << " " << index << ": \"" << commentText(spec.name)
         << "\", " << spec.describe() << ", " << cTypeName(spec.dtype)
         << "\n";
  };
  list("input", signature.arguments);
  list("output", signature.results);
  os << " */\n"
     << "#ifndef QUANTC_GENERATED_" << prefix << "_H\n"
     << "#define QUANTC_GENERATED_" << prefix << "_H\n\n"
     << "/* The C API of every model quantc compiles. */\n"
     << kApiHeader << "\n"
     << "#define " << prefix << "_NUM_INPUTS " << signature.arguments.size()
     << "\n"
     << "#define " << prefix << "_NUM_OUTPUTS " << signature.results.size()
     << "\n";
  auto describe = [&](llvm::StringRef kind, llvm::ArrayRef<TensorSpec> specs) {
    for (auto [index, spec] : llvm::enumerate(specs)) {
      std::string macro = prefix + "_" + kind.str() + "_" +
                          std::to_string(index) + "_";
      os << "\n/* " << llvm::StringRef(kind).lower() << " " << index << ": "
         << cTypeName(spec.dtype) << " */\n";
      os << "#define " << macro << "NAME " << cString(spec.name) << "\n";
      os << "#define " << macro << "DTYPE " << dtypeMacro(spec.dtype) << "\n";
      os << "#define " << macro << "RANK " << spec.shape.size() << "\n";
      os << "#define " << macro << "SHAPE {";
      if (spec.shape.empty())
        os << "0 /* rank 0: no dimensions */";
      os << llvm::join(llvm::map_range(spec.shape,
                                       [](int64_t d) {
                                         return std::to_string(d);
                                       }),
                       ", ")
         << "}\n";
      os << "#define " << macro << "NUM_ELEMENTS " << spec.numElements()
         << "\n";
    }
  };
  describe("INPUT", signature.arguments);
  describe("OUTPUT", signature.results);
  os << "\n#endif /* QUANTC_GENERATED_" << prefix << "_H */\n";
  return text;
}

//===----------------------------------------------------------------------===//
// LLVM IR
//===----------------------------------------------------------------------===//

/// A target machine for `cpuTarget` (qc-lower-cpu's names), producing
/// position-independent code at O3. For native, the host's CPU and features,
/// the same the JIT uses, so that a library computes what the JIT computes.
static llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const std::string &cpuTarget) {
  std::string error;
  std::optional<cpu::CpuTarget> target = cpu::CpuTarget::parse(cpuTarget, error);
  if (!target)
    return llvm::createStringError(error);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  if (triple.getArch() != llvm::Triple::x86_64)
    return llvm::createStringError("quantc compiles for x86-64; this host is " +
                                   triple.str());
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return llvm::createStringError(error);
  std::string features;
  if (cpuTarget == "native") {
    std::vector<std::string> list;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      list.push_back((feature.second ? "+" : "-") + feature.first().str());
    std::sort(list.begin(), list.end());
    features = llvm::join(list, ",");
  } else {
    features = llvm::join(target->features, ",");
  }
  llvm::TargetOptions targetOptions;
  // Constructors (the CUDA images' mgpuModuleLoad calls) go into .init_array:
  // LLVM's default is the legacy .ctors, which lld keeps as an inert section,
  // so the modules would never be registered and every launch would fail.
  targetOptions.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, target->cpu, features, targetOptions, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return llvm::createStringError("cannot create an LLVM target machine for " +
                                   triple.str() + " " + target->cpu);
  return machine;
}

/// quantc_model_abi::cuda_chip_mask of a checked list of chips.
static int32_t cudaChipMask(llvm::StringRef chips) {
  int32_t mask = 0;
  if (chips.empty())
    return 0;
  for (llvm::StringRef chip : llvm::split(chips, ','))
    if (int index = gpuChipIndex(chip.trim().str().c_str()); index >= 0)
      mask |= 1 << index;
  return mask;
}

/// Makes everything the model defines internal to it, adds the entry
/// wrapper the C API calls and the model description (ModelAbi.h).
static llvm::Error addModelInterface(llvm::Module &module,
                                     const EntrySignature &signature,
                                     const AotOptions &options,
                                     const llvm::TargetMachine &machine) {
  llvm::LLVMContext &context = module.getContext();
  std::string cifaceName = "_mlir_ciface_" + signature.entry;
  llvm::Function *entry = module.getFunction(cifaceName);
  size_t tensorCount = signature.arguments.size() + signature.results.size();
  auto *pointerType = llvm::PointerType::getUnqual(context);
  if (!entry || !entry->getReturnType()->isVoidTy() ||
      entry->arg_size() != tensorCount ||
      llvm::any_of(entry->args(), [&](llvm::Argument &argument) {
        return argument.getType() != pointerType;
      }))
    return llvm::createStringError(
        "the lowered '" + signature.entry + "' has no C wrapper " + cifaceName +
        " taking " + std::to_string(tensorCount) + " descriptor pointers");

  // Only the C API is visible from outside: model functions (one is called
  // main) and weights become internal, which also lets LLVM inline and drop
  // what it wants.
  for (llvm::Function &function : module)
    if (!function.isDeclaration())
      function.setLinkage(llvm::GlobalValue::InternalLinkage);
  // The CPU goes into every function (the kernels carry theirs already), so
  // that the IR says what it was optimised for and llc compiles it alike.
  auto setTarget = [&](llvm::Function &function) {
    if (!function.hasFnAttribute("target-cpu"))
      function.addFnAttr("target-cpu", machine.getTargetCPU());
    if (!function.hasFnAttribute("target-features") &&
        !machine.getTargetFeatureString().empty())
      function.addFnAttr("target-features", machine.getTargetFeatureString());
  };
  for (llvm::Function &function : module)
    if (!function.isDeclaration())
      setTarget(function);
  for (llvm::GlobalVariable &global : module.globals())
    if (!global.isDeclaration() && !global.getName().starts_with("llvm."))
      global.setLinkage(llvm::GlobalValue::InternalLinkage);

  // void entry(void **descriptors): calls the C wrapper with each pointer.
  auto *wrapperType = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                              {pointerType}, false);
  llvm::Function *wrapper =
      llvm::Function::Create(wrapperType, llvm::GlobalValue::InternalLinkage,
                             "quantc_model_entry", module);
  llvm::IRBuilder<> builder(llvm::BasicBlock::Create(context, "entry", wrapper));
  llvm::SmallVector<llvm::Value *> arguments;
  for (size_t index = 0; index < tensorCount; ++index)
    arguments.push_back(builder.CreateLoad(
        pointerType, builder.CreateConstInBoundsGEP1_64(
                         pointerType, wrapper->getArg(0), index)));
  builder.CreateCall(entry, arguments);
  builder.CreateRetVoid();
  setTarget(*wrapper);

  auto *i32 = llvm::Type::getInt32Ty(context);
  auto *i64 = llvm::Type::getInt64Ty(context);
  auto privateConstant = [&](llvm::Constant *init, const llvm::Twine &name) {
    auto *global =
        new llvm::GlobalVariable(module, init->getType(), /*isConstant=*/true,
                                 llvm::GlobalValue::PrivateLinkage, init, name);
    global->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    return global;
  };
  auto string = [&](llvm::StringRef text, const llvm::Twine &name) {
    return privateConstant(llvm::ConstantDataArray::getString(context, text),
                           name);
  };
  auto *tensorType =
      llvm::StructType::get(context, {pointerType, pointerType, i64, i32, i32});
  auto table = [&](llvm::ArrayRef<TensorSpec> specs, llvm::StringRef kind) {
    std::vector<llvm::Constant *> entries;
    for (auto [index, spec] : llvm::enumerate(specs)) {
      std::string base = "quantc.model." + kind.str() + std::to_string(index);
      std::vector<uint64_t> shape(spec.shape.begin(), spec.shape.end());
      entries.push_back(llvm::ConstantStruct::get(
          tensorType,
          {string(spec.name, base + ".name"),
           privateConstant(llvm::ConstantDataArray::get(context, shape),
                           base + ".shape"),
           llvm::ConstantInt::get(i64, spec.shape.size()),
           llvm::ConstantInt::get(i32, static_cast<int>(spec.dtype)),
           llvm::ConstantInt::get(i32, 0)}));
    }
    auto *arrayType = llvm::ArrayType::get(tensorType, entries.size());
    return privateConstant(llvm::ConstantArray::get(arrayType, entries),
                           "quantc.model." + kind);
  };
  auto *abiType = llvm::StructType::get(
      context, {i32, i32, i32, i32, pointerType, pointerType, pointerType,
                pointerType, pointerType});
  llvm::Constant *abi = llvm::ConstantStruct::get(
      abiType,
      {llvm::ConstantInt::get(i32, QUANTC_MODEL_ABI_VERSION),
       llvm::ConstantInt::get(i32, signature.arguments.size()),
       llvm::ConstantInt::get(i32, signature.results.size()),
       llvm::ConstantInt::get(i32, cudaChipMask(options.cudaChips)),
       table(signature.arguments, "inputs"),
       table(signature.results, "outputs"), wrapper,
       string(options.modelName, "quantc.model.name"),
       string(options.cpuTarget, "quantc.model.target")});
  new llvm::GlobalVariable(module, abiType, /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, abi,
                           QUANTC_MODEL_ABI_SYMBOL);
  std::string verifierMessage;
  llvm::raw_string_ostream verifierStream(verifierMessage);
  if (llvm::verifyModule(module, &verifierStream))
    return llvm::createStringError("the generated LLVM IR is invalid: " +
                                   verifierMessage);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Linking
//===----------------------------------------------------------------------===//

/// The first of `candidates` that exists.
static std::string firstExisting(llvm::ArrayRef<std::string> candidates) {
  for (const std::string &candidate : candidates)
    if (!candidate.empty() && llvm::sys::fs::exists(candidate))
      return candidate;
  return "";
}

static std::string toolDirectory() {
  std::string executable = llvm::sys::fs::getMainExecutable(
      nullptr, reinterpret_cast<void *>(&toolDirectory));
  return llvm::sys::path::parent_path(executable).str();
}

/// Links `object` with the model runtime into the shared library `output`
/// (its temporary name `temporary`).
static llvm::Error linkSharedLibrary(const std::string &object,
                                     const std::string &temporary,
                                     const std::string &output,
                                     const AotOptions &options) {
  std::string tools = toolDirectory();
  std::string archive = options.runtimeArchive;
  if (archive.empty()) {
    llvm::SmallString<256> installed(tools);
    llvm::sys::path::append(installed, "..", "lib", "libQuantcModelRuntime.a");
    archive = firstExisting({installed.str().str(),
                             QUANTC_MODEL_RUNTIME_ARCHIVE});
  }
  if (archive.empty() || !llvm::sys::fs::exists(archive))
    return llvm::createStringError(
        "linking " + output + " failed: the model runtime " +
        "libQuantcModelRuntime.a is missing (build target QuantcModelRuntime)");
  std::string linker = options.linker;
  if (!linker.empty() && !llvm::StringRef(linker).contains('/'))
    if (auto found = llvm::sys::findProgramByName(linker))
      linker = *found;
  if (linker.empty()) {
    for (const char *name : {"clang-22", "clang"})
      if (auto found = llvm::sys::findProgramByName(name)) {
        linker = *found;
        break;
      }
    if (linker.empty())
      linker = firstExisting({QUANTC_CLANG, "/usr/lib/llvm-22/bin/clang"});
  }
  if (linker.empty())
    return llvm::createStringError("linking " + output +
                                   " failed: no clang-22 to link with");

  // Export exactly the C API.
  llvm::SmallString<128> versionScript;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "quantc-exports", "map", fd, versionScript))
    return llvm::createStringError("linking " + output +
                                   " failed: cannot create a temporary file (" +
                                   ec.message() + ")");
  llvm::FileRemover removeVersionScript(versionScript);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << "{\n  global:\n";
    for (const char *symbol :
         {"quantc_model_create", "quantc_model_destroy",
          "quantc_model_num_inputs", "quantc_model_num_outputs",
          "quantc_model_input_info", "quantc_model_output_info",
          "quantc_model_run", "quantc_model_set_num_threads",
          "quantc_model_get_num_threads", "quantc_model_last_error",
          "quantc_model_dtype_name", "quantc_model_api_version"})
      os << "    " << symbol << ";\n";
    os << "  local: *;\n};\n";
  }
  llvm::SmallString<128> linkerLog;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "quantc-link", "log", linkerLog))
    return llvm::createStringError("linking " + output +
                                   " failed: cannot create a temporary file (" +
                                   ec.message() + ")");
  llvm::FileRemover removeLinkerLog(linkerLog);

  std::string soname = "-Wl,-soname," + llvm::sys::path::filename(output).str();
  std::string versionScriptFlag =
      "-Wl,--version-script=" + versionScript.str().str();
  llvm::SmallVector<llvm::StringRef> arguments = {
      linker,        "-shared",
      "-fuse-ld=lld", "-o",
      temporary,     object,
      "-Wl,--whole-archive", archive,
      "-Wl,--no-whole-archive", versionScriptFlag,
      soname,        "-Wl,-z,defs",
      "-Wl,-z,noexecstack", "-Wl,--gc-sections",
      "-lstdc++",    "-lm",
      "-lpthread"};
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(linkerLog), llvm::StringRef(linkerLog)};
  std::string executeError;
  int status = llvm::sys::ExecuteAndWait(linker, arguments, std::nullopt,
                                         redirects, 0, 0, &executeError);
  if (status != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(linkerLog))
      log = llvm::StringRef((*buffer)->getBuffer()).trim().str();
    if (log.empty())
      log = executeError.empty() ? "exit code " + std::to_string(status)
                                 : executeError;
    return llvm::createStringError("linking " + output + " failed (" + linker +
                                   "): " + log);
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

llvm::Error writeAotArtifact(ModuleOp module, const std::string &outputPath,
                             const AotOptions &givenOptions) {
  AotOptions options = givenOptions;
  if (options.modelName.empty())
    options.modelName = modelNameFromPath(outputPath);
  bool toStdout = outputPath == "-";
  if (toStdout && options.emit != AotEmit::LLVMIR)
    return llvm::createStringError(
        "-: an object or a shared library cannot be written to stdout");

  if (!options.headerPath.empty() && options.emit != AotEmit::LLVMIR &&
      options.headerPath == outputPath)
    return llvm::createStringError(
        outputPath + ": the header would overwrite the " +
        (options.emit == AotEmit::Object ? "object" : "library") +
        "; give the output another extension (.so, .o)");
  // Unwritable outputs fail before the (slow) compilation.
  std::optional<PendingFile> output, header;
  if (!toStdout) {
    auto pending = PendingFile::create(outputPath);
    if (!pending)
      return pending.takeError();
    output.emplace(std::move(*pending));
  }
  if (options.emit != AotEmit::LLVMIR && !options.headerPath.empty()) {
    auto pending = PendingFile::create(options.headerPath);
    if (!pending)
      return pending.takeError();
    header.emplace(std::move(*pending));
  }
  auto targetMachine = createTargetMachine(options.cpuTarget);
  if (!targetMachine)
    return targetMachine.takeError();

  JitOptions lowering;
  lowering.entry = options.entry;
  lowering.caller = "quant-compile";
  lowering.cpuTarget = options.cpuTarget;
  lowering.fpContract = options.fpContract;
  if (!options.cudaChips.empty()) {
    for (llvm::StringRef chip : llvm::split(options.cudaChips, ','))
      if (gpuChipIndex(chip.trim().str().c_str()) < 0)
        return llvm::createStringError(
            "unknown NVIDIA chip '" + chip.trim().str() + "' (supported: " +
            llvm::join(supportedGpuChips(), ", ") + ")");
    DialectRegistry registry;
    registerQuantcGpuDialects(registry);
    module.getContext()->appendDialectRegistry(registry);
    std::string chips = options.cudaChips;
    lowering.beforeQcExpansion = [chips](OpPassManager &pm) {
      buildCudaDevicePipeline(pm, chips, /*packBinaries=*/true);
    };
    std::string cpuTarget = options.cpuTarget;
    bool fpContract = options.fpContract;
    lowering.buildLowering = [cpuTarget, chips, fpContract](OpPassManager &pm) {
      buildCudaHostPipeline(pm, cpuTarget, chips, /*packBinaries=*/true,
                            fpContract);
    };
  }
  llvm::Expected<EntrySignature> signature = prepareEntry(module, lowering);
  if (!signature)
    return signature.takeError();
  if (llvm::Error error = lowerEntryToLLVM(module, *signature, lowering))
    return error;

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, options.modelName);
  if (!llvmModule)
    return llvm::createStringError("translating '" + options.entry +
                                   "' to LLVM IR failed (see above)");
  llvmModule->setTargetTriple((*targetMachine)->getTargetTriple());
  llvmModule->setDataLayout((*targetMachine)->createDataLayout());
  if (llvm::Error error = addModelInterface(*llvmModule, *signature, options,
                                            **targetMachine))
    return error;
  auto optimize = makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0,
                                            targetMachine->get());
  if (llvm::Error error = optimize(llvmModule.get()))
    return llvm::createStringError("optimising the LLVM IR failed: " +
                                   llvm::toString(std::move(error)));
  if (options.emit != AotEmit::LLVMIR)
    redirectModelAllocations(*llvmModule);

  if (options.emit == AotEmit::LLVMIR) {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    if (toStdout) {
      llvm::outs() << text;
      return llvm::Error::success();
    }
    if (llvm::Error error = output->write(text))
      return error;
    return output->commit();
  }

  llvm::SmallVector<char, 0> object;
  {
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager codegen;
    if ((*targetMachine)
            ->addPassesToEmitFile(codegen, os, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
      return llvm::createStringError(
          "LLVM cannot emit an object file for this target");
    codegen.run(*llvmModule);
  }
  llvm::StringRef objectBytes(object.data(), object.size());

  if (options.emit == AotEmit::Object) {
    if (llvm::Error error = output->write(objectBytes))
      return error;
  } else {
    llvm::SmallString<128> objectPath;
    int fd;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "quantc-model", "o", fd, objectPath))
      return llvm::createStringError(
          "cannot create a temporary object file (" + ec.message() + ")");
    llvm::FileRemover removeObject(objectPath);
    {
      llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
      os << objectBytes;
      os.close();
      if (os.has_error())
        return llvm::createStringError("cannot write the temporary object " +
                                       objectPath.str().str() + " (" +
                                       os.error().message() + ")");
    }
    if (llvm::Error error =
            linkSharedLibrary(objectPath.str().str(), output->temporary(),
                              outputPath, options))
      return error;
  }

  if (header) {
    if (llvm::Error error = header->write(generateModelHeader(*signature, options)))
      return error;
    if (llvm::Error error = header->commit())
      return error;
  }
  if (llvm::Error error = output->commit()) {
    if (header)
      llvm::sys::fs::remove(header->path());
    return error;
  }
  return llvm::Error::success();
}

} // namespace quantc
