// DEPTHWISE_CONV_2D int8 on AVX2 (depth_multiplier 1; other multipliers run the reference
// kernel on reference-layout data kept behind this set's header).
//
// Per output pixel and block of 16 channels, two filter taps at a time: the two taps' 16
// activations (int16) are interleaved with vpunpcklwd/vpunpckhwd and multiplied by the packed
// (w[t0][c], w[t1][c]) pairs with vpmaddwd. The in-lane interleave leaves channels
// {0-3, 8-11} in one accumulator and {4-7, 12-15} in the other, so the weights and the bias are
// stored in that order and vperm2i128 restores channel order before requantization.
// Rounding as the reference (LiteRT): channels in whole blocks of 8 use ci8_mbqm_gemm
// (vectorized), the last output_channels % 8 channels ci8_mbqm (ties away from zero, scalar).
#include "ci8_avx2.h"

#if defined(__x86_64__)

ci8_status ci8_ref_conv_multipliers(const ci8_conv2d *op, int32_t *mult, int32_t *shift);

enum { DW_MODE_AVX2 = 1, DW_MODE_REFERENCE = 2 };

typedef struct dw_header {
  int32_t mode, taps, pairs, oc, ocp;
} dw_header;

#define DW_HEADER CI8_ALIGN64(sizeof(dw_header))

typedef struct dw_layout {
  size_t vec, mult, lshift, rshift, rshift1, rbit, bias, tmult, tshift, weights, total;
  int32_t taps, pairs, ocp;
} dw_layout;

static dw_layout dw_layout_of(const ci8_conv2d *op) {
  dw_layout l;
  l.taps = op->filter_height * op->filter_width;
  l.pairs = (l.taps + 1) / 2;
  l.ocp = (op->output_channels + 15) & ~15;
  l.vec = CI8_ALIGN64(sizeof(int32_t) * (size_t)l.ocp);
  l.mult = DW_HEADER;
  l.lshift = l.mult + l.vec;
  l.rshift = l.lshift + l.vec;
  l.rshift1 = l.rshift + l.vec;
  l.rbit = l.rshift1 + l.vec;
  l.bias = l.rbit + l.vec;
  l.tmult = l.bias + l.vec;
  l.tshift = l.tmult + l.vec;
  l.weights = l.tshift + l.vec;
  l.total = l.weights + CI8_ALIGN64(sizeof(int16_t) * 2 * (size_t)l.pairs * (size_t)l.ocp);
  return l;
}

// Position of channel j (0..15) of a block in the interleaved order: 0-3 -> 0-3, 4-7 -> 8-11,
// 8-11 -> 4-7, 12-15 -> 12-15 (accumulator "lo" holds slots 0-7, "hi" slots 8-15).
static int32_t dw_slot(int32_t j) {
  const int32_t lane = j / 8, quad = (j % 8) / 4;
  return quad * 8 + lane * 4 + j % 4;
}

size_t ci8_avx2_depthwise_conv2d_prepared_size(const ci8_conv2d *op) {
  if (op->depth_multiplier != 1) return DW_HEADER + ci8_ref_depthwise_conv2d_prepared_size(op);
  return dw_layout_of(op).total;
}

ci8_status ci8_avx2_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                             const int32_t *bias, void *prepared) {
  uint8_t *base = (uint8_t *)prepared;
  dw_header *h = (dw_header *)base;
  if (op->depth_multiplier != 1) {
    const ci8_status st =
        ci8_ref_depthwise_conv2d_prepare(op, filter, bias, base + DW_HEADER);
    if (st != CI8_OK) return st;
    h->mode = DW_MODE_REFERENCE;
    op->prepared = prepared;
    return CI8_OK;
  }
  if (op->output_channels != op->input_channels) return CI8_ERR_BAD_PARAMS;
  const dw_layout l = dw_layout_of(op);
  const int32_t oc = op->output_channels;
  int32_t *tmult = (int32_t *)(base + l.tmult), *tshift = (int32_t *)(base + l.tshift);
  const ci8_status st = ci8_ref_conv_multipliers(op, tmult, tshift);
  if (st != CI8_OK) return st;
  for (int32_t c = oc; c < l.ocp; ++c) tmult[c] = tshift[c] = 0;
  ci8_avx2_rq_fill(oc, l.ocp, tmult, tshift, (int32_t *)(base + l.mult),
                   (int32_t *)(base + l.lshift), (int32_t *)(base + l.rshift),
                   (int32_t *)(base + l.rshift1), (int32_t *)(base + l.rbit));
  int32_t *biasp = (int32_t *)(base + l.bias);
  int16_t *w = (int16_t *)(base + l.weights);
  for (int32_t c = 0; c < l.ocp; ++c) {
    int32_t sum = 0, b = 0;
    if (c < oc) {
      for (int32_t t = 0; t < l.taps; ++t) sum = ci8_wrap_add(sum, filter[(size_t)t * oc + c]);
      b = bias ? bias[c] : 0;
    }
    const int32_t slot = (c / 16) * 16 + dw_slot(c % 16);
    biasp[slot] = ci8_wrap_add(b, ci8_wrap_mul(-op->input_zero_point, sum));
    for (int32_t p = 0; p < l.pairs; ++p) {
      int16_t *dst = w + ((size_t)(c / 16) * l.pairs + p) * 32 + 2 * dw_slot(c % 16);
      for (int32_t e = 0; e < 2; ++e) {
        const int32_t t = 2 * p + e;
        dst[e] = (c < oc && t < l.taps) ? filter[(size_t)t * oc + c] : 0;
      }
    }
  }
  h->mode = DW_MODE_AVX2;
  h->taps = l.taps;
  h->pairs = l.pairs;
  h->oc = oc;
  h->ocp = l.ocp;
  op->prepared = prepared;
  return CI8_OK;
}

size_t ci8_avx2_depthwise_conv2d_scratch_size(const ci8_conv2d *op) {
  if (op->depth_multiplier != 1) return 0;
  return CI8_ALIGN64(sizeof(int32_t) * 2 * (size_t)dw_layout_of(op).pairs);
}

// 16 channels of one tap as int16: the input zero point outside the image (offset < 0).
CI8_AVX2_INLINE __m256i dw_load(const int8_t *in, int32_t offset, int32_t count, __m256i zp) {
  if (offset < 0) return zp;
  if (count >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in + offset)));
  int8_t tmp[16] = {0};
  memcpy(tmp, in + offset, (size_t)count);
  return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)tmp));
}

CI8_AVX2 void ci8_avx2_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input,
                                            int8_t *output, void *scratch, int32_t row_begin,
                                            int32_t row_end) {
  const uint8_t *base = (const uint8_t *)op->prepared;
  const dw_header *h = (const dw_header *)base;
  if (h->mode != DW_MODE_AVX2) {
    ci8_conv2d ref = *op;
    ref.prepared = (void *)(base + DW_HEADER);
    ci8_ref_depthwise_conv2d_run(&ref, input, output, scratch, row_begin, row_end);
    return;
  }
  const dw_layout l = dw_layout_of(op);
  ci8_avx2_rq rq;
  rq.mult = (const int32_t *)(base + l.mult);
  rq.lshift = (const int32_t *)(base + l.lshift);
  rq.rshift = (const int32_t *)(base + l.rshift);
  rq.rshift1 = (const int32_t *)(base + l.rshift1);
  rq.rbit = (const int32_t *)(base + l.rbit);
  const int32_t *biasp = (const int32_t *)(base + l.bias);
  const int32_t *tmult = (const int32_t *)(base + l.tmult);
  const int32_t *tshift = (const int32_t *)(base + l.tshift);
  const int16_t *weights = (const int16_t *)(base + l.weights);
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width, pairs = l.pairs, taps = l.taps;
  const int32_t vector_channels = oc - oc % 8;
  const __m256i zp_in = _mm256_set1_epi16((int16_t)op->input_zero_point);
  const __m256i zp_out = _mm256_set1_epi32(op->output_zero_point);
  const __m256i lo = _mm256_set1_epi32(op->activation_min);
  const __m256i hi = _mm256_set1_epi32(op->activation_max);
  int32_t *offs = (int32_t *)scratch;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    for (int32_t oy = row_begin; oy < row_end; ++oy) {
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t y0 = oy * op->stride_height - op->padding_top;
        const int32_t x0 = ox * op->stride_width - op->padding_left;
        for (int32_t ky = 0, t = 0; ky < kh; ++ky) {
          const int32_t y = y0 + ky * op->dilation_height;
          const int inside_y = y >= 0 && y < ih;
          for (int32_t kx = 0; kx < kw; ++kx, ++t) {
            const int32_t x = x0 + kx * op->dilation_width;
            offs[t] = (inside_y && x >= 0 && x < iw) ? (y * iw + x) * ic : -1;
          }
        }
        if (taps & 1) offs[taps] = -1;
        int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * oc;
        for (int32_t c0 = 0; c0 < oc; c0 += 16) {
          const int32_t count = oc - c0;
          const int8_t *in_c = in_b + c0;
          const int16_t *w = weights + (size_t)(c0 / 16) * pairs * 32;
          __m256i acc_lo = _mm256_loadu_si256((const __m256i *)(biasp + c0));
          __m256i acc_hi = _mm256_loadu_si256((const __m256i *)(biasp + c0 + 8));
          for (int32_t p = 0; p < pairs; ++p) {
            __m256i x0v, x1v;
            if (count >= 16) {  // whole block: no tail copy
              const int32_t o0 = offs[2 * p], o1 = offs[2 * p + 1];
              x0v = o0 < 0 ? zp_in
                           : _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in_c + o0)));
              x1v = o1 < 0 ? zp_in
                           : _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in_c + o1)));
            } else {
              x0v = dw_load(in_c, offs[2 * p], count, zp_in);
              x1v = dw_load(in_c, offs[2 * p + 1], count, zp_in);
            }
            const __m256i w_lo = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)p));
            const __m256i w_hi = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)p + 16));
            acc_lo = _mm256_add_epi32(acc_lo,
                                      _mm256_madd_epi16(_mm256_unpacklo_epi16(x0v, x1v), w_lo));
            acc_hi = _mm256_add_epi32(acc_hi,
                                      _mm256_madd_epi16(_mm256_unpackhi_epi16(x0v, x1v), w_hi));
          }
          const __m256i acc[2] = {_mm256_permute2x128_si256(acc_lo, acc_hi, 0x20),
                                  _mm256_permute2x128_si256(acc_lo, acc_hi, 0x31)};
          for (int32_t hh = 0; hh < 2; ++hh) {
            const int32_t c = c0 + 8 * hh;
            if (c >= oc) break;
            if (c + 8 <= vector_channels) {
              const __m256i v = ci8_avx2_mbqm_gemm(acc[hh], &rq, c);
              ci8_avx2_store_bytes(out + c, ci8_avx2_narrow8(v, zp_out, lo, hi), 8);
            } else {  // the last oc % 8 channels: LiteRT's scalar rounding
              int32_t tmp[8];
              _mm256_storeu_si256((__m256i *)tmp, acc[hh]);
              for (int32_t j = 0; j < 8 && c + j < oc; ++j) {
                const int32_t r =
                    ci8_mbqm(tmp[j], tmult[c + j], tshift[c + j]) + op->output_zero_point;
                out[c + j] = (int8_t)ci8_clamp_i32(r, op->activation_min, op->activation_max);
              }
            }
          }
        }
      }
    }
  }
}

#else
typedef int ci8_depthwise_avx2_unused;
#endif  // __x86_64__
