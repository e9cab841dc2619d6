/* Per-channel energy normalization: each channel divided by a power of its
 * noise estimate, through a piecewise-quadratic table of x^-strength. */
#ifndef MICROFRONTEND_PCAN_H_
#define MICROFRONTEND_PCAN_H_

#include <stddef.h>
#include <stdint.h>

#define MF_PCAN_SNR_BITS 12
#define MF_PCAN_OUTPUT_BITS 6
#define MF_PCAN_TABLE_BITS 32
/* Entries 0 and 1, then (value, slope, curvature, pad) per octave 2..32. */
#define MF_PCAN_TABLE_SIZE (4 * MF_PCAN_TABLE_BITS - 3)

typedef struct {
  size_t num_channels;
  int snr_shift;
  int16_t table[MF_PCAN_TABLE_SIZE];
  /* The table again, one entry per octave (the position of x's highest set
   * bit, 0..32), widened to 32 bits so that the per-channel lookups can be
   * vector gathers: octaves 0 and 1 (x = 0 and 1) are their constant entries
   * with zero slope and curvature. */
  int32_t octave_value[MF_PCAN_TABLE_BITS + 1];
  int32_t octave_slope[MF_PCAN_TABLE_BITS + 1];
  int32_t octave_curvature[MF_PCAN_TABLE_BITS + 1];
  int avx2; /* the CPU has AVX2 (and the build its kernels) */
} mf_pcan;

/* noise_bits: the fixed-point position of the noise estimate it reads
 * (smoothing bits minus the filterbank's correction bits). Returns 0 when the
 * settings would need a negative shift. */
int mf_pcan_populate(mf_pcan* pcan, size_t num_channels, float strength,
                     float offset, int gain_bits, int noise_bits,
                     int correction_bits);

void mf_pcan_apply(const mf_pcan* pcan, const uint32_t* noise_estimate,
                   uint32_t* signal);

#endif
