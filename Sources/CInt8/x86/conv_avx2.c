// CONV_2D int8 on AVX2: im2col into int16 rows (a block of output pixels at a time, in the
// caller's scratch), then the packed int16 GEMM of gemm_avx2.h (vpmaddwd + vpaddd), then the
// vectorized, bit-exact requantization (ci8_mbqm_gemm semantics, as the reference).
// Out-of-image taps hold the input zero point, as in the reference; bias_adjusted removes
// input_zero_point * sum(w), so the int32 accumulators equal the reference's.
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

size_t ci8_avx2_conv2d_prepared_size(const ci8_conv2d *op) {
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(conv_k(op), op->output_channels);
  // The TFLite-form multipliers are computed into the weight area before packing needs it.
  return l.total + 2 * CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_channels);
}

ci8_status ci8_avx2_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                   void *prepared) {
  const int32_t k = conv_k(op), oc = op->output_channels;
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(k, oc);
  uint8_t *base = (uint8_t *)prepared;
  int32_t *tmult = (int32_t *)(base + l.total);
  int32_t *tshift = (int32_t *)(base + l.total + CI8_ALIGN64(sizeof(int32_t) * (size_t)oc));
  const ci8_status st = ci8_ref_conv_multipliers(op, tmult, tshift);
  if (st != CI8_OK) return st;
  ci8_avx2_gemm_pack(prepared, k, oc, filter, bias, op->input_zero_point, tmult, tshift);
  op->prepared = prepared;
  return CI8_OK;
}

size_t ci8_avx2_conv2d_scratch_size(const ci8_conv2d *op) {
  const int32_t kp = (conv_k(op) + 1) & ~1;
  return CI8_ALIGN64(sizeof(int16_t) * (size_t)kp * (size_t)conv_block_pixels(kp));
}

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

CI8_AVX2 void ci8_avx2_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                  void *scratch, int32_t row_begin, int32_t row_end) {
  const ci8_avx2_out o = ci8_avx2_out_of(op->prepared, op->output_zero_point,
                                         op->activation_min, op->activation_max);
  const int32_t k = conv_k(op), kp = o.kp;
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t block = conv_block_pixels(kp);
  int16_t *buf = (int16_t *)scratch;
  if (row_end <= row_begin || ow <= 0) return;
  const int32_t first = row_begin * ow, last = row_end * ow;
  // 1x1, stride 1, no padding, even channel count (no pad column): output pixel p's im2col row
  // is input pixel p (kp == ic).
  const int pointwise = op->filter_height == 1 && op->filter_width == 1 &&
                        op->stride_height == 1 && op->stride_width == 1 &&
                        op->padding_top == 0 && op->padding_left == 0 && oh == ih && ow == iw &&
                        kp == ic;
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

#else
typedef int ci8_conv_avx2_unused;
#endif  // __x86_64__
