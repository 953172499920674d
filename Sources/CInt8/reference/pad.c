// PAD / PADV2 int8 over up to CI8_MAX_RANK dims.
#include <string.h>

#include "ci8_ref.h"

void ci8_pad_run(const ci8_pad *op, const int8_t *input, int8_t *output) {
  int32_t out_shape[CI8_MAX_RANK];
  for (int d = 0; d < CI8_MAX_RANK; ++d)
    out_shape[d] = op->pad_before[d] + op->input_shape[d] + op->pad_after[d];
  const int32_t inner_in = op->input_shape[CI8_MAX_RANK - 1];
  const int32_t inner_out = out_shape[CI8_MAX_RANK - 1];
  const int32_t before = op->pad_before[CI8_MAX_RANK - 1];
  size_t o = 0, i = 0;
  int32_t idx[CI8_MAX_RANK - 1] = {0};
  size_t rows = 1;
  for (int d = 0; d < CI8_MAX_RANK - 1; ++d) rows *= (size_t)out_shape[d];
  for (size_t r = 0; r < rows; ++r) {
    int inside = 1;
    for (int d = 0; d < CI8_MAX_RANK - 1; ++d)
      if (idx[d] < op->pad_before[d] || idx[d] >= op->pad_before[d] + op->input_shape[d])
        inside = 0;
    if (inside) {
      memset(output + o, op->pad_value, (size_t)before);
      memcpy(output + o + before, input + i, (size_t)inner_in);
      memset(output + o + before + inner_in, op->pad_value,
             (size_t)(inner_out - before - inner_in));
      i += (size_t)inner_in;
    } else {
      memset(output + o, op->pad_value, (size_t)inner_out);
    }
    o += (size_t)inner_out;
    for (int d = CI8_MAX_RANK - 2; d >= 0; --d) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
}
