/*
 * The three matrix products a dense layer needs, row-major, for double (f64)
 * and float (f32).  Kept apart from the layers so that faster kernels can
 * replace these without touching the math around them.
 *
 *   nn_gemm_nn: C (M, N) = A (M, K) @ B (K, N) [+ bias (N,) on every row]   forward
 *   nn_gemm_tn: C (M, N) = A (K, M)^T @ B (K, N)                            weight gradient
 *   nn_gemm_nn_relu: C = relu(A @ B [+ bias]), relu as nn_activation_forward's   forward,
 *     a hidden ReLU layer (the activation applied to the tiles as they are stored)
 *   nn_gemm_nt: C (M, N) = A (M, K) @ B (N, K)^T                            input delta
 *   nn_gemm_nt_mask: C = mask (M, N) > 0 ? A @ B^T : 0                      input delta
 *     through a ReLU layer whose output is mask (its backward pass, in the tiles)
 *   nn_gemm_tn_sgd: W (M, N) -= lr * A (K, M)^T @ B (K, N)                   SGD step folded
 *     into the weight gradient: each entry W - lr * g rounded as the separate
 *     update would round it, g as nn_gemm_tn computes it.  In the product's
 *     tiles when it is not small and K <= NN_GEMM_KC; else through G (M, N),
 *     scratch, and a pass over W.  Runs to the end even when the poll asks to
 *     stop (a partial update would leave a step half taken).
 */

/* The blocked kernels' depth of one pass over K (elements). */
#define NN_GEMM_KC 256
#ifndef NNEXT_GEMM_H
#define NNEXT_GEMM_H

#include <stdint.h>

#include "nnext_runtime.h"

#define NN_GEMM_DECLARE(T, S)                                                         \
    void nn_gemm_nn_##S(int64_t M, int64_t N, int64_t K, const T *A, const T *B,     \
                        const T *bias, T *C);                                       \
    void nn_gemm_nn_relu_##S(int64_t M, int64_t N, int64_t K, const T *A, const T *B,  \
                             const T *bias, T *C);                                  \
    void nn_gemm_nt_mask_##S(int64_t M, int64_t N, int64_t K, const T *A, const T *B,  \
                             const T *mask, T *C);                                  \
    void nn_gemm_tn_##S(int64_t M, int64_t N, int64_t K, const T *A, const T *B, T *C); \
    void nn_gemm_nt_##S(int64_t M, int64_t N, int64_t K, const T *A, const T *B, T *C);   \
    void nn_gemm_tn_sgd_##S(int64_t M, int64_t N, int64_t K, const T *A, const T *B, T lr, \
                            T *W, T *G);

NN_GEMM_DECLARE(double, f64)
NN_GEMM_DECLARE(float, f32)
#undef NN_GEMM_DECLARE

#endif
