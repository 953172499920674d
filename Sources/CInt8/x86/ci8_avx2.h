// Private to CInt8: the x86-64 AVX2 micro-kernels (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
// ADD, PRELU, MAX_POOL_2D, AVERAGE_POOL_2D), registered in kernels.c.
// Every function is compiled with __attribute__((target("avx2,fma"))), so the package builds
// with the compiler's default (baseline x86-64) flags; ci8_kernels_get hands out the AVX2 table
// only after __builtin_cpu_supports("avx2") and ("fma") said yes. A *_supports(op) function
// says which descriptors a kernel covers; the table runs the reference kernel for the others.
//
// Requantization is vectorized and bit-exact with the reference:
//   srdhm(x, m)      == (x * m + 2^30) >> 31 (floor) for every m this library produces
//                       (m is 0 or in [2^30, 2^31), never INT32_MIN, so no saturation case);
//   gemm rounding    == (h >> r) + ((h >> (r - 1)) & 1) for r > 0, h for r == 0,
//                       which is (h + 2^(r-1)) >> r without the 32-bit overflow.
#ifndef CI8_AVX2_H
#define CI8_AVX2_H

#include "../reference/ci8_ref.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define CI8_AVX2 __attribute__((target("avx2,fma")))
#define CI8_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

// Per-channel requantization parameters, each an int32 array of the padded channel count.
typedef struct ci8_avx2_rq {
  const int32_t *mult;    // quantized multiplier
  const int32_t *lshift;  // max(shift, 0); ci8_avx2_requant skips it when NULL (all zero)
  const int32_t *rshift;  // max(-shift, 0)
  const int32_t *rshift1; // max(-shift - 1, 0)
  const int32_t *rbit;    // 1 where rshift > 0, else 0
  // ci8_avx2_requant's constants (ci8_avx2_rq_fill_requant), per group of 8 channels in lane
  // order (the 4 even channels, then the 4 odd ones) for the int64 arrays:
  const int64_t *nudge;   // 2^30 + (r > 0 ? 2^(30 + r) : 0), r = rshift
  const int64_t *twice;   // all ones where r == 0 (padded channels: 0); NULL when none is
  const int32_t *zp;      // output zero point, natural order
} ci8_avx2_rq;

// Fills the five arrays from TFLite (multiplier, shift) pairs; padded channels get zeros.
static inline void ci8_avx2_rq_fill(int32_t count, int32_t padded, const int32_t *mult,
                                    const int32_t *shift, int32_t *m, int32_t *ls, int32_t *rs,
                                    int32_t *rs1, int32_t *rb) {
  for (int32_t c = 0; c < padded; ++c) {
    const int32_t s = c < count ? shift[c] : 0;
    m[c] = c < count ? mult[c] : 0;
    ls[c] = s > 0 ? s : 0;
    rs[c] = s > 0 ? 0 : -s;
    rs1[c] = rs[c] > 0 ? rs[c] - 1 : 0;
    rb[c] = rs[c] > 0 ? 1 : 0;
  }
}

// ci8_avx2_requant's constants from TFLite shifts; padded channels get r = 0 and twice = 0
// (their lanes are never stored).
static inline void ci8_avx2_rq_fill_requant(int32_t count, int32_t padded, const int32_t *shift,
                                            int32_t output_zero_point, int64_t *nudge,
                                            int64_t *twice, int32_t *zp) {
  for (int32_t c = 0; c < padded; ++c) {
    const int32_t s = c < count ? shift[c] : 0, r = s > 0 ? 0 : -s;  // r in [0, 31]
    const int32_t lane = (c & ~7) + ((c & 1) ? 4 + (c & 7) / 2 : (c & 7) / 2);
    int64_t n = INT64_C(1) << 30;
    if (r > 0) n += INT64_C(1) << (30 + r);
    nudge[lane] = n;
    twice[lane] = (c < count && r == 0) ? -1 : 0;
    zp[c] = output_zero_point;
  }
}

// The lshift array when some channel shifts left, else NULL (ci8_avx2_requant then skips it);
// the same for twice (no channel with r == 0).
static inline const int32_t *ci8_avx2_rq_lshift_or_null(const int32_t *lshift, int32_t count) {
  for (int32_t c = 0; c < count; ++c)
    if (lshift[c] != 0) return lshift;
  return NULL;
}
static inline const int64_t *ci8_avx2_rq_twice_or_null(const int64_t *twice, int32_t count) {
  for (int32_t c = 0; c < count; ++c)
    if (twice[c] != 0) return twice;
  return NULL;
}

// ci8_mbqm_gemm(acc) + output zero point on 8 lanes (channels c .. c + 7, c a multiple of 8),
// with one 32-bit shift instead of two roundings: with P = (acc << lshift) * m (|P| < 2^62),
//   ci8_mbqm_gemm = floor((floor((P + 2^30) / 2^31) + 2^(r-1)) / 2^r)      (r > 0)
//                 = floor((P + 2^30 + 2^(30+r)) / 2^(31+r))                (nested floors)
//                 = floor(H / 2^(r-1)),  H = floor((P + nudge) / 2^32)
// and for r == 0 floor((P + 2^30) / 2^31) = H of twice (P + nudge). |P + nudge| < 2^63 (and
// < 2^62 when r == 0, so doubling it cannot overflow); H, the high half of the 64-bit sum, fits
// int32, so the last step is one vpsravd by rshift1. Only immediate shuffles and one variable
// shift: the 64-bit variable shifts this replaces are the slowest integer ops on Zen 1.
CI8_AVX2_INLINE __m256i ci8_avx2_requant(__m256i acc, const ci8_avx2_rq *rq, int32_t c) {
  const __m256i m = _mm256_loadu_si256((const __m256i *)(rq->mult + c));
  const __m256i x = rq->lshift ? _mm256_sllv_epi32(acc, _mm256_loadu_si256(
                                                            (const __m256i *)(rq->lshift + c)))
                               : acc;
  __m256i even = _mm256_mul_epi32(x, m);
  __m256i odd = _mm256_mul_epi32(_mm256_shuffle_epi32(x, 0xF5), _mm256_shuffle_epi32(m, 0xF5));
  even = _mm256_add_epi64(even, _mm256_loadu_si256((const __m256i *)(rq->nudge + c)));
  odd = _mm256_add_epi64(odd, _mm256_loadu_si256((const __m256i *)(rq->nudge + c + 4)));
  if (rq->twice) {
    even = _mm256_add_epi64(
        even, _mm256_and_si256(even, _mm256_loadu_si256((const __m256i *)(rq->twice + c))));
    odd = _mm256_add_epi64(
        odd, _mm256_and_si256(odd, _mm256_loadu_si256((const __m256i *)(rq->twice + c + 4))));
  }
  // The high 32 bits of every 64-bit lane, in channel order.
  const __m256i h = _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xF5), odd, 0xAA);
  const __m256i q = _mm256_srav_epi32(h, _mm256_loadu_si256((const __m256i *)(rq->rshift1 + c)));
  return _mm256_add_epi32(q, _mm256_loadu_si256((const __m256i *)(rq->zp + c)));
}

// The shared first step of ci8_mbqm and ci8_mbqm_gemm on 8 lanes (channels c .. c+7 of rq):
// ci8_srdhm32(acc << lshift, mult).
CI8_AVX2_INLINE __m256i ci8_avx2_srdhm(__m256i acc, const ci8_avx2_rq *rq, int32_t c) {
  const __m256i m = _mm256_loadu_si256((const __m256i *)(rq->mult + c));
  const __m256i x = rq->lshift ? _mm256_sllv_epi32(acc, _mm256_loadu_si256(
                                                            (const __m256i *)(rq->lshift + c)))
                               : acc;
  const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
  __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
  __m256i odd = _mm256_add_epi64(
      _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), nudge);
  // Bits 31..62 of each 64-bit sum are the 32-bit result (floor shift by 31).
  even = _mm256_srli_epi64(even, 31);
  odd = _mm256_slli_epi64(odd, 1);
  return _mm256_blend_epi32(even, odd, 0xAA);
}

// ci8_mbqm_gemm on 8 lanes: the final shift rounds ties up.
CI8_AVX2_INLINE __m256i ci8_avx2_mbqm_gemm(__m256i acc, const ci8_avx2_rq *rq, int32_t c) {
  const __m256i high = ci8_avx2_srdhm(acc, rq, c);
  const __m256i q = _mm256_srav_epi32(high, _mm256_loadu_si256((const __m256i *)(rq->rshift + c)));
  const __m256i half = _mm256_and_si256(
      _mm256_srav_epi32(high, _mm256_loadu_si256((const __m256i *)(rq->rshift1 + c))),
      _mm256_loadu_si256((const __m256i *)(rq->rbit + c)));
  return _mm256_add_epi32(q, half);
}

// ci8_mbqm on 8 lanes: the final shift (ci8_rdpot32) rounds ties away from zero.
CI8_AVX2_INLINE __m256i ci8_avx2_mbqm(__m256i acc, const ci8_avx2_rq *rq, int32_t c) {
  const __m256i high = ci8_avx2_srdhm(acc, rq, c);
  const __m256i r = _mm256_loadu_si256((const __m256i *)(rq->rshift + c));
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, r), one);
  const __m256i threshold =
      _mm256_add_epi32(_mm256_srli_epi32(mask, 1), _mm256_srli_epi32(high, 31));
  const __m256i up = _mm256_cmpgt_epi32(_mm256_and_si256(high, mask), threshold);  // -1 or 0
  return _mm256_sub_epi32(_mm256_srav_epi32(high, r), up);
}

// Adds the output zero point, clamps to [lo, hi] and narrows 8 int32 lanes to 8 int8 bytes.
CI8_AVX2_INLINE __m128i ci8_avx2_narrow8(__m256i v, __m256i zp, __m256i lo, __m256i hi) {
  v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, zp), lo), hi);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packs_epi16(w, w);  // low 8 bytes
}

// Clamps 8 int32 lanes (zero point already added) to [lo, hi] and narrows them to 8 bytes.
CI8_AVX2_INLINE __m128i ci8_avx2_clamp8(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packs_epi16(w, w);  // low 8 bytes
}

// Stores the low `count` (1..8) bytes of v.
CI8_AVX2_INLINE void ci8_avx2_store_bytes(int8_t *dst, __m128i v, int32_t count) {
  if (count >= 8) {
    _mm_storel_epi64((__m128i *)dst, v);
  } else {
    int8_t tmp[16];
    _mm_storeu_si128((__m128i *)tmp, v);
    memcpy(dst, tmp, (size_t)count);
  }
}

// Broadcast of one int16 pair (4 bytes) as an int32 to all lanes.
CI8_AVX2_INLINE __m256i ci8_avx2_bcast_pair(const int16_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// Element offsets into both inputs of row `row` of a broadcast op, a row being a run along the
// last dimension (rows in output order).
static inline void ci8_broadcast_row_offsets(const ci8_broadcast *b, size_t row, ptrdiff_t *i1,
                                             ptrdiff_t *i2) {
  ptrdiff_t o1 = 0, o2 = 0;
  for (int k = CI8_MAX_RANK - 2; k >= 0; --k) {
    const size_t n = (size_t)b->output_shape[k];
    const ptrdiff_t index = (ptrdiff_t)(row % n);
    row /= n;
    o1 += index * b->input1_strides[k];
    o2 += index * b->input2_strides[k];
  }
  *i1 = o1;
  *i2 = o2;
}

// ---- the AVX2 kernel set ----
int ci8_avx2_conv2d_direct_supports(const ci8_conv2d *op);  // dilation 1, not 1x1 stride 1
size_t ci8_avx2_conv2d_direct_prepared_size(const ci8_conv2d *op);
ci8_status ci8_avx2_conv2d_direct_prepare(ci8_conv2d *op, const int8_t *filter,
                                          const int32_t *bias, void *prepared);
size_t ci8_avx2_conv2d_direct_scratch_size(const ci8_conv2d *op);
void ci8_avx2_conv2d_direct_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                void *scratch, int32_t row_begin, int32_t row_end);
size_t ci8_avx2_conv2d_prepared_size(const ci8_conv2d *op);
ci8_status ci8_avx2_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                   void *prepared);
size_t ci8_avx2_conv2d_scratch_size(const ci8_conv2d *op);
void ci8_avx2_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                         void *scratch, int32_t row_begin, int32_t row_end);

// depth_multiplier 1 only.
int ci8_avx2_depthwise_conv2d_supports(const ci8_conv2d *op);
size_t ci8_avx2_depthwise_conv2d_prepared_size(const ci8_conv2d *op);
ci8_status ci8_avx2_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                             const int32_t *bias, void *prepared);
size_t ci8_avx2_depthwise_conv2d_scratch_size(const ci8_conv2d *op);
void ci8_avx2_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                   void *scratch, int32_t row_begin, int32_t row_end);

size_t ci8_avx2_fully_connected_prepared_size(const ci8_fully_connected *op);
ci8_status ci8_avx2_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                            const int32_t *bias, void *prepared);
size_t ci8_avx2_fully_connected_scratch_size(const ci8_fully_connected *op);
void ci8_avx2_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                  int8_t *output, void *scratch, int32_t batch_begin,
                                  int32_t batch_end);

// ADD and PRELU run on the reference's prepared data (ci8_ref_add_params, ci8_ref_pair_params):
// only the run differs. Dense layouts, or rows along the last dim (see the .c files).
int ci8_avx2_add_supports(const ci8_binary *op);
void ci8_avx2_add_run(const ci8_binary *op, const int8_t *input1, const int8_t *input2,
                      int8_t *output);

int ci8_avx2_prelu_supports(const ci8_binary *op);
void ci8_avx2_prelu_run(const ci8_binary *op, const int8_t *input, const int8_t *alpha,
                        int8_t *output);

int ci8_avx2_max_pool2d_supports(const ci8_pool2d *op);  // channels >= 16
void ci8_avx2_max_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output);
int ci8_avx2_average_pool2d_supports(const ci8_pool2d *op);  // channels >= 8, bounded window
void ci8_avx2_average_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output);

// QUANTIZE float32 -> int8 (LiteRT's block/tail rounding split, see reference/quantize.c).
void ci8_avx2_quantize_f32_run(const ci8_quantize_f32 *op, const float *input, int8_t *output);

#endif  // __x86_64__
#endif  // CI8_AVX2_H
