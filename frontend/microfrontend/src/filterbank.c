#include "filterbank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"
#include "single_precision.h"

/* The layout is computed with each device's own expressions, float where its
 * source has float and double where it has double, so that every band edge
 * and weight matches. The double arithmetics (MLTK's, TensorFlow's op) take
 * log1p and round in double; TFLM's takes log1pf and rounds in float. */
static float hz_to_mel(int single, float hz) {
  if (single) return 1127.0f * mf_log1pf(hz / 700.0f);
  return (float)(1127.0 * log1p(hz / 700.0));
}

static int16_t quantize_weight(int single, float weight) {
  const float scale = 1 << MF_FILTERBANK_BITS;
  if (single) return (int16_t)floorf(weight * scale + 0.5f);
  return (int16_t)floor(weight * scale + 0.5);
}

static int16_t quantize_unweight(int single, float weight) {
  const float scale = 1 << MF_FILTERBANK_BITS;
  if (single) return (int16_t)floorf((1.0f - weight) * scale + 0.5f);
  return (int16_t)floor((1.0 - weight) * scale + 0.5);
}

int mf_filterbank_populate(mf_filterbank* filterbank, mf_arithmetic arithmetic,
                           size_t num_channels, float lower_band_limit_hz,
                           float upper_band_limit_hz, int32_t sample_rate_hz,
                           size_t spectrum_size) {
  memset(filterbank, 0, sizeof(*filterbank));
  const int single = arithmetic == MF_ARITHMETIC_TFLM;
  const size_t num_bands = num_channels + 1;
  /* The bin walk may step one bin past the spectrum before it stops (MLTK's
   * device accepts a layout that ends exactly there), so the tables hold one
   * more entry than the spectrum. */
  const size_t bin_limit = spectrum_size + 1;
  filterbank->num_channels = num_channels;
  filterbank->band_start = malloc((num_bands + 1) * sizeof(size_t));
  filterbank->work = malloc(num_bands * sizeof(uint64_t));
  filterbank->weights = calloc(bin_limit, sizeof(int16_t));
  filterbank->unweights = calloc(bin_limit, sizeof(int16_t));
  filterbank->weighted = calloc(bin_limit, sizeof(int64_t));
  filterbank->unweighted = calloc(bin_limit, sizeof(int64_t));
  float* center_mel = malloc(num_bands * sizeof(float));
  if (!filterbank->band_start || !filterbank->work || !filterbank->weights ||
      !filterbank->unweights || !filterbank->weighted ||
      !filterbank->unweighted || !center_mel) {
    free(center_mel);
    return 0;
  }

  const float mel_low = hz_to_mel(single, lower_band_limit_hz);
  const float mel_high = hz_to_mel(single, upper_band_limit_hz);
  const float mel_spacing = (mel_high - mel_low) / (float)num_bands;
  for (size_t c = 0; c < num_bands; ++c) {
    center_mel[c] = mel_low + mel_spacing * (float)(c + 1);
  }

  const float last_bin = (float)spectrum_size - 1;
  const float hz_per_bin =
      single ? 0.5f * (float)sample_rate_hz / last_bin
             : (float)(0.5 * sample_rate_hz / last_bin);
  /* DC is always excluded. The sum is float in TFLM's source, double in the
   * others; it is truncated either way. */
  const float first_bin = lower_band_limit_hz / hz_per_bin;
  const size_t start_bin =
      single ? (size_t)(1.5f + first_bin) : (size_t)(1.5 + first_bin);
  filterbank->start_bin = start_bin;

  /* Each band takes every bin up to its center. The walk is bounded, so that
   * no setting can take it past the tables. */
  size_t bin = start_bin < bin_limit ? start_bin : bin_limit;
  for (size_t c = 0; c < num_bands; ++c) {
    filterbank->band_start[c] = bin;
    const float previous_mel = (c == 0) ? mel_low : center_mel[c - 1];
    while (bin < bin_limit &&
           hz_to_mel(single, (float)bin * hz_per_bin) <= center_mel[c]) {
      const float weight =
          (center_mel[c] - hz_to_mel(single, (float)bin * hz_per_bin)) /
          (center_mel[c] - previous_mel);
      filterbank->weights[bin] = quantize_weight(single, weight);
      filterbank->unweights[bin] = quantize_unweight(single, weight);
      ++bin;
    }
  }
  filterbank->band_start[num_bands] = bin;
  filterbank->end_bin = bin;
  free(center_mel);
  /* One past the last bin used: TensorFlow's op and TFLM require it to stay
   * below the spectrum size, MLTK only to stay within it, so there the top
   * band may take the Nyquist bin. A walk stopped by the bound has not ended
   * and fits nowhere. */
  if (start_bin >= bin_limit || bin >= bin_limit) return -1;
  if (arithmetic == MF_ARITHMETIC_MLTK) return bin <= spectrum_size ? 1 : -1;
  return bin < spectrum_size ? 1 : -1;
}

void mf_filterbank_free(mf_filterbank* filterbank) {
  free(filterbank->band_start);
  free(filterbank->weights);
  free(filterbank->unweights);
  free(filterbank->work);
  free(filterbank->weighted);
  free(filterbank->unweighted);
  memset(filterbank, 0, sizeof(*filterbank));
}

/* Floor square root with the remainder rounding of the device's bitwise
 * routine: r + 1 when num - r^2 > r, unless r is at the routine's cap (16 bits
 * for inputs below 2^32, 32 bits above). A double estimate corrected by at
 * most a step or two gives the same r without a 32-iteration loop. */
static uint32_t rounded_sqrt(uint64_t num) {
  const uint64_t cap = (num >> 32) ? 0xFFFFFFFFu : 0xFFFFu;
  uint64_t r = (uint64_t)sqrt((double)num);
  if (r > 0xFFFFFFFFu) r = 0xFFFFFFFFu;
  while (r * r > num) --r;
  while (r < 0xFFFFFFFFu && (r + 1) * (r + 1) <= num) ++r;
  if (num - r * r > r && r != cap) ++r;
  return (uint32_t)r;
}

MF_VECTOR_CLONES void mf_filterbank_apply(mf_filterbank* filterbank,
                                          const int16_t* fft_re,
                                          const int16_t* fft_im,
                                          int scale_down_shift,
                                          uint32_t* output) {
  const size_t num_bands = filterbank->num_channels + 1;
  const size_t start = filterbank->start_bin;
  const size_t end = filterbank->end_bin;
  const size_t* band_start = filterbank->band_start;
  const int16_t* weights = filterbank->weights;
  const int16_t* unweights = filterbank->unweights;
  int64_t* weighted = filterbank->weighted;
  int64_t* unweighted = filterbank->unweighted;
  uint64_t* work = filterbank->work;

  /* The device sums weight * energy in uint64, which is the signed product
   * modulo 2^64; every term is below 2^46 in magnitude and there are at most
   * 2^15 bins, so signed 64-bit sums hold it exactly. The products come
   * first, in one vectorized pass. */
  for (size_t bin = start; bin < end; ++bin) {
    const int32_t re = fft_re[bin];
    const int32_t im = fft_im[bin];
    /* |X|^2 is a 32-bit value the device stores as signed: the one input
     * that reaches 2^31 (both parts -32768) sign-extends, as it does there. */
    const int32_t energy =
        (int32_t)((uint32_t)(re * re) + (uint32_t)(im * im));
    weighted[bin] = (int64_t)weights[bin] * energy;
    unweighted[bin] = (int64_t)unweights[bin] * energy;
  }
  /* A bin of band b adds its weighted energy to sum b and its unweighted
   * energy to sum b + 1. Sum 0 holds only the lower half of the first
   * triangle; the device drops it. */
  int64_t sum = 0;
  for (size_t b = 0; b < num_bands; ++b) {
    int64_t next_sum = 0;
    for (size_t bin = band_start[b]; bin < band_start[b + 1]; ++bin) {
      sum += weighted[bin];
      next_sum += unweighted[bin];
    }
    work[b] = (uint64_t)sum;
    sum = next_sum;
  }
  /* Below 2^50, the usual range, the square root needs no correction: num
   * is exact in double (assembled from two 25-bit halves, which vectorizes
   * where a 64-bit conversion does not) and its correctly rounded root never
   * reaches the next integer (the gap exceeds half an ulp), so truncation is
   * the floor. Larger sums take the general routine afterwards. */
  const size_t channels = num_bands - 1;
  const uint64_t* sums = work + 1;
  for (size_t c = 0; c < channels; ++c) {
    const uint64_t num = sums[c] & ((UINT64_C(1) << 50) - 1);
    const double exact = (double)(int32_t)(num >> 25) * 33554432.0 +
                         (double)(int32_t)(num & 0x1FFFFFF);
    const int64_t r = (int32_t)sqrt(exact);
    const int64_t remainder = (int64_t)num - r * r;
    /* The device's 16-bit cap for inputs below 2^32. */
    const int capped = (r == 0xFFFF) & (num <= 0xFFFFFFFFu);
    output[c] =
        (uint32_t)(r + ((remainder > r) & !capped)) >> scale_down_shift;
  }
  for (size_t c = 0; c < channels; ++c) {
    if (sums[c] >> 50) output[c] = rounded_sqrt(sums[c]) >> scale_down_shift;
  }
}
