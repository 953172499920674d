// Private to the AVX2 kernel set: the packed int16 GEMM core shared by CONV_2D (rows of an
// int16 im2col block) and FULLY_CONNECTED (batch rows).
//
// Prepared layout (all blocks 64-byte aligned):
//   header   ci8_avx2_gemm_header
//   int32    mult[ocp], lshift[ocp], rshift[ocp], rshift1[ocp], rbit[ocp], bias_adjusted[ocp]
//   int64    nudge[ocp], twice[ocp]; int32 zpv[ocp] (ci8_avx2_requant)
//   int16    weights: output channels in groups of 16 (then one group of 8 when ocp % 16 == 8);
//            a group of NR channels is [kp / 2][NR][2]: for each pair of reduction indices
//            (k, k + 1) one 32-bit word per channel, w[k] low and w[k + 1] high, which is what
//            vpmaddwd multiplies against a broadcast (a[k], a[k + 1]) pair.
// k = filter_height * filter_width * input_channels (or input_depth), kp = k rounded up to
// even, ocp = channels rounded up to 8. Padded weights and channels are zero.
// bias_adjusted = bias - input_zero_point * sum(w) (wrapping), as in the reference; the GEMM then
// multiplies raw activations (input zero point stored for out-of-image taps), and int32 adds
// wrap as the reference's do, so the accumulators are equal to the reference's bit for bit.
#ifndef CI8_GEMM_AVX2_H
#define CI8_GEMM_AVX2_H

#include "ci8_avx2.h"

#if defined(__x86_64__)

typedef struct ci8_avx2_gemm_header {
  int32_t k, kp, oc, ocp;
  int32_t any_lshift, any_twice;  // ci8_avx2_requant's optional steps, decided at prepare
} ci8_avx2_gemm_header;

typedef struct ci8_avx2_gemm_layout {
  size_t vec, mult, lshift, rshift, rshift1, rbit, bias, nudge, twice, zpv, weights, total;
  int32_t kp, ocp;
} ci8_avx2_gemm_layout;

static inline ci8_avx2_gemm_layout ci8_avx2_gemm_layout_of(int32_t k, int32_t oc) {
  ci8_avx2_gemm_layout l;
  l.kp = (k + 1) & ~1;
  l.ocp = (oc + 7) & ~7;
  l.vec = CI8_ALIGN64(sizeof(int32_t) * (size_t)l.ocp);
  l.mult = CI8_ALIGN64(sizeof(ci8_avx2_gemm_header));
  l.lshift = l.mult + l.vec;
  l.rshift = l.lshift + l.vec;
  l.rshift1 = l.rshift + l.vec;
  l.rbit = l.rshift1 + l.vec;
  l.bias = l.rbit + l.vec;
  l.nudge = l.bias + l.vec;
  l.twice = l.nudge + 2 * l.vec;
  l.zpv = l.twice + 2 * l.vec;
  l.weights = l.zpv + l.vec;
  l.total = l.weights + CI8_ALIGN64(sizeof(int16_t) * (size_t)l.kp * (size_t)l.ocp);
  return l;
}

// Packs w[oc][k] (int8) and the multipliers; mult/shift hold oc entries (TFLite form).
static inline void ci8_avx2_gemm_pack(void *prepared, int32_t k, int32_t oc, const int8_t *w,
                                      const int32_t *bias, int32_t input_zero_point,
                                      int32_t output_zero_point, const int32_t *mult,
                                      const int32_t *shift) {
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(k, oc);
  uint8_t *base = (uint8_t *)prepared;
  ci8_avx2_rq_fill(oc, l.ocp, mult, shift, (int32_t *)(base + l.mult),
                   (int32_t *)(base + l.lshift), (int32_t *)(base + l.rshift),
                   (int32_t *)(base + l.rshift1), (int32_t *)(base + l.rbit));
  ci8_avx2_rq_fill_requant(oc, l.ocp, shift, output_zero_point, (int64_t *)(base + l.nudge),
                           (int64_t *)(base + l.twice), (int32_t *)(base + l.zpv));
  ci8_avx2_gemm_header *h = (ci8_avx2_gemm_header *)base;
  h->k = k;
  h->kp = l.kp;
  h->oc = oc;
  h->ocp = l.ocp;
  h->any_lshift = ci8_avx2_rq_lshift_or_null((const int32_t *)(base + l.lshift), l.ocp) != NULL;
  h->any_twice = ci8_avx2_rq_twice_or_null((const int64_t *)(base + l.twice), l.ocp) != NULL;
  int32_t *badj = (int32_t *)(base + l.bias);
  for (int32_t c = 0; c < l.ocp; ++c) {
    int32_t sum = 0;
    if (c < oc) {
      for (int32_t i = 0; i < k; ++i) sum = ci8_wrap_add(sum, w[(size_t)c * k + i]);
    }
    const int32_t b = (c < oc && bias) ? bias[c] : 0;
    badj[c] = ci8_wrap_add(b, ci8_wrap_mul(-input_zero_point, sum));
  }
  int16_t *pw = (int16_t *)(base + l.weights);
  for (int32_t c0 = 0; c0 < l.ocp;) {
    const int32_t nr = (l.ocp - c0 >= 16) ? 16 : 8;
    for (int32_t kk = 0; kk < l.kp; ++kk) {
      for (int32_t j = 0; j < nr; ++j) {
        const int32_t c = c0 + j;
        const int16_t v = (c < oc && kk < k) ? (int16_t)w[(size_t)c * k + kk] : 0;
        pw[((size_t)(kk >> 1) * nr + j) * 2 + (kk & 1)] = v;
      }
    }
    pw += (size_t)l.kp * nr;
    c0 += nr;
  }
}

// Up to 4 rows (a0..a3, each kp int16) times one group of 16 (or 8) channels.
#define CI8_GEMM_STEP16(a, c0, c1)                        \
  do {                                                    \
    const __m256i x_ = ci8_avx2_bcast_pair(a + 2 * i);    \
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(x_, w0)); \
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(x_, w1)); \
  } while (0)
#define CI8_GEMM_STEP8(a, c0)                             \
  do {                                                    \
    const __m256i x_ = ci8_avx2_bcast_pair(a + 2 * i);    \
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(x_, w0)); \
  } while (0)

CI8_AVX2_INLINE void ci8_avx2_gemm_4x16(const int16_t *a0, const int16_t *a1, const int16_t *a2,
                                        const int16_t *a3, const int16_t *w, int32_t kp2,
                                        const int32_t *bias, __m256i acc[8]) {
  __m256i c00 = _mm256_loadu_si256((const __m256i *)bias);
  __m256i c01 = _mm256_loadu_si256((const __m256i *)(bias + 8));
  __m256i c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  int32_t i = 0;
  for (; i + 1 < kp2; i += 2) {  // two pairs per trip: less loop bookkeeping per vpmaddwd
    __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i));
    __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 16));
    CI8_GEMM_STEP16(a0, c00, c01);
    CI8_GEMM_STEP16(a1, c10, c11);
    CI8_GEMM_STEP16(a2, c20, c21);
    CI8_GEMM_STEP16(a3, c30, c31);
    w0 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 32));
    w1 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 48));
    CI8_GEMM_STEP16(a0 + 2, c00, c01);
    CI8_GEMM_STEP16(a1 + 2, c10, c11);
    CI8_GEMM_STEP16(a2 + 2, c20, c21);
    CI8_GEMM_STEP16(a3 + 2, c30, c31);
  }
  if (i < kp2) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i));
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 16));
    CI8_GEMM_STEP16(a0, c00, c01);
    CI8_GEMM_STEP16(a1, c10, c11);
    CI8_GEMM_STEP16(a2, c20, c21);
    CI8_GEMM_STEP16(a3, c30, c31);
  }
  acc[0] = c00; acc[1] = c01; acc[2] = c10; acc[3] = c11;
  acc[4] = c20; acc[5] = c21; acc[6] = c30; acc[7] = c31;
}

CI8_AVX2_INLINE void ci8_avx2_gemm_4x8(const int16_t *a0, const int16_t *a1, const int16_t *a2,
                                       const int16_t *a3, const int16_t *w, int32_t kp2,
                                       const int32_t *bias, __m256i acc[8]) {
  __m256i c0 = _mm256_loadu_si256((const __m256i *)bias);
  __m256i c1 = c0, c2 = c0, c3 = c0;
  for (int32_t i = 0; i < kp2; ++i) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + 16 * (size_t)i));
    CI8_GEMM_STEP8(a0, c0);
    CI8_GEMM_STEP8(a1, c1);
    CI8_GEMM_STEP8(a2, c2);
    CI8_GEMM_STEP8(a3, c3);
  }
  acc[0] = c0; acc[2] = c1; acc[4] = c2; acc[6] = c3;
}

CI8_AVX2_INLINE void ci8_avx2_gemm_1x16(const int16_t *a0, const int16_t *w, int32_t kp2,
                                        const int32_t *bias, __m256i acc[8]) {
  __m256i c00 = _mm256_loadu_si256((const __m256i *)bias);
  __m256i c01 = _mm256_loadu_si256((const __m256i *)(bias + 8));
  // Two independent chains per output vector hide the vpmaddwd latency.
  __m256i d00 = _mm256_setzero_si256(), d01 = _mm256_setzero_si256();
  int32_t i = 0;
  for (; i + 1 < kp2; i += 2) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i));
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 16));
    const __m256i w2 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 32));
    const __m256i w3 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 48));
    const __m256i x0 = ci8_avx2_bcast_pair(a0 + 2 * i);
    const __m256i x1 = ci8_avx2_bcast_pair(a0 + 2 * i + 2);
    c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x0, w0));
    c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x0, w1));
    d00 = _mm256_add_epi32(d00, _mm256_madd_epi16(x1, w2));
    d01 = _mm256_add_epi32(d01, _mm256_madd_epi16(x1, w3));
  }
  for (; i < kp2; ++i) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i));
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)i + 16));
    CI8_GEMM_STEP16(a0, c00, c01);
  }
  acc[0] = _mm256_add_epi32(c00, d00);
  acc[1] = _mm256_add_epi32(c01, d01);
}

CI8_AVX2_INLINE void ci8_avx2_gemm_1x8(const int16_t *a0, const int16_t *w, int32_t kp2,
                                       const int32_t *bias, __m256i acc[8]) {
  __m256i c0 = _mm256_loadu_si256((const __m256i *)bias);
  for (int32_t i = 0; i < kp2; ++i) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + 16 * (size_t)i));
    CI8_GEMM_STEP8(a0, c0);
  }
  acc[0] = c0;
}

// Output parameters shared by a whole GEMM.
typedef struct ci8_avx2_out {
  ci8_avx2_rq rq;
  const int32_t *bias;
  const int16_t *weights;
  int32_t kp, oc, ocp;
  __m256i zp, lo, hi;
} ci8_avx2_out;

CI8_AVX2_INLINE ci8_avx2_out ci8_avx2_out_of(const void *prepared, int32_t output_zero_point,
                                             int32_t activation_min, int32_t activation_max) {
  const uint8_t *base = (const uint8_t *)prepared;
  const ci8_avx2_gemm_header *h = (const ci8_avx2_gemm_header *)base;
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(h->k, h->oc);
  ci8_avx2_out o;
  o.rq.mult = (const int32_t *)(base + l.mult);
  o.rq.lshift = h->any_lshift ? (const int32_t *)(base + l.lshift) : NULL;
  o.rq.rshift = (const int32_t *)(base + l.rshift);
  o.rq.rshift1 = (const int32_t *)(base + l.rshift1);
  o.rq.rbit = (const int32_t *)(base + l.rbit);
  o.rq.nudge = (const int64_t *)(base + l.nudge);
  o.rq.twice = h->any_twice ? (const int64_t *)(base + l.twice) : NULL;
  o.rq.zp = (const int32_t *)(base + l.zpv);
  o.bias = (const int32_t *)(base + l.bias);
  o.weights = (const int16_t *)(base + l.weights);
  o.kp = h->kp;
  o.oc = h->oc;
  o.ocp = h->ocp;
  o.zp = _mm256_set1_epi32(output_zero_point);
  o.lo = _mm256_set1_epi32(activation_min);
  o.hi = _mm256_set1_epi32(activation_max);
  return o;
}

// Requantizes and stores a tile: rows r < rows, channels c0 .. c0 + nr - 1 (clipped to oc).
// acc[2 * r + h] holds row r, channels c0 + 8h .. c0 + 8h + 7.
CI8_AVX2_INLINE void ci8_avx2_store_tile(const ci8_avx2_out *o, int8_t *const out[4],
                                         int32_t rows, int32_t c0, int32_t nr,
                                         const __m256i acc[8]) {
  if (nr == 16 && c0 + 16 <= o->oc) {
    // 16 whole channels per row: both halves saturate-packed together, then clamped as int8
    // (saturating to int8 first changes nothing: the clamp bounds lie inside int8).
    const __m128i lo8 = _mm_set1_epi8((int8_t)_mm256_extract_epi32(o->lo, 0));
    const __m128i hi8 = _mm_set1_epi8((int8_t)_mm256_extract_epi32(o->hi, 0));
    for (int32_t r = 0; r < rows; ++r) {
      const __m256i v0 = ci8_avx2_requant(acc[2 * r], &o->rq, c0);
      const __m256i v1 = ci8_avx2_requant(acc[2 * r + 1], &o->rq, c0 + 8);
      // packs works per 128-bit lane: [v0 0-3, v1 0-3 | v0 4-7, v1 4-7]; restore the order.
      const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
      __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
      b = _mm_min_epi8(_mm_max_epi8(b, lo8), hi8);
      _mm_storeu_si128((__m128i *)(out[r] + c0), b);
    }
    return;
  }
  for (int32_t hh = 0; hh * 8 < nr; ++hh) {
    const int32_t c = c0 + 8 * hh;
    if (c >= o->oc) break;
    const int32_t count = o->oc - c < 8 ? o->oc - c : 8;
    for (int32_t r = 0; r < rows; ++r) {
      const __m256i v = ci8_avx2_requant(acc[2 * r + hh], &o->rq, c);
      ci8_avx2_store_bytes(out[r] + c, ci8_avx2_clamp8(v, o->lo, o->hi), count);
    }
  }
}

// rows int16 rows (row j at a + j * kp) times all output channels; row j's oc bytes go to
// out + j * oc. Channel groups are the outer loop so that one group's packed weights stay in
// L1 while every row of the block streams past them.
CI8_AVX2_INLINE void ci8_avx2_gemm_block(const ci8_avx2_out *o, const int16_t *a, int32_t rows,
                                         int8_t *out) {
  const int32_t kp2 = o->kp / 2;
  const size_t kp = (size_t)o->kp;
  const int16_t *w = o->weights;
  __m256i acc[8];
  for (int32_t c0 = 0; c0 < o->ocp;) {
    const int32_t nr = (o->ocp - c0 >= 16) ? 16 : 8;
    for (int32_t j = 0; j < rows; j += 4) {
      const int32_t n = rows - j < 4 ? rows - j : 4;
      const int16_t *a0 = a + (size_t)j * kp;
      int8_t *const dst[4] = {out + (size_t)j * o->oc, out + (size_t)(j + (n > 1)) * o->oc,
                              out + (size_t)(j + 2 * (n > 2)) * o->oc,
                              out + (size_t)(j + 3 * (n > 3)) * o->oc};
      if (n == 1) {
        if (nr == 16) ci8_avx2_gemm_1x16(a0, w, kp2, o->bias + c0, acc);
        else ci8_avx2_gemm_1x8(a0, w, kp2, o->bias + c0, acc);
      } else {
        const int16_t *a1 = a0 + kp;
        const int16_t *a2 = n > 2 ? a0 + 2 * kp : a0;
        const int16_t *a3 = n > 3 ? a0 + 3 * kp : a0;
        if (nr == 16) ci8_avx2_gemm_4x16(a0, a1, a2, a3, w, kp2, o->bias + c0, acc);
        else ci8_avx2_gemm_4x8(a0, a1, a2, a3, w, kp2, o->bias + c0, acc);
      }
      ci8_avx2_store_tile(o, dst, n, c0, nr, acc);
    }
    w += kp * nr;
    c0 += nr;
  }
}

// Converts n int8 values to int16. A tail after whole vectors is one more vector (16, else 8
// values) ending at the last value, overlapping values already written with the same results;
// only n < 8 runs scalar.
CI8_AVX2_INLINE void ci8_avx2_widen(int16_t *dst, const int8_t *src, int32_t n) {
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(src + i));
    _mm256_storeu_si256((__m256i *)(dst + i), _mm256_cvtepi8_epi16(v));
  }
  if (i == n) return;
  if (n >= 16) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(src + n - 16));
    _mm256_storeu_si256((__m256i *)(dst + n - 16), _mm256_cvtepi8_epi16(v));
  } else if (n >= 8) {
    const __m128i v0 = _mm_loadl_epi64((const __m128i *)src);
    const __m128i v1 = _mm_loadl_epi64((const __m128i *)(src + n - 8));
    _mm_storeu_si128((__m128i *)dst, _mm_cvtepi8_epi16(v0));
    _mm_storeu_si128((__m128i *)(dst + n - 8), _mm_cvtepi8_epi16(v1));
  } else {
    for (; i < n; ++i) dst[i] = src[i];
  }
}

CI8_AVX2_INLINE void ci8_avx2_fill16(int16_t *dst, int16_t value, int32_t n) {
  int32_t i = 0;
  const __m256i v = _mm256_set1_epi16(value);
  for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), v);
  if (i == n) return;
  if (n >= 16) {
    _mm256_storeu_si256((__m256i *)(dst + n - 16), v);
  } else if (n >= 8) {
    _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(v));
    _mm_storeu_si128((__m128i *)(dst + n - 8), _mm256_castsi256_si128(v));
  } else {
    for (; i < n; ++i) dst[i] = value;
  }
}

#endif  // __x86_64__
#endif  // CI8_GEMM_AVX2_H
