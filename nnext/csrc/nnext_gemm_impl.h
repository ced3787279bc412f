/*
 * The products of nnext_gemm.h for one real type T (suffix S), included twice
 * through nnext_gemm_typed.h after the kernels (nnext_gemm_kernel.h).  Row-major
 * throughout.  Small products (the tutorials' 3-4-1 networks, single rows) go
 * through the simple loops below, which have no set-up cost; larger ones
 * through the register-blocked kernels of the best instruction set, split
 * over threads by columns when big enough.
 */

#include "nnext_gemm_small.h"

/* ------------------------------------------------ dispatch and threading */

/* C = [bias +] A @ B with A[i, p] = A[i * rsA + p * csA], B[p, j] = B[p * rsB + j * csB]:
 * nn (rsA = K, csA = 1, rsB = N, csB = 1), tn (rsA = 1, csA = M), nt (rsB = 1, csB = K). */
typedef struct {
    int split_rows; /* threads share rows, not columns */
    int64_t M, N, K, rsA, csA, rsB, csB, align;
    const T *A, *B, *bias, *lr;
    T *C;
    int relu;      /* the epilogue of KN(gemm_xn) (nnext_gemm_kernel.h) */
    const T *mask; /* (M, N) or NULL */
    atomic_int *stop; /* the poll asked to stop: every part leaves at its next block */
    int nostop;       /* runs to the end whatever the poll says (an in-place update) */
    int block;        /* B packed a block of columns at a time (FN(block_mode); 0: gemm_run decides) */
} FN(gemm_job);

static void FN(run_cols)(const FN(gemm_job) *g, int64_t j0, int64_t j1)
{
    NN_ISA_PICK(gemm_xn)(g->M, g->N, g->K, g->A, g->rsA, g->csA, g->B, g->rsB, g->csB, g->bias,
                         g->lr, g->relu, g->mask, g->C, j0, j1, g->block);
}

/* Rows i0 .. i1-1 of the job: a job of its own on those rows (each row of C
 * is the same sums whichever rows are computed with it). */
static FN(gemm_job) FN(rows_of)(const FN(gemm_job) *g, int64_t i0, int64_t i1)
{
    FN(gemm_job) sub = *g;
    sub.M = i1 - i0;
    sub.A = g->A + i0 * g->rsA;
    sub.C = g->C + i0 * g->N;
    if (g->mask) sub.mask = g->mask + i0 * g->N;
    return sub;
}

/* Rows in whole tiles of this many (every instruction set's MR divides it). */
#define NN_ROW_CHUNK_ALIGN 24

/* The most of C's rows (in bytes, whole rows) that a piece of work between
 * two polls may span: a fresh output array is faulted in (and zeroed by the
 * kernel) by the product's first pass down its rows, 245 MB of it in the
 * first panel of a 20,000 x 3,072 layer. */
#define NN_POLL_SPAN_BYTES (16.0 * 1024 * 1024)

/* Columns j0 .. j1-1, in chunks of rows of at most NN_POLL_MAX_WORK
 * multiply-adds and NN_POLL_SPAN_BYTES of C, polling between chunks; 1 when
 * the poll asks to stop. */
static int FN(run_cols_polled)(const FN(gemm_job) *g, int64_t j0, int64_t j1)
{
    const double work = (double)g->M * (double)g->K * (double)(j1 - j0);
    const double row_bytes = (double)g->N * (double)sizeof(T);
    if (g->nostop || (work <= NN_POLL_MAX_WORK && (double)g->M * row_bytes <= NN_POLL_SPAN_BYTES)) {
        FN(run_cols)(g, j0, j1);
        return 0;
    }
    double fit = NN_POLL_MAX_WORK / ((double)g->K * (double)(j1 - j0));
    if (NN_POLL_SPAN_BYTES / row_bytes < fit) fit = NN_POLL_SPAN_BYTES / row_bytes;
    int64_t rows = fit < NN_ROW_CHUNK_ALIGN ? NN_ROW_CHUNK_ALIGN
                                            : (int64_t)fit / NN_ROW_CHUNK_ALIGN * NN_ROW_CHUNK_ALIGN;
    for (int64_t i = 0; i < g->M; i += rows) {
        const FN(gemm_job) sub = FN(rows_of)(g, i, g->M - i < rows ? g->M : i + rows);
        FN(run_cols)(&sub, j0, j1);
        if (i + rows < g->M && (nn_poll_due() || atomic_load_explicit(g->stop, memory_order_relaxed)))
            return 1;
    }
    return 0;
}

static void FN(gemm_task)(void *arg, int part, int nparts)
{
    const FN(gemm_job) *g = arg;
    if (g->split_rows) { /* rows in whole tiles of `align`: a job of its own on those rows */
        const int64_t tiles = (g->M + g->align - 1) / g->align;
        const int64_t t0 = tiles * part / nparts, t1 = tiles * (part + 1) / nparts;
        const int64_t i0 = t0 * g->align, i1 = t1 * g->align < g->M ? t1 * g->align : g->M;
        if (i0 >= i1) return;
        const FN(gemm_job) sub = FN(rows_of)(g, i0, i1);
        if (FN(run_cols_polled)(&sub, 0, g->N)) atomic_store_explicit(g->stop, 1, memory_order_relaxed);
        return;
    }
    /* columns split in whole panels of `align`, computed a block of panels at a
     * time (the same sums as all at once), so that the calling thread can poll
     * between blocks and every part stop when it asks.  The caller runs part 0
     * and then any part no worker has claimed, so it polls in whichever part
     * it runs (a worker has no poll scope: nn_poll_due() is 0 there at once). */
    const int64_t panels = (g->N + g->align - 1) / g->align;
    const int64_t p0 = panels * part / nparts, p1 = panels * (part + 1) / nparts;
    const double block_work = (double)g->M * (double)g->K * (double)g->align;
    int64_t step = block_work >= NN_POLL_WORK ? 1 : (int64_t)(NN_POLL_WORK / block_work) + 1;
    if (g->block) { /* a block of packed columns at a time, up to NN_POLL_MAX_WORK */
        int64_t want = NN_BLOCK_COLS / g->align;
        if ((double)want * block_work > NN_POLL_MAX_WORK)
            want = (int64_t)(NN_POLL_MAX_WORK / block_work);
        if (want > step) step = want;
    }
    for (int64_t p = p0; p < p1; p += step) {
        const int64_t j0 = p * g->align, pe = p + step < p1 ? p + step : p1;
        const int64_t j1 = pe * g->align < g->N ? pe * g->align : g->N;
        if (j0 < j1 && FN(run_cols_polled)(g, j0, j1))
            atomic_store_explicit(g->stop, 1, memory_order_relaxed);
        if (g->nostop) continue;
        if (p + step < p1 && nn_poll_due()) /* more to do: ask */
            atomic_store_explicit(g->stop, 1, memory_order_relaxed);
        if (atomic_load_explicit(g->stop, memory_order_relaxed)) return;
    }
}

/* KN(gemm_xn)'s blocked path, for a row-major B (csB = 1): 2 when C has
 * at least NN_BLOCK_MIN_BYTES and K <= NN_GEMM_KC (a large weight gradient,
 * with or without the folded update: C walked along its rows; tn 2048 x
 * 2048 x 64, float32, 2 threads: 3,410-3,480 -> 3,180-3,230 us plain,
 * 4,510 -> 3,160 us folded); else 1 when B has at least NN_BLOCK_MIN_BYTES,
 * its rows NN_PACK_STRIDE_BYTES or more apart, and no folded update (a B
 * that fits in cache is read as fast in place: the blocked path made the
 * forward pass of a 256 -> 2048 layer at batch 64, B 2 MB, 333 -> 364 us);
 * else 0. */
static int FN(block_mode)(const FN(gemm_job) *g)
{
    if (g->csB != 1) return 0;
    if (g->K <= NN_GEMM_KC && (double)g->M * (double)g->N * (double)sizeof(T) >= NN_BLOCK_MIN_BYTES)
        return 2;
    if (g->lr) return 0;
    return g->rsB * (int64_t)sizeof(T) >= NN_PACK_STRIDE_BYTES &&
           (double)g->K * (double)g->N * (double)sizeof(T) >= NN_BLOCK_MIN_BYTES;
}

static void FN(gemm_run)(FN(gemm_job) *g)
{
    if (!g->block) g->block = FN(block_mode)(g);
    const double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K;
    int parts = nn_get_num_threads();
    if (flops < NN_PARALLEL_FLOPS) parts = 1;
    int64_t max_parts = g->N / (2 * g->align);
    if (parts > 1 && max_parts < parts) {
        /* too few columns: split the rows (in tiles of 8) */
        const int64_t row_align = 8;
        const int64_t by_rows = g->M / (2 * row_align);
        if (by_rows > max_parts) {
            g->split_rows = 1;
            g->align = row_align;
            max_parts = by_rows;
        }
    }
    if (parts > max_parts) parts = max_parts < 1 ? 1 : (int)max_parts;
    atomic_int stop = 0;
    g->stop = &stop;
    if (parts > 1)
        nn_parallel_stoppable(FN(gemm_task), g, parts, g->nostop ? NULL : &stop);
    else
        FN(gemm_task)(g, 0, 1);
}

void FN(nn_gemm_nn)(int64_t M, int64_t N, int64_t K, const T *A, const T *B, const T *bias,
                    T *C)
{
    if (FN(nn_is_small)(M, N, K)) {
        FN(small_nn)(M, N, K, A, B, bias, C);
        return;
    }
    FN(gemm_job) g = {0, M, N, K, K, 1, N, 1, 32, A, B, bias, NULL, C, 0, NULL, NULL, 0, 0};
    FN(gemm_run)(&g);
}

void FN(nn_gemm_nn_relu)(int64_t M, int64_t N, int64_t K, const T *A, const T *B,
                         const T *bias, T *C)
{
    if (FN(nn_is_small)(M, N, K)) {
        FN(small_nn)(M, N, K, A, B, bias, C);
        for (int64_t i = 0; i < M * N; i++) C[i] = C[i] < 0 ? (T)0 : C[i];
        return;
    }
    FN(gemm_job) g = {0, M, N, K, K, 1, N, 1, 32, A, B, bias, NULL, C, 1, NULL, NULL, 0, 0};
    FN(gemm_run)(&g);
}

/* tn with a narrow C (at most 64 bytes a row: an output layer's weight
 * gradient, 10 columns) and many more rows, computed swapped: C^T (N, M) =
 * B (K, N)^T @ A (K, M), whose rows are C's few columns and whose M columns
 * fill whole panels (computed directly, the narrow tile carries 16 lanes
 * for 10 columns), into CT (N * M elements), then transposed; nostop as FN(gemm_job)'s.  Each element
 * is the same sum in the same order (a * b = b * a).  Measured on an output
 * layer's gradient at batch 1024 (M = 256, N = 10, K = 1024, float32, 2
 * threads): 61-65 -> 34-36 us; E's step at batch 1024 (64-256-256-10)
 * 2,613-2,646 -> 2,576-2,591 us. */
static int FN(tn_swapped)(int64_t M, int64_t N, int64_t K, const T *A, const T *B, T *CT,
                          int nostop)
{
    if (N * (int64_t)sizeof(T) > 64 || M < 8 * N) return 0;
    FN(gemm_job) g = {0, N, M, K, 1, N, M, 1, 32, B, A, NULL, NULL, CT, 0, NULL, NULL, nostop, 0};
    FN(gemm_run)(&g);
    return 1;
}

void FN(nn_gemm_tn)(int64_t M, int64_t N, int64_t K, const T *A, const T *B, T *C)
{
    if (FN(tn_is_small)(M, N, K)) {
        FN(small_tn)(M, N, K, A, B, C);
        return;
    }
    if (N * (int64_t)sizeof(T) <= 64 && M >= 8 * N &&
        (double)M * (double)N * (double)sizeof(T) <= NN_SCRATCH_MAX_BYTES) {
        T *ct = nn_thread_scratch(1, (size_t)(M * N) * sizeof(T)); /* at most 4 MB */
        if (ct && FN(tn_swapped)(M, N, K, A, B, ct, 0)) {
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) C[i * N + j] = ct[j * M + i];
            return;
        }
    }
    FN(gemm_job) g = {0, M, N, K, 1, M, N, 1, 32, A, B, NULL, NULL, C, 0, NULL, NULL, 0, 0};
    FN(gemm_run)(&g);
}

/* nt with few rows and a large B (the input delta of a wide layer: C (M, N)
 * = delta (M, K) @ W (N, K)^T, W of NN_BLOCK_MIN_BYTES or more) is computed
 * swapped, C^T (N, M) = W @ delta^T, into the thread's scratch (slot 1; C of
 * at most NN_SCRATCH_MAX_BYTES), then transposed into C
 * (with the mask: m > 0 ? c : 0).  Computed directly, each KC x NR panel of
 * W^T is packed (transposed) for only M rows of delta; swapped, W is read
 * in place as the rows of A (one sequential run each) and delta^T, small,
 * is packed.  Each element is the same sum in the same order (a * b = b * a).
 * Measured at M = 64, N = K = 2048 (float32, 2 threads): 3,720-3,810 ->
 * 2,870-2,920 us. */
#define NN_NT_SWAP_MAX_ROWS 256

static int FN(nt_swapped)(int64_t M, int64_t N, int64_t K, const T *A, const T *B,
                          const T *mask, T *C)
{
    if (M > NN_NT_SWAP_MAX_ROWS || (double)N * (double)K * (double)sizeof(T) < NN_BLOCK_MIN_BYTES ||
        (double)M * (double)N * (double)sizeof(T) > NN_SCRATCH_MAX_BYTES)
        return 0;
    T *ct = nn_thread_scratch(1, (size_t)(M * N) * sizeof(T)); /* at most 4 MB */
    if (!ct) return 0;
    FN(gemm_job) g = {0, N, M, K, K, 1, 1, K, 32, B, A, NULL, NULL, ct, 0, NULL, NULL, 0, 2};
    FN(gemm_run)(&g);
    for (int64_t i = 0; i < M; i++) {
        T *c = C + i * N;
        const T *m = mask ? mask + i * N : NULL;
        for (int64_t j = 0; j < N; j++) {
            const T x = ct[j * M + i];
            c[j] = m && !(m[j] > 0) ? (T)0 : x;
        }
    }
    return 1;
}

void FN(nn_gemm_nt)(int64_t M, int64_t N, int64_t K, const T *A, const T *B, T *C)
{
    if (FN(nt_is_small)(M, N, K)) {
        FN(small_nt)(M, N, K, A, B, C);
        return;
    }
    if (FN(nt_swapped)(M, N, K, A, B, NULL, C)) return;
    FN(gemm_job) g = {0, M, N, K, K, 1, 1, K, 32, A, B, NULL, NULL, C, 0, NULL, NULL, 0, 0};
    FN(gemm_run)(&g);
}

void FN(nn_gemm_nt_mask)(int64_t M, int64_t N, int64_t K, const T *A, const T *B, const T *mask,
                         T *C)
{
    if (FN(nt_is_small)(M, N, K)) {
        FN(small_nt)(M, N, K, A, B, C);
        for (int64_t i = 0; i < M * N; i++) C[i] = mask[i] > 0 ? C[i] : (T)0;
        return;
    }
    if (FN(nt_swapped)(M, N, K, A, B, mask, C)) return;
    FN(gemm_job) g = {0, M, N, K, K, 1, 1, K, 32, A, B, NULL, NULL, C, 0, mask, NULL, 0, 0};
    FN(gemm_run)(&g);
}

void FN(nn_gemm_tn_sgd)(int64_t M, int64_t N, int64_t K, const T *A, const T *B, T lr, T *W,
                        T *G)
{
    const int fold = !FN(tn_is_small)(M, N, K) && K <= NN_GEMM_KC;
    if (fold) {
        FN(gemm_job) g = {0, M, N, K, 1, M, N, 1, 32, A, B, NULL, &lr, W, 0, NULL, NULL, 1, 0};
        FN(gemm_run)(&g);
        return;
    }
    if (FN(tn_is_small)(M, N, K)) {
        FN(small_tn)(M, N, K, A, B, G);
    } else if (FN(tn_swapped)(M, N, K, A, B, G, 1)) { /* G holds G^T (N, M) */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) W[i * N + j] = W[i * N + j] - lr * G[j * M + i];
        return;
    } else {
        FN(gemm_job) g = {0, M, N, K, 1, M, N, 1, 32, A, B, NULL, NULL, G, 0, NULL, NULL, 1, 0};
        FN(gemm_run)(&g);
    }
    for (int64_t i = 0; i < M * N; i++) W[i] = W[i] - lr * G[i];
}
