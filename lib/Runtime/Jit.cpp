//===- Jit.cpp - Compile an MLIR function in memory and call it -----------===//

#include "quantc/Runtime/Jit.h"

#include "quantc/Conversion/Pipelines.h"
#include "quantc/Runtime/JitSymbols.h"
#include "quantc/Runtime/ThreadPool.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir;

namespace quantc {

//===----------------------------------------------------------------------===//
// Signatures
//===----------------------------------------------------------------------===//

int64_t TensorSpec::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

bool TensorSpec::accepts(const HostTensor &tensor) const {
  bool dtypeFits = tensor.dtype == dtype ||
                   (acceptsUnsignedBytes && tensor.dtype == DType::U8);
  return dtypeFits && tensor.shape == shape;
}

static std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  return "[" +
         llvm::join(llvm::map_range(shape,
                                    [](int64_t d) { return std::to_string(d); }),
                    ", ") +
         "]";
}

std::string TensorSpec::describe() const {
  return std::string(dtypeName(dtype)) + " " + formatShape(shape) + " (" +
         mlirType + ")";
}

static std::string typeToString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

/// The HostTensor element type that holds `type` bit-exactly, if any.
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

/// Checks that `type` is a tensor callers can exchange and describes it;
/// errors name `what` ("argument 'x' of 'f'").
static llvm::Expected<TensorSpec> makeSpec(std::string name, Type type,
                                           const std::string &what,
                                           const std::string &caller) {
  auto tensorType = dyn_cast<RankedTensorType>(type);
  if (!tensorType)
    return llvm::createStringError(what + " has type " + typeToString(type) +
                                   "; " + caller +
                                   " exchanges ranked tensors only");
  if (!tensorType.hasStaticShape())
    return llvm::createStringError(what + " has dynamic shape " +
                                   typeToString(type) + "; specialise it");
  std::optional<DType> dtype = dtypeForElementType(tensorType.getElementType());
  if (!dtype)
    return llvm::createStringError(
        what + " has element type " +
        typeToString(tensorType.getElementType()) + "; " + caller +
        " supports f32, f16, f64, i1, i8, i16, i32, i64, ui8");
  TensorSpec spec;
  spec.name = std::move(name);
  spec.dtype = *dtype;
  spec.shape.assign(tensorType.getShape().begin(), tensorType.getShape().end());
  spec.mlirType = typeToString(type);
  spec.acceptsUnsignedBytes =
      *dtype == DType::I8 && tensorType.getElementType().isSignlessInteger(8);
  return spec;
}

static std::string nameFromAttr(DictionaryAttr attrs, std::string fallback) {
  if (attrs)
    if (auto name = attrs.getAs<StringAttr>("qc.name"))
      return name.str();
  return fallback;
}

static llvm::Expected<EntrySignature>
readSignature(func::FuncOp func, llvm::ArrayRef<bool> resultIsPacked,
              const std::string &caller) {
  EntrySignature signature;
  signature.entry = func.getSymName().str();
  std::string funcName = "'" + signature.entry + "'";
  llvm::StringSet<> seen;
  for (auto [index, type] : llvm::enumerate(func.getArgumentTypes())) {
    std::string name =
        nameFromAttr(func.getArgAttrDict(index), "arg" + std::to_string(index));
    if (!seen.insert(name).second)
      return llvm::createStringError("function " + funcName +
                                     " has two arguments named '" + name + "'");
    auto spec = makeSpec(name, type, "argument '" + name + "' of " + funcName,
                         caller);
    if (!spec)
      return spec.takeError();
    signature.arguments.push_back(std::move(*spec));
  }
  for (auto [index, type] : llvm::enumerate(func.getResultTypes())) {
    std::string name =
        nameFromAttr(func.getResultAttrDict(index), std::to_string(index));
    auto spec =
        makeSpec(name, type, "result '" + name + "' of " + funcName, caller);
    if (!spec)
      return spec.takeError();
    // Bytes are unsigned: packed results (as quant-tensor writes them) and
    // signless i8 holding ONNX uint8.
    bool unsignedBytes = index < resultIsPacked.size() && resultIsPacked[index];
    if (DictionaryAttr attrs = func.getResultAttrDict(index))
      if (auto dtype = attrs.getAs<StringAttr>("qc.dtype"))
        unsignedBytes |= dtype.getValue() == "uint8";
    if (unsignedBytes && spec->dtype == DType::I8)
      spec->dtype = DType::U8;
    spec->acceptsUnsignedBytes = false;
    signature.results.push_back(std::move(*spec));
  }
  return signature;
}

//===----------------------------------------------------------------------===//
// Preparing and lowering
//===----------------------------------------------------------------------===//

/// The entry function, or an error listing the functions there are.
static llvm::Expected<func::FuncOp> findEntry(ModuleOp module,
                                              const std::string &entry) {
  auto func = module.lookupSymbol<func::FuncOp>(entry);
  if (func && func.isExternal())
    return llvm::createStringError("function '" + entry +
                                   "' is only a declaration (no body)");
  if (!func) {
    std::vector<std::string> names;
    for (auto candidate : module.getOps<func::FuncOp>())
      if (!candidate.isExternal())
        names.push_back(candidate.getSymName().str());
    return llvm::createStringError(
        "no function '" + entry + "' (functions: " +
        (names.empty() ? "none" : llvm::join(names, ", ")) + ")");
  }
  return func;
}

llvm::Expected<EntrySignature> prepareEntry(ModuleOp module,
                                            const JitOptions &options) {
  auto func = findEntry(module, options.entry);
  if (!func)
    return func.takeError();
  llvm::SmallVector<bool> resultIsPacked;
  for (Type type : func->getResultTypes())
    resultIsPacked.push_back(!isa<TensorType>(type) &&
                             type.getDialect().getNamespace() == "qc");
  // Another function of the file that does not lower yet cannot stop this
  // one: only the entry and what it calls stay.
  for (auto other : module.getOps<func::FuncOp>())
    if (other != *func)
      other.setPrivate();
  PassManager expansion(module.getContext());
  expansion.addPass(createSymbolDCEPass());
  if (options.beforeQcExpansion)
    options.beforeQcExpansion(expansion);
  buildQcCpuExpansionPipeline(expansion, options.cpuTarget);
  if (failed(expansion.run(module)))
    return llvm::createStringError("expanding the qc ops of '" +
                                   options.entry + "' failed (see above)");
  return readSignature(module.lookupSymbol<func::FuncOp>(options.entry),
                       resultIsPacked, options.caller);
}

/// Marks the entry function for C callers: a C-compatible wrapper taking
/// descriptor pointers, and read-only arguments, so that bufferization copies
/// instead of writing into the caller's input buffers (which repeated calls
/// reuse). The argument and result attributes (qc.name, ...) have been read
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
    // GPU code after gpu-to-llvm (quant-run --device cuda, libraries for
    // cuda:...): the GPU dialect's LLVM IR translation embeds the binaries
    // and lowers the launches.
    if (op->getName().getStringRef() == "gpu.binary" ||
        op->getName().getStringRef() == "gpu.launch_func")
      return WalkResult::skip();
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

llvm::Error lowerEntryToLLVM(ModuleOp module, const EntrySignature &signature,
                             const JitOptions &options) {
  auto func = module.lookupSymbol<func::FuncOp>(signature.entry);
  if (!func)
    return llvm::createStringError("no function '" + signature.entry +
                                   "' to lower (was the module prepared?)");
  prepareEntryFunction(func);
  PassManager pm(module.getContext());
  if (options.buildLowering) {
    options.buildLowering(pm);
  } else {
    CpuLoweringHooks hooks;
    hooks.cpuTarget = options.cpuTarget;
    hooks.fpContract = options.fpContract;
    buildCpuLoweringPipeline(pm, hooks);
  }
  if (failed(pm.run(module)))
    return llvm::createStringError("lowering '" + signature.entry +
                                   "' to LLVM failed (see above)");
  if (options.printLoweredModule) {
    module.print(*options.printLoweredModule);
    *options.printLoweredModule << "\n";
  }
  if (Operation *leftover = findUnloweredOp(module)) {
    leftover->emitError() << "'" << leftover->getName()
                          << "' is not lowered to LLVM by the CPU pipeline";
    return llvm::createStringError("cannot compile '" + signature.entry +
                                   "': an operation is not lowered to LLVM "
                                   "(see above)");
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Compiling and calling
//===----------------------------------------------------------------------===//

/// A strided memref descriptor as the LLVM lowering lays it out for any rank:
/// {allocated ptr, aligned ptr, offset, sizes[rank], strides[rank]}, all
/// 64-bit on the hosts quantc supports, for a dense C-order buffer.
static void fillDescriptor(const void *data, llvm::ArrayRef<int64_t> shape,
                           std::vector<int64_t> &fields) {
  static_assert(sizeof(void *) == sizeof(int64_t),
                "memref descriptors assume 64-bit pointers");
  size_t rank = shape.size();
  fields.assign(3 + 2 * rank, 0);
  auto pointer = reinterpret_cast<int64_t>(data);
  fields[0] = pointer;
  fields[1] = pointer;
  int64_t stride = 1;
  for (size_t dim = rank; dim-- > 0;) {
    fields[3 + dim] = shape[dim];
    fields[3 + rank + dim] = stride;
    stride *= shape[dim];
  }
}

extern "C" {
// lib/Runtime/ModelMemory.cpp: allocations that keep the large blocks of
// recent runs for the next.
void *quantc_model_buffer_malloc(size_t size);
void *quantc_model_buffer_calloc(size_t count, size_t size);
void *quantc_model_buffer_aligned_alloc(size_t alignment, size_t size);
void quantc_model_buffer_free(void *block);
}

void redirectModelAllocations(llvm::Module &module) {
  for (const char *other :
       {"realloc", "reallocarray", "posix_memalign", "malloc_usable_size"})
    if (module.getFunction(other))
      return;
  for (auto [from, to] :
       {std::pair{"malloc", "quantc_model_buffer_malloc"},
        std::pair{"calloc", "quantc_model_buffer_calloc"},
        std::pair{"aligned_alloc", "quantc_model_buffer_aligned_alloc"},
        std::pair{"free", "quantc_model_buffer_free"}})
    if (llvm::Function *function = module.getFunction(from))
      if (function->isDeclaration())
        function->setName(to);
}

static void registerModelMemorySymbols(ExecutionEngine &engine) {
  engine.registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    auto add = [&](const char *name, void *address) {
      symbols[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                 llvm::JITSymbolFlags::Exported};
    };
    add("quantc_model_buffer_malloc",
        reinterpret_cast<void *>(&quantc_model_buffer_malloc));
    add("quantc_model_buffer_calloc",
        reinterpret_cast<void *>(&quantc_model_buffer_calloc));
    add("quantc_model_buffer_aligned_alloc",
        reinterpret_cast<void *>(&quantc_model_buffer_aligned_alloc));
    add("quantc_model_buffer_free",
        reinterpret_cast<void *>(&quantc_model_buffer_free));
    return symbols;
  });
}

llvm::Expected<std::unique_ptr<JitFunction>>
JitFunction::compile(ModuleOp module, const JitOptions &options) {
  auto signature = prepareEntry(module, options);
  if (!signature)
    return signature.takeError();
  if (llvm::Error error = lowerEntryToLLVM(module, *signature, options))
    return std::move(error);
  return compileLowered(module, std::move(*signature), options);
}

llvm::Expected<std::unique_ptr<JitFunction>>
JitFunction::compileLowered(ModuleOp module, EntrySignature signature,
                            const JitOptions &options) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  if (options.threads > 0)
    quantc_set_num_threads(options.threads);
  // A target machine for this host, with its CPU features: without one the
  // LLVM optimizer knows no vector registers and vectorizes nothing.
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  llvm::CodeGenOptLevel codeGenLevel =
      options.optLevel == 0   ? llvm::CodeGenOptLevel::None
      : options.optLevel == 1 ? llvm::CodeGenOptLevel::Less
      : options.optLevel == 2 ? llvm::CodeGenOptLevel::Default
                              : llvm::CodeGenOptLevel::Aggressive;
  machineBuilder->setCodeGenOptLevel(codeGenLevel);
  auto targetMachine = machineBuilder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto optimizeOnly = makeOptimizingTransformer(
      std::min(options.optLevel, 3u), /*sizeLevel=*/0, targetMachine->get());
  std::function<llvm::Error(llvm::Module *)> optimize =
      [optimizeOnly](llvm::Module *module) -> llvm::Error {
    if (llvm::Error error = optimizeOnly(module))
      return error;
    redirectModelAllocations(*module);
    return llvm::Error::success();
  };

  // memref.copy of non-contiguous views lowers to a call into the runner
  // utilities; load them so that such copies resolve.
  std::vector<std::string> libraries = options.sharedLibraries;
#ifdef QUANTC_MLIR_C_RUNNER_UTILS
  if (libraries.empty() && llvm::sys::fs::exists(QUANTC_MLIR_C_RUNNER_UTILS))
    libraries.push_back(QUANTC_MLIR_C_RUNNER_UTILS);
#endif
  llvm::SmallVector<llvm::StringRef> libraryRefs(libraries.begin(),
                                                 libraries.end());
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = optimize;
  engineOptions.jitCodeGenOptLevel = codeGenLevel;
  engineOptions.sharedLibPaths = libraryRefs;
  auto engine =
      ExecutionEngine::create(module, engineOptions, std::move(*targetMachine));
  if (!engine)
    return llvm::createStringError("JIT compilation failed: " +
                                   llvm::toString(engine.takeError()));
  registerKernelRuntimeSymbols(**engine);
  registerModelMemorySymbols(**engine);
  if (!options.extraSymbols.empty()) {
    std::vector<JitSymbol> extra = options.extraSymbols;
    (*engine)->registerSymbols(
        [extra](llvm::orc::MangleAndInterner interner) {
          llvm::orc::SymbolMap symbols;
          for (const JitSymbol &symbol : extra)
            symbols[interner(symbol.name)] = {
                llvm::orc::ExecutorAddr::fromPtr(symbol.address),
                llvm::JITSymbolFlags::Exported};
          return symbols;
        });
  }
  (*engine)->initialize();
  if (options.takeRuntimeError)
    if (llvm::Error error = options.takeRuntimeError())
      return std::move(error);
  return std::unique_ptr<JitFunction>(
      new JitFunction(std::move(*engine), std::move(signature), options));
}

JitFunction::JitFunction(std::unique_ptr<ExecutionEngine> engine,
                         EntrySignature signature, const JitOptions &options)
    : engine(std::move(engine)), entrySignature(std::move(signature)),
      takeRuntimeError(options.takeRuntimeError) {}

JitFunction::~JitFunction() = default;

llvm::Error JitFunction::run(llvm::ArrayRef<HostTensor> inputs,
                             std::vector<HostTensor> &outputs) {
  const std::string &entry = entrySignature.entry;
  if (inputs.size() != entrySignature.arguments.size())
    return llvm::createStringError(
        "'" + entry + "' takes " +
        std::to_string(entrySignature.arguments.size()) +
        " argument(s) but was given " + std::to_string(inputs.size()));
  for (auto [input, argument] : llvm::zip(inputs, entrySignature.arguments))
    if (!argument.accepts(input))
      return llvm::createStringError(
          "argument '" + argument.name + "' of '" + entry + "' expects " +
          argument.describe() + " but was given " + dtypeName(input.dtype) +
          " " + formatShape(input.shape));

  outputs.resize(entrySignature.results.size());
  for (auto [output, result] : llvm::zip(outputs, entrySignature.results)) {
    size_t bytes = result.numElements() * dtypeSize(result.dtype);
    if (output.dtype == result.dtype && output.shape == result.shape &&
        output.bytes.size() == bytes)
      continue;
    output.dtype = result.dtype;
    output.shape = result.shape;
    output.bytes.assign(bytes, 0);
  }

  // The C wrapper takes a pointer to each argument's and result's descriptor;
  // the packed calling convention takes the address of each such pointer.
  size_t count = inputs.size() + outputs.size();
  std::vector<std::vector<int64_t>> descriptors(count);
  std::vector<void *> descriptorPointers(count);
  std::vector<void *> packedArguments(count);
  for (size_t index = 0; index < count; ++index) {
    const HostTensor &tensor = index < inputs.size()
                                   ? inputs[index]
                                   : outputs[index - inputs.size()];
    fillDescriptor(tensor.bytes.data(), tensor.shape, descriptors[index]);
    descriptorPointers[index] = descriptors[index].data();
    packedArguments[index] = &descriptorPointers[index];
  }
  if (llvm::Error error =
          engine->invokePacked("_mlir_ciface_" + entry, packedArguments))
    return llvm::createStringError("cannot call '" + entry +
                                   "': " + llvm::toString(std::move(error)));
  if (takeRuntimeError)
    if (llvm::Error error = takeRuntimeError())
      return error;
  return llvm::Error::success();
}

} // namespace quantc
