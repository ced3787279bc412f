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

#ifndef NNEXT_GEMM_H
#define NNEXT_GEMM_H

#include <stdint.h>

/* The blocked kernels' depth of one pass over K (elements). */
#define NN_GEMM_KC 256

/* A row-major B is read in place unless its rows are at least this many
 * bytes apart and at least this many rows of A use each panel: then the KC
 * x NR panel, whose rows would otherwise share a few L1 sets (4 KB apart:
 * one set), is packed once and read M / MR times from L1.  Measured on the
 * weight gradient of a 2048-wide layer at batch 64 (tn, M = N = 2048, K =
 * 64, float32, 2 threads): 145-161 -> 179-196 GFLOP/s; at M = 64 (a forward
 * pass at batch 64) packing cost more than it saved (160 -> 152 GFLOP/s). */
#define NN_PACK_STRIDE_BYTES 4096
#define NN_PACK_MIN_ROWS 256
/* Columns of B packed together on the blocked path (KN(gemm_xn)): a block
 * of KC x NN_BLOCK_COLS (float32: 256 KB, L2-resident), in the thread's
 * scratch (nn_thread_scratch, slot 0). */
#define NN_BLOCK_COLS 256

/* B (K x N) of at least this many bytes goes through the blocked path (see
 * NN_BLOCK_COLS) when its rows are NN_PACK_STRIDE_BYTES or more apart. */
#define NN_BLOCK_MIN_BYTES (8.0 * 1024 * 1024)

/* The most multiply-adds a part of a product does between two polls when
 * the blocked path asks for larger pieces (about 1 ms). */
#define NN_POLL_MAX_WORK 1e8

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
