//===- GpuPipelines.h - Lowering to NVIDIA GPUs ------------------*- C++ -*-===//
//
// The pipelines that take qc.matmul to PTX and a host program that launches
// it through the MLIR GPU runtime entry points (mgpuLaunchKernel, ...):
//
//   qc-lower-gpu{chip}            qc.matmul -> gpu.launch_func + gpu.module
//   quantc-gpu-to-ptx{chip}       gpu.module -> gpu.binary holding PTX text
//   quantc-lower-to-cuda{chip}    both, then the CPU pipeline for the host
//                                 side: after bufferization the float graph
//                                 to kernels on device buffers
//                                 (quantc-graph-to-gpu, where a function
//                                 allows it, else staging), gpu-to-llvm
//
// PTX comes from LLVM's NVPTX back end (gpu-module-to-binary format=isa): no
// CUDA toolkit is needed to compile; the driver JIT-compiles the PTX when the
// module is loaded (lib/Runtime/CudaDriver.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_CONVERSION_GPUPIPELINES_H
#define QUANTC_CONVERSION_GPUPIPELINES_H

#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace quantc {

/// The GPU targets quantc generates code for.
std::vector<std::string> supportedGpuChips();

/// The NVPTX features (PTX ISA version) used for `chip`, e.g. "+ptx80" for
/// sm_90a; std::nullopt for a chip quantc does not support.
std::optional<std::string> ptxFeaturesForChip(llvm::StringRef chip);

/// The chip quantc targets on a device of compute capability major.minor
/// (9.0 -> sm_90a, 8.x -> sm_80, 10.x -> sm_100a, 12.x -> sm_120a).
std::optional<std::string> chipForComputeCapability(int major, int minor);

/// Registers the gpu, nvvm and related dialects, the NVVM target (PTX
/// serialization) and the GPU/NVVM translations to LLVM IR, on top of
/// registerQuantcDialects.
void registerQuantcGpuDialects(mlir::DialectRegistry &registry);

/// gpu.module ops -> NVVM -> gpu.binary with PTX for `chip` (anchored on
/// builtin.module).
void buildGpuToPtxPipeline(mlir::OpPassManager &pm, llvm::StringRef chip);

/// qc-lower-gpu{chip} then buildGpuToPtxPipeline: qc.matmul ops become
/// launches of kernels held as PTX in gpu.binary ops. Drivers run it before
/// qc-expand-formats (which would lower qc.matmul for the CPU). `chip` may
/// list several chips ("sm_80,sm_90a"): kernels for each, the launch chosen
/// at run time. With `packBinaries`, quantc-pack-gpu-binaries then adds a
/// cubin per chip where ptxas is available (compiled libraries).
void buildCudaDevicePipeline(mlir::OpPassManager &pm, llvm::StringRef chip,
                             bool packBinaries = false);

/// The host side after buildCudaDevicePipeline: the CPU pipeline with, after
/// bufferization, quantc-graph-to-gpu (the float graph's kernels and device
/// buffers, for `chips`, or the chips of the module's GPU code when empty),
/// their PTX, and quantc-stage-gpu-buffers for the launches of functions
/// that stay on the host; then gpu-to-llvm with bare pointers for kernels.
/// `cpuTarget` and `fpContract` as for buildCpuLoweringPipeline;
/// `packBinaries` as for buildCudaDevicePipeline.
void buildCudaHostPipeline(mlir::OpPassManager &pm,
                           llvm::StringRef cpuTarget = "native",
                           llvm::StringRef chips = "",
                           bool packBinaries = false, bool fpContract = true);

/// The whole CUDA lowering of a module of float tensor IR with qc ops:
/// buildCudaDevicePipeline then buildCudaHostPipeline. The result is LLVM
/// dialect that calls mgpu*.
void buildCudaLoweringPipeline(mlir::OpPassManager &pm, llvm::StringRef chip);

/// Tests only: the CUDA lowering for `chip` with every kernel run on the host
/// (quantc-test-gpu-kernels-on-host; device buffers are host buffers): with
/// `deviceSide`, the part drivers run before qc-expand-formats (qc-lower-gpu
/// with the kernels the host runs: no GEMV, no tensor cores), else the host
/// lowering.
void buildCudaOnHostTestPipeline(mlir::OpPassManager &pm, llvm::StringRef chip,
                                 bool deviceSide, bool fpContract = true);

/// Registers quantc-gpu-to-ptx and quantc-lower-to-cuda (option `chip`).
void registerQuantcGpuPipelines();

} // namespace quantc

#endif // QUANTC_CONVERSION_GPUPIPELINES_H
