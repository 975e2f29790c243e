//===- GpuPipelines.cpp - Lowering to NVIDIA GPUs -------------------------===//
//
// Only the GPU-side dialects, passes and translations are registered here,
// on top of the CPU ones (Pipelines.cpp); see GpuPipelines.h for the flow.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/GpuChips.h"
#include "quantc/Conversion/Passes.h"
#include "quantc/Conversion/Pipelines.h"

#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace quantc {

namespace {
/// gpu.launch_func declares no memory effects, which the CPU pipeline's
/// ownership-based buffer deallocation refuses ("ops with unknown memory side
/// effects are not supported"). A launch of a quantc kernel reads and writes
/// nothing but its memref operands, so say so.
struct LaunchFuncMemoryEffects
    : public MemoryEffectOpInterface::ExternalModel<LaunchFuncMemoryEffects,
                                                    mlir::gpu::LaunchFuncOp> {
  void getEffects(
      Operation *op,
      SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
          &effects) const {
    for (OpOperand &operand : op->getOpOperands()) {
      if (!isa<MemRefType>(operand.get().getType()))
        continue;
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
    }
  }
};

} // namespace

std::vector<std::string> supportedGpuChips() {
  std::vector<std::string> chips;
  for (const GpuChip &info : kGpuChips)
    chips.push_back(info.name);
  return chips;
}

std::optional<std::string> ptxFeaturesForChip(llvm::StringRef chip) {
  for (const GpuChip &info : kGpuChips)
    if (chip == info.name)
      return std::string(info.ptxFeatures);
  return std::nullopt;
}

std::optional<std::string> chipForComputeCapability(int major, int minor) {
  (void)minor;
  switch (major) {
  case 8:
    return std::string("sm_80");
  case 9:
    return std::string("sm_90a");
  case 10:
    return std::string("sm_100a");
  case 12:
    return std::string("sm_120a");
  default:
    return std::nullopt;
  }
}

void registerQuantcGpuDialects(DialectRegistry &registry) {
  registry.insert<mlir::gpu::GPUDialect, NVVM::NVVMDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  // gpu.binary's default handler (#gpu.select_object): embeds the object and
  // lowers gpu.launch_func to mgpu* calls when translating to LLVM IR.
  mlir::gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  registerNVVMDialectTranslation(registry);
  registry.addExtension(+[](MLIRContext *ctx, mlir::gpu::GPUDialect *) {
    mlir::gpu::LaunchFuncOp::attachInterface<LaunchFuncMemoryEffects>(*ctx);
  });
}

void buildGpuToPtxPipeline(OpPassManager &pm, llvm::StringRef chip) {
  (void)chip; // the chip is on each gpu.module's #nvvm.target
  OpPassManager &kernels = pm.nest<mlir::gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  ConvertGpuOpsToNVVMOpsOptions nvvmOptions;
  // Kernels take static memrefs: pass them as plain pointers, so that a
  // launch passes three pointers, not three descriptors.
  nvvmOptions.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvmOptions));
  // NVVM ops written as inline PTX (wgmma.mma_async, ...).
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binaryOptions;
  binaryOptions.compilationTarget = "isa"; // PTX text, no CUDA toolkit
  pm.addPass(createGpuModuleToBinaryPass(binaryOptions));
}

void buildCudaDevicePipeline(OpPassManager &pm, llvm::StringRef chip,
                             bool packBinaries) {
  QcLowerGpuOptions options;
  options.chip = chip.str();
  pm.addPass(createQcLowerGpu(options));
  buildGpuToPtxPipeline(pm, chip);
  if (packBinaries)
    pm.addPass(createPackGpuBinaries());
}

void buildCudaHostPipeline(OpPassManager &pm, llvm::StringRef cpuTarget) {
  CpuLoweringHooks hooks;
  hooks.cpuTarget = cpuTarget.str();
  hooks.afterBufferization = [](OpPassManager &p) {
    p.addPass(createStageGpuBuffers());
  };
  buildCpuLoweringPipeline(pm, hooks);
  GpuToLLVMConversionPassOptions hostOptions;
  hostOptions.kernelBarePtrCallConv = true;
  pm.addPass(createGpuToLLVMConversionPass(hostOptions));
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void buildCudaLoweringPipeline(OpPassManager &pm, llvm::StringRef chip) {
  buildCudaDevicePipeline(pm, chip);
  buildCudaHostPipeline(pm);
}

namespace {
struct ChipOptions : public PassPipelineOptions<ChipOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("sm_80, sm_90a, sm_100a or sm_120a"),
                           llvm::cl::init("sm_90a")};
};
} // namespace

void registerQuantcGpuPipelines() {
  PassPipelineRegistration<ChipOptions>(
      "quantc-gpu-to-ptx",
      "Lower gpu.module ops (gpu, scf, arith, vector, memref, nvvm) to "
      "gpu.binary ops holding PTX for their #nvvm.target",
      [](OpPassManager &pm, const ChipOptions &options) {
        buildGpuToPtxPipeline(pm, options.chip);
      });
  PassPipelineRegistration<ChipOptions>(
      "quantc-lower-to-cuda",
      "Lower float tensor IR with qc ops to LLVM for the host, with every "
      "qc.matmul the GPU kernels take running on the GPU (PTX for `chip`)",
      [](OpPassManager &pm, const ChipOptions &options) {
        buildCudaLoweringPipeline(pm, options.chip);
      });
}

} // namespace quantc
