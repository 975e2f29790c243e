/*===- run_model.c - Run a model compiled by quant-compile ---------------===*
 *
 *   quant-compile model.onnx [--recipe w4a8-int4] -o model.so   (+ model.h)
 *   clang run_model.c model.so -o run_model -Wl,-rpath,'$ORIGIN'
 *   ./run_model [--threads N] [INPUT.bin ...]
 *
 * Each INPUT.bin holds one input's raw elements in C order (numpy:
 * x.astype(np.float32).tofile("x.bin")); without files, float inputs are
 * filled with sin(0.01 * i) and integer inputs with i % 7. Prints every
 * output's name, dtype and shape, then its elements, one row of the last
 * dimension per line, floats with 9 significant digits (enough to read the
 * float back exactly).
 *
 * Everything goes through the C API in model.h (quantc_model.h); the
 * MODEL_* macros describe the model at compile time.
 *
 *===----------------------------------------------------------------------===*/
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
  fprintf(stderr, "run_model: %s: %s\n", what, quantc_model_last_error());
  return 1;
}

/* The deterministic input used when no file is given. */
static void fill(void *data, quantc_dtype dtype, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    switch (dtype) {
    case QUANTC_DTYPE_F32:
      ((float *)data)[i] = (float)sin(0.01 * (double)i);
      break;
    case QUANTC_DTYPE_F64:
      ((double *)data)[i] = sin(0.01 * (double)i);
      break;
    case QUANTC_DTYPE_I64:
      ((int64_t *)data)[i] = i % 7;
      break;
    case QUANTC_DTYPE_I32:
      ((int32_t *)data)[i] = (int32_t)(i % 7);
      break;
    case QUANTC_DTYPE_I16:
    case QUANTC_DTYPE_F16: /* bits of small positive halves */
      ((int16_t *)data)[i] = (int16_t)(i % 7);
      break;
    default:
      ((uint8_t *)data)[i] = (uint8_t)(i % 2);
      break;
    }
  }
}

static int read_file(const char *path, void *data, int64_t bytes) {
  FILE *file = fopen(path, "rb");
  if (!file) {
    fprintf(stderr, "run_model: %s: cannot open\n", path);
    return 0;
  }
  size_t got = fread(data, 1, (size_t)bytes, file);
  int extra = fgetc(file) != EOF;
  fclose(file);
  if (got != (size_t)bytes || extra) {
    fprintf(stderr, "run_model: %s: expected exactly %lld bytes\n", path,
            (long long)bytes);
    return 0;
  }
  return 1;
}

static void print_element(const void *data, quantc_dtype dtype, int64_t i) {
  switch (dtype) {
  case QUANTC_DTYPE_F32:
    printf("%.9g", (double)((const float *)data)[i]);
    break;
  case QUANTC_DTYPE_F64:
    printf("%.17g", ((const double *)data)[i]);
    break;
  case QUANTC_DTYPE_I64:
    printf("%lld", (long long)((const int64_t *)data)[i]);
    break;
  case QUANTC_DTYPE_I32:
    printf("%d", ((const int32_t *)data)[i]);
    break;
  case QUANTC_DTYPE_I16:
  case QUANTC_DTYPE_F16:
    printf("%d", ((const int16_t *)data)[i]);
    break;
  case QUANTC_DTYPE_I8:
    printf("%d", ((const int8_t *)data)[i]);
    break;
  default:
    printf("%u", ((const uint8_t *)data)[i]);
    break;
  }
}

int main(int argc, char **argv) {
  int threads = 0, first_file = 1;
  if (argc > 2 && strcmp(argv[1], "--threads") == 0) {
    threads = atoi(argv[2]);
    first_file = 3;
  }

  quantc_model *model;
  if (quantc_model_create(&model) != QUANTC_OK)
    return fail("create");
  if (threads > 0 && quantc_model_set_num_threads(model, threads) != QUANTC_OK)
    return fail("threads");

  /* The library describes itself; the header says the same at compile time. */
  int64_t num_inputs, num_outputs;
  if (quantc_model_num_inputs(model, &num_inputs) != QUANTC_OK ||
      quantc_model_num_outputs(model, &num_outputs) != QUANTC_OK)
    return fail("signature");
  if (num_inputs != MODEL_NUM_INPUTS || num_outputs != MODEL_NUM_OUTPUTS) {
    fprintf(stderr, "run_model: model.h does not describe this library\n");
    return 1;
  }
  if (argc > first_file && argc - first_file != num_inputs) {
    fprintf(stderr, "run_model: the model takes %lld inputs, %d files given\n",
            (long long)num_inputs, argc - first_file);
    return 1;
  }

  quantc_tensor inputs[MODEL_NUM_INPUTS + 1], outputs[MODEL_NUM_OUTPUTS + 1];
  quantc_tensor_info output_info[MODEL_NUM_OUTPUTS + 1];
  for (int64_t i = 0; i < num_inputs; ++i) {
    quantc_tensor_info info;
    if (quantc_model_input_info(model, i, &info) != QUANTC_OK)
      return fail("input info");
    void *data = malloc(info.num_bytes ? (size_t)info.num_bytes : 1);
    if (argc > first_file) {
      if (!read_file(argv[first_file + i], data, info.num_bytes))
        return 1;
    } else {
      fill(data, info.dtype, info.num_elements);
    }
    inputs[i] = (quantc_tensor){data, info.rank, info.shape, info.dtype};
  }
  for (int64_t i = 0; i < num_outputs; ++i) {
    quantc_tensor_info *info = &output_info[i];
    if (quantc_model_output_info(model, i, info) != QUANTC_OK)
      return fail("output info");
    void *data = malloc(info->num_bytes ? (size_t)info->num_bytes : 1);
    outputs[i] = (quantc_tensor){data, info->rank, info->shape, info->dtype};
  }

  if (quantc_model_run(model, inputs, num_inputs, outputs, num_outputs) !=
      QUANTC_OK)
    return fail("run");

  for (int64_t i = 0; i < num_outputs; ++i) {
    const quantc_tensor_info *info = &output_info[i];
    printf("%s: %s [", info->name, quantc_model_dtype_name(info->dtype));
    for (int64_t d = 0; d < info->rank; ++d)
      printf("%s%lld", d ? ", " : "", (long long)info->shape[d]);
    printf("]\n");
    int64_t row = info->rank ? info->shape[info->rank - 1] : 1;
    for (int64_t e = 0; e < info->num_elements; ++e) {
      print_element(outputs[i].data, info->dtype, e);
      putchar((e + 1) % (row ? row : 1) == 0 ? '\n' : ' ');
    }
    free(outputs[i].data);
  }
  for (int64_t i = 0; i < num_inputs; ++i)
    free(inputs[i].data);
  quantc_model_destroy(model);
  return 0;
}
