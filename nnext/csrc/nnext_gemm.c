/* Matrix products (see nnext_gemm.h): loop orders chosen so that sums stay in
 * registers and the inner loops run over contiguous memory and vectorise. */
#include "nnext_gemm.h"

#include <stddef.h>

/* Columns handled together: their sums stay in registers across the k loop. */
#define NN_JB 8

#define T double
#define S f64
#include "nnext_gemm_impl.h"
#undef T
#undef S

#define T float
#define S f32
#include "nnext_gemm_impl.h"
#undef T
#undef S
