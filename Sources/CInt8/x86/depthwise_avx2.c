// DEPTHWISE_CONV_2D int8 on AVX2, depth_multiplier 1 (the table runs other multipliers on the
// reference kernel): qs8-dwconv/4x16c-avx2, 4 output pixels x 16 channels per step.
//
// The input rows a band of output rows needs are copied (int8) into scratch rows with the
// padding materialized as the input zero point, so every output pixel -- border pixels
// included -- reads its taps at fixed offsets from one base pointer, with no bounds checks.
// A band is as many output rows as fit DW_BAND_BYTES of scratch rows (at least one): each input
// row is copied once per band rather than once per output row that reads it (kh times), and
// the band's pixels run in raster order in tiles of 4, so a narrow image (5 pixels wide in
// keyword spotting) leaves one short tile per band instead of one per row.
// A per-pixel bounds-checked path cost far more on the 8x8 and 16x16 layers where a third of
// the pixels touch the border.
//
// Two taps at a time: their bytes are interleaved (vpunpcklbw/vpunpckhbw), widened to int16
// pairs (a[t0][c], a[t1][c]) and multiplied by the packed (w[t0][c], w[t1][c]) pairs with
// vpmaddwd, channels in natural order. Channels go in blocks of 16, the last block 8 wide when
// output_channels % 16 is 1..8 (24 channels: 16 + 8, not 32). A partial block's loads run past
// the row's channels into other pixels or the row's 32 slack bytes; those lanes meet zero
// weights and are not stored.
// Rounding as the reference (LiteRT): channels in whole blocks of 8 use ci8_mbqm_gemm, the last
// output_channels % 8 channels ci8_mbqm (ties away from zero); both vectorized.
#include "ci8_avx2.h"

#if defined(__x86_64__)

typedef struct dw_header {
  int32_t taps, pairs, oc, ocp;
  int32_t any_lshift, any_twice;  // ci8_avx2_requant's optional steps, decided at prepare
} dw_header;

#define DW_HEADER CI8_ALIGN64(sizeof(dw_header))
#define DW_SLACK 32  // bytes after each scratch row: a partial block's loads stay inside
#define DW_BAND_BYTES (size_t)(16u << 10)  // scratch rows per band, at most (unless one row is more)

typedef struct dw_layout {
  size_t vec, mult, lshift, rshift, rshift1, rbit, bias, tmult, tshift, nudge, twice, zpv,
      weights, total;
  int32_t taps, pairs, ocp;
} dw_layout;

// Weights: per block of nr (16, or 8 for the last) channels starting at c0, at int16 offset
// c0 * pairs * 2: [pairs][nr][2], (w[2p][c], w[2p + 1][c]); the tap after an odd last tap and
// channels >= oc are zero. Per-channel arrays hold ocp = oc rounded up to 8 entries.
static dw_layout dw_layout_of(const ci8_conv2d *op) {
  dw_layout l;
  l.taps = op->filter_height * op->filter_width;
  l.pairs = (l.taps + 1) / 2;
  l.ocp = (op->output_channels + 7) & ~7;
  l.vec = CI8_ALIGN64(sizeof(int32_t) * (size_t)l.ocp);
  l.mult = DW_HEADER;
  l.lshift = l.mult + l.vec;
  l.rshift = l.lshift + l.vec;
  l.rshift1 = l.rshift + l.vec;
  l.rbit = l.rshift1 + l.vec;
  l.bias = l.rbit + l.vec;
  l.tmult = l.bias + l.vec;
  l.tshift = l.tmult + l.vec;
  l.nudge = l.tshift + l.vec;
  l.twice = l.nudge + 2 * l.vec;
  l.zpv = l.twice + 2 * l.vec;
  l.weights = l.zpv + l.vec;
  l.total = l.weights + CI8_ALIGN64(sizeof(int16_t) * 2 * (size_t)l.pairs * (size_t)l.ocp);
  return l;
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
  ci8_avx2_rq_fill_requant(oc, l.ocp, tshift, op->output_zero_point,
                           (int64_t *)(base + l.nudge), (int64_t *)(base + l.twice),
                           (int32_t *)(base + l.zpv));
  int32_t *biasp = (int32_t *)(base + l.bias);
  int16_t *w = (int16_t *)(base + l.weights);
  for (int32_t c = 0; c < l.ocp; ++c) {
    int32_t sum = 0, b = 0;
    if (c < oc) {
      for (int32_t t = 0; t < l.taps; ++t) sum = ci8_wrap_add(sum, filter[(size_t)t * oc + c]);
      b = bias ? bias[c] : 0;
    }
    biasp[c] = ci8_wrap_add(b, ci8_wrap_mul(-op->input_zero_point, sum));
    const int32_t c0 = c & ~15, nr = l.ocp - c0 >= 16 ? 16 : 8;
    for (int32_t p = 0; p < l.pairs; ++p) {
      int16_t *dst = w + (size_t)c0 * l.pairs * 2 + ((size_t)p * nr + (c - c0)) * 2;
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
  h->any_lshift = ci8_avx2_rq_lshift_or_null((const int32_t *)(base + l.lshift), l.ocp) != NULL;
  h->any_twice = ci8_avx2_rq_twice_or_null((const int64_t *)(base + l.twice), l.ocp) != NULL;
  op->prepared = prepared;
  return CI8_OK;
}

// The scratch rows: wpad pixels (the window's reach across one output row), then the slack.
static int32_t dw_row_pixels(const ci8_conv2d *op) {
  return (op->output_width - 1) * op->stride_width +
         (op->filter_width - 1) * op->dilation_width + 1;
}
static size_t dw_row_bytes(const ci8_conv2d *op) {
  return CI8_ALIGN64((size_t)dw_row_pixels(op) * (size_t)op->input_channels + DW_SLACK);
}

// Input rows one output row's window spans.
static int32_t dw_reach(const ci8_conv2d *op) {
  return (op->filter_height - 1) * op->dilation_height + 1;
}

// Output rows per band: as many as DW_BAND_BYTES of scratch rows hold, 1 .. output_height.
static int32_t dw_band_rows(const ci8_conv2d *op) {
  const size_t fit = DW_BAND_BYTES / dw_row_bytes(op);
  const int32_t reach = dw_reach(op);
  if (fit <= (size_t)reach || op->output_height <= 1) return 1;
  const size_t n = (fit - (size_t)reach) / (size_t)op->stride_height + 1;
  return n < (size_t)op->output_height ? (int32_t)n : op->output_height;
}

// Scratch: int32 rel[2 * pairs] (tap offsets from a pixel's base), then one band's input rows.
size_t ci8_avx2_depthwise_conv2d_scratch_size(const ci8_conv2d *op) {
  if (op->output_width <= 0) return 64;
  const size_t rows = (size_t)(dw_band_rows(op) - 1) * op->stride_height + dw_reach(op);
  return CI8_ALIGN64(sizeof(int32_t) * 2 * (size_t)dw_layout_of(op).pairs) +
         rows * dw_row_bytes(op);
}

typedef struct dw_ctx {
  ci8_avx2_rq rq;
  const int32_t *bias;
  const int16_t *weights;
  int32_t oc, ocp, pairs, vector_channels;
  __m256i zp_out, lo, hi;
  __m128i lo8, hi8;
} dw_ctx;

// Requantizes and stores 8 channels c .. (up to oc). c + 8 <= vector_channels: ci8_mbqm_gemm
// (ci8_avx2_requant); else this is the last oc % 8 channels: ci8_mbqm.
CI8_AVX2_INLINE void dw_store8(const dw_ctx *k, __m256i acc, int8_t *out, int32_t c) {
  if (c + 8 <= k->vector_channels) {
    const __m256i v = ci8_avx2_requant(acc, &k->rq, c);
    _mm_storel_epi64((__m128i *)(out + c), ci8_avx2_clamp8(v, k->lo, k->hi));
  } else {
    const __m256i v = ci8_avx2_mbqm(acc, &k->rq, c);
    ci8_avx2_store_bytes(out + c, ci8_avx2_narrow8(v, k->zp_out, k->lo, k->hi), k->oc - c);
  }
}

// Channels c0 .. c0 + 15 (acc0: the first 8, acc1: the next 8), clipped to oc.
CI8_AVX2_INLINE void dw_store16(const dw_ctx *k, __m256i acc0, __m256i acc1, int8_t *out,
                                int32_t c0) {
  if (c0 + 16 <= k->vector_channels) {
    // Both halves saturate-packed together and clamped as int8 (the clamp bounds lie inside
    // int8, so saturating first changes nothing), one 16-byte store.
    const __m256i v0 = ci8_avx2_requant(acc0, &k->rq, c0);
    const __m256i v1 = ci8_avx2_requant(acc1, &k->rq, c0 + 8);
    // packs works per 128-bit lane: [v0 0-3, v1 0-3 | v0 4-7, v1 4-7]; restore the order.
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
    __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    b = _mm_min_epi8(_mm_max_epi8(b, k->lo8), k->hi8);
    _mm_storeu_si128((__m128i *)(out + c0), b);
    return;
  }
  dw_store8(k, acc0, out, c0);
  if (c0 + 8 < k->oc) dw_store8(k, acc1, out, c0 + 8);
}

// N output pixels, all channel blocks. in[i]: pixel i's base in the scratch rows; rel: tap
// offsets from a base (the tap after an odd last tap points at tap 0 and has weight 0); out:
// the first pixel's output, the next ones oc bytes apart.
#define DW_TILE(N)                                                                             \
  CI8_AVX2_INLINE void dw_tile##N(const dw_ctx *k, const int8_t *const in[N],                 \
                                  const int32_t *rel, int8_t *out) {                           \
    const int32_t pairs = k->pairs, ocp = k->ocp;                                              \
    int32_t c0 = 0;                                                                            \
    for (; c0 + 16 <= ocp; c0 += 16) {                                                         \
      const int16_t *w = k->weights + (size_t)c0 * pairs * 2;                                  \
      __m256i acc0[N], acc1[N];                                                                \
      const __m256i b0 = _mm256_loadu_si256((const __m256i *)(k->bias + c0));                  \
      const __m256i b1 = _mm256_loadu_si256((const __m256i *)(k->bias + c0 + 8));              \
      for (int i = 0; i < N; ++i) acc0[i] = b0, acc1[i] = b1;                                  \
      for (int32_t p = 0; p < pairs; ++p, w += 32) {                                           \
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)w);                             \
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 16));                      \
        const ptrdiff_t o0 = c0 + rel[2 * p], o1 = c0 + rel[2 * p + 1];                         \
        for (int i = 0; i < N; ++i) {                                                          \
          const __m128i x0 = _mm_loadu_si128((const __m128i *)(in[i] + o0));                \
          const __m128i x1 = _mm_loadu_si128((const __m128i *)(in[i] + o1));                \
          const __m256i lo = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1));                  \
          const __m256i hi = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1));                  \
          acc0[i] = _mm256_add_epi32(acc0[i], _mm256_madd_epi16(lo, w0));                      \
          acc1[i] = _mm256_add_epi32(acc1[i], _mm256_madd_epi16(hi, w1));                      \
        }                                                                                      \
      }                                                                                        \
      for (int i = 0; i < N; ++i) dw_store16(k, acc0[i], acc1[i], out + (size_t)i * k->oc, c0); \
    }                                                                                          \
    if (c0 < ocp) { /* the last 8 channels */                                                  \
      const int16_t *w = k->weights + (size_t)c0 * pairs * 2;                                  \
      __m256i acc[N];                                                                          \
      const __m256i b0 = _mm256_loadu_si256((const __m256i *)(k->bias + c0));                  \
      for (int i = 0; i < N; ++i) acc[i] = b0;                                                 \
      for (int32_t p = 0; p < pairs; ++p, w += 16) {                                           \
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)w);                             \
        const ptrdiff_t o0 = c0 + rel[2 * p], o1 = c0 + rel[2 * p + 1];                         \
        for (int i = 0; i < N; ++i) {                                                          \
          const __m128i x0 = _mm_loadl_epi64((const __m128i *)(in[i] + o0));                \
          const __m128i x1 = _mm_loadl_epi64((const __m128i *)(in[i] + o1));                \
          const __m256i x = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1));                   \
          acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(x, w0));                         \
        }                                                                                      \
      }                                                                                        \
      for (int i = 0; i < N; ++i) dw_store8(k, acc[i], out + (size_t)i * k->oc, c0);          \
    }                                                                                          \
  }
DW_TILE(4)
DW_TILE(1)

CI8_AVX2 void ci8_avx2_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input,
                                            int8_t *output, void *scratch, int32_t row_begin,
                                            int32_t row_end) {
  const uint8_t *base = (const uint8_t *)op->prepared;
  const dw_layout l = dw_layout_of(op);
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width, taps = l.taps;
  const int32_t sh = op->stride_height, sw = op->stride_width;
  const int32_t dh = op->dilation_height, dwl = op->dilation_width;
  if (row_end <= row_begin || ow <= 0) return;
  dw_ctx k;
  k.rq.mult = (const int32_t *)(base + l.mult);
  const dw_header *h = (const dw_header *)base;
  k.rq.lshift = h->any_lshift ? (const int32_t *)(base + l.lshift) : NULL;
  k.rq.rshift = (const int32_t *)(base + l.rshift);
  k.rq.rshift1 = (const int32_t *)(base + l.rshift1);
  k.rq.rbit = (const int32_t *)(base + l.rbit);
  k.rq.nudge = (const int64_t *)(base + l.nudge);
  k.rq.twice = h->any_twice ? (const int64_t *)(base + l.twice) : NULL;
  k.rq.zp = (const int32_t *)(base + l.zpv);
  k.bias = (const int32_t *)(base + l.bias);
  k.weights = (const int16_t *)(base + l.weights);
  k.oc = oc;
  k.ocp = l.ocp;
  k.pairs = l.pairs;
  k.vector_channels = oc - oc % 8;
  k.zp_out = _mm256_set1_epi32(op->output_zero_point);
  k.lo = _mm256_set1_epi32(op->activation_min);
  k.hi = _mm256_set1_epi32(op->activation_max);
  k.lo8 = _mm_set1_epi8((int8_t)op->activation_min);
  k.hi8 = _mm_set1_epi8((int8_t)op->activation_max);

  const int32_t wpad = dw_row_pixels(op), used = wpad * ic;
  const size_t rs = dw_row_bytes(op);
  int32_t *rel = (int32_t *)scratch;
  int8_t *rows = (int8_t *)scratch + CI8_ALIGN64(sizeof(int32_t) * 2 * (size_t)l.pairs);
  // Band row r holds image row y_band + r, so tap (ky, kx) sits ky * dh rows below its
  // pixel's first row.
  for (int32_t ky = 0, t = 0; ky < kh; ++ky)
    for (int32_t kx = 0; kx < kw; ++kx, ++t) rel[t] = (int32_t)(ky * dh * rs) + kx * dwl * ic;
  if (taps & 1) rel[taps] = 0;
  const int32_t band = dw_band_rows(op), reach = dw_reach(op);
  const int32_t band_in_rows = (band - 1) * sh + reach;
  for (int32_t r = 0; r < band_in_rows; ++r) memset(rows + r * rs + used, 0, rs - (size_t)used);
  // Scratch column x holds image column x - pl: inside the image for x in [x_lo, x_hi).
  const int32_t pl = op->padding_left, pt = op->padding_top;
  const int32_t x_lo = pl < 0 ? 0 : (pl < wpad ? pl : wpad);
  int32_t x_hi = pl + iw < wpad ? pl + iw : wpad;
  if (x_hi < x_lo) x_hi = x_lo;
  const int zp = op->input_zero_point;
  const ptrdiff_t step = (ptrdiff_t)sw * ic, row_step = (ptrdiff_t)sh * (ptrdiff_t)rs;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    for (int32_t oy0 = row_begin; oy0 < row_end; oy0 += band) {
      const int32_t n_rows = row_end - oy0 < band ? row_end - oy0 : band;
      const int32_t y_band = oy0 * sh - pt, in_rows = (n_rows - 1) * sh + reach;
      for (int32_t r = 0; r < in_rows; ++r) {
        const int32_t y = y_band + r;
        int8_t *dst = rows + r * rs;
        if (y < 0 || y >= ih || x_hi == x_lo) {
          memset(dst, zp, (size_t)used);
          continue;
        }
        if (x_lo > 0) memset(dst, zp, (size_t)x_lo * ic);
        memcpy(dst + (size_t)x_lo * ic, in_b + ((size_t)y * iw + (size_t)(x_lo - pl)) * ic,
               (size_t)(x_hi - x_lo) * ic);
        if (x_hi < wpad) memset(dst + (size_t)x_hi * ic, zp, (size_t)(wpad - x_hi) * ic);
      }
      // The band's output pixels are contiguous: tiles of 4 in raster order, across rows.
      int8_t *out_band = output + ((size_t)b * oh + oy0) * ow * oc;
      const int32_t n_pixels = n_rows * ow;
      const int8_t *base[4];
      int32_t p = 0, oy = 0, ox = 0;
      for (; p + 4 <= n_pixels; p += 4) {
        for (int32_t i = 0; i < 4; ++i) {
          base[i] = rows + oy * row_step + ox * step;
          if (++ox == ow) ox = 0, ++oy;
        }
        dw_tile4(&k, base, rel, out_band + (size_t)p * oc);
      }
      for (; p < n_pixels; ++p) {
        base[0] = rows + oy * row_step + ox * step;
        if (++ox == ow) ox = 0, ++oy;
        dw_tile1(&k, base, rel, out_band + (size_t)p * oc);
      }
    }
  }
}

#else
typedef int ci8_depthwise_avx2_unused;
#endif  // __x86_64__
