/*===- ModelAbi.h - What a compiled model's object gives the C API -*- C -*-===*
 *
 * quant-compile emits, next to the model's code, one constant of type
 * quantc_model_abi named QUANTC_MODEL_ABI_SYMBOL that describes the entry
 * function and its tensors; lib/Runtime/ModelApi.cpp (linked into every
 * compiled library) implements the C API of quantc_model.h on top of it. The
 * AOT writer (lib/Target/AotLibrary.cpp) lays the same structs out in LLVM
 * IR, so a change here is a change there and a new version number.
 *
 * The entry takes one pointer per argument and then per result, each to a
 * memref descriptor of the tensor's rank for a dense C-order buffer:
 *   { void *allocated, *aligned; int64_t offset, sizes[rank], strides[rank]; }
 *
 *===----------------------------------------------------------------------===*/
#ifndef QUANTC_RUNTIME_MODELABI_H
#define QUANTC_RUNTIME_MODELABI_H

#include <stdint.h>

#define QUANTC_MODEL_ABI_VERSION 2
#define QUANTC_MODEL_ABI_SYMBOL "quantc_abi_model_v1"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct quantc_model_abi_tensor {
  const char *name;
  const int64_t *shape;
  int64_t rank;
  int32_t dtype; /* quantc_dtype */
  int32_t reserved;
} quantc_model_abi_tensor;

typedef struct quantc_model_abi {
  int32_t version; /* QUANTC_MODEL_ABI_VERSION */
  int32_t num_inputs;
  int32_t num_outputs;
  /* Version 2: the chips whose GPU code the model carries (bit i: kGpuChips[i]
   * of quantc/Conversion/GpuChips.h); 0 for a CPU-only model. */
  int32_t cuda_chip_mask;
  const quantc_model_abi_tensor *inputs;
  const quantc_model_abi_tensor *outputs;
  /* descriptors[i] points to the descriptor of input i, then of output i. */
  void (*entry)(void **descriptors);
  /* The model's name (the output file's stem) and the CPU target. */
  const char *model_name;
  const char *cpu_target;
} quantc_model_abi;

#ifdef __cplusplus
}
#endif

#endif /* QUANTC_RUNTIME_MODELABI_H */
