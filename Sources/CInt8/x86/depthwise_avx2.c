// DEPTHWISE_CONV_2D int8 on AVX2, depth_multiplier 1 (the table runs other multipliers on the
// reference kernel).
//
// Per output pixel and block of 16 channels, two filter taps at a time: the two taps' 16
// activations (int16) are interleaved with vpunpcklwd/vpunpckhwd and multiplied by the packed
// (w[t0][c], w[t1][c]) pairs with vpmaddwd. The in-lane interleave leaves channels
// {0-3, 8-11} in one accumulator and {4-7, 12-15} in the other, so the weights and the bias are
// stored in that order and vperm2i128 restores channel order before requantization.
// Rounding as the reference (LiteRT): channels in whole blocks of 8 use ci8_mbqm_gemm
// (vectorized), the last output_channels % 8 channels ci8_mbqm (ties away from zero, scalar).
// Interior pixels (whole window inside the image) skip the per-tap bounds checks: tap offsets
// relative to the window's first tap are computed once per run, and 4 consecutive pixels share
// each weight load. Border pixels use per-pixel offsets (-1 = padding, the input zero point).
// Partial channel blocks load 16 bytes directly when that stays inside the input (the extra
// lanes meet zero weights and are never stored), else through a zero-padded copy.
#include "ci8_avx2.h"

#if defined(__x86_64__)

typedef struct dw_header {
  int32_t taps, pairs, oc, ocp;
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

int ci8_avx2_depthwise_conv2d_supports(const ci8_conv2d *op) {
  return op->depth_multiplier == 1;
}

size_t ci8_avx2_depthwise_conv2d_prepared_size(const ci8_conv2d *op) {
  return dw_layout_of(op).total;
}

ci8_status ci8_avx2_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
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
  h->taps = l.taps;
  h->pairs = l.pairs;
  h->oc = oc;
  h->ocp = l.ocp;
  op->prepared = prepared;
  return CI8_OK;
}

// Scratch: int32 offs[2 * pairs] (per-pixel tap offsets, -1 outside the image) and
// int32 rel[2 * pairs] (tap offsets relative to an interior pixel's first tap).
size_t ci8_avx2_depthwise_conv2d_scratch_size(const ci8_conv2d *op) {
  return 2 * CI8_ALIGN64(sizeof(int32_t) * 2 * (size_t)dw_layout_of(op).pairs);
}

// 16 channels of one tap as int16: the input zero point outside the image (offset < 0).
CI8_AVX2_INLINE __m256i dw_load(const int8_t *in, int32_t offset, int32_t count, __m256i zp) {
  if (offset < 0) return zp;
  if (count >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in + offset)));
  int8_t tmp[16] = {0};
  memcpy(tmp, in + offset, (size_t)count);
  return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)tmp));
}

typedef struct dw_ctx {
  ci8_avx2_rq rq;
  const int32_t *biasp, *tmult, *tshift;
  const int16_t *weights;
  int32_t oc, pairs, vector_channels, zp_out_s, act_min, act_max;
  __m256i zp_in, zp_out, lo, hi;
  __m128i lo8, hi8;
} dw_ctx;

// Requantizes one block's accumulators (interleaved order) and stores its channels
// c0 .. min(c0 + 16, oc) - 1.
CI8_AVX2_INLINE void dw_store(const dw_ctx *k, __m256i acc_lo, __m256i acc_hi, int8_t *out,
                              int32_t c0) {
  const __m256i acc[2] = {_mm256_permute2x128_si256(acc_lo, acc_hi, 0x20),
                          _mm256_permute2x128_si256(acc_lo, acc_hi, 0x31)};
  if (c0 + 16 <= k->vector_channels) {
    // Whole block: both halves saturate-packed together and clamped as int8 (the clamp bounds
    // lie inside int8, so saturating first changes nothing), one 16-byte store.
    const __m256i v0 = _mm256_add_epi32(ci8_avx2_mbqm_gemm(acc[0], &k->rq, c0), k->zp_out);
    const __m256i v1 = _mm256_add_epi32(ci8_avx2_mbqm_gemm(acc[1], &k->rq, c0 + 8), k->zp_out);
    // packs works per 128-bit lane: [v0 0-3, v1 0-3 | v0 4-7, v1 4-7]; restore the order.
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
    __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    b = _mm_min_epi8(_mm_max_epi8(b, k->lo8), k->hi8);
    _mm_storeu_si128((__m128i *)(out + c0), b);
    return;
  }
  for (int32_t hh = 0; hh < 2; ++hh) {
    const int32_t c = c0 + 8 * hh;
    if (c >= k->oc) break;
    if (c + 8 <= k->vector_channels) {
      const __m256i v = ci8_avx2_mbqm_gemm(acc[hh], &k->rq, c);
      ci8_avx2_store_bytes(out + c, ci8_avx2_narrow8(v, k->zp_out, k->lo, k->hi), 8);
    } else {  // the last oc % 8 channels: LiteRT's scalar rounding
      int32_t tmp[8];
      _mm256_storeu_si256((__m256i *)tmp, acc[hh]);
      for (int32_t j = 0; j < 8 && c + j < k->oc; ++j) {
        const int32_t r = ci8_mbqm(tmp[j], k->tmult[c + j], k->tshift[c + j]) + k->zp_out_s;
        out[c + j] = (int8_t)ci8_clamp_i32(r, k->act_min, k->act_max);
      }
    }
  }
}

// One output pixel, channel blocks from c_begin on, any position (offs: -1 = padding).
// limit: bytes readable from in_b. A tail block (< 16 channels) loads 16 bytes directly where
// they lie inside that limit: the extra lanes hold other pixels' values, but their weights are
// 0 and their results are not stored. Otherwise it goes through a zero-padded copy.
CI8_AVX2_INLINE void dw_pixel(const dw_ctx *k, const int8_t *in_b, const int32_t *offs,
                              int8_t *out, int32_t c_begin, ptrdiff_t limit) {
  const int32_t oc = k->oc, pairs = k->pairs;
  for (int32_t c0 = c_begin; c0 < oc; c0 += 16) {
    const int32_t count = oc - c0;
    const int8_t *in_c = in_b + c0;
    const int16_t *w = k->weights + (size_t)(c0 / 16) * pairs * 32;
    __m256i acc_lo = _mm256_loadu_si256((const __m256i *)(k->biasp + c0));
    __m256i acc_hi = _mm256_loadu_si256((const __m256i *)(k->biasp + c0 + 8));
    for (int32_t p = 0; p < pairs; ++p) {
      __m256i x0v, x1v;
      const int32_t o0 = offs[2 * p], o1 = offs[2 * p + 1];
      if (count >= 16 || ((ptrdiff_t)c0 + 16 + (o0 > o1 ? o0 : o1) <= limit)) {  // no copy
        x0v = o0 < 0 ? k->zp_in
                     : _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in_c + o0)));
        x1v = o1 < 0 ? k->zp_in
                     : _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in_c + o1)));
      } else {
        x0v = dw_load(in_c, o0, count, k->zp_in);
        x1v = dw_load(in_c, o1, count, k->zp_in);
      }
      const __m256i w_lo = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)p));
      const __m256i w_hi = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)p + 16));
      acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0v, x1v), w_lo));
      acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0v, x1v), w_hi));
    }
    dw_store(k, acc_lo, acc_hi, out, c0);
  }
}

// DW_N interior output pixels (whole window inside the image, consecutive along x, `step`
// input bytes apart), `blocks` 16-channel blocks (the last one may be a tail block when its
// 16-byte loads stay inside the input, see dw_pixel): no bounds checks, and each weight pair
// is loaded once for all pixels. in: the first pixel's first tap; rel: taps relative to it (the
// padding tap of an odd tap count points at tap 0 and has weight 0).
#define DW_INTERIOR(N)                                                                         \
  CI8_AVX2_INLINE void dw_interior##N(const dw_ctx *k, const int8_t *in, ptrdiff_t step,       \
                                      const int32_t *rel, int8_t *out, int32_t blocks) {       \
    const int32_t pairs = k->pairs, oc = k->oc;                                                \
    for (int32_t blk = 0; blk < blocks; ++blk) {                                               \
      const int32_t c0 = blk * 16;                                                             \
      const int16_t *w = k->weights + (size_t)blk * pairs * 32;                                \
      const int8_t *in_c = in + c0;                                                            \
      __m256i acc_lo[N], acc_hi[N];                                                            \
      const __m256i b_lo = _mm256_loadu_si256((const __m256i *)(k->biasp + c0));               \
      const __m256i b_hi = _mm256_loadu_si256((const __m256i *)(k->biasp + c0 + 8));           \
      for (int i = 0; i < N; ++i) acc_lo[i] = b_lo, acc_hi[i] = b_hi;                          \
      for (int32_t p = 0; p < pairs; ++p) {                                                    \
        const __m256i w_lo = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)p));        \
        const __m256i w_hi = _mm256_loadu_si256((const __m256i *)(w + 32 * (size_t)p + 16));   \
        const int8_t *a0 = in_c + rel[2 * p], *a1 = in_c + rel[2 * p + 1];                     \
        for (int i = 0; i < N; ++i) {                                                          \
          const __m256i x0v =                                                                  \
              _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a0 + i * step)));         \
          const __m256i x1v =                                                                  \
              _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a1 + i * step)));         \
          acc_lo[i] = _mm256_add_epi32(                                                        \
              acc_lo[i], _mm256_madd_epi16(_mm256_unpacklo_epi16(x0v, x1v), w_lo));            \
          acc_hi[i] = _mm256_add_epi32(                                                        \
              acc_hi[i], _mm256_madd_epi16(_mm256_unpackhi_epi16(x0v, x1v), w_hi));            \
        }                                                                                      \
      }                                                                                        \
      for (int i = 0; i < N; ++i) dw_store(k, acc_lo[i], acc_hi[i], out + (size_t)i * oc, c0); \
    }                                                                                          \
  }
DW_INTERIOR(4)
DW_INTERIOR(1)

CI8_AVX2 void ci8_avx2_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input,
                                            int8_t *output, void *scratch, int32_t row_begin,
                                            int32_t row_end) {
  const uint8_t *base = (const uint8_t *)op->prepared;
  const dw_layout l = dw_layout_of(op);
  dw_ctx k;
  k.rq.mult = (const int32_t *)(base + l.mult);
  k.rq.lshift = (const int32_t *)(base + l.lshift);
  k.rq.rshift = (const int32_t *)(base + l.rshift);
  k.rq.rshift1 = (const int32_t *)(base + l.rshift1);
  k.rq.rbit = (const int32_t *)(base + l.rbit);
  k.biasp = (const int32_t *)(base + l.bias);
  k.tmult = (const int32_t *)(base + l.tmult);
  k.tshift = (const int32_t *)(base + l.tshift);
  k.weights = (const int16_t *)(base + l.weights);
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width, taps = l.taps;
  const int32_t sh = op->stride_height, sw = op->stride_width;
  const int32_t dh = op->dilation_height, dwl = op->dilation_width;
  k.oc = oc;
  k.pairs = l.pairs;
  k.vector_channels = oc - oc % 8;
  k.zp_out_s = op->output_zero_point;
  k.act_min = op->activation_min;
  k.act_max = op->activation_max;
  k.zp_in = _mm256_set1_epi16((int16_t)op->input_zero_point);
  k.zp_out = _mm256_set1_epi32(op->output_zero_point);
  k.lo = _mm256_set1_epi32(op->activation_min);
  k.hi = _mm256_set1_epi32(op->activation_max);
  k.lo8 = _mm_set1_epi8((int8_t)op->activation_min);
  k.hi8 = _mm_set1_epi8((int8_t)op->activation_max);
  int32_t *offs = (int32_t *)scratch;
  int32_t *rel = (int32_t *)((uint8_t *)scratch + CI8_ALIGN64(sizeof(int32_t) * 2 * (size_t)l.pairs));
  for (int32_t ky = 0, t = 0; ky < kh; ++ky)
    for (int32_t kx = 0; kx < kw; ++kx, ++t) rel[t] = (ky * dh * iw + kx * dwl) * ic;
  if (taps & 1) rel[taps] = 0;
  // Interior columns: ox in [ox_lo, ox_hi) have x0 >= 0 and x0 + (kw - 1) * dw < iw.
  const int32_t pl = op->padding_left, pt = op->padding_top;
  const int32_t ox_lo = pl > 0 ? (pl + sw - 1) / sw : 0;
  const int32_t last_x = iw - 1 - (kw - 1) * dwl + pl;
  int32_t ox_hi = last_x >= 0 ? last_x / sw + 1 : 0;
  if (ox_hi > ow) ox_hi = ow;
  const int32_t blocks = oc / 16, all_blocks = (oc + 15) / 16;
  const ptrdiff_t step = (ptrdiff_t)sw * ic;
  const ptrdiff_t limit = (ptrdiff_t)ih * iw * ic;  // readable bytes from in_b
  const ptrdiff_t rel_max = rel[taps - 1];
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    for (int32_t oy = row_begin; oy < row_end; ++oy) {
      const int32_t y0 = oy * sh - pt;
      const int row_inside = y0 >= 0 && y0 + (kh - 1) * dh < ih;
      int8_t *out_row = output + ((size_t)b * oh + oy) * ow * oc;
      for (int32_t ox = 0; ox < ow;) {
        if (row_inside && ox >= ox_lo && ox < ox_hi) {
          const int32_t n = ox_hi - ox >= 4 ? 4 : 1;
          const int8_t *in = in_b + ((ptrdiff_t)y0 * iw + (ox * sw - pl)) * ic;
          int8_t *out = out_row + (size_t)ox * oc;
          // The tail block joins the interior kernel when its last load stays in the input.
          const int tail_in = all_blocks > blocks &&
                              (in - in_b) + (n - 1) * step + rel_max + all_blocks * 16 <= limit;
          const int32_t nb = tail_in ? all_blocks : blocks;
          if (n == 4) dw_interior4(&k, in, step, rel, out, nb);
          else dw_interior1(&k, in, step, rel, out, nb);
          if (nb * 16 < oc) {  // channel tail: the general path, per pixel
            for (int32_t t = 0; t < taps; ++t) offs[t] = rel[t];
            if (taps & 1) offs[taps] = -1;
            for (int32_t i = 0; i < n; ++i)
              dw_pixel(&k, in + i * step, offs, out + (size_t)i * oc, nb * 16,
                       limit - ((in - in_b) + i * step));
          }
          ox += n;
          continue;
        }
        const int32_t x0 = ox * sw - pl;
        for (int32_t ky = 0, t = 0; ky < kh; ++ky) {
          const int32_t y = y0 + ky * dh;
          const int inside_y = y >= 0 && y < ih;
          for (int32_t kx = 0; kx < kw; ++kx, ++t) {
            const int32_t x = x0 + kx * dwl;
            offs[t] = (inside_y && x >= 0 && x < iw) ? (y * iw + x) * ic : -1;
          }
        }
        if (taps & 1) offs[taps] = -1;
        dw_pixel(&k, in_b, offs, out_row + (size_t)ox * oc, 0, limit);
        ++ox;
      }
    }
  }
}

#else
typedef int ci8_depthwise_avx2_unused;
#endif  // __x86_64__
