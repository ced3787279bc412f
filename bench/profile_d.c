/* Where case D's time goes (bench/README.md): one training step of the
 * 784-300-100-10 ReLU/softmax float32 MLP at batch 64 (or the sizes given:
 * case E's 64-256-256-10, 256-2048-2048-10, ...; ReLU hidden layers, softmax
 * output), split into its matrix products, elementwise passes and the
 * optimizer update, each timed alone (best of several runs of many
 * repetitions), with 1 and with 2 threads, and the whole step through
 * nn_train_f32 for comparison.  bench/profile_numpy.py times numpy's
 * products of the same shapes.  From the repository's root:
 *   cc -O3 -std=c11 -fno-strict-aliasing -fno-trapping-math -pthread -Innext/csrc \
 *      bench/profile_d.c $(ls nnext/csrc/nnext_*.c) -lm -o profile_d
 *   ./profile_d [batch [n0 n1 n2 n3]]
 * Prints microseconds per call and GFLOP/s for the products. */
#define _POSIX_C_SOURCE 199309L
#include "nnext_core.h"
#include "nnext_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall time, or with 1 thread this thread's CPU time (the machine is shared:
 * time spent descheduled is not the kernel's). */
static int use_cpu_clock = 0;
static double now(void)
{
    struct timespec t;
    clock_gettime(use_cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *fill(int64_t n, unsigned seed)
{
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) exit(2);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 9) & 0xffff) / 65536.0f - 0.5f;
    }
    return p;
}

#define TIME(label, flops, stmt)                                                      \
    do {                                                                              \
        double best = 1e30;                                                           \
        for (int rep = 0; rep < 7; rep++) {                                           \
            const double t0 = now();                                                  \
            for (int it = 0; it < iters; it++) { stmt; }                              \
            const double dt = (now() - t0) / iters;                                   \
            if (dt < best) best = dt;                                                 \
        }                                                                             \
        total += best;                                                                \
        if (flops > 0)                                                                \
            printf("  %-34s %9.2f us  %6.1f GFLOP/s\n", label, best * 1e6,            \
                   (double)(flops) / best * 1e-9);                                    \
        else                                                                          \
            printf("  %-34s %9.2f us\n", label, best * 1e6);                          \
    } while (0)

int main(int argc, char **argv)
{
    const int64_t B = argc > 1 ? atol(argv[1]) : 64;
    int64_t sizes[4] = {784, 300, 100, 10};
    if (argc == 6)
        for (int l = 0; l < 4; l++) sizes[l] = atol(argv[2 + l]);
    if (B < 1 || B > 65536 || (argc != 6 && argc > 2) || sizes[0] < 1 || sizes[1] < 1 ||
        sizes[2] < 1 || sizes[3] < 2 || sizes[0] * sizes[1] > (1 << 26) ||
        sizes[1] * sizes[2] > (1 << 26)) {
        fprintf(stderr, "usage: %s [batch (1..65536) [n0 n1 n2 n3]] (widths >= 1, n3 >= 2, "
                        "each weight matrix at most 2^26 entries)\n", argv[0]);
        return 2;
    }
    const int64_t k = sizes[3];
    int acts[3] = {NN_RELU, NN_RELU, NN_SOFTMAX};
    const nn_net net = {3, sizes, acts, 1, NULL};
    const int64_t P = nn_param_count(&net);
    float *params = fill(P, 1), *grads = fill(P, 2);
    float *a[4], *d[4];
    a[0] = fill(B * sizes[0], 3);
    for (int l = 1; l < 4; l++) {
        a[l] = fill(B * sizes[l], 4 + l);
        d[l] = fill(B * sizes[l], 8 + l);
    }
    float *Y = calloc((size_t)(B * k), sizeof(float));
    if (!Y) return 2;
    for (int64_t i = 0; i < B; i++) Y[i * k + i % k] = 1;
    const double step_flops = 2.0 * B * (3.0 * (double)(sizes[0] * sizes[1] + sizes[1] * sizes[2] +
                                                        sizes[2] * sizes[3]) -
                                         (double)(sizes[0] * sizes[1])); /* no input delta for L0 */
    const int iters = step_flops > 1e9 ? 3 : step_flops > 1e8 ? 20 : 200;
    for (int threads = 1; threads <= 2; threads++) {
        nn_set_num_threads(threads);
        use_cpu_clock = threads == 1;
        double total = 0;
        printf("threads %d, batch %lld, %lld-%lld-%lld-%lld (%s time)\n", threads, (long long)B,
               (long long)sizes[0], (long long)sizes[1], (long long)sizes[2], (long long)sizes[3],
               use_cpu_clock ? "thread CPU" : "wall");
        for (int l = 0; l < 3; l++) {
            const int64_t ni = sizes[l], no = sizes[l + 1];
            const float *W = params + nn_weight_offset(&net, l), *b = params + nn_bias_offset(&net, l);
            char lab[64];
            snprintf(lab, sizeof lab, "fwd nn  L%d (%lld,%lld,%lld)", l, (long long)B, (long long)no, (long long)ni);
            TIME(lab, 2.0 * B * ni * no, nn_gemm_nn_f32(B, no, ni, a[l], W, b, a[l + 1]));
            snprintf(lab, sizeof lab, "act fwd L%d", l);
            TIME(lab, 0, nn_activation_forward_f32(acts[l], NAN, a[l + 1], B, no));
        }
        TIME("loss fwd", 0, nn_loss_forward_f32(NN_CROSS_ENTROPY, a[3], Y, B, k));
        TIME("loss bwd", 0, nn_loss_backward_f32(NN_CROSS_ENTROPY, NN_SOFTMAX, NAN, d[3], a[3], Y, B, k));
        for (int l = 2; l >= 0; l--) {
            const int64_t ni = sizes[l], no = sizes[l + 1];
            float *gW = grads + nn_weight_offset(&net, l), *gb = grads + nn_bias_offset(&net, l);
            const float *W = params + nn_weight_offset(&net, l);
            char lab[64];
            snprintf(lab, sizeof lab, "grad tn L%d (%lld,%lld,%lld)", l, (long long)ni, (long long)no, (long long)B);
            TIME(lab, 2.0 * B * ni * no, nn_gemm_tn_f32(ni, no, B, a[l], d[l + 1], gW));
            snprintf(lab, sizeof lab, "bias sums L%d", l);
            const float *dl = d[l + 1];
            TIME(lab, 0, for (int64_t j = 0; j < no; j++) gb[j] = 0;
                 for (int64_t i = 0; i < B; i++) for (int64_t j = 0; j < no; j++) gb[j] += dl[i * no + j]);
            if (l > 0) {
                snprintf(lab, sizeof lab, "delta nt L%d (%lld,%lld,%lld)", l, (long long)B, (long long)ni, (long long)no);
                TIME(lab, 2.0 * B * ni * no, nn_gemm_nt_f32(B, ni, no, d[l + 1], W, d[l]));
                snprintf(lab, sizeof lab, "act bwd L%d", l);
                TIME(lab, 0, nn_activation_backward_f32(acts[l - 1], NAN, d[l], a[l], B, ni));
            }
        }
        {
            /* the SGD update's memory traffic: params -= lr * grads */
            float *pp = params;
            const float *gg = grads;
            TIME("sgd update (P params)", 0, for (int64_t i = 0; i < P; i++) pp[i] -= 1e-9f * gg[i]);
        }
        printf("  sum of parts %.2f us\n", total * 1e6);
        /* what the step runs instead of grad tn + sgd update: the update folded
         * into the weight-gradient product (W -= lr A^T delta), outside the sum */
        for (int l = 2; l >= 0; l--) {
            const int64_t ni = sizes[l], no = sizes[l + 1];
            float *W = params + nn_weight_offset(&net, l), *gW = grads + nn_weight_offset(&net, l);
            const double before = total;
            char lab[64];
            snprintf(lab, sizeof lab, "grad tn_sgd L%d (%lld,%lld,%lld)", l, (long long)ni,
                     (long long)no, (long long)B);
            TIME(lab, 2.0 * B * ni * no, nn_gemm_tn_sgd_f32(ni, no, B, a[l], d[l + 1], 1e-9f, W, gW));
            total = before;
        }
        /* the whole step through nn_train: one epoch of 64 * 50 rows */
        {
            const int64_t steps = step_flops > 1e9 ? 5 : 50, n = B * steps;
            float *X = fill(n * sizes[0], 20), *YY = calloc((size_t)(n * k), sizeof(float));
            if (!YY) return 2;
            for (int64_t i = 0; i < n; i++) YY[i * k + i % k] = 1;
            nn_train_config cfg = {0};
            cfg.loss = NN_CROSS_ENTROPY;
            cfg.optimizer = NN_SGD;
            cfg.lr = 1e-6;
            cfg.batch_size = B;
            cfg.n_epochs = 1;
            double loss;
            nn_train_result res;
            double best = 1e30;
            for (int rep = 0; rep < 7; rep++) {
                const double t0 = now();
                nn_train_f32(&net, params, NULL, X, YY, n, &cfg, &loss, &res);
                const double dt = (now() - t0) / (double)steps;
                if (dt < best) best = dt;
            }
            printf("  nn_train step                      %9.2f us  %6.1f GFLOP/s\n", best * 1e6,
                   step_flops / best * 1e-9);
            free(X);
            free(YY);
        }
    }
    return 0;
}
