/*
 * The body of the core, written once for a real type T and included by
 * nnext_core.c twice: T = double with suffix f64, T = float with suffix f32.
 * Before inclusion: T, S (the suffix), EXP, LOG, TANH, EXPM1, T_TINY.
 * Arrays are row-major; shapes are in the comments.
 */

#define NN_CAT_(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT_(a, b)
#define FN(name) NN_CAT(name, S)
#define NN_INLINE static inline __attribute__((always_inline))

#include "nnext_gemm_small.h"

/* ---------------------------------------------------------------- layers */

/* out (batch, n_out) = in (batch, n_in) @ weights (n_in, n_out) + biases (n_out,)
 * biases may be NULL. */
void FN(nn_dense_forward)(T *out, const T *in, const T *weights, const T *biases,
                          int64_t batch, int64_t n_in, int64_t n_out)
{
    FN(nn_gemm_nn)(batch, n_out, n_in, in, weights, biases, out);
}

/* a (batch, width): z -> act(z), in place. */
NN_INLINE void FN(act_forward)(int activation, T *a, int64_t batch, int64_t width)
{
    const int64_t n = batch * width;
    switch (activation) {
    case NN_SIGMOID:
        for (int64_t i = 0; i < n; i++) a[i] = (T)1 / ((T)1 + EXP(-a[i]));
        break;
    case NN_TANH:
        for (int64_t i = 0; i < n; i++) a[i] = TANH(a[i]);
        break;
    case NN_RELU:
        for (int64_t i = 0; i < n; i++) a[i] = a[i] > 0 ? a[i] : (T)0;
        break;
    case NN_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) a[i] = a[i] > 0 ? a[i] : (T)0.01 * a[i];
        break;
    case NN_ELU:
        for (int64_t i = 0; i < n; i++) a[i] = a[i] > 0 ? a[i] : EXPM1(a[i]);
        break;
    case NN_SOFTMAX:
        for (int64_t r = 0; r < batch; r++) {
            T *row = a + r * width;
            T top = row[0], sum = 0;
            for (int64_t j = 1; j < width; j++) top = row[j] > top ? row[j] : top;
            for (int64_t j = 0; j < width; j++) {
                row[j] = EXP(row[j] - top);
                sum += row[j];
            }
            for (int64_t j = 0; j < width; j++) row[j] /= sum;
        }
        break;
    default: /* NN_LINEAR */
        break;
    }
}

NN_KERNEL void FN(nn_activation_forward)(int activation, T *a, int64_t batch, int64_t width)
{
    FN(act_forward)(activation, a, batch, width);
}

/* delta (batch, width): dL/da -> dL/dz, in place, from the layer's output a. */
NN_INLINE void FN(act_backward)(int activation, T *delta, const T *a, int64_t batch,
                                int64_t width)
{
    const int64_t n = batch * width;
    switch (activation) {
    case NN_SIGMOID:
        for (int64_t i = 0; i < n; i++) delta[i] *= a[i] * ((T)1 - a[i]);
        break;
    case NN_TANH:
        for (int64_t i = 0; i < n; i++) delta[i] *= (T)1 - a[i] * a[i];
        break;
    case NN_RELU:
        for (int64_t i = 0; i < n; i++) delta[i] = a[i] > 0 ? delta[i] : (T)0;
        break;
    case NN_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) delta[i] = a[i] > 0 ? delta[i] : (T)0.01 * delta[i];
        break;
    case NN_ELU: /* for z <= 0, d/dz (e^z - 1) = e^z = a + 1 */
        for (int64_t i = 0; i < n; i++) delta[i] = a[i] > 0 ? delta[i] : delta[i] * (a[i] + 1);
        break;
    case NN_SOFTMAX: /* delta_i <- a_i (delta_i - sum_j delta_j a_j) */
        for (int64_t r = 0; r < batch; r++) {
            T *d = delta + r * width;
            const T *ar = a + r * width;
            T dot = 0;
            for (int64_t j = 0; j < width; j++) dot += d[j] * ar[j];
            for (int64_t j = 0; j < width; j++) d[j] = ar[j] * (d[j] - dot);
        }
        break;
    default: /* NN_LINEAR */
        break;
    }
}

NN_KERNEL void FN(nn_activation_backward)(int activation, T *delta, const T *a, int64_t batch,
                                          int64_t width)
{
    FN(act_backward)(activation, delta, a, batch, width);
}

/* Given delta (batch, n_out) = dL/dz of this layer and its input in (batch, n_in):
 *   d_weights (n_in, n_out) = in^T @ delta
 *   d_biases  (n_out,)      = column sums of delta        (skipped when NULL)
 *   d_in      (batch, n_in) = delta @ weights^T           (skipped when NULL) */
void FN(nn_dense_backward)(T *d_weights, T *d_biases, T *d_in, const T *delta,
                           const T *in, const T *weights, int64_t batch, int64_t n_in,
                           int64_t n_out)
{
    FN(nn_gemm_tn)(n_in, n_out, batch, in, delta, d_weights);
    if (d_biases) {
        for (int64_t j = 0; j < n_out; j++) d_biases[j] = 0;
        for (int64_t i = 0; i < batch; i++) {
            const T *d = delta + i * n_out;
            for (int64_t j = 0; j < n_out; j++) d_biases[j] += d[j];
        }
    }
    if (d_in) FN(nn_gemm_nt)(batch, n_in, n_out, delta, weights, d_in);
}

/* The loss from the sum of its terms over a batch of (batch, k). */
NN_INLINE double FN(loss_scale)(int loss, T sum, int64_t batch, int64_t k)
{
    switch (loss) {
    case NN_SSE: return (double)((T)0.5 * sum);
    case NN_CROSS_ENTROPY: return (double)(sum / (T)batch);
    default: return (double)(sum / (T)(batch * k));
    }
}

/* The loss of predictions p (batch, k) against targets y (batch, k), element
 * (r, j) of each at [r * rs + j * cs], summed row by row. */
NN_INLINE double FN(loss_forward)(int loss, const T *p, const T *y, int64_t batch, int64_t k,
                                  int64_t rs, int64_t cs)
{
    T sum = 0;
    for (int64_t r = 0; r < batch; r++) {
        const T *pr = p + r * rs, *yr = y + r * rs;
        for (int64_t j = 0; j < k; j++) {
            const T pj = pr[j * cs], yj = yr[j * cs];
            switch (loss) {
            case NN_MSE:
            case NN_SSE: {
                const T e = yj - pj;
                sum += e * e;
                break;
            }
            case NN_BCE: { /* log arguments clamped so that a saturated sigmoid stays finite */
                const T q = (T)1 - pj;
                if (yj != 0) sum -= yj * LOG(pj > T_TINY ? pj : T_TINY);
                if (yj != 1) sum -= ((T)1 - yj) * LOG(q > T_TINY ? q : T_TINY);
                break;
            }
            default: /* NN_CROSS_ENTROPY */
                if (yj != 0) sum -= yj * LOG(pj > T_TINY ? pj : T_TINY);
                break;
            }
        }
    }
    return FN(loss_scale)(loss, sum, batch, k);
}

double FN(nn_loss_forward)(int loss, const T *p, const T *y, int64_t batch, int64_t k)
{
    return FN(loss_forward)(loss, p, y, batch, k, k, 1);
}

/* error (batch, k) = dL/dp, the loss's gradient with respect to the prediction p. */
/* (The inline bodies below take the number of elements to process, count,
 * apart from the batch and k that scale the loss: the fused path processes
 * padded blocks.) */
NN_INLINE void FN(loss_gradient)(int loss, T *error, const T *p, const T *y, int64_t count,
                                 int64_t batch, int64_t k)
{
    const int64_t n = batch * k;
    switch (loss) {
    case NN_MSE: {
        const T scale = (T)2 / (T)n;
        for (int64_t i = 0; i < count; i++) error[i] = (p[i] - y[i]) * scale;
        break;
    }
    case NN_SSE:
        for (int64_t i = 0; i < count; i++) error[i] = p[i] - y[i];
        break;
    case NN_BCE:
        for (int64_t i = 0; i < count; i++)
            error[i] = (p[i] - y[i]) / (p[i] * ((T)1 - p[i]) * (T)n);
        break;
    default: /* NN_CROSS_ENTROPY */
        for (int64_t i = 0; i < count; i++) error[i] = -y[i] / (p[i] * (T)batch);
        break;
    }
}

NN_KERNEL void FN(nn_loss_gradient)(int loss, T *error, const T *p, const T *y, int64_t batch,
                                    int64_t k)
{
    FN(loss_gradient)(loss, error, p, y, batch * k, batch, k);
}

/* delta (batch, k) = dL/dz of the output layer, whose activation is given and
 * whose output is p.  Sigmoid + bce and softmax + cross-entropy use the fused,
 * exact form (p - y) / scale. */
NN_INLINE void FN(loss_backward)(int loss, int activation, T *delta, const T *p, const T *y,
                                 int64_t count, int64_t batch, int64_t k)
{
    const int64_t n = batch * k;
    if ((loss == NN_BCE && activation == NN_SIGMOID) ||
        (loss == NN_CROSS_ENTROPY && activation == NN_SOFTMAX)) {
        const T scale = (T)1 / (T)(loss == NN_BCE ? n : batch);
        for (int64_t i = 0; i < count; i++) delta[i] = (p[i] - y[i]) * scale;
        return;
    }
    FN(loss_gradient)(loss, delta, p, y, count, batch, k);
    FN(act_backward)(activation, delta, p, 1, count); /* not softmax: elementwise */
}

NN_KERNEL void FN(nn_loss_backward)(int loss, int activation, T *delta, const T *p, const T *y,
                                    int64_t batch, int64_t k)
{
    if (activation == NN_SOFTMAX && loss != NN_CROSS_ENTROPY) { /* row-wise backward */
        FN(loss_gradient)(loss, delta, p, y, batch * k, batch, k);
        FN(act_backward)(activation, delta, p, batch, k);
        return;
    }
    FN(loss_backward)(loss, activation, delta, p, y, batch * k, batch, k);
}

/* --------------------------------------------------------------- network */

/* acts[0] (n, sizes[0]) given; acts[l] (n, sizes[l]) written for l = 1..L. */
void FN(nn_forward)(const nn_net *net, const T *params, T *const *acts, int64_t n)
{
    for (int l = 0; l < net->n_layers; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const T *weights = params + nn_weight_offset(net, l);
        const T *biases = net->has_bias ? params + nn_bias_offset(net, l) : NULL;
        FN(nn_dense_forward)(acts[l + 1], acts[l], weights, biases, n, n_in, n_out);
        FN(nn_activation_forward)(net->activations[l], acts[l + 1], n, n_out);
    }
}

nn_workspace *FN(nn_workspace_new)(const nn_net *net, int64_t max_batch)
{
    return ws_new(net, max_batch, sizeof(T), 0, 0);
}

static inline T *FN(ws_act)(nn_workspace *ws, int l) { return (T *)ws->acts[l]; }

/* Forward over rows X (n <= max_batch) through the workspace; returns the output. */
static T *FN(ws_forward)(const nn_net *net, const T *params, nn_workspace *ws,
                         const T *X, int64_t n)
{
    T *acts[NN_MAX_LAYERS + 1];
    acts[0] = (T *)X;
    for (int l = 1; l <= net->n_layers; l++) acts[l] = FN(ws_act)(ws, l);
    FN(nn_forward)(net, params, acts, n);
    return acts[net->n_layers];
}

void FN(nn_predict)(const nn_net *net, const T *params, nn_workspace *ws, const T *X,
                    int64_t n, T *out)
{
    const int L = net->n_layers;
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    for (int64_t r = 0; r < n; r += ws->max_batch) {
        const int64_t b = n - r < ws->max_batch ? n - r : ws->max_batch;
        const T *p = FN(ws_forward)(net, params, ws, X + r * n_in, b);
        memcpy(out + r * k, p, (size_t)(b * k) * sizeof(T));
    }
}

double FN(nn_loss_value)(const nn_net *net, const T *params, nn_workspace *ws, int loss,
                         const T *X, const T *Y, int64_t n)
{
    const int L = net->n_layers;
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    double total = 0;
    for (int64_t r = 0; r < n; r += ws->max_batch) {
        const int64_t b = n - r < ws->max_batch ? n - r : ws->max_batch;
        const T *p = FN(ws_forward)(net, params, ws, X + r * n_in, b);
        const double part = FN(nn_loss_forward)(loss, p, Y + r * k, b, k);
        /* sse is a sum; the others are means over rows */
        total += loss == NN_SSE ? part : part * (double)b;
    }
    return loss == NN_SSE ? total : total / (double)n;
}

void FN(nn_backward)(const nn_net *net, const T *params, const T *const *acts, const T *Y,
                     int64_t n, int loss, T *const *errors, T *const *deltas, T *grads)
{
    const int L = net->n_layers;
    const int64_t k = net->sizes[L];
    if (errors) FN(nn_loss_gradient)(loss, errors[L], acts[L], Y, n, k);
    FN(nn_loss_backward)(loss, net->activations[L - 1], deltas[L], acts[L], Y, n, k);
    for (int l = L - 1; l >= 0; l--) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        T *d_biases = net->has_bias ? grads + nn_bias_offset(net, l) : NULL;
        T *d_in = l == 0 ? NULL : errors ? errors[l] : deltas[l];
        FN(nn_dense_backward)(grads + nn_weight_offset(net, l), d_biases, d_in, deltas[l + 1],
                              acts[l], params + nn_weight_offset(net, l), n, n_in, n_out);
        if (l > 0) {
            if (errors) memcpy(deltas[l], errors[l], (size_t)(n * n_in) * sizeof(T));
            FN(nn_activation_backward)(net->activations[l - 1], deltas[l], acts[l], n, n_in);
        }
    }
}

double FN(nn_gradients)(const nn_net *net, const T *params, nn_workspace *ws, int loss,
                        const T *X, const T *Y, int64_t n, T *grads)
{
    const int L = net->n_layers;
    T *acts[NN_MAX_LAYERS + 1], *deltas[NN_MAX_LAYERS + 1];
    acts[0] = (T *)X;
    for (int l = 1; l <= L; l++) {
        acts[l] = FN(ws_act)(ws, l);
        deltas[l] = (T *)ws->delta[(L - l) & 1]; /* layer l reads deltas[l+1]: ping-pong */
    }
    FN(nn_forward)(net, params, acts, n);
    const double value = FN(nn_loss_forward)(loss, acts[L], Y, n, net->sizes[L]);
    FN(nn_backward)(net, params, (const T *const *)acts, Y, n, loss, NULL, deltas, grads);
    return value;
}

/* The optimizer's update of one parameter p from its gradient g: the rule's
 * constants are set once per step (FN(rule_start)), then each parameter is
 * updated by the element function of its kind; m and v are its entries in
 * the optimizer state (velocity; Adam's moments). */
typedef struct {
    int kind; /* nn_optimizer_state_blocks: 0 sgd, 1 sgd with momentum, 2 adam */
    T lr, mu, b1, b2, eps, c1, c2;
} FN(rule);

NN_INLINE FN(rule) FN(rule_start)(nn_train_config *cfg)
{
    FN(rule) r = {nn_optimizer_state_blocks(cfg), (T)cfg->lr, (T)cfg->momentum, (T)cfg->beta1,
                  (T)cfg->beta2, (T)cfg->eps, 0, 0};
    if (r.kind == 2) { /* Adam */
        cfg->adam_step++;
        r.c1 = (T)1 / (T)(1.0 - pow(cfg->beta1, (double)cfg->adam_step));
        r.c2 = (T)1 / (T)(1.0 - pow(cfg->beta2, (double)cfg->adam_step));
    }
    return r;
}

NN_INLINE T FN(sgd_one)(const FN(rule) *r, T p, T g) { return p - r->lr * g; }

NN_INLINE T FN(momentum_one)(const FN(rule) *r, T p, T g, T *velocity)
{
    *velocity = r->mu * *velocity - r->lr * g;
    return p + *velocity;
}

NN_INLINE T FN(adam_one)(const FN(rule) *r, T p, T g, T *m, T *v)
{
    *m = r->b1 * *m + ((T)1 - r->b1) * g;
    *v = r->b2 * *v + ((T)1 - r->b2) * g * g;
    return p - r->lr * (*m * r->c1) / (SQRT(*v * r->c2) + r->eps);
}

/* params (P,) updated from grads (P,) by the configured optimizer. */
NN_KERNEL static void FN(apply_update)(T *params, const T *grads, T *opt_state, int64_t P,
                                       nn_train_config *cfg)
{
    const FN(rule) r = FN(rule_start)(cfg);
    switch (r.kind) {
    case 0:
        for (int64_t i = 0; i < P; i++) params[i] = FN(sgd_one)(&r, params[i], grads[i]);
        break;
    case 1:
        for (int64_t i = 0; i < P; i++)
            params[i] = FN(momentum_one)(&r, params[i], grads[i], opt_state + i);
        break;
    default:
        for (int64_t i = 0; i < P; i++)
            params[i] = FN(adam_one)(&r, params[i], grads[i], opt_state + i, opt_state + P + i);
        break;
    }
}

static int FN(all_finite)(const T *x, int64_t n)
{
    int bad = 0; /* x - x is NaN iff x is NaN or inf; an OR, unlike a sum, vectorises */
    for (int64_t i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0);
    return !bad;
}

/* ---------------------------------------------------------- the fused path
 *
 * For a tiny network (Trask's 3-4-1, Zhou's 2-2-1) the general path's step is
 * ~15 calls of short loops over a few dozen numbers each, whose set-up, not
 * the flops, sets the speed (bench/trask_step.c: about 170 ns a step, against
 * about 95 ns here).  The fused path runs a whole step in one function over
 * batches of at most
 * NN_LANES rows held "batch in lanes": each neuron's values over the batch
 * are one short vector (4 doubles or 8 floats), so that a layer is a few
 * vector multiply-adds per neuron, with the weights broadcast.
 *
 * It computes what the general path computes, to the bit: the same formulas
 * (the elementwise bodies above are shared), each sum in the same order (the
 * general path's small loops sum over rows, inputs and outputs in index order
 * from zero or the bias), and it is only used where the general path would
 * run those small loops (fused_ok).  Lanes past the batch's rows carry
 * zeros or harmless values and never enter a sum.  nn_set_fused_path(0)
 * turns it off so that tests can compare the two. */
#if NN_HAVE_VECTORS
#define NN_LANES ((int64_t)NN_LANE_COUNT) /* set by nnext_core.c: 4 doubles, 8 floats */
typedef T FN(lanes) __attribute__((vector_size(32)));
_Static_assert(NN_LANE_COUNT * sizeof(T) == 32, "NN_LANE_COUNT lanes of T make 32 bytes");

/* (x, x, ..., x), -0.0 included (x * 1 is exact; 0 + x is not for -0.0); a
 * macro, as vectors are not passed by value between functions (ABI). */
#define NN_SPLAT(x) (((FN(lanes)){0} + 1) * (x))

/* 0 + v[0] + v[1] + ... + v[b-1], in that order: the general path's sums over
 * rows.  Unrolled for full vectors, the common case. */
NN_INLINE T FN(lane_sum)(const FN(lanes) *v, int64_t b)
{
    T sum = 0;
    if (b == NN_LANES) {
        for (int q = 0; q < (int)NN_LANES; q++) sum += (*v)[q];
    } else {
        for (int64_t q = 0; q < b; q++) sum += (*v)[q];
    }
    return sum;
}

/* 0 + u[0] v[0] + u[1] v[1] + ... + u[b-1] v[b-1], in that order (the general
 * path's sums over rows). */
NN_INLINE T FN(lane_dot)(const FN(lanes) *u, const FN(lanes) *v, int64_t b)
{
    T sum = 0;
    if (b == NN_LANES) {
        for (int q = 0; q < (int)NN_LANES; q++) sum += (*u)[q] * (*v)[q];
    } else {
        for (int64_t q = 0; q < b; q++) sum += (*u)[q] * (*v)[q];
    }
    return sum;
}

/* rows (b, width) -> cols (width, NN_LANES), zeros past row b. */
NN_INLINE void FN(to_lanes)(T *cols, const T *rows, int64_t b, int64_t width)
{
    for (int64_t i = 0; i < width; i++)
        for (int64_t q = 0; q < NN_LANES; q++) cols[i * NN_LANES + q] = q < b ? rows[q * width + i] : 0;
}

/* The per-layer constants of a step, set once per call. */
typedef struct {
    int64_t n_in, n_out, w, b; /* widths; offsets of W_l and b_l in params (b: -1) */
    int activation;
} FN(fused_layer);

/* params[i] updated from its gradient g by the rule, of the constant kind. */
NN_INLINE void FN(fused_update)(const FN(rule) *r, const int kind, T *params, T *opt_state,
                                int64_t P, int64_t i, T g)
{
    switch (kind) {
    case 0: params[i] = FN(sgd_one)(r, params[i], g); break;
    case 1: params[i] = FN(momentum_one)(r, params[i], g, opt_state + i); break;
    default: params[i] = FN(adam_one)(r, params[i], g, opt_state + i, opt_state + P + i); break;
    }
}

/* One step over b <= NN_LANES rows: aT[0] (n_in, LANES) and yT (k, LANES)
 * given; aT[l] (sizes[l], LANES) and dT[l] receive the layers' outputs and
 * deltas; params updated by the optimizer of the constant kind (see FN(rule)),
 * each weight as soon as its gradient is known (after its use for the layer
 * below's delta).  Returns the batch loss. */
NN_INLINE double FN(fused_step)(const FN(fused_layer) *layers, int L, T *params, T *opt_state,
                                int64_t P, nn_train_config *cfg, T *const *aT, T *const *dT,
                                const T *yT, int64_t b, const int kind)
{
    typedef FN(lanes) V;
    const int64_t k = layers[L - 1].n_out;
    for (int l = 0; l < L; l++) { /* forward: out[j] = act(bias[j] + sum_i in[i] W[i, j]) */
        const FN(fused_layer) *ly = layers + l;
        const int64_t n_in = ly->n_in, n_out = ly->n_out;
        const T *W = params + ly->w, *bias = ly->b >= 0 ? params + ly->b : NULL;
        const V *in = (const V *)aT[l];
        V *out = (V *)aT[l + 1];
        for (int64_t j = 0; j < n_out; j++) {
            V acc = NN_SPLAT(bias ? bias[j] : (T)0);
            for (int64_t i = 0; i < n_in; i++) acc += in[i] * NN_SPLAT(W[i * n_out + j]);
            out[j] = acc;
        }
        FN(act_forward)(ly->activation, aT[l + 1], 1, n_out * NN_LANES);
    }
    const double value = FN(loss_forward)(cfg->loss, aT[L], yT, b, k, 1, NN_LANES);
    FN(loss_backward)(cfg->loss, layers[L - 1].activation, dT[L], aT[L], yT, k * NN_LANES, b, k);
    const FN(rule) rule = FN(rule_start)(cfg);
    for (int l = L - 1; l >= 0; l--) {
        const FN(fused_layer) *ly = layers + l;
        const int64_t n_in = ly->n_in, n_out = ly->n_out;
        const V *in = (const V *)aT[l], *delta = (const V *)dT[l + 1];
        if (l > 0) { /* d_in[i] = sum_j delta[j] W[i, j], with the weights before the update */
            const T *W = params + ly->w;
            V *d_in = (V *)dT[l];
            for (int64_t i = 0; i < n_in; i++) {
                V acc = NN_SPLAT(0);
                for (int64_t j = 0; j < n_out; j++) acc += delta[j] * NN_SPLAT(W[i * n_out + j]);
                d_in[i] = acc;
            }
            FN(act_backward)(layers[l - 1].activation, dT[l], aT[l], 1, n_in * NN_LANES);
        }
        /* dW[i, j] = sum over rows q of in[i][q] delta[j][q], in the order of q */
        int64_t j = 0;
#if NN_LANE_COUNT == 4
        for (; j + 4 <= n_out; j += 4) { /* four columns at once: delta turned into rows */
            typedef long long M __attribute__((vector_size(32)));
            const V t0 = __builtin_shuffle(delta[j], delta[j + 1], (M){0, 4, 2, 6});
            const V t1 = __builtin_shuffle(delta[j], delta[j + 1], (M){1, 5, 3, 7});
            const V t2 = __builtin_shuffle(delta[j + 2], delta[j + 3], (M){0, 4, 2, 6});
            const V t3 = __builtin_shuffle(delta[j + 2], delta[j + 3], (M){1, 5, 3, 7});
            const V rows[4] = {__builtin_shuffle(t0, t2, (M){0, 1, 4, 5}),  /* row 0, j..j+3 */
                               __builtin_shuffle(t1, t3, (M){0, 1, 4, 5}),
                               __builtin_shuffle(t0, t2, (M){2, 3, 6, 7}),
                               __builtin_shuffle(t1, t3, (M){2, 3, 6, 7})};
            for (int64_t i = 0; i < n_in; i++) {
                V g = NN_SPLAT(0);
                for (int64_t q = 0; q < b; q++) g += NN_SPLAT(in[i][q]) * rows[q];
                const int64_t at = ly->w + i * n_out + j;
                if (kind == 0) { /* sgd_one, four at a time */
                    V w;
                    memcpy(&w, params + at, sizeof w);
                    w = w - NN_SPLAT(rule.lr) * g;
                    memcpy(params + at, &w, sizeof w);
                } else {
                    for (int q = 0; q < 4; q++)
                        FN(fused_update)(&rule, kind, params, opt_state, P, at + q, g[q]);
                }
            }
        }
#endif
        for (; j < n_out; j++)
            for (int64_t i = 0; i < n_in; i++) {
                const T g = FN(lane_dot)(in + i, delta + j, b);
                FN(fused_update)(&rule, kind, params, opt_state, P, ly->w + i * n_out + j, g);
            }
        if (ly->b >= 0) /* db[j] = sum over rows of delta[j] */
            for (int64_t j = 0; j < n_out; j++) {
                const T g = FN(lane_sum)(delta + j, b);
                FN(fused_update)(&rule, kind, params, opt_state, P, ly->b + j, g);
            }
    }
    return value;
}

/* Whether the fused path gives the general path's bits for batches of at most
 * B rows: every product one the general path runs with its small loops
 * (nnext_gemm_small.h), no softmax (row-wise, not elementwise). */
static int FN(fused_ok)(const nn_net *net, int64_t B)
{
    if (B > NN_LANES || !nn_get_fused_path()) return 0;
    for (int l = 0; l < net->n_layers; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        if (net->activations[l] == NN_SOFTMAX) return 0;
        if (!FN(nn_is_small)(B, n_out, n_in) || !FN(tn_is_small)(n_in, n_out, B)) return 0;
        if (l > 0 && !FN(nt_is_small)(B, n_in, n_out)) return 0;
    }
    return 1;
}
#else
#define NN_LANES ((int64_t)1)
static int FN(fused_ok)(const nn_net *net, int64_t B) { (void)net, (void)B; return 0; }
#endif

int FN(nn_fused_path_used)(const nn_net *net, int64_t batch)
{
    return nn_net_valid(net) && batch >= 1 && FN(fused_ok)(net, batch);
}

/* ------------------------------------------------------------- training */

/* The buffers of a training call, carved from one workspace. */
typedef struct {
    T *start;    /* (P (1 + n_state),) params and optimizer state at the call's start */
    T *snapshot; /* (P (1 + n_state),) the same at the current epoch's start (checked) */
    T *x_batch;  /* (B, n_in) shuffled rows */
    T *y_batch;  /* (B, k) */
    T *grads;    /* (P,) general path */
    nn_workspace *ws;
#if NN_HAVE_VECTORS
    T *aT[NN_MAX_LAYERS + 1], *dT[NN_MAX_LAYERS + 1], *yT; /* fused path, batch in lanes */
    FN(fused_layer) layers[NN_MAX_LAYERS];
#endif
} FN(train_bufs);

/* Epochs 0 .. n_epochs-1.  checked = 0: stops with NN_ERR_NONFINITE at the
 * first non-finite batch loss, leaving params as they are.  checked = 1:
 * snapshots params at each epoch's start and checks them at its end, and on
 * a non-finite loss or parameter restores the epoch's start and sets
 * result->bad_epoch.  fused: the fused step (a constant, see train_fused). */
NN_INLINE nn_status FN(epochs)(const nn_net *net, T *params, T *opt_state, const T *X,
                               const T *Y, int64_t n, nn_train_config *cfg,
                               double *epoch_losses, nn_train_result *result,
                               FN(train_bufs) *bb, int64_t *order, const int checked,
                               const int fused)
{
    const int L = net->n_layers;
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    const int64_t P = nn_param_count(net);
    const int64_t B = cfg->batch_size < n ? cfg->batch_size : n;
    const int64_t n_state = nn_optimizer_state_blocks(cfg);
    const int kind = nn_optimizer_state_blocks(cfg); /* see FN(rule) */
    int lanes_hold_batch = 0; /* fused: aT[0] and yT already hold this step's rows */
    nn_poller poller;
    poller_init(&poller, cfg->poll, cfg->poll_ctx, 6.0 * (double)B * (double)P);
    (void)kind, (void)lanes_hold_batch;

    for (int64_t e = 0; e < cfg->n_epochs; e++) {
        const int64_t adam_step_at_start = cfg->adam_step;
        if (checked) {
            memcpy(bb->snapshot, params, (size_t)P * sizeof(T));
            if (n_state) memcpy(bb->snapshot + P, opt_state, (size_t)(P * n_state) * sizeof(T));
        }
        if (order) {
            for (int64_t i = 0; i < n; i++) order[i] = i;
            for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
                const int64_t j = (int64_t)(rng_uniform(&cfg->rng_state) * (double)(i + 1));
                const int64_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        double loss_sum = 0;
        int64_t n_batches = 0;
        int finite = 1;
        for (int64_t r = 0; r < n; r += B) {
            const int64_t b = n - r < B ? n - r : B;
            const T *xb = X + r * n_in, *yb = Y + r * k;
            if (order) {
                for (int64_t i = 0; i < b; i++) {
                    memcpy(bb->x_batch + i * n_in, X + order[r + i] * n_in,
                           (size_t)n_in * sizeof(T));
                    memcpy(bb->y_batch + i * k, Y + order[r + i] * k, (size_t)k * sizeof(T));
                }
                xb = bb->x_batch;
                yb = bb->y_batch;
            }
            double loss;
#if NN_HAVE_VECTORS
            if (fused) {
                if (!lanes_hold_batch) {
                    FN(to_lanes)(bb->aT[0], xb, b, n_in);
                    FN(to_lanes)(bb->yT, yb, b, k);
                    lanes_hold_batch = !order && b == n; /* one batch, the same every step */
                }
                switch (kind) { /* each optimizer its own copy of the step */
                case 0:
                    loss = FN(fused_step)(bb->layers, L, params, opt_state, P, cfg, bb->aT,
                                          bb->dT, bb->yT, b, 0);
                    break;
                case 1:
                    loss = FN(fused_step)(bb->layers, L, params, opt_state, P, cfg, bb->aT,
                                          bb->dT, bb->yT, b, 1);
                    break;
                default:
                    loss = FN(fused_step)(bb->layers, L, params, opt_state, P, cfg, bb->aT,
                                          bb->dT, bb->yT, b, 2);
                    break;
                }
                /* a non-finite loss means the parameters were non-finite or overflowed
                 * in this forward pass; the update that followed is undone below */
                finite = isfinite(loss);
            } else
#endif
            {
                loss = FN(nn_gradients)(net, params, bb->ws, cfg->loss, xb, yb, b, bb->grads);
                finite = isfinite(loss);
                if (finite) FN(apply_update)(params, bb->grads, opt_state, P, cfg);
            }
            if (!finite) break;
            loss_sum += loss;
            n_batches++;
            if (poller_tick(&poller)) return NN_ERR_INTERRUPTED; /* params: the last step's */
        }
        if (!finite && !checked) return NN_ERR_NONFINITE;
        if (checked && finite) finite = FN(all_finite)(params, P);
        if (!finite) {
            memcpy(params, bb->snapshot, (size_t)P * sizeof(T));
            if (n_state) memcpy(opt_state, bb->snapshot + P, (size_t)(P * n_state) * sizeof(T));
            cfg->adam_step = adam_step_at_start;
            result->bad_epoch = e;
            return NN_ERR_NONFINITE;
        }
        epoch_losses[e] = n_batches == 1 ? loss_sum : loss_sum / (double)n_batches;
        result->epochs_done = e + 1;
    }
    return NN_OK;
}

/* The training loop, written once and compiled twice: fused = 0 calls the
 * general, out-of-line functions; fused = 1 the fused step.  The epochs run
 * unchecked (no per-epoch snapshot or scan of the parameters: for a tiny
 * network these cost as much as the step); only when that run meets a
 * non-finite loss, or ends with non-finite parameters, are the call's
 * epochs replayed from its start with the checks on.  Training is
 * deterministic, so the replay repeats the same steps to the bit and stops
 * at the first bad epoch, with that epoch's start restored. */
NN_INLINE nn_status FN(train)(const nn_net *net, T *params, T *opt_state, const T *X,
                              const T *Y, int64_t n, nn_train_config *cfg,
                              double *epoch_losses, nn_train_result *result,
                              FN(train_bufs) *bb, int64_t *order, const int fused)
{
    const int64_t P = nn_param_count(net);
    const int64_t n_state = nn_optimizer_state_blocks(cfg);
    const uint64_t rng_at_start = cfg->rng_state;
    const int64_t adam_step_at_start = cfg->adam_step;
    memcpy(bb->start, params, (size_t)P * sizeof(T));
    if (n_state) memcpy(bb->start + P, opt_state, (size_t)(P * n_state) * sizeof(T));
    nn_status status =
        FN(epochs)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, order, 0, fused);
    if (status == NN_ERR_INTERRUPTED && FN(all_finite)(params, P)) return status;
    if (status == NN_OK && !FN(all_finite)(params, P)) status = NN_ERR_NONFINITE;
    if (status == NN_OK) return status;
    /* back to the call's start: to replay, or, when interrupted with parameters
     * that are no longer finite, to stop with finite ones */
    memcpy(params, bb->start, (size_t)P * sizeof(T));
    if (n_state) memcpy(opt_state, bb->start + P, (size_t)(P * n_state) * sizeof(T));
    cfg->rng_state = rng_at_start;
    cfg->adam_step = adam_step_at_start;
    result->epochs_done = 0;
    if (status == NN_ERR_INTERRUPTED) return status;
    return FN(epochs)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, order, 1,
                      fused);
}

static nn_status FN(train_general)(const nn_net *net, T *params, T *opt_state, const T *X,
                                   const T *Y, int64_t n, nn_train_config *cfg,
                                   double *epoch_losses, nn_train_result *result,
                                   FN(train_bufs) *bb, int64_t *order)
{
    return FN(train)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, order, 0);
}

#if NN_HAVE_VECTORS
NN_KERNEL static nn_status FN(train_fused)(const nn_net *net, T *params, T *opt_state,
                                           const T *X, const T *Y, int64_t n,
                                           nn_train_config *cfg, double *epoch_losses,
                                           nn_train_result *result, FN(train_bufs) *bb,
                                           int64_t *order)
{
    return FN(train)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, order, 1);
}
#endif

nn_status FN(nn_train)(const nn_net *net, T *params, T *opt_state, const T *X, const T *Y,
                       int64_t n, nn_train_config *cfg, double *epoch_losses,
                       nn_train_result *result)
{
    result->epochs_done = 0;
    result->bad_epoch = -1;
    if (cfg->batch_size < 1 || n < 1 || cfg->n_epochs < 0) return NN_ERR_INVALID;
    const int L = net->n_layers;
    const int64_t B = cfg->batch_size < n ? cfg->batch_size : n;
    const int64_t P = nn_param_count(net);
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    const int64_t n_state = nn_optimizer_state_blocks(cfg);
    const int fused = FN(fused_ok)(net, B);
    /* one allocation for the whole call: activations and deltas (batch in
     * lanes on the fused path), gradients, the snapshots of params and
     * optimizer state, gather buffers and the row order. */
    const int64_t state = P * (1 + n_state);
    nn_workspace *ws = ws_new(net, fused ? NN_LANES : B, sizeof(T),
                              2 * state + B * (k + n_in) + k * NN_LANES, cfg->shuffle ? n : 0);
    if (!ws) return NN_ERR_NOMEM;
    FN(train_bufs) bb;
    bb.start = (T *)ws->extra;
    bb.snapshot = bb.start + state;
    bb.y_batch = bb.snapshot + state;
    bb.x_batch = bb.y_batch + B * k;
    bb.grads = (T *)ws->grads;
    bb.ws = ws;
    nn_status status;
#if NN_HAVE_VECTORS
    if (fused) {
        bb.yT = bb.x_batch + B * n_in;
        for (int l = 0; l <= L; l++) {
            bb.aT[l] = FN(ws_act)(ws, l);
            bb.dT[l] = (T *)ws->delta[(L - l) & 1];
        }
        for (int l = 0; l < L; l++) {
            const FN(fused_layer) ly = {net->sizes[l], net->sizes[l + 1], nn_weight_offset(net, l),
                                        nn_bias_offset(net, l), net->activations[l]};
            bb.layers[l] = ly;
        }
        status = FN(train_fused)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, &bb,
                                 ws->order);
    } else
#endif
        status = FN(train_general)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result,
                                   &bb, ws->order);
    nn_workspace_free(ws);
    return status;
}

#undef FN
#undef NN_CAT
#undef NN_CAT_
#undef NN_INLINE
#undef NN_SPLAT
#undef NN_LANES
