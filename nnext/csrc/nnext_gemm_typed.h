/* The matrix products for one real type T (suffix S): the kernels once per
 * instruction set, then the products that dispatch to them. */
#define NN_ISA_TEMPLATE "nnext_gemm_kernel.h"
#include "nnext_isa_instantiate.h"
#undef NN_ISA_TEMPLATE
#include "nnext_gemm_impl.h"
