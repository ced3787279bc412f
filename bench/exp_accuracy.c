/* Accuracy of nnext's vectorisable exp (nnext/csrc/nnext_exp.h) against libm.
 * From the repository's root:
 *   cc -O2 -std=c11 -fno-trapping-math -Innext/csrc bench/exp_accuracy.c -lm -o exp_accuracy && ./exp_accuracy
 * Prints the largest error in ulps (of the libm result) over evenly spaced and
 * random arguments in each range, for float64 and float32. */
#include "nnext_exp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t rng = 88172645463325252ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}

/* |got - want| in units in the last place of want, for a binary format with
 * `digits` significand bits whose smallest subnormal is 2^min_exp. */
static double ulps(double got, double want, int digits, int min_exp)
{
    if (got == want) return 0;
    if (want == 0 || isinf(want)) return INFINITY;
    int e;
    frexp(want, &e);
    return fabs(got - want) / ldexp(1.0, e - digits < min_exp ? min_exp : e - digits);
}

static double ulps64(double got, double want) { return ulps(got, want, 53, -1074); }

static double ulps32(float got, float want) { return ulps(got, want, 24, -149); }

int main(void)
{
    const double r64[][2] = {{-1, 1}, {-40, 40}, {-708, 709}, {-745, -708}};
    const double r32[][2] = {{-1, 1}, {-20, 20}, {-87, 88}, {-103, -87}};
    const int n = 4000000;
    for (int k = 0; k < 4; k++) {
        double worst = 0, at = 0;
        for (int i = 0; i < n; i++) {
            double x = i % 2 ? r64[k][0] + (r64[k][1] - r64[k][0]) * uniform()
                             : r64[k][0] + (r64[k][1] - r64[k][0]) * i / n;
            double u = ulps64(nn_exp_f64(x), exp(x));
            if (u > worst) worst = u, at = x;
        }
        printf("float64 exp on [%g, %g]: max %.2f ulp (at %.17g)\n", r64[k][0], r64[k][1], worst, at);
    }
    for (int k = 0; k < 4; k++) {
        double worst = 0, at = 0;
        for (int i = 0; i < n; i++) {
            float x = (float)(i % 2 ? r32[k][0] + (r32[k][1] - r32[k][0]) * uniform()
                                    : r32[k][0] + (r32[k][1] - r32[k][0]) * i / n);
            double u = ulps32(nn_exp_f32(x), expf(x));
            if (u > worst) worst = u, at = x;
        }
        printf("float32 exp on [%g, %g]: max %.2f ulp (at %.9g)\n", r32[k][0], r32[k][1], worst, at);
    }
    /* sigmoid as the core computes it, 1 / (1 + exp(-x)), against the same with libm */
    double ws = 0, ws32 = 0;
    for (int i = 0; i < n; i++) {
        double x = -40 + 80 * uniform();
        double u = ulps64(1 / (1 + nn_exp_f64(-x)), 1 / (1 + exp(-x)));
        ws = u > ws ? u : ws;
        float xf = (float)(-20 + 40 * uniform());
        double v = ulps32(1.0f / (1.0f + nn_exp_f32(-xf)), 1.0f / (1.0f + expf(-xf)));
        ws32 = v > ws32 ? v : ws32;
    }
    printf("sigmoid on [-40, 40] float64: max %.2f ulp; float32 on [-20, 20]: max %.2f ulp\n", ws, ws32);
    printf("special: exp(-inf-ish -1000) = %g, exp(1000) = %g, exp(nan) = %g, expf(-200) = %g, expf(200) = %g\n",
           nn_exp_f64(-1000), nn_exp_f64(1000), nn_exp_f64(NAN), (double)nn_exp_f32(-200), (double)nn_exp_f32(200));
    return 0;
}
