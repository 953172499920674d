// Private to CInt8: the AArch64 kernel sets.
//   neon      Armv8.0 Advanced SIMD (Cortex-A53/A72): int8 products by smull/smlal into int16,
//             pairwise-accumulated into int32 by sadalp.
//   neondot   Armv8.2 dot product (Cortex-A55/A76): sdot, 16 int8 MACs per instruction. Only
//             CONV_2D and FULLY_CONNECTED differ; the other ops use the neon functions.
// Advanced SIMD is part of the AArch64 baseline, so the neon set needs no target attribute; the
// dot-product functions carry CI8_NEONDOT because SwiftPM builds this target without -march
// flags, and run only where getauxval(AT_HWCAP) reports ASIMDDP.
//
// Requantization is TFLite's MultiplyByQuantizedMultiplier, lane for lane:
//   x << left           vshlq_s32 by a non-negative count: a plain (wrapping) left shift, as
//                       the reference's uint32 shift;
//   srdhm(x, m)         vqrdmulhq_s32: (2xm + 2^31) >> 32 saturated, which is gemmlowp's
//                       SaturatingRoundingDoublingHighMul exactly (its sign-dependent nudge with
//                       truncating division rounds half up too; INT32_MIN^2 saturates in both);
//   rounding >> right   vrshlq_s32 by -right rounds half up, computed without overflow: that is
//                       ci8_mbqm_gemm (LiteRT's GEMM output stage). RoundingDivideByPOT (ci8_mbqm,
//                       ties away from zero) first adds -1 to negative values when right > 0
//                       (saturating, so INT32_MIN stays put and still rounds exactly): a tie
//                       x = (2q + 1) 2^(right-1) < 0 then rounds to q instead of q + 1, and no
//                       other value crosses a rounding boundary.
#ifndef CI8_NEON_H
#define CI8_NEON_H

#include "../reference/ci8_ref.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#define CI8_NEON_INLINE static inline __attribute__((always_inline))
#define CI8_NEONDOT __attribute__((target("arch=armv8.2-a+dotprod")))
#define CI8_NEONDOT_INLINE static inline __attribute__((always_inline, target("arch=armv8.2-a+dotprod")))

// Marks an inner loop for tools/arm-estimate (llvm-mca regions); empty otherwise. The name
// carries the instantiation's compile-time tile parameters (e.g. "gemm_2x8c16_neon/mlal/mr2"),
// so every inlined copy is a region of its own. The compiler may move instructions across the
// markers, so the tool analyzes the whole loop body that contains them.
#if defined(CI8_MCA)
#define CI8_MCA_BEGIN(fmt, ...) __asm__ volatile("// LLVM-MCA-BEGIN " fmt ::__VA_ARGS__)
#define CI8_MCA_END() __asm__ volatile("// LLVM-MCA-END")
#else
#define CI8_MCA_BEGIN(fmt, ...) ((void)0)
#define CI8_MCA_END() ((void)0)
#endif

// Per-channel requantization in NEON form, each an int32 array of the padded channel count.
typedef struct ci8_neon_rq {
  const int32_t *mult;    // quantized multiplier (0 for padded channels)
  const int32_t *lshift;  // max(shift, 0)
  const int32_t *rshift;  // -max(-shift, 0): the (non-positive) vrshlq count
  const int32_t *away;    // -1 where the channel rounds ties away from zero and right > 0, else 0
} ci8_neon_rq;

// Fills the arrays from TFLite (multiplier, shift) pairs; channels >= away_from rounding ties
// away from zero (ci8_mbqm), the others ties up (ci8_mbqm_gemm); padded channels get zeros.
static inline void ci8_neon_rq_fill(int32_t count, int32_t padded, int32_t away_from,
                                    const int32_t *mult, const int32_t *shift, int32_t *m,
                                    int32_t *ls, int32_t *rs, int32_t *aw) {
  for (int32_t c = 0; c < padded; ++c) {
    const int32_t s = c < count ? shift[c] : 0;
    m[c] = c < count ? mult[c] : 0;
    ls[c] = s > 0 ? s : 0;
    rs[c] = s > 0 ? 0 : s;
    aw[c] = (c < count && c >= away_from && s < 0) ? -1 : 0;
  }
}

// mbqm on 4 lanes with per-lane parameters (vectors).
CI8_NEON_INLINE int32x4_t ci8_neon_mbqm_v(int32x4_t acc, int32x4_t m, int32x4_t ls,
                                          int32x4_t rs) {
  return vrshlq_s32(vqrdmulhq_s32(vshlq_s32(acc, ls), m), rs);
}
// The same with RoundingDivideByPOT's ties away from zero where `away` is -1.
CI8_NEON_INLINE int32x4_t ci8_neon_mbqm_away_v(int32x4_t acc, int32x4_t m, int32x4_t ls,
                                               int32x4_t rs, int32x4_t away) {
  const int32x4_t h = vqrdmulhq_s32(vshlq_s32(acc, ls), m);
  const int32x4_t fix = vshrq_n_s32(vandq_s32(h, away), 31);
  return vrshlq_s32(vqaddq_s32(h, fix), rs);
}
// Channels c .. c + 3 of rq (ties up: CONV_2D / FULLY_CONNECTED).
CI8_NEON_INLINE int32x4_t ci8_neon_mbqm_gemm4(int32x4_t acc, const ci8_neon_rq *rq, int32_t c) {
  return ci8_neon_mbqm_v(acc, vld1q_s32(rq->mult + c), vld1q_s32(rq->lshift + c),
                         vld1q_s32(rq->rshift + c));
}

// 8 int32 lanes (lo, hi) plus the output zero point (wrapping, as the reference's int32 add),
// narrowed with saturation and clamped as int8 (the clamp bounds are int8 values, so saturating
// first changes nothing).
CI8_NEON_INLINE int8x8_t ci8_neon_narrow8(int32x4_t lo, int32x4_t hi, int32x4_t zp, int8x8_t min8,
                                          int8x8_t max8) {
  const int16x8_t w = vcombine_s16(vqmovn_s32(vaddq_s32(lo, zp)), vqmovn_s32(vaddq_s32(hi, zp)));
  return vmin_s8(vmax_s8(vqmovn_s16(w), min8), max8);
}

// Stores the low `count` (0..8) bytes of v.
CI8_NEON_INLINE void ci8_neon_store_bytes(int8_t *dst, int8x8_t v, int32_t count) {
  if (count >= 8) {
    vst1_s8(dst, v);
  } else {
    int8_t tmp[8];
    vst1_s8(tmp, v);
    memcpy(dst, tmp, (size_t)count);
  }
}

// Element offsets into both inputs of row `row` of a broadcast op (rows in output order along
// the last dimension).
static inline void ci8_neon_row_offsets(const ci8_broadcast *b, size_t row, ptrdiff_t *i1,
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

// ---- the neon kernel set (same contracts as the reference functions; a *_supports(op) says
// which descriptors a variant covers, kernels.c runs the reference variant for the rest) ----
size_t ci8_neon_conv2d_prepared_size(const ci8_conv2d *op);
ci8_status ci8_neon_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                   void *prepared);
size_t ci8_neon_conv2d_scratch_size(const ci8_conv2d *op);
void ci8_neon_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                         void *scratch, int32_t row_begin, int32_t row_end);

int ci8_neon_depthwise_conv2d_supports(const ci8_conv2d *op);  // depth_multiplier 1
size_t ci8_neon_depthwise_conv2d_prepared_size(const ci8_conv2d *op);
ci8_status ci8_neon_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                             const int32_t *bias, void *prepared);
size_t ci8_neon_depthwise_conv2d_scratch_size(const ci8_conv2d *op);
void ci8_neon_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                   void *scratch, int32_t row_begin, int32_t row_end);

size_t ci8_neon_fully_connected_prepared_size(const ci8_fully_connected *op);
ci8_status ci8_neon_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                            const int32_t *bias, void *prepared);
size_t ci8_neon_fully_connected_scratch_size(const ci8_fully_connected *op);
void ci8_neon_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                  int8_t *output, void *scratch, int32_t batch_begin,
                                  int32_t batch_end);

// ADD: the reference's prepared data (ci8_ref_add_params); only the run differs.
int ci8_neon_add_supports(const ci8_binary *op);
void ci8_neon_add_run(const ci8_binary *op, const int8_t *input1, const int8_t *input2,
                      int8_t *output);

// PRELU: the reference's prepared data (ci8_ref_pair_params); only the run differs.
int ci8_neon_prelu_supports(const ci8_binary *op);
void ci8_neon_prelu_run(const ci8_binary *op, const int8_t *input, const int8_t *alpha,
                        int8_t *output);

int ci8_neon_max_pool2d_supports(const ci8_pool2d *op);      // channels >= 8
int ci8_neon_average_pool2d_supports(const ci8_pool2d *op);  // channels >= 8, bounded window
void ci8_neon_max_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output);
void ci8_neon_average_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output);

// ---- the neondot kernel set: CONV_2D and FULLY_CONNECTED (the rest is the neon set's) ----
size_t ci8_neondot_conv2d_prepared_size(const ci8_conv2d *op);
ci8_status ci8_neondot_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                      void *prepared);
size_t ci8_neondot_conv2d_scratch_size(const ci8_conv2d *op);
void ci8_neondot_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                            void *scratch, int32_t row_begin, int32_t row_end);

size_t ci8_neondot_fully_connected_prepared_size(const ci8_fully_connected *op);
ci8_status ci8_neondot_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                               const int32_t *bias, void *prepared);
size_t ci8_neondot_fully_connected_scratch_size(const ci8_fully_connected *op);
void ci8_neondot_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                     int8_t *output, void *scratch, int32_t batch_begin,
                                     int32_t batch_end);

#endif  // __aarch64__
#endif  // CI8_NEON_H
