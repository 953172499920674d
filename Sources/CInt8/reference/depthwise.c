// DEPTHWISE_CONV_2D int8 (TFLite DepthwiseConvPerChannel semantics).
// Rounding, as verified against LiteRT 2.3.0: its output stage handles each output pixel's
// channels in vector blocks of 8, whose rounding right shift breaks ties upward
// (ci8_mbqm_gemm), and the remaining output_channels % 8 channels with the scalar
// MultiplyByQuantizedMultiplier, which breaks ties away from zero (ci8_mbqm).
// Prepared layout (reference set): int32 multiplier[oc], shift[oc], bias_adjusted[oc],
// int8 filter[kh][kw][oc]; bias_adjusted as in conv.c.
#include <string.h>

#include "ci8_ref.h"

static size_t dw_vec(const ci8_conv2d *op) {
  return CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_channels);
}
static size_t dw_filter_bytes(const ci8_conv2d *op) {
  return (size_t)op->filter_height * (size_t)op->filter_width * (size_t)op->output_channels;
}

size_t ci8_ref_depthwise_conv2d_prepared_size(const ci8_conv2d *op) {
  return 3 * dw_vec(op) + CI8_ALIGN64(dw_filter_bytes(op));
}

ci8_status ci8_ref_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                            const int32_t *bias, void *prepared) {
  if (op->depth_multiplier <= 0 ||
      op->output_channels != op->input_channels * op->depth_multiplier)
    return CI8_ERR_BAD_PARAMS;
  uint8_t *base = (uint8_t *)prepared;
  const size_t vec = dw_vec(op);
  int32_t *mult = (int32_t *)base;
  int32_t *shift = (int32_t *)(base + vec);
  int32_t *badj = (int32_t *)(base + 2 * vec);
  int8_t *f = (int8_t *)(base + 3 * vec);
  ci8_status st = ci8_ref_conv_multipliers(op, mult, shift);
  if (st != CI8_OK) return st;
  const int32_t oc = op->output_channels;
  const int32_t taps = op->filter_height * op->filter_width;
  for (int32_t c = 0; c < oc; ++c) {
    int32_t sum = 0;
    for (int32_t t = 0; t < taps; ++t) sum = ci8_wrap_add(sum, filter[(size_t)t * oc + c]);
    const int32_t b = bias ? bias[c] : 0;
    badj[c] = ci8_wrap_add(b, ci8_wrap_mul(-op->input_zero_point, sum));
  }
  memcpy(f, filter, dw_filter_bytes(op));
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                  void *scratch, int32_t row_begin, int32_t row_end) {
  (void)scratch;
  const uint8_t *base = (const uint8_t *)op->prepared;
  const size_t vec = dw_vec(op);
  const int32_t *mult = (const int32_t *)base;
  const int32_t *shift = (const int32_t *)(base + vec);
  const int32_t *badj = (const int32_t *)(base + 2 * vec);
  const int8_t *filter = (const int8_t *)(base + 3 * vec);
  const int32_t ih = op->input_height, iw = op->input_width, ic = op->input_channels;
  const int32_t oh = op->output_height, ow = op->output_width, oc = op->output_channels;
  const int32_t kh = op->filter_height, kw = op->filter_width, dm = op->depth_multiplier;
  const int32_t zp = op->input_zero_point;
  const int32_t vector_channels = oc - oc % 8;
  for (int32_t b = 0; b < op->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * ih * iw * ic;
    for (int32_t oy = row_begin; oy < row_end; ++oy) {
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t y0 = oy * op->stride_height - op->padding_top;
        const int32_t x0 = ox * op->stride_width - op->padding_left;
        int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * oc;
        for (int32_t c = 0; c < oc; ++c) {
          const int32_t ci = c / dm;
          int32_t acc = badj[c];
          for (int32_t ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * op->dilation_height;
            for (int32_t kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * op->dilation_width;
              const int32_t w = filter[((size_t)ky * kw + kx) * oc + c];
              const int32_t v = (y >= 0 && y < ih && x >= 0 && x < iw)
                                    ? in_b[((size_t)y * iw + x) * ic + ci]
                                    : zp;
              acc = ci8_wrap_add(acc, w * v);
            }
          }
          const int32_t scaled = c < vector_channels ? ci8_mbqm_gemm(acc, mult[c], shift[c])
                                                     : ci8_mbqm(acc, mult[c], shift[c]);
          const int32_t r = scaled + op->output_zero_point;
          out[c] = (int8_t)ci8_clamp_i32(r, op->activation_min, op->activation_max);
        }
      }
    }
  }
}
