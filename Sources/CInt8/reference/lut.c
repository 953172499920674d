// Elementwise int8 -> int8 ops as 256-entry tables, each entry computed with the exact scalar
// arithmetic of TFLite's built-in kernel for that op.
#include <math.h>

#include "ci8_ref.h"

static int unary_ok(const ci8_unary_quant *q) {
  return q->input_zero_point >= -128 && q->input_zero_point <= 127 &&
         q->output_zero_point >= -128 && q->output_zero_point <= 127;
}

#define FOR_EACH_INT8(v) for (int32_t v = -128; v <= 127; ++v)
#define SLOT(v) ((uint8_t)(int8_t)(v))

// RELU family: requantize by float(in_s / out_s), clamp to zp + round(bound / out_s).
ci8_status ci8_lut_relu(const ci8_unary_quant *q, float real_min, float real_max,
                        int8_t table[256]) {
  if (!unary_ok(q)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(q->input_scale) || !ci8_scale_ok(q->output_scale)) return CI8_ERR_BAD_SCALE;
  int32_t mult, shift;
  const float real = q->input_scale / q->output_scale;
  ci8_quantize_multiplier((double)real, &mult, &shift);
  if (shift > 30) return CI8_ERR_BAD_SCALE;
  int32_t lo = q->output_zero_point + (int32_t)roundf(real_min / q->output_scale);
  lo = lo > -128 ? lo : -128;
  int32_t hi = 127;
  if (!isinf(real_max)) {
    const int32_t h = q->output_zero_point + (int32_t)roundf(real_max / q->output_scale);
    hi = h < 127 ? h : 127;
  }
  FOR_EACH_INT8(v) {
    const int32_t r = q->output_zero_point + ci8_mbqm(v - q->input_zero_point, mult, shift);
    int32_t c = r > lo ? r : lo;
    c = c < hi ? c : hi;
    table[SLOT(v)] = (int8_t)c;
  }
  return CI8_OK;
}

ci8_status ci8_lut_leaky_relu(const ci8_unary_quant *q, float alpha, int8_t table[256]) {
  if (!unary_ok(q)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(q->input_scale) || !ci8_scale_ok(q->output_scale)) return CI8_ERR_BAD_SCALE;
  int32_t m_id, s_id, m_al, s_al;
  // TFLite leaky_relu Prepare: both real multipliers are float expressions.
  const float alpha_mult = q->input_scale * alpha / q->output_scale;
  const float id_mult = q->input_scale / q->output_scale;
  ci8_quantize_multiplier((double)alpha_mult, &m_al, &s_al);
  ci8_quantize_multiplier((double)id_mult, &m_id, &s_id);
  if (s_al > 30 || s_id > 30) return CI8_ERR_BAD_SCALE;
  FOR_EACH_INT8(v) {
    const int32_t x = v - q->input_zero_point;
    const int32_t r = q->output_zero_point +
                      (x >= 0 ? ci8_mbqm(x, m_id, s_id) : ci8_mbqm(x, m_al, s_al));
    table[SLOT(v)] = (int8_t)ci8_clamp_i32(r, -128, 127);
  }
  return CI8_OK;
}

// TFLite LUTPopulate: dequantize in float, transform, round(y * (1 / out_s)) + zp.
static void float_table(const ci8_unary_quant *q, float (*f)(float), int8_t table[256]) {
  const float inverse_scale = 1.0f / q->output_scale;
  FOR_EACH_INT8(v) {
    const float x = q->input_scale * (float)(v - q->input_zero_point);
    const float y = f(x);
    const float scaled = y * inverse_scale;
    const float rescaled = roundf(scaled);
    const float shifted = rescaled + (float)q->output_zero_point;
    int32_t r;
    if (!(shifted >= -2147483648.0f && shifted < 2147483648.0f)) {
      r = shifted > 0 ? 127 : -128;
    } else {
      r = (int32_t)shifted;
    }
    table[SLOT(v)] = (int8_t)ci8_clamp_i32(r, -128, 127);
  }
}

static float logistic_f(float x) {
  const float e = expf(-x);
  return 1.0f / (1.0f + e);
}
static float tanh_f(float x) { return tanhf(x); }

ci8_status ci8_lut_logistic(const ci8_unary_quant *q, int8_t table[256]) {
  if (!unary_ok(q)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(q->input_scale) || !ci8_scale_ok(q->output_scale)) return CI8_ERR_BAD_SCALE;
  float_table(q, logistic_f, table);
  return CI8_OK;
}

ci8_status ci8_lut_tanh(const ci8_unary_quant *q, int8_t table[256]) {
  if (!unary_ok(q)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(q->input_scale) || !ci8_scale_ok(q->output_scale)) return CI8_ERR_BAD_SCALE;
  float_table(q, tanh_f, table);
  return CI8_OK;
}

static int16_t saturating_left_shift16(int16_t x, int shift) {
  const int32_t v = (int32_t)x * (1 << shift);
  return (int16_t)(v > INT16_MAX ? INT16_MAX : (v < INT16_MIN ? INT16_MIN : v));
}

// gemmlowp SaturatingDoublingHighMul (no rounding), int16.
static int16_t sdhm16(int16_t a, int16_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  const int32_t ab = (int32_t)a * (int32_t)b;
  return (int16_t)(ab / (1 << 15));
}

// TFLite DownScaleInt32ToInt16Multiplier.
static int16_t downscale_multiplier(int32_t m) {
  const int32_t rounded = (m + (1 << 15)) >> 16;  // m >= 0
  return (int16_t)(rounded > INT16_MAX ? INT16_MAX : rounded);
}

// HARD_SWISH: TFLite's int16 fixed-point reference arithmetic.
ci8_status ci8_lut_hard_swish(const ci8_unary_quant *q, int8_t table[256]) {
  if (!unary_ok(q)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(q->input_scale) || !ci8_scale_ok(q->output_scale)) return CI8_ERR_BAD_SCALE;
  const float hires_input_scale = (1.0f / 128.0f) * q->input_scale;
  const float reluish_scale = 3.0f / 32768.0f;
  const float out_mult_real = hires_input_scale / q->output_scale;
  const float reluish_real = hires_input_scale / reluish_scale;
  int32_t out_m32, out_exp, rel_m32, rel_exp;
  ci8_quantize_multiplier((double)out_mult_real, &out_m32, &out_exp);
  ci8_quantize_multiplier((double)reluish_real, &rel_m32, &rel_exp);
  if (out_exp > 0 || rel_exp > 30) return CI8_ERR_UNSUPPORTED;  // TFLite rejects out_exp > 0
  const int16_t out_m16 = downscale_multiplier(out_m32);
  const int16_t rel_m16 = downscale_multiplier(rel_m32);
  FOR_EACH_INT8(v) {
    const int16_t x = (int16_t)(v - q->input_zero_point);
    const int16_t hires = (int16_t)(x * (1 << 7));
    const int16_t preshift = ci8_srdhm16(hires, out_m16);
    int16_t reluish = hires;
    if (rel_exp > 0) reluish = saturating_left_shift16(reluish, rel_exp - 1);
    reluish = ci8_srdhm16(reluish, rel_m16);
    if (rel_exp > 0) reluish = saturating_left_shift16(reluish, 1);
    if (rel_exp < 0) reluish = ci8_rdpot16(reluish, -rel_exp);
    reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);
    const int16_t pre_out = sdhm16(reluish, preshift);
    int32_t out = ci8_rdpot16(pre_out, -out_exp);
    out += q->output_zero_point;
    table[SLOT(v)] = (int8_t)ci8_clamp_i32(out, -128, 127);
  }
  return CI8_OK;
}

// QUANTIZE int8 -> int8 with the given multiply (the tail's or the vector blocks' rounding).
static ci8_status lut_requantize_with(const ci8_unary_quant *q, int8_t table[256],
                                      int32_t (*multiply)(int32_t, int32_t, int32_t)) {
  if (!unary_ok(q)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(q->input_scale) || !ci8_scale_ok(q->output_scale)) return CI8_ERR_BAD_SCALE;
  int32_t mult, shift;
  const double real = (double)q->input_scale / (double)q->output_scale;
  ci8_quantize_multiplier(real, &mult, &shift);
  if (shift > 30) return CI8_ERR_BAD_SCALE;
  FOR_EACH_INT8(v) {
    const int32_t r = multiply(v - q->input_zero_point, mult, shift) + q->output_zero_point;
    table[SLOT(v)] = (int8_t)ci8_clamp_i32(r, -128, 127);
  }
  return CI8_OK;
}

ci8_status ci8_lut_requantize(const ci8_unary_quant *q, int8_t table[256]) {
  return lut_requantize_with(q, table, ci8_mbqm);
}

ci8_status ci8_lut_requantize_block(const ci8_unary_quant *q, int8_t table[256]) {
  return lut_requantize_with(q, table, ci8_mbqm_gemm);
}

void ci8_lut_run_blocked(const int8_t block_table[256], const int8_t tail_table[256],
                             size_t block, const int8_t *input, int8_t *output, size_t count) {
  const size_t blocked = block ? count - count % block : 0;
  for (size_t i = 0; i < blocked; ++i) output[i] = block_table[(uint8_t)input[i]];
  for (size_t i = blocked; i < count; ++i) output[i] = tail_table[(uint8_t)input[i]];
}

void ci8_lut_run(const int8_t table[256], const int8_t *input, int8_t *output,
                     size_t count) {
  for (size_t i = 0; i < count; ++i) output[i] = table[(uint8_t)input[i]];
}
