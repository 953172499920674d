// cint8: int8 kernels with TensorFlow Lite's int8 semantics, bit for bit.
//
// Kernel sets. Each kernel set (reference, AVX2, NEON, NEON dot product) is an immutable table
// of micro-kernels (kernels.c). A runtime gets one table per interpreter with ci8_kernels_get()
// and keeps it; nothing in the library is global, so interpreters with different sets can live
// side by side in one process.
//
// Every op with a table entry follows one life cycle, so that a runtime does all work that does
// not depend on the activations once, at load time:
//
//   1. The caller fills an op descriptor (geometry, zero points, scales, activation clamp).
//   2. ci8_<op>_select(kernels, op)  picks the micro-kernel for this descriptor: the set's first
//                                    variant that supports it, else the reference variant, and
//                                    stores it in op->ukernel. ci8_<op>_kernel_name(op) names it.
//   3. ci8_<op>_prepared_size(op)    -> bytes the op needs for prepared data (packed weights,
//                                      per-channel multipliers, lookup tables), 64-byte aligned.
//   4. ci8_<op>_prepare(op, constants..., prepared) computes them into caller-owned memory and
//      stores the pointer in op->prepared. Returns CI8_OK or a CI8_ERR_* code; never allocates.
//   5. ci8_<op>_scratch_size(op)     -> bytes of scratch the run needs (0 for most ops); the
//                                      caller places it in its arena.
//   6. ci8_<op>_run(op, inputs..., outputs...) per inference: no allocation, no I/O, no locks.
//
// Steps 3-6 call through op->ukernel, so the run always uses the variant that packed the
// weights: prepared-data layout is private to that variant. Copying a descriptor after prepare
// keeps both pointers (prepared data and micro-kernel) together.
//
// Ops whose only kernel is the portable one (PAD, CONCATENATION, RESIZE_*, lookup-table
// activations, QUANTIZE/DEQUANTIZE) are plain functions; CI8_KERNEL_* names them.
//
// Micro-kernel names follow one grammar, XNNPACK style: "<datatype>-<op>/<tile>-<isa>", e.g.
// "qs8-gemm/4x16-avx2" (a 4-pixel x 16-channel GEMM tile), "qs8-dwconv/4x16c-avx2",
// "qs8-conv/ref" (the portable reference kernel has no tile and says "ref").
//
// Tensors are dense, row-major, NHWC for images. The kernels trust their descriptors: the
// runtime validates shapes and parameters before calling select and prepare.
#ifndef CINT8_H
#define CINT8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------------------------
// Status, kernel sets

typedef enum ci8_status {
  CI8_OK = 0,
  CI8_ERR_BAD_PARAMS = 1,   // a descriptor field is out of range (negative size, zero stride...)
  CI8_ERR_BAD_SCALE = 2,    // a scale is zero, negative, not finite, or its multiplier overflows
  CI8_ERR_UNSUPPORTED = 3,  // a legal TFLite configuration this kernel set does not implement
  CI8_ERR_NOT_BUILT = 4,    // the kernel set is not compiled into this build (other architecture)
  CI8_ERR_CPU_UNSUPPORTED = 5,  // the kernel set is built but this CPU lacks its instructions
} ci8_status;

const char *ci8_status_message(ci8_status status);

typedef enum ci8_isa {
  CI8_ISA_REFERENCE = 0,  // portable C, everywhere
  CI8_ISA_AVX2 = 1,       // x86-64 with AVX2 and FMA
  CI8_ISA_NEON = 2,       // Armv8.0 AArch64 Advanced SIMD
  CI8_ISA_NEON_DOT = 3,   // Armv8.2 dot product (sdot)
  CI8_ISA_COUNT = 4,
} ci8_isa;

// One kernel set's table of micro-kernels: immutable, static lifetime.
typedef struct ci8_kernels ci8_kernels;

// The table of `isa`: CI8_OK, CI8_ERR_NOT_BUILT or CI8_ERR_CPU_UNSUPPORTED (then *table is NULL).
// Never a silent fallback to another set.
ci8_status ci8_kernels_get(ci8_isa isa, const ci8_kernels **table);
// The fastest set this build contains and this CPU supports.
ci8_isa ci8_best_isa(void);
ci8_isa ci8_kernels_isa(const ci8_kernels *table);
const char *ci8_isa_name(ci8_isa isa);  // "reference", "avx2", "neon", "neon-dot"
// The CPU as the kernel sets see it, for messages: e.g. "x86-64 with avx2, fma".
const char *ci8_cpu_description(void);

// ---------------------------------------------------------------------------------------------
// Fixed-point helpers (TFLite's QuantizeMultiplier / MultiplyByQuantizedMultiplier, with
// gemmlowp's double rounding: SaturatingRoundingDoublingHighMul then RoundingDivideByPOT).

// real_multiplier ~= quantized_multiplier * 2^(shift - 31), quantized_multiplier in [2^30, 2^31)
// (or 0 when real_multiplier is 0). shift > 0 is a left shift.
void ci8_quantize_multiplier(double real_multiplier, int32_t *quantized_multiplier,
                             int32_t *shift);
int32_t ci8_multiply_by_quantized_multiplier(int32_t x, int32_t quantized_multiplier,
                                             int32_t shift);

// ---------------------------------------------------------------------------------------------
// Convolutions. Filter layouts as in TFLite: CONV_2D [out_c][kh][kw][in_c],
// DEPTHWISE_CONV_2D [1][kh][kw][out_c] with out_c = in_c * depth_multiplier.
// Filter scales: one per output channel (filter_scale_count == output_channels) or one for the
// whole tensor (filter_scale_count == 1). Filter zero points are 0 (symmetric), as TFLite
// requires for int8 weights. Bias is int32 with scale input_scale * filter_scale, or NULL.

typedef struct ci8_conv2d {
  int32_t batches;
  int32_t input_height, input_width, input_channels;
  int32_t output_height, output_width, output_channels;
  int32_t filter_height, filter_width;
  int32_t stride_height, stride_width;
  int32_t dilation_height, dilation_width;
  int32_t padding_top, padding_left;   // SAME/VALID resolved by the caller, TFLite's formula
  int32_t depth_multiplier;            // depthwise only; ignored by conv2d
  float input_scale, output_scale;
  int32_t input_zero_point, output_zero_point;
  int32_t activation_min, activation_max;  // int8 clamp of the fused activation
  const float *filter_scales;
  int32_t filter_scale_count;
  void *prepared;                      // set by prepare
  const struct ci8_conv2d_ukernel *ukernel;  // set by select
} ci8_conv2d;

// A CONV_2D or DEPTHWISE_CONV_2D micro-kernel. supports == NULL: every descriptor.
typedef struct ci8_conv2d_ukernel {
  const char *name;
  int (*supports)(const ci8_conv2d *op);
  size_t (*prepared_size)(const ci8_conv2d *op);
  ci8_status (*prepare)(ci8_conv2d *op, const int8_t *filter, const int32_t *bias,
                        void *prepared);
  size_t (*scratch_size)(const ci8_conv2d *op);
  // Computes output rows [row_begin, row_end) of every batch (0 <= row_begin <= row_end <=
  // output_height), so that a caller can split the work across threads.
  void (*run)(const ci8_conv2d *op, const int8_t *input, int8_t *output, void *scratch,
              int32_t row_begin, int32_t row_end);
} ci8_conv2d_ukernel;

ci8_status ci8_conv2d_select(const ci8_kernels *kernels, ci8_conv2d *op);
ci8_status ci8_depthwise_conv2d_select(const ci8_kernels *kernels, ci8_conv2d *op);

// Both ops share the descriptor and the micro-kernel interface.
static inline const char *ci8_conv2d_kernel_name(const ci8_conv2d *op) {
  return op->ukernel->name;
}
static inline size_t ci8_conv2d_prepared_size(const ci8_conv2d *op) {
  return op->ukernel->prepared_size(op);
}
static inline ci8_status ci8_conv2d_prepare(ci8_conv2d *op, const int8_t *filter,
                                            const int32_t *bias, void *prepared) {
  return op->ukernel->prepare(op, filter, bias, prepared);
}
static inline size_t ci8_conv2d_scratch_size(const ci8_conv2d *op) {
  return op->ukernel->scratch_size(op);
}
static inline void ci8_conv2d_run(const ci8_conv2d *op, const int8_t *input, int8_t *output,
                                  void *scratch, int32_t row_begin, int32_t row_end) {
  op->ukernel->run(op, input, output, scratch, row_begin, row_end);
}

// ---------------------------------------------------------------------------------------------
// FULLY_CONNECTED: input [batches][input_depth], weights [output_depth][input_depth].

typedef struct ci8_fully_connected {
  int32_t batches, input_depth, output_depth;
  float input_scale, output_scale;
  int32_t input_zero_point, output_zero_point;
  int32_t activation_min, activation_max;
  const float *filter_scales;          // output_depth entries, or 1
  int32_t filter_scale_count;
  void *prepared;
  const struct ci8_fully_connected_ukernel *ukernel;
} ci8_fully_connected;

typedef struct ci8_fully_connected_ukernel {
  const char *name;
  int (*supports)(const ci8_fully_connected *op);
  size_t (*prepared_size)(const ci8_fully_connected *op);
  ci8_status (*prepare)(ci8_fully_connected *op, const int8_t *weights, const int32_t *bias,
                        void *prepared);
  size_t (*scratch_size)(const ci8_fully_connected *op);
  // Computes batches [batch_begin, batch_end).
  void (*run)(const ci8_fully_connected *op, const int8_t *input, int8_t *output, void *scratch,
              int32_t batch_begin, int32_t batch_end);
} ci8_fully_connected_ukernel;

ci8_status ci8_fully_connected_select(const ci8_kernels *kernels, ci8_fully_connected *op);
static inline const char *ci8_fully_connected_kernel_name(const ci8_fully_connected *op) {
  return op->ukernel->name;
}
static inline size_t ci8_fully_connected_prepared_size(const ci8_fully_connected *op) {
  return op->ukernel->prepared_size(op);
}
static inline ci8_status ci8_fully_connected_prepare(ci8_fully_connected *op,
                                                     const int8_t *weights, const int32_t *bias,
                                                     void *prepared) {
  return op->ukernel->prepare(op, weights, bias, prepared);
}
static inline size_t ci8_fully_connected_scratch_size(const ci8_fully_connected *op) {
  return op->ukernel->scratch_size(op);
}
static inline void ci8_fully_connected_run(const ci8_fully_connected *op, const int8_t *input,
                                           int8_t *output, void *scratch, int32_t batch_begin,
                                           int32_t batch_end) {
  op->ukernel->run(op, input, output, scratch, batch_begin, batch_end);
}

// ---------------------------------------------------------------------------------------------
// Broadcasting binary ops (ADD, MUL, PRELU's alpha). Shapes are right-aligned to CI8_MAX_RANK
// dims by the caller; a stride of 0 broadcasts that input along the dim.

#define CI8_MAX_RANK 6

typedef struct ci8_broadcast {
  int32_t output_shape[CI8_MAX_RANK];
  int32_t input1_strides[CI8_MAX_RANK];  // in elements
  int32_t input2_strides[CI8_MAX_RANK];
} ci8_broadcast;

typedef struct ci8_binary {
  ci8_broadcast shape;
  float input1_scale, input2_scale, output_scale;
  int32_t input1_zero_point, input2_zero_point, output_zero_point;
  int32_t activation_min, activation_max;
  void *prepared;
  const struct ci8_binary_ukernel *ukernel;
} ci8_binary;

// ADD, MUL and PRELU micro-kernels. PRELU: input1 = input, input2 = alpha (broadcast),
// output = x >= 0 ? x : alpha * x.
typedef struct ci8_binary_ukernel {
  const char *name;
  int (*supports)(const ci8_binary *op);
  size_t (*prepared_size)(const ci8_binary *op);
  ci8_status (*prepare)(ci8_binary *op, void *prepared);
  void (*run)(const ci8_binary *op, const int8_t *input1, const int8_t *input2, int8_t *output);
} ci8_binary_ukernel;

ci8_status ci8_add_select(const ci8_kernels *kernels, ci8_binary *op);
ci8_status ci8_mul_select(const ci8_kernels *kernels, ci8_binary *op);
ci8_status ci8_prelu_select(const ci8_kernels *kernels, ci8_binary *op);
static inline const char *ci8_binary_kernel_name(const ci8_binary *op) {
  return op->ukernel->name;
}
static inline size_t ci8_binary_prepared_size(const ci8_binary *op) {
  return op->ukernel->prepared_size(op);
}
static inline ci8_status ci8_binary_prepare(ci8_binary *op, void *prepared) {
  return op->ukernel->prepare(op, prepared);
}
static inline void ci8_binary_run(const ci8_binary *op, const int8_t *input1,
                                  const int8_t *input2, int8_t *output) {
  op->ukernel->run(op, input1, input2, output);
}

// ---------------------------------------------------------------------------------------------
// Pooling (MAX_POOL_2D, AVERAGE_POOL_2D): input and output share scale and zero point.

typedef struct ci8_pool2d {
  int32_t batches;
  int32_t input_height, input_width, channels;
  int32_t output_height, output_width;
  int32_t filter_height, filter_width;
  int32_t stride_height, stride_width;
  int32_t padding_top, padding_left;
  int32_t activation_min, activation_max;
  const struct ci8_pool2d_ukernel *ukernel;
} ci8_pool2d;

typedef struct ci8_pool2d_ukernel {
  const char *name;
  int (*supports)(const ci8_pool2d *op);
  void (*run)(const ci8_pool2d *op, const int8_t *input, int8_t *output);
} ci8_pool2d_ukernel;

ci8_status ci8_max_pool2d_select(const ci8_kernels *kernels, ci8_pool2d *op);
ci8_status ci8_average_pool2d_select(const ci8_kernels *kernels, ci8_pool2d *op);
static inline const char *ci8_pool2d_kernel_name(const ci8_pool2d *op) {
  return op->ukernel->name;
}
static inline void ci8_pool2d_run(const ci8_pool2d *op, const int8_t *input, int8_t *output) {
  op->ukernel->run(op, input, output);
}

// ---------------------------------------------------------------------------------------------
// MEAN over H and W of an NHWC tensor (axis [1, 2]). keep_dims is NOT only a shape change:
// TFLite's built-in resolver runs an integer-multiplier kernel when keep_dims is true and the
// generic reference reduction (integer division, or a float rescale) when it is false, and the
// two round differently. Set keep_dims from the op's ReducerOptions.

typedef struct ci8_mean_hw {
  int32_t batches, height, width, channels;
  float input_scale, output_scale;
  int32_t input_zero_point, output_zero_point;
  int32_t keep_dims;                   // boolean, from ReducerOptions.keep_dims
  void *prepared;
  const struct ci8_mean_hw_ukernel *ukernel;
} ci8_mean_hw;

typedef struct ci8_mean_hw_ukernel {
  const char *name;
  int (*supports)(const ci8_mean_hw *op);
  size_t (*prepared_size)(const ci8_mean_hw *op);
  ci8_status (*prepare)(ci8_mean_hw *op, void *prepared);
  size_t (*scratch_size)(const ci8_mean_hw *op);
  void (*run)(const ci8_mean_hw *op, const int8_t *input, int8_t *output, void *scratch);
} ci8_mean_hw_ukernel;

ci8_status ci8_mean_hw_select(const ci8_kernels *kernels, ci8_mean_hw *op);
static inline const char *ci8_mean_hw_kernel_name(const ci8_mean_hw *op) {
  return op->ukernel->name;
}
static inline size_t ci8_mean_hw_prepared_size(const ci8_mean_hw *op) {
  return op->ukernel->prepared_size(op);
}
static inline ci8_status ci8_mean_hw_prepare(ci8_mean_hw *op, void *prepared) {
  return op->ukernel->prepare(op, prepared);
}
static inline size_t ci8_mean_hw_scratch_size(const ci8_mean_hw *op) {
  return op->ukernel->scratch_size(op);
}
static inline void ci8_mean_hw_run(const ci8_mean_hw *op, const int8_t *input, int8_t *output,
                                   void *scratch) {
  op->ukernel->run(op, input, output, scratch);
}

// ---------------------------------------------------------------------------------------------
// Portable-only ops below: plain functions, one kernel each, named by these constants.
#define CI8_KERNEL_PAD "qs8-pad/ref"
#define CI8_KERNEL_CONCAT "qs8-concat/ref"
#define CI8_KERNEL_LUT "qs8-lut/ref"
#define CI8_KERNEL_REQUANTIZE "qs8-requantize-lut/ref"
#define CI8_KERNEL_DEQUANTIZE_F32 "qs8-f32-convert/ref"
#define CI8_KERNEL_RESIZE_NEAREST "qs8-resize-nearest/ref"
#define CI8_KERNEL_RESIZE_BILINEAR "qs8-resize-bilinear/ref"
#define CI8_KERNEL_COPY "copy"

// ---------------------------------------------------------------------------------------------
// PAD / PADV2 (right-aligned to CI8_MAX_RANK dims; unused leading dims have size 1, pads 0).

typedef struct ci8_pad {
  int32_t input_shape[CI8_MAX_RANK];
  int32_t pad_before[CI8_MAX_RANK];
  int32_t pad_after[CI8_MAX_RANK];
  int8_t pad_value;                    // output zero point for PAD, the constant for PADV2
} ci8_pad;

void ci8_pad_run(const ci8_pad *op, const int8_t *input, int8_t *output);

// ---------------------------------------------------------------------------------------------
// CONCATENATION: TFLite requires int8 inputs to share the output's scale and zero point, so it
// is a strided copy. Each input is viewed as [outer][axis_size_i * inner].

typedef struct ci8_concat {
  int32_t outer_size;
  int32_t input_count;
  const int32_t *input_row_sizes;      // axis_size_i * inner, per input
} ci8_concat;

void ci8_concat_run(const ci8_concat *op, const int8_t *const *inputs, int8_t *output);

// ---------------------------------------------------------------------------------------------
// SOFTMAX over the last dim: input [rows][depth]. TFLite requires the int8 output to have
// scale 1/256 and zero point -128.

typedef struct ci8_softmax {
  int32_t rows, depth;
  float beta;
  float input_scale, output_scale;
  int32_t input_zero_point, output_zero_point;
  void *prepared;
  const struct ci8_softmax_ukernel *ukernel;
} ci8_softmax;

typedef struct ci8_softmax_ukernel {
  const char *name;
  int (*supports)(const ci8_softmax *op);
  size_t (*prepared_size)(const ci8_softmax *op);
  ci8_status (*prepare)(ci8_softmax *op, void *prepared);
  void (*run)(const ci8_softmax *op, const int8_t *input, int8_t *output);
} ci8_softmax_ukernel;

ci8_status ci8_softmax_select(const ci8_kernels *kernels, ci8_softmax *op);
static inline const char *ci8_softmax_kernel_name(const ci8_softmax *op) {
  return op->ukernel->name;
}
static inline size_t ci8_softmax_prepared_size(const ci8_softmax *op) {
  return op->ukernel->prepared_size(op);
}
static inline ci8_status ci8_softmax_prepare(ci8_softmax *op, void *prepared) {
  return op->ukernel->prepare(op, prepared);
}
static inline void ci8_softmax_run(const ci8_softmax *op, const int8_t *input, int8_t *output) {
  op->ukernel->run(op, input, output);
}

// ---------------------------------------------------------------------------------------------
// Elementwise unary int8 -> int8 ops. Their output depends on one input byte only, so each is
// prepared as a 256-entry table filled by TFLite's exact scalar arithmetic for that op, and run
// as a table lookup. ci8_lut_run(table, in, out, n): out[i] = table[(uint8_t)in[i]].

typedef struct ci8_unary_quant {
  float input_scale, output_scale;
  int32_t input_zero_point, output_zero_point;
} ci8_unary_quant;

// RELU (min 0, max +inf), RELU6 (0, 6), RELU_N1_TO_1 (-1, 1): pass the real bounds;
// use INFINITY for "no upper bound".
ci8_status ci8_lut_relu(const ci8_unary_quant *q, float real_min, float real_max,
                        int8_t table[256]);
ci8_status ci8_lut_leaky_relu(const ci8_unary_quant *q, float alpha, int8_t table[256]);
ci8_status ci8_lut_logistic(const ci8_unary_quant *q, int8_t table[256]);
ci8_status ci8_lut_tanh(const ci8_unary_quant *q, int8_t table[256]);
ci8_status ci8_lut_hard_swish(const ci8_unary_quant *q, int8_t table[256]);
// QUANTIZE int8 -> int8 (requantization to another scale/zero point). LiteRT handles whole
// blocks of CI8_REQUANTIZE_BLOCK elements on a vector path whose rounding breaks ties upward and
// the remaining count % CI8_REQUANTIZE_BLOCK tail elements on the scalar path (ties away from
// zero), so bit-exact QUANTIZE needs both tables:
//   ci8_lut_requantize(q, tail);  ci8_lut_requantize_block(q, block);
//   ci8_lut_run_blocked(block, tail, CI8_REQUANTIZE_BLOCK, in, out, n);
#define CI8_REQUANTIZE_BLOCK 16
ci8_status ci8_lut_requantize(const ci8_unary_quant *q, int8_t table[256]);
ci8_status ci8_lut_requantize_block(const ci8_unary_quant *q, int8_t table[256]);

void ci8_lut_run(const int8_t table[256], const int8_t *input, int8_t *output, size_t count);
// out[i] = (i < count - count % block ? block_table : tail_table)[(uint8_t)in[i]].
void ci8_lut_run_blocked(const int8_t block_table[256], const int8_t tail_table[256],
                         size_t block, const int8_t *input, int8_t *output, size_t count);

// ---------------------------------------------------------------------------------------------
// QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32. The plain functions are the
// reference; QUANTIZE (a float model's first op, one conversion per input value) also has a
// descriptor selected from a kernel set like the ops above.

typedef struct ci8_quantize_f32 {
  size_t count;
  float scale;
  int32_t zero_point;
  const struct ci8_quantize_f32_ukernel *ukernel;
} ci8_quantize_f32;

typedef struct ci8_quantize_f32_ukernel {
  const char *name;
  int (*supports)(const ci8_quantize_f32 *op);
  void (*run)(const ci8_quantize_f32 *op, const float *input, int8_t *output);
} ci8_quantize_f32_ukernel;

ci8_status ci8_quantize_f32_select(const ci8_kernels *kernels, ci8_quantize_f32 *op);
static inline const char *ci8_quantize_f32_kernel_name(const ci8_quantize_f32 *op) {
  return op->ukernel->name;
}
static inline void ci8_quantize_f32_op_run(const ci8_quantize_f32 *op, const float *input,
                                           int8_t *output) {
  op->ukernel->run(op, input, output);
}

void ci8_quantize_f32_run(const float *input, int8_t *output, size_t count, float scale,
                          int32_t zero_point);
void ci8_dequantize_f32_run(const int8_t *input, float *output, size_t count, float scale,
                            int32_t zero_point);

// ---------------------------------------------------------------------------------------------
// RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (NHWC; output keeps the input's quantization).

typedef struct ci8_resize {
  int32_t batches, input_height, input_width, channels;
  int32_t output_height, output_width;
  int32_t align_corners, half_pixel_centers;  // booleans
} ci8_resize;

void ci8_resize_nearest_run(const ci8_resize *op, const int8_t *input, int8_t *output);
void ci8_resize_bilinear_run(const ci8_resize *op, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif  // CINT8_H
