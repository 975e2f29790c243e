//===- Pipelines.h - Lowering pipelines from quantc IR to LLVM ---*- C++ -*-===//
//
// The pipelines that take the float tensor IR quantc works on (func + linalg,
// tensor, arith, math, scf; qc ops once the dialect is built in) down to the
// LLVM dialect, ready for the JIT (quant-run, calibration) or for translation
// to LLVM IR. Tools build them from here so that every driver lowers the same
// way, and `quant-opt --quantc-lower-to-llvm` runs the same passes on a file.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_CONVERSION_PIPELINES_H
#define QUANTC_CONVERSION_PIPELINES_H

#include <functional>
#include <string>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace quantc {

/// Registers every dialect the CPU lowering reads or produces, together with
/// the external interface models the passes rely on (bufferization of
/// arith/tensor/linalg/scf/func, buffer deallocation, conversion to LLVM) and
/// the translations from the LLVM dialect to LLVM IR.
void registerQuantcDialects(mlir::DialectRegistry &registry);

/// Appends to `pm` (anchored on builtin.module) the passes that rewrite qc
/// ops into upstream tensor IR; `!qc.packed` values, function arguments and
/// results included, become byte tensors (tensor<Nxi8>). Adds nothing when
/// quantc is built without the qc dialect. The CPU lowering starts with it;
/// drivers run it alone to see the signature a function will be called with.
void buildQcExpansionPipeline(mlir::OpPassManager &pm);

/// buildQcExpansionPipeline preceded by elementwise fusion (so that a
/// matmul's consumers are one generic its kernel can fold) and qc-lower-cpu
/// for `cpuTarget` (its
/// `target` option: x86-64, x86-64-v3, x86-64-v4, x86-64-v4-vnni or native,
/// the host): qc.matmul with constant weights becomes a call to a kernel
/// generated for that CPU, every other qc op its reference lowering. The CPU
/// lowering starts with it; drivers that expand first to read the signature
/// (quant-run, quantc/Runtime/Jit.h) use it so that the kernels are not
/// expanded away.
void buildQcCpuExpansionPipeline(mlir::OpPassManager &pm,
                                 const std::string &cpuTarget = "native");

/// Points in the CPU lowering where a driver adds passes of its own (the CUDA
/// lowering stages GPU kernel operands once buffers exist), and the CPU the
/// kernels are generated for.
struct CpuLoweringHooks {
  /// Runs on buffers, after deallocation, before loops are lowered.
  std::function<void(mlir::OpPassManager &)> afterBufferization;
  /// qc-lower-cpu's `target`: "native" for code that runs here (the JIT), a
  /// named ISA level for a library compiled ahead of time for other machines.
  std::string cpuTarget = "native";
  /// Float contractions multiply and add with one rounding (FMA) where
  /// cpuTarget has FMA (clang's -ffp-contract=on); false: a multiply and an
  /// add, bit-identical to the scalar loops and to targets without FMA.
  bool fpContract = true;
};

/// Appends to `pm` (anchored on builtin.module) the passes that lower float
/// tensor IR and qc ops to the LLVM dialect for `hooks.cpuTarget`. Tensor function
/// arguments and results become memrefs with identity layout; results become
/// trailing out-parameters the caller allocates, so that a caller owns every
/// buffer.
void buildCpuLoweringPipeline(mlir::OpPassManager &pm,
                              const CpuLoweringHooks &hooks = {});

/// Registers `buildCpuLoweringPipeline` as the pass pipeline
/// `quantc-lower-to-llvm`, and the passes of quantc's own that it runs
/// (include/quantc/Conversion/Passes.td), so that pass-pipeline parsers and
/// `quant-opt` know them.
void registerQuantcPipelines();

} // namespace quantc

#endif // QUANTC_CONVERSION_PIPELINES_H
