// CONV_2D int8 on AArch64 (neon and neondot sets): im2col into int8 rows (a block of output
// pixels at a time, in the caller's scratch; pointwise convolutions whose channel count is a
// multiple of 8 use the input pixels in place), then the packed GEMM of gemm_neon.h, then the
// bit-exact requantization (ci8_mbqm_gemm, as the reference). Out-of-image taps hold the input
// zero point and bias_adjusted removes input_zero_point * sum(w), as in the reference.
#include "gemm_neon.h"

#if defined(__aarch64__)

ci8_status ci8_ref_conv_multipliers(const ci8_conv2d *op, int32_t *mult, int32_t *shift);

static int32_t conv_k(const ci8_conv2d *op) {
  return op->filter_height * op->filter_width * op->input_channels;
}

// Output pixels per im2col block: about 16 KiB of int8 rows, a multiple of 4, 4 .. 64.
static int32_t conv_block_pixels(int32_t kp) {
  int32_t n = (int32_t)(16384 / (size_t)kp);
  n &= ~3;
  return n < 4 ? 4 : (n > 64 ? 64 : n);
}

static size_t conv_prepared_size(const ci8_conv2d *op) {
  const ci8_neon_gemm_layout l = ci8_neon_gemm_layout_of(conv_k(op), op->output_channels);
  // The TFLite-form multipliers are computed behind the packed data before packing uses them.
  return l.total + 2 * CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_channels);
}

static ci8_status conv_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                               void *prepared, int32_t isa) {
  const int32_t k = conv_k(op), oc = op->output_channels;
  const ci8_neon_gemm_layout l = ci8_neon_gemm_layout_of(k, oc);
  uint8_t *base = (uint8_t *)prepared;
  int32_t *tmult = (int32_t *)(base + l.total);
  int32_t *tshift = (int32_t *)(base + l.total + CI8_ALIGN64(sizeof(int32_t) * (size_t)oc));
  const ci8_status st = ci8_ref_conv_multipliers(op, tmult, tshift);
  if (st != CI8_OK) return st;
  ci8_neon_gemm_pack(prepared, isa, k, oc, filter, bias, op->input_zero_point, tmult, tshift);
  op->prepared = prepared;
  return CI8_OK;
}

static size_t conv_scratch_size(const ci8_conv2d *op) {
  const int32_t kp = (conv_k(op) + 7) & ~7;
  return CI8_ALIGN64((size_t)kp * (size_t)conv_block_pixels(kp));
}

// One im2col row: the k = kh * kw * ic activations of output pixel (oy, ox), zeros up to kp.
static void conv_im2col_row(const ci8_conv2d *op, const int8_t *in_b, int32_t oy, int32_t ox,
                            int8_t *row, int32_t k, int32_t kp) {
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width;
  const int32_t dh = op->dilation_height, dw = op->dilation_width;
  const int zp = op->input_zero_point;
  const int32_t y0 = oy * op->stride_height - op->padding_top;
  const int32_t x0 = ox * op->stride_width - op->padding_left;
  const size_t span = (size_t)kw * ic;
  for (int32_t ky = 0; ky < kh; ++ky) {
    const int32_t y = y0 + ky * dh;
    int8_t *dst = row + (size_t)ky * span;
    if (y < 0 || y >= ih) {
      memset(dst, zp, span);
      continue;
    }
    const int8_t *src = in_b + (size_t)y * iw * ic;
    if (dw == 1 && x0 >= 0 && x0 + kw <= iw) {  // the whole filter row is inside: contiguous
      memcpy(dst, src + (size_t)x0 * ic, span);
      continue;
    }
    for (int32_t kx = 0; kx < kw; ++kx) {
      const int32_t x = x0 + kx * dw;
      if (x >= 0 && x < iw) memcpy(dst + (size_t)kx * ic, src + (size_t)x * ic, (size_t)ic);
      else memset(dst + (size_t)kx * ic, zp, (size_t)ic);
    }
  }
  if (kp > k) memset(row + k, 0, (size_t)(kp - k));
}

typedef void (*conv_gemm_fn)(const ci8_neon_gemm *g, const int8_t *a, size_t a_stride,
                             int32_t rows, int8_t *out);

static void conv_gemm_neon(const ci8_neon_gemm *g, const int8_t *a, size_t a_stride,
                           int32_t rows, int8_t *out) {
  ci8_neon_gemm_rows(g, a, a_stride, rows, out);
}

CI8_NEONDOT static void conv_gemm_neondot(const ci8_neon_gemm *g, const int8_t *a,
                                          size_t a_stride, int32_t rows, int8_t *out) {
  ci8_neondot_gemm_rows(g, a, a_stride, rows, out);
}

static void conv_run(const ci8_conv2d *op, const int8_t *input, int8_t *output, void *scratch,
                     int32_t row_begin, int32_t row_end, conv_gemm_fn gemm) {
  const ci8_neon_gemm g = ci8_neon_gemm_of(op->prepared, op->output_zero_point,
                                           op->activation_min, op->activation_max);
  const int32_t k = conv_k(op), kp = g.kp;
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t block = conv_block_pixels(kp);
  int8_t *buf = (int8_t *)scratch;
  if (row_end <= row_begin || ow <= 0) return;
  const int32_t first = row_begin * ow, last = row_end * ow;
  // 1x1, stride 1, no padding, ic a multiple of 8: output pixel p's row is input pixel p.
  const int pointwise = op->filter_height == 1 && op->filter_width == 1 &&
                        op->stride_height == 1 && op->stride_width == 1 &&
                        op->padding_top == 0 && op->padding_left == 0 && oh == ih && ow == iw &&
                        kp == ic;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    int8_t *out_b = output + (size_t)b * oh * ow * oc;
    for (int32_t p0 = first; p0 < last; p0 += block) {
      const int32_t n = last - p0 < block ? last - p0 : block;
      if (pointwise) {  // a block of rows stays in L1 while the channel groups pass over it
        gemm(&g, in_b + (size_t)p0 * ic, (size_t)ic, n, out_b + (size_t)p0 * oc);
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
      gemm(&g, buf, (size_t)kp, n, out_b + (size_t)p0 * oc);
    }
  }
}

// ---- neon ----
size_t ci8_neon_conv2d_prepared_size(const ci8_conv2d *op) { return conv_prepared_size(op); }
ci8_status ci8_neon_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                   void *prepared) {
  return conv_prepare(op, filter, bias, prepared, CI8_GEMM_NEON);
}
size_t ci8_neon_conv2d_scratch_size(const ci8_conv2d *op) { return conv_scratch_size(op); }
void ci8_neon_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                         void *scratch, int32_t row_begin, int32_t row_end) {
  conv_run(op, input, output, scratch, row_begin, row_end, conv_gemm_neon);
}

// ---- neondot ----
size_t ci8_neondot_conv2d_prepared_size(const ci8_conv2d *op) { return conv_prepared_size(op); }
ci8_status ci8_neondot_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                      void *prepared) {
  return conv_prepare(op, filter, bias, prepared, CI8_GEMM_NEONDOT);
}
size_t ci8_neondot_conv2d_scratch_size(const ci8_conv2d *op) { return conv_scratch_size(op); }
void ci8_neondot_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                            void *scratch, int32_t row_begin, int32_t row_end) {
  conv_run(op, input, output, scratch, row_begin, row_end, conv_gemm_neondot);
}

#else
typedef int ci8_conv_neon_unused;
#endif  // __aarch64__
