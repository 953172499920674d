// kernel-test: random differential test of cint8's kernel sets against the reference set.
// For every kernel set this build contains and this CPU supports (ci8_kernels_get), and every
// case, it selects, prepares and runs the op once with the reference table and once with the
// set's table, the second run split into random row (batch) ranges, and compares statuses and
// output bytes (plus guard bytes after the output). Both prepared ops are alive at once, as two
// interpreters with different sets would be. When no SIMD set runs here (e.g. qemu -cpu
// Nehalem) it checks that the SIMD sets are refused with an error and runs the same cases on
// the reference table alone (full run vs. split runs), reported as "reference-fallback".
// Each SIMD set's requantization helpers are also tested directly (rounding_test.c).
// One line per set: "kernel-test set <name>: P passed, F failed"; the last line sums them.
//
// usage: kernel_test [cases_per_op] [seed]
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cint8.h"
#if defined(__x86_64__)
#include "../../Sources/CInt8/x86/ci8_avx2.h"  // ci8_avx2_requant, tested directly below
#endif

// ---- random numbers (splitmix64) ----
static uint64_t g_rng;
static uint64_t rnd64(void) {
  uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static int32_t rint_in(int32_t lo, int32_t hi) {  // inclusive
  return lo + (int32_t)(rnd64() % (uint64_t)(hi - lo + 1));
}
static int chance(int percent) { return rint_in(0, 99) < percent; }
static double runit(void) { return (double)(rnd64() >> 11) / 9007199254740992.0; }
static float rscale(double lo_exp, double hi_exp) {  // 10^U(lo, hi), or a power of two
  if (chance(15)) return ldexpf(1.0f, rint_in((int32_t)(lo_exp * 3.3), (int32_t)(hi_exp * 3.3)));
  return (float)pow(10.0, lo_exp + (hi_exp - lo_exp) * runit());
}
static int32_t rzero_point(void) {
  switch (rint_in(0, 5)) {
    case 0: return -128;
    case 1: return 127;
    case 2: return 0;
    default: return rint_in(-128, 127);
  }
}
static int32_t pick(const int32_t *v, int n) { return v[rint_in(0, n - 1)]; }
static int32_t rchannels(void) {
  static const int32_t special[] = {1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 40, 48, 64};
  return chance(50) ? pick(special, 18) : rint_in(1, 72);
}
// Activations: random, or saturating (all -128 / all 127), or few distinct values.
static void fill_act(int8_t *p, size_t n) {
  const int mode = rint_in(0, 9);
  for (size_t i = 0; i < n; ++i) {
    if (mode == 0) p[i] = -128;
    else if (mode == 1) p[i] = 127;
    else if (mode == 2) p[i] = (int8_t)(chance(50) ? -128 : 127);
    else p[i] = (int8_t)rint_in(-128, 127);
  }
}
static void fill_weights(int8_t *p, size_t n) {
  const int mode = rint_in(0, 9);
  for (size_t i = 0; i < n; ++i) {
    if (mode == 0) p[i] = -127;
    else if (mode == 1) p[i] = 127;
    else if (mode == 2) p[i] = (int8_t)(chance(50) ? -128 : 127);
    else p[i] = (int8_t)rint_in(-127, 127);
  }
}
static int32_t *make_bias(int32_t n) {
  if (chance(10)) return NULL;
  int32_t *b = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
  const int big = chance(10);
  for (int32_t i = 0; i < n; ++i)
    b[i] = big ? (int32_t)(uint32_t)rnd64() : rint_in(-(1 << 20), 1 << 20);
  return b;
}
static float *make_filter_scales(int32_t channels, int32_t *count) {
  *count = chance(30) ? 1 : channels;
  float *s = malloc(sizeof(float) * (size_t)*count);
  for (int32_t i = 0; i < *count; ++i) s[i] = chance(2) ? 0.0f : rscale(-4, -1);
  return s;
}
static void activation(int32_t zp, int32_t *lo, int32_t *hi) {
  switch (rint_in(0, 3)) {
    case 0: *lo = -128; *hi = 127; break;
    case 1: *lo = zp; *hi = 127; break;  // RELU
    case 2: *lo = zp; *hi = zp + rint_in(0, 127 - zp); break;
    default: *lo = rint_in(-128, 127); *hi = rint_in(*lo, 127); break;
  }
}

// ---- bookkeeping ----
static long g_passed, g_failed;
#define GUARD 64
static void *xalloc(size_t n) {  // 64-byte aligned, garbage-filled
  void *p = aligned_alloc(64, (n + GUARD + 63) / 64 * 64);
  for (size_t i = 0; i < n + GUARD; ++i) ((uint8_t *)p)[i] = (uint8_t)rnd64();
  return p;
}
static void report(const char *op, long cases, long bad, int ok_statuses) {
  printf("  %-18s %6ld cases, %6ld prepared, %ld mismatches\n", op, cases, (long)ok_statuses, bad);
}

// Runs `total` rows in 1..3 random pieces through run(op_ctx, begin, end).
typedef void (*run_fn)(void *ctx, int32_t begin, int32_t end);
static void run_split(run_fn fn, void *ctx, int32_t total) {
  int32_t a = 0, b = total;
  if (total > 1 && chance(60)) {
    a = rint_in(0, total);
    b = rint_in(a, total);
  }
  if (a > 0) fn(ctx, 0, a);
  if (b > a) fn(ctx, a, b);
  if (total > b) fn(ctx, b, total);
  if (total == 0) fn(ctx, 0, 0);
}

// ---- convolutions ----
// Layer geometries of the shipped models (models/*.tflite, from `facecam inspect`): ih, iw,
// ic, oh, ow, oc, kh, kw, stride, pad_top, pad_left in the fields of the same names.
#define L(ih, iw, ic, oh, ow, oc, k, s, pt, pl) \
  {.input_height = ih, .input_width = iw, .input_channels = ic, .output_height = oh,      \
   .output_width = ow, .output_channels = oc, .filter_height = k, .filter_width = k,     \
   .stride_height = s, .padding_top = pt, .padding_left = pl}
#define LR(ih, iw, ic, oh, ow, oc, kh, kw, s, pt, pl) /* a kh x kw filter */              \
  {.input_height = ih, .input_width = iw, .input_channels = ic, .output_height = oh,      \
   .output_width = ow, .output_channels = oc, .filter_height = kh, .filter_width = kw,   \
   .stride_height = s, .padding_top = pt, .padding_left = pl}
static const ci8_conv2d k_model_convs[] = {
    L(64, 64, 1, 62, 62, 8, 3, 1, 0, 0),      // expression op 0
    L(62, 62, 8, 60, 60, 8, 3, 1, 0, 0),      // expression op 1
    L(60, 60, 8, 30, 30, 16, 1, 2, 0, 0),     // expression op 2 (1x1 stride 2)
    L(60, 60, 8, 60, 60, 16, 1, 1, 0, 0),     // expression op 4
    L(60, 60, 16, 60, 60, 16, 1, 1, 0, 0),    // expression op 6
    L(15, 15, 32, 8, 8, 64, 1, 2, 0, 0),      // expression op 16
    L(4, 4, 128, 4, 4, 7, 1, 1, 0, 0),        // expression op 30
    L(128, 128, 3, 64, 64, 24, 5, 2, 1, 1),   // blazeface op 0 (5x5 stride 2 SAME)
    L(64, 64, 24, 64, 64, 28, 1, 1, 0, 0),    // blazeface op 6
    L(16, 16, 88, 16, 16, 2, 1, 1, 0, 0),     // blazeface op 46
    L(16, 16, 88, 16, 16, 32, 1, 1, 0, 0),    // blazeface op 48
    L(48, 48, 3, 46, 46, 32, 3, 1, 0, 0),     // onet-like first layer (3x3 VALID)
    LR(49, 10, 1, 25, 5, 64, 10, 4, 2, 4, 1), // MLPerf Tiny keyword spotting op 1 (10x4 s2)
    L(25, 5, 64, 25, 5, 64, 1, 1, 0, 0),      // keyword spotting ops 3, 5, 7, 9
};
static const ci8_conv2d k_model_depthwise[] = {
    L(64, 64, 24, 64, 64, 24, 3, 1, 1, 1),    // blazeface op 1
    L(64, 64, 28, 32, 32, 28, 3, 2, 0, 0),    // blazeface op 10 (stride 2)
    L(16, 16, 88, 16, 16, 88, 3, 1, 1, 1),    // blazeface op 45-ish widths
    L(60, 60, 8, 60, 60, 8, 3, 1, 1, 1),      // expression op 3
    L(60, 60, 16, 60, 60, 16, 3, 1, 1, 1),    // expression op 5
    L(8, 8, 128, 8, 8, 128, 3, 1, 1, 1),      // expression op 26
    L(32, 32, 36, 32, 32, 36, 3, 1, 1, 1),    // blazeface op 18 (36 = 16 + 16 + 4)
    L(32, 32, 42, 16, 16, 42, 3, 2, 0, 0),    // blazeface op 23 (42 = 16 + 16 + 8 + 2)
    L(16, 16, 56, 16, 16, 56, 3, 1, 1, 1),    // blazeface op 31 (56 = 16 * 3 + 8)
    L(48, 48, 8, 48, 48, 8, 3, 1, 1, 1),      // visual wake words op 2
    L(48, 48, 16, 24, 24, 16, 3, 2, 0, 0),    // visual wake words op 4 (stride 2)
    L(3, 3, 256, 3, 3, 256, 3, 1, 1, 1),      // visual wake words op 26
    L(25, 5, 64, 25, 5, 64, 3, 1, 1, 1),      // keyword spotting ops 2, 4, 6, 8 (5 wide)
};
#undef L
#undef LR
static const ci8_conv2d *g_fixed_conv;  // when set, conv_cases cycles through these shapes
static long g_fixed_conv_count;
typedef struct conv_case {
  ci8_conv2d op;
  int depthwise;
  const int8_t *input;
  int8_t *output;
  void *scratch;
} conv_case;

static void conv_run(void *ctx, int32_t begin, int32_t end) {
  conv_case *c = ctx;
  ci8_conv2d_run(&c->op, c->input, c->output, c->scratch, begin, end);
}

static int out_size(int32_t in, int32_t k, int32_t stride, int32_t dil, int same, int32_t *pad) {
  const int32_t eff = (k - 1) * dil + 1;
  if (same) {
    const int32_t out = (in + stride - 1) / stride;
    const int32_t total = (out - 1) * stride + eff - in;
    *pad = total > 0 ? total / 2 : 0;
    return out;
  }
  *pad = 0;
  return in >= eff ? (in - eff) / stride + 1 : 0;
}

// Selects, prepares and runs one case with table k; returns the status, output in *out.
static ci8_status conv_once(const ci8_kernels *k, ci8_conv2d op, int depthwise,
                            const int8_t *filter, const int32_t *bias, const int8_t *input,
                            int8_t *output, int split) {
  const ci8_status sel = depthwise ? ci8_depthwise_conv2d_select(k, &op)
                                   : ci8_conv2d_select(k, &op);
  if (sel != CI8_OK) return sel;
  void *prepared = xalloc(ci8_conv2d_prepared_size(&op));
  const ci8_status st = ci8_conv2d_prepare(&op, filter, bias, prepared);
  if (st == CI8_OK) {
    const size_t ssize = ci8_conv2d_scratch_size(&op);
    conv_case c = {op, depthwise, input, output, xalloc(ssize)};
    if (split) run_split(conv_run, &c, op.output_height);
    else conv_run(&c, 0, op.output_height);
    free(c.scratch);
  }
  free(prepared);
  return st;
}

static long conv_cases(int depthwise, long n, const ci8_kernels *ref_k, const ci8_kernels *simd,
                       long *bad_out, long *ok_out) {
  long bad = 0, ok = 0;
  for (long i = 0; i < n; ++i) {
    ci8_conv2d op;
    memset(&op, 0, sizeof op);
    op.batches = chance(85) ? 1 : rint_in(1, 3);
    op.input_height = rint_in(1, 14);
    op.input_width = rint_in(1, 14);
    if (chance(5)) {  // big enough that the depthwise kernel splits the rows into several bands
      op.input_height = rint_in(15, 40);
      op.input_width = rint_in(20, 48);
    }
    op.depth_multiplier = depthwise ? (chance(60) ? 1 : rint_in(1, 3)) : 1;
    op.input_channels = (!depthwise && chance(15)) ? rint_in(1, 4) : rchannels();
    op.output_channels = depthwise ? op.input_channels * op.depth_multiplier : rchannels();
    static const int32_t ks[] = {1, 1, 3, 3, 5, 2, 7};
    op.filter_height = pick(ks, chance(90) ? 5 : 7);
    op.filter_width = chance(80) ? op.filter_height : pick(ks, 5);
    op.stride_height = chance(70) ? rint_in(1, 2) : rint_in(1, 3);
    op.stride_width = chance(80) ? op.stride_height : rint_in(1, 3);
    op.dilation_height = chance(85) ? 1 : rint_in(1, 3);
    op.dilation_width = chance(85) ? 1 : rint_in(1, 3);
    const int same = chance(60);
    op.output_height = out_size(op.input_height, op.filter_height, op.stride_height,
                                op.dilation_height, same, &op.padding_top);
    op.output_width = out_size(op.input_width, op.filter_width, op.stride_width,
                               op.dilation_width, same, &op.padding_left);
    if (g_fixed_conv) {  // a shipped model's layer: its geometry, random everything else
      const ci8_conv2d *f = &g_fixed_conv[i % g_fixed_conv_count];
      op.batches = 1;
      op.input_height = f->input_height; op.input_width = f->input_width;
      op.input_channels = f->input_channels;
      op.output_height = f->output_height; op.output_width = f->output_width;
      op.output_channels = f->output_channels;
      op.filter_height = f->filter_height; op.filter_width = f->filter_width;
      op.stride_height = op.stride_width = f->stride_height;
      op.dilation_height = op.dilation_width = 1;
      op.padding_top = f->padding_top; op.padding_left = f->padding_left;
      op.depth_multiplier = 1;
    }
    if (op.output_height == 0 || op.output_width == 0) { --i; continue; }
    op.input_scale = rscale(-3, 0);
    op.output_scale = chance(1) ? 1e-12f : rscale(-3, 1);
    op.input_zero_point = rzero_point();
    op.output_zero_point = rzero_point();
    activation(op.output_zero_point, &op.activation_min, &op.activation_max);
    float *fscales = make_filter_scales(op.output_channels, &op.filter_scale_count);
    op.filter_scales = fscales;
    const size_t fsize = depthwise ? (size_t)op.filter_height * op.filter_width * op.output_channels
                                   : (size_t)op.output_channels * op.filter_height *
                                         op.filter_width * op.input_channels;
    const size_t isize = (size_t)op.batches * op.input_height * op.input_width * op.input_channels;
    const size_t osize = (size_t)op.batches * op.output_height * op.output_width * op.output_channels;
    int8_t *filter = malloc(fsize), *input = malloc(isize);
    fill_weights(filter, fsize);
    fill_act(input, isize);
    int32_t *bias = make_bias(op.output_channels);
    int8_t *ref = xalloc(osize), *got = xalloc(osize);
    memcpy(got + osize, ref + osize, GUARD);  // same guard bytes
    const ci8_status st_ref = conv_once(ref_k, op, depthwise, filter, bias, input, ref, 0);
    const ci8_status st_got = conv_once(simd, op, depthwise, filter, bias, input, got, 1);
    int mismatch = st_ref != st_got;
    if (!mismatch && st_ref == CI8_OK) mismatch = memcmp(ref, got, osize + GUARD) != 0;
    if (st_ref == CI8_OK) ++ok;
    if (mismatch) {
      if (bad < 5) {
        size_t at = 0;
        while (at < osize + GUARD && ref[at] == got[at]) ++at;
        fprintf(stderr,
                "MISMATCH %s case %ld: b%d %dx%dx%d -> %dx%dx%d k%dx%d s%d,%d d%d,%d p%d,%d dm%d "
                "zp %d/%d act [%d,%d] scales %d status %d/%d first diff at %zu (%d vs %d)\n",
                depthwise ? "depthwise" : "conv", i, op.batches, op.input_height,
                op.input_width, op.input_channels, op.output_height, op.output_width,
                op.output_channels, op.filter_height, op.filter_width, op.stride_height,
                op.stride_width, op.dilation_height, op.dilation_width, op.padding_top,
                op.padding_left, op.depth_multiplier, op.input_zero_point, op.output_zero_point,
                op.activation_min, op.activation_max, op.filter_scale_count, st_ref, st_got, at,
                at < osize + GUARD ? ref[at] : 0, at < osize + GUARD ? got[at] : 0);
      }
      ++bad;
    }
    free(filter); free(input); free(bias); free(fscales); free(ref); free(got);
  }
  *bad_out = bad;
  *ok_out = ok;
  return n;
}

// ---- fully connected ----
typedef struct fc_case {
  ci8_fully_connected op;
  const int8_t *input;
  int8_t *output;
  void *scratch;
} fc_case;
static void fc_run(void *ctx, int32_t begin, int32_t end) {
  fc_case *c = ctx;
  ci8_fully_connected_run(&c->op, c->input, c->output, c->scratch, begin, end);
}
static ci8_status fc_once(const ci8_kernels *k, ci8_fully_connected op, const int8_t *w,
                          const int32_t *bias, const int8_t *input, int8_t *output, int split) {
  const ci8_status sel = ci8_fully_connected_select(k, &op);
  if (sel != CI8_OK) return sel;
  void *prepared = xalloc(ci8_fully_connected_prepared_size(&op));
  const ci8_status st = ci8_fully_connected_prepare(&op, w, bias, prepared);
  if (st == CI8_OK) {
    fc_case c = {op, input, output, xalloc(ci8_fully_connected_scratch_size(&op))};
    if (split) run_split(fc_run, &c, op.batches);
    else fc_run(&c, 0, op.batches);
    free(c.scratch);
  }
  free(prepared);
  return st;
}
static long fc_cases(long n, const ci8_kernels *ref_k, const ci8_kernels *simd, long *bad_out,
                     long *ok_out) {
  long bad = 0, ok = 0;
  for (long i = 0; i < n; ++i) {
    ci8_fully_connected op;
    memset(&op, 0, sizeof op);
    op.batches = chance(50) ? 1 : rint_in(1, 10);
    op.input_depth = chance(50) ? rchannels() : rint_in(1, 600);
    op.output_depth = chance(50) ? rchannels() : rint_in(1, 130);
    op.input_scale = rscale(-3, 0);
    op.output_scale = chance(1) ? 1e-12f : rscale(-3, 1);
    op.input_zero_point = rzero_point();
    op.output_zero_point = rzero_point();
    activation(op.output_zero_point, &op.activation_min, &op.activation_max);
    float *fscales = make_filter_scales(op.output_depth, &op.filter_scale_count);
    op.filter_scales = fscales;
    const size_t wsize = (size_t)op.output_depth * op.input_depth;
    const size_t isize = (size_t)op.batches * op.input_depth;
    const size_t osize = (size_t)op.batches * op.output_depth;
    int8_t *w = malloc(wsize), *input = malloc(isize);
    fill_weights(w, wsize);
    fill_act(input, isize);
    int32_t *bias = make_bias(op.output_depth);
    int8_t *ref = xalloc(osize), *got = xalloc(osize);
    memcpy(got + osize, ref + osize, GUARD);
    const ci8_status st_ref = fc_once(ref_k, op, w, bias, input, ref, 0);
    const ci8_status st_got = fc_once(simd, op, w, bias, input, got, 1);
    int mismatch = st_ref != st_got;
    if (!mismatch && st_ref == CI8_OK) mismatch = memcmp(ref, got, osize + GUARD) != 0;
    if (st_ref == CI8_OK) ++ok;
    if (mismatch) {
      if (bad < 5)
        fprintf(stderr, "MISMATCH fully_connected case %ld: b%d %d -> %d zp %d/%d status %d/%d\n",
                i, op.batches, op.input_depth, op.output_depth, op.input_zero_point,
                op.output_zero_point, st_ref, st_got);
      ++bad;
    }
    free(w); free(input); free(bias); free(fscales); free(ref); free(got);
  }
  *bad_out = bad;
  *ok_out = ok;
  return n;
}

// ---- binary ops: both tables' ops prepared first, then both run ----
typedef ci8_status (*binary_select_fn)(const ci8_kernels *, ci8_binary *);
static void binary_pair(binary_select_fn select, const ci8_kernels *ref_k,
                        const ci8_kernels *simd, ci8_binary op, const int8_t *a, const int8_t *b,
                        int8_t *ref, int8_t *got, ci8_status st[2]) {
  ci8_binary o[2] = {op, op};
  void *prepared[2] = {NULL, NULL};
  for (int pass = 0; pass < 2; ++pass) {
    st[pass] = select(pass == 0 ? ref_k : simd, &o[pass]);
    if (st[pass] != CI8_OK) continue;
    prepared[pass] = xalloc(ci8_binary_prepared_size(&o[pass]));
    st[pass] = ci8_binary_prepare(&o[pass], prepared[pass]);
  }
  for (int pass = 0; pass < 2; ++pass)
    if (st[pass] == CI8_OK) ci8_binary_run(&o[pass], a, b, pass == 0 ? ref : got);
  free(prepared[0]);
  free(prepared[1]);
}

// ---- add (broadcasting) ----
static long add_cases(long n, const ci8_kernels *ref_k, const ci8_kernels *simd, long *bad_out,
                      long *ok_out) {
  long bad = 0, ok = 0;
  for (long i = 0; i < n; ++i) {
    ci8_binary op;
    memset(&op, 0, sizeof op);
    // NHWC-like shape right-aligned to 6 dims; input2 broadcasts some dims (stride 0).
    int32_t shape[CI8_MAX_RANK] = {1, 1, 1, 1, 1, 1};
    shape[2] = chance(20) ? 1 : rint_in(1, 3);
    shape[3] = rint_in(1, 12);
    shape[4] = rint_in(1, 12);
    shape[5] = rchannels();
    // grid: every (a, b) byte pair once (256 x 256 dense elements).
    const int grid = chance(8);
    if (grid) {
      shape[2] = 1;
      shape[3] = 16;
      shape[4] = 16;
      shape[5] = 256;
    }
    // broadcast: 0 none, 1 random dims, 2 a per-channel vector (last dim only), 3 a scalar;
    // swap: input1 is the broadcast one.
    const int broadcast = grid || chance(60) ? 0 : rint_in(1, 3);
    const int swap = broadcast && chance(30);
    size_t total = 1, total2 = 1;
    int32_t *full = swap ? op.shape.input2_strides : op.shape.input1_strides;
    int32_t *part = swap ? op.shape.input1_strides : op.shape.input2_strides;
    for (int k = CI8_MAX_RANK - 1; k >= 0; --k) {
      op.shape.output_shape[k] = shape[k];
      full[k] = shape[k] > 1 ? (int32_t)total : 0;
      total *= (size_t)shape[k];
    }
    for (int k = CI8_MAX_RANK - 1; k >= 0; --k) {
      const int keep = broadcast == 0 || (broadcast == 1 && chance(50)) ||
                       (broadcast == 2 && k == CI8_MAX_RANK - 1);
      part[k] = (keep && shape[k] > 1) ? (int32_t)total2 : 0;
      if (keep) total2 *= (size_t)shape[k];
    }
    op.input1_scale = rscale(-3, 0);
    op.input2_scale = chance(20) ? op.input1_scale : rscale(-3, 0);
    op.output_scale = chance(1) ? 1e-12f : rscale(-3, 0.5);
    switch (rint_in(0, 11)) {  // multiplier corners
      case 0:  // input2 just below input1: its multiplier near 2^31 (mh rounds up to 2^15)
        op.input2_scale = op.input1_scale * (1.0f - ldexpf(1.0f, -rint_in(14, 23)));
        break;
      case 1:  // input2 tiny: large right shifts (> 14), or flushed to zero
        op.input2_scale = op.input1_scale * ldexpf(1.0f, -rint_in(12, 40));
        break;
      case 2:  // output multiplier just below one (shift 0), or tiny (shift near 31)
        op.output_scale = chance(50)
                              ? op.input1_scale * 2.0f * (1.0f + ldexpf(1.0f, -rint_in(1, 22)))
                              : op.input1_scale * ldexpf(1.0f, rint_in(6, 12));
        break;
      case 3:  // equal scales (input multipliers exactly 2^30, shift 0)
        op.input2_scale = op.input1_scale;
        op.output_scale = op.input1_scale * (chance(50) ? 1.0f : 0.5f);
        break;
      case 4:
      case 5:  // input2 small and the output step near input2's: input2's rescaled LSBs (its
               // rounding shift, ties included) reach the output
        op.input2_scale = op.input1_scale * ldexpf((float)(1.0 + runit()), -rint_in(6, 19));
        op.output_scale = op.input2_scale * (float)(0.5 + 4.0 * runit());
        break;
      default: break;
    }
    op.input1_zero_point = rzero_point();
    op.input2_zero_point = rzero_point();
    op.output_zero_point = rzero_point();
    activation(op.output_zero_point, &op.activation_min, &op.activation_max);
    const size_t total_a = swap ? total2 : total, total_b = swap ? total : total2;
    int8_t *a = malloc(total_a), *b = malloc(total_b);
    fill_act(a, total_a);
    fill_act(b, total_b);
    if (grid) {
      for (size_t j = 0; j < total; ++j) {
        a[j] = (int8_t)(uint8_t)(j & 255);
        b[j] = (int8_t)(uint8_t)(j >> 8);
      }
    } else if (chance(10)) {  // input1 at its zero point: the output sees input2's rescale alone
      memset(a, op.input1_zero_point, total_a);
    }
    int8_t *ref = xalloc(total), *got = xalloc(total);
    memcpy(got + total, ref + total, GUARD);
    ci8_status st[2];
    binary_pair(ci8_add_select, ref_k, simd, op, a, b, ref, got, st);
    int mismatch = st[0] != st[1];
    if (!mismatch && st[0] == CI8_OK) mismatch = memcmp(ref, got, total + GUARD) != 0;
    if (st[0] == CI8_OK) ++ok;
    if (mismatch) {
      if (bad < 5)
        fprintf(stderr, "MISMATCH add case %ld: shape %dx%dx%dx%d broadcast %d swap %d status %d/%d\n",
                i, shape[2], shape[3], shape[4], shape[5], broadcast, swap, st[0], st[1]);
      ++bad;
    }
    free(a); free(b); free(ref); free(got);
  }
  *bad_out = bad;
  *ok_out = ok;
  return n;
}

// ---- max / average pool ----
static long pool_cases(int average, long n, const ci8_kernels *ref_k, const ci8_kernels *simd,
                       long *bad_out, long *ok_out) {
  long bad = 0;
  for (long i = 0; i < n; ++i) {
    ci8_pool2d op;
    memset(&op, 0, sizeof op);
    op.batches = chance(85) ? 1 : rint_in(1, 3);
    op.input_height = rint_in(1, 14);
    op.input_width = rint_in(1, 14);
    op.channels = chance(20) ? rint_in(1, 160) : rchannels();
    op.filter_height = chance(70) ? rint_in(2, 3) : rint_in(1, 6);
    op.filter_width = chance(80) ? op.filter_height : rint_in(1, 6);
    op.stride_height = chance(70) ? rint_in(1, 2) : rint_in(1, 4);
    op.stride_width = chance(80) ? op.stride_height : rint_in(1, 4);
    const int same = chance(60);
    op.output_height = out_size(op.input_height, op.filter_height, op.stride_height, 1, same,
                                &op.padding_top);
    op.output_width = out_size(op.input_width, op.filter_width, op.stride_width, 1, same,
                               &op.padding_left);
    if (op.output_height == 0 || op.output_width == 0) { --i; continue; }
    const int32_t zp = rzero_point();
    activation(zp, &op.activation_min, &op.activation_max);
    const size_t isize = (size_t)op.batches * op.input_height * op.input_width * op.channels;
    const size_t osize = (size_t)op.batches * op.output_height * op.output_width * op.channels;
    int8_t *input = malloc(isize);
    fill_act(input, isize);
    int8_t *ref = xalloc(osize), *got = xalloc(osize);
    memcpy(got + osize, ref + osize, GUARD);
    ci8_pool2d op_ref = op, op_got = op;
    ci8_status (*select)(const ci8_kernels *, ci8_pool2d *) =
        average ? ci8_average_pool2d_select : ci8_max_pool2d_select;
    if (select(ref_k, &op_ref) != CI8_OK || select(simd, &op_got) != CI8_OK) ++bad;
    ci8_pool2d_run(&op_ref, input, ref);
    ci8_pool2d_run(&op_got, input, got);
    if (memcmp(ref, got, osize + GUARD) != 0) {
      if (bad < 5)
        fprintf(stderr,
                "MISMATCH %s case %ld: b%d %dx%dx%d -> %dx%d k%dx%d s%d,%d p%d,%d act [%d,%d]\n",
                average ? "average_pool" : "max_pool", i, op.batches, op.input_height,
                op.input_width, op.channels, op.output_height, op.output_width, op.filter_height,
                op.filter_width, op.stride_height, op.stride_width, op.padding_top,
                op.padding_left, op.activation_min, op.activation_max);
      ++bad;
    }
    free(input); free(ref); free(got);
  }
  *bad_out = bad;
  *ok_out = n;
  return n;
}

// ---- prelu (alpha broadcast) ----
static long prelu_cases(long n, const ci8_kernels *ref_k, const ci8_kernels *simd, long *bad_out,
                        long *ok_out) {
  long bad = 0, ok = 0;
  for (long i = 0; i < n; ++i) {
    ci8_binary op;
    memset(&op, 0, sizeof op);
    int32_t shape[CI8_MAX_RANK] = {1, 1, 1, 1, 1, 1};
    shape[2] = chance(85) ? 1 : rint_in(1, 3);
    shape[3] = rint_in(1, 12);
    shape[4] = rint_in(1, 12);
    shape[5] = chance(20) ? rint_in(1, 300) : rchannels();
    // alpha: 0 = per channel [C] (the usual), 1 = elementwise, 2 = scalar, 3 = random broadcast.
    const int mode = chance(60) ? 0 : rint_in(1, 3);
    size_t total = 1, total2 = 1;
    for (int k = CI8_MAX_RANK - 1; k >= 0; --k) {
      op.shape.output_shape[k] = shape[k];
      op.shape.input1_strides[k] = shape[k] > 1 ? (int32_t)total : 0;
      total *= (size_t)shape[k];
    }
    for (int k = CI8_MAX_RANK - 1; k >= 0; --k) {
      const int keep = mode == 1 || (mode == 0 && k == 5) || (mode == 3 && chance(50));
      op.shape.input2_strides[k] = (keep && shape[k] > 1) ? (int32_t)total2 : 0;
      if (keep) total2 *= (size_t)shape[k];
    }
    op.input1_scale = rscale(-3, 0.5);
    op.input2_scale = rscale(-3, 0);
    op.output_scale = chance(1) ? 1e-12f : rscale(-3, 0.5);
    op.input1_zero_point = rzero_point();
    op.input2_zero_point = rzero_point();
    op.output_zero_point = rzero_point();
    activation(op.output_zero_point, &op.activation_min, &op.activation_max);
    int8_t *a = malloc(total), *b = malloc(total2);
    fill_act(a, total);
    fill_weights(b, total2);
    if (chance(10)) fill_act(b, total2);
    int8_t *ref = xalloc(total), *got = xalloc(total);
    memcpy(got + total, ref + total, GUARD);
    ci8_status st[2];
    binary_pair(ci8_prelu_select, ref_k, simd, op, a, b, ref, got, st);
    int mismatch = st[0] != st[1];
    if (!mismatch && st[0] == CI8_OK) mismatch = memcmp(ref, got, total + GUARD) != 0;
    if (st[0] == CI8_OK) ++ok;
    if (mismatch) {
      if (bad < 5)
        fprintf(stderr, "MISMATCH prelu case %ld: shape %dx%dx%dx%d alpha mode %d status %d/%d\n",
                i, shape[2], shape[3], shape[4], shape[5], mode, st[0], st[1]);
      ++bad;
    }
    free(a); free(b); free(ref); free(got);
  }
  *bad_out = bad;
  *ok_out = ok;
  return n;
}

// ---- quantize float32 -> int8 ----
// Values: random within the int8 range and beyond, exact ties (k + 0.5) * scale, signed zeros,
// infinities, NaN, huge magnitudes (out of int32 after scaling), denormals. Counts 1..300, so
// every block/tail split occurs.
static float rquant_value(float scale) {
  switch (rint_in(0, 19)) {
    case 0: return (float)(rint_in(-300, 300) + 0.5) * scale;
    case 1: return (float)(rint_in(-300, 300) - 0.5) * scale;
    case 2: return chance(50) ? 0.0f : -0.0f;
    case 3: return chance(50) ? INFINITY : -INFINITY;
    case 4: return NAN;
    case 5: return (float)((runit() - 0.5) * 1e12);
    case 6: return (float)((runit() - 0.5) * 1e-38);
    default: return (float)((runit() - 0.5) * 600.0) * scale;
  }
}
static long quantize_cases(long n, const ci8_kernels *simd, long *bad_out) {
  long bad = 0;
  for (long i = 0; i < n; ++i) {
    ci8_quantize_f32 op;
    memset(&op, 0, sizeof op);
    op.count = (size_t)(chance(70) ? rint_in(1, 80) : rint_in(81, 300));
    op.scale = rscale(-4, 1);
    op.zero_point = rzero_point();
    float *x = malloc(sizeof(float) * op.count);
    for (size_t j = 0; j < op.count; ++j) x[j] = rquant_value(op.scale);
    int8_t *ref = xalloc(op.count), *got = xalloc(op.count);
    memcpy(got + op.count, ref + op.count, GUARD);
    ci8_quantize_f32_run(x, ref, op.count, op.scale, op.zero_point);
    int mismatch = ci8_quantize_f32_select(simd, &op) != CI8_OK;
    if (!mismatch) {
      ci8_quantize_f32_op_run(&op, x, got);
      mismatch = memcmp(ref, got, op.count + GUARD) != 0;
    }
    if (mismatch) {
      if (bad < 5) {
        size_t at = 0;
        while (at < op.count && ref[at] == got[at]) ++at;
        fprintf(stderr, "MISMATCH quantize case %ld: count %zu scale %g zp %d first diff at %zu "
                "(x %g: %d vs %d)\n", i, op.count, (double)op.scale, op.zero_point, at,
                at < op.count ? (double)x[at] : 0.0, at < op.count ? ref[at] : 0,
                at < op.count ? got[at] : 0);
      }
      ++bad;
    }
    free(x); free(ref); free(got);
  }
  *bad_out = bad;
  return n;
}

#if defined(__x86_64__)
// ci8_avx2_requant (the AVX2 kernels' one-shift requantization) against the reference's
// ci8_mbqm_gemm plus the zero point: extreme and tie accumulators, multipliers 0, 2^30,
// 2^31 - 1 and random, every shift from -31 to 7. Returns the mismatches.
CI8_AVX2 static long requant_cases(long n) {
  static const int32_t special[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX, INT32_MAX - 1,
                                    1 << 30, -(1 << 30), 12345, -12345};
  long bad = 0;
  for (long i = 0; i < n; ++i) {
    int32_t mult[8], shift[8], acc[8], m[8], ls[8], rs[8], rs1[8], rb[8], zp_vec[8], got[8];
    int64_t nudge[8], twice[8];
    const int32_t zp = rint_in(-128, 127);
    for (int j = 0; j < 8; ++j) {
      const int k = rint_in(0, 9);
      mult[j] = k == 0 ? 0 : k == 1 ? (1 << 30) : k == 2 ? INT32_MAX
                                    : (int32_t)((1u << 30) + (uint32_t)(rnd64() & 0x3FFFFFFF));
      shift[j] = chance(80) ? rint_in(-31, 0) : rint_in(1, 7);
      const int a = rint_in(0, 9);
      if (a == 0) acc[j] = pick(special, 11);
      else if (a == 1 && shift[j] < 0)  // a tie of the final shift, either sign
        acc[j] = (int32_t)((rint_in(-1000, 1000) * 2 + 1) * (1 << (-shift[j] - 1 < 20 ? -shift[j] - 1 : 20)));
      else acc[j] = (int32_t)rnd64() >> rint_in(0, 24);
    }
    ci8_avx2_rq_fill(8, 8, mult, shift, m, ls, rs, rs1, rb);
    ci8_avx2_rq_fill_requant(8, 8, shift, zp, nudge, twice, zp_vec);
    ci8_avx2_rq rq = {m, ls, rs, rs1, rb, nudge, twice, zp_vec};
    // Every other case with no left shift: the kernels pass lshift = NULL then.
    if (i & 1) {
      for (int j = 0; j < 8; ++j) shift[j] = shift[j] > 0 ? -shift[j] : shift[j];
      ci8_avx2_rq_fill(8, 8, mult, shift, m, ls, rs, rs1, rb);
      ci8_avx2_rq_fill_requant(8, 8, shift, zp, nudge, twice, zp_vec);
      rq.lshift = ci8_avx2_rq_lshift_or_null(ls, 8);
      if (rq.lshift != NULL) ++bad;  // every shift <= 0: must be NULL
    }
    if (i % 3 == 0) {  // every channel rounding (r > 0): the kernels pass twice = NULL then
      for (int j = 0; j < 8; ++j) shift[j] = shift[j] < 0 ? shift[j] : -rint_in(1, 31);
      ci8_avx2_rq_fill(8, 8, mult, shift, m, ls, rs, rs1, rb);
      ci8_avx2_rq_fill_requant(8, 8, shift, zp, nudge, twice, zp_vec);
      rq.lshift = ci8_avx2_rq_lshift_or_null(ls, 8);
      rq.twice = ci8_avx2_rq_twice_or_null(twice, 8);
      if (rq.twice != NULL || rq.lshift != NULL) ++bad;  // every r > 0: both NULL
    }
    _mm256_storeu_si256((__m256i *)got,
                        ci8_avx2_requant(_mm256_loadu_si256((const __m256i *)acc), &rq, 0));
    for (int j = 0; j < 8; ++j) {
      const int32_t want = ci8_wrap_add(ci8_mbqm_gemm(acc[j], mult[j], shift[j]), zp);
      if (got[j] != want) {
        if (bad < 5)
          fprintf(stderr, "MISMATCH requant: acc %d mult %d shift %d zp %d: %d vs %d\n", acc[j],
                  mult[j], shift[j], zp, want, got[j]);
        ++bad;
      }
    }
  }
  return bad;
}
#endif

// Micro-kernel choice: a depthwise convolution with a channel multiplier the SIMD kernels do not
// cover must run (and be named) the reference variant. Returns the failures.
static long check_names(const ci8_kernels *k) {
  ci8_conv2d op;
  memset(&op, 0, sizeof op);
  op.depth_multiplier = 2;
  long failed = 0;
  if (ci8_depthwise_conv2d_select(k, &op) != CI8_OK ||
      strcmp(ci8_conv2d_kernel_name(&op), "qs8-dwconv/ref") != 0) {
    printf("  depthwise with multiplier 2 selected '%s', expected qs8-dwconv/ref\n",
           ci8_conv2d_kernel_name(&op));
    ++failed;
  }
  if (ci8_depthwise_conv2d_select(NULL, &op) != CI8_ERR_BAD_PARAMS) ++failed;
  return failed;
}

// rounding_test.c: the set's requantization helpers against the reference's scalar rounding.
long rounding_cases(ci8_isa isa, long *bad_out);

// All case families with table `simd` against the reference table; prints the set's line.
static void run_set(const char *label, const ci8_kernels *ref_k, const ci8_kernels *simd,
                    long n) {
  printf("==> %s\n", label);
  long set_passed = 0, set_failed = check_names(simd), bad, ok;
  conv_cases(0, n, ref_k, simd, &bad, &ok);
  report("conv_2d", n, bad, (int)ok);
  set_passed += n - bad; set_failed += bad;
  conv_cases(1, n, ref_k, simd, &bad, &ok);
  report("depthwise_conv_2d", n, bad, (int)ok);
  set_passed += n - bad; set_failed += bad;
  // The shipped models' layer shapes (random zero points, scales, data).
  const long per_shape = n / 150 > 4 ? n / 150 : 4;
  const long model_convs = per_shape * (long)(sizeof k_model_convs / sizeof k_model_convs[0]);
  const long model_dw = per_shape * (long)(sizeof k_model_depthwise / sizeof k_model_depthwise[0]);
  g_fixed_conv = k_model_convs;
  g_fixed_conv_count = (long)(sizeof k_model_convs / sizeof k_model_convs[0]);
  conv_cases(0, model_convs, ref_k, simd, &bad, &ok);
  report("conv_2d models", model_convs, bad, (int)ok);
  set_passed += model_convs - bad; set_failed += bad;
  g_fixed_conv = k_model_depthwise;
  g_fixed_conv_count = (long)(sizeof k_model_depthwise / sizeof k_model_depthwise[0]);
  conv_cases(1, model_dw, ref_k, simd, &bad, &ok);
  report("depthwise models", model_dw, bad, (int)ok);
  set_passed += model_dw - bad; set_failed += bad;
  g_fixed_conv = NULL;
  fc_cases(n, ref_k, simd, &bad, &ok);
  report("fully_connected", n, bad, (int)ok);
  set_passed += n - bad; set_failed += bad;
  add_cases(n, ref_k, simd, &bad, &ok);
  report("add", n, bad, (int)ok);
  set_passed += n - bad; set_failed += bad;
  pool_cases(0, n, ref_k, simd, &bad, &ok);
  report("max_pool_2d", n, bad, (int)ok);
  set_passed += n - bad; set_failed += bad;
  pool_cases(1, n, ref_k, simd, &bad, &ok);
  report("average_pool_2d", n, bad, (int)ok);
  set_passed += n - bad; set_failed += bad;
#if defined(__x86_64__)
  if (ci8_kernels_isa(simd) == CI8_ISA_AVX2) {
    bad = requant_cases(n);
    report("requant (x8 lanes)", n, bad, (int)n);
    set_passed += n - bad; set_failed += bad;
  }
#endif
  quantize_cases(n, simd, &bad);
  report("quantize_f32", n, bad, (int)n);
  set_passed += n - bad; set_failed += bad;
  prelu_cases(n, ref_k, simd, &bad, &ok);
  report("prelu", n, bad, (int)ok);
  set_passed += n - bad; set_failed += bad;
  const long rounding = rounding_cases(ci8_kernels_isa(simd), &bad);
  if (rounding > 0) {
    report("rounding helpers", rounding, bad, (int)rounding);
    set_passed += rounding - bad; set_failed += bad;
  }
  printf("kernel-test set %s: %ld passed, %ld failed\n", label, set_passed, set_failed);
  g_passed += set_passed;
  g_failed += set_failed;
}

int main(int argc, char **argv) {
  const long n = argc > 1 ? atol(argv[1]) : 3000;
  g_rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0xFACECA11ull;
  const ci8_kernels *ref_k;
  if (ci8_kernels_get(CI8_ISA_REFERENCE, &ref_k) != CI8_OK) {
    printf("kernel-test: the reference set is unavailable\nkernel-test: 0 passed, 1 failed\n");
    return 1;
  }
  printf("kernel-test: %s; best kernel set: %s\n", ci8_cpu_description(),
         ci8_isa_name(ci8_best_isa()));
  int simd_sets = 0;
  for (int i = 0; i < CI8_ISA_COUNT; ++i) {
    const ci8_isa isa = (ci8_isa)i;
    const ci8_kernels *k;
    const ci8_status st = ci8_kernels_get(isa, &k);
    printf("  %-9s %s\n", ci8_isa_name(isa), st == CI8_OK ? "available" : ci8_status_message(st));
    if ((st == CI8_OK) != (k != NULL) || (st == CI8_OK && ci8_kernels_isa(k) != isa)) ++g_failed;
    if (st == CI8_OK && isa != CI8_ISA_REFERENCE) ++simd_sets;
  }
  for (int i = 0; i < CI8_ISA_COUNT; ++i) {
    const ci8_kernels *k;
    if (i == CI8_ISA_REFERENCE || ci8_kernels_get((ci8_isa)i, &k) != CI8_OK) continue;
    run_set(ci8_isa_name((ci8_isa)i), ref_k, k, n);
  }
  if (simd_sets == 0) {
    if (ci8_best_isa() != CI8_ISA_REFERENCE) ++g_failed;
    run_set("reference-fallback", ref_k, ref_k, n);
  }
  printf("kernel-test: %ld passed, %ld failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
