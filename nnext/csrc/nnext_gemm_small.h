/*
 * The simple loops for tiny products, for one real type T (suffix S; FN(name)
 * defined by the includer).  A template without include guard: included by
 * nnext_gemm_impl.h (the products of nnext_gemm.h) and by nnext_core_impl.h,
 * whose fused small-network path inlines them, so that both compute exactly
 * the same sums in the same order.  Row-major throughout.
 */

/* Columns handled together by the small kernels. */
#ifndef NN_JB
#define NN_JB 8
#endif

/* The blocked kernels pay off from about this much work. */
static inline int FN(is_small)(int64_t M, int64_t N, int64_t K)
{
    return (double)M * (double)N * (double)K < 4096.0 || N < 8 || K < 4;
}

/* c[0..w) = bias[0..w) + sum_p a[p * lda_p] * b[p * ldb + 0..w).  Called with a
 * constant w, so that the w sums live in registers across the p loop. */
static inline __attribute__((always_inline)) void FN(xn_block)(const T *a, int64_t lda_p,
                                                                const T *b, int64_t ldb,
                                                                int64_t K, const T *bias, T *c,
                                                                const int w)
{
    T acc[NN_JB];
    for (int jj = 0; jj < w; jj++) acc[jj] = bias ? bias[jj] : (T)0;
    for (int64_t p = 0; p < K; p++) {
        const T ap = a[p * lda_p];
        const T *bp = b + p * ldb;
        for (int jj = 0; jj < w; jj++) acc[jj] += ap * bp[jj];
    }
    for (int jj = 0; jj < w; jj++) c[jj] = acc[jj];
}

/* C[i, j] = bias[j] + sum_p A[i * lda_i + p * lda_p] * B[p * N + j]: the nn and
 * the tn products differ only in A's strides. */
static inline __attribute__((always_inline)) void FN(small_xn)(int64_t M, int64_t N, int64_t K,
                                                                const T *A, int64_t lda_i,
                                                                int64_t lda_p, const T *B,
                                                                const T *bias, T *C)
{
    for (int64_t i = 0; i < M; i++) {
        const T *a = A + i * lda_i;
        T *c = C + i * N;
        int64_t j0 = 0;
        for (; j0 + NN_JB <= N; j0 += NN_JB)
            FN(xn_block)(a, lda_p, B + j0, N, K, bias ? bias + j0 : NULL, c + j0, NN_JB);
        const T *bj = B + j0, *biasj = bias ? bias + j0 : NULL;
        switch (N - j0) {
#define NN_TAIL(w) \
    case w: FN(xn_block)(a, lda_p, bj, N, K, biasj, c + j0, w); break;
            NN_TAIL(1) NN_TAIL(2) NN_TAIL(3) NN_TAIL(4) NN_TAIL(5) NN_TAIL(6) NN_TAIL(7)
#undef NN_TAIL
        default: break;
        }
    }
}

static inline __attribute__((always_inline)) void FN(small_nt)(int64_t M, int64_t N, int64_t K,
                                                                const T *A, const T *B, T *C)
{
    for (int64_t i = 0; i < M; i++) {
        const T *a = A + i * K;
        for (int64_t j = 0; j < N; j++) {
            const T *b = B + j * K;
            T sum = 0;
            for (int64_t p = 0; p < K; p++) sum += a[p] * b[p];
            C[i * N + j] = sum;
        }
    }
}


/* The general products' choice (nnext_gemm_impl.h) and their small branches,
 * for callers that inline them: nn_gemm_nn/tn/nt run exactly these loops when
 * the corresponding predicate holds. */
static inline int FN(nn_is_small)(int64_t M, int64_t N, int64_t K) { return FN(is_small)(M, N, K); }
static inline int FN(tn_is_small)(int64_t M, int64_t N, int64_t K) { return FN(is_small)(M, N, K); }
/* nt with a short K (an output layer's input delta, K = its width) and at most
 * 8 rows stays on the simple loop, as the fused path (batches of at most 8
 * rows) needs; more rows go to the packed kernel (D's 64 x 100 x 10: 15.9 ->
 * 2.4 us). */
static inline int FN(nt_is_small)(int64_t M, int64_t N, int64_t K)
{
    return FN(is_small)(M, N, K) || (K < 16 && M <= 8);
}

/* C (M, N) = A (M, K) @ B (K, N) [+ bias (N,)] */
static inline __attribute__((always_inline)) void FN(small_nn)(int64_t M, int64_t N, int64_t K,
                                                                const T *A, const T *B,
                                                                const T *bias, T *C)
{
    FN(small_xn)(M, N, K, A, K, 1, B, bias, C);
}

/* C (M, N) = A (K, M)^T @ B (K, N) */
static inline __attribute__((always_inline)) void FN(small_tn)(int64_t M, int64_t N, int64_t K,
                                                                const T *A, const T *B, T *C)
{
    FN(small_xn)(M, N, K, A, 1, M, B, NULL, C);
}
