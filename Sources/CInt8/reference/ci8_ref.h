// Private to CInt8: the portable reference kernel set and fixed-point helpers shared by all
// kernel sets. kernels.c registers these functions as every set's fallback variants; the
// portable-only ops (pad, concat, lut, quantize, resize) are the public functions themselves.
#ifndef CI8_REF_H
#define CI8_REF_H

#include <stdint.h>
#include <stddef.h>

#include "cint8.h"

// Float expressions here must round after every operation, as TFLite's do: no fused
// multiply-add contraction, whatever the compiler's default (clang contracts within an
// expression when FMA is available; GCC in GNU C modes contracts freely).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Prepared data is placed at 64-byte aligned offsets inside the caller's block.
#define CI8_ALIGN64(n) (((size_t)(n) + 63u) & ~(size_t)63u)

static inline int32_t ci8_clamp_i32(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// int32 arithmetic that wraps instead of being undefined on overflow (TFLite's int32
// accumulators wrap on every target it runs on).
static inline int32_t ci8_wrap_add(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t ci8_wrap_mul(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a * (uint32_t)b);
}

// gemmlowp SaturatingRoundingDoublingHighMul (int32).
static inline int32_t ci8_srdhm32(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : (1 - (INT64_C(1) << 30));
  return (int32_t)((ab + nudge) / (INT64_C(1) << 31));  // division truncates toward zero
}

// gemmlowp RoundingDivideByPOT (int32), exponent in [0, 31]: round to nearest, ties away.
static inline int32_t ci8_rdpot32(int32_t x, int exponent) {
  const int32_t mask = (int32_t)((INT64_C(1) << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// TFLite MultiplyByQuantizedMultiplier (double rounding). The left shift wraps like TFLite's.
static inline int32_t ci8_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return ci8_rdpot32(ci8_srdhm32((int32_t)((uint32_t)x << left), multiplier), right);
}

// The same multiplier as LiteRT's CONV_2D and FULLY_CONNECTED apply it: those go through ruy's
// GEMM, whose final rounding right shift breaks ties upward ((x + 2^(e-1)) >> e) instead of away
// from zero. Verified against LiteRT 2.3.0: it differs from ci8_mbqm exactly at negative ties.
static inline int32_t ci8_mbqm_gemm(int32_t x, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const int32_t high = ci8_srdhm32((int32_t)((uint32_t)x << left), multiplier);
  if (right == 0) return high;
  return (int32_t)(((int64_t)high + (INT64_C(1) << (right - 1))) >> right);
}

// int16 variants used by HARD_SWISH.
static inline int16_t ci8_srdhm16(int16_t a, int16_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}
static inline int16_t ci8_rdpot16(int16_t x, int exponent) {
  const int16_t mask = (int16_t)((1 << exponent) - 1);
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

// TFLite CalculateActivationRangeQuantized-style real -> int8 bound helpers are the caller's job.

// ---- reference kernel set ----
size_t ci8_ref_conv2d_prepared_size(const ci8_conv2d *op);
ci8_status ci8_ref_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                  void *prepared);
void ci8_ref_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                        void *scratch, int32_t row_begin, int32_t row_end);

// Per-channel TFLite (multiplier, shift) pairs of a convolution; shared with the SIMD sets.
ci8_status ci8_ref_conv_multipliers(const ci8_conv2d *op, int32_t *mult, int32_t *shift);

size_t ci8_ref_depthwise_conv2d_prepared_size(const ci8_conv2d *op);
ci8_status ci8_ref_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                            const int32_t *bias, void *prepared);
void ci8_ref_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                  void *scratch, int32_t row_begin, int32_t row_end);

size_t ci8_ref_fully_connected_prepared_size(const ci8_fully_connected *op);
ci8_status ci8_ref_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                           const int32_t *bias, void *prepared);
void ci8_ref_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                 int8_t *output, void *scratch, int32_t batch_begin,
                                 int32_t batch_end);

// ADD's prepared parameters (TFLite's general ADD rescaling); shared with the AVX2 ADD, which
// keeps this block first in its own prepared data.
typedef struct ci8_ref_add_params {
  int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift, left_shift;
} ci8_ref_add_params;
size_t ci8_ref_add_prepared_size(const ci8_binary *op);
ci8_status ci8_ref_add_prepare(ci8_binary *op, void *prepared);
void ci8_ref_add_run(const ci8_binary *op, const int8_t *a, const int8_t *b, int8_t *out);
// MUL's and PRELU's prepared multipliers (PRELU: 1 for x >= 0, 2 for alpha * x); the AVX2
// PRELU runs on this block as the reference prepares it.
typedef struct ci8_ref_pair_params {
  int32_t mult1, shift1, mult2, shift2;
} ci8_ref_pair_params;
size_t ci8_ref_mul_prepared_size(const ci8_binary *op);
ci8_status ci8_ref_mul_prepare(ci8_binary *op, void *prepared);
void ci8_ref_mul_run(const ci8_binary *op, const int8_t *a, const int8_t *b, int8_t *out);
size_t ci8_ref_prelu_prepared_size(const ci8_binary *op);
ci8_status ci8_ref_prelu_prepare(ci8_binary *op, void *prepared);
void ci8_ref_prelu_run(const ci8_binary *op, const int8_t *x, const int8_t *alpha, int8_t *out);

void ci8_ref_max_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output);
void ci8_ref_average_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output);

size_t ci8_ref_mean_hw_prepared_size(const ci8_mean_hw *op);
ci8_status ci8_ref_mean_hw_prepare(ci8_mean_hw *op, void *prepared);
void ci8_ref_mean_hw_run(const ci8_mean_hw *op, const int8_t *input, int8_t *output,
                         void *scratch);


size_t ci8_ref_softmax_prepared_size(const ci8_softmax *op);
ci8_status ci8_ref_softmax_prepare(ci8_softmax *op, void *prepared);
void ci8_ref_softmax_run(const ci8_softmax *op, const int8_t *input, int8_t *output);

// Shared validation of a scale: finite and > 0.
static inline int ci8_scale_ok(float s) { return s > 0.0f && s <= 3.4028234e38f; }

#endif  // CI8_REF_H
