// PRELU int8 on AArch64 NEON, bit-exact with ci8_ref_prelu_run: per element v = x - z1, then
// v >= 0 ? mbqm(v, m1, s1) : mbqm(v * (alpha - z2), m2, s2), plus the output zero point and the
// clamp. Both branches' operands are selected per lane (vbslq) and one vectorized
// MultiplyByQuantizedMultiplier serves both (wrapping left shift, vqrdmulhq, RoundingDivideByPOT
// with ties away from zero; see ci8_neon.h). Runs on rows along the last dim where the input
// steps by 1 and alpha steps by 1 or is one byte broadcast over the row (TFLite's usual [C] or
// [1, 1, C] alpha, or elementwise): ci8_neon_prelu_supports; other broadcasts run the reference
// variant. Prepared data: the reference's ci8_ref_pair_params.
#include "ci8_neon.h"

#if defined(__aarch64__)

typedef struct prelu_k {
  int16x8_t z1, z2;
  int32x4_t m1, m2, ls1, ls2, rs1, rs2, zo;
  int8x16_t lo, hi;
} prelu_k;

CI8_NEON_INLINE int16x4_t prelu4(const prelu_k *k, int16x4_t v16, int16x4_t a16) {
  const int32x4_t v = vmovl_s16(v16);
  const int32x4_t prod = vmull_s16(v16, a16);
  const uint32x4_t neg = vcltzq_s32(v);
  const int32x4_t x = vbslq_s32(neg, prod, v);
  const int32x4_t m = vbslq_s32(neg, k->m2, k->m1);
  const int32x4_t ls = vbslq_s32(neg, k->ls2, k->ls1);
  const int32x4_t rs = vbslq_s32(neg, k->rs2, k->rs1);
  return vqmovn_s32(vaddq_s32(ci8_neon_mbqm_away_v(x, m, ls, rs, rs), k->zo));
}

CI8_NEON_INLINE int8x16_t prelu16(const prelu_k *k, int8x16_t x, int8x16_t a) {
  const int16x8_t vlo = vsubq_s16(vmovl_s8(vget_low_s8(x)), k->z1);
  const int16x8_t vhi = vsubq_s16(vmovl_high_s8(x), k->z1);
  const int16x8_t alo = vsubq_s16(vmovl_s8(vget_low_s8(a)), k->z2);
  const int16x8_t ahi = vsubq_s16(vmovl_high_s8(a), k->z2);
  const int16x4_t r0 = prelu4(k, vget_low_s16(vlo), vget_low_s16(alo));
  const int16x4_t r1 = prelu4(k, vget_high_s16(vlo), vget_high_s16(alo));
  const int16x4_t r2 = prelu4(k, vget_low_s16(vhi), vget_low_s16(ahi));
  const int16x4_t r3 = prelu4(k, vget_high_s16(vhi), vget_high_s16(ahi));
  const int8x16_t v = vcombine_s8(vqmovn_s16(vcombine_s16(r0, r1)), vqmovn_s16(vcombine_s16(r2, r3)));
  return vminq_s8(vmaxq_s8(v, k->lo), k->hi);
}

static void prelu_row(const prelu_k *kp, const int8_t *x, const int8_t *a, int a_step,
                      int8_t *out, size_t n) {
  const prelu_k k = *kp;
  const int8x16_t ca = vdupq_n_s8(a[0]);
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    vst1q_s8(out + i, prelu16(&k, vld1q_s8(x + i), a_step ? vld1q_s8(a + i) : ca));
  if (i < n) {
    int8_t tx[16] = {0}, ta[16] = {0}, to[16];
    memcpy(tx, x + i, n - i);
    if (a_step) memcpy(ta, a + i, n - i);
    vst1q_s8(to, prelu16(&k, vld1q_s8(tx), a_step ? vld1q_s8(ta) : ca));
    memcpy(out + i, to, n - i);
  }
}

// Input dense (TFLite's PRELU output has the input's shape) and the layout rows can serve.
static int prelu_layout(const ci8_binary *op, size_t *total_out, int *dense_out) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s1 = op->shape.input1_strides, *s2 = op->shape.input2_strides;
  size_t total = 1;
  int dense = 1, input_dense = 1;
  for (int i = CI8_MAX_RANK - 1; i >= 0; --i) {
    if (d[i] > 1 && s1[i] != (int32_t)total) input_dense = 0;
    if (d[i] > 1 && (s1[i] != (int32_t)total || s2[i] != (int32_t)total)) dense = 0;
    total *= (size_t)(d[i] > 0 ? d[i] : 0);
  }
  *total_out = total;
  *dense_out = dense;
  if (dense || total == 0) return 1;
  return input_dense && d[5] >= 2 && (s2[5] == 0 || s2[5] == 1);
}

int ci8_neon_prelu_supports(const ci8_binary *op) {
  size_t total;
  int dense;
  return prelu_layout(op, &total, &dense);
}

void ci8_neon_prelu_run(const ci8_binary *op, const int8_t *input, const int8_t *alpha,
                        int8_t *output) {
  const int32_t *d = op->shape.output_shape;
  const int32_t *s2 = op->shape.input2_strides;
  size_t total;
  int dense;
  prelu_layout(op, &total, &dense);
  if (total == 0) return;
  const ci8_ref_pair_params *p = (const ci8_ref_pair_params *)op->prepared;
  prelu_k k;
  k.z1 = vdupq_n_s16((int16_t)op->input1_zero_point);
  k.z2 = vdupq_n_s16((int16_t)op->input2_zero_point);
  k.m1 = vdupq_n_s32(p->mult1);
  k.m2 = vdupq_n_s32(p->mult2);
  k.ls1 = vdupq_n_s32(p->shift1 > 0 ? p->shift1 : 0);
  k.ls2 = vdupq_n_s32(p->shift2 > 0 ? p->shift2 : 0);
  k.rs1 = vdupq_n_s32(p->shift1 > 0 ? 0 : p->shift1);
  k.rs2 = vdupq_n_s32(p->shift2 > 0 ? 0 : p->shift2);
  k.zo = vdupq_n_s32(op->output_zero_point);
  k.lo = vdupq_n_s8((int8_t)op->activation_min);
  k.hi = vdupq_n_s8((int8_t)op->activation_max);
  if (dense) {
    prelu_row(&k, input, alpha, 1, output, total);
    return;
  }
  const int a_step = s2[5] != 0;  // ci8_neon_prelu_supports admitted the layout
  const size_t n = (size_t)d[5];
  for (size_t r = 0; r < total / n; ++r) {
    ptrdiff_t i1, i2;
    ci8_neon_row_offsets(&op->shape, r, &i1, &i2);
    prelu_row(&k, input + i1, alpha + i2, a_step, output + r * n, n);
  }
}

#else
typedef int ci8_prelu_neon_unused;
#endif  // __aarch64__
