#include "window.h"

#include <math.h>
#include <stdlib.h>

#include "bits.h"
#include "single_precision.h"

#if MF_X86_KERNELS
#include <immintrin.h>
#endif

#define PI 3.14159265358979323846

/* Coefficient i of a Hann window of size samples, built with each device's
 * own expression so that every rounding step happens where it does there.
 * TFLM's source writes 0.5 - 0.5 * cos(phase) into a float; which of its
 * operations are float and which double is what separates the arithmetics. */
static int16_t hann_coefficient(mf_arithmetic arithmetic, size_t size,
                                size_t i) {
  const double scale = 1 << MF_WINDOW_BITS;
  if (arithmetic == MF_ARITHMETIC_TFLM) {
    /* Float throughout: float pi, float phase, cosf, floorf. */
    const float arg = (float)PI * 2.0f / (float)size;
    const float value = 0.5f - 0.5f * mf_cosf(arg * ((float)i + 0.5f));
    return (int16_t)floorf(value * (float)scale + 0.5f);
  }
  /* The step per sample is a float; the phase is evaluated in double. */
  const float arg = (float)(PI * 2.0 / (float)size);
  const double phase = arg * ((double)i + 0.5);
  /* TensorFlow's op takes cos in double; MLTK passes the phase to cosf, which
   * rounds it to float, and works in double around the float result. Either
   * way the value is stored as a float before it is scaled and rounded. */
  const double cosine = arithmetic == MF_ARITHMETIC_MLTK
                            ? (double)mf_cosf((float)phase)
                            : cos(phase);
  const float value = (float)(0.5 - 0.5 * cosine);
  return (int16_t)floor(value * (float)scale + 0.5);
}

int mf_window_populate(mf_window* window, mf_arithmetic arithmetic,
                       int32_t sample_rate_hz, int32_t size_ms,
                       int32_t step_ms) {
  window->size = (size_t)size_ms * (size_t)sample_rate_hz / 1000;
  window->step = (size_t)step_ms * (size_t)sample_rate_hz / 1000;
  window->coefficients = malloc(window->size * sizeof(int16_t));
  if (window->coefficients == NULL) return 0;
  for (size_t i = 0; i < window->size; ++i) {
    window->coefficients[i] = hann_coefficient(arithmetic, window->size, i);
  }
  window->avx2 = mf_cpu_has_avx2();
  return 1;
}

void mf_window_free(mf_window* window) {
  free(window->coefficients);
  window->coefficients = NULL;
}

#if MF_X86_KERNELS
/* mf_window_apply() 16 samples at a time: bits 12..27 of each 32-bit product
 * are the high half's low 12 bits and the low half's top 4 (pmulhw,
 * pmullw); pabsw leaves -32768 as it is, as the device's wrap does. */
__attribute__((target("avx2"))) static int16_t window_avx2(
    const mf_window* window, const int16_t* input, int16_t* output) {
  const size_t size = window->size;
  __m256i max_abs = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= size; i += 16) {
    const __m256i x =
        _mm256_loadu_si256((const __m256i*)(const void*)(input + i));
    const __m256i c = _mm256_loadu_si256(
        (const __m256i*)(const void*)(window->coefficients + i));
    const __m256i value = _mm256_or_si256(
        _mm256_slli_epi16(_mm256_mulhi_epi16(x, c), 16 - MF_WINDOW_BITS),
        _mm256_srli_epi16(_mm256_mullo_epi16(x, c), MF_WINDOW_BITS));
    _mm256_storeu_si256((__m256i*)(void*)(output + i), value);
    max_abs = _mm256_max_epi16(max_abs, _mm256_abs_epi16(value));
  }
  __m128i max8 = _mm_max_epi16(_mm256_castsi256_si128(max_abs),
                               _mm256_extracti128_si256(max_abs, 1));
  max8 = _mm_max_epi16(max8, _mm_srli_si128(max8, 8));
  max8 = _mm_max_epi16(max8, _mm_srli_si128(max8, 4));
  max8 = _mm_max_epi16(max8, _mm_srli_si128(max8, 2));
  int16_t result = (int16_t)_mm_extract_epi16(max8, 0);
  for (; i < size; ++i) {
    const int16_t value = mf_wrap16(
        ((int32_t)input[i] * window->coefficients[i]) >> MF_WINDOW_BITS);
    output[i] = value;
    const int16_t magnitude = mf_wrap16(value < 0 ? -(int32_t)value : value);
    if (magnitude > result) result = magnitude;
  }
  return result;
}
#endif

MF_VECTOR_CLONES
int16_t mf_window_apply(const mf_window* window, const int16_t* input,
                        int16_t* output) {
#if MF_X86_KERNELS
  if (window->avx2) return window_avx2(window, input, output);
#endif
  const int16_t* coefficients = window->coefficients;
  const size_t size = window->size;
  int16_t max_abs = 0;
  for (size_t i = 0; i < size; ++i) {
    /* Arithmetic shift of a negative product: floor division, as on device. */
    const int16_t value =
        mf_wrap16(((int32_t)input[i] * coefficients[i]) >> MF_WINDOW_BITS);
    output[i] = value;
    const int16_t magnitude = mf_wrap16(value < 0 ? -(int32_t)value : value);
    if (magnitude > max_abs) max_abs = magnitude;
  }
  return max_abs;
}
