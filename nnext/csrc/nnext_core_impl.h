/*
 * The body of the core, written once for a real type T and included by
 * nnext_core.c twice: T = double with suffix f64, T = float with suffix f32.
 * Before inclusion: T, S (the suffix), EXP, LOG, TANH, EXPM1, T_TINY.
 * Arrays are row-major; shapes are in the comments.
 */

#define NN_CAT_(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT_(a, b)
#define FN(name) NN_CAT(name, S)

/* ---------------------------------------------------------------- layers */

/* out (batch, n_out) = in (batch, n_in) @ weights (n_in, n_out) + biases (n_out,)
 * biases may be NULL. */
void FN(nn_dense_forward)(T *out, const T *in, const T *weights, const T *biases,
                          int64_t batch, int64_t n_in, int64_t n_out)
{
    FN(nn_gemm_nn)(batch, n_out, n_in, in, weights, biases, out);
}

/* a (batch, width): z -> act(z), in place. */
NN_KERNEL void FN(nn_activation_forward)(int activation, T *a, int64_t batch, int64_t width)
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

/* delta (batch, width): dL/da -> dL/dz, in place, from the layer's output a. */
NN_KERNEL void FN(nn_activation_backward)(int activation, T *delta, const T *a, int64_t batch,
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

/* The loss of predictions p (batch, k) against targets y (batch, k). */
double FN(nn_loss_forward)(int loss, const T *p, const T *y, int64_t batch, int64_t k)
{
    const int64_t n = batch * k;
    T sum = 0;
    switch (loss) {
    case NN_MSE:
    case NN_SSE:
        for (int64_t i = 0; i < n; i++) {
            T e = y[i] - p[i];
            sum += e * e;
        }
        return loss == NN_MSE ? (double)(sum / (T)n) : (double)((T)0.5 * sum);
    case NN_BCE: /* log arguments clamped so that a saturated sigmoid stays finite */
        for (int64_t i = 0; i < n; i++) {
            T q = (T)1 - p[i];
            if (y[i] != 0) sum -= y[i] * LOG(p[i] > T_TINY ? p[i] : T_TINY);
            if (y[i] != 1) sum -= ((T)1 - y[i]) * LOG(q > T_TINY ? q : T_TINY);
        }
        return (double)(sum / (T)n);
    default: /* NN_CROSS_ENTROPY */
        for (int64_t i = 0; i < n; i++)
            if (y[i] != 0) sum -= y[i] * LOG(p[i] > T_TINY ? p[i] : T_TINY);
        return (double)(sum / (T)batch);
    }
}

/* error (batch, k) = dL/dp, the loss's gradient with respect to the prediction p. */
NN_KERNEL void FN(nn_loss_gradient)(int loss, T *error, const T *p, const T *y, int64_t batch,
                                    int64_t k)
{
    const int64_t n = batch * k;
    switch (loss) {
    case NN_MSE: {
        const T scale = (T)2 / (T)n;
        for (int64_t i = 0; i < n; i++) error[i] = (p[i] - y[i]) * scale;
        break;
    }
    case NN_SSE:
        for (int64_t i = 0; i < n; i++) error[i] = p[i] - y[i];
        break;
    case NN_BCE:
        for (int64_t i = 0; i < n; i++)
            error[i] = (p[i] - y[i]) / (p[i] * ((T)1 - p[i]) * (T)n);
        break;
    default: /* NN_CROSS_ENTROPY */
        for (int64_t i = 0; i < n; i++) error[i] = -y[i] / (p[i] * (T)batch);
        break;
    }
}

/* delta (batch, k) = dL/dz of the output layer, whose activation is given and
 * whose output is p.  Sigmoid + bce and softmax + cross-entropy use the fused,
 * exact form (p - y) / scale. */
NN_KERNEL void FN(nn_loss_backward)(int loss, int activation, T *delta, const T *p, const T *y,
                                    int64_t batch, int64_t k)
{
    const int64_t n = batch * k;
    if ((loss == NN_BCE && activation == NN_SIGMOID) ||
        (loss == NN_CROSS_ENTROPY && activation == NN_SOFTMAX)) {
        const T scale = (T)1 / (T)(loss == NN_BCE ? n : batch);
        for (int64_t i = 0; i < n; i++) delta[i] = (p[i] - y[i]) * scale;
        return;
    }
    FN(nn_loss_gradient)(loss, delta, p, y, batch, k);
    FN(nn_activation_backward)(activation, delta, p, batch, k);
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

/* params (P,) updated from grads (P,) by the configured optimizer. */
NN_KERNEL static void FN(apply_update)(T *params, const T *grads, T *opt_state, int64_t P,
                             nn_train_config *cfg)
{
    const T lr = (T)cfg->lr;
    if (cfg->optimizer == NN_ADAM) {
        T *m = opt_state, *v = opt_state + P;
        const T b1 = (T)cfg->beta1, b2 = (T)cfg->beta2, eps = (T)cfg->eps;
        cfg->adam_step++;
        const T c1 = (T)1 / (T)(1.0 - pow(cfg->beta1, (double)cfg->adam_step));
        const T c2 = (T)1 / (T)(1.0 - pow(cfg->beta2, (double)cfg->adam_step));
        for (int64_t i = 0; i < P; i++) {
            const T g = grads[i];
            m[i] = b1 * m[i] + ((T)1 - b1) * g;
            v[i] = b2 * v[i] + ((T)1 - b2) * g * g;
            params[i] -= lr * (m[i] * c1) / (SQRT(v[i] * c2) + eps);
        }
    } else if (cfg->momentum > 0) {
        T *velocity = opt_state;
        const T mu = (T)cfg->momentum;
        for (int64_t i = 0; i < P; i++) {
            velocity[i] = mu * velocity[i] - lr * grads[i];
            params[i] += velocity[i];
        }
    } else {
        for (int64_t i = 0; i < P; i++) params[i] -= lr * grads[i];
    }
}

static int FN(all_finite)(const T *x, int64_t n)
{
    T acc = 0;
    for (int64_t i = 0; i < n; i++) acc += x[i] - x[i]; /* NaN iff some x is NaN/inf */
    return acc == 0;
}

nn_status FN(nn_train)(const nn_net *net, T *params, T *opt_state, const T *X, const T *Y,
                       int64_t n, nn_train_config *cfg, double *epoch_losses,
                       nn_train_result *result)
{
    const int L = net->n_layers;
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    const int64_t P = nn_param_count(net);
    const int64_t B = cfg->batch_size < n ? cfg->batch_size : n;
    const int64_t n_state = cfg->optimizer == NN_ADAM ? 2 : (cfg->momentum > 0 ? 1 : 0);
    result->epochs_done = 0;
    result->bad_epoch = -1;
    if (B < 1 || n < 1 || cfg->n_epochs < 0) return NN_ERR_INVALID;
    /* one allocation for the whole call: activations, deltas, gradients, the
     * start-of-epoch snapshot of params and optimizer state, gather buffers
     * and the row order. */
    nn_workspace *ws = ws_new(net, B, sizeof(T), P * (1 + n_state) + B * k,
                              cfg->shuffle ? n : 0);
    if (!ws) return NN_ERR_NOMEM;
    T *snapshot = (T *)ws->extra;              /* (P * (1 + n_state),) */
    T *y_batch = snapshot + P * (1 + n_state); /* (B, k) */
    T *x_batch = FN(ws_act)(ws, 0);            /* (B, n_in) */
    T *grads = (T *)ws->grads;
    int64_t *order = ws->order;
    nn_poller poller;
    poller_init(&poller, cfg->poll, cfg->poll_ctx, 6.0 * (double)B * (double)P);
    nn_status status = NN_OK;

    for (int64_t e = 0; e < cfg->n_epochs; e++) {
        memcpy(snapshot, params, (size_t)P * sizeof(T));
        if (n_state) memcpy(snapshot + P, opt_state, (size_t)(P * n_state) * sizeof(T));
        const int64_t adam_step_at_start = cfg->adam_step;
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
                    memcpy(x_batch + i * n_in, X + order[r + i] * n_in, (size_t)n_in * sizeof(T));
                    memcpy(y_batch + i * k, Y + order[r + i] * k, (size_t)k * sizeof(T));
                }
                xb = x_batch;
                yb = y_batch;
            }
            const double loss = FN(nn_gradients)(net, params, ws, cfg->loss, xb, yb, b, grads);
            if (!isfinite(loss)) {
                finite = 0;
                break;
            }
            loss_sum += loss;
            n_batches++;
            FN(apply_update)(params, grads, opt_state, P, cfg);
            if (poller_tick(&poller)) {
                status = NN_ERR_INTERRUPTED; /* params hold the last completed step */
                goto done;
            }
        }
        if (finite) finite = FN(all_finite)(params, P);
        if (!finite) {
            memcpy(params, snapshot, (size_t)P * sizeof(T));
            if (n_state) memcpy(opt_state, snapshot + P, (size_t)(P * n_state) * sizeof(T));
            cfg->adam_step = adam_step_at_start;
            result->bad_epoch = e;
            status = NN_ERR_NONFINITE;
            goto done;
        }
        epoch_losses[e] = loss_sum / (double)n_batches;
        result->epochs_done = e + 1;
    }
done:
    nn_workspace_free(ws);
    return status;
}

#undef FN
#undef NN_CAT
#undef NN_CAT_
