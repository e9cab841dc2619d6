#include "dc_notch.h"

#include "bits.h"

void mf_dc_notch_populate(mf_dc_notch* notch, float coefficient) {
  notch->coefficient = (int16_t)(coefficient * 32768.0f);
  mf_dc_notch_reset(notch);
}

void mf_dc_notch_reset(mf_dc_notch* notch) {
  notch->previous_input = 0;
  notch->previous_output = 0;
}

void mf_dc_notch_apply(mf_dc_notch* notch, const int16_t* input, size_t count,
                       int16_t* output) {
  int16_t previous_input = notch->previous_input;
  int16_t previous_output = notch->previous_output;
  const int32_t coefficient = notch->coefficient;
  for (size_t i = 0; i < count; ++i) {
    const int16_t difference = mf_wrap16((int32_t)input[i] - previous_input);
    /* c * y[n-1] / 2^15, rounded half up. */
    const int32_t feedback = ((coefficient * previous_output >> 14) + 1) >> 1;
    previous_input = input[i];
    previous_output = mf_wrap16(difference + feedback);
    output[i] = previous_output;
  }
  notch->previous_input = previous_input;
  notch->previous_output = previous_output;
}
