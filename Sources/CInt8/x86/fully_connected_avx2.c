// FULLY_CONNECTED int8 on AVX2: the batch rows are widened to int16 (up to 4 at a time, in the
// caller's scratch) and multiplied by the packed weights with the GEMM core of gemm_avx2.h
// (a 1-row GEMV kernel when a single batch is left). Rounding as the reference
// (ci8_mbqm_gemm for every output).
#include "gemm_avx2.h"
#include "../common/simd_common.h"

#if defined(__x86_64__)

#define FC_ROWS 4

size_t ci8_avx2_fully_connected_prepared_size(const ci8_fully_connected *op) {
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(op->input_depth, op->output_depth);
  return l.total + 2 * CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_depth);
}

ci8_status ci8_avx2_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                            const int32_t *bias, void *prepared) {
  if (op->batches < 0 || op->input_depth <= 0 || op->output_depth <= 0)
    return CI8_ERR_BAD_PARAMS;
  const ci8_avx2_gemm_layout l = ci8_avx2_gemm_layout_of(op->input_depth, op->output_depth);
  uint8_t *base = (uint8_t *)prepared;
  int32_t *tmult = (int32_t *)(base + l.total);
  int32_t *tshift =
      (int32_t *)(base + l.total + CI8_ALIGN64(sizeof(int32_t) * (size_t)op->output_depth));
  const ci8_conv2d c = fc_as_conv(op);
  const ci8_status st = ci8_ref_conv_multipliers(&c, tmult, tshift);
  if (st != CI8_OK) return st;
  ci8_avx2_gemm_pack(prepared, op->input_depth, op->output_depth, weights, bias,
                     op->input_zero_point, op->output_zero_point, tmult, tshift);
  op->prepared = prepared;
  return CI8_OK;
}

size_t ci8_avx2_fully_connected_scratch_size(const ci8_fully_connected *op) {
  const size_t kp = (size_t)((op->input_depth + 1) & ~1);
  return CI8_ALIGN64(sizeof(int16_t) * kp * FC_ROWS);
}

CI8_AVX2 void ci8_avx2_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                           int8_t *output, void *scratch, int32_t batch_begin,
                                           int32_t batch_end) {
  const ci8_avx2_out o = ci8_avx2_out_of(op->prepared, op->output_zero_point,
                                         op->activation_min, op->activation_max);
  const int32_t id = op->input_depth, od = op->output_depth, kp = o.kp;
  int16_t *buf = (int16_t *)scratch;
  for (int32_t b = batch_begin; b < batch_end; b += FC_ROWS) {
    const int32_t n = batch_end - b < FC_ROWS ? batch_end - b : FC_ROWS;
    for (int32_t j = 0; j < n; ++j) {
      int16_t *row = buf + (size_t)j * kp;
      ci8_avx2_widen(row, input + (size_t)(b + j) * id, id);
      if (kp > id) row[id] = 0;
    }
    ci8_avx2_gemm_block(&o, buf, n, output + (size_t)b * od);
  }
}

#else
typedef int ci8_fully_connected_avx2_unused;
#endif  // __x86_64__
