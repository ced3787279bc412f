/* Accuracy of limits.h's exp_fast / sigmoid_fast (and glibc's vector exp where
 * built with -DLIMITS_LIBMVEC -lmvec) against glibc's scalar exp, in ulps of
 * the reference, over evenly spaced and random arguments covering the whole
 * range:
 *
 *   cc -O2 -std=c11 -march=native -DLIMITS_LIBMVEC bench/limits/sigmoid_accuracy.c -lmvec -lm -o acc && ./acc
 *
 * exp_fast is compared on [-40, 709.78] (below -40 it clamps: harmless for the
 * sigmoid, where 1 + e^t rounds to 1 there); the sigmoids on [-745, 745] and at
 * +-inf.  The 4-lane sigmoid_fast4 must equal sigmoid_fast bit for bit.
 */
#include "limits.h"

#ifdef LIMITS_LIBMVEC
__m256d _ZGVdN4v_exp(__m256d x);
#endif

static double ulps(double got, double want)
{
    if (got == want) return 0;
    if (isinf(want) || isinf(got)) return INFINITY;
    const double ulp = want == 0 ? 4.9406564584124654e-324 : fabs(nextafter(want, INFINITY) - want);
    return fabs(got - want) / ulp;
}

static uint64_t rng = 88172645463325252ull;
static double uniform(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) * 0x1.0p-53;
}

int main(void)
{
    const long N = 4000000;
    const struct {
        double lo, hi;
    } ranges[] = {{-1, 1}, {-40, 40}, {-40, 709.78}, {-745, 745}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        const double lo = ranges[k].lo, hi = ranges[k].hi;
        double e_exp = 0, e_sig = 0, e_vec = 0, at_exp = 0, at_sig = 0;
        long mismatch4 = 0;
        for (long i = 0; i < N; i++) {
            const double x = i % 2 ? uniform(lo, hi) : lo + (hi - lo) * (double)i / (double)N;
            if (x >= -40 && x <= 709.78) {
                const double e = ulps(exp_fast(x), exp(x));
                if (e > e_exp) e_exp = e, at_exp = x;
            }
            const double s = ulps(sigmoid_fast(x), sigmoid_libm(x));
            if (s > e_sig) e_sig = s, at_sig = x;
#if LIMITS_HAVE_AVX2
            double v4[4];
            _mm256_storeu_pd(v4, sigmoid_fast4(_mm256_set1_pd(x)));
            mismatch4 += v4[0] != sigmoid_fast(x);
#ifdef LIMITS_LIBMVEC
            _mm256_storeu_pd(v4, _ZGVdN4v_exp(_mm256_set1_pd(-x)));
            const double sv = 1.0 / (1.0 + v4[0]), ev = ulps(sv, sigmoid_libm(x));
            e_vec = ev > e_vec ? ev : e_vec;
#endif
#endif
        }
        printf("[%g, %g]: exp_fast %.2f ulp (at %.6g); sigmoid_fast %.2f ulp (at %.6g); "
               "sigmoid with libmvec exp %.2f ulp; sigmoid_fast4 != sigmoid_fast: %ld\n",
               lo, hi, e_exp, at_exp, e_sig, at_sig, e_vec, mismatch4);
    }
    const double inf = INFINITY;
    printf("sigmoid_fast(+inf) = %g, (-inf) = %g, (nan) = %g; libm: %g, %g, %g\n", sigmoid_fast(inf),
           sigmoid_fast(-inf), sigmoid_fast(NAN), sigmoid_libm(inf), sigmoid_libm(-inf), sigmoid_libm(NAN));
    return 0;
}
