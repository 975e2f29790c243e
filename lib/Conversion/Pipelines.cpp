//===- Pipelines.cpp - Lowering pipelines from quantc IR to LLVM ---------===//
//
// Only the dialects and passes the CPU lowering uses are registered here, on
// purpose: mlir/InitAll*.h would cost every including file half a minute of
// compile time and pull in dialects quantc never sees.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Pipelines.h"
#include "quantc/Conversion/Passes.h"
#include "quantc/Conversion/QcToCPU.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/ConvertToLLVM/ToLLVMPass.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferViewFlowOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/BufferViewFlowOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

#ifdef QUANTC_HAVE_QC_DIALECT
#include "qc/QcDialect.h"
#include "quantc/Transforms/Passes.h"
#endif

using namespace mlir;

namespace quantc {

void registerQuantcDialects(DialectRegistry &registry) {
  registry.insert<affine::AffineDialect, arith::ArithDialect,
                  bufferization::BufferizationDialect, cf::ControlFlowDialect,
                  func::FuncDialect, index::IndexDialect, linalg::LinalgDialect,
                  LLVM::LLVMDialect, math::MathDialect, memref::MemRefDialect,
                  scf::SCFDialect, tensor::TensorDialect, ub::UBDialect,
                  vector::VectorDialect>();
#ifdef QUANTC_HAVE_QC_DIALECT
  registry.insert<qc::QcDialect>();
#endif

  // One-shot bufferization: how each op maps from tensors to buffers, and
  // which ops write into a subset of a tensor (for in-place analysis).
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  cf::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerSubsetOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerSubsetOpInterfaceExternalModels(registry);
  vector::registerBufferizableOpInterfaceExternalModels(registry);

  // Ownership-based buffer deallocation through branches, loops and selects.
  arith::registerBufferDeallocationOpInterfaceExternalModels(registry);
  arith::registerBufferViewFlowOpInterfaceExternalModels(registry);
  cf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  memref::registerAllocationOpInterfaceExternalModels(registry);
  memref::registerBufferViewFlowOpInterfaceExternalModels(registry);
  scf::registerBufferDeallocationOpInterfaceExternalModels(registry);

  // `convert-to-llvm` finds its patterns through these interfaces.
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  vector::registerConvertVectorToLLVMInterface(registry);

  // LLVM dialect -> LLVM IR, for the JIT and for object emission.
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

void buildQcExpansionPipeline(OpPassManager &pm) {
#ifdef QUANTC_HAVE_QC_DIALECT
  pm.addPass(qc::createQcExpandFormats());
#else
  (void)pm;
#endif
}

void buildQcCpuExpansionPipeline(OpPassManager &pm,
                                 const std::string &cpuTarget) {
#ifdef QUANTC_HAVE_QC_DIALECT
  // Elementwise chains fuse before qc-lower-cpu too, so that a matmul's
  // consumers (bias, activation, residual, SwiGLU product) are one generic
  // that the kernel's store can take over.
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(createFuseElementwise());
  QcLowerCpuOptions options;
  options.target = cpuTarget;
  pm.addPass(createQcLowerCpu(options));
#else
  (void)cpuTarget;
#endif
  buildQcExpansionPipeline(pm);
}

void buildCpuLoweringPipeline(OpPassManager &pm,
                              const CpuLoweringHooks &hooks) {
  // qc ops become plain tensor/arith/math/scf first (qc.matmul with constant
  // weights a call to a kernel generated for the target), so that everything
  // below sees only upstream dialects.
  buildQcCpuExpansionPipeline(pm, hooks.cpuTarget);
  pm.addPass(createCanonicalizerPass());

  // Tensor-level: arith/math applied to whole tensors become linalg.generic,
  // and chains of elementwise generics fuse, so one loop nest reads each input
  // once instead of materialising every intermediate tensor; contractions
  // stay as they are, for quantc-vectorize-contractions.
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(createFuseElementwise());
  pm.addPass(createCanonicalizerPass());

  // Tensors -> buffers. Function boundaries get identity layouts so that a
  // caller can pass plain dense buffers (quant-run, the AOT C API); results
  // become out-parameters so that the caller, not the callee, owns them.
  bufferization::OneShotBufferizePassOptions bufferizeOptions;
  bufferizeOptions.bufferizeFunctionBoundaries = true;
  bufferizeOptions.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferizeOptions));
  pm.addPass(createCopyRepeatedReturnedBuffers());
  bufferization::BufferResultsToOutParamsPassOptions outParamsOptions;
  outParamsOptions.hoistStaticAllocs = true;
  outParamsOptions.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParamsOptions));
  pm.addPass(createCanonicalizerPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  if (hooks.afterBufferization)
    hooks.afterBufferization(pm);

  // Buffers -> loops -> control flow. expand-strided-metadata turns subview
  // offsets and strides into affine.apply, hence lower-affine once more.
  // f32 convolutions and matmuls: register-tiled vector kernels over the
  // thread pool, softmax the two-pass vector kernel, reductions along a
  // contiguous dimension vector accumulators; the other reductions get
  // their contiguous loop innermost.
  // Fused multiply-adds where the target has them (one rounding, and faster
  // than a multiply and an add even with separate pipes, see the pass).
  VectorizeContractionsOptions contractionOptions;
  std::string targetError;
  std::optional<cpu::CpuTarget> target =
      cpu::CpuTarget::parse(hooks.cpuTarget, targetError);
  contractionOptions.fma =
      hooks.fpContract && target && (target->fma || target->avx512);
  // Vectors as wide as the target's registers: 16 f32 lanes for AVX-512,
  // 8 for AVX2 (LLVM splits wider vectors into pairs of ymm, and a tile of
  // 4 x 16 lanes then needs 8 accumulators per row), 4 for SSE2.
  int64_t lanes = target ? target->vectorLanes() : 16;
  contractionOptions.vectorWidth = lanes;
  contractionOptions.vectorRegisters = target ? target->vectorRegisters() : 32;
  pm.addPass(createVectorizeContractions(contractionOptions));
  TwoPassSoftmaxOptions softmaxOptions;
  softmaxOptions.vectorWidth = lanes;
  pm.addPass(createTwoPassSoftmax(softmaxOptions));
  VectorizeReductionsOptions reductionOptions;
  reductionOptions.vectorWidth = lanes;
  pm.addPass(createVectorizeReductions(reductionOptions));
  pm.addPass(createFillPadBorders());
  pm.addPass(createStridedCopiesToLinalg());
  pm.addPass(createContiguousInnerLoop());
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());

  // Math: exp and log become inline polynomials (libm calls would keep the
  // loops scalar), ops LLVM has no intrinsic for are expanded into
  // arithmetic where MLIR knows how (tanh, ...), the rest map to LLVM
  // intrinsics (sqrt, ...), and what neither covers becomes a libm call
  // (erf, ...).
  pm.addPass(createApproximateMath());
  pm.addPass(math::createMathExpandOpsPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());

  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createLaunchParallelTasks());
  pm.addPass(createCanonicalizerPass());
}

void registerQuantcPipelines() {
  // The pipeline's own passes, so that quant-opt can run each alone.
  registerQuantcConversionPasses();
  PassPipelineRegistration<>(
      "quantc-lower-to-llvm",
      "Lower float tensor IR (func, linalg, tensor, arith, math, scf) and qc "
      "ops to the LLVM dialect for the host CPU; results become "
      "out-parameters",
      [](OpPassManager &pm) { buildCpuLoweringPipeline(pm); });
}

} // namespace quantc
