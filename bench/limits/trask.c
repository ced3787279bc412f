/* Trask's "neural network in 11 lines", part 2, hand-written: the yardstick of issue 14.
 *
 * 3-4-1 sigmoid network, no biases, the full batch of his 4 rows, 60,000
 * steps, lr 1, float64, his update rule (gradient descent on the summed
 * 1/2 (y - l2)^2):
 *   l1 = s(X syn0)  (4x4)          l2 = s(l1 syn1)  (4x1)
 *   d2 = (y - l2) l2 (1 - l2)      d1 = (d2 syn1^T) l1 (1 - l1)
 *   syn1 += l1^T d2                syn0 += X^T d1
 *
 *   cc -O3 -std=c11 -march=native -DLIMITS_LIBMVEC bench/limits/trask.c -lmvec -lm -o trask
 *   (without -mavx2 -mfma / -march=native the 4-lane variants are skipped,
 *   without -DLIMITS_LIBMVEC -lmvec those with glibc's vector exp)
 *   ./trask REPEATS STEPS syn0[0][0] .. syn0[2][3] syn1[0] .. syn1[3]   (16 numbers, row-major)
 *
 * Every repeat starts from the given weights (bench/run.py passes
 * np.random.seed(1)'s draw, the start of Network([3, 4, 1], bias=False,
 * seed=1)); per variant one JSON line: best time, ns per step, the final
 * syn0 (12), syn1 (4) and the summed squared error after training.
 *
 * Variants:
 *   scalar_libm  plain loops, glibc exp then a division (the tutorial's sigmoid)
 *   scalar_fast  the same loops with limits.h's inlined exp
 *   avx2_fast    (AVX2+FMA builds) the 4 hidden neurons in the 4 lanes of a
 *                __m256d: syn0's rows and syn1 are vectors over the hidden
 *                neurons, each row's l1 one vector sigmoid (4 independent ones
 *                per step), the 4 rows' output sums transposed into one vector
 *                (2 hadd, 1 permute, 1 add) for one vector sigmoid; no
 *                horizontal sum in the updates.
 *   avx2_libmvec the same with glibc's vector exp _ZGVdN4v_exp (build with
 *                -DLIMITS_LIBMVEC ... -lmvec): a shorter latency than limits.h's
 *   *_folded     the same, the next step's hidden sums off the chain (below)
 *   nnext_bits   nnext's own arithmetic in plain loops, bit for bit (below)
 *   nnext_bits_lanes  the same, laid out as nnext's fused step (rows in lanes)
 * X is read at run time (not folded as constants: nnext cannot know it is 0/1).
 *
 * Why these are tight: see bench/README.md ("The limits of issue 14"): the
 * vector step is one dependency chain (3 multiply-adds, a sigmoid, a multiply,
 * the transpose-add, a sigmoid, d2, a broadcast and multiply, the syn0 update)
 * and perf stat's cycles per step are compared with its latency count there.
 */
#include "limits.h"

static double X[4][3];
static const double X_DATA[4][3] = {{0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}};
static const double Y[4] = {0, 1, 1, 0};

#define DEFINE_SCALAR(NAME, SIG)                                                                   \
    static void NAME(double s0[3][4], double s1[4], long steps)                                    \
    {                                                                                              \
        double l1[4][4], l2[4], d2[4], d1[4][4];                                                   \
        for (long t = 0; t < steps; t++) {                                                         \
            for (int r = 0; r < 4; r++) {                                                          \
                double z2 = 0;                                                                     \
                for (int j = 0; j < 4; j++) {                                                      \
                    l1[r][j] = SIG(MADD(X[r][2], s0[2][j], MADD(X[r][1], s0[1][j], X[r][0] * s0[0][j]))); \
                    z2 = MADD(l1[r][j], s1[j], z2);                                                \
                }                                                                                  \
                l2[r] = SIG(z2);                                                                   \
                d2[r] = (Y[r] - l2[r]) * (l2[r] * (1.0 - l2[r]));                                  \
                for (int j = 0; j < 4; j++)                                                        \
                    d1[r][j] = d2[r] * (s1[j] * (l1[r][j] * (1.0 - l1[r][j])));                    \
            }                                                                                      \
            for (int j = 0; j < 4; j++) {                                                          \
                s1[j] += MADD(l1[0][j], d2[0], l1[1][j] * d2[1]) + MADD(l1[2][j], d2[2], l1[3][j] * d2[3]); \
                for (int i = 0; i < 3; i++)                                                        \
                    s0[i][j] += MADD(X[0][i], d1[0][j], X[1][i] * d1[1][j]) +                      \
                                MADD(X[2][i], d1[2][j], X[3][i] * d1[3][j]);                       \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_SCALAR(train_scalar_libm, sigmoid_libm)
DEFINE_SCALAR(train_scalar_fast, sigmoid_fast)

#if LIMITS_HAVE_AVX2
#ifdef LIMITS_LIBMVEC
/* glibc's libmvec: exp of 4 doubles (AVX2), within 4 ulp; link with -lmvec */
__m256d _ZGVdN4v_exp(__m256d x);
static inline __m256d sigmoid_libmvec4(__m256d z)
{
    const __m256d one = _mm256_set1_pd(1.0);
    return _mm256_div_pd(one, _mm256_add_pd(one, _ZGVdN4v_exp(_mm256_sub_pd(_mm256_setzero_pd(), z))));
}
#endif

/* Lanes = the 4 hidden neurons.  FOLD = 0: z[r] = X[r] syn0 from the updated
 * syn0.  FOLD = 1: the next step's hidden sums taken off the chain: with the
 * Gram matrix G = X X^T (4x4, constant), X syn0' = X syn0 + G d1, so
 * z'[r] = z[r] + sum_r' G[r][r'] d1[r'] (2 levels of multiply-adds and an add
 * after d1, instead of the syn0 update's 3 levels and then X[r] syn0's 3);
 * syn0 is still updated, off the chain.  Algebraically the same step, rounded
 * differently. */
#define DEFINE_AVX2(NAME, SIG4, FOLD)                                                               \
    static void NAME(double s0[3][4], double s1[4], long steps)                                     \
    {                                                                                               \
        __m256d w0 = _mm256_loadu_pd(s0[0]), w1 = _mm256_loadu_pd(s0[1]), w2 = _mm256_loadu_pd(s0[2]); \
        __m256d v = _mm256_loadu_pd(s1);                                                            \
        __m256d x[4][3], g[4][4], z[4];                                                             \
        for (int r = 0; r < 4; r++)                                                                 \
            for (int i = 0; i < 3; i++)                                                             \
                x[r][i] = _mm256_set1_pd(X[r][i]);                                                  \
        for (int r = 0; r < 4; r++)                                                                 \
            for (int q = 0; q < 4; q++)                                                             \
                g[r][q] = _mm256_set1_pd(X[r][0] * X[q][0] + X[r][1] * X[q][1] + X[r][2] * X[q][2]); \
        for (int r = 0; r < 4; r++)                                                                 \
            z[r] = _mm256_fmadd_pd(x[r][2], w2, _mm256_fmadd_pd(x[r][1], w1, _mm256_mul_pd(x[r][0], w0))); \
        const __m256d y = _mm256_loadu_pd(Y), one = _mm256_set1_pd(1.0);                            \
        for (long t = 0; t < steps; t++) {                                                          \
            __m256d l1[4], p[4];                                                                    \
            for (int r = 0; r < 4; r++) {                                                           \
                if (!(FOLD) && t)                                                                   \
                    z[r] = _mm256_fmadd_pd(x[r][2], w2, _mm256_fmadd_pd(x[r][1], w1, _mm256_mul_pd(x[r][0], w0))); \
                l1[r] = SIG4(z[r]);                                                                 \
                p[r] = _mm256_mul_pd(l1[r], v);                                                     \
            }                                                                                       \
            /* z2[r] = sum_j p[r][j]: a 4x4 transpose-add */                                        \
            const __m256d h01 = _mm256_hadd_pd(p[0], p[1]), h23 = _mm256_hadd_pd(p[2], p[3]);        \
            const __m256d z2 = _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),                \
                                             _mm256_permute2f128_pd(h01, h23, 0x31));               \
            const __m256d l2 = SIG4(z2);                                                            \
            const __m256d d2 = _mm256_mul_pd(_mm256_sub_pd(y, l2), _mm256_mul_pd(l2, _mm256_sub_pd(one, l2))); \
            __m256d d2b[4], d1[4];                                                                  \
            d2b[0] = _mm256_permute4x64_pd(d2, 0x00), d2b[1] = _mm256_permute4x64_pd(d2, 0x55);      \
            d2b[2] = _mm256_permute4x64_pd(d2, 0xAA), d2b[3] = _mm256_permute4x64_pd(d2, 0xFF);      \
            for (int r = 0; r < 4; r++)                                                             \
                d1[r] = _mm256_mul_pd(d2b[r], _mm256_mul_pd(v, _mm256_mul_pd(l1[r], _mm256_sub_pd(one, l1[r])))); \
            if (FOLD)                                                                               \
                for (int r = 0; r < 4; r++)                                                         \
                    z[r] = _mm256_add_pd(_mm256_fmadd_pd(g[r][1], d1[1], _mm256_fmadd_pd(g[r][0], d1[0], z[r])), \
                                         _mm256_fmadd_pd(g[r][3], d1[3], _mm256_mul_pd(g[r][2], d1[2]))); \
            v = _mm256_add_pd(v, _mm256_add_pd(_mm256_fmadd_pd(l1[0], d2b[0], _mm256_mul_pd(l1[1], d2b[1])), \
                                               _mm256_fmadd_pd(l1[2], d2b[2], _mm256_mul_pd(l1[3], d2b[3])))); \
            w0 = _mm256_add_pd(w0, _mm256_add_pd(_mm256_fmadd_pd(x[0][0], d1[0], _mm256_mul_pd(x[1][0], d1[1])), \
                                                 _mm256_fmadd_pd(x[2][0], d1[2], _mm256_mul_pd(x[3][0], d1[3])))); \
            w1 = _mm256_add_pd(w1, _mm256_add_pd(_mm256_fmadd_pd(x[0][1], d1[0], _mm256_mul_pd(x[1][1], d1[1])), \
                                                 _mm256_fmadd_pd(x[2][1], d1[2], _mm256_mul_pd(x[3][1], d1[3])))); \
            w2 = _mm256_add_pd(w2, _mm256_add_pd(_mm256_fmadd_pd(x[0][2], d1[0], _mm256_mul_pd(x[1][2], d1[1])), \
                                                 _mm256_fmadd_pd(x[2][2], d1[2], _mm256_mul_pd(x[3][2], d1[3])))); \
        }                                                                                           \
        _mm256_storeu_pd(s0[0], w0), _mm256_storeu_pd(s0[1], w1), _mm256_storeu_pd(s0[2], w2);       \
        _mm256_storeu_pd(s1, v);                                                                    \
    }

DEFINE_AVX2(train_avx2_fast, sigmoid_fast4, 0)
DEFINE_AVX2(train_avx2_fast_folded, sigmoid_fast4, 1)
#ifdef LIMITS_LIBMVEC
DEFINE_AVX2(train_avx2_libmvec, sigmoid_libmvec4, 0)
DEFINE_AVX2(train_avx2_libmvec_folded, sigmoid_libmvec4, 1)
#endif
#endif

/* "nnext_bits": nnext's own step, to the bit (its final weights equal
 * nnext's), in plain loops: every sum from 0 in nnext's order (over the
 * inputs for a neuron, over the rows for a gradient), its branch-free exp
 * (nnext_exp.h: nn_exp_f64, no FMA), the output delta (o - y) o (1 - o), the
 * hidden delta from the weights before the update, the update p - lr g, and
 * the step's loss summed as nnext does.  The limit of nnext's arithmetic
 * without nnext's fused step around it (its lanes, its loops over layers and
 * their parameters in memory). */
static void train_nnext_bits(double s0[3][4], double s1[4], long steps)
{
    NNEXT_BITS_NO_CONTRACT
    const double lr = 1.0;
    double h[4][4], o[4], d2[4], d1[4][4], loss_sum = 0;
    for (long t = 0; t < steps; t++) {
        for (int q = 0; q < 4; q++)
            for (int j = 0; j < 4; j++) {
                double z = 0;
                z += X[q][0] * s0[0][j];
                z += X[q][1] * s0[1][j];
                z += X[q][2] * s0[2][j];
                h[q][j] = 1.0 / (1.0 + nn_exp_f64(-z));
            }
        double sum = 0;
        for (int q = 0; q < 4; q++) {
            double z = 0;
            for (int i = 0; i < 4; i++) z += h[q][i] * s1[i];
            o[q] = 1.0 / (1.0 + nn_exp_f64(-z));
            const double e = Y[q] - o[q];
            sum += e * e;
        }
        loss_sum += 0.5 * sum;
        for (int q = 0; q < 4; q++) {
            d2[q] = o[q] - Y[q];
            d2[q] *= o[q] * (1.0 - o[q]);
            for (int i = 0; i < 4; i++) {
                d1[q][i] = 0.0 + d2[q] * s1[i];
                d1[q][i] *= h[q][i] * (1.0 - h[q][i]);
            }
        }
        for (int i = 0; i < 4; i++) {
            double g = 0;
            for (int q = 0; q < 4; q++) g += h[q][i] * d2[q];
            s1[i] = s1[i] - lr * g;
        }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                double g = 0;
                for (int q = 0; q < 4; q++) g += X[q][i] * d1[q][j];
                s0[i][j] = s0[i][j] - lr * g;
            }
    }
    if (!(loss_sum >= 0)) fprintf(stderr, "nnext_bits: the loss sum is %g\n", loss_sum);
}

/* "nnext_bits_lanes": the same arithmetic (nnext's bits) laid out as nnext's
 * fused step lays it out: the 4 rows in the 4 lanes of a vector, every
 * neuron one vector; the sigmoid a loop over the 16 hidden values that the
 * compiler vectorises; the gradients' sums over the rows taken in row order
 * (lane 0 first), W0's four columns at once from the transposed deltas. */
typedef double nnext_bits_v4 __attribute__((vector_size(32)));
static void train_nnext_bits_lanes(double s0[3][4], double s1[4], long steps)
{
    NNEXT_BITS_NO_CONTRACT
    typedef nnext_bits_v4 v4;
    const double lr = 1.0;
    v4 xc[3], y;
    for (int i = 0; i < 3; i++) xc[i] = (v4){X[0][i], X[1][i], X[2][i], X[3][i]};
    y = (v4){Y[0], Y[1], Y[2], Y[3]};
    double loss_sum = 0;
    for (long t = 0; t < steps; t++) {
        v4 h[4], o, d2, d1[4];
        for (int j = 0; j < 4; j++) {
            v4 z = (v4){0, 0, 0, 0};
            for (int i = 0; i < 3; i++) z += xc[i] * s0[i][j];
            h[j] = z;
        }
        double *hv = (double *)h;
        for (int k = 0; k < 16; k++) hv[k] = 1.0 / (1.0 + nn_exp_f64(-hv[k]));
        o = (v4){0, 0, 0, 0};
        for (int i = 0; i < 4; i++) o += h[i] * s1[i];
        for (int q = 0; q < 4; q++) o[q] = 1.0 / (1.0 + nn_exp_f64(-o[q]));
        double sum = 0;
        for (int q = 0; q < 4; q++) {
            const double e = y[q] - o[q];
            sum += e * e;
        }
        loss_sum += 0.5 * sum;
        d2 = o - y;
        d2 *= o * (1.0 - o);
        for (int i = 0; i < 4; i++) {
            d1[i] = 0.0 + d2 * s1[i];
            d1[i] *= h[i] * (1.0 - h[i]);
        }
        for (int i = 0; i < 4; i++) {
            double g = 0;
            for (int q = 0; q < 4; q++) g += h[i][q] * d2[q];
            s1[i] = s1[i] - lr * g;
        }
        v4 rows[4]; /* rows[q][j] = d1[j][q] */
        for (int q = 0; q < 4; q++) rows[q] = (v4){d1[0][q], d1[1][q], d1[2][q], d1[3][q]};
        for (int i = 0; i < 3; i++) {
            v4 g = (v4){0, 0, 0, 0};
            for (int q = 0; q < 4; q++) g += xc[i][q] * rows[q];
            v4 w;
            memcpy(&w, s0[i], sizeof w);
            w = w - lr * g;
            memcpy(s0[i], &w, sizeof w);
        }
    }
    if (!(loss_sum >= 0)) fprintf(stderr, "nnext_bits_lanes: the loss sum is %g\n", loss_sum);
}

static double sse(double s0[3][4], const double s1[4])
{
    double sum = 0;
    for (int r = 0; r < 4; r++) {
        double z2 = 0;
        for (int j = 0; j < 4; j++)
            z2 += sigmoid_libm(X[r][0] * s0[0][j] + X[r][1] * s0[1][j] + X[r][2] * s0[2][j]) * s1[j];
        const double e = Y[r] - sigmoid_libm(z2);
        sum += e * e;
    }
    return sum;
}

typedef void (*train_fn)(double[3][4], double[4], long);

int main(int argc, char **argv)
{
    if (argc != 19) {
        fprintf(stderr, "usage: %s REPEATS STEPS syn0 (12 numbers, row-major 3x4) syn1 (4 numbers)\n", argv[0]);
        return 2;
    }
    const long repeats = limits_count(argv, 1, "REPEATS"), steps = limits_count(argv, 2, "STEPS");
    double start[16];
    for (int i = 0; i < 16; i++)
        start[i] = limits_arg(argv, 3 + i, "weight");
    volatile const double *xd = &X_DATA[0][0]; /* X read at run time */
    for (int k = 0; k < 12; k++)
        X[k / 3][k % 3] = xd[k];
    const struct {
        train_fn train;
        const char *name;
    } variants[] = {
        {train_scalar_libm, "scalar_libm"}, {train_scalar_fast, "scalar_fast"},
        {train_nnext_bits, "nnext_bits"}, {train_nnext_bits_lanes, "nnext_bits_lanes"},
#if LIMITS_HAVE_AVX2
        {train_avx2_fast, "avx2_fast"}, {train_avx2_fast_folded, "avx2_fast_folded"},
#ifdef LIMITS_LIBMVEC
        {train_avx2_libmvec, "avx2_libmvec"}, {train_avx2_libmvec_folded, "avx2_libmvec_folded"},
#endif
#endif
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        double s0[3][4], s1[4], best = 1e30;
        for (long r = 0; r < repeats; r++) {
            memcpy(s0, start, sizeof s0), memcpy(s1, start + 12, sizeof s1);
            const double t = limits_now();
            variants[v].train(s0, s1, steps);
            const double dt = limits_now() - t;
            best = dt < best ? dt : best;
        }
        double out[17];
        memcpy(out, s0, sizeof s0), memcpy(out + 12, s1, sizeof s1);
        out[16] = sse(s0, s1);
        limits_print("trask", variants[v].name, best, steps, "syn0 (12, row-major) syn1 (4) sse", out, 17);
    }
    if (!LIMITS_HAVE_AVX2)
        printf("{\"program\": \"trask\", \"variant\": \"avx2\", \"skipped\": \"built without AVX2+FMA "
               "(add -mavx2 -mfma or -march=native)\"}\n");
#ifndef LIMITS_LIBMVEC
    printf("{\"program\": \"trask\", \"variant\": \"avx2_libmvec\", \"skipped\": \"built without "
           "-DLIMITS_LIBMVEC -lmvec (glibc's vector exp)\"}\n");
#endif
    return 0;
}
