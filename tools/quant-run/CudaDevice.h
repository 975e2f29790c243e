//===- CudaDevice.h - quant-run --device cuda --------------------*- C++ -*-===//
//
// What quant-run does differently when qc.matmul runs on an NVIDIA GPU: open
// the device before anything else (a machine without one fails at once with
// one line), lower qc.matmul with qc-lower-gpu for the device's chip before
// the qc ops are expanded for the CPU, lower the host side with the CUDA host
// pipeline, and give the JIT the mgpu* runtime entry points.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TOOLS_QUANT_RUN_CUDADEVICE_H
#define QUANTC_TOOLS_QUANT_RUN_CUDADEVICE_H

#include "quantc/Runtime/Jit.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace quantrun {

/// The category of --device and --gpu-chip (shown in quant-run --help).
llvm::cl::OptionCategory &deviceCategory();

/// True for --device cuda.
bool runsOnCuda();

/// --device cuda: opens the CUDA device and picks the chip (--gpu-chip, or
/// the device's). False with a one-line `error` on failure. True for cpu.
bool openDevice(std::string &error);

/// The GPU dialects and translations, for --device cuda.
void registerDeviceDialects(mlir::DialectRegistry &registry);

/// --device cuda: qc-lower-gpu and PTX generation, to run before the qc ops
/// are expanded. Nothing for cpu.
void addDevicePasses(mlir::OpPassManager &pm);

/// The host lowering: the CPU pipeline, or for cuda the CUDA host pipeline.
/// `fpContract` as CpuLoweringHooks::fpContract (quant-run --fp-contract).
void buildHostLowering(mlir::OpPassManager &pm, bool fpContract);

/// --device cuda: the mgpu* entry points, for the JIT. None for cpu.
std::vector<quantc::JitSymbol> deviceSymbols();

/// The first CUDA runtime error since the last call, as an llvm::Error.
llvm::Error takeDeviceError();

} // namespace quantrun

#endif // QUANTC_TOOLS_QUANT_RUN_CUDADEVICE_H
