/*
 * microfrontend: the integer audio frontend that TensorFlow Lite Micro runs on
 * a device (window, fixed-point FFT, mel filterbank, noise reduction, PCAN,
 * log scale), plus a DC notch filter, activity detection and int8
 * quantization.
 *
 * Plain C99. No globals: every piece of state lives in one mf_frontend object,
 * allocated once per configuration by mf_frontend_create() and reset at the
 * start of every mf_frontend_process() call, so one object per thread is safe.
 * Functions report failures through mf_status codes and never print.
 */
#ifndef MICROFRONTEND_FRONTEND_H_
#define MICROFRONTEND_FRONTEND_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  MF_OK = 0,
  MF_ERROR_INVALID_ARGUMENT = 1, /* a setting is out of range */
  MF_ERROR_OUT_OF_MEMORY = 2,
  MF_ERROR_OUTPUT_TOO_SMALL = 3, /* the caller's output buffer is too short */
} mf_status;

/* The devices that run this frontend build its start-up tables (the Hann
 * window and the filterbank's band edges and weights) in different floating-
 * point arithmetic, and a few table entries differ between them; every later
 * stage is integer arithmetic and identical. The arithmetic picks only how the
 * tables are built, so it costs nothing per sample. */
typedef enum {
  /* Silicon Labs MLTK's C frontend and the devices built from it: the window
   * takes single-precision cosf of the float phase with double arithmetic
   * around it; the filterbank is built in double. Accepts a filterbank that
   * reaches the last FFT bin (an upper band limit at the Nyquist frequency). */
  MF_ARITHMETIC_MLTK = 0,
  /* TensorFlow's audio_microfrontend op, and TFLM before its October 2023
   * change: cos in double; the filterbank in double. */
  MF_ARITHMETIC_TF_OP = 1,
  /* TFLM's microfrontend library since October 2023: all single precision
   * (cosf, log1pf, floorf and float constants). */
  MF_ARITHMETIC_TFLM = 2,
} mf_arithmetic;

/* The largest log_scale_shift: the log scale's values are ln(energy) *
 * 2^shift, and beyond 15 they leave uint16. The configuration and the dynamic
 * int8 scaling both hold to it. */
#define MF_MAX_LOG_SCALE_SHIFT 15

/* Every setting, in the units of its name. Fill with mf_config_defaults(). */
typedef struct {
  int32_t arithmetic; /* an mf_arithmetic */
  int32_t sample_rate_hz;
  int32_t window_size_ms;
  int32_t window_step_ms;

  int32_t filterbank_num_channels;
  float filterbank_lower_band_limit_hz;
  float filterbank_upper_band_limit_hz;

  int32_t noise_reduction_enable;
  int32_t noise_reduction_smoothing_bits;
  float noise_reduction_even_smoothing;
  float noise_reduction_odd_smoothing;
  float noise_reduction_min_signal_remaining;

  int32_t pcan_enable;
  float pcan_strength;
  float pcan_offset;
  int32_t pcan_gain_bits;

  int32_t log_scale_enable;
  int32_t log_scale_shift;

  int32_t dc_notch_filter_enable;
  float dc_notch_filter_coefficient;

  int32_t activity_detection_enable;
  float activity_detection_alpha_a;
  float activity_detection_alpha_b;
  float activity_detection_arm_threshold;
  float activity_detection_trip_threshold;
} mf_config;

typedef struct mf_frontend mf_frontend;

/* The defaults of TensorFlow Lite Micro's frontend and of the reference
 * generator: MLTK's arithmetic, 16 kHz, 25 ms windows every 10 ms, 32 channels
 * from 125 Hz to 7500 Hz, log scale on, everything else off. */
void mf_config_defaults(mf_config* config);

/* Checks every setting; on failure *bad_setting (if not NULL) names the first
 * offending field of mf_config. */
mf_status mf_config_validate(const mf_config* config, const char** bad_setting);

/* Allocates and populates a frontend. On failure *frontend is NULL. */
mf_status mf_frontend_create(const mf_config* config, mf_frontend** frontend);
void mf_frontend_destroy(mf_frontend* frontend);

size_t mf_frontend_num_channels(const mf_frontend* frontend);
size_t mf_frontend_window_samples(const mf_frontend* frontend);
size_t mf_frontend_step_samples(const mf_frontend* frontend);
size_t mf_frontend_fft_length(const mf_frontend* frontend);

/* Frames produced for a sample of num_samples: (n - window) / step + 1, or 0
 * when the sample is shorter than one window. */
size_t mf_frontend_num_frames(const mf_frontend* frontend, size_t num_samples);

/* Resets all state, then turns samples into a [frames][channels] row-major
 * uint16 spectrogram. output must hold output_capacity values; at least
 * mf_frontend_num_frames(n) * channels are needed. */
mf_status mf_frontend_process(mf_frontend* frontend, const int16_t* samples,
                              size_t num_samples, uint16_t* output,
                              size_t output_capacity);

/* Whether activity detection tripped during the last mf_frontend_process()
 * call (always 0 when it is disabled). */
int mf_frontend_activity_detected(const mf_frontend* frontend);

/* TFLM micro-features int8 scaling of each value:
 * clamp((v * 256 + 333) / 666 - 128, -128, 127). */
void mf_quantize_int8_static(const uint16_t* values, size_t count,
                             int8_t* output);

/* Maps the top range_db decibels of the spectrogram onto -128..127, given the
 * log scale shift its values were produced with. A range below one log unit,
 * a range that is not finite, or a shift outside 0..MF_MAX_LOG_SCALE_SHIFT
 * gives the static scaling. */
void mf_quantize_int8_dynamic(const uint16_t* values, size_t count,
                              float range_db, int32_t log_scale_shift,
                              int8_t* output);

#ifdef __cplusplus
}
#endif

#endif
