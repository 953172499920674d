// FULLY_CONNECTED int8 (per-tensor or per-channel weights).
// Prepared layout (reference set): int32 multiplier[od], shift[od], bias_adjusted[od],
// int8 weights[od][id] (copy).
#include <string.h>

#include "ci8_ref.h"

static size_t fc_vec(const ci8_fully_connected *op) {
  return CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_depth);
}

size_t ci8_ref_fully_connected_prepared_size(const ci8_fully_connected *op) {
  return 3 * fc_vec(op) + CI8_ALIGN64((size_t)op->output_depth * (size_t)op->input_depth);
}

ci8_status ci8_ref_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                           const int32_t *bias, void *prepared) {
  if (op->batches < 0 || op->input_depth <= 0 || op->output_depth <= 0 ||
      op->activation_min > op->activation_max || op->activation_min < -128 ||
      op->activation_max > 127 || op->input_zero_point < -128 || op->input_zero_point > 127 ||
      op->output_zero_point < -128 || op->output_zero_point > 127 || op->filter_scales == NULL ||
      !(op->filter_scale_count == 1 || op->filter_scale_count == op->output_depth))
    return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(op->input_scale) || !ci8_scale_ok(op->output_scale))
    return CI8_ERR_BAD_SCALE;
  uint8_t *base = (uint8_t *)prepared;
  const size_t vec = fc_vec(op);
  int32_t *mult = (int32_t *)base;
  int32_t *shift = (int32_t *)(base + vec);
  int32_t *badj = (int32_t *)(base + 2 * vec);
  int8_t *w = (int8_t *)(base + 3 * vec);
  for (int32_t o = 0; o < op->output_depth; ++o) {
    const float fs = op->filter_scales[op->filter_scale_count == 1 ? 0 : o];
    if (!(fs >= 0.0f && fs <= 3.4028234e38f)) return CI8_ERR_BAD_SCALE;
    const double real = (double)op->input_scale * (double)fs / (double)op->output_scale;
    ci8_quantize_multiplier(real, &mult[o], &shift[o]);
    if (shift[o] > 30) return CI8_ERR_BAD_SCALE;
    int32_t sum = 0;
    for (int32_t i = 0; i < op->input_depth; ++i)
      sum = ci8_wrap_add(sum, weights[(size_t)o * op->input_depth + i]);
    badj[o] = ci8_wrap_add(bias ? bias[o] : 0, ci8_wrap_mul(-op->input_zero_point, sum));
  }
  memcpy(w, weights, (size_t)op->output_depth * (size_t)op->input_depth);
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                 int8_t *output, void *scratch, int32_t batch_begin,
                                 int32_t batch_end) {
  (void)scratch;
  const uint8_t *base = (const uint8_t *)op->prepared;
  const size_t vec = fc_vec(op);
  const int32_t *mult = (const int32_t *)base;
  const int32_t *shift = (const int32_t *)(base + vec);
  const int32_t *badj = (const int32_t *)(base + 2 * vec);
  const int8_t *w = (const int8_t *)(base + 3 * vec);
  const int32_t id = op->input_depth, od = op->output_depth;
  for (int32_t b = batch_begin; b < batch_end; ++b) {
    const int8_t *x = input + (size_t)b * id;
    for (int32_t o = 0; o < od; ++o) {
      const int8_t *wo = w + (size_t)o * id;
      int32_t acc = badj[o];
      for (int32_t i = 0; i < id; ++i) acc = ci8_wrap_add(acc, (int32_t)wo[i] * x[i]);
      int32_t r = ci8_mbqm_gemm(acc, mult[o], shift[o]) + op->output_zero_point;
      output[(size_t)b * od + o] = (int8_t)ci8_clamp_i32(r, op->activation_min, op->activation_max);
    }
  }
}
