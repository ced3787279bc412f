/*
 * Includes NN_TEMPLATE once for double and once for float: the one place
 * where the core's type-generic files get their types.  Inside the template:
 *   T              the real type; S its suffix (f64, f32): FN(name) is name_S
 *   NN_LANE_COUNT  the fused path's lanes: values of T in 32 bytes
 *   EXP, EXPM1, LOG, LOG1P, TANH, SQRT  the type's math functions (EXP_ONE: EXP on a scalar chain)
 *   T_TINY, T_EPS  the smallest normal value and the machine epsilon
 *   NN_INLINE      always-inlined static function
 * Each macro names both types' values once; NN_REAL(d, f) picks one.
 * NN_INSTANTIATE_ONLY 64 or 32 before inclusion: that type only.  No include
 * guard.
 */
#ifndef NN_CAT
#define NN_CAT_(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT_(a, b)
#define FN(name) NN_CAT(name, S)
#define NN_INLINE static inline __attribute__((always_inline))
#endif

#define T NN_REAL(double, float)
#define S NN_REAL(f64, f32)
#define NN_LANE_COUNT NN_REAL(4, 8)
#define EXP NN_REAL(nn_exp_f64, nn_exp_f32)
#define EXP_ONE NN_REAL(nn_exp_one_f64, nn_exp_one_f32) /* EXP on a scalar chain (nnext_exp.h) */
#define EXPM1 NN_REAL(expm1, expm1f)
#define LOG NN_REAL(log, logf)
#define LOG1P NN_REAL(log1p, log1pf)
#define TANH NN_REAL(tanh, tanhf)
#define SQRT NN_REAL(sqrt, sqrtf)
#define T_TINY NN_REAL(DBL_MIN, FLT_MIN)
#define T_EPS NN_REAL(DBL_EPSILON, FLT_EPSILON)

#if !defined(NN_INSTANTIATE_ONLY) || NN_INSTANTIATE_ONLY == 64
#define NN_REAL(d, f) d
#include NN_TEMPLATE
#undef NN_REAL
#endif
#if !defined(NN_INSTANTIATE_ONLY) || NN_INSTANTIATE_ONLY == 32
#define NN_REAL(d, f) f
#include NN_TEMPLATE
#undef NN_REAL
#endif

#undef T
#undef S
#undef NN_LANE_COUNT
#undef EXP
#undef EXP_ONE
#undef EXPM1
#undef LOG
#undef LOG1P
#undef TANH
#undef SQRT
#undef T_TINY
#undef T_EPS
