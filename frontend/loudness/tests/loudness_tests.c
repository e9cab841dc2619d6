/* Unit tests of the loudness filter-and-sum pass against closed forms, then
 * its argument checks and random arguments (the sanitizer build runs them). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "loudness/loudness.h"

static const double passthrough[6] = {1, 0, 0, 1, 0, 0};

/* With a section that passes the audio through, energies are running sums of
 * squares. */
static void test_passthrough_gives_running_sums_of_squares(void) {
  float audio[10];
  for (size_t i = 0; i < 10; ++i) audio[i] = (float)i - 4.5f;
  const size_t edges[4] = {0, 3, 3, 10};
  double energy[4];
  CHECK(ld_filtered_energy(audio, 10, passthrough, 1, edges, 4, energy) == 0);
  CHECK(energy[0] == 0.0);
  CHECK(energy[1] == 4.5 * 4.5 + 3.5 * 3.5 + 2.5 * 2.5);
  CHECK(energy[2] == energy[1]);
  CHECK(fabs(energy[3] - 2 * (0.25 + 2.25 + 6.25 + 12.25 + 20.25)) < 1e-12);
}

/* An impulse through y[t] = x[t] + 0.5 y[t-1] and then through a gain of 2:
 * y[t] = 2 * 0.5^t, so the energy over [0, T) is 4 (1 - 0.25^T) / 0.75. */
static void test_cascade_of_sections_on_an_impulse(void) {
  enum { N = 40 };
  float audio[N] = {1.0f};
  const double sections[12] = {1, 0, 0, 1, -0.5, 0, 2, 0, 0, 1, 0, 0};
  const size_t edges[3] = {1, 5, N};
  double energy[3];
  CHECK(ld_filtered_energy(audio, N, sections, 2, edges, 3, energy) == 0);
  for (size_t k = 0; k < 3; ++k) {
    const double expected = 4 * (1 - pow(0.25, (double)edges[k])) / 0.75;
    CHECK(fabs(energy[k] - expected) < 1e-12);
  }
}

/* The second-order terms: y[t] = x[t] - x[t-2] - 0.25 y[t-2] gives, for an
 * impulse, y = 1, 0, -1.25, 0, 0.3125, ... */
static void test_second_order_terms(void) {
  float audio[5] = {1.0f};
  const double section[6] = {1, 0, -1, 1, 0, 0.25};
  const size_t edges[5] = {1, 2, 3, 4, 5};
  double energy[5];
  CHECK(ld_filtered_energy(audio, 5, section, 1, edges, 5, energy) == 0);
  CHECK(energy[0] == 1.0 && energy[1] == 1.0);
  CHECK(fabs(energy[2] - (1 + 1.5625)) < 1e-15);
  CHECK(fabs(energy[4] - (1 + 1.5625 + 0.3125 * 0.3125)) < 1e-15);
}

static void test_invalid_arguments_are_rejected(void) {
  float audio[4] = {0};
  double energy[2] = {-1, -1};
  const size_t edges[2] = {1, 4}, backwards[2] = {3, 1}, beyond[2] = {1, 5};
  const double unnormalized[6] = {1, 0, 0, 2, 0, 0};
  double many[6 * 9];
  for (size_t s = 0; s < 9; ++s) {
    for (size_t i = 0; i < 6; ++i) many[6 * s + i] = passthrough[i];
  }
  CHECK(ld_filtered_energy(audio, 4, passthrough, 1, backwards, 2, energy) < 0);
  CHECK(ld_filtered_energy(audio, 4, passthrough, 1, beyond, 2, energy) < 0);
  CHECK(ld_filtered_energy(audio, 4, unnormalized, 1, edges, 2, energy) < 0);
  CHECK(ld_filtered_energy(audio, 4, passthrough, 0, edges, 2, energy) < 0);
  CHECK(ld_filtered_energy(audio, 4, many, 9, edges, 2, energy) < 0);
  CHECK(ld_filtered_energy(NULL, 4, passthrough, 1, edges, 2, energy) < 0);
  CHECK(ld_filtered_energy(audio, 4, passthrough, 1, edges, 2, NULL) < 0);
  CHECK(energy[0] == -1 && energy[1] == -1); /* left alone */
  CHECK(ld_filtered_energy(audio, 4, many, 8, edges, 2, energy) == 0);
  CHECK(ld_filtered_energy(NULL, 0, passthrough, 1, NULL, 0, NULL) == 0);
}

/* Random lengths, edges, sections and values, non-finite ones included. */
static void test_random_arguments_are_safe(void) {
  uint64_t state = 88172645463325252ull;
  const float specials[4] = {NAN, INFINITY, -INFINITY, 3e38f};
  for (int round = 0; round < 300; ++round) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const size_t n = (size_t)(state >> 54);
    float* audio = malloc((n + 1) * sizeof(float));
    for (size_t i = 0; i < n; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      audio[i] = (state >> 60) == 0 ? specials[(state >> 40) % 4]
                                    : (float)((double)(state >> 11) / 9e15 - 1);
    }
    const size_t num_edges = 1 + (size_t)(state >> 61);
    size_t edges[8];
    for (size_t k = 0; k < num_edges; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      edges[k] = (size_t)(state >> 33) % (n + 2); /* sometimes beyond */
    }
    double sections[12] = {1, 0.5, 0.25, 1, -1.9, 0.95, 0.5, 0, 0, 1, 0.1, 0};
    double energy[8];
    const size_t num_sections = 1 + (size_t)((state >> 20) & 1);
    const int status = ld_filtered_energy(audio, n, sections, num_sections,
                                          edges, num_edges, energy);
    CHECK(status == 0 || status == -1);
    free(audio);
  }
}

int main(void) {
  test_passthrough_gives_running_sums_of_squares();
  test_cascade_of_sections_on_an_impulse();
  test_second_order_terms();
  test_invalid_arguments_are_rejected();
  test_random_arguments_are_safe();
  return report("loudness_tests");
}
