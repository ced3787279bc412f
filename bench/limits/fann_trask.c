/* Trask's part 2 (see trask.c) with FANN 2.2: the FANN column of issue 14.
 *
 *   cc -O3 -std=c11 bench/limits/fann_trask.c -ldoublefann -lm -o fann_trask
 *   ./fann_trask REPEATS STEPS syn0 (12 numbers, row-major 3x4) syn1 (4 numbers)
 *
 * 3-4-1, FANN_SIGMOID with steepness 0.5 (= 1/(1+e^-x)), FANN_TRAIN_BATCH over
 * the 4 rows (one fann_train_epoch per step), learning rate 4 (FANN divides by
 * the 4 rows: Trask's summed update with lr 1), FANN_ERRORFUNC_LINEAR.
 *
 * FANN has no bias-free layers: every layer has a bias neuron.  Two variants:
 *   "fann"         biases start at 0 and FANN trains them (FANN as it is);
 *   "fann_bias0"   the bias weights written back to 0 after every step through
 *                  the public struct's weight array: then the forward pass and
 *                  the other weights' updates are Trask's (the bias weights'
 *                  own updates are discarded), up to FANN's clipping of the
 *                  sigmoid's value to [0.01, 0.99] in its derivative, which
 *                  cannot be turned off (fann_common.h): Trask's outputs end
 *                  at 0.003 and 0.997, so FANN's gradient differs once they
 *                  pass 0.01 / 0.99.
 * Timed end to end (create, settings, weights, data, STEPS epochs, destroy).
 * Per variant one JSON line: best of REPEATS, the final syn0 (12), syn1 (4),
 * the bias weights (4 hidden, 1 output) and FANN's outputs on the 4 rows.
 */
#include "fann_common.h"

static const double X[12] = {0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1};
static const double Y[4] = {0, 1, 1, 0};

int main(int argc, char **argv)
{
    if (argc != 19) {
        fprintf(stderr, "usage: %s REPEATS STEPS syn0 (12 numbers, row-major 3x4) syn1 (4 numbers)\n", argv[0]);
        return 2;
    }
    const long repeats = limits_count(argv, 1, "REPEATS"), steps = limits_count(argv, 2, "STEPS");
    double w[16];
    for (int i = 0; i < 16; i++)
        w[i] = limits_arg(argv, 3 + i, "weight");
    const unsigned n[3] = {3, 4, 1};
    for (int hold = 0; hold < 2; hold++) {
        double best = 1e30, out[25];
        for (long r = 0; r < repeats; r++) {
            const double t = limits_now();
            struct fann *ann = fann_tutorial_net(n, FANN_TRAIN_BATCH, 4.0f);
            fann_put_weights(ann, n, w, NULL, w + 12, NULL);
            unsigned bias[8];
            const unsigned n_bias = fann_bias_indices(ann, n, bias);
            struct fann_train_data *data = fann_rows(X, Y, 4, 3);
            for (long s = 0; s < steps; s++) {
                fann_train_epoch(ann, data);
                if (hold)
                    for (unsigned b = 0; b < n_bias; b++)
                        ann->weights[bias[b]] = 0.0;
            }
            const double dt = limits_now() - t;
            best = dt < best ? dt : best;
            if (r == repeats - 1) {
                fann_take_weights(ann, n, out, out + 16, out + 12, out + 20);
                for (int s = 0; s < 4; s++) {
                    fann_type in[3] = {X[3 * s], X[3 * s + 1], X[3 * s + 2]};
                    out[21 + s] = fann_run(ann, in)[0];
                }
            }
            fann_destroy_train(data);
            fann_destroy(ann);
        }
        limits_print("fann_trask", hold ? "fann_bias0" : "fann", best, steps,
                     "syn0 (12) syn1 (4) bias hidden (4) bias output (1) outputs (4)", out, 25);
    }
    return 0;
}
