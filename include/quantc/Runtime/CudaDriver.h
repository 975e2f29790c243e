//===- CudaDriver.h - The CUDA driver, loaded at run time --------*- C++ -*-===//
//
// quantc never links against CUDA: the driver (libcuda.so.1) is opened with
// dlopen the first time a GPU is asked for, so that quantc builds, and every
// non-GPU path runs, on machines without one. Failures are one-line messages
// ("no CUDA driver (libcuda.so.1 not found)", "no CUDA device"), never
// crashes.
//
// On top of the driver this provides the runtime entry points that MLIR's
// gpu-to-llvm lowering calls (mgpuModuleLoadJIT, mgpuLaunchKernel,
// mgpuMemAlloc, mgpuMemcpy, mgpuStreamCreate, ...), with C linkage, so that
// code compiled by quantc-lower-to-cuda runs in the JIT (quant-run registers
// mgpuRuntimeSymbols()) or in a program that exports them. They run on the
// primary context of the default device; since they cannot return errors,
// the first failure is kept for takeCudaRuntimeError().
//
// No MLIR here.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_RUNTIME_CUDADRIVER_H
#define QUANTC_RUNTIME_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace quantc::cuda {

// The driver API's handles and enums quantc uses (ABI-stable since CUDA 4).
using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUdeviceptr = unsigned long long;
constexpr CUresult CUDA_SUCCESS = 0;

/// The driver functions quantc calls, resolved from libcuda.so.1.
struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncGetAttribute)(int *, int, CUfunction);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
};

/// The device quantc runs on: the first one, with its primary context.
struct Device {
  CUdevice handle = 0;
  CUcontext context = nullptr;
  std::string name;
  int computeMajor = 0, computeMinor = 0;
  int multiprocessors = 0;
  size_t memoryBytes = 0;
  int driverVersion = 0;
};

/// Opens the driver, initializes it and makes the first device's primary
/// context current on this thread. Idempotent (the context is made current
/// again on other threads). On failure returns nullptr and sets `error` to a
/// one-line message that starts with "no CUDA driver" or "no CUDA device"
/// when that is the cause.
const Device *openDevice(std::string &error);

/// The resolved driver functions; only valid after openDevice succeeded.
const DriverApi &driver();

/// "CUDA_ERROR_X: description" for a driver result code.
std::string describeResult(CUresult result);

/// Checks a driver call: true if it succeeded, else sets `error` to
/// "<what>: <describeResult>".
bool check(CUresult result, const char *what, std::string &error);

/// Loads a module from PTX text (NUL-terminated) or a cubin with the driver's
/// JIT, with its log on failure.
CUmodule loadModule(const void *image, std::string &error);

/// Which of the chips in `mask` (bit i: kGpuChips[i] of
/// quantc/Conversion/GpuChips.h) compiled code should run on the device:
/// its index, or -1 with a one-line `error` ("no CUDA device", or a device
/// that runs none of them).
int selectCompiledChip(unsigned mask, std::string &error);

/// The GPU code a compiled library carries for one chip, as the object of a
/// gpu.binary (quantc-pack-gpu-binaries) that mgpuModuleLoad receives:
///
///   "QCCUDA01"  u32 count  u32 0
///   count x { char chip[16] (NUL-padded), u32 kind (0 PTX, 1 cubin),  (40 bytes)
///             u32 0, u64 offset, u64 size }     (offsets from the start)
///   payloads (PTX NUL-terminated)
///
/// Little-endian, 8-byte aligned entries. The runtime loads the cubin when
/// it runs on the device (gpuCubinRunsOn), else JIT-compiles the PTX.
constexpr char kCudaImageMagic[8] = {'Q', 'C', 'C', 'U', 'D', 'A', '0', '1'};
struct CudaImageEntry {
  char chip[16];
  uint32_t kind;
  uint32_t reserved;
  uint64_t offset;
  uint64_t size;
};
static_assert(sizeof(CudaImageEntry) == 40, "the image layout is fixed");
enum CudaImageKind : uint32_t { kCudaImagePtx = 0, kCudaImageCubin = 1 };

/// The first error a mgpu* entry point hit since the last call (empty if
/// none), and forgets it.
std::string takeCudaRuntimeError();

/// The mgpu* entry points (name, address), for JIT symbol registration.
std::vector<std::pair<const char *, void *>> mgpuRuntimeSymbols();

} // namespace quantc::cuda

#endif // QUANTC_RUNTIME_CUDADRIVER_H
