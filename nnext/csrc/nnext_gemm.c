/* Matrix products (see nnext_gemm.h): register-blocked kernels compiled once
 * per instruction set (nnext_gemm_kernel.h), the simple loops for tiny
 * products (nnext_gemm_small.h), split over the thread pool when large
 * (nnext_gemm_impl.h); for double and float. */
#include "nnext_core.h"
#include "nnext_gemm.h"
#include "nnext_isa.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Products from this many flops are split over threads.  Lowered from 2e6,
 * which left an output layer's products at batch 256 (256 x 10 x 256: 1.3e6
 * flops, about 28 us) on one thread: E's step (64-256-256-10, batch 256, 2
 * threads, C over nn_train_f32) 740 -> 700 us; batch 16, 64 and 1024 and D's
 * network the same or 1-3% faster.  Not to 5e5, which measured the same in
 * the host's fast periods but split batch 4's 4 x 256 x 256 products (5.2e5
 * flops, a few microseconds): in a slow period (a cross-core round trip of
 * 330-340 ns, bench/roundtrip.c) E's batch-4 epoch took 27.4 ms against
 * numpy's 18.3; at 1e6 that step has nothing to synchronise (50.2 against
 * 51.2 us in a fast period). */
#define NN_PARALLEL_FLOPS 1e6

#define NN_TEMPLATE "nnext_gemm_typed.h"
#include "nnext_instantiate.h"
