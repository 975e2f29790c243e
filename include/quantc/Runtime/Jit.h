//===- Jit.h - Compile an MLIR function in memory and call it ----*- C++ -*-===//
//
// The one way quantc tools run IR in-process: quant-run, calibration in
// quant-compile, tests. Given a module and the name of a func.func in it,
//
//   1. prepareEntry keeps only that function and what it calls, expands the
//      qc ops (qc.matmul with constant weights becomes a kernel generated for
//      the CPU target) and reads the signature the function is called with:
//      names, element types and static shapes of its arguments and results;
//   2. lowerEntryToLLVM lowers the module to the LLVM dialect with quantc's
//      CPU pipeline (quantc/Conversion/Pipelines.h), with results as
//      out-parameters the caller allocates;
//   3. JitFunction compiles the LLVM dialect with MLIR's ExecutionEngine
//      (optimised for this host) and calls the function on HostTensors, as
//      many times as wanted.
//
// JitFunction::compile does all three. The AOT writer (quant-compile --emit
// so) shares steps 1 and 2, so a library and the JIT run the same code.
//
//   quantc::JitOptions options;               // entry "main", host CPU, O3
//   options.extraSymbols.push_back({"quantc_observe", (void *)&observe});
//   auto function = quantc::JitFunction::compile(module, options);
//   if (!function) return function.takeError();
//   std::vector<quantc::HostTensor> outputs;
//   for (const auto &sample : samples)
//     if (llvm::Error error = (*function)->run(sample, outputs))
//       return error;
//
// Errors are llvm::Errors with one-line messages. Where a pass fails, MLIR's
// diagnostics go to the module context's handler first (install a
// SourceMgrDiagnosticHandler or ScopedDiagnosticHandler to see them) and the
// message says "(see above)".
//
// This is the only part of lib/Runtime that depends on MLIR (library
// QuantcJit); the rest stays MLIR-free so that compiled libraries can link it.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_RUNTIME_JIT_H
#define QUANTC_RUNTIME_JIT_H

#include "quantc/Runtime/Npy.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace llvm {
class Module;
class raw_ostream;
} // namespace llvm

namespace mlir {
class ExecutionEngine;
class ModuleOp;
class OpPassManager;
} // namespace mlir

namespace quantc {

/// One argument or result of the entry function as callers exchange it: a
/// dense C-order tensor of `dtype` and static `shape`.
struct TensorSpec {
  /// The `qc.name` argument / result attribute; else "arg<i>" for argument i
  /// and "<i>" for result i.
  std::string name;
  /// Results: a `!qc.packed` result, or a signless i8 result marked
  /// `qc.dtype = "uint8"` (ONNX uint8), is U8.
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// The MLIR type after qc expansion ("tensor<1x64xf32>"), for messages.
  std::string mlirType;
  /// A signless i8 argument holds bytes whose sign MLIR does not fix
  /// (packed formats): it accepts uint8 tensors too.
  bool acceptsUnsignedBytes = false;

  int64_t numElements() const;
  /// True if `tensor` can be passed as this argument.
  bool accepts(const HostTensor &tensor) const;
  /// "f32 [1, 64] (tensor<1x64xf32>)", for messages.
  std::string describe() const;
};

/// The entry function's name, arguments and results, in call order.
struct EntrySignature {
  std::string entry;
  std::vector<TensorSpec> arguments;
  std::vector<TensorSpec> results;
};

/// A function the compiled code may call that the JIT does not find by
/// itself: `name` resolves to `address`. quantc's kernel runtime
/// (quantc/Runtime/ThreadPool.h) is always registered.
struct JitSymbol {
  std::string name;
  void *address = nullptr;
};

struct JitOptions {
  /// The func.func to compile (its symbol name, without '@').
  std::string entry = "main";
  /// Who exchanges tensors with the function, for messages about signatures
  /// it cannot call ("quant-run supports f32, ...").
  std::string caller = "quantc";
  /// qc-lower-cpu's target for the qc.matmul kernels. The JIT runs on this
  /// machine, so anything but "native" only makes sense in tests.
  std::string cpuTarget = "native";
  /// CpuLoweringHooks::fpContract of the default lowering.
  bool fpContract = true;
  /// LLVM optimisation level of the JIT (0-3).
  unsigned optLevel = 3;
  /// If positive, quantc_set_num_threads(threads) when compiling. The thread
  /// pool is process-wide: this sets it for every compiled function.
  int threads = 0;
  /// Runtime functions to register in the JIT (calibration's observers, ...).
  std::vector<JitSymbol> extraSymbols;
  /// Shared libraries the JIT loads for symbols. When empty, MLIR's C runner
  /// utilities (memref.copy of non-contiguous views) if they are installed.
  std::vector<std::string> sharedLibraries;

  /// Hooks for drivers that run part of the model elsewhere (quant-run
  /// --device cuda). Passes to run before the qc ops are expanded:
  std::function<void(mlir::OpPassManager &)> beforeQcExpansion;
  /// The lowering to the LLVM dialect; default quantc::buildCpuLoweringPipeline
  /// for `cpuTarget`.
  std::function<void(mlir::OpPassManager &)> buildLowering;
  /// Called after initialisation and after every call; an error fails the run
  /// (asynchronous device errors).
  std::function<llvm::Error()> takeRuntimeError;

  /// If set, the lowered LLVM-dialect module is printed here before it is
  /// compiled.
  llvm::raw_ostream *printLoweredModule = nullptr;
};

/// Step 1: makes every function but `options.entry` private and drops those
/// it does not call, runs `options.beforeQcExpansion`, expands the qc ops for
/// `options.cpuTarget` and returns the signature the entry is then called
/// with. Fails if there is no such function, or an argument or result is not
/// a statically shaped tensor of f32, f16, f64, i1, i8, i16, i32, i64 or ui8.
llvm::Expected<EntrySignature> prepareEntry(mlir::ModuleOp module,
                                            const JitOptions &options);

/// Step 2, on a prepared module: marks the entry for C callers (a
/// `_mlir_ciface_<entry>` wrapper taking memref descriptor pointers, read-only
/// arguments; argument and result attributes are dropped), lowers the module
/// to the LLVM dialect and checks that nothing else is left. The lowered entry
/// takes the arguments, then one out-parameter per result, all as dense
/// identity-layout memrefs.
llvm::Error lowerEntryToLLVM(mlir::ModuleOp module,
                             const EntrySignature &signature,
                             const JitOptions &options);

/// Points a lowered model's malloc/calloc/aligned_alloc/free at the model
/// runtime's buffer functions (lib/Runtime/ModelMemory.cpp), which keep large
/// blocks between runs instead of returning them to the kernel (glibc hands
/// large blocks out through mmap, so every run would fault its intermediate
/// tensors in again). Call it after LLVM's optimisation, which still has to
/// know malloc and free; it does nothing if the module uses an allocation
/// function those do not cover. The JIT and the AOT writer both use it.
void redirectModelAllocations(llvm::Module &module);

/// A compiled entry function. Not copyable; calls may come from any thread,
/// one at a time per JitFunction.
class JitFunction {
public:
  /// prepareEntry + lowerEntryToLLVM + compileLowered. `module` is lowered in
  /// place.
  static llvm::Expected<std::unique_ptr<JitFunction>>
  compile(mlir::ModuleOp module, const JitOptions &options);

  /// Step 3: JIT-compiles a module lowered by lowerEntryToLLVM.
  static llvm::Expected<std::unique_ptr<JitFunction>>
  compileLowered(mlir::ModuleOp module, EntrySignature signature,
                 const JitOptions &options);

  ~JitFunction();
  JitFunction(const JitFunction &) = delete;
  JitFunction &operator=(const JitFunction &) = delete;

  const EntrySignature &signature() const { return entrySignature; }
  llvm::ArrayRef<TensorSpec> inputs() const { return entrySignature.arguments; }
  llvm::ArrayRef<TensorSpec> outputs() const { return entrySignature.results; }

  /// Calls the function on `inputs` (one per argument, in order, each of the
  /// argument's dtype and shape) and stores its results in `outputs`, resized
  /// to one tensor per result. Output tensors that already have the right
  /// dtype and shape are reused, so repeated calls do not allocate. Inputs are
  /// never written. A wrong count, dtype or shape is an error naming the
  /// argument.
  llvm::Error run(llvm::ArrayRef<HostTensor> inputs,
                  std::vector<HostTensor> &outputs);

private:
  JitFunction(std::unique_ptr<mlir::ExecutionEngine> engine,
              EntrySignature signature, const JitOptions &options);

  std::unique_ptr<mlir::ExecutionEngine> engine;
  EntrySignature entrySignature;
  std::function<llvm::Error()> takeRuntimeError;
};

} // namespace quantc

#endif // QUANTC_RUNTIME_JIT_H
