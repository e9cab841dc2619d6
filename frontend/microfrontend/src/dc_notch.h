/* First-order DC notch on the int16 input stream:
 * H(z) = (1 - z^-1) / (1 - c z^-1), c in Q15. */
#ifndef MICROFRONTEND_DC_NOTCH_H_
#define MICROFRONTEND_DC_NOTCH_H_

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int16_t coefficient;  /* Q15, truncated from the float setting */
  int16_t previous_input;
  int16_t previous_output;
} mf_dc_notch;

void mf_dc_notch_populate(mf_dc_notch* notch, float coefficient);
void mf_dc_notch_reset(mf_dc_notch* notch);

/* Filters count samples, continuing from the state the last call left. Sums
 * wrap to 16 bits, as the reference's filter does. */
void mf_dc_notch_apply(mf_dc_notch* notch, const int16_t* input, size_t count,
                       int16_t* output);

#endif
