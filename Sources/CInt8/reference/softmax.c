// SOFTMAX int8 -> int8 as TFLite's built-in (generic optimized) kernel computes it on x86:
// a 256-entry float table exp(-input_scale * beta * d) indexed by d = max - x, a float sum in
// input order, and round(table * 1 / (sum * output_scale)) + output_zero_point.
#include <math.h>

#include "ci8_ref.h"

typedef struct softmax_params {
  float table[256];  // table[255 - d] = exp(-input_scale * beta * d)
} softmax_params;

size_t ci8_ref_softmax_prepared_size(const ci8_softmax *op) {
  (void)op;
  return CI8_ALIGN64(sizeof(softmax_params));
}

ci8_status ci8_ref_softmax_prepare(ci8_softmax *op, void *prepared) {
  if (op->rows < 0 || op->depth <= 0 || op->output_zero_point < -128 ||
      op->output_zero_point > 127)
    return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(op->input_scale) || !ci8_scale_ok(op->output_scale))
    return CI8_ERR_BAD_SCALE;
  softmax_params *p = (softmax_params *)prepared;
  const float scale = -op->input_scale * op->beta;
  for (int32_t d = 0; d <= 255; ++d) {
    const float arg = scale * (float)d;
    p->table[255 - d] = expf(arg);
  }
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_softmax_run(const ci8_softmax *op, const int8_t *input, int8_t *output) {
  const softmax_params *p = (const softmax_params *)op->prepared;
  const int32_t depth = op->depth;
  for (int32_t r = 0; r < op->rows; ++r) {
    const int8_t *x = input + (size_t)r * depth;
    int8_t *y = output + (size_t)r * depth;
    int32_t max_val = -128;
    for (int32_t j = 0; j < depth; ++j) max_val = x[j] > max_val ? x[j] : max_val;
    const float *t = p->table + 255 - max_val;  // t[x] for x in [-128, max_val]
    float sum = 0.0f;
    for (int32_t j = 0; j < depth; ++j) sum += t[x[j]];
    const float denom = sum * op->output_scale;
    const float inv = 1.0f / denom;
    for (int32_t j = 0; j < depth; ++j) {
      const float prob = t[x[j]] * inv;
      const int32_t q = (int32_t)roundf(prob) + op->output_zero_point;
      y[j] = (int8_t)ci8_clamp_i32(q, -128, 127);
    }
  }
}
