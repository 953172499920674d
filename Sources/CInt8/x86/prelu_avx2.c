// PRELU int8 on AVX2, bit-exact with ci8_ref_prelu_run: per element v = x - z1, then
// v >= 0 ? mbqm(v, m1, s1) : mbqm(v * (alpha - z2), m2, s2), plus the output zero point and the
// clamp. Eight elements per step: both branches' operands are picked per lane (blendv) and one
// vectorized MultiplyByQuantizedMultiplier (wrapping left shift, srdhm as
// (x * m + 2^30) >> 31, RoundingDivideByPOT with ties away from zero) serves both.
// Runs on rows of the output's last dim where input and alpha are both contiguous (elementwise,
// and alpha broadcast along every dim but the channels: TFLite's usual [C] / [1, 1, C] alpha);
// other broadcasts run the reference. Uses the reference's prepared data unchanged.
#include "ci8_avx2.h"

#if defined(__x86_64__)

typedef struct prelu_consts {
  __m256i z1, z2, zo, lo, hi, nudge;
  __m256i m1, m2, ls1, ls2, rs1, rs2, mask1, mask2;
} prelu_consts;

CI8_AVX2_INLINE __m256i prelu8(const prelu_consts *k, __m256i xv, __m256i av) {
  const __m256i v = _mm256_sub_epi32(xv, k->z1);
  const __m256i prod = _mm256_mullo_epi32(v, _mm256_sub_epi32(av, k->z2));
  const __m256i neg = _mm256_srai_epi32(v, 31);
  const __m256i m = _mm256_blendv_epi8(k->m1, k->m2, neg);
  const __m256i x = _mm256_sllv_epi32(_mm256_blendv_epi8(v, prod, neg),
                                      _mm256_blendv_epi8(k->ls1, k->ls2, neg));
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, m), k->nudge);
  const __m256i odd = _mm256_add_epi64(
      _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), k->nudge);
  const __m256i h =
      _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
  const __m256i mask = _mm256_blendv_epi8(k->mask1, k->mask2, neg);
  const __m256i rem = _mm256_and_si256(h, mask);
  const __m256i thr = _mm256_add_epi32(_mm256_srli_epi32(mask, 1), _mm256_srli_epi32(h, 31));
  const __m256i r = _mm256_sub_epi32(
      _mm256_srav_epi32(h, _mm256_blendv_epi8(k->rs1, k->rs2, neg)), _mm256_cmpgt_epi32(rem, thr));
  return _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, k->zo), k->lo), k->hi);
}

CI8_AVX2_INLINE __m128i pack8(__m256i v) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packs_epi16(w, w);
}

CI8_AVX2 static void prelu_contiguous(const ci8_binary *op, const prelu_consts *k,
                                      const int8_t *x, const int8_t *alpha, int8_t *out,
                                      size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i xb = _mm_loadu_si128((const __m128i *)(x + i));
    const __m128i ab = _mm_loadu_si128((const __m128i *)(alpha + i));
    const __m256i r0 = prelu8(k, _mm256_cvtepi8_epi32(xb), _mm256_cvtepi8_epi32(ab));
    const __m256i r1 = prelu8(k, _mm256_cvtepi8_epi32(_mm_srli_si128(xb, 8)),
                              _mm256_cvtepi8_epi32(_mm_srli_si128(ab, 8)));
    const __m128i w0 =
        _mm_packs_epi32(_mm256_castsi256_si128(r0), _mm256_extracti128_si256(r0, 1));
    const __m128i w1 =
        _mm_packs_epi32(_mm256_castsi256_si128(r1), _mm256_extracti128_si256(r1, 1));
    _mm_storeu_si128((__m128i *)(out + i), _mm_packs_epi16(w0, w1));
  }
  if (i + 8 <= n) {
    const __m256i r = prelu8(k, _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + i))),
                             _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(alpha + i))));
    _mm_storel_epi64((__m128i *)(out + i), pack8(r));
    i += 8;
  }
  if (i < n) {  // 1..7 left: through a zero-padded copy
    int8_t xt[8] = {0}, at[8] = {0}, ot[16];
    memcpy(xt, x + i, n - i);
    memcpy(at, alpha + i, n - i);
    const __m256i r = prelu8(k, _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)xt)),
                             _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)at)));
    _mm_storeu_si128((__m128i *)ot, pack8(r));
    memcpy(out + i, ot, n - i);
  }
  (void)op;
}

// Rows along the last dim, contiguous in both inputs (a last dim of 1 is not vectorizable).
int ci8_avx2_prelu_supports(const ci8_binary *op) {
  const int32_t *d = op->shape.output_shape;
  return d[5] >= 8 && op->shape.input1_strides[5] == 1 && op->shape.input2_strides[5] == 1;
}

CI8_AVX2 void ci8_avx2_prelu_run(const ci8_binary *op, const int8_t *x, const int8_t *alpha,
                                 int8_t *out) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  size_t total = 1;
  for (int k = 0; k < CI8_MAX_RANK; ++k) total *= (size_t)(d[k] > 0 ? d[k] : 0);
  if (total == 0) return;
  const ci8_ref_pair_params *p = (const ci8_ref_pair_params *)op->prepared;
  prelu_consts k;
  k.z1 = _mm256_set1_epi32(op->input1_zero_point);
  k.z2 = _mm256_set1_epi32(op->input2_zero_point);
  k.zo = _mm256_set1_epi32(op->output_zero_point);
  k.lo = _mm256_set1_epi32(op->activation_min);
  k.hi = _mm256_set1_epi32(op->activation_max);
  k.nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
  k.m1 = _mm256_set1_epi32(p->mult1);
  k.m2 = _mm256_set1_epi32(p->mult2);
  k.ls1 = _mm256_set1_epi32(p->shift1 > 0 ? p->shift1 : 0);
  k.ls2 = _mm256_set1_epi32(p->shift2 > 0 ? p->shift2 : 0);
  const int32_t r1 = p->shift1 > 0 ? 0 : -p->shift1, r2 = p->shift2 > 0 ? 0 : -p->shift2;
  k.rs1 = _mm256_set1_epi32(r1);
  k.rs2 = _mm256_set1_epi32(r2);
  k.mask1 = _mm256_set1_epi32((int32_t)((INT64_C(1) << r1) - 1));
  k.mask2 = _mm256_set1_epi32((int32_t)((INT64_C(1) << r2) - 1));
  // Merge leading dims while both inputs stay contiguous (dense elementwise -> one row).
  int inner = 5;
  size_t row = (size_t)d[5];
  while (inner > 0 && (d[inner - 1] == 1 || ((size_t)s1[inner - 1] == row &&
                                              (size_t)s2[inner - 1] == row))) {
    --inner;
    row *= (size_t)d[inner];
  }
  if (inner == 0) {
    prelu_contiguous(op, &k, x, alpha, out, total);
    return;
  }
  const size_t n = (size_t)d[5];
  for (size_t r = 0; r < total / n; ++r) {
    ptrdiff_t i1, i2;
    ci8_broadcast_row_offsets(&op->shape, r, &i1, &i2);
    prelu_contiguous(op, &k, x + i1, alpha + i2, out + r * n, n);
  }
}

#else
typedef int ci8_prelu_avx2_unused;
#endif  // __x86_64__
