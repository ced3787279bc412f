/*
 * fuzz_core: a libFuzzer target for the C core alone (nnext_core.h, no Python).
 * Built and run by tests/fuzz/run.sh core SECONDS:
 *
 *   clang -std=c11 -g -O1 -pthread -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=all -Innext/csrc tests/fuzz/fuzz_core.c nnext/csrc/nnext_*.c -lm
 *
 * The input's first byte picks a mode, the rest is read as small integers:
 *
 *   0  size arithmetic: a network of arbitrary int64 widths (up to 70 layers,
 *      arbitrary activation codes): nn_net_valid must agree with an exact
 *      128-bit count, the parameter count and offsets must add up, and
 *      nn_workspace_new must return NULL for a workspace whose bytes do not
 *      fit in 64 bits (and a working one when it is small);
 *   1  the matrix products (nn_gemm_nn/tn/nt/tn_sgd) at any small shape, K
 *      across the kernels' depth NN_GEMM_KC, against a plain triple loop;
 *   2+ a whole network (1..4 layers, widths 1..40 with a bias towards the
 *      register-block and packing boundaries, any activations, bias or not,
 *      float32/float64, batch 1..70): nn_predict, nn_forward, nn_loss_value
 *      and nn_gradients against a plain double-precision reference with a
 *      rounding-error bound carried through the layers; then nn_train with a
 *      config drawn from the input (SGD, momentum, Nesterov, Adam, l2, l1,
 *      batch size, shuffling, epochs): status OK or NONFINITE with finite
 *      parameters, one plain full-batch SGD epoch equal to params - lr * grad,
 *      and the fused path equal to the general path bit for bit (as
 *      nnext_core.h documents).
 *
 * A disagreement prints what differed and abort()s (a libFuzzer crash).
 * Every array handed to the core is its own malloc of exactly the documented
 * size, so that ASan sees any read or write past an end.
 */
#include "nnext_core.h"
#include "nnext_gemm.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ input bytes */

typedef struct {
    const uint8_t *p;
    size_t left;
} reader;

static unsigned byte_of(reader *r)
{
    if (!r->left) return 0;
    r->left--;
    return *r->p++;
}

static uint64_t u64_of(reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)byte_of(r) << (8 * i);
    return v;
}

/* 0 .. n-1 */
static int64_t pick(reader *r, int64_t n) { return n <= 1 ? 0 : (int64_t)(byte_of(r) % n); }

/* A width 1..40, half of the time one of the kernels' edges (vector lanes of
 * 2, 4, 8, 16 elements, tiles of up to 8 rows, panels of NR = 8..64 columns). */
static int64_t width_of(reader *r)
{
    static const int64_t edges[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 39, 40};
    const unsigned b = byte_of(r);
    if (b & 1) return edges[(b >> 1) % (sizeof edges / sizeof edges[0])];
    return 1 + (int64_t)((b >> 1) % 40);
}

static void fail(const char *what, ...) __attribute__((noreturn, format(printf, 1, 2)));

#include <stdarg.h>
static void fail(const char *what, ...)
{
    va_list ap;
    va_start(ap, what);
    fprintf(stderr, "fuzz_core: ");
    vfprintf(stderr, what, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) fail("out of memory (%zu bytes)", bytes);
    return p;
}

/* A generator seeded from the input, for array contents: values k / 16 in
 * [-scale, scale], exactly representable in float and double. */
static uint64_t gen_state;

static double gen_value(double scale)
{
    uint64_t z = (gen_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double u = (double)(z >> 11) * 0x1.0p-53; /* [0, 1) */
    return round((2 * u - 1) * scale * 16) / 16;
}

/* --------------------------------------------------- mode 0: size arithmetic */

typedef __int128 i128;

static void fuzz_sizes(reader *r)
{
    int64_t sizes[72];
    int acts[72];
    const int n_layers = (int)pick(r, 71); /* 0..70: past NN_MAX_LAYERS */
    for (int l = 0; l <= n_layers; l++) {
        const unsigned kind = byte_of(r) % 4;
        sizes[l] = kind == 0 ? (int64_t)u64_of(r)                  /* anything, negative too */
                 : kind == 1 ? ((int64_t)1 << pick(r, 63)) + pick(r, 3) - 1 /* powers of two +-1 */
                 : kind == 2 ? NN_MAX_WIDTH + pick(r, 3) - 1
                             : 1 + pick(r, 200);
    }
    /* (maxout, whose m*k columns and pre-activations change the layout and the
     * workspace, is left out of this exact count: -1 and past-the-end codes
     * stay in, as invalid codes) */
    for (int l = 0; l < n_layers; l++) {
        acts[l] = (int)pick(r, NN_N_ACTIVATIONS + 3) - 1;
        if (acts[l] == NN_MAXOUT) acts[l] = NN_LINEAR;
    }
    const int has_bias = (int)(byte_of(r) & 1);
    const nn_net net = {n_layers, sizes, acts, has_bias, NULL};

    /* the exact answer */
    int valid = n_layers >= 1 && n_layers <= NN_MAX_LAYERS;
    for (int l = 0; valid && l <= n_layers; l++) valid = sizes[l] >= 1 && sizes[l] <= NN_MAX_WIDTH;
    for (int l = 0; valid && l < n_layers; l++)
        valid = acts[l] >= 0 && acts[l] < NN_N_ACTIVATIONS &&
                (acts[l] != NN_SOFTMAX || l == n_layers - 1);
    i128 total = 0;
    int64_t widest = 0;
    if (valid) {
        for (int l = 0; l < n_layers; l++) {
            total += (i128)sizes[l] * sizes[l + 1] + (has_bias ? sizes[l + 1] : 0);
            if (total > NN_MAX_PARAMS) valid = 0; /* checked after every layer, as documented */
        }
        for (int l = 0; l <= n_layers; l++) widest = sizes[l] > widest ? sizes[l] : widest;
    }
    if (nn_net_valid(&net) != valid)
        fail("nn_net_valid = %d, expected %d (%d layers, first sizes %lld %lld)", !valid, valid,
             n_layers, (long long)sizes[0], (long long)sizes[n_layers > 0 ? 1 : 0]);

    const int64_t max_batch = byte_of(r) & 1 ? (int64_t)u64_of(r) : 1 + pick(r, 100);
    if (!valid) {
        nn_workspace *ws = nn_workspace_new_f64(&net, max_batch);
        if (ws) fail("nn_workspace_new_f64 accepted an invalid network");
        return;
    }
    if (nn_param_count(&net) != (int64_t)total) fail("nn_param_count wrong");
    if (nn_max_width(&net) != widest) fail("nn_max_width wrong");
    i128 offset = 0;
    for (int l = 0; l < n_layers; l++) {
        if (nn_weight_offset(&net, l) != (int64_t)offset) fail("nn_weight_offset(%d) wrong", l);
        const i128 b = has_bias ? offset + (i128)sizes[l] * sizes[l + 1] : -1;
        if (nn_bias_offset(&net, l) != (int64_t)b) fail("nn_bias_offset(%d) wrong", l);
        offset += (i128)sizes[l] * sizes[l + 1] + (has_bias ? sizes[l + 1] : 0);
    }
    if (nn_weight_offset(&net, n_layers) != (int64_t)total) fail("nn_weight_offset(L) wrong");

    /* workspace: at least sum_l B sizes[l] + B sizes[L] + 2 B widest + P
     * elements; refused (NULL) when that does not fit in 64-bit bytes; made
     * when it is small.  (Between the two a huge allocation would only test
     * the allocator.) */
    for (int t = 0; t < 2; t++) {
        const i128 elem = t ? (i128)sizeof(float) : (i128)sizeof(double);
        i128 elems = 0;
        if (max_batch >= 1) {
            for (int l = 0; l <= n_layers; l++) elems += (i128)max_batch * sizes[l];
            elems += (i128)max_batch * sizes[n_layers] + 2 * (i128)max_batch * widest + total;
        }
        const i128 bytes = elems * elem;
        nn_workspace *(*make)(const nn_net *, int64_t) = t ? nn_workspace_new_f32 : nn_workspace_new_f64;
        if (max_batch < 1 || bytes > (i128)INT64_MAX) {
            nn_workspace *ws = make(&net, max_batch);
            if (ws) fail("workspace of %lld rows made, though its size overflows", (long long)max_batch);
        } else if (bytes < ((i128)1 << 26)) {
            nn_workspace *ws = make(&net, max_batch);
            if (!ws) fail("no workspace for %lld rows (%lld bytes)", (long long)max_batch, (long long)bytes);
            if (nn_workspace_rows(ws) != max_batch) fail("nn_workspace_rows wrong");
            nn_workspace_free(ws);
        }
    }
    for (int code = -2; code < NN_N_ACTIVATIONS + 2; code++)
        if ((nn_activation_name(code) != NULL) != (code >= 0 && code < NN_N_ACTIVATIONS))
            fail("nn_activation_name(%d)", code);
}

/* ---------------------------------------------- mode 1: the matrix products */

#define GEMM_CASE(T, S, EPS)                                                                 \
    static void gemm_##S(reader *r)                                                          \
    {                                                                                        \
        const int64_t M = width_of(r), N = width_of(r);                                      \
        const unsigned kb = byte_of(r);                                                      \
        const int64_t K = kb & 1 ? NN_GEMM_KC - 2 + (int64_t)((kb >> 1) % 5) : width_of(r);  \
        const int op = (int)pick(r, 4), with_bias = (int)(byte_of(r) & 1);                   \
        gen_state = u64_of(r);                                                               \
        const size_t a_elems = (size_t)(M * K), b_elems = (size_t)(K * N);                    \
        T *A = xmalloc(a_elems * sizeof(T)), *B = xmalloc(b_elems * sizeof(T));               \
        T *C = xmalloc((size_t)(M * N) * sizeof(T)), *G = xmalloc((size_t)(M * N) * sizeof(T)); \
        T *bias = xmalloc((size_t)N * sizeof(T));                                            \
        for (size_t i = 0; i < a_elems; i++) A[i] = (T)gen_value(2);                         \
        for (size_t i = 0; i < b_elems; i++) B[i] = (T)gen_value(2);                         \
        for (int64_t j = 0; j < N; j++) bias[j] = (T)gen_value(2);                           \
        for (int64_t i = 0; i < M * N; i++) C[i] = (T)gen_value(2);                          \
        T *W0 = xmalloc((size_t)(M * N) * sizeof(T));                                        \
        memcpy(W0, C, (size_t)(M * N) * sizeof(T));                                          \
        const T lr = (T)0.25;                                                                \
        /* A is (M, K) for nn and nt, (K, M) for tn; B is (K, N) for nn and tn, (N, K) for nt */ \
        switch (op) {                                                                        \
        case 0: nn_gemm_nn_##S(M, N, K, A, B, with_bias ? bias : NULL, C); break;            \
        case 1: nn_gemm_tn_##S(M, N, K, A, B, C); break;                                     \
        case 2: nn_gemm_nt_##S(M, N, K, A, B, C); break;                                     \
        default: nn_gemm_tn_sgd_##S(M, N, K, A, B, lr, C, G); break;                         \
        }                                                                                    \
        for (int64_t i = 0; i < M; i++)                                                      \
            for (int64_t j = 0; j < N; j++) {                                                \
                double s = 0, mag = 0;                                                       \
                for (int64_t p = 0; p < K; p++) {                                            \
                    const double a = op == 0 || op == 2 ? A[i * K + p] : A[p * M + i];       \
                    const double b = op == 2 ? B[j * K + p] : B[p * N + j];                  \
                    s += a * b;                                                              \
                    mag += fabs(a * b);                                                      \
                }                                                                            \
                double want = s;                                                             \
                if (op == 0 && with_bias) want += bias[j], mag += fabs(bias[j]);             \
                if (op == 3) {                                                               \
                    /* W - lr g, g rounded to T as the separate update would have it */      \
                    want = (double)W0[i * N + j] - (double)lr * s;                           \
                    mag = fabs(W0[i * N + j]) + (double)lr * mag;                            \
                }                                                                            \
                const double got = C[i * N + j];                                             \
                if (!(fabs(got - want) <= 4 * EPS * (double)(K + 2) * (mag + 1e-300)))        \
                    fail("gemm op %d %s M=%lld N=%lld K=%lld bias=%d: C[%lld,%lld] = %.17g, " \
                         "expected %.17g", op, #S, (long long)M, (long long)N, (long long)K,   \
                         with_bias, (long long)i, (long long)j, got, want);                   \
            }                                                                                \
        free(A), free(B), free(C), free(G), free(bias), free(W0);                            \
    }

GEMM_CASE(double, f64, DBL_EPSILON)
GEMM_CASE(float, f32, FLT_EPSILON)

/* ------------------------------------------ the plain reference (double) */

typedef struct {
    int L;
    const int64_t *sizes;
    const int *acts;
    int bias;
    const double *params; /* the network's parameter block, as double */
    const int64_t *w_off, *b_off;
} ref_net;

static double act_value(int a, double z)
{
    switch (a) {
    case NN_SIGMOID: return 1 / (1 + exp(-z));
    case NN_TANH: return tanh(z);
    case NN_RELU: return z > 0 ? z : 0;
    case NN_LEAKY_RELU: return z > 0 ? z : 0.01 * z;
    case NN_ELU: return z > 0 ? z : expm1(z);
    default: return z; /* linear; softmax is row-wise */
    }
}

static double act_slope(int a, double z, double out)
{
    switch (a) {
    case NN_SIGMOID: return out * (1 - out);
    case NN_TANH: return 1 - out * out;
    case NN_RELU: return z > 0 ? 1 : 0;
    case NN_LEAKY_RELU: return z > 0 ? 1 : 0.01;
    case NN_ELU: return z > 0 ? 1 : exp(z);
    default: return 1;
    }
}

/* Forward pass of n rows: z[l], a[l] (n, sizes[l]) for l = 1..L, a[0] = X,
 * and err[l]: a bound on |a_core - a| for a core computing in a type of
 * machine epsilon eps.  Sets *kink when some relu/leaky z lies within the
 * bound of 0 (where the core's derivative may differ). */
static void ref_forward(const ref_net *net, int64_t n, double **z, double **a, double **err,
                        double eps, int *kink)
{
    for (int l = 0; l < net->L; l++) {
        const int64_t K = net->sizes[l], N = net->sizes[l + 1];
        const double *W = net->params + net->w_off[l];
        const double *b = net->bias ? net->params + net->b_off[l] : NULL;
        const int act = net->acts[l];
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < N; j++) {
                double s = b ? b[j] : 0, mag = b ? fabs(b[j]) : 0, e = 0;
                for (int64_t k = 0; k < K; k++) {
                    s += a[l][i * K + k] * W[k * N + j];
                    mag += fabs(a[l][i * K + k] * W[k * N + j]);
                    e += err[l][i * K + k] * fabs(W[k * N + j]);
                }
                e += 2 * eps * (double)(K + 2) * mag; /* the product's rounding */
                z[l + 1][i * N + j] = s;
                if ((act == NN_RELU || act == NN_LEAKY_RELU) && fabs(s) <= 2 * e + 1e-300) *kink = 1;
                if (act == NN_SOFTMAX) {
                    err[l + 1][i * N + j] = e; /* finished below */
                } else {
                    const double v = act_value(act, s);
                    a[l + 1][i * N + j] = v;
                    /* every activation but elu's tail is 1-Lipschitz; elu too (slope <= 1) */
                    err[l + 1][i * N + j] = e + 8 * eps * (fabs(v) + (act == NN_SIGMOID || act == NN_TANH ? 1 : 0));
                }
            }
            if (act == NN_SOFTMAX) {
                double top = -INFINITY, sum = 0, emax = 0;
                for (int64_t j = 0; j < N; j++) top = fmax(top, z[l + 1][i * N + j]);
                for (int64_t j = 0; j < N; j++) sum += exp(z[l + 1][i * N + j] - top);
                for (int64_t j = 0; j < N; j++) {
                    a[l + 1][i * N + j] = exp(z[l + 1][i * N + j] - top) / sum;
                    emax = fmax(emax, err[l + 1][i * N + j]);
                }
                /* |d softmax| <= 2 max |dz|, plus a few roundings per entry */
                for (int64_t j = 0; j < N; j++)
                    err[l + 1][i * N + j] = 2 * emax + 8 * eps * (double)(N + 2);
            }
        }
    }
}

static double ref_loss(int loss, const double *p, const double *y, int64_t n, int64_t k)
{
    double s = 0;
    for (int64_t i = 0; i < n * k; i++) {
        switch (loss) {
        case NN_MSE: case NN_SSE: s += (y[i] - p[i]) * (y[i] - p[i]); break;
        case NN_BCE: s -= y[i] * log(p[i]) + (1 - y[i]) * log(1 - p[i]); break;
        default: s -= y[i] * log(p[i]); break;
        }
    }
    switch (loss) {
    case NN_MSE: return s / (double)(n * k);
    case NN_SSE: return s / 2;
    case NN_BCE: return s / (double)(n * k);
    default: return s / (double)n;
    }
}

/* Backpropagation of the loss over n rows into grads (param layout).  With
 * absolute = 1 the same with every factor's absolute value (a bound on the
 * sum of |terms| each gradient entry adds up, for its rounding error); with
 * absolute = 2 also every factor grown by its error bound from the forward
 * pass (err: activations; an activation's slope from its output, as the core
 * computes it: sigmoid a(1-a), tanh 1-a^2, elu a+1), so that the difference
 * of the two bounds, to first order, what the forward pass's errors carry
 * into each gradient entry. */
static double slope_error(int act, double a, double err)
{
    switch (act) {
    case NN_SIGMOID: return err * (1 + err);
    case NN_TANH: return err * (2 * fabs(a) + err);
    case NN_ELU: return err;
    default: return 0;
    }
}

static void ref_backward(const ref_net *net, int loss, const double *y, int64_t n,
                         double **z, double **a, double **err, double *grads, int absolute)
{
    const int L = net->L;
    int64_t widest = 0;
    for (int l = 0; l <= L; l++) widest = net->sizes[l] > widest ? net->sizes[l] : widest;
    double *delta = xmalloc((size_t)(n * widest) * sizeof(double));
    double *prev = xmalloc((size_t)(n * widest) * sizeof(double));
    const int64_t k = net->sizes[L];
    const int out_act = net->acts[L - 1];
#define F(x) (absolute ? fabs(x) : (x))
#define E(arr, l, idx) (absolute == 2 ? err[l][idx] : 0) /* a factor's growth */
    for (int64_t i = 0; i < n; i++) {
        const double *p = a[L] + i * k, *yy = y + i * k;
        for (int64_t j = 0; j < k; j++) {
            const double ep = E(err, L, i * k + j);
            double g;
            if ((loss == NN_BCE && out_act == NN_SIGMOID)) {
                g = (F(p[j] - yy[j]) + ep) / (double)(n * k);
            } else if (loss == NN_CROSS_ENTROPY && out_act == NN_SOFTMAX) {
                g = (F(p[j] - yy[j]) + ep) / (double)n;
            } else {
                const double ds = loss == NN_MSE ? 2 / (double)(n * k) : 1;
                const double dp = ds * (p[j] - yy[j]);
                if (out_act == NN_SOFTMAX) {
                    double dot = 0;
                    for (int64_t m = 0; m < k; m++) {
                        const double epm = E(err, L, i * k + m);
                        const double dpm = ds * (p[m] - yy[m]);
                        dot += absolute ? (fabs(dpm) + ds * epm) * (fabs(p[m]) + epm) : dpm * p[m];
                    }
                    g = absolute ? (fabs(p[j]) + ep) * (fabs(dp) + ds * ep + dot) : p[j] * (dp - dot);
                } else {
                    const double slope = act_slope(out_act, z[L][i * k + j], p[j]);
                    g = absolute ? (fabs(dp) + ds * ep) * (fabs(slope) + (absolute == 2 ? slope_error(out_act, p[j], ep) : 0))
                                 : dp * slope;
                }
            }
            delta[i * k + j] = g;
        }
    }
    for (int l = L - 1; l >= 0; l--) {
        const int64_t K = net->sizes[l], N = net->sizes[l + 1];
        const double *W = net->params + net->w_off[l];
        double *dW = grads + net->w_off[l];
        for (int64_t p = 0; p < K; p++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t i = 0; i < n; i++) s += (F(a[l][i * K + p]) + E(err, l, i * K + p)) * delta[i * N + j];
                dW[p * N + j] = s;
            }
        if (net->bias) {
            double *db = grads + net->b_off[l];
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t i = 0; i < n; i++) s += delta[i * N + j];
                db[j] = s;
            }
        }
        if (l == 0) break;
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < K; p++) {
                double s = 0;
                for (int64_t j = 0; j < N; j++) s += delta[i * N + j] * F(W[p * N + j]);
                const double al = a[l][i * K + p];
                prev[i * K + p] = s * (F(act_slope(net->acts[l - 1], z[l][i * K + p], al)) +
                                       (absolute == 2 ? slope_error(net->acts[l - 1], al, err[l][i * K + p]) : 0));
            }
        double *t = delta;
        delta = prev;
        prev = t;
    }
#undef F
#undef E
    free(delta);
    free(prev);
}

/* ------------------------------------------------ mode 2+: whole networks */

#define NET_CASE(T, S, EPS)                                                                     \
    static void net_##S(reader *r)                                                              \
    {                                                                                           \
        const int L = 1 + (int)pick(r, 4);                                                      \
        int64_t sizes[5];                                                                       \
        int acts[4];                                                                            \
        for (int l = 0; l <= L; l++) sizes[l] = width_of(r);                                    \
        for (int l = 0; l < L; l++) acts[l] = (int)pick(r, NN_SOFTMAX + (l == L - 1));          \
        const int has_bias = (int)(byte_of(r) & 1);                                             \
        const nn_net net = {L, sizes, acts, has_bias, NULL};                                        \
        if (!nn_net_valid(&net)) fail("a small network refused");                               \
        const int64_t n = 1 + pick(r, 70), P = nn_param_count(&net), k = sizes[L];              \
        const int out = acts[L - 1];                                                            \
        int loss = (int)pick(r, NN_N_LOSSES);                                                   \
        if (loss == NN_BCE && out != NN_SIGMOID) loss = NN_MSE;                                 \
        if (loss == NN_CROSS_ENTROPY && out != NN_SOFTMAX) loss = NN_SSE;                       \
        if (loss == NN_POISSON) loss = NN_MSE; /* (no bound derived for exp) */                 \
        const double scale = 0.25 + (double)pick(r, 8); /* up to |w| ~ 8: saturation, overflow */ \
        gen_state = u64_of(r);                                                                  \
        T *params = xmalloc((size_t)P * sizeof(T)), *X = xmalloc((size_t)(n * sizes[0]) * sizeof(T)); \
        T *Y = xmalloc((size_t)(n * k) * sizeof(T)), *outp = xmalloc((size_t)(n * k) * sizeof(T)); \
        T *grads = xmalloc((size_t)P * sizeof(T));                                              \
        for (int64_t i = 0; i < P; i++) params[i] = (T)gen_value(scale);                        \
        for (int64_t i = 0; i < n * sizes[0]; i++) X[i] = (T)gen_value(2);                      \
        for (int64_t i = 0; i < n; i++) {                                                       \
            if (loss == NN_CROSS_ENTROPY) { /* one-hot rows */                                  \
                const int64_t hot = (int64_t)((gen_value(1) + 1) * 0.5 * (double)k) % k;        \
                for (int64_t j = 0; j < k; j++) Y[i * k + j] = (T)(j == hot);                   \
            } else {                                                                            \
                for (int64_t j = 0; j < k; j++)                                                 \
                    Y[i * k + j] = (T)(loss == NN_BCE ? (gen_value(1) + 1) / 2 : gen_value(2)); \
            }                                                                                   \
        }                                                                                       \
        /* the reference, in double */                                                          \
        int64_t w_off[4], b_off[4];                                                             \
        for (int l = 0; l < L; l++) w_off[l] = nn_weight_offset(&net, l), b_off[l] = nn_bias_offset(&net, l); \
        double *dparams = xmalloc((size_t)P * sizeof(double));                                  \
        for (int64_t i = 0; i < P; i++) dparams[i] = params[i];                                 \
        const ref_net rn = {L, sizes, acts, has_bias, dparams, w_off, b_off};                   \
        double *za[5], *aa[5], *ea[5];                                                          \
        for (int l = 0; l <= L; l++) {                                                          \
            za[l] = xmalloc((size_t)(n * sizes[l]) * sizeof(double));                           \
            aa[l] = xmalloc((size_t)(n * sizes[l]) * sizeof(double));                           \
            ea[l] = xmalloc((size_t)(n * sizes[l]) * sizeof(double));                           \
        }                                                                                       \
        for (int64_t i = 0; i < n * sizes[0]; i++) aa[0][i] = X[i], ea[0][i] = 0;               \
        int kink = 0;                                                                           \
        ref_forward(&rn, n, za, aa, ea, EPS, &kink);                                            \
        double *dY = xmalloc((size_t)(n * k) * sizeof(double));                                 \
        for (int64_t i = 0; i < n * k; i++) dY[i] = Y[i];                                       \
        /* predict, in chunks of a workspace of max_batch rows */                               \
        const int64_t max_batch = 1 + pick(r, n);                                               \
        nn_workspace *ws = nn_workspace_new_##S(&net, max_batch);                               \
        if (!ws) fail("no workspace");                                                          \
        nn_predict_##S(&net, params, ws, X, n, outp);                                           \
        for (int64_t i = 0; i < n * k; i++)                                                     \
            if (!(fabs((double)outp[i] - aa[L][i]) <= ea[L][i] + 1e-300))                       \
                fail("predict %s: out[%lld] = %.17g, expected %.17g (bound %.3g)", #S,          \
                     (long long)i, (double)outp[i], aa[L][i], ea[L][i]);                         \
        /* forward: every layer */                                                              \
        T *acts_core[5];                                                                        \
        acts_core[0] = X;                                                                       \
        for (int l = 1; l <= L; l++) acts_core[l] = xmalloc((size_t)(n * sizes[l]) * sizeof(T)); \
        nn_forward_##S(&net, params, acts_core, NULL, n);                                           \
        for (int l = 1; l <= L; l++)                                                            \
            for (int64_t i = 0; i < n * sizes[l]; i++)                                          \
                if (!(fabs((double)acts_core[l][i] - aa[l][i]) <= ea[l][i] + 1e-300))           \
                    fail("forward %s: layer %d [%lld] = %.17g, expected %.17g", #S, l,          \
                         (long long)i, (double)acts_core[l][i], aa[l][i]);                       \
        /* loss and gradients, where the loss is smooth enough to compare */                   \
        int near_edge = 0;                                                                      \
        for (int64_t i = 0; i < n * k; i++)                                                     \
            if ((loss == NN_BCE || loss == NN_CROSS_ENTROPY) &&                                 \
                (aa[L][i] < 1e-3 || (loss == NN_BCE && aa[L][i] > 1 - 1e-3)))                   \
                near_edge = 1;                                                                  \
        double *g_ref = xmalloc((size_t)P * sizeof(double)), *g_mag = xmalloc((size_t)P * sizeof(double)); \
        double *g_up = xmalloc((size_t)P * sizeof(double));                                     \
        ref_backward(&rn, loss, dY, n, za, aa, ea, g_ref, 0);                                   \
        ref_backward(&rn, loss, dY, n, za, aa, ea, g_mag, 1);                                   \
        ref_backward(&rn, loss, dY, n, za, aa, ea, g_up, 2);                                    \
        const double lv = nn_loss_value_##S(&net, params, ws, loss, X, Y, n);                   \
        const double lref = ref_loss(loss, aa[L], dY, n, k);                                    \
        double lbound = 0; /* sum |dL/dp| * |p error| + rounding */                             \
        for (int64_t i = 0; i < n * k; i++) {                                                   \
            const double p = aa[L][i], yv = dY[i];                                              \
            const double dldp = loss == NN_MSE ? 2 * fabs(p - yv) / (double)(n * k)             \
                              : loss == NN_SSE ? fabs(p - yv)                                   \
                              : loss == NN_BCE ? (fabs(yv / p) + fabs((1 - yv) / (1 - p))) / (double)(n * k) \
                                               : fabs(yv / p) / (double)n;                      \
            lbound += dldp * 2 * ea[L][i];                                                      \
        }                                                                                       \
        lbound += 16 * EPS * (double)(n * k + 2) * (fabs(lref) + 1e-300);                       \
        if (!near_edge && isfinite(lref) && !(fabs(lv - lref) <= lbound))                       \
            fail("loss %s (%d): %.17g, expected %.17g (bound %.3g)", #S, loss, lv, lref, lbound); \
        nn_workspace *ws_n = nn_workspace_new_##S(&net, n);                                     \
        if (!ws_n) fail("no workspace");                                                        \
        const double lg = nn_gradients_##S(&net, params, ws_n, loss, X, Y, n, grads);           \
        if (!near_edge && isfinite(lref) && !(fabs(lg - lref) <= lbound))                       \
            fail("nn_gradients' loss %s: %.17g, expected %.17g", #S, lg, lref);                 \
        /* the gradient's error: rounding of its own sums (g_mag) plus, to first order,     \
         * what the forward pass's errors carry into it (g_up - g_mag), compared only        \
         * where those errors are small enough for first order to hold */                  \
        double ea_max = 0;                                                                      \
        for (int l = 1; l <= L; l++)                                                            \
            for (int64_t i = 0; i < n * sizes[l]; i++) ea_max = fmax(ea_max, ea[l][i] / (fabs(aa[l][i]) + 1)); \
        if (!near_edge && !kink && ea_max < 1e-3) {                                             \
            for (int64_t i = 0; i < P; i++) {                                                   \
                const double bound = 64 * EPS * (double)(n + 42 * L) * g_mag[i] + 4 * (g_up[i] - g_mag[i]) + 1e-300; \
                if (!(fabs((double)grads[i] - g_ref[i]) <= bound))                              \
                    fail("gradients %s (loss %d, L=%d, n=%lld): grads[%lld] = %.17g, expected " \
                         "%.17g (bound %.3g)", #S, loss, L, (long long)n, (long long)i,         \
                         (double)grads[i], g_ref[i], bound);                                     \
            }                                                                                   \
        }                                                                                       \
        /* training: a config from the input */                                                \
        nn_train_config cfg;                                                                    \
        memset(&cfg, 0, sizeof cfg);                                                            \
        cfg.loss = loss;                                                                        \
        cfg.optimizer = (int)pick(r, NN_N_OPTIMIZERS);                                          \
        cfg.lr = ldexp(1, -(int)pick(r, 10));                                                   \
        cfg.momentum = byte_of(r) & 1 ? 0.9 : 0;                                                \
        cfg.beta1 = 0.9, cfg.beta2 = 0.999, cfg.eps = 1e-8;                                     \
        cfg.batch_size = 1 + pick(r, n);                                                        \
        cfg.shuffle = (int)(byte_of(r) & 1);                                                    \
        cfg.rng_state = u64_of(r);                                                              \
        cfg.n_epochs = 1 + pick(r, 3);                                                          \
        const unsigned extras = byte_of(r);                                                     \
        if (extras & 1) cfg.l2 = 1e-3;                                                          \
        if (extras & 2) cfg.l1 = 1e-4;                                                          \
        if (extras & 4 && cfg.optimizer == NN_SGD && cfg.momentum > 0) cfg.nesterov = 1;        \
        if (extras & 8) cfg.reg_per_row = 1;                                                    \
        if (extras & 16 && cfg.optimizer == NN_ADAM) cfg.adam_folded = 1;                       \
        if (extras & 32) cfg.loss_by_rows = 1;                                                  \
        const int blocks = nn_optimizer_state_blocks(&cfg);                                     \
        T *opt = blocks ? calloc((size_t)(P * blocks), sizeof(T)) : NULL;                       \
        T *trained = xmalloc((size_t)P * sizeof(T));                                            \
        memcpy(trained, params, (size_t)P * sizeof(T));                                         \
        double *losses = xmalloc((size_t)cfg.n_epochs * sizeof(double));                        \
        nn_train_result res = {0, 0};                                                           \
        nn_train_config cfg1 = cfg;                                                             \
        nn_status st = nn_train_##S(&net, trained, opt, X, Y, n, &cfg1, losses, &res);          \
        if (st != NN_OK && st != NN_ERR_NONFINITE) fail("nn_train returned %d", (int)st);       \
        if (st == NN_OK && res.epochs_done != cfg.n_epochs) fail("epochs_done wrong");          \
        for (int64_t i = 0; i < P; i++)                                                         \
            if (!isfinite((double)trained[i])) fail("nn_train left a non-finite parameter");    \
        for (int64_t i = 0; blocks && i < P * blocks; i++)                                      \
            if (!isfinite((double)opt[i])) fail("nn_train left a non-finite optimizer state");  \
        /* the fused path (when it runs this network) gives the general path's bits */         \
        if (!cfg.l2 && !cfg.l1 && !cfg.nesterov && !cfg.reg_per_row && !cfg.adam_folded &&      \
            !cfg.loss_by_rows && nn_fused_path_used_##S(&net, cfg.batch_size)) {                \
            T *general = xmalloc((size_t)P * sizeof(T));                                        \
            T *opt2 = blocks ? calloc((size_t)(P * blocks), sizeof(T)) : NULL;                  \
            double *losses2 = xmalloc((size_t)cfg.n_epochs * sizeof(double));                   \
            memcpy(general, params, (size_t)P * sizeof(T));                                     \
            nn_train_config cfg2 = cfg;                                                         \
            nn_train_result res2 = {0, 0};                                                      \
            nn_set_fused_path(0);                                                               \
            const nn_status st2 = nn_train_##S(&net, general, opt2, X, Y, n, &cfg2, losses2, &res2); \
            nn_set_fused_path(1);                                                               \
            if (st2 != st || res2.epochs_done != res.epochs_done ||                             \
                memcmp(general, trained, (size_t)P * sizeof(T)) ||                              \
                (blocks && memcmp(opt, opt2, (size_t)(P * blocks) * sizeof(T))) ||               \
                memcmp(losses, losses2, (size_t)res.epochs_done * sizeof(double)) ||            \
                cfg2.rng_state != cfg1.rng_state || cfg2.adam_step != cfg1.adam_step)           \
                fail("fused and general paths differ (%s, L=%d, n=%lld, batch %lld, opt %d)",    \
                     #S, L, (long long)n, (long long)cfg.batch_size, cfg.optimizer);            \
            free(general), free(opt2), free(losses2);                                           \
        }                                                                                       \
        /* one plain full-batch SGD epoch: params - lr * grads */                               \
        if (!near_edge && !kink && ea_max < 1e-3) {                                             \
            nn_train_config sgd;                                                                \
            memset(&sgd, 0, sizeof sgd);                                                        \
            sgd.loss = loss, sgd.optimizer = NN_SGD, sgd.lr = cfg.lr, sgd.batch_size = n,       \
            sgd.n_epochs = 1;                                                                   \
            T *stepped = xmalloc((size_t)P * sizeof(T));                                        \
            memcpy(stepped, params, (size_t)P * sizeof(T));                                     \
            double l0;                                                                          \
            nn_train_result r0 = {0, 0};                                                        \
            if (nn_train_##S(&net, stepped, NULL, X, Y, n, &sgd, &l0, &r0) == NN_OK) {          \
                for (int64_t i = 0; i < P; i++) {                                               \
                    const double want = dparams[i] - sgd.lr * g_ref[i];                         \
                    const double bound = sgd.lr * (64 * EPS * (double)(n + 42 * L) * g_mag[i] + 4 * (g_up[i] - g_mag[i])) \
                                         + 4 * EPS * (fabs(dparams[i]) + sgd.lr * fabs(g_ref[i])) + 1e-300; \
                    if (!(fabs((double)stepped[i] - want) <= bound))                            \
                        fail("SGD step %s: param %lld = %.17g, expected %.17g (bound %.3g)", #S, \
                             (long long)i, (double)stepped[i], want, bound);                    \
                }                                                                               \
            }                                                                                   \
            free(stepped);                                                                      \
        }                                                                                       \
        free(trained), free(opt), free(losses);                                                 \
        nn_workspace_free(ws);                                                                  \
        nn_workspace_free(ws_n);                                                                \
        for (int l = 1; l <= L; l++) free(acts_core[l]);                                        \
        for (int l = 0; l <= L; l++) free(za[l]), free(aa[l]), free(ea[l]);                     \
        free(params), free(X), free(Y), free(outp), free(grads), free(dparams), free(dY);       \
        free(g_ref), free(g_mag), free(g_up);                                                               \
    }

NET_CASE(double, f64, DBL_EPSILON)
NET_CASE(float, f32, FLT_EPSILON)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    nn_set_num_threads(1); /* deterministic, and the sizes here never use threads */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    const unsigned mode = byte_of(&r);
    gen_state = 0x243F6A8885A308D3ull;
    switch (mode % 6) {
    case 0: fuzz_sizes(&r); break;
    case 1: (byte_of(&r) & 1 ? gemm_f32 : gemm_f64)(&r); break;
    case 2: case 3: net_f64(&r); break;
    default: net_f32(&r); break;
    }
    return 0;
}
