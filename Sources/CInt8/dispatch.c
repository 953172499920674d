// Kernel-set selection and the public entry points. Each public function forwards to the kernel
// set chosen by ci8_select_kernels(). Built sets: the portable reference (everywhere) and, on
// x86-64, AVX2 for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, PRELU, MAX_POOL_2D and
// AVERAGE_POOL_2D (x86/), used only when the CPU
// has AVX2 and FMA; every other op runs the reference kernels under every selection.
// CI8_ISA_REFERENCE forces the reference set for everything.
#include "reference/ci8_ref.h"
#include "x86/ci8_avx2.h"

#if defined(__x86_64__) || defined(__i386__)
#define CI8_X86 1
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

// The only global state: the selected kernel set (written once, before any prepare). Until
// ci8_select_kernels() is called it is unset, and the first use selects the best set this
// CPU and build offer (what KernelSelection.useBest() would choose).
#define CI8_ISA_UNSET ((ci8_isa)-1)
static ci8_isa g_selected = CI8_ISA_UNSET;

const char *ci8_status_message(ci8_status status) {
  switch (status) {
    case CI8_OK: return "ok";
    case CI8_ERR_BAD_PARAMS: return "bad parameters";
    case CI8_ERR_BAD_SCALE: return "bad scale (zero, negative, not finite, or overflowing)";
    case CI8_ERR_UNSUPPORTED: return "unsupported configuration";
  }
  return "unknown status";
}

const char *ci8_isa_name(ci8_isa isa) {
  switch (isa) {
    case CI8_ISA_REFERENCE: return "reference";
    case CI8_ISA_AVX2: return "avx2";
    case CI8_ISA_NEON: return "neon";
    case CI8_ISA_NEON_DOT: return "neon-dot";
  }
  return "unknown";
}

// What the CPU supports (independently of what this build contains).
static ci8_isa cpu_isa(void) {
#if defined(CI8_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CI8_ISA_AVX2;
  return CI8_ISA_REFERENCE;
#elif defined(__aarch64__)
#if defined(__linux__)
  if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) return CI8_ISA_NEON_DOT;
#endif
  return CI8_ISA_NEON;
#else
  return CI8_ISA_REFERENCE;
#endif
}

// Whether a kernel set is compiled into this build.
static int isa_built(ci8_isa isa) {
#if defined(__x86_64__)
  if (isa == CI8_ISA_AVX2) return 1;
#endif
  return isa == CI8_ISA_REFERENCE;
}

ci8_isa ci8_detect_isa(void) {
  // "Best ISA this CPU supports and this build contains": walk down from the CPU's best.
  ci8_isa isa = cpu_isa();
  while (isa != CI8_ISA_REFERENCE && !isa_built(isa)) {
    isa = (isa == CI8_ISA_NEON_DOT) ? CI8_ISA_NEON : CI8_ISA_REFERENCE;
  }
  return isa;
}

ci8_isa ci8_select_kernels(ci8_isa requested) {
  const ci8_isa best = ci8_detect_isa();
  ci8_isa isa = requested;
  // An unavailable request falls back to the best available set below it (on x86 that is
  // always CI8_ISA_REFERENCE: AVX2 is the only SIMD set).
  if (isa != CI8_ISA_REFERENCE && (!isa_built(isa) || isa != best)) {
    isa = (isa == CI8_ISA_NEON_DOT && isa_built(CI8_ISA_NEON) && best == CI8_ISA_NEON)
              ? CI8_ISA_NEON
              : CI8_ISA_REFERENCE;
  }
  if (!isa_built(isa)) isa = CI8_ISA_REFERENCE;
  g_selected = isa;
  return isa;
}

ci8_isa ci8_selected_isa(void) {
  if (g_selected == CI8_ISA_UNSET) g_selected = ci8_detect_isa();
  return g_selected;
}

// ---- forwarding ----
// CI8_AVX2_SET(expr_avx2, expr_ref): the AVX2 expression when that set is selected.
#if defined(__x86_64__)
#define CI8_AVX2_SET(avx2, ref) (ci8_selected_isa() == CI8_ISA_AVX2 ? (avx2) : (ref))
#else
#define CI8_AVX2_SET(avx2, ref) (ref)
#endif

size_t ci8_conv2d_prepared_size(const ci8_conv2d *op) {
  return CI8_AVX2_SET(ci8_avx2_conv2d_prepared_size(op), ci8_ref_conv2d_prepared_size(op));
}
ci8_status ci8_conv2d_prepare(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                              void *prepared) {
  return CI8_AVX2_SET(ci8_avx2_conv2d_prepare(op, filter, bias, prepared),
                      ci8_ref_conv2d_prepare(op, filter, bias, prepared));
}
size_t ci8_conv2d_scratch_size(const ci8_conv2d *op) {
  (void)op;
  return CI8_AVX2_SET(ci8_avx2_conv2d_scratch_size(op), (size_t)0);
}
void ci8_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output, void *scratch,
                    int32_t row_begin, int32_t row_end) {
#if defined(__x86_64__)
  if (ci8_selected_isa() == CI8_ISA_AVX2) {
    ci8_avx2_conv2d_run(op, input, output, scratch, row_begin, row_end);
    return;
  }
#endif
  ci8_ref_conv2d_run(op, input, output, scratch, row_begin, row_end);
}

size_t ci8_depthwise_conv2d_prepared_size(const ci8_conv2d *op) {
  return CI8_AVX2_SET(ci8_avx2_depthwise_conv2d_prepared_size(op),
                      ci8_ref_depthwise_conv2d_prepared_size(op));
}
ci8_status ci8_depthwise_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                        const int32_t *bias, void *prepared) {
  return CI8_AVX2_SET(ci8_avx2_depthwise_conv2d_prepare(op, filter, bias, prepared),
                      ci8_ref_depthwise_conv2d_prepare(op, filter, bias, prepared));
}
size_t ci8_depthwise_conv2d_scratch_size(const ci8_conv2d *op) {
  (void)op;
  return CI8_AVX2_SET(ci8_avx2_depthwise_conv2d_scratch_size(op), (size_t)0);
}
void ci8_depthwise_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                              void *scratch, int32_t row_begin, int32_t row_end) {
#if defined(__x86_64__)
  if (ci8_selected_isa() == CI8_ISA_AVX2) {
    ci8_avx2_depthwise_conv2d_run(op, input, output, scratch, row_begin, row_end);
    return;
  }
#endif
  ci8_ref_depthwise_conv2d_run(op, input, output, scratch, row_begin, row_end);
}

size_t ci8_fully_connected_prepared_size(const ci8_fully_connected *op) {
  return CI8_AVX2_SET(ci8_avx2_fully_connected_prepared_size(op),
                      ci8_ref_fully_connected_prepared_size(op));
}
ci8_status ci8_fully_connected_prepare(ci8_fully_connected *op, const int8_t *weights,
                                       const int32_t *bias, void *prepared) {
  return CI8_AVX2_SET(ci8_avx2_fully_connected_prepare(op, weights, bias, prepared),
                      ci8_ref_fully_connected_prepare(op, weights, bias, prepared));
}
size_t ci8_fully_connected_scratch_size(const ci8_fully_connected *op) {
  (void)op;
  return CI8_AVX2_SET(ci8_avx2_fully_connected_scratch_size(op), (size_t)0);
}
void ci8_fully_connected_run(const ci8_fully_connected *op, const int8_t *input, int8_t *output,
                             void *scratch, int32_t batch_begin, int32_t batch_end) {
#if defined(__x86_64__)
  if (ci8_selected_isa() == CI8_ISA_AVX2) {
    ci8_avx2_fully_connected_run(op, input, output, scratch, batch_begin, batch_end);
    return;
  }
#endif
  ci8_ref_fully_connected_run(op, input, output, scratch, batch_begin, batch_end);
}

size_t ci8_add_prepared_size(const ci8_binary *op) {
  return CI8_AVX2_SET(ci8_avx2_add_prepared_size(op), ci8_ref_add_prepared_size(op));
}
ci8_status ci8_add_prepare(ci8_binary *op, void *prepared) {
  return CI8_AVX2_SET(ci8_avx2_add_prepare(op, prepared), ci8_ref_add_prepare(op, prepared));
}
void ci8_add_run(const ci8_binary *op, const int8_t *input1, const int8_t *input2,
                 int8_t *output) {
#if defined(__x86_64__)
  if (ci8_selected_isa() == CI8_ISA_AVX2) {
    ci8_avx2_add_run(op, input1, input2, output);
    return;
  }
#endif
  ci8_ref_add_run(op, input1, input2, output);
}

size_t ci8_mul_prepared_size(const ci8_binary *op) { return ci8_ref_mul_prepared_size(op); }
ci8_status ci8_mul_prepare(ci8_binary *op, void *prepared) {
  return ci8_ref_mul_prepare(op, prepared);
}
void ci8_mul_run(const ci8_binary *op, const int8_t *input1, const int8_t *input2,
                 int8_t *output) {
  ci8_ref_mul_run(op, input1, input2, output);
}

size_t ci8_prelu_prepared_size(const ci8_binary *op) { return ci8_ref_prelu_prepared_size(op); }
ci8_status ci8_prelu_prepare(ci8_binary *op, void *prepared) {
  return ci8_ref_prelu_prepare(op, prepared);
}
void ci8_prelu_run(const ci8_binary *op, const int8_t *input, const int8_t *alpha,
                   int8_t *output) {
#if defined(__x86_64__)
  if (ci8_selected_isa() == CI8_ISA_AVX2) {
    ci8_avx2_prelu_run(op, input, alpha, output);
    return;
  }
#endif
  ci8_ref_prelu_run(op, input, alpha, output);
}

void ci8_max_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output) {
#if defined(__x86_64__)
  if (ci8_selected_isa() == CI8_ISA_AVX2) {
    ci8_avx2_max_pool2d_run(op, input, output);
    return;
  }
#endif
  ci8_ref_max_pool2d_run(op, input, output);
}
void ci8_average_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output) {
#if defined(__x86_64__)
  if (ci8_selected_isa() == CI8_ISA_AVX2) {
    ci8_avx2_average_pool2d_run(op, input, output);
    return;
  }
#endif
  ci8_ref_average_pool2d_run(op, input, output);
}

size_t ci8_mean_hw_prepared_size(const ci8_mean_hw *op) {
  return ci8_ref_mean_hw_prepared_size(op);
}
ci8_status ci8_mean_hw_prepare(ci8_mean_hw *op, void *prepared) {
  return ci8_ref_mean_hw_prepare(op, prepared);
}
size_t ci8_mean_hw_scratch_size(const ci8_mean_hw *op) {
  (void)op;
  return 0;
}
void ci8_mean_hw_run(const ci8_mean_hw *op, const int8_t *input, int8_t *output,
                     void *scratch) {
  ci8_ref_mean_hw_run(op, input, output, scratch);
}

void ci8_pad_run(const ci8_pad *op, const int8_t *input, int8_t *output) {
  ci8_ref_pad_run(op, input, output);
}
void ci8_concat_run(const ci8_concat *op, const int8_t *const *inputs, int8_t *output) {
  ci8_ref_concat_run(op, inputs, output);
}

size_t ci8_softmax_prepared_size(const ci8_softmax *op) {
  return ci8_ref_softmax_prepared_size(op);
}
ci8_status ci8_softmax_prepare(ci8_softmax *op, void *prepared) {
  return ci8_ref_softmax_prepare(op, prepared);
}
void ci8_softmax_run(const ci8_softmax *op, const int8_t *input, int8_t *output) {
  ci8_ref_softmax_run(op, input, output);
}

void ci8_lut_run(const int8_t table[256], const int8_t *input, int8_t *output, size_t count) {
  ci8_ref_lut_run(table, input, output, count);
}

void ci8_lut_run_blocked(const int8_t block_table[256], const int8_t tail_table[256],
                         size_t block, const int8_t *input, int8_t *output, size_t count) {
  ci8_ref_lut_run_blocked(block_table, tail_table, block, input, output, count);
}

void ci8_quantize_f32_run(const float *input, int8_t *output, size_t count, float scale,
                          int32_t zero_point) {
  ci8_ref_quantize_f32_run(input, output, count, scale, zero_point);
}
void ci8_dequantize_f32_run(const int8_t *input, float *output, size_t count, float scale,
                            int32_t zero_point) {
  ci8_ref_dequantize_f32_run(input, output, count, scale, zero_point);
}

void ci8_resize_nearest_run(const ci8_resize *op, const int8_t *input, int8_t *output) {
  ci8_ref_resize_nearest_run(op, input, output);
}
void ci8_resize_bilinear_run(const ci8_resize *op, const int8_t *input, int8_t *output) {
  ci8_ref_resize_bilinear_run(op, input, output);
}
