/*
 * The core's internal declarations, shared by nnext_core.c (the
 * type-independent parts) and nnext_core_f64.c / nnext_core_f32.c (the typed
 * core, one type each so that the two compile in parallel).  Not installed,
 * not part of the API.
 */
#ifndef NNEXT_CORE_INTERNAL_H
#define NNEXT_CORE_INTERNAL_H

#include "nnext_core.h"
#include "nnext_exp.h"
#include "nnext_gemm.h"
#include "nnext_isa.h"
#include "nnext_runtime.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Elementwise passes (activations, bias sums) over this many elements or
 * more are split over the threads: at batch 1,024 of bench/run.py's case E
 * network a 1024x256 activation pass takes about 15 us on one thread, while
 * a parallel call costs about 1 us (its wake-up and join). */
#define NN_PARALLEL_ELEMS 65536.0

/* ------------------------------------------------------------- workspace */

struct nn_workspace {
    int64_t max_batch;
    void *acts[NN_MAX_LAYERS + 1]; /* acts[l]: (max_batch, sizes[l]); acts[0] gathers X */
    void *pre[NN_MAX_LAYERS + 1];  /* pre[l]: (max_batch, cols_{l-1}) for a maxout layer
                                      l-1 (its pre-activation), else NULL             */
    void *delta[2];                /* (max_batch, max width) each (nn_max_width)         */
    void *grads;                   /* (param count,)                                    */
    void *z;                       /* (max_batch, sizes[L]) the output's pre-activation */
    void *extra;                   /* caller-defined, extra_elems elements              */
    int64_t *order;                /* (n_order,) row indices, or NULL                   */
    void *block;                   /* the single allocation behind all of the above
                                      (after its 64-byte header: nnext_core.c)          */
};

/* *out = a * b + c for a, b, c >= 0; non-zero (and *out untouched) when the
 * result does not fit in int64_t.  Every size computation goes through it. */
int nn_mul_add(int64_t *out, int64_t a, int64_t b, int64_t c);

/* One allocation holding every buffer (elem bytes an element), with
 * extra_elems caller-defined elements and an order of n_order indices; NULL
 * when out of memory or when the sizes do not fit in memory's address range. */
nn_workspace *nn_ws_new(const nn_net *net, int64_t max_batch, size_t elem, int64_t extra_elems,
                        int64_t n_order);

/* ---------------------------------------------------- polling, shuffling */

/* The training loop's poll: nn_poll_due() (nnext_runtime.h) every `stride`
 * steps, so that tiny networks do not pay for a clock read every step. */
typedef struct {
    int64_t stride, countdown;
} nn_poller;

static inline void poller_init(nn_poller *p, double flops_per_step)
{
    const double stride = 2e5 / (flops_per_step > 1 ? flops_per_step : 1);
    p->stride = stride < 1 ? 1 : (int64_t)stride;
    p->countdown = p->stride;
}

/* Non-zero when the loop must stop.  (A poll inside a step, which only large
 * steps make, is seen by the loop right after that step.) */
static inline int poller_tick(nn_poller *p)
{
    if (--p->countdown > 0) return 0;
    p->countdown = p->stride;
    return nn_poll_due();
}

/* An epoch's mean loss: sum / count, where `small` is the same sum of
 * finite batch losses times 2^-64.  When the plain sum overflowed (losses
 * near DBL_MAX), the mean is taken from `small`, rounded back into the finite
 * range it must lie in; otherwise it is the plain sum's, to the bit. */
static inline double epoch_mean_loss(double sum, double small, int64_t count)
{
    const double mean = count == 1 ? sum : sum / (double)count;
    if (isfinite(mean)) return mean;
    const double rescaled = (count == 1 ? small : small / (double)count) * 0x1p64;
    return rescaled > DBL_MAX ? DBL_MAX : rescaled < -DBL_MAX ? -DBL_MAX : rescaled;
}

/* splitmix64 -> uniform double in [0, 1) */
static inline double rng_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* GCC and clang vector extensions: the fused path's vectors of 32 bytes. */
#if defined(__GNUC__)
#define NN_HAVE_VECTORS 1
#else
#define NN_HAVE_VECTORS 0
#endif

/* (a[i0] or b[i0 - 4], ...): four lanes picked from two 4-lane vectors, with
 * constant indices.  GCC spells it __builtin_shuffle with an index vector,
 * clang __builtin_shufflevector (the fuzz targets are built with clang). */
#if defined(__clang__)
#define NN_SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define NN_SHUFFLE4(a, b, i0, i1, i2, i3) \
    __builtin_shuffle(a, b, (long long __attribute__((vector_size(32)))){i0, i1, i2, i3})
#endif

#endif /* NNEXT_CORE_INTERNAL_H */
