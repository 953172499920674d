// ADD int8 on AVX2 (TFLite's general rescaling ADD, bit-exact with the reference).
// The reference computes, per element, s1 = mbqm((a - z1) << 20, m1, sh1) and s2 likewise,
// then out = clamp(mbqm(s1 + s2, mo, sho) + zo). s1 and s2 depend on one byte each, so prepare
// tabulates them (256 int32 each, with the reference's scalar arithmetic) and the run gathers
// 8 of each at a time and vectorizes the output stage (srdhm + ties-away rounding shift).
// Prepared layout: the reference's ci8_ref_add_params block first (so layouts the fast path does
// not cover, broadcasts along the last dim, run the reference kernel on the same data), then
// int32 t1[256], t2[256] indexed by x + 128.
#include "ci8_avx2.h"

#if defined(__x86_64__)

#define ADD_TABLES CI8_ALIGN64(sizeof(ci8_ref_add_params))

size_t ci8_avx2_add_prepared_size(const ci8_binary *op) {
  (void)op;
  return ADD_TABLES + CI8_ALIGN64(2 * 256 * sizeof(int32_t));
}

ci8_status ci8_avx2_add_prepare(ci8_binary *op, void *prepared) {
  const ci8_status st = ci8_ref_add_prepare(op, prepared);
  if (st != CI8_OK) return st;
  const ci8_ref_add_params *p = (const ci8_ref_add_params *)prepared;
  int32_t *t1 = (int32_t *)((uint8_t *)prepared + ADD_TABLES), *t2 = t1 + 256;
  for (int32_t x = -128; x < 128; ++x) {
    t1[x + 128] = ci8_mbqm((x - op->input1_zero_point) * (1 << p->left_shift), p->in1_mult,
                           p->in1_shift);
    t2[x + 128] = ci8_mbqm((x - op->input2_zero_point) * (1 << p->left_shift), p->in2_mult,
                           p->in2_shift);
  }
  op->prepared = prepared;
  return CI8_OK;
}

// n contiguous elements of a and b.
CI8_AVX2 static void add_run_contiguous(const ci8_binary *op, const int8_t *a, const int8_t *b,
                                        int8_t *out, size_t n) {
  const ci8_ref_add_params *p = (const ci8_ref_add_params *)op->prepared;
  const int32_t *t1 = (const int32_t *)((const uint8_t *)op->prepared + ADD_TABLES);
  const int32_t *t2 = t1 + 256;
  const int e = -p->out_shift;  // 0..31 (the output multiplier is below one)
  const int32_t mask = (int32_t)((INT64_C(1) << e) - 1);
  const __m256i m = _mm256_set1_epi32(p->out_mult);
  const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
  const __m128i count = _mm_cvtsi32_si128(e);
  const __m256i maskv = _mm256_set1_epi32(mask), half = _mm256_set1_epi32(mask >> 1);
  const __m256i zp = _mm256_set1_epi32(op->output_zero_point);
  const __m256i lo = _mm256_set1_epi32(op->activation_min);
  const __m256i hi = _mm256_set1_epi32(op->activation_max);
  const __m256i bias = _mm256_set1_epi32(128);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i ia = _mm256_add_epi32(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(a + i))), bias);
    const __m256i ib = _mm256_add_epi32(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + i))), bias);
    const __m256i x = _mm256_add_epi32(_mm256_i32gather_epi32((const int *)t1, ia, 4),
                                       _mm256_i32gather_epi32((const int *)t2, ib, 4));
    // srdhm(x, m) = (x * m + 2^30) >> 31 (m is never INT32_MIN).
    __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
    __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge);
    const __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1),
                                         0xAA);
    // RoundingDivideByPOT: ties away from zero.
    const __m256i rem = _mm256_and_si256(h, maskv);
    const __m256i thr = _mm256_add_epi32(half, _mm256_srli_epi32(h, 31));
    const __m256i r = _mm256_sub_epi32(_mm256_sra_epi32(h, count), _mm256_cmpgt_epi32(rem, thr));
    ci8_avx2_store_bytes(out + i, ci8_avx2_narrow8(r, zp, lo, hi), 8);
  }
  for (; i < n; ++i) {
    const int32_t s = t1[a[i] + 128] + t2[b[i] + 128];
    const int32_t r = ci8_mbqm(s, p->out_mult, p->out_shift) + op->output_zero_point;
    out[i] = (int8_t)ci8_clamp_i32(r, op->activation_min, op->activation_max);
  }
}

void ci8_avx2_add_run(const ci8_binary *op, const int8_t *a, const int8_t *b, int8_t *out) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  // Dense, identical layouts: one run over everything.
  int dense = 1;
  size_t total = 1;
  for (int k = CI8_MAX_RANK - 1; k >= 0; --k) {
    if (d[k] > 1 && (s1[k] != (int32_t)total || s2[k] != (int32_t)total)) dense = 0;
    total *= (size_t)(d[k] > 0 ? d[k] : 0);
  }
  if (total == 0) return;
  if (dense) {
    add_run_contiguous(op, a, b, out, total);
    return;
  }
  if (d[5] < 8 || s1[5] != 1 || s2[5] != 1) {  // broadcast along the last dim
    ci8_ref_add_run(op, a, b, out);
    return;
  }
  size_t o = 0;
  for (int32_t a0 = 0; a0 < d[0]; ++a0)
    for (int32_t a1 = 0; a1 < d[1]; ++a1)
      for (int32_t a2 = 0; a2 < d[2]; ++a2)
        for (int32_t a3 = 0; a3 < d[3]; ++a3)
          for (int32_t a4 = 0; a4 < d[4]; ++a4) {
            const ptrdiff_t i1 = (ptrdiff_t)a0 * s1[0] + (ptrdiff_t)a1 * s1[1] +
                                 (ptrdiff_t)a2 * s1[2] + (ptrdiff_t)a3 * s1[3] +
                                 (ptrdiff_t)a4 * s1[4];
            const ptrdiff_t i2 = (ptrdiff_t)a0 * s2[0] + (ptrdiff_t)a1 * s2[1] +
                                 (ptrdiff_t)a2 * s2[2] + (ptrdiff_t)a3 * s2[3] +
                                 (ptrdiff_t)a4 * s2[4];
            add_run_contiguous(op, a + i1, b + i2, out + o, (size_t)d[5]);
            o += (size_t)d[5];
          }
}

#else
typedef int ci8_add_avx2_unused;
#endif  // __x86_64__
