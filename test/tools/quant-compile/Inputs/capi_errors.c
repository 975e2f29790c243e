/* Calls the C API of a compiled model (built as model.so with model.h) with
 * every kind of bad argument and prints the status and message of each, for
 * aot-capi.test. The model is make_mlp_onnx.py's MLP: x f32 [4, 16, 64] ->
 * y f32 [64, 64]. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>

static void report(const char *what, quantc_status status) {
  if (status == QUANTC_OK)
    printf("%s: ok\n", what);
  else
    printf("%s: status %d: %s\n", what, (int)status, quantc_model_last_error());
}

int main(void) {
  quantc_model *model;
  report("create(null)", quantc_model_create(NULL));
  if (quantc_model_create(&model) != QUANTC_OK)
    return 1;
  printf("api version %d\n", (int)quantc_model_api_version());

  quantc_tensor_info info;
  report("input_info(7)", quantc_model_input_info(model, 7, &info));
  report("output_info(-1)", quantc_model_output_info(model, -1, &info));
  report("num_inputs(null model)", quantc_model_num_inputs(NULL, NULL));

  static float x[MODEL_INPUT_0_NUM_ELEMENTS], y[MODEL_OUTPUT_0_NUM_ELEMENTS];
  int64_t x_shape[] = MODEL_INPUT_0_SHAPE, y_shape[] = MODEL_OUTPUT_0_SHAPE;
  int64_t bad_shape[] = {4, 16, 32};
  quantc_tensor input = {x, MODEL_INPUT_0_RANK, x_shape, MODEL_INPUT_0_DTYPE};
  quantc_tensor output = {y, MODEL_OUTPUT_0_RANK, y_shape, MODEL_OUTPUT_0_DTYPE};

  quantc_tensor wrong = input;
  wrong.shape = bad_shape;
  report("wrong shape", quantc_model_run(model, &wrong, 1, &output, 1));
  wrong = input;
  wrong.rank = 2;
  report("wrong rank", quantc_model_run(model, &wrong, 1, &output, 1));
  wrong = input;
  wrong.dtype = QUANTC_DTYPE_F64;
  report("wrong dtype", quantc_model_run(model, &wrong, 1, &output, 1));
  wrong = input;
  wrong.data = NULL;
  report("null data", quantc_model_run(model, &wrong, 1, &output, 1));
  report("two inputs", quantc_model_run(model, &input, 2, &output, 1));
  report("no outputs", quantc_model_run(model, &input, 1, &output, 0));
  wrong = output;
  wrong.dtype = QUANTC_DTYPE_I32;
  report("wrong output dtype", quantc_model_run(model, &input, 1, &wrong, 1));
  report("threads", quantc_model_set_num_threads(model, 1));
  int32_t threads = 0;
  quantc_model_get_num_threads(model, &threads);
  printf("threads now %d\n", (int)threads);
  report("good run", quantc_model_run(model, &input, 1, &output, 1));
  report("destroy", quantc_model_destroy(model));
  return 0;
}
