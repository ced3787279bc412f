/*
 * Register-blocked matrix-product kernels for one real type T (suffix S) and
 * one instruction set (suffix ISA), included once per pair through nnext_gemm_typed.h.
 * Before inclusion: T, S, ISA, NN_TARGET (function attributes selecting the
 * instruction set), VB (vector bytes: 64 AVX-512, 32 AVX2, 16 SSE2), MR (rows
 * per tile), NV (vectors per tile row).  Written with GCC vector extensions,
 * so one source gives every instruction set; FMA contraction is enabled for
 * these functions only (the products' rounding then matches BLAS's).
 *
 * xn: C (M, N) = [bias +] A @ B (or, for the SGD step folded into the weight
 * gradient, C -= lr * A @ B with K <= KC, in the tile's registers) with A[i, p] = A[i * rsA + p * csA] (nn: A is
 * row-major (M, K); tn: A is given transposed, (K, M)) and B row-major (K, N).
 * Tiles of MR rows x NR = NV * lanes columns stay in registers across a block
 * of KC steps of p; the KC x NR panel of B stays in L1 across the row tiles.
 * No packing of A; B is packed where its rows are far apart (NN_PACK_*,
 * below) or transposed (nt); columns past the last full panel go through a
 * zero-padded copy, and a last panel of at
 * most one vector (an output layer's 10 columns) through the narrow tile of
 * one vector by MR1 rows, which computes NV times fewer padding lanes.
 *
 * nt: C (M, N) = A (M, K) @ B (N, K)^T, the same kernel with B read
 * transposed: each KC x NR panel of B^T packed (columns of B^T are rows of B,
 * read contiguously), so that the tile's sums run along K in registers as for
 * nn (before: 4 x 4 dot products with a horizontal sum each, 3x slower).
 */

#ifndef NN_FP_CONTRACT /* multiply-adds fused in the functions that carry it */
#if defined(__clang__)
#define NN_FP_CONTRACT /* clang fuses a * b + c within an expression by default */
#else
#define NN_FP_CONTRACT __attribute__((optimize("fp-contract=fast")))
#endif
#endif

#define KN(name) NN_CAT3(name, S, ISA)
#define LANES (VB / (int)sizeof(T))
#define NR (NV * LANES)

typedef T KN(vec) __attribute__((vector_size(VB)));
#define V KN(vec)
typedef __typeof__((V){0} < (V){0}) KN(ivec); /* a comparison's lanes: all ones or zero */

NN_TARGET static inline __attribute__((always_inline)) V KN(load)(const T *p)
{
    V v;
    memcpy(&v, p, sizeof v);
    return v;
}

NN_TARGET static inline __attribute__((always_inline)) void KN(store)(T *p, V v)
{
    memcpy(p, &v, sizeof v);
}

/* Rows of the narrow tile: one vector a row (a panel of at most LANES
 * columns, e.g. an output layer's 10), twice MR rows to keep as many sums in
 * registers as the full tile's MR x NV. */
#define MR1 (2 * MR)

/* C[0..mr)[0..VECS * LANES) = (init ? bias or 0 : C) + A-rows @ B-panel over
 * kc steps; with lr (then init, and kc the whole K): C = C - *lr * (A-rows @
 * B-panel), rounded as the optimizer's separate step p - lr * g (no fused
 * multiply-add).  One body for both tiles: KN(tile), mr <= MR rows of NV
 * vectors, and KN(tile1), the narrow one, mr <= MR1 rows of one vector; every
 * element's sum is the same in either. */
#define NN_TILE(name, ROWS, VECS)                                                                \
    NN_TARGET static inline __attribute__((always_inline)) void                                \
    name(int64_t kc, const T *A, int64_t rsA, int64_t csA, const T *B, int64_t ldb, T *C,      \
         int64_t ldc, const int mr, const int init, const T *bias, const T *lr,                \
         const int relu, const T *mask)                                                        \
    {                                                                                          \
        V acc[ROWS][VECS];                                                                     \
        for (int r = 0; r < mr; r++)                                                           \
            for (int v = 0; v < VECS; v++) {                                                   \
                if (!init)                                                                     \
                    acc[r][v] = KN(load)(C + r * ldc + v * LANES);                             \
                else if (bias)                                                                 \
                    acc[r][v] = KN(load)(bias + v * LANES);                                    \
                else                                                                           \
                    acc[r][v] = (V){0};                                                        \
            }                                                                                  \
        for (int64_t p = 0; p < kc; p++) {                                                     \
            V b[VECS];                                                                         \
            for (int v = 0; v < VECS; v++) b[v] = KN(load)(B + p * ldb + v * LANES);           \
            const T *ap = A + p * csA;                                                         \
            for (int r = 0; r < mr; r++) {                                                     \
                const V a = (V){0} + ap[r * rsA];                                              \
                for (int v = 0; v < VECS; v++) acc[r][v] += a * b[v];                          \
            }                                                                                  \
        }                                                                                      \
        if (lr) {                                                                              \
            const V l = (V){0} + *lr;                                                          \
            for (int r = 0; r < mr; r++)                                                       \
                for (int v = 0; v < VECS; v++) {                                               \
                    V step = l * acc[r][v];                                                    \
                    __asm__("" : "+x"(step)); /* rounded here: keeps the subtraction apart */  \
                    KN(store)(C + r * ldc + v * LANES, KN(load)(C + r * ldc + v * LANES) - step); \
                }                                                                              \
            return;                                                                            \
        }                                                                                      \
        for (int r = 0; r < mr; r++)                                                           \
            for (int v = 0; v < VECS; v++) {                                                   \
                V x = acc[r][v];                                                               \
                if (relu) /* a < 0 ? 0 : a (NaN and -0 kept), as nn_activation_forward */     \
                    x = (V)((KN(ivec))x & ~(x < (V){0}));                                      \
                if (mask) /* m > 0 ? x : 0, as ReLU's backward from its output m */            \
                    x = (V)((KN(ivec))x & (KN(load)(mask + r * ldc + v * LANES) > (V){0}));    \
                KN(store)(C + r * ldc + v * LANES, x);                                         \
            }                                                                                  \
    }
NN_TILE(KN(tile), MR, NV)
NN_TILE(KN(tile1), MR1, 1)
#undef NN_TILE

/* The row tiles of one panel of nv vectors (NV, or 1: see KN(tile)): all of
 * M, rows MR (nv = 1: MR1, then one of MR) at a time. */
NN_TARGET static inline __attribute__((always_inline)) void
KN(panel_of)(int64_t M, int64_t kc, const T *A, int64_t rsA, int64_t csA, const T *B,
             int64_t ldb, T *C, int64_t ldc, int init, const T *bias, const T *lr, const int relu,
             const T *mask, const int nv)
{
#define NN_TILE_OF(i, m)                                                                      \
    do {                                                                                      \
        if (nv == 1)                                                                          \
            KN(tile1)(kc, A + (i) * rsA, rsA, csA, B, ldb, C + (i) * ldc, ldc, m, init, bias, lr, \
                      relu, mask ? mask + (i) * ldc : NULL);                                  \
        else                                                                                  \
            KN(tile)(kc, A + (i) * rsA, rsA, csA, B, ldb, C + (i) * ldc, ldc, m, init, bias, lr, \
                     relu, mask ? mask + (i) * ldc : NULL);                                   \
    } while (0)
    const int64_t rows = nv == 1 ? MR1 : MR;
    int64_t i = 0;
    for (; i + rows <= M; i += rows) NN_TILE_OF(i, rows);
    if (nv == 1 && M - i >= MR) {
        NN_TILE_OF(i, MR);
        i += MR;
    }
    switch ((int)(M - i)) {
#define NN_ROWS(m) \
    case m: NN_TILE_OF(i, m); break;
#if MR > 7
        NN_ROWS(7)
#endif
#if MR > 6
        NN_ROWS(6)
#endif
#if MR > 5
        NN_ROWS(5)
#endif
#if MR > 4
        NN_ROWS(4)
#endif
        NN_ROWS(3) NN_ROWS(2) NN_ROWS(1)
#undef NN_ROWS
    default: break;
    }
#undef NN_TILE_OF
}

/* KN(panel_of) for the full tile and for the narrow one, each compiled apart,
 * with the contraction of KN(gemm_xn) (multiply-adds fused: they are the
 * tiles' sums, whether or not the compiler inlines these into it). */
NN_TARGET NN_FP_CONTRACT static void
KN(panel)(int64_t M, int64_t kc, const T *A, int64_t rsA, int64_t csA, const T *B, int64_t ldb,
          T *C, int64_t ldc, int init, const T *bias, const T *lr, int relu, const T *mask)
{
    KN(panel_of)(M, kc, A, rsA, csA, B, ldb, C, ldc, init, bias, lr, relu, mask, NV);
}

NN_TARGET NN_FP_CONTRACT static void
KN(panel1)(int64_t M, int64_t kc, const T *A, int64_t rsA, int64_t csA, const T *B, int64_t ldb,
           T *C, int64_t ldc, int init, const T *bias, const T *lr)
{
    KN(panel_of)(M, kc, A, rsA, csA, B, ldb, C, ldc, init, bias, lr, 0, NULL, 1);
}

/* The KC x nr panel of B (rows pc.., columns jc.., n <= nr of them) into
 * bpad, rows nr apart (NR, or LANES for the narrow tile), zero past n:
 * B[p, j] = B[p * rsB + j * csB].  nt's B is given transposed (csB = K,
 * rsB = 1): each column is read contiguously. */
NN_TARGET static void KN(pack_b)(int64_t kc, int64_t n, const T *B, int64_t rsB, int64_t csB,
                                 T *bpad, const int nr)
{
    if (csB == 1) {
        for (int64_t p = 0; p < kc; p++) {
            const T *src = B + p * rsB;
            for (int j = 0; j < nr; j++) bpad[p * nr + j] = j < n ? src[j] : (T)0;
        }
        return;
    }
    /* A full panel of B^T (nt) in blocks of LANES columns by LANES steps of
     * p, each column of a block one vector load (before: an element at a
     * time down each column, every store on another line of bpad).  nt
     * 64x2048x2048 (a 2048-wide layer's input delta at batch 64), float32,
     * 2 threads: 4,120 -> 3,600 us; 1 thread: 8,500-8,700 -> 7,500 us. */
    if (n == nr && rsB == 1) {
        for (int64_t p0 = 0; p0 < kc; p0 += LANES) {
            const int64_t pn = kc - p0 < LANES ? kc - p0 : LANES;
            for (int j0 = 0; j0 < nr; j0 += LANES) {
                if (pn == LANES) {
                    V rows[LANES];
                    for (int j = 0; j < LANES; j++) rows[j] = KN(load)(B + (j0 + j) * csB + p0);
                    for (int p = 0; p < LANES; p++)
                        for (int j = 0; j < LANES; j++) bpad[(p0 + p) * nr + j0 + j] = rows[j][p];
                    continue;
                }
                for (int j = 0; j < LANES; j++) {
                    const T *src = B + (j0 + j) * csB + p0;
                    for (int64_t p = 0; p < pn; p++) bpad[(p0 + p) * nr + j0 + j] = src[p];
                }
            }
        }
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        const T *src = B + j * csB;
        for (int64_t p = 0; p < kc; p++) bpad[p * nr + j] = src[p * rsB];
    }
    for (int64_t j = n; j < nr; j++)
        for (int64_t p = 0; p < kc; p++) bpad[p * nr + j] = 0;
}


/* Columns [j0, j1) of C = [bias +] A @ B (see the top of the file), B[p, j] at
 * B[p * rsB + j * csB]: csB = 1 (B row-major, read in place unless a panel is
 * narrower than NR, or the rows are far apart: above) or rsB = 1 (B
 * transposed: every panel packed).  The epilogue, on the final sums as they
 * are stored: relu (C < 0 -> 0, NaN and -0 kept: a hidden ReLU layer's
 * forward pass), mask (M, N), rows N apart as C's (C where mask > 0, else 0:
 * ReLU's backward pass from the layer's output); neither with lr. */
NN_TARGET NN_FP_CONTRACT static void
KN(gemm_xn)(int64_t M, int64_t N, int64_t K, const T *A, int64_t rsA, int64_t csA, const T *B,
            int64_t rsB, int64_t csB, const T *bias, const T *lr, int relu, const T *mask, T *C,
            int64_t j0, int64_t j1, int block)
{
    enum { KC = NN_GEMM_KC };
    T bpad[KC * NR] __attribute__((aligned(64)));
    T cpad[MR * NR] __attribute__((aligned(64)));
    T biaspad[NR] __attribute__((aligned(64)));
    /* block (FN(block_mode) in nnext_gemm_impl.h): the full panels of B
     * packed NN_BLOCK_COLS columns by KC rows at a time; a row-major B's
     * rows each read in one sequential run.  Read in place, or packed a
     * panel at a time, each row of B gives a run of NR columns a page or
     * more from the last, which neither the prefetchers nor the TLB follow
     * through a B that is not in cache (a 2048-wide layer's forward pass at
     * batch 64: nn, M = 64, N = K = 2048, float32, 2 threads: 4,150 ->
     * 3,260-3,780 us).  block 2 then computes C a row tile at a time across
     * the block's panels, so that a large C (a weight gradient, read and
     * written by a folded update; or the swapped input delta of
     * nn_gemm_nt, whose A is the weights) is walked along its rows, and the
     * tile's rows of A are read from L1 for every panel.  The same sums in
     * the same order: only the order of the tiles changes. */
    const int64_t full_end = j0 + (j1 - j0) / NR * NR;
    if (block && full_end - j0 >= 2 * NR && K > 0) {
        T *blk = nn_thread_scratch(0, (size_t)NN_BLOCK_COLS * KC * sizeof(T));
        if (blk) {
            for (int64_t jb = j0; jb < full_end; jb += NN_BLOCK_COLS) {
                const int64_t nb = full_end - jb < NN_BLOCK_COLS ? full_end - jb : NN_BLOCK_COLS;
                for (int64_t pc = 0; pc < K; pc += KC) {
                    const int64_t kc = K - pc < KC ? K - pc : KC;
                    const int last = pc + kc >= K;
                    if (csB == 1) {
                        for (int64_t p = 0; p < kc; p++) {
                            const T *src = B + (pc + p) * rsB + jb;
                            for (int64_t q = 0; q < nb; q += NR)
                                memcpy(blk + q * kc + p * NR, src + q, NR * sizeof(T));
                        }
                    } else { /* B given transposed: a panel at a time */
                        for (int64_t q = 0; q < nb; q += NR)
                            KN(pack_b)(kc, NR, B + pc * rsB + (jb + q) * csB, rsB, csB,
                                       blk + q * kc, NR);
                    }
                    if (block == 2) /* C a row tile at a time, across the block's panels */
                        for (int64_t i = 0; i < M; i += MR)
                            for (int64_t q = 0; q < nb; q += NR)
                                KN(panel)(M - i < MR ? M - i : MR, kc, A + pc * csA + i * rsA, rsA,
                                          csA, blk + q * kc, NR, C + i * N + jb + q, N, pc == 0,
                                          bias ? bias + jb + q : NULL, lr, relu && last,
                                          last && mask ? mask + i * N + jb + q : NULL);
                    else /* a panel at a time, down all of C's rows */
                        for (int64_t q = 0; q < nb; q += NR)
                            KN(panel)(M, kc, A + pc * csA, rsA, csA, blk + q * kc, NR, C + jb + q,
                                      N, pc == 0, bias ? bias + jb + q : NULL, lr, relu && last,
                                      last && mask ? mask + jb + q : NULL);
                }
            }
            j0 = full_end;
        }
    }
    for (int64_t jc = j0; jc < j1; jc += NR) {
        const int64_t n = j1 - jc < NR ? j1 - jc : NR;
        const T *bias_j = bias ? bias + jc : NULL;
        if (n < NR && bias) {
            for (int j = 0; j < NR; j++) biaspad[j] = j < n ? bias_j[j] : (T)0;
            bias_j = biaspad;
        }
        for (int64_t pc = 0; pc < K; pc += KC) {
            const int64_t kc = K - pc < KC ? K - pc : KC;
            const int init = pc == 0;
            /* the epilogue (relu, mask) on the last block of K, to the final sums */
            const int last = pc + kc >= K, relu_k = relu && last;
            const T *mask_k = last ? mask : NULL;
            const T *a = A + pc * csA;
            const T *b = B + pc * rsB + jc * csB;
            int64_t ldb = rsB;
            /* a panel of at most one vector of columns: the narrow tile (NV
             * times fewer lanes computed past n) */
            const int narrow = NV > 1 && n <= LANES, nr = narrow ? LANES : NR;
            if (n < NR || csB != 1 || (rsB * (int64_t)sizeof(T) >= NN_PACK_STRIDE_BYTES &&
                                       M >= NN_PACK_MIN_ROWS)) {
                KN(pack_b)(kc, n, b, rsB, csB, bpad, nr);
                b = bpad;
                ldb = nr;
            }
            if (n == NR) {
                KN(panel)(M, kc, a, rsA, csA, b, ldb, C + jc, N, init, bias_j, lr, relu_k,
                          mask_k ? mask_k + jc : NULL);
                continue;
            }
            const int64_t rows = narrow ? MR1 : MR; /* cpad holds MR x NR = MR1 x LANES */
            for (int64_t i = 0; i < M; i += rows) {
                const int64_t m = M - i < rows ? M - i : rows;
                T *c = C + i * N + jc;
                if (!init || lr)
                    for (int64_t r = 0; r < m; r++)
                        for (int64_t j = 0; j < n; j++) cpad[r * nr + j] = c[r * N + j];
                if (narrow)
                    KN(panel1)(m, kc, a + i * rsA, rsA, csA, b, ldb, cpad, nr, init, bias_j, lr);
                else
                    KN(panel)(m, kc, a + i * rsA, rsA, csA, b, ldb, cpad, nr, init, bias_j, lr, 0,
                              NULL);
                for (int64_t r = 0; r < m; r++)
                    for (int64_t j = 0; j < n; j++) {
                        T x = cpad[r * nr + j];
                        if (relu_k && x < 0) x = 0;
                        if (mask_k && !(mask_k[(i + r) * N + jc + j] > 0)) x = 0;
                        c[r * N + j] = x;
                    }
            }
        }
        if (K == 0 && !lr)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < n; j++) {
                    T x = bias ? bias[jc + j] : (T)0;
                    if ((relu && x < 0) || (mask && !(mask[i * N + jc + j] > 0))) x = 0;
                    C[i * N + jc + j] = x;
                }
    }
}

#undef V
#undef MR1
#undef NR
#undef LANES
#undef KN
