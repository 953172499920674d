// MEAN int8 over H and W of an NHWC tensor.
//
// TFLite's built-in resolver takes two different integer paths (verified against LiteRT):
//  * keep_dims true: optimized_integer_ops::Mean -- raw sum, one multiplier for
//    in_s / (H*W * out_s) computed in float, plus bias out_zp - round_away(in_zp * in_s / out_s)
//    (float).
//  * keep_dims false: reference QuantizedMeanOrSum -- (sum - H*W*in_zp) times the multiplier of
//    in_s / out_s (double) whose mantissa is divided by H*W after a left shift of
//    floor(log2(H*W)) (capped), then + out_zp. Used for equal and different quantization alike.
#include "ci8_ref.h"

typedef struct mean_params {
  int32_t mult, shift, bias;  // sum -> mbqm(sum + bias_in, mult, shift) + bias
  int32_t input_bias;         // 0 (keep_dims) or -H*W*input_zero_point
} mean_params;

size_t ci8_ref_mean_hw_prepared_size(const ci8_mean_hw *op) {
  (void)op;
  return CI8_ALIGN64(sizeof(mean_params));
}

ci8_status ci8_ref_mean_hw_prepare(ci8_mean_hw *op, void *prepared) {
  if (op->batches < 0 || op->height <= 0 || op->width <= 0 || op->channels < 0 ||
      op->input_zero_point < -128 || op->input_zero_point > 127 ||
      op->output_zero_point < -128 || op->output_zero_point > 127)
    return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(op->input_scale) || !ci8_scale_ok(op->output_scale))
    return CI8_ERR_BAD_SCALE;
  mean_params *p = (mean_params *)prepared;
  const int32_t n = op->height * op->width;
  if (op->keep_dims) {
    const float num = (float)n;
    const float real = op->input_scale / (num * op->output_scale);
    ci8_quantize_multiplier((double)real, &p->mult, &p->shift);
    if (p->shift > 30) return CI8_ERR_BAD_SCALE;
    float zp_rescaled = (float)op->input_zero_point * op->input_scale / op->output_scale;
    zp_rescaled = zp_rescaled > 0 ? zp_rescaled + 0.5f : zp_rescaled - 0.5f;
    p->bias = op->output_zero_point - (int32_t)zp_rescaled;
    p->input_bias = 0;
  } else {
    int32_t mult, shift;
    const double real = (double)op->input_scale / (double)op->output_scale;
    ci8_quantize_multiplier(real, &mult, &shift);
    int32_t log2n = 0;
    while ((INT64_C(2) << log2n) <= (int64_t)n) ++log2n;  // floor(log2(n))
    int32_t s = log2n < 32 ? log2n : 32;
    if (s > 31 + shift) s = 31 + shift;
    p->mult = (int32_t)(((int64_t)mult << s) / n);
    p->shift = shift - s;
    if (p->shift > 30 || p->shift < -31) return CI8_ERR_BAD_SCALE;
    p->bias = op->output_zero_point;
    p->input_bias = -n * op->input_zero_point;
  }
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_mean_hw_run(const ci8_mean_hw *op, const int8_t *input, int8_t *output,
                         void *scratch) {
  (void)scratch;
  const mean_params *p = (const mean_params *)op->prepared;
  const int32_t n = op->height * op->width, ch = op->channels;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * n * ch;
    for (int32_t c = 0; c < ch; ++c) {
      int32_t sum = 0;
      for (int32_t k = 0; k < n; ++k) sum += in_b[(size_t)k * ch + c];
      const int32_t r = ci8_mbqm(sum + p->input_bias, p->mult, p->shift) + p->bias;
      output[(size_t)b * ch + c] = (int8_t)ci8_clamp_i32(r, -128, 127);
    }
  }
}
