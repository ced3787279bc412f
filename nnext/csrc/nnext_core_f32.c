/* The typed core for float (nnext_core_typed.h); the other type is
 * nnext_core_f64.c, so that the two, the longest files to compile,
 * compile in parallel. */
#include "nnext_core_internal.h"

#define NN_INSTANTIATE_ONLY 32
#define NN_TEMPLATE "nnext_core_typed.h"
#include "nnext_instantiate.h"
