/* Shared by the programs in bench/limits/: the clock, argument parsing, the short-chain
 * sigmoid (scalar and, where the compiler targets AVX2+FMA, 4 lanes), and nnext's exp
 * for the variants that compute nnext's own bits (below).
 *
 * sigmoid_libm(z)  = 1 / (1 + exp(-z)) with glibc's exp: the tutorials' formula.
 * sigmoid_fast(z)  = the same formula with exp_fast below, inlined and branch-free.
 *
 * exp_fast(t): t clamped to [-40, 710]; n = round(t / ln2); r = t - n ln2 (ln2 in
 * two parts, |r| <= ln2/2); e^r by its Taylor polynomial of degree 13 (truncation
 * 4e-18 relative) evaluated with Estrin's scheme (depth 4 multiply-adds after r,
 * r^8, instead of Horner's 13); times 2^n built from the exponent bits.  The
 * polynomial's coefficients are doubled (exact) and the scale is 2^(n-1), so
 * that e^t just below DBL_MAX (n = 1024) stays finite.  The clamp changes
 * nothing the sigmoid can see: for t < -40, 1 + e^t rounds to 1 either way;
 * for t > 709.79 both give e^t = inf and sigmoid 0.  Its error against
 * sigmoid_libm over the whole range is measured by `sigmoid_accuracy.c`.
 */
#ifndef NNEXT_BENCH_LIMITS_H
#define NNEXT_BENCH_LIMITS_H

#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* nnext's exp (nn_exp_f64, nn_exp_one_f64: the "nnext_bits" variants compute
 * nnext's own bits).  Its formulas are written for products and sums rounded
 * one at a time, as gcc does under -std=c11; clang is told so (it would fuse
 * them into FMAs), here and, through NNEXT_BITS_NO_CONTRACT at the top of a
 * function, in the nnext_bits functions. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#include "../../nnext/csrc/nnext_exp.h"
#ifdef __clang__
#pragma STDC FP_CONTRACT DEFAULT
#define NNEXT_BITS_NO_CONTRACT _Pragma("STDC FP_CONTRACT OFF")
#else
#define NNEXT_BITS_NO_CONTRACT
#endif

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LIMITS_HAVE_AVX2 1
#else
#define LIMITS_HAVE_AVX2 0
#endif

static inline double limits_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* argv[i] as a double; exits with a message naming it when it is not one */
static inline double limits_arg(char **argv, int i, const char *what)
{
    char *end;
    const double v = strtod(argv[i], &end);
    if (end == argv[i] || *end) {
        fprintf(stderr, "argument %d (%s) must be a number, got '%s'\n", i, what, argv[i]);
        exit(2);
    }
    return v;
}

/* argv[i] as a count in [1, 1e12]; exits with a message naming it otherwise */
static inline long limits_count(char **argv, int i, const char *what)
{
    const double v = limits_arg(argv, i, what);
    if (!(v >= 1 && v <= 1e12) || v != (double)(long)v) {
        fprintf(stderr, "argument %d (%s) must be a whole number in [1, 1e12], got '%s'\n", i, what, argv[i]);
        exit(2);
    }
    return (long)v;
}

static inline double sigmoid_libm(double z) { return 1.0 / (1.0 + exp(-z)); }

/* 2/k! for k = 0..13 (doubling is exact) */
#define EXPF_C0 2.0
#define EXPF_C1 2.0
#define EXPF_C2 1.0
#define EXPF_C3 (2.0 / 6.0)
#define EXPF_C4 (2.0 / 24.0)
#define EXPF_C5 (2.0 / 120.0)
#define EXPF_C6 (2.0 / 720.0)
#define EXPF_C7 (2.0 / 5040.0)
#define EXPF_C8 (2.0 / 40320.0)
#define EXPF_C9 (2.0 / 362880.0)
#define EXPF_C10 (2.0 / 3628800.0)
#define EXPF_C11 (2.0 / 39916800.0)
#define EXPF_C12 (2.0 / 479001600.0)
#define EXPF_C13 (2.0 / 6227020800.0)
#define EXPF_LOG2E 1.4426950408889634
#define EXPF_LN2_HI 6.93147180369123816490e-01 /* 33 bits: n * LN2_HI is exact */
#define EXPF_LN2_LO 1.90821492927058770002e-10

/* a*b + c: one fused multiply-add where the target has it, else two roundings
 * (without FMA, fma() would be a slow library call) */
#if defined(__FMA__)
#define MADD(a, b, c) fma(a, b, c)
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

#define EXPF_SHIFT 0x1.8p52 /* adding it rounds to an integer, kept in the low bits */

static inline double exp_fast(double t)
{
    t = t < -40.0 ? -40.0 : t;
    t = t > 710.0 ? 710.0 : t;
    const double kd = t * EXPF_LOG2E + EXPF_SHIFT; /* not fused: the same as the 4-lane version */
    const double n = kd - EXPF_SHIFT;
    double r = MADD(n, -EXPF_LN2_HI, t);
    r = MADD(n, -EXPF_LN2_LO, r);
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double p01 = MADD(EXPF_C1, r, EXPF_C0), p23 = MADD(EXPF_C3, r, EXPF_C2);
    const double p45 = MADD(EXPF_C5, r, EXPF_C4), p67 = MADD(EXPF_C7, r, EXPF_C6);
    const double p89 = MADD(EXPF_C9, r, EXPF_C8), pab = MADD(EXPF_C11, r, EXPF_C10);
    const double pcd = MADD(EXPF_C13, r, EXPF_C12);
    const double p0_3 = MADD(p23, r2, p01), p4_7 = MADD(p67, r2, p45);
    const double p8_b = MADD(pab, r2, p89);
    const double p0_7 = MADD(p4_7, r4, p0_3), p8_d = MADD(pcd, r4, p8_b);
    const double p = MADD(p8_d, r8, p0_7); /* 2 e^r */
    uint64_t bits;
    memcpy(&bits, &kd, sizeof bits); /* n in the low bits of kd's mantissa */
    bits = (bits + 1022u) << 52;     /* 2^(n-1), n in [-58, 1024] */
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline double sigmoid_fast(double z) { return 1.0 / (1.0 + exp_fast(-z)); }

#if LIMITS_HAVE_AVX2
/* exp_fast in 4 lanes, the same operations in the same order (bit-identical) */
static inline __m256d exp_fast4(__m256d t)
{
    t = _mm256_max_pd(t, _mm256_set1_pd(-40.0));
    t = _mm256_min_pd(t, _mm256_set1_pd(710.0));
    const __m256d kd = _mm256_add_pd(_mm256_mul_pd(t, _mm256_set1_pd(EXPF_LOG2E)), _mm256_set1_pd(EXPF_SHIFT));
    const __m256d n = _mm256_sub_pd(kd, _mm256_set1_pd(EXPF_SHIFT));
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(EXPF_LN2_HI), t);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(EXPF_LN2_LO), r);
    const __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2), r8 = _mm256_mul_pd(r4, r4);
#define EXPF_PAIR(a, b) _mm256_fmadd_pd(_mm256_set1_pd(b), r, _mm256_set1_pd(a))
    const __m256d p01 = EXPF_PAIR(EXPF_C0, EXPF_C1), p23 = EXPF_PAIR(EXPF_C2, EXPF_C3);
    const __m256d p45 = EXPF_PAIR(EXPF_C4, EXPF_C5), p67 = EXPF_PAIR(EXPF_C6, EXPF_C7);
    const __m256d p89 = EXPF_PAIR(EXPF_C8, EXPF_C9), pab = EXPF_PAIR(EXPF_C10, EXPF_C11);
    const __m256d pcd = EXPF_PAIR(EXPF_C12, EXPF_C13);
#undef EXPF_PAIR
    const __m256d p0_3 = _mm256_fmadd_pd(p23, r2, p01), p4_7 = _mm256_fmadd_pd(p67, r2, p45);
    const __m256d p8_b = _mm256_fmadd_pd(pab, r2, p89);
    const __m256d p0_7 = _mm256_fmadd_pd(p4_7, r4, p0_3), p8_d = _mm256_fmadd_pd(pcd, r4, p8_b);
    const __m256d p = _mm256_fmadd_pd(p8_d, r8, p0_7);
    /* n + 1022 from the low bits of kd, shifted into the exponent field */
    const __m256i e = _mm256_slli_epi64(_mm256_add_epi64(_mm256_castpd_si256(kd), _mm256_set1_epi64x(1022)), 52);
    return _mm256_mul_pd(p, _mm256_castsi256_pd(e));
}

static inline __m256d sigmoid_fast4(__m256d z)
{
    const __m256d one = _mm256_set1_pd(1.0);
    return _mm256_div_pd(one, _mm256_add_pd(one, exp_fast4(_mm256_sub_pd(_mm256_setzero_pd(), z))));
}
#endif

/* One JSON line of results: variant, best time, ns per step, the final values */
static inline void limits_print(const char *program, const char *variant, double best_s, long steps,
                                const char *names, const double *vals, int n_vals)
{
    printf("{\"program\": \"%s\", \"variant\": \"%s\", \"best_s\": %.9g, \"ns_per_step\": %.4g, "
           "\"steps\": %ld, \"names\": \"%s\", \"values\": [",
           program, variant, best_s, best_s / (double)steps * 1e9, steps, names);
    for (int i = 0; i < n_vals; i++)
        printf("%s%.17g", i ? ", " : "", vals[i]);
    printf("]}\n");
}

#endif
