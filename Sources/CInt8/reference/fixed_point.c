// TFLite's QuantizeMultiplier and MultiplyByQuantizedMultiplier (double rounding).
#include <math.h>

#include "ci8_ref.h"

void ci8_quantize_multiplier(double real_multiplier, int32_t *quantized_multiplier,
                             int32_t *shift) {
  if (real_multiplier == 0.0) {
    *quantized_multiplier = 0;
    *shift = 0;
    return;
  }
  int exponent = 0;
  const double q = frexp(real_multiplier, &exponent);
  // TfLiteRound is std::round: half away from zero.
  int64_t q_fixed = (int64_t)round(q * (double)(INT64_C(1) << 31));
  if (q_fixed == (INT64_C(1) << 31)) {
    q_fixed /= 2;
    ++exponent;
  }
  if (exponent < -31) {  // flushed to zero, as TFLite does
    exponent = 0;
    q_fixed = 0;
  }
  *quantized_multiplier = (int32_t)q_fixed;
  *shift = exponent;
}

int32_t ci8_multiply_by_quantized_multiplier(int32_t x, int32_t quantized_multiplier,
                                             int32_t shift) {
  return ci8_mbqm(x, quantized_multiplier, shift);
}
