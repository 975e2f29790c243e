//===- GpuChips.h - The NVIDIA chips quantc generates code for ---*- C++ -*-===//
//
// One table shared by the compiler (qc-lower-gpu, the pipelines) and the
// runtime (lib/Runtime/CudaDriver.cpp picks the compiled chip a device runs):
// header-only and free of MLIR and CUDA, so that compiled libraries can use
// it. A chip's index in kGpuChips is what compiled code and the runtime
// exchange (quantc_cuda_select_target), so entries are only ever appended.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_CONVERSION_GPUCHIPS_H
#define QUANTC_CONVERSION_GPUCHIPS_H

#include <cstring>

namespace quantc {

struct GpuChip {
  const char *name;        // "sm_90a"
  const char *ptxFeatures; // the NVPTX feature fixing the PTX ISA version
  int major, minor;        // compute capability of the chip
  /// sm_XYa code (wgmma, tcgen05, block-scaled mma) runs only on devices of
  /// exactly compute capability X.Y; generic sm_XY PTX JIT-compiles for any
  /// later device.
  bool archSpecific;
};

// The lowest PTX ISA version LLVM's NVPTX back end accepts for each chip, so
// that the oldest driver able to run the chip can load the PTX (sm_100a:
// 8.7, the first with tcgen05.mma .kind::mxf4nvf4, which its NVFP4/MXFP4
// GEMM uses).
inline constexpr GpuChip kGpuChips[] = {
    {"sm_80", "+ptx70", 8, 0, false},
    {"sm_90a", "+ptx80", 9, 0, true},
    {"sm_100a", "+ptx87", 10, 0, true},
    {"sm_120a", "+ptx87", 12, 0, true},
};
inline constexpr int kNumGpuChips = sizeof(kGpuChips) / sizeof(kGpuChips[0]);

/// The index of `name` in kGpuChips, or -1.
inline int gpuChipIndex(const char *name) {
  for (int i = 0; i < kNumGpuChips; ++i)
    if (std::strcmp(kGpuChips[i].name, name) == 0)
      return i;
  return -1;
}

/// Whether code compiled for `chip` runs on a device of compute capability
/// major.minor: arch-specific code on exactly its chip, generic code (as PTX
/// the driver JIT-compiles) on its chip and every later one.
inline bool gpuChipRunsOn(const GpuChip &chip, int major, int minor) {
  if (chip.archSpecific)
    return chip.major == major && chip.minor == minor;
  return major > chip.major || (major == chip.major && minor >= chip.minor);
}

/// Of the chips in `mask` (bit i: kGpuChips[i]), the one a device of compute
/// capability major.minor should run: the arch-specific chip made for it,
/// else the newest generic chip it can JIT; -1 if none runs on it.
inline int selectGpuChip(unsigned mask, int major, int minor) {
  int best = -1;
  for (int i = 0; i < kNumGpuChips; ++i) {
    if (!(mask & (1u << i)) || !gpuChipRunsOn(kGpuChips[i], major, minor))
      continue;
    if (kGpuChips[i].archSpecific)
      return i;
    if (best < 0 || kGpuChips[i].major > kGpuChips[best].major ||
        (kGpuChips[i].major == kGpuChips[best].major &&
         kGpuChips[i].minor > kGpuChips[best].minor))
      best = i;
  }
  return best;
}

/// Whether a cubin assembled for `chip` loads on the device: the same
/// compute capability, or for generic chips the same major version and a
/// minor at least the chip's (binary compatibility within a family).
inline bool gpuCubinRunsOn(const GpuChip &chip, int major, int minor) {
  if (chip.archSpecific)
    return chip.major == major && chip.minor == minor;
  return major == chip.major && minor >= chip.minor;
}

} // namespace quantc

#endif // QUANTC_CONVERSION_GPUCHIPS_H
