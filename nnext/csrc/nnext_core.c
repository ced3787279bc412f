/* nnext core: the type-independent parts (names, layout and checked sizes,
 * the workspace, the optimizer's state size, the fused-path switch).  The
 * typed core is nnext_core_f64.c and nnext_core_f32.c (nnext_core_typed.h). */
#include "nnext_core_internal.h"

#include <stdatomic.h>

/* ----------------------------------------------------------------- names */

static const char *const activation_names[NN_N_ACTIVATIONS] = {
    "sigmoid", "tanh", "relu", "leaky_relu", "elu", "linear", "softmax", "maxout"};
static const char *const loss_names[NN_N_LOSSES] = {"mse", "sse", "bce", "cross_entropy",
                                                          "poisson"};
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

/* The activations' parameters (nnext_core.h), by code; a name of NULL: none. */
static const nn_activation_param_info activation_params[NN_N_ACTIVATIONS] = {
    [NN_LEAKY_RELU] = {"slope", 0.01, 0.0, 1.0, 0, 0},
    [NN_ELU] = {"alpha", 1.0, 0.0, INFINITY, 1, 0},
    [NN_MAXOUT] = {"pieces", 2.0, 1.0, (double)NN_MAX_WIDTH, 0, 1},
};

const nn_activation_param_info *nn_activation_param(int code)
{
    if (code < 0 || code >= NN_N_ACTIVATIONS || !activation_params[code].name) return NULL;
    return &activation_params[code];
}

int nn_activation_param_ok(int code, double value)
{
    const nn_activation_param_info *p = nn_activation_param(code);
    if (!p) return 1; /* ignored */
    if (!isfinite(value) || value > p->high || value < p->low) return 0;
    if (p->low_open && value == p->low) return 0;
    if (p->integral && value != floor(value)) return 0;
    return 1;
}

double nn_layer_param(const nn_net *net, int layer)
{
    const nn_activation_param_info *p = nn_activation_param(net->activations[layer]);
    if (!p) return NAN;
    return net->act_params ? net->act_params[layer] : p->fallback;
}

int64_t nn_layer_pieces(const nn_net *net, int layer)
{
    return net->activations[layer] == NN_MAXOUT ? (int64_t)nn_layer_param(net, layer) : 1;
}

int64_t nn_layer_cols(const nn_net *net, int layer)
{
    return net->sizes[layer + 1] * nn_layer_pieces(net, layer);
}

int nn_has_maxout(const nn_net *net)
{
    for (int l = 0; l < net->n_layers; l++)
        if (net->activations[l] == NN_MAXOUT) return 1;
    return 0;
}

/* ---------------------------------------------------------------- layout */

int nn_mul_add(int64_t *out, int64_t a, int64_t b, int64_t c)
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
        if (a == NN_MAXOUT && l == net->n_layers - 1) return 0;
        if (net->act_params && !nn_activation_param_ok(a, net->act_params[l])) return 0;
        int64_t cols; /* sizes[l+1] * pieces, checked */
        if (nn_mul_add(&cols, net->sizes[l + 1], nn_layer_pieces(net, l), 0) ||
            cols > NN_MAX_WIDTH)
            return 0;
    }
    /* the parameter count, and each layer's, must fit (with room for the
     * optimizer's state: NN_MAX_PARAMS) */
    int64_t total = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const int64_t n_out = nn_layer_cols(net, l);
        if (nn_mul_add(&total, net->sizes[l], n_out, total) ||
            nn_mul_add(&total, net->has_bias ? 1 : 0, n_out, total) || total > NN_MAX_PARAMS)
            return 0;
    }
    return 1;
}

static int64_t layer_params(const nn_net *net, int l)
{
    const int64_t cols = nn_layer_cols(net, l);
    return net->sizes[l] * cols + (net->has_bias ? cols : 0);
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
    return nn_weight_offset(net, layer) + net->sizes[layer] * nn_layer_cols(net, layer);
}

int64_t nn_max_width(const nn_net *net)
{
    int64_t w = 0;
    for (int l = 0; l <= net->n_layers; l++) w = net->sizes[l] > w ? net->sizes[l] : w;
    for (int l = 0; l < net->n_layers; l++) {
        const int64_t cols = nn_layer_cols(net, l);
        w = cols > w ? cols : w;
    }
    return w;
}

/* ------------------------------------------------------------- workspace */


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

/* The block of the workspace freed last, kept for the next workspace: a
 * fresh block's pages fault in (and are zeroed by the kernel) on first
 * touch, which at batch 1,024 of bench/run.py's case E network (a 7 MB
 * workspace) cost 1.6 ms of a 13 ms epoch when every fit made a new one
 * (measured with glibc told to keep freed memory: 13.4 -> 11.8 ms).  One
 * block, taken and given back by atomic exchange (no lock: safe across
 * fork), reused when at least the size asked and at most twice it, kept
 * when at most NN_WS_KEEP_BYTES.  Its first 64 bytes hold its usable size.
 * Off under AddressSanitizer, so that a use after free stays visible. */
#define NN_WS_KEEP_BYTES ((size_t)64 << 20)
#define NN_WS_HEADER 64
#if defined(__SANITIZE_ADDRESS__)
#define NN_WS_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NN_WS_CACHE 0
#endif
#endif
#ifndef NN_WS_CACHE
#define NN_WS_CACHE 1
#endif
static _Atomic(char *) ws_kept;

/* A block of at least bytes usable bytes (after its header); NULL when out of memory. */
static char *ws_block_take(size_t bytes)
{
    char *kept = NN_WS_CACHE ? atomic_exchange(&ws_kept, NULL) : NULL;
    if (kept) {
        size_t have;
        memcpy(&have, kept, sizeof have);
        if (have >= bytes && have / 2 <= bytes) return kept;
        char *expected = NULL; /* not this one: back, unless another arrived */
        if (!atomic_compare_exchange_strong(&ws_kept, &expected, kept)) free(kept);
    }
    if (bytes > SIZE_MAX - NN_WS_HEADER) return NULL;
    char *block = aligned_alloc(64, NN_WS_HEADER + bytes);
    if (block) memcpy(block, &bytes, sizeof bytes);
    return block;
}

/* Gives a block back: kept for the next workspace, or freed. */
static void ws_block_give(char *block)
{
    size_t have;
    memcpy(&have, block, sizeof have);
    if (NN_WS_CACHE && have <= NN_WS_KEEP_BYTES) block = atomic_exchange(&ws_kept, block);
    free(block);
}

nn_workspace *nn_ws_new(const nn_net *net, int64_t max_batch, size_t elem, int64_t extra_elems,
                        int64_t n_order)
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
    for (int l = 0; l < L; l++) { /* a maxout layer's pre-activation (max_batch, cols) */
        int64_t n;
        if (net->activations[l] == NN_MAXOUT &&
            (nn_mul_add(&n, max_batch, nn_layer_cols(net, l), 0) || add_bytes(&total, n, elem)))
            return NULL;
    }
    int64_t z_elems;
    if (nn_mul_add(&z_elems, max_batch, net->sizes[L], 0) || add_bytes(&total, z_elems, elem) ||
        add_bytes(&total, wide_elems, elem) || add_bytes(&total, wide_elems, elem) ||
        add_bytes(&total, nn_param_count(net), elem) || add_bytes(&total, extra_elems, elem) ||
        add_bytes(&total, n_order, sizeof(int64_t)))
        return NULL;
    nn_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    char *p = ws_block_take(total);
    if (!p) {
        free(ws);
        return NULL;
    }
    ws->block = p;
    p += NN_WS_HEADER;
    ws->max_batch = max_batch;
    for (int l = 0; l <= L; l++) {
        ws->acts[l] = p;
        p += round_up((size_t)(max_batch * net->sizes[l]) * elem);
    }
    for (int l = 0; l < L; l++) {
        ws->pre[l + 1] = NULL;
        if (net->activations[l] != NN_MAXOUT) continue;
        ws->pre[l + 1] = p;
        p += round_up((size_t)(max_batch * nn_layer_cols(net, l)) * elem);
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
    ws_block_give(ws->block);
    free(ws);
}

/* ------------------------------------------------------------- optimizer */

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
