#include "filterbank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"
#include "single_precision.h"

#if MF_X86_KERNELS
#include <immintrin.h>
#endif

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

/* Lays the channels out as rows of coefficients (see mf_filterbank): the sums
 * become dot products of fixed length, which run as vectors without a branch
 * per band. */
static int build_rows(mf_filterbank* filterbank, int avx2) {
  const size_t channels = filterbank->num_channels;
  const size_t* band_start = filterbank->band_start;
  const size_t groups =
      (channels + MF_FILTERBANK_GROUP - 1) / MF_FILTERBANK_GROUP;
  const size_t rows = groups * MF_FILTERBANK_GROUP;
  filterbank->num_groups = groups;
  filterbank->group_steps = malloc(groups * sizeof(size_t));
  filterbank->row_bin = malloc(rows * sizeof(size_t));
  filterbank->sums = calloc(rows, sizeof(uint64_t));
  if (!filterbank->group_steps || !filterbank->row_bin || !filterbank->sums) {
    return 0;
  }
  size_t total_steps = 0;
  size_t energy_size = filterbank->end_bin;
  for (size_t g = 0; g < groups; ++g) {
    size_t steps = 0;
    for (size_t k = 0; k < MF_FILTERBANK_GROUP; ++k) {
      const size_t c = g * MF_FILTERBANK_GROUP + k;
      /* The rows that complete the last group read from the first bin. */
      const size_t first =
          c < channels ? band_start[c] : filterbank->start_bin;
      const size_t width = c < channels ? band_start[c + 2] - first : 0;
      const size_t row_steps =
          (width + MF_FILTERBANK_STEP - 1) / MF_FILTERBANK_STEP;
      filterbank->row_bin[c] = first;
      if (row_steps > steps) steps = row_steps;
    }
    filterbank->group_steps[g] = steps;
    total_steps += steps;
    for (size_t k = 0; k < MF_FILTERBANK_GROUP; ++k) {
      const size_t reach =
          filterbank->row_bin[g * MF_FILTERBANK_GROUP + k] +
          steps * MF_FILTERBANK_STEP;
      if (reach > energy_size) energy_size = reach;
    }
  }
  filterbank->energy_size = energy_size;
  filterbank->energy = calloc(energy_size, sizeof(int32_t));
  const size_t coefficient_count =
      total_steps * MF_FILTERBANK_GROUP * MF_FILTERBANK_STEP;
  /* At least one entry: a layout whose bands are all empty has no steps. */
  filterbank->coefficients =
      calloc(coefficient_count ? coefficient_count : 1, sizeof(int32_t));
  if (!filterbank->energy || !filterbank->coefficients) return 0;

  /* Sums in double are exact when no partial sum can pass 2^53: energies are
   * at most 2^31 in magnitude, so a row whose weights add up to at most 2^22
   * qualifies (rows of up to 1 024 bins, at least). */
  int exact_in_double = 1;
  for (size_t c = 0; c < channels; ++c) {
    uint64_t weight_sum = 0;
    for (size_t bin = band_start[c]; bin < band_start[c + 2]; ++bin) {
      const int32_t weight = bin < band_start[c + 1]
                                 ? filterbank->unweights[bin]
                                 : filterbank->weights[bin];
      weight_sum += (uint64_t)(weight < 0 ? -weight : weight);
    }
    if (weight_sum > (UINT64_C(1) << 22)) exact_in_double = 0;
  }

  int32_t* step_coefficients = filterbank->coefficients;
  for (size_t g = 0; g < groups; ++g) {
    for (size_t s = 0; s < filterbank->group_steps[g]; ++s) {
      for (size_t k = 0; k < MF_FILTERBANK_GROUP; ++k) {
        const size_t c = g * MF_FILTERBANK_GROUP + k;
        for (size_t i = 0; i < MF_FILTERBANK_STEP; ++i) {
          const size_t bin =
              filterbank->row_bin[c] + s * MF_FILTERBANK_STEP + i;
          int32_t coefficient = 0;
          if (c < channels && bin < band_start[c + 1]) {
            coefficient = filterbank->unweights[bin];
          } else if (c < channels && bin < band_start[c + 2]) {
            coefficient = filterbank->weights[bin];
          }
          step_coefficients[k * MF_FILTERBANK_STEP + i] = coefficient;
        }
      }
      step_coefficients += MF_FILTERBANK_GROUP * MF_FILTERBANK_STEP;
    }
  }

  if (!avx2 || !exact_in_double) return 1;
  filterbank->energy_double = calloc(energy_size, sizeof(double));
  filterbank->sums_double = malloc(rows * sizeof(double));
  filterbank->roots = malloc(rows * sizeof(uint32_t));
  filterbank->coefficients_double = malloc(
      (coefficient_count ? coefficient_count : 1) * sizeof(double));
  if (!filterbank->energy_double || !filterbank->coefficients_double ||
      !filterbank->sums_double || !filterbank->roots) {
    return 0;
  }
  for (size_t i = 0; i < coefficient_count; ++i) {
    filterbank->coefficients_double[i] = filterbank->coefficients[i];
  }
  filterbank->double_sums = 1;
  return 1;
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
  filterbank->weights = calloc(bin_limit, sizeof(int16_t));
  filterbank->unweights = calloc(bin_limit, sizeof(int16_t));
  float* center_mel = malloc(num_bands * sizeof(float));
  if (!filterbank->band_start || !filterbank->weights ||
      !filterbank->unweights || !center_mel) {
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
  const size_t bins_available =
      arithmetic == MF_ARITHMETIC_MLTK ? spectrum_size + 1 : spectrum_size;
  if (bin >= bins_available) return -1;
  /* The double sums also need fused multiply-adds, which every AVX2 CPU
   * has. */
  int avx2 = mf_cpu_has_avx2();
#if MF_X86_KERNELS
  avx2 = avx2 && __builtin_cpu_supports("fma");
#endif
  return build_rows(filterbank, avx2);
}

void mf_filterbank_free(mf_filterbank* filterbank) {
  free(filterbank->band_start);
  free(filterbank->weights);
  free(filterbank->unweights);
  free(filterbank->group_steps);
  free(filterbank->row_bin);
  free(filterbank->coefficients);
  free(filterbank->energy);
  free(filterbank->sums);
  free(filterbank->energy_double);
  free(filterbank->coefficients_double);
  free(filterbank->sums_double);
  free(filterbank->roots);
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

/* |X|^2 of bins [start, end). It is a 32-bit value the device stores as
 * signed: the one input that reaches 2^31 (both parts -32768) sign-extends,
 * as it does there. */
MF_VECTOR_CLONES
static void energies(const int16_t* restrict re, const int16_t* restrict im,
                     size_t start, size_t end, int32_t* restrict energy) {
  for (size_t bin = start; bin < end; ++bin) {
    const int32_t r = re[bin];
    const int32_t i = im[bin];
    energy[bin] = (int32_t)((uint32_t)(r * r) + (uint32_t)(i * i));
  }
}

/* The device sums weight * energy in uint64, which is the signed product
 * modulo 2^64 (every product is below 2^43 in magnitude): the same sums in
 * wrapping unsigned arithmetic, whatever the number of bins. */
static void row_sums(const mf_filterbank* filterbank) {
  const int32_t* energy = filterbank->energy;
  const int32_t* coefficients = filterbank->coefficients;
  for (size_t g = 0; g < filterbank->num_groups; ++g) {
    const size_t* row_bin = filterbank->row_bin + g * MF_FILTERBANK_GROUP;
    uint64_t sum[MF_FILTERBANK_GROUP] = {0};
    for (size_t s = 0; s < filterbank->group_steps[g]; ++s) {
      for (size_t k = 0; k < MF_FILTERBANK_GROUP; ++k) {
        const int32_t* bins = energy + row_bin[k] + s * MF_FILTERBANK_STEP;
        for (size_t i = 0; i < MF_FILTERBANK_STEP; ++i) {
          sum[k] += (uint64_t)((int64_t)coefficients[i] * bins[i]);
        }
        coefficients += MF_FILTERBANK_STEP;
      }
    }
    memcpy(filterbank->sums + g * MF_FILTERBANK_GROUP, sum, sizeof(sum));
  }
}

#if MF_X86_KERNELS
#define AVX2 __attribute__((target("avx2")))
#define AVX2_FMA __attribute__((target("avx2,fma")))

/* energies() 16 bins at a time, as doubles: each (re, im) pair multiplied
 * by itself and added in one 16-bit multiply-add (pmaddwd), which wraps 2^31
 * to -2^31 just as the device's store does. */
AVX2 static void energies_double_avx2(const int16_t* re, const int16_t* im,
                                      size_t start, size_t end,
                                      double* energy) {
  size_t bin = start;
  for (; bin + 16 <= end; bin += 16) {
    /* 64-bit quarters 0 2 1 3, so that the in-lane interleaves below give
     * bins 0-7 and 8-15 in order. */
    const __m256i r = _mm256_permute4x64_epi64(
        _mm256_loadu_si256((const __m256i*)(const void*)(re + bin)), 0xD8);
    const __m256i i = _mm256_permute4x64_epi64(
        _mm256_loadu_si256((const __m256i*)(const void*)(im + bin)), 0xD8);
    const __m256i low = _mm256_unpacklo_epi16(r, i);
    const __m256i high = _mm256_unpackhi_epi16(r, i);
    const __m256i low_energy = _mm256_madd_epi16(low, low);
    const __m256i high_energy = _mm256_madd_epi16(high, high);
    const __m128i quarters[4] = {
        _mm256_castsi256_si128(low_energy),
        _mm256_extracti128_si256(low_energy, 1),
        _mm256_castsi256_si128(high_energy),
        _mm256_extracti128_si256(high_energy, 1)};
    for (size_t q = 0; q < 4; ++q) {
      _mm256_storeu_pd(energy + bin + 4 * q, _mm256_cvtepi32_pd(quarters[q]));
    }
  }
  for (; bin < end; ++bin) {
    const int32_t r = re[bin];
    const int32_t i = im[bin];
    energy[bin] = (int32_t)((uint32_t)(r * r) + (uint32_t)(i * i));
  }
}

/* The rows' sums in double (exact: see build_rows()) and their square roots,
 * a group of four channels at a time. */
AVX2_FMA static void channels_double_avx2(const mf_filterbank* filterbank,
                                          int scale_down_shift,
                                          uint32_t* output) {
  const double* energy = filterbank->energy_double;
  const double* coefficients = filterbank->coefficients_double;
  const size_t channels = filterbank->num_channels;
  const __m128i shift = _mm_cvtsi32_si128(scale_down_shift);
  for (size_t g = 0; g < filterbank->num_groups; ++g) {
    const size_t* row_bin = filterbank->row_bin + g * MF_FILTERBANK_GROUP;
    const double* bins0 = energy + row_bin[0];
    const double* bins1 = energy + row_bin[1];
    const double* bins2 = energy + row_bin[2];
    const double* bins3 = energy + row_bin[3];
    __m256d sum0 = _mm256_setzero_pd(), sum1 = sum0, sum2 = sum0, sum3 = sum0;
    const size_t bins = filterbank->group_steps[g] * MF_FILTERBANK_STEP;
    for (size_t i = 0; i < bins; i += MF_FILTERBANK_STEP) {
      /* Fused or not, a product and sum that are exact round alike. */
      sum0 = _mm256_fmadd_pd(_mm256_loadu_pd(bins0 + i),
                             _mm256_loadu_pd(coefficients), sum0);
      sum1 = _mm256_fmadd_pd(_mm256_loadu_pd(bins1 + i),
                             _mm256_loadu_pd(coefficients + 4), sum1);
      sum2 = _mm256_fmadd_pd(_mm256_loadu_pd(bins2 + i),
                             _mm256_loadu_pd(coefficients + 8), sum2);
      sum3 = _mm256_fmadd_pd(_mm256_loadu_pd(bins3 + i),
                             _mm256_loadu_pd(coefficients + 12), sum3);
      coefficients += MF_FILTERBANK_GROUP * MF_FILTERBANK_STEP;
    }
    /* The four lanes of each accumulator added, the four channels' sums
     * side by side. */
    const __m256d sum01 = _mm256_hadd_pd(sum0, sum1);
    const __m256d sum23 = _mm256_hadd_pd(sum2, sum3);
    const __m256d sum =
        _mm256_add_pd(_mm256_permute2f128_pd(sum01, sum23, 0x20),
                      _mm256_permute2f128_pd(sum01, sum23, 0x31));
    _mm256_storeu_pd(filterbank->sums_double + g * MF_FILTERBANK_GROUP, sum);
  }
  /* The square roots as in square_roots(), in double, in a loop of their own
   * so that they pipeline: below 2^50 the truncated root is the floor, and
   * r^2 and the remainder are exact. */
  const size_t rows = filterbank->num_groups * MF_FILTERBANK_GROUP;
  const double* sums = filterbank->sums_double;
  uint32_t* roots = filterbank->roots;
  int out_of_range = 0;
  for (size_t c = 0; c < rows; c += 4) {
    const __m256d sum = _mm256_loadu_pd(sums + c);
    const __m256d root = _mm256_round_pd(
        _mm256_sqrt_pd(sum), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256d remainder = _mm256_sub_pd(sum, _mm256_mul_pd(root, root));
    /* The device's 16-bit cap for inputs below 2^32. */
    const __m256d capped = _mm256_and_pd(
        _mm256_cmp_pd(root, _mm256_set1_pd(65535.0), _CMP_EQ_OQ),
        _mm256_cmp_pd(sum, _mm256_set1_pd(4294967295.0), _CMP_LE_OQ));
    const __m256d round_up = _mm256_andnot_pd(
        capped, _mm256_cmp_pd(remainder, root, _CMP_GT_OQ));
    const __m256d rounded =
        _mm256_add_pd(root, _mm256_and_pd(round_up, _mm256_set1_pd(1.0)));
    _mm_storeu_si128((__m128i*)(void*)(roots + c),
                     _mm_srl_epi32(_mm256_cvttpd_epi32(rounded), shift));
    const __m256d in_range = _mm256_and_pd(
        _mm256_cmp_pd(sum, _mm256_setzero_pd(), _CMP_GE_OQ),
        _mm256_cmp_pd(sum, _mm256_set1_pd(1125899906842624.0), _CMP_LT_OQ));
    out_of_range |= _mm256_movemask_pd(in_range) ^ 0xF;
  }
  /* Negative sums (from energies of -2^31) wrap as the device's uint64
   * does; they and sums from 2^50 take the general routine. */
  if (out_of_range) {
    for (size_t c = 0; c < rows; ++c) {
      if (sums[c] >= 0.0 && sums[c] < 1125899906842624.0) continue;
      roots[c] = rounded_sqrt((uint64_t)(int64_t)sums[c]) >> scale_down_shift;
    }
  }
  memcpy(output, roots, channels * sizeof(uint32_t));
}
#endif

/* Below 2^50, the usual range, the square root needs no correction: num is
 * exact in double (assembled from two 25-bit halves, which vectorizes where a
 * 64-bit conversion does not) and its correctly rounded root never reaches
 * the next integer (the gap exceeds half an ulp), so truncation is the floor.
 * Larger sums take the general routine afterwards. */
MF_VECTOR_CLONES
static void square_roots(const uint64_t* restrict sums, size_t channels,
                         int scale_down_shift, uint32_t* restrict output) {
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

void mf_filterbank_apply(mf_filterbank* filterbank, const int16_t* fft_re,
                         const int16_t* fft_im, int scale_down_shift,
                         uint32_t* output) {
#if MF_X86_KERNELS
  if (filterbank->double_sums) {
    energies_double_avx2(fft_re, fft_im, filterbank->start_bin,
                         filterbank->end_bin, filterbank->energy_double);
    channels_double_avx2(filterbank, scale_down_shift, output);
    return;
  }
#endif
  energies(fft_re, fft_im, filterbank->start_bin, filterbank->end_bin,
           filterbank->energy);
  row_sums(filterbank);
  square_roots(filterbank->sums, filterbank->num_channels, scale_down_shift,
               output);
}
