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

static inline double nn_exp_f64(double x)
{
    const double shift = 0x1.8p52;
    double kd = x * 0x1.71547652b82fep0 + shift; /* x / ln2 rounded, in the low bits */
    uint64_t ki;
    memcpy(&ki, &kd, sizeof ki);
    kd -= shift;
    const double r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    /* Taylor coefficients 1/k!, k = 0..13, summed by Estrin's scheme (short chains) */
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double q0 = 1.0 + r, q1 = 0.5 + r * (1.0 / 6.0);
    const double q2 = 1.0 / 24.0 + r * (1.0 / 120.0), q3 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    const double q4 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    const double q5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    const double q6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    const double p = (q0 + q1 * r2) + (q2 + q3 * r2) * r4 + ((q4 + q5 * r2) + q6 * r4) * r8;
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

static inline float nn_exp_f32(float x)
{
    const float shift = 0x1.8p23f;
    float kd = x * 0x1.715476p0f + shift;
    uint32_t ki;
    memcpy(&ki, &kd, sizeof ki);
    kd -= shift;
    const float r = (x - kd * 0x1.62e4p-1f) - kd * 1.428606765330187045e-06f;
    const float r2 = r * r, r4 = r2 * r2;
    const float p = ((1.0f + r) + (0.5f + r * (1.0f / 6.0f)) * r2) +
                    ((1.0f / 24.0f + r * (1.0f / 120.0f)) + (1.0f / 720.0f + r * (1.0f / 5040.0f)) * r2) * r4;
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

#endif
