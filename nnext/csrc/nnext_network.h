/*
 * Whole-network passes over a batch: forward, backward, the loss and its
 * gradient, prediction in chunks.  A template for one real type T
 * (nnext_instantiate.h); the layers are those of nnext_layers.h.
 */

/* --------------------------------------------------------------- network */

/* Layer l's activation over rows: see FN(act_forward_layer). */
static void FN(act_forward_rows)(const nn_net *net, int l, T *a, const T *z, int64_t n)
{
    const int64_t m = net->sizes[l + 1];
    if (net->activations[l] == NN_MAXOUT)
        FN(nn_maxout_forward)(a, z, n, m, nn_layer_pieces(net, l));
    else
        FN(nn_activation_forward)(net->activations[l], nn_layer_param(net, l), a, n, m);
}

/* Layer l's activation backward over rows: see FN(act_backward_layer). */
static void FN(act_backward_rows)(const nn_net *net, int l, T *delta, const T *da, const T *a,
                                  const T *z, int64_t n)
{
    const int64_t m = net->sizes[l + 1];
    if (net->activations[l] == NN_MAXOUT) {
        FN(nn_maxout_backward)(delta, da, z, n, m, nn_layer_pieces(net, l));
        return;
    }
    if (da != delta) memcpy(delta, da, (size_t)(n * m) * sizeof(T));
    FN(nn_activation_backward)(net->activations[l], nn_layer_param(net, l), delta, a, n, m);
}

/* An activation pass over rows [0, n) of layer l, split by rows over the
 * threads when it has NN_PARALLEL_ELEMS elements or more (each row is on its
 * own, softmax and maxout included: the same bits on any thread count),
 * except maxout's backward pass in place. */
typedef struct {
    const nn_net *net;
    int l, backward;
    T *out;           /* a (forward) or delta (backward) */
    const T *in, *a, *z; /* forward: z; backward: da, a, z */
    int64_t n;
} FN(act_job);

static void FN(act_task)(void *arg, int part, int nparts)
{
    const FN(act_job) *j = arg;
    const int64_t r0 = j->n * part / nparts, r1 = j->n * (part + 1) / nparts;
    const int64_t m = j->net->sizes[j->l + 1], cols = nn_layer_cols(j->net, j->l);
    const T *z = j->z ? j->z + r0 * cols : NULL;
    if (r0 >= r1) return;
    if (j->backward)
        FN(act_backward_rows)(j->net, j->l, j->out + r0 * cols, j->in + r0 * m, j->a + r0 * m, z,
                              r1 - r0);
    else
        FN(act_forward_rows)(j->net, j->l, j->out + r0 * m, z, r1 - r0);
}

static void FN(act_run)(FN(act_job) *j)
{
    const int64_t cols = nn_layer_cols(j->net, j->l);
    int parts = (double)j->n * (double)cols >= NN_PARALLEL_ELEMS ? nn_get_num_threads() : 1;
    if (parts > j->n) parts = (int)j->n;
    /* maxout's backward in place widens rows of m into rows of cols: a part's
     * output would overwrite rows of input another part has yet to read */
    if (j->backward && j->in == j->out && cols != j->net->sizes[j->l + 1]) parts = 1;
    if (parts > 1)
        nn_parallel(FN(act_task), j, parts);
    else
        FN(act_task)(j, 0, 1);
}

/* Layer l's activation: a (n, sizes[l+1]) from its pre-activation, which is
 * a itself (in place) except for maxout, whose z (n, cols_l) is apart. */
static void FN(act_forward_layer)(const nn_net *net, int l, T *a, const T *z, int64_t n)
{
    FN(act_job) j = {net, l, 0, a, NULL, NULL, z, n};
    FN(act_run)(&j);
}

/* Layer l's activation backward: delta (n, cols_l) = dL/dz_l from da (n,
 * sizes[l+1]) = dL/da_l+1, its output a and (maxout) its pre-activation z;
 * da may be delta itself. */
static void FN(act_backward_layer)(const nn_net *net, int l, T *delta, const T *da, const T *a,
                                   const T *z, int64_t n)
{
    FN(act_job) j = {net, l, 1, delta, da, a, z, n};
    FN(act_run)(&j);
}

/* acts[0] (n, sizes[0]) given; acts[l] (n, sizes[l]) written for l = 1..L,
 * pre[l] (n, cols_{l-1}) for the maxout layers (nn_forward), and z (n,
 * sizes[L]), when not NULL, the output layer's pre-activation.  Stops early
 * (outputs unspecified) when the poll asks (nnext_runtime.h). */
static void FN(forward_z)(const nn_net *net, const T *params, T *const *acts, T *const *pre,
                          T *z, int64_t n)
{
    const int L = net->n_layers;
    for (int l = 0; l < L; l++) {
        const int64_t n_in = net->sizes[l], cols = nn_layer_cols(net, l);
        const T *weights = params + nn_weight_offset(net, l);
        const T *biases = net->has_bias ? params + nn_bias_offset(net, l) : NULL;
        T *zl = net->activations[l] == NN_MAXOUT ? pre[l + 1] : acts[l + 1];
        if (net->activations[l] == NN_RELU && !(z && l == L - 1)) {
            /* ReLU applied to the product's tiles as they are stored */
            FN(nn_gemm_nn_relu)(n, cols, n_in, acts[l], weights, biases, acts[l + 1]);
        } else {
            FN(nn_dense_forward)(zl, acts[l], weights, biases, n, n_in, cols);
            if (z && l == L - 1) memcpy(z, acts[L], (size_t)(n * cols) * sizeof(T));
            FN(act_forward_layer)(net, l, acts[l + 1], zl, n);
        }
        /* (a layer this small cannot have been stopped inside either) */
        if ((double)n * (double)n_in * (double)cols >= NN_POLL_WORK && nn_poll_due()) return;
    }
}

void FN(nn_forward)(const nn_net *net, const T *params, T *const *acts, T *const *pre, int64_t n)
{
    FN(forward_z)(net, params, acts, pre, NULL, n);
}

nn_workspace *FN(nn_workspace_new)(const nn_net *net, int64_t max_batch)
{
    return nn_ws_new(net, max_batch, sizeof(T), 0, 0);
}

static inline T *FN(ws_act)(nn_workspace *ws, int l) { return (T *)ws->acts[l]; }

/* Forward over rows X (n <= max_batch) through the workspace; returns the
 * output, and the output layer's pre-activation in ws->z when keep_z. */
static T *FN(ws_forward)(const nn_net *net, const T *params, nn_workspace *ws,
                         const T *X, int64_t n, int keep_z)
{
    T *acts[NN_MAX_LAYERS + 1];
    acts[0] = (T *)X;
    for (int l = 1; l <= net->n_layers; l++) acts[l] = FN(ws_act)(ws, l);
    FN(forward_z)(net, params, acts, (T *const *)ws->pre, keep_z ? (T *)ws->z : NULL, n);
    return acts[net->n_layers];
}

void FN(nn_predict)(const nn_net *net, const T *params, nn_workspace *ws, const T *X,
                    int64_t n, T *out)
{
    const int L = net->n_layers;
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    for (int64_t r = 0; r < n && !nn_poll_due(); r += ws->max_batch) {
        const int64_t b = n - r < ws->max_batch ? n - r : ws->max_batch;
        const T *p = FN(ws_forward)(net, params, ws, X + r * n_in, b, 0);
        memcpy(out + r * k, p, (size_t)(b * k) * sizeof(T));
    }
}

/* nn_loss_value, its rows weighted by w (n,) unless w is NULL. */
static double FN(loss_value_w)(const nn_net *net, const T *params, nn_workspace *ws, int loss,
                               const T *X, const T *Y, const T *w, int64_t n)
{
    const int L = net->n_layers;
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    const int keep_z = FN(loss_from_z)(loss, net->activations[L - 1]);
    double total = 0, w_total = 0;
    for (int64_t r = 0; r < n && !nn_poll_due(); r += ws->max_batch) {
        const int64_t b = n - r < ws->max_batch ? n - r : ws->max_batch;
        const T *p = FN(ws_forward)(net, params, ws, X + r * n_in, b, keep_z);
        const T *z = keep_z ? (const T *)ws->z : NULL;
        if (w) {
            double w_sum;
            total += FN(loss_rows_weighted)(loss, p, z, Y + r * k, w + r, b, k, 0, &w_sum);
            w_total += w_sum;
            continue;
        }
        const double part = FN(loss_forward)(loss, p, z, Y + r * k, b, k, k, 1);
        /* sse is a sum; the others are means over rows */
        total += loss == NN_SSE ? part : part * (double)b;
    }
    if (w) return FN(weighted_loss)(loss, total, w_total);
    return loss == NN_SSE ? total : total / (double)n;
}

double FN(nn_loss_value)(const nn_net *net, const T *params, nn_workspace *ws, int loss,
                         const T *X, const T *Y, int64_t n)
{
    return FN(loss_value_w)(net, params, ws, loss, X, Y, NULL, n);
}

/* nn_backward, the rows weighted by w (n,) unless w is NULL. */
static void FN(backward_w)(const nn_net *net, const T *params, const T *const *acts,
                           const T *const *pre, const T *Y, const T *w, int64_t n, int loss,
                           T *const *errors, T *const *deltas, T *grads)
{
    const int L = net->n_layers;
    const int64_t k = net->sizes[L];
    if (errors) FN(nn_loss_gradient)(loss, errors[L], acts[L], Y, n, k);
    FN(nn_loss_backward)(loss, net->activations[L - 1], nn_layer_param(net, L - 1), deltas[L],
                         acts[L], Y, n, k);
    if (w) {
        if (errors) FN(weight_rows)(loss, errors[L], w, n, k);
        FN(weight_rows)(loss, deltas[L], w, n, k);
    }
    for (int l = L - 1; l >= 0; l--) {
        const int64_t n_in = net->sizes[l], cols = nn_layer_cols(net, l);
        T *d_biases = net->has_bias ? grads + nn_bias_offset(net, l) : NULL;
        T *d_in = l == 0 ? NULL : errors ? errors[l] : deltas[l];
        const T *weights = params + nn_weight_offset(net, l);
        /* ReLU's backward pass in the input delta's tiles, unless dL/da is asked for */
        const int relu_in_tiles = l > 0 && !errors && net->activations[l - 1] == NN_RELU;
        FN(nn_dense_backward)(grads + nn_weight_offset(net, l), d_biases,
                              relu_in_tiles ? NULL : d_in, deltas[l + 1], acts[l], weights, n,
                              n_in, cols);
        if (relu_in_tiles)
            FN(nn_gemm_nt_mask)(n, n_in, cols, deltas[l + 1], weights, acts[l], deltas[l]);
        else if (l > 0)
            FN(act_backward_layer)(net, l - 1, deltas[l], d_in, acts[l], pre ? pre[l] : NULL, n);
        if ((double)n * (double)n_in * (double)cols >= NN_POLL_WORK && nn_poll_due()) return;
    }
}

void FN(nn_backward)(const nn_net *net, const T *params, const T *const *acts,
                     const T *const *pre, const T *Y, int64_t n, int loss, T *const *errors,
                     T *const *deltas, T *grads)
{
    FN(backward_w)(net, params, acts, pre, Y, NULL, n, loss, errors, deltas, grads);
}

/* nn_gradients, the rows weighted by w (n,) unless w is NULL. */
static double FN(gradients_w)(const nn_net *net, const T *params, nn_workspace *ws, int loss,
                              const T *X, const T *Y, const T *w, int64_t n, T *grads)
{
    const int L = net->n_layers;
    const int64_t k = net->sizes[L];
    const int keep_z = FN(loss_from_z)(loss, net->activations[L - 1]);
    T *acts[NN_MAX_LAYERS + 1], *deltas[NN_MAX_LAYERS + 1];
    acts[0] = (T *)X;
    for (int l = 1; l <= L; l++) {
        acts[l] = FN(ws_act)(ws, l);
        deltas[l] = (T *)ws->delta[(L - l) & 1]; /* layer l reads deltas[l+1]: ping-pong */
    }
    FN(forward_z)(net, params, acts, (T *const *)ws->pre, keep_z ? (T *)ws->z : NULL, n);
    if ((double)n * (double)nn_param_count(net) >= NN_POLL_WORK && nn_poll_stopped()) return NAN;
    const T *z = keep_z ? (const T *)ws->z : NULL;
    double value;
    if (w) {
        double w_sum;
        const double total = FN(loss_rows_weighted)(loss, acts[L], z, Y, w, n, k, 0, &w_sum);
        value = FN(weighted_loss)(loss, total, w_sum);
    } else {
        value = FN(loss_forward)(loss, acts[L], z, Y, n, k, k, 1);
    }
    FN(backward_w)(net, params, (const T *const *)acts, (const T *const *)ws->pre, Y, w, n, loss,
                   NULL, deltas, grads);
    return value;
}

double FN(nn_gradients)(const nn_net *net, const T *params, nn_workspace *ws, int loss,
                        const T *X, const T *Y, int64_t n, T *grads)
{
    return FN(gradients_w)(net, params, ws, loss, X, Y, NULL, n, grads);
}

/* One step of plain SGD (no momentum) on rows X (n <= the workspace's batch),
 * with the update folded into backpropagation: forward and the loss as
 * nn_gradients; if the loss is finite, the deltas of every layer (into
 * hidden, (n, cols_0 + ... + cols_{L-2}): the input deltas need the old
 * weights), which the poll may interrupt (then NaN is returned and no
 * parameter has changed: the step is not taken); then each layer's bias and
 * weights updated, the weights by nn_gemm_tn_sgd (the update in the
 * weight-gradient product's tiles, no pass over a gradient buffer), which
 * runs to the end.  Every parameter ends as nn_gradients followed by the
 * optimizer's step would leave it, to the bit.  Returns the batch's loss. */
/* SGD on a layer's biases b (n_out,): gb[j] = sum over the n rows of delta[:, j], in
 * row order, then b[j] -= lr gb[j]; columns split over the threads (the same bits). */
typedef struct {
    T *b, *gb;
    const T *delta;
    T lr;
    int64_t n, n_out;
} FN(bias_job);

static void FN(bias_task)(void *arg, int part, int nparts)
{
    const FN(bias_job) *j = arg;
    const int64_t n_out = j->n_out;
    /* whole 16-column blocks per part, so that parts do not share cache lines of gb, b */
    const int64_t blocks = (n_out + 15) / 16;
    const int64_t j0 = blocks * part / nparts * 16, j1e = blocks * (part + 1) / nparts * 16;
    const int64_t j1 = j1e < n_out ? j1e : n_out;
    FN(column_sums)(j->gb + j0, j->delta, j->n, n_out, j0, j1);
    for (int64_t c = j0; c < j1; c++) j->b[c] = j->b[c] - j->lr * j->gb[c];
}

static double FN(sgd_step)(const nn_net *net, T *params, nn_workspace *ws, int loss,
                           const T *X, const T *Y, int64_t n, T lr, T *grads, T *hidden)
{
    const int L = net->n_layers;
    const int64_t k = net->sizes[L];
    const int keep_z = FN(loss_from_z)(loss, net->activations[L - 1]);
    T *acts[NN_MAX_LAYERS + 1], *deltas[NN_MAX_LAYERS + 1];
    acts[0] = (T *)X;
    T *d = hidden;
    for (int l = 1; l <= L; l++) {
        acts[l] = FN(ws_act)(ws, l);
        deltas[l] = l == L ? (T *)ws->delta[0] : d;
        if (l < L) d += n * nn_layer_cols(net, l - 1);
    }
    /* as nn_gradients: a step this small cannot have been stopped inside */
    const int pollable = (double)n * (double)nn_param_count(net) >= NN_POLL_WORK;
    FN(forward_z)(net, params, acts, (T *const *)ws->pre, keep_z ? (T *)ws->z : NULL, n);
    if (pollable && nn_poll_stopped()) return NAN;
    const double value = FN(loss_forward)(loss, acts[L], keep_z ? (const T *)ws->z : NULL, Y, n,
                                          k, k, 1);
    if (!isfinite(value)) return value;
    FN(nn_loss_backward)(loss, net->activations[L - 1], nn_layer_param(net, L - 1), deltas[L],
                         acts[L], Y, n, k);
    for (int l = L - 1; l > 0; l--) {
        const int64_t n_in = net->sizes[l], n_out = nn_layer_cols(net, l);
        const T *weights = params + nn_weight_offset(net, l);
        if (net->activations[l - 1] == NN_RELU) { /* ReLU's backward pass in the product's tiles */
            FN(nn_gemm_nt_mask)(n, n_in, n_out, deltas[l + 1], weights, acts[l], deltas[l]);
        } else {
            FN(nn_gemm_nt)(n, n_in, n_out, deltas[l + 1], weights, deltas[l]);
            FN(act_backward_layer)(net, l - 1, deltas[l], deltas[l], acts[l], (T *)ws->pre[l], n);
        }
        if ((double)n * (double)n_in * (double)n_out >= NN_POLL_WORK && nn_poll_due()) return NAN;
    }
    if (pollable && nn_poll_stopped()) return NAN; /* (an input delta stopped inside) */
    for (int l = L - 1; l >= 0; l--) {
        const int64_t n_in = net->sizes[l], n_out = nn_layer_cols(net, l);
        const T *delta = deltas[l + 1];
        if (net->has_bias) { /* as nn_dense_backward's column sums, then the update */
            FN(bias_job) j = {params + nn_bias_offset(net, l), grads + nn_bias_offset(net, l),
                              delta, lr, n, n_out};
            const int parts = (double)n * (double)n_out >= NN_PARALLEL_ELEMS && n_out >= 64
                                  ? nn_get_num_threads() : 1;
            if (parts > 1)
                nn_parallel(FN(bias_task), &j, parts);
            else
                FN(bias_task)(&j, 0, 1);
        }
        FN(nn_gemm_tn_sgd)(n_in, n_out, n, acts[l], delta, lr, params + nn_weight_offset(net, l),
                           grads + nn_weight_offset(net, l));
    }
    return value;
}
