// RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR int8 (NHWC). Bilinear uses TFLite's integer
// path: 10-bit fixed-point source coordinates and 20-bit weights, rounded half away from zero.
#include <math.h>

#include "ci8_ref.h"

static int32_t nearest_index(int32_t out_i, int32_t in_size, int32_t out_size, int align,
                             int half) {
  const float scale = (align && out_size > 1) ? (float)(in_size - 1) / (float)(out_size - 1)
                                              : (float)in_size / (float)out_size;
  const float offset = half ? 0.5f : 0.0f;
  const float pos = ((float)out_i + offset) * scale;
  int32_t v = align ? (int32_t)roundf(pos) : (int32_t)floorf(pos);
  if (v > in_size - 1) v = in_size - 1;
  if (half && v < 0) v = 0;
  return v;
}

void ci8_resize_nearest_run(const ci8_resize *op, const int8_t *input, int8_t *output) {
  const int32_t ih = op->input_height, iw = op->input_width, ch = op->channels;
  const int32_t oh = op->output_height, ow = op->output_width;
  for (int32_t b = 0; b < op->batches; ++b)
    for (int32_t y = 0; y < oh; ++y) {
      const int32_t sy = nearest_index(y, ih, oh, op->align_corners, op->half_pixel_centers);
      for (int32_t x = 0; x < ow; ++x) {
        const int32_t sx = nearest_index(x, iw, ow, op->align_corners, op->half_pixel_centers);
        const int8_t *src = input + (((size_t)b * ih + sy) * iw + sx) * ch;
        int8_t *dst = output + (((size_t)b * oh + y) * ow + x) * ch;
        for (int32_t c = 0; c < ch; ++c) dst[c] = src[c];
      }
    }
}

static void bilinear_coord(int32_t v, int32_t scale_10, int half, int32_t in_size,
                           int32_t *scaled, int32_t *lo, int32_t *hi) {
  *scaled = half ? v * scale_10 + scale_10 / 2 - (1 << 9) : v * scale_10;
  const int32_t l = *scaled / (1 << 10);
  *lo = l > 0 ? l : 0;
  const int32_t h = (*scaled + (1 << 10) - 1) / (1 << 10);
  *hi = h < in_size - 1 ? h : in_size - 1;
}

void ci8_resize_bilinear_run(const ci8_resize *op, const int8_t *input, int8_t *output) {
  const int32_t ih = op->input_height, iw = op->input_width, ch = op->channels;
  const int32_t oh = op->output_height, ow = op->output_width;
  int32_t hs = ((1 << 10) * ih + oh / 2) / oh;
  int32_t ws = ((1 << 10) * iw + ow / 2) / ow;
  if (op->align_corners && oh > 1) hs = ((1 << 10) * (ih - 1) + (oh - 1) / 2) / (oh - 1);
  if (op->align_corners && ow > 1) ws = ((1 << 10) * (iw - 1) + (ow - 1) / 2) / (ow - 1);
  for (int32_t b = 0; b < op->batches; ++b)
    for (int32_t y = 0; y < oh; ++y) {
      int32_t sy, y0, y1;
      bilinear_coord(y, hs, op->half_pixel_centers, ih, &sy, &y0, &y1);
      const int64_t wy1 = sy - (1 << 10) * y0, wy0 = (1 << 10) - wy1;
      for (int32_t x = 0; x < ow; ++x) {
        int32_t sx, x0, x1;
        bilinear_coord(x, ws, op->half_pixel_centers, iw, &sx, &x0, &x1);
        const int64_t wx1 = sx - (1 << 10) * x0, wx0 = (1 << 10) - wx1;
        const int8_t *p00 = input + (((size_t)b * ih + y0) * iw + x0) * ch;
        const int8_t *p10 = input + (((size_t)b * ih + y1) * iw + x0) * ch;
        const int8_t *p01 = input + (((size_t)b * ih + y0) * iw + x1) * ch;
        const int8_t *p11 = input + (((size_t)b * ih + y1) * iw + x1) * ch;
        int8_t *dst = output + (((size_t)b * oh + y) * ow + x) * ch;
        for (int32_t c = 0; c < ch; ++c) {
          const int64_t acc = p00[c] * wy0 * wx0 + p10[c] * wy1 * wx0 + p01[c] * wy0 * wx1 +
                              p11[c] * wy1 * wx1;
          const int64_t round = acc > 0 ? (1 << 19) : -(1 << 19);
          dst[c] = (int8_t)((acc + round) / (1 << 20));
        }
      }
    }
}
