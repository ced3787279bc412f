/*
 * Includes NN_ISA_TEMPLATE once per instruction set, with these macros set:
 *   ISA        the variant's suffix: avx512, avx2 or base (see NN_ISA_PICK)
 *   NN_TARGET  the attributes that compile a function for that instruction set
 *   VB         bytes in a vector register (64, 32, 16)
 *   MR, NV     the matrix-product tile: MR rows x NV vectors (nnext_gemm_kernel.h)
 * Each macro names every variant's value once; NN_ISA_VAR(avx512, avx2, base)
 * picks one.  For one real type T (suffix S), set by the includer.  No include
 * guard.
 */
#define ISA NN_ISA_VAR(avx512, avx2, base)
#define NN_TARGET NN_ISA_VAR(__attribute__((target("arch=x86-64-v4"))), \
                             __attribute__((target("arch=x86-64-v3"))), )
#define VB NN_ISA_VAR(64, 32, 16)
#define MR NN_ISA_VAR(8, 6, 4)
#define NV 2

#if NN_MULTI_ISA
#define NN_ISA_VAR(avx512, avx2, base) avx512
#include NN_ISA_TEMPLATE
#undef NN_ISA_VAR
#define NN_ISA_VAR(avx512, avx2, base) avx2
#include NN_ISA_TEMPLATE
#undef NN_ISA_VAR
#endif
#define NN_ISA_VAR(avx512, avx2, base) base
#include NN_ISA_TEMPLATE
#undef NN_ISA_VAR

#undef ISA
#undef NN_TARGET
#undef VB
#undef MR
#undef NV
