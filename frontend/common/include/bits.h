/* What the C libraries share (the microfrontend's stages and the phase
 * vocoder): bit helpers, the attribute that builds a hot loop for AVX2 too,
 * the switch of the FFT's AVX2 kernels, and the 16-bit wrap. Private to the libraries: no public header includes
 * it, and CMake gives it only to the libraries and their tests. */
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

/* The FFT's hot steps have forms the auto-vectorizer does not find (a 16 x 16
 * transposition, complex products as 16-bit multiply-adds, mirrored bins) and
 * are also written with x86 AVX2 intrinsics, taken when the CPU has AVX2
 * (checked once, when the tables are built); other CPUs and targets, and
 * builds with -DMF_X86_KERNELS=0, take the plain C. Both give the same
 * values. */
#ifndef MF_X86_KERNELS
#if defined(__GNUC__) && defined(__x86_64__)
#define MF_X86_KERNELS 1
#else
#define MF_X86_KERNELS 0
#endif
#endif

/* Two's complement wrap to 16 bits, as a 16-bit store does on every target we
 * build for; spelled out because the conversion is implementation-defined. */
static inline int16_t mf_wrap16(int32_t x) {
  return (int16_t)(uint16_t)(uint32_t)x;
}

#endif
