// QUANTIZE float32 -> int8 on AVX2: f32-qs8-convert/x32-avx2, 32 values per step.
// Bit-exact with the reference (reference/quantize.c), which follows LiteRT: the whole blocks of
// 8 values compute rint_half_even(x * (float)(1.0 / scale)) + zp -- vmulps, then vcvtps2dq in
// the default round-to-nearest-even mode; out-of-range and NaN give INT32_MIN there as in the
// reference's cvt_i32 -- and the count % 8 tail values go to the reference's scalar path
// (division in double, ties away from zero). The zero point is added with a wrapping vpaddd
// (ci8_wrap_add); saturating packs to int16 then int8 equal the reference's clamp to
// [-128, 127].
#include "ci8_avx2.h"

#if defined(__x86_64__)

CI8_AVX2_INLINE __m256i quantize8(const float *x, __m256 inverse, __m256i zp) {
  return _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), inverse)), zp);
}

CI8_AVX2 void ci8_avx2_quantize_f32_run(const ci8_quantize_f32 *op, const float *input,
                                        int8_t *output) {
  const size_t count = op->count, blocked = count - count % 8;
  const __m256 inverse = _mm256_set1_ps((float)(1.0 / (double)op->scale));
  const __m256i zp = _mm256_set1_epi32(op->zero_point);
  // packs work per 128-bit lane: bytes come out as dwords a0 b0 c0 d0 | a1 b1 c1 d1 (x0: values
  // 0-3 of a vector, x1: 4-7); this permutation restores a b c d order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= blocked; i += 32) {
    const __m256i a = quantize8(input + i, inverse, zp);
    const __m256i b = quantize8(input + i + 8, inverse, zp);
    const __m256i c = quantize8(input + i + 16, inverse, zp);
    const __m256i d = quantize8(input + i + 24, inverse, zp);
    const __m256i bytes =
        _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    _mm256_storeu_si256((__m256i *)(output + i), _mm256_permutevar8x32_epi32(bytes, order));
  }
  for (; i < blocked; i += 8) {
    const __m256i a = quantize8(input + i, inverse, zp);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    _mm_storel_epi64((__m128i *)(output + i), _mm_packs_epi16(w, w));
  }
  // The tail: the reference on count % 8 values is its scalar path for exactly these.
  if (blocked < count)
    ci8_quantize_f32_run(input + blocked, output + blocked, count - blocked, op->scale,
                         op->zero_point);
}

#else
typedef int ci8_quantize_avx2_unused;
#endif  // __x86_64__
