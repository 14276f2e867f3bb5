/*
 * linalg_ref.c - the linear-algebra core (kernels/linalg_core.h) for f32
 * and f64, the portable twin: no ISA flags (and -O3, see the Makefile), so
 * the column loops vectorize for this ISA. Exports bnk_linalg_ref.
 */
#include <float.h>

#define T      float
#define SFX    _f32
#define EPS    (FLT_EPSILON / 2)
#define LA_F64 0
#include "linalg_core.h"
#undef T
#undef SFX
#undef EPS
#undef LA_F64

#define T      double
#define SFX    _f64
#define EPS    (DBL_EPSILON / 2)
#define LA_F64 1
#include "linalg_core.h"
#undef T
#undef SFX
#undef EPS
#undef LA_F64

BNK_LA_TABLE(bnk_linalg_ref, "ref");
