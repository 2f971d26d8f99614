// CBLAS and LAPACKE from Debian's libopenblas-dev and liblapacke-dev.
// Imported by PhantomLinearAlgebra only.
#ifndef PHANTOM_CLINALG_SHIM_H
#define PHANTOM_CLINALG_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#include <malloc.h>

/// `lapack_int` is a macro; give Swift a real type name.
typedef lapack_int phantom_lapack_int;

/// `openblas_get_num_threads` is declared by OpenBLAS's cblas.h; re-export for clarity.
static inline int phantom_openblas_threads(void) { return openblas_get_num_threads(); }
static inline const char *phantom_openblas_corename(void) { return openblas_get_corename(); }
static inline void phantom_openblas_set_threads(int n) { openblas_set_num_threads(n); }

/// glibc: serve blocks up to `bytes` from the heap (no fresh mapping per large array) and trim only above it.
static inline void phantom_keep_large_blocks(int bytes) {
    mallopt(M_MMAP_THRESHOLD, bytes);
    mallopt(M_TRIM_THRESHOLD, bytes);
}
#endif
