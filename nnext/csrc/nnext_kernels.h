/*
 * The hot functions of the core, compiled once per instruction set: a
 * template for one real type T and one instruction set (ISA, NN_TARGET; see
 * nnext_isa_instantiate.h).  Each is a thin shell whose body, inlined from
 * nnext_layers.h / nnext_optim.h / nnext_train.h, the compiler vectorises for
 * that instruction set.  nnext_core_typed.h dispatches to them (NN_ISA_PICK).
 */
#define KFN(name) NN_CAT3(name, S, ISA)

NN_TARGET static void KFN(activation_forward)(int activation, T param, T *a, int64_t batch,
                                              int64_t width)
{
    FN(act_forward)(activation, param, a, batch, width, 0);
}

NN_TARGET static void KFN(activation_backward)(int activation, T param, T *delta, const T *a,
                                               int64_t batch, int64_t width)
{
    FN(act_backward)(activation, param, delta, a, batch, width);
}

NN_TARGET static void KFN(loss_gradient)(int loss, T *error, const T *p, const T *y,
                                         int64_t batch, int64_t k)
{
    FN(loss_gradient)(loss, error, p, y, batch * k, batch, k);
}

NN_TARGET static void KFN(loss_backward)(int loss, int activation, T param, T *delta,
                                         const T *p, const T *y, int64_t batch, int64_t k)
{
    FN(loss_backward_rows)(loss, activation, param, delta, p, y, batch, k);
}

NN_TARGET static void KFN(update)(T *params, const T *grads, T *opt_state, int64_t P,
                                  nn_train_config *cfg)
{
    FN(update_all)(params, grads, opt_state, P, cfg);
}

NN_TARGET static nn_status KFN(train_fused)(const nn_net *net, T *params, T *opt_state,
                                            const T *X, const T *Y, int64_t n,
                                            nn_train_config *cfg, double *epoch_losses,
                                            nn_train_result *result, FN(train_bufs) *bb)
{
    return FN(train)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result, bb, 1);
}

#undef KFN
