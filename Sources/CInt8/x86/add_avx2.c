// ADD int8 on AVX2 (TFLite's general rescaling ADD, bit-exact with the reference).
// The reference computes, per element,
//   s1 = mbqm((a - z1) << 20, m1, -e1),  s2 likewise,  out = clamp(mbqm(s1 + s2, mo, -eo) + zo).
// Every multiplier is 0 or in [2^30, 2^31) (QuantizeMultiplierSmallerThanOneExp), never
// INT32_MIN, so SaturatingRoundingDoublingHighMul never saturates and equals
// floor((x * m + 2^30) / 2^31) (the reference's sign-dependent nudge with truncating division is
// the same floor). The run evaluates that directly, 16 elements per iteration:
//  * input stage, per input: d = a - z in [-255, 255]. With x = d << 20,
//      srdhm(x, m) = floor((32d * m + 2^15) / 2^16) = 32d * mh + floor((32d * ml + 2^15) / 2^16)
//    for m = mh * 2^16 + ml, ml in [-2^15, 2^15), mh in [2^14, 2^15]. 32d fits int16 (|32d| <=
//    8160), so both products come from vpmaddwd on (32d, 32d) pairs with the multiplier halves
//    split in two int16 each; every sum stays far below 2^31.
//  * RoundingDivideByPOT(h, e), ties away from zero, is floor((h + 2^(e-1) - [h < 0]) / 2^e) for
//    e > 0 and h for e = 0: one blendvps on the sign (of d: sign(h) == sign(d) when m != 0),
//    one add, one arithmetic shift. No overflow: |h| < 2^28.
//  * output stage: x = s1 + s2 (|x| < 2^28), srdhm by vpmuldq on even/odd lanes with the 2^30
//    nudge, then the same rounding shift; pack to int16, saturating add of the output zero point,
//    pack to int8, clamp.
// Specializations (add_kind): the input with the larger scale always has m == 2^30, e == 0, so its
// s is d << 19 (one vpmaddwd); for e <= 14 the rounding constant folds into the low product's
// 2^15 (see add_rescale). Rows: dense, or along the last dim with either input a per-channel
// vector (stride 0 above the last dim, which is just the row loop) or one byte broadcast over
// the row (stride 0 in the last dim, rescaled once per row). Tails (and rows shorter than 16)
// go through 16-byte staging buffers (the output may alias an input, so no overlapping vectors).
// The previous 256-entry-table + vpgatherdd kernel measured 0.88 ns/element here against 0.29
// for this one (98304 dense elements), so it was removed.
// Prepared data: the reference's ci8_ref_add_params block (kernels.c registers the reference's
// prepare with this run; ci8_avx2_add_supports says which layouts it covers).
#include "ci8_avx2.h"

#if defined(__x86_64__)

typedef struct add_input_k {
  __m256i mh, ml;    // int16 pairs: halves of mh and of ml
  __m256i k, km1;    // rounding constants 2^(e-1) and 2^(e-1) - 1 (both 0 for e == 0)
  __m256i c, cm1;    // 2^15 + (k << 16), 2^15 + (km1 << 16): k folded into the low product's
                     // rounding (valid for e <= 14, where the sum stays below 2^30)
  __m256i zp;        // 16 x int16 zero point * 32
  __m128i e;         // shift count
} add_input_k;

typedef struct add_k {
  add_input_k in[2];
  __m256i om, nudge, ok, okm1, ozp, lo, hi;
  __m128i oe;
} add_k;

static int32_t pair16(int32_t lo, int32_t hi) {
  return (int32_t)(((uint32_t)(uint16_t)(int16_t)hi << 16) | (uint16_t)(int16_t)lo);
}

CI8_AVX2 static void add_input_setup(add_input_k *k, int32_t m, int32_t shift, int32_t z) {
  const int32_t e = -shift;  // 0..31
  const int32_t mh = (int32_t)(((int64_t)m + 32768) >> 16);  // 0 or in [2^14, 2^15]
  const int32_t ml = m - mh * 65536;                          // [-2^15, 2^15)
  k->mh = _mm256_set1_epi32(pair16(mh >> 1, mh - (mh >> 1)));
  k->ml = _mm256_set1_epi32(pair16(ml >> 1, ml - (ml >> 1)));
  const int32_t kk = e > 0 ? (int32_t)(INT64_C(1) << (e - 1)) : 0;
  k->k = _mm256_set1_epi32(kk);
  k->km1 = _mm256_set1_epi32(e > 0 && m != 0 ? kk - 1 : kk);
  k->c = _mm256_set1_epi32(e <= 14 ? 32768 + kk * 65536 : 0);
  k->cm1 = _mm256_set1_epi32(e <= 14 ? 32768 + (e > 0 && m != 0 ? kk - 1 : kk) * 65536 : 0);
  k->zp = _mm256_set1_epi16((int16_t)(z * 32));
  k->e = _mm_cvtsi32_si128(e);
}

CI8_AVX2 static void add_setup(add_k *k, const ci8_binary *op) {
  const ci8_ref_add_params *p = (const ci8_ref_add_params *)op->prepared;
  add_input_setup(&k->in[0], p->in1_mult, p->in1_shift, op->input1_zero_point);
  add_input_setup(&k->in[1], p->in2_mult, p->in2_shift, op->input2_zero_point);
  const int32_t e = -p->out_shift;  // 0..31
  const int32_t kk = e > 0 ? (int32_t)(INT64_C(1) << (e - 1)) : 0;
  k->om = _mm256_set1_epi32(p->out_mult);
  k->nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
  k->ok = _mm256_set1_epi32(kk);
  k->okm1 = _mm256_set1_epi32(e > 0 ? kk - 1 : kk);
  k->oe = _mm_cvtsi32_si128(e);
  k->ozp = _mm256_set1_epi16((int16_t)op->output_zero_point);
  k->lo = _mm256_set1_epi8((int8_t)op->activation_min);
  k->hi = _mm256_set1_epi8((int8_t)op->activation_max);
}

// Rescaled input on 8 lanes of (32d, 32d) pairs.
// kind: ADD_GENERIC, ADD_FOLD (e <= 14) or ADD_EXACT (m == 2^30, e == 0: the input with the
// larger scale always has it, s = d << 19 = 32d * 2^14, one vpmaddwd).
enum { ADD_GENERIC = 0, ADD_FOLD = 1, ADD_EXACT = 2 };
CI8_AVX2_INLINE __m256i add_rescale(__m256i dd, const add_input_k *k, const int kind) {
  const __m256i a = _mm256_madd_epi16(dd, k->mh);
  if (kind == ADD_EXACT) return a;
  const __m256i b = _mm256_madd_epi16(dd, k->ml);
  if (kind == ADD_FOLD) {  // h + round = a + ((b + 2^15 + (round << 16)) >> 16)
    const __m256i c = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(k->c), _mm256_castsi256_ps(k->cm1), _mm256_castsi256_ps(dd)));
    return _mm256_sra_epi32(_mm256_add_epi32(a, _mm256_srai_epi32(_mm256_add_epi32(b, c), 16)),
                            k->e);
  }
  const __m256i h =
      _mm256_add_epi32(a, _mm256_srai_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(32768)), 16));
  const __m256i r = _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(k->k), _mm256_castsi256_ps(k->km1),
                       _mm256_castsi256_ps(dd)));
  return _mm256_sra_epi32(_mm256_add_epi32(h, r), k->e);
}

// The output stage on 8 int32 lanes (before the zero point).
CI8_AVX2_INLINE __m256i add_output(__m256i x, const add_k *k) {
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, k->om), k->nudge);
  const __m256i odd =
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), k->om), k->nudge);
  const __m256i h =
      _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
  const __m256i r = _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(k->ok), _mm256_castsi256_ps(k->okm1),
                       _mm256_castsi256_ps(h)));
  return _mm256_sra_epi32(_mm256_add_epi32(h, r), k->oe);
}

// 16 int8 -> (32d) int16 -> rescaled int32 in two halves: lo = elements {0-3, 8-11},
// hi = {4-7, 12-15} (unpack order; packs_epi32(lo, hi) restores it).
CI8_AVX2_INLINE void add_load16(const int8_t *p, const add_input_k *k, __m256i *lo, __m256i *hi,
                                const int kind) {
  const __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
  const __m256i d = _mm256_sub_epi16(_mm256_slli_epi16(v, 5), k->zp);
  *lo = add_rescale(_mm256_unpacklo_epi16(d, d), k, kind);
  *hi = add_rescale(_mm256_unpackhi_epi16(d, d), k, kind);
}

// One block of 16 outputs from the rescaled inputs (lo/hi halves in unpack order).
CI8_AVX2_INLINE __m128i add_finish16(__m256i alo, __m256i ahi, __m256i blo, __m256i bhi,
                                     const add_k *k) {
  const __m256i rlo = add_output(_mm256_add_epi32(alo, blo), k);
  const __m256i rhi = add_output(_mm256_add_epi32(ahi, bhi), k);
  const __m256i w = _mm256_adds_epi16(_mm256_packs_epi32(rlo, rhi), k->ozp);
  __m128i r = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
  r = _mm_max_epi8(r, _mm256_castsi256_si128(k->lo));
  return _mm_min_epi8(r, _mm256_castsi256_si128(k->hi));
}

// Rescaled value of one input byte broadcast to all lanes.
CI8_AVX2 static __m256i add_const_input(int8_t x, const add_input_k *k) {
  int8_t buf[16];
  memset(buf, x, sizeof buf);
  __m256i lo, hi;
  add_load16(buf, k, &lo, &hi, 0);
  return lo;
}

// n elements; mode 0: both inputs step by 1, 1: a is one broadcast byte, 2: b is.
// The constants are copied to a local first: the int8 stores may alias anything reachable
// through a pointer, which would reload them every iteration.
CI8_AVX2_INLINE void add_rows(const add_k *kp, const int8_t *a, const int8_t *b, int8_t *out,
                              size_t n, const int mode, const int kind1, const int kind2) {
  const add_k k = *kp;
  const __m256i ca = mode == 1 ? add_const_input(a[0], &k.in[0]) : _mm256_setzero_si256();
  const __m256i cb = mode == 2 ? add_const_input(b[0], &k.in[1]) : _mm256_setzero_si256();
  size_t i = 0;
  for (;; i += 16) {
    int8_t ta[16], tb[16], to[16];
    const int8_t *pa = a + i, *pb = b + i;
    int8_t *po = out + i;
    const size_t m = n - i;
    if (i + 16 > n) {  // the tail, through staging buffers
      if (i >= n) break;
      memset(ta, 0, sizeof ta);
      memset(tb, 0, sizeof tb);
      if (mode != 1) memcpy(ta, pa, m);
      if (mode != 2) memcpy(tb, pb, m);
      pa = ta;
      pb = tb;
      po = to;
    }
    __m256i alo = ca, ahi = ca, blo = cb, bhi = cb;
    if (mode != 1) add_load16(pa, &k.in[0], &alo, &ahi, kind1);
    if (mode != 2) add_load16(pb, &k.in[1], &blo, &bhi, kind2);
    _mm_storeu_si128((__m128i *)po, add_finish16(alo, ahi, blo, bhi, &k));
    if (po == to) {
      memcpy(out + i, to, m);
      break;
    }
  }
}

static int add_kind(int32_t m, int32_t shift) {
  if (m == (1 << 30) && shift == 0) return ADD_EXACT;
  return shift >= -14 ? ADD_FOLD : ADD_GENERIC;
}

// Specializations: the broadcast mode times the kinds of the loaded inputs (the common pairs;
// anything else runs the generic arithmetic, which is valid for every kind).
#define ADD_ROWS(mode, k1, k2) add_rows(k, a, b, out, n, mode, k1, k2)
CI8_AVX2 static void add_run_row(const add_k *k, const int8_t *a, int a_step, const int8_t *b,
                                 int b_step, int8_t *out, size_t n, int kind1, int kind2) {
  if (a_step && b_step) {
    switch (kind1 * 3 + kind2) {
      case ADD_EXACT * 3 + ADD_FOLD: ADD_ROWS(0, ADD_EXACT, ADD_FOLD); return;
      case ADD_FOLD * 3 + ADD_EXACT: ADD_ROWS(0, ADD_FOLD, ADD_EXACT); return;
      case ADD_EXACT * 3 + ADD_GENERIC: ADD_ROWS(0, ADD_EXACT, ADD_GENERIC); return;
      case ADD_GENERIC * 3 + ADD_EXACT: ADD_ROWS(0, ADD_GENERIC, ADD_EXACT); return;
      case ADD_EXACT * 3 + ADD_EXACT: ADD_ROWS(0, ADD_EXACT, ADD_EXACT); return;
      default: ADD_ROWS(0, ADD_GENERIC, ADD_GENERIC); return;
    }
  }
  if (b_step) {  // a is one broadcast byte
    switch (kind2) {
      case ADD_EXACT: ADD_ROWS(1, ADD_GENERIC, ADD_EXACT); return;
      case ADD_FOLD: ADD_ROWS(1, ADD_GENERIC, ADD_FOLD); return;
      default: ADD_ROWS(1, ADD_GENERIC, ADD_GENERIC); return;
    }
  }
  switch (kind1) {  // b is one broadcast byte
    case ADD_EXACT: ADD_ROWS(2, ADD_EXACT, ADD_GENERIC); return;
    case ADD_FOLD: ADD_ROWS(2, ADD_FOLD, ADD_GENERIC); return;
    default: ADD_ROWS(2, ADD_GENERIC, ADD_GENERIC); return;
  }
}
#undef ADD_ROWS

// Dense, identical layouts (one run over everything): returns the element count, else 0.
static int add_dense_total(const ci8_binary *op, size_t *total_out) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  int dense = 1;
  size_t total = 1;
  for (int k = CI8_MAX_RANK - 1; k >= 0; --k) {
    if (d[k] > 1 && (s1[k] != (int32_t)total || s2[k] != (int32_t)total)) dense = 0;
    total *= (size_t)(d[k] > 0 ? d[k] : 0);
  }
  *total_out = total;
  return dense;
}

// Covered: dense layouts, or rows along the last dim where each input steps by 1 there or is one
// broadcast byte (stride 0), both inputs not broadcast at once, rows of >= 4 unless both step.
int ci8_avx2_add_supports(const ci8_binary *op) {
  size_t total;
  if (add_dense_total(op, &total) || total == 0) return 1;
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  const int a_step = d[5] > 1 && s1[5] != 0, b_step = d[5] > 1 && s2[5] != 0;
  return !((a_step && s1[5] != 1) || (b_step && s2[5] != 1) || (!a_step && !b_step) ||
           (d[5] < 4 && !(a_step && b_step)));
}

void ci8_avx2_add_run(const ci8_binary *op, const int8_t *a, const int8_t *b, int8_t *out) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  size_t total;
  const int dense = add_dense_total(op, &total);
  if (total == 0) return;
  add_k k;
  add_setup(&k, op);
  const ci8_ref_add_params *p = (const ci8_ref_add_params *)op->prepared;
  const int kind1 = add_kind(p->in1_mult, p->in1_shift);
  const int kind2 = add_kind(p->in2_mult, p->in2_shift);
  if (dense) {
    add_run_row(&k, a, 1, b, 1, out, total, kind1, kind2);
    return;
  }
  // Rows along the last dim: each input steps by 1 there or is one broadcast byte (stride 0).
  // ci8_avx2_add_supports admitted the layout: each input steps by 1 or is broadcast.
  const int a_step = d[5] > 1 && s1[5] != 0, b_step = d[5] > 1 && s2[5] != 0;
  const size_t n = (size_t)d[5];
  for (size_t r = 0; r < total / n; ++r) {
    ptrdiff_t i1, i2;
    ci8_broadcast_row_offsets(&op->shape, r, &i1, &i2);
    add_run_row(&k, a + i1, a_step, b + i2, b_step, out + r * n, n, kind1, kind2);
  }
}

#else
typedef int ci8_add_avx2_unused;
#endif  // __x86_64__
