/*===- quantc_model.h - The C API of a model compiled by quantc ---*- C -*-===*
 *
 * `quant-compile MODEL.onnx -o model.so` writes a shared library that
 * exports exactly these functions, and a header model.h next to it that
 * includes this API and describes the model's inputs and outputs. The
 * library holds the model's code and weights (packed weights stay packed)
 * and quantc's runtime (its thread pool); it needs only the C and C++
 * standard libraries.
 *
 *   quantc_model *model;
 *   if (quantc_model_create(&model) != QUANTC_OK) {
 *     fprintf(stderr, "%s\n", quantc_model_last_error());
 *     return 1;
 *   }
 *   int64_t x_shape[] = {1, 64};
 *   quantc_tensor x = {x_data, 2, x_shape, QUANTC_DTYPE_F32};
 *   int64_t y_shape[] = {1, 10};
 *   quantc_tensor y = {y_data, 2, y_shape, QUANTC_DTYPE_F32};
 *   if (quantc_model_run(model, &x, 1, &y, 1) != QUANTC_OK) ...
 *   quantc_model_destroy(model);
 *
 * Every function returns a status; on failure quantc_model_last_error()
 * describes it in one line that names the tensor at fault. Tensors are dense,
 * C order, with exactly the dtype and shape the model declares (see
 * quantc_model_input_info); the caller owns every buffer, outputs included,
 * and inputs are never written. A model may be run any number of times, from
 * any thread; concurrent runs of one model are safe (each run allocates its
 * own intermediate buffers). Large buffers are kept by the thread that freed
 * them for the next run (at most 256 blocks, 512 MiB per thread; released
 * when the thread exits), so repeated runs do not fault fresh pages in.
 *
 * Threads: a run splits its matrix products over the library's thread pool
 * (the calling thread included): QUANTC_NUM_THREADS if set, else every CPU
 * the process may use, or what quantc_model_set_num_threads says. Results do
 * not depend on the number of threads.
 *
 *===----------------------------------------------------------------------===*/
#ifndef QUANTC_MODEL_H
#define QUANTC_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface; quantc_model_api_version() returns the one
 * a library was built with. */
#define QUANTC_MODEL_API_VERSION 1

typedef enum quantc_status {
  QUANTC_OK = 0,
  /* A null pointer, an index out of range, a tensor without data. */
  QUANTC_ERROR_INVALID_ARGUMENT = 1,
  /* The wrong number of inputs or outputs. */
  QUANTC_ERROR_COUNT = 2,
  /* A tensor of another element type than the model's. */
  QUANTC_ERROR_DTYPE = 3,
  /* A tensor of another rank or shape than the model's. */
  QUANTC_ERROR_SHAPE = 4,
  QUANTC_ERROR_OUT_OF_MEMORY = 5,
  /* The library and its model code disagree (a corrupt or mixed build). */
  QUANTC_ERROR_INTERNAL = 6,
  /* A model compiled for NVIDIA GPUs found no CUDA driver or device, a
   * device that runs none of its chips, or a GPU error while running. */
  QUANTC_ERROR_DEVICE = 7
} quantc_status;

/* Element types; each is stored in C order, little-endian. BOOL is one byte
 * (0 or 1) per element. */
typedef enum quantc_dtype {
  QUANTC_DTYPE_F32 = 0,
  QUANTC_DTYPE_F16 = 1,
  QUANTC_DTYPE_F64 = 2,
  QUANTC_DTYPE_I8 = 3,
  QUANTC_DTYPE_I16 = 4,
  QUANTC_DTYPE_I32 = 5,
  QUANTC_DTYPE_I64 = 6,
  QUANTC_DTYPE_U8 = 7,
  QUANTC_DTYPE_BOOL = 8
} quantc_dtype;

/* A tensor the caller passes: `rank` dimensions in `shape`, elements of
 * `dtype` at `data`. */
typedef struct quantc_tensor {
  void *data;
  int64_t rank;
  const int64_t *shape;
  quantc_dtype dtype;
} quantc_tensor;

/* What the model declares for one input or output. The strings and the shape
 * belong to the library and live as long as it is loaded. */
typedef struct quantc_tensor_info {
  const char *name;
  quantc_dtype dtype;
  int64_t rank;
  const int64_t *shape;
  /* The product of the shape, and that times the element size. */
  int64_t num_elements;
  int64_t num_bytes;
} quantc_tensor_info;

typedef struct quantc_model quantc_model;

/* Creates a model instance (cheap: the code and weights are in the library). */
quantc_status quantc_model_create(quantc_model **model);
/* Releases it; a null model is a no-op. */
quantc_status quantc_model_destroy(quantc_model *model);

quantc_status quantc_model_num_inputs(const quantc_model *model,
                                      int64_t *count);
quantc_status quantc_model_num_outputs(const quantc_model *model,
                                       int64_t *count);
quantc_status quantc_model_input_info(const quantc_model *model, int64_t index,
                                      quantc_tensor_info *info);
quantc_status quantc_model_output_info(const quantc_model *model,
                                       int64_t index, quantc_tensor_info *info);

/* Runs the model: `inputs` and `outputs` in the order of the *_info indices.
 * Outputs are written in full; on failure they are unspecified. */
quantc_status quantc_model_run(quantc_model *model, const quantc_tensor *inputs,
                               int64_t num_inputs, quantc_tensor *outputs,
                               int64_t num_outputs);

/* Sets the number of threads runs use, the caller included; threads <= 0
 * restores the default. The pool belongs to this library and is shared by
 * all its model instances. */
quantc_status quantc_model_set_num_threads(quantc_model *model,
                                           int32_t threads);
quantc_status quantc_model_get_num_threads(const quantc_model *model,
                                           int32_t *threads);

/* One line describing the last failed call on this thread ("" if none). */
const char *quantc_model_last_error(void);

/* "f32", "f16", "f64", "i8", "i16", "i32", "i64", "ui8", "i1"; "?" for
 * anything else. */
const char *quantc_model_dtype_name(quantc_dtype dtype);

/* QUANTC_MODEL_API_VERSION of the library. */
int32_t quantc_model_api_version(void);

#ifdef __cplusplus
}
#endif

#endif /* QUANTC_MODEL_H */
