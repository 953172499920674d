// ADD, MUL and PRELU int8 with broadcasting (TFLite's general rescaling paths).
#include "ci8_ref.h"

typedef ci8_ref_add_params add_params;  // ci8_ref.h: the AVX2 ADD reuses it

typedef ci8_ref_pair_params pair_params;  // ci8_ref.h: the AVX2 PRELU reuses it

static int binary_zero_points_ok(const ci8_binary *op) {
  return op->input1_zero_point >= -128 && op->input1_zero_point <= 127 &&
         op->input2_zero_point >= -128 && op->input2_zero_point <= 127 &&
         op->output_zero_point >= -128 && op->output_zero_point <= 127 &&
         op->activation_min <= op->activation_max && op->activation_min >= -128 &&
         op->activation_max <= 127;
}

// Calls f(i1, i2, o) for every output element in row-major order.
#define CI8_BROADCAST_LOOP(op, BODY)                                                          \
  do {                                                                                        \
    const int32_t *d_ = (op)->shape.output_shape;                                             \
    const int32_t *s1_ = (op)->shape.input1_strides;                                          \
    const int32_t *s2_ = (op)->shape.input2_strides;                                          \
    size_t o_ = 0;                                                                            \
    for (int32_t a0 = 0; a0 < d_[0]; ++a0)                                                    \
      for (int32_t a1 = 0; a1 < d_[1]; ++a1)                                                  \
        for (int32_t a2 = 0; a2 < d_[2]; ++a2)                                                \
          for (int32_t a3 = 0; a3 < d_[3]; ++a3)                                              \
            for (int32_t a4 = 0; a4 < d_[4]; ++a4) {                                          \
              const ptrdiff_t b1_ = (ptrdiff_t)a0 * s1_[0] + (ptrdiff_t)a1 * s1_[1] +         \
                                    (ptrdiff_t)a2 * s1_[2] + (ptrdiff_t)a3 * s1_[3] +         \
                                    (ptrdiff_t)a4 * s1_[4];                                   \
              const ptrdiff_t b2_ = (ptrdiff_t)a0 * s2_[0] + (ptrdiff_t)a1 * s2_[1] +         \
                                    (ptrdiff_t)a2 * s2_[2] + (ptrdiff_t)a3 * s2_[3] +         \
                                    (ptrdiff_t)a4 * s2_[4];                                   \
              for (int32_t a5 = 0; a5 < d_[5]; ++a5, ++o_) {                                  \
                const ptrdiff_t i1 = b1_ + (ptrdiff_t)a5 * s1_[5];                            \
                const ptrdiff_t i2 = b2_ + (ptrdiff_t)a5 * s2_[5];                            \
                const size_t o = o_;                                                          \
                BODY                                                                          \
              }                                                                               \
            }                                                                                 \
  } while (0)

size_t ci8_ref_add_prepared_size(const ci8_binary *op) {
  (void)op;
  return CI8_ALIGN64(sizeof(add_params));
}

// QuantizeMultiplierSmallerThanOneExp: multiplier in (0, 1), shift <= 0.
static int quantize_below_one(double real, int32_t *mult, int32_t *shift) {
  if (!(real > 0.0 && real < 1.0)) return 0;
  ci8_quantize_multiplier(real, mult, shift);
  return *shift <= 0;
}

ci8_status ci8_ref_add_prepare(ci8_binary *op, void *prepared) {
  if (!binary_zero_points_ok(op)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(op->input1_scale) || !ci8_scale_ok(op->input2_scale) ||
      !ci8_scale_ok(op->output_scale))
    return CI8_ERR_BAD_SCALE;
  add_params *p = (add_params *)prepared;
  p->left_shift = 20;
  const float max_in = op->input1_scale > op->input2_scale ? op->input1_scale : op->input2_scale;
  const double twice_max = 2.0 * (double)max_in;
  const double r1 = (double)op->input1_scale / twice_max;
  const double r2 = (double)op->input2_scale / twice_max;
  const float out_scaled = (float)(1 << 20) * op->output_scale;  // float product, as TFLite
  const double ro = twice_max / (double)out_scaled;
  if (!quantize_below_one(r1, &p->in1_mult, &p->in1_shift) ||
      !quantize_below_one(r2, &p->in2_mult, &p->in2_shift) ||
      !quantize_below_one(ro, &p->out_mult, &p->out_shift))
    return CI8_ERR_BAD_SCALE;
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_add_run(const ci8_binary *op, const int8_t *a, const int8_t *b, int8_t *out) {
  const add_params *p = (const add_params *)op->prepared;
  const int32_t z1 = op->input1_zero_point, z2 = op->input2_zero_point;
  CI8_BROADCAST_LOOP(op, {
    const int32_t v1 = ((int32_t)a[i1] - z1) * (1 << 20);
    const int32_t v2 = ((int32_t)b[i2] - z2) * (1 << 20);
    const int32_t s1 = ci8_mbqm(v1, p->in1_mult, p->in1_shift);
    const int32_t s2 = ci8_mbqm(v2, p->in2_mult, p->in2_shift);
    const int32_t r = ci8_mbqm(s1 + s2, p->out_mult, p->out_shift) + op->output_zero_point;
    out[o] = (int8_t)ci8_clamp_i32(r, op->activation_min, op->activation_max);
  });
}

size_t ci8_ref_mul_prepared_size(const ci8_binary *op) {
  (void)op;
  return CI8_ALIGN64(sizeof(pair_params));
}

ci8_status ci8_ref_mul_prepare(ci8_binary *op, void *prepared) {
  if (!binary_zero_points_ok(op)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(op->input1_scale) || !ci8_scale_ok(op->input2_scale) ||
      !ci8_scale_ok(op->output_scale))
    return CI8_ERR_BAD_SCALE;
  pair_params *p = (pair_params *)prepared;
  const double real =
      (double)op->input1_scale * (double)op->input2_scale / (double)op->output_scale;
  ci8_quantize_multiplier(real, &p->mult1, &p->shift1);
  if (p->shift1 > 30) return CI8_ERR_BAD_SCALE;
  p->mult2 = 0;
  p->shift2 = 0;
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_mul_run(const ci8_binary *op, const int8_t *a, const int8_t *b, int8_t *out) {
  const pair_params *p = (const pair_params *)op->prepared;
  const int32_t z1 = op->input1_zero_point, z2 = op->input2_zero_point;
  CI8_BROADCAST_LOOP(op, {
    const int32_t prod = ((int32_t)a[i1] - z1) * ((int32_t)b[i2] - z2);
    const int32_t r = ci8_mbqm(prod, p->mult1, p->shift1) + op->output_zero_point;
    out[o] = (int8_t)ci8_clamp_i32(r, op->activation_min, op->activation_max);
  });
}

size_t ci8_ref_prelu_prepared_size(const ci8_binary *op) {
  (void)op;
  return CI8_ALIGN64(sizeof(pair_params));
}

ci8_status ci8_ref_prelu_prepare(ci8_binary *op, void *prepared) {
  if (!binary_zero_points_ok(op)) return CI8_ERR_BAD_PARAMS;
  if (!ci8_scale_ok(op->input1_scale) || !ci8_scale_ok(op->input2_scale) ||
      !ci8_scale_ok(op->output_scale))
    return CI8_ERR_BAD_SCALE;
  pair_params *p = (pair_params *)prepared;
  // TFLite prelu.cc: both multipliers are computed in float, then widened to double.
  const float r1 = op->input1_scale / op->output_scale;
  const float r2 = op->input1_scale * op->input2_scale / op->output_scale;
  ci8_quantize_multiplier((double)r1, &p->mult1, &p->shift1);
  ci8_quantize_multiplier((double)r2, &p->mult2, &p->shift2);
  if (p->shift1 > 30 || p->shift2 > 30) return CI8_ERR_BAD_SCALE;
  op->prepared = prepared;
  return CI8_OK;
}

void ci8_ref_prelu_run(const ci8_binary *op, const int8_t *x, const int8_t *alpha,
                       int8_t *out) {
  const pair_params *p = (const pair_params *)op->prepared;
  const int32_t z1 = op->input1_zero_point, z2 = op->input2_zero_point;
  CI8_BROADCAST_LOOP(op, {
    const int32_t v = (int32_t)x[i1] - z1;
    int32_t r;
    if (v >= 0) {
      r = ci8_mbqm(v, p->mult1, p->shift1);
    } else {
      r = ci8_mbqm(v * ((int32_t)alpha[i2] - z2), p->mult2, p->shift2);
    }
    r += op->output_zero_point;
    out[o] = (int8_t)ci8_clamp_i32(r, op->activation_min, op->activation_max);
  });
}
