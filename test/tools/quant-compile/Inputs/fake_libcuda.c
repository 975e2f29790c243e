/* A stand-in for libcuda.so.1 (QUANTC_LIBCUDA points at it): the driver API
 * entry points quantc's runtime resolves, with host memory as "device"
 * memory, kernels that do nothing, and a line on stderr for each module
 * load, function lookup and launch. It checks the host side of a compiled
 * CUDA library on a machine without a GPU: that its modules reach the
 * runtime, which image is chosen for the device, and that every launch finds
 * its kernel. FAKE_CUDA_CC=major.minor sets the compute capability (9.0). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

static void trace(const char *what, const char *detail) {
  fprintf(stderr, "fake-cuda: %s %s\n", what, detail);
}

CUresult cuInit(unsigned flags) { (void)flags; return 0; }
CUresult cuDriverGetVersion(int *version) { *version = 13000; return 0; }
CUresult cuDeviceGetCount(int *count) { *count = 1; return 0; }
CUresult cuDeviceGet(int *device, int ordinal) { *device = ordinal; return 0; }
CUresult cuDeviceGetName(char *name, int length, int device) {
  (void)device;
  snprintf(name, (size_t)length, "Fake GPU");
  return 0;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  (void)device;
  const char *cc = getenv("FAKE_CUDA_CC");
  int major = 9, minor = 0;
  if (cc)
    sscanf(cc, "%d.%d", &major, &minor);
  *value = attribute == 75 ? major : attribute == 76 ? minor
         : attribute == 16 ? 132 : 1024;
  return 0;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) {
  (void)device;
  *bytes = (size_t)1 << 34;
  return 0;
}
static int context;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int device) {
  (void)device;
  *ctx = &context;
  return 0;
}
CUresult cuCtxSetCurrent(void *ctx) { (void)ctx; return 0; }
CUresult cuCtxSynchronize(void) { return 0; }

/* A module is the image's first line naming its target (PTX), or "cubin". */
static const char *describeImage(const void *image, char *out, size_t size) {
  const char *text = image;
  if (memcmp(text, "\177ELF", 4) == 0)
    return "cubin";
  const char *target = strstr(text, ".target ");
  if (!target)
    return "ptx without .target";
  size_t length = strcspn(target, "\n");
  snprintf(out, size, "ptx %.*s", (int)length, target);
  return out;
}
CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned count,
                            int *options, void **values) {
  (void)count, (void)options, (void)values;
  char buffer[64];
  trace("load", describeImage(image, buffer, sizeof(buffer)));
  *module = malloc(1);
  return 0;
}
CUresult cuModuleLoadData(void **module, const void *image) {
  return cuModuleLoadDataEx(module, image, 0, NULL, NULL);
}
CUresult cuModuleUnload(void *module) { free(module); return 0; }
CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
  (void)module;
  trace("function", name);
  *function = strdup(name);
  return 0;
}
CUresult cuFuncGetAttribute(int *value, int attribute, void *function) {
  (void)attribute, (void)function;
  *value = 0;
  return 0;
}
CUresult cuFuncSetAttribute(void *function, int attribute, int value) {
  (void)function, (void)attribute, (void)value;
  return 0;
}
CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *stream, void **params, void **extra) {
  (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)smem;
  (void)stream, (void)params, (void)extra;
  trace("launch", (const char *)function);
  return 0;
}
CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  *pointer = (CUdeviceptr)(uintptr_t)calloc(1, bytes ? bytes : 1);
  return 0;
}
CUresult cuMemFree_v2(CUdeviceptr pointer) {
  free((void *)(uintptr_t)pointer);
  return 0;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return 0;
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return 0;
}
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
  return 0;
}
CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                       void *stream) {
  (void)stream;
  return cuMemcpyDtoD_v2(dst, src, bytes);
}
CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count) {
  memset((void *)(uintptr_t)dst, value, count);
  return 0;
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count,
                          void *stream) {
  (void)stream;
  for (size_t i = 0; i < count; ++i)
    ((uint32_t *)(uintptr_t)dst)[i] = value;
  return 0;
}
CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count,
                          void *stream) {
  (void)stream;
  for (size_t i = 0; i < count; ++i)
    ((uint16_t *)(uintptr_t)dst)[i] = value;
  return 0;
}
/* Streams and events are numbered handles of their kind; using one after
 * its destroy, or a stream as an event, is reported and fails, as the real
 * driver fails it (with an error about the context, which hides the
 * cause); those never destroyed are counted at unload. */
enum { kMaxHandles = 1 << 16 };
static char live[kMaxHandles];
static uintptr_t nextHandle = 1;
static void *createHandle(char kind) {
  if (nextHandle >= kMaxHandles)
    nextHandle = 1;
  live[nextHandle] = kind;
  return (void *)nextHandle++;
}
enum { kStream = 1, kEvent = 2 };
static CUresult use(const char *what, char kind, void *handle) {
  uintptr_t index = (uintptr_t)handle;
  if (index == 0 && kind == kStream)
    return 0; /* the default stream */
  if (index < kMaxHandles && live[index] == kind)
    return 0;
  fprintf(stderr, "fake-cuda: error: %s of %s (%zu)\n", what,
          index < kMaxHandles && live[index] ? "a handle of another kind"
                                             : "a handle not alive",
          (size_t)index);
  return 400; /* CUDA_ERROR_INVALID_HANDLE */
}
static CUresult destroy(const char *what, char kind, void *handle) {
  CUresult result = use(what, kind, handle);
  if (!result)
    live[(uintptr_t)handle] = 0;
  return result;
}
/* At unload: the streams and events never destroyed (a leak per call). */
__attribute__((destructor)) static void reportLeftHandles(void) {
  int streams = 0, events = 0;
  for (int i = 0; i < kMaxHandles; ++i) {
    streams += live[i] == kStream;
    events += live[i] == kEvent;
  }
  fprintf(stderr, "fake-cuda: %d streams and %d events left\n", streams,
          events);
}
CUresult cuStreamCreate(void **stream, unsigned flags) {
  (void)flags;
  *stream = createHandle(kStream);
  return 0;
}
CUresult cuStreamDestroy_v2(void *stream) {
  return destroy("stream destroy", kStream, stream);
}
CUresult cuStreamSynchronize(void *stream) {
  return use("stream synchronize", kStream, stream);
}
CUresult cuStreamWaitEvent(void *stream, void *event, unsigned flags) {
  (void)flags;
  CUresult result = use("stream wait", kStream, stream);
  return result ? result : use("stream wait", kEvent, event);
}
CUresult cuEventCreate(void **event, unsigned flags) {
  (void)flags;
  *event = createHandle(kEvent);
  return 0;
}
CUresult cuEventDestroy_v2(void *event) {
  return destroy("event destroy", kEvent, event);
}
CUresult cuEventRecord(void *event, void *stream) {
  CUresult result = use("event record", kEvent, event);
  return result ? result : use("event record", kStream, stream);
}
CUresult cuEventSynchronize(void *event) {
  return use("event synchronize", kEvent, event);
}
CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
  (void)start, (void)end;
  *ms = 0;
  return 0;
}
CUresult cuGetErrorName(CUresult result, const char **name) {
  (void)result;
  *name = "CUDA_ERROR_FAKE";
  return 0;
}
CUresult cuGetErrorString(CUresult result, const char **text) {
  (void)result;
  *text = "fake driver";
  return 0;
}
