/*
 * The one instruction-set mechanism.  Hot functions (the blocked matrix
 * products, the elementwise layer loops, the optimizer update, the fused
 * training step) are compiled once per instruction set from the same source
 * (nnext_isa_instantiate.h) and chosen at run time by nn_isa(): cpuid once,
 * capped by NNEXT_ISA=avx2 or NNEXT_ISA=base in the environment (for tests of
 * the other variants).  Elsewhere than GCC on x86-64 there is one variant.
 */
#ifndef NNEXT_ISA_H
#define NNEXT_ISA_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(NN_SINGLE_ISA)
#define NN_MULTI_ISA 1
#else
#define NN_MULTI_ISA 0
#endif

/* Instruction-set levels (x86-64 micro-architecture levels). */
enum { NN_ISA_BASE = 0, NN_ISA_AVX2 = 3 /* AVX2 + FMA */, NN_ISA_AVX512 = 4 };

/* The level in use: the best the CPU has, capped by NNEXT_ISA; read once. */
int nn_isa(void);

/* nn_isa(), set when the library is loaded (a constructor), so that picking a
 * variant costs one load of a plain int (the hot functions are called per
 * step of tiny networks, where a function call would show). */
extern int nn_isa_selected;

/* name_S_isa: a function's variant for type suffix S and one instruction set. */
#define NN_CAT3_(a, b, c) a##_##b##_##c
#define NN_CAT3(a, b, c) NN_CAT3_(a, b, c)

/* The variant of name (for the includer's type suffix S) that nn_isa() picks:
 * a function designator, so that NN_ISA_PICK(f)(args) calls it. */
#if NN_MULTI_ISA
#define NN_ISA_PICK(name)                                                     \
    (nn_isa_selected == NN_ISA_AVX512 ? NN_CAT3(name, S, avx512)              \
     : nn_isa_selected == NN_ISA_AVX2 ? NN_CAT3(name, S, avx2)                \
                                      : NN_CAT3(name, S, base))
#else
#define NN_ISA_PICK(name) NN_CAT3(name, S, base)
#endif

#endif /* NNEXT_ISA_H */
