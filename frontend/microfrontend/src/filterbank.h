/* Triangular mel filterbank over the FFT energies, square-rooted. */
#ifndef MICROFRONTEND_FILTERBANK_H_
#define MICROFRONTEND_FILTERBANK_H_

#include <stddef.h>
#include <stdint.h>

#include "microfrontend/frontend.h"

#define MF_FILTERBANK_BITS 12

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
  uint64_t* work;        /* [num_channels + 1]: the sums */
  int64_t* weighted;     /* [spectrum size + 1]: weights * |X|^2 */
  int64_t* unweighted;   /* [spectrum size + 1]: unweights * |X|^2 */
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
