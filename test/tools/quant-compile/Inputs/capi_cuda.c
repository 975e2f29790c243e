/* A model compiled with --target cuda:... on a machine where the CUDA driver
 * cannot be opened (aot-cuda.test points QUANTC_LIBCUDA at a missing file):
 * quantc_model_create fails with QUANTC_ERROR_DEVICE and a one-line message,
 * and leaves no model behind. */
#include "model.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  quantc_model *model = (quantc_model *)1;
  quantc_status status = quantc_model_create(&model);
  const char *message = quantc_model_last_error();
  printf("create: status %d (QUANTC_ERROR_DEVICE %s): %s\n", (int)status,
         status == QUANTC_ERROR_DEVICE ? "yes" : "no", message);
  printf("model left: %s\n", model ? "yes" : "no");
  printf("one line: %s\n", strchr(message, '\n') ? "no" : "yes");
  return status == QUANTC_OK;
}
