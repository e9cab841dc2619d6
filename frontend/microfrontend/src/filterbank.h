/* Triangular mel filterbank over the FFT energies, square-rooted. */
#ifndef MICROFRONTEND_FILTERBANK_H_
#define MICROFRONTEND_FILTERBANK_H_

#include <stddef.h>
#include <stdint.h>

#include "microfrontend/frontend.h"

#define MF_FILTERBANK_BITS 12

/* Channels summed side by side, one per accumulator, and bins per step of a
 * channel's row (4 doubles: one AVX2 vector). */
#define MF_FILTERBANK_GROUP 4
#define MF_FILTERBANK_STEP 4

typedef struct {
  size_t num_channels;
  size_t start_bin;      /* first FFT bin used: DC is always excluded */
  size_t end_bin;        /* one past the last FFT bin used */
  /* num_channels + 1 bands, band b covering bins [band_start[b],
   * band_start[b + 1]). A bin of band b adds weights[bin] of its energy to
   * sum b and unweights[bin] to sum b + 1; channel c is sum c + 1. */
  size_t* band_start;    /* [num_channels + 2] */
  int16_t* weights;      /* [spectrum size + 1], Q12 */
  int16_t* unweights;    /* [spectrum size + 1], Q12 */
  /* The same sums as rows: channel c weighs the bins of band c by their
   * unweights and those of band c + 1 by their weights, a contiguous run of
   * bins from band_start[c]. Channels go in groups of MF_FILTERBANK_GROUP
   * (the last one completed by channels of zero weights); a group's rows are
   * zero-padded to the same number of steps of MF_FILTERBANK_STEP bins, and
   * its coefficients interleaved step by step: [step][channel][bin]. */
  size_t num_groups;
  size_t* group_steps;   /* [num_groups] */
  size_t* row_bin;       /* [num_groups * GROUP]: first bin of each row */
  int32_t* coefficients; /* [sum of group_steps * GROUP * STEP] */
  /* [energy_size]: |X|^2 of bins start_bin..end_bin; zero beyond, where the
   * padded rows read. */
  int32_t* energy;
  size_t energy_size;
  uint64_t* sums;        /* [num_groups * GROUP]: channel sums */
  /* The CPU has AVX2 (and the build its kernels) and every row's sum is
   * exact in double: the sums run in double vectors, with energy_double and
   * coefficients_double (the same values), straight into the square roots.
   * Otherwise they run in 64-bit integers, with energy, coefficients and
   * sums. */
  int double_sums;
  double* energy_double;       /* [energy_size] */
  double* coefficients_double; /* as coefficients */
  double* sums_double;         /* [num_groups * GROUP] */
  uint32_t* roots;             /* [num_groups * GROUP] */
} mf_filterbank;

/* Builds the layout and weights the way the given device arithmetic does.
 * Returns 0 when out of memory, -1 when that device would refuse the layout
 * (its bands do not fit the spectrum). */
int mf_filterbank_populate(mf_filterbank* filterbank, mf_arithmetic arithmetic,
                           size_t num_channels, float lower_band_limit_hz,
                           float upper_band_limit_hz, int32_t sample_rate_hz,
                           size_t spectrum_size);
void mf_filterbank_free(mf_filterbank* filterbank);

/* Turns FFT bins into channel amplitudes:
 * sqrt(sum of weighted |X|^2) >> scale_down_shift for each channel. */
void mf_filterbank_apply(mf_filterbank* filterbank, const int16_t* fft_re,
                         const int16_t* fft_im, int scale_down_shift,
                         uint32_t* output);

#endif
