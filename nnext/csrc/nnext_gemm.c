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
#include <string.h>

/* Products from this many flops are split over threads. */
#define NN_PARALLEL_FLOPS 2e6

#define NN_TEMPLATE "nnext_gemm_typed.h"
#include "nnext_instantiate.h"
