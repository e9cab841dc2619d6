/* Hann window in Q12 fixed point over one frame of input. */
#ifndef MICROFRONTEND_WINDOW_H_
#define MICROFRONTEND_WINDOW_H_

#include <stddef.h>
#include <stdint.h>

#include "microfrontend/frontend.h"

#define MF_WINDOW_BITS 12

typedef struct {
  size_t size;            /* samples per window */
  size_t step;            /* samples between window starts */
  int16_t* coefficients;  /* [size], Q12 */
  int avx2;               /* the CPU has AVX2 (and the build its kernels) */
} mf_window;

/* Builds the coefficients the way the given device arithmetic does. Returns 0
 * when out of memory. */
int mf_window_populate(mf_window* window, mf_arithmetic arithmetic,
                       int32_t sample_rate_hz, int32_t size_ms,
                       int32_t step_ms);
void mf_window_free(mf_window* window);

/* Multiplies one frame by the window. Returns the largest magnitude written,
 * computed the way the device does: -32768 saturates to itself and so never
 * counts as the maximum. */
int16_t mf_window_apply(const mf_window* window, const int16_t* input,
                        int16_t* output);

#endif
