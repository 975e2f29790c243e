//===- CudaDevice.cpp - quant-run --device cuda ---------------------------===//

#include "CudaDevice.h"

#include "quantc/Conversion/GpuChips.h"
#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/Pipelines.h"
#include "quantc/Runtime/CudaDriver.h"

namespace cl = llvm::cl;

namespace quantrun {

cl::OptionCategory &deviceCategory() {
  static cl::OptionCategory category("quant-run device options");
  return category;
}

static cl::opt<std::string> deviceName(
    "device", cl::init("cpu"), cl::value_desc("cpu|cuda"),
    cl::desc("Where the model runs: cpu, or cuda (the first NVIDIA GPU, "
             "through libcuda.so.1: qc.matmul and, where a function allows "
             "it, the float graph on device buffers); cuda-on-host (tests): "
             "the CUDA lowering with the kernels run on this CPU"),
    cl::cat(deviceCategory()));

static cl::opt<std::string> gpuChip(
    "gpu-chip", cl::value_desc("chip"),
    cl::desc("With --device cuda: the chip to generate PTX for (sm_80, "
             "sm_90a, sm_100a, sm_120a); default: the device's"),
    cl::cat(deviceCategory()));

static std::string chosenChip;

bool runsOnCuda() { return deviceName == "cuda"; }

/// --device cuda-on-host (tests): the CUDA lowering with every kernel run
/// on the host (quantc-test-gpu-kernels-on-host), no GPU needed.
static bool runsCudaOnHost() { return deviceName == "cuda-on-host"; }

bool openDevice(std::string &error) {
  if (deviceName == "cpu")
    return true;
  if (runsCudaOnHost()) {
    chosenChip = gpuChip.empty() ? std::string("sm_80") : gpuChip.getValue();
    return true;
  }
  if (deviceName != "cuda") {
    error = "unknown --device '" + deviceName + "' (cpu or cuda)";
    return false;
  }
  const quantc::cuda::Device *device = quantc::cuda::openDevice(error);
  if (!device)
    return false;
  if (!gpuChip.empty()) {
    if (!quantc::ptxFeaturesForChip(gpuChip)) {
      error = "unknown --gpu-chip '" + gpuChip + "'";
      return false;
    }
    int index = quantc::gpuChipIndex(gpuChip.c_str());
    if (!quantc::gpuChipRunsOn(quantc::kGpuChips[index], device->computeMajor,
                               device->computeMinor)) {
      error = "--gpu-chip " + gpuChip + ": " + device->name +
              " (compute capability " + std::to_string(device->computeMajor) +
              "." + std::to_string(device->computeMinor) +
              ") does not run code for it";
      return false;
    }
    chosenChip = gpuChip;
    return true;
  }
  std::optional<std::string> chip = quantc::chipForComputeCapability(
      device->computeMajor, device->computeMinor);
  if (!chip) {
    error = device->name + " (compute capability " +
            std::to_string(device->computeMajor) + "." +
            std::to_string(device->computeMinor) +
            ") is not a target of quantc (sm_80, sm_90a, sm_100a, sm_120a)";
    return false;
  }
  chosenChip = *chip;
  return true;
}

void registerDeviceDialects(mlir::DialectRegistry &registry) {
  quantc::registerQuantcGpuDialects(registry);
}

void addDevicePasses(mlir::OpPassManager &pm) {
  if (runsOnCuda())
    quantc::buildCudaDevicePipeline(pm, chosenChip);
  else if (runsCudaOnHost())
    quantc::buildCudaOnHostTestPipeline(pm, chosenChip, /*deviceSide=*/true);
}

void buildHostLowering(mlir::OpPassManager &pm, bool fpContract) {
  if (runsOnCuda()) {
    quantc::buildCudaHostPipeline(pm, "native", chosenChip,
                                  /*packBinaries=*/false, fpContract);
  } else if (runsCudaOnHost()) {
    quantc::buildCudaOnHostTestPipeline(pm, chosenChip, /*deviceSide=*/false,
                                        fpContract);
  } else {
    quantc::CpuLoweringHooks hooks;
    hooks.fpContract = fpContract;
    quantc::buildCpuLoweringPipeline(pm, hooks);
  }
}

std::vector<quantc::JitSymbol> deviceSymbols() {
  std::vector<quantc::JitSymbol> symbols;
  if (runsOnCuda())
    for (auto [name, address] : quantc::cuda::mgpuRuntimeSymbols())
      symbols.push_back({name, address});
  return symbols;
}

llvm::Error takeDeviceError() {
  std::string error = quantc::cuda::takeCudaRuntimeError();
  if (error.empty())
    return llvm::Error::success();
  return llvm::createStringError("on the GPU: " + error);
}

} // namespace quantrun
