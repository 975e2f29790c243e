//===- CudaDriver.cpp - The CUDA driver, loaded at run time ---------------===//

#include "quantc/Runtime/CudaDriver.h"
#include "quantc/Conversion/GpuChips.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace quantc::cuda {

namespace {

// Device attributes (cuda.h, CUdevice_attribute).
constexpr int kAttributeMultiprocessors = 16;
constexpr int kAttributeComputeMajor = 75;
constexpr int kAttributeComputeMinor = 76;
// Function attributes (cuda.h, CUfunction_attribute).
constexpr int kFunctionMaxDynamicSharedBytes = 8;
// JIT options (cuda.h, CUjit_option).
constexpr int kJitInfoLogBuffer = 3;
constexpr int kJitInfoLogBufferSize = 4;
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSize = 6;
// cuInit's answer on a machine with a driver but no device.
constexpr CUresult kErrorNoDevice = 100;

struct State {
  std::once_flag once;
  void *library = nullptr;
  DriverApi api{};
  Device device;
  std::string error; // why openDevice failed, if it did
  bool ready = false;
};

State &state() {
  static State s;
  return s;
}

template <typename F> bool resolve(void *library, F &slot, const char *name) {
  slot = reinterpret_cast<F>(dlsym(library, name));
  return slot != nullptr;
}

void openOnce(State &s) {
  // Honour an explicit path (tests point it at a missing file to check the
  // no-driver error on machines that have a driver).
  const char *path = std::getenv("QUANTC_LIBCUDA");
  if (!path)
    path = "libcuda.so.1";
  s.library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!s.library) {
    s.error = std::string("no CUDA driver (") + path + " not found)";
    return;
  }
  DriverApi &a = s.api;
  bool ok = true;
  // The _v2 entry points are the 64-bit ones every driver since CUDA 4 has.
  ok &= resolve(s.library, a.cuInit, "cuInit");
  ok &= resolve(s.library, a.cuDriverGetVersion, "cuDriverGetVersion");
  ok &= resolve(s.library, a.cuDeviceGetCount, "cuDeviceGetCount");
  ok &= resolve(s.library, a.cuDeviceGet, "cuDeviceGet");
  ok &= resolve(s.library, a.cuDeviceGetName, "cuDeviceGetName");
  ok &= resolve(s.library, a.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  ok &= resolve(s.library, a.cuDeviceTotalMem, "cuDeviceTotalMem_v2");
  ok &= resolve(s.library, a.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  ok &= resolve(s.library, a.cuCtxSetCurrent, "cuCtxSetCurrent");
  ok &= resolve(s.library, a.cuCtxSynchronize, "cuCtxSynchronize");
  ok &= resolve(s.library, a.cuModuleLoadData, "cuModuleLoadData");
  ok &= resolve(s.library, a.cuModuleLoadDataEx, "cuModuleLoadDataEx");
  ok &= resolve(s.library, a.cuModuleUnload, "cuModuleUnload");
  ok &= resolve(s.library, a.cuModuleGetFunction, "cuModuleGetFunction");
  ok &= resolve(s.library, a.cuFuncGetAttribute, "cuFuncGetAttribute");
  ok &= resolve(s.library, a.cuFuncSetAttribute, "cuFuncSetAttribute");
  ok &= resolve(s.library, a.cuLaunchKernel, "cuLaunchKernel");
  ok &= resolve(s.library, a.cuMemAlloc, "cuMemAlloc_v2");
  ok &= resolve(s.library, a.cuMemFree, "cuMemFree_v2");
  ok &= resolve(s.library, a.cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  ok &= resolve(s.library, a.cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  ok &= resolve(s.library, a.cuMemcpyDtoD, "cuMemcpyDtoD_v2");
  ok &= resolve(s.library, a.cuMemcpyAsync, "cuMemcpyAsync");
  ok &= resolve(s.library, a.cuMemsetD8, "cuMemsetD8_v2");
  ok &= resolve(s.library, a.cuMemsetD32Async, "cuMemsetD32Async");
  ok &= resolve(s.library, a.cuMemsetD16Async, "cuMemsetD16Async");
  ok &= resolve(s.library, a.cuStreamCreate, "cuStreamCreate");
  ok &= resolve(s.library, a.cuStreamDestroy, "cuStreamDestroy_v2");
  ok &= resolve(s.library, a.cuStreamSynchronize, "cuStreamSynchronize");
  ok &= resolve(s.library, a.cuStreamWaitEvent, "cuStreamWaitEvent");
  ok &= resolve(s.library, a.cuEventCreate, "cuEventCreate");
  ok &= resolve(s.library, a.cuEventDestroy, "cuEventDestroy_v2");
  ok &= resolve(s.library, a.cuEventRecord, "cuEventRecord");
  ok &= resolve(s.library, a.cuEventSynchronize, "cuEventSynchronize");
  ok &= resolve(s.library, a.cuEventElapsedTime, "cuEventElapsedTime");
  ok &= resolve(s.library, a.cuGetErrorName, "cuGetErrorName");
  ok &= resolve(s.library, a.cuGetErrorString, "cuGetErrorString");
  if (!ok) {
    s.error = std::string("no CUDA driver (") + path +
              " lacks driver API entry points; too old?)";
    return;
  }
  CUresult result = a.cuInit(0);
  if (result == kErrorNoDevice) {
    s.error = "no CUDA device";
    return;
  }
  if (!check(result, "no CUDA device (cuInit)", s.error))
    return;
  int count = 0;
  if (!check(a.cuDeviceGetCount(&count), "no CUDA device (cuDeviceGetCount)",
             s.error))
    return;
  if (count == 0) {
    s.error = "no CUDA device";
    return;
  }
  Device &d = s.device;
  char name[256] = {0};
  if (!check(a.cuDeviceGet(&d.handle, 0), "cuDeviceGet", s.error) ||
      !check(a.cuDeviceGetName(name, sizeof(name) - 1, d.handle),
             "cuDeviceGetName", s.error) ||
      !check(a.cuDeviceGetAttribute(&d.computeMajor, kAttributeComputeMajor,
                                    d.handle),
             "cuDeviceGetAttribute", s.error) ||
      !check(a.cuDeviceGetAttribute(&d.computeMinor, kAttributeComputeMinor,
                                    d.handle),
             "cuDeviceGetAttribute", s.error) ||
      !check(a.cuDeviceGetAttribute(&d.multiprocessors,
                                    kAttributeMultiprocessors, d.handle),
             "cuDeviceGetAttribute", s.error) ||
      !check(a.cuDeviceTotalMem(&d.memoryBytes, d.handle), "cuDeviceTotalMem",
             s.error) ||
      !check(a.cuDriverGetVersion(&d.driverVersion), "cuDriverGetVersion",
             s.error) ||
      !check(a.cuDevicePrimaryCtxRetain(&d.context, d.handle),
             "cuDevicePrimaryCtxRetain", s.error))
    return;
  d.name = name;
  s.ready = true;
}

} // namespace

std::string describeResult(CUresult result) {
  State &s = state();
  const char *name = nullptr, *text = nullptr;
  if (s.api.cuGetErrorName)
    s.api.cuGetErrorName(result, &name);
  if (s.api.cuGetErrorString)
    s.api.cuGetErrorString(result, &text);
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(": ") + text;
  return out;
}

bool check(CUresult result, const char *what, std::string &error) {
  if (result == CUDA_SUCCESS)
    return true;
  error = std::string(what) + ": " + describeResult(result);
  return false;
}

const Device *openDevice(std::string &error) {
  State &s = state();
  std::call_once(s.once, [&] { openOnce(s); });
  if (!s.ready) {
    error = s.error;
    return nullptr;
  }
  if (!check(s.api.cuCtxSetCurrent(s.device.context), "cuCtxSetCurrent", error))
    return nullptr;
  return &s.device;
}

const DriverApi &driver() { return state().api; }

CUmodule loadModule(const void *image, std::string &error) {
  const DriverApi &a = driver();
  static thread_local char errorLog[8192];
  static thread_local char infoLog[8192];
  errorLog[0] = infoLog[0] = 0;
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize, kJitInfoLogBuffer,
                   kJitInfoLogBufferSize};
  void *values[] = {errorLog, reinterpret_cast<void *>(sizeof(errorLog)),
                    infoLog, reinterpret_cast<void *>(sizeof(infoLog))};
  CUmodule module = nullptr;
  CUresult result = a.cuModuleLoadDataEx(&module, image, 4, options, values);
  if (result != CUDA_SUCCESS) {
    error = "cuModuleLoadDataEx: " + describeResult(result);
    if (errorLog[0])
      error += std::string(" (") + errorLog + ")";
    for (char &c : error)
      if (c == '\n')
        c = ' ';
    return nullptr;
  }
  return module;
}

int selectCompiledChip(unsigned mask, std::string &error) {
  const Device *device = openDevice(error);
  if (!device)
    return -1;
  int chip = selectGpuChip(mask, device->computeMajor, device->computeMinor);
  if (chip >= 0)
    return chip;
  std::string compiled;
  for (int i = 0; i < kNumGpuChips; ++i)
    if (mask & (1u << i))
      compiled += std::string(compiled.empty() ? "" : ", ") + kGpuChips[i].name;
  error = "the GPU code was compiled for " +
          (compiled.empty() ? std::string("no chip") : compiled) + "; " +
          device->name + " (compute capability " +
          std::to_string(device->computeMajor) + "." +
          std::to_string(device->computeMinor) +
          ") runs none of them (sm_XYa code runs on compute capability X.Y "
          "only; sm_80 on any later device)";
  return -1;
}

namespace {

/// A module handed to mgpuModuleLoad(JIT) by a compiled library's
/// constructor. It is loaded when a kernel of it is first asked for, so
/// that loading a library touches no GPU, and code for chips other than the
/// device's (multi-chip libraries) is never loaded.
struct LazyModule {
  const char *image = nullptr;
  size_t size = 0; // 0: NUL-terminated PTX (mgpuModuleLoadJIT)
  std::once_flag once;
  CUmodule module = nullptr;
  std::string error;
};

/// Loads a quantc CUDA image (kCudaImageMagic): the cubin if it runs on the
/// device, else the PTX; a raw PTX or cubin image as it is.
CUmodule loadImage(const char *image, size_t size, std::string &error) {
  if (size < 16 || std::memcmp(image, kCudaImageMagic, 8) != 0)
    return loadModule(image, error);
  std::string open;
  const Device *device = openDevice(open);
  if (!device) {
    error = open;
    return nullptr;
  }
  uint32_t count;
  std::memcpy(&count, image + 8, 4);
  const char *ptx = nullptr;
  std::string cubinError;
  for (uint32_t i = 0; i < count; ++i) {
    CudaImageEntry entry;
    if (16 + (i + 1) * sizeof(entry) > size) {
      error = "a corrupt CUDA image (truncated entry table)";
      return nullptr;
    }
    std::memcpy(&entry, image + 16 + i * sizeof(entry), sizeof(entry));
    if (entry.offset + entry.size > size) {
      error = "a corrupt CUDA image (entry past the end)";
      return nullptr;
    }
    char chipName[17] = {0};
    std::memcpy(chipName, entry.chip, 16);
    int chip = gpuChipIndex(chipName);
    if (entry.kind == kCudaImagePtx) {
      ptx = image + entry.offset;
      continue;
    }
    if (entry.kind == kCudaImageCubin && chip >= 0 &&
        gpuCubinRunsOn(kGpuChips[chip], device->computeMajor,
                       device->computeMinor)) {
      if (CUmodule module = loadModule(image + entry.offset, cubinError))
        return module;
    }
  }
  if (!ptx) {
    error = cubinError.empty() ? "the CUDA image holds no code this device runs"
                               : cubinError;
    return nullptr;
  }
  return loadModule(ptx, error);
}

} // namespace

//===----------------------------------------------------------------------===//
// The mgpu* runtime entry points of MLIR's gpu-to-llvm
//===----------------------------------------------------------------------===//

namespace {
std::mutex errorMutex;
std::mutex bufferPoolMutex, constantMutex;

/// Device buffers of mgpuMemAlloc (address -> size), and those freed, by
/// size, for the next allocation.
std::unordered_map<CUdeviceptr, uint64_t> &bufferSizes() {
  static auto *sizes = new std::unordered_map<CUdeviceptr, uint64_t>;
  return *sizes;
}
std::unordered_multimap<uint64_t, CUdeviceptr> &freeBuffers() {
  static auto *buffers = new std::unordered_multimap<uint64_t, CUdeviceptr>;
  return *buffers;
}

/// Host address of a constant -> its device copy. Kept for the process.
struct DeviceConstant {
  CUdeviceptr device;
  int64_t bytes;
  uint64_t fingerprint;
};
std::unordered_map<const void *, DeviceConstant> &deviceConstants() {
  static auto *constants = new std::unordered_map<const void *, DeviceConstant>;
  return *constants;
}
std::string firstRuntimeError;

void recordError(const std::string &error) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstRuntimeError.empty())
    firstRuntimeError = error;
}

/// The API with this thread's context current, or null after recording why.
const DriverApi *ready() {
  std::string error;
  if (!openDevice(error)) {
    recordError(error);
    return nullptr;
  }
  return &driver();
}

bool ok(CUresult result, const char *what) {
  std::string error;
  if (check(result, what, error))
    return true;
  recordError(error);
  return false;
}
} // namespace

std::string takeCudaRuntimeError() {
  std::lock_guard<std::mutex> lock(errorMutex);
  std::string error;
  error.swap(firstRuntimeError);
  return error;
}

} // namespace quantc::cuda

using namespace quantc::cuda;

extern "C" {

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  (void)optLevel; // the driver's JIT default (O4 for ptxas) is kept
  if (!data)
    return nullptr;
  auto *lazy = new LazyModule;
  lazy->image = static_cast<const char *>(data);
  return lazy;
}

void *mgpuModuleLoad(void *data, size_t size) {
  void *lazy = mgpuModuleLoadJIT(data, 0);
  if (lazy)
    static_cast<LazyModule *>(lazy)->size = size;
  return lazy;
}

void mgpuModuleUnload(void *module) {
  auto *lazy = static_cast<LazyModule *>(module);
  if (!lazy)
    return;
  if (lazy->module && ready())
    ok(driver().cuModuleUnload(lazy->module), "cuModuleUnload");
  delete lazy;
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  if (!ready())
    return nullptr;
  auto *lazy = static_cast<LazyModule *>(module);
  if (lazy)
    std::call_once(lazy->once, [&] {
      lazy->module = loadImage(lazy->image, lazy->size, lazy->error);
    });
  if (!lazy) {
    // The library's constructors, which register its CUDA images, did not
    // run (e.g. they were emitted into a section the loader ignores).
    recordError(std::string("kernel '") + name +
                "' is unavailable: its GPU module was never registered");
    return nullptr;
  }
  if (!lazy->module) {
    // Name the kernel too, so that a skipped launch is never silent.
    recordError(std::string("kernel '") + name +
                "' is unavailable: its GPU module did not load (" +
                lazy->error + ")");
    return nullptr;
  }
  CUfunction function = nullptr;
  if (!ok(driver().cuModuleGetFunction(&function, lazy->module, name),
          "cuModuleGetFunction"))
    return nullptr;
  return function;
}

/// Called by code compiled for several chips (qc-lower-gpu chip=a,b,...)
/// before each launch: the index in kGpuChips of the chip whose kernels to
/// launch, of those in `mask`; -1 (error recorded) if none runs here.
int32_t quantc_cuda_select_target(int32_t mask) {
  std::string error;
  int chip = selectCompiledChip(static_cast<unsigned>(mask), error);
  if (chip < 0)
    recordError(error);
  return chip;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedMemoryBytes, void *stream,
                      void **params, void **extra, size_t paramsCount) {
  (void)paramsCount;
  if (!ready())
    return;
  if (!function) {
    recordError("a kernel launch was skipped: its function did not load");
    return;
  }
  // Above 48 KiB, dynamic shared memory must be asked for per function.
  if (sharedMemoryBytes > 48 * 1024 &&
      !ok(driver().cuFuncSetAttribute(static_cast<CUfunction>(function),
                                      kFunctionMaxDynamicSharedBytes,
                                      sharedMemoryBytes),
          "cuFuncSetAttribute (dynamic shared memory)"))
    return;
  ok(driver().cuLaunchKernel(static_cast<CUfunction>(function), gridX, gridY,
                             gridZ, blockX, blockY, blockZ, sharedMemoryBytes,
                             static_cast<CUstream>(stream), params, extra),
     "cuLaunchKernel");
}

void *mgpuStreamCreate() {
  if (!ready())
    return nullptr;
  CUstream stream = nullptr;
  ok(driver().cuStreamCreate(&stream, /*CU_STREAM_NON_BLOCKING=*/1),
     "cuStreamCreate");
  return stream;
}

void mgpuStreamDestroy(void *stream) {
  if (stream && ready())
    ok(driver().cuStreamDestroy(static_cast<CUstream>(stream)),
       "cuStreamDestroy");
}

void mgpuStreamSynchronize(void *stream) {
  if (ready())
    ok(driver().cuStreamSynchronize(static_cast<CUstream>(stream)),
       "cuStreamSynchronize (a kernel or copy failed)");
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  if (event && ready())
    ok(driver().cuStreamWaitEvent(static_cast<CUstream>(stream),
                                  static_cast<CUevent>(event), 0),
       "cuStreamWaitEvent");
}

void *mgpuEventCreate() {
  if (!ready())
    return nullptr;
  CUevent event = nullptr;
  ok(driver().cuEventCreate(&event, /*CU_EVENT_DISABLE_TIMING=*/2),
     "cuEventCreate");
  return event;
}

void mgpuEventDestroy(void *event) {
  if (event && ready())
    ok(driver().cuEventDestroy(static_cast<CUevent>(event)), "cuEventDestroy");
}

void mgpuEventSynchronize(void *event) {
  if (event && ready())
    ok(driver().cuEventSynchronize(static_cast<CUevent>(event)),
       "cuEventSynchronize");
}

void mgpuEventRecord(void *event, void *stream) {
  if (event && ready())
    ok(driver().cuEventRecord(static_cast<CUevent>(event),
                              static_cast<CUstream>(stream)),
       "cuEventRecord");
}

void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared) {
  (void)stream;
  if (isHostShared) {
    recordError("gpu.alloc host_shared (managed memory) is not supported");
    return nullptr;
  }
  if (!ready())
    return nullptr;
  if (!sizeBytes)
    return nullptr;
  // A model's forward allocates the same sizes on every call: reuse the
  // buffers earlier calls freed (cuMemAlloc costs microseconds and
  // synchronizes).
  {
    std::lock_guard<std::mutex> lock(bufferPoolMutex);
    auto it = freeBuffers().find(sizeBytes);
    if (it != freeBuffers().end()) {
      CUdeviceptr pointer = it->second;
      freeBuffers().erase(it);
      return reinterpret_cast<void *>(pointer);
    }
  }
  CUdeviceptr pointer = 0;
  if (!ok(driver().cuMemAlloc(&pointer, sizeBytes), "cuMemAlloc"))
    return nullptr;
  std::lock_guard<std::mutex> lock(bufferPoolMutex);
  bufferSizes()[pointer] = sizeBytes;
  return reinterpret_cast<void *>(pointer);
}

void mgpuMemFree(void *pointer, void *stream) {
  if (!pointer || !ready())
    return;
  // Work queued on the stream may still use the buffer.
  if (stream)
    ok(driver().cuStreamSynchronize(static_cast<CUstream>(stream)),
       "cuStreamSynchronize (a kernel or copy failed)");
  auto device = reinterpret_cast<CUdeviceptr>(pointer);
  std::lock_guard<std::mutex> lock(bufferPoolMutex);
  auto it = bufferSizes().find(device);
  if (it == bufferSizes().end()) {
    ok(driver().cuMemFree(device), "cuMemFree");
    return;
  }
  freeBuffers().emplace(it->second, device);
}

/// The device copy of the `bytes` constant bytes at `host` (a memref.global
/// of the model: weights, packed weights, tables), uploaded on first use and
/// reused by every later call (quantc-graph-to-gpu); 0 after recording why
/// if it cannot be made.
int64_t quantc_cuda_device_constant(int64_t host, int64_t bytes) {
  if (!ready())
    return 0;
  std::lock_guard<std::mutex> lock(constantMutex);
  auto key = reinterpret_cast<const void *>(host);
  // A later model can put other constants at a freed model's addresses:
  // the size and the first and last bytes must match too.
  uint64_t fingerprint = 1469598103934665603ull; // FNV-1a
  auto *data = static_cast<const unsigned char *>(key);
  for (int64_t i = 0; i < bytes && i < 256; ++i)
    fingerprint = (fingerprint ^ data[i]) * 1099511628211ull;
  for (int64_t i = std::max<int64_t>(256, bytes - 256); i < bytes; ++i)
    fingerprint = (fingerprint ^ data[i]) * 1099511628211ull;
  auto it = deviceConstants().find(key);
  if (it != deviceConstants().end() && it->second.bytes == bytes &&
      it->second.fingerprint == fingerprint)
    return static_cast<int64_t>(it->second.device);
  CUdeviceptr pointer = 0;
  if (bytes &&
      (!ok(driver().cuMemAlloc(&pointer, bytes), "cuMemAlloc (constant)") ||
       !ok(driver().cuMemcpyHtoD(pointer, key, bytes),
           "cuMemcpyHtoD (constant)")))
    return 0;
  deviceConstants()[key] = {pointer, bytes, fingerprint};
  return static_cast<int64_t>(pointer);
}

void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream) {
  // Unified addressing: the driver tells host from device pointers.
  if (dst && src && sizeBytes && ready())
    ok(driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                              reinterpret_cast<CUdeviceptr>(src), sizeBytes,
                              static_cast<CUstream>(stream)),
       "cuMemcpyAsync");
}

void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream) {
  if (dst && ready())
    ok(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                 count, static_cast<CUstream>(stream)),
       "cuMemsetD32Async");
}

void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream) {
  if (dst && ready())
    ok(driver().cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                 count, static_cast<CUstream>(stream)),
       "cuMemsetD16Async");
}

void mgpuSetDefaultDevice(int32_t device) {
  if (device != 0)
    recordError("only device 0 is supported");
}

} // extern "C"

namespace quantc::cuda {

std::vector<std::pair<const char *, void *>> mgpuRuntimeSymbols() {
  return {
      {"mgpuModuleLoadJIT", reinterpret_cast<void *>(&mgpuModuleLoadJIT)},
      {"mgpuModuleLoad", reinterpret_cast<void *>(&mgpuModuleLoad)},
      {"mgpuModuleUnload", reinterpret_cast<void *>(&mgpuModuleUnload)},
      {"mgpuModuleGetFunction", reinterpret_cast<void *>(&mgpuModuleGetFunction)},
      {"mgpuLaunchKernel", reinterpret_cast<void *>(&mgpuLaunchKernel)},
      {"mgpuStreamCreate", reinterpret_cast<void *>(&mgpuStreamCreate)},
      {"mgpuStreamDestroy", reinterpret_cast<void *>(&mgpuStreamDestroy)},
      {"mgpuStreamSynchronize", reinterpret_cast<void *>(&mgpuStreamSynchronize)},
      {"mgpuStreamWaitEvent", reinterpret_cast<void *>(&mgpuStreamWaitEvent)},
      {"mgpuEventCreate", reinterpret_cast<void *>(&mgpuEventCreate)},
      {"mgpuEventDestroy", reinterpret_cast<void *>(&mgpuEventDestroy)},
      {"mgpuEventSynchronize", reinterpret_cast<void *>(&mgpuEventSynchronize)},
      {"mgpuEventRecord", reinterpret_cast<void *>(&mgpuEventRecord)},
      {"mgpuMemAlloc", reinterpret_cast<void *>(&mgpuMemAlloc)},
      {"mgpuMemFree", reinterpret_cast<void *>(&mgpuMemFree)},
      {"mgpuMemcpy", reinterpret_cast<void *>(&mgpuMemcpy)},
      {"mgpuMemset32", reinterpret_cast<void *>(&mgpuMemset32)},
      {"mgpuMemset16", reinterpret_cast<void *>(&mgpuMemset16)},
      {"mgpuSetDefaultDevice", reinterpret_cast<void *>(&mgpuSetDefaultDevice)},
      {"quantc_cuda_select_target",
       reinterpret_cast<void *>(&quantc_cuda_select_target)},
      {"quantc_cuda_device_constant",
       reinterpret_cast<void *>(&quantc_cuda_device_constant)},
  };
}

} // namespace quantc::cuda
