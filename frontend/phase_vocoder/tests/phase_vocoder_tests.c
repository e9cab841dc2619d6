/* Unit tests of the phase vocoder's per-frame arithmetic: closed-form spectra
 * in, exact properties out; then argument checks and random arguments, which
 * the sanitizer build runs to prove the functions safe on any input. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "phase_vocoder/phase_vocoder.h"

#define PI 3.14159265358979323846

/* xorshift64*: reproducible randomness without the C library's rand(). */
static uint64_t state = 88172645463325252ull;
static double uniform(void) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return (double)((state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void hann(float* window, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    window[i] = (float)(0.5 - 0.5 * cos(2 * PI * (double)i / (double)length));
  }
}

static double wrapped(double x) { return x - 2 * PI * floor(x / (2 * PI) + 0.5); }

static void test_num_frames(void) {
  CHECK(pv_num_frames(0, 128) == 1);
  CHECK(pv_num_frames(1, 128) == 2);
  CHECK(pv_num_frames(128, 128) == 2);
  CHECK(pv_num_frames(129, 128) == 3);
  CHECK(pv_num_frames(16000, 128) == 126);
  CHECK(pv_num_frames(100, 0) == 0);
}

/* Framing then overlap-add, with no change in between, gives the audio back:
 * sum w * (w x) / sum w^2 = x. */
static void test_frames_and_overlap_add_invert_each_other(void) {
  enum { N = 1001, FRAME = 64, HOP = 16 };
  float audio[N], window[FRAME], back[N];
  for (size_t i = 0; i < N; ++i) audio[i] = (float)(2 * uniform() - 1);
  hann(window, FRAME);
  const size_t frames = pv_num_frames(N, HOP);
  float* data = malloc(frames * FRAME * sizeof(float));
  CHECK(pv_analysis_frames(audio, N, window, FRAME, HOP, data, frames) ==
        PV_OK);
  /* Frame 0 is centred on sample 0: its first half is padding. */
  CHECK(data[0] == 0.0f && data[FRAME / 2 - 1] == 0.0f);
  CHECK(data[FRAME / 2] == window[FRAME / 2] * audio[0]);
  CHECK(pv_overlap_add(data, frames, FRAME, HOP, window, back, N) == PV_OK);
  double worst = 0;
  for (size_t i = 0; i < N; ++i) {
    const double error = fabs((double)back[i] - audio[i]);
    if (error > worst) worst = error;
  }
  CHECK(worst < 1e-5);
  free(data);
}

/* X[m][b] = A_b exp(i (theta_b + m omega_b)): every bin a steady partial. */
static float* steady_spectrum(size_t frames, size_t bins, double* omega) {
  float* spectrum = malloc(2 * frames * bins * sizeof(float));
  for (size_t b = 0; b < bins; ++b) {
    const double amplitude = 0.1 + uniform();
    const double theta = 2 * PI * uniform();
    omega[b] = 2 * PI * uniform();
    for (size_t m = 0; m < frames; ++m) {
      const double phase = theta + (double)m * omega[b];
      spectrum[2 * (m * bins + b)] = (float)(amplitude * cos(phase));
      spectrum[2 * (m * bins + b) + 1] = (float)(amplitude * sin(phase));
    }
  }
  return spectrum;
}

/* At rate 1 through the identity map, every output frame is its input frame:
 * the phases are rebuilt from the advances alone, so this also bounds the
 * error of the polynomial atan2 and sincos accumulated over 120 frames. */
static void test_identity_reproduces_the_spectrum(void) {
  enum { FRAMES = 120, BINS = 257, HOP = 128 };
  double omega[BINS];
  float* spectrum = steady_spectrum(FRAMES, BINS, omega);
  float* out = malloc(2 * FRAMES * BINS * sizeof(float));
  CHECK(pv_resynthesize(spectrum, FRAMES, BINS, HOP, 1.0, NULL, NULL, 0, out,
                        FRAMES) == PV_OK);
  double worst = 0;
  for (size_t i = 0; i < 2 * FRAMES * BINS; ++i) {
    const double error = fabs((double)out[i] - spectrum[i]);
    if (error > worst) worst = error;
  }
  CHECK(worst < 2e-4);
  free(spectrum);
  free(out);
}

/* w(f) = 2 f moves a partial in bin 10 to bin 20 at twice its frequency: the
 * output's phase there advances twice as fast (modulo 2 pi). */
static void test_octave_map_doubles_the_advance(void) {
  enum { FRAMES = 40, BINS = 257, HOP = 128 };
  const double top = BINS - 1;
  const double nominal = 2 * PI * HOP / (2.0 * top); /* per bin, per hop */
  const double offset = 0.3; /* the partial sits 0.3 rad/hop above bin 10 */
  float* spectrum = calloc(2 * FRAMES * BINS, sizeof(float));
  for (size_t m = 0; m < FRAMES; ++m) {
    const double phase = 1.0 + (double)m * (10 * nominal + offset);
    spectrum[2 * (m * BINS + 10)] = (float)cos(phase);
    spectrum[2 * (m * BINS + 10) + 1] = (float)sin(phase);
  }
  const double source[2] = {0, top}, target[2] = {0, 2 * top};
  float* out = malloc(2 * FRAMES * BINS * sizeof(float));
  CHECK(pv_resynthesize(spectrum, FRAMES, BINS, HOP, 1.0, source, target, 2,
                        out, FRAMES) == PV_OK);
  for (size_t m = 1; m < FRAMES; ++m) {
    const float* previous = out + 2 * ((m - 1) * BINS + 20);
    const float* current = out + 2 * (m * BINS + 20);
    CHECK(fabs(hypot(current[0], current[1]) - 1.0) < 1e-4);
    const double advance = atan2(current[1], current[0]) -
                           atan2(previous[1], previous[0]);
    CHECK(fabs(wrapped(advance - 2 * (10 * nominal + offset))) < 1e-4);
    /* Nothing lands far from the partial. */
    CHECK(out[2 * (m * BINS + 40)] == 0.0f && out[2 * (m * BINS + 5)] == 0.0f);
  }
  free(spectrum);
  free(out);
}

/* At rate 2, output frame m has input frame 2m's magnitudes. */
static void test_rate_reads_frames_at_that_rate(void) {
  enum { FRAMES = 50, BINS = 33, HOP = 8 };
  float* spectrum = malloc(2 * FRAMES * BINS * sizeof(float));
  for (size_t m = 0; m < FRAMES; ++m) {
    for (size_t b = 0; b < BINS; ++b) {
      spectrum[2 * (m * BINS + b)] = (float)(1 + m + b);
      spectrum[2 * (m * BINS + b) + 1] = 0.0f;
    }
  }
  float out[2 * 25 * BINS];
  CHECK(pv_resynthesize(spectrum, FRAMES, BINS, HOP, 2.0, NULL, NULL, 0, out,
                        25) == PV_OK);
  for (size_t m = 0; m < 25; ++m) {
    for (size_t b = 0; b < BINS; ++b) {
      const float* value = out + 2 * (m * BINS + b);
      CHECK(fabs(hypot(value[0], value[1]) - (double)(1 + 2 * m + b)) < 1e-3);
    }
  }
  free(spectrum);
}

static void test_invalid_arguments_are_rejected(void) {
  float spectrum[2 * 4 * 5] = {0}, out[2 * 4 * 5], audio[16] = {0};
  float window[8], frames[8 * 8];
  hann(window, 8);
  const double source[3] = {0, 2, 4}, target[3] = {0, 1, 4};
  const double flat[2] = {0, 0}, unsorted[3] = {0, 3, 2};
  const double not_at_zero[2] = {1, 4}, with_nan[2] = {0, NAN};
  const double tiny[2] = {0, 1e-300}, huge[2] = {0, 1e300};
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, source, target, 3, out, 4) ==
        PV_OK);
  CHECK(pv_resynthesize(NULL, 4, 5, 2, 1.0, NULL, NULL, 0, out, 4) != PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, NULL, NULL, 0, NULL, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 1, 5, 2, 1.0, NULL, NULL, 0, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 1, 2, 1.0, NULL, NULL, 0, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 3, 1.0, NULL, NULL, 0, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 0, 1.0, NULL, NULL, 0, out, 4) !=
        PV_OK);
  const double bad_rates[4] = {0.0, -1.0, NAN, INFINITY};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(pv_resynthesize(spectrum, 4, 5, 2, bad_rates[i], NULL, NULL, 0, out,
                          4) != PV_OK);
  }
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, source, target, 1, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, flat, target, 2, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, unsorted, target, 3, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, not_at_zero, source, 2, out,
                        4) != PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, with_nan, source, 2, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, tiny, huge, 2, out, 4) !=
        PV_OK);
  CHECK(pv_resynthesize(spectrum, 4, 5, 2, 1.0, huge, tiny, 2, out, 4) !=
        PV_OK);
  CHECK(pv_analysis_frames(audio, 16, window, 8, 3, frames, 8) != PV_OK);
  CHECK(pv_analysis_frames(audio, 16, window, 7, 7, frames, 8) != PV_OK);
  CHECK(pv_analysis_frames(NULL, 16, window, 8, 2, frames, 8) != PV_OK);
  CHECK(pv_overlap_add(frames, 8, 8, 0, window, audio, 16) != PV_OK);
  CHECK(pv_overlap_add(frames, 8, 8, 2, NULL, audio, 16) != PV_OK);
  /* Empty audio is fine: one frame of padding. */
  CHECK(pv_analysis_frames(NULL, 0, window, 8, 2, frames, 1) == PV_OK);
  CHECK(pv_overlap_add(frames, 1, 8, 2, window, NULL, 0) == PV_OK);
}

/* Random sizes, rates, maps and values, non-finite ones included: each call
 * either succeeds or reports invalid arguments, and never reads or writes out
 * of bounds (the sanitizer build checks). */
static void test_random_arguments_are_safe(void) {
  const float specials[4] = {NAN, INFINITY, -INFINITY, 1e38f};
  for (int round = 0; round < 300; ++round) {
    const size_t bins = 2 + (size_t)(uniform() * 40);
    const size_t frames = 2 + (size_t)(uniform() * 20);
    const size_t out_frames = (size_t)(uniform() * 30);
    const size_t hop = 1 + (size_t)(uniform() * 4);
    float* spectrum = malloc(2 * frames * bins * sizeof(float));
    float* out = malloc((2 * out_frames * bins + 1) * sizeof(float));
    for (size_t i = 0; i < 2 * frames * bins; ++i) {
      spectrum[i] = uniform() < 0.05 ? specials[(size_t)(uniform() * 4)]
                                     : (float)(4 * uniform() - 2);
    }
    double source[4] = {0}, target[4] = {0};
    const size_t knots = uniform() < 0.2 ? 0 : 2 + (size_t)(uniform() * 3);
    for (size_t k = 1; k < knots; ++k) {
      source[k] = source[k - 1] + pow(10, 6 * uniform() - 3);
      target[k] = target[k - 1] + pow(10, 6 * uniform() - 3);
    }
    const double rate = pow(10, 8 * uniform() - 4);
    const pv_status status = pv_resynthesize(
        spectrum, frames, bins, hop, rate, source, target, knots, out,
        out_frames);
    CHECK(status == PV_OK || status == PV_ERROR_INVALID_ARGUMENT);
    free(spectrum);
    free(out);

    const size_t frame = 2 * (1 + (size_t)(uniform() * 16));
    const size_t samples = (size_t)(uniform() * 100);
    float* audio = malloc((samples + 1) * sizeof(float));
    float* window = malloc(frame * sizeof(float));
    for (size_t i = 0; i < samples; ++i) audio[i] = (float)uniform();
    hann(window, frame);
    const size_t count = pv_num_frames(samples, hop) + (size_t)(uniform() * 3);
    float* data = malloc(count * frame * sizeof(float));
    const pv_status framed =
        pv_analysis_frames(audio, samples, window, frame, hop, data, count);
    CHECK(framed == PV_OK || framed == PV_ERROR_INVALID_ARGUMENT);
    if (framed == PV_OK) {
      CHECK(pv_overlap_add(data, count, frame, hop, window, audio, samples) ==
            PV_OK);
    }
    free(audio);
    free(window);
    free(data);
  }
}

int main(void) {
  test_num_frames();
  test_frames_and_overlap_add_invert_each_other();
  test_identity_reproduces_the_spectrum();
  test_octave_map_doubles_the_advance();
  test_rate_reads_frames_at_that_rate();
  test_invalid_arguments_are_rejected();
  test_random_arguments_are_safe();
  return report("phase_vocoder_tests");
}
