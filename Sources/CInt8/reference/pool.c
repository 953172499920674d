// MAX_POOL_2D and AVERAGE_POOL_2D int8: windows clipped to the image, the average divides by
// the number of in-image taps, rounding half away from zero (TFLite integer AveragePool).
#include "ci8_ref.h"

#define POOL_LOOP(op, INIT, ACC, FINISH)                                                      \
  do {                                                                                        \
    const int32_t ih = (op)->input_height, iw = (op)->input_width, ch = (op)->channels;        \
    const int32_t oh = (op)->output_height, ow = (op)->output_width;                          \
    for (int32_t b = 0; b < (op)->batches; ++b)                                               \
      for (int32_t oy = 0; oy < oh; ++oy)                                                     \
        for (int32_t ox = 0; ox < ow; ++ox) {                                                 \
          const int32_t y0 = oy * (op)->stride_height - (op)->padding_top;                    \
          const int32_t x0 = ox * (op)->stride_width - (op)->padding_left;                    \
          const int32_t fy0 = y0 < 0 ? -y0 : 0;                                               \
          const int32_t fx0 = x0 < 0 ? -x0 : 0;                                               \
          const int32_t fy1 = (op)->filter_height < ih - y0 ? (op)->filter_height : ih - y0;  \
          const int32_t fx1 = (op)->filter_width < iw - x0 ? (op)->filter_width : iw - x0;    \
          const int32_t count = (fy1 - fy0) * (fx1 - fx0);                                    \
          (void)count;                                                                        \
          int8_t *out = output + (((size_t)b * oh + oy) * ow + ox) * ch;                      \
          for (int32_t c = 0; c < ch; ++c) {                                                  \
            int32_t acc = INIT;                                                               \
            for (int32_t fy = fy0; fy < fy1; ++fy)                                            \
              for (int32_t fx = fx0; fx < fx1; ++fx) {                                        \
                const int32_t v =                                                             \
                    input[(((size_t)b * ih + (y0 + fy)) * iw + (x0 + fx)) * ch + c];          \
                ACC;                                                                          \
              }                                                                               \
            FINISH;                                                                           \
            out[c] = (int8_t)ci8_clamp_i32(acc, (op)->activation_min, (op)->activation_max);  \
          }                                                                                   \
        }                                                                                     \
  } while (0)

void ci8_ref_max_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output) {
  POOL_LOOP(op, -128, if (v > acc) acc = v, (void)0);
}

void ci8_ref_average_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output) {
  POOL_LOOP(op, 0, acc += v,
            if (count > 0) acc = acc > 0 ? (acc + count / 2) / count
                                         : (acc - count / 2) / count);
}
