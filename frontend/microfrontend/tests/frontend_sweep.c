/*
 * Randomized sweep for the sanitizer build: random (often invalid) settings,
 * random lengths from 0 to several seconds, extreme sample values. Every
 * configuration must either be rejected cleanly or process without any
 * out-of-bounds access or undefined behaviour; ASan and UBSan abort otherwise.
 *
 * Usage: frontend_sweep [iterations] [seed]
 */
#include <stdio.h>
#include <stdlib.h>

#include "microfrontend/frontend.h"

static uint64_t rng_state;

static uint32_t next_random(void) {
  /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static int32_t random_between(int32_t low, int32_t high) {
  return low + (int32_t)(next_random() % (uint32_t)(high - low + 1));
}

static float random_float(float low, float high) {
  return low + (high - low) * (float)(next_random() >> 8) / (float)(1 << 24);
}

static void random_config(mf_config* c) {
  mf_config_defaults(c);
  c->arithmetic = random_between(-1, 3); /* -1 and 3 are invalid */
  static const int32_t rates[] = {1000, 8000, 11025, 16000, 22050, 44100,
                                  48000, 96000};
  c->sample_rate_hz = rates[next_random() % 8];
  c->window_size_ms = random_between(0, 70);
  c->window_step_ms = random_between(0, 70);
  c->filterbank_num_channels = random_between(0, 300);
  c->filterbank_lower_band_limit_hz = random_float(-10.0f, 2000.0f);
  c->filterbank_upper_band_limit_hz =
      random_float(0.0f, 0.55f * (float)c->sample_rate_hz);
  c->noise_reduction_enable = random_between(0, 1);
  c->noise_reduction_smoothing_bits = random_between(-1, 17);
  c->noise_reduction_even_smoothing = random_float(-0.1f, 1.1f);
  c->noise_reduction_odd_smoothing = random_float(0.0f, 1.0f);
  c->noise_reduction_min_signal_remaining = random_float(0.0f, 1.0f);
  c->pcan_enable = random_between(0, 1);
  c->pcan_strength = random_float(0.0f, 3.0f);
  c->pcan_offset = random_float(-1.0f, 300.0f);
  c->pcan_gain_bits = random_between(0, 33);
  c->log_scale_enable = random_between(0, 1);
  c->log_scale_shift = random_between(0, 16);
  c->dc_notch_filter_enable = random_between(0, 1);
  c->dc_notch_filter_coefficient = random_float(0.0f, 1.0f);
  c->activity_detection_enable = random_between(0, 1);
  c->activity_detection_alpha_a = random_float(0.0f, 1.0f);
  c->activity_detection_alpha_b = random_float(0.0f, 1.0f);
  c->activity_detection_arm_threshold = random_float(0.0f, 1.0f);
  c->activity_detection_trip_threshold = random_float(0.0f, 1.0f);
  if (next_random() % 4 != 0) {
    /* Three in four: pull the settings into their valid ranges, so that most
     * iterations process audio rather than stop at validation. */
    c->arithmetic = random_between(0, 2);
    c->window_size_ms = random_between(1, 70);
    c->window_step_ms = random_between(1, c->window_size_ms);
    c->filterbank_num_channels = random_between(1, 128);
    c->filterbank_lower_band_limit_hz =
        random_float(0.0f, 0.2f * (float)c->sample_rate_hz);
    /* One in four at the Nyquist frequency, where the top band may reach the
     * last bin. */
    c->filterbank_upper_band_limit_hz =
        next_random() % 4 == 0
            ? 0.5f * (float)c->sample_rate_hz
            : random_float(c->filterbank_lower_band_limit_hz + 1.0f,
                           0.49f * (float)c->sample_rate_hz);
    c->noise_reduction_smoothing_bits = random_between(6, 16);
    c->noise_reduction_even_smoothing = random_float(0.0f, 1.0f);
    c->pcan_enable = c->noise_reduction_enable && random_between(0, 1);
    c->pcan_offset = random_float(0.01f, 300.0f);
    c->pcan_gain_bits = random_between(18, 31);
    c->log_scale_shift = random_between(0, 15);
  }
}

static void fill_samples(int16_t* samples, size_t count) {
  const uint32_t kind = next_random() % 5;
  for (size_t i = 0; i < count; ++i) {
    switch (kind) {
      case 0: samples[i] = (int16_t)(next_random() & 0xFFFF); break;
      case 1: samples[i] = (next_random() & 1) ? 32767 : -32768; break;
      case 2: samples[i] = -32768; break;
      case 3: samples[i] = (int16_t)random_between(-2, 2); break;
      default: samples[i] = (int16_t)((i & 64) ? 32767 : -32768); break;
    }
  }
}

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? atol(argv[1]) : 300;
  rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 0x9E3779B97F4A7C15ull;
  if (rng_state == 0) rng_state = 1;
  long accepted = 0, rejected = 0, frames_total = 0;
  for (long it = 0; it < iterations; ++it) {
    mf_config config;
    random_config(&config);
    mf_frontend* frontend = NULL;
    const mf_status status = mf_frontend_create(&config, &frontend);
    if (status != MF_OK) {
      if (frontend != NULL || status == MF_ERROR_OUT_OF_MEMORY) {
        fprintf(stderr, "iteration %ld: bad failure\n", it);
        return 1;
      }
      ++rejected;
      continue;
    }
    ++accepted;
    const size_t count = (size_t)random_between(0, 4 * config.sample_rate_hz);
    int16_t* samples = malloc((count ? count : 1) * sizeof(int16_t));
    fill_samples(samples, count);
    const size_t frames = mf_frontend_num_frames(frontend, count);
    const size_t values = frames * mf_frontend_num_channels(frontend);
    /* Exactly sized buffers, so ASan sees any write past the end. */
    uint16_t* output = malloc((values ? values : 1) * sizeof(uint16_t));
    int8_t* quantized = malloc((values ? values : 1) * sizeof(int8_t));
    if (mf_frontend_process(frontend, samples, count, output, values) !=
        MF_OK) {
      fprintf(stderr, "iteration %ld: process failed\n", it);
      return 1;
    }
    if (values > 0 &&
        mf_frontend_process(frontend, samples, count, output, values - 1) !=
            MF_ERROR_OUTPUT_TOO_SMALL) {
      fprintf(stderr, "iteration %ld: short output accepted\n", it);
      return 1;
    }
    mf_quantize_int8_static(output, values, quantized);
    mf_quantize_int8_dynamic(output, values, random_float(0.0f, 200.0f),
                             config.log_scale_shift, quantized);
    frames_total += (long)frames;
    free(samples);
    free(output);
    free(quantized);
    mf_frontend_destroy(frontend);
  }
  printf("frontend_sweep: %ld accepted, %ld rejected, %ld frames\n", accepted,
         rejected, frames_total);
  return accepted > 0 && rejected > 0 ? 0 : 1;
}
