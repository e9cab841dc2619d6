/* What the C libraries share (the microfrontend's stages and the phase
 * vocoder): bit helpers, the attribute that builds a hot loop for AVX2 too,
 * the switch of the AVX2 kernels and the CPU check, and the 16-bit wrap.
 * Private to the libraries: no public header includes it, and CMake gives it
 * only to the libraries and their tests. */
#ifndef FRONTEND_COMMON_BITS_H_
#define FRONTEND_COMMON_BITS_H_

#include <stdint.h>
#include <string.h>

/* Position of the highest set bit, counted from 1; 0 for 0. */
static inline int mf_msb32(uint32_t n) {
#if defined(__GNUC__)
  return n ? 32 - __builtin_clz(n) : 0;
#else
  int bits = 0;
  while (n) {
    ++bits;
    n >>= 1;
  }
  return bits;
#endif
}

static inline int mf_msb64(uint64_t n) {
#if defined(__GNUC__)
  return n ? 64 - __builtin_clzll(n) : 0;
#else
  int bits = 0;
  while (n) {
    ++bits;
    n >>= 1;
  }
  return bits;
#endif
}

/* mf_msb32 in operations that vectorize (x86 has no vector count of leading
 * zeros before AVX-512): the exponent of n as a float. A float holds 24 bits
 * exactly; above 2^24 n is shifted down by 8 first, so that no rounding can
 * carry into the next power of two. 0 gives 0. */
static inline int32_t mf_msb32_by_float(uint32_t n) {
  /* One conversion on either path: a conditional one would keep the loop
   * from vectorizing, as the compiler may not speculate a conversion. */
  const int32_t shift = (n >> 24 != 0) * 8;
  const float exact = (float)(int32_t)(n >> shift);
  uint32_t bits;
  memcpy(&bits, &exact, sizeof(bits));
  const int32_t position = (int32_t)(bits >> 23) - 126;
  return (position > 0 ? position : 0) + shift;
}

/* The hot integer loops are written for the auto-vectorizer. Baseline x86-64
 * only has SSE2, which lacks the rounding 16-bit multiply (pmulhrsw) and the
 * 16-bit lane shuffles these loops need, so with GCC on x86-64 they are also
 * compiled for AVX2, picked once at load time through an ifunc (GCC function
 * multiversioning; needs glibc). Every other target gets the plain function. */
#ifndef MF_VECTOR_CLONES /* -DMF_VECTOR_CLONES= turns the clones off */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && defined(__GLIBC__)
#define MF_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MF_VECTOR_CLONES
#endif
#endif

/* Some hot steps have forms the auto-vectorizer does not find or does poorly:
 * the FFT's (a 16 x 16 transposition, complex products as 16-bit
 * multiply-adds, mirrored bins, the split into even and odd samples), the
 * window's (16-bit products shifted across halves), the filterbank's sums
 * (rows of double multiply-adds) and the table lookups of the log scale and
 * PCAN (gathers). They are also written with x86 AVX2 intrinsics, taken when
 * the CPU has AVX2 (checked once, when the tables are built); other CPUs and
 * targets, and builds with -DMF_X86_KERNELS=0, take the plain C. Both give
 * the same values. */
#ifndef MF_X86_KERNELS
#if defined(__GNUC__) && defined(__x86_64__)
#define MF_X86_KERNELS 1
#else
#define MF_X86_KERNELS 0
#endif
#endif

/* Whether the CPU can run the AVX2 kernels: 0 in builds without them. The
 * feature table is initialized first, as a caller may run before the
 * constructors that would. */
static inline int mf_cpu_has_avx2(void) {
#if MF_X86_KERNELS
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
#else
  return 0;
#endif
}

/* Two's complement wrap to 16 bits, as a 16-bit store does on every target we
 * build for; spelled out because the conversion is implementation-defined. */
static inline int16_t mf_wrap16(int32_t x) {
  return (int16_t)(uint16_t)(uint32_t)x;
}

#endif
