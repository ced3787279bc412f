/*
 * The layers, plainly: each a pair of forward/backward functions over flat
 * row-major arrays, shapes in the comments.  A template for one real type T
 * (nnext_instantiate.h).  The elementwise bodies are inline functions shared
 * by the general path (through the instruction-set variants of
 * nnext_kernels.h) and by the fused path (nnext_fused.h), so that both
 * compute the same values to the bit.
 */

/* out (batch, n_out) = in (batch, n_in) @ weights (n_in, n_out) + biases (n_out,)
 * biases may be NULL. */
void FN(nn_dense_forward)(T *out, const T *in, const T *weights, const T *biases,
                          int64_t batch, int64_t n_in, int64_t n_out)
{
    FN(nn_gemm_nn)(batch, n_out, n_in, in, weights, biases, out);
}

/* EACH(s): the statement s for every element i < n, then out of the switch. */
#define EACH(statement) for (int64_t i = 0; i < n; i++) statement; break

/* a (batch, width): z -> act(z), in place; param: the leaky ReLU's slope or
 * the ELU's alpha (unused by the others).  chain (a constant): 1 where the
 * values sit on a scalar dependency chain (the per-sample fused step), whose
 * sigmoid then takes EXP_ONE, the same bits with a shorter latency; 0 in the
 * loops that vectorise. */
NN_INLINE void FN(act_forward)(int activation, T param, T *a, int64_t batch, int64_t width,
                               const int chain)
{
    const int64_t n = batch * width;
    switch (activation) {
    case NN_SIGMOID: EACH(a[i] = (T)1 / ((T)1 + (chain ? EXP_ONE(-a[i]) : EXP(-a[i]))));
    case NN_TANH: EACH(a[i] = TANH(a[i]));
    case NN_RELU: EACH(a[i] = a[i] < 0 ? (T)0 : a[i]); /* NaN stays NaN, as in numpy */
    case NN_LEAKY_RELU: EACH(a[i] = a[i] > 0 ? a[i] : param * a[i]);
    case NN_ELU: EACH(a[i] = a[i] > 0 ? a[i] : param * EXPM1(a[i]));
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

/* delta (batch, width): dL/da -> dL/dz, in place, from the layer's output a
 * (param as in act_forward). */
NN_INLINE void FN(act_backward)(int activation, T param, T *delta, const T *a, int64_t batch,
                                int64_t width)
{
    const int64_t n = batch * width;
    switch (activation) {
    case NN_SIGMOID: EACH(delta[i] *= a[i] * ((T)1 - a[i]));
    case NN_TANH: EACH(delta[i] *= (T)1 - a[i] * a[i]);
    case NN_RELU: EACH(delta[i] = a[i] > 0 ? delta[i] : (T)0);
    /* (slope >= 0 and alpha > 0 keep a > 0 exactly where z > 0) */
    case NN_LEAKY_RELU: EACH(delta[i] = a[i] > 0 ? delta[i] : param * delta[i]);
    /* ELU: for z <= 0, d/dz alpha (e^z - 1) = alpha e^z = a + alpha */
    case NN_ELU: EACH(delta[i] = a[i] > 0 ? delta[i] : delta[i] * (a[i] + param));
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
#undef EACH

/* Maxout of k pieces: a (batch, m) from z (batch, m k), unit j of row r the
 * largest of z[r, j k .. j k + k - 1], the first of them on ties (a NaN
 * piece is never chosen over an earlier one, except as the first). */
NN_INLINE int64_t FN(maxout_pick)(const T *pieces, int64_t k)
{
    int64_t best = 0;
    for (int64_t p = 1; p < k; p++) best = pieces[p] > pieces[best] ? p : best;
    return best;
}

void FN(nn_maxout_forward)(T *a, const T *z, int64_t batch, int64_t m, int64_t k)
{
    for (int64_t i = 0; i < batch * m; i++) a[i] = z[i * k + FN(maxout_pick)(z + i * k, k)];
}

/* dz (batch, m k) from da (batch, m) = dL/da and z: each unit's gradient to
 * the piece forward chose, zero to the others.  dz may be da itself (the
 * rows are expanded from the last, so no value is overwritten before it is
 * read). */
void FN(nn_maxout_backward)(T *dz, const T *da, const T *z, int64_t batch, int64_t m, int64_t k)
{
    for (int64_t i = batch * m - 1; i >= 0; i--) {
        const T d = da[i];
        const int64_t pick = FN(maxout_pick)(z + i * k, k);
        for (int64_t p = k - 1; p >= 0; p--) dz[i * k + p] = p == pick ? d : (T)0;
    }
}

/* sums (j1 - j0,) = the column sums of delta (batch, n_out) over columns
 * [j0, j1), each summed from 0 in row order; 16 columns at a time in a
 * local array, so that the sums stay in registers (summed into memory, each
 * row's add waited for the last row's store). */
NN_INLINE void FN(column_sums)(T *sums, const T *delta, int64_t batch, int64_t n_out,
                               int64_t j0, int64_t j1)
{
    for (int64_t c0 = j0; c0 < j1; c0 += 16) {
        const int64_t w = j1 - c0 < 16 ? j1 - c0 : 16;
        T acc[16] = {0};
        if (w == 16) {
            for (int64_t i = 0; i < batch; i++) {
                const T *row = delta + i * n_out + c0;
                for (int c = 0; c < 16; c++) acc[c] += row[c];
            }
        } else {
            for (int64_t i = 0; i < batch; i++) {
                const T *row = delta + i * n_out + c0;
                for (int64_t c = 0; c < w; c++) acc[c] += row[c];
            }
        }
        for (int64_t c = 0; c < w; c++) sums[c0 - j0 + c] = acc[c];
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
    if (d_biases) FN(column_sums)(d_biases, delta, batch, n_out, 0, n_out);
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

/* Whether the loss is computed from the output layer's pre-activation z:
 * binary cross-entropy of a sigmoid and cross-entropy of a softmax, whose
 * values from p alone are lost when p rounds to 0 or 1. */
NN_INLINE int FN(loss_from_z)(int loss, int activation)
{
    return (loss == NN_BCE && activation == NN_SIGMOID) ||
           (loss == NN_CROSS_ENTROPY && activation == NN_SOFTMAX);
}

/* The loss of predictions p (batch, k) against targets y (batch, k), element
 * (r, j) of each at [r * rs + j * cs], summed row by row.  With z (the output
 * layer's pre-activation, same layout) and FN(loss_from_z), exactly from z:
 *   bce:  softplus(z) - y z = (z > 0 ? (1 - y) z : -y z) + log1p(e^-|z|)
 *   cross-entropy: sum_j y_j (lse(z) - z_j), lse(z) - z_j = (m - z_j) + log1p(s),
 *     m = max z, s = sum of e^(z_i - m) over the i other than the (first) argmax;
 * else from p, the log arguments clamped so that a saturated output stays finite. */
NN_INLINE double FN(loss_forward)(int loss, const T *p, const T *z, const T *y, int64_t batch,
                                  int64_t k, int64_t rs, int64_t cs)
{
    T sum = 0;
    for (int64_t r = 0; r < batch; r++) {
        const T *pr = p + r * rs, *yr = y + r * rs, *zr = z ? z + r * rs : NULL;
        T top = 0, log1p_rest = 0; /* softmax: m, and log1p(s) */
        if (zr && loss == NN_CROSS_ENTROPY) {
            int64_t c = 0;
            for (int64_t j = 1; j < k; j++) c = zr[j * cs] > zr[c * cs] ? j : c;
            top = zr[c * cs];
            T rest = 0;
            for (int64_t j = 0; j < k; j++) rest += j == c ? (T)0 : EXP(zr[j * cs] - top);
            log1p_rest = LOG1P(rest);
        }
        for (int64_t j = 0; j < k; j++) {
            const T pj = pr[j * cs], yj = yr[j * cs];
            switch (loss) {
            case NN_MSE:
            case NN_SSE: {
                const T e = yj - pj;
                sum += e * e;
                break;
            }
            case NN_POISSON:
                sum += EXP(pj) - yj * pj + (yj != 0 ? yj * LOG(yj) - yj : (T)0);
                break;
            case NN_BCE:
                if (zr) {
                    const T zj = zr[j * cs], az = zj > 0 ? zj : -zj;
                    sum += (zj > 0 ? ((T)1 - yj) * zj : -yj * zj) + LOG1P(EXP(-az));
                } else {
                    const T q = (T)1 - pj;
                    if (yj != 0) sum -= yj * LOG(pj > T_TINY ? pj : T_TINY);
                    if (yj != 1) sum -= ((T)1 - yj) * LOG(q > T_TINY ? q : T_TINY);
                }
                break;
            default: /* NN_CROSS_ENTROPY */
                if (yj == 0) break;
                if (zr)
                    sum += yj * ((top - zr[j * cs]) + log1p_rest);
                else
                    sum -= yj * LOG(pj > T_TINY ? pj : T_TINY);
                break;
            }
        }
    }
    return FN(loss_scale)(loss, sum, batch, k);
}

/* scikit-learn's log-loss of probabilities p (batch, k) against targets y:
 * bce or cross-entropy (other losses: FN(loss_forward)) from p clipped to
 * [clip, 1 - clip] in T, as its log_loss and binary_log_loss clip with
 * eps = finfo(dtype).eps; a target of 0 contributes nothing (xlogy). */
NN_INLINE double FN(loss_forward_clipped)(int loss, const T *p, const T *y, int64_t batch,
                                          int64_t k, T clip)
{
    if (loss != NN_BCE && loss != NN_CROSS_ENTROPY)
        return FN(loss_forward)(loss, p, NULL, y, batch, k, k, 1);
    const T high = (T)1 - clip;
    T sum = 0;
    for (int64_t i = 0; i < batch * k; i++) {
        const T pc = p[i] < clip ? clip : p[i] > high ? high : p[i], yi = y[i];
        if (yi != 0) sum -= yi * LOG(pc);
        if (loss == NN_BCE && yi != 1) sum -= ((T)1 - yi) * LOG((T)1 - pc);
    }
    return FN(loss_scale)(loss, sum, batch, k);
}

/* The weighted sum of the rows' losses, each row's FN(loss_forward) alone (or
 * FN(loss_forward_clipped) when clip > 0) times w[r]; *w_sum receives the
 * sum of the weights.  The weighted loss is this divided by *w_sum (0 when
 * that is 0), except sse's, the sum itself (FN(weighted_loss)). */
NN_INLINE double FN(loss_rows_weighted)(int loss, const T *p, const T *z, const T *y,
                                        const T *w, int64_t batch, int64_t k, T clip,
                                        double *w_sum)
{
    double total = 0, sum = 0;
    for (int64_t r = 0; r < batch; r++) {
        const T *pr = p + r * k, *yr = y + r * k, *zr = z ? z + r * k : NULL;
        const double row = clip > 0 ? FN(loss_forward_clipped)(loss, pr, yr, 1, k, clip)
                                    : FN(loss_forward)(loss, pr, zr, yr, 1, k, k, 1);
        total += (double)w[r] * row;
        sum += (double)w[r];
    }
    *w_sum = sum;
    return total;
}

NN_INLINE double FN(weighted_loss)(int loss, double total, double w_sum)
{
    return loss == NN_SSE ? total : w_sum > 0 ? total / w_sum : 0.0;
}

/* delta (batch, k), the gradient (dL/dp or dL/dz, row by row) of the batch's
 * unweighted loss, made the weighted loss's: row r times w[r] batch / sum(w)
 * (w[r] for sse; 0 when the weights sum to 0). */
NN_INLINE void FN(weight_rows)(int loss, T *delta, const T *w, int64_t batch, int64_t k)
{
    double sum = 0;
    for (int64_t r = 0; r < batch; r++) sum += (double)w[r];
    const double scale = loss == NN_SSE ? 1.0 : sum > 0 ? (double)batch / sum : 0.0;
    for (int64_t r = 0; r < batch; r++) {
        const T f = (T)((double)w[r] * scale);
        for (int64_t j = 0; j < k; j++) delta[r * k + j] *= f;
    }
}

double FN(nn_loss_forward)(int loss, const T *p, const T *y, int64_t batch, int64_t k)
{
    return FN(loss_forward)(loss, p, NULL, y, batch, k, k, 1);
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
    case NN_POISSON: {
        const T scale = (T)1 / (T)n;
        for (int64_t i = 0; i < count; i++) error[i] = (EXP(p[i]) - y[i]) * scale;
        break;
    }
    default: /* NN_CROSS_ENTROPY */
        for (int64_t i = 0; i < count; i++) error[i] = -y[i] / (p[i] * (T)batch);
        break;
    }
}

/* delta (batch, k) = dL/dz of the output layer, whose activation (with its
 * param) is given and whose output is p.  Sigmoid + bce and softmax +
 * cross-entropy use the fused, exact form (p - y) / scale. */
NN_INLINE void FN(loss_backward)(int loss, int activation, T param, T *delta, const T *p,
                                 const T *y, int64_t count, int64_t batch, int64_t k)
{
    const int64_t n = batch * k;
    if ((loss == NN_BCE && activation == NN_SIGMOID) ||
        (loss == NN_CROSS_ENTROPY && activation == NN_SOFTMAX)) {
        const T scale = (T)1 / (T)(loss == NN_BCE ? n : batch);
        for (int64_t i = 0; i < count; i++) delta[i] = (p[i] - y[i]) * scale;
        return;
    }
    FN(loss_gradient)(loss, delta, p, y, count, batch, k);
    FN(act_backward)(activation, param, delta, p, 1, count); /* not softmax: elementwise */
}

/* delta (batch, k) = dL/dz of an output layer of any activation, softmax
 * included (row-wise: through dL/dp when the loss is not cross-entropy). */
NN_INLINE void FN(loss_backward_rows)(int loss, int activation, T param, T *delta, const T *p,
                                      const T *y, int64_t batch, int64_t k)
{
    if (activation == NN_SOFTMAX && loss != NN_CROSS_ENTROPY) {
        FN(loss_gradient)(loss, delta, p, y, batch * k, batch, k);
        FN(act_backward)(activation, param, delta, p, batch, k);
        return;
    }
    FN(loss_backward)(loss, activation, param, delta, p, y, batch * k, batch, k);
}
