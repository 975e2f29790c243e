//===- AotLibrary.h - Compile a model ahead of time --------------*- C++ -*-===//
//
// What `quant-compile --emit so|obj|llvm` does after quantization: the entry
// function is prepared and lowered exactly as the JIT does it
// (quantc/Runtime/Jit.h, so a library computes what quant-run computes),
// translated to LLVM IR, optimised at O3 for the target CPU and
//
//   llvm  written as LLVM IR text;
//   obj   compiled to a PIC object that defines the model (the entry, its
//         weights as constants, the description the C API reads:
//         quantc/Runtime/ModelAbi.h); link it with the QuantcModelRuntime
//         archive to get the C API of quantc/Runtime/quantc_model.h;
//   so    linked with that archive into a shared library that exports the C
//         API only and needs nothing but libc, libm and libstdc++.
//
// With obj and so, a C header describing the model is written as well.
// Every file is written to a temporary name and renamed when everything has
// succeeded, so a failure never leaves a partial or stale output.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TARGET_AOTLIBRARY_H
#define QUANTC_TARGET_AOTLIBRARY_H

#include "quantc/Runtime/Jit.h"

#include "llvm/Support/Error.h"

#include <string>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace quantc {

enum class AotEmit { SharedLibrary, Object, LLVMIR };

struct AotOptions {
  /// The func.func to compile.
  std::string entry = "main";
  /// qc-lower-cpu's target, and the CPU the whole model is optimised for:
  /// x86-64, x86-64-v3, x86-64-v4, x86-64-v4-vnni or native (this host).
  std::string cpuTarget = "native";
  /// NVIDIA chips to run the qc.matmuls on ("sm_80,sm_90a"; empty: the CPU).
  /// The host code stays on cpuTarget; each qc.matmul the GPU kernels take
  /// is lowered once per chip (PTX, plus a cubin where ptxas is available)
  /// and the runtime launches the kernels of the chip the device runs
  /// (quantc/Conversion/GpuChips.h, selectGpuChip).
  std::string cudaChips;
  /// CpuLoweringHooks::fpContract.
  bool fpContract = true;
  AotEmit emit = AotEmit::SharedLibrary;
  /// The model's name: the prefix of the header's macros and the name the
  /// library reports. Default: the output file's stem.
  std::string modelName;
  /// Where the model came from ("mlp.onnx, recipe w4a8-int4"), for the
  /// header's comment.
  std::string description;
  /// The header to write with obj and so; empty for none.
  std::string headerPath;
  /// The QuantcModelRuntime archive and the compiler driver that links the
  /// shared library (clang, with lld); empty: found next to the tools or in
  /// the build tree.
  std::string runtimeArchive;
  std::string linker;
};

/// Compiles `module`'s entry into `outputPath` (and `options.headerPath`).
/// Errors name the file or stage at fault ("model.so: cannot write ...",
/// "linking model.so failed: ...").
llvm::Error writeAotArtifact(mlir::ModuleOp module,
                             const std::string &outputPath,
                             const AotOptions &options);

/// The C header of a compiled model: the C API (quantc_model.h) and, per
/// input and output, its name, dtype, rank, shape and size as macros
/// <PREFIX>_INPUT_<i>_NAME, ..._DTYPE, ..._RANK, ..._SHAPE ({d0, d1, ...}),
/// ..._NUM_ELEMENTS, with <PREFIX> the model name in upper case.
std::string generateModelHeader(const EntrySignature &signature,
                                const AotOptions &options);

/// The shared library's and the object's default file names' stem as a C
/// identifier: "mlp-int4.so" -> "mlp_int4".
std::string modelNameFromPath(const std::string &path);

} // namespace quantc

#endif // QUANTC_TARGET_AOTLIBRARY_H
