/*
 * nnext core: forward pass, backpropagation and training of fully-connected
 * networks over flat arrays.  Plain C11, no Python: testable on its own.
 *
 * A network of L weight layers maps widths sizes[0] -> sizes[1] -> ... -> sizes[L].
 * Layer l (0-based) computes, for a batch of B rows stored row-major:
 *
 *     z_l   = a_l @ W_l + b_l          a_l: (B, sizes[l])   W_l: (sizes[l], cols_l)
 *     a_l+1 = act_l(z_l)               b_l: (cols_l,)       a_0 is the input X
 *
 * where cols_l = sizes[l+1], except for a maxout layer of k pieces, whose
 * cols_l = sizes[l+1] * k pre-activations give its sizes[l+1] units
 * (nn_layer_cols).  Some activations take one parameter per layer (the
 * leaky ReLU's slope, the ELU's alpha, maxout's k: nn_activation_param).
 *
 * All parameters live in one contiguous block, layer by layer: W_0, b_0, W_1, b_1, ...
 * (no b_l when the network has no biases).  Gradients use the same layout, so
 * an update is one pass over the block.  Every function exists for double
 * (suffix _f64) and float (suffix _f32); the arithmetic is done in that type.
 *
 * Ownership: the caller owns every array passed in.  The only memory the core
 * allocates is a workspace (nn_workspace_*), freed by the matching *_free.
 */
#ifndef NNEXT_CORE_H
#define NNEXT_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Activation functions, one per weight layer. */
typedef enum {
    NN_SIGMOID = 0,
    NN_TANH = 1,
    NN_RELU = 2,
    NN_LEAKY_RELU = 3, /* x > 0 ? x : slope x   (slope 0.01 by default) */
    NN_ELU = 4,        /* x > 0 ? x : alpha (exp(x) - 1)   (alpha 1 by default) */
    NN_LINEAR = 5,
    NN_SOFTMAX = 6,    /* row-wise; output layer only */
    NN_MAXOUT = 7,     /* unit j: max of z[j*k .. j*k+k-1] (the first on ties);
                          hidden layers only */
    NN_N_ACTIVATIONS
} nn_activation;

/* Losses over a batch of B rows and k outputs, p = prediction, y = target. */
typedef enum {
    NN_MSE = 0,           /* sum (y-p)^2 / (B k)                              */
    NN_SSE = 1,           /* 1/2 sum (y-p)^2 (Trask: not averaged)             */
    NN_BCE = 2,           /* -sum [y log p + (1-y) log(1-p)] / (B k); sigmoid  */
    NN_CROSS_ENTROPY = 3, /* -sum y log p / B; softmax output                  */
    NN_POISSON = 4,       /* sum [e^p - y p + y log y - y] / (B k): half the
                             Poisson deviance of the rate e^p (p the log-rate,
                             a linear output; y >= 0, y log y = 0 at y = 0)  */
    NN_N_LOSSES
} nn_loss;

typedef enum { NN_SGD = 0, NN_ADAM = 1, NN_N_OPTIMIZERS } nn_optimizer;

/* Status codes returned by the functions that can fail. */
typedef enum {
    NN_OK = 0,
    NN_ERR_NOMEM = 1,       /* an allocation failed; nothing was changed        */
    NN_ERR_INTERRUPTED = 2, /* the poll callback asked to stop                   */
    NN_ERR_NONFINITE = 3,   /* the loss turned NaN/inf; parameters restored      */
    NN_ERR_INVALID = 4      /* inconsistent arguments (the binding checks first) */
} nn_status;

/* Limits of a network (nn_net_valid): layers, a layer's width, and the
 * number of parameters, so that every size the core computes from them
 * (parameters times optimizer blocks times bytes) fits in 64 bits. */
#define NN_MAX_LAYERS 64
#define NN_MAX_WIDTH ((int64_t)1 << 31)
#define NN_MAX_PARAMS ((int64_t)1 << 56)

/* The names of the codes above ("sigmoid", "mse", "adam", ...), NULL for an
 * unknown code: the one table the Python layer reads its names from. */
const char *nn_activation_name(int code);
const char *nn_loss_name(int code);
const char *nn_optimizer_name(int code);

/* An activation's parameter: its name, default and range, the one table the
 * Python layer reads them from.  leaky_relu: "slope" in [0, 1], default 0.01;
 * elu: "alpha" > 0 (finite), default 1; maxout: "pieces" k, a whole number in
 * [1, NN_MAX_WIDTH], default 2.  (The slope and alpha are kept where the
 * backward pass, written from the layer's output, stays exact: an output
 * a > 0 exactly where z > 0.) */
typedef struct {
    const char *name;
    double fallback;  /* the default                      */
    double low, high; /* the range: [low, high]            */
    int low_open;     /* 1: low itself is excluded         */
    int integral;     /* 1: a whole number                 */
} nn_activation_param_info;

/* NULL for an activation that takes no parameter (or an unknown code). */
const nn_activation_param_info *nn_activation_param(int code);
/* 1 when value is a valid parameter of the activation (finite, in range). */
int nn_activation_param_ok(int code, double value);

/* The shape of a network; the parameters are a separate flat block. */
typedef struct {
    int n_layers;             /* L >= 1 weight layers                      */
    const int64_t *sizes;     /* L + 1 widths, each >= 1                    */
    const int *activations;   /* L nn_activation codes                      */
    int has_bias;             /* 0: Trask's bias-free layers               */
    const double *act_params; /* L activation parameters (ignored for the
                                 activations without one), or NULL: every
                                 layer at its activation's default         */
} nn_net;

/* 1 when the network is one the core can run: 1..NN_MAX_LAYERS layers, widths
 * and layer columns 1..NN_MAX_WIDTH, known activations (softmax last only,
 * maxout not last) with valid parameters, at most NN_MAX_PARAMS parameters.
 * Every function below takes valid networks only. */
int nn_net_valid(const nn_net *net);

/* Layer l's activation parameter (act_params[l] or the default; NAN for an
 * activation without one), its maxout pieces (1 for other activations), and
 * its columns cols_l = sizes[l+1] * pieces: W_l is (sizes[l], cols_l). */
double nn_layer_param(const nn_net *net, int layer);
int64_t nn_layer_pieces(const nn_net *net, int layer);
int64_t nn_layer_cols(const nn_net *net, int layer);
/* 1 when some layer is maxout (nn_forward and nn_backward then need pre). */
int nn_has_maxout(const nn_net *net);

/* Number of parameters in the flat block, and where layer l's W_l / b_l start. */
int64_t nn_param_count(const nn_net *net);
int64_t nn_weight_offset(const nn_net *net, int layer);
int64_t nn_bias_offset(const nn_net *net, int layer); /* -1 without biases */
int64_t nn_max_width(const nn_net *net); /* the largest of the sizes and the cols */

/* Called from long loops about every 50 ms; a non-zero return stops the loop
 * (NN_ERR_INTERRUPTED).  The binding uses it to check for Ctrl-C. */
typedef int (*nn_poll_fn)(void *ctx);

/* The same for the calls that take no config (nn_forward, nn_predict,
 * nn_loss_value, nn_backward, nn_gradients): between nn_poll_begin(poll, ctx)
 * and nn_poll_end() on one thread, their loops call poll about every 50 ms
 * of work, between chunks of rows, layers and blocks of large products; once
 * it returns non-zero they stop early, their outputs unspecified (the
 * parameters are never written by them), and nn_poll_end() returns 1.
 * nn_train polls through cfg->poll in the same way.  Scopes do not nest. */
void nn_poll_begin(nn_poll_fn poll, void *ctx);
int nn_poll_end(void);

/* Training settings for nn_train_*. */
typedef struct {
    int loss;               /* nn_loss                                        */
    int optimizer;          /* nn_optimizer                                   */
    double lr;              /* learning rate                                  */
    double momentum;        /* SGD momentum in [0, 1)                         */
    double beta1, beta2, eps; /* Adam                                         */
    int64_t batch_size;     /* rows per step, 1..n                            */
    int shuffle;            /* reshuffle the row order every epoch            */
    uint64_t rng_state;     /* in/out: shuffling generator state (splitmix64) */
    int64_t adam_step;      /* in/out: Adam's t, the number of updates so far */
    int64_t n_epochs;       /* epochs to run in this call                     */
    nn_poll_fn poll;        /* may be NULL                                    */
    void *poll_ctx;
    /* Added for scikit-learn's estimators; a zeroed field keeps the plain
     * behaviour above (and the fused path, which takes only that). */
    const double *epoch_lr; /* NULL, or n_epochs rates: epoch e of this call runs
                               with lr = epoch_lr[e] (lr is overwritten)       */
    double l2, l1;          /* per step, weights only (not biases): the batch
                               loss gains l2/2 sum W^2 + l1 sum |W|, the
                               gradient l2 W + l1 sign(W)                      */
    int reg_per_row;        /* l2, l1 divided by the batch's rows (sklearn's
                               alpha/2 sum W^2 / n_batch)                      */
    int nesterov;           /* SGD momentum: v = mu v - lr g; w += mu v - lr g */
    int adam_folded;        /* Adam's bias correction in the step (Kingma & Ba
                               sec. 2, sklearn): w -= lr sqrt(1-b2^t)/(1-b1^t)
                               m / (sqrt(v) + eps)                             */
    int loss_by_rows;       /* epoch loss: the batch losses weighted by rows   */
    double loss_scale;      /* batch loss value times this (0: 1)              */
    double grad_scale;      /* the loss's gradient times this (0: 1), before
                               l2 and l1 are added                             */
    double prob_clip;       /* 0: the bce and cross-entropy values exact (from
                               z); > 0: from the probabilities clipped to
                               [prob_clip, 1 - prob_clip] (scikit-learn's
                               log-loss, whose eps saturated outputs meet).
                               The value only: the gradient stays exact    */
    const int64_t *epoch_order; /* NULL, or n_epochs blocks of n row indices in
                               [0, n): epoch e visits the rows in the order
                               epoch_order[e n .. e n + n - 1] (shuffle and
                               rng_state are then unused)                  */
    const void *sample_weight; /* NULL, or n row weights (T, finite, >= 0): each
                               batch's loss the weighted mean of its rows'
                               (sse: the weighted sum; 0 for weights summing
                               to 0), its gradient likewise; reg_per_row
                               then divides by the batch's weight sum
                               (scikit-learn's sample_weight)              */
} nn_train_config;

/* Blocks of nn_param_count values in opt_state, which also names the
 * optimizer's kind: 0 plain SGD, 1 SGD with momentum (velocity), 2 Adam (m, v). */
int nn_optimizer_state_blocks(const nn_train_config *cfg);

/* What nn_train_* did. */
typedef struct {
    int64_t epochs_done;    /* completed epochs (their losses are written)    */
    int64_t bad_epoch;      /* with NN_ERR_NONFINITE: the epoch that failed   */
} nn_train_result;

/* The most threads nn_set_num_threads takes. */
#define NN_MAX_THREADS 64

/* Threads for large products (about 2 MFLOP and more; small networks never
 * use them).  n < 1 restores the default: NNEXT_NUM_THREADS from the
 * environment, else the number of online CPUs.  Safe across fork(): a child
 * starts its own workers when it first needs them. */
void nn_set_num_threads(int n);
int nn_get_num_threads(void);

/* nn_train runs tiny networks (Trask's 3-4-1, Zhou's 2-2-1: batches of at
 * most 4 rows in double, 8 in float, layers whose products the general path
 * computes with its small loops, no softmax or maxout) on a fused path: a whole step in
 * one function, with each neuron's values over the batch in one vector.  It
 * computes the same sums in the same order as the general path, so the same
 * results to the bit; bench/trask_step.c measures both.  It is on by default;
 * turning it off (process-wide) is for tests and benchmarks. */
void nn_set_fused_path(int enabled);
int nn_get_fused_path(void);

/* Starting weights (nnext_random.c): numpy's legacy generator,
 * np.random.RandomState(seed) for an int seed, without numpy: its MT19937
 * state, random_sample() and standard_normal() (the polar method, which keeps
 * the pair's second value), the same doubles to the bit. */
typedef struct {
    uint32_t key[624]; /* MT19937's state words */
    int pos;           /* next word; 624: generate the next block first */
    int has_gauss;     /* standard_normal's kept second value, when set */
    double gauss;
} nn_mt19937;
void nn_mt19937_seed(nn_mt19937 *state, uint32_t seed);
double nn_mt19937_double(nn_mt19937 *state); /* random_sample(): [0, 1) */
double nn_mt19937_gauss(nn_mt19937 *state);  /* standard_normal() */
/* Weight initialisations, by name for Python (nn_init_name): "uniform" 2u - 1
 * (Trask), "normal" N(0, 1) (Zhou), "xavier" (2u - 1) sqrt(6 / (n_in + n_out)),
 * n_out the layer's columns (nn_layer_cols),
 * "he" N(0, 1) sqrt(2 / n_in). */
enum { NN_INIT_UNIFORM = 0, NN_INIT_NORMAL, NN_INIT_XAVIER, NN_INIT_HE, NN_N_INITS };
const char *nn_init_name(int code);
/* Every weight matrix in layer order drawn from state by scheme into params
 * (elements of elem_size bytes: double, or float rounded from the double);
 * biases untouched.  Non-zero for an invalid net, scheme or elem_size. */
int nn_init_weights(const nn_net *net, void *params, size_t elem_size, int scheme,
                    nn_mt19937 *state);

/* A reusable scratch area for one network and a maximum batch size; NULL
 * when out of memory. */
typedef struct nn_workspace nn_workspace;
void nn_workspace_free(nn_workspace *ws); /* NULL is fine */
int64_t nn_workspace_rows(const nn_workspace *ws); /* its maximum batch */

#define NN_DECLARE(T, S)                                                              \
    /* Layer functions (shapes in the comments of nnext_layers.h). */                      \
    void nn_dense_forward_##S(T *out, const T *in, const T *weights, const T *biases,   \
                              int64_t batch, int64_t n_in, int64_t n_out);              \
    /* param: the activation's parameter (nn_layer_param; ignored without one). */      \
    void nn_activation_forward_##S(int activation, double param, T *a, int64_t batch,   \
                                   int64_t width);                                      \
    void nn_activation_backward_##S(int activation, double param, T *delta, const T *a,  \
                                    int64_t batch, int64_t width);                      \
    void nn_maxout_forward_##S(T *a, const T *z, int64_t batch, int64_t m, int64_t k);   \
    void nn_maxout_backward_##S(T *dz, const T *da, const T *z, int64_t batch, int64_t m, \
                                int64_t k);                                             \
    void nn_dense_backward_##S(T *d_weights, T *d_biases, T *d_in, const T *delta,      \
                               const T *in, const T *weights, int64_t batch,            \
                               int64_t n_in, int64_t n_out);                            \
    void nn_loss_gradient_##S(int loss, T *error, const T *p, const T *y, int64_t batch,   \
                              int64_t k);                                               \
    double nn_loss_forward_##S(int loss, const T *p, const T *y, int64_t batch,          \
                               int64_t k);                                              \
    void nn_loss_backward_##S(int loss, int activation, double param, T *delta,          \
                              const T *p, const T *y, int64_t batch, int64_t k);        \
    /* Whole-network passes. */                                                         \
    nn_workspace *nn_workspace_new_##S(const nn_net *net, int64_t max_batch);           \
    /* acts[0] = X (n, sizes[0]); acts[l] (n, sizes[l]) for l = 1..L are written, and   \
     * pre[l] (n, cols_{l-1}), the pre-activation z_{l-1}, for each maxout layer l-1    \
     * (pre[l] unused, may be NULL, for the others; pre may be NULL without maxout). */ \
    void nn_forward_##S(const nn_net *net, const T *params, T *const *acts,             \
                        T *const *pre, int64_t n);                                      \
    /* Output only, in chunks through the workspace: out (n, sizes[L]). */              \
    void nn_predict_##S(const nn_net *net, const T *params, nn_workspace *ws,           \
                        const T *X, int64_t n, T *out);                                 \
    /* The loss over all n rows, computed in chunks of the workspace's rows (the    \
     * same value as over one batch of n rows, up to rounding). */                   \
    double nn_loss_value_##S(const nn_net *net, const T *params, nn_workspace *ws,      \
                             int loss, const T *X, const T *Y, int64_t n);              \
    /* Backpropagation after nn_forward: given acts[0..L] and pre (n rows) and targets \
     * Y, writes deltas[l] = dL/dz_{l-1} (n, cols_{l-1}) for l = 1..L and grads (param  \
     * layout); errors, when not NULL, receives errors[l] = dL/da_l (n, sizes[l]),      \
     * l = 1..L.  deltas[l] may share memory with deltas[l+2]. */                       \
    void nn_backward_##S(const nn_net *net, const T *params, const T *const *acts,      \
                         const T *const *pre, const T *Y, int64_t n, int loss,          \
                         T *const *errors, T *const *deltas, T *grads);                 \
    /* Loss and its gradient (same layout as params) over one batch of n rows;         \
     * ws must have max_batch >= n.  Returns the loss. */                                \
    double nn_gradients_##S(const nn_net *net, const T *params, nn_workspace *ws,       \
                            int loss, const T *X, const T *Y, int64_t n, T *grads);     \
    /* The objective one step of nn_train minimises, over one batch of all n rows    \
     * (ws with max_batch >= n): the loss (clipped by cfg->prob_clip) times            \
     * loss_scale plus the regularisation (l2, l1, reg_per_row); grads receives its     \
     * gradient.  Only cfg's loss, scales, l2, l1, reg_per_row and prob_clip are read.  \
     * cfg->sample_weight weights the rows.  Returns the objective (NaN when the poll   \
     * stopped it). */                                                                  \
    double nn_objective_##S(const nn_net *net, const T *params, nn_workspace *ws,       \
                            const nn_train_config *cfg, const T *X, const T *Y,         \
                            int64_t n, T *grads);                                       \
    /* Trains in place.  opt_state: nothing for plain SGD, one block (velocity) for    \
     * SGD with momentum, two (m, v) for Adam, each nn_param_count long.               \
     * epoch_losses[e] receives the mean batch loss of epoch e. */                      \
    nn_status nn_train_##S(const nn_net *net, T *params, T *opt_state, const T *X,      \
                           const T *Y, int64_t n, nn_train_config *cfg,                 \
                           double *epoch_losses, nn_train_result *result);              \
    /* Whether nn_train runs this network with batches of at most batch rows on the    \
     * fused path (nn_set_fused_path), given a config without l2, l1, nesterov,         \
     * adam_folded, loss_by_rows or scales (those run on the general path). */          \
    int nn_fused_path_used_##S(const nn_net *net, int64_t batch);

NN_DECLARE(double, f64)
NN_DECLARE(float, f32)

#undef NN_DECLARE

/* The whole-network functions above for one element type, behind untyped
 * pointers: a caller that holds its type at run time (the Python binding)
 * picks a table once, nn_ops_f64 or nn_ops_f32, instead of branching on the
 * type at every call.  Each entry is the function of the same name. */
typedef struct {
    size_t elem_size; /* sizeof(double) or sizeof(float) */
    nn_workspace *(*workspace_new)(const nn_net *net, int64_t max_batch);
    void (*forward)(const nn_net *net, const void *params, void *const *acts, void *const *pre,
                    int64_t n);
    void (*predict)(const nn_net *net, const void *params, nn_workspace *ws, const void *X,
                    int64_t n, void *out);
    /* w: NULL, or the n rows' weights (see nn_train_config's sample_weight) */
    double (*loss_value)(const nn_net *net, const void *params, nn_workspace *ws, int loss,
                         const void *X, const void *Y, const void *w, int64_t n);
    void (*backward)(const nn_net *net, const void *params, const void *const *acts,
                     const void *const *pre, const void *Y, int64_t n, int loss,
                     void *const *errors, void *const *deltas, void *grads);
    double (*gradients)(const nn_net *net, const void *params, nn_workspace *ws, int loss,
                        const void *X, const void *Y, const void *w, int64_t n, void *grads);
    double (*objective)(const nn_net *net, const void *params, nn_workspace *ws,
                        const nn_train_config *cfg, const void *X, const void *Y, int64_t n,
                        void *grads);
    nn_status (*train)(const nn_net *net, void *params, void *opt_state, const void *X,
                       const void *Y, int64_t n, nn_train_config *cfg, double *epoch_losses,
                       nn_train_result *result);
} nn_ops;

extern const nn_ops nn_ops_f64, nn_ops_f32;

#ifdef __cplusplus
}
#endif
#endif /* NNEXT_CORE_H */
