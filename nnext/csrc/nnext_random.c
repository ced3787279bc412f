/* nnext core: numpy's legacy generator, for drawing a network's starting
 * weights from an int seed without building a np.random.RandomState (which
 * costs about 130 us; this costs about 2 us for a tiny network).
 *
 * np.random.RandomState(seed) with an int seed is MT19937 seeded by
 * mt19937_seed (Matsumoto and Nishimura's init_genrand); random_sample()
 * draws 53-bit doubles from two 32-bit outputs, and standard_normal() is the
 * legacy polar method, which keeps the second value of each pair for the next
 * call.  These are numpy's numpy/random/src/mt19937/mt19937.c and
 * numpy/random/src/legacy/legacy-distributions.c (legacy_gauss), written out
 * again: the same operations in the same order, so the same doubles to the
 * bit (tests/test_init.py compares them with numpy's for many seeds).  The
 * file is compiled without contraction into FMA (-std=c11 implies
 * -ffp-contract=off) and for the baseline instruction set only. */
#include "nnext_core_internal.h"

#include <math.h>

#define MT_N 624 /* words of state */
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

static const char *const init_names[NN_N_INITS] = {"uniform", "normal", "xavier", "he"};

const char *nn_init_name(int code) { return code >= 0 && code < NN_N_INITS ? init_names[code] : NULL; }

/* numpy's mt19937_seed: RandomState(seed) for an int seed in [0, 2**32). */
void nn_mt19937_seed(nn_mt19937 *state, uint32_t seed)
{
    for (int pos = 0; pos < MT_N; pos++) {
        state->key[pos] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)pos + 1u;
    }
    state->pos = MT_N;
    state->has_gauss = 0;
    state->gauss = 0.0;
}

/* The next 624 words of state (numpy's mt19937_gen). */
static void mt19937_generate(nn_mt19937 *state)
{
    uint32_t *key = state->key, y;
    int i;
    for (i = 0; i < MT_N - MT_M; i++) {
        y = (key[i] & MT_UPPER) | (key[i + 1] & MT_LOWER);
        key[i] = key[i + MT_M] ^ (y >> 1) ^ (-(y & 1u) & MT_MATRIX_A);
    }
    for (; i < MT_N - 1; i++) {
        y = (key[i] & MT_UPPER) | (key[i + 1] & MT_LOWER);
        key[i] = key[i + (MT_M - MT_N)] ^ (y >> 1) ^ (-(y & 1u) & MT_MATRIX_A);
    }
    y = (key[MT_N - 1] & MT_UPPER) | (key[0] & MT_LOWER);
    key[MT_N - 1] = key[MT_M - 1] ^ (y >> 1) ^ (-(y & 1u) & MT_MATRIX_A);
    state->pos = 0;
}

/* One tempered 32-bit output (numpy's mt19937_next). */
static uint32_t mt19937_next32(nn_mt19937 *state)
{
    if (state->pos >= MT_N) mt19937_generate(state);
    uint32_t y = state->key[state->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* random_sample(): a double in [0, 1) from 27 + 26 bits (mt19937_next_double). */
double nn_mt19937_double(nn_mt19937 *state)
{
    const int32_t a = (int32_t)(mt19937_next32(state) >> 5), b = (int32_t)(mt19937_next32(state) >> 6);
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

/* standard_normal(): numpy's legacy_gauss, the polar method. */
double nn_mt19937_gauss(nn_mt19937 *state)
{
    if (state->has_gauss) {
        const double kept = state->gauss;
        state->has_gauss = 0;
        state->gauss = 0.0;
        return kept;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * nn_mt19937_double(state) - 1.0;
        x2 = 2.0 * nn_mt19937_double(state) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = sqrt(-2.0 * log(r2) / r2);
    state->gauss = f * x1;
    state->has_gauss = 1;
    return f * x2;
}

/* One draw of scheme (network.py's Network docstring):
 *   uniform: 2 u - 1 (Trask);  normal: z (Zhou);
 *   xavier: (2 u - 1) * sqrt(6 / (n_in + n_out));  he: z * sqrt(2 / n_in),
 * each as numpy evaluates it on the whole array, so the same double. */
static double draw(nn_mt19937 *state, int scheme, double scale)
{
    switch (scheme) {
    case NN_INIT_UNIFORM: return 2 * nn_mt19937_double(state) - 1;
    case NN_INIT_NORMAL: return nn_mt19937_gauss(state);
    case NN_INIT_XAVIER: return (2 * nn_mt19937_double(state) - 1) * scale;
    default: /* NN_INIT_HE */ return nn_mt19937_gauss(state) * scale;
    }
}

int nn_init_weights(const nn_net *net, void *params, size_t elem_size, int scheme,
                    nn_mt19937 *state)
{
    if (!nn_net_valid(net) || scheme < 0 || scheme >= NN_N_INITS ||
        (elem_size != sizeof(double) && elem_size != sizeof(float)))
        return 1;
    for (int l = 0; l < net->n_layers; l++) {
        /* W_l (sizes[l], cols_l): a maxout layer's m*k columns */
        const int64_t n_in = net->sizes[l], n_out = nn_layer_cols(net, l), n = n_in * n_out;
        const double scale = scheme == NN_INIT_XAVIER ? sqrt(6.0 / (double)(n_in + n_out))
                             : scheme == NN_INIT_HE   ? sqrt(2.0 / (double)n_in)
                                                      : 1.0;
        const int64_t offset = nn_weight_offset(net, l);
        if (elem_size == sizeof(double)) {
            double *w = (double *)params + offset;
            for (int64_t i = 0; i < n; i++) w[i] = draw(state, scheme, scale);
        } else { /* drawn in double, then rounded, as numpy's assignment into float32 */
            float *w = (float *)params + offset;
            for (int64_t i = 0; i < n; i++) w[i] = (float)draw(state, scheme, scale);
        }
    }
    return 0;
}
