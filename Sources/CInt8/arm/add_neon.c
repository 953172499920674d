// ADD int8 on AArch64 NEON (TFLite's general rescaling ADD, bit-exact with the reference), 16
// elements per step on four int32x4 quarters:
//   s1 = mbqm((a - z1) << 20, m1, e1), s2 likewise, out = clamp(mbqm(s1 + s2, mo, eo) + zo),
// every shift here being <= 0, so mbqm is vqrdmulhq_s32 then RoundingDivideByPOT (ci8_neon.h):
// the -1 fix-up for negative values comes from (h & shift) >> 31, which is 0 when the shift is 0.
// Rows: dense, or along the last dim with each input stepping by 1 or being one byte broadcast
// over the row (stride 0): ci8_neon_add_supports; other broadcasts run the reference variant. Tails go through 16-byte staging
// buffers (the output may alias an input). Prepared data: the reference's ci8_ref_add_params.
#include "ci8_neon.h"

#if defined(__aarch64__)

// Total element count when both inputs are dense and alike, else 0 (*dense = 0).
static size_t add_dense_total(const ci8_binary *op, int *dense) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  size_t total = 1;
  *dense = 1;
  for (int i = CI8_MAX_RANK - 1; i >= 0; --i) {
    if (d[i] > 1 && (s1[i] != (int32_t)total || s2[i] != (int32_t)total)) *dense = 0;
    total *= (size_t)(d[i] > 0 ? d[i] : 0);
  }
  return total;
}

int ci8_neon_add_supports(const ci8_binary *op) {
  int dense;
  const size_t total = add_dense_total(op, &dense);
  if (dense || total == 0) return 1;
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  const int a_step = s1[5] != 0, b_step = s2[5] != 0;
  return d[5] >= 2 && (!a_step || s1[5] == 1) && (!b_step || s2[5] == 1) && (a_step || b_step);
}

typedef struct add_k {
  int16x8_t z1, z2;
  int32x4_t m1, e1, m2, e2, mo, eo, zo;
  int8x16_t lo, hi;
} add_k;

// RoundingDivideByPOT by -shift (shift <= 0 in every lane).
CI8_NEON_INLINE int32x4_t add_rdpot(int32x4_t h, int32x4_t shift) {
  return vrshlq_s32(vqaddq_s32(h, vshrq_n_s32(vandq_s32(h, shift), 31)), shift);
}

CI8_NEON_INLINE int32x4_t add_rescale(int16x4_t d, int32x4_t m, int32x4_t e) {
  return add_rdpot(vqrdmulhq_s32(vshlq_n_s32(vmovl_s16(d), 20), m), e);
}

CI8_NEON_INLINE int8x16_t add16(const add_k *k, int8x16_t a, int8x16_t b) {
  const int16x8_t alo = vsubq_s16(vmovl_s8(vget_low_s8(a)), k->z1);
  const int16x8_t ahi = vsubq_s16(vmovl_high_s8(a), k->z1);
  const int16x8_t blo = vsubq_s16(vmovl_s8(vget_low_s8(b)), k->z2);
  const int16x8_t bhi = vsubq_s16(vmovl_high_s8(b), k->z2);
  const int16x4_t ad[4] = {vget_low_s16(alo), vget_high_s16(alo), vget_low_s16(ahi),
                           vget_high_s16(ahi)};
  const int16x4_t bd[4] = {vget_low_s16(blo), vget_high_s16(blo), vget_low_s16(bhi),
                           vget_high_s16(bhi)};
  int16x4_t r[4];
  for (int i = 0; i < 4; ++i) {
    const int32x4_t s = vaddq_s32(add_rescale(ad[i], k->m1, k->e1), add_rescale(bd[i], k->m2, k->e2));
    r[i] = vqmovn_s32(vaddq_s32(add_rdpot(vqrdmulhq_s32(s, k->mo), k->eo), k->zo));
  }
  const int8x16_t v = vcombine_s8(vqmovn_s16(vcombine_s16(r[0], r[1])),
                                  vqmovn_s16(vcombine_s16(r[2], r[3])));
  return vminq_s8(vmaxq_s8(v, k->lo), k->hi);
}

// n elements; a_step / b_step: 1 = steps through the row, 0 = one byte broadcast over it.
static void add_row(const add_k *kp, const int8_t *a, int a_step, const int8_t *b, int b_step,
                    int8_t *out, size_t n) {
  const add_k k = *kp;  // a local copy: the int8 stores could alias the constants otherwise
  const int8x16_t ca = vdupq_n_s8(a[0]), cb = vdupq_n_s8(b[0]);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int8x16_t va = a_step ? vld1q_s8(a + i) : ca;
    const int8x16_t vb = b_step ? vld1q_s8(b + i) : cb;
    vst1q_s8(out + i, add16(&k, va, vb));
  }
  if (i < n) {
    int8_t ta[16] = {0}, tb[16] = {0}, to[16];
    if (a_step) memcpy(ta, a + i, n - i);
    if (b_step) memcpy(tb, b + i, n - i);
    const int8x16_t va = a_step ? vld1q_s8(ta) : ca;
    const int8x16_t vb = b_step ? vld1q_s8(tb) : cb;
    vst1q_s8(to, add16(&k, va, vb));
    memcpy(out + i, to, n - i);
  }
}

void ci8_neon_add_run(const ci8_binary *op, const int8_t *a, const int8_t *b, int8_t *out) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  int dense;
  const size_t total = add_dense_total(op, &dense);
  if (total == 0) return;
  const ci8_ref_add_params *p = (const ci8_ref_add_params *)op->prepared;
  add_k k;
  k.z1 = vdupq_n_s16((int16_t)op->input1_zero_point);
  k.z2 = vdupq_n_s16((int16_t)op->input2_zero_point);
  k.m1 = vdupq_n_s32(p->in1_mult);
  k.e1 = vdupq_n_s32(p->in1_shift);
  k.m2 = vdupq_n_s32(p->in2_mult);
  k.e2 = vdupq_n_s32(p->in2_shift);
  k.mo = vdupq_n_s32(p->out_mult);
  k.eo = vdupq_n_s32(p->out_shift);
  k.zo = vdupq_n_s32(op->output_zero_point);
  k.lo = vdupq_n_s8((int8_t)op->activation_min);
  k.hi = vdupq_n_s8((int8_t)op->activation_max);
  if (dense) {
    add_row(&k, a, 1, b, 1, out, total);
    return;
  }
  // ci8_neon_add_supports admitted the layout: each input steps by 1 or is broadcast.
  const int a_step = s1[5] != 0, b_step = s2[5] != 0;
  const size_t n = (size_t)d[5];
  for (size_t r = 0; r < total / n; ++r) {
    ptrdiff_t i1, i2;
    ci8_neon_row_offsets(&op->shape, r, &i1, &i2);
    add_row(&k, a + i1, a_step, b + i2, b_step, out + r * n, n);
  }
}

#else
typedef int ci8_add_neon_unused;
#endif  // __aarch64__
