/*
 * The optimizers: SGD, SGD with momentum, Adam.  A template for one real type
 * T (nnext_instantiate.h).  A rule's constants are set once per step
 * (FN(rule_start)), then each parameter is updated by the element function of
 * its kind, shared by the general path (FN(update_all)) and the fused path.
 */

/* The optimizer's update of one parameter p from its gradient g; m and v are
 * its entries in the optimizer state (velocity; Adam's moments). */
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

/* params (P,) updated from grads (P,) by the configured optimizer (one step). */
NN_INLINE void FN(update_all)(T *params, const T *grads, T *opt_state, int64_t P,
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

/* Whether x (n,) holds no NaN or infinity. */
static int FN(all_finite)(const T *x, int64_t n)
{
    int bad = 0; /* x - x is NaN iff x is NaN or inf; an OR, unlike a sum, vectorises */
    for (int64_t i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0);
    return !bad;
}
