/*
 * The core for one real type T (suffix S): included twice by nnext_core.c
 * through nnext_instantiate.h.  In the order a reader meets the math:
 */
#include "nnext_gemm_small.h"   /* the small products' loops, inlined by the fused path */
#include "nnext_layers.h"       /* dense, activation and loss layers, forward and backward */
#include "nnext_optim.h"        /* SGD, momentum, Adam: one parameter at a time */
#include "nnext_network.h"      /* the whole network: forward, backward, loss, gradient */
#include "nnext_fused.h"        /* a tiny network's whole training step in one function */
#include "nnext_train.h"        /* the training loop */

/* The hot functions, once per instruction set (nnext_kernels.h) ... */
#define NN_ISA_TEMPLATE "nnext_kernels.h"
#include "nnext_isa_instantiate.h"
#undef NN_ISA_TEMPLATE

/* ... and the entry points that pick the variant for this machine. */
void FN(nn_activation_forward)(int activation, double param, T *a, int64_t batch, int64_t width)
{
    NN_ISA_PICK(activation_forward)(activation, (T)param, a, batch, width);
}

void FN(nn_activation_backward)(int activation, double param, T *delta, const T *a,
                                int64_t batch, int64_t width)
{
    NN_ISA_PICK(activation_backward)(activation, (T)param, delta, a, batch, width);
}

void FN(nn_loss_gradient)(int loss, T *error, const T *p, const T *y, int64_t batch, int64_t k)
{
    NN_ISA_PICK(loss_gradient)(loss, error, p, y, batch, k);
}

void FN(nn_loss_backward)(int loss, int activation, double param, T *delta, const T *p,
                          const T *y, int64_t batch, int64_t k)
{
    NN_ISA_PICK(loss_backward)(loss, activation, (T)param, delta, p, y, batch, k);
}

static void FN(apply_update)(T *params, const T *grads, T *opt_state, int64_t P,
                             nn_train_config *cfg)
{
    NN_ISA_PICK(update)(params, grads, opt_state, P, cfg);
}

static nn_status FN(train_fused)(const nn_net *net, T *params, T *opt_state, const T *X,
                                 const T *Y, int64_t n, nn_train_config *cfg,
                                 double *epoch_losses, nn_train_result *result,
                                 FN(train_bufs) *bb)
{
    return NN_ISA_PICK(train_fused)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result,
                                    bb);
}

/* The untyped table (nnext_core.h): each entry calls its typed function. */
static void FN(forward_any)(const nn_net *net, const void *params, void *const *acts,
                            void *const *pre, int64_t n)
{
    FN(nn_forward)(net, params, (T *const *)acts, (T *const *)pre, n);
}

static void FN(predict_any)(const nn_net *net, const void *params, nn_workspace *ws,
                            const void *X, int64_t n, void *out)
{
    FN(nn_predict)(net, params, ws, X, n, out);
}

static double FN(loss_value_any)(const nn_net *net, const void *params, nn_workspace *ws,
                                 int loss, const void *X, const void *Y, const void *w,
                                 int64_t n)
{
    return FN(loss_value_w)(net, params, ws, loss, X, Y, w, n);
}

static void FN(backward_any)(const nn_net *net, const void *params, const void *const *acts,
                             const void *const *pre, const void *Y, int64_t n, int loss,
                             void *const *errors, void *const *deltas, void *grads)
{
    FN(nn_backward)(net, params, (const T *const *)acts, (const T *const *)pre, Y, n, loss,
                    (T *const *)errors, (T *const *)deltas, grads);
}

static double FN(gradients_any)(const nn_net *net, const void *params, nn_workspace *ws,
                                int loss, const void *X, const void *Y, const void *w,
                                int64_t n, void *grads)
{
    return FN(gradients_w)(net, params, ws, loss, X, Y, w, n, grads);
}

static double FN(objective_any)(const nn_net *net, const void *params, nn_workspace *ws,
                                const nn_train_config *cfg, const void *X, const void *Y,
                                int64_t n, void *grads)
{
    return FN(nn_objective)(net, params, ws, cfg, X, Y, n, grads);
}

static nn_status FN(train_any)(const nn_net *net, void *params, void *opt_state, const void *X,
                               const void *Y, int64_t n, nn_train_config *cfg,
                               double *epoch_losses, nn_train_result *result)
{
    return FN(nn_train)(net, params, opt_state, X, Y, n, cfg, epoch_losses, result);
}

const nn_ops FN(nn_ops) = {sizeof(T),          FN(nn_workspace_new), FN(forward_any),
                           FN(predict_any),    FN(loss_value_any),   FN(backward_any),
                           FN(gradients_any),  FN(objective_any), FN(train_any)};

#undef NN_SPLAT
#undef NN_LANES
