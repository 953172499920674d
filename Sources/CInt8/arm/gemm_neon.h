// Private to the AArch64 kernel sets: the packed int8 GEMM shared by CONV_2D (rows of an int8
// im2col block, or the input pixels themselves for pointwise convolutions) and FULLY_CONNECTED
// (batch rows). Two micro-kernels, named op-tile-ISA:
//   gemm_2x8c16_neon     2 rows x 8 channels, K in blocks of 16 (then one of 8): for each
//                        (row, channel) an int32x4 accumulator; smull + smlal2 multiply 16 int8
//                        pairs into int16x8 (two products per lane) and sadalp adds those pairs
//                        into the int32 lanes; a pairwise-add tree reduces at the end. Two products
//                        fit int16 only while weights avoid -128 (|2 * 127 * 128| < 2^15):
//                        weights with -128 select the "mull" mode (smull, smull2, a sadalp each).
//                        Pairs of rows always run the mull mode (faster there, see
//                        ci8_neon_gemm_rows); the mlal mode serves the odd last row.
//   gemm_4x16c4_neondot  4 rows x 16 (or 8) channels, K in blocks of 4: sdot multiplies a 16-byte
//                        weight vector (4 channels x 4 k) by one 4-byte activation group (a lane
//                        of an 8-byte activation load) into 4 channel accumulators; K steps by 8.
// Prepared layout (all blocks 64-byte aligned):
//   header   ci8_neon_gemm_header
//   int32    mult[ocp], lshift[ocp], rshift[ocp], bias_adjusted[ocp]
//   int8     weights, by channel group (zeros for padded k and channels):
//              neon     groups of 8: per K block of 16 [8][16], a last block of 8 [8][8];
//              neondot  groups of 16 (a last group of 8 when ocp % 16 == 8): per K block of 4
//                       [nr][4].
// k = filter_height * filter_width * input_channels (or input_depth), kp = k rounded up to 8,
// ocp = channels rounded up to 8. bias_adjusted = bias - input_zero_point * sum(w) (wrapping),
// as in the reference; rows hold raw activations (the input zero point for out-of-image taps),
// so the int32 accumulators equal the reference's bit for bit (int32 adds wrap alike).
// Rounding is ci8_mbqm_gemm's (ties up) for every channel.
#ifndef CI8_GEMM_NEON_H
#define CI8_GEMM_NEON_H

#include "ci8_neon.h"

#if defined(__aarch64__)

enum { CI8_GEMM_NEON = 0, CI8_GEMM_NEONDOT = 1 };
enum { CI8_GEMM_MLAL = 0, CI8_GEMM_MULL = 1 };  // neon product modes (see above)

typedef struct ci8_neon_gemm_header {
  int32_t k, kp, oc, ocp, isa, mode;
} ci8_neon_gemm_header;

typedef struct ci8_neon_gemm_layout {
  size_t vec, mult, lshift, rshift, bias, weights, total;
  int32_t kp, ocp;
} ci8_neon_gemm_layout;

static inline ci8_neon_gemm_layout ci8_neon_gemm_layout_of(int32_t k, int32_t oc) {
  ci8_neon_gemm_layout l;
  l.kp = (k + 7) & ~7;
  l.ocp = (oc + 7) & ~7;
  l.vec = CI8_ALIGN64(sizeof(int32_t) * (size_t)l.ocp);
  l.mult = CI8_ALIGN64(sizeof(ci8_neon_gemm_header));
  l.lshift = l.mult + l.vec;
  l.rshift = l.lshift + l.vec;
  l.bias = l.rshift + l.vec;
  l.weights = l.bias + l.vec;
  l.total = l.weights + CI8_ALIGN64((size_t)l.kp * (size_t)l.ocp);
  return l;
}

// Channels of the group starting at c0.
static inline int32_t ci8_neon_gemm_nr(int32_t isa, int32_t ocp, int32_t c0) {
  if (isa == CI8_GEMM_NEON) return 8;
  return ocp - c0 >= 16 ? 16 : 8;
}

// Packs w[oc][k] and the multipliers (TFLite form, oc entries) for `isa`.
static inline void ci8_neon_gemm_pack(void *prepared, int32_t isa, int32_t k, int32_t oc,
                                      const int8_t *w, const int32_t *bias,
                                      int32_t input_zero_point, const int32_t *mult,
                                      const int32_t *shift) {
  const ci8_neon_gemm_layout l = ci8_neon_gemm_layout_of(k, oc);
  uint8_t *base = (uint8_t *)prepared;
  int32_t *m = (int32_t *)(base + l.mult), *ls = (int32_t *)(base + l.lshift);
  int32_t *rs = (int32_t *)(base + l.rshift), *badj = (int32_t *)(base + l.bias);
  int has_min = 0;
  for (int32_t c = 0; c < l.ocp; ++c) {
    const int32_t s = c < oc ? shift[c] : 0;
    m[c] = c < oc ? mult[c] : 0;
    ls[c] = s > 0 ? s : 0;
    rs[c] = s > 0 ? 0 : s;
    int32_t sum = 0;
    if (c < oc) {
      for (int32_t i = 0; i < k; ++i) {
        sum = ci8_wrap_add(sum, w[(size_t)c * k + i]);
        has_min |= w[(size_t)c * k + i] == -128;
      }
    }
    const int32_t b = (c < oc && bias) ? bias[c] : 0;
    badj[c] = ci8_wrap_add(b, ci8_wrap_mul(-input_zero_point, sum));
  }
  ci8_neon_gemm_header *h = (ci8_neon_gemm_header *)base;
  h->k = k;
  h->kp = l.kp;
  h->oc = oc;
  h->ocp = l.ocp;
  h->isa = isa;
  h->mode = has_min ? CI8_GEMM_MULL : CI8_GEMM_MLAL;
  int8_t *pw = (int8_t *)(base + l.weights);
  for (int32_t c0 = 0; c0 < l.ocp;) {
    const int32_t nr = ci8_neon_gemm_nr(isa, l.ocp, c0);
    // kb: K block size (16 or 8 for neon, 4 for neondot); within a block [nr][kb].
    for (int32_t k0 = 0; k0 < l.kp;) {
      const int32_t kb = isa == CI8_GEMM_NEONDOT ? 4 : (l.kp - k0 >= 16 ? 16 : 8);
      for (int32_t j = 0; j < nr; ++j) {
        for (int32_t e = 0; e < kb; ++e) {
          const int32_t c = c0 + j, kk = k0 + e;
          *pw++ = (c < oc && kk < k) ? w[(size_t)c * k + kk] : 0;
        }
      }
      k0 += kb;
    }
    c0 += nr;
  }
}

// ---- neon micro-kernel: rows a0, a1 (kp bytes each) times 8 packed channels ----
// acc[4 * r + h] = row r, channels 4h .. 4h + 3 (bias not included).
CI8_NEON_INLINE int32x4_t ci8_neon_reduce4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
}

CI8_NEON_INLINE void ci8_gemm_2x8c16_neon(const int8_t *a0, const int8_t *a1, const int8_t *w,
                                          int32_t kp, int32x4_t out[4], const int mr,
                                          const int mode) {
  int32x4_t c0[8], c1[8];
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) c0[j] = c1[j] = vdupq_n_s32(0);
  int32_t k = kp;
  for (; k >= 16; k -= 16) {
    CI8_MCA_BEGIN("gemm_2x8c16_neon/%c0/mr%c1", "i"(mode), "i"(mr));
    const int8x16_t x0 = vld1q_s8(a0);
    const int8x16_t x1 = mr > 1 ? vld1q_s8(a1) : x0;
    a0 += 16;
    a1 += 16;
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const int8x16_t wj = vld1q_s8(w + 16 * j);
      if (mode == CI8_GEMM_MLAL) {
        c0[j] = vpadalq_s16(c0[j], vmlal_high_s8(vmull_s8(vget_low_s8(wj), vget_low_s8(x0)), wj, x0));
        if (mr > 1)
          c1[j] =
              vpadalq_s16(c1[j], vmlal_high_s8(vmull_s8(vget_low_s8(wj), vget_low_s8(x1)), wj, x1));
      } else {
        c0[j] = vpadalq_s16(c0[j], vmull_s8(vget_low_s8(wj), vget_low_s8(x0)));
        c0[j] = vpadalq_s16(c0[j], vmull_high_s8(wj, x0));
        if (mr > 1) {
          c1[j] = vpadalq_s16(c1[j], vmull_s8(vget_low_s8(wj), vget_low_s8(x1)));
          c1[j] = vpadalq_s16(c1[j], vmull_high_s8(wj, x1));
        }
      }
    }
    w += 128;
    CI8_MCA_END();
  }
  if (k == 8) {
    const int8x8_t x0 = vld1_s8(a0);
    const int8x8_t x1 = mr > 1 ? vld1_s8(a1) : x0;
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const int8x8_t wj = vld1_s8(w + 8 * j);
      c0[j] = vpadalq_s16(c0[j], vmull_s8(wj, x0));
      if (mr > 1) c1[j] = vpadalq_s16(c1[j], vmull_s8(wj, x1));
    }
  }
  out[0] = ci8_neon_reduce4(c0[0], c0[1], c0[2], c0[3]);
  out[1] = ci8_neon_reduce4(c0[4], c0[5], c0[6], c0[7]);
  if (mr > 1) {
    out[4] = ci8_neon_reduce4(c1[0], c1[1], c1[2], c1[3]);
    out[5] = ci8_neon_reduce4(c1[4], c1[5], c1[6], c1[7]);
  }
}

// ---- neondot micro-kernel: rows a0..a3 times nr (16 or 8) packed channels ----
// acc[4 * r + q] = row r, channels 4q .. 4q + 3 (bias not included).
#define CI8_DOT_STEP(r, x, lane)                                                       \
  do {                                                                                 \
    _Pragma("GCC unroll 4") for (int q = 0; q < nr / 4; ++q) acc[4 * (r) + q] =        \
        vdotq_lane_s32(acc[4 * (r) + q], wv[q], x, lane);                             \
  } while (0)

CI8_NEONDOT_INLINE void ci8_gemm_4x16c4_neondot(const int8_t *a0, const int8_t *a1,
                                                const int8_t *a2, const int8_t *a3,
                                                const int8_t *w, int32_t kp, int32x4_t out[16],
                                                const int mr, const int nr) {
  int32x4_t acc[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) acc[i] = vdupq_n_s32(0);
  for (int32_t k = 0; k < kp; k += 8) {
    CI8_MCA_BEGIN("gemm_4x16c4_neondot/mr%c0/nr%c1", "i"(mr), "i"(nr));
    const int8x8_t x0 = vld1_s8(a0 + k);
    const int8x8_t x1 = mr > 1 ? vld1_s8(a1 + k) : x0;
    const int8x8_t x2 = mr > 2 ? vld1_s8(a2 + k) : x0;
    const int8x8_t x3 = mr > 3 ? vld1_s8(a3 + k) : x0;
    int8x16_t wv[4];
#pragma GCC unroll 4
    for (int q = 0; q < nr / 4; ++q) wv[q] = vld1q_s8(w + 16 * q);
    CI8_DOT_STEP(0, x0, 0);
    if (mr > 1) CI8_DOT_STEP(1, x1, 0);
    if (mr > 2) CI8_DOT_STEP(2, x2, 0);
    if (mr > 3) CI8_DOT_STEP(3, x3, 0);
#pragma GCC unroll 4
    for (int q = 0; q < nr / 4; ++q) wv[q] = vld1q_s8(w + 4 * nr + 16 * q);
    CI8_DOT_STEP(0, x0, 1);
    if (mr > 1) CI8_DOT_STEP(1, x1, 1);
    if (mr > 2) CI8_DOT_STEP(2, x2, 1);
    if (mr > 3) CI8_DOT_STEP(3, x3, 1);
    w += 8 * nr;
    CI8_MCA_END();
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) out[i] = acc[i];
}

// ---- the GEMM driver ----
typedef struct ci8_neon_gemm {
  ci8_neon_rq rq;
  const int32_t *bias;
  const int8_t *weights;
  int32_t kp, oc, ocp, isa, mode;
  int32x4_t zp;
  int8x8_t min8, max8;
} ci8_neon_gemm;

static inline ci8_neon_gemm ci8_neon_gemm_of(const void *prepared, int32_t output_zero_point,
                                             int32_t activation_min, int32_t activation_max) {
  const uint8_t *base = (const uint8_t *)prepared;
  const ci8_neon_gemm_header *h = (const ci8_neon_gemm_header *)base;
  const ci8_neon_gemm_layout l = ci8_neon_gemm_layout_of(h->k, h->oc);
  ci8_neon_gemm g;
  g.rq.mult = (const int32_t *)(base + l.mult);
  g.rq.lshift = (const int32_t *)(base + l.lshift);
  g.rq.rshift = (const int32_t *)(base + l.rshift);
  g.rq.away = NULL;
  g.bias = (const int32_t *)(base + l.bias);
  g.weights = (const int8_t *)(base + l.weights);
  g.kp = h->kp;
  g.oc = h->oc;
  g.ocp = h->ocp;
  g.isa = h->isa;
  g.mode = h->mode;
  g.zp = vdupq_n_s32(output_zero_point);
  g.min8 = vdup_n_s8((int8_t)activation_min);
  g.max8 = vdup_n_s8((int8_t)activation_max);
  return g;
}

// Requantizes and stores rows r < rows of a tile: channels c0 .. c0 + nr - 1 clipped to oc;
// acc[4 * r + q] holds row r, channels c0 + 4q .. c0 + 4q + 3 (without bias).
CI8_NEON_INLINE void ci8_neon_gemm_store(const ci8_neon_gemm *g, int8_t *out, size_t out_stride,
                                         int32_t rows, int32_t c0, int32_t nr,
                                         const int32x4_t *acc) {
  for (int32_t h = 0; h < nr; h += 8) {
    const int32_t c = c0 + h;
    if (c >= g->oc) break;
    const int32_t count = g->oc - c < 8 ? g->oc - c : 8;
    const int32x4_t b0 = vld1q_s32(g->bias + c), b1 = vld1q_s32(g->bias + c + 4);
    for (int32_t r = 0; r < rows; ++r) {
      const int32x4_t lo = ci8_neon_mbqm_gemm4(vaddq_s32(acc[4 * r + h / 4], b0), &g->rq, c);
      const int32x4_t hi = ci8_neon_mbqm_gemm4(vaddq_s32(acc[4 * r + h / 4 + 1], b1), &g->rq, c + 4);
      ci8_neon_store_bytes(out + (size_t)r * out_stride + c,
                           ci8_neon_narrow8(lo, hi, g->zp, g->min8, g->max8), count);
    }
  }
}

// `rows` int8 rows (row j at a + j * a_stride, kp readable bytes each) times all channels of a
// neon-packed GEMM; row j's oc bytes go to out + j * oc. Channel groups are the outer loop so
// that one group's packed weights stay in L1 while the rows stream past them.
static inline void ci8_neon_gemm_rows(const ci8_neon_gemm *g, const int8_t *a, size_t a_stride,
                                      int32_t rows, int8_t *out) {
  const int8_t *w = g->weights;
  int32x4_t acc[8];
  for (int32_t c0 = 0; c0 < g->ocp; c0 += 8) {
    for (int32_t j = 0; j < rows; j += 2) {
      const int8_t *a0 = a + (size_t)j * a_stride;
      int8_t *dst = out + (size_t)j * g->oc;
      if (rows - j >= 2) {
        // Two rows always take the mull form: llvm-mca puts the mlal form's 16 smull -> smlal2
        // chains at 5.9 MAC/cycle on Cortex-A72 in the generic -O2 build SwiftPM makes (the
        // schedule hoists them and spills accumulators), the mull form at 8.0 (the peak), and
        // it is faster on Cortex-A53/A55 too (tools/arm-estimate).
        ci8_gemm_2x8c16_neon(a0, a0 + a_stride, w, g->kp, acc, 2, CI8_GEMM_MULL);
        ci8_neon_gemm_store(g, dst, (size_t)g->oc, 2, c0, 8, acc);
      } else {
        if (g->mode == CI8_GEMM_MLAL) ci8_gemm_2x8c16_neon(a0, a0, w, g->kp, acc, 1, CI8_GEMM_MLAL);
        else ci8_gemm_2x8c16_neon(a0, a0, w, g->kp, acc, 1, CI8_GEMM_MULL);
        ci8_neon_gemm_store(g, dst, (size_t)g->oc, 1, c0, 8, acc);
      }
    }
    w += (size_t)g->kp * 8;
  }
}

// The same for a neondot-packed GEMM.
#define CI8_DOT_CALL(mr, nr) ci8_gemm_4x16c4_neondot(a0, a1, a2, a3, w, g->kp, acc, mr, nr)
CI8_NEONDOT_INLINE void ci8_neondot_gemm_rows(const ci8_neon_gemm *g, const int8_t *a,
                                              size_t a_stride, int32_t rows, int8_t *out) {
  const int8_t *w = g->weights;
  int32x4_t acc[16];
  for (int32_t c0 = 0; c0 < g->ocp;) {
    const int32_t nr = ci8_neon_gemm_nr(CI8_GEMM_NEONDOT, g->ocp, c0);
    for (int32_t j = 0; j < rows; j += 4) {
      const int32_t n = rows - j < 4 ? rows - j : 4;
      const int8_t *a0 = a + (size_t)j * a_stride, *a1 = a0 + a_stride;
      const int8_t *a2 = a1 + a_stride, *a3 = a2 + a_stride;
      if (nr == 16) {
        switch (n) {
          case 4: CI8_DOT_CALL(4, 16); break;
          case 3: CI8_DOT_CALL(3, 16); break;
          case 2: CI8_DOT_CALL(2, 16); break;
          default: CI8_DOT_CALL(1, 16); break;
        }
      } else {
        switch (n) {
          case 4: CI8_DOT_CALL(4, 8); break;
          case 3: CI8_DOT_CALL(3, 8); break;
          case 2: CI8_DOT_CALL(2, 8); break;
          default: CI8_DOT_CALL(1, 8); break;
        }
      }
      ci8_neon_gemm_store(g, out + (size_t)j * g->oc, (size_t)g->oc, n, c0, nr, acc);
    }
    w += (size_t)g->kp * nr;
    c0 += nr;
  }
}
#undef CI8_DOT_CALL

#endif  // __aarch64__
#endif  // CI8_GEMM_NEON_H
