#include "microfrontend/frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "bits.h"
#include "dc_notch.h"
#include "fft.h"
#include "filterbank.h"
#include "log_scale.h"
#include "noise_reduction.h"
#include "pcan.h"
#include "window.h"

#define MAX_SAMPLE_RATE_HZ 384000
#define MAX_WINDOW_SAMPLES 32768
#define MAX_CHANNELS 1024

struct mf_frontend {
  mf_config config;
  mf_window window;
  mf_fft fft;
  mf_filterbank filterbank;
  mf_noise_reduction noise_reduction;
  mf_pcan pcan;
  mf_dc_notch dc_notch;
  mf_activity activity;
  /* See correction_bits_of(). */
  int correction_bits;
  int16_t* filtered;     /* [window.size]: notch output, a sliding frame */
  int16_t* windowed;     /* [window.size] */
  int16_t* spectrum_re;  /* [fft.half + 1] */
  int16_t* spectrum_im;  /* [fft.half + 1] */
  uint32_t* channels;    /* [num_channels] */
};

void mf_config_defaults(mf_config* config) {
  memset(config, 0, sizeof(*config));
  config->arithmetic = MF_ARITHMETIC_MLTK;
  config->sample_rate_hz = 16000;
  config->window_size_ms = 25;
  config->window_step_ms = 10;
  config->filterbank_num_channels = 32;
  config->filterbank_lower_band_limit_hz = 125.0f;
  config->filterbank_upper_band_limit_hz = 7500.0f;
  config->noise_reduction_enable = 0;
  config->noise_reduction_smoothing_bits = 10;
  config->noise_reduction_even_smoothing = 0.025f;
  config->noise_reduction_odd_smoothing = 0.06f;
  config->noise_reduction_min_signal_remaining = 0.05f;
  config->pcan_enable = 0;
  config->pcan_strength = 0.95f;
  config->pcan_offset = 80.0f;
  config->pcan_gain_bits = 21;
  config->log_scale_enable = 1;
  config->log_scale_shift = 6;
  config->dc_notch_filter_enable = 0;
  config->dc_notch_filter_coefficient = 0.95f;
  config->activity_detection_enable = 0;
  config->activity_detection_alpha_a = 0.5f;
  config->activity_detection_alpha_b = 0.8f;
  config->activity_detection_arm_threshold = 0.75f;
  config->activity_detection_trip_threshold = 0.8f;
}

static int in_unit_interval(float value) {
  return isfinite(value) && value >= 0.0f && value <= 1.0f;
}

static size_t samples_of(int32_t ms, int32_t sample_rate_hz) {
  return (size_t)ms * (size_t)sample_rate_hz / 1000;
}

static size_t fft_length_of(size_t window_samples) {
  size_t length = 4;
  while (length < window_samples) length <<= 1;
  return length;
}

/* Bits by which the FFT's output is scaled relative to the filterbank's
 * fixed point: log2(fft length) - MF_FILTERBANK_BITS / 2. */
static int correction_bits_of(size_t fft_length) {
  return mf_msb32((uint32_t)fft_length) - 1 - MF_FILTERBANK_BITS / 2;
}

#define REJECT(field)                      \
  do {                                     \
    if (bad_setting) *bad_setting = field; \
    return MF_ERROR_INVALID_ARGUMENT;      \
  } while (0)

mf_status mf_config_validate(const mf_config* c, const char** bad_setting) {
  if (bad_setting) *bad_setting = NULL;
  if (c->arithmetic != MF_ARITHMETIC_MLTK &&
      c->arithmetic != MF_ARITHMETIC_TF_OP &&
      c->arithmetic != MF_ARITHMETIC_TFLM)
    REJECT("arithmetic");
  if (c->sample_rate_hz < 1000 || c->sample_rate_hz > MAX_SAMPLE_RATE_HZ)
    REJECT("sample_rate_hz");
  const size_t window = samples_of(c->window_size_ms, c->sample_rate_hz);
  if (c->window_size_ms < 1 || window < 4 || window > MAX_WINDOW_SAMPLES)
    REJECT("window_size_ms");
  if (c->window_step_ms < 1 || c->window_step_ms > c->window_size_ms)
    REJECT("window_step_ms");
  if (c->filterbank_num_channels < 1 ||
      c->filterbank_num_channels > MAX_CHANNELS)
    REJECT("filterbank_num_channels");
  if (!isfinite(c->filterbank_lower_band_limit_hz) ||
      c->filterbank_lower_band_limit_hz < 0.0f)
    REJECT("filterbank_lower_band_limit_hz");
  if (!isfinite(c->filterbank_upper_band_limit_hz) ||
      c->filterbank_upper_band_limit_hz <= c->filterbank_lower_band_limit_hz ||
      c->filterbank_upper_band_limit_hz > 0.5f * (float)c->sample_rate_hz)
    REJECT("filterbank_upper_band_limit_hz");
  if (c->noise_reduction_smoothing_bits < 0 ||
      c->noise_reduction_smoothing_bits > 16)
    REJECT("noise_reduction_smoothing_bits");
  if (!in_unit_interval(c->noise_reduction_even_smoothing))
    REJECT("noise_reduction_even_smoothing");
  if (!in_unit_interval(c->noise_reduction_odd_smoothing))
    REJECT("noise_reduction_odd_smoothing");
  if (!in_unit_interval(c->noise_reduction_min_signal_remaining))
    REJECT("noise_reduction_min_signal_remaining");
  if (c->pcan_enable) {
    /* PCAN divides by the noise estimate that noise reduction keeps. */
    if (!c->noise_reduction_enable) REJECT("pcan_enable");
    const int correction = correction_bits_of(fft_length_of(window));
    if (!isfinite(c->pcan_strength) || c->pcan_strength < 0.0f)
      REJECT("pcan_strength");
    if (!isfinite(c->pcan_offset) || c->pcan_offset <= 0.0f)
      REJECT("pcan_offset");
    if (c->pcan_gain_bits < 0 || c->pcan_gain_bits > 31 ||
        c->pcan_gain_bits - correction - MF_PCAN_SNR_BITS < 0)
      REJECT("pcan_gain_bits");
    if (c->noise_reduction_smoothing_bits - correction < 0)
      REJECT("noise_reduction_smoothing_bits");
  }
  if (c->log_scale_shift < 0 || c->log_scale_shift > MF_MAX_LOG_SCALE_SHIFT)
    REJECT("log_scale_shift");
  if (!isfinite(c->dc_notch_filter_coefficient) ||
      c->dc_notch_filter_coefficient < 0.0f ||
      c->dc_notch_filter_coefficient >= 1.0f)
    REJECT("dc_notch_filter_coefficient");
  if (!in_unit_interval(c->activity_detection_alpha_a))
    REJECT("activity_detection_alpha_a");
  if (!in_unit_interval(c->activity_detection_alpha_b))
    REJECT("activity_detection_alpha_b");
  if (!in_unit_interval(c->activity_detection_arm_threshold))
    REJECT("activity_detection_arm_threshold");
  if (!in_unit_interval(c->activity_detection_trip_threshold))
    REJECT("activity_detection_trip_threshold");
  return MF_OK;
}

mf_status mf_frontend_create(const mf_config* config, mf_frontend** out) {
  *out = NULL;
  mf_status status = mf_config_validate(config, NULL);
  if (status != MF_OK) return status;

  mf_frontend* f = calloc(1, sizeof(*f));
  if (f == NULL) return MF_ERROR_OUT_OF_MEMORY;
  f->config = *config;
  const size_t channels = (size_t)config->filterbank_num_channels;
  status = MF_ERROR_OUT_OF_MEMORY;
  const mf_arithmetic arithmetic = (mf_arithmetic)config->arithmetic;
  if (!mf_window_populate(&f->window, arithmetic, config->sample_rate_hz,
                          config->window_size_ms, config->window_step_ms) ||
      !mf_fft_populate(&f->fft, f->window.size)) {
    goto fail;
  }
  f->correction_bits = correction_bits_of(f->fft.length);
  const int fits = mf_filterbank_populate(
      &f->filterbank, arithmetic, channels,
      config->filterbank_lower_band_limit_hz,
      config->filterbank_upper_band_limit_hz, config->sample_rate_hz,
      f->fft.half + 1);
  if (fits == 0) goto fail;
  if (fits < 0) {
    status = MF_ERROR_INVALID_ARGUMENT;
    goto fail;
  }
  if (!mf_noise_reduction_populate(
          &f->noise_reduction, channels, config->noise_reduction_smoothing_bits,
          config->noise_reduction_even_smoothing,
          config->noise_reduction_odd_smoothing,
          config->noise_reduction_min_signal_remaining)) {
    goto fail;
  }
  if (config->pcan_enable &&
      !mf_pcan_populate(&f->pcan, channels, config->pcan_strength,
                        config->pcan_offset, config->pcan_gain_bits,
                        config->noise_reduction_smoothing_bits -
                            f->correction_bits,
                        f->correction_bits)) {
    status = MF_ERROR_INVALID_ARGUMENT;
    goto fail;
  }
  mf_dc_notch_populate(&f->dc_notch, config->dc_notch_filter_coefficient);
  mf_activity_populate(&f->activity, channels,
                       config->activity_detection_alpha_a,
                       config->activity_detection_alpha_b,
                       config->activity_detection_arm_threshold,
                       config->activity_detection_trip_threshold);
  f->filtered = malloc(f->window.size * sizeof(int16_t));
  f->windowed = malloc(f->window.size * sizeof(int16_t));
  f->spectrum_re = malloc((f->fft.half + 1) * sizeof(int16_t));
  f->spectrum_im = malloc((f->fft.half + 1) * sizeof(int16_t));
  f->channels = malloc(channels * sizeof(uint32_t));
  if (!f->filtered || !f->windowed || !f->spectrum_re || !f->spectrum_im || !f->channels) {
    goto fail;
  }
  *out = f;
  return MF_OK;

fail:
  mf_frontend_destroy(f);
  return status;
}

void mf_frontend_destroy(mf_frontend* f) {
  if (f == NULL) return;
  mf_window_free(&f->window);
  mf_fft_free(&f->fft);
  mf_filterbank_free(&f->filterbank);
  mf_noise_reduction_free(&f->noise_reduction);
  free(f->filtered);
  free(f->windowed);
  free(f->spectrum_re);
  free(f->spectrum_im);
  free(f->channels);
  free(f);
}

size_t mf_frontend_num_channels(const mf_frontend* f) {
  return f->filterbank.num_channels;
}
size_t mf_frontend_window_samples(const mf_frontend* f) {
  return f->window.size;
}
size_t mf_frontend_step_samples(const mf_frontend* f) { return f->window.step; }
size_t mf_frontend_fft_length(const mf_frontend* f) { return f->fft.length; }

size_t mf_frontend_num_frames(const mf_frontend* f, size_t num_samples) {
  if (num_samples < f->window.size) return 0;
  return (num_samples - f->window.size) / f->window.step + 1;
}

/* One frame of window.size samples to num_channels values. */
static void process_frame(mf_frontend* f, const int16_t* frame,
                          uint16_t* output) {
  const int16_t max_abs = mf_window_apply(&f->window, frame, f->windowed);
  /* Scale the frame up to use the FFT's full 16 bits; undone by the
   * filterbank. */
  const int input_shift = 15 - mf_msb32((uint32_t)(int32_t)max_abs);
  mf_fft_compute(&f->fft, f->windowed, f->window.size, input_shift,
                 f->spectrum_re, f->spectrum_im);
  mf_filterbank_apply(&f->filterbank, f->spectrum_re, f->spectrum_im,
                      input_shift, f->channels);
  if (f->config.activity_detection_enable) {
    mf_activity_update(&f->activity, f->channels);
  }
  if (f->config.noise_reduction_enable) {
    mf_noise_reduction_apply(&f->noise_reduction, f->channels);
  }
  if (f->config.pcan_enable) {
    mf_pcan_apply(&f->pcan, f->noise_reduction.estimate, f->channels);
  }
  mf_log_scale_apply(f->config.log_scale_enable, f->config.log_scale_shift,
                     f->correction_bits, f->fft.avx2, f->channels,
                     f->filterbank.num_channels, output);
}

mf_status mf_frontend_process(mf_frontend* f, const int16_t* samples,
                              size_t num_samples, uint16_t* output,
                              size_t output_capacity) {
  const size_t channels = f->filterbank.num_channels;
  const size_t frames = mf_frontend_num_frames(f, num_samples);
  if (output_capacity / channels < frames) return MF_ERROR_OUTPUT_TOO_SMALL;

  mf_noise_reduction_reset(&f->noise_reduction);
  mf_activity_reset(&f->activity);
  if (!f->config.dc_notch_filter_enable) {
    for (size_t i = 0; i < frames; ++i) {
      process_frame(f, samples + i * f->window.step, output + i * channels);
    }
    return MF_OK;
  }

  /* The notch runs over the stream once: each frame keeps the filtered
   * overlap of the previous one and filters only its new samples. */
  const size_t size = f->window.size;
  const size_t step = f->window.step;
  mf_dc_notch_reset(&f->dc_notch);
  for (size_t i = 0; i < frames; ++i) {
    if (i == 0) {
      mf_dc_notch_apply(&f->dc_notch, samples, size, f->filtered);
    } else {
      memmove(f->filtered, f->filtered + step,
              (size - step) * sizeof(int16_t));
      mf_dc_notch_apply(&f->dc_notch, samples + (i - 1) * step + size, step,
                        f->filtered + size - step);
    }
    process_frame(f, f->filtered, output + i * channels);
  }
  return MF_OK;
}

int mf_frontend_activity_detected(const mf_frontend* f) {
  return f->activity.tripped;
}

void mf_quantize_int8_static(const uint16_t* values, size_t count,
                             int8_t* output) {
  for (size_t i = 0; i < count; ++i) {
    int32_t value = ((int32_t)values[i] * 256 + 333) / 666 - 128;
    if (value < -128) value = -128;
    if (value > 127) value = 127;
    output[i] = (int8_t)value;
  }
}

void mf_quantize_int8_dynamic(const uint16_t* values, size_t count,
                              float range_db, int32_t log_scale_shift,
                              int8_t* output) {
  /* Outside the documented domain the shift and the conversion below would be
   * undefined: fall back to the static scaling. */
  if (!isfinite(range_db) || log_scale_shift < 0 ||
      log_scale_shift > MF_MAX_LOG_SCALE_SHIFT) {
    mf_quantize_int8_static(values, count, output);
    return;
  }
  /* range_db in log-scale units: dB * 2^shift * ln(10) / 20, truncated. */
  const double scaled =
      (double)(range_db * (float)(1 << log_scale_shift)) * 0.11512925465;
  if (!(scaled >= 1.0)) {
    mf_quantize_int8_static(values, count, output);
    return;
  }
  const int32_t range = scaled >= 2147483647.0 ? INT32_MAX : (int32_t)scaled;
  int32_t max_value = 0;
  for (size_t i = 0; i < count; ++i) {
    if (values[i] > max_value) max_value = values[i];
  }
  int32_t min_value = max_value - range;
  if (min_value < 0) min_value = 0;
  const int32_t span = max_value - min_value > 0 ? max_value - min_value : 1;
  for (size_t i = 0; i < count; ++i) {
    int32_t value = ((int32_t)values[i] - min_value) * 255 / span - 128;
    if (value < -128) value = -128;
    if (value > 127) value = 127;
    output[i] = (int8_t)value;
  }
}
