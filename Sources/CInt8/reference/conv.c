// CONV_2D int8, per-channel or per-tensor filter scales (TFLite ConvPerChannel semantics).
//
// Prepared layout (reference set):
//   int32 multiplier[oc], int32 shift[oc], int32 bias_adjusted[oc]   (64-byte aligned blocks)
//   int8  filter[oc][kh][kw][ic]                                     (copy, same order)
// bias_adjusted = bias - input_zero_point * sum(filter[c]) in wrapping int32 arithmetic; the run
// then accumulates filter * raw input and uses input_zero_point for padded taps, which equals
// TFLite's sum(filter * (input - zero_point)) + bias modulo 2^32, hence bit for bit.
#include <string.h>

#include "ci8_ref.h"

typedef struct conv_layout {
  size_t mult, shift, bias, filter, total;
} conv_layout;

static conv_layout conv_layout_of(int32_t channels, size_t filter_bytes) {
  conv_layout l;
  const size_t vec = CI8_ALIGN64(sizeof(int32_t) * (size_t)channels);
  l.mult = 0;
  l.shift = vec;
  l.bias = 2 * vec;
  l.filter = 3 * vec;
  l.total = 3 * vec + CI8_ALIGN64(filter_bytes);
  return l;
}

static size_t conv_filter_bytes(const ci8_conv2d *op) {
  return (size_t)op->output_channels * (size_t)op->filter_height * (size_t)op->filter_width *
         (size_t)op->input_channels;
}

size_t ci8_ref_conv2d_prepared_size(const ci8_conv2d *op) {
  return conv_layout_of(op->output_channels, conv_filter_bytes(op)).total;
}

// Shared with depthwise: validates geometry/scales and fills multipliers.

ci8_status ci8_ref_conv_multipliers(const ci8_conv2d *op, int32_t *mult, int32_t *shift) {
  if (op->batches < 0 || op->input_height <= 0 || op->input_width <= 0 ||
      op->input_channels <= 0 || op->output_height < 0 || op->output_width < 0 ||
      op->output_channels <= 0 || op->filter_height <= 0 || op->filter_width <= 0 ||
      op->stride_height <= 0 || op->stride_width <= 0 || op->dilation_height <= 0 ||
      op->dilation_width <= 0 || op->padding_top < 0 || op->padding_left < 0 ||
      op->activation_min > op->activation_max || op->activation_min < -128 ||
      op->activation_max > 127 || op->input_zero_point < -128 || op->input_zero_point > 127 ||
      op->output_zero_point < -128 || op->output_zero_point > 127)
    return CI8_ERR_BAD_PARAMS;
  if (!(op->filter_scale_count == 1 || op->filter_scale_count == op->output_channels) ||
      op->filter_scales == NULL)
    return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(op->input_scale) || !ci8_scale_ok(op->output_scale))
    return CI8_ERR_BAD_SCALE;
  for (int32_t c = 0; c < op->output_channels; ++c) {
    const float fs = op->filter_scales[op->filter_scale_count == 1 ? 0 : c];
    if (!(fs >= 0.0f && fs <= 3.4028234e38f)) return CI8_ERR_BAD_SCALE;
    // TFLite: input_scale * filter_scale / output_scale, all in double.
    const double real = (double)op->input_scale * (double)fs / (double)op->output_scale;
    ci8_quantize_multiplier(real, &mult[c], &shift[c]);
    if (shift[c] > 30) return CI8_ERR_BAD_SCALE;
  }
  return CI8_OK;
}

ci8_status ci8_ref_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                                  void *prepared) {
  const size_t fbytes = conv_filter_bytes(op);
  const conv_layout l = conv_layout_of(op->output_channels, fbytes);
  uint8_t *base = (uint8_t *)prepared;
  int32_t *mult = (int32_t *)(base + l.mult);
  int32_t *shift = (int32_t *)(base + l.shift);
  int32_t *badj = (int32_t *)(base + l.bias);
  int8_t *f = (int8_t *)(base + l.filter);
  ci8_status st = ci8_ref_conv_multipliers(op, mult, shift);
  if (st != CI8_OK) return st;
  const size_t per_oc = (size_t)op->filter_height * (size_t)op->filter_width *
                        (size_t)op->input_channels;
  for (int32_t c = 0; c < op->output_channels; ++c) {
    int32_t sum = 0;
    const int8_t *fc = filter + (size_t)c * per_oc;
    for (size_t k = 0; k < per_oc; ++k) sum = ci8_wrap_add(sum, fc[k]);
    const int32_t b = bias ? bias[c] : 0;
    badj[c] = ci8_wrap_add(b, ci8_wrap_mul(-op->input_zero_point, sum));
  }
  memcpy(f, filter, fbytes);
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                        void *scratch, int32_t row_begin, int32_t row_end) {
  (void)scratch;
  const size_t fbytes = conv_filter_bytes(op);
  const conv_layout l = conv_layout_of(op->output_channels, fbytes);
  const uint8_t *base = (const uint8_t *)op->prepared;
  const int32_t *mult = (const int32_t *)(base + l.mult);
  const int32_t *shift = (const int32_t *)(base + l.shift);
  const int32_t *badj = (const int32_t *)(base + l.bias);
  const int8_t *filter = (const int8_t *)(base + l.filter);
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width;
  const int32_t zp = op->input_zero_point;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    for (int32_t oy = row_begin; oy < row_end; ++oy) {
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t y0 = oy * op->stride_height - op->padding_top;
        const int32_t x0 = ox * op->stride_width - op->padding_left;
        int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * oc;
        for (int32_t c = 0; c < oc; ++c) {
          const int8_t *fc = filter + (size_t)c * kh * kw * ic;
          int32_t acc = badj[c];
          for (int32_t ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * op->dilation_height;
            const int inside_y = y >= 0 && y < ih;
            for (int32_t kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * op->dilation_width;
              const int8_t *fk = fc + ((size_t)ky * kw + kx) * ic;
              if (inside_y && x >= 0 && x < iw) {
                const int8_t *px = in_b + ((size_t)y * iw + x) * ic;
                for (int32_t i = 0; i < ic; ++i) acc = ci8_wrap_add(acc, (int32_t)fk[i] * px[i]);
              } else {
                for (int32_t i = 0; i < ic; ++i) acc = ci8_wrap_add(acc, (int32_t)fk[i] * zp);
              }
            }
          }
          int32_t v = ci8_mbqm_gemm(acc, mult[c], shift[c]) + op->output_zero_point;
          out[c] = (int8_t)ci8_clamp_i32(v, op->activation_min, op->activation_max);
        }
      }
    }
  }
}
