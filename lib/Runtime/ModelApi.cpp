//===- ModelApi.cpp - The C API of a compiled model -----------------------===//
//
// Linked (as the static archive QuantcModelRuntime) into every shared library
// quant-compile writes; implements quantc_model.h on the model description the
// compiled object defines (ModelAbi.h). No MLIR, no LLVM: a compiled library
// depends on the C and C++ standard libraries only.
//
//===----------------------------------------------------------------------===//

#include "quantc/Runtime/CudaDriver.h"
#include "quantc/Runtime/ModelAbi.h"
#include "quantc/Runtime/ThreadPool.h"
#include "quantc/Runtime/quantc_model.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

extern "C" const quantc_model_abi quantc_abi_model_v1;

struct quantc_model {
  const quantc_model_abi *abi;
};

namespace {

thread_local std::string lastError;

quantc_status fail(quantc_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

int64_t dtypeSize(int32_t dtype) {
  switch (dtype) {
  case QUANTC_DTYPE_F32:
  case QUANTC_DTYPE_I32:
    return 4;
  case QUANTC_DTYPE_F16:
  case QUANTC_DTYPE_I16:
    return 2;
  case QUANTC_DTYPE_F64:
  case QUANTC_DTYPE_I64:
    return 8;
  case QUANTC_DTYPE_I8:
  case QUANTC_DTYPE_U8:
  case QUANTC_DTYPE_BOOL:
    return 1;
  default:
    return 0;
  }
}

std::string formatShape(const int64_t *shape, int64_t rank) {
  std::string text = "[";
  for (int64_t dim = 0; dim < rank; ++dim) {
    if (dim)
      text += ", ";
    text += std::to_string(shape[dim]);
  }
  return text + "]";
}

std::string describe(const quantc_model_abi_tensor &tensor) {
  return std::string(quantc_model_dtype_name(
             static_cast<quantc_dtype>(tensor.dtype))) +
         " " + formatShape(tensor.shape, tensor.rank);
}

quantc_status checkModel(const quantc_model *model, const char *function) {
  if (!model)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                std::string(function) + ": the model is null");
  return QUANTC_OK;
}

quantc_status describeTensor(const quantc_model_abi_tensor &tensor,
                             quantc_tensor_info *info) {
  info->name = tensor.name;
  info->dtype = static_cast<quantc_dtype>(tensor.dtype);
  info->rank = tensor.rank;
  info->shape = tensor.shape;
  info->num_elements = 1;
  for (int64_t dim = 0; dim < tensor.rank; ++dim)
    info->num_elements *= tensor.shape[dim];
  info->num_bytes = info->num_elements * dtypeSize(tensor.dtype);
  return QUANTC_OK;
}

/// Checks a tensor the caller passes against the one the model declares;
/// `what` is "input" or "output".
quantc_status checkTensor(const quantc_tensor &given,
                          const quantc_model_abi_tensor &declared,
                          int64_t index, const char *what) {
  std::string name = std::string(what) + " " + std::to_string(index) + " '" +
                     declared.name + "'";
  if (given.dtype != declared.dtype)
    return fail(QUANTC_ERROR_DTYPE,
                name + " expects " + describe(declared) + " but was given " +
                    quantc_model_dtype_name(given.dtype) + " elements");
  if (given.rank != declared.rank ||
      (given.rank > 0 && !given.shape) ||
      (given.rank > 0 && std::memcmp(given.shape, declared.shape,
                                     sizeof(int64_t) * given.rank) != 0))
    return fail(QUANTC_ERROR_SHAPE,
                name + " expects " + describe(declared) +
                    " but was given shape " +
                    (given.rank > 0 && !given.shape
                         ? std::string("(null)")
                         : formatShape(given.shape, given.rank)));
  if (!given.data)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT, name + " has no data (null)");
  return QUANTC_OK;
}

/// The memref descriptor of a dense C-order buffer (ModelAbi.h).
void fillDescriptor(void *data, const int64_t *shape, int64_t rank,
                    int64_t *fields) {
  static_assert(sizeof(void *) == sizeof(int64_t),
                "memref descriptors assume 64-bit pointers");
  auto pointer = reinterpret_cast<int64_t>(data);
  fields[0] = pointer;
  fields[1] = pointer;
  fields[2] = 0;
  int64_t stride = 1;
  for (int64_t dim = rank; dim-- > 0;) {
    fields[3 + dim] = shape[dim];
    fields[3 + rank + dim] = stride;
    stride *= shape[dim];
  }
}

} // namespace

extern "C" {

quantc_status quantc_model_create(quantc_model **model) {
  if (!model)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_create: the result pointer is null");
  *model = nullptr;
  if (quantc_abi_model_v1.version != QUANTC_MODEL_ABI_VERSION)
    return fail(QUANTC_ERROR_INTERNAL,
                "the model was compiled for ABI version " +
                    std::to_string(quantc_abi_model_v1.version) +
                    " but its runtime implements version " +
                    std::to_string(QUANTC_MODEL_ABI_VERSION));
  // A model with GPU code needs a device that runs one of its chips; say so
  // now rather than at the first run.
  if (quantc_abi_model_v1.cuda_chip_mask) {
    std::string error;
    if (quantc::cuda::selectCompiledChip(
            static_cast<unsigned>(quantc_abi_model_v1.cuda_chip_mask), error) < 0)
      return fail(QUANTC_ERROR_DEVICE, "the model runs on an NVIDIA GPU: " + error);
  }
  auto *created = new (std::nothrow) quantc_model{&quantc_abi_model_v1};
  if (!created)
    return fail(QUANTC_ERROR_OUT_OF_MEMORY, "quantc_model_create: out of memory");
  *model = created;
  return QUANTC_OK;
}

quantc_status quantc_model_destroy(quantc_model *model) {
  delete model;
  return QUANTC_OK;
}

quantc_status quantc_model_num_inputs(const quantc_model *model,
                                      int64_t *count) {
  if (quantc_status status = checkModel(model, "quantc_model_num_inputs"))
    return status;
  if (!count)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_num_inputs: the result pointer is null");
  *count = model->abi->num_inputs;
  return QUANTC_OK;
}

quantc_status quantc_model_num_outputs(const quantc_model *model,
                                       int64_t *count) {
  if (quantc_status status = checkModel(model, "quantc_model_num_outputs"))
    return status;
  if (!count)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_num_outputs: the result pointer is null");
  *count = model->abi->num_outputs;
  return QUANTC_OK;
}

quantc_status quantc_model_input_info(const quantc_model *model, int64_t index,
                                      quantc_tensor_info *info) {
  if (quantc_status status = checkModel(model, "quantc_model_input_info"))
    return status;
  if (!info)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_input_info: the result pointer is null");
  if (index < 0 || index >= model->abi->num_inputs)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_input_info: no input " + std::to_string(index) +
                    " (the model has " +
                    std::to_string(model->abi->num_inputs) + ")");
  return describeTensor(model->abi->inputs[index], info);
}

quantc_status quantc_model_output_info(const quantc_model *model,
                                       int64_t index,
                                       quantc_tensor_info *info) {
  if (quantc_status status = checkModel(model, "quantc_model_output_info"))
    return status;
  if (!info)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_output_info: the result pointer is null");
  if (index < 0 || index >= model->abi->num_outputs)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_output_info: no output " + std::to_string(index) +
                    " (the model has " +
                    std::to_string(model->abi->num_outputs) + ")");
  return describeTensor(model->abi->outputs[index], info);
}

quantc_status quantc_model_run(quantc_model *model, const quantc_tensor *inputs,
                               int64_t num_inputs, quantc_tensor *outputs,
                               int64_t num_outputs) {
  if (quantc_status status = checkModel(model, "quantc_model_run"))
    return status;
  const quantc_model_abi &abi = *model->abi;
  if (num_inputs != abi.num_inputs)
    return fail(QUANTC_ERROR_COUNT,
                "the model takes " + std::to_string(abi.num_inputs) +
                    " input(s) but was given " + std::to_string(num_inputs));
  if (num_outputs != abi.num_outputs)
    return fail(QUANTC_ERROR_COUNT,
                "the model has " + std::to_string(abi.num_outputs) +
                    " output(s) but was given " + std::to_string(num_outputs));
  if ((num_inputs > 0 && !inputs) || (num_outputs > 0 && !outputs))
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_run: the inputs or outputs array is null");
  for (int64_t index = 0; index < num_inputs; ++index)
    if (quantc_status status =
            checkTensor(inputs[index], abi.inputs[index], index, "input"))
      return status;
  for (int64_t index = 0; index < num_outputs; ++index)
    if (quantc_status status =
            checkTensor(outputs[index], abi.outputs[index], index, "output"))
      return status;

  // One descriptor per tensor, all in one block: 3 + 2 * rank fields each.
  int64_t fieldCount = 0;
  for (int64_t index = 0; index < num_inputs; ++index)
    fieldCount += 3 + 2 * inputs[index].rank;
  for (int64_t index = 0; index < num_outputs; ++index)
    fieldCount += 3 + 2 * outputs[index].rank;
  std::vector<int64_t> fields(fieldCount);
  std::vector<void *> descriptors(num_inputs + num_outputs);
  int64_t *next = fields.data();
  for (int64_t index = 0; index < num_inputs + num_outputs; ++index) {
    const quantc_tensor &tensor = index < num_inputs
                                      ? inputs[index]
                                      : outputs[index - num_inputs];
    fillDescriptor(tensor.data, tensor.shape, tensor.rank, next);
    descriptors[index] = next;
    next += 3 + 2 * tensor.rank;
  }
  abi.entry(descriptors.data());
  if (abi.cuda_chip_mask) {
    std::string error = quantc::cuda::takeCudaRuntimeError();
    if (!error.empty())
      return fail(QUANTC_ERROR_DEVICE, "on the GPU: " + error);
  }
  return QUANTC_OK;
}

quantc_status quantc_model_set_num_threads(quantc_model *model,
                                           int32_t threads) {
  if (quantc_status status = checkModel(model, "quantc_model_set_num_threads"))
    return status;
  quantc_set_num_threads(threads);
  return QUANTC_OK;
}

quantc_status quantc_model_get_num_threads(const quantc_model *model,
                                           int32_t *threads) {
  if (quantc_status status = checkModel(model, "quantc_model_get_num_threads"))
    return status;
  if (!threads)
    return fail(QUANTC_ERROR_INVALID_ARGUMENT,
                "quantc_model_get_num_threads: the result pointer is null");
  *threads = quantc_get_num_threads();
  return QUANTC_OK;
}

const char *quantc_model_last_error(void) { return lastError.c_str(); }

const char *quantc_model_dtype_name(quantc_dtype dtype) {
  switch (dtype) {
  case QUANTC_DTYPE_F32:
    return "f32";
  case QUANTC_DTYPE_F16:
    return "f16";
  case QUANTC_DTYPE_F64:
    return "f64";
  case QUANTC_DTYPE_I8:
    return "i8";
  case QUANTC_DTYPE_I16:
    return "i16";
  case QUANTC_DTYPE_I32:
    return "i32";
  case QUANTC_DTYPE_I64:
    return "i64";
  case QUANTC_DTYPE_U8:
    return "ui8";
  case QUANTC_DTYPE_BOOL:
    return "i1";
  }
  return "?";
}

int32_t quantc_model_api_version(void) { return QUANTC_MODEL_API_VERSION; }

//===----------------------------------------------------------------------===//
// memref.copy
//===----------------------------------------------------------------------===//

/// The lowering of memref.copy between non-contiguous views calls
/// memrefCopy(element size, source, target) with unranked descriptors
/// {rank, pointer to the ranked descriptor}; the JIT finds MLIR's runner
/// utilities for it, a compiled library this.
struct UnrankedDescriptor {
  int64_t rank;
  int64_t *descriptor;
};

void memrefCopy(int64_t elementSize, UnrankedDescriptor *source,
                UnrankedDescriptor *target) {
  int64_t rank = source->rank;
  const int64_t *src = source->descriptor;
  const int64_t *dst = target->descriptor;
  auto *srcData = reinterpret_cast<const char *>(src[1]) + src[2] * elementSize;
  auto *dstData = reinterpret_cast<char *>(dst[1]) + dst[2] * elementSize;
  const int64_t *sizes = src + 3;
  const int64_t *srcStrides = src + 3 + rank;
  const int64_t *dstStrides = dst + 3 + rank;
  int64_t count = 1;
  for (int64_t dim = 0; dim < rank; ++dim)
    count *= sizes[dim];
  if (count == 0)
    return;
  // Both dense in C order: one copy.
  bool dense = true;
  for (int64_t dim = rank, stride = 1; dim-- > 0; stride *= sizes[dim])
    dense &= (sizes[dim] == 1) ||
             (srcStrides[dim] == stride && dstStrides[dim] == stride);
  if (dense) {
    std::memmove(dstData, srcData, count * elementSize);
    return;
  }
  // Walk the index space like an odometer, the last dimension fastest.
  std::vector<int64_t> index(rank, 0);
  int64_t srcOffset = 0, dstOffset = 0;
  for (int64_t done = 0; done < count; ++done) {
    std::memcpy(dstData + dstOffset * elementSize,
                srcData + srcOffset * elementSize, elementSize);
    for (int64_t dim = rank; dim-- > 0;) {
      srcOffset += srcStrides[dim];
      dstOffset += dstStrides[dim];
      if (++index[dim] < sizes[dim])
        break;
      srcOffset -= srcStrides[dim] * sizes[dim];
      dstOffset -= dstStrides[dim] * sizes[dim];
      index[dim] = 0;
    }
  }
}

} // extern "C"
