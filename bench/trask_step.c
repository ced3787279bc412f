/* Nanoseconds per training step of Trask's 3-4-1 network (part 2: full batch
 * of 4 rows, sigmoid, sse, lr 1), calling the C core directly, on the fused
 * path and on the general path (nn_set_fused_path), which must agree to the bit.
 * From the repository's root:
 *   cc -O3 -std=c11 -fno-strict-aliasing -fno-trapping-math -pthread -Innext/csrc \
 *      bench/trask_step.c nnext/csrc/nnext_*.c -lm -o trask_step
 *   ./trask_step [steps]
 * Prints the fastest of 7 runs of `steps` (default 60000) steps for each path. */
#define _POSIX_C_SOURCE 199309L
#include "nnext_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    const long steps = argc > 1 ? atol(argv[1]) : 60000;
    int64_t sizes[3] = {3, 4, 1};
    int acts[2] = {NN_SIGMOID, NN_SIGMOID};
    const nn_net net = {2, sizes, acts, 0, NULL};
    const double X[12] = {0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1}, Y[4] = {0, 1, 1, 0};
    /* Trask's syn0, syn1 (np.random.seed(1); 2 * np.random.random(...) - 1), to 8 digits */
    const double start[16] = {-0.16595599, 0.44064899, -0.99977125, -0.39533485,
                              -0.70648822, -0.81532281, -0.62747958, -0.30887855,
                              -0.20646505, 0.07763347, -0.16161097, 0.370439,
                              -0.5910955, 0.75623487, -0.94522481, 0.34093502};
    double *losses = malloc(sizeof(double) * (size_t)(steps > 0 ? steps : 1));
    double params[2][16], best[2] = {1e30, 1e30};
    if (!losses || steps < 1) return 2;
    for (int rep = 0; rep < 7; rep++)
        for (int fused = 1; fused >= 0; fused--) {
            memcpy(params[fused], start, sizeof start);
            nn_train_config cfg = {0};
            cfg.loss = NN_SSE, cfg.lr = 1.0, cfg.batch_size = 4, cfg.n_epochs = steps;
            nn_train_result res;
            nn_set_fused_path(fused);
            const double t = now();
            if (nn_train_f64(&net, params[fused], NULL, X, Y, 4, &cfg, losses, &res) != NN_OK)
                return 1;
            const double dt = now() - t;
            best[fused] = dt < best[fused] ? dt : best[fused];
        }
    const int same = memcmp(params[0], params[1], sizeof params[0]) == 0;
    printf("Trask 3-4-1, %ld steps: fused path %.1f ns/step, general path %.1f ns/step (%.2fx); "
           "same weights to the bit: %s\n",
           steps, best[1] / (double)steps * 1e9, best[0] / (double)steps * 1e9, best[0] / best[1],
           same ? "yes" : "NO");
    free(losses);
    return same ? 0 : 1;
}
