// CONV_2D int8 on AVX2: two variants, registered in kernels.c (direct first, for what its
// supports() accepts; im2col for everything):
//
//  * qs8-conv/direct-4x16-avx2 (every non-pointwise convolution with dilation 1, when the
//    widened input fits the scratch budget): the input rows an output slice needs are widened
//    to int16 once, with the padding materialized as the input zero point, so every filter row
//    of every output pixel is one contiguous run of kw * ic int16 values in that buffer. When
//    kw * ic is odd, each packed filter row gets one zero weight at its end (vpmaddwd takes
//    pairs) and each buffer row one zero slot, so the run's extra value stays inside the buffer. The micro-kernel reads the
//    kh runs in place: no im2col copy per output pixel (which re-widened each input value
//    kh * kw / stride^2 times and dominated the small-channel 3x3 layers).
//  * qs8-conv/im2col-4x16-avx2 (1x1 pointwise, dilated filters, huge inputs): int16 im2col rows,
//    a block of output pixels at a time, then the packed GEMM of gemm_avx2.h.
//
// Both end in vpmaddwd + vpaddd int32 accumulation and the vectorized, bit-exact
// requantization (ci8_mbqm_gemm semantics, as the reference). Out-of-image taps hold the input
// zero point, as in the reference; bias_adjusted removes input_zero_point * sum(w), so the
// int32 accumulators equal the reference's.
#include "gemm_avx2.h"

#if defined(__x86_64__)

static int32_t conv_k(const ci8_conv2d *op) {
  return op->filter_height * op->filter_width * op->input_channels;
}

// Output pixels per im2col block: about 24 KiB of int16 rows, a multiple of 4, 4 .. 64.
static int32_t conv_block_pixels(int32_t kp) {
  int32_t n = (int32_t)(24576 / ((size_t)kp * 2));
  n &= ~3;
  return n < 4 ? 4 : (n > 64 ? 64 : n);
}

static int conv_pointwise(const ci8_conv2d *op) {
  return op->filter_height == 1 && op->filter_width == 1 && op->stride_height == 1 &&
         op->stride_width == 1 && op->padding_top == 0 && op->padding_left == 0 &&
         op->output_height == op->input_height && op->output_width == op->input_width &&
         (op->input_channels & 1) == 0;
}

// The direct path's widened input: `rows` rows of `width` pixels (rs int16 per row, the last
// one a zero when kw * ic is odd); a filter row is span values, spanp = span rounded to even.
typedef struct conv_direct_geom {
  int32_t span, spanp, width, rows, rs;
  size_t bytes;
} conv_direct_geom;

// Largest widened buffer the direct path uses (per thread); above it im2col's bounded blocks win.
#define CONV_DIRECT_MAX_BYTES (size_t)(1u << 20)

// Zero .rows when the direct path does not apply.
static conv_direct_geom conv_direct_of(const ci8_conv2d *op) {
  conv_direct_geom g = {0, 0, 0, 0, 0, 0};
  if (conv_pointwise(op) || op->dilation_height != 1 || op->dilation_width != 1 ||
      op->output_height <= 0 || op->output_width <= 0)
    return g;
  const int32_t span = op->filter_width * op->input_channels, spanp = (span + 1) & ~1;
  const int32_t width = (op->output_width - 1) * op->stride_width + op->filter_width;
  const int32_t rows = (op->output_height - 1) * op->stride_height + op->filter_height;
  const int32_t rs = width * op->input_channels + (spanp - span);
  const size_t bytes = sizeof(int16_t) * (size_t)rs * (size_t)rows;
  if (bytes > CONV_DIRECT_MAX_BYTES) return g;
  g.span = span;
  g.spanp = spanp;
  g.width = width;
  g.rows = rows;
  g.rs = rs;
  g.bytes = bytes;
  return g;
}

// The reduction length the packed weights use: kh * spanp on the direct path.
static conv_direct_geom conv_geom(const ci8_conv2d *op, int direct) {
  const conv_direct_geom none = {0, 0, 0, 0, 0, 0};
  return direct ? conv_direct_of(op) : none;
}

static int32_t conv_packed_k(const ci8_conv2d *op, int direct) {
  const conv_direct_geom g = conv_geom(op, direct);
  return g.rows ? op->filter_height * g.spanp : conv_k(op);
}

static size_t conv_prepared_size(const ci8_conv2d *op, int direct) {
  const int32_t kpk = conv_packed_k(op, direct), oc = op->output_channels;
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(kpk, oc);
  // The TFLite-form multipliers (and, on the direct path, the channel-padded filter) are
  // computed behind the packed data before packing needs them.
  return l.total + 2 * CI8_ALIGN64(sizeof(int32_t) * (size_t)oc) +
         CI8_ALIGN64((size_t)oc * (size_t)kpk);
}

static ci8_status conv_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                               void *prepared, int direct) {
  const int32_t k = conv_k(op), kpk = conv_packed_k(op, direct), oc = op->output_channels;
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(kpk, oc);
  uint8_t *base = (uint8_t *)prepared;
  const size_t vec = CI8_ALIGN64(sizeof(int32_t) * (size_t)oc);
  int32_t *tmult = (int32_t *)(base + l.total);
  int32_t *tshift = (int32_t *)(base + l.total + vec);
  const ci8_status st = ci8_ref_conv_multipliers(op, tmult, tshift);
  if (st != CI8_OK) return st;
  const int8_t *w = filter;
  if (kpk != k) {  // direct path, odd kw * ic: a zero weight after each filter row
    int8_t *padded = (int8_t *)(base + l.total + 2 * vec);
    const int32_t kh = op->filter_height, span = k / kh, spanp = span + 1;
    for (int32_t c = 0; c < oc; ++c)
      for (int32_t r = 0; r < kh; ++r)
        for (int32_t i = 0; i < spanp; ++i)
          padded[((size_t)c * kh + r) * spanp + i] =
              i < span ? filter[((size_t)c * kh + r) * span + i] : 0;
    w = padded;
  }
  ci8_avx2_gemm_pack(prepared, kpk, oc, w, bias, op->input_zero_point, op->output_zero_point,
                     tmult, tshift);
  op->prepared = prepared;
  return CI8_OK;
}

static size_t conv_scratch_size(const ci8_conv2d *op, int direct) {
  const conv_direct_geom g = conv_geom(op, direct);
  if (g.rows) return CI8_ALIGN64(g.bytes);
  const int32_t kp = (conv_k(op) + 1) & ~1;
  return CI8_ALIGN64(sizeof(int16_t) * (size_t)kp * (size_t)conv_block_pixels(kp));
}

// ---- qs8-conv/direct-4x16-avx2 ----
// Row r of a tile is an output pixel whose filter rows start at a[r], a[r] + rs, ...
// (kh runs of sp2 int16 pairs); w holds kh * sp2 packed pairs for 16 (or 8) channels.
CI8_AVX2_INLINE void conv_direct_4x16(const int16_t *const a[4], ptrdiff_t rs, int32_t kh,
                                      int32_t sp2, const int16_t *w, const int32_t *bias,
                                      __m256i acc[8]) {
  __m256i c00 = _mm256_loadu_si256((const __m256i *)bias);
  __m256i c01 = _mm256_loadu_si256((const __m256i *)(bias + 8));
  __m256i c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  for (int32_t ky = 0; ky < kh; ++ky) {
    const int16_t *a0 = a[0] + ky * rs, *a1 = a[1] + ky * rs;
    const int16_t *a2 = a[2] + ky * rs, *a3 = a[3] + ky * rs;
    // Two pairs per trip: filter rows are short (2 pairs for keyword spotting's 10x4 x 1
    // channel), so the loop's own bookkeeping was a sixth of the instructions.
    int32_t i = 0;
    for (; i + 1 < sp2; i += 2, w += 64) {
      __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
      __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 16));
      CI8_GEMM_STEP16(a0, c00, c01);
      CI8_GEMM_STEP16(a1, c10, c11);
      CI8_GEMM_STEP16(a2, c20, c21);
      CI8_GEMM_STEP16(a3, c30, c31);
      w0 = _mm256_loadu_si256((const __m256i *)(w + 32));
      w1 = _mm256_loadu_si256((const __m256i *)(w + 48));
      CI8_GEMM_STEP16(a0 + 2, c00, c01);
      CI8_GEMM_STEP16(a1 + 2, c10, c11);
      CI8_GEMM_STEP16(a2 + 2, c20, c21);
      CI8_GEMM_STEP16(a3 + 2, c30, c31);
    }
    if (i < sp2) {
      const __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
      const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 16));
      CI8_GEMM_STEP16(a0, c00, c01);
      CI8_GEMM_STEP16(a1, c10, c11);
      CI8_GEMM_STEP16(a2, c20, c21);
      CI8_GEMM_STEP16(a3, c30, c31);
      w += 32;
    }
  }
  acc[0] = c00; acc[1] = c01; acc[2] = c10; acc[3] = c11;
  acc[4] = c20; acc[5] = c21; acc[6] = c30; acc[7] = c31;
}

CI8_AVX2_INLINE void conv_direct_4x8(const int16_t *const a[4], ptrdiff_t rs, int32_t kh,
                                     int32_t sp2, const int16_t *w, const int32_t *bias,
                                     __m256i acc[8]) {
  __m256i c0 = _mm256_loadu_si256((const __m256i *)bias);
  __m256i c1 = c0, c2 = c0, c3 = c0;
  for (int32_t ky = 0; ky < kh; ++ky) {
    const int16_t *a0 = a[0] + ky * rs, *a1 = a[1] + ky * rs;
    const int16_t *a2 = a[2] + ky * rs, *a3 = a[3] + ky * rs;
    for (int32_t i = 0; i < sp2; ++i, w += 16) {
      const __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
      CI8_GEMM_STEP8(a0, c0);
      CI8_GEMM_STEP8(a1, c1);
      CI8_GEMM_STEP8(a2, c2);
      CI8_GEMM_STEP8(a3, c3);
    }
  }
  acc[0] = c0; acc[2] = c1; acc[4] = c2; acc[6] = c3;
}

// Widens input rows [y_first, y_first + rows) (image coordinates; outside the image and the
// padding columns hold the input zero point) into buf: rows of g->rs int16, g->width pixels
// then the zero slot when g->rs > width * ic.
CI8_AVX2 static void conv_direct_widen(const ci8_conv2d *op, const conv_direct_geom *g,
                                       const int8_t *in_b, int32_t y_first, int32_t rows,
                                       int16_t *buf) {
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t width = g->width, pl = op->padding_left, used = width * ic;
  const int16_t zp = (int16_t)op->input_zero_point;
  // Columns x in [x_lo, x_hi) of the buffer (image column x - pl) lie inside the image.
  const int32_t x_lo = pl < width ? pl : width;
  int32_t x_hi = iw + pl;
  if (x_hi > width) x_hi = width;
  for (int32_t r = 0; r < rows; ++r) {
    const int32_t y = y_first + r;
    int16_t *dst = buf + (size_t)r * g->rs;
    if (g->rs > used) dst[used] = 0;
    if (y < 0 || y >= ih || x_hi <= x_lo) {
      ci8_avx2_fill16(dst, zp, used);
      continue;
    }
    if (x_lo > 0) ci8_avx2_fill16(dst, zp, x_lo * ic);
    if (x_hi < width) ci8_avx2_fill16(dst + (size_t)x_hi * ic, zp, (width - x_hi) * ic);
    const int8_t *src = in_b + ((size_t)y * iw + (size_t)(x_lo - pl)) * ic;
    ci8_avx2_widen(dst + (size_t)x_lo * ic, src, (x_hi - x_lo) * ic);
  }
}

CI8_AVX2 static void conv_direct_run(const ci8_conv2d *op, const conv_direct_geom *g,
                                     const ci8_avx2_out *o, const int8_t *input,
                                     int8_t *output, int16_t *buf, int32_t row_begin,
                                     int32_t row_end) {
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t kh = op->filter_height, sh = op->stride_height, sw = op->stride_width;
  const ptrdiff_t rs = g->rs;                             // int16 per buffer row
  const int32_t sp2 = g->spanp / 2;                       // pairs per filter row
  const size_t group_pairs = (size_t)kh * sp2;
  const int32_t y_first = row_begin * sh - op->padding_top;
  const int32_t rows = (row_end - 1 - row_begin) * sh + kh;
  const int32_t first = row_begin * ow, last = row_end * ow;
  __m256i acc[8];
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    int8_t *out_b = output + (size_t)b * oh * ow * oc;
    conv_direct_widen(op, g, in_b, y_first, rows, buf);
    const int16_t *w = o->weights;
    for (int32_t c0 = 0; c0 < o->ocp;) {
      const int32_t nr = (o->ocp - c0 >= 16) ? 16 : 8;
      int32_t oy = row_begin, ox = 0;
      for (int32_t p = first; p < last; p += 4) {
        const int32_t n = last - p < 4 ? last - p : 4;
        const int16_t *a[4];
        int8_t *dst[4];
        for (int32_t j = 0; j < 4; ++j) {
          if (j < n) {
            a[j] = buf + ((size_t)(oy - row_begin) * sh * rs + (size_t)ox * sw * ic);
            dst[j] = out_b + (size_t)(p + j) * oc;
            if (++ox == ow) {
              ox = 0;
              ++oy;
            }
          } else {  // a short tile repeats its first pixel; those rows are not stored
            a[j] = a[0];
            dst[j] = dst[0];
          }
        }
        if (nr == 16) conv_direct_4x16(a, rs, kh, sp2, w, o->bias + c0, acc);
        else conv_direct_4x8(a, rs, kh, sp2, w, o->bias + c0, acc);
        ci8_avx2_store_tile(o, dst, n, c0, nr, acc);
      }
      w += group_pairs * 2 * (size_t)nr;
      c0 += nr;
    }
  }
}

// ---- qs8-conv/im2col-4x16-avx2 ----
// One im2col row: the k = kh * kw * ic int16 activations of output pixel (oy, ox), then a zero
// when k is odd.
CI8_AVX2 static void conv_im2col_row(const ci8_conv2d *op, const int8_t *in_b, int32_t oy,
                                     int32_t ox, int16_t *row, int32_t k, int32_t kp) {
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width;
  const int32_t dh = op->dilation_height, dw = op->dilation_width;
  const int16_t zp = (int16_t)op->input_zero_point;
  const int32_t y0 = oy * op->stride_height - op->padding_top;
  const int32_t x0 = ox * op->stride_width - op->padding_left;
  const int32_t span = kw * ic;
  for (int32_t ky = 0; ky < kh; ++ky) {
    const int32_t y = y0 + ky * dh;
    int16_t *dst = row + (size_t)ky * span;
    if (y < 0 || y >= ih) {
      ci8_avx2_fill16(dst, zp, span);
      continue;
    }
    const int8_t *src = in_b + (size_t)y * iw * ic;
    if (dw == 1 && x0 >= 0 && x0 + kw <= iw) {  // the whole filter row is inside: contiguous
      ci8_avx2_widen(dst, src + (size_t)x0 * ic, span);
      continue;
    }
    for (int32_t kx = 0; kx < kw; ++kx) {
      const int32_t x = x0 + kx * dw;
      if (x >= 0 && x < iw) ci8_avx2_widen(dst + (size_t)kx * ic, src + (size_t)x * ic, ic);
      else ci8_avx2_fill16(dst + (size_t)kx * ic, zp, ic);
    }
  }
  if (kp > k) row[k] = 0;
}

CI8_AVX2 static void conv_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                              void *scratch, int32_t row_begin, int32_t row_end, int direct) {
  const ci8_avx2_out o = ci8_avx2_out_of(op->prepared, op->output_zero_point,
                                         op->activation_min, op->activation_max);
  const int32_t k = conv_k(op), kp = o.kp;
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t block = conv_block_pixels(kp);
  int16_t *buf = (int16_t *)scratch;
  if (row_end <= row_begin || ow <= 0) return;
  const conv_direct_geom g = conv_geom(op, direct);
  if (g.rows) {
    conv_direct_run(op, &g, &o, input, output, buf, row_begin, row_end);
    return;
  }
  const int32_t first = row_begin * ow, last = row_end * ow;
  // 1x1, stride 1, no padding, even channel count (no pad column): output pixel p's im2col row
  // is input pixel p (kp == ic).
  const int pointwise = conv_pointwise(op);
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    int8_t *out_b = output + (size_t)b * oh * ow * oc;
    for (int32_t p0 = first; p0 < last; p0 += block) {
      const int32_t n = last - p0 < block ? last - p0 : block;
      if (pointwise) {  // the block's im2col rows are the input pixels, widened in one pass
        ci8_avx2_widen(buf, in_b + (size_t)p0 * ic, n * ic);
        ci8_avx2_gemm_block(&o, buf, n, out_b + (size_t)p0 * oc);
        continue;
      }
      int32_t oy = p0 / ow, ox = p0 % ow;
      for (int32_t j = 0; j < n; ++j) {
        conv_im2col_row(op, in_b, oy, ox, buf + (size_t)j * kp, k, kp);
        if (++ox == ow) {
          ox = 0;
          ++oy;
        }
      }
      ci8_avx2_gemm_block(&o, buf, n, out_b + (size_t)p0 * oc);
    }
  }
}


// qs8-conv/direct-4x16-avx2: the convolutions conv_direct_of accepts.
int ci8_avx2_conv2d_direct_supports(const ci8_conv2d *op) { return conv_direct_of(op).rows != 0; }
size_t ci8_avx2_conv2d_direct_prepared_size(const ci8_conv2d *op) {
  return conv_prepared_size(op, 1);
}
ci8_status ci8_avx2_conv2d_direct_prepare(ci8_conv2d *op, const int8_t *filter,
                                          const int32_t *bias, void *prepared) {
  if (!ci8_avx2_conv2d_direct_supports(op)) return CI8_ERR_UNSUPPORTED;
  return conv_prepare(op, filter, bias, prepared, 1);
}
size_t ci8_avx2_conv2d_direct_scratch_size(const ci8_conv2d *op) {
  return conv_scratch_size(op, 1);
}
CI8_AVX2 void ci8_avx2_conv2d_direct_run(const ci8_conv2d *op, const int8_t *input,
                                         int8_t *output, void *scratch, int32_t row_begin,
                                         int32_t row_end) {
  conv_run(op, input, output, scratch, row_begin, row_end, 1);
}

// qs8-conv/im2col-4x16-avx2: every convolution.
size_t ci8_avx2_conv2d_prepared_size(const ci8_conv2d *op) { return conv_prepared_size(op, 0); }
ci8_status ci8_avx2_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                   void *prepared) {
  return conv_prepare(op, filter, bias, prepared, 0);
}
size_t ci8_avx2_conv2d_scratch_size(const ci8_conv2d *op) { return conv_scratch_size(op, 0); }
CI8_AVX2 void ci8_avx2_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                  void *scratch, int32_t row_begin, int32_t row_end) {
  conv_run(op, input, output, scratch, row_begin, row_end, 0);
}

#else
typedef int ci8_conv_avx2_unused;
#endif  // __x86_64__
