/*
 * test_core: the C core's own tests, no Python.  Built and run by .ci/run
 * under -fsanitize=address,undefined and under valgrind:
 *
 *   gcc -std=c11 -g -O1 -pthread -fsanitize=address,undefined -fno-sanitize-recover=all \
 *       -Innext/csrc tests/c/test_core.c nnext/csrc/nnext_*.c -lm -o test_core && ./test_core
 *   valgrind --error-exitcode=1 --leak-check=full ./test_core --quick
 *
 * Every array handed to the core is its own malloc of exactly the size the
 * API documents, so that a read or write one element past the end (a kernel
 * tail, a chunk boundary) lands in a redzone (ASan) or unallocated memory
 * (valgrind).  Results are checked against naive loops written here, and the
 * gradients against central differences.  Exit status 0 when every check
 * passes; failures are printed with enough context to reproduce.
 */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET: test_worker_placement */
#include "nnext_core.h"
#include "nnext_gemm.h"
#include "nnext_exp.h"
#include "nnext_core_internal.h" /* the workspace's layout, for test_workspace_reuse */
#include "nnext_runtime.h"       /* nn_parallel, for test_worker_placement */

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0, checks = 0;
static int quick = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        checks++;                                                               \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x1234567887654321ull;

static double urand(void) /* [0, 1) */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static double srand_(double scale) { return (2 * urand() - 1) * scale; }

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* param: the leaky ReLU's slope, the ELU's alpha. */
static double act_ref(int a, double param, double z)
{
    switch (a) {
    case NN_SIGMOID: return 1 / (1 + exp(-z));
    case NN_TANH: return tanh(z);
    case NN_RELU: return z > 0 ? z : 0;
    case NN_LEAKY_RELU: return z > 0 ? z : param * z;
    case NN_ELU: return z > 0 ? z : param * expm1(z);
    default: return z;
    }
}

/* Naive forward in double: out (n, sizes[L]). */
static void forward_ref(const nn_net *net, const double *params, const double *X, int64_t n,
                        double *out)
{
    const int L = net->n_layers;
    const int64_t W = nn_max_width(net);
    double *a = xmalloc(sizeof(double) * (size_t)W), *z = xmalloc(sizeof(double) * (size_t)W);
    for (int64_t r = 0; r < n; r++) {
        for (int64_t j = 0; j < net->sizes[0]; j++) a[j] = X[r * net->sizes[0] + j];
        for (int l = 0; l < L; l++) {
            const int64_t ni = net->sizes[l], no = net->sizes[l + 1];
            const int64_t nc = nn_layer_cols(net, l), k = nn_layer_pieces(net, l);
            const double *w = params + nn_weight_offset(net, l);
            const double *b = net->has_bias ? params + nn_bias_offset(net, l) : NULL;
            for (int64_t j = 0; j < nc; j++) {
                double s = b ? b[j] : 0;
                for (int64_t i = 0; i < ni; i++) s += a[i] * w[i * nc + j];
                z[j] = s;
            }
            if (net->activations[l] == NN_MAXOUT) { /* unit j: max of z[j k .. j k + k - 1] */
                for (int64_t j = 0; j < no; j++) {
                    a[j] = z[j * k];
                    for (int64_t p = 1; p < k; p++) a[j] = z[j * k + p] > a[j] ? z[j * k + p] : a[j];
                }
            } else if (net->activations[l] == NN_SOFTMAX) {
                double top = z[0], sum = 0;
                for (int64_t j = 1; j < no; j++) top = z[j] > top ? z[j] : top;
                for (int64_t j = 0; j < no; j++) sum += (a[j] = exp(z[j] - top));
                for (int64_t j = 0; j < no; j++) a[j] /= sum;
            } else {
                for (int64_t j = 0; j < no; j++)
                    a[j] = act_ref(net->activations[l], nn_layer_param(net, l), z[j]);
            }
        }
        for (int64_t j = 0; j < net->sizes[L]; j++) out[r * net->sizes[L] + j] = a[j];
    }
    free(a);
    free(z);
}

static double loss_ref(int loss, const double *p, const double *y, int64_t n, int64_t k)
{
    double s = 0;
    for (int64_t i = 0; i < n * k; i++) {
        switch (loss) {
        case NN_MSE: s += (y[i] - p[i]) * (y[i] - p[i]) / (double)(n * k); break;
        case NN_SSE: s += 0.5 * (y[i] - p[i]) * (y[i] - p[i]); break;
        case NN_BCE: s -= (y[i] * log(p[i]) + (1 - y[i]) * log(1 - p[i])) / (double)(n * k); break;
        default: s -= y[i] * log(p[i]) / (double)n; break;
        }
    }
    return s;
}

/* A random network: L layers, widths in [1, max_w], valid activations. */
typedef struct {
    nn_net net;
    int64_t sizes[8];
    int acts[7];
    double params[7];
} netbox;

/* ... with random activation parameters (slopes in [0, 1), alphas in
 * [0.2, 3)), and about one hidden layer in five maxout of 1 to 3 pieces. */
static void random_net(netbox *nb, int L, int64_t max_w, int bias, int out_act)
{
    for (int l = 0; l <= L; l++) nb->sizes[l] = 1 + (int64_t)(urand() * (double)max_w);
    for (int l = 0; l < L; l++) {
        nb->acts[l] = (int)(urand() * 6); /* not softmax */
        if (l < L - 1 && urand() < 0.2) nb->acts[l] = NN_MAXOUT;
        nb->params[l] = nb->acts[l] == NN_LEAKY_RELU ? urand()
                        : nb->acts[l] == NN_ELU      ? 0.2 + 2.8 * urand()
                        : nb->acts[l] == NN_MAXOUT   ? (double)(1 + (int)(urand() * 3))
                                                     : 0;
    }
    if (out_act >= 0) nb->acts[L - 1] = out_act;
    if (out_act == NN_SOFTMAX && nb->sizes[L] < 2) nb->sizes[L] = 2;
    nb->net.n_layers = L;
    nb->net.sizes = nb->sizes;
    nb->net.activations = nb->acts;
    nb->net.has_bias = bias;
    nb->net.act_params = nb->params;
}

/* Per-layer buffers for nn_forward/nn_backward: acts[l] (n, sizes[l]),
 * pre[l] and deltas[l] (n, cols_{l-1}), errors[l] (n, sizes[l]), l = 1..L. */
static double *layer_buffer(const nn_net *net, int l, int64_t n, int cols)
{
    return xmalloc(sizeof(double) * (size_t)(n * (cols ? nn_layer_cols(net, l - 1) : net->sizes[l])));
}

static double max_abs_diff(const double *a, const double *b, int64_t n, double *scale)
{
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        const double e = fabs(a[i] - b[i]);
        d = e > d || e != e ? e : d;
        s = fabs(b[i]) > s ? fabs(b[i]) : s;
    }
    if (scale) *scale = s;
    return d;
}

/* ------------------------------------------------------------------ tests */

static void test_layout(void)
{
    int64_t sizes[] = {3, 4, 2};
    int acts[] = {NN_TANH, NN_SOFTMAX};
    nn_net net = {2, sizes, acts, 1, NULL};
    CHECK(nn_net_valid(&net), "valid net");
    CHECK(nn_param_count(&net) == 3 * 4 + 4 + 4 * 2 + 2, "count %lld", (long long)nn_param_count(&net));
    CHECK(nn_weight_offset(&net, 0) == 0 && nn_bias_offset(&net, 0) == 12, "offsets layer 0");
    CHECK(nn_weight_offset(&net, 1) == 16 && nn_bias_offset(&net, 1) == 24, "offsets layer 1");
    CHECK(nn_max_width(&net) == 4, "max width");
    net.has_bias = 0;
    CHECK(nn_param_count(&net) == 20 && nn_bias_offset(&net, 1) == -1, "no bias");
    /* invalid shapes and codes are refused, and no workspace is made for them */
    int bad_acts[] = {NN_SOFTMAX, NN_SIGMOID};
    nn_net bad = {2, sizes, bad_acts, 1, NULL};
    CHECK(!nn_net_valid(&bad), "softmax on a hidden layer");
    int acts_oob[] = {NN_N_ACTIVATIONS, 0};
    bad.activations = acts_oob;
    CHECK(!nn_net_valid(&bad), "activation code out of range");
    acts_oob[0] = -1;
    CHECK(!nn_net_valid(&bad), "negative activation code");
    int64_t zero[] = {3, 0, 2};
    nn_net zw = {2, zero, acts, 1, NULL};
    CHECK(!nn_net_valid(&zw), "zero width");
    nn_net nol = {0, sizes, acts, 1, NULL};
    CHECK(!nn_net_valid(&nol), "no layers");
    CHECK(!nn_net_valid(NULL), "NULL net");
    CHECK(nn_workspace_new_f64(&zw, 4) == NULL, "workspace for invalid net");
    CHECK(nn_workspace_new_f32(&net, 0) == NULL, "workspace for max_batch 0");
    nn_workspace_free(NULL);
    /* sizes whose parameter count (or a width) does not fit are refused (issue 11) */
    int64_t huge[] = {(int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31};
    nn_net hn = {2, huge, acts, 1, NULL};
    CHECK(!nn_net_valid(&hn), "2^31-wide layers: 2^63 parameters");
    int64_t wide[] = {3, NN_MAX_WIDTH + 1, 2};
    nn_net wn = {2, wide, acts, 1, NULL};
    CHECK(!nn_net_valid(&wn), "a width past NN_MAX_WIDTH");
    int64_t fits[] = {1 << 20, 1 << 20, 1};
    nn_net fn = {2, fits, acts, 1, NULL};
    CHECK(nn_net_valid(&fn) && nn_param_count(&fn) == ((int64_t)1 << 40) + (1 << 20) + (1 << 20) + 1,
          "2^20-wide layers fit");
    CHECK(nn_workspace_new_f64(&fn, (int64_t)1 << 62) == NULL, "a workspace of 2^62 rows");
}

/* Activation parameters: the layout of a maxout layer (W (n_in, m k)), the
 * ranges nn_net_valid enforces, the defaults. */
static void test_activation_params(void)
{
    int64_t sizes[] = {3, 4, 2};
    int acts[] = {NN_MAXOUT, NN_LEAKY_RELU};
    double params[] = {3, 0.2};
    nn_net net = {2, sizes, acts, 1, params};
    CHECK(nn_net_valid(&net), "maxout net valid");
    CHECK(nn_layer_cols(&net, 0) == 12 && nn_layer_cols(&net, 1) == 2 &&
          nn_layer_pieces(&net, 0) == 3 && nn_layer_pieces(&net, 1) == 1, "maxout cols");
    CHECK(nn_param_count(&net) == 3 * 12 + 12 + 4 * 2 + 2, "maxout count %lld",
          (long long)nn_param_count(&net));
    CHECK(nn_bias_offset(&net, 0) == 36 && nn_weight_offset(&net, 1) == 48, "maxout offsets");
    CHECK(nn_max_width(&net) == 12, "max width counts the maxout columns");
    CHECK(nn_layer_param(&net, 1) == 0.2, "slope read");
    net.act_params = NULL;
    CHECK(nn_layer_param(&net, 1) == 0.01 && nn_layer_pieces(&net, 0) == 2, "defaults");
    int relu[] = {NN_RELU, NN_RELU};
    nn_net rn = {2, sizes, relu, 1, params};
    CHECK(nn_activation_param(NN_RELU) == NULL && isnan(nn_layer_param(&rn, 0)) &&
              nn_layer_cols(&rn, 0) == 4, "relu takes no parameter (its entry is ignored)");
    net.act_params = params;
    const struct { int act; double v; int ok; } cases[] = {
        {NN_LEAKY_RELU, 0, 1},      {NN_LEAKY_RELU, 1, 1},      {NN_LEAKY_RELU, -0.01, 0},
        {NN_LEAKY_RELU, 1.5, 0},    {NN_LEAKY_RELU, NAN, 0},    {NN_ELU, 0, 0},
        {NN_ELU, 1e-9, 1},          {NN_ELU, 50, 1},            {NN_ELU, -1, 0},
        {NN_ELU, INFINITY, 0},      {NN_MAXOUT, 1, 1},          {NN_MAXOUT, 0, 0},
        {NN_MAXOUT, 2.5, 0},        {NN_MAXOUT, -3, 0},         {NN_MAXOUT, INFINITY, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int a2[] = {cases[i].act, NN_SIGMOID};
        double p2[] = {cases[i].v, NAN}; /* NAN: sigmoid's, ignored */
        nn_net n2 = {2, sizes, a2, 1, p2};
        CHECK(nn_net_valid(&n2) == cases[i].ok && nn_activation_param_ok(cases[i].act, cases[i].v) == cases[i].ok,
              "activation %d param %g: valid %d", cases[i].act, cases[i].v, cases[i].ok);
    }
    int last[] = {NN_SIGMOID, NN_MAXOUT};
    nn_net ml = {2, sizes, last, 1, NULL};
    CHECK(!nn_net_valid(&ml), "maxout as the output layer");
    /* m k past NN_MAX_WIDTH, and a k whose product overflows, are refused */
    int64_t big[] = {1, (int64_t)1 << 20, 1};
    double kbig[] = {(double)((int64_t)1 << 12), 0};
    nn_net bn = {2, big, acts, 1, kbig};
    CHECK(!nn_net_valid(&bn), "maxout columns past NN_MAX_WIDTH");
    kbig[0] = (double)((int64_t)1 << 11);
    CHECK(nn_net_valid(&bn) && nn_layer_cols(&bn, 0) == NN_MAX_WIDTH, "maxout columns at NN_MAX_WIDTH");
    int64_t wide[] = {1, NN_MAX_WIDTH, 1};
    kbig[0] = (double)NN_MAX_WIDTH;
    nn_net wn = {2, wide, acts, 1, kbig};
    CHECK(!nn_net_valid(&wn), "m k overflowing");

    /* maxout by hand: ties go to the first piece, gradient to the chosen one only */
    const double z[] = {1, 3, 2, /* unit 0 */ 5, 5, -1, /* unit 1 (tie) */ -2, -3, -1}; /* (1, 3*3) */
    double a[3], dz[9], da[9] = {10, 20, 30};
    nn_maxout_forward_f64(a, z, 1, 3, 3);
    CHECK(a[0] == 3 && a[1] == 5 && a[2] == -1, "maxout forward %g %g %g", a[0], a[1], a[2]);
    nn_maxout_backward_f64(dz, da, z, 1, 3, 3);
    const double want[] = {0, 10, 0, 20, 0, 0, 0, 0, 30};
    CHECK(memcmp(dz, want, sizeof want) == 0, "maxout backward");
    nn_maxout_backward_f64(da, da, z, 1, 3, 3); /* in place */
    CHECK(memcmp(da, want, sizeof want) == 0, "maxout backward in place");
    const float zf[] = {1, 3, 2, 5, 5, -1};
    float af[2];
    nn_maxout_forward_f32(af, zf, 2, 1, 3); /* (2, 1*3) */
    CHECK(af[0] == 3 && af[1] == 5, "maxout forward f32");
}

/* The poll scope (nn_poll_begin/end): a poll that says stop at once makes
 * predict, loss and gradients stop early, and nn_poll_end report it. */
static int poll_now(void *ctx)
{
    ++*(int *)ctx;
    return 1;
}

static void test_poll_scope(void)
{
    int64_t sizes[] = {64, 1024, 1};
    int acts[] = {NN_RELU, NN_LINEAR};
    nn_net net = {2, sizes, acts, 1, NULL};
    const int64_t n = 4096, P = nn_param_count(&net);
    double *params = xmalloc((size_t)P * sizeof(double)), *X = xmalloc((size_t)(n * 64) * sizeof(double));
    double *Y = xmalloc((size_t)n * sizeof(double)), *out = xmalloc((size_t)n * sizeof(double));
    double *grads = xmalloc((size_t)P * sizeof(double));
    for (int64_t i = 0; i < P; i++) params[i] = srand_(0.1);
    for (int64_t i = 0; i < n * 64; i++) X[i] = srand_(1);
    for (int64_t i = 0; i < n; i++) Y[i] = srand_(1);
    nn_workspace *ws = nn_workspace_new_f64(&net, 256), *big = nn_workspace_new_f64(&net, n);
    int calls = 0;
    /* the first poll comes after ~50 ms: wait that long inside the scope */
    nn_poll_begin(poll_now, &calls);
    for (int rep = 0; rep < 1000 && !calls; rep++) nn_predict_f64(&net, params, ws, X, n, out);
    CHECK(nn_poll_end() == 1 && calls == 1, "predict polled (%d calls) and stopped", calls);
    calls = 0;
    nn_poll_begin(poll_now, &calls);
    for (int rep = 0; rep < 1000 && !calls; rep++)
        nn_gradients_f64(&net, params, big, NN_MSE, X, Y, n, grads);
    CHECK(nn_poll_end() == 1 && calls == 1, "gradients polled (%d calls) and stopped", calls);
    CHECK(nn_poll_end() == 0, "a scope ends once");
    /* without a scope nothing polls, and the results are complete */
    nn_predict_f64(&net, params, ws, X, n, out);
    int finite = 1;
    for (int64_t i = 0; i < n; i++) finite &= isfinite(out[i]) != 0;
    CHECK(finite, "predict outside a scope");
    nn_workspace_free(ws);
    nn_workspace_free(big);
    free(params);
    free(X);
    free(Y);
    free(out);
    free(grads);
}

/* predict and forward against the naive loops; chunking over the workspace. */
static void test_forward(int trials)
{
    for (int t = 0; t < trials; t++) {
        netbox nb;
        const int L = 1 + (int)(urand() * 3);
        const int out = urand() < 0.25 ? NN_SOFTMAX : -1;
        random_net(&nb, L, t % 3 == 0 ? 40 : 9, urand() < 0.7, out);
        const nn_net *net = &nb.net;
        const int64_t P = nn_param_count(net), n_in = nb.sizes[0], k = nb.sizes[L];
        const int64_t n = 1 + (int64_t)(urand() * (t % 4 == 0 ? 600 : 20));
        const int64_t max_batch = 1 + (int64_t)(urand() * 300);
        double *pd = xmalloc(sizeof(double) * (size_t)P);
        float *pf = xmalloc(sizeof(float) * (size_t)P);
        double *Xd = xmalloc(sizeof(double) * (size_t)(n * n_in));
        float *Xf = xmalloc(sizeof(float) * (size_t)(n * n_in));
        for (int64_t i = 0; i < P; i++) pd[i] = (double)(pf[i] = (float)srand_(1.0));
        for (int64_t i = 0; i < n * n_in; i++) Xd[i] = (double)(Xf[i] = (float)srand_(2.0));
        double *ref = xmalloc(sizeof(double) * (size_t)(n * k));
        double *od = xmalloc(sizeof(double) * (size_t)(n * k));
        float *of = xmalloc(sizeof(float) * (size_t)(n * k));
        double *of_d = xmalloc(sizeof(double) * (size_t)(n * k));
        forward_ref(net, pd, Xd, n, ref);

        nn_workspace *wd = nn_workspace_new_f64(net, max_batch);
        nn_workspace *wf = nn_workspace_new_f32(net, max_batch);
        CHECK(wd && wf, "workspace");
        nn_predict_f64(net, pd, wd, Xd, n, od);
        nn_predict_f32(net, pf, wf, Xf, n, of);
        for (int64_t i = 0; i < n * k; i++) of_d[i] = of[i];
        double scale;
        double e = max_abs_diff(od, ref, n * k, &scale);
        CHECK(e <= 1e-12 * (1 + scale) * (double)(n_in + 8), "predict f64 trial %d: err %g", t, e);
        e = max_abs_diff(of_d, ref, n * k, &scale);
        CHECK(e <= 1e-4 * (1 + scale) * (double)(n_in + 8), "predict f32 trial %d: err %g", t, e);

        /* nn_forward writes every layer; its last equals predict's output */
        double *acts[8], *pre[8] = {NULL};
        acts[0] = Xd;
        for (int l = 1; l <= L; l++) {
            acts[l] = layer_buffer(net, l, n, 0);
            pre[l] = layer_buffer(net, l, n, 1);
        }
        nn_forward_f64(net, pd, acts, pre, n);
        CHECK(max_abs_diff(acts[L], od, n * k, NULL) <= 1e-12 * (1 + scale) * (double)(n_in + 8),
              "forward == predict, trial %d", t);
        for (int l = 1; l <= L; l++) free(acts[l]), free(pre[l]);

        /* loss_value over chunks equals the loss of the whole output */
        double *Y = xmalloc(sizeof(double) * (size_t)(n * k));
        const int loss = out == NN_SOFTMAX ? NN_CROSS_ENTROPY : (int)(urand() * 2); /* mse / sse */
        for (int64_t r = 0; r < n; r++) {
            const int64_t hot = (int64_t)(urand() * (double)k);
            for (int64_t j = 0; j < k; j++)
                Y[r * k + j] = loss == NN_CROSS_ENTROPY ? (j == hot) : srand_(1.0);
        }
        const double lv = nn_loss_value_f64(net, pd, wd, loss, Xd, Y, n);
        const double lr = loss_ref(loss, ref, Y, n, k);
        CHECK(fabs(lv - lr) <= 1e-10 * (1 + fabs(lr)), "loss_value trial %d: %g vs %g", t, lv, lr);
        free(Y);
        nn_workspace_free(wd);
        nn_workspace_free(wf);
        free(pd), free(pf), free(Xd), free(Xf), free(ref), free(od), free(of), free(of_d);
    }
}

/* Activation edge values: NaN propagates, infinities saturate, nothing traps. */
static void test_activation_edges(void)
{
    const double vals[] = {0.0, -0.0, 1e-310, -1e-310, 1e300, -1e300, INFINITY, -INFINITY,
                           800.0, -800.0, 90.0, -110.0, DBL_MIN, -DBL_MIN};
    const int nv = (int)(sizeof vals / sizeof vals[0]);
    for (int a = 0; a < NN_SOFTMAX; a++) {
        double *xd = xmalloc(sizeof(double) * (size_t)nv);
        float *xf = xmalloc(sizeof(float) * (size_t)nv);
        for (int i = 0; i < nv; i++) {
            xd[i] = vals[i];
            xf[i] = (float)vals[i];
        }
        const double param = a == NN_LEAKY_RELU ? 0.01 : 1.0; /* the defaults */
        nn_activation_forward_f64(a, param, xd, 1, nv);
        nn_activation_forward_f32(a, param, xf, 1, nv);
        for (int i = 0; i < nv; i++) {
            const double want = act_ref(a, param, vals[i]);
            const double wantf = act_ref(a, param, (double)(float)vals[i]);
            const int ok = isnan(want) ? isnan(xd[i])
                           : isinf(want) ? xd[i] == want
                                         : fabs(xd[i] - want) <= 1e-15 * fabs(want) + 1e-300;
            CHECK(ok, "activation %d f64 at %g: %g, want %g", a, vals[i], xd[i], want);
            const int okf = isnan(wantf) ? isnan(xf[i])
                            : isinf(wantf) || fabs(wantf) > FLT_MAX
                                ? isinf(xf[i]) || fabs((double)xf[i]) >= FLT_MAX
                                : fabs((double)xf[i] - wantf) <= 1e-6 * fabs(wantf) + 1e-37;
            CHECK(okf, "activation %d f32 at %g: %g, want %g", a, vals[i], (double)xf[i], wantf);
        }
        free(xd);
        free(xf);
        double nan_in = NAN;
        nn_activation_forward_f64(a, param, &nan_in, 1, 1);
        /* relu's "x > 0 ? x : 0" maps NaN to 0 (numpy's maximum keeps NaN); the
         * binding refuses non-finite inputs, so only overflow inside a network
         * can get here.  Every other activation propagates NaN. */
        CHECK(isnan(nan_in) || (a == NN_RELU && nan_in == 0), "activation %d keeps NaN: %g", a,
              nan_in);
    }
    /* softmax of a row with huge logits stays a distribution */
    double row[4] = {1e300, -1e300, 1e300, 0};
    nn_activation_forward_f64(NN_SOFTMAX, NAN, row, 1, 4);
    CHECK(row[0] == 0.5 && row[1] == 0 && row[2] == 0.5 && row[3] == 0, "softmax huge: %g %g %g %g",
          row[0], row[1], row[2], row[3]);
}

/* Gradients against central differences of the loss (double). */
static void test_gradients(int trials)
{
    const int combos[][2] = {{NN_MSE, -1}, {NN_SSE, -1}, {NN_BCE, NN_SIGMOID},
                             {NN_CROSS_ENTROPY, NN_SOFTMAX}, {NN_MSE, NN_SOFTMAX},
                             {NN_BCE, NN_TANH + 100 /* any non-sigmoid hidden, sigmoid out */}};
    for (int t = 0; t < trials; t++) {
        const int c = t % 6;
        int loss = combos[c][0], out_act = combos[c][1];
        if (out_act >= 100) out_act = NN_SIGMOID;
        netbox nb;
        const int L = 1 + (int)(urand() * 3);
        random_net(&nb, L, 6, t % 2, out_act);
        if (loss == NN_MSE || loss == NN_SSE) /* keep kinks (relu) away from 0 by luck only */
            for (int l = 0; l < L; l++)
                if (nb.acts[l] == NN_RELU || nb.acts[l] == NN_LEAKY_RELU) nb.acts[l] = NN_TANH;
        for (int l = 0; l < L - 1; l++)
            if (nb.acts[l] == NN_RELU || nb.acts[l] == NN_LEAKY_RELU) {
                nb.acts[l] = NN_ELU;
                nb.params[l] = 0.2 + 2.8 * urand();
            }
        const nn_net *net = &nb.net;
        const int64_t P = nn_param_count(net), n_in = nb.sizes[0], k = nb.sizes[L];
        const int64_t n = 1 + (int64_t)(urand() * 9);
        double *p = xmalloc(sizeof(double) * (size_t)P), *g = xmalloc(sizeof(double) * (size_t)P);
        double *X = xmalloc(sizeof(double) * (size_t)(n * n_in));
        double *Y = xmalloc(sizeof(double) * (size_t)(n * k));
        for (int64_t i = 0; i < P; i++) p[i] = srand_(0.8);
        for (int64_t i = 0; i < n * n_in; i++) X[i] = srand_(1.0);
        for (int64_t r = 0; r < n; r++) {
            const int64_t hot = (int64_t)(urand() * (double)k);
            for (int64_t j = 0; j < k; j++)
                Y[r * k + j] = loss == NN_CROSS_ENTROPY ? (j == hot) : loss == NN_BCE ? urand() : srand_(1.0);
        }
        nn_workspace *ws = nn_workspace_new_f64(net, n);
        const double v = nn_gradients_f64(net, p, ws, loss, X, Y, n, g);
        double *out = xmalloc(sizeof(double) * (size_t)(n * k));
        forward_ref(net, p, X, n, out);
        const double v_ref = loss_ref(loss, out, Y, n, k);
        CHECK(fabs(v - v_ref) <= 1e-10 * (1 + fabs(v_ref)), "gradients' loss trial %d: %g vs %g", t, v,
              v_ref);
        double worst = 0, gscale = 0;
        for (int64_t i = 0; i < P; i++) {
            const double old = p[i], h = 1e-6;
            p[i] = old + h;
            forward_ref(net, p, X, n, out);
            const double fp = loss_ref(loss, out, Y, n, k);
            p[i] = old - h;
            forward_ref(net, p, X, n, out);
            const double fm = loss_ref(loss, out, Y, n, k);
            p[i] = old;
            const double fd = (fp - fm) / (2 * h);
            const double e = fabs(fd - g[i]);
            worst = e > worst ? e : worst;
            gscale = fabs(fd) > gscale ? fabs(fd) : gscale;
        }
        CHECK(worst <= 1e-5 * (1 + gscale), "gradients trial %d (loss %d, L %d): worst %g, scale %g", t,
              loss, L, worst, gscale);
        nn_workspace_free(ws);
        free(p), free(g), free(X), free(Y), free(out);
    }
}

/* nn_backward with and without errors[] gives the same grads as nn_gradients. */
static void test_backward(void)
{
    netbox nb;
    random_net(&nb, 3, 7, 1, -1);
    nb.acts[1] = NN_MAXOUT; /* one maxout layer at least (in place and with errors) */
    nb.params[1] = 3;
    const nn_net *net = &nb.net;
    const int L = 3;
    const int64_t P = nn_param_count(net), n = 5, k = nb.sizes[L];
    double *p = xmalloc(sizeof(double) * (size_t)P), *g1 = xmalloc(sizeof(double) * (size_t)P),
           *g2 = xmalloc(sizeof(double) * (size_t)P), *g3 = xmalloc(sizeof(double) * (size_t)P);
    double *X = xmalloc(sizeof(double) * (size_t)(n * nb.sizes[0]));
    double *Y = xmalloc(sizeof(double) * (size_t)(n * k));
    for (int64_t i = 0; i < P; i++) p[i] = srand_(1);
    for (int64_t i = 0; i < n * nb.sizes[0]; i++) X[i] = srand_(1);
    for (int64_t i = 0; i < n * k; i++) Y[i] = srand_(1);
    nn_workspace *ws = nn_workspace_new_f64(net, n);
    nn_gradients_f64(net, p, ws, NN_MSE, X, Y, n, g1);
    double *acts[4], *errors[4] = {NULL}, *deltas[4] = {NULL}, *pre[4] = {NULL};
    acts[0] = X;
    for (int l = 1; l <= L; l++) {
        acts[l] = layer_buffer(net, l, n, 0);
        errors[l] = layer_buffer(net, l, n, 0);
        deltas[l] = layer_buffer(net, l, n, 1);
        pre[l] = layer_buffer(net, l, n, 1);
    }
    nn_forward_f64(net, p, acts, pre, n);
    const double *const *cpre = (const double *const *)pre;
    nn_backward_f64(net, p, (const double *const *)acts, cpre, Y, n, NN_MSE, errors, deltas, g2);
    nn_backward_f64(net, p, (const double *const *)acts, cpre, Y, n, NN_MSE, NULL, deltas, g3);
    CHECK(max_abs_diff(g1, g2, P, NULL) <= 1e-14, "backward with errors");
    CHECK(max_abs_diff(g1, g3, P, NULL) <= 1e-14, "backward without errors");
    for (int l = 1; l <= L; l++) free(acts[l]), free(errors[l]), free(deltas[l]), free(pre[l]);
    nn_workspace_free(ws);
    free(p), free(g1), free(g2), free(g3), free(X), free(Y);
}

static double *spoil_target = NULL;
static int poll_spoil_and_stop(void *ctx)
{
    (void)ctx;
    spoil_target[0] = INFINITY;
    return 1;
}

static int poll_count = 0;
static int poll_stop_after(void *ctx)
{
    poll_count++;
    return poll_count >= *(int *)ctx;
}

static nn_train_config base_config(int64_t n)
{
    nn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss = NN_MSE;
    cfg.optimizer = NN_SGD;
    cfg.lr = 0.5;
    cfg.beta1 = 0.9;
    cfg.beta2 = 0.999;
    cfg.eps = 1e-8;
    cfg.batch_size = n;
    cfg.rng_state = 42;
    cfg.n_epochs = 1;
    return cfg;
}

/* Sample weights and given row orders (nn_train_config): integer weights
 * give the objective of the rows repeated (the l2 term over the weights'
 * sum, as over the repeated rows' count), and orders the training on the
 * rows reordered, to rounding. */
static void test_weights_and_orders(void)
{
    int64_t sizes[] = {3, 5, 2};
    int acts[] = {NN_TANH, NN_SIGMOID};
    nn_net net = {2, sizes, acts, 1, NULL};
    const int64_t P = nn_param_count(&net), n = 6, counts[] = {1, 2, 0, 3, 1, 1}, nr = 8;
    double X[18], Y[12], Xr[24], Yr[16], w[6], params[64], g[64], gr[64];
    rng_state = 5;
    for (int i = 0; i < 18; i++) X[i] = srand_(1);
    for (int i = 0; i < 12; i++) Y[i] = srand_(1) > 0;
    for (int64_t i = 0; i < P; i++) params[i] = srand_(1);
    for (int64_t r = 0, k = 0; r < n; r++) {
        w[r] = (double)counts[r];
        for (int64_t c = 0; c < counts[r]; c++, k++) {
            memcpy(Xr + 3 * k, X + 3 * r, sizeof(double) * 3);
            memcpy(Yr + 2 * k, Y + 2 * r, sizeof(double) * 2);
        }
    }
    nn_train_config cfg = base_config(n);
    cfg.loss = NN_BCE;
    cfg.l2 = 0.3;
    cfg.reg_per_row = 1;
    cfg.loss_scale = cfg.grad_scale = 2.0;
    nn_workspace *ws = nn_workspace_new_f64(&net, nr);
    const double v_rep = nn_objective_f64(&net, params, ws, &cfg, Xr, Yr, nr, gr);
    cfg.sample_weight = w;
    const double v = nn_objective_f64(&net, params, ws, &cfg, X, Y, n, g);
    double e = fabs(v - v_rep) / fabs(v_rep);
    for (int64_t i = 0; i < P; i++) e = fmax(e, fabs(g[i] - gr[i]) / (1e-300 + fabs(gr[i])));
    CHECK(e < 1e-12, "weighted objective vs repeated rows: relative error %g", e);
    nn_workspace_free(ws);

    /* two epochs over given orders == two over the rows reordered that way */
    int64_t order[12];
    for (int64_t i = 0; i < n; i++) order[i] = order[n + i] = n - 1 - i;
    double Xo[18], Yo[12], p1[64], p2[64], l1[2], l2[2];
    for (int64_t i = 0; i < n; i++) {
        memcpy(Xo + 3 * i, X + 3 * order[i], sizeof(double) * 3);
        memcpy(Yo + 2 * i, Y + 2 * order[i], sizeof(double) * 2);
    }
    memcpy(p1, params, sizeof(double) * (size_t)P);
    memcpy(p2, params, sizeof(double) * (size_t)P);
    nn_train_config a = base_config(n), b = base_config(n);
    a.loss = b.loss = NN_BCE;
    a.batch_size = b.batch_size = 4;
    a.n_epochs = b.n_epochs = 2;
    a.epoch_order = order;
    a.shuffle = 1; /* (unused with epoch_order) */
    nn_train_result ra, rb;
    CHECK(nn_train_f64(&net, p1, NULL, X, Y, n, &a, l1, &ra) == NN_OK &&
          nn_train_f64(&net, p2, NULL, Xo, Yo, n, &b, l2, &rb) == NN_OK, "orders: trained");
    CHECK(memcmp(p1, p2, sizeof(double) * (size_t)P) == 0 && l1[0] == l2[0] && l1[1] == l2[1],
          "epoch_order differs from training on the reordered rows");
    CHECK(a.rng_state == 42, "epoch_order drew from the shuffling generator");
}

/* Training: XOR converges (every optimizer, f64 and f32, shuffled and not),
 * one SGD step equals params - lr * gradients, divergence restores. */
static void test_train(void)
{
    int64_t sizes[] = {2, 6, 1};
    int acts[] = {NN_TANH, NN_SIGMOID};
    nn_net net = {2, sizes, acts, 1, NULL};
    const int64_t P = nn_param_count(&net), n = 4;
    const double Xs[] = {0, 0, 0, 1, 1, 0, 1, 1}, Ys[] = {0, 1, 1, 0};
    double *X = xmalloc(sizeof Xs), *Y = xmalloc(sizeof Ys);
    float *Xf = xmalloc(sizeof(float) * 8), *Yf = xmalloc(sizeof(float) * 4);
    memcpy(X, Xs, sizeof Xs);
    memcpy(Y, Ys, sizeof Ys);
    for (int i = 0; i < 8; i++) Xf[i] = (float)Xs[i];
    for (int i = 0; i < 4; i++) Yf[i] = (float)Ys[i];
    const int64_t epochs = quick ? 800 : 3000;
    double *losses = xmalloc(sizeof(double) * (size_t)epochs);
    for (int variant = 0; variant < 6; variant++) {
        const int opt = variant % 3; /* 0 sgd, 1 momentum, 2 adam */
        const int f32 = variant >= 3;
        nn_train_config cfg = base_config(n);
        cfg.optimizer = opt == 2 ? NN_ADAM : NN_SGD;
        cfg.momentum = opt == 1 ? 0.9 : 0;
        cfg.lr = opt == 2 ? 0.05 : opt == 1 ? 0.1 : 1.0;
        cfg.loss = NN_BCE;
        cfg.batch_size = 2 + (variant & 1);
        cfg.shuffle = 1;
        cfg.n_epochs = epochs;
        const int n_state = opt == 2 ? 2 : opt == 1;
        nn_train_result res;
        nn_status st;
        double pred[4];
        uint64_t seed = 7;
        if (!f32) {
            double *p = xmalloc(sizeof(double) * (size_t)P);
            double *state = n_state ? calloc((size_t)(P * n_state), sizeof(double)) : NULL;
            rng_state = seed;
            for (int64_t i = 0; i < P; i++) p[i] = srand_(1);
            st = nn_train_f64(&net, p, state, X, Y, n, &cfg, losses, &res);
            nn_workspace *ws = nn_workspace_new_f64(&net, 4);
            nn_predict_f64(&net, p, ws, X, n, pred);
            nn_workspace_free(ws);
            free(p);
            free(state);
        } else {
            float *p = xmalloc(sizeof(float) * (size_t)P), pf[4];
            float *state = n_state ? calloc((size_t)(P * n_state), sizeof(float)) : NULL;
            rng_state = seed;
            for (int64_t i = 0; i < P; i++) p[i] = (float)srand_(1);
            st = nn_train_f32(&net, p, state, Xf, Yf, n, &cfg, losses, &res);
            nn_workspace *ws = nn_workspace_new_f32(&net, 1);
            nn_predict_f32(&net, p, ws, Xf, n, pf);
            nn_workspace_free(ws);
            for (int i = 0; i < 4; i++) pred[i] = pf[i];
            free(p);
            free(state);
        }
        CHECK(st == NN_OK && res.epochs_done == epochs, "train variant %d: status %d, %lld epochs",
              variant, (int)st, (long long)res.epochs_done);
        double worst = 0;
        for (int i = 0; i < 4; i++) worst = fmax(worst, fabs(pred[i] - Ys[i]));
        CHECK(worst < 0.3, "XOR variant %d not learned: worst error %g (loss %g -> %g)", variant,
              worst, losses[0], losses[epochs - 1]);
        if (opt == 2) CHECK(cfg.adam_step > 0, "adam_step advanced");
    }

    /* one full-batch SGD step == params - lr * grads, loss recorded */
    double *p = xmalloc(sizeof(double) * (size_t)P), *q = xmalloc(sizeof(double) * (size_t)P);
    double *g = xmalloc(sizeof(double) * (size_t)P);
    for (int64_t i = 0; i < P; i++) q[i] = p[i] = srand_(1);
    nn_workspace *ws = nn_workspace_new_f64(&net, n);
    const double v = nn_gradients_f64(&net, q, ws, NN_MSE, X, Y, n, g);
    nn_workspace_free(ws);
    nn_train_config cfg = base_config(n);
    nn_train_result res;
    CHECK(nn_train_f64(&net, p, NULL, X, Y, n, &cfg, losses, &res) == NN_OK, "one step");
    CHECK(fabs(losses[0] - v) <= 1e-15 * (1 + v), "one step's loss %g vs %g", losses[0], v);
    double e = 0;
    for (int64_t i = 0; i < P; i++) e = fmax(e, fabs(p[i] - (q[i] - 0.5 * g[i])));
    CHECK(e <= 1e-15, "one SGD step: %g", e);

    /* zero epochs change nothing */
    memcpy(q, p, sizeof(double) * (size_t)P);
    cfg.n_epochs = 0;
    CHECK(nn_train_f64(&net, p, NULL, X, Y, n, &cfg, losses, &res) == NN_OK && res.epochs_done == 0,
          "zero epochs");
    CHECK(memcmp(p, q, sizeof(double) * (size_t)P) == 0, "zero epochs changed params");

    /* invalid arguments */
    cfg = base_config(n);
    cfg.batch_size = 0;
    CHECK(nn_train_f64(&net, p, NULL, X, Y, n, &cfg, losses, &res) == NN_ERR_INVALID, "batch 0");
    cfg = base_config(n);
    CHECK(nn_train_f64(&net, p, NULL, X, Y, 0, &cfg, losses, &res) == NN_ERR_INVALID, "n 0");
    CHECK(memcmp(p, q, sizeof(double) * (size_t)P) == 0, "invalid calls changed params");

    /* divergence: linear output, huge lr -> NONFINITE, params and state restored
     * to the start of the failing epoch */
    int lin_acts[] = {NN_LINEAR, NN_LINEAR};
    nn_net lin = {2, sizes, lin_acts, 1, NULL};
    for (int opt = 0; opt < 3; opt++) {
        cfg = base_config(n);
        cfg.optimizer = opt == 2 ? NN_ADAM : NN_SGD;
        cfg.momentum = opt == 1 ? 0.5 : 0;
        cfg.lr = opt == 2 ? 1e200 : 1e150;
        cfg.batch_size = 1;
        cfg.n_epochs = 50;
        const int n_state = opt == 2 ? 2 : opt == 1;
        double *state = n_state ? calloc((size_t)(P * n_state), sizeof(double)) : NULL;
        for (int64_t i = 0; i < P; i++) p[i] = srand_(1);
        const nn_status st = nn_train_f64(&lin, p, state, X, Y, n, &cfg, losses, &res);
        CHECK(st == NN_ERR_NONFINITE, "divergence (opt %d) status %d", opt, (int)st);
        CHECK(res.bad_epoch == res.epochs_done, "bad epoch %lld after %lld done",
              (long long)res.bad_epoch, (long long)res.epochs_done);
        int finite = 1;
        for (int64_t i = 0; i < P; i++) finite &= isfinite(p[i]) != 0;
        for (int64_t i = 0; i < P * n_state; i++) finite &= isfinite(state[i]) != 0;
        CHECK(finite, "params/state not restored to finite values after divergence (opt %d)", opt);
        free(state);
    }

    /* a poll callback that says stop: INTERRUPTED, params finite */
    cfg = base_config(n);
    cfg.n_epochs = 4000000; /* far more than fit in the ~50 ms before the first poll */
    cfg.batch_size = 1;
    int stop_after = 1;
    poll_count = 0;
    cfg.poll = poll_stop_after;
    cfg.poll_ctx = &stop_after;
    double *big_losses = xmalloc(sizeof(double) * (size_t)cfg.n_epochs);
    for (int64_t i = 0; i < P; i++) p[i] = srand_(1);
    const nn_status st = nn_train_f64(&net, p, NULL, X, Y, n, &cfg, big_losses, &res);
    CHECK(st == NN_ERR_INTERRUPTED && poll_count == 1, "interrupt: status %d, polls %d", (int)st,
          poll_count);
    CHECK(res.epochs_done < cfg.n_epochs, "interrupt stopped early");
    int finite = 1;
    for (int64_t i = 0; i < P; i++) finite &= isfinite(p[i]) != 0;
    CHECK(finite, "params finite after interrupt");

    /* interrupted when the parameters are no longer finite (the callback spoils
     * them, as a diverging step could): back to the call's start, finite */
    for (int fused = 1; fused >= 0; fused--) {
        nn_set_fused_path(fused);
        cfg = base_config(n);
        cfg.n_epochs = 4000000;
        cfg.batch_size = 1;
        spoil_target = p;
        cfg.poll = poll_spoil_and_stop;
        cfg.poll_ctx = NULL;
        for (int64_t i = 0; i < P; i++) q[i] = p[i] = srand_(1);
        const nn_status st2 = nn_train_f64(&net, p, NULL, X, Y, n, &cfg, big_losses, &res);
        CHECK(st2 == NN_ERR_INTERRUPTED && memcmp(p, q, sizeof(double) * (size_t)P) == 0,
              "interrupt with non-finite params (fused %d): status %d, params %s", fused, (int)st2,
              memcmp(p, q, sizeof(double) * (size_t)P) == 0 ? "at the start" : "not restored");
    }
    nn_set_fused_path(1);
    free(big_losses);
    free(p), free(q), free(g), free(X), free(Y), free(Xf), free(Yf), free(losses);
}

static void check_dense(int64_t B, int64_t n_in, int64_t n_out);

/* Kernel tails: every (M, N, K) around the vector widths and blockings; then
 * a few products big enough for the kernels' threads (> 4e6 flops). */
/* The fused path of nn_train (tiny networks, batches of a few rows) against
 * the general path, which nn_set_fused_path(0) forces: the same parameters,
 * optimizer state, losses and generator state, to the bit. */
#define FUSED_CASE(T, S, LANES)                                                              \
    static int fused_case_##S(const nn_net *net, int loss, int opt, int64_t n, int64_t B,    \
                              int shuffle, int64_t epochs, int trial)                        \
    {                                                                                        \
        const int64_t P = nn_param_count(net), n_in = net->sizes[0];                         \
        const int64_t k = net->sizes[net->n_layers];                                         \
        const int n_state = opt == 2 ? 2 : opt == 1;                                         \
        T *X = xmalloc(sizeof(T) * (size_t)(n * n_in)), *Y = xmalloc(sizeof(T) * (size_t)(n * k)); \
        T *p[2], *st[2];                                                                     \
        double *losses[2];                                                                   \
        for (int64_t i = 0; i < n * n_in; i++) X[i] = (T)srand_(2);                          \
        for (int64_t i = 0; i < n * k; i++) Y[i] = (T)(loss == NN_BCE ? urand() : srand_(1)); \
        for (int v = 0; v < 2; v++) {                                                        \
            p[v] = xmalloc(sizeof(T) * (size_t)P);                                           \
            st[v] = xmalloc(sizeof(T) * (size_t)(P * n_state + 1));                          \
            losses[v] = xmalloc(sizeof(double) * (size_t)epochs);                            \
        }                                                                                    \
        for (int64_t i = 0; i < P; i++) p[0][i] = p[1][i] = (T)srand_(1);                    \
        for (int64_t i = 0; i < P * n_state; i++) st[0][i] = st[1][i] = (T)(0.01 * urand()); \
        nn_train_config cfg[2];                                                              \
        nn_train_result res[2];                                                              \
        nn_status status[2];                                                                 \
        for (int v = 0; v < 2; v++) {                                                        \
            nn_train_config c = {0};                                                         \
            c.loss = loss;                                                                   \
            c.optimizer = opt == 2 ? NN_ADAM : NN_SGD;                                       \
            c.momentum = opt == 1 ? 0.9 : 0;                                                 \
            c.lr = opt == 2 ? 0.01 : 0.3;                                                    \
            c.beta1 = 0.9, c.beta2 = 0.999, c.eps = 1e-8;                                    \
            c.batch_size = B, c.shuffle = shuffle, c.rng_state = 99, c.adam_step = 3;        \
            c.n_epochs = epochs;                                                             \
            cfg[v] = c;                                                                      \
            nn_set_fused_path(v == 0);                                                       \
            status[v] = nn_train_##S(net, p[v], n_state ? st[v] : NULL, X, Y, n, &cfg[v],    \
                                     losses[v], &res[v]);                                    \
        }                                                                                    \
        nn_set_fused_path(1);                                                                \
        const int same =                                                                     \
            status[0] == status[1] && res[0].epochs_done == res[1].epochs_done &&            \
            res[0].bad_epoch == res[1].bad_epoch &&                                          \
            memcmp(p[0], p[1], sizeof(T) * (size_t)P) == 0 &&                                \
            memcmp(st[0], st[1], sizeof(T) * (size_t)(P * n_state)) == 0 &&                  \
            memcmp(losses[0], losses[1], sizeof(double) * (size_t)res[0].epochs_done) == 0 && \
            cfg[0].rng_state == cfg[1].rng_state && cfg[0].adam_step == cfg[1].adam_step;    \
        CHECK(same, #S " trial %d: L %d, loss %d, opt %d, n %lld, B %lld, shuffle %d: the fused " \
              "and general paths differ (status %d/%d, epochs %lld/%lld)",                  \
              trial, net->n_layers, loss, opt, (long long)n, (long long)B, shuffle,           \
              (int)status[0], (int)status[1], (long long)res[0].epochs_done,                 \
              (long long)res[1].epochs_done);                                                \
        const int eligible = nn_fused_path_used_##S(net, B < n ? B : n);                     \
        for (int v = 0; v < 2; v++) {                                                        \
            free(p[v]);                                                                      \
            free(st[v]);                                                                     \
            free(losses[v]);                                                                 \
        }                                                                                    \
        free(X);                                                                             \
        free(Y);                                                                             \
        return eligible;                                                                     \
    }

FUSED_CASE(double, f64, 4)
FUSED_CASE(float, f32, 8)

static void test_fused(int trials)
{
    int used = 0;
    for (int t = 0; t < trials; t++) {
        netbox nb;
        const int L = 1 + (int)(urand() * 3);
        const int loss = (int)(urand() * 3); /* mse, sse, bce */
        random_net(&nb, L, 1 + (int)(urand() * 9), urand() < 0.5, loss == NN_BCE ? NN_SIGMOID : -1);
        const int f32 = t % 2;
        const int64_t lanes = f32 ? 8 : 4;
        const int64_t n = 1 + (int64_t)(urand() * 12);
        const int64_t B = 1 + (int64_t)(urand() * (double)(t % 5 == 0 ? 2 * lanes : lanes));
        const int opt = (int)(urand() * 3), shuffle = urand() < 0.4;
        const int64_t epochs = 1 + (int64_t)(urand() * (quick ? 8 : 30));
        used += f32 ? fused_case_f32(&nb.net, loss, opt, n, B, shuffle, epochs, t)
                    : fused_case_f64(&nb.net, loss, opt, n, B, shuffle, epochs, t);
    }
    CHECK(used > trials / 2, "the fused path ran in only %d of %d trials", used, trials);

    /* Trask's 3-4-1 and Zhou's 2-2-1 take it; a wide layer or a big batch does not */
    int64_t trask[] = {3, 4, 1}, zhou[] = {2, 2, 1}, wide[] = {3, 64, 64, 1};
    int sig[] = {NN_SIGMOID, NN_SIGMOID, NN_SIGMOID}, soft[] = {NN_SIGMOID, NN_SOFTMAX};
    nn_net tn = {2, trask, sig, 0, NULL}, zn = {2, zhou, sig, 1, NULL}, wn = {3, wide, sig, 1, NULL};
    nn_net sn = {2, trask, soft, 1, NULL};
    CHECK(nn_fused_path_used_f64(&tn, 4) && nn_fused_path_used_f32(&tn, 4), "Trask fused");
    CHECK(nn_fused_path_used_f64(&zn, 1), "Zhou fused");
    CHECK(!nn_fused_path_used_f64(&tn, 5) && nn_fused_path_used_f32(&tn, 8), "batch > lanes");
    CHECK(!nn_fused_path_used_f64(&wn, 4), "64-wide layers are not fused");
    CHECK(!nn_fused_path_used_f64(&sn, 4), "softmax is not fused");
    int mo[] = {NN_MAXOUT, NN_SIGMOID};
    nn_net mn = {2, trask, mo, 1, NULL};
    CHECK(!nn_fused_path_used_f64(&mn, 4) && !nn_fused_path_used_f32(&mn, 4), "maxout is not fused");
    /* leaky ReLU and ELU at other parameters take it, to the general path's bits */
    int lk[] = {NN_LEAKY_RELU, NN_ELU};
    double lkp[][2] = {{0.1, 1.0}, {0.3, 0.5}, {0.0, 2.5}, {0.01, 1.0}};
    for (int i = 0; i < 4; i++) {
        nn_net ln = {2, zhou, lk, i % 2, lkp[i]};
        CHECK(fused_case_f64(&ln, NN_MSE, i % 3, 4, 4, 0, 20, 1000 + i) &&
                  fused_case_f32(&ln, NN_SSE, (i + 1) % 3, 8, 8, i % 2, 20, 2000 + i),
              "leaky/elu with parameters %g, %g run fused", lkp[i][0], lkp[i][1]);
        nn_net lt = {2, trask, lk, 1, lkp[i]};
        CHECK(fused_case_f64(&lt, NN_MSE, 2, 4, 2, 1, 15, 3000 + i), "trask leaky/elu fused");
    }
    /* per-sample steps of two-layer, one-output networks (the one-row step,
     * Zhou's 2-2-1 unrolled): every width up to 4, activation, loss and
     * optimizer, with and without biases and shuffling, the general path's bits */
    int one_row = 0;
    for (int t = 0; t < (quick ? 96 : 480); t++) {
        netbox nb;
        const int loss = t % 3;
        random_net(&nb, 2, 4, t % 2, loss == NN_BCE ? NN_SIGMOID : -1);
        if (nb.acts[0] == NN_MAXOUT) nb.acts[0] = NN_TANH;
        nb.sizes[0] = 1 + t % 4;
        nb.sizes[1] = 1 + (t / 4) % 4;
        nb.sizes[2] = 1;
        if (t % 5 == 0) nb.sizes[0] = nb.sizes[1] = 2; /* Zhou's widths, often */
        const int64_t n = 1 + (int64_t)(urand() * 6), epochs = 1 + (int64_t)(urand() * 12);
        const int opt = (t / 3) % 3, shuffle = (t / 7) % 2;
        one_row += (t / 2) % 2 ? fused_case_f32(&nb.net, loss, opt, n, 1, shuffle, epochs, 5000 + t)
                               : fused_case_f64(&nb.net, loss, opt, n, 1, shuffle, epochs, 5000 + t);
    }
    CHECK(one_row == (quick ? 96 : 480), "one-row steps fused in only %d trials", one_row);
    nn_set_fused_path(0);
    CHECK(!nn_fused_path_used_f64(&tn, 4), "nn_set_fused_path(0)");
    nn_set_fused_path(1);
}

static void test_shapes(void)
{
    const int64_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33};
    const int nd = quick ? 7 : (int)(sizeof dims / sizeof dims[0]);
    for (int a = 0; a < nd; a++)
        for (int b = 0; b < nd; b++)
            for (int c = 0; c < nd; c += 2) check_dense(dims[a], dims[b], dims[c]);
    const int64_t big[][3] = {{150, 200, 130}, {257, 129, 67}, {64, 300, 301}, {1000, 64, 33}};
    for (int i = 0; i < 4; i++) check_dense(big[i][0], big[i][1], big[i][2]);
    /* B's rows 4 KB apart or more with 256 rows of A or more: the packed B
     * panels (nnext_gemm_kernel.h), in the forward pass (M = 300 rows) and the
     * weight gradient (M = 260), two K blocks, a narrow last panel */
    if (!quick) check_dense(300, 260, 1030);
}

/* The three products of a dense layer with exactly-sized buffers, against naive loops. */
static void check_dense(int64_t B, int64_t n_in, int64_t n_out)
{
            {
                double *in = xmalloc(sizeof(double) * (size_t)(B * n_in));
                double *w = xmalloc(sizeof(double) * (size_t)(n_in * n_out));
                double *bias = xmalloc(sizeof(double) * (size_t)n_out);
                double *out = xmalloc(sizeof(double) * (size_t)(B * n_out));
                double *delta = xmalloc(sizeof(double) * (size_t)(B * n_out));
                double *dw = xmalloc(sizeof(double) * (size_t)(n_in * n_out));
                double *db = xmalloc(sizeof(double) * (size_t)n_out);
                double *din = xmalloc(sizeof(double) * (size_t)(B * n_in));
                float *inf_ = xmalloc(sizeof(float) * (size_t)(B * n_in));
                float *wf = xmalloc(sizeof(float) * (size_t)(n_in * n_out));
                float *outf = xmalloc(sizeof(float) * (size_t)(B * n_out));
                float *deltaf = xmalloc(sizeof(float) * (size_t)(B * n_out));
                float *dwf = xmalloc(sizeof(float) * (size_t)(n_in * n_out));
                float *dinf = xmalloc(sizeof(float) * (size_t)(B * n_in));
                for (int64_t i = 0; i < B * n_in; i++) inf_[i] = (float)(in[i] = srand_(1));
                for (int64_t i = 0; i < n_in * n_out; i++) wf[i] = (float)(w[i] = srand_(1));
                for (int64_t i = 0; i < n_out; i++) bias[i] = srand_(1);
                for (int64_t i = 0; i < B * n_out; i++) deltaf[i] = (float)(delta[i] = srand_(1));
                nn_dense_forward_f64(out, in, w, bias, B, n_in, n_out);
                nn_dense_forward_f32(outf, inf_, wf, NULL, B, n_in, n_out);
                nn_dense_backward_f64(dw, db, din, delta, in, w, B, n_in, n_out);
                nn_dense_backward_f32(dwf, NULL, dinf, deltaf, inf_, wf, B, n_in, n_out);
                double e = 0, ef = 0;
                for (int64_t r = 0; r < B; r++)
                    for (int64_t j = 0; j < n_out; j++) {
                        double s = bias[j], sf = 0;
                        for (int64_t i = 0; i < n_in; i++) {
                            s += in[r * n_in + i] * w[i * n_out + j];
                            sf += (double)inf_[r * n_in + i] * (double)wf[i * n_out + j];
                        }
                        e = fmax(e, fabs(out[r * n_out + j] - s));
                        ef = fmax(ef, fabs((double)outf[r * n_out + j] - sf));
                    }
                for (int64_t i = 0; i < n_in; i++)
                    for (int64_t j = 0; j < n_out; j++) {
                        double s = 0, sf = 0;
                        for (int64_t r = 0; r < B; r++) {
                            s += in[r * n_in + i] * delta[r * n_out + j];
                            sf += (double)inf_[r * n_in + i] * (double)deltaf[r * n_out + j];
                        }
                        e = fmax(e, fabs(dw[i * n_out + j] - s));
                        ef = fmax(ef, fabs((double)dwf[i * n_out + j] - sf));
                    }
                for (int64_t j = 0; j < n_out; j++) {
                    double s = 0;
                    for (int64_t r = 0; r < B; r++) s += delta[r * n_out + j];
                    e = fmax(e, fabs(db[j] - s));
                }
                for (int64_t r = 0; r < B; r++)
                    for (int64_t i = 0; i < n_in; i++) {
                        double s = 0, sf = 0;
                        for (int64_t j = 0; j < n_out; j++) {
                            s += delta[r * n_out + j] * w[i * n_out + j];
                            sf += (double)deltaf[r * n_out + j] * (double)wf[i * n_out + j];
                        }
                        e = fmax(e, fabs(din[r * n_in + i] - s));
                        ef = fmax(ef, fabs((double)dinf[r * n_in + i] - sf));
                    }
                const double K = (double)(B > n_in ? (B > n_out ? B : n_out) : (n_in > n_out ? n_in : n_out));
                CHECK(e <= 1e-14 * (K + 8) && ef <= 2e-6 * (K + 8), "dense (B %lld, in %lld, out %lld): err %g, f32 %g",
                      (long long)B, (long long)n_in, (long long)n_out, e, ef);
                free(in), free(w), free(bias), free(out), free(delta), free(dw), free(db), free(din);
                free(inf_), free(wf), free(outf), free(deltaf), free(dwf), free(dinf);
            }
}

/* The SGD step folded into the weight gradient (nn_gemm_tn_sgd): to the bit
 * W - lr * g with g from nn_gemm_tn, on odd shapes (tails of rows, of column
 * panels, of the thread split), with 1 and 2 threads, folded or (small, or
 * K > NN_GEMM_KC) through the scratch G. */
#define TN_SGD_CHECK(T, S, M, N, K, threads)                                                \
    do {                                                                                    \
        T *a = xmalloc(sizeof(T) * (size_t)((K) * (M))), *d = xmalloc(sizeof(T) * (size_t)((K) * (N))); \
        T *w = xmalloc(sizeof(T) * (size_t)((M) * (N))), *w2 = xmalloc(sizeof(T) * (size_t)((M) * (N))); \
        T *g = xmalloc(sizeof(T) * (size_t)((M) * (N))), *scratch = xmalloc(sizeof(T) * (size_t)((M) * (N))); \
        for (int64_t i = 0; i < (K) * (M); i++) a[i] = (T)srand_(1);                        \
        for (int64_t i = 0; i < (K) * (N); i++) d[i] = (T)srand_(1);                        \
        for (int64_t i = 0; i < (M) * (N); i++) w[i] = w2[i] = (T)srand_(1);                \
        const T lr = (T)0.37;                                                               \
        nn_set_num_threads(threads);                                                        \
        nn_gemm_tn_sgd_##S(M, N, K, a, d, lr, w, scratch);                                  \
        nn_gemm_tn_##S(M, N, K, a, d, g);                                                   \
        int same = 1;                                                                       \
        for (int64_t i = 0; i < (M) * (N); i++) {                                           \
            volatile T step = lr * g[i]; /* rounded, as the optimizer rounds it */          \
            const T want = (T)(w2[i] - step);                                               \
            if (memcmp(&want, &w[i], sizeof(T)) != 0) same = 0;                             \
        }                                                                                   \
        CHECK(same, #S " tn_sgd (M %lld, N %lld, K %lld, %d threads) equals tn + update",   \
              (long long)(M), (long long)(N), (long long)(K), threads);                     \
        free(a), free(d), free(w), free(w2), free(g), free(scratch);                        \
    } while (0)

/* The epilogues: nn_gemm_nn_relu to the bit nn_gemm_nn followed by
 * a < 0 ? 0 : a, and nn_gemm_nt_mask nn_gemm_nt followed by m > 0 ? c : 0
 * (ReLU's passes in nnext_layers.h), on shapes through the small loops, the
 * narrow tile, full panels, several blocks of K and the row split, with 1
 * and 2 threads; the inputs hold NaN, infinities, -0 and exact zeros (A's
 * rows of zeros make -0 and +0 sums), the mask NaN, -0 and negatives. */
#define EPILOGUE_CHECK(T, S, M, N, K, threads)                                              \
    do {                                                                                    \
        T *a = xmalloc(sizeof(T) * (size_t)((M) * (K))), *b = xmalloc(sizeof(T) * (size_t)((K) * (N))); \
        T *bias = xmalloc(sizeof(T) * (size_t)(N)), *m = xmalloc(sizeof(T) * (size_t)((M) * (N))); \
        T *c1 = xmalloc(sizeof(T) * (size_t)((M) * (N))), *c2 = xmalloc(sizeof(T) * (size_t)((M) * (N))); \
        const T specials[] = {(T)NAN, (T)INFINITY, -(T)INFINITY, (T)-0.0, (T)0};              \
        for (int64_t i = 0; i < (M) * (K); i++)                                             \
            a[i] = (i / (K)) % 5 == 4 ? (T)-0.0 : urand() < 0.01 ? specials[i % 5] : (T)srand_(1); \
        /* columns j % 3 == 0 of B (K, N) all -0: with A's positive rows and a bias of -0, \
         * sums of -0, which relu keeps */                                                  \
        for (int64_t i = 0; i < (M) * (K); i++)                                             \
            if ((i / (K)) % 5 == 3) a[i] = (T)(urand() + 0.1);                              \
        for (int64_t i = 0; i < (K) * (N); i++)                                             \
            b[i] = (i % (N)) % 3 == 0 ? (T)-0.0 : (T)srand_(1);                             \
        for (int64_t j = 0; j < (N); j++) bias[j] = j % 7 == 3 ? (T)-0.0 : (T)srand_(0.5);  \
        for (int64_t i = 0; i < (M) * (N); i++)                                             \
            m[i] = urand() < 0.05 ? specials[i % 4] : (T)srand_(1);                         \
        nn_set_num_threads(threads);                                                        \
        for (int with_bias = 0; with_bias < 2; with_bias++) {                               \
            const T *bb = with_bias ? bias : NULL;                                          \
            nn_gemm_nn_##S(M, N, K, a, b, bb, c1);                                          \
            for (int64_t i = 0; i < (M) * (N); i++) c1[i] = c1[i] < 0 ? (T)0 : c1[i];        \
            nn_gemm_nn_relu_##S(M, N, K, a, b, bb, c2);                                     \
            CHECK(memcmp(c1, c2, sizeof(T) * (size_t)((M) * (N))) == 0,                     \
                  #S " nn_relu (M %lld, N %lld, K %lld, bias %d, %d threads) equals nn + relu", \
                  (long long)(M), (long long)(N), (long long)(K), with_bias, threads);      \
        }                                                                                   \
        /* nt: B given (N, K); b holds K * N elements */                                    \
        nn_gemm_nt_##S(M, N, K, a, b, c1);                                                  \
        for (int64_t i = 0; i < (M) * (N); i++) c1[i] = m[i] > 0 ? c1[i] : (T)0;            \
        nn_gemm_nt_mask_##S(M, N, K, a, b, m, c2);                                          \
        CHECK(memcmp(c1, c2, sizeof(T) * (size_t)((M) * (N))) == 0,                         \
              #S " nt_mask (M %lld, N %lld, K %lld, %d threads) equals nt + mask",          \
              (long long)(M), (long long)(N), (long long)(K), threads);                     \
        free(a), free(b), free(bias), free(m), free(c1), free(c2);                          \
    } while (0)

static void test_epilogues(void)
{
    const int64_t shapes[][3] = {{3, 4, 4},     {64, 300, 784}, {64, 100, 300}, {256, 10, 256},
                                 {256, 256, 64}, {1030, 33, 300}, {17, 65, 513}, {64, 12, 7},
                                 {5, 1, 3},     {130, 40, 0}};
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < 10; i++) {
            const int64_t M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
            EPILOGUE_CHECK(double, f64, M, N, K, threads);
            EPILOGUE_CHECK(float, f32, M, N, K, threads);
        }
    nn_set_num_threads(0);
}

/* The blocked path of the products (nnext_gemm_kernel.h, KN(gemm_xn); a
 * B, or a weight gradient's C, of NN_BLOCK_MIN_BYTES or more) and the
 * swapped nt (nnext_gemm_impl.h) against the plain path to the bit: the
 * reference is built from slices of 64 columns (and the last, narrower one),
 * copied out so that they are small enough for the plain path, once on one
 * thread; the full products then run on 1 and 2 threads.  K past
 * NN_GEMM_KC with a tail, N past the last full panel, rows not a multiple of
 * the tile's.  The inputs are a cheap deterministic pattern (valgrind runs
 * this test too). */
typedef enum { BK_NN, BK_RELU, BK_NT, BK_NTM, BK_TN, BK_SGD, BK_KINDS } blocked_kind;
static const char *const blocked_names[BK_KINDS] = {"nn", "nn_relu", "nt", "nt_mask", "tn", "tn_sgd"};

#define BLOCKED_PRODUCT(T, S, kind, M, n, K, mt, kt, a, b, bias, mask, w, out, g)          \
    do {                                                                                    \
        switch (kind) {                                                                     \
        case BK_NN: nn_gemm_nn_##S(M, n, K, a, b, bias, out); break;                        \
        case BK_RELU: nn_gemm_nn_relu_##S(M, n, K, a, b, bias, out); break;                 \
        case BK_NT: nn_gemm_nt_##S(M, n, K, a, b, out); break;                              \
        case BK_NTM: nn_gemm_nt_mask_##S(M, n, K, a, b, mask, out); break;                  \
        case BK_TN: nn_gemm_tn_##S(mt, n, kt, a, b, out); break;                            \
        default:                                                                            \
            memcpy(out, w, sizeof(T) * (size_t)((mt) * (n)));                                \
            nn_gemm_tn_sgd_##S(mt, n, kt, a, b, (T)0.01, out, g);                           \
            break;                                                                          \
        }                                                                                   \
    } while (0)

#define BLOCKED_CHECK(T, S, M, N, K)                                                         \
    do {                                                                                    \
        /* a: M x K for nn and nt, (kt, mt) for tn, whose mt rows make its C large */       \
        const int64_t mt = (int64_t)(NN_BLOCK_MIN_BYTES / ((N) * (int64_t)sizeof(T))) + 3, kt = 7; \
        const int64_t a_size = (M) * (K) > mt * kt ? (M) * (K) : mt * kt, c_size = mt * (N); \
        T *a = xmalloc(sizeof(T) * (size_t)a_size), *b = xmalloc(sizeof(T) * (size_t)((K) * (N))); \
        T *bias = xmalloc(sizeof(T) * (size_t)(N)), *mask = xmalloc(sizeof(T) * (size_t)((M) * (N))); \
        T *w = xmalloc(sizeof(T) * (size_t)c_size), *g = xmalloc(sizeof(T) * (size_t)c_size); \
        T *ref = xmalloc(sizeof(T) * (size_t)c_size), *out = xmalloc(sizeof(T) * (size_t)c_size); \
        T *bs = xmalloc(sizeof(T) * (size_t)((K) * 64)), *ws = xmalloc(sizeof(T) * (size_t)(mt * 64)); \
        T *ms = xmalloc(sizeof(T) * (size_t)((M) * 64)), *cs = xmalloc(sizeof(T) * (size_t)(mt * 64)); \
        for (int64_t i = 0; i < a_size; i++) a[i] = (T)((i * 7919 % 2003) - 1001) / (T)1001;  \
        for (int64_t i = 0; i < (K) * (N); i++) b[i] = (T)((i * 104729 % 1999) - 999) / (T)999; \
        for (int64_t j = 0; j < (N); j++) bias[j] = (T)((j * 31 % 101) - 50) / (T)100;        \
        for (int64_t i = 0; i < (M) * (N); i++) mask[i] = (T)(i % 7 == 0 ? -1 : 1);          \
        for (int64_t i = 0; i < c_size; i++) w[i] = (T)((i * 613 % 1013) - 506) / (T)506;     \
        for (int kind = 0; kind < BK_KINDS; kind++) {                                       \
            const int tn = kind == BK_TN || kind == BK_SGD, nt = kind == BK_NT || kind == BK_NTM; \
            const int64_t rows = tn ? mt : (M), depth = tn ? kt : (K);                       \
            nn_set_num_threads(1);                                                          \
            for (int64_t j0 = 0; j0 < (N); j0 += 64) { /* the reference, a slice at a time */ \
                const int64_t n = (N) - j0 < 64 ? (N) - j0 : 64;                            \
                const T *bsl = b + j0 * depth; /* nt: 64 rows of B (N, K) */                 \
                if (!nt) {                                                                  \
                    for (int64_t p = 0; p < depth; p++)                                     \
                        memcpy(bs + p * n, b + p * (N) + j0, sizeof(T) * (size_t)n);         \
                    bsl = bs;                                                               \
                }                                                                           \
                for (int64_t i = 0; i < rows; i++) {                                        \
                    memcpy(ws + i * n, w + i * (N) + j0, sizeof(T) * (size_t)n);             \
                    if (i < (M)) memcpy(ms + i * n, mask + i * (N) + j0, sizeof(T) * (size_t)n); \
                }                                                                           \
                BLOCKED_PRODUCT(T, S, kind, M, n, K, mt, kt, a, bsl, bias + j0, ms, ws, cs, g); \
                for (int64_t i = 0; i < rows; i++)                                          \
                    memcpy(ref + i * (N) + j0, cs + i * n, sizeof(T) * (size_t)n);           \
            }                                                                               \
            for (int threads = 1; threads <= 2; threads++) {                                \
                nn_set_num_threads(threads);                                                \
                BLOCKED_PRODUCT(T, S, kind, M, N, K, mt, kt, a, b, bias, mask, w, out, g);  \
                CHECK(memcmp(out, ref, sizeof(T) * (size_t)(rows * (N))) == 0,              \
                      #S " blocked %s (rows %lld, N %lld, K %lld, %d threads) equals the plain path", \
                      blocked_names[kind], (long long)rows, (long long)(N), (long long)depth, threads); \
            }                                                                               \
        }                                                                                   \
        nn_set_num_threads(0);                                                              \
        free(a), free(b), free(bias), free(mask), free(w), free(g), free(ref), free(out);   \
        free(bs), free(ws), free(ms), free(cs);                                             \
    } while (0)

static void test_blocked(void)
{
    /* float32: B (1030 x 2088) 8.6 MB, rows 8.2 KB apart (double: N = 1064);
     * 13 rows of A, and the weight gradients' 1,007 (1,012) */
    BLOCKED_CHECK(float, f32, (int64_t)13, (int64_t)2088, (int64_t)1030);
    BLOCKED_CHECK(double, f64, (int64_t)13, (int64_t)1064, (int64_t)1030);
}

/* tn with a narrow C (computed swapped: nnext_gemm_impl.h, FN(tn_swapped))
 * against the plain path to the bit: slices of fewer than 8 N rows of C (the
 * columns of A, copied out) are computed directly.  nn_gemm_tn, and
 * nn_gemm_tn_sgd with K past NN_GEMM_KC (through G). */
#define TN_NARROW_CHECK(T, S, M, N, K, threads)                                              \
    do {                                                                                    \
        const int64_t rows = 8 * (N) - 1;                                                   \
        T *a = xmalloc(sizeof(T) * (size_t)((K) * (M))), *b = xmalloc(sizeof(T) * (size_t)((K) * (N))); \
        T *c = xmalloc(sizeof(T) * (size_t)((M) * (N))), *cs = xmalloc(sizeof(T) * (size_t)(rows * (N))); \
        T *as = xmalloc(sizeof(T) * (size_t)((K) * rows)), *w = xmalloc(sizeof(T) * (size_t)((M) * (N))); \
        T *ws = xmalloc(sizeof(T) * (size_t)(rows * (N))), *g = xmalloc(sizeof(T) * (size_t)((M) * (N))); \
        for (int64_t i = 0; i < (K) * (M); i++) a[i] = (T)srand_(1);                        \
        for (int64_t i = 0; i < (K) * (N); i++) b[i] = (T)srand_(1);                        \
        for (int64_t i = 0; i < (M) * (N); i++) w[i] = (T)srand_(1);                        \
        nn_set_num_threads(threads);                                                        \
        int same_tn = 1, same_sgd = 1;                                                      \
        for (int sgd = 0; sgd < 2; sgd++) {                                                 \
            if (sgd) {                                                                      \
                memcpy(c, w, sizeof(T) * (size_t)((M) * (N)));                               \
                nn_gemm_tn_sgd_##S(M, N, K, a, b, (T)0.01, c, g);                           \
            } else {                                                                        \
                nn_gemm_tn_##S(M, N, K, a, b, c);                                           \
            }                                                                               \
            for (int64_t i0 = 0; i0 < (M); i0 += rows) {                                    \
                const int64_t m = (M) - i0 < rows ? (M) - i0 : rows;                        \
                for (int64_t p = 0; p < (K); p++)                                           \
                    memcpy(as + p * m, a + p * (M) + i0, sizeof(T) * (size_t)m);             \
                if (sgd) {                                                                  \
                    memcpy(ws, w + i0 * (N), sizeof(T) * (size_t)(m * (N)));                 \
                    nn_gemm_tn_sgd_##S(m, N, K, as, b, (T)0.01, ws, g);                     \
                    if (memcmp(ws, c + i0 * (N), sizeof(T) * (size_t)(m * (N))) != 0) same_sgd = 0; \
                } else {                                                                    \
                    nn_gemm_tn_##S(m, N, K, as, b, cs);                                     \
                    if (memcmp(cs, c + i0 * (N), sizeof(T) * (size_t)(m * (N))) != 0) same_tn = 0; \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        CHECK(same_tn && same_sgd,                                                          \
              #S " narrow tn (M %lld, N %lld, K %lld, %d threads) equals the plain path: tn %d," \
              " tn_sgd %d", (long long)(M), (long long)(N), (long long)(K), threads, same_tn, same_sgd); \
        free(a), free(b), free(c), free(cs), free(as), free(w), free(ws), free(g);          \
    } while (0)

static void test_tn_narrow(void)
{
    const int64_t shapes[][3] = {{256, 10, 1024}, {100, 10, 64}, {300, 7, 300}, {97, 3, 513}};
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < 4; i++) {
            const int64_t M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
            TN_NARROW_CHECK(float, f32, M, N, K, threads);
            TN_NARROW_CHECK(double, f64, M, N < 8 ? N : 8, K, threads);
        }
    nn_set_num_threads(0);
}

/* nn_thread_scratch: one buffer per thread and slot, 64-byte aligned, kept
 * and reused (allocated again only to grow), NULL past NN_SCRATCH_MAX_BYTES
 * or for a slot out of range; a large swapped product reuses it from one
 * call to the next (no allocation per training step). */
static void *scratch_of_other_thread(void *arg)
{
    (void)arg;
    return nn_thread_scratch(0, 1000);
}

static void test_thread_scratch(void)
{
    char *p1 = nn_thread_scratch(0, 1000), *p2 = nn_thread_scratch(0, 500);
    CHECK(p1 && p1 == p2 && (uintptr_t)p1 % 64 == 0, "scratch reused for a smaller request");
    char *p3 = nn_thread_scratch(0, 100000);
    CHECK(p3 && (uintptr_t)p3 % 64 == 0 && nn_thread_scratch(0, 100000) == p3,
          "scratch grown once, then reused");
    if (p3) memset(p3, 1, 100000);
    char *q = nn_thread_scratch(1, 1000);
    CHECK(q && q != p3, "slots apart");
    CHECK(nn_thread_scratch(0, (size_t)NN_SCRATCH_MAX_BYTES + 1) == NULL &&
              nn_thread_scratch(NN_SCRATCH_SLOTS, 8) == NULL && nn_thread_scratch(-1, 8) == NULL,
          "scratch refuses too large a request or a bad slot");
    pthread_t t;
    void *other = NULL;
    if (pthread_create(&t, NULL, scratch_of_other_thread, NULL) == 0) pthread_join(t, &other);
    CHECK(other && other != nn_thread_scratch(0, 1000), "each thread its own scratch");
    /* an input delta through a 2048 x 1024 weight matrix (8 MB: swapped, slot 1) */
    const int64_t M = 8, N = 2048, K = 1024;
    float *a = xmalloc(sizeof(float) * (size_t)(M * K)), *b = xmalloc(sizeof(float) * (size_t)(N * K));
    float *c = xmalloc(sizeof(float) * (size_t)(M * N));
    for (int64_t i = 0; i < M * K; i++) a[i] = (float)srand_(1);
    for (int64_t i = 0; i < N * K; i++) b[i] = (float)srand_(1);
    nn_gemm_nt_f32(M, N, K, a, b, c);
    void *s1 = nn_thread_scratch(1, 1), *s0 = nn_thread_scratch(0, 1);
    nn_gemm_nt_f32(M, N, K, a, b, c);
    CHECK(nn_thread_scratch(1, 1) == s1 && nn_thread_scratch(0, 1) == s0,
          "a second large product reuses the thread's scratch");
    free(a), free(b), free(c);
}

static void test_tn_sgd(void)
{
    const int64_t shapes[][3] = {{784, 300, 64}, {300, 100, 64}, {100, 10, 64}, {33, 17, 5},
                                 {257, 129, 67}, {9, 31, 256}, {40, 40, 257}, {3, 4, 4},
                                 {1, 65, 7}, {130, 33, 1}};
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < 10; i++) {
            const int64_t M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
            TN_SGD_CHECK(double, f64, M, N, K, threads);
            TN_SGD_CHECK(float, f32, M, N, K, threads);
        }
    nn_set_num_threads(0);
}

/* Plain SGD training (the update folded into backpropagation) against
 * nn_gradients and the update p - lr * g, step by step, to the bit: f64 and
 * f32, with and without biases, batches below and above NN_GEMM_KC. */
#define SGD_TRAIN_CHECK(T, S, bias, n, B) SGD_TRAIN_CHECK_ACTS(T, S, bias, n, B, NN_RELU, NN_TANH, NULL)
/* ... with the hidden activations a0, a1 and their parameters (NULL: defaults) */
#define SGD_TRAIN_CHECK_ACTS(T, S, bias, n, B, a0, a1, act_params)                            \
    do {                                                                                    \
        int64_t sz[4] = {37, 70, 33, 3};                                                    \
        int ac[3] = {a0, a1, NN_SOFTMAX};                                                   \
        const nn_net net = {3, sz, ac, bias, act_params};                                   \
        const int64_t P = nn_param_count(&net);                                             \
        T *p1 = xmalloc(sizeof(T) * (size_t)P), *p2 = xmalloc(sizeof(T) * (size_t)P);       \
        T *gr = xmalloc(sizeof(T) * (size_t)P);                                             \
        T *X = xmalloc(sizeof(T) * (size_t)((n) * sz[0])), *Y = xmalloc(sizeof(T) * (size_t)((n) * 3)); \
        for (int64_t i = 0; i < P; i++) p1[i] = p2[i] = (T)srand_(0.3);                     \
        for (int64_t i = 0; i < (n) * sz[0]; i++) X[i] = (T)srand_(1);                      \
        for (int64_t i = 0; i < (n); i++)                                                   \
            for (int j = 0; j < 3; j++) Y[i * 3 + j] = (T)(j == i % 3);                     \
        nn_train_config cfg = base_config(n);                                               \
        cfg.loss = NN_CROSS_ENTROPY;                                                        \
        cfg.lr = 0.05;                                                                      \
        cfg.batch_size = B;                                                                 \
        double loss;                                                                        \
        nn_train_result res;                                                                \
        CHECK(nn_train_##S(&net, p1, NULL, X, Y, n, &cfg, &loss, &res) == NN_OK, "train");  \
        nn_workspace *ws = nn_workspace_new_##S(&net, B);                                   \
        for (int64_t r = 0; r < (n); r += (B)) {                                            \
            const int64_t b = (n) - r < (B) ? (n) - r : (B);                                \
            nn_gradients_##S(&net, p2, ws, NN_CROSS_ENTROPY, X + r * sz[0], Y + r * 3, b, gr); \
            for (int64_t i = 0; i < P; i++) {                                               \
                volatile T step = (T)cfg.lr * gr[i];                                        \
                p2[i] = p2[i] - step;                                                       \
            }                                                                               \
        }                                                                                   \
        nn_workspace_free(ws);                                                              \
        CHECK(memcmp(p1, p2, sizeof(T) * (size_t)P) == 0,                                   \
              #S " SGD training (bias %d, n %d, batch %d, acts %d %d) equals gradients + update", \
              bias, n, B, a0, a1);                                                          \
        free(p1), free(p2), free(gr), free(X), free(Y);                                     \
    } while (0)

static void test_sgd_folded(void)
{
    for (int bias = 0; bias <= 1; bias++) {
        SGD_TRAIN_CHECK(double, f64, bias, 200, 64);
        SGD_TRAIN_CHECK(float, f32, bias, 200, 64);
        SGD_TRAIN_CHECK(double, f64, bias, 600, 300);
        SGD_TRAIN_CHECK(float, f32, bias, 600, 300);
        SGD_TRAIN_CHECK(float, f32, bias, 50, 7);
        double mp[3] = {3, 0.2, NAN}, ep[3] = {2.0, 2, NAN};
        SGD_TRAIN_CHECK_ACTS(double, f64, bias, 200, 64, NN_MAXOUT, NN_LEAKY_RELU, mp);
        SGD_TRAIN_CHECK_ACTS(float, f32, bias, 50, 7, NN_MAXOUT, NN_LEAKY_RELU, mp);
        SGD_TRAIN_CHECK_ACTS(double, f64, bias, 600, 300, NN_ELU, NN_MAXOUT, ep);
    }
}

/* numpy's legacy generator (nnext_random.c) against values numpy printed:
 * np.random.RandomState(0).random_sample(), two standard_normal() of seed 0
 * (the polar method's pair), seed 2**32-1; Matsumoto and Nishimura's first
 * output of init_genrand(5489) (3499211612) seen through 53-bit doubles. */
static void test_mt19937(void)
{
    nn_mt19937 s;
    nn_mt19937_seed(&s, 0);
    CHECK(nn_mt19937_double(&s) == 0.5488135039273248, "RandomState(0).random_sample()");
    nn_mt19937_seed(&s, 0);
    const double g1 = nn_mt19937_gauss(&s), g2 = nn_mt19937_gauss(&s);
    CHECK(g1 == 1.764052345967664 && g2 == 0.4001572083672233, "standard_normal pair %.17g %.17g",
          g1, g2);
    nn_mt19937_seed(&s, 4294967295u);
    CHECK(nn_mt19937_double(&s) == 0.0976320289940138, "RandomState(2**32-1).random_sample()");
    nn_mt19937_seed(&s, 5489);
    const double u = nn_mt19937_double(&s); /* its first 27 bits are output 1's top 27 */
    CHECK((uint32_t)(u * 134217728.0) == 3499211612u >> 5, "init_genrand(5489)'s first output");
    /* a draw past the first 624-word block, and the init over it */
    int64_t sizes[3] = {784, 30, 2};
    int acts[2] = {NN_SIGMOID, NN_SIGMOID};
    const nn_net net = {2, sizes, acts, 1, NULL};
    double *p = calloc((size_t)nn_param_count(&net), sizeof(double));
    float *q = calloc((size_t)nn_param_count(&net), sizeof(float));
    nn_mt19937_seed(&s, 3);
    CHECK(nn_init_weights(&net, p, sizeof(double), NN_INIT_HE, &s) == 0, "init he");
    nn_mt19937_seed(&s, 3);
    CHECK(nn_init_weights(&net, q, sizeof(float), NN_INIT_HE, &s) == 0, "init he, float");
    int same = 1;
    for (int64_t i = 0; i < nn_param_count(&net); i++) same &= q[i] == (float)p[i];
    CHECK(same, "float weights are the double draws rounded");
    CHECK(p[nn_bias_offset(&net, 0)] == 0 && p[nn_bias_offset(&net, 1) + 1] == 0, "biases untouched");
    CHECK(nn_init_weights(&net, p, 2, NN_INIT_HE, &s) != 0 &&
              nn_init_weights(&net, p, 8, NN_N_INITS, &s) != 0 && nn_init_weights(NULL, p, 8, 0, &s) != 0,
          "init refuses a bad element size, scheme or net");
    CHECK(nn_init_name(NN_INIT_XAVIER) && strcmp(nn_init_name(NN_INIT_XAVIER), "xavier") == 0 &&
              nn_init_name(NN_N_INITS) == NULL, "init names");
    free(p), free(q);
}

/* The per-sample step's exp (nn_exp_one_*, a branch and one scaling) gives
 * nn_exp's bits everywhere: across the whole range, at the branch's edges
 * (|x| = 708 / 87 and the neighbouring values), where the result is
 * subnormal, 0 or inf, and for NaN and the infinities. */
static void test_exp_one(void)
{
    int bad64 = 0, bad32 = 0;
    double worst64 = 0;
    float worst32 = 0;
    const double edges64[] = {708.0, -708.0, 707.99999999999989, -707.99999999999989, 709.78,
                              -745.13, -745.2, 710.0, 0.0, -0.0, 1e-300, -1e-300};
    const float edges32[] = {87.0f, -87.0f, 86.999992f, -86.999992f, 88.72f, -103.9f, -104.5f,
                             89.5f, 0.0f, -0.0f, 1e-30f, -1e-30f};
    for (int64_t i = 0; i < 2000000 + 12 * 64 + 3; i++) {
        double x;
        float xf;
        if (i < 2000000) {
            x = i % 2 ? srand_(760.0) : srand_(40.0);
            xf = i % 2 ? (float)srand_(110.0) : (float)srand_(20.0);
        } else if (i < 2000000 + 12 * 64) { /* each edge and its 32 neighbours either side */
            const int64_t e = (i - 2000000) / 64, step = (i - 2000000) % 64 - 32;
            x = edges64[e];
            xf = edges32[e];
            for (int64_t s = 0; s < (step < 0 ? -step : step); s++) {
                x = nextafter(x, step < 0 ? -INFINITY : INFINITY);
                xf = nextafterf(xf, step < 0 ? -INFINITY : INFINITY);
            }
        } else {
            const double specials[] = {NAN, INFINITY, -INFINITY};
            x = specials[i - 2000000 - 12 * 64];
            xf = (float)x;
        }
        const double a = nn_exp_f64(x), b = nn_exp_one_f64(x);
        const float af = nn_exp_f32(xf), bf = nn_exp_one_f32(xf);
        if (memcmp(&a, &b, sizeof a) != 0 && !(isnan(a) && isnan(b))) bad64++, worst64 = x;
        if (memcmp(&af, &bf, sizeof af) != 0 && !(isnan(af) && isnan(bf))) bad32++, worst32 = xf;
    }
    CHECK(bad64 == 0, "nn_exp_one_f64 differs from nn_exp_f64 at %d arguments, e.g. %.17g",
          bad64, worst64);
    CHECK(bad32 == 0, "nn_exp_one_f32 differs from nn_exp_f32 at %d arguments, e.g. %.9g",
          bad32, (double)worst32);
}

/* Workspaces from nn_ws_new, whose freed block the next one may reuse
 * (nnext_core.c): every buffer of a workspace is written over its whole
 * documented extent with a pattern of its own and read back, by several
 * threads at once, with sizes that step over the reuse limits (at least the
 * size asked, at most twice it; kept up to 64 MiB).  Two live workspaces
 * sharing a block, or a reused block too small, show as a changed pattern
 * (and as an invalid access under valgrind). */
typedef struct {
    unsigned seed;
    int bad;
} ws_worker;

static void *ws_reuse_worker(void *arg)
{
    ws_worker *w = arg;
    int64_t sizes[3] = {3, 5, 2};
    const int acts[2] = {NN_RELU, NN_SIGMOID};
    for (int round = 0; round < (quick ? 40 : 200); round++) {
        w->seed = w->seed * 1103515245u + 12345u;
        const int64_t B = 1 + (int64_t)((w->seed >> 8) % 3000), width = 1 + (int64_t)((w->seed >> 4) % 40);
        sizes[1] = width;
        const nn_net net = {2, sizes, acts, 1, NULL};
        const int64_t extra = (int64_t)(w->seed % 700), order = (int64_t)((w->seed >> 12) % 500);
        nn_workspace *ws = nn_ws_new(&net, B, sizeof(double), extra, order);
        if (!ws) {
            w->bad++;
            continue;
        }
        const int64_t wide = B * nn_max_width(&net);
        struct { void *p; int64_t n; } bufs[] = {
            {ws->acts[0], B * 3}, {ws->acts[1], B * width}, {ws->acts[2], B * 2}, {ws->z, B * 2},
            {ws->delta[0], wide}, {ws->delta[1], wide}, {ws->grads, nn_param_count(&net)},
            {ws->extra, extra}};
        const double mark = (double)w->seed;
        for (size_t b = 0; b < sizeof bufs / sizeof bufs[0]; b++)
            for (int64_t i = 0; i < bufs[b].n; i++) ((double *)bufs[b].p)[i] = mark + (double)(b * 7 + (size_t)i);
        for (int64_t i = 0; i < order; i++) ws->order[i] = (int64_t)w->seed + i;
        for (size_t b = 0; b < sizeof bufs / sizeof bufs[0]; b++)
            for (int64_t i = 0; i < bufs[b].n; i++)
                w->bad += ((double *)bufs[b].p)[i] != mark + (double)(b * 7 + (size_t)i);
        for (int64_t i = 0; i < order; i++) w->bad += ws->order[i] != (int64_t)w->seed + i;
        nn_workspace_free(ws);
    }
    return NULL;
}

static void test_workspace_reuse(void)
{
    /* one thread: sizes up, down past half, and past the 64 MiB kept */
    const int64_t sizes[3] = {4, 1000, 1};
    const int acts[2] = {NN_RELU, NN_SIGMOID};
    const nn_net net = {2, sizes, acts, 1, NULL};
    const int64_t batches[] = {10, 10, 11, 30, 7, 1, 9000, 4000, 8000, 20000, 20000, 5};
    for (size_t t = 0; t < sizeof batches / sizeof batches[0]; t++) {
        nn_workspace *ws = nn_ws_new(&net, batches[t], sizeof(double), 0, 0);
        CHECK(ws != NULL, "workspace of %lld rows", (long long)batches[t]);
        if (!ws) continue;
        double *a1 = ws->acts[1];
        for (int64_t i = 0; i < batches[t] * 1000; i++) a1[i] = (double)i;
        int bad = 0;
        for (int64_t i = 0; i < batches[t] * 1000; i++) bad += a1[i] != (double)i;
        CHECK(bad == 0, "%d entries of acts[1] changed (%lld rows)", bad, (long long)batches[t]);
        nn_workspace_free(ws);
    }
    /* threads at once */
    enum { N_THREADS = 4 };
    pthread_t threads[N_THREADS];
    ws_worker workers[N_THREADS];
    int started = 0;
    for (int t = 0; t < N_THREADS; t++) {
        workers[t].seed = 77u + 1000u * (unsigned)t;
        workers[t].bad = 0;
        if (pthread_create(&threads[t], NULL, ws_reuse_worker, &workers[t]) == 0) started++;
        else break;
    }
    CHECK(started == N_THREADS, "started %d of %d threads", started, N_THREADS);
    for (int t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
        CHECK(workers[t].bad == 0, "thread %d: %d workspace entries changed or missing", t,
              workers[t].bad);
    }
}

/* A pool worker that takes a job on the caller's CPU moves to another one
 * before running its part (nnext_runtime.c, move_off_cpu), and keeps its
 * affinity mask.  The caller is pinned to one CPU; in each round a first job
 * puts the worker on that CPU (its part pins itself there, then restores its
 * mask, as the scheduler's wake-affine placement leaves it), and a second
 * job, posted at once, must find it elsewhere.  Part 0 (the caller's) waits
 * until a worker has taken part 1, which the caller would otherwise claim
 * itself once done with part 0. */
typedef struct {
    int put_on;  /* >= 0: part 1 moves itself to this CPU */
    int cpu[2];  /* where each part ran */
    int mask_ok; /* part 1's mask was the full one */
    pthread_t caller;
    atomic_int taken;    /* part 1 has started */
    int by_worker;       /* part 1 ran on another thread than the caller */
} placement_job;

static cpu_set_t placement_allowed;

static void placement_task(void *arg, int part, int nparts)
{
    placement_job *j = arg;
    (void)nparts;
    if (part == 0) { /* at most 1 s */
        for (int i = 0; i < 100000 && !atomic_load(&j->taken); i++) sched_yield();
    } else {
        j->by_worker = !pthread_equal(pthread_self(), j->caller);
        atomic_store(&j->taken, 1);
    }
    if (part == 1 && j->put_on >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(j->put_on, &one);
        sched_setaffinity(0, sizeof one, &one);
        sched_setaffinity(0, sizeof placement_allowed, &placement_allowed);
    }
    if (part == 1) {
        cpu_set_t now;
        j->mask_ok = sched_getaffinity(0, sizeof now, &now) == 0 &&
                     CPU_EQUAL(&now, &placement_allowed);
    }
    j->cpu[part] = sched_getcpu();
}

static void test_worker_placement(void)
{
    if (sched_getaffinity(0, sizeof placement_allowed, &placement_allowed) != 0 ||
        CPU_COUNT(&placement_allowed) < 2) {
        printf("test_worker_placement: skipped (fewer than 2 CPUs allowed)\n");
        return;
    }
    int home = 0;
    while (!CPU_ISSET(home, &placement_allowed)) home++;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(home, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "could not pin the caller to CPU %d", home);
    nn_set_num_threads(2);
    const pthread_t self = pthread_self();
    placement_job start = {-1, {-1, -1}, 0, self, 0, 0};
    nn_parallel(placement_task, &start, 2); /* the worker exists */
    int elsewhere = 0, masks = 0, workers = 0;
    const int rounds = 20;
    for (int r = 0; r < rounds; r++) {
        placement_job put = {home, {-1, -1}, 0, self, 0, 0}, job = {-1, {-1, -1}, 0, self, 0, 0};
        nn_parallel(placement_task, &put, 2);
        nn_parallel(placement_task, &job, 2);
        elsewhere += job.cpu[0] == home && job.cpu[1] != home && job.cpu[1] >= 0;
        masks += job.mask_ok;
        workers += put.by_worker && job.by_worker;
    }
    CHECK(workers == rounds, "part 1 ran on the caller in %d of %d rounds", rounds - workers,
          rounds);
    CHECK(elsewhere == rounds, "the worker ran on the caller's CPU %d in %d of %d rounds", home,
          rounds - elsewhere, rounds);
    CHECK(masks == rounds, "the worker's affinity mask changed in %d of %d rounds",
          rounds - masks, rounds);
    sched_setaffinity(0, sizeof placement_allowed, &placement_allowed);
    nn_set_num_threads(0);
}

/* A job's parts go to whoever claims them first (nnext_runtime.c,
 * nn_parallel): a worker held up in its part leaves the rest to the caller,
 * which then sleeps until that part ends.  Part 0 (the caller's) waits until
 * a worker has taken part 1; part 1 waits (at most 1 s) until parts 2 ..
 * n-1 are done, then 2 ms more, so that the caller has gone to sleep. */
typedef struct {
    pthread_t caller;
    atomic_int taken, others_done;
    int by_caller[8];
    int nparts;
} claim_job;

static void claim_task(void *arg, int part, int nparts)
{
    claim_job *j = arg;
    j->by_caller[part] = pthread_equal(pthread_self(), j->caller);
    if (part == 0) {
        for (int i = 0; i < 100000 && !atomic_load(&j->taken); i++) sched_yield();
    } else if (part == 1) {
        atomic_store(&j->taken, 1);
        for (int i = 0; i < 100000 && atomic_load(&j->others_done) < nparts - 2; i++)
            sched_yield();
        const struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    } else {
        atomic_fetch_add(&j->others_done, 1);
    }
}

static void test_parts_claimed(void)
{
    nn_set_num_threads(2);
    for (int nparts = 3; nparts <= 8; nparts += 5) {
        int ok = 0;
        const int rounds = 5;
        for (int r = 0; r < rounds; r++) {
            claim_job j = {pthread_self(), 0, 0, {0}, nparts};
            nn_parallel(claim_task, &j, nparts);
            int rest = 1;
            for (int p = 2; p < nparts; p++) rest &= j.by_caller[p];
            ok += j.by_caller[0] && !j.by_caller[1] && rest && atomic_load(&j.others_done) == nparts - 2;
        }
        CHECK(ok == rounds, "%d parts: the caller did not run the parts left in %d of %d rounds",
              nparts, rounds - ok, rounds);
    }
    nn_set_num_threads(0);
}

/* Polls inside one tall product (nnext_gemm_impl.h, run_cols_polled): a
 * product whose C spans more than NN_POLL_SPAN_BYTES is computed in chunks
 * of rows with a poll between them, with the same bits as the product of
 * each row slice on its own; a poll that says stop leaves after the first
 * chunk.  One thread, a single panel (32 columns): before the chunks, the
 * whole product ran with no poll at all. */
static void test_poll_tall(void)
{
    const int64_t M = 140000, N = 32, K = 8, slice = 1000;
    float *A = xmalloc((size_t)(M * K) * sizeof(float)), *B = xmalloc((size_t)(K * N) * sizeof(float));
    float *C = xmalloc((size_t)(M * N) * sizeof(float)), *R = xmalloc((size_t)(M * N) * sizeof(float));
    for (int64_t i = 0; i < M * K; i++) A[i] = (float)srand_(1);
    for (int64_t i = 0; i < K * N; i++) B[i] = (float)srand_(1);
    for (int threads = 1; threads <= 2; threads++) {
        nn_set_num_threads(threads);
        nn_gemm_nn_f32(M, N, K, A, B, NULL, C);
        for (int64_t i = 0; i < M; i += slice) /* 128 KB of C each: never chunked */
            nn_gemm_nn_f32(M - i < slice ? M - i : slice, N, K, A + i * K, B, NULL, R + i * N);
        CHECK(memcmp(C, R, (size_t)(M * N) * sizeof(float)) == 0,
              "a %lld-row product in chunks differs from its row slices (%d threads)", (long long)M,
              threads);
    }
    nn_set_num_threads(1);
    for (int64_t i = 0; i < M * N; i++) C[i] = NAN;
    int calls = 0;
    nn_poll_begin(poll_now, &calls);
    const struct timespec wait = {0, 60000000}; /* the first poll is due after ~50 ms */
    nanosleep(&wait, NULL);
    nn_gemm_nn_f32(M, N, K, A, B, NULL, C);
    const int stopped = nn_poll_end();
    int64_t done = 0;
    while (done < M && !isnan(C[done * N])) done++;
    int rest_untouched = 1;
    for (int64_t i = done * N; i < M * N; i++) rest_untouched &= isnan(C[i]) != 0;
    CHECK(stopped && calls == 1 && done > 0 && done < M && rest_untouched,
          "a stopping poll in a tall product: stopped %d, %d polls, %lld of %lld rows computed",
          stopped, calls, (long long)done, (long long)M);
    nn_set_num_threads(0);
    free(A);
    free(B);
    free(C);
    free(R);
}

/* A caller left waiting for a worker's part keeps polling and, when the poll
 * says stop, sets the job's stop flag (nn_parallel_stoppable): part 1 waits
 * (at most 5 s) for that flag. */
typedef struct {
    atomic_int *stop;
    atomic_int taken, saw_stop;
} waiting_job;

static void waiting_task(void *arg, int part, int nparts)
{
    (void)nparts;
    waiting_job *j = arg;
    const struct timespec pause = {0, 1000000};
    if (part == 0) { /* until a worker has part 1, which the caller would otherwise claim */
        for (int i = 0; i < 5000 && !atomic_load(&j->taken); i++) nanosleep(&pause, NULL);
        return;
    }
    atomic_store(&j->taken, 1);
    for (int i = 0; i < 5000 && !atomic_load(j->stop); i++) nanosleep(&pause, NULL);
    atomic_store(&j->saw_stop, atomic_load(j->stop));
}

static void test_waiting_caller_polls(void)
{
    nn_set_num_threads(2);
    atomic_int stop = 0;
    waiting_job j = {&stop, 0, 0};
    int calls = 0;
    nn_poll_begin(poll_now, &calls);
    nn_parallel_stoppable(waiting_task, &j, 2, &stop);
    const int stopped = nn_poll_end();
    CHECK(stopped && calls == 1 && atomic_load(&j.saw_stop),
          "the waiting caller's poll: stopped %d, %d polls, the worker saw stop %d", stopped, calls,
          atomic_load(&j.saw_stop));
    nn_set_num_threads(0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
    test_layout();
    test_activation_params();
    test_poll_scope();
    test_shapes();
    test_forward(quick ? 12 : 60);
    test_activation_edges();
    test_gradients(quick ? 12 : 48);
    test_backward();
    test_train();
    test_weights_and_orders();
    test_fused(quick ? 60 : 400);
    test_tn_sgd();
    test_epilogues();
    test_sgd_folded();
    test_mt19937();
    test_exp_one();
    test_workspace_reuse();
    test_worker_placement();
    test_parts_claimed();
    test_poll_tall();
    test_waiting_caller_polls();
    test_blocked();
    test_tn_narrow();
    test_thread_scratch();
    printf("test_core: %d checks, %d failures%s\n", checks, failures, quick ? " (quick)" : "");
    return failures ? 1 : 0;
}
