/* Victor Zhou's training (see zhou.c) with FANN 2.2: the FANN column of issue 14.
 *
 *   cc -O3 -std=c11 bench/limits/fann_zhou.c -ldoublefann -lm -o fann_zhou
 *   ./fann_zhou REPEATS EPOCHS w1 w2 w3 w4 w5 w6 b1 b2 b3
 *
 * 2-2-1, FANN_SIGMOID with steepness 0.5 (= 1/(1+e^-x)), FANN_TRAIN_INCREMENTAL
 * (per-sample SGD in data order), learning rate 0.2 (= Zhou's 0.1 on (y - o)^2),
 * FANN_ERRORFUNC_LINEAR, momentum 0; weights and biases set to the given start.
 * What matches and what cannot: fann_common.h (FANN clips the sigmoid's value
 * to [0.01, 0.99] in its derivative; the rate is a float).
 *
 * Timed end to end, as nnext's construction + fit: fann_create_standard, the
 * settings, the weights, the training data, EPOCHS x fann_train_epoch,
 * fann_destroy.  Prints one JSON line: best of REPEATS, the final w1..w6,
 * b1..b3, and FANN's outputs on the four samples.
 */
#include "fann_common.h"

static const double X[8] = {-2, -1, 25, 6, 17, 4, -15, -6};
static const double Y[4] = {1, 0, 0, 1};

int main(int argc, char **argv)
{
    if (argc != 12) {
        fprintf(stderr, "usage: %s REPEATS EPOCHS w1 w2 w3 w4 w5 w6 b1 b2 b3\n", argv[0]);
        return 2;
    }
    const long repeats = limits_count(argv, 1, "REPEATS"), epochs = limits_count(argv, 2, "EPOCHS");
    double p[9];
    for (int i = 0; i < 9; i++)
        p[i] = limits_arg(argv, 3 + i, "parameter");
    /* nnext's layout: W0 (2x2) [[w1, w3], [w2, w4]], b0 [b1, b2], W1 (2x1) [w5, w6], b1 [b3] */
    const double W0[4] = {p[0], p[2], p[1], p[3]}, b0[2] = {p[6], p[7]}, W1[2] = {p[4], p[5]}, b1[1] = {p[8]};
    const unsigned n[3] = {2, 2, 1};
    double best = 1e30, out[13];
    for (long r = 0; r < repeats; r++) {
        const double t = limits_now();
        struct fann *ann = fann_tutorial_net(n, FANN_TRAIN_INCREMENTAL, 0.2f);
        fann_put_weights(ann, n, W0, b0, W1, b1);
        struct fann_train_data *data = fann_rows(X, Y, 4, 2);
        for (long e = 0; e < epochs; e++)
            fann_train_epoch(ann, data);
        const double dt = limits_now() - t;
        best = dt < best ? dt : best;
        if (r == repeats - 1) {
            double w0[4], c0[2], w1[2], c1[1];
            fann_take_weights(ann, n, w0, c0, w1, c1);
            const double zh[9] = {w0[0], w0[2], w0[1], w0[3], w1[0], w1[1], c0[0], c0[1], c1[0]};
            memcpy(out, zh, sizeof zh);
            for (int s = 0; s < 4; s++) {
                fann_type in[2] = {X[2 * s], X[2 * s + 1]};
                out[9 + s] = fann_run(ann, in)[0];
            }
        }
        fann_destroy_train(data);
        fann_destroy(ann);
    }
    limits_print("fann_zhou", "fann", best, 4 * epochs, "w1 w2 w3 w4 w5 w6 b1 b2 b3 outputs(4)", out, 13);
    return 0;
}
