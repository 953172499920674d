// MAX_POOL_2D and AVERAGE_POOL_2D int8 on AArch64 NEON, bit-exact with reference/pool.c.
// Max: vmaxq_s8 over 16 (or 8) channels per tap from -128, then the activation clamp; max is
// idempotent, so a channel tail is one more vector overlapping the previous one (ending at the
// last channel). Fewer than 8 channels run the reference variant (ci8_neon_max_pool2d_supports).
// Average: int32 sums of 8 channels per tap; the reference's rounded division
// (acc +- count/2) / count (truncating) is done in float: |n| < 2^24 makes the correctly
// rounded n / count truncate to the exact integer quotient (a non-integer quotient is at least
// 1/count from the next integer, more than float's rounding error). Windows whose sums could
// reach 2^24 run the reference variant, as do fewer than 8 channels.
// The activation bounds are int8 values, so clamping after saturation to int8 equals the
// reference's clamp.
#include "ci8_neon.h"
#include "../common/simd_common.h"

#if defined(__aarch64__)

int ci8_neon_max_pool2d_supports(const ci8_pool2d *op) { return op->channels >= 8; }

int ci8_neon_average_pool2d_supports(const ci8_pool2d *op) {
  // Largest |sum +- count/2| must stay below 2^24 (see the top of the file).
  const int64_t taps = (int64_t)op->filter_height * op->filter_width;
  return op->channels >= 8 && taps * 129 < (INT64_C(1) << 24);
}

void ci8_neon_max_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output) {
  const int32_t ch = op->channels, oh = op->output_height, ow = op->output_width;
  const int8x16_t lo = vdupq_n_s8((int8_t)op->activation_min);
  const int8x16_t hi = vdupq_n_s8((int8_t)op->activation_max);
  const int32_t width = ch >= 16 ? 16 : 8;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * op->input_height * op->input_width * ch;
    for (int32_t oy = 0; oy < oh; ++oy)
      for (int32_t ox = 0; ox < ow; ++ox) {
        const pool_window w = pool_window_at(op, in_b, oy, ox);
        int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * ch;
        for (int32_t c = 0;; c += width) {
          if (c + width > ch) c = ch - width;  // overlapping last vector
          const int8_t *row = w.base + c;
          if (width == 16) {
            int8x16_t m = vdupq_n_s8(-128);
            for (int32_t y = 0; y < w.rows; ++y, row += w.row_step)
              for (int32_t x = 0; x < w.cols; ++x) m = vmaxq_s8(m, vld1q_s8(row + (size_t)x * ch));
            vst1q_s8(out + c, vminq_s8(vmaxq_s8(m, lo), hi));
          } else {
            int8x8_t m = vdup_n_s8(-128);
            for (int32_t y = 0; y < w.rows; ++y, row += w.row_step)
              for (int32_t x = 0; x < w.cols; ++x) m = vmax_s8(m, vld1_s8(row + (size_t)x * ch));
            vst1_s8(out + c, vmin_s8(vmax_s8(m, vget_low_s8(lo)), vget_low_s8(hi)));
          }
          if (c + width >= ch) break;
        }
      }
  }
}

void ci8_neon_average_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output) {
  const int32_t ch = op->channels, oh = op->output_height, ow = op->output_width;
  const int32x4_t lo = vdupq_n_s32(op->activation_min), hi = vdupq_n_s32(op->activation_max);
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * op->input_height * op->input_width * ch;
    for (int32_t oy = 0; oy < oh; ++oy)
      for (int32_t ox = 0; ox < ow; ++ox) {
        const pool_window w = pool_window_at(op, in_b, oy, ox);
        int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * ch;
        const int32x4_t half = vdupq_n_s32(w.count / 2);
        const float32x4_t count = vdupq_n_f32((float)(w.count > 0 ? w.count : 1));
        for (int32_t c = 0;; c += 8) {
          if (c + 8 > ch) c = ch - 8;  // overlapping last vector: same values rewritten
          int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0);
          const int8_t *row = w.base + c;
          for (int32_t y = 0; y < w.rows; ++y, row += w.row_step)
            for (int32_t x = 0; x < w.cols; ++x) {
              const int16x8_t v = vmovl_s8(vld1_s8(row + (size_t)x * ch));
              a0 = vaddw_s16(a0, vget_low_s16(v));
              a1 = vaddw_high_s16(a1, v);
            }
          if (w.count > 0) {
            // acc > 0 ? acc + half : acc - half, then truncating division.
            const int32x4_t n0 = vbslq_s32(vcgtzq_s32(a0), vaddq_s32(a0, half), vsubq_s32(a0, half));
            const int32x4_t n1 = vbslq_s32(vcgtzq_s32(a1), vaddq_s32(a1, half), vsubq_s32(a1, half));
            a0 = vcvtq_s32_f32(vdivq_f32(vcvtq_f32_s32(n0), count));
            a1 = vcvtq_s32_f32(vdivq_f32(vcvtq_f32_s32(n1), count));
          }
          a0 = vminq_s32(vmaxq_s32(a0, lo), hi);
          a1 = vminq_s32(vmaxq_s32(a1, lo), hi);
          const int16x8_t w16 = vcombine_s16(vmovn_s32(a0), vmovn_s32(a1));
          vst1_s8(out + c, vmovn_s16(w16));
          if (c + 8 >= ch) break;
        }
      }
  }
}

#else
typedef int ci8_pool_neon_unused;
#endif  // __aarch64__
