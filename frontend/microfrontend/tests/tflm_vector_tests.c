/*
 * TensorFlow Lite Micro's published test vectors for each stage of the
 * microfrontend (tensorflow/lite/experimental/microfrontend/lib/*_test.cc in
 * tflite-micro): the same inputs and settings, and exactly the integers its
 * device arithmetic produces. They are an expectation from outside this
 * library: the numbers here are TFLM's, copied unchanged; only the harness is
 * ours, adapted where our API differs from TFLM's:
 *
 * - TFLM's window keeps a streaming input buffer; ours is handed each frame.
 *   TFLM's second window over the stream is ours over samples [step, step +
 *   size), and its "not enough samples" case is our frame count.
 * - TFLM lays the filterbank's weights out per channel, padded to blocks of
 *   four with zero weights; ours indexes them by FFT bin. The harness maps
 *   TFLM's (channel, offset) entries onto bins; padding has weight and
 *   unweight both 0, a real entry sums to about 4096.
 * - TFLM computes the energies, the channel sums and the square roots in three
 *   calls; ours in one. Its energies and sums are checked in our working
 *   arrays (its sum 0, which no channel takes, we do not compute).
 * - TFLM's frontend streams; ours takes the whole sample and returns every
 *   frame, so TFLM's first and second outputs are our frames 0 and 1.
 *
 * The table-building stages (window, filterbank, and so the whole frontend)
 * are checked in each of our device arithmetics: at these sizes all three
 * build the same tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fft.h"
#include "filterbank.h"
#include "log_scale.h"
#include "microfrontend/frontend.h"
#include "noise_reduction.h"
#include "pcan.h"
#include "window.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const mf_arithmetic kArithmetics[] = {
    MF_ARITHMETIC_MLTK, MF_ARITHMETIC_TF_OP, MF_ARITHMETIC_TFLM};

/* window_test.cc and frontend_test.cc: 1 kHz, 25 ms windows every 10 ms. */
static const int32_t kSampleRate = 1000;
static const size_t kWindowSamples = 25;
static const size_t kStepSamples = 10;
static const int16_t kFakeAudioData[] = {
    0, 32767, 0, -32768, 0, 32767, 0, -32768, 0, 32767, 0, -32768,
    0, 32767, 0, -32768, 0, 32767, 0, -32768, 0, 32767, 0, -32768,
    0, 32767, 0, -32768, 0, 32767, 0, -32768, 0, 32767, 0, -32768};

/* window_test.cc: WindowState_CheckCoefficients, _CheckOutputValues,
 * _CheckMaxAbsValue, _CheckConsecutiveWindow, _CheckResidualInput. */
static void test_window(mf_arithmetic arithmetic) {
  static const int16_t kCoefficients[] = {
      16,   144,  391,  743,  1176, 1664, 2177, 2681, 3145,
      3541, 3843, 4032, 4096, 4032, 3843, 3541, 3145, 2681,
      2177, 1664, 1176, 743,  391,  144,  16};
  static const int16_t kFirstOutput[] = {
      0, 1151,   0, -5944, 0, 13311,  0, -21448, 0, 28327, 0, -32256, 0, 32255,
      0, -28328, 0, 21447, 0, -13312, 0, 5943,   0, -1152, 0};
  static const int16_t kSecondOutput[] = {
      0, -1152, 0, 5943,   0, -13312, 0, 21447, 0, -28328, 0, 32255, 0, -32256,
      0, 28327, 0, -21448, 0, 13311,  0, -5944, 0, 1151,   0};
  static const int16_t kMaxAbsOutputValue = 32256;

  mf_window window;
  CHECK(mf_window_populate(&window, arithmetic, kSampleRate, 25, 10));
  CHECK_EQUAL(window.size, COUNT(kCoefficients));
  CHECK_EQUAL(window.step, kStepSamples);
  for (size_t i = 0; i < COUNT(kCoefficients); ++i) {
    CHECK_EQUAL(window.coefficients[i], kCoefficients[i]);
  }

  int16_t output[25];
  const int16_t max_abs = mf_window_apply(&window, kFakeAudioData, output);
  for (size_t i = 0; i < COUNT(kFirstOutput); ++i) {
    CHECK_EQUAL(output[i], kFirstOutput[i]);
  }
  CHECK_EQUAL(max_abs, kMaxAbsOutputValue);

  /* TFLM's residual input: the second window starts kStepSamples in. */
  mf_window_apply(&window, kFakeAudioData + kStepSamples, output);
  for (size_t i = 0; i < COUNT(kSecondOutput); ++i) {
    CHECK_EQUAL(output[i], kSecondOutput[i]);
  }
  mf_window_free(&window);
}

/* fft_test.cc: FftTest_CheckOutputValues, the window's first output through a
 * 32-point FFT with no input shift. */
static const int16_t kFakeWindow[] = {
    0, 1151,   0, -5944, 0, 13311,  0, -21448, 0, 28327, 0, -32256, 0, 32255,
    0, -28328, 0, 21447, 0, -13312, 0, 5943,   0, -1152, 0};
/* {real, imaginary} per bin. */
static const int16_t kFftOutput[][2] = {
    {0, 0},    {-10, 9},     {-20, 0},   {-9, -10},     {0, 25},  {-119, 119},
    {-887, 0}, {3000, 3000}, {0, -6401}, {-3000, 3000}, {886, 0}, {118, 119},
    {0, 25},   {9, -10},     {19, 0},    {9, 9},        {0, 0}};

static void test_fft(void) {
  mf_fft fft;
  CHECK(mf_fft_populate(&fft, COUNT(kFakeWindow)));
  CHECK_EQUAL(fft.length / 2 + 1, COUNT(kFftOutput));
  int16_t re[17], im[17];
  mf_fft_compute(&fft, kFakeWindow, COUNT(kFakeWindow), 0, re, im);
  for (size_t i = 0; i < COUNT(kFftOutput); ++i) {
    CHECK_EQUAL(re[i], kFftOutput[i][0]);
    CHECK_EQUAL(im[i], kFftOutput[i][1]);
  }
  mf_fft_free(&fft);
}

/* filterbank_test.cc: 2 channels from 8 Hz to 450 Hz over a 17-bin spectrum
 * at 1 kHz. */
static const size_t kSpectrumSize = 17;
static const size_t kStartIndex = 1;
static const size_t kEndIndex = 15;
static const int32_t kEnergy[] = {-1,     181,      400,      181,      625,
                                  28322,  786769,   18000000, 40972801,
                                  18000000, 784996, 28085,    625,
                                  181,    361,      -1,       -1};
static const uint64_t kWork[] = {1835887, 61162970173, 258694800000};
static const uint32_t kSqrt[] = {247311, 508620};

static void test_filterbank(mf_arithmetic arithmetic) {
  /* TFLM's layout: channel c's weights start at kWeightStarts[c] and cover
   * bins kFrequencyStarts[c] onwards, kWidths[c] of them. */
  static const int16_t kFrequencyStarts[] = {0, 4, 8};
  static const int16_t kWeightStarts[] = {0, 8, 16};
  static const int16_t kWidths[] = {8, 8, 8};
  static const int16_t kWeights[] = {0, 3277, 2217, 1200, 222,  0,   0,   0,
                                     0, 3376, 2468, 1591, 744,  0,   0,   0,
                                     0, 4020, 3226, 2456, 1708, 983, 277, 0};
  static const int16_t kUnweights[] = {0, 819, 1879, 2896, 3874, 0,    0,    0,
                                       0, 720, 1628, 2505, 3352, 0,    0,    0,
                                       0, 76,  870,  1640, 2388, 3113, 3819, 0};

  mf_filterbank filterbank;
  CHECK_EQUAL(mf_filterbank_populate(&filterbank, arithmetic, 2, 8.0f, 450.0f,
                                     kSampleRate, kSpectrumSize),
              1);
  CHECK_EQUAL(filterbank.start_bin, kStartIndex);
  CHECK_EQUAL(filterbank.end_bin, kEndIndex);

  /* Every bin TFLM weights belongs to the band of that channel, in order, and
   * carries its weight and unweight; every other bin up to the end carries
   * none. */
  int covered[17] = {0};
  for (size_t c = 0; c < COUNT(kFrequencyStarts); ++c) {
    size_t first = 0, last = 0, real = 0;
    for (int16_t j = 0; j < kWidths[c]; ++j) {
      const size_t bin = (size_t)(kFrequencyStarts[c] + j);
      const size_t entry = (size_t)(kWeightStarts[c] + j);
      if (kWeights[entry] == 0 && kUnweights[entry] == 0) continue; /* pad */
      if (real++ == 0) first = bin;
      last = bin;
      covered[bin] = 1;
      CHECK_EQUAL(filterbank.weights[bin], kWeights[entry]);
      CHECK_EQUAL(filterbank.unweights[bin], kUnweights[entry]);
    }
    CHECK(real > 0);
    CHECK_EQUAL(filterbank.band_start[c], first);
    CHECK_EQUAL(filterbank.band_start[c + 1], last + 1);
  }
  for (size_t bin = 0; bin < kEndIndex; ++bin) {
    if (!covered[bin]) {
      CHECK_EQUAL(filterbank.weights[bin], 0);
      CHECK_EQUAL(filterbank.unweights[bin], 0);
    }
  }

  /* FilterbankTest_CheckConvertFftComplexToEnergy, _CheckAccumulateChannels
   * and _CheckSqrt: the FFT's output in, TFLM's energies, sums and roots. */
  int16_t re[17], im[17];
  for (size_t i = 0; i < kSpectrumSize; ++i) {
    re[i] = kFftOutput[i][0];
    im[i] = kFftOutput[i][1];
  }
  /* Both ways of summing: in double vectors where the CPU has AVX2 (these
   * rows are exact in double), then in 64-bit integers, whose working arrays
   * hold the energies and sums. */
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) filterbank.double_sums = 0;
    uint32_t output[2] = {0, 0};
    mf_filterbank_apply(&filterbank, re, im, 0, output);
    for (size_t c = 0; c < COUNT(kSqrt); ++c) {
      CHECK_EQUAL(output[c], kSqrt[c]);
    }
  }
  for (size_t bin = kStartIndex; bin < kEndIndex; ++bin) {
    CHECK_EQUAL(filterbank.energy[bin], kEnergy[bin]);
  }
  /* Sum 0, the lower half of the first triangle, is no channel's: the
   * device drops it and we do not compute it. */
  for (size_t b = 1; b < COUNT(kWork); ++b) {
    CHECK_EQUAL(filterbank.sums[b - 1], kWork[b]);
  }
  mf_filterbank_free(&filterbank);
}

/* noise_reduction_test.cc and pcan_gain_control_test.cc: their default
 * settings over 2 channels, the filterbank's output in. */
static const uint32_t kNoiseEstimate[] = {6321887, 31248341};
static const uint32_t kNoiseReduced[] = {241137, 478104};
static const uint32_t kPcanOutput[] = {3578, 1533};
/* The correction bits of a 32-point FFT: msb(32) - 1 - 12 / 2. */
static const int kCorrectionBits = -1;
static const int kSmoothingBits = 10;

static void test_noise_reduction(void) {
  mf_noise_reduction noise;
  CHECK(mf_noise_reduction_populate(&noise, 2, kSmoothingBits, 0.025f, 0.06f,
                                    0.05f));
  uint32_t signal[2];
  memcpy(signal, kSqrt, sizeof(signal));
  mf_noise_reduction_apply(&noise, signal);
  for (size_t i = 0; i < 2; ++i) {
    CHECK_EQUAL(noise.estimate[i], kNoiseEstimate[i]);
    CHECK_EQUAL(signal[i], kNoiseReduced[i]);
  }
  mf_noise_reduction_free(&noise);
}

static void test_pcan(void) {
  mf_pcan pcan;
  /* TFLM passes the smoothing and correction bits; ours takes the noise
   * estimate's fixed-point position, their difference. */
  CHECK(mf_pcan_populate(&pcan, 2, 0.95f, 80.0f, 21,
                         kSmoothingBits - kCorrectionBits, kCorrectionBits));
  uint32_t signal[2];
  memcpy(signal, kNoiseReduced, sizeof(signal));
  mf_pcan_apply(&pcan, kNoiseEstimate, signal);
  for (size_t i = 0; i < 2; ++i) CHECK_EQUAL(signal[i], kPcanOutput[i]);
}

/* log_scale_test.cc: LogScaleTest_CheckOutputValues and
 * _CheckOutputValuesNoLog, scale shift 6. */
static void test_log_scale(void) {
  static const uint16_t kLogged[] = {479, 425};
  static const uint32_t kUnloggedInput[] = {85964, 45998};
  static const uint16_t kUnlogged[] = {65535, 45998};
  uint16_t output[2];
  mf_log_scale_apply(1, 6, kCorrectionBits, 0, kPcanOutput, 2, output);
  for (size_t i = 0; i < 2; ++i) CHECK_EQUAL(output[i], kLogged[i]);
  mf_log_scale_apply(0, 6, kCorrectionBits, 0, kUnloggedInput, 2, output);
  for (size_t i = 0; i < 2; ++i) CHECK_EQUAL(output[i], kUnlogged[i]);
}

/* frontend_test.cc: FrontendTest_CheckOutputValues, _CheckConsecutiveWindow
 * and _CheckNotEnoughSamples, every stage on. */
static void test_frontend(mf_arithmetic arithmetic) {
  static const uint16_t kFrames[2][2] = {{479, 425}, {436, 378}};
  mf_config config;
  mf_config_defaults(&config);
  config.arithmetic = arithmetic;
  config.sample_rate_hz = kSampleRate;
  config.window_size_ms = 25;
  config.window_step_ms = 10;
  config.filterbank_num_channels = 2;
  config.filterbank_lower_band_limit_hz = 8.0f;
  config.filterbank_upper_band_limit_hz = 450.0f;
  config.noise_reduction_enable = 1;
  config.noise_reduction_smoothing_bits = 10;
  config.noise_reduction_even_smoothing = 0.025f;
  config.noise_reduction_odd_smoothing = 0.06f;
  config.noise_reduction_min_signal_remaining = 0.05f;
  config.pcan_enable = 1;
  config.pcan_strength = 0.95f;
  config.pcan_offset = 80.0f;
  config.pcan_gain_bits = 21;
  config.log_scale_enable = 1;
  config.log_scale_shift = 6;

  mf_frontend* frontend = NULL;
  CHECK_EQUAL(mf_frontend_create(&config, &frontend), MF_OK);
  if (frontend == NULL) return;
  CHECK_EQUAL(mf_frontend_window_samples(frontend), kWindowSamples);
  CHECK_EQUAL(mf_frontend_step_samples(frontend), kStepSamples);
  /* Two windows fit in the 36 samples; TFLM's third call gets none. */
  CHECK_EQUAL(mf_frontend_num_frames(frontend, COUNT(kFakeAudioData)), 2);
  uint16_t output[4];
  CHECK_EQUAL(mf_frontend_process(frontend, kFakeAudioData,
                                  COUNT(kFakeAudioData), output, 4),
              MF_OK);
  for (size_t frame = 0; frame < 2; ++frame) {
    for (size_t c = 0; c < 2; ++c) {
      CHECK_EQUAL(output[2 * frame + c], kFrames[frame][c]);
    }
  }
  mf_frontend_destroy(frontend);
}

int main(void) {
  for (size_t i = 0; i < COUNT(kArithmetics); ++i) {
    test_window(kArithmetics[i]);
    test_filterbank(kArithmetics[i]);
    test_frontend(kArithmetics[i]);
  }
  test_fft();
  test_noise_reduction();
  test_pcan();
  test_log_scale();
  return report("tflm_vector_tests");
}
