/*
 * The fused path: a whole training step of a tiny network in one function.
 * A template for one real type T (nnext_instantiate.h), after nnext_layers.h
 * and nnext_optim.h, whose inline bodies it shares.
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
#define NN_LANES ((int64_t)NN_LANE_COUNT) /* nnext_instantiate.h: 4 doubles, 8 floats */
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
    T param;                   /* the activation's parameter (nn_layer_param) */
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
 * deltas, zT (k, LANES), when not NULL, the output's pre-activation (for the
 * loss, FN(loss_from_z)); params updated by the optimizer of the constant kind (see FN(rule)),
 * each weight as soon as its gradient is known (after its use for the layer
 * below's delta).  Returns the batch loss. */
NN_INLINE double FN(fused_step)(const FN(fused_layer) *layers, int L, T *params, T *opt_state,
                                int64_t P, nn_train_config *cfg, T *const *aT, T *const *dT,
                                T *zT, const T *yT, int64_t b, const int kind)
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
        if (zT && l == L - 1) memcpy(zT, out, (size_t)n_out * sizeof(V));
        FN(act_forward)(ly->activation, ly->param, aT[l + 1], 1, n_out * NN_LANES, 0);
    }
    const double value = zT ? FN(loss_forward)(cfg->loss, aT[L], zT, yT, b, k, 1, NN_LANES)
                            : FN(loss_forward)(cfg->loss, aT[L], NULL, yT, b, k, 1, NN_LANES);
    FN(loss_backward)(cfg->loss, layers[L - 1].activation, layers[L - 1].param, dT[L], aT[L], yT,
                      k * NN_LANES, b, k);
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
            FN(act_backward)(layers[l - 1].activation, layers[l - 1].param, dT[l], aT[l], 1,
                             n_in * NN_LANES);
        }
        /* dW[i, j] = sum over rows q of in[i][q] delta[j][q], in the order of q */
        int64_t j = 0;
#if NN_LANE_COUNT == 4
        for (; j + 4 <= n_out; j += 4) { /* four columns at once: delta turned into rows */
            const V t0 = NN_SHUFFLE4(delta[j], delta[j + 1], 0, 4, 2, 6);
            const V t1 = NN_SHUFFLE4(delta[j], delta[j + 1], 1, 5, 3, 7);
            const V t2 = NN_SHUFFLE4(delta[j + 2], delta[j + 3], 0, 4, 2, 6);
            const V t3 = NN_SHUFFLE4(delta[j + 2], delta[j + 3], 1, 5, 3, 7);
            const V rows[4] = {NN_SHUFFLE4(t0, t2, 0, 1, 4, 5),  /* row 0, j..j+3 */
                               NN_SHUFFLE4(t1, t3, 0, 1, 4, 5),
                               NN_SHUFFLE4(t0, t2, 2, 3, 6, 7),
                               NN_SHUFFLE4(t1, t3, 2, 3, 6, 7)};
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
 * (nnext_gemm_small.h), no softmax (row-wise, not elementwise), no maxout
 * (declined: its pre-activation is wider than its output). */
static int FN(fused_ok)(const nn_net *net, int64_t B)
{
    if (B > NN_LANES || !nn_get_fused_path()) return 0;
    for (int l = 0; l < net->n_layers; l++) {
        const int64_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        if (net->activations[l] == NN_SOFTMAX || net->activations[l] == NN_MAXOUT) return 0;
        if (!FN(nn_is_small)(B, n_out, n_in) || !FN(tn_is_small)(n_in, n_out, B)) return 0;
        if (l > 0 && !FN(nt_is_small)(B, n_in, n_out)) return 0;
    }
    return 1;
}

#define NN_ONE_ROW_MAX 4 /* the widest layers of FN(fused_one_row) */

/* The fused path's buffers for one training call, batch in lanes: aT[l]
 * (sizes[l], LANES) the layers' outputs (aT[0] the input rows), dT[l] their
 * deltas, yT (k, LANES) the targets, zT (k, LANES) the output's
 * pre-activation when the loss needs it (else NULL); the layers' constants. */
typedef struct {
    T *aT[NN_MAX_LAYERS + 1], *dT[NN_MAX_LAYERS + 1], *yT, *zT;
    FN(fused_layer) layers[NN_MAX_LAYERS];
    int rows_loaded; /* aT[0] and yT hold the one batch every step uses */
    int one_row;     /* a batch of one row runs FN(fused_one_row): 2 for 2-2-1, 1 others */
} FN(fused_bufs);

/* Sets up f over the workspace ws (made for NN_LANES rows) and yT (k LANES),
 * for training with the given loss. */
static void FN(fused_init)(FN(fused_bufs) *f, const nn_net *net, nn_workspace *ws, T *yT,
                           int loss)
{
    const int L = net->n_layers;
    f->yT = yT;
    f->zT = FN(loss_from_z)(loss, net->activations[L - 1]) ? (T *)ws->z : NULL;
    f->rows_loaded = 0;
    f->one_row = L == 2 && net->sizes[0] <= NN_ONE_ROW_MAX && net->sizes[1] <= NN_ONE_ROW_MAX &&
                 net->sizes[2] == 1;
    if (f->one_row && net->sizes[0] == 2 && net->sizes[1] == 2) f->one_row = 2;
    for (int l = 0; l <= L; l++) {
        f->aT[l] = FN(ws_act)(ws, l);
        f->dT[l] = (T *)ws->delta[(L - l) & 1];
    }
    for (int l = 0; l < L; l++) {
        const FN(fused_layer) ly = {net->sizes[l], net->sizes[l + 1], nn_weight_offset(net, l),
                                    nn_bias_offset(net, l), net->activations[l],
                                    (T)nn_layer_param(net, l)};
        f->layers[l] = ly;
    }
}

/* FN(fused_step) for one row (b = 1) of a two-layer network of widths
 * n0-n1-1 (constants of the caller, at most NN_ONE_ROW_MAX), in scalars: per-
 * sample SGD on the tutorials' networks (Zhou's 2-2-1), whose step is a chain
 * of dependent operations that lanes cannot shorten.  The same formulas and
 * sums, in the same order, as FN(fused_step); so the same bits. */
NN_INLINE double FN(fused_one_row)(const FN(fused_layer) *layers, T *params, T *opt_state,
                                   int64_t P, nn_train_config *cfg, const T *x, const T *y,
                                   const int64_t n0, const int64_t n1, const int kind)
{
    const FN(fused_layer) *l0 = layers, *l1 = layers + 1;
    T *W0 = params + l0->w, *W1 = params + l1->w;
    T h[NN_ONE_ROW_MAX], out, z, delta, dh[NN_ONE_ROW_MAX];
    for (int64_t j = 0; j < n1; j++) { /* hidden: h[j] = act(b[j] + sum_i x[i] W0[i, j]) */
        T acc = l0->b >= 0 ? params[l0->b + j] : (T)0;
        for (int64_t i = 0; i < n0; i++) acc += x[i] * W0[i * n1 + j];
        h[j] = acc;
    }
    FN(act_forward)(l0->activation, l0->param, h, 1, n1, 1);
    out = l1->b >= 0 ? params[l1->b] : (T)0;
    for (int64_t i = 0; i < n1; i++) out += h[i] * W1[i];
    z = out;
    FN(act_forward)(l1->activation, l1->param, &out, 1, 1, 1);
    const double value = FN(loss_from_z)(cfg->loss, l1->activation)
                             ? FN(loss_forward)(cfg->loss, &out, &z, y, 1, 1, 1, 1)
                             : FN(loss_forward)(cfg->loss, &out, NULL, y, 1, 1, 1, 1);
    FN(loss_backward)(cfg->loss, l1->activation, l1->param, &delta, &out, y, 1, 1, 1);
    const FN(rule) rule = FN(rule_start)(cfg);
    /* weights before the update; the general path's sum is 0 + delta W1[i],
     * which differs only in the sign of a zero, and every use of dh below
     * adds 0 again: the same bits, one addition shorter */
    for (int64_t i = 0; i < n1; i++) dh[i] = delta * W1[i];
    FN(act_backward)(l0->activation, l0->param, dh, h, 1, n1);
    for (int64_t i = 0; i < n1; i++)
        FN(fused_update)(&rule, kind, params, opt_state, P, l1->w + i, (T)0 + h[i] * delta);
    if (l1->b >= 0) FN(fused_update)(&rule, kind, params, opt_state, P, l1->b, (T)0 + delta);
    for (int64_t j = 0; j < n1; j++)
        for (int64_t i = 0; i < n0; i++)
            FN(fused_update)(&rule, kind, params, opt_state, P, l0->w + i * n1 + j,
                             (T)0 + x[i] * dh[j]);
    if (l0->b >= 0)
        for (int64_t j = 0; j < n1; j++)
            FN(fused_update)(&rule, kind, params, opt_state, P, l0->b + j, (T)0 + dh[j]);
    return value;
}

/* A step of one row on FN(fused_one_row) for widths other than Zhou's 2-2-1
 * (which FN(fused_batch) runs inline, unrolled with constant widths): a
 * function of its own, so that its registers are allocated apart from the
 * batch-in-lanes step's (inlined too, it slowed Trask's steps by 12%). */
#define NN_ONE_ROW_STEP(name, N0, N1)                                                              \
    __attribute__((noinline)) static double FN(name)(const FN(fused_bufs) *f, T *params,       \
                                                     T *opt_state, int64_t P,                  \
                                                     nn_train_config *cfg, const T *xb,        \
                                                     const T *yb, const int kind)              \
    {                                                                                          \
        switch (kind) {                                                                        \
        case 0: return FN(fused_one_row)(f->layers, params, opt_state, P, cfg, xb, yb, N0, N1, 0); \
        case 1: return FN(fused_one_row)(f->layers, params, opt_state, P, cfg, xb, yb, N0, N1, 1); \
        default: return FN(fused_one_row)(f->layers, params, opt_state, P, cfg, xb, yb, N0, N1, 2); \
        }                                                                                      \
    }
NN_ONE_ROW_STEP(one_row_step, f->layers[0].n_in, f->layers[0].n_out)
#undef NN_ONE_ROW_STEP

/* One step over rows xb (b, n_in), yb (b, k); same_rows: every step of the
 * call uses these rows (no shuffling, one batch), so they are turned into
 * lanes once.  kind: the optimizer's (a constant, see FN(rule)).  Returns the
 * batch loss; a non-finite loss means the step went wrong (the caller undoes
 * it). */
NN_INLINE double FN(fused_batch)(FN(fused_bufs) *f, int L, T *params, T *opt_state, int64_t P,
                                 nn_train_config *cfg, const T *xb, const T *yb, int64_t b,
                                 int same_rows, const int kind)
{
    if (b == 1 && f->one_row == 2) /* per-sample steps of Zhou's 2-2-1, inline */
        switch (kind) {
        case 0: return FN(fused_one_row)(f->layers, params, opt_state, P, cfg, xb, yb, 2, 2, 0);
        case 1: return FN(fused_one_row)(f->layers, params, opt_state, P, cfg, xb, yb, 2, 2, 1);
        default: return FN(fused_one_row)(f->layers, params, opt_state, P, cfg, xb, yb, 2, 2, 2);
        }
    if (b == 1 && f->one_row) /* per-sample steps of another two-layer, one-output network */
        return FN(one_row_step)(f, params, opt_state, P, cfg, xb, yb, kind);
    if (!f->rows_loaded) {
        FN(to_lanes)(f->aT[0], xb, b, f->layers[0].n_in);
        FN(to_lanes)(f->yT, yb, b, f->layers[L - 1].n_out);
        f->rows_loaded = same_rows;
    }
    switch (kind) { /* each optimizer its own copy of the step */
    case 0: return FN(fused_step)(f->layers, L, params, opt_state, P, cfg, f->aT, f->dT, f->zT, f->yT, b, 0);
    case 1: return FN(fused_step)(f->layers, L, params, opt_state, P, cfg, f->aT, f->dT, f->zT, f->yT, b, 1);
    default: return FN(fused_step)(f->layers, L, params, opt_state, P, cfg, f->aT, f->dT, f->zT, f->yT, b, 2);
    }
}
#else /* no vector extensions: no fused path */
#define NN_LANES ((int64_t)1)
typedef struct { int unused; } FN(fused_bufs);
static int FN(fused_ok)(const nn_net *net, int64_t B) { (void)net, (void)B; return 0; }
static void FN(fused_init)(FN(fused_bufs) *f, const nn_net *net, nn_workspace *ws, T *yT,
                           int loss)
{
    (void)f, (void)net, (void)ws, (void)yT, (void)loss;
}
NN_INLINE double FN(fused_batch)(FN(fused_bufs) *f, int L, T *params, T *opt_state, int64_t P,
                                 nn_train_config *cfg, const T *xb, const T *yb, int64_t b,
                                 int same_rows, const int kind)
{
    (void)f, (void)L, (void)params, (void)opt_state, (void)P, (void)cfg, (void)xb, (void)yb;
    (void)b, (void)same_rows, (void)kind;
    return NAN;
}
#endif

/* Whether nn_train runs this network with batches of at most batch rows on
 * the fused path. */
int FN(nn_fused_path_used)(const nn_net *net, int64_t batch)
{
    return nn_net_valid(net) && batch >= 1 && FN(fused_ok)(net, batch);
}
