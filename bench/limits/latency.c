/* Latency of the operations on the limit programs' critical paths, in ns and in
 * core cycles (hardware counters are not available in this VM: `perf stat -e
 * cycles` says <not supported>; the cycle is measured instead as the time of a
 * dependent chain of integer adds, 1 cycle each on any x86-64 of the last decade).
 *
 *   cc -O2 -std=c11 -march=native -DLIMITS_LIBMVEC bench/limits/latency.c -lmvec -lm -o latency && ./latency
 *
 * Each line: the best of 21 runs of a chain of 2,000,000 dependent operations.
 * Used for the step's latency breakdown in bench/README.md.
 */
#include "limits.h"

#define N 2000000L

static volatile double sink;
static volatile double seed_d = 0.5;
static volatile uint64_t seed_u = 1;

static double best_of(double (*f)(double), double x)
{
    double best = 1e30;
    for (int r = 0; r < 21; r++) {
        const double t = limits_now();
        sink = f(x);
        const double dt = limits_now() - t;
        best = dt < best ? dt : best;
    }
    return best / (double)N * 1e9;
}

static double chain_iadd(double x)
{
    uint64_t u = seed_u;
    for (long i = 0; i < N; i++)
        __asm__ volatile("add $1, %0" : "+r"(u)); /* one dependent 1-cycle add */
    return x + (double)u;
}
/* the multiplies and divisions keep x near 0.5, so no denormals or overflow */
static double chain_mul(double x)
{
    for (long i = 0; i < N; i++) x = x * 1.0000001;
    return x;
}
static double chain_add(double x)
{
    for (long i = 0; i < N; i++) x = x + 1e-9;
    return x;
}
static double chain_madd(double x)
{
    for (long i = 0; i < N; i++) x = MADD(x, 0.9999999, 1e-9);
    return x;
}
static double chain_div(double x)
{
    for (long i = 0; i < N; i++) x = 0.7 / (x + 0.2);
    return x;
}
static double chain_exp_libm(double x)
{
    for (long i = 0; i < N; i++) x = exp(-x) * 0.9; /* stays in (0, 1) */
    return x;
}
static double chain_exp_fast(double x)
{
    for (long i = 0; i < N; i++) x = exp_fast(-x) * 0.9;
    return x;
}
static double chain_exp_nnext(double x) /* nnext's branch-free exp, the vector loops' */
{
    for (long i = 0; i < N; i++) x = nn_exp_f64(-x) * 0.9;
    return x;
}
static double chain_exp_nnext_one(double x) /* nnext's exp on the per-sample step's chain */
{
    for (long i = 0; i < N; i++) x = nn_exp_one_f64(-x) * 0.9;
    return x;
}
static double chain_sigmoid_nnext_one(double x)
{
    for (long i = 0; i < N; i++) x = 1.0 / (1.0 + nn_exp_one_f64(-x));
    return x;
}
static double chain_sigmoid_libm(double x)
{
    for (long i = 0; i < N; i++) x = sigmoid_libm(x);
    return x;
}
static double chain_sigmoid_fast(double x)
{
    for (long i = 0; i < N; i++) x = sigmoid_fast(x);
    return x;
}
#if LIMITS_HAVE_AVX2
static double chain_sigmoid_fast4(double x)
{
    __m256d v = _mm256_set1_pd(x);
    for (long i = 0; i < N; i++) v = sigmoid_fast4(v);
    return _mm256_cvtsd_f64(v);
}
static double chain_div4(double x)
{
    __m256d v = _mm256_set1_pd(x);
    const __m256d a = _mm256_set1_pd(0.7), b = _mm256_set1_pd(0.2);
    for (long i = 0; i < N; i++) v = _mm256_div_pd(a, _mm256_add_pd(v, b));
    return _mm256_cvtsd_f64(v);
}
/* 4 independent 4-lane sigmoids per iteration, as Trask's hidden layer: the
 * time per iteration against one sigmoid's latency shows whether they overlap */
static double chain_sigmoid_fast4_x4(double x)
{
    __m256d a = _mm256_set1_pd(x), b = _mm256_set1_pd(x + 0.1), c = _mm256_set1_pd(x + 0.2), d = _mm256_set1_pd(x + 0.3);
    for (long i = 0; i < N; i++)
        a = sigmoid_fast4(a), b = sigmoid_fast4(b), c = sigmoid_fast4(c), d = sigmoid_fast4(d);
    return _mm256_cvtsd_f64(_mm256_add_pd(_mm256_add_pd(a, b), _mm256_add_pd(c, d)));
}
#ifdef LIMITS_LIBMVEC
__m256d _ZGVdN4v_exp(__m256d x);
static inline __m256d sigmoid_libmvec4(__m256d z)
{
    const __m256d one = _mm256_set1_pd(1.0);
    return _mm256_div_pd(one, _mm256_add_pd(one, _ZGVdN4v_exp(_mm256_sub_pd(_mm256_setzero_pd(), z))));
}
static double chain_sigmoid_libmvec4(double x)
{
    __m256d v = _mm256_set1_pd(x);
    for (long i = 0; i < N; i++) v = sigmoid_libmvec4(v);
    return _mm256_cvtsd_f64(v);
}
static double chain_sigmoid_libmvec4_x4(double x)
{
    __m256d a = _mm256_set1_pd(x), b = _mm256_set1_pd(x + 0.1), c = _mm256_set1_pd(x + 0.2), d = _mm256_set1_pd(x + 0.3);
    for (long i = 0; i < N; i++)
        a = sigmoid_libmvec4(a), b = sigmoid_libmvec4(b), c = sigmoid_libmvec4(c), d = sigmoid_libmvec4(d);
    return _mm256_cvtsd_f64(_mm256_add_pd(_mm256_add_pd(a, b), _mm256_add_pd(c, d)));
}
#endif
static double chain_transpose_add(double x)
{
    /* trask.c's 4x4 transpose-add (2 hadd, 2 permute2f128, 1 add), fed back */
    __m256d p = _mm256_set1_pd(x);
    const __m256d s = _mm256_set1_pd(0.25);
    for (long i = 0; i < N; i++) {
        const __m256d h = _mm256_hadd_pd(p, p);
        p = _mm256_mul_pd(s, _mm256_add_pd(_mm256_permute2f128_pd(h, h, 0x20), _mm256_permute2f128_pd(h, h, 0x31)));
    }
    return _mm256_cvtsd_f64(p);
}
static double chain_broadcast(double x)
{
    /* trask.c's lane broadcast (vpermpd), with a multiply to keep the chain */
    __m256d p = _mm256_set1_pd(x);
    const __m256d s = _mm256_set1_pd(1.0000001);
    for (long i = 0; i < N; i++)
        p = _mm256_mul_pd(s, _mm256_permute4x64_pd(p, 0x55));
    return _mm256_cvtsd_f64(p);
}
#endif

int main(void)
{
    const double x = seed_d;
    const double cyc = best_of(chain_iadd, x);
    printf("one cycle (dependent integer add): %.3f ns (%.2f GHz)\n", cyc, 1.0 / cyc);
    struct {
        const char *name;
        double (*f)(double);
        double minus; /* cycles of the extra operations in the chain, subtracted */
    } rows[] = {
        {"mul", chain_mul, 0},
        {"add", chain_add, 0},
        {"multiply-add (fma or mul+add)", chain_madd, 0},
        {"add + division", chain_div, 0},
        {"glibc exp (+ mul)", chain_exp_libm, 0},
        {"exp_fast (+ mul)", chain_exp_fast, 0},
        {"sigmoid_libm: exp + add + division", chain_sigmoid_libm, 0},
        {"sigmoid_fast: exp_fast + add + division", chain_sigmoid_fast, 0},
        {"nnext's nn_exp_f64 (+ mul)", chain_exp_nnext, 0},
        {"nnext's nn_exp_one_f64 (+ mul)", chain_exp_nnext_one, 0},
        {"nnext's sigmoid on a chain: exp_one + add + div", chain_sigmoid_nnext_one, 0},
#if LIMITS_HAVE_AVX2
        {"add + division, 4 lanes", chain_div4, 0},
        {"sigmoid_fast4, 4 lanes", chain_sigmoid_fast4, 0},
        {"4 independent sigmoid_fast4 (per iteration)", chain_sigmoid_fast4_x4, 0},
#ifdef LIMITS_LIBMVEC
        {"sigmoid with libmvec exp, 4 lanes", chain_sigmoid_libmvec4, 0},
        {"4 independent of those (per iteration)", chain_sigmoid_libmvec4_x4, 0},
#endif
        {"4x4 transpose-add (+ mul)", chain_transpose_add, 0},
        {"lane broadcast vpermpd (+ mul)", chain_broadcast, 0},
#endif
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const double ns = best_of(rows[i].f, x);
        printf("%-42s %7.2f ns  %6.1f cycles\n", rows[i].name, ns, ns / cyc - rows[i].minus);
    }
    return 0;
}
