/* Shared by fann_zhou.c and fann_trask.c: FANN 2.2 (Debian's libfann-dev,
 * double build: doublefann.h, -ldoublefann) set up for a tutorial's math.
 *
 * FANN numbers its neurons layer by layer, each layer followed by its bias
 * neuron (value 1): for sizes n0, n1, n2 the neurons of layer l start at
 * off[l] = sum of (n_k + 1) for k < l and the bias of layer l is off[l] + n[l].
 * A connection (from, to) holds nnext's W_l[k][j] when from = off[l] + k and
 * to = off[l+1] + j, and b_l[j] when from = off[l] + n[l] (the bias neuron).
 *
 * What is set so that FANN computes the tutorials' math:
 *  - FANN_SIGMOID is 1/(1 + exp(-2 s x)) on s x: steepness s = 0.5 gives
 *    1/(1 + exp(-x)) exactly (0.5 x and 2 (0.5 x) are exact), with glibc's exp;
 *  - its derivative is 2 s v (1 - v) = v (1 - v), but FANN 2.2 first clips v
 *    to [0.01, 0.99] (fann_activation_derived): once a neuron saturates beyond
 *    that, FANN's gradient differs from the tutorials'.  This cannot be turned
 *    off through the API;
 *  - FANN_ERRORFUNC_LINEAR (the default TANH error function changes the error);
 *  - the error is (y - o) times the derivative, so Zhou's lr 0.1 on (y - o)^2
 *    (gradient 2 (y - o)) is FANN's learning rate 0.2, and Trask's summed
 *    batch update with lr 1 is FANN_TRAIN_BATCH with learning rate 4 (FANN
 *    divides by the number of rows); FANN keeps the rate as a float: 4 is
 *    exact, 0.2f = 0.2000000030 (1.5e-8 relative from 0.2);
 *  - momentum 0 (the default); incremental training visits rows in order.
 */
#ifndef NNEXT_BENCH_FANN_COMMON_H
#define NNEXT_BENCH_FANN_COMMON_H

#include "limits.h"

#include <doublefann.h>

#define FANN_MAX_CONN 64

/* neuron offset of each layer (3 layers) */
static inline void fann_offsets(const unsigned n[3], unsigned off[3])
{
    off[0] = 0, off[1] = n[0] + 1, off[2] = n[0] + n[1] + 2;
}

/* W0 (n0 x n1), b0 (n1, or NULL for zeros), W1 (n1 x n2), b1 (n2 or NULL) into ann */
static inline void fann_put_weights(struct fann *ann, const unsigned n[3], const double *W0, const double *b0,
                             const double *W1, const double *b1)
{
    struct fann_connection con[FANN_MAX_CONN];
    const unsigned total = fann_get_total_connections(ann);
    unsigned off[3];
    fann_offsets(n, off);
    if (total > FANN_MAX_CONN) {
        fprintf(stderr, "too many connections: %u\n", total);
        exit(1);
    }
    fann_get_connection_array(ann, con);
    for (unsigned c = 0; c < total; c++) {
        const unsigned from = con[c].from_neuron, to = con[c].to_neuron;
        const int l = to >= off[2] ? 1 : 0;
        const unsigned k = from - off[l], j = to - off[l + 1], n_in = n[l], n_out = n[l + 1];
        const double *W = l ? W1 : W0, *b = l ? b1 : b0;
        con[c].weight = k == n_in ? (b ? b[j] : 0.0) : W[k * n_out + j];
    }
    fann_set_weight_array(ann, con, total);
}

/* the reverse: ann's weights into W0, b0, W1, b1 (b0/b1 may be NULL) */
static inline void fann_take_weights(struct fann *ann, const unsigned n[3], double *W0, double *b0, double *W1, double *b1)
{
    struct fann_connection con[FANN_MAX_CONN];
    const unsigned total = fann_get_total_connections(ann);
    unsigned off[3];
    fann_offsets(n, off);
    fann_get_connection_array(ann, con);
    for (unsigned c = 0; c < total; c++) {
        const unsigned from = con[c].from_neuron, to = con[c].to_neuron;
        const int l = to >= off[2] ? 1 : 0;
        const unsigned k = from - off[l], j = to - off[l + 1], n_in = n[l], n_out = n[l + 1];
        double *W = l ? W1 : W0, *b = l ? b1 : b0;
        if (k == n_in) {
            if (b) b[j] = con[c].weight;
        } else
            W[k * n_out + j] = con[c].weight;
    }
}

/* the bias connections' indices in ann->weights, for holding them at 0 */
static inline unsigned fann_bias_indices(struct fann *ann, const unsigned n[3], unsigned *idx)
{
    struct fann_connection con[FANN_MAX_CONN];
    const unsigned total = fann_get_total_connections(ann);
    unsigned off[3], m = 0;
    fann_offsets(n, off);
    fann_get_connection_array(ann, con);
    for (unsigned c = 0; c < total; c++) {
        const unsigned from = con[c].from_neuron, to = con[c].to_neuron;
        const int l = to >= off[2] ? 1 : 0;
        if (from - off[l] == n[l]) idx[m++] = c; /* fann_get_connection_array lists ann->weights in order */
    }
    return m;
}

static inline struct fann *fann_tutorial_net(const unsigned n[3], enum fann_train_enum algorithm, float lr)
{
    struct fann *ann = fann_create_standard(3, n[0], n[1], n[2]);
    if (!ann) {
        fprintf(stderr, "fann_create_standard failed\n");
        exit(1);
    }
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, 0.5);
    fann_set_activation_steepness_output(ann, 0.5);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_training_algorithm(ann, algorithm);
    fann_set_learning_rate(ann, lr);
    fann_set_learning_momentum(ann, 0.0f);
    return ann;
}

/* the rows of a tutorial, for fann_create_train_from_callback */
static const double *fann_rows_X, *fann_rows_Y;
static unsigned fann_rows_n_in;

static void FANN_API fann_rows_callback(unsigned num, unsigned num_input, unsigned num_output, fann_type *input,
                                        fann_type *output)
{
    (void)num_output;
    for (unsigned i = 0; i < num_input; i++)
        input[i] = fann_rows_X[num * fann_rows_n_in + i];
    output[0] = fann_rows_Y[num];
}

static inline struct fann_train_data *fann_rows(const double *X, const double *Y, unsigned n_rows, unsigned n_in)
{
    fann_rows_X = X, fann_rows_Y = Y, fann_rows_n_in = n_in;
    struct fann_train_data *d = fann_create_train_from_callback(n_rows, n_in, 1, fann_rows_callback);
    if (!d) {
        fprintf(stderr, "fann_create_train_from_callback failed\n");
        exit(1);
    }
    return d;
}

#endif
