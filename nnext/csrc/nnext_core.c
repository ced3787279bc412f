/* nnext core: the type-independent parts (layout, workspace, polling, the
 * shuffling generator), then the layer and network code for double and float. */
#define _POSIX_C_SOURCE 199309L
#include "nnext_core.h"
#include "nnext_exp.h"
#include "nnext_gemm.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NN_MAX_LAYERS 64

/* ---------------------------------------------------------------- layout */

int nn_net_valid(const nn_net *net)
{
    if (!net || net->n_layers < 1 || net->n_layers > NN_MAX_LAYERS) return 0;
    for (int l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] < 1) return 0;
    for (int l = 0; l < net->n_layers; l++) {
        const int a = net->activations[l];
        if (a < 0 || a >= NN_N_ACTIVATIONS) return 0;
        if (a == NN_SOFTMAX && l != net->n_layers - 1) return 0;
    }
    return 1;
}

static int64_t layer_params(const nn_net *net, int l)
{
    return net->sizes[l] * net->sizes[l + 1] + (net->has_bias ? net->sizes[l + 1] : 0);
}

int64_t nn_param_count(const nn_net *net)
{
    int64_t total = 0;
    for (int l = 0; l < net->n_layers; l++) total += layer_params(net, l);
    return total;
}

int64_t nn_weight_offset(const nn_net *net, int layer)
{
    int64_t offset = 0;
    for (int l = 0; l < layer; l++) offset += layer_params(net, l);
    return offset;
}

int64_t nn_bias_offset(const nn_net *net, int layer)
{
    if (!net->has_bias) return -1;
    return nn_weight_offset(net, layer) + net->sizes[layer] * net->sizes[layer + 1];
}

int64_t nn_max_width(const nn_net *net)
{
    int64_t w = 0;
    for (int l = 0; l <= net->n_layers; l++) w = net->sizes[l] > w ? net->sizes[l] : w;
    return w;
}

/* ------------------------------------------------------------- workspace */

struct nn_workspace {
    int64_t max_batch;
    void *acts[NN_MAX_LAYERS + 1]; /* acts[l]: (max_batch, sizes[l]); acts[0] gathers X */
    void *delta[2];                /* (max_batch, max width) each                       */
    void *grads;                   /* (param count,)                                    */
    void *extra;                   /* caller-defined, extra_elems elements              */
    int64_t *order;                /* (n_order,) row indices, or NULL                   */
    void *block;                   /* the single allocation behind all of the above     */
};

static size_t round_up(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/* One allocation holding every buffer; NULL when out of memory. */
static nn_workspace *ws_new(const nn_net *net, int64_t max_batch, size_t elem,
                            int64_t extra_elems, int64_t n_order)
{
    if (!nn_net_valid(net) || max_batch < 1) return NULL;
    const int L = net->n_layers;
    const size_t wide = round_up((size_t)(max_batch * nn_max_width(net)) * elem);
    size_t total = 0;
    for (int l = 0; l <= L; l++) total += round_up((size_t)(max_batch * net->sizes[l]) * elem);
    total += 2 * wide + round_up((size_t)nn_param_count(net) * elem);
    total += round_up((size_t)extra_elems * elem) + (size_t)n_order * sizeof(int64_t);
    nn_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    char *p = aligned_alloc(64, round_up(total));
    if (!p) {
        free(ws);
        return NULL;
    }
    ws->block = p;
    ws->max_batch = max_batch;
    for (int l = 0; l <= L; l++) {
        ws->acts[l] = p;
        p += round_up((size_t)(max_batch * net->sizes[l]) * elem);
    }
    ws->delta[0] = p;
    p += wide;
    ws->delta[1] = p;
    p += wide;
    ws->grads = p;
    p += round_up((size_t)nn_param_count(net) * elem);
    ws->extra = p;
    p += round_up((size_t)extra_elems * elem);
    ws->order = n_order ? (int64_t *)p : NULL;
    return ws;
}

void nn_workspace_free(nn_workspace *ws)
{
    if (!ws) return;
    free(ws->block);
    free(ws);
}

/* ---------------------------------------------------- polling, shuffling */

/* Calls poll about every 50 ms of work, reading the clock only every
 * `stride` steps so that tiny networks do not pay for it. */
typedef struct {
    nn_poll_fn poll;
    void *ctx;
    int64_t stride, countdown;
    double last;
} nn_poller;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void poller_init(nn_poller *p, nn_poll_fn poll, void *ctx, double flops_per_step)
{
    p->poll = poll;
    p->ctx = ctx;
    const double stride = 2e5 / (flops_per_step > 1 ? flops_per_step : 1);
    p->stride = stride < 1 ? 1 : (int64_t)stride;
    p->countdown = p->stride;
    p->last = poll ? now_seconds() : 0;
}

/* Non-zero when the loop must stop. */
static int poller_tick(nn_poller *p)
{
    if (!p->poll || --p->countdown > 0) return 0;
    p->countdown = p->stride;
    const double t = now_seconds();
    if (t - p->last < 0.05) return 0;
    p->last = t;
    return p->poll(p->ctx);
}

/* splitmix64 -> uniform double in [0, 1) */
static double rng_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

int nn_optimizer_state_blocks(const nn_train_config *cfg)
{
    return cfg->optimizer == NN_ADAM ? 2 : (cfg->momentum > 0 ? 1 : 0);
}

/* ------------------------------------------------------ the fused path */

static atomic_int nn_fused_enabled = 1;

void nn_set_fused_path(int enabled)
{
    atomic_store_explicit(&nn_fused_enabled, enabled != 0, memory_order_relaxed);
}

int nn_get_fused_path(void)
{
    return atomic_load_explicit(&nn_fused_enabled, memory_order_relaxed);
}

/* GCC and clang vector extensions: the fused path's vectors of 32 bytes. */
#if defined(__GNUC__)
#define NN_HAVE_VECTORS 1
#else
#define NN_HAVE_VECTORS 0
#endif

/* ------------------------------------------------------ typed instances */

#define T double
#define NN_LANE_COUNT 4 /* of the fused path: 32-byte vectors */
#define S f64
#define EXP nn_exp_f64
#define EXPM1 expm1
#define LOG log
#define TANH tanh
#define SQRT sqrt
#define T_TINY DBL_MIN
#include "nnext_core_impl.h"
#undef T
#undef S
#undef EXP
#undef EXPM1
#undef LOG
#undef TANH
#undef SQRT
#undef T_TINY

#undef NN_LANE_COUNT
#define NN_LANE_COUNT 8
#define T float
#define S f32
#define EXP nn_exp_f32
#define EXPM1 expm1f
#define LOG logf
#define TANH tanhf
#define SQRT sqrtf
#define T_TINY FLT_MIN
#include "nnext_core_impl.h"
