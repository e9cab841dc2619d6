#include "window.h"

#include <math.h>
#include <stdlib.h>

#include "bits.h"
#include "single_precision.h"

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
  return 1;
}

void mf_window_free(mf_window* window) {
  free(window->coefficients);
  window->coefficients = NULL;
}

MF_VECTOR_CLONES
int16_t mf_window_apply(const mf_window* window, const int16_t* input,
                        int16_t* output) {
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
