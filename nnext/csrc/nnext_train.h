/*
 * The training loop: epochs of (optionally shuffled) mini-batches, each step
 * the general path (nn_gradients, then the optimizer's update) or the fused
 * one (nnext_fused.h), and the handling of non-finite values and interrupts
 * that keeps the parameters finite and the optimizer state in step with
 * them.  A template for one real type T (nnext_instantiate.h).
 */

/* The buffers of a training call, carved from one workspace. */
typedef struct {
    T *start;    /* (P (1 + n_state),) params and optimizer state at the call's start */
    T *snapshot; /* (P (1 + n_state),) the same at the current epoch's start (checked) */
    T *x_batch;  /* (B, n_in) shuffled rows */
    T *y_batch;  /* (B, k) */
    T *grads;    /* (P,) general path */
    T *hidden;   /* (B, cols_0 + ... + cols_{L-2}) general path: plain SGD's deltas */
    T *w_batch;  /* (B,) shuffled rows' weights, with sample_weight */
    nn_workspace *ws;
    int64_t *order; /* (n,) the epoch's row order when shuffling, else NULL */
    FN(fused_bufs) fused;
} FN(train_bufs);

/* Defined with the instruction-set variants (nnext_core_typed.h). */
static void FN(apply_update)(T *params, const T *grads, T *opt_state, int64_t P,
                             nn_train_config *cfg);
static nn_status FN(train_fused)(const nn_net *net, T *params, T *opt_state, const T *X,
                                 const T *Y, int64_t n, nn_train_config *cfg,
                                 double *epoch_losses, nn_train_result *result,
                                 FN(train_bufs) *bb);

/* params and optimizer state (P (1 + n_state),) saved to / restored from to. */
NN_INLINE void FN(save_state)(T *to, const T *params, const T *opt_state, int64_t P,
                              int64_t n_state)
{
    memcpy(to, params, (size_t)P * sizeof(T));
    if (n_state) memcpy(to + P, opt_state, (size_t)(P * n_state) * sizeof(T));
}

NN_INLINE void FN(restore_state)(const T *from, T *params, T *opt_state, int64_t P,
                                 int64_t n_state)
{
    memcpy(params, from, (size_t)P * sizeof(T));
    if (n_state) memcpy(opt_state, from + P, (size_t)(P * n_state) * sizeof(T));
}

/* A Fisher-Yates shuffle of 0 .. n-1 into order, from the call's generator. */
static void FN(shuffle_rows)(int64_t *order, int64_t n, uint64_t *rng_state)
{
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = (int64_t)(rng_uniform(rng_state) * (double)(i + 1));
        const int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* A step's objective from FN(gradients_w)'s loss over rows Y (b of them,
 * whose outputs ws holds; weights w or NULL): the loss clipped
 * (cfg->prob_clip) and scaled, plus the regularisation; grads made the
 * objective's (FN(regularise)). */
static double FN(step_objective)(const nn_net *net, const T *params, nn_workspace *ws,
                                 const nn_train_config *cfg, const T *Y, const T *w, int64_t b,
                                 double loss, T *grads)
{
    const int L = net->n_layers;
    double rows = (double)b;
    if (w) { /* the weight sum divides the regularisation (0: the rows) */
        double w_sum = 0;
        for (int64_t r = 0; r < b; r++) w_sum += (double)w[r];
        rows = w_sum > 0 ? w_sum : rows;
    }
    if (cfg->prob_clip > 0) {
        const T *p = FN(ws_act)(ws, L);
        const int64_t k = net->sizes[L];
        if (w) {
            double w_sum;
            const double total = FN(loss_rows_weighted)(cfg->loss, p, NULL, Y, w, b, k,
                                                        (T)cfg->prob_clip, &w_sum);
            loss = FN(weighted_loss)(cfg->loss, total, w_sum);
        } else {
            loss = FN(loss_forward_clipped)(cfg->loss, p, Y, b, k, (T)cfg->prob_clip);
        }
    }
    return loss * (cfg->loss_scale != 0 ? cfg->loss_scale : 1.0) +
           FN(regularise)(net, params, grads, nn_param_count(net), cfg, rows);
}

double FN(nn_objective)(const nn_net *net, const T *params, nn_workspace *ws,
                        const nn_train_config *cfg, const T *X, const T *Y, int64_t n, T *grads)
{
    const T *w = cfg->sample_weight;
    const double loss = FN(gradients_w)(net, params, ws, cfg->loss, X, Y, w, n, grads);
    if ((double)n * (double)nn_param_count(net) >= NN_POLL_WORK && nn_poll_stopped()) return NAN;
    return FN(step_objective)(net, params, ws, cfg, Y, w, n, loss, grads);
}

/* Epochs 0 .. n_epochs-1, each step general or fused (a constant).
 *   checked = 0: stops with NN_ERR_NONFINITE at the first non-finite batch
 *     loss, leaving params as they are; an interrupt leaves the last step's.
 *   checked = 1: snapshots params and optimizer state at each epoch's start
 *     and checks them at its end; on a non-finite loss or parameter, or an
 *     interrupt, restores that epoch's start (finite: the previous epoch was
 *     checked), and with NN_ERR_NONFINITE sets result->bad_epoch. */
NN_INLINE nn_status FN(epochs)(const nn_net *net, T *params, T *opt_state, const T *X,
                               const T *Y, int64_t n, nn_train_config *cfg,
                               double *epoch_losses, nn_train_result *result,
                               FN(train_bufs) *bb, const int checked, const int fused)
{
    const int L = net->n_layers;
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    const int64_t P = nn_param_count(net);
    const int64_t B = cfg->batch_size < n ? cfg->batch_size : n;
    const int64_t n_state = nn_optimizer_state_blocks(cfg);
    const int kind = nn_optimizer_state_blocks(cfg); /* see FN(rule) */
    const double step_work = (double)B * (double)P; /* multiply-adds of a forward pass */
    const int plain = FN(config_plain)(cfg);
    nn_poller poller;
    poller_init(&poller, 6.0 * step_work);

    for (int64_t e = 0; e < cfg->n_epochs; e++) {
        const int64_t adam_step_at_start = cfg->adam_step;
        if (cfg->epoch_lr) cfg->lr = cfg->epoch_lr[e];
        if (checked) FN(save_state)(bb->snapshot, params, opt_state, P, n_state);
        const int64_t *order = cfg->epoch_order ? cfg->epoch_order + e * n : bb->order;
        if (!cfg->epoch_order && bb->order) FN(shuffle_rows)(bb->order, n, &cfg->rng_state);
        /* loss_sum_small: the same sum times 2^-64, read only when loss_sum
         * overflows though every batch loss was finite (losses near DBL_MAX) */
        double loss_sum = 0, loss_sum_small = 0;
        int64_t n_batches = 0;
        int finite = 1, interrupted = 0;
        for (int64_t r = 0; r < n; r += B) {
            const int64_t b = n - r < B ? n - r : B;
            const T *weights = cfg->sample_weight;
            const T *xb = X + r * n_in, *yb = Y + r * k, *wb = weights ? weights + r : NULL;
            if (order) { /* gather the batch's rows */
                for (int64_t i = 0; i < b; i++) {
                    memcpy(bb->x_batch + i * n_in, X + order[r + i] * n_in,
                           (size_t)n_in * sizeof(T));
                    memcpy(bb->y_batch + i * k, Y + order[r + i] * k, (size_t)k * sizeof(T));
                    if (weights) bb->w_batch[i] = weights[order[r + i]];
                }
                xb = bb->x_batch;
                yb = bb->y_batch;
                wb = weights ? bb->w_batch : NULL;
            }
            double loss;
            if (fused) {
                /* a non-finite loss means the parameters were non-finite or
                 * overflowed in this forward pass; the update that followed is
                 * undone by the caller */
                loss = FN(fused_batch)(&bb->fused, L, params, opt_state, P, cfg, xb, yb, b,
                                       !order && b == n, kind);
                finite = isfinite(loss);
            } else if (kind == 0 && plain) { /* plain SGD: the update inside backpropagation */
                loss = FN(sgd_step)(net, params, bb->ws, cfg->loss, xb, yb, b, (T)cfg->lr,
                                    bb->grads, bb->hidden);
                if (step_work >= NN_POLL_WORK && nn_poll_stopped()) { /* before any update */
                    interrupted = 1;
                    break;
                }
                finite = isfinite(loss);
            } else {
                loss = FN(gradients_w)(net, params, bb->ws, cfg->loss, xb, yb, wb, b, bb->grads);
                if (step_work >= NN_POLL_WORK && nn_poll_stopped()) { /* mid-step: not taken */
                    interrupted = 1;
                    break;
                }
                if (!plain) /* the clipping, the loss's scales and the regularisation */
                    loss = FN(step_objective)(net, params, bb->ws, cfg, yb, wb, b, loss,
                                              bb->grads);
                finite = isfinite(loss);
                if (finite) FN(apply_update)(params, bb->grads, opt_state, P, cfg);
            }
            if (!finite) break;
            loss_sum += cfg->loss_by_rows ? loss * (double)b : loss;
            loss_sum_small += cfg->loss_by_rows ? loss * 0x1p-64 * (double)b : loss * 0x1p-64;
            n_batches++;
            if (poller_tick(&poller)) {
                interrupted = 1;
                break;
            }
        }
        if (!checked) {
            if (interrupted) return NN_ERR_INTERRUPTED; /* params: the last step's */
            if (!finite) return NN_ERR_NONFINITE;
        } else if (finite && !interrupted) {
            finite = FN(all_finite)(params, P);
        }
        if (checked && (!finite || interrupted)) {
            FN(restore_state)(bb->snapshot, params, opt_state, P, n_state);
            cfg->adam_step = adam_step_at_start;
            if (interrupted) return NN_ERR_INTERRUPTED;
            result->bad_epoch = e;
            return NN_ERR_NONFINITE;
        }
        epoch_losses[e] = epoch_mean_loss(loss_sum, loss_sum_small, cfg->loss_by_rows ? n
                                          : n_batches);
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
 * at the first bad epoch, with that epoch's start restored.  An interrupt
 * that finds the parameters non-finite ends at the call's start. */
NN_INLINE nn_status FN(train)(const nn_net *net, T *params, T *opt_state, const T *X,
                              const T *Y, int64_t n, nn_train_config *cfg,
                              double *epoch_losses, nn_train_result *result,
                              FN(train_bufs) *bb, const int fused)
{
    const int64_t P = nn_param_count(net);
    const int64_t n_state = nn_optimizer_state_blocks(cfg);
    const uint64_t rng_at_start = cfg->rng_state;
    const int64_t adam_step_at_start = cfg->adam_step;
    FN(save_state)(bb->start, params, opt_state, P, n_state);
    nn_status status =
        FN(epochs)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, 0, fused);
    const int finite = FN(all_finite)(params, P) &&
                       (n_state == 0 || FN(all_finite)(opt_state, P * n_state));
    if ((status == NN_OK || status == NN_ERR_INTERRUPTED) && finite) return status;
    if (status == NN_OK) status = NN_ERR_NONFINITE;
    /* back to the call's start: to replay, or, when interrupted with values
     * that are no longer finite, to stop with finite ones */
    FN(restore_state)(bb->start, params, opt_state, P, n_state);
    cfg->rng_state = rng_at_start;
    cfg->adam_step = adam_step_at_start;
    result->epochs_done = 0;
    if (status == NN_ERR_INTERRUPTED) return status;
    if (status == NN_ERR_NOMEM) return status;
    return FN(epochs)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, 1, fused);
}

static nn_status FN(train_general)(const nn_net *net, T *params, T *opt_state, const T *X,
                                   const T *Y, int64_t n, nn_train_config *cfg,
                                   double *epoch_losses, nn_train_result *result,
                                   FN(train_bufs) *bb)
{
    return FN(train)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, 0);
}

nn_status FN(nn_train)(const nn_net *net, T *params, T *opt_state, const T *X, const T *Y,
                       int64_t n, nn_train_config *cfg, double *epoch_losses,
                       nn_train_result *result)
{
    result->epochs_done = 0;
    result->bad_epoch = -1;
    if (!nn_net_valid(net) || cfg->batch_size < 1 || n < 1 || cfg->n_epochs < 0 ||
        !(cfg->l2 >= 0) || !(cfg->l1 >= 0) || !isfinite(cfg->l2) || !isfinite(cfg->l1))
        return NN_ERR_INVALID;
    const int L = net->n_layers;
    const int64_t B = cfg->batch_size < n ? cfg->batch_size : n;
    const int64_t P = nn_param_count(net);
    const int64_t n_in = net->sizes[0], k = net->sizes[L];
    const int64_t n_state = nn_optimizer_state_blocks(cfg);
    const int fused = FN(fused_ok)(net, B) && FN(config_plain)(cfg);
    /* one allocation for the whole call: activations and deltas (batch in
     * lanes on the fused path), gradients, the snapshots of params and
     * optimizer state, gather buffers, the fused path's targets, plain SGD's
     * hidden deltas and the row order.  In elements of T: */
    int64_t extra = 0;
    if (nn_mul_add(&extra, 2 * (1 + n_state), P, 0) || nn_mul_add(&extra, B, k + n_in, extra) ||
        nn_mul_add(&extra, k, NN_LANES, extra))
        return NN_ERR_NOMEM;
    int64_t hidden_width = 0;
    for (int l = 1; l < L; l++) hidden_width += nn_layer_cols(net, l - 1); /* valid net: fits */
    if (nn_mul_add(&extra, fused ? 0 : B, hidden_width, extra) ||
        nn_mul_add(&extra, cfg->sample_weight ? B : 0, 1, extra))
        return NN_ERR_NOMEM;
    nn_workspace *ws = nn_ws_new(net, fused ? NN_LANES : B, sizeof(T), extra,
                                 cfg->shuffle && !cfg->epoch_order ? n : 0);
    if (!ws) return NN_ERR_NOMEM;
    const int64_t state = P * (1 + n_state);
    FN(train_bufs) bb;
    bb.start = (T *)ws->extra;
    bb.snapshot = bb.start + state;
    bb.y_batch = bb.snapshot + state;
    bb.x_batch = bb.y_batch + B * k;
    bb.grads = (T *)ws->grads;
    bb.hidden = fused ? NULL : bb.x_batch + B * n_in + k * NN_LANES;
    bb.w_batch = cfg->sample_weight ? bb.hidden + B * hidden_width : NULL;
    bb.ws = ws;
    bb.order = ws->order;
    nn_status status;
    nn_poll_begin(cfg->poll, cfg->poll_ctx);
    if (fused) {
        FN(fused_init)(&bb.fused, net, ws, bb.x_batch + B * n_in, cfg->loss);
        status = FN(train_fused)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, &bb);
    } else {
        status = FN(train_general)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, &bb);
    }
    nn_poll_end();
    nn_workspace_free(ws);
    return status;
}
