// CONCATENATION int8: inputs share the output's quantization, so it is a strided copy.
#include <string.h>

#include "ci8_ref.h"

void ci8_concat_run(const ci8_concat *op, const int8_t *const *inputs, int8_t *output) {
  int8_t *out = output;
  for (int32_t r = 0; r < op->outer_size; ++r) {
    for (int32_t k = 0; k < op->input_count; ++k) {
      const size_t n = (size_t)op->input_row_sizes[k];
      memcpy(out, inputs[k] + (size_t)r * n, n);
      out += n;
    }
  }
}
