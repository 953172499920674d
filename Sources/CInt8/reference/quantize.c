// QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32, as LiteRT's built-in kernels compute
// them. Those kernels take a vector path for each whole block of 8 elements and a scalar path
// for the remaining tail, and the two round differently (verified against LiteRT 2.3.0 on
// x86-64, where TFLite builds its NEON code through NEON_2_SSE):
//   QUANTIZE   block: rint_half_even(x * (float)(1.0 / scale)) + zp
//              tail:  round_half_away((double)x / (double)scale) + zp
//   DEQUANTIZE block: (float)(q) * scale + (float)(-zp * scale)   (two float roundings)
//              tail:  (float)((double)scale * (q - zp))           (one rounding)
// An element's result therefore depends on whether it lies in the tail (index >= count - count%8).
#include <math.h>

#include "ci8_ref.h"

// float/double -> int32 conversion as x86 does it: out-of-range and NaN give INT32_MIN.
static int32_t cvt_i32(double r) {
  if (r >= -2147483648.0 && r < 2147483648.0) return (int32_t)r;
  return INT32_MIN;
}

static int8_t finish_quantize(int32_t v, int32_t zero_point) {
  return (int8_t)ci8_clamp_i32(ci8_wrap_add(v, zero_point), -128, 127);
}

void ci8_quantize_f32_run(const float *input, int8_t *output, size_t count, float scale,
                              int32_t zero_point) {
  const size_t blocked = count - count % 8;
  const float inverse = (float)(1.0 / (double)scale);
  for (size_t i = 0; i < blocked; ++i) {
    const float scaled = input[i] * inverse;
    output[i] = finish_quantize(cvt_i32((double)rintf(scaled)), zero_point);
  }
  for (size_t i = blocked; i < count; ++i) {
    const double q = (double)input[i] / (double)scale;
    output[i] = finish_quantize(cvt_i32(round(q)), zero_point);
  }
}

void ci8_dequantize_f32_run(const int8_t *input, float *output, size_t count, float scale,
                                int32_t zero_point) {
  const size_t blocked = count - count % 8;
  const float offset = (float)(-(double)zero_point * (double)scale);
  for (size_t i = 0; i < blocked; ++i) {
    const float product = (float)input[i] * scale;
    output[i] = product + offset;
  }
  const double s = (double)scale;
  for (size_t i = blocked; i < count; ++i)
    output[i] = (float)(s * (double)((int32_t)input[i] - zero_point));
}
