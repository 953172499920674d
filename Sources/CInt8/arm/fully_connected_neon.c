// FULLY_CONNECTED int8 on AArch64 (neon and neondot sets): the packed GEMM of gemm_neon.h over
// the batch rows. Rows are used in place when input_depth is a multiple of 8; otherwise up to
// FC_ROWS of them at a time are copied into the scratch with zeros up to kp. Rounding as the
// reference (ci8_mbqm_gemm for every output).
#include "gemm_neon.h"
#include "../common/simd_common.h"

#if defined(__aarch64__)

ci8_status ci8_ref_conv_multipliers(const ci8_conv2d *op, int32_t *mult, int32_t *shift);

#define FC_ROWS 4

static size_t fc_prepared_size(const ci8_fully_connected *op) {
  const ci8_neon_gemm_layout l = ci8_neon_gemm_layout_of(op->input_depth, op->output_depth);
  return l.total + 2 * CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_depth);
}

static ci8_status fc_prepare(ci8_fully_connected *op, const int8_t *weights, const int32_t *bias,
                             void *prepared, int32_t isa) {
  if (op->batches < 0 || op->input_depth <= 0 || op->output_depth <= 0)
    return CI8_ERR_BAD_PARAMS;
  const ci8_neon_gemm_layout l = ci8_neon_gemm_layout_of(op->input_depth, op->output_depth);
  uint8_t *base = (uint8_t *)prepared;
  int32_t *tmult = (int32_t *)(base + l.total);
  int32_t *tshift =
      (int32_t *)(base + l.total + CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_depth));
  const ci8_conv2d c = fc_as_conv(op);
  const ci8_status st = ci8_ref_conv_multipliers(&c, tmult, tshift);
  if (st != CI8_OK) return st;
  ci8_neon_gemm_pack(prepared, isa, op->input_depth, op->output_depth, weights, bias,
                     op->input_zero_point, tmult, tshift);
  op->prepared = prepared;
  return CI8_OK;
}

static size_t fc_scratch_size(const ci8_fully_connected *op) {
  const size_t kp = (size_t)((op->input_depth + 7) & ~7);
  return kp == (size_t)op->input_depth ? 0 : CI8_ALIGN64(kp * FC_ROWS);
}

typedef void (*fc_gemm_fn)(const ci8_neon_gemm *g, const int8_t *a, size_t a_stride,
                           int32_t rows, int8_t *out);

static void fc_gemm_neon(const ci8_neon_gemm *g, const int8_t *a, size_t a_stride, int32_t rows,
                         int8_t *out) {
  ci8_neon_gemm_rows(g, a, a_stride, rows, out);
}

CI8_NEONDOT static void fc_gemm_neondot(const ci8_neon_gemm *g, const int8_t *a,
                                        size_t a_stride, int32_t rows, int8_t *out) {
  ci8_neondot_gemm_rows(g, a, a_stride, rows, out);
}

static void fc_run(const ci8_fully_connected *op, const int8_t *input, int8_t *output,
                   void *scratch, int32_t batch_begin, int32_t batch_end, fc_gemm_fn gemm) {
  const ci8_neon_gemm g = ci8_neon_gemm_of(op->prepared, op->output_zero_point,
                                           op->activation_min, op->activation_max);
  const int32_t id = op->input_depth, od = op->output_depth, kp = g.kp;
  if (batch_end <= batch_begin) return;
  if (kp == id) {
    gemm(&g, input + (size_t)batch_begin * id, (size_t)id, batch_end - batch_begin,
         output + (size_t)batch_begin * od);
    return;
  }
  int8_t *buf = (int8_t *)scratch;
  for (int32_t b = batch_begin; b < batch_end; b += FC_ROWS) {
    const int32_t n = batch_end - b < FC_ROWS ? batch_end - b : FC_ROWS;
    for (int32_t j = 0; j < n; ++j) {
      int8_t *row = buf + (size_t)j * kp;
      memcpy(row, input + (size_t)(b + j) * id, (size_t)id);
      memset(row + id, 0, (size_t)(kp - id));
    }
    gemm(&g, buf, (size_t)kp, n, output + (size_t)b * od);
  }
}

// ---- neon ----
size_t ci8_neon_fully_connected_prepared_size(const ci8_fully_connected *op) {
  return fc_prepared_size(op);
}
ci8_status ci8_neon_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                            const int32_t *bias, void *prepared) {
  return fc_prepare(op, weights, bias, prepared, CI8_GEMM_NEON);
}
size_t ci8_neon_fully_connected_scratch_size(const ci8_fully_connected *op) {
  return fc_scratch_size(op);
}
void ci8_neon_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                  int8_t *output, void *scratch, int32_t batch_begin,
                                  int32_t batch_end) {
  fc_run(op, input, output, scratch, batch_begin, batch_end, fc_gemm_neon);
}

// ---- neondot ----
size_t ci8_neondot_fully_connected_prepared_size(const ci8_fully_connected *op) {
  return fc_prepared_size(op);
}
ci8_status ci8_neondot_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                               const int32_t *bias, void *prepared) {
  return fc_prepare(op, weights, bias, prepared, CI8_GEMM_NEONDOT);
}
size_t ci8_neondot_fully_connected_scratch_size(const ci8_fully_connected *op) {
  return fc_scratch_size(op);
}
void ci8_neondot_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                     int8_t *output, void *scratch, int32_t batch_begin,
                                     int32_t batch_end) {
  fc_run(op, input, output, scratch, batch_begin, batch_end, fc_gemm_neondot);
}

#else
typedef int ci8_fully_connected_neon_unused;
#endif  // __aarch64__
