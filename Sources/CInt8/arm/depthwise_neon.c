// DEPTHWISE_CONV_2D int8 on AArch64 NEON, depth_multiplier 1 (ci8_neon_depthwise_conv2d_supports;
// other multipliers run the reference variant). Both Arm sets use
// it: sdot sums 4 products along k, and a depthwise channel has only its own taps, not 4 of them
// side by side in memory.
//
// Micro-kernel dwconv_16c_neon: per output pixel and block of 16 channels, taps in pairs:
// smull + smlal (low 8 channels) and smull2 + smlal2 (high 8) give two products per int16 lane,
// saddw/saddw2 widen them into four int32x4 accumulators. Two products fit int16 only while the
// weights avoid -128; a filter with -128 takes one tap per step (mode DW_SINGLE).
// Each pixel gets a table of tap pointers: interior pixels (window inside the image) from
// offsets computed once per run, border pixels per tap, padding taps pointing at a row of the
// input zero point in the scratch. A channel block past the last channel (oc % 16 != 0) reads
// 16 bytes where they lie inside the input (extra lanes meet zero weights and are not stored),
// else through a zero-padded copy.
// Rounding as the reference (LiteRT): channels in whole blocks of 8 use ci8_mbqm_gemm, the last
// output_channels % 8 channels ci8_mbqm (ties away from zero): the per-channel `away` mask.
#include "ci8_neon.h"

#if defined(__aarch64__)

ci8_status ci8_ref_conv_multipliers(const ci8_conv2d *op, int32_t *mult, int32_t *shift);

enum { DW_PAIRED = 0, DW_SINGLE = 1 };

typedef struct dw_header {
  int32_t taps, oc, ocp, pairing;
} dw_header;

#define DW_HEADER CI8_ALIGN64(sizeof(dw_header))

typedef struct dw_layout {
  size_t vec, mult, lshift, rshift, away, bias, tmult, tshift, weights, total;
  int32_t taps, ocp;
} dw_layout;

static dw_layout dw_layout_of(const ci8_conv2d *op) {
  dw_layout l;
  l.taps = op->filter_height * op->filter_width;
  l.ocp = (op->output_channels + 15) & ~15;
  l.vec = CI8_ALIGN64(sizeof(int32_t) * (size_t)l.ocp);
  l.mult = DW_HEADER;
  l.lshift = l.mult + l.vec;
  l.rshift = l.lshift + l.vec;
  l.away = l.rshift + l.vec;
  l.bias = l.away + l.vec;
  l.tmult = l.bias + l.vec;
  l.tshift = l.tmult + l.vec;
  l.weights = l.tshift + l.vec;
  l.total = l.weights + CI8_ALIGN64((size_t)l.taps * (size_t)l.ocp);
  return l;
}

int ci8_neon_depthwise_conv2d_supports(const ci8_conv2d *op) {
  return op->depth_multiplier == 1;
}

size_t ci8_neon_depthwise_conv2d_prepared_size(const ci8_conv2d *op) {
  return dw_layout_of(op).total;
}

ci8_status ci8_neon_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                             const int32_t *bias, void *prepared) {
  uint8_t *base = (uint8_t *)prepared;
  dw_header *h = (dw_header *)base;
  if (op->depth_multiplier != 1 || op->output_channels != op->input_channels)
    return CI8_ERR_BAD_PARAMS;
  const dw_layout l = dw_layout_of(op);
  const int32_t oc = op->output_channels;
  int32_t *tmult = (int32_t *)(base + l.tmult), *tshift = (int32_t *)(base + l.tshift);
  const ci8_status st = ci8_ref_conv_multipliers(op, tmult, tshift);
  if (st != CI8_OK) return st;
  ci8_neon_rq_fill(oc, l.ocp, oc - oc % 8, tmult, tshift, (int32_t *)(base + l.mult),
                   (int32_t *)(base + l.lshift), (int32_t *)(base + l.rshift),
                   (int32_t *)(base + l.away));
  int32_t *biasp = (int32_t *)(base + l.bias);
  int8_t *w = (int8_t *)(base + l.weights);
  int has_min = 0;
  for (int32_t c = 0; c < l.ocp; ++c) {
    int32_t sum = 0, b = 0;
    if (c < oc) {
      for (int32_t t = 0; t < l.taps; ++t) sum = ci8_wrap_add(sum, filter[(size_t)t * oc + c]);
      b = bias ? bias[c] : 0;
    }
    biasp[c] = ci8_wrap_add(b, ci8_wrap_mul(-op->input_zero_point, sum));
    for (int32_t t = 0; t < l.taps; ++t) {
      const int8_t v = c < oc ? filter[(size_t)t * oc + c] : 0;
      has_min |= v == -128;
      w[(size_t)t * l.ocp + c] = v;
    }
  }
  h->taps = l.taps;
  h->oc = oc;
  h->ocp = l.ocp;
  h->pairing = has_min ? DW_SINGLE : DW_PAIRED;
  op->prepared = prepared;
  return CI8_OK;
}

// Scratch: const int8_t *src[taps] (this pixel's tap pointers), int32 rel[taps] (interior tap
// offsets), int8 zp_row[ocp + 16] (the input zero point: padding taps point here).
size_t ci8_neon_depthwise_conv2d_scratch_size(const ci8_conv2d *op) {
  const dw_layout l = dw_layout_of(op);
  return CI8_ALIGN64(sizeof(void *) * (size_t)l.taps) +
         CI8_ALIGN64(sizeof(int32_t) * (size_t)l.taps) + CI8_ALIGN64((size_t)l.ocp + 16);
}

typedef struct dw_ctx {
  ci8_neon_rq rq;
  const int32_t *bias;
  const int8_t *weights;
  const int8_t *in_end;  // end of the batch's input: 16-byte loads must stay below it
  int32_t oc, ocp, taps, pairing;
  int32x4_t zp;
  int8x16_t min8, max8;
} dw_ctx;

// 16 bytes at p + c0. Only the tail block (c0 + 16 > oc, `tail` set) can read past the input's
// end; there it reads through a zero-padded copy.
CI8_NEON_INLINE int8x16_t dw_load(const dw_ctx *k, const int8_t *p, int32_t c0, const int tail) {
  const int8_t *q = p + c0;
  if (!tail || q + 16 <= k->in_end || q >= k->in_end) return vld1q_s8(q);
  int8_t tmp[16] = {0};
  memcpy(tmp, q, (size_t)(k->oc - c0));
  return vld1q_s8(tmp);
}

// Requantizes 16 channels (4 accumulators) and stores channels c0 .. min(c0 + 16, oc) - 1.
CI8_NEON_INLINE void dw_store(const dw_ctx *k, const int32x4_t acc[4], int8_t *out, int32_t c0) {
  int32x4_t r[4];
  for (int i = 0; i < 4; ++i) {
    const int32_t c = c0 + 4 * i;
    r[i] = vaddq_s32(ci8_neon_mbqm_away_v(acc[i], vld1q_s32(k->rq.mult + c),
                                          vld1q_s32(k->rq.lshift + c), vld1q_s32(k->rq.rshift + c),
                                          vld1q_s32(k->rq.away + c)),
                     k->zp);
  }
  const int16x8_t lo = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]));
  const int16x8_t hi = vcombine_s16(vqmovn_s32(r[2]), vqmovn_s32(r[3]));
  const int8x16_t v = vminq_s8(vmaxq_s8(vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)), k->min8),
                               k->max8);
  if (c0 + 16 <= k->oc) {
    vst1q_s8(out + c0, v);
  } else {
    int8_t tmp[16];
    vst1q_s8(tmp, v);
    memcpy(out + c0, tmp, (size_t)(k->oc - c0));
  }
}

// The 16 channels c0 .. c0 + 15 of one output pixel: src[t] points at tap t's channel 0.
// `tail`: the last, partial block (compile-time, so full blocks have a branch-free tap loop).
CI8_NEON_INLINE void dw_block(const dw_ctx *k, const int8_t *const *src, int8_t *out,
                              int32_t c0, const int pairing, const int tail) {
  const int32_t taps = k->taps, ocp = k->ocp;
  int32x4_t acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = vld1q_s32(k->bias + c0 + 4 * i);
  const int8_t *w = k->weights + c0;
  int32_t t = 0;
  if (pairing == DW_PAIRED) {
    for (; t + 2 <= taps; t += 2) {
      CI8_MCA_BEGIN("dwconv_16c_neon/2tap/t%c0", "i"(tail));
      const int8x16_t x0 = dw_load(k, src[t], c0, tail), x1 = dw_load(k, src[t + 1], c0, tail);
      const int8x16_t w0 = vld1q_s8(w + (size_t)t * ocp), w1 = vld1q_s8(w + (size_t)(t + 1) * ocp);
      const int16x8_t plo =
          vmlal_s8(vmull_s8(vget_low_s8(x0), vget_low_s8(w0)), vget_low_s8(x1), vget_low_s8(w1));
      const int16x8_t phi = vmlal_high_s8(vmull_high_s8(x0, w0), x1, w1);
      acc[0] = vaddw_s16(acc[0], vget_low_s16(plo));
      acc[1] = vaddw_high_s16(acc[1], plo);
      acc[2] = vaddw_s16(acc[2], vget_low_s16(phi));
      acc[3] = vaddw_high_s16(acc[3], phi);
      CI8_MCA_END();
    }
  }
  for (; t < taps; ++t) {
    CI8_MCA_BEGIN("dwconv_16c_neon/1tap/p%c0/t%c1", "i"(pairing), "i"(tail));
    const int8x16_t x0 = dw_load(k, src[t], c0, tail);
    const int8x16_t w0 = vld1q_s8(w + (size_t)t * ocp);
    const int16x8_t plo = vmull_s8(vget_low_s8(x0), vget_low_s8(w0));
    const int16x8_t phi = vmull_high_s8(x0, w0);
    acc[0] = vaddw_s16(acc[0], vget_low_s16(plo));
    acc[1] = vaddw_high_s16(acc[1], plo);
    acc[2] = vaddw_s16(acc[2], vget_low_s16(phi));
    acc[3] = vaddw_high_s16(acc[3], phi);
    CI8_MCA_END();
  }
  dw_store(k, acc, out, c0);
}

// One output pixel: every channel block.
CI8_NEON_INLINE void dw_pixel(const dw_ctx *k, const int8_t *const *src, int8_t *out,
                              const int pairing) {
  int32_t c0 = 0;
  for (; c0 + 16 <= k->oc; c0 += 16) dw_block(k, src, out, c0, pairing, 0);
  if (c0 < k->oc) dw_block(k, src, out, c0, pairing, 1);
}

CI8_NEON_INLINE void dw_run(const ci8_conv2d *op, const dw_ctx *k, const int8_t *input,
                            int8_t *output, const int8_t **src, const int32_t *rel,
                            const int8_t *zp_row, int32_t row_begin, int32_t row_end,
                            const int pairing) {
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width, taps = k->taps;
  const int32_t sh = op->stride_height, sw = op->stride_width;
  const int32_t dh = op->dilation_height, dwl = op->dilation_width;
  const int32_t pl = op->padding_left, pt = op->padding_top;
  // Interior columns: ox in [ox_lo, ox_hi) have x0 >= 0 and x0 + (kw - 1) * dw < iw.
  const int32_t ox_lo = pl > 0 ? (pl + sw - 1) / sw : 0;
  const int32_t last_x = iw - 1 - (kw - 1) * dwl + pl;
  int32_t ox_hi = last_x >= 0 ? last_x / sw + 1 : 0;
  if (ox_hi > ow) ox_hi = ow;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    dw_ctx kb = *k;
    kb.in_end = in_b + (size_t)ih * iw * ic;
    for (int32_t oy = row_begin; oy < row_end; ++oy) {
      const int32_t y0 = oy * sh - pt;
      const int row_inside = y0 >= 0 && y0 + (kh - 1) * dh < ih;
      int8_t *out_row = output + ((size_t)b * oh + oy) * ow * oc;
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * sw - pl;
        if (row_inside && ox >= ox_lo && ox < ox_hi) {
          const int8_t *first = in_b + ((ptrdiff_t)y0 * iw + x0) * ic;
          for (int32_t t = 0; t < taps; ++t) src[t] = first + rel[t];
        } else {
          for (int32_t ky = 0, t = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * dh;
            const int inside_y = y >= 0 && y < ih;
            for (int32_t kx = 0; kx < kw; ++kx, ++t) {
              const int32_t x = x0 + kx * dwl;
              src[t] = (inside_y && x >= 0 && x < iw) ? in_b + ((size_t)y * iw + x) * ic : zp_row;
            }
          }
        }
        dw_pixel(&kb, src, out_row + (size_t)ox * oc, pairing);
      }
    }
  }
}

void ci8_neon_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                   void *scratch, int32_t row_begin, int32_t row_end) {
  const uint8_t *base = (const uint8_t *)op->prepared;
  const dw_header *h = (const dw_header *)base;
  if (row_end <= row_begin) return;
  const dw_layout l = dw_layout_of(op);
  dw_ctx k;
  k.rq.mult = (const int32_t *)(base + l.mult);
  k.rq.lshift = (const int32_t *)(base + l.lshift);
  k.rq.rshift = (const int32_t *)(base + l.rshift);
  k.rq.away = (const int32_t *)(base + l.away);
  k.bias = (const int32_t *)(base + l.bias);
  k.weights = (const int8_t *)(base + l.weights);
  k.in_end = input;
  k.oc = op->output_channels;
  k.ocp = l.ocp;
  k.taps = l.taps;
  k.pairing = h->pairing;
  k.zp = vdupq_n_s32(op->output_zero_point);
  k.min8 = vdupq_n_s8((int8_t)op->activation_min);
  k.max8 = vdupq_n_s8((int8_t)op->activation_max);
  uint8_t *s = (uint8_t *)scratch;
  const int8_t **src = (const int8_t **)s;
  s += CI8_ALIGN64(sizeof(void *) * (size_t)l.taps);
  int32_t *rel = (int32_t *)s;
  s += CI8_ALIGN64(sizeof(int32_t) * (size_t)l.taps);
  int8_t *zp_row = (int8_t *)s;
  memset(zp_row, op->input_zero_point, (size_t)l.ocp + 16);
  const int32_t iw = op->input_width, ic = op->input_channels;
  for (int32_t ky = 0, t = 0; ky < op->filter_height; ++ky)
    for (int32_t kx = 0; kx < op->filter_width; ++kx, ++t)
      rel[t] = (ky * op->dilation_height * iw + kx * op->dilation_width) * ic;
  if (k.pairing == DW_PAIRED)
    dw_run(op, &k, input, output, src, rel, zp_row, row_begin, row_end, DW_PAIRED);
  else
    dw_run(op, &k, input, output, src, rel, zp_row, row_begin, row_end, DW_SINGLE);
}

#else
typedef int ci8_depthwise_neon_unused;
#endif  // __aarch64__
