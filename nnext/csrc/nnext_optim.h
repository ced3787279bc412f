/*
 * The optimizers: SGD, SGD with momentum (plain or Nesterov's), Adam (two
 * forms), and the L2/L1 regularisation of the weights.  A template for one real type
 * T (nnext_instantiate.h).  A rule's constants are set once per step
 * (FN(rule_start)), then each parameter is updated by the element function of
 * its kind, shared by the general path (FN(update_all)) and the fused path.
 */

/* The optimizer's update of one parameter p from its gradient g; m and v are
 * its entries in the optimizer state (velocity; Adam's moments). */
typedef struct {
    int kind; /* nn_optimizer_state_blocks: 0 sgd, 1 sgd with momentum, 2 adam */
    int variant; /* kind 1: Nesterov; kind 2: bias correction folded into c1 */
    T lr, mu, b1, b2, eps, c1, c2;
} FN(rule);

NN_INLINE FN(rule) FN(rule_start)(nn_train_config *cfg)
{
    FN(rule) r = {nn_optimizer_state_blocks(cfg), 0, (T)cfg->lr, (T)cfg->momentum,
                  (T)cfg->beta1, (T)cfg->beta2, (T)cfg->eps, 0, 0};
    if (r.kind == 1) r.variant = cfg->nesterov != 0;
    if (r.kind == 2) { /* Adam */
        cfg->adam_step++;
        const double t = (double)cfg->adam_step;
        r.variant = cfg->adam_folded != 0;
        if (r.variant) { /* the step size lr sqrt(1 - b2^t) / (1 - b1^t), as sklearn */
            r.c1 = (T)(cfg->lr * sqrt(1.0 - pow(cfg->beta2, t)) / (1.0 - pow(cfg->beta1, t)));
        } else {
            r.c1 = (T)1 / (T)(1.0 - pow(cfg->beta1, t));
            r.c2 = (T)1 / (T)(1.0 - pow(cfg->beta2, t));
        }
    }
    return r;
}

NN_INLINE T FN(sgd_one)(const FN(rule) *r, T p, T g) { return p - r->lr * g; }

NN_INLINE T FN(momentum_one)(const FN(rule) *r, T p, T g, T *velocity)
{
    *velocity = r->mu * *velocity - r->lr * g;
    return p + *velocity;
}

/* Nesterov's momentum in the form of Sutskever et al. (sklearn's): the step
 * looks ahead along the new velocity. */
NN_INLINE T FN(nesterov_one)(const FN(rule) *r, T p, T g, T *velocity)
{
    *velocity = r->mu * *velocity - r->lr * g;
    return p + (r->mu * *velocity - r->lr * g);
}

NN_INLINE T FN(adam_one)(const FN(rule) *r, T p, T g, T *m, T *v)
{
    *m = r->b1 * *m + ((T)1 - r->b1) * g;
    *v = r->b2 * *v + ((T)1 - r->b2) * g * g;
    return p - r->lr * (*m * r->c1) / (SQRT(*v * r->c2) + r->eps);
}

/* Adam with the bias correction in the step size c1 (eps not corrected). */
NN_INLINE T FN(adam_folded_one)(const FN(rule) *r, T p, T g, T *m, T *v)
{
    *m = r->b1 * *m + ((T)1 - r->b1) * g;
    *v = r->b2 * *v + ((T)1 - r->b2) * (g * g);
    return p - r->c1 * *m / (SQRT(*v) + r->eps);
}

/* params (P,) updated from grads (P,) by the configured optimizer (one step). */
NN_INLINE void FN(update_all)(T *params, const T *grads, T *opt_state, int64_t P,
                              nn_train_config *cfg)
{
    const FN(rule) r = FN(rule_start)(cfg);
    switch (r.kind * 2 + r.variant) {
    case 0:
        for (int64_t i = 0; i < P; i++) params[i] = FN(sgd_one)(&r, params[i], grads[i]);
        break;
    case 2:
        for (int64_t i = 0; i < P; i++)
            params[i] = FN(momentum_one)(&r, params[i], grads[i], opt_state + i);
        break;
    case 3:
        for (int64_t i = 0; i < P; i++)
            params[i] = FN(nesterov_one)(&r, params[i], grads[i], opt_state + i);
        break;
    case 4:
        for (int64_t i = 0; i < P; i++)
            params[i] = FN(adam_one)(&r, params[i], grads[i], opt_state + i, opt_state + P + i);
        break;
    default:
        for (int64_t i = 0; i < P; i++)
            params[i] = FN(adam_folded_one)(&r, params[i], grads[i], opt_state + i,
                                            opt_state + P + i);
        break;
    }
}

/* Whether cfg asks only for what the fused path does: no regularisation,
 * no Nesterov or folded Adam, the loss as it is, the core's own row order
 * (epoch_lr is fine). */
NN_INLINE int FN(config_plain)(const nn_train_config *cfg)
{
    return cfg->l2 == 0 && cfg->l1 == 0 && !cfg->nesterov && !cfg->adam_folded &&
           !cfg->loss_by_rows && (cfg->loss_scale == 0 || cfg->loss_scale == 1) &&
           (cfg->grad_scale == 0 || cfg->grad_scale == 1) && cfg->prob_clip == 0 &&
           !cfg->epoch_order && !cfg->sample_weight;
}

/* The loss's gradient grads (P,) of a step over a batch made the objective's:
 * times cfg->grad_scale, plus the regularisation's gradient l2 W + l1 sign(W)
 * on the weights (not the biases), l2 and l1 divided by rows (the batch's
 * rows, or its weight sum) with reg_per_row.  Returns the regularisation's
 * value l2/2 sum W^2 + l1 sum |W| (the same division). */
static double FN(regularise)(const nn_net *net, const T *params, T *grads, int64_t P,
                             const nn_train_config *cfg, double rows)
{
    if (cfg->grad_scale != 0 && cfg->grad_scale != 1) {
        const T s = (T)cfg->grad_scale;
        for (int64_t i = 0; i < P; i++) grads[i] *= s;
    }
    if (cfg->l2 == 0 && cfg->l1 == 0) return 0;
    const double l2 = cfg->reg_per_row ? cfg->l2 / rows : cfg->l2;
    const double l1 = cfg->reg_per_row ? cfg->l1 / rows : cfg->l1;
    const T c2 = (T)l2, c1 = (T)l1;
    double squares = 0, absolutes = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const T *w = params + nn_weight_offset(net, l);
        T *g = grads + nn_weight_offset(net, l);
        const int64_t count = net->sizes[l] * nn_layer_cols(net, l);
        /* the sums in 8 interleaved partial sums, so that they vectorise */
        double sq[8] = {0}, ab[8] = {0};
        int64_t i = 0;
        for (; i + 8 <= count; i += 8)
            for (int q = 0; q < 8; q++) {
                const T x = w[i + q];
                g[i + q] += c2 * x + (x > 0 ? c1 : x < 0 ? -c1 : (T)0);
                sq[q] += (double)x * (double)x;
                ab[q] += fabs((double)x);
            }
        for (; i < count; i++) {
            const T x = w[i];
            g[i] += c2 * x + (x > 0 ? c1 : x < 0 ? -c1 : (T)0);
            sq[0] += (double)x * (double)x;
            ab[0] += fabs((double)x);
        }
        for (int q = 0; q < 8; q++) {
            squares += sq[q];
            absolutes += ab[q];
        }
    }
    return 0.5 * l2 * squares + l1 * absolutes;
}

/* Whether x (n,) holds no NaN or infinity. */
static int FN(all_finite)(const T *x, int64_t n)
{
    int bad = 0; /* x - x is NaN iff x is NaN or inf; an OR, unlike a sum, vectorises */
    for (int64_t i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0);
    return !bad;
}
