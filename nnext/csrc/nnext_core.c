/* nnext core: the type-independent parts (names, layout, workspace,
 * polling, the shuffling generator), then the typed core for double and float
 * (nnext_core_typed.h, through nnext_instantiate.h). */
#include "nnext_core.h"
#include "nnext_exp.h"
#include "nnext_gemm.h"
#include "nnext_isa.h"
#include "nnext_runtime.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* ----------------------------------------------------------------- names */

static const char *const activation_names[NN_N_ACTIVATIONS] = {
    "sigmoid", "tanh", "relu", "leaky_relu", "elu", "linear", "softmax"};
static const char *const loss_names[NN_N_LOSSES] = {"mse", "sse", "bce", "cross_entropy"};
static const char *const optimizer_names[NN_N_OPTIMIZERS] = {"sgd", "adam"};

const char *nn_activation_name(int code)
{
    return code >= 0 && code < NN_N_ACTIVATIONS ? activation_names[code] : NULL;
}

const char *nn_loss_name(int code) { return code >= 0 && code < NN_N_LOSSES ? loss_names[code] : NULL; }

const char *nn_optimizer_name(int code)
{
    return code >= 0 && code < NN_N_OPTIMIZERS ? optimizer_names[code] : NULL;
}

/* ---------------------------------------------------------------- layout */

/* *out = a * b + c for a, b, c >= 0; non-zero (and *out untouched) when the
 * result does not fit in int64_t.  Every size computation goes through it. */
static int nn_mul_add(int64_t *out, int64_t a, int64_t b, int64_t c)
{
    int64_t r;
    if (a < 0 || b < 0 || c < 0 || __builtin_mul_overflow(a, b, &r) ||
        __builtin_add_overflow(r, c, &r))
        return 1;
    *out = r;
    return 0;
}

int nn_net_valid(const nn_net *net)
{
    if (!net || !net->sizes || !net->activations || net->n_layers < 1 ||
        net->n_layers > NN_MAX_LAYERS)
        return 0;
    for (int l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] < 1 || net->sizes[l] > NN_MAX_WIDTH) return 0;
    for (int l = 0; l < net->n_layers; l++) {
        const int a = net->activations[l];
        if (a < 0 || a >= NN_N_ACTIVATIONS) return 0;
        if (a == NN_SOFTMAX && l != net->n_layers - 1) return 0;
    }
    /* the parameter count, and each layer's, must fit (with room for the
     * optimizer's state: NN_MAX_PARAMS) */
    int64_t total = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const int64_t n_out = net->sizes[l + 1];
        if (nn_mul_add(&total, net->sizes[l], n_out, total) ||
            nn_mul_add(&total, net->has_bias ? 1 : 0, n_out, total) || total > NN_MAX_PARAMS)
            return 0;
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
    void *z;                       /* (max_batch, sizes[L]) the output's pre-activation */
    void *extra;                   /* caller-defined, extra_elems elements              */
    int64_t *order;                /* (n_order,) row indices, or NULL                   */
    void *block;                   /* the single allocation behind all of the above     */
};

static size_t round_up(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/* Bytes of n elements of elem bytes, rounded up to 64, added to *total;
 * non-zero on overflow. */
static int add_bytes(size_t *total, int64_t n, size_t elem)
{
    if (n < 0 || (uint64_t)n > (SIZE_MAX - 63) / elem) return 1;
    const size_t bytes = round_up((size_t)n * elem);
    if (*total > SIZE_MAX - bytes) return 1;
    *total += bytes;
    return 0;
}

/* One allocation holding every buffer; NULL when out of memory or when the
 * sizes do not fit in memory's address range. */
static nn_workspace *ws_new(const nn_net *net, int64_t max_batch, size_t elem,
                            int64_t extra_elems, int64_t n_order)
{
    if (!nn_net_valid(net) || max_batch < 1 || extra_elems < 0 || n_order < 0) return NULL;
    const int L = net->n_layers;
    int64_t wide_elems;
    size_t total = 0, wide = 0;
    if (nn_mul_add(&wide_elems, max_batch, nn_max_width(net), 0) || add_bytes(&wide, wide_elems, elem))
        return NULL;
    for (int l = 0; l <= L; l++) {
        int64_t n;
        if (nn_mul_add(&n, max_batch, net->sizes[l], 0) || add_bytes(&total, n, elem)) return NULL;
    }
    int64_t z_elems;
    if (nn_mul_add(&z_elems, max_batch, net->sizes[L], 0) || add_bytes(&total, z_elems, elem) ||
        add_bytes(&total, wide_elems, elem) || add_bytes(&total, wide_elems, elem) ||
        add_bytes(&total, nn_param_count(net), elem) || add_bytes(&total, extra_elems, elem) ||
        add_bytes(&total, n_order, sizeof(int64_t)))
        return NULL;
    nn_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    char *p = aligned_alloc(64, total);
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
    ws->z = p;
    p += round_up((size_t)z_elems * elem);
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

int64_t nn_workspace_rows(const nn_workspace *ws) { return ws->max_batch; }

void nn_workspace_free(nn_workspace *ws)
{
    if (!ws) return;
    free(ws->block);
    free(ws);
}

/* ---------------------------------------------------- polling, shuffling */

/* The training loop's poll: nn_poll_due() (nnext_runtime.h) every `stride`
 * steps, so that tiny networks do not pay for a clock read every step. */
typedef struct {
    int64_t stride, countdown;
} nn_poller;

static void poller_init(nn_poller *p, double flops_per_step)
{
    const double stride = 2e5 / (flops_per_step > 1 ? flops_per_step : 1);
    p->stride = stride < 1 ? 1 : (int64_t)stride;
    p->countdown = p->stride;
}

/* Non-zero when the loop must stop.  (A poll inside a step, which only large
 * steps make, is seen by the loop right after that step.) */
static int poller_tick(nn_poller *p)
{
    if (--p->countdown > 0) return 0;
    p->countdown = p->stride;
    return nn_poll_due();
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

#define NN_TEMPLATE "nnext_core_typed.h"
#include "nnext_instantiate.h"
