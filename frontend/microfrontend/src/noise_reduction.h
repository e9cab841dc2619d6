/* Per-channel noise estimate, subtracted from the signal with a floor. */
#ifndef MICROFRONTEND_NOISE_REDUCTION_H_
#define MICROFRONTEND_NOISE_REDUCTION_H_

#include <stddef.h>
#include <stdint.h>

#define MF_NOISE_REDUCTION_BITS 14

typedef struct {
  size_t num_channels;
  int smoothing_bits;
  uint32_t even_smoothing;        /* Q14, channels 0, 2, ... */
  uint32_t odd_smoothing;         /* Q14, channels 1, 3, ... */
  uint32_t min_signal_remaining;  /* Q14 */
  uint32_t* estimate;             /* [num_channels], scaled by smoothing_bits */
  int avx2;  /* the CPU has AVX2 (and the build its kernels) */
} mf_noise_reduction;

int mf_noise_reduction_populate(mf_noise_reduction* noise, size_t num_channels,
                                int smoothing_bits, float even_smoothing,
                                float odd_smoothing,
                                float min_signal_remaining);
void mf_noise_reduction_reset(mf_noise_reduction* noise);
void mf_noise_reduction_free(mf_noise_reduction* noise);

/* Updates the estimate with this frame and removes it from signal in place. */
void mf_noise_reduction_apply(mf_noise_reduction* noise, uint32_t* signal);

#endif
