// Direct test of the SIMD requantization helpers against the reference's scalar
// MultiplyByQuantizedMultiplier (ci8_ref.h), on the inputs where rounding goes wrong first:
// exact ties after the right shift (x ending in .5, positive and negative), ties of the
// doubling high multiply itself, INT32_MIN / INT32_MAX and their neighbours, multipliers 2^30,
// 2^30 + 1, 2^31 - 1 (and 0, the padded channels), shifts -31 .. +7, plus random values.
//   neon / neon-dot  ci8_neon_mbqm_gemm4 (ties up, CONV_2D / FULLY_CONNECTED: ci8_mbqm_gemm) and
//                    ci8_neon_mbqm_away_v (ties away from zero: ci8_mbqm), the second compiled
//                    once more inside a dot-product function for the neon-dot build;
//   avx2             ci8_avx2_mbqm_gemm (ci8_mbqm_gemm).
// The helpers are private static inline functions, so this file includes the ISA headers.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cint8.h"
#include "../../Sources/CInt8/arm/ci8_neon.h"
#include "../../Sources/CInt8/x86/ci8_avx2.h"

long rounding_cases(ci8_isa isa, long *bad_out);

enum { MAX_CASES = 40000 };
static int32_t g_x[MAX_CASES], g_m[MAX_CASES], g_s[MAX_CASES];
static long g_n;
static uint64_t g_state = 0x5EEDull;

static uint32_t next32(void) {  // xorshift64*
  g_state ^= g_state >> 12;
  g_state ^= g_state << 25;
  g_state ^= g_state >> 27;
  return (uint32_t)((g_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static void add_case(int64_t x, int32_t m, int32_t s) {
  if (x < INT32_MIN || x > INT32_MAX || g_n >= MAX_CASES) return;
  g_x[g_n] = (int32_t)x;
  g_m[g_n] = m;
  g_s[g_n] = s;
  ++g_n;
}

// The cases, padded to a multiple of 8 lanes.
static void make_cases(void) {
  g_n = 0;
  const int32_t mults[] = {1 << 30, (1 << 30) + 1, INT32_MAX, 0, 0, 0};
  for (int32_t s = -31; s <= 7; ++s) {
    int32_t ms[6];
    for (int i = 0; i < 6; ++i) ms[i] = mults[i];
    ms[3] = (int32_t)((1u << 30) | (next32() >> 2));  // random multipliers in [2^30, 2^31)
    ms[4] = (int32_t)((1u << 30) | (next32() >> 2));
    for (int mi = 0; mi < 6; ++mi) {
      const int32_t m = mi == 5 ? 0 : ms[mi];
      const int64_t extremes[] = {INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, INT32_MAX, INT32_MAX - 1,
                                  0, 1, -1, 2, -2, 3, -3};
      for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; ++i) add_case(extremes[i], m, s);
      for (int i = 0; i < 24; ++i) add_case((int32_t)next32(), m, s);
      for (int i = 0; i < 8; ++i) add_case((int32_t)next32() >> (next32() % 31), m, s);
    }
    // Ties of the final rounding shift: the high product h = (2q + 1) 2^(r - 1) and its
    // neighbours. srdhm(2h, 2^30) == h and srdhm(h, 2^31 - 1) == h for |h| <= 2^30, so those
    // x give the wanted h exactly (only right shifts round; left shifts are exact).
    const int32_t r = s < 0 ? -s : 0;
    if (r > 0) {
      const int64_t half = INT64_C(1) << (r - 1);
      const int64_t qs[] = {0, 1, 2, 5, -1, -2, -3, -6, (INT64_C(1) << 30) / (2 * half) - 1,
                            -(INT64_C(1) << 30) / (2 * half)};
      for (size_t i = 0; i < sizeof qs / sizeof qs[0]; ++i) {
        const int64_t h = (2 * qs[i] + 1) * half;
        for (int d = -1; d <= 1; ++d) {
          add_case(2 * (h + d), 1 << 30, s);
          add_case(h + d, INT32_MAX, s);
        }
      }
    }
    // Ties of the doubling high multiply: x odd with m = 2^30 (x * m / 2^31 ends in .5).
    for (int i = 0; i < 6; ++i) add_case((int32_t)(next32() | 1u), 1 << 30, s);
  }
  while (g_n % 8) add_case(0, 1 << 30, 0);
}

// Ties the cases reach (the reference's h sits exactly halfway), by sign: proof the tie cases
// are in the set, so the test can tell ties-up from ties-away rounding.
static void count_ties(long *positive, long *negative) {
  *positive = *negative = 0;
  for (long i = 0; i < g_n; ++i) {
    const int32_t r = g_s[i] < 0 ? -g_s[i] : 0;
    if (r == 0) continue;
    const int32_t h = ci8_srdhm32(g_x[i], g_m[i]);
    const uint32_t mask = (uint32_t)((UINT64_C(1) << r) - 1);
    if (((uint32_t)h & mask) == (UINT32_C(1) << (r - 1))) {
      if (h > 0) ++*positive;
      else ++*negative;
    }
  }
}

static long g_bad_printed;
static long mismatch(const char *helper, long i, int32_t got, int32_t want) {
  if (g_bad_printed++ < 10)
    printf("  rounding %s: x=%d m=%d shift=%d gave %d, reference %d\n", helper, g_x[i], g_m[i],
           g_s[i], got, want);
  return 1;
}

#if defined(__aarch64__)
// Both helpers on every case, 4 lanes at a time with per-lane parameters as the kernels use
// them (filled by ci8_neon_rq_fill). ATTR: nothing (neon) or the dot-product target.
#define NEON_ROUNDING(fn, ATTR)                                                             \
  static ATTR long fn(void) {                                                               \
    long bad = 0;                                                                           \
    for (long i = 0; i < g_n; i += 4) {                                                     \
      int32_t m[4], ls[4], rs[4], aw[4], up[4], away[4];                                    \
      ci8_neon_rq_fill(4, 4, 0, g_m + i, g_s + i, m, ls, rs, aw);                           \
      const ci8_neon_rq rq = {m, ls, rs, aw};                                               \
      const int32x4_t x = vld1q_s32(g_x + i);                                               \
      vst1q_s32(up, ci8_neon_mbqm_gemm4(x, &rq, 0));                                        \
      vst1q_s32(away, ci8_neon_mbqm_away_v(x, vld1q_s32(m), vld1q_s32(ls), vld1q_s32(rs),   \
                                           vld1q_s32(aw)));                                 \
      for (int j = 0; j < 4; ++j) {                                                         \
        const int32_t want_up = ci8_mbqm_gemm(g_x[i + j], g_m[i + j], g_s[i + j]);          \
        const int32_t want_away = ci8_mbqm(g_x[i + j], g_m[i + j], g_s[i + j]);             \
        if (up[j] != want_up) bad += mismatch("ci8_neon_mbqm_gemm4", i + j, up[j], want_up); \
        if (away[j] != want_away)                                                           \
          bad += mismatch("ci8_neon_mbqm_away_v", i + j, away[j], want_away);               \
      }                                                                                     \
    }                                                                                       \
    return bad;                                                                             \
  }
NEON_ROUNDING(neon_rounding, )
NEON_ROUNDING(neondot_rounding, CI8_NEONDOT)
#endif

#if defined(__x86_64__)
CI8_AVX2 static long avx2_rounding(void) {
  long bad = 0;
  for (long i = 0; i < g_n; i += 8) {
    int32_t m[8], ls[8], rs[8], rs1[8], rb[8], got[8];
    ci8_avx2_rq_fill(8, 8, g_m + i, g_s + i, m, ls, rs, rs1, rb);
    const ci8_avx2_rq rq = {.mult = m, .lshift = ls, .rshift = rs, .rshift1 = rs1, .rbit = rb};
    const __m256i x = _mm256_loadu_si256((const __m256i *)(g_x + i));
    _mm256_storeu_si256((__m256i *)got, ci8_avx2_mbqm_gemm(x, &rq, 0));
    for (int j = 0; j < 8; ++j) {
      const int32_t want = ci8_mbqm_gemm(g_x[i + j], g_m[i + j], g_s[i + j]);
      if (got[j] != want) bad += mismatch("ci8_avx2_mbqm_gemm", i + j, got[j], want);
    }
  }
  return bad;
}
#endif

// Runs the helpers of `isa` (which this CPU supports); returns the number of cases (0 when the
// set has no SIMD helpers) and stores the failures in *bad_out.
long rounding_cases(ci8_isa isa, long *bad_out) {
  make_cases();
  long positive, negative;
  count_ties(&positive, &negative);
  long bad = 0;
  if (positive < 100 || negative < 100) {
    printf("  rounding: only %ld positive and %ld negative ties among the cases\n", positive, negative);
    ++bad;
  }
  g_bad_printed = 0;
  switch (isa) {
#if defined(__aarch64__)
    case CI8_ISA_NEON: bad += neon_rounding(); break;
    case CI8_ISA_NEON_DOT: bad += neondot_rounding(); break;
#endif
#if defined(__x86_64__)
    case CI8_ISA_AVX2: bad += avx2_rounding(); break;
#endif
    default: *bad_out = 0; return 0;
  }
  *bad_out = bad;
  return g_n;
}
