#include "window.h"

#include <math.h>
#include <stdlib.h>

#include "bits.h"

int mf_window_populate(mf_window* window, int32_t sample_rate_hz,
                       int32_t size_ms, int32_t step_ms) {
  window->size = (size_t)size_ms * (size_t)sample_rate_hz / 1000;
  window->step = (size_t)step_ms * (size_t)sample_rate_hz / 1000;
  window->coefficients = malloc(window->size * sizeof(int16_t));
  if (window->coefficients == NULL) return 0;

  /* The device computes these in float, then rounds; the same types are kept
   * here so that every coefficient matches. */
  const float arg = (float)(3.14159265358979323846 * 2.0 / (float)window->size);
  for (size_t i = 0; i < window->size; ++i) {
    const float value = (float)(0.5 - 0.5 * cos(arg * ((double)i + 0.5)));
    window->coefficients[i] =
        (int16_t)floor(value * (1 << MF_WINDOW_BITS) + 0.5);
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
