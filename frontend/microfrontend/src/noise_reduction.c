#include "noise_reduction.h"

#include <stdlib.h>
#include <string.h>

#include "bits.h"

#if MF_X86_KERNELS
#include <immintrin.h>
#endif

int mf_noise_reduction_populate(mf_noise_reduction* noise, size_t num_channels,
                                int smoothing_bits, float even_smoothing,
                                float odd_smoothing,
                                float min_signal_remaining) {
  noise->num_channels = num_channels;
  noise->smoothing_bits = smoothing_bits;
  /* Truncated, not rounded, as on the device. */
  noise->even_smoothing =
      (uint32_t)(even_smoothing * (1 << MF_NOISE_REDUCTION_BITS));
  noise->odd_smoothing =
      (uint32_t)(odd_smoothing * (1 << MF_NOISE_REDUCTION_BITS));
  noise->min_signal_remaining =
      (uint32_t)(min_signal_remaining * (1 << MF_NOISE_REDUCTION_BITS));
  noise->estimate = calloc(num_channels, sizeof(uint32_t));
  noise->avx2 = mf_cpu_has_avx2();
  return noise->estimate != NULL;
}

void mf_noise_reduction_reset(mf_noise_reduction* noise) {
  memset(noise->estimate, 0, noise->num_channels * sizeof(uint32_t));
}

void mf_noise_reduction_free(mf_noise_reduction* noise) {
  free(noise->estimate);
  noise->estimate = NULL;
}

/* Channels first.. of mf_noise_reduction_apply(). */
MF_VECTOR_CLONES
static void noise_reduction_channels(mf_noise_reduction* noise,
                                     uint32_t* signal, size_t first) {
  const int bits = noise->smoothing_bits;
  for (size_t i = first; i < noise->num_channels; ++i) {
    const uint32_t smoothing =
        (i & 1) ? noise->odd_smoothing : noise->even_smoothing;
    const uint32_t one_minus_smoothing =
        (1u << MF_NOISE_REDUCTION_BITS) - smoothing;
    const uint32_t scaled = signal[i] << bits;
    uint32_t estimate =
        (uint32_t)(((uint64_t)scaled * smoothing +
                    (uint64_t)noise->estimate[i] * one_minus_smoothing) >>
                   MF_NOISE_REDUCTION_BITS);
    noise->estimate[i] = estimate;
    if (estimate > scaled) estimate = scaled;  /* never below zero */
    const uint32_t floor = (uint32_t)(((uint64_t)signal[i] *
                                       noise->min_signal_remaining) >>
                                      MF_NOISE_REDUCTION_BITS);
    const uint32_t subtracted = (scaled - estimate) >> bits;
    signal[i] = subtracted > floor ? subtracted : floor;
  }
}

#if MF_X86_KERNELS
#define AVX2 __attribute__((target("avx2")))

/* (a * b) >> MF_NOISE_REDUCTION_BITS in 64 bits, truncated to 32, for the
 * 8 lanes of a and b, as two 32 x 32 -> 64-bit products (pmuludq) of the
 * even lanes and of the odd ones; b_even and b_odd are the multipliers
 * (below 2^32) of the even and the odd lanes. */
AVX2 static inline __m256i scaled_product(__m256i a, __m256i b_even,
                                          __m256i b_odd, __m256i add_even,
                                          __m256i add_odd) {
  const __m256i even = _mm256_srli_epi64(
      _mm256_add_epi64(_mm256_mul_epu32(a, b_even), add_even),
      MF_NOISE_REDUCTION_BITS);
  const __m256i odd = _mm256_srli_epi64(
      _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b_odd),
                       add_odd),
      MF_NOISE_REDUCTION_BITS);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* mf_noise_reduction_apply() 8 channels at a time: even channels take the
 * even smoothing, odd ones the odd. */
AVX2 static void noise_reduction_avx2(mf_noise_reduction* noise,
                                      uint32_t* signal) {
  const __m128i bits = _mm_cvtsi32_si128(noise->smoothing_bits);
  const __m256i even_smoothing = _mm256_set1_epi64x(noise->even_smoothing);
  const __m256i odd_smoothing = _mm256_set1_epi64x(noise->odd_smoothing);
  const __m256i even_rest = _mm256_set1_epi64x(
      (1 << MF_NOISE_REDUCTION_BITS) - (int64_t)noise->even_smoothing);
  const __m256i odd_rest = _mm256_set1_epi64x(
      (1 << MF_NOISE_REDUCTION_BITS) - (int64_t)noise->odd_smoothing);
  const __m256i min_remaining =
      _mm256_set1_epi64x(noise->min_signal_remaining);
  const __m256i zero = _mm256_setzero_si256();
  uint32_t* estimates = noise->estimate;
  size_t i = 0;
  for (; i + 8 <= noise->num_channels; i += 8) {
    const __m256i x =
        _mm256_loadu_si256((const __m256i*)(const void*)(signal + i));
    const __m256i previous =
        _mm256_loadu_si256((const __m256i*)(const void*)(estimates + i));
    const __m256i scaled = _mm256_sll_epi32(x, bits);
    /* (scaled * s + previous * (2^14 - s)) >> 14, the sum in 64 bits. */
    const __m256i estimate = scaled_product(
        scaled, even_smoothing, odd_smoothing,
        _mm256_mul_epu32(previous, even_rest),
        _mm256_mul_epu32(_mm256_srli_epi64(previous, 32), odd_rest));
    _mm256_storeu_si256((__m256i*)(void*)(estimates + i), estimate);
    const __m256i floor =
        scaled_product(x, min_remaining, min_remaining, zero, zero);
    const __m256i subtracted = _mm256_srl_epi32(
        _mm256_sub_epi32(scaled, _mm256_min_epu32(estimate, scaled)), bits);
    _mm256_storeu_si256((__m256i*)(void*)(signal + i),
                        _mm256_max_epu32(subtracted, floor));
  }
  noise_reduction_channels(noise, signal, i);
}
#endif

void mf_noise_reduction_apply(mf_noise_reduction* noise, uint32_t* signal) {
#if MF_X86_KERNELS
  if (noise->avx2) {
    noise_reduction_avx2(noise, signal);
    return;
  }
#endif
  noise_reduction_channels(noise, signal, 0);
}
