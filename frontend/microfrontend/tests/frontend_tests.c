/* Unit tests of the microfrontend's stages on hand-checkable inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"
#include "check.h"
#include "dc_notch.h"
#include "expected_tables.h"
#include "fft.h"
#include "filterbank.h"
#include "log_scale.h"
#include "microfrontend/frontend.h"
#include "noise_reduction.h"
#include "pcan.h"
#include "window.h"

static void test_window_is_a_symmetric_q12_hann(void) {
  mf_window window;
  CHECK(mf_window_populate(&window, MF_ARITHMETIC_TF_OP, 16000, 25, 10));
  CHECK(window.size == 400 && window.step == 160);
  for (size_t i = 0; i < window.size; ++i) {
    const double expected =
        4096.0 * (0.5 - 0.5 * cos(2 * 3.141592653589793 * (i + 0.5) / 400));
    CHECK(fabs(window.coefficients[i] - expected) <= 0.5 + 1e-3);
    CHECK(window.coefficients[i] == window.coefficients[window.size - 1 - i]);
  }
  /* A constant 4096 (1.0 in Q12) comes out as the coefficients themselves. */
  int16_t input[400], output[400];
  for (size_t i = 0; i < 400; ++i) input[i] = 4096;
  const int16_t max_abs = mf_window_apply(&window, input, output);
  CHECK(memcmp(output, window.coefficients, sizeof(output)) == 0);
  CHECK(max_abs == window.coefficients[199]);
  mf_window_free(&window);
}

/* Each product shifted down by 12 bits and stored to 16, as the device's
 * arithmetic shift and store do; the largest magnitude is that of a 16-bit
 * value, where -32768 stays -32768 and so never counts. Extreme and random
 * samples, sizes off the vector width, with the CPU's kernel and the plain
 * C. */
static void test_window_apply_wraps_like_the_device(void) {
  /* 11, 33, 275, 330 and 480 samples. */
  static const int32_t kRates[] = {11025, 11025, 11025, 11025, 16000};
  static const int32_t kSizesMs[] = {1, 3, 25, 30, 30};
  uint64_t state = 7;
  for (size_t s = 0; s < sizeof(kSizesMs) / sizeof(kSizesMs[0]); ++s) {
    mf_window window;
    CHECK(mf_window_populate(&window, MF_ARITHMETIC_MLTK, kRates[s],
                             kSizesMs[s], 1));
    const size_t size = window.size;
    /* Random coefficients of up to 13 bits, then 4096 (1.0) throughout. */
    for (size_t i = 0; i < size; ++i) window.coefficients[i] = 4096;
    int16_t* input = malloc(size * sizeof(int16_t));
    int16_t* output = malloc(size * sizeof(int16_t));
    for (int pattern = 0; pattern < 3; ++pattern) {
      for (size_t i = 0; i < size; ++i) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        if (pattern < 2) window.coefficients[i] = (int16_t)(state >> 51);
        input[i] = pattern == 0   ? (int16_t)(uint16_t)(state >> 20)
                   : pattern == 1 ? (int16_t)((i & 1) ? 32767 : -32768)
                                  : -32768;
      }
      int expected_max = 0;
      for (size_t i = 0; i < size; ++i) {
        /* Floor division by 4096, then the 16-bit wrap. */
        const long long product = (long long)input[i] * window.coefficients[i];
        const long long floored =
            (product >= 0 ? product : product - 4095) / 4096;
        int value = (int)(floored & 0xFFFF);
        if (value >= 32768) value -= 65536;
        if (value != -32768 && abs(value) > expected_max) {
          expected_max = abs(value);
        }
      }
      const int avx2 = window.avx2;
      for (int plain = 0; plain < 2; ++plain) {
        window.avx2 = plain ? 0 : avx2;
        const int16_t max_abs = mf_window_apply(&window, input, output);
        CHECK_EQUAL(max_abs, expected_max);
        for (size_t i = 0; i < size; ++i) {
          const long long product =
              (long long)input[i] * window.coefficients[i];
          const long long floored =
              (product >= 0 ? product : product - 4095) / 4096;
          CHECK_EQUAL((uint16_t)output[i], (uint16_t)(floored & 0xFFFF));
        }
      }
      window.avx2 = avx2;
    }
    free(input);
    free(output);
    mf_window_free(&window);
  }
}

static void check_window(mf_arithmetic arithmetic, size_t size,
                         const int16_t* expected) {
  mf_window window;
  /* 16 samples per millisecond at 16 kHz. */
  CHECK(mf_window_populate(&window, arithmetic, 16000, (int32_t)(size / 16),
                           10));
  CHECK(window.size == size);
  CHECK(memcmp(window.coefficients, expected, size * sizeof(int16_t)) == 0);
  mf_window_free(&window);
}

/* The tables tests/derive_frontend_tables.py computed from each device's
 * expressions in numpy. At 480 samples (16 kHz, 30 ms) coefficient 17 is 53 in double and
 * 54 through cosf; at 288 samples TFLM's all-float window also differs from
 * MLTK's, at coefficient 277. */
static void test_window_tables_of_each_arithmetic(void) {
  check_window(MF_ARITHMETIC_MLTK, 480, kWindow480_mltk);
  check_window(MF_ARITHMETIC_TF_OP, 480, kWindow480_tf_op);
  check_window(MF_ARITHMETIC_TFLM, 480, kWindow480_tflm);
  check_window(MF_ARITHMETIC_MLTK, 288, kWindow288_mltk);
  check_window(MF_ARITHMETIC_TF_OP, 288, kWindow288_tf_op);
  check_window(MF_ARITHMETIC_TFLM, 288, kWindow288_tflm);
  /* The sizes separate the arithmetics. */
  CHECK(memcmp(kWindow480_mltk, kWindow480_tf_op, sizeof(kWindow480_mltk)));
  CHECK(memcmp(kWindow288_mltk, kWindow288_tflm, sizeof(kWindow288_mltk)));
}

/* 16 kHz, a 512-point FFT (257 bins). */
static void check_filterbank(mf_arithmetic arithmetic, size_t channels,
                             float lower, float upper, const size_t* band_starts,
                             const int16_t* weights, const int16_t* unweights,
                             int expected_fits) {
  mf_filterbank filterbank;
  CHECK(mf_filterbank_populate(&filterbank, arithmetic, channels, lower, upper,
                               16000, 257) == expected_fits);
  CHECK(filterbank.start_bin == band_starts[0]);
  CHECK(filterbank.end_bin == band_starts[channels + 1]);
  CHECK(memcmp(filterbank.band_start, band_starts,
               (channels + 2) * sizeof(size_t)) == 0);
  CHECK(memcmp(filterbank.weights, weights, 258 * sizeof(int16_t)) == 0);
  CHECK(memcmp(filterbank.unweights, unweights, 258 * sizeof(int16_t)) == 0);
  mf_filterbank_free(&filterbank);
}

#define CHECK_FILTERBANK(arithmetic, channels, lower, upper, name, precision, \
                         fits)                                                \
  check_filterbank(arithmetic, channels, lower, upper,                        \
                   kBandStarts_##name##_##precision,                          \
                   kWeights_##name##_##precision,                             \
                   kUnweights_##name##_##precision, fits)

/* MLTK and TensorFlow's op build the filterbank in double, TFLM in single
 * precision (3 weights and their 3 unweights differ at 40 channels,
 * 125-7500 Hz). With the upper limit at the Nyquist frequency the top band
 * takes the last bin (its end is the spectrum size, 257): MLTK accepts that,
 * the others refuse it. TFLM's float band edges leave that bin out of MLTK's
 * shipped 70-channel layout, so TFLM builds that one. */
static void test_filterbank_tables_of_each_arithmetic(void) {
  CHECK_FILTERBANK(MF_ARITHMETIC_MLTK, 40, 125.0f, 7500.0f, 16k_40ch_7500,
                   double, 1);
  CHECK_FILTERBANK(MF_ARITHMETIC_TF_OP, 40, 125.0f, 7500.0f, 16k_40ch_7500,
                   double, 1);
  CHECK_FILTERBANK(MF_ARITHMETIC_TFLM, 40, 125.0f, 7500.0f, 16k_40ch_7500,
                   single, 1);
  CHECK(memcmp(kWeights_16k_40ch_7500_double, kWeights_16k_40ch_7500_single,
               sizeof(kWeights_16k_40ch_7500_double)));

  CHECK(kBandStarts_16k_40ch_8000_double[41] == 257);
  CHECK(kBandStarts_16k_40ch_8000_single[41] == 257);
  CHECK_FILTERBANK(MF_ARITHMETIC_MLTK, 40, 125.0f, 8000.0f, 16k_40ch_8000,
                   double, 1);
  CHECK_FILTERBANK(MF_ARITHMETIC_TF_OP, 40, 125.0f, 8000.0f, 16k_40ch_8000,
                   double, -1);
  CHECK_FILTERBANK(MF_ARITHMETIC_TFLM, 40, 125.0f, 8000.0f, 16k_40ch_8000,
                   single, -1);

  /* MLTK's shipped models at the Nyquist frequency, 20 ms windows. */
  check_window(MF_ARITHMETIC_MLTK, 320, kWindow320_mltk);
  CHECK(kBandStarts_16k_68ch_8000_double[69] == 257);
  CHECK(kBandStarts_16k_70ch_8000_double[71] == 257);
  CHECK(kBandStarts_16k_70ch_8000_single[71] == 256);
  CHECK_FILTERBANK(MF_ARITHMETIC_MLTK, 68, 125.0f, 8000.0f, 16k_68ch_8000,
                   double, 1);
  CHECK_FILTERBANK(MF_ARITHMETIC_MLTK, 70, 150.0f, 8000.0f, 16k_70ch_8000,
                   double, 1);
  CHECK_FILTERBANK(MF_ARITHMETIC_TF_OP, 68, 125.0f, 8000.0f, 16k_68ch_8000,
                   double, -1);
  CHECK_FILTERBANK(MF_ARITHMETIC_TFLM, 68, 125.0f, 8000.0f, 16k_68ch_8000,
                   single, -1);
  CHECK_FILTERBANK(MF_ARITHMETIC_TFLM, 70, 150.0f, 8000.0f, 16k_70ch_8000,
                   single, 1);
}

/* The device's rounded square root in closed form: r = floor(sqrt(n)), plus
 * one when n - r^2 > r, unless r is already at the cap of its routine
 * (0xFFFF for n below 2^32, 0xFFFFFFFF above). Found by bisection. */
static uint32_t device_root(uint64_t n) {
  uint64_t low = 0, high = 0xFFFFFFFFu;
  while (low < high) {
    const uint64_t middle = low + (high - low + 1) / 2;
    if (middle * middle <= n) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  const uint64_t cap = (n >> 32) ? 0xFFFFFFFFu : 0xFFFFu;
  return (uint32_t)(low + (n - low * low > low && low != cap));
}

/* The device's filterbank, bin by bin: |X|^2 stored as int32, a weighted
 * accumulator per band whose unweighted partner carries into the next band,
 * all in uint64; channel c is the sum after band c + 1. */
static void device_filterbank(const mf_filterbank* filterbank,
                              const int16_t* re, const int16_t* im, int shift,
                              uint32_t* output) {
  uint64_t weighted = 0, unweighted = 0;
  for (size_t band = 0; band <= filterbank->num_channels; ++band) {
    for (size_t bin = filterbank->band_start[band];
         bin < filterbank->band_start[band + 1]; ++bin) {
      const int32_t energy = (int32_t)((uint32_t)(re[bin] * re[bin]) +
                                       (uint32_t)(im[bin] * im[bin]));
      weighted += (uint64_t)(int64_t)filterbank->weights[bin] *
                  (uint64_t)(int64_t)energy;
      unweighted += (uint64_t)(int64_t)filterbank->unweights[bin] *
                    (uint64_t)(int64_t)energy;
    }
    if (band > 0) output[band - 1] = device_root(weighted) >> shift;
    weighted = unweighted;
    unweighted = 0;
  }
}

/* The filterbank's vector sums against the device's loop, on the inputs
 * that stress them: the largest energy, the -2^31 that both parts at -32768
 * give (negative sums, which the device wraps), random bins, silence; in
 * double sums where they are exact (up to rows whose weights add up to 2^22)
 * and in the 64-bit integer sums that wider rows take and CPUs without AVX2
 * run. */
static void test_filterbank_sums_match_the_devices_loop(void) {
  static const struct {
    size_t channels;
    float lower, upper;
    int32_t rate;
    size_t spectrum;
    int wide; /* some row's weights add up to more than 2^22 */
  } kLayouts[] = {
      {40, 125.0f, 7500.0f, 16000, 257, 0},   /* the usual 30 ms, 40 ch */
      {1, 125.0f, 7500.0f, 16000, 2049, 0},   /* weights add up to 3.5e6 */
      {1, 100.0f, 23000.0f, 48000, 4097, 1},  /* 6.5e6: integer sums */
      {1, 10.0f, 7990.0f, 16000, 16385, 1},   /* the widest: 16 343 bins */
      {70, 150.0f, 8000.0f, 16000, 257, 0},   /* up to the Nyquist bin */
  };
  uint64_t state = 12345;
  for (size_t l = 0; l < sizeof(kLayouts) / sizeof(kLayouts[0]); ++l) {
    mf_filterbank filterbank;
    CHECK(mf_filterbank_populate(&filterbank, MF_ARITHMETIC_MLTK,
                                 kLayouts[l].channels, kLayouts[l].lower,
                                 kLayouts[l].upper, kLayouts[l].rate,
                                 kLayouts[l].spectrum) == 1);
    if (kLayouts[l].wide) CHECK(!filterbank.double_sums);
    const size_t bins = kLayouts[l].spectrum;
    const size_t channels = kLayouts[l].channels;
    int16_t* re = malloc(bins * sizeof(int16_t));
    int16_t* im = malloc(bins * sizeof(int16_t));
    uint32_t* output = malloc(channels * sizeof(uint32_t));
    uint32_t* expected = malloc(channels * sizeof(uint32_t));
    /* Input 6: a single bin whose weighted energy lands where the root's
     * 16-bit cap decides, just below 2^32 with n - r^2 > r = 0xFFFF. */
    const size_t lone_bin = filterbank.band_start[1];
    const uint64_t weight = (uint64_t)filterbank.weights[lone_bin];
    int16_t lone_re = 0, lone_im = 0;
    for (int64_t r = 32767; r >= 0 && weight > 0 && lone_re == 0; --r) {
      const uint64_t low = UINT64_C(65535) * 65535 + 65536;
      const uint64_t high = 0xFFFFFFFFu;
      for (int64_t i = 0; i <= r; ++i) {
        const uint64_t n = weight * (uint64_t)(r * r + i * i);
        if (n > high) break;
        if (n >= low) {
          lone_re = (int16_t)r;
          lone_im = (int16_t)i;
          break;
        }
      }
    }
    CHECK(weight == 0 || lone_re != 0);
    for (int input = 0; input < 7; ++input) {
      for (size_t bin = 0; bin < bins; ++bin) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        const int16_t noise = (int16_t)(uint16_t)(state >> 48);
        const int16_t values[6][2] = {
            {-32768, -32768}, {32767, -32768}, {noise, (int16_t)(state >> 20)},
            {0, 0}, {(int16_t)(noise >> 6), 3},
            {-32768, (int16_t)(bin & 1 ? -32768 : 5)}};
        re[bin] = input < 6 ? values[input][0] : 0;
        im[bin] = input < 6 ? values[input][1] : 0;
      }
      if (input == 6) {
        re[lone_bin] = lone_re;
        im[lone_bin] = lone_im;
      }
      for (int shift = 0; shift <= 8; shift += 8) {
        device_filterbank(&filterbank, re, im, shift, expected);
        const int double_sums = filterbank.double_sums;
        for (int pass = 0; pass < 2; ++pass) {
          /* The second pass forces the integer sums. */
          if (pass == 1) filterbank.double_sums = 0;
          memset(output, 0xAB, channels * sizeof(uint32_t));
          mf_filterbank_apply(&filterbank, re, im, shift, output);
          CHECK(memcmp(output, expected, channels * sizeof(uint32_t)) == 0);
        }
        filterbank.double_sums = double_sums;
      }
    }
    free(re);
    free(im);
    free(output);
    free(expected);
    mf_filterbank_free(&filterbank);
  }
}

/* Returns the bin with the largest |X|^2. */
static size_t fft_peak(const int16_t* re, const int16_t* im, size_t bins) {
  size_t peak = 0;
  long best = -1;
  for (size_t k = 0; k < bins; ++k) {
    const long energy = (long)re[k] * re[k] + (long)im[k] * im[k];
    if (energy > best) {
      best = energy;
      peak = k;
    }
  }
  return peak;
}

static void test_fft_of_closed_form_signals(void) {
  for (size_t length = 8; length <= 4096; length *= 2) {
    mf_fft fft;
    CHECK(mf_fft_populate(&fft, length));
    CHECK(fft.length == length);
    int16_t* frame = calloc(length, sizeof(int16_t));
    int16_t* re = calloc(length / 2 + 1, sizeof(int16_t));
    int16_t* im = calloc(length / 2 + 1, sizeof(int16_t));

    /* A DC frame lands in bin 0 only; the fixed-point transform divides by
     * the length, so bin 0 holds the mean. */
    for (size_t i = 0; i < length; ++i) frame[i] = 16384;
    mf_fft_compute(&fft, frame, length, 0, re, im);
    CHECK(abs(re[0] - 16384) <= (int)(length / 64) + 2);
    for (size_t k = 1; k <= length / 2; ++k) {
      CHECK(abs(re[k]) <= 2 && abs(im[k]) <= 2);
    }

    /* An impulse has a flat spectrum of height amplitude / length. */
    memset(frame, 0, length * sizeof(int16_t));
    frame[0] = 32767;
    mf_fft_compute(&fft, frame, length, 0, re, im);
    const double height = 32767.0 / (double)length;
    for (size_t k = 0; k <= length / 2; ++k) {
      CHECK(fabs(re[k] - height) <= 2.0 && abs(im[k]) <= 2);
    }

    /* Alternating samples are a cosine at the Nyquist frequency: all of it
     * lands in the last bin, which MLTK's filterbank can reach. */
    for (size_t i = 0; i < length; ++i) frame[i] = (i & 1) ? -16384 : 16384;
    mf_fft_compute(&fft, frame, length, 0, re, im);
    CHECK(abs(re[length / 2] - 16384) <= (int)(length / 64) + 2);
    CHECK(im[length / 2] == 0);
    for (size_t k = 0; k < length / 2; ++k) {
      CHECK(abs(re[k]) <= 2 && abs(im[k]) <= 2);
    }

    /* A cosine on bin length / 8 peaks there. */
    for (size_t i = 0; i < length; ++i) {
      frame[i] = (int16_t)lrint(
          16000 * cos(2 * 3.141592653589793 * (double)i / 8.0));
    }
    mf_fft_compute(&fft, frame, length, 0, re, im);
    CHECK(fft_peak(re, im, length / 2 + 1) == length / 8);

    /* A short frame is zero-padded: only the first 3 samples count. */
    memset(frame, 0, length * sizeof(int16_t));
    frame[0] = frame[1] = frame[2] = 3000;
    int16_t* padded_re = calloc(length / 2 + 1, sizeof(int16_t));
    int16_t* padded_im = calloc(length / 2 + 1, sizeof(int16_t));
    mf_fft_compute(&fft, frame, 3, 0, padded_re, padded_im);
    mf_fft_compute(&fft, frame, length, 0, re, im);
    CHECK(memcmp(re, padded_re, (length / 2 + 1) * sizeof(int16_t)) == 0);
    CHECK(memcmp(im, padded_im, (length / 2 + 1) * sizeof(int16_t)) == 0);

    free(padded_re);
    free(padded_im);
    free(frame);
    free(re);
    free(im);
    mf_fft_free(&fft);
  }
}

/* The input shift is the device's: each sample shifted and stored to 16
 * bits, wrapping. Frames of odd sizes and sizes off the vector width, every
 * shift, random and extreme samples; with the CPU's kernels and with the
 * plain C, which must agree. */
static void test_fft_input_shift_wraps_each_sample(void) {
  static const size_t kSizes[] = {3, 33, 400, 479, 480, 481, 512, 1000};
  uint64_t state = 99;
  for (size_t s = 0; s < sizeof(kSizes) / sizeof(kSizes[0]); ++s) {
    const size_t size = kSizes[s];
    mf_fft fft;
    CHECK(mf_fft_populate(&fft, size));
    const size_t bins = fft.half + 1;
    int16_t* frame = malloc(size * sizeof(int16_t));
    int16_t* wrapped = malloc(size * sizeof(int16_t));
    int16_t* re = malloc(2 * bins * sizeof(int16_t));
    int16_t* expected = malloc(2 * bins * sizeof(int16_t));
    for (size_t i = 0; i < size; ++i) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      frame[i] = (i % 7 == 0) ? (int16_t)((i & 8) ? -32768 : 32767)
                              : (int16_t)(uint16_t)(state >> 48);
    }
    const int avx2 = fft.avx2, transpose16 = fft.transpose16;
    for (int shift = 0; shift < 16; ++shift) {
      for (size_t i = 0; i < size; ++i) {
        wrapped[i] = (int16_t)(uint16_t)((uint32_t)(uint16_t)frame[i] << shift);
      }
      mf_fft_compute(&fft, wrapped, size, 0, expected, expected + bins);
      for (int plain = 0; plain < 2; ++plain) {
        fft.avx2 = plain ? 0 : avx2;
        fft.transpose16 = plain ? 0 : transpose16;
        mf_fft_compute(&fft, frame, size, shift, re, re + bins);
        CHECK(memcmp(re, expected, 2 * bins * sizeof(int16_t)) == 0);
      }
      fft.avx2 = avx2;
      fft.transpose16 = transpose16;
    }
    free(frame);
    free(wrapped);
    free(re);
    free(expected);
    mf_fft_free(&fft);
  }
}

static void test_log_scale_is_the_natural_log(void) {
  /* ln(x) * 2^6, within a unit of the exact value. */
  const uint32_t inputs[] = {2, 3, 10, 1000, 65536, 123456789, 4000000000u};
  uint16_t output[7];
  mf_log_scale_apply(1, 6, 0, 0, inputs, 7, output);
  for (int i = 0; i < 7; ++i) {
    CHECK(fabs(output[i] - 64.0 * log((double)inputs[i])) <= 1.0);
  }
  /* 0 and 1 map to 0; correction bits scale the input by powers of two. */
  const uint32_t small[] = {0, 1};
  mf_log_scale_apply(1, 6, 0, 0, small, 2, output);
  CHECK(output[0] == 0 && output[1] == 0);
  const uint32_t x[] = {1000};
  mf_log_scale_apply(1, 6, 3, 0, x, 1, output);
  CHECK(fabs(output[0] - 64.0 * log(8000.0)) <= 1.0);
  /* Disabled: the value itself, saturated to 16 bits. */
  const uint32_t raw[] = {7, 70000};
  mf_log_scale_apply(0, 6, 3, 0, raw, 2, output);
  CHECK(output[0] == 7 && output[1] == 65535);
}

/* The device's log scale, as its C computes it: the highest set bit, the
 * fraction's correction from a table of log2(1 + x) - x at x = i / 128 in
 * Q16 (computed here from that closed form), the product with ln(2) in 64
 * bits. */
static uint16_t device_log_scale(uint32_t value, int scale_shift,
                                 int correction_bits) {
  static int32_t correction[129];
  if (correction[1] == 0) {
    for (int i = 0; i <= 128; ++i) {
      correction[i] = (int32_t)floor(
          (log2(1.0 + i / 128.0) - i / 128.0) * 65536.0 + 0.5);
    }
  }
  value = correction_bits < 0 ? value >> -correction_bits
                              : value << correction_bits;
  if (value <= 1) return 0;
  int integer = 31;
  while (!(value >> integer)) --integer;
  uint32_t fraction = value - (UINT32_C(1) << integer);
  fraction = integer < 16 ? fraction << (16 - integer)
                          : fraction >> (integer - 16);
  const uint32_t segment = fraction >> 9;
  const int32_t c0 = correction[segment], c1 = correction[segment + 1];
  const int32_t within = (int32_t)fraction - (int32_t)(segment << 9);
  const uint32_t log2_value = ((uint32_t)integer << 16) + fraction +
                              (uint32_t)c0 +
                              (uint32_t)(((c1 - c0) * within) >> 16);
  const uint32_t ln =
      (uint32_t)((UINT64_C(45426) * log2_value + 32768) >> 16);
  const uint32_t result = ((ln << scale_shift) + 32768) >> 16;
  return (uint16_t)(result < 0xFFFF ? result : 0xFFFF);
}

/* Values from 0 to 2^32 - 1 (powers of two and their neighbours, random
 * ones at every magnitude), every scale shift, corrections either way; with
 * the CPU's kernel and the plain C, on counts off the vector width. */
static void test_log_scale_matches_the_devices_routine(void) {
  enum { kCount = 101 };
  uint32_t values[kCount];
  uint16_t output[kCount];
  uint64_t state = 3;
  for (int i = 0; i < kCount; ++i) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    const uint32_t power = UINT32_C(1) << (i % 32);
    values[i] = i < 32   ? power
                : i < 64 ? power - 1 + (uint32_t)(i & 2)
                         : (uint32_t)(state >> 32) >> (i % 32);
  }
  values[0] = 0;
  values[1] = 0xFFFFFFFFu;
  const int avx2 = mf_cpu_has_avx2();
  for (int shift = 0; shift <= MF_MAX_LOG_SCALE_SHIFT; ++shift) {
    for (int correction = -3; correction <= 3; ++correction) {
      for (int kernel = 0; kernel <= avx2; ++kernel) {
        for (size_t count = kCount - 3; count <= kCount; ++count) {
          memset(output, 0xAB, sizeof(output));
          mf_log_scale_apply(1, shift, correction, kernel, values, count,
                             output);
          for (size_t i = 0; i < count; ++i) {
            CHECK_EQUAL(output[i],
                        device_log_scale(values[i], shift, correction));
          }
        }
      }
    }
  }
}

/* The device's PCAN gain and compression, from its table as TFLM lays it
 * out (entries 0 to 2, then value, slope and curvature per octave), in
 * 32-bit arithmetic that wraps. */
static uint32_t device_pcan(const mf_pcan* pcan, uint32_t noise,
                            uint32_t signal) {
  int16_t gain = pcan->table[noise <= 2 ? noise : 0];
  if (noise > 2) {
    int interval = 32;
    while (!(noise >> (interval - 1))) --interval;
    const int16_t* octave = pcan->table + 4 * interval - 6;
    const uint32_t position = interval < 11 ? noise << (11 - interval)
                                            : noise >> (interval - 11);
    const int32_t frac = (int32_t)(position & 0x3FF);
    int32_t result = (octave[2] * frac) >> 5;
    result = (int32_t)((uint32_t)result + ((uint32_t)octave[1] << 5));
    result = (int32_t)((uint32_t)result * (uint32_t)frac);
    result = (result + (1 << 14)) >> 15;
    gain = (int16_t)(uint16_t)(uint32_t)(result + octave[0]);
  }
  const uint32_t snr = (uint32_t)(((uint64_t)signal *
                                   (uint32_t)(int32_t)gain) >>
                                  pcan->snr_shift);
  if (snr < (2u << MF_PCAN_SNR_BITS)) {
    return (snr * snr) >> (2 + 2 * MF_PCAN_SNR_BITS - MF_PCAN_OUTPUT_BITS);
  }
  return (snr >> (MF_PCAN_SNR_BITS - MF_PCAN_OUTPUT_BITS)) -
         (1u << MF_PCAN_OUTPUT_BITS);
}

/* Noise estimates at every magnitude (0, 1, 2, powers of two and their
 * neighbours, 2^32 - 1), random signals, two settings; with the CPU's
 * kernel and the plain C, on channel counts off the vector width. */
static void test_pcan_matches_the_devices_routine(void) {
  enum { kChannels = 77 };
  uint32_t noise[kChannels], signal[kChannels], output[kChannels];
  uint64_t state = 5;
  for (int i = 0; i < kChannels; ++i) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    const uint32_t power = UINT32_C(1) << (i % 32);
    noise[i] = i < 32   ? power
               : i < 64 ? power - 1 + (uint32_t)(i & 2)
                        : (uint32_t)(state >> 32) >> (i % 29);
    signal[i] = (uint32_t)state >> (i % 23);
  }
  noise[0] = 0;
  noise[1] = 0xFFFFFFFFu;
  static const struct {
    float strength, offset;
    int gain_bits, noise_bits, correction_bits;
  } kSettings[] = {{0.95f, 80.0f, 21, 7, 3}, {2.0f, 0.5f, 30, 12, -2}};
  for (size_t s = 0; s < 2; ++s) {
    mf_pcan pcan;
    CHECK(mf_pcan_populate(&pcan, kChannels, kSettings[s].strength,
                           kSettings[s].offset, kSettings[s].gain_bits,
                           kSettings[s].noise_bits,
                           kSettings[s].correction_bits));
    const int avx2 = pcan.avx2;
    for (int kernel = 0; kernel <= avx2; ++kernel) {
      for (size_t count = kChannels - 3; count <= kChannels; ++count) {
        pcan.avx2 = kernel;
        pcan.num_channels = count;
        memcpy(output, signal, sizeof(signal));
        mf_pcan_apply(&pcan, noise, output);
        for (size_t i = 0; i < count; ++i) {
          CHECK_EQUAL(output[i], device_pcan(&pcan, noise[i], signal[i]));
        }
      }
    }
  }
}

static void test_noise_reduction_converges_on_a_constant(void) {
  mf_noise_reduction noise;
  CHECK(mf_noise_reduction_populate(&noise, 2, 10, 0.025f, 0.06f, 0.05f));
  CHECK(noise.even_smoothing == 409 && noise.odd_smoothing == 983);
  uint32_t signal[2];
  for (int frame = 0; frame < 2000; ++frame) {
    signal[0] = signal[1] = 10000;
    mf_noise_reduction_apply(&noise, signal);
    /* Never below the floor of 5 % of the signal. */
    CHECK(signal[0] >= 10000 * 819 / 16384 && signal[1] >= 10000 * 819 / 16384);
  }
  /* Once the estimate has caught up only the floor is left. */
  CHECK(signal[0] == 10000 * 819 / 16384 && signal[1] == 10000 * 819 / 16384);
  mf_noise_reduction_reset(&noise);
  CHECK(noise.estimate[0] == 0 && noise.estimate[1] == 0);
  mf_noise_reduction_free(&noise);
}

/* The device's noise reduction, channel by channel in 64-bit products, over
 * 30 frames of signals at every magnitude (the 16-bit wrap of the scaled
 * signal included), three settings; with the CPU's kernel and the plain C,
 * on channel counts off the vector width. */
static void test_noise_reduction_matches_the_devices_routine(void) {
  enum { kChannels = 43, kFrames = 30 };
  static const struct {
    int bits;
    float even, odd, floor;
  } kSettings[] = {{10, 0.025f, 0.06f, 0.05f},
                   {16, 1.0f, 0.0f, 1.0f},
                   {0, 0.5f, 0.999f, 0.0f}};
  for (size_t s = 0; s < 3; ++s) {
    for (int kernel = 0; kernel <= mf_cpu_has_avx2(); ++kernel) {
      mf_noise_reduction noise;
      CHECK(mf_noise_reduction_populate(&noise, kChannels, kSettings[s].bits,
                                        kSettings[s].even, kSettings[s].odd,
                                        kSettings[s].floor));
      noise.avx2 = kernel;
      uint32_t estimate[kChannels] = {0};
      uint64_t state = 11;
      for (int frame = 0; frame < kFrames; ++frame) {
        uint32_t signal[kChannels], expected[kChannels];
        for (size_t i = 0; i < kChannels; ++i) {
          state = state * 6364136223846793005u + 1442695040888963407u;
          signal[i] = (uint32_t)(state >> 32) >> ((state >> 8) % 32);
          const uint64_t smoothing =
              (i & 1) ? noise.odd_smoothing : noise.even_smoothing;
          const uint32_t scaled = signal[i] << kSettings[s].bits;
          estimate[i] = (uint32_t)(((uint64_t)scaled * smoothing +
                                    (uint64_t)estimate[i] *
                                        (16384 - smoothing)) >> 14);
          const uint32_t kept = estimate[i] < scaled ? estimate[i] : scaled;
          const uint32_t floor = (uint32_t)(
              ((uint64_t)signal[i] * noise.min_signal_remaining) >> 14);
          const uint32_t subtracted = (scaled - kept) >> kSettings[s].bits;
          expected[i] = subtracted > floor ? subtracted : floor;
        }
        mf_noise_reduction_apply(&noise, signal);
        CHECK(memcmp(signal, expected, sizeof(signal)) == 0);
        CHECK(memcmp(noise.estimate, estimate, sizeof(estimate)) == 0);
      }
      mf_noise_reduction_free(&noise);
    }
  }
}

static void test_dc_notch_impulse_response(void) {
  mf_dc_notch notch;
  mf_dc_notch_populate(&notch, 0.95f);
  CHECK(notch.coefficient == 31129);
  /* y[n] = x[n] - x[n-1] + c y[n-1]: an impulse of 1000 gives 1000, then
   * -1000 + 950 = -50, then round(0.95 * -50) = -47, ... */
  int16_t input[4] = {1000, 0, 0, 0}, output[4];
  mf_dc_notch_apply(&notch, input, 4, output);
  CHECK(output[0] == 1000 && output[1] == -50 && output[2] == -47 &&
        output[3] == -45);
  /* The state carries across calls, so chunks equal one pass. */
  int16_t whole[64], chunked[64], ramp[64];
  for (int i = 0; i < 64; ++i) ramp[i] = (int16_t)(i * 500 - 16000);
  mf_dc_notch_reset(&notch);
  mf_dc_notch_apply(&notch, ramp, 64, whole);
  mf_dc_notch_reset(&notch);
  mf_dc_notch_apply(&notch, ramp, 10, chunked);
  mf_dc_notch_apply(&notch, ramp + 10, 54, chunked + 10);
  CHECK(memcmp(whole, chunked, sizeof(whole)) == 0);
}

static void test_quantize_static_points(void) {
  const uint16_t values[] = {0, 332, 333, 666, 65535, 200};
  int8_t output[6];
  mf_quantize_int8_static(values, 6, output);
  CHECK(output[0] == -128);
  CHECK(output[1] == 0 - 128 + (332 * 256 + 333) / 666);
  CHECK(output[3] == 127 && output[4] == 127);
  CHECK(output[5] == (200 * 256 + 333) / 666 - 128);
}

static void test_quantize_dynamic_maps_the_top_range(void) {
  /* 40 dB at shift 6: 294 log units. */
  const uint16_t values[] = {1000, 706, 705, 853, 0};
  int8_t output[5];
  mf_quantize_int8_dynamic(values, 5, 40.0f, 6, output);
  CHECK(output[0] == 127);
  CHECK(output[1] == -128 && output[2] == -128 && output[4] == -128);
  CHECK(output[3] == (853 - 706) * 255 / 294 - 128);
}

static void test_frontend_api(void) {
  mf_config config;
  mf_config_defaults(&config);
  const char* bad = NULL;
  CHECK(mf_config_validate(&config, &bad) == MF_OK && bad == NULL);

  config.filterbank_upper_band_limit_hz = 9000.0f;
  CHECK(mf_config_validate(&config, &bad) == MF_ERROR_INVALID_ARGUMENT);
  CHECK(bad && strcmp(bad, "filterbank_upper_band_limit_hz") == 0);
  mf_frontend* frontend = (mf_frontend*)&config;
  CHECK(mf_frontend_create(&config, &frontend) == MF_ERROR_INVALID_ARGUMENT);
  CHECK(frontend == NULL);

  mf_config_defaults(&config);
  config.pcan_enable = 1;
  CHECK(mf_config_validate(&config, &bad) == MF_ERROR_INVALID_ARGUMENT);
  CHECK(bad && strcmp(bad, "pcan_enable") == 0);

  mf_config_defaults(&config);
  CHECK(config.arithmetic == MF_ARITHMETIC_MLTK);
  const int32_t bad_arithmetics[] = {-1, 3, 1000};
  for (int i = 0; i < 3; ++i) {
    config.arithmetic = bad_arithmetics[i];
    CHECK(mf_config_validate(&config, &bad) == MF_ERROR_INVALID_ARGUMENT);
    CHECK(bad && strcmp(bad, "arithmetic") == 0);
    CHECK(mf_frontend_create(&config, &frontend) == MF_ERROR_INVALID_ARGUMENT);
    CHECK(frontend == NULL);
  }

  /* An upper band limit at the Nyquist frequency: only MLTK's arithmetic
   * builds it. */
  mf_config_defaults(&config);
  config.window_size_ms = 20;
  config.filterbank_upper_band_limit_hz = 8000.0f;
  config.arithmetic = MF_ARITHMETIC_MLTK;
  CHECK(mf_frontend_create(&config, &frontend) == MF_OK);
  mf_frontend_destroy(frontend);
  config.arithmetic = MF_ARITHMETIC_TF_OP;
  CHECK(mf_frontend_create(&config, &frontend) == MF_ERROR_INVALID_ARGUMENT);
  CHECK(frontend == NULL);
  config.arithmetic = MF_ARITHMETIC_TFLM;
  CHECK(mf_frontend_create(&config, &frontend) == MF_ERROR_INVALID_ARGUMENT);
  CHECK(frontend == NULL);

  mf_config_defaults(&config);
  config.noise_reduction_enable = 1;
  config.pcan_enable = 1;
  config.dc_notch_filter_enable = 1;
  config.activity_detection_enable = 1;
  CHECK(mf_frontend_create(&config, &frontend) == MF_OK);
  CHECK(mf_frontend_num_channels(frontend) == 32);
  CHECK(mf_frontend_window_samples(frontend) == 400);
  CHECK(mf_frontend_step_samples(frontend) == 160);
  CHECK(mf_frontend_fft_length(frontend) == 512);
  CHECK(mf_frontend_num_frames(frontend, 0) == 0);
  CHECK(mf_frontend_num_frames(frontend, 399) == 0);
  CHECK(mf_frontend_num_frames(frontend, 400) == 1);
  CHECK(mf_frontend_num_frames(frontend, 16000) == 98);

  int16_t* samples = malloc(16000 * sizeof(int16_t));
  uint16_t* first = malloc(98 * 32 * sizeof(uint16_t));
  uint16_t* second = malloc(98 * 32 * sizeof(uint16_t));
  uint32_t state = 12345;
  for (int i = 0; i < 16000; ++i) {
    state = state * 1664525u + 1013904223u;
    samples[i] = (int16_t)((state >> 16) % 8001) - 4000;
  }
  CHECK(mf_frontend_process(frontend, samples, 16000, first, 98 * 32 - 1) ==
        MF_ERROR_OUTPUT_TOO_SMALL);
  CHECK(mf_frontend_process(frontend, samples, 16000, first, 98 * 32) == MF_OK);
  /* Every call starts from a reset state. */
  CHECK(mf_frontend_process(frontend, samples, 16000, second, 98 * 32) == MF_OK);
  CHECK(memcmp(first, second, 98 * 32 * sizeof(uint16_t)) == 0);
  /* An empty sample is fine and writes nothing. */
  CHECK(mf_frontend_process(frontend, samples, 0, NULL, 0) == MF_OK);
  free(samples);
  free(first);
  free(second);
  mf_frontend_destroy(frontend);
  mf_frontend_destroy(NULL);
}

int main(void) {
  test_window_is_a_symmetric_q12_hann();
  test_window_tables_of_each_arithmetic();
  test_window_apply_wraps_like_the_device();
  test_filterbank_tables_of_each_arithmetic();
  test_filterbank_sums_match_the_devices_loop();
  test_fft_of_closed_form_signals();
  test_fft_input_shift_wraps_each_sample();
  test_log_scale_is_the_natural_log();
  test_log_scale_matches_the_devices_routine();
  test_pcan_matches_the_devices_routine();
  test_noise_reduction_converges_on_a_constant();
  test_noise_reduction_matches_the_devices_routine();
  test_dc_notch_impulse_response();
  test_quantize_static_points();
  test_quantize_dynamic_maps_the_top_range();
  test_frontend_api();
  return report("frontend_tests");
}
