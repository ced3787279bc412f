/*
 * exp for the activation loops: branch-free, so that the loops over a layer
 * vectorise.  Measured against glibc by bench/exp_accuracy.c (4M points per
 * range): float64 max 2 ulp on [-745, 709] (subnormal results included),
 * float32 max 2 ulp on [-87, 88] and 1 ulp on [-103, -87]; sigmoid
 * 1/(1+exp(-x)) within 4 ulp of the same formula with libm.  Method:
 *   exp(x) = 2^n * p(r),  n = round(x / ln 2),  r = x - n ln 2 (Cody-Waite),
 * p a Taylor polynomial (degree 13 for double, 7 for float; Estrin's scheme)
 * with |r| <= ln2/2,
 * and 2^n applied as two factors so that subnormal results and overflow to
 * inf come out right; past the ends, 0 or inf are selected at the end.  NaN
 * propagates.
 */
#ifndef NNEXT_EXP_H
#define NNEXT_EXP_H

#include <stdint.h>
#include <math.h>
#include <string.h>

/* e^r for |r| <= ln2/2: the Taylor coefficients 1/k!, k = 0..13, summed by
 * Estrin's scheme (short chains). */
static inline double nn_exp_poly_f64(double r)
{
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double q0 = 1.0 + r, q1 = 0.5 + r * (1.0 / 6.0);
    const double q2 = 1.0 / 24.0 + r * (1.0 / 120.0), q3 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    const double q4 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    const double q5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    const double q6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    return (q0 + q1 * r2) + (q2 + q3 * r2) * r4 + ((q4 + q5 * r2) + q6 * r4) * r8;
}

/* x = n ln2 + r: n = round(x / ln2) (kd as a double; its low bits, ki, give
 * n), r by Cody-Waite's two-part ln2. */
static inline double nn_exp_reduce_f64(double x, uint64_t *ki)
{
    const double shift = 0x1.8p52;
    double kd = x * 0x1.71547652b82fep0 + shift; /* x / ln2 rounded, in the low bits */
    memcpy(ki, &kd, sizeof *ki);
    kd -= shift;
    return (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
}

static inline double nn_exp_f64(double x)
{
    uint64_t ki;
    const double r = nn_exp_reduce_f64(x, &ki);
    const double p = nn_exp_poly_f64(r);
    const int64_t n = (int64_t)(ki - 0x4338000000000000ull); /* in [-1076, 1024] for x in range */
    const int64_t n1 = n / 2, n2 = n - n1;
    const uint64_t b1 = ((uint64_t)(n1 + 1023) & 0x7ff) << 52;
    const uint64_t b2 = ((uint64_t)(n2 + 1023) & 0x7ff) << 52;
    double s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    double e = p * s1 * s2;
    /* Out of range the arithmetic above gives garbage (without UB): exp
     * underflows to 0 below -746 and overflows to inf above 710; NaN stays
     * NaN.  Selected at the end rather than clamped at the start, to keep the
     * clamps off the critical path. */
    e = x < -746.0 ? 0.0 : e;
    e = x > 710.0 ? (double)INFINITY : e;
    return e;
}

static inline float nn_exp_poly_f32(float r) /* as nn_exp_poly_f64, k = 0..7 */
{
    const float r2 = r * r, r4 = r2 * r2;
    return ((1.0f + r) + (0.5f + r * (1.0f / 6.0f)) * r2) +
           ((1.0f / 24.0f + r * (1.0f / 120.0f)) + (1.0f / 720.0f + r * (1.0f / 5040.0f)) * r2) * r4;
}

static inline float nn_exp_reduce_f32(float x, uint32_t *ki) /* as nn_exp_reduce_f64 */
{
    const float shift = 0x1.8p23f;
    float kd = x * 0x1.715476p0f + shift;
    memcpy(ki, &kd, sizeof *ki);
    kd -= shift;
    return (x - kd * 0x1.62e4p-1f) - kd * 1.428606765330187045e-06f;
}

static inline float nn_exp_f32(float x)
{
    uint32_t ki;
    const float r = nn_exp_reduce_f32(x, &ki);
    const float p = nn_exp_poly_f32(r);
    const int32_t n = (int32_t)(ki - 0x4B400000u); /* in [-150, 129] for x in range */
    const int32_t n1 = n / 2, n2 = n - n1;
    const uint32_t b1 = ((uint32_t)(n1 + 127) & 0xff) << 23;
    const uint32_t b2 = ((uint32_t)(n2 + 127) & 0xff) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    float e = p * s1 * s2;
    e = x < -104.0f ? 0.0f : e; /* as in nn_exp_f64 */
    e = x > 89.0f ? (float)INFINITY : e;
    return e;
}

/* nn_exp for a scalar on a dependency chain (the per-sample step of
 * nnext_fused.h), with the same bits: a branch (predicted) sends the rare
 * arguments whose 2^n is not a normal number to nn_exp, so that the common
 * case scales by 2^n in one multiplication instead of two and needs no
 * selects (p 2^n1 is exact, so p 2^n1 2^n2 and p 2^n round the same
 * product once).  Measured: 49.9 against nn_exp's 53.0 cycles on a chain
 * with a multiply (bench/limits/latency.c), and Zhou's step 62.8 -> 56.7 ns
 * from Python; nn_exp stays branch-free for the vector loops. */
static inline double nn_exp_one_f64(double x)
{
    if (!(x > -708.0 && x < 708.0)) return nn_exp_f64(x); /* |n| > 1021, or NaN */
    uint64_t ki;
    const double p = nn_exp_poly_f64(nn_exp_reduce_f64(x, &ki));
    const uint64_t bits = (ki - 0x4338000000000000ull + 1023) << 52; /* 2^n, n in [-1022, 1022] */
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float nn_exp_one_f32(float x) /* as nn_exp_one_f64 */
{
    if (!(x > -87.0f && x < 87.0f)) return nn_exp_f32(x); /* |n| > 125, or NaN */
    uint32_t ki;
    const float p = nn_exp_poly_f32(nn_exp_reduce_f32(x, &ki));
    const uint32_t bits = (ki - 0x4B400000u + 127) << 23; /* 2^n, n in [-126, 126] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
