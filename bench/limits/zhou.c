/* Victor Zhou's training, hand-written: the yardstick of issue 14.
 *
 * 2-2-1 sigmoid network, per-sample SGD over his four samples in data order,
 * lr 0.1, loss (y - o)^2, 1,000 epochs (4,000 steps), float64:
 *   h1 = s(w1 x0 + w2 x1 + b1), h2 = s(w3 x0 + w4 x1 + b2), o = s(w5 h1 + w6 h2 + b3)
 *   g  = lr * 2 (o - y) * o (1 - o)                (dL/d(sum_o) times lr)
 *   g1 = g * w5 * h1 (1 - h1), g2 = g * w6 * h2 (1 - h2)   (old w5, w6, as he does)
 *   w1 -= g1 x0, w2 -= g1 x1, b1 -= g1, w3 -= g2 x0, w4 -= g2 x1, b2 -= g2,
 *   w5 -= g h1, w6 -= g h2, b3 -= g
 *
 *   cc -O3 -std=c11 bench/limits/zhou.c -lm -o zhou        (also -march=native; clang)
 *   ./zhou REPEATS EPOCHS w1 w2 w3 w4 w5 w6 b1 b2 b3
 *
 * Starts every repeat from the given parameters (bench/run.py passes Zhou's
 * np.random.normal() draw, the start nnext trains from) and prints, per
 * variant, one JSON line: the best time of REPEATS runs, ns per step, the
 * final w1..w6, b1..b3 and the MSE over the four samples after training.
 *
 * Variants: "libm" (glibc exp, then a division: the tutorial's sigmoid),
 * "fast" (limits.h's inlined branch-free exp, Estrin's scheme; max error
 * against the libm formula in bench/README.md), "libm_folded" (below: the
 * next sample's hidden sums computed off the chain) and "nnext_bits" (below:
 * nnext's own arithmetic, bit for bit, in registers).
 *
 * Why this is tight: a step is one chain of dependent operations: the updated
 * w1 feeds the next sample's sum, which feeds h1's sigmoid, o's sum, o's
 * sigmoid, g, g1 and w1 again.  Nothing else is on it (h1 and h2, and all
 * nine updates, run in parallel to the chain), so the time per step is the
 * chain's latency: 2 multiply-adds + sigmoid + 2 multiply-adds + sigmoid +
 * (1 - o, times o, times (o - y) lr 2) + g w5 h1(1-h1) + the update's multiply-
 * add, where a sigmoid is exp + add + division.  bench/README.md compares that
 * count, in cycles, with `perf stat` of this program.
 */
#include "limits.h"

static const double X[4][2] = {{-2, -1}, {25, 6}, {17, 4}, {-15, -6}};
static const double Y[4] = {1, 0, 0, 1};

#define DEFINE_TRAIN(NAME, SIG)                                                                    \
    static void NAME(double p[9], long epochs, double lr)                                          \
    {                                                                                              \
        double w1 = p[0], w2 = p[1], w3 = p[2], w4 = p[3], w5 = p[4], w6 = p[5];                   \
        double b1 = p[6], b2 = p[7], b3 = p[8];                                                    \
        const double lr2 = 2.0 * lr;                                                               \
        for (long e = 0; e < epochs; e++)                                                          \
            for (int s = 0; s < 4; s++) {                                                          \
                const double x0 = X[s][0], x1 = X[s][1], y = Y[s];                                 \
                const double h1 = SIG(MADD(w1, x0, MADD(w2, x1, b1)));                             \
                const double h2 = SIG(MADD(w3, x0, MADD(w4, x1, b2)));                             \
                const double o = SIG(MADD(w5, h1, MADD(w6, h2, b3)));                              \
                const double g = (lr2 * (o - y)) * (o * (1.0 - o));                                \
                const double g1 = g * (w5 * (h1 * (1.0 - h1)));                                    \
                const double g2 = g * (w6 * (h2 * (1.0 - h2)));                                    \
                w1 = MADD(-g1, x0, w1), w2 = MADD(-g1, x1, w2), b1 -= g1;                          \
                w3 = MADD(-g2, x0, w3), w4 = MADD(-g2, x1, w4), b2 -= g2;                          \
                w5 = MADD(-g, h1, w5), w6 = MADD(-g, h2, w6), b3 -= g;                             \
            }                                                                                      \
        p[0] = w1, p[1] = w2, p[2] = w3, p[3] = w4, p[4] = w5, p[5] = w6;                          \
        p[6] = b1, p[7] = b2, p[8] = b3;                                                           \
    }

DEFINE_TRAIN(train_libm, sigmoid_libm)
DEFINE_TRAIN(train_fast, sigmoid_fast)

/* "libm_folded": the same training with the next sample's hidden sums taken off
 * the chain.  With x' the next sample, w1' = w1 - g1 x0 etc.:
 *   w1' x0' + w2' x1' + b1' = (w1 x0' + w2 x1' + b1) - g1 (x0 x0' + x1 x1' + 1)
 * The bracket a1 uses the old weights (ready early), c = x.x' + 1 is a constant,
 * so the chain from g to the next sum is one multiply-add instead of the
 * update's multiply-add then two more.  Algebraically the same step, rounded
 * differently (agreement with the plain loop: bench/README.md). */
static void train_libm_folded(double p[9], long epochs, double lr)
{
    double w1 = p[0], w2 = p[1], w3 = p[2], w4 = p[3], w5 = p[4], w6 = p[5];
    double b1 = p[6], b2 = p[7], b3 = p[8];
    const double lr2 = 2.0 * lr;
    double c[4];
    for (int s = 0; s < 4; s++) {
        const int n = (s + 1) % 4;
        c[s] = X[s][0] * X[n][0] + X[s][1] * X[n][1] + 1.0;
    }
    double s1 = MADD(w1, X[0][0], MADD(w2, X[0][1], b1)), s2 = MADD(w3, X[0][0], MADD(w4, X[0][1], b2));
    for (long e = 0; e < epochs; e++)
        for (int s = 0; s < 4; s++) {
            const int n = (s + 1) % 4;
            const double x0 = X[s][0], x1 = X[s][1], y = Y[s];
            const double a1 = MADD(w1, X[n][0], MADD(w2, X[n][1], b1));
            const double a2 = MADD(w3, X[n][0], MADD(w4, X[n][1], b2));
            const double h1 = sigmoid_libm(s1), h2 = sigmoid_libm(s2);
            const double k1 = w5 * (h1 * (1.0 - h1)) * c[s], k2 = w6 * (h2 * (1.0 - h2)) * c[s];
            const double o = sigmoid_libm(MADD(w5, h1, MADD(w6, h2, b3)));
            const double g = (lr2 * (o - y)) * (o * (1.0 - o));
            s1 = MADD(-g, k1, a1), s2 = MADD(-g, k2, a2);
            const double g1 = g * (w5 * (h1 * (1.0 - h1))), g2 = g * (w6 * (h2 * (1.0 - h2)));
            w1 = MADD(-g1, x0, w1), w2 = MADD(-g1, x1, w2), b1 -= g1;
            w3 = MADD(-g2, x0, w3), w4 = MADD(-g2, x1, w4), b2 -= g2;
            w5 = MADD(-g, h1, w5), w6 = MADD(-g, h2, w6), b3 -= g;
        }
    p[0] = w1, p[1] = w2, p[2] = w3, p[3] = w4, p[4] = w5, p[5] = w6;
    p[6] = b1, p[7] = b2, p[8] = b3;
}

/* "nnext_bits": nnext's own step, to the bit (its final weights equal
 * nnext's: the "vs nnext" column shows 0), in registers: the sums in nnext's
 * order (bias first), its exp (nnext_exp.h: nn_exp_one_f64, no FMA), the
 * gradient's 2 (o - y) / 1 and the learning rate applied last (p - lr g),
 * the "0 +" of its general path's sums, and the step's loss summed as nnext
 * does.  The limit of nnext's arithmetic: what nnext's training of Zhou's
 * network would take with nothing but the chain (no loop over layers, no
 * parameters in memory, no Python). */
static void train_nnext_bits(double p[9], long epochs, double lr)
{
    NNEXT_BITS_NO_CONTRACT
    double w1 = p[0], w2 = p[1], w3 = p[2], w4 = p[3], w5 = p[4], w6 = p[5];
    double b1 = p[6], b2 = p[7], b3 = p[8];
    double loss_sum = 0;
    for (long e = 0; e < epochs; e++)
        for (int s = 0; s < 4; s++) {
            const double x0 = X[s][0], x1 = X[s][1], y = Y[s];
            double z1 = b1, z2 = b2;
            z1 += x0 * w1, z2 += x0 * w3;
            z1 += x1 * w2, z2 += x1 * w4;
            const double h1 = 1.0 / (1.0 + nn_exp_one_f64(-z1));
            const double h2 = 1.0 / (1.0 + nn_exp_one_f64(-z2));
            double zo = b3;
            zo += h1 * w5;
            zo += h2 * w6;
            const double o = 1.0 / (1.0 + nn_exp_one_f64(-zo));
            const double err = y - o;
            loss_sum += err * err;
            double d = (o - y) * 2.0;
            d *= o * (1.0 - o);
            double d1 = d * w5, d2 = d * w6;
            d1 *= h1 * (1.0 - h1);
            d2 *= h2 * (1.0 - h2);
            w5 = w5 - lr * (0.0 + h1 * d), w6 = w6 - lr * (0.0 + h2 * d), b3 = b3 - lr * (0.0 + d);
            w1 = w1 - lr * (0.0 + x0 * d1), w2 = w2 - lr * (0.0 + x1 * d1);
            w3 = w3 - lr * (0.0 + x0 * d2), w4 = w4 - lr * (0.0 + x1 * d2);
            b1 = b1 - lr * (0.0 + d1), b2 = b2 - lr * (0.0 + d2);
        }
    p[0] = w1, p[1] = w2, p[2] = w3, p[3] = w4, p[4] = w5, p[5] = w6;
    p[6] = b1, p[7] = b2, p[8] = b3;
    if (!(loss_sum >= 0)) fprintf(stderr, "nnext_bits: the loss sum is %g\n", loss_sum);
}

static double mse(const double p[9])
{
    double sum = 0;
    for (int s = 0; s < 4; s++) {
        const double h1 = sigmoid_libm(p[0] * X[s][0] + p[1] * X[s][1] + p[6]);
        const double h2 = sigmoid_libm(p[2] * X[s][0] + p[3] * X[s][1] + p[7]);
        const double o = sigmoid_libm(p[4] * h1 + p[5] * h2 + p[8]);
        sum += (Y[s] - o) * (Y[s] - o);
    }
    return sum / 4;
}

int main(int argc, char **argv)
{
    if (argc != 12) {
        fprintf(stderr, "usage: %s REPEATS EPOCHS w1 w2 w3 w4 w5 w6 b1 b2 b3\n", argv[0]);
        return 2;
    }
    const long repeats = limits_count(argv, 1, "REPEATS"), epochs = limits_count(argv, 2, "EPOCHS");
    double start[9];
    for (int i = 0; i < 9; i++)
        start[i] = limits_arg(argv, 3 + i, "parameter");
    static void (*const trains[4])(double *, long, double) = {train_libm, train_fast, train_libm_folded,
                                                              train_nnext_bits};
    static const char *const names[4] = {"libm", "fast", "libm_folded", "nnext_bits"};
    for (int v = 0; v < 4; v++) {
        double p[9], best = 1e30;
        for (long r = 0; r < repeats; r++) {
            memcpy(p, start, sizeof p);
            const double t = limits_now();
            trains[v](p, epochs, 0.1);
            const double dt = limits_now() - t;
            best = dt < best ? dt : best;
        }
        double out[10];
        memcpy(out, p, sizeof p);
        out[9] = mse(p);
        limits_print("zhou", names[v], best, 4 * epochs, "w1 w2 w3 w4 w5 w6 b1 b2 b3 mse", out, 10);
    }
    return 0;
}
