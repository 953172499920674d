// The kernel-set tables: which micro-kernel runs each op, per kernel set.
//
// How to register micro-kernels
// -----------------------------
// * A variant is one micro-kernel behind an op's interface (ci8_<family>_ukernel in cint8.h):
//   a name, an optional supports(op) predicate, and the functions of the op's life cycle. Define
//   it below as a `static const` literal next to the other variants of its ISA, e.g.
//     static const ci8_conv2d_ukernel avx2_dwconv_3x3s2 = {
//         "qs8-dwconv/3x3s2-avx2", ci8_avx2_dwconv_3x3s2_supports, ...prepared_size, ...prepare,
//         ...scratch_size, ...run};
//   The kernel's functions live in their ISA's folder (x86/, arm/) and are declared in its
//   private header (x86/ci8_avx2.h, arm/ci8_neon.h).
// * Name: "qs8-<op>/<tile>-<isa>", op one of conv, dwconv, fc, vadd, vmul, vprelu, maxpool,
//   avgpool, mean, softmax; tile what the loop computes per step ("4x16" = 4 pixels x 16
//   channels, "3x3s2" = a 3x3 stride-2 filter, "x16" = 16 elements), optionally after a method
//   ("im2col-4x16"); isa "avx2", "neon" or "neondot" (no '-': it separates the parts). Reference: "qs8-<op>/ref".
// * Register a variant by adding its address to its set's list for that op (NULL-terminated).
//   select() takes the first variant in list order whose supports(op) is true (NULL supports =
//   every descriptor), so put specialized variants before general ones. Anything no variant
//   supports -- or an op whose list is NULL -- runs the reference variant: a set only lists what
//   it accelerates.
// * A new set: an enum value in ci8_isa (cint8.h) and its name in ci8_isa_name, a
//   `static const ci8_kernels` below with its lists, its slot in k_sets[] under the #if of the
//   architecture that builds it, and its CPU check in cpu_supports(). Everything else (best-set
//   choice, errors for sets not built or not supported, tools/kernel-test) follows from those.
#include "reference/ci8_ref.h"
#include "x86/ci8_avx2.h"
#include "arm/ci8_neon.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

// One kernel set: per op, the variants it offers beyond the reference, in preference order.
struct ci8_kernels {
  ci8_isa isa;
  const ci8_conv2d_ukernel *const *conv2d;
  const ci8_conv2d_ukernel *const *depthwise_conv2d;
  const ci8_fully_connected_ukernel *const *fully_connected;
  const ci8_binary_ukernel *const *add;
  const ci8_binary_ukernel *const *mul;
  const ci8_binary_ukernel *const *prelu;
  const ci8_pool2d_ukernel *const *max_pool2d;
  const ci8_pool2d_ukernel *const *average_pool2d;
  const ci8_mean_hw_ukernel *const *mean_hw;
  const ci8_softmax_ukernel *const *softmax;
  const ci8_quantize_f32_ukernel *const *quantize_f32;
};

// ---- reference variants: every set's fallback ----
static size_t ref_conv_scratch(const ci8_conv2d *op) { (void)op; return 0; }
static size_t ref_fc_scratch(const ci8_fully_connected *op) { (void)op; return 0; }
static size_t ref_mean_scratch(const ci8_mean_hw *op) { (void)op; return 0; }

static const ci8_conv2d_ukernel ref_conv2d = {
    "qs8-conv/ref", NULL, ci8_ref_conv2d_prepared_size, ci8_ref_conv2d_prepare,
    ref_conv_scratch, ci8_ref_conv2d_run};
static const ci8_conv2d_ukernel ref_depthwise_conv2d = {
    "qs8-dwconv/ref", NULL, ci8_ref_depthwise_conv2d_prepared_size,
    ci8_ref_depthwise_conv2d_prepare, ref_conv_scratch, ci8_ref_depthwise_conv2d_run};
static const ci8_fully_connected_ukernel ref_fully_connected = {
    "qs8-fc/ref", NULL, ci8_ref_fully_connected_prepared_size, ci8_ref_fully_connected_prepare,
    ref_fc_scratch, ci8_ref_fully_connected_run};
static const ci8_binary_ukernel ref_add = {
    "qs8-vadd/ref", NULL, ci8_ref_add_prepared_size, ci8_ref_add_prepare, ci8_ref_add_run};
static const ci8_binary_ukernel ref_mul = {
    "qs8-vmul/ref", NULL, ci8_ref_mul_prepared_size, ci8_ref_mul_prepare, ci8_ref_mul_run};
static const ci8_binary_ukernel ref_prelu = {
    "qs8-vprelu/ref", NULL, ci8_ref_prelu_prepared_size, ci8_ref_prelu_prepare,
    ci8_ref_prelu_run};
static const ci8_pool2d_ukernel ref_max_pool2d = {"qs8-maxpool/ref", NULL,
                                                  ci8_ref_max_pool2d_run};
static const ci8_pool2d_ukernel ref_average_pool2d = {"qs8-avgpool/ref", NULL,
                                                      ci8_ref_average_pool2d_run};
static const ci8_mean_hw_ukernel ref_mean_hw = {
    "qs8-mean/ref", NULL, ci8_ref_mean_hw_prepared_size, ci8_ref_mean_hw_prepare,
    ref_mean_scratch, ci8_ref_mean_hw_run};
static const ci8_softmax_ukernel ref_softmax = {
    "qs8-softmax/ref", NULL, ci8_ref_softmax_prepared_size, ci8_ref_softmax_prepare,
    ci8_ref_softmax_run};

static void ref_quantize_f32_run(const ci8_quantize_f32 *op, const float *input,
                                 int8_t *output) {
  ci8_quantize_f32_run(input, output, op->count, op->scale, op->zero_point);
}
static const ci8_quantize_f32_ukernel ref_quantize_f32 = {"f32-qs8-convert/ref", NULL,
                                                          ref_quantize_f32_run};

static const ci8_kernels k_reference = {.isa = CI8_ISA_REFERENCE};

// ---- AVX2 (x86-64) ----
#if defined(__x86_64__)
static const ci8_conv2d_ukernel avx2_conv2d_direct = {
    "qs8-conv/direct-4x16-avx2", ci8_avx2_conv2d_direct_supports,
    ci8_avx2_conv2d_direct_prepared_size, ci8_avx2_conv2d_direct_prepare,
    ci8_avx2_conv2d_direct_scratch_size, ci8_avx2_conv2d_direct_run};
static const ci8_conv2d_ukernel avx2_conv2d = {
    "qs8-conv/im2col-4x16-avx2", NULL, ci8_avx2_conv2d_prepared_size, ci8_avx2_conv2d_prepare,
    ci8_avx2_conv2d_scratch_size, ci8_avx2_conv2d_run};
static const ci8_conv2d_ukernel avx2_depthwise_conv2d = {
    "qs8-dwconv/4x16c-avx2", ci8_avx2_depthwise_conv2d_supports,
    ci8_avx2_depthwise_conv2d_prepared_size, ci8_avx2_depthwise_conv2d_prepare,
    ci8_avx2_depthwise_conv2d_scratch_size, ci8_avx2_depthwise_conv2d_run};
static const ci8_fully_connected_ukernel avx2_fully_connected = {
    "qs8-fc/4x16-avx2", NULL, ci8_avx2_fully_connected_prepared_size,
    ci8_avx2_fully_connected_prepare, ci8_avx2_fully_connected_scratch_size,
    ci8_avx2_fully_connected_run};
// ADD and PRELU run on the reference's prepared parameters.
static const ci8_binary_ukernel avx2_add = {
    "qs8-vadd/x16-avx2", ci8_avx2_add_supports, ci8_ref_add_prepared_size, ci8_ref_add_prepare,
    ci8_avx2_add_run};
static const ci8_binary_ukernel avx2_prelu = {
    "qs8-vprelu/x8-avx2", ci8_avx2_prelu_supports, ci8_ref_prelu_prepared_size,
    ci8_ref_prelu_prepare, ci8_avx2_prelu_run};
static const ci8_pool2d_ukernel avx2_max_pool2d = {
    "qs8-maxpool/16c-avx2", ci8_avx2_max_pool2d_supports, ci8_avx2_max_pool2d_run};
static const ci8_pool2d_ukernel avx2_average_pool2d = {
    "qs8-avgpool/8c-avx2", ci8_avx2_average_pool2d_supports, ci8_avx2_average_pool2d_run};

static const ci8_quantize_f32_ukernel avx2_quantize_f32 = {"f32-qs8-convert/x32-avx2", NULL,
                                                           ci8_avx2_quantize_f32_run};

static const ci8_conv2d_ukernel *const avx2_conv2d_list[] = {&avx2_conv2d_direct, &avx2_conv2d,
                                                               NULL};
static const ci8_conv2d_ukernel *const avx2_depthwise_list[] = {&avx2_depthwise_conv2d, NULL};
static const ci8_fully_connected_ukernel *const avx2_fc_list[] = {&avx2_fully_connected, NULL};
static const ci8_binary_ukernel *const avx2_add_list[] = {&avx2_add, NULL};
static const ci8_binary_ukernel *const avx2_prelu_list[] = {&avx2_prelu, NULL};
static const ci8_pool2d_ukernel *const avx2_max_pool_list[] = {&avx2_max_pool2d, NULL};
static const ci8_pool2d_ukernel *const avx2_average_pool_list[] = {&avx2_average_pool2d, NULL};
static const ci8_quantize_f32_ukernel *const avx2_quantize_f32_list[] = {&avx2_quantize_f32,
                                                                         NULL};

static const ci8_kernels k_avx2 = {
    .isa = CI8_ISA_AVX2,
    .conv2d = avx2_conv2d_list,
    .depthwise_conv2d = avx2_depthwise_list,
    .fully_connected = avx2_fc_list,
    .add = avx2_add_list,
    .prelu = avx2_prelu_list,
    .max_pool2d = avx2_max_pool_list,
    .average_pool2d = avx2_average_pool_list,
    .quantize_f32 = avx2_quantize_f32_list,
};
#endif  // __x86_64__

// ---- NEON and NEON dot product (AArch64) ----
#if defined(__aarch64__)
static const ci8_conv2d_ukernel neon_conv2d = {
    "qs8-conv/im2col-2x8c16-neon", NULL, ci8_neon_conv2d_prepared_size, ci8_neon_conv2d_prepare,
    ci8_neon_conv2d_scratch_size, ci8_neon_conv2d_run};
static const ci8_conv2d_ukernel neon_depthwise_conv2d = {
    "qs8-dwconv/1x16c-neon", ci8_neon_depthwise_conv2d_supports,
    ci8_neon_depthwise_conv2d_prepared_size, ci8_neon_depthwise_conv2d_prepare,
    ci8_neon_depthwise_conv2d_scratch_size, ci8_neon_depthwise_conv2d_run};
static const ci8_fully_connected_ukernel neon_fully_connected = {
    "qs8-fc/2x8c16-neon", NULL, ci8_neon_fully_connected_prepared_size,
    ci8_neon_fully_connected_prepare, ci8_neon_fully_connected_scratch_size,
    ci8_neon_fully_connected_run};
// ADD and PRELU run on the reference's prepared parameters.
static const ci8_binary_ukernel neon_add = {
    "qs8-vadd/x16-neon", ci8_neon_add_supports, ci8_ref_add_prepared_size, ci8_ref_add_prepare,
    ci8_neon_add_run};
static const ci8_binary_ukernel neon_prelu = {
    "qs8-vprelu/x16-neon", ci8_neon_prelu_supports, ci8_ref_prelu_prepared_size,
    ci8_ref_prelu_prepare, ci8_neon_prelu_run};
static const ci8_pool2d_ukernel neon_max_pool2d = {
    "qs8-maxpool/16c-neon", ci8_neon_max_pool2d_supports, ci8_neon_max_pool2d_run};
static const ci8_pool2d_ukernel neon_average_pool2d = {
    "qs8-avgpool/8c-neon", ci8_neon_average_pool2d_supports, ci8_neon_average_pool2d_run};
// sdot: CONV_2D and FULLY_CONNECTED; the other ops are the neon variants.
static const ci8_conv2d_ukernel neondot_conv2d = {
    "qs8-conv/im2col-4x16c4-neondot", NULL, ci8_neondot_conv2d_prepared_size,
    ci8_neondot_conv2d_prepare, ci8_neondot_conv2d_scratch_size, ci8_neondot_conv2d_run};
static const ci8_fully_connected_ukernel neondot_fully_connected = {
    "qs8-fc/4x16c4-neondot", NULL, ci8_neondot_fully_connected_prepared_size,
    ci8_neondot_fully_connected_prepare, ci8_neondot_fully_connected_scratch_size,
    ci8_neondot_fully_connected_run};

static const ci8_conv2d_ukernel *const neon_conv2d_list[] = {&neon_conv2d, NULL};
static const ci8_conv2d_ukernel *const neon_depthwise_list[] = {&neon_depthwise_conv2d, NULL};
static const ci8_fully_connected_ukernel *const neon_fc_list[] = {&neon_fully_connected, NULL};
static const ci8_binary_ukernel *const neon_add_list[] = {&neon_add, NULL};
static const ci8_binary_ukernel *const neon_prelu_list[] = {&neon_prelu, NULL};
static const ci8_pool2d_ukernel *const neon_max_pool_list[] = {&neon_max_pool2d, NULL};
static const ci8_pool2d_ukernel *const neon_average_pool_list[] = {&neon_average_pool2d, NULL};
static const ci8_conv2d_ukernel *const neondot_conv2d_list[] = {&neondot_conv2d, NULL};
static const ci8_fully_connected_ukernel *const neondot_fc_list[] = {&neondot_fully_connected,
                                                                     NULL};

static const ci8_kernels k_neon = {
    .isa = CI8_ISA_NEON,
    .conv2d = neon_conv2d_list,
    .depthwise_conv2d = neon_depthwise_list,
    .fully_connected = neon_fc_list,
    .add = neon_add_list,
    .prelu = neon_prelu_list,
    .max_pool2d = neon_max_pool_list,
    .average_pool2d = neon_average_pool_list,
};
static const ci8_kernels k_neon_dot = {
    .isa = CI8_ISA_NEON_DOT,
    .conv2d = neondot_conv2d_list,
    .depthwise_conv2d = neon_depthwise_list,
    .fully_connected = neondot_fc_list,
    .add = neon_add_list,
    .prelu = neon_prelu_list,
    .max_pool2d = neon_max_pool_list,
    .average_pool2d = neon_average_pool_list,
};
#endif  // __aarch64__

// ---- the sets this build contains (NULL: not built) ----
static const ci8_kernels *const k_sets[CI8_ISA_COUNT] = {
    [CI8_ISA_REFERENCE] = &k_reference,
#if defined(__x86_64__)
    [CI8_ISA_AVX2] = &k_avx2,
#endif
#if defined(__aarch64__)
    [CI8_ISA_NEON] = &k_neon,
    [CI8_ISA_NEON_DOT] = &k_neon_dot,
#endif
};

// Whether this CPU has the instructions of a set (independently of the build).
static int cpu_supports(ci8_isa isa) {
  switch (isa) {
    case CI8_ISA_REFERENCE: return 1;
    case CI8_ISA_AVX2:
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
      return 0;
#endif
    case CI8_ISA_NEON:
#if defined(__aarch64__)
      return 1;  // Advanced SIMD is mandatory in AArch64
#else
      return 0;
#endif
    case CI8_ISA_NEON_DOT:
#if defined(__aarch64__) && defined(__linux__)
      return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
      return 0;
#endif
    case CI8_ISA_COUNT: break;
  }
  return 0;
}

ci8_status ci8_kernels_get(ci8_isa isa, const ci8_kernels **table) {
  if (table == NULL) return CI8_ERR_BAD_PARAMS;
  *table = NULL;
  if ((int)isa < 0 || isa >= CI8_ISA_COUNT) return CI8_ERR_BAD_PARAMS;
  if (k_sets[isa] == NULL) return CI8_ERR_NOT_BUILT;
  if (!cpu_supports(isa)) return CI8_ERR_CPU_UNSUPPORTED;
  *table = k_sets[isa];
  return CI8_OK;
}

ci8_isa ci8_best_isa(void) {
  static const ci8_isa preference[] = {CI8_ISA_NEON_DOT, CI8_ISA_NEON, CI8_ISA_AVX2};
  for (size_t i = 0; i < sizeof preference / sizeof preference[0]; ++i) {
    const ci8_kernels *table;
    if (ci8_kernels_get(preference[i], &table) == CI8_OK) return preference[i];
  }
  return CI8_ISA_REFERENCE;
}

ci8_isa ci8_kernels_isa(const ci8_kernels *table) { return table->isa; }

const char *ci8_isa_name(ci8_isa isa) {
  switch (isa) {
    case CI8_ISA_REFERENCE: return "reference";
    case CI8_ISA_AVX2: return "avx2";
    case CI8_ISA_NEON: return "neon";
    case CI8_ISA_NEON_DOT: return "neon-dot";
    case CI8_ISA_COUNT: break;
  }
  return "unknown";
}

const char *ci8_cpu_description(void) {
#if defined(__x86_64__)
  return cpu_supports(CI8_ISA_AVX2) ? "x86-64 with avx2, fma" : "x86-64 without avx2+fma";
#elif defined(__aarch64__)
  return cpu_supports(CI8_ISA_NEON_DOT) ? "aarch64 with asimd, asimddp"
                                        : "aarch64 with asimd, without asimddp";
#else
  return "a CPU without a SIMD kernel set in this build";
#endif
}

const char *ci8_status_message(ci8_status status) {
  switch (status) {
    case CI8_OK: return "ok";
    case CI8_ERR_BAD_PARAMS: return "bad parameters";
    case CI8_ERR_BAD_SCALE: return "bad scale (zero, negative, not finite, or overflowing)";
    case CI8_ERR_UNSUPPORTED: return "unsupported configuration";
    case CI8_ERR_NOT_BUILT: return "kernel set not built for this architecture";
    case CI8_ERR_CPU_UNSUPPORTED: return "kernel set not supported by this CPU";
  }
  return "unknown status";
}

// ---- per-op selection: first supporting variant of the set, else the reference ----
#define CI8_DEFINE_SELECT(op, field, type, ukernel_type, reference)                 \
  ci8_status ci8_##op##_select(const ci8_kernels *kernels, type *desc) {             \
    if (kernels == NULL || desc == NULL) return CI8_ERR_BAD_PARAMS;                  \
    desc->ukernel = &reference;                                                      \
    for (const ukernel_type *const *v = kernels->field; v != NULL && *v != NULL; ++v) \
      if ((*v)->supports == NULL || (*v)->supports(desc)) {                          \
        desc->ukernel = *v;                                                          \
        break;                                                                       \
      }                                                                              \
    return CI8_OK;                                                                   \
  }

CI8_DEFINE_SELECT(conv2d, conv2d, ci8_conv2d, ci8_conv2d_ukernel, ref_conv2d)
CI8_DEFINE_SELECT(depthwise_conv2d, depthwise_conv2d, ci8_conv2d, ci8_conv2d_ukernel,
                  ref_depthwise_conv2d)
CI8_DEFINE_SELECT(fully_connected, fully_connected, ci8_fully_connected,
                  ci8_fully_connected_ukernel, ref_fully_connected)
CI8_DEFINE_SELECT(add, add, ci8_binary, ci8_binary_ukernel, ref_add)
CI8_DEFINE_SELECT(mul, mul, ci8_binary, ci8_binary_ukernel, ref_mul)
CI8_DEFINE_SELECT(prelu, prelu, ci8_binary, ci8_binary_ukernel, ref_prelu)
CI8_DEFINE_SELECT(max_pool2d, max_pool2d, ci8_pool2d, ci8_pool2d_ukernel, ref_max_pool2d)
CI8_DEFINE_SELECT(average_pool2d, average_pool2d, ci8_pool2d, ci8_pool2d_ukernel,
                  ref_average_pool2d)
CI8_DEFINE_SELECT(mean_hw, mean_hw, ci8_mean_hw, ci8_mean_hw_ukernel, ref_mean_hw)
CI8_DEFINE_SELECT(softmax, softmax, ci8_softmax, ci8_softmax_ukernel, ref_softmax)
CI8_DEFINE_SELECT(quantize_f32, quantize_f32, ci8_quantize_f32, ci8_quantize_f32_ukernel,
                  ref_quantize_f32)
