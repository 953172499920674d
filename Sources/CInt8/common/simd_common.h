// Portable helpers shared by the SIMD kernel sets (x86/, arm/): geometry and descriptor
// conversions that do not depend on the ISA. Internal to CInt8.
#ifndef CI8_SIMD_COMMON_H
#define CI8_SIMD_COMMON_H

#include <stddef.h>
#include <string.h>

#include "cint8.h"

// The reference's validation and multipliers, through the equivalent 1x1 convolution.
static inline ci8_conv2d fc_as_conv(const ci8_fully_connected *op) {
  ci8_conv2d c;
  memset(&c, 0, sizeof c);
  c.batches = op->batches;
  c.input_height = c.input_width = c.output_height = c.output_width = 1;
  c.input_channels = op->input_depth;
  c.output_channels = op->output_depth;
  c.filter_height = c.filter_width = c.stride_height = c.stride_width = 1;
  c.dilation_height = c.dilation_width = c.depth_multiplier = 1;
  c.input_scale = op->input_scale;
  c.output_scale = op->output_scale;
  c.input_zero_point = op->input_zero_point;
  c.output_zero_point = op->output_zero_point;
  c.activation_min = op->activation_min;
  c.activation_max = op->activation_max;
  c.filter_scales = op->filter_scales;
  c.filter_scale_count = op->filter_scale_count;
  return c;
}

// One pooling window clipped to the image.
typedef struct pool_window {
  const int8_t *base;  // first in-image tap of the window (channel 0)
  int32_t rows, cols;  // in-image taps
  ptrdiff_t row_step;  // bytes between window rows
  int32_t count;
} pool_window;

static inline pool_window pool_window_at(const ci8_pool2d *op, const int8_t *in_b, int32_t oy,
                                         int32_t ox) {
  const int32_t ih = op->input_height, iw = op->input_width, ch = op->channels;
  const int32_t y0 = oy * op->stride_height - op->padding_top;
  const int32_t x0 = ox * op->stride_width - op->padding_left;
  const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
  const int32_t fy1 = op->filter_height < ih - y0 ? op->filter_height : ih - y0;
  const int32_t fx1 = op->filter_width < iw - x0 ? op->filter_width : iw - x0;
  pool_window w;
  w.rows = fy1 > fy0 ? fy1 - fy0 : 0;
  w.cols = fx1 > fx0 ? fx1 - fx0 : 0;
  w.count = w.rows * w.cols;
  w.row_step = (ptrdiff_t)iw * ch;
  w.base = w.count ? in_b + ((ptrdiff_t)(y0 + fy0) * iw + (x0 + fx0)) * ch : in_b;
  return w;
}

#endif
