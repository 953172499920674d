// MAX_POOL_2D and AVERAGE_POOL_2D int8 on AVX2, bit-exact with reference/pool.c.
// Max: vpmaxsb over 32 (then 16) channels per tap, starting from -128, then the activation clamp.
// Max is idempotent, so a channel tail of at least one vector width is handled by one more
// vector that overlaps the previous one (ending at the last channel); narrower tensors (< 16
// channels) run the scalar loop.
// Average: int32 sums of 8 channels per tap; the reference's rounded division
// (acc +- count/2) / count (truncating) is done in float: |n| < 2^24 makes float's correctly
// rounded n / count truncate to the exact integer quotient (a non-integer quotient is at least
// 1/count from the next integer, more than float's rounding error). Windows whose sums could
// reach 2^24 run the reference.
// The activation bounds are int8 values (as TFLite's fused activation range and the runtime's
// validation guarantee), so clamping after saturation to int8 equals the reference's clamp.
#include "ci8_avx2.h"
#include "../common/simd_common.h"

#if defined(__x86_64__)

CI8_AVX2_INLINE __m256i max_window32(const pool_window *w, int32_t ch, int32_t c) {
  __m256i acc = _mm256_set1_epi8(-128);
  const int8_t *row = w->base + c;
  for (int32_t y = 0; y < w->rows; ++y, row += w->row_step) {
    const int8_t *p = row;
    for (int32_t x = 0; x < w->cols; ++x, p += ch)
      acc = _mm256_max_epi8(acc, _mm256_loadu_si256((const __m256i *)p));
  }
  return acc;
}

CI8_AVX2_INLINE __m128i max_window16(const pool_window *w, int32_t ch, int32_t c) {
  __m128i acc = _mm_set1_epi8(-128);
  const int8_t *row = w->base + c;
  for (int32_t y = 0; y < w->rows; ++y, row += w->row_step) {
    const int8_t *p = row;
    for (int32_t x = 0; x < w->cols; ++x, p += ch)
      acc = _mm_max_epi8(acc, _mm_loadu_si128((const __m128i *)p));
  }
  return acc;
}

int ci8_avx2_max_pool2d_supports(const ci8_pool2d *op) { return op->channels >= 16; }

CI8_AVX2 void ci8_avx2_max_pool2d_run(const ci8_pool2d *op, const int8_t *input,
                                      int8_t *output) {
  const int32_t ch = op->channels, oh = op->output_height, ow = op->output_width;
  const __m256i lo = _mm256_set1_epi8((int8_t)op->activation_min);
  const __m256i hi = _mm256_set1_epi8((int8_t)op->activation_max);
  const __m128i lo16 = _mm256_castsi256_si128(lo), hi16 = _mm256_castsi256_si128(hi);
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * op->input_height * op->input_width * ch;
    for (int32_t oy = 0; oy < oh; ++oy)
      for (int32_t ox = 0; ox < ow; ++ox) {
        const pool_window w = pool_window_at(op, in_b, oy, ox);
        int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * ch;
        if (ch >= 32) {
          int32_t c = 0;
          for (;; c += 32) {
            if (c + 32 > ch) c = ch - 32;  // overlapping last vector
            const __m256i m = _mm256_min_epi8(_mm256_max_epi8(max_window32(&w, ch, c), lo), hi);
            _mm256_storeu_si256((__m256i *)(out + c), m);
            if (c + 32 >= ch) break;
          }
        } else {
          for (int32_t c = 0;; c += 16) {
            if (c + 16 > ch) c = ch - 16;
            const __m128i m = _mm_min_epi8(_mm_max_epi8(max_window16(&w, ch, c), lo16), hi16);
            _mm_storeu_si128((__m128i *)(out + c), m);
            if (c + 16 >= ch) break;
          }
        }
      }
  }
}

int ci8_avx2_average_pool2d_supports(const ci8_pool2d *op) {
  // Largest |sum +- count/2| must stay below 2^24 (see the top of the file).
  const int64_t taps = (int64_t)op->filter_height * op->filter_width;
  return op->channels >= 8 && taps * 129 < (INT64_C(1) << 24);
}

CI8_AVX2 void ci8_avx2_average_pool2d_run(const ci8_pool2d *op, const int8_t *input,
                                          int8_t *output) {
  const int32_t ch = op->channels, oh = op->output_height, ow = op->output_width;
  const __m256i lo = _mm256_set1_epi32(op->activation_min);
  const __m256i hi = _mm256_set1_epi32(op->activation_max);
  const __m256i zero = _mm256_setzero_si256();
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * op->input_height * op->input_width * ch;
    for (int32_t oy = 0; oy < oh; ++oy)
      for (int32_t ox = 0; ox < ow; ++ox) {
        const pool_window w = pool_window_at(op, in_b, oy, ox);
        int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * ch;
        const __m256i half = _mm256_set1_epi32(w.count / 2);
        const __m256 count = _mm256_set1_ps((float)(w.count > 0 ? w.count : 1));
        const int has = w.count > 0;
        int32_t c = 0;
        for (;; c += 8) {
          if (c + 8 > ch) c = ch - 8;  // overlapping last vector: same values rewritten
          __m256i acc = zero;
          const int8_t *row = w.base + c;
          for (int32_t y = 0; y < w.rows; ++y, row += w.row_step) {
            const int8_t *p = row;
            for (int32_t x = 0; x < w.cols; ++x, p += ch)
              acc = _mm256_add_epi32(acc, _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
          }
          if (has) {
            // acc > 0 ? acc + half : acc - half, then truncating division.
            const __m256i pos = _mm256_cmpgt_epi32(acc, zero);
            const __m256i n = _mm256_add_epi32(
                acc, _mm256_blendv_epi8(_mm256_sub_epi32(zero, half), half, pos));
            acc = _mm256_cvttps_epi32(_mm256_div_ps(_mm256_cvtepi32_ps(n), count));
          }
          acc = _mm256_min_epi32(_mm256_max_epi32(acc, lo), hi);
          const __m128i w16 =
              _mm_packs_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
          _mm_storel_epi64((__m128i *)(out + c), _mm_packs_epi16(w16, w16));
          if (c + 8 >= ch) break;
        }
      }
  }
}

#else
typedef int ci8_pool_avx2_unused;
#endif  // __x86_64__
