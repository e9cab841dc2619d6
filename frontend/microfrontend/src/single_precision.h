/* The single-precision cosf and log1pf with which TFLM's and MLTK's sources
 * build their tables, reproduced so that every platform gets the same tables
 * whatever its own C library computes. */
#ifndef MICROFRONTEND_SINGLE_PRECISION_H_
#define MICROFRONTEND_SINGLE_PRECISION_H_

/* cos(x) correctly rounded to float: evaluated in double, rounded once. C
 * libraries' cosf differ from each other and from this in the last bit for a
 * share of arguments (glibc's for about 1 %); over the window tables that
 * changes a coefficient only from 2 379 samples up (glibc's cosf, checked for
 * every size up to 32 768). */
float mf_cosf(float x);

/* log1p(x) in single precision, step for step as fdlibm computes it: the
 * log1pf of glibc and of newlib's builds for single-precision FPUs, so of
 * TFLM's reference outputs and its devices. It is accurate to about an ulp
 * but not correctly rounded, and TFLM's filterbank weights depend on its
 * exact results. For 0 <= x < 2^53 (every argument the filterbank passes);
 * other arguments fall back on the double log1p. */
float mf_log1pf(float x);

#endif
