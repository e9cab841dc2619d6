#include "noise_reduction.h"

#include <stdlib.h>
#include <string.h>

#include "bits.h"

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
  return noise->estimate != NULL;
}

void mf_noise_reduction_reset(mf_noise_reduction* noise) {
  memset(noise->estimate, 0, noise->num_channels * sizeof(uint32_t));
}

void mf_noise_reduction_free(mf_noise_reduction* noise) {
  free(noise->estimate);
  noise->estimate = NULL;
}

MF_VECTOR_CLONES void mf_noise_reduction_apply(mf_noise_reduction* noise,
                                               uint32_t* signal) {
  const int bits = noise->smoothing_bits;
  for (size_t i = 0; i < noise->num_channels; ++i) {
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
